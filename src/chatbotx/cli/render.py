"""Printing API responses: raw JSON (--json), ids (-q), or Rich tables and key/value views for people."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

MAX_COLUMNS = 8
PREFERRED_COLUMNS = (
    "id", "name", "fullName", "email", "phoneNumber", "firstName", "lastName", "shortcut", "text", "content",
    "type", "channel", "direction", "status", "value",
)  # fmt: skip
# Shown in the key/value view but left out of tables, where width is scarce.
NOISY_COLUMNS = frozenset({"updatedAt", "deletedAt", "workspaceId"})
CELL_LIMIT = 60


def _items(data: Any) -> tuple[list[Any] | None, dict[str, Any]]:
    """A list response as (items, extra keys): a bare array or a page {"data": [...], ...}."""
    if isinstance(data, list):
        return data, {}
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        return data["data"], {k: v for k, v in data.items() if k != "data"}
    return None, {}


def ids_of(data: Any) -> list[str]:
    items, _ = _items(data)
    rows = items if items is not None else [data]
    return [str(row["id"]) for row in rows if isinstance(row, dict) and row.get("id") is not None]


def cell(value: Any, limit: int | None = CELL_LIMIT) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    else:
        text = str(value)
    if limit and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def columns_for(items: list[Any]) -> list[str]:
    """Scalar-valued keys of the rows, the familiar ones first, at most MAX_COLUMNS."""
    keys: list[str] = []
    for row in items[:50]:
        if isinstance(row, dict):
            keys.extend(k for k in row if k not in keys)

    def scalar(key: str) -> bool:
        return all(not isinstance(r.get(key), dict | list) for r in items if isinstance(r, dict))

    preferred = [k for k in PREFERRED_COLUMNS if k in keys]
    rest = [k for k in keys if k not in preferred and k not in NOISY_COLUMNS and scalar(k)]
    return (preferred + rest)[:MAX_COLUMNS]


def print_human(data: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=False)
    items, extra = _items(data)
    if items is not None:
        if not items:
            console.print("(no results)")
        elif all(isinstance(r, dict) for r in items):
            cols = columns_for(items)[: max(3, console.width // 20)]
            table = Table(show_lines=False)
            for col in cols:
                # ids are copied into other commands: never wrapped or cut
                table.add_column(col, overflow="fold", no_wrap=col == "id" or col.endswith("Id"))
            for row in items:
                table.add_row(*(cell(row.get(c)) for c in cols))
            console.print(table)
        else:
            for row in items:
                console.print(cell(row, None), markup=False)
        if extra:
            console.print("  ".join(f"{k}: {cell(v)}" for k, v in extra.items()), style="dim", markup=False)
        return
    if isinstance(data, dict):
        table = Table(show_header=False)
        table.add_column("field", no_wrap=True)
        table.add_column("value", overflow="fold")
        for key, value in data.items():
            table.add_row(key, cell(value, 200))
        console.print(table)
        return
    console.print(cell(data, None), markup=False)


def emit(body: bytes, data: Any, *, as_json: bool, quiet: bool, content_type: str = "") -> None:
    """Print a successful response; an empty body (204) prints nothing with --json/-q, else "OK"."""
    if not body.strip():
        if not (as_json or quiet):
            click.echo("OK")
        return
    if content_type and "json" not in content_type:
        # a download: the bytes as they are, for redirection to a file
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    if as_json:
        out = body.decode("utf-8", "replace")
        click.echo(out if out.endswith("\n") else out + "\n", nl=False)
    elif quiet:
        for ident in ids_of(data):
            click.echo(ident)
    else:
        print_human(data)


def error_line(status: int, data: Any, body: bytes) -> str:
    """One line from the API's {"code","status","message","data"}, plus each bad field when given."""
    if isinstance(data, dict) and "message" in data:
        line = f"Error: {data.get('code', 'HTTP_' + str(status))} ({status}): {data['message']}"
        errors = (data.get("data") or {}).get("errors") if isinstance(data.get("data"), dict) else None
        if isinstance(errors, list) and len(errors) > 1:
            line += "".join(
                f"\n  {e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, dict)
            )
        return line
    text = body.decode("utf-8", "replace").strip()[:300]
    return f"Error: HTTP {status}" + (f": {text}" if text else "")


def fail(message: str, code: int) -> None:
    click.echo(message, err=True)
    sys.exit(code)
