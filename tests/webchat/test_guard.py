"""Abuse limits: requests and messages per client IP and inbox, 429 with Retry-After and a stable code."""

from __future__ import annotations

import time

import httpx
import pytest

from chatbotx.kit.errors import RateLimited
from chatbotx.webchat import guard
from chatbotx.webchat.guard import PublicLimiter
from tests.conftest import Tenant
from tests.webchat.conftest import Webchat, make_webchat
from tests.webchat.test_endpoints import conversation, say, visitor


def test_limiter_refuses_over_the_limit_per_key() -> None:
    limiter = PublicLimiter(3)
    for _ in range(3):
        limiter.check("1.2.3.4|a", "X")
    with pytest.raises(RateLimited) as refused:
        limiter.check("1.2.3.4|a", "X")
    assert refused.value.code == "X" and refused.value.status == 429
    assert refused.value.headers is not None and 1 <= int(refused.value.headers["Retry-After"]) <= 60
    limiter.check("1.2.3.4|b", "X")  # another inbox
    limiter.check("5.6.7.8|a", "X")  # another client


def test_idle_keys_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard, "MAX_KEYS", 10)
    limiter = PublicLimiter(5, period_ms=1000)
    for i in range(11):
        limiter.check(f"10.0.0.{i}|a", "X")
    assert limiter.limiter is not None
    buckets = limiter.limiter.factory.buckets
    for bucket in buckets.values():  # age them past the period
        for item in bucket.items:  # type: ignore[attr-defined]
            item.timestamp -= 5000
    limiter.check("10.0.1.1|a", "X")
    assert set(buckets) == {"10.0.1.1|a"}


def test_zero_disables() -> None:
    limiter = PublicLimiter(0)
    for _ in range(100):
        limiter.check("k", "X")


async def test_messages_per_minute(webchat: Webchat, public: httpx.AsyncClient) -> None:
    source = (await visitor(public, webchat))["source_id"]
    conv = await conversation(public, webchat, source)
    for i in range(20):
        assert (await say(public, webchat, source, conv["id"], f"m{i}")).status_code == 200
    refused = await say(public, webchat, source, conv["id"], "one too many")
    assert refused.status_code == 429
    assert refused.json()["code"] == "WEBCHAT_RATE_LIMITED"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["access-control-allow-origin"] == "*"  # the widget can read it
    # Reading still works (the request limit is separate and higher).
    assert (await public.get(f"{webchat.conversation(source, conv['id'])}/messages")).status_code == 200


async def test_requests_per_minute_per_inbox(tenant: Tenant, public: httpx.AsyncClient) -> None:
    busy = await make_webchat(tenant.client)
    quiet = await make_webchat(tenant.client)
    started = time.monotonic()
    statuses = [(await public.get(busy.base)).status_code for _ in range(61)]
    if time.monotonic() - started < 50:  # all inside one minute
        assert statuses[:60] == [200] * 60 and statuses[60] == 429
    assert (await public.get(quiet.base)).status_code == 200
