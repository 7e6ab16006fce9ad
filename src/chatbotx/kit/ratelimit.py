"""Per-key rate limiting (per API token, per inbox): on pyrate-limiter, one in-memory bucket per key; with
several worker processes (CHATBOTX_WORKERS > 1) a count shared by them in a memory-mapped file
(`SharedWindows`)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import math
import mmap
import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path

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
    """`limit` events per `period_ms` for each key; `hit` says how long to wait (0 when allowed).

    In one process: an exact sliding log per key. With several worker processes of one server (the settings'
    `workers`): the count they share (`SharedWindows`), else each would allow the whole limit."""

    def __init__(self, limit: int, period_ms: int = int(Duration.MINUTE)):
        self.limit = limit
        self.period_ms = int(period_ms)
        self.factory = _PerKeyFactory([Rate(limit, self.period_ms)])
        self.limiter = Limiter(self.factory)
        self.shared = shared_windows(limit, self.period_ms)

    def hit(self, key: str) -> int:
        if self.shared is not None:
            return self.shared.hit(key)
        if self.limiter.try_acquire(key, blocking=False):
            return 0
        bucket = self.factory.buckets.get(key)
        items = getattr(bucket, "items", None)
        if items and len(items) >= self.limit:
            oldest = items[-self.limit].timestamp
            wait_ms = oldest + self.period_ms - int(time.time() * 1000)
            return max(1, math.ceil(wait_ms / 1000))
        return max(1, math.ceil(self.period_ms / 1000 / max(self.limit, 1)))


def shared_windows(limit: int, period_ms: int) -> SharedWindows | None:
    """The count shared by this server's worker processes (None with one process): a file in the data
    directory, one for each (limit, period), which all of them map."""
    from chatbotx.settings import get_settings

    settings = get_settings()
    if settings.workers <= 1:
        return None
    directory = settings.data_dir / "ratelimits"
    directory.mkdir(parents=True, exist_ok=True)
    return SharedWindows(directory / f"{limit}-per-{period_ms}ms", limit, period_ms)


# A period is counted in BUCKETS buckets of hits (plus the one being filled): a slot holds the key's hash (0:
# free), the number of its newest bucket, and the ring of counts.
BUCKETS = 12
SLOT = struct.Struct(f"<Qq{BUCKETS + 1}I")
SLOTS = 16_384  # 1.1 MB a file; a key is looked for in PROBES slots from its hash's
PROBES = 16


class SharedWindows:
    """`limit` hits per `period_ms` for each key, counted by every process mapping the same file.

    The hits of a key are counted in buckets of a twelfth of the period (rounded up), and a hit is allowed
    when the buckets that overlap the last period hold fewer than `limit`. They hold every hit of the exact
    sliding log and, at most, those of the oldest bucket's part before the period: never more than the log
    allows, and frees a hit at most a twelfth of a period late. One slot per key instead of a log of
    timestamps. Each hit takes an exclusive `flock` on the file for a few microseconds (the processes serving
    a data directory share a host). A key whose PROBES slots are all taken by others replaces the one idle
    longest, which then starts again from zero: with SLOTS keys active at once, the limit is approximate."""

    def __init__(self, path: Path, limit: int, period_ms: int):
        self.limit = limit
        self.period_ms = period_ms
        self.bucket_ms = -(-period_ms // BUCKETS)  # BUCKETS of them cover the period
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        size = SLOT.size * SLOTS
        with self._locked():
            if os.fstat(self.fd).st_size != size:  # new, or left by a version with another slot layout
                os.ftruncate(self.fd, 0)
                os.ftruncate(self.fd, size)
        self.map = mmap.mmap(self.fd, size)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def _slot(self, key_hash: int) -> tuple[int, int, list[int]]:
        """The offset of the key's slot (its own, else a free or the stalest one), its newest bucket's number
        and its counts (empty for a new key)."""
        others: list[tuple[bool, int, int]] = []  # (taken, newest bucket, offset): free first, then stalest
        for probe in range(PROBES):
            offset = ((key_hash + probe) % SLOTS) * SLOT.size
            slot = SLOT.unpack_from(self.map, offset)
            if slot[0] == key_hash:
                return offset, slot[1], list(slot[2:])
            others.append((slot[0] != 0, slot[1], offset))
        return min(others)[2], 0, [0] * (BUCKETS + 1)

    def hit(self, key: str) -> int:
        key_hash = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") or 1
        now = int(time.time() * 1000)
        bucket = now // self.bucket_ms
        with self._locked():
            offset, newest, counts = self._slot(key_hash)
            for gone in range(max(newest + 1, bucket - BUCKETS), bucket + 1):  # buckets left behind
                counts[gone % (BUCKETS + 1)] = 0
            allowed = sum(counts) < self.limit
            if allowed:
                counts[bucket % (BUCKETS + 1)] += 1
            SLOT.pack_into(self.map, offset, key_hash, bucket, *counts)
        if allowed:
            return 0
        return self._wait_seconds(now, bucket, counts)

    def _wait_seconds(self, now: int, bucket: int, counts: list[int]) -> int:
        """Seconds until enough of the oldest buckets have left the count for one more hit (1 to a period)."""
        excess = sum(counts) - self.limit + 1
        for older in range(bucket - BUCKETS, bucket + 1):
            excess -= counts[older % (BUCKETS + 1)]
            if excess <= 0:
                # A bucket leaves the count when the one BUCKETS after it begins.
                wait_ms = (older + BUCKETS + 1) * self.bucket_ms - now
                break
        else:  # (a limit of 0 never frees)
            wait_ms = self.period_ms
        return max(1, min(math.ceil(wait_ms / 1000), math.ceil(self.period_ms / 1000)))

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)
