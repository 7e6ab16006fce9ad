"""Per-inbox and per-recipient send limits from an adapter's RatePlan, counted so that the provider never sees
more than the limit in any one-second window, whatever the network's jitter.

A sliding-window log per key, where a send counts from the moment it is admitted until one window after its
answer came back: the provider received it somewhere in between, so for any window at the provider every send
it saw was either still in flight or answered less than a window before the last one was admitted. (Stamping a
send with its admission time alone is not enough: a send delayed on its way lands in the next second together
with that second's sends.) A send whose answer never comes counts for `IN_FLIGHT_MS` at most.

In memory by default; in Redis (a sorted set per key, scripts on the server's clock) when
CHATBOTX_REDIS_URL is set, so several dispatchers share one inbox's limit.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import itertools
import math
import time
import uuid
from typing import Any, NamedTuple

from chatbotx.channels.base import RatePlan

WINDOW_MS = 1000
MINUTE_MS = 60_000
IN_FLIGHT_MS = 31_000  # longer than the HTTP client's timeout: an unanswered send stops counting after this
POLL = 0.02  # seconds to wait when the slot frees only once a send in flight is answered
REDIS_PREFIX = "chatbotx:ratelimit:"


class Rate(NamedTuple):
    limit: int
    interval: int  # milliseconds


def inbox_rates(plan: RatePlan) -> list[Rate]:
    """At most `per_second` sends in any one second (fractional rates: one per 1/rate seconds)."""
    if not plan.per_second:
        return []
    return [_per_window(plan.per_second)]


def recipient_rates(plan: RatePlan) -> list[Rate]:
    """Up to `burst` sends at once to one recipient, `per_recipient_per_second` on average over a minute."""
    rate = plan.per_recipient_per_second
    if not rate:
        return []
    burst = max(1, plan.burst)
    if burst <= rate:
        return [_per_window(rate)]
    per_minute = math.ceil(rate * MINUTE_MS / 1000)
    if per_minute <= burst:  # very slow: `burst` at once, then one burst's worth per burst / rate seconds
        return [Rate(burst, math.ceil(burst / rate * 1000))]
    return [Rate(burst, WINDOW_MS), Rate(per_minute, MINUTE_MS)]


def _per_window(per_second: float) -> Rate:
    if per_second >= 1:
        return Rate(int(per_second), WINDOW_MS)
    return Rate(1, math.ceil(WINDOW_MS / per_second))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclasses.dataclass
class Ticket:
    """An admitted send: its entries in the logs, to stamp with the answer's time."""

    entries: list[tuple[str, str]]  # (key, member)


class _KeyLog:
    """One key's sends: the answer times, ascending, and the sends still in flight (member -> the time until
    which an unanswered send counts as in flight), in admission order. Ordered so that an admission costs a
    binary search, not a sort of the whole second's sends (1,000 of them at 1,000/s)."""

    __slots__ = ("answered", "flying", "span")

    def __init__(self) -> None:
        self.answered: list[int] = []
        self.flying: dict[str, int] = {}
        self.span = WINDOW_MS  # the longest window it was last asked about

    def __len__(self) -> int:
        return len(self.answered) + len(self.flying)

    def prune(self, now: int, horizon: int) -> None:
        """Forget answers older than `horizon`; a send unanswered for IN_FLIGHT_MS counts as answered then."""
        expired = []
        for member, until in self.flying.items():  # admission order: the oldest first
            if until > now:
                break
            expired.append(member)
        for member in expired:
            bisect.insort(self.answered, self.flying.pop(member))
        cut = bisect.bisect_right(self.answered, horizon)
        if cut:
            del self.answered[:cut]

    def wait(self, rates: list[Rate], now: int) -> int:
        """0 when one more send fits under every rate, else the milliseconds to wait. Ascending, the window's
        sends are the recent answers then those in flight; the (count - limit)-th must leave it first."""
        longest = 0
        for rate in rates:
            start = bisect.bisect_right(self.answered, now - rate.interval)
            recent = len(self.answered) - start
            index = recent + len(self.flying) - rate.limit
            if index < 0:
                continue
            if index < recent:
                longest = max(longest, self.answered[start + index] + rate.interval - now + 1)
            else:  # still in flight: it frees the slot only once answered
                longest = max(longest, int(POLL * 1000))
        return longest


class _MemoryLog:
    SWEEP_EVERY = 4096  # admissions between sweeps of the keys nothing counts any more (recipients, mostly)

    def __init__(self) -> None:
        self.logs: dict[str, _KeyLog] = {}
        self.ids = itertools.count()
        self.admissions = 0

    def count(self, key: str) -> int:
        """Sends that `key` still counts (answered within its longest window, or in flight)."""
        log = self.logs.get(key)
        return len(log) if log is not None else 0

    def sweep(self, now: int) -> None:
        for key, log in list(self.logs.items()):
            log.prune(now, now - log.span)
            if not log:
                del self.logs[key]

    async def admit(self, key: str, rates: list[Rate]) -> tuple[int, str | None]:
        now = _now_ms()
        self.admissions += 1
        if self.admissions % self.SWEEP_EVERY == 0:
            self.sweep(now)
        log = self.logs.get(key)
        if log is None:
            log = self.logs[key] = _KeyLog()
        log.span = max(r.interval for r in rates)
        log.prune(now, now - log.span)
        wait = log.wait(rates, now)
        if wait:
            return wait, None
        member = str(next(self.ids))
        log.flying[member] = now + IN_FLIGHT_MS
        return 0, member

    async def done(self, entries: list[tuple[str, str]]) -> None:
        now = _now_ms()
        for key, member in entries:
            log = self.logs.get(key)
            if log is not None and log.flying.pop(member, None) is not None:
                bisect.insort(log.answered, now)

    async def cancel(self, entries: list[tuple[str, str]]) -> None:
        for key, member in entries:
            log = self.logs.get(key)
            if log is not None:
                log.flying.pop(member, None)

    async def close(self) -> None:
        pass


# KEYS[1] the log; ARGV: member, in-flight ms, poll ms (the wait when only sends in flight block), then
# (limit, interval) pairs. Redis's own clock, so that
# dispatchers on several hosts agree. Returns 0 when admitted, else the ms to wait.
ADMIT_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local horizon = 0
for i = 4, #ARGV, 2 do
  if tonumber(ARGV[i + 1]) > horizon then horizon = tonumber(ARGV[i + 1]) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - horizon)
local wait = 0
for i = 4, #ARGV, 2 do
  local limit = tonumber(ARGV[i])
  local interval = tonumber(ARGV[i + 1])
  local inside = redis.call('ZCOUNT', KEYS[1], '(' .. (now - interval), '+inf')
  if inside >= limit then
    local blocking = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - interval), '+inf', 'WITHSCORES',
      'LIMIT', inside - limit, 1)
    local score = tonumber(blocking[2])
    local this
    if score > now then this = tonumber(ARGV[3]) else this = score + interval - now + 1 end
    if this > wait then wait = this end
  end
end
if wait > 0 then return wait end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], horizon + tonumber(ARGV[2]) + 1000)
return 0
"""
# KEYS the logs of one send (recipient, inbox), ARGV its member in each: stamped with the answer's time in one
# round trip for all of them.
DONE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now, ARGV[i])
end
return #KEYS
"""
CANCEL_SCRIPT = """
for i = 1, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[i])
end
return #KEYS
"""


class _RedisLog:
    def __init__(self, redis: Any):
        self.redis = redis
        self.admit_script = redis.register_script(ADMIT_SCRIPT)
        self.done_script = redis.register_script(DONE_SCRIPT)
        self.cancel_script = redis.register_script(CANCEL_SCRIPT)

    async def admit(self, key: str, rates: list[Rate]) -> tuple[int, str | None]:
        member = uuid.uuid4().hex
        args: list[Any] = [member, IN_FLIGHT_MS, int(POLL * 1000)]
        for rate in rates:
            args += [rate.limit, rate.interval]
        wait = int(await self.admit_script(keys=[REDIS_PREFIX + key], args=args))
        return (wait, None) if wait else (0, member)

    async def done(self, entries: list[tuple[str, str]]) -> None:
        if entries:
            await self.done_script(keys=[REDIS_PREFIX + k for k, _ in entries], args=[m for _, m in entries])

    async def cancel(self, entries: list[tuple[str, str]]) -> None:
        if entries:
            keys, members = [REDIS_PREFIX + k for k, _ in entries], [m for _, m in entries]
            await self.cancel_script(keys=keys, args=members)

    async def close(self) -> None:
        await self.redis.aclose()


class OutboundLimiter:
    """`turn(...)` waits until one more send to (inbox, recipient) fits under both limits; `done(ticket)`
    once the provider answered (or failed)."""

    def __init__(self, redis: Any | None = None):
        self.log: _MemoryLog | _RedisLog = _MemoryLog() if redis is None else _RedisLog(redis)
        self.paused: dict[str, float] = {}  # inbox key -> monotonic time until which the provider said stop
        # The sends of this process waiting on one key form a queue: only its head asks the log. (Woken
        # together for the same freed slot, every waiter asked again and all but one slept again.)
        self.queues: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # key -> (lock, [waiters])

    @classmethod
    def from_url(cls, url: str | None) -> OutboundLimiter:
        if not url:
            return cls()
        import redis.asyncio as aioredis

        return cls(aioredis.from_url(url))

    async def close(self) -> None:
        await self.log.close()

    def pause(self, inbox_key: str, seconds: float) -> None:
        """The provider throttled the inbox: no sends on it for `seconds`."""
        until = time.monotonic() + seconds
        self.paused[inbox_key] = max(until, self.paused.get(inbox_key, 0.0))

    def paused_for(self, inbox_key: str) -> float:
        until = self.paused.get(inbox_key)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            self.paused.pop(inbox_key, None)
            return 0.0
        return left

    async def turn(
        self, inbox_key: str, recipient: str, plan: RatePlan, max_wait: float
    ) -> tuple[float, Ticket | None]:
        """(0, ticket) once admitted; else (seconds still to wait, None) when that is more than `max_wait`
        (the caller defers the message rather than hold it; nothing stays taken)."""
        ticket = Ticket([])
        checks = [(f"{inbox_key}:{recipient}", recipient_rates(plan)), (inbox_key, inbox_rates(plan))]
        try:
            for key, rates in [(key, rates) for key, rates in checks if rates]:
                wait, member = await self._admit_in_turn(inbox_key, key, rates, max_wait)
                if member is None:
                    await self.cancel(ticket)
                    return wait, None
                ticket.entries.append((key, member))
            while left := self.paused_for(inbox_key):  # paused meanwhile (or no rates at all)
                if left > max_wait:
                    await self.cancel(ticket)
                    return left, None
                await asyncio.sleep(left)
        except BaseException:
            await asyncio.shield(self.cancel(ticket))
            raise
        return 0.0, ticket

    async def _admit_in_turn(
        self, inbox_key: str, key: str, rates: list[Rate], max_wait: float
    ) -> tuple[float, str | None]:
        """Wait in this process's queue for `key`, then until the log admits the send (or says to wait more
        than `max_wait`)."""
        queue = self.queues.get(key)
        if queue is None:
            queue = self.queues[key] = (asyncio.Lock(), [0])
        lock, waiters = queue
        waiters[0] += 1
        try:
            async with lock:
                while True:
                    wait, member = await self._admit(inbox_key, key, rates)
                    if member is not None or wait > max_wait:
                        return wait, member
                    await asyncio.sleep(wait)
        finally:
            waiters[0] -= 1
            if not waiters[0] and self.queues.get(key) is queue:
                del self.queues[key]

    async def _admit(self, inbox_key: str, key: str, rates: list[Rate]) -> tuple[float, str | None]:
        paused = self.paused_for(inbox_key)
        if paused:
            return paused, None
        wait, member = await self.log.admit(key, rates)
        return wait / 1000, member

    async def cancel(self, ticket: Ticket) -> None:
        """Take back an admission whose send will not happen."""
        entries, ticket.entries = list(ticket.entries), []
        await self.log.cancel(entries)

    async def done(self, ticket: Ticket | None) -> None:
        """The provider answered: the send now counts until one window after this moment."""
        if ticket is None:
            return
        await self.log.done(ticket.entries)
