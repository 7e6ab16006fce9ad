"""A minimal fake WhatsApp Cloud API for bench/outbound.py (its own process): answers every send with the real
success body and records when each arrived (GET /times returns and clears them).

A bare ASGI callable (no framework, no routing table): the benchmark measures the dispatcher, so the fake must
cost as little as possible per request. `python -m bench outbound` measures it alone first (wrk posting the
same body), beside the raw httpx baseline and the dispatcher.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import orjson

ARRIVALS: list[float] = []
IDS = itertools.count(1)
JSON = [(b"content-type", b"application/json")]


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": JSON})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":  # nothing to set up or tear down
        while True:
            event = (await receive())["type"]
            await send({"type": f"{event}.complete"})
            if event == "lifespan.shutdown":
                return
    path: str = scope["path"]
    if scope["method"] == "POST" and path.endswith("/messages"):  # /{version}/{phone_number_id}/messages
        ARRIVALS.append(time.time())
        to = str(orjson.loads(await _body(receive)).get("to", ""))
        answer = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": f"wamid.BENCH{next(IDS):012d}"}],
        }
        await _answer(send, 200, orjson.dumps(answer))
    elif path == "/times":
        taken = list(ARRIVALS)
        ARRIVALS.clear()
        await _answer(send, 200, orjson.dumps(taken))
    elif path == "/healthz":
        await _answer(send, 200, b'{"status":"ok"}')
    else:
        await _answer(send, 404, b'{"error":"not found"}')
