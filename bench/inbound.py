"""Inbound: signed WhatsApp webhooks per second fully processed, and the time from webhook to realtime event.

The real server on SQLite and on PostgreSQL, a WhatsApp inbox, and wrk (bench/inbound.lua) POSTing
pre-signed Cloud API webhooks (X-Hub-Signature-256 over the raw body; one text message each, from a pool of
senders, most known after the warm-up), each exactly once, BENCH_INBOUND_CONCURRENCY connections, while a
listener reads GET /api/v1/events. A webhook counts when its message.created event arrives on the stream,
i.e. after the event was stored, the contact/conversation/message written and the event published.

Figures: fully processed per second (first POST to last event), accepted per second (first POST to last
answer), p50/p99 from POST to event; beside them the same wrk run against a bare Starlette endpoint that
checks the same signature and answers 200 (the HTTP ceiling of this machine and load generator).

Setups (BENCH_INBOUND_SETUPS): `single` is `chatbotx server start` with its in-process job worker;
`split` is `chatbotx server start --no-worker` plus one `chatbotx server worker`, jobs and events through
Redis (CHATBOTX_BENCH_REDIS_URL, default redis://127.0.0.1:6379/13).

    python -m bench inbound      (BENCH_INBOUND_N=5000 BENCH_BACKENDS=sqlite,postgres)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.common import BIN, Server, Store, _process, free_port, fresh_store, log

N = int(os.environ.get("BENCH_INBOUND_N", "5000"))
WARMUP = int(os.environ.get("BENCH_INBOUND_WARMUP", "500"))
CONCURRENCY = int(os.environ.get("BENCH_INBOUND_CONCURRENCY", "32"))
THREADS = int(os.environ.get("BENCH_INBOUND_THREADS", "1"))
SENDERS = int(os.environ.get("BENCH_INBOUND_SENDERS", "500"))
BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(",")
SETUPS = os.environ.get("BENCH_INBOUND_SETUPS", "single").split(",")
REDIS_URL = os.environ.get("CHATBOTX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
APP_SECRET = "bench-app-secret"
PHONE_NUMBER_ID = "106540352242922"
LUA = Path(__file__).with_name("inbound.lua")


# ---------------------------------------------------------------- baseline


async def _accept(request: Request) -> Response:
    """What the real endpoint does before touching the database: read the body, check its signature."""
    body = await request.body()
    given = request.headers.get("x-hub-signature-256", "")
    expected = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return Response(b'{"error":"signature"}', status_code=403, media_type="application/json")
    return Response(b'{"ok":true,"received":1,"stored":1}', media_type="application/json")


async def _healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


baseline_app = Starlette(
    routes=[Route("/healthz", _healthz), Route("/{path:path}", _accept, methods=["GET", "POST"])]
)


@contextlib.contextmanager
def baseline_server() -> Iterator[Server]:
    port = free_port()
    args = [
        str(BIN / "uvicorn"),
        "bench.inbound:baseline_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with _process(args, dict(os.environ), f"http://127.0.0.1:{port}") as server:
        yield server


# ---------------------------------------------------------------- webhooks


def webhook(sender: int, wamid: str) -> bytes:
    """A Cloud API text-message webhook, as Meta sends it."""
    wa_id = f"1650555{sender:04d}"
    return orjson.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550783881",
                                    "phone_number_id": PHONE_NUMBER_ID,
                                },
                                "contacts": [{"profile": {"name": f"Sender {sender}"}, "wa_id": wa_id}],
                                "messages": [
                                    {
                                        "from": wa_id,
                                        "id": wamid,
                                        "timestamp": str(int(time.time())),
                                        "type": "text",
                                        "text": {"body": f"hello {wamid[-6:]}"},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    )


def signature(body: bytes) -> str:
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


def write_requests(path: Path, count: int, offset: int) -> list[str]:
    """`count` signed webhooks, one request a line for bench/inbound.lua; their message ids."""
    ids = []
    with path.open("wb") as out:
        for i in range(count):
            wamid = f"wamid.{uuid.uuid4().hex}"
            body = webhook((offset + i) % SENDERS, wamid)
            headers = f"Content-Type: application/json\tX-Hub-Signature-256: {signature(body)}"
            out.write(f"{wamid}\t{headers}\t".encode() + body + b"\n")
            ids.append(wamid)
    return ids


async def create_inbox(store: Store) -> int:
    """A WhatsApp inbox written directly (connecting through the API would call the Graph API)."""
    os.environ["CHATBOTX_DATA_DIR"] = str(store.data_dir)  # the credentials key file lives there
    from chatbotx.inboxes import secrets
    from chatbotx.kit.db import Database, commit
    from chatbotx.models import Inbox
    from chatbotx.settings import Settings, get_settings

    get_settings.cache_clear()
    database = Database(Settings(data_dir=store.data_dir, database_url=store.database_url))
    try:
        async with database.sessionmaker() as session:
            inbox = Inbox(
                workspace_id=store.workspace_id,
                name="WhatsApp bench",
                channel="whatsapp",
                config={"phoneNumberId": PHONE_NUMBER_ID},
                credentials=secrets.seal({"appSecret": APP_SECRET, "accessToken": "bench-token"}),
            )
            session.add(inbox)
            await commit(session)
            return inbox.id
    finally:
        await database.dispose()


# ---------------------------------------------------------------- load


@dataclass
class Load:
    sent: dict[str, float]  # message id -> time.time() it went out
    first: float
    answered: float  # the last answer
    failures: int


def run_wrk(url: str, ids: list[str], requests_file: Path, stop_when: Any = None) -> Load:
    """POST every request of the file once with wrk; returns when all were answered (and `stop_when()`,
    if given, is true: e.g. every event arrived)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    threads = max(1, min(THREADS, len(ids)))
    out = Path(tempfile.mkdtemp(prefix="chatbotx-bench-wrk-"))
    prefix = str(out / "sent-")
    args = [
        "wrk",
        f"-t{threads}",
        f"-c{max(CONCURRENCY, threads)}",
        "-d600s",
        "-s",
        str(LUA),
        url,
        "--",
        str(requests_file),
        str(threads),
        prefix,
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60 + len(ids) / 20
        files = [Path(f"{prefix}{t}") for t in range(threads)]
        while not all(f.exists() for f in files):
            if proc.poll() is not None:
                raise RuntimeError(f"wrk exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                raise RuntimeError(f"wrk did not finish: {len(ids)} webhooks in {60 + len(ids) / 20:.0f} s")
            time.sleep(0.05)
        time.sleep(0.05)  # the files are written whole before wrk stops the thread; let the write end
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # wrk sleeps for -d; SIGINT ends it at once
        _, err = proc.communicate(timeout=30)
    sent: dict[str, float] = {}
    answered = 0.0
    failures = 0
    for f in files:
        lines = f.read_text().splitlines()
        _, at, failed = lines[0].split()
        answered = max(answered, float(at))
        failures += int(failed)
        for line in lines[1:]:
            wamid, when = line.split()
            sent[wamid] = float(when)
    shutil.rmtree(out, ignore_errors=True)
    if failures:
        raise RuntimeError(f"{failures} webhooks were not answered 200: {err[-1000:]}")
    if len(sent) != len(ids):
        raise RuntimeError(f"wrk sent {len(sent)} of {len(ids)} webhooks")
    return Load(sent, min(sent.values()), answered, failures)


# ---------------------------------------------------------------- events


class Arrivals:
    """message.created events seen on the SSE stream: provider message id -> time.time() of arrival."""

    FRAME = re.compile(rb"event: message\.created\ndata: [^\n]*?\"providerMessageId\":\"([^\"]+)\"")

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    async def listen(self, url: str, token: str, ready: asyncio.Event) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx.AsyncClient(base_url=url, timeout=None) as client,
            client.stream("GET", "/api/v1/events", headers=headers) as response,
        ):
            response.raise_for_status()
            buffer = b""
            async for chunk in response.aiter_raw():
                now = time.time()
                buffer += chunk
                if not ready.is_set() and b"retry:" in buffer:
                    ready.set()
                cut = buffer.rfind(b"\n\n")
                if cut < 0:
                    continue
                frames, buffer = buffer[:cut], buffer[cut + 2 :]
                for match in self.FRAME.finditer(frames):
                    self.at[match.group(1).decode()] = now


async def _watch(
    url: str, token: str, arrivals: Arrivals, started: asyncio.Event, stop: asyncio.Event
) -> None:
    listener = asyncio.create_task(arrivals.listen(url, token, started))
    await stop.wait()
    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await listener


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes."""
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def load_and_wait(
    url: str, token: str, path: str, count: int, offset: int, limit: float, pids: list[int]
) -> dict[str, float]:
    """Send `count` webhooks with wrk while listening to the event stream; wait for every event. Also the
    CPU time the server's processes (`pids`) spent per webhook: the figure least moved by a busy machine."""
    requests_file = Path(tempfile.mkstemp(prefix="chatbotx-bench-webhooks-")[1])
    ids = write_requests(requests_file, count, offset)
    arrivals = Arrivals()
    loop = asyncio.new_event_loop()
    started, stop = asyncio.Event(), asyncio.Event()
    # The listener runs in its own thread and loop while wrk runs; `stop` is set through the loop.
    watch = _watch(url, token, arrivals, started, stop)
    thread = threading.Thread(target=loop.run_until_complete, args=(watch,))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not started.is_set():
            if time.monotonic() > deadline:
                raise RuntimeError("the event stream did not start")
            time.sleep(0.02)
        cpu_before = cpu_seconds(pids)
        load = run_wrk(url + path, ids, requests_file)
        deadline = time.monotonic() + limit
        while len(arrivals.at) < count or not all(i in arrivals.at for i in ids):
            if time.monotonic() > deadline:
                missing = sum(1 for i in ids if i not in arrivals.at)
                raise RuntimeError(f"{missing} of {count} webhooks produced no event in {limit:.0f}s")
            time.sleep(0.05)
        cpu = cpu_seconds(pids) - cpu_before
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
        requests_file.unlink(missing_ok=True)
    finished = max(arrivals.at[i] for i in ids)
    latencies = [(arrivals.at[i] - load.sent[i]) * 1000 for i in ids]
    return {
        "rate": count / (finished - load.first),
        "accept_rate": count / (load.answered - load.first),
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
        "cpu_ms": cpu * 1000 / count,
    }


# ---------------------------------------------------------------- servers


@contextlib.contextmanager
def chatbotx(store: Store, setup: str) -> Iterator[tuple[Server, list[int]]]:
    """The server as `setup` says: `single` (in-process jobs) or `split` (API + one `server worker`)."""
    env = store.env()
    port = free_port()
    args = [str(BIN / "chatbotx"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    worker = None
    if setup == "split":
        env.update(CHATBOTX_BROKER_URL=REDIS_URL, CHATBOTX_REDIS_URL=REDIS_URL)
        args.append("--no-worker")
    elif setup != "single":
        raise ValueError(f"unknown BENCH_INBOUND_SETUPS entry {setup!r} (single, split)")
    with _process(args, env, f"http://127.0.0.1:{port}") as server:
        try:
            if setup == "split":
                worker = subprocess.Popen(
                    [str(BIN / "chatbotx"), "server", "worker"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            yield server, [server.pid] + ([worker.pid] if worker else [])
        finally:
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(15)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()


def bench_backend(backend: str, setup: str) -> str:
    with fresh_store(backend) as store:
        inbox_id = asyncio.run(create_inbox(store))
        with chatbotx(store, setup) as (server, pids):
            path = f"/webhooks/whatsapp/{inbox_id}"
            load_and_wait(server.url, store.token, path, WARMUP, 0, 300, pids)
            figures = load_and_wait(server.url, store.token, path, N, WARMUP, 600, pids)
    return (
        f"{backend:8} {setup:6}  chatbotx: {figures['rate']:6.0f} webhooks/s fully processed "
        f"(accepted at {figures['accept_rate']:.0f}/s)   webhook->event p50 {figures['p50']:7.1f} ms  "
        f"p99 {figures['p99']:7.1f} ms   server CPU {figures['cpu_ms']:.2f} ms/webhook"
    )


def bench_baseline() -> str:
    with baseline_server() as bare:
        requests_file = Path(tempfile.mkstemp(prefix="chatbotx-bench-webhooks-")[1])
        try:
            url = bare.url + "/webhooks/whatsapp/1"
            run_wrk(url, write_requests(requests_file, WARMUP, 0), requests_file)
            ids = write_requests(requests_file, N, WARMUP)
            cpu_before = cpu_seconds([bare.pid])
            load = run_wrk(url, ids, requests_file)
            cpu_ms = (cpu_seconds([bare.pid]) - cpu_before) * 1000 / N
        finally:
            requests_file.unlink(missing_ok=True)
    rate = N / (load.answered - load.first)
    return (
        f"{'bare':8} {'':6}  starlette, same signature check -> 200: {rate:6.0f} req/s "
        f"(same wrk, same bodies)   server CPU {cpu_ms:.2f} ms/webhook"
    )


def main() -> None:
    log(
        f"inbound: {N} signed WhatsApp webhooks by wrk ({THREADS} thread, {CONCURRENCY} connections), "
        f"{WARMUP} warm-up, {SENDERS} senders"
    )
    lines = []
    line = bench_baseline()
    log(line)
    lines.append(line)
    for backend in BACKENDS:
        for setup in SETUPS:
            line = bench_backend(backend, setup)
            log(line)
            lines.append(line)
    print("\n".join(["", "inbound summary:", *lines]), flush=True)


if __name__ == "__main__":
    main()
