"""`chatbotx events stream`: the generated command for the text/event-stream operation, run as a subprocess
against a live server while events are caused through the API; plus the SSE parser on its own."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatbotx.cli.streaming import Event, Parser, line_for, summary
from chatbotx.models import Conversation
from tests.cli.conftest import CHATBOTX, Cli, user_env
from tests.cli.fake_api import FakeApi

WAIT = 20.0  # bound on waiting for one line; a healthy run needs a fraction of a second


class Follower:
    """A running `chatbotx events stream ...` whose stdout lines are collected by a thread."""

    def __init__(self, cli: Cli, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*CHATBOTX, "events", "stream", *args],
            env=cli.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output

    def line(self, wait: float = WAIT) -> str | None:
        """The next line, or None when none came within `wait` seconds or the output ended."""
        try:
            return self.lines.get(timeout=wait)
        except queue.Empty:
            return None

    def events(self, n: int, wait: float = WAIT) -> list[dict[str, Any]]:
        out = []
        while len(out) < n:
            line = self.line(wait)
            assert line is not None, f"only {len(out)} of {n} events arrived; stderr: {self.stop()[1]}"
            out.append(json.loads(line))
        return out

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read()


@pytest.fixture
def follow(cli: Cli) -> Iterator[Any]:
    started: list[Follower] = []

    def start(*args: str) -> Follower:
        follower = Follower(cli, *args)
        started.append(follower)
        return follower

    yield start
    for follower in started:
        follower.stop(signal.SIGKILL)


def conversation(cli: Cli) -> str:
    """A conversation of a new contact in the CLI user's workspace (conversations are not created via the
    API: an inbound message opens them)."""
    workspace_id = int(cli.get("/api/v1/workspaces")["id"])
    contact = cli.post("/api/v1/contacts", {"email": f"{uuid.uuid4().hex[:10]}@example.com"}, status=200)
    row = Conversation(workspace_id=workspace_id, contact_id=int(contact["id"]))
    cli.server.insert(row)
    return str(row.id)


def set_status(cli: Cli, conversation_id: str, status: str) -> None:
    cli.post(f"/api/v1/conversations/{conversation_id}/status", {"status": status}, status=200)


def of(events: list[dict[str, Any]], conversation_id: str) -> list[dict[str, Any]]:
    return [
        e for e in events if e["event"].startswith("conversation.") and e["data"]["id"] == conversation_id
    ]


def conversation_lines(follower: Follower, n: int) -> list[str]:
    """The next `n` human lines about conversations (other kinds of event skipped)."""
    out: list[str] = []
    while len(out) < n:
        line = follower.line()
        assert line is not None, f"only {len(out)} of {n} lines arrived; stderr: {follower.stop()[1]}"
        if "  conversation." in line:
            out.append(line)
    return out


def caught_live(cli: Cli, follower: Follower, conversation_id: str) -> dict[str, Any]:
    """Change the conversation's status until the stream shows it (the stream only sees events published
    after it subscribed, which the CLI cannot signal), and return that event line parsed."""
    for attempt in range(30):
        set_status(cli, conversation_id, "resolved" if attempt % 2 == 0 else "open")
        line = follower.line(wait=1.0)
        if line is not None:
            return dict(json.loads(line))
    code, err = follower.stop()
    raise AssertionError(f"no event on the stream (exit {code}): {err}")


def test_json_lines_arrive_live_and_ctrl_c_exits_0(cli: Cli, follow: Any) -> None:
    cli.server.require("streamEvents", "updateConversationStatus")
    conversation_id = conversation(cli)
    follower = follow("--json")
    first = caught_live(cli, follower, conversation_id)
    assert set(first) == {"id", "event", "data"}
    assert re.fullmatch(r"\d+", first["id"])
    assert first["event"].startswith("conversation.") and first["data"]["id"] == conversation_id
    # the rest of that status change arrives too, in order, one JSON object per line
    rest = [first]
    while rest[-1]["event"] != "conversation.updated":
        rest += follower.events(1)
    assert [e["data"]["status"] for e in rest] == [first["data"]["status"]] * len(rest)
    assert len({e["id"] for e in rest}) == len(rest)

    set_status(cli, conversation_id, "pending")
    changed, updated = follower.events(2)
    assert (changed["event"], updated["event"]) == ("conversation.status_changed", "conversation.updated")
    assert (
        changed["data"]["status"] == "pending"
        and changed["data"]["previousStatus"] == first["data"]["status"]
    )
    assert int(changed["id"]) > 0 and changed["id"] != updated["id"]

    code, err = follower.stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in err and "Aborted" not in err, err


def test_human_lines(cli: Cli, follow: Any) -> None:
    cli.server.require("streamEvents", "updateConversationStatus")
    conversation_id = conversation(cli)
    set_status(cli, conversation_id, "pending")
    # replaying from 0 makes the output deterministic: the stored events, then live ones
    follower = follow("--lastEventId", "0")
    changed, updated = conversation_lines(follower, 2)
    assert re.fullmatch(
        rf"\d+  conversation\.status_changed  id={conversation_id} status=pending previousStatus=open( .*)?",
        changed,
    ), changed
    assert re.fullmatch(rf"\d+  conversation\.updated  id={conversation_id} status=pending( .*)?", updated)
    set_status(cli, conversation_id, "resolved")
    live = conversation_lines(follower, 1)[0]
    assert f"conversation.status_changed  id={conversation_id} status=resolved" in live
    code, err = follower.stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in err, err


def test_resume_after_last_event_id_replays_later_events(cli: Cli, follow: Any) -> None:
    cli.server.require("streamEvents", "updateConversationStatus")
    conversation_id = conversation(cli)
    set_status(cli, conversation_id, "resolved")
    set_status(cli, conversation_id, "open")
    everything = follow("--json", "--lastEventId", "0")
    stored: list[dict[str, Any]] = []
    while len(stored) < 4:  # other kinds of event (contact.*) may come first
        stored += of(everything.events(1), conversation_id)
    everything.stop()
    assert [(e["event"], e["data"]["status"]) for e in stored] == [
        ("conversation.status_changed", "resolved"),
        ("conversation.updated", "resolved"),
        ("conversation.status_changed", "open"),
        ("conversation.updated", "open"),
    ]

    resumed = follow("--json", "--lastEventId", stored[1]["id"])
    assert resumed.events(2) == stored[2:]
    # then live events continue on the same stream
    set_status(cli, conversation_id, "pending")
    assert [e["data"]["status"] for e in resumed.events(2)] == ["pending", "pending"]

    assert follow("-q", "--lastEventId", stored[2]["id"]).line() == stored[3]["id"]


def test_bad_last_event_id_is_an_api_error(cli: Cli) -> None:
    cli.server.require("streamEvents")
    result = cli("events", "stream", "--lastEventId", "not-an-id", check=False)
    assert result.code == 1 and result.out == ""
    assert "INVALID_DATA (422)" in result.err or "(422)" in result.err, result
    denied = cli("events", "stream", env={"CHATBOTX_API_KEY": "cbx_wrong"}, check=False)
    assert denied.code == 1 and "(401)" in denied.err, denied


def test_help_describes_the_stream(cli: Cli) -> None:
    cli.server.require("streamEvents")
    text = cli("events", "stream", "--help").out
    assert "--lastEventId" in text and "until Ctrl-C" in text
    assert '{"id", "event", "data"}' in text


# --- against the fake API: the server ending the stream, a server that is down


SSE_OP = {
    "operationId": "streamThings",
    "summary": "Stream things",
    "x-cli-name": "things stream",
    "parameters": [{"name": "lastEventId", "in": "query", "schema": {"type": "string"}}],
    "responses": {"200": {"description": "events", "content": {"text/event-stream": {"schema": {}}}}},
}


class StreamingFake(FakeApi):
    """The fake API plus /api/v1/things/stream: a few events (and a heartbeat), then the end of the stream."""

    body = (
        b'retry: 3000\n\n: heartbeat\n\nid: 7\nevent: thing.made\ndata: {"id":"1","name":"a b"}\n\n'
        b"id: 8\r\nevent: thing.made\r\ndata: line one\r\ndata: line two\r\n\r\n"
    )

    def __init__(self) -> None:
        super().__init__()
        self.spec["paths"]["/api/v1/things/stream"] = {"get": SSE_OP}
        handler = self.server.RequestHandlerClass
        body = self.body
        plain_get = handler.do_GET  # type: ignore[attr-defined]

        def do_get(h: Any) -> None:
            if not h.path.startswith("/api/v1/things/stream"):
                plain_get(h)
                return
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.end_headers()
            h.wfile.write(body)
            h.close_connection = True

        handler.do_GET = do_get  # type: ignore[attr-defined]


def test_server_ending_the_stream_exits_0_and_a_down_server_exits_3(tmp_path: Path) -> None:
    with StreamingFake() as fake:
        env = {**user_env(tmp_path), "CHATBOTX_API_URL": fake.url + "/api", "CHATBOTX_API_KEY": "cbx_x"}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*CHATBOTX, *args], env=env, capture_output=True, text=True, timeout=60)

        done = run("things", "stream", "--json")
        assert done.returncode == 0, done.stderr
        assert [json.loads(line) for line in done.stdout.splitlines()] == [
            {"id": "7", "event": "thing.made", "data": {"id": "1", "name": "a b"}},
            {"id": "8", "event": "thing.made", "data": "line one\nline two"},
        ]
        human = run("things", "stream")
        assert human.stdout.splitlines() == [
            '7  thing.made  id=1 name="a b"',
            '8  thing.made  "line one\\nline two"',
        ]
        fake.stop()
        down = run("things", "stream", "--json")  # the spec comes from the cache; the stream cannot open
    assert down.returncode == 3 and "cannot reach" in down.stderr and "Traceback" not in down.stderr


# --- the parser and the printing, without a server


def test_parser_follows_the_sse_rules() -> None:
    parser = Parser()
    stream = b': hi\n\nretry: 10\n\nid: 1\nevent: a\ndata: {"x":1}\n\ndata:no space\n\nid: 2\ndata: p\r'
    events: list[Event] = []
    for i in range(len(stream)):  # byte by byte: lines and \r\n split across reads
        events += parser.feed(stream[i : i + 1])
    events += parser.feed(b"\ndata: q\n\nevent: only-type\n\nid\n")
    assert events == [
        Event("1", "a", '{"x":1}'),
        Event("1", "message", "no space"),
        Event("2", "message", "p\nq"),
    ]
    assert parser.feed(b"data: z\n\n") == [Event("", "message", "z")]  # a bare `id` resets the last id


def test_printing() -> None:
    event = Event(
        "9", "message.created", json.dumps({"id": "5", "direction": "incoming", "content": "Hi there"})
    )
    assert json.loads(line_for(event, as_json=True, quiet=False) or "") == {
        "id": "9",
        "event": "message.created",
        "data": {"id": "5", "direction": "incoming", "content": "Hi there"},
    }
    assert line_for(event, as_json=False, quiet=True) == "9"
    assert (
        line_for(event, as_json=False, quiet=False)
        == '9  message.created  id=5 direction=incoming content="Hi there"'
    )
    assert summary({"nothing": "known"}) == ""
    assert len(summary({"content": "x" * 500})) <= 160
