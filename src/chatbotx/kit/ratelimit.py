"""Per-key rate limiting on pyrate-limiter: one in-memory bucket per key (per API token, per inbox)."""

from __future__ import annotations

import math
import time

from pyrate_limiter import AbstractBucket, BucketFactory, Duration, InMemoryBucket, Limiter, Rate, RateItem


class _PerKeyFactory(BucketFactory):
    def __init__(self, rates: list[Rate]):
        self.rates = rates
        self.buckets: dict[str, AbstractBucket] = {}

    def wrap_item(self, name: str, weight: int = 1) -> RateItem:
        return RateItem(name, int(time.time() * 1000), weight=weight)

    def get(self, item: RateItem) -> AbstractBucket:
        bucket = self.buckets.get(item.name)
        if bucket is None:
            bucket = self.buckets[item.name] = self.create(InMemoryBucket, self.rates)
        return bucket


class KeyedLimiter:
    """`limit` events per `period_ms` for each key; `hit` says how long to wait (0 when allowed)."""

    def __init__(self, limit: int, period_ms: int = int(Duration.MINUTE)):
        self.limit = limit
        self.period_ms = int(period_ms)
        self.factory = _PerKeyFactory([Rate(limit, self.period_ms)])
        self.limiter = Limiter(self.factory)

    def hit(self, key: str) -> int:
        if self.limiter.try_acquire(key, blocking=False):
            return 0
        bucket = self.factory.buckets.get(key)
        items = getattr(bucket, "items", None)
        if items and len(items) >= self.limit:
            oldest = items[-self.limit].timestamp
            wait_ms = oldest + self.period_ms - int(time.time() * 1000)
            return max(1, math.ceil(wait_ms / 1000))
        return max(1, math.ceil(self.period_ms / 1000 / max(self.limit, 1)))
