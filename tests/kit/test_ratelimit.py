"""kit.ratelimit: the per-key limiter behind 429 + Retry-After."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from chatbotx.kit import ratelimit
from chatbotx.kit.ratelimit import KeyedLimiter, SharedWindows
from chatbotx.settings import get_settings


def test_allows_the_limit_then_asks_to_wait() -> None:
    limiter = KeyedLimiter(3)
    assert [limiter.hit("token-a") for _ in range(3)] == [0, 0, 0]
    wait = limiter.hit("token-a")
    assert 1 <= wait <= 60


def test_keys_are_independent() -> None:
    limiter = KeyedLimiter(2)
    assert limiter.hit("a") == 0
    assert limiter.hit("a") == 0
    assert limiter.hit("a") > 0
    assert limiter.hit("b") == 0
    assert limiter.hit("b") == 0
    assert limiter.hit("b") > 0


def test_wait_is_bounded_by_the_period() -> None:
    limiter = KeyedLimiter(1, period_ms=10_000)
    assert limiter.hit("k") == 0
    assert 1 <= limiter.hit("k") <= 10
    # Refused hits do not extend the wait.
    assert 1 <= limiter.hit("k") <= 10


def test_processes_mapping_one_file_share_the_count(tmp_path: Path) -> None:
    """Two SharedWindows on one file stand for two worker processes: together they allow the limit once."""
    here = SharedWindows(tmp_path / "limits", 3, 60_000)
    there = SharedWindows(tmp_path / "limits", 3, 60_000)
    assert [here.hit("token-a"), there.hit("token-a"), here.hit("token-a")] == [0, 0, 0]
    assert 1 <= there.hit("token-a") <= 60
    assert 1 <= here.hit("token-a") <= 60
    assert there.hit("token-b") == 0  # keys are independent
    here.close()
    there.close()


def test_the_count_slides_and_never_allows_more_than_the_exact_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_000_000.0]  # seconds
    monkeypatch.setattr(ratelimit, "time", types.SimpleNamespace(time=lambda: clock[0]))
    limits = SharedWindows(tmp_path / "limits", 10, 10_000)
    assert [limits.hit("k") for _ in range(5)] == [0] * 5
    clock[0] += 5
    assert [limits.hit("k") for _ in range(5)] == [0] * 5
    assert 5 <= limits.hit("k") <= 6  # the first five leave the last 10 s in 5 s (and at most a bucket more)
    clock[0] += 4.9  # all ten are still within the last 10 s: the exact log allows nothing
    assert limits.hit("k") > 0
    clock[0] += 0.1 + limits.bucket_ms / 1000  # the first five have left (at most a bucket late)
    assert [limits.hit("k") for _ in range(5)] == [0] * 5
    assert limits.hit("k") > 0
    clock[0] += 20  # nothing left
    assert [limits.hit("k") for _ in range(10)] == [0] * 10
    limits.close()


def test_a_burst_at_the_end_of_a_minute_counts_whole_in_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(A count of two fixed minutes, the last weighted by the part still covered, let hits through here.)"""
    clock = [1_000_059.9]  # the last tenth of a second of a minute
    monkeypatch.setattr(ratelimit, "time", types.SimpleNamespace(time=lambda: clock[0]))
    limits = SharedWindows(tmp_path / "limits", 40, 60_000)
    assert [limits.hit("k") for _ in range(40)] == [0] * 40
    for later in (0.2, 30, 59):  # the next minute: the forty are still within the last 60 s
        clock[0] = 1_000_059.9 + later
        assert limits.hit("k") > 0, later
    limits.close()


def test_several_workers_count_in_the_data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATBOTX_WORKERS", "2")
    monkeypatch.setenv("CHATBOTX_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        first, second = KeyedLimiter(2), KeyedLimiter(2)  # as in two processes
        assert first.shared is not None
        assert [first.hit("t"), second.hit("t")] == [0, 0]
        assert second.hit("t") > 0
        assert list((tmp_path / "ratelimits").iterdir()) == [tmp_path / "ratelimits" / "2-per-60000ms"]
    finally:
        get_settings.cache_clear()


def test_one_process_counts_in_memory() -> None:
    assert KeyedLimiter(2).shared is None
