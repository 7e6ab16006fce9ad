from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatbotx.automation.keywords import (
    KeywordRule,
    best_match,
    normalize,
    phrase_matches,
    rule_matches,
)

words = st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=8)  # word characters only
phrases = st.lists(words, min_size=1, max_size=4).map(" ".join)
texts = st.text(max_size=40)
spaces = st.sampled_from([" ", "  ", "\t", "\n ", " \u00a0"])
match_types = st.sampled_from(["is", "contains", "startsWith"])


def scramble_case(text: str, flips: list[bool]) -> str:
    """`text` with the case of some letters changed (where case folding says the change is only case)."""
    out = []
    for ch, flip in zip(text, flips + [False] * len(text), strict=False):
        changed = ch.upper() if flip else ch.lower()
        out.append(changed if changed.casefold() == ch.casefold() else ch)
    return "".join(out)


@given(phrases, st.lists(st.booleans()), spaces, spaces)
def test_is_ignores_case_and_surrounding_whitespace(
    phrase: str, flips: list[bool], lead: str, tail: str
) -> None:
    assert phrase_matches(lead + scramble_case(phrase, flips) + tail, phrase, "is")


@given(phrases, texts, texts)
def test_contains_finds_the_phrase_between_spaces(phrase: str, before: str, after: str) -> None:
    assert phrase_matches(f"{before} {phrase} {after}", phrase, "contains")


@given(phrases, texts)
def test_starts_with_finds_the_phrase_at_the_start(phrase: str, after: str) -> None:
    assert phrase_matches(f"{phrase} {after}", phrase, "startsWith")
    assert phrase_matches(phrase, phrase, "startsWith")


@given(texts, texts)
def test_is_implies_starts_with_implies_contains(text: str, phrase: str) -> None:
    if phrase_matches(text, phrase, "is"):
        assert phrase_matches(text, phrase, "startsWith")
    if phrase_matches(text, phrase, "startsWith"):
        assert phrase_matches(text, phrase, "contains")
    if phrase_matches(text, phrase, "contains"):
        assert normalize(phrase) in normalize(text)


@given(phrases, words, match_types)
def test_a_longer_word_is_not_a_match(phrase: str, suffix: str, match_type: str) -> None:
    # "hi" must not answer "his": matching is on whole words.
    assert not phrase_matches(phrase + suffix, phrase, match_type)
    assert not phrase_matches(suffix + phrase, phrase, match_type)


@given(texts, st.sampled_from(["", " ", "\t\n"]), match_types)
def test_an_empty_phrase_never_matches(text: str, phrase: str, match_type: str) -> None:
    assert not phrase_matches(text, phrase, match_type)


def test_examples() -> None:
    assert phrase_matches("Hello there", "hello", "startsWith")
    assert not phrase_matches("Say hello", "hello", "startsWith")
    assert phrase_matches("Say HELLO!", "hello", "contains")
    assert not phrase_matches("this", "hi", "contains")
    assert phrase_matches("what is the price?", "price?", "contains")
    assert phrase_matches("use #promo now", "#promo", "contains")
    assert phrase_matches("  PRICE   list ", "price list", "is")
    assert not phrase_matches("price", "price", "unknown")
    assert phrase_matches("Straße", "STRASSE", "is")
    assert not phrase_matches("İx", "İ", "contains")


rules = st.builds(
    KeywordRule,
    id=st.integers(1, 10**6),
    phrases=st.lists(st.sampled_from(["hi", "price", "help me", "stop"]), max_size=3).map(tuple),
    match_type=match_types,
    priority=st.integers(-5, 5),
    name=st.sampled_from(["a", "b", "c"]),
    inbox_id=st.sampled_from([None, 1, 2]),
)


@given(
    st.lists(rules, max_size=8),
    st.sampled_from(["hi", "Price please", "can you help me", "stop!", "nothing"]),
)
def test_best_match_is_a_highest_priority_match_on_the_inbox(rule_list: list[KeywordRule], text: str) -> None:
    chosen = best_match(text, rule_list, inbox_id=1)
    eligible = [r for r in rule_list if r.inbox_id in (None, 1) and rule_matches(r, text)]
    if not eligible:
        assert chosen is None
        return
    assert chosen is not None and chosen in eligible
    assert chosen.priority == max(r.priority for r in eligible)
    assert (chosen.name, chosen.id) == min((r.name, r.id) for r in eligible if r.priority == chosen.priority)


@given(st.lists(rules, max_size=8), texts)
def test_another_inboxs_rule_never_answers(rule_list: list[KeywordRule], text: str) -> None:
    chosen = best_match(text, rule_list, inbox_id=1)
    assert chosen is None or chosen.inbox_id in (None, 1)
    assert best_match(text, [r for r in rule_list if r.inbox_id == 2], inbox_id=None) is None
