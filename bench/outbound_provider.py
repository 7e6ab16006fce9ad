"""A minimal fake WhatsApp Cloud API for bench/outbound.py (its own process): answers every send with the real
success body and records when each arrived (GET /times returns and clears them)."""

from __future__ import annotations

import itertools
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ARRIVALS: list[float] = []
IDS = itertools.count(1)


async def send(request: Request) -> JSONResponse:
    ARRIVALS.append(time.time())
    body = await request.json()
    to = str(body.get("to", ""))
    return JSONResponse(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": f"wamid.BENCH{next(IDS):012d}"}],
        }
    )


async def times(request: Request) -> JSONResponse:
    taken = list(ARRIVALS)
    ARRIVALS.clear()
    return JSONResponse(taken)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/times", times),
        Route("/{version}/{phone_number_id}/messages", send, methods=["POST"]),
    ]
)
