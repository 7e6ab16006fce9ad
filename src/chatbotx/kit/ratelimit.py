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


# A slot: key hash (0: free), window number, hits in that window, hits in the window before.
SLOT = struct.Struct("<QqII")
SLOTS = 16_384  # 384 KiB a file; a key is looked for in PROBES slots from its hash's
PROBES = 16


class SharedWindows:
    """`limit` hits per `period_ms` for each key, counted by every process mapping the same file.

    A sliding window estimated from two fixed ones (this period's hits, and the last period's weighted by how
    much of it the sliding window still covers): one slot per key instead of a log of timestamps. The estimate
    takes the last period's hits as evenly spread over it: it is the exact log's count when they were, refuses
    a little early when they came early, and lets a little more through when they came late (at worst, hits
    bunched at the very end of a full period, up to twice the limit over the next period). Each hit
    takes an exclusive `flock` on the file for a few microseconds (the processes serving a data directory
    share a host). A key whose PROBES slots are all taken by others replaces the one idle longest, which then
    starts again from zero: with SLOTS keys active at once, the limit is approximate."""

    def __init__(self, path: Path, limit: int, period_ms: int):
        self.limit = limit
        self.period_ms = period_ms
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        size = SLOT.size * SLOTS
        with self._locked():
            if os.fstat(self.fd).st_size < size:
                os.ftruncate(self.fd, size)
        self.map = mmap.mmap(self.fd, size)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def _slot(self, key_hash: int, window: int) -> tuple[int, tuple[int, int, int, int]]:
        """The offset of the key's slot (its own, else a free or the stalest one) and what it holds."""
        others: list[tuple[bool, int, int]] = []  # (taken, window, offset): free first, then stalest
        for probe in range(PROBES):
            offset = ((key_hash + probe) % SLOTS) * SLOT.size
            slot: tuple[int, int, int, int] = SLOT.unpack_from(self.map, offset)
            if slot[0] == key_hash:
                return offset, slot
            others.append((slot[0] != 0, slot[1], offset))
        return min(others)[2], (key_hash, window, 0, 0)

    def hit(self, key: str) -> int:
        key_hash = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") or 1
        now = int(time.time() * 1000)
        window, into = divmod(now, self.period_ms)
        with self._locked():
            offset, (_, last, current, previous) = self._slot(key_hash, window)
            if last != window:  # a new period: the last one's hits weigh in only if it was the one before
                previous, current = (current if last == window - 1 else 0), 0
            remaining = 1 - into / self.period_ms
            allowed = previous * remaining + current < self.limit
            if allowed:
                current += 1
            SLOT.pack_into(self.map, offset, key_hash, window, current, previous)
        if allowed:
            return 0
        return self._wait_seconds(into, current, previous)

    def _wait_seconds(self, into: int, current: int, previous: int) -> int:
        """Seconds until the estimate drops below the limit without new hits (1 to a period)."""
        if current < self.limit and previous:
            # This period's hits fit: wait until the last period's weigh little enough.
            wait_ms = self.period_ms * (1 - (self.limit - current) / previous) - into
        else:
            # Wait for the next period, then until this one's hits (weighted) fit.
            wait_ms = self.period_ms - into + self.period_ms * (1 - self.limit / max(current, 1))
        return max(1, min(math.ceil(wait_ms / 1000), math.ceil(self.period_ms / 1000)))

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)
