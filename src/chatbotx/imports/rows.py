"""Checking one CSV record into a contact row, fully, before anything is written (pure, no database)."""

from __future__ import annotations

import dataclasses
import functools
import re
import zoneinfo
from collections.abc import Callable, Sequence
from typing import TypeVar

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberFormat, phonenumberutil

from chatbotx.imports.mapping import ColumnPlan
from chatbotx.kit.errors import ApiError
from chatbotx.kit.fieldtypes import coerce_value
from chatbotx.kit.normalize import normalize_email, normalize_phone

# Longest text each contact column holds (the model's String lengths).
TEXT_LIMITS = {
    "first_name": 200,
    "last_name": 200,
    "full_name": 401,
    "ref": 200,
    "country": 100,
    "state": 100,
    "city": 100,
    "locale": 32,
    "source": 64,
}
TEXT_TARGETS = {
    "firstName": "first_name",
    "lastName": "last_name",
    "fullName": "full_name",
    "ref": "ref",
    "country": "country",
    "state": "state",
    "city": "city",
    "source": "source",
}
GENDERS = {"male": "male", "m": "male", "man": "male", "female": "female", "f": "female", "woman": "female"}
GENDERS |= {"other": "other", "o": "other"}
TAG_MAX = 100
SOURCE_ID_MAX = 255
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*$")
_TAG_SPLIT = re.compile(r"[;,]")
_T = TypeVar("_T")

# Plain ASCII addresses take a fast path that gives exactly what email-validator gives (checked by a test);
# anything else (IDNA, quoted, special-use domains, odd lengths) goes to email-validator itself.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"(?![A-Za-z0-9-]{2}--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SIMPLE_EMAIL = re.compile(rf"^({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})$")
_SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion", "test")


# Plain digit strings take a fast path through phonenumbers' own steps for a number with a country code,
# skipping its free-text extraction; anything else, and every refusal, goes to normalize_phone (the
# equivalence is checked by a test).
_PHONE_SEPARATORS = str.maketrans("", "", " -.()")
_PLAIN_PHONE = re.compile(r"(\+?)([0-9]{3,17})")
_NOT_POSSIBLE = (
    phonenumberutil.ValidationResult.TOO_SHORT,
    phonenumberutil.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    phonenumberutil.ValidationResult.INVALID_LENGTH,
)


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    row: int
    column: str | None
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclasses.dataclass(slots=True)
class ContactRow:
    """A checked record: contact column values (only the non-empty cells), tags and custom field values."""

    line: int
    values: dict[str, str]
    tags: list[str]
    fields: dict[int, str]
    names_given: bool = False
    source_id: str | None = None

    @property
    def email(self) -> str | None:
        return self.values.get("email")

    @property
    def phone(self) -> str | None:
        return self.values.get("phone_number")


def fast_email(value: str) -> str:
    """normalize_email, without its cost for the plain addresses that make up nearly every import."""
    text = value.strip()
    match = _SIMPLE_EMAIL.match(text)
    if match and len(match.group(1)) <= 64 and len(text) <= 254:
        domain = match.group(2).lower()
        if domain.rsplit(".", 1)[1] not in _SPECIAL_USE:
            return f"{match.group(1)}@{domain}"
    return normalize_email(text)


@dataclasses.dataclass(frozen=True, slots=True)
class _CallingCode:
    """What normalizing a number needs to know of its country calling code (metadata of its main region)."""

    metadata: PhoneMetadata | None
    national_prefix: re.Pattern[str] | None  # national_prefix_for_parsing: a match may be stripped


@functools.cache  # one entry per calling code (about 250)
def _calling_code(code: int) -> _CallingCode:
    region = phonenumberutil.region_code_for_country_code(code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    prefix = metadata.national_prefix_for_parsing if metadata is not None else None
    return _CallingCode(metadata, re.compile(prefix) if prefix else None)


@functools.cache  # at most 1,000 entries: the first three digits decide
def _split_calling_code(first_three: str) -> int:
    """How many of these leading digits are the calling code (0: none)."""
    code, rest = phonenumberutil._extract_country_code(first_three)
    return len(first_three) - len(rest) if code else 0


@functools.cache  # one entry per calling code and length
def _possible_length(code: int, length: int) -> bool:
    """phonenumbers.is_possible_number for a national number of `length` digits not starting with 0 (it
    depends on the calling code's metadata and the length only)."""
    return phonenumbers.is_possible_number(PhoneNumber(country_code=code, national_number=int("1" * length)))


def fast_phone(value: str) -> str:
    """normalize_phone, at a fraction of its cost for numbers written as digits (and separators).

    The steps are phonenumbers' own for a number with a country code (its free-text extraction skipped),
    with what depends only on the calling code (metadata, national prefix pattern) or on the calling code
    and the length (whether the number is possible) computed once per process.
    """
    plain = _PLAIN_PHONE.fullmatch(value.strip().translate(_PHONE_SEPARATORS))
    if plain is None:
        return normalize_phone(value)
    digits = plain.group(2) if plain.group(1) else plain.group(2).lstrip("0")
    width = _split_calling_code(digits[:3]) if len(digits) >= 3 else 0
    national = digits[width:]
    if width == 0 or len(national) < 2:
        return normalize_phone(value)
    code = int(digits[:width])
    calling = _calling_code(code)
    metadata = calling.metadata
    if (
        metadata is not None
        and calling.national_prefix is not None
        and calling.national_prefix.match(national)
    ):
        _, stripped, _ = phonenumberutil._maybe_strip_national_prefix_carrier_code(national, metadata)
        if phonenumberutil._test_number_length(stripped, metadata) not in _NOT_POSSIBLE:
            national = stripped
    if not 2 <= len(national) <= 17:
        return normalize_phone(value)
    if national[0] != "0":
        # E.164 is "+", the calling code and the national significant number (here the digits themselves).
        return f"+{code}{national}" if _possible_length(code, len(national)) else normalize_phone(value)
    number = PhoneNumber(country_code=code, national_number=int(national))
    phonenumberutil._set_italian_leading_zeros_for_phone_number(national, number)
    if not phonenumbers.is_possible_number(number):
        return normalize_phone(value)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _reason(exc: ApiError) -> str:
    errors = (exc.data or {}).get("errors") or []
    return str(errors[0]["message"]) if errors else exc.message


def split_tags(cell: str) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in _TAG_SPLIT.split(cell) if t.strip()))


def _text(column: str, cell: str) -> str:
    limit = TEXT_LIMITS[column]
    if len(cell) > limit:
        raise ValueError(f"must be at most {limit} characters")
    return cell


def _gender(cell: str) -> str:
    gender = GENDERS.get(cell.lower())
    if gender is None:
        raise ValueError("must be male, female or other")
    return gender


def _locale(cell: str) -> str:
    if not _LOCALE.match(cell):
        raise ValueError("must be a locale like en or pt_BR")
    return _text("locale", cell)


def _timezone(cell: str) -> str:
    if cell not in _timezones():
        raise ValueError("must be an IANA time zone like Europe/Paris")
    return cell


def _tags(cell: str) -> tuple[str, ...]:
    tags = split_tags(cell)
    too_long = next((t for t in tags if len(t) > TAG_MAX), None)
    if too_long is not None:
        raise ValueError(f"tag {too_long[:40]!r}... is longer than {TAG_MAX} characters")
    return tuple(tags)


def _source_id(cell: str) -> str:
    if len(cell) > SOURCE_ID_MAX:
        raise ValueError(f"must be at most {SOURCE_ID_MAX} characters")
    return cell


# Values that repeat across a file (genders, tag lists, custom field values) are checked once per file.
# At most MEMO_SIZE cells of at most MEMO_CELL characters a column (longer ones are checked each time).
MEMO_SIZE = 4096
MEMO_CELL = 256
Apply = Callable[[ContactRow, str], None]


def _memo(convert: Callable[[str], _T]) -> Callable[[str], _T]:
    cached = functools.lru_cache(maxsize=MEMO_SIZE)(convert)

    def check(cell: str) -> _T:
        return cached(cell) if len(cell) <= MEMO_CELL else convert(cell)

    return check


def _column_step(plan: ColumnPlan) -> Apply:
    """How one column's non-empty cell goes into a row; raises ValueError or ApiError to refuse it."""
    target = plan.target
    field = plan.field
    if field is not None:
        field_id, field_type, header = field.id, field.type, plan.header
        coerce = _memo(lambda cell: coerce_value(field_type, cell, field=header))

        def apply_field(row: ContactRow, cell: str) -> None:
            stored = coerce(cell)
            if stored is not None:
                row.fields[field_id] = stored

        return apply_field
    if target in TEXT_TARGETS:
        column = TEXT_TARGETS[target]
        limit = TEXT_LIMITS[column]
        names = column in ("first_name", "last_name", "full_name")

        def apply_text(row: ContactRow, cell: str) -> None:
            if column == "full_name":
                cell = " ".join(cell.split())
            if len(cell) > limit:
                raise ValueError(f"must be at most {limit} characters")
            row.values[column] = cell
            if names:
                row.names_given = True

        return apply_text
    if target == "tags":
        tags_of = _memo(_tags)

        def apply_tags(row: ContactRow, cell: str) -> None:
            tags = tags_of(cell)
            if row.tags:
                row.tags.extend(t for t in tags if t not in row.tags)
            else:
                row.tags.extend(tags)

        return apply_tags
    if target == "sourceId":

        def apply_source(row: ContactRow, cell: str) -> None:
            row.source_id = _source_id(cell)

        return apply_source
    column, convert = {
        "email": ("email", fast_email),
        "phoneNumber": ("phone_number", fast_phone),
        "gender": ("gender", _memo(_gender)),
        "locale": ("locale", _memo(_locale)),
        "timezone": ("timezone", _memo(_timezone)),
    }[target]

    def apply_value(row: ContactRow, cell: str) -> None:
        row.values[column] = convert(cell)

    return apply_value


class RecordChecker:
    """Checks the records of one file against its column plans (built once per job, not per record)."""

    def __init__(self, plans: Sequence[ColumnPlan]) -> None:
        self.steps = [(plan.index, plan.header, _column_step(plan)) for plan in plans]

    def __call__(self, line: int, record: Sequence[str]) -> ContactRow | list[Failure]:
        """The contact row of `record`, or every reason it cannot be imported (then nothing of it is
        written)."""
        row = ContactRow(line, {}, [], {})
        failures: list[Failure] = []
        filled = False
        width = len(record)
        for index, header, apply in self.steps:
            if index >= width:
                continue
            cell = record[index].strip()
            if not cell:
                continue
            filled = True
            try:
                apply(row, cell)
            except ApiError as exc:
                failures.append(Failure(line, header, _reason(exc)))
            except ValueError as exc:
                failures.append(Failure(line, header, str(exc)))
        if failures:
            return failures
        if not filled:
            return [Failure(line, None, "the row has no value in any imported column")]
        split_full_name(row)
        return row


def split_full_name(row: ContactRow) -> None:
    """A full name alone fills first name (its first word) and last name (the rest)."""
    full = row.values.get("full_name")
    if full and "first_name" not in row.values and "last_name" not in row.values:
        first, _, last = full.partition(" ")
        row.values["first_name"] = first[: TEXT_LIMITS["first_name"]]
        if last:
            row.values["last_name"] = last[: TEXT_LIMITS["last_name"]]


def check_record(line: int, record: Sequence[str], plans: Sequence[ColumnPlan]) -> ContactRow | list[Failure]:
    """The contact row of `record`, or every reason it cannot be imported (then nothing of it is written)."""
    return RecordChecker(plans)(line, record)
