-- wrk script for bench/inbound.py: POST pre-built webhook requests, each exactly once, and record when each
-- one went out (CLOCK_REALTIME, like Python's time.time()).
--
--   wrk -tT -cC -d600s -s bench/inbound.lua URL -- REQUESTS_FILE T OUT_PREFIX
--
-- REQUESTS_FILE: one request a line, `id<TAB>header: value<TAB>...<TAB>body` (the body has no tab or
-- newline: compact JSON). Thread k of T sends lines k, k+T, ... When a thread's last request is answered it
-- writes OUT_PREFIX<k> (`answered <time> <non-200 count>`, then `<id> <sent time>` a line) and stops; the
-- caller interrupts wrk once every thread wrote its file. Until then, a connection whose thread has nothing
-- left to send asks GET /healthz (cheap), so no request is ever sent twice.
-- Needs wrk 4 (LuaJIT: the ffi library reads the clock).

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *tp);
]])
local timespec = ffi.new("bench_timespec")

local function now()
  ffi.C.clock_gettime(0, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local ids, requests, sent = {}, {}, {}
local issued, answered, failures = 0, 0, 0
local out_prefix
local idle
local peek = false

function init(args)
  local file, threads = args[1], tonumber(args[2])
  out_prefix = args[3]
  local n = 0
  for line in io.lines(file) do
    if n % threads == tid then
      local fields = {}
      for field in line:gmatch("[^\t]+") do
        fields[#fields + 1] = field
      end
      local headers = {}
      for i = 2, #fields - 1 do
        local name, value = fields[i]:match("^([^:]+):%s*(.*)$")
        headers[name] = value
      end
      ids[#ids + 1] = fields[1]
      requests[#requests + 1] = wrk.format("POST", nil, headers, fields[#fields])
    end
    n = n + 1
  end
  idle = wrk.format("GET", "/healthz")
  -- wrk calls request() once more on thread 0 after init, to check the script; that call sends nothing.
  peek = tid == 0
end

function request()
  if peek then
    peek = false
    return requests[1] or idle
  end
  if issued >= #requests then
    return idle
  end
  issued = issued + 1
  sent[issued] = now()
  return requests[issued]
end

local function finish()
  local f = assert(io.open(out_prefix .. tid, "w"))
  f:write(string.format("answered %.6f %d\n", now(), failures))
  for i = 1, #ids do
    f:write(string.format("%s %.6f\n", ids[i], sent[i]))
  end
  f:close()
  wrk.thread:stop()
end

function response(status, headers, body)
  if body:find('"status":"ok"', 1, true) then
    return -- a GET /healthz filler
  end
  answered = answered + 1
  if status ~= 200 then
    failures = failures + 1
    if failures <= 3 then
      io.stderr:write(string.format("webhook answered %d: %s\n", status, body:sub(1, 300)))
    end
  end
  if answered == #requests then
    finish()
  end
end
