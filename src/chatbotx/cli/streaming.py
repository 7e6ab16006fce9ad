"""Following a Server-Sent Events operation (`chatbotx events stream`): each event printed as it arrives.

Imported only by commands whose success response is text/event-stream. Output is flushed per event so a pipe
(`chatbotx events stream --json | jq`) sees events at once; Ctrl-C and the server ending the stream exit 0.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click

from chatbotx.cli import render
from chatbotx.cli.operations import Operation
from chatbotx.cli.runtime import EXIT_CONNECTION, Runtime
from chatbotx.cli.transport import StreamLost

LINE_END = re.compile(rb"\r\n|\n|\r")
# Keys of an event's data shown in the human summary, in this order (those present).
SUMMARY_KEYS = (
    "id", "status", "previousStatus", "direction", "type", "fullName", "name", "email", "phoneNumber",
    "contactId", "conversationId", "content", "text", "error",
)  # fmt: skip
SUMMARY_LIMIT = 160


@dataclass
class Event:
    id: str | None
    event: str
    data: str

    def data_value(self) -> Any:
        """The data as JSON when it is JSON (the ChatbotX server always sends JSON), else the text."""
        try:
            return json.loads(self.data)
        except ValueError:
            return self.data


class Parser:
    """An incremental text/event-stream parser following the WHATWG rules: feed bytes, get whole events.

    Comments (`: heartbeat`) and `retry:` are dropped; the last `id:` carries over to later events; a block
    without `data:` dispatches nothing; an unfinished block when the stream ends is discarded.
    """

    def __init__(self) -> None:
        self.pending = b""
        self.last_id: str | None = None
        self.type = ""
        self.data: list[str] = []

    def feed(self, chunk: bytes) -> list[Event]:
        self.pending += chunk
        events: list[Event] = []
        while match := LINE_END.search(self.pending):
            if match.group() == b"\r" and match.end() == len(self.pending):
                break  # maybe the first half of a \r\n split across reads
            line = self.pending[: match.start()].decode("utf-8", "replace")
            self.pending = self.pending[match.end() :]
            event = self.line(line)
            if event is not None:
                events.append(event)
        return events

    def line(self, line: str) -> Event | None:
        if line == "":
            return self.dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self.data.append(value)
        elif name == "event":
            self.type = value
        elif name == "id" and "\0" not in value:
            self.last_id = value
        return None

    def dispatch(self) -> Event | None:
        data, kind = self.data, self.type
        self.data, self.type = [], ""
        if not data:
            return None
        return Event(self.last_id, kind or "message", "\n".join(data))


def _pair(key: str, value: Any) -> str:
    text = render.cell(value)
    if isinstance(value, str) and (not text or any(c.isspace() for c in text)):
        text = json.dumps(text, ensure_ascii=False)
    return f"{key}={text}"


def summary(data: Any) -> str:
    """A one-line digest of an event's data: its familiar keys as key=value."""
    if isinstance(data, dict):
        text = " ".join(_pair(k, data[k]) for k in SUMMARY_KEYS if data.get(k) not in (None, "", [], {}))
    elif isinstance(data, str) and ("\n" in data or "\r" in data):
        text = json.dumps(data, ensure_ascii=False)  # one event, one line
    else:
        text = render.cell(data, None)
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def line_for(event: Event, *, as_json: bool, quiet: bool) -> str | None:
    """What one event prints as (None: nothing)."""
    if as_json:
        out = {"id": event.id, "event": event.event, "data": event.data_value()}
        return json.dumps(out, ensure_ascii=False)
    if quiet:
        return event.id
    return f"{event.id or '-'}  {event.event}  {summary(event.data_value())}".rstrip()


def events_of(chunks: Iterator[bytes]) -> Iterator[Event]:
    parser = Parser()
    for chunk in chunks:
        yield from parser.feed(chunk)


def run(rt: Runtime, op: Operation, parts: dict[str, Any], *, as_json: bool, quiet: bool) -> None:
    """Open the stream and print its events until Ctrl-C (exit 0), the server ending it (exit 0), or the
    connection breaking (exit 3)."""
    try:
        with rt.open_stream(op, parts["path_values"], parts["query"]) as stream:
            for event in events_of(stream.chunks()):
                text = line_for(event, as_json=as_json, quiet=quiet)
                if text is not None:
                    click.echo(text)  # click.echo flushes: each event goes out as it arrives
    except KeyboardInterrupt:
        sys.exit(0)
    except StreamLost as exc:
        render.fail(f"Error: {exc}", EXIT_CONNECTION)
    except BrokenPipeError:
        # the reader went away (`| head -1`): stop quietly, and keep the interpreter's final flush silent too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
