"""Inbound: signed WhatsApp webhooks per second fully processed, and the time from webhook to realtime event.

The real server (`chatbotx server start`, in-process job worker) on SQLite and on PostgreSQL, a WhatsApp
inbox, and a client that POSTs signed Cloud API webhooks (X-Hub-Signature-256 over the raw body; one text
message each, from a pool of senders, most known after the warm-up) with BENCH_INBOUND_CONCURRENCY requests
in flight, while listening to GET /api/v1/events. A webhook counts when its message.created event arrives on
the stream, i.e. after the event was stored, the contact/conversation/message written and the event published.
Figures: processed per second (first POST to last event), p50/p99 from POST to event, and beside them the same
client against a bare Starlette endpoint that accepts the POST and answers 200 (the HTTP ceiling of this
machine and client). Run: `python -m bench inbound` (BENCH_INBOUND_N=4000 BENCH_BACKENDS=sqlite,postgres).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.common import Store, _process, chatbotx_server, free_port, fresh_store, log

N = int(os.environ.get("BENCH_INBOUND_N", "4000"))
WARMUP = int(os.environ.get("BENCH_INBOUND_WARMUP", "500"))
CONCURRENCY = int(os.environ.get("BENCH_INBOUND_CONCURRENCY", "32"))
SENDERS = int(os.environ.get("BENCH_INBOUND_SENDERS", "500"))
BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(",")
APP_SECRET = "bench-app-secret"
PHONE_NUMBER_ID = "106540352242922"


# ---------------------------------------------------------------- baseline


async def _accept(request: Request) -> Response:
    await request.body()
    return Response(b'{"ok":true}', media_type="application/json")


async def _healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


baseline_app = Starlette(
    routes=[Route("/healthz", _healthz), Route("/{path:path}", _accept, methods=["GET", "POST"])]
)


@contextlib.contextmanager
def baseline_server() -> Iterator[Any]:
    port = free_port()
    args = [
        str(Path(sys.executable).parent / "uvicorn"),
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


def signed(body: bytes) -> dict[str, str]:
    signature = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "x-hub-signature-256": f"sha256={signature}"}


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


# ---------------------------------------------------------------- measuring


class Arrivals:
    """message.created events seen on the SSE stream, by provider message id."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def listen(self, client: httpx.AsyncClient, token: str, ready: asyncio.Event) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with client.stream("GET", "/api/v1/events", headers=headers, timeout=None) as response:
            response.raise_for_status()
            event = data = None
            async for line in response.aiter_lines():
                if line.startswith("retry:"):
                    ready.set()
                elif line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and event is not None:
                    if event == "message.created" and data:
                        provider_id = orjson.loads(data).get("providerMessageId")
                        if provider_id:
                            self.at[provider_id] = time.perf_counter()
                            self.changed.set()
                    event = data = None

    async def wait_all(self, ids: list[str], limit: float) -> None:
        deadline = time.perf_counter() + limit
        while not all(i in self.at for i in ids):
            self.changed.clear()
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                missing = sum(1 for i in ids if i not in self.at)
                raise RuntimeError(f"{missing} of {len(ids)} webhooks produced no event in {limit:.0f}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)


async def post_all(client: httpx.AsyncClient, path: str, bodies: list[tuple[str, bytes]]) -> dict[str, float]:
    """POST every body with CONCURRENCY in flight; the send time of each, by id."""
    sent: dict[str, float] = {}
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            wamid, body = queue.get_nowait()
            sent[wamid] = time.perf_counter()
            response = await client.post(path, content=body, headers=signed(body))
            if response.status_code != 200:
                raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:200]}")

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return sent


def batch(count: int, offset: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(count):
        wamid = f"wamid.{uuid.uuid4().hex}"
        out.append((wamid, webhook((offset + i) % SENDERS, wamid)))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_pipeline(url: str, token: str, inbox_id: int) -> dict[str, float]:
    path = f"/webhooks/whatsapp/{inbox_id}"
    limits = httpx.Limits(max_connections=CONCURRENCY + 4, max_keepalive_connections=CONCURRENCY + 4)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        arrivals = Arrivals()
        ready = asyncio.Event()
        listener = asyncio.create_task(arrivals.listen(client, token, ready))
        await asyncio.wait_for(ready.wait(), 30)
        try:
            warm = batch(WARMUP, 0)
            await post_all(client, path, warm)
            await arrivals.wait_all([w for w, _ in warm], 300)
            bodies = batch(N, WARMUP)
            started = time.perf_counter()
            sent = await post_all(client, path, bodies)
            posted = time.perf_counter() - started
            await arrivals.wait_all(list(sent), 600)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
    finished = max(arrivals.at[w] for w in sent)
    latencies = [(arrivals.at[w] - sent[w]) * 1000 for w in sent]
    return {
        "rate": N / (finished - started),
        "accept_rate": N / posted,
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
    }


async def run_baseline(url: str) -> dict[str, float]:
    limits = httpx.Limits(max_connections=CONCURRENCY + 4, max_keepalive_connections=CONCURRENCY + 4)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        await post_all(client, "/webhooks/whatsapp/1", batch(WARMUP, 0))
        started = time.perf_counter()
        await post_all(client, "/webhooks/whatsapp/1", batch(N, WARMUP))
        return {"rate": N / (time.perf_counter() - started)}


def bench_backend(backend: str) -> str:
    with fresh_store(backend) as store:
        inbox_id = asyncio.run(create_inbox(store))
        with chatbotx_server(store) as server:
            figures = asyncio.run(run_pipeline(server.url, store.token, inbox_id))
    return (
        f"{backend:8}  chatbotx: {figures['rate']:7.0f} webhooks/s fully processed "
        f"(accepted at {figures['accept_rate']:.0f}/s)   webhook->event p50 {figures['p50']:7.1f} ms  "
        f"p99 {figures['p99']:7.1f} ms"
    )


def main() -> None:
    log(
        f"inbound: {N} signed WhatsApp webhooks, {WARMUP} warm-up, {CONCURRENCY} in flight, {SENDERS} senders"
    )
    lines = []
    for backend in BACKENDS:
        line = bench_backend(backend)
        log(line)
        lines.append(line)
    with baseline_server() as bare:
        base = asyncio.run(run_baseline(bare.url))
    line = f"{'bare':8}  starlette POST -> 200: {base['rate']:7.0f} req/s (same client, same bodies)"
    log(line)
    lines.append(line)
    print("\n".join(["", "inbound summary:", *lines]), flush=True)


if __name__ == "__main__":
    main()
