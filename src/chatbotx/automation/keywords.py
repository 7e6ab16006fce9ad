"""Keyword matching: which keyword rule (if any) answers a piece of text. Pure, no database.

Rules match case-insensitively with whitespace collapsed, on whole words: `is` the whole text,
`startsWith` the text's first words, `contains` any run of whole words. The highest priority wins;
ties go by name, then id (the order `GET /api/v1/keywords` lists them in).
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Literal

MatchType = Literal["is", "contains", "startsWith"]
MATCH_TYPES: tuple[str, ...] = ("is", "contains", "startsWith")


@dataclasses.dataclass(frozen=True, slots=True)
class KeywordRule:
    id: int
    phrases: tuple[str, ...]
    match_type: str = "is"
    priority: int = 0
    name: str = ""
    inbox_id: int | None = None


def normalize(text: str) -> str:
    """Case-folded, with runs of whitespace made single spaces and the ends trimmed."""
    return " ".join(text.casefold().split())


def _is_word_char(ch: str) -> bool:
    # Combining marks count as part of a word: case folding can end a letter with one ("İ" -> "i̇").
    return ch.isalnum() or ch == "_" or unicodedata.category(ch).startswith("M")


def _bounded_at(text: str, phrase: str, start: int) -> bool:
    """Whether the occurrence of `phrase` at `start` stands as whole words in `text`."""
    end = start + len(phrase)
    if _is_word_char(phrase[0]) and start > 0 and _is_word_char(text[start - 1]):
        return False
    return not (_is_word_char(phrase[-1]) and end < len(text) and _is_word_char(text[end]))


def phrase_matches(text: str, phrase: str, match_type: str) -> bool:
    """Whether `phrase` matches `text` under `match_type` (both are normalized here).

    A word boundary is only asked for where the phrase itself starts or ends with a word character,
    so "hi" does not match "this" while "?" or "#promo" still match where they stand.
    """
    text, phrase = normalize(text), normalize(phrase)
    if not phrase:
        return False
    if match_type == "is":
        return text == phrase
    if match_type == "startsWith":
        return text.startswith(phrase) and _bounded_at(text, phrase, 0)
    if match_type == "contains":
        start = text.find(phrase)
        while start != -1:
            if _bounded_at(text, phrase, start):
                return True
            start = text.find(phrase, start + 1)
    return False


def rule_matches(rule: KeywordRule, text: str) -> bool:
    return any(phrase_matches(text, phrase, rule.match_type) for phrase in rule.phrases)


def check_order(rules: Iterable[KeywordRule]) -> list[KeywordRule]:
    return sorted(rules, key=lambda r: (-r.priority, r.name, r.id))


def best_match(text: str, rules: Sequence[KeywordRule], inbox_id: int | None = None) -> KeywordRule | None:
    """The rule that answers `text` on `inbox_id`: rules tied to another inbox are skipped."""
    for rule in check_order(rules):
        if rule.inbox_id is not None and rule.inbox_id != inbox_id:
            continue
        if rule_matches(rule, text):
            return rule
    return None
