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


def test_the_last_period_weighs_in_as_the_window_slides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_000_000.0]  # seconds, at the start of a 10-second period
    monkeypatch.setattr(ratelimit, "time", types.SimpleNamespace(time=lambda: clock[0]))
    limits = SharedWindows(tmp_path / "limits", 10, 10_000)
    assert [limits.hit("k") for _ in range(10)] == [0] * 10
    assert limits.hit("k") > 0
    clock[0] += 15  # half-way through the next period: the sliding window still covers half of the last one
    assert [limits.hit("k") for _ in range(5)] == [0] * 5
    wait = limits.hit("k")
    assert 1 <= wait <= 10
    clock[0] += 20  # two periods after the last hits: nothing weighs any more
    assert [limits.hit("k") for _ in range(10)] == [0] * 10
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
