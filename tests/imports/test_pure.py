"""The pure parts of an import: reading the CSV, planning columns, checking rows (no server, no database)."""

from __future__ import annotations

from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneMetadata, PhoneNumberFormat, PhoneNumberType

from chatbotx.imports.csvfile import (
    CsvError,
    count_records,
    detect_format,
    iter_records,
    read_header,
    sniff_delimiter,
)
from chatbotx.imports.mapping import ColumnPlan, FieldDef, plan_columns, plan_from_headers, squash
from chatbotx.imports.rows import (
    ContactRow,
    Failure,
    RecordChecker,
    check_record,
    fast_email,
    fast_phone,
    split_tags,
)
from chatbotx.kit.errors import ApiError, InvalidData
from chatbotx.kit.normalize import normalize_email, normalize_phone

FIELDS = {"Plan": FieldDef(1, "Plan", "shortText"), "seats": FieldDef(2, "seats", "number")}


def write(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("content", "encoding", "delimiter"),
    [
        (b"a,b\n1,2\n", "utf-8", ","),
        (b"\xef\xbb\xbfa;b\n1;2\n", "utf-8-sig", ";"),
        ("a\tb\nZoë\t2\n".encode("latin-1"), "latin-1", "\t"),
        ("a,b\nÅ,2\n".encode("utf-16"), "utf-16", ","),
        (b"\n\n  \nname\nx\n", "utf-8", ","),
    ],
)
def test_format_detection(tmp_path: Path, content: bytes, encoding: str, delimiter: str) -> None:
    fmt = detect_format(write(tmp_path, content))
    assert (fmt.encoding, fmt.delimiter) == (encoding, delimiter)


def test_records_carry_their_starting_line(tmp_path: Path) -> None:
    path = write(tmp_path, b'h1,h2\n\na,"multi\nline"\n , \nb,c\n')
    fmt = detect_format(path)
    assert read_header(path, fmt) == ["h1", "h2"]
    assert list(iter_records(path, fmt)) == [(3, ["a", "multi\nline"]), (6, ["b", "c"])]
    assert count_records(path, fmt) == 2


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(CsvError):
        detect_format(write(tmp_path, b"\n \n"))


def test_sniffing_prefers_the_commonest_delimiter() -> None:
    assert sniff_delimiter("a;b;c,d") == ";"
    assert sniff_delimiter("single") == ","


def test_header_recognition() -> None:
    header = ["First Name", "last_name", "E-mail", "Phone", "phone", "Plan", "customField:seats", "Unknown"]
    plans = plan_from_headers(header, FIELDS)
    assert [(p.index, p.target) for p in plans] == [
        (0, "firstName"),
        (1, "lastName"),
        (2, "email"),
        (3, "phoneNumber"),  # the second phone column is ignored: the first wins
        (5, "customField:Plan"),
        (6, "customField:seats"),
    ]
    assert squash("E-Mail Address") == "emailaddress"


def test_mapping_is_case_insensitive_on_columns_and_targets() -> None:
    plans = plan_columns(["Mail", "Cost Plan"], {"mail": "EMAIL", "cost plan": "customfield:plan"}, FIELDS)
    assert [(p.index, p.target, p.field) for p in plans] == [
        (0, "email", None),
        (1, "customField:Plan", FIELDS["Plan"]),
    ]


@pytest.mark.parametrize(
    "mapping",
    [
        {"x": "email"},
        {"Mail": "nope"},
        {"Mail": "email", "Other": "email"},
        {"Mail": None},
        {"Mail": "customField:x"},
    ],
)
def test_bad_mappings(mapping: dict[str, str | None]) -> None:
    with pytest.raises(InvalidData):
        plan_columns(["Mail", "Other"], mapping, FIELDS)


PLANS = [
    ColumnPlan(0, "email", "email"),
    ColumnPlan(1, "phone", "phoneNumber"),
    ColumnPlan(2, "name", "fullName"),
    ColumnPlan(3, "tags", "tags"),
    ColumnPlan(4, "seats", "customField:seats", FIELDS["seats"]),
    ColumnPlan(5, "gender", "gender"),
    ColumnPlan(6, "tz", "timezone"),
]


def test_a_good_row() -> None:
    row = check_record(
        2, ["A@Example.COM", "+44 20 7946 0958", " Jo  Ann Lee ", "a; b,a", "1.50", "M", "UTC"], PLANS
    )
    assert isinstance(row, ContactRow)
    assert row.values == {
        "email": "A@example.com",
        "phone_number": "+442079460958",
        "full_name": "Jo Ann Lee",
        "first_name": "Jo",
        "last_name": "Ann Lee",
        "gender": "male",
        "timezone": "UTC",
    }
    assert row.tags == ["a", "b"] and row.fields == {2: "1.5"}


def test_every_bad_cell_is_reported() -> None:
    failures = check_record(7, ["x", "12", "", "t" * 101, "many", "robot", "Mars/Base"], PLANS)
    assert isinstance(failures, list)
    assert [f.column for f in failures] == ["email", "phone", "tags", "seats", "gender", "tz"]
    assert all(isinstance(f, Failure) and f.row == 7 and f.reason for f in failures)


def test_short_records_and_empty_rows() -> None:
    assert check_record(3, ["a@example.com"], PLANS).values == {"email": "a@example.com"}  # type: ignore[union-attr]
    assert check_record(4, ["", " "], PLANS) == [
        Failure(4, None, "the row has no value in any imported column")
    ]


def test_split_tags() -> None:
    assert split_tags(" vip ;new,, vip;") == ["vip", "new"]


@pytest.mark.parametrize(
    "address",
    [
        "Jo.Ann+tag@Mail.Example.COM",
        "a@b.co",
        "x@localhost",
        "x@host.local",
        "x@a.test",
        "x@xn--80ak6aa92e.com",
        "x@ab--cd.com",
        "a..b@x.com",
        ".a@x.com",
        "a@-x.com",
        "a@x.123",
        "é@example.com",
        "a@" + "b" * 64 + ".com",
        "a" * 65 + "@x.com",
    ],
)
def test_fast_email_agrees_with_email_validator(address: str) -> None:
    assert _outcome(fast_email, address) == _outcome(normalize_email, address)


_LOCAL = st.text(alphabet="abcXYZ019.+-_'!#", min_size=1, max_size=70)
_LABEL = st.text(alphabet="abcXYZ0-9", min_size=1, max_size=66)
_TLD = st.sampled_from(
    ["com", "ORG", "io", "c0m", "x", "test", "local", "example", "12", "xn--p1ai", "museum"]
)


@settings(max_examples=400, deadline=None)
@given(local=_LOCAL, labels=st.lists(_LABEL, min_size=0, max_size=3), tld=_TLD)
def test_fast_email_agrees_with_email_validator_everywhere(local: str, labels: list[str], tld: str) -> None:
    address = f"{local}@{'.'.join([*labels, tld])}"
    assert _outcome(fast_email, address) == _outcome(normalize_email, address)


@pytest.mark.parametrize(
    "number",
    [
        "+1 (415) 555-0100",
        "14155550100",
        "0014155550100",
        "+44 020 7946 0958",
        "+39 06 6982 1234",
        "+390669821234",
        "+49 (0) 30 123456",
        "+0123456",
        "+999 123",
        "12",
        "+1 415 555 0100 ext. 12",
        "tel:+14155550100",
        "+１４１５５５５０１００",
    ],
)
def test_fast_phone_agrees_with_phonenumbers(number: str) -> None:
    assert _outcome(fast_phone, number) == _outcome(normalize_phone, number)


@settings(max_examples=1000, deadline=None)
@given(
    prefix=st.sampled_from(["+", "", "00", "0", "+0"]),
    digits=st.text(alphabet="0123456789", min_size=1, max_size=18),
    separator=st.sampled_from(["", " ", "-", "."]),
)
def test_fast_phone_agrees_with_phonenumbers_everywhere(prefix: str, digits: str, separator: str) -> None:
    number = prefix + separator.join([digits[:3], digits[3:6], digits[6:]])
    assert _outcome(fast_phone, number) == _outcome(normalize_phone, number)


_CALLING_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@settings(max_examples=3000, deadline=None)
@given(
    code=st.sampled_from(_CALLING_CODES),
    national=st.text(alphabet="0123456789", min_size=0, max_size=16),
    prefix=st.sampled_from(["+", "", "00", "+0"]),
)
def test_fast_phone_agrees_with_phonenumbers_for_every_calling_code(
    code: int, national: str, prefix: str
) -> None:
    """Canonical E.164 input (and the same digits without +) for every calling code and every length: the
    per-code and per-length caches of the fast path give exactly what phonenumbers gives."""
    number = f"{prefix}{code}{national}"
    assert _outcome(fast_phone, number) == _outcome(normalize_phone, number)


def test_fast_phone_agrees_on_every_example_number() -> None:
    """phonenumbers' example numbers of every region and type, in E.164, as international digits, and with the
    region's national prefix written after the calling code (which phonenumbers strips when it fits)."""
    seen = 0
    for region in phonenumbers.SUPPORTED_REGIONS:
        metadata = PhoneMetadata.metadata_for_region(region)
        prefix = (metadata.national_prefix if metadata else None) or ""
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, PhoneNumberFormat.E164)
            assert fast_phone(e164) == normalize_phone(e164) == e164
            code, national = str(example.country_code), e164[1 + len(str(example.country_code)) :]
            for variant in (
                e164[1:],
                f"00{e164[1:]}",
                f"+{code}{prefix}{national}",
                f"+{code} ({prefix}) {national}",
            ):
                assert _outcome(fast_phone, variant) == _outcome(normalize_phone, variant), variant
            seen += 1
    assert seen > 500


def test_a_checker_memoizes_repeated_values_without_memoizing_refusals() -> None:
    plans = [
        ColumnPlan(0, "tags", "tags"),
        ColumnPlan(1, "gender", "gender"),
        ColumnPlan(2, "seats", "customField:seats", FIELDS["seats"]),
    ]
    check = RecordChecker(plans)
    first, again = check(2, ["a;b", "F", "3.0"]), check(3, ["a;b", "F", "3.0"])
    assert isinstance(first, ContactRow) and isinstance(again, ContactRow)
    assert (again.tags, again.values, again.fields) == (["a", "b"], {"gender": "female"}, {2: "3"})
    again.tags.append("c")  # a row's tags are its own, not the memoized tuple
    assert check(4, ["a;b"]).tags == ["a", "b"]  # type: ignore[union-attr]
    long_tags = ";".join(f"tag{i}" for i in range(60))  # longer than a memoized cell: checked all the same
    assert check(7, [long_tags]).tags == [f"tag{i}" for i in range(60)]  # type: ignore[union-attr]
    for line in (5, 6):
        assert check(line, ["", "robot", "many"]) == [
            Failure(line, "gender", "must be male, female or other"),
            Failure(line, "seats", "must be a number"),
        ]


def _outcome(normalize, address: str) -> str:  # type: ignore[no-untyped-def]
    try:
        return str(normalize(address))
    except ApiError:
        return "<invalid>"
