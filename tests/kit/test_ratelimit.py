"""kit.ratelimit: the per-key limiter behind 429 + Retry-After."""

from __future__ import annotations

from chatbotx.kit.ratelimit import KeyedLimiter


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
