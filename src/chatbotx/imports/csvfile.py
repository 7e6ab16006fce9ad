"""Reading an uploaded CSV as a stream, never whole: encoding (UTF-8 with or without BOM, UTF-16 with BOM,
else Latin-1), delimiter (comma, semicolon or tab), header, and records with the line they start on."""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import io
import sys
from collections.abc import Iterator
from pathlib import Path

CHUNK = 1024 * 1024
DELIMITERS = (",", ";", "\t")
# Cells may be long (notes, tag lists), but a runaway unterminated quote must not pull the file into memory.
csv.field_size_limit(min(sys.maxsize, 1024 * 1024))


@dataclasses.dataclass(frozen=True, slots=True)
class CsvFormat:
    encoding: str
    delimiter: str


class CsvError(Exception):
    """The file cannot be read as a CSV with a header row."""


def detect_encoding(path: Path) -> str:
    """'utf-8-sig' or 'utf-16' when the file has that BOM, 'utf-8' when it all decodes so, else 'latin-1'."""
    with path.open("rb") as raw:
        head = raw.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        raw.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := raw.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


def sniff_delimiter(first_line: str) -> str:
    """The candidate delimiter seen most often in the header line (comma when none appears)."""
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _is_blank(record: list[str]) -> bool:
    return not any(cell.strip() for cell in record)


@contextlib.contextmanager
def open_text(path: Path, encoding: str) -> Iterator[io.TextIOWrapper]:
    # newline="" lets the csv module see quoted line breaks itself.
    with path.open("r", encoding=encoding, newline="") as handle:
        yield handle


def detect_format(path: Path) -> CsvFormat:
    encoding = detect_encoding(path)
    with open_text(path, encoding) as handle:
        for line in handle:
            if line.strip():
                return CsvFormat(encoding, sniff_delimiter(line))
    raise CsvError("The file is empty: it needs a header row.")


def read_header(path: Path, fmt: CsvFormat) -> list[str]:
    for _line, record in iter_records(path, fmt, with_header=True):
        return [cell.strip() for cell in record]
    raise CsvError("The file is empty: it needs a header row.")


def iter_records(path: Path, fmt: CsvFormat, *, with_header: bool = False) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, cells) for each non-blank record; the header is skipped by default."""
    with open_text(path, fmt.encoding) as handle:
        reader = csv.reader(handle, delimiter=fmt.delimiter)
        previous_line = 0
        seen_header = False
        try:
            for record in reader:
                start = previous_line + 1
                previous_line = reader.line_num
                if _is_blank(record):
                    continue
                if not seen_header:
                    seen_header = True
                    if not with_header:
                        continue
                yield start, record
        except csv.Error as exc:
            raise CsvError(f"Line {reader.line_num}: {exc}") from None


def count_records(path: Path, fmt: CsvFormat) -> int:
    """Data records (non-blank, header excluded)."""
    return sum(1 for _ in iter_records(path, fmt))
