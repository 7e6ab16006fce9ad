"""Abuse limits of the public webchat API: requests and messages per client IP and inbox (429 + Retry-After).

Keys come from the public internet, so the buckets are bounded: past MAX_KEYS the idle ones are dropped.
The worker processes of one server share the counts (kit/ratelimit.py); separate servers each allow the limit.
"""

from __future__ import annotations

import time

from chatbotx.kit.errors import RateLimited
from chatbotx.kit.ratelimit import KeyedLimiter

MAX_KEYS = 50_000


class PublicLimiter:
    """A KeyedLimiter whose idle keys are forgotten once there are many."""

    def __init__(self, limit: int, period_ms: int = 60_000):
        self.limit = limit
        self.period_ms = period_ms
        self.limiter = KeyedLimiter(limit, period_ms) if limit > 0 else None

    def check(self, key: str, code: str) -> None:
        """Count one hit for `key`; 429 with `code` when over the limit."""
        if self.limiter is None:
            return
        buckets = self.limiter.factory.buckets
        if len(buckets) > MAX_KEYS:
            self._prune()
        wait = self.limiter.hit(key)
        if wait:
            error = RateLimited(wait)
            error.code = code
            raise error

    def _prune(self) -> None:
        now_ms = int(time.time() * 1000)
        buckets = self.limiter.factory.buckets if self.limiter else {}
        for key in list(buckets):
            items = getattr(buckets[key], "items", None)
            if not items or items[-1].timestamp < now_ms - self.period_ms:
                del buckets[key]


class Limits:
    """The webchat limits, built from the settings once per value."""

    def __init__(self) -> None:
        self._made: tuple[int, int] | None = None
        self.requests = PublicLimiter(0)
        self.messages = PublicLimiter(0)

    def configure(self, requests_per_minute: int, messages_per_minute: int) -> Limits:
        if self._made != (requests_per_minute, messages_per_minute):
            self._made = (requests_per_minute, messages_per_minute)
            self.requests = PublicLimiter(requests_per_minute)
            self.messages = PublicLimiter(messages_per_minute)
        return self


limits = Limits()
