"""Outbound: messages per second through the dispatcher and the WhatsApp adapter to a fake Cloud API (its
own process), limits off, beside baselines measured in the same run: the fake alone under wrk (so it is known
not to be the bottleneck), raw posts of the same bodies to the same fake through the project's shared client
(httpx over aiohttp, `kit.http`) and through plain httpx (its httpcore pool); then with WhatsApp's
default 80/s limit, the peak arrivals in any one second (a sliding window over the fake's receipt times).
The dispatcher's CPU time per message (this process: claiming, sending, recording) is printed too: the figure
least moved by a busy machine.

    python -m bench outbound      (BENCH_OUTBOUND_MESSAGES=5000 by default)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import BIN, _process, free_port, fresh_store, log

MESSAGES = int(os.environ.get("BENCH_OUTBOUND_MESSAGES", "5000"))
RECIPIENTS = 1000
LIMITED = 400  # messages for the 80/s run (5 seconds' worth)
PHONE_NUMBER_ID = "106540352242922"


def peak_per_second(times: list[float]) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


class Unlimited:
    """Limits off: every send may go at once."""

    async def turn(self, *args: Any, **kwargs: Any) -> tuple[float, Any]:
        from chatbotx.dispatcher.limits import Ticket

        return 0.0, Ticket([])

    async def done(self, ticket: Any) -> None:
        pass

    async def cancel(self, ticket: Any) -> None:
        pass

    def pause(self, *args: Any) -> None:
        pass

    async def close(self) -> None:
        pass


async def seed(workspace_id: int, messages: int, recipients: int) -> int:
    """A connected WhatsApp inbox, `recipients` contacts who wrote just now, `messages` queued for them."""
    from sqlalchemy import insert

    from chatbotx.inboxes import secrets
    from chatbotx.kit import db
    from chatbotx.kit.ids import new_id
    from chatbotx.models import Contact, ContactInbox, Conversation, Inbox, Message

    now = dt.datetime.now(dt.UTC)
    inbox_id = new_id()
    contacts = [
        {"id": new_id(), "workspace_id": workspace_id, "first_name": f"c{n}"} for n in range(recipients)
    ]
    conversations = [
        {"id": new_id(), "workspace_id": workspace_id, "contact_id": c["id"], "inbox_id": inbox_id}
        for c in contacts
    ]
    identities = [
        {
            "id": new_id(),
            "contact_id": c["id"],
            "inbox_id": inbox_id,
            "source_id": f"1555{n:07d}",
            "last_inbound_at": now,
        }
        for n, c in enumerate(contacts)
    ]
    rows = [
        {
            "id": new_id(),
            "workspace_id": workspace_id,
            "conversation_id": conversations[n % recipients]["id"],
            "contact_id": contacts[n % recipients]["id"],
            "inbox_id": inbox_id,
            "direction": "outgoing",
            "private": False,
            "sender_type": "bot",
            "content_type": "text",
            "content": f"Order {n} shipped",
            "attachments": [],
            "content_attributes": {},
            "status": "queued",
            "next_attempt_at": now,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(messages)
    ]
    credentials = secrets.seal({"accessToken": "EAAG-bench-token", "appSecret": "bench-app-secret"})
    async with db.get_database().sessionmaker() as session:
        session.add(
            Inbox(
                id=inbox_id,
                workspace_id=workspace_id,
                name="WhatsApp",
                channel="whatsapp",
                config={"phoneNumberId": PHONE_NUMBER_ID, "verifyToken": "v"},
                credentials=credentials,
            )
        )
        await session.flush()
        for table, values in ((Contact, contacts), (Conversation, conversations), (ContactInbox, identities)):
            await session.execute(insert(table), values)
        for start in range(0, len(rows), 2000):
            await session.execute(insert(Message), rows[start : start + 2000])
        await db.commit(session)
    return inbox_id


async def sent_count(inbox_id: int) -> int:
    from sqlalchemy import func, select

    from chatbotx.kit import db
    from chatbotx.models import Message

    async with db.get_database().sessionmaker() as session:
        stmt = select(func.count()).where(Message.inbox_id == inbox_id, Message.status == "sent")
        return int(await session.scalar(stmt) or 0)


async def raw_posts(url: str, count: int, concurrency: int, *, shared: bool = True) -> float:
    """The baseline: the same bodies posted straight to the fake, through the project's shared client (httpx
    over aiohttp's pool) or, `shared=False`, plain httpx (its own httpcore pool); returns requests/s."""
    body = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "15550000001",
        "type": "text",
        "text": {"body": "Order shipped"},
    }
    queue = iter(range(count))
    from chatbotx.kit.http import LIMITS, new_http_client

    headers = {"Authorization": "Bearer x"}
    client = new_http_client(headers=headers) if shared else httpx.AsyncClient(limits=LIMITS, headers=headers)
    async with client:

        async def worker() -> None:
            for _ in queue:
                (await client.post(url, json=body)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


SEND_BODY = (
    '{"messaging_product":"whatsapp","recipient_type":"individual","to":"15550000001","type":"text",'
    '"text":{"body":"Order shipped"}}'
)


def provider_alone(provider: str) -> float:
    """The fake under wrk (20 connections, 5 s, the same body): requests/s it serves on its own."""
    if shutil.which("wrk") is None:
        return 0.0
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f"wrk.method = 'POST'\nwrk.body = '{SEND_BODY}'\n")
        script.write("wrk.headers['Content-Type'] = 'application/json'\n")
    try:
        url = f"{provider}/v21.0/{PHONE_NUMBER_ID}/messages"
        args = ["wrk", "-t1", "-c20", "-d5s", "-s", script.name, url]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    finally:
        Path(script.name).unlink()
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


async def arrivals_at(provider: str) -> list[float]:
    """The fake's receipt times since the last call (and forget them)."""
    async with httpx.AsyncClient() as client:
        return list((await client.get(f"{provider}/times")).json())


async def run_backend(store: Any, provider: str) -> None:
    from chatbotx.app import tune_gc
    from chatbotx.dispatcher.limits import OutboundLimiter
    from chatbotx.dispatcher.service import Dispatcher
    from chatbotx.kit import db
    from chatbotx.kit.http import close_http_client
    from chatbotx.settings import Settings, get_settings

    for key, value in store.env().items():
        if key.startswith("CHATBOTX_"):
            os.environ[key] = value
    os.environ["CHATBOTX_META_GRAPH_API_BASE"] = provider
    get_settings.cache_clear()
    database = db.Database(Settings())
    db.set_database(database)
    try:
        from chatbotx.channels import registry
        from chatbotx.dispatcher.service import send_concurrency

        adapter = registry.get("whatsapp")
        assert adapter is not None
        concurrency = send_concurrency(adapter.rate_plan({}))  # what the dispatcher uses for this inbox
        send_url = f"{provider}/v21.0/{PHONE_NUMBER_ID}/messages"
        plain = await raw_posts(send_url, min(MESSAGES, 1000), concurrency, shared=False)
        baseline = await raw_posts(send_url, MESSAGES, concurrency)
        await arrivals_at(provider)

        inbox_id = await seed(store.workspace_id, MESSAGES, RECIPIENTS)
        tune_gc()  # the garbage collector as in the server, where the default (embedded) dispatcher runs
        dispatcher = Dispatcher(database.sessionmaker, Unlimited(), batch=1000)  # type: ignore[arg-type]
        started, cpu = time.perf_counter(), time.process_time()
        claimed = await dispatcher.drain()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        sent = await sent_count(inbox_id)
        rate = sent / elapsed
        log(
            f"  {store.backend:8} limits off: {sent}/{claimed} sent in {elapsed:.2f}s = {rate:,.0f} msg/s, "
            f"dispatcher CPU {cpu * 1000 / max(sent, 1):.2f} ms/msg   (baseline: raw posts, shared "
            f"client, {concurrency} at a time, {baseline:,.0f}/s; ratio {rate / baseline:.2f}; plain httpx "
            f"{plain:,.0f}/s)"
        )
        await arrivals_at(provider)

        inbox_id = await seed(store.workspace_id, LIMITED, LIMITED)
        limiter = OutboundLimiter.from_url(os.environ.get("CHATBOTX_BENCH_REDIS_URL"))
        started = time.perf_counter()
        await Dispatcher(database.sessionmaker, limiter, batch=1000).drain()
        elapsed = time.perf_counter() - started
        await limiter.close()
        arrivals = await arrivals_at(provider)
        sent = await sent_count(inbox_id)
        log(
            f"  {store.backend:8} 80/s limit: {sent}/{LIMITED} sent in {elapsed:.2f}s "
            f"(mean {sent / elapsed:.1f}/s); peak in any one second at the provider: "
            f"{peak_per_second(arrivals)} (limit 80)"
        )
    finally:
        await close_http_client()
        await database.dispose()
        db.set_database(None)


def main() -> None:
    port = free_port()
    args = [
        str(BIN / "uvicorn"),
        "bench.outbound_provider:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    log(f"outbound: {MESSAGES} messages to {RECIPIENTS} WhatsApp contacts through the dispatcher")
    with _process(args, dict(os.environ), f"http://127.0.0.1:{port}") as provider:
        log(f"  fake provider alone (wrk -t1 -c20, same body): {provider_alone(provider.url):,.0f} req/s")
        for backend in os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(","):
            with fresh_store(backend) as store:
                asyncio.run(run_backend(store, provider.url))


if __name__ == "__main__":
    main()
