"""GET /api/v1/contacts?perPage=50&page=3 under wrk, beside a bare Starlette endpoint serving the same bytes.

20,000 then 100,000 contacts with two tags each, on SQLite and PostgreSQL (fresh store each), the real server
(`chatbotx server start`, rate limit off), 1 worker and 2 workers. Prints req/s, p50, p99, the
ratio to the bare endpoint, the server's RSS, and the CPU time each request cost the server processes and (on
PostgreSQL) the database's backends: on a shared machine req/s follow the load, CPU per request much less.
Every request reads the database (no response cache).
Run: `python -m bench list_contacts`
(BENCH_SIZES=20000,100000 BENCH_BACKENDS=sqlite,postgres BENCH_DURATION=8s).
Needs wrk (`apt-get install -y wrk`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess

import httpx
import psutil
from sqlalchemy.engine import make_url

from bench.common import Store, bare_server, chatbotx_server, fresh_store, log, rss_mb, seed_contacts, wrk

PATH = "/api/v1/contacts?perPage=50&page=3"
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "20000,100000").split(",")]
BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(",")
DURATION = os.environ.get("BENCH_DURATION", "8s")
CHATBOTX_TS = {
    "rps": 125.0,
    "p50_ms": 240.0,
    "rss_mb": 1024.0,
}  # issue 2: the TypeScript ChatbotX, 20k contacts


def _seconds(duration: str) -> float:
    return float(duration.rstrip("s"))


def _cpu(processes: list[psutil.Process]) -> float:
    """User + system CPU seconds of these processes (those that exited count as zero)."""
    total = 0.0
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def _server_processes(pid: int) -> list[psutil.Process]:
    proc = psutil.Process(pid)
    return [proc, *proc.children(recursive=True)]


def _backends(store: Store) -> list[psutil.Process]:
    """The PostgreSQL backends connected to the store's database (the server on this machine)."""
    if not store.database_url:
        return []
    name = make_url(store.database_url).database
    out = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-At",
            "-c",
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    procs = []
    for pid in out.split():
        with contextlib.suppress(psutil.Error):
            procs.append(psutil.Process(int(pid)))
    return procs


def bench_one(backend: str, size: int) -> list[str]:
    lines = []
    with fresh_store(backend) as store:
        seconds = asyncio.run(seed_contacts(store, size))
        log(f"[{backend} {size:,}] seeded {size:,} contacts + {2 * size:,} tags in {seconds:.1f}s")
        headers = {"Authorization": f"Bearer {store.token}"}
        for workers in [1, 2]:
            with chatbotx_server(store, workers=workers) as server:
                response = httpx.get(server.url + PATH, headers=headers, timeout=30)
                response.raise_for_status()
                assert len(response.json()["data"]) == 50, "expected a full page"
                wrk(server.url + PATH, headers, duration="2s")  # warm-up: the pool is full after it
                procs, backends = _server_processes(server.pid), _backends(store)
                cpu0, db0 = _cpu(procs), _cpu(backends)
                api = wrk(server.url + PATH, headers, duration=DURATION)
                requests = api.requests_per_s * _seconds(DURATION)
                api_cpu = (_cpu(procs) - cpu0) * 1000 / requests
                # Backends that connected during the run (a pool still filling) count whole.
                known = {proc.pid for proc in backends}
                late = [proc for proc in _backends(store) if proc.pid not in known]
                db_cpu = (_cpu(backends) - db0 + _cpu(late)) * 1000 / requests
                api_rss = rss_mb(server.pid)
            body_file = store.data_dir / "page3.json"
            body_file.write_bytes(response.content)
            with bare_server(body_file, workers=workers) as bare:
                wrk(bare.url + PATH, duration="2s")
                procs = _server_processes(bare.pid)
                cpu0 = _cpu(procs)
                base = wrk(bare.url + PATH, duration=DURATION)
                base_cpu = (_cpu(procs) - cpu0) * 1000 / (base.requests_per_s * _seconds(DURATION))
                base_rss = rss_mb(bare.pid)
            label = f"{backend:8} {size:>7,} contacts  workers={workers}"
            db_part = (
                f" + database {db_cpu:5.2f} ms" if backend == "postgres" else " (SQLite's threads included)"
            )
            lines += [
                f"{label}  chatbotx: {api.line()}   RSS {api_rss:6.1f} MB   "
                f"CPU/request: server {api_cpu:5.2f} ms{db_part}",
                f"{label}  bare    : {base.line()}   RSS {base_rss:6.1f} MB   "
                f"CPU/request: {base_cpu:5.2f} ms",
                f"{label}  ratio   : {api.requests_per_s / base.requests_per_s:6.3f} of bare req/s; "
                f"{api.requests_per_s / CHATBOTX_TS['rps']:6.1f}x the TypeScript ChatbotX "
                f"({CHATBOTX_TS['rps']:.0f} req/s, p50 {CHATBOTX_TS['p50_ms']:.0f} ms); "
                f"response {len(response.content):,} bytes",
            ]
            for line in lines[-3:]:
                log(line)
    return lines


def main() -> None:
    log(f"== list_contacts: wrk -t2 -c32 -d{DURATION} --latency GET {PATH}")
    results = []
    for backend in BACKENDS:
        for size in SIZES:
            results += bench_one(backend, size)
    log(f"== list_contacts summary (load average {os.getloadavg()[0]:.1f})")
    for line in results:
        log(line)


if __name__ == "__main__":
    main()
