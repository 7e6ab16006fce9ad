"""kit.ids: time-ordered 64-bit ids and parsing ids given by callers."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbotx.kit.ids import new_id, parse_id


def test_new_ids_increase_and_are_unique() -> None:
    ids = [new_id() for _ in range(20_000)]  # more than 4096 per ms exercises the sequence rollover
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(0 < i < 2**63 for i in ids)


def test_new_ids_are_unique_across_threads() -> None:
    results: list[list[int]] = [[] for _ in range(4)]

    def work(out: list[int]) -> None:
        out.extend(new_id() for _ in range(5_000))

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for out in results for i in out]
    assert len(set(every)) == len(every)
    for out in results:
        assert out == sorted(out)


def test_parse_id_accepts_positive_63_bit_integers() -> None:
    assert parse_id("612345678901234567") == 612345678901234567
    assert parse_id(" 42 ") == 42
    assert parse_id(7) == 7
    assert parse_id(str(2**63 - 1)) == 2**63 - 1


def test_parse_id_refuses_everything_else() -> None:
    for bad in ["", "0", "-1", "abc", "1.5", "1e3", "12345678901234567890", str(2**63), 0, -5, 2**63]:
        assert parse_id(bad) is None, bad


@pytest.mark.parametrize("bad", ["²", "1²", "١٢٣", "１２"])
def test_parse_id_refuses_non_ascii_digits(bad: str) -> None:
    assert parse_id(bad) is None


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_parse_id_round_trips_str(value: int) -> None:
    assert parse_id(str(value)) == value
    assert parse_id(value) == value


@given(st.text(max_size=30))
def test_parse_id_never_raises(text: str) -> None:
    result = parse_id(text)
    assert result is None or 0 < result < 2**63
