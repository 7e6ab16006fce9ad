"""Per-inbox and per-recipient send limits from an adapter's RatePlan: sliding-window logs on pyrate-limiter.

In memory by default; in Redis (pyrate-limiter's RedisBucket, one sorted set per key) when
CHATBOTX_REDIS_URL is set, so several dispatchers share one inbox's limit. A sliding window admits at most N
sends in any window, so the peak in any one second never exceeds the limit. The window is a little longer
than a second (WINDOW_MS) so that jitter between our clock and the provider's receipt cannot push N+1 into
its second.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from dataclasses import dataclass
from typing import Any

from pyrate_limiter import AbstractBucket, InMemoryBucket, Rate, RateItem
from pyrate_limiter.buckets.redis_bucket import LuaScript, RedisBucket

from chatbotx.channels.base import RatePlan

WINDOW_MS = 1050  # one second + a safety margin for network jitter
MINUTE_MS = 60_000
REDIS_PREFIX = "chatbotx:ratelimit:"


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


@dataclass
class _Slot:
    bucket: AbstractBucket
    rates: list[Rate]
    puts: int = 0


class OutboundLimiter:
    """`turn(...)` waits until one more send to (inbox, recipient) fits under both limits."""

    def __init__(self, redis: Any | None = None):
        self.redis = redis  # a redis.asyncio.Redis, or None for in-memory buckets
        self.slots: dict[str, _Slot] = {}
        self.paused: dict[str, float] = {}  # inbox key -> monotonic time until which the provider said stop
        self._script_hash: str | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str | None) -> OutboundLimiter:
        if not url:
            return cls()
        import redis.asyncio as aioredis

        return cls(aioredis.from_url(url))

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()

    async def _slot(self, key: str, rates: list[Rate]) -> _Slot:
        slot = self.slots.get(key)
        if slot is not None and [(r.limit, r.interval) for r in slot.rates] == [
            (r.limit, r.interval) for r in rates
        ]:
            return slot
        bucket: AbstractBucket
        if self.redis is None:
            bucket = InMemoryBucket(rates)
        else:
            async with self._lock:
                if self._script_hash is None:
                    self._script_hash = await self.redis.script_load(LuaScript.PUT_ITEM)
            bucket = RedisBucket(rates, self.redis, REDIS_PREFIX + key, self._script_hash)
        slot = self.slots[key] = _Slot(bucket, rates)
        return slot

    async def _put(self, key: str, rates: list[Rate]) -> float:
        """0 when one send was admitted under `rates`, else the seconds until one may be."""
        if not rates:
            return 0.0
        slot = await self._slot(key, rates)
        now = _now_ms()
        pending = slot.bucket.put_decision(RateItem(key, now))
        decision = await pending if inspect.isawaitable(pending) else pending
        slot.puts += 1
        if slot.puts % 256 == 0:
            await self._leak(key, slot, now)
        if decision.allowed:
            return 0.0
        wait_ms = decision.retry_after_ms
        if wait_ms is None or wait_ms < 0:
            wait_ms = max(r.interval for r in rates)
        return max(wait_ms, 1) / 1000

    async def _leak(self, key: str, slot: _Slot, now: int) -> None:
        result = slot.bucket.leak(now)
        if asyncio.iscoroutine(result):
            await result
        if self.redis is not None:  # idle keys disappear on their own
            await self.redis.pexpire(REDIS_PREFIX + key, max(r.interval for r in slot.rates) * 2)
        elif slot.bucket.count() == 0:
            self.slots.pop(key, None)

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

    async def turn(self, inbox_key: str, recipient: str, plan: RatePlan, max_wait: float) -> float:
        """Wait (up to `max_wait` at a time) until a send fits; 0 once admitted, else the seconds still to
        wait (the caller defers the message rather than hold it). A recipient slot taken before the inbox
        refused stays taken: that errs on the slow side, never over the limit."""
        recipient_key = f"{inbox_key}:{recipient}"
        have_recipient = False
        while True:
            paused = self.paused_for(inbox_key)
            if paused:
                if paused > max_wait:
                    return paused
                await asyncio.sleep(paused)
                continue
            if not have_recipient:
                wait = await self._put(recipient_key, recipient_rates(plan))
                if wait:
                    if wait > max_wait:
                        return wait
                    await asyncio.sleep(wait)
                    continue
                have_recipient = True
            wait = await self._put(inbox_key, inbox_rates(plan))
            if not wait:
                return 0.0
            if wait > max_wait:
                return wait
            await asyncio.sleep(wait)
