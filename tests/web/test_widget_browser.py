"""The webchat widget in a real browser: Debian's chromium driven by Playwright, against a real
`chatbotx server start` (SQLite) and a customer page on another origin whose only ChatbotX content is the
embed snippet.

Screenshots go to $CHATBOTX_TEST_ARTIFACTS/widget/ (default <repo>/.artifacts/widget/). Without chromium or
the playwright package the tests are skipped with a loud reason, except under CI=true where that is a failure.
Waits are bounded (`expect(...)` with generous timeouts, `wait_for`), never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.polling import wait_for

# Kept on one xdist worker where --dist loadgroup honors the group; where it does not, each worker starts its
# own server and browser (module fixtures, one log file per worker), which works too.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHATBOTX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("CHATBOTX_TEST_ARTIFACTS") or REPO / ".artifacts") / "widget"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
WAIT_MS = 30_000  # a bound for the browser's waits on a loaded 2-core machine, not a timing assertion


def _browser_missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -c constraints.txt -e '.[dev]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


def _require_browser() -> None:
    missing = _browser_missing()
    if missing is None:
        return
    if IN_CI:
        pytest.fail(f"browser tests cannot run under CI: {missing}")
    pytest.skip(f"!!! widget browser tests SKIPPED: {missing} !!!")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the ChatbotX server, for real -------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    token: str
    log: Path


def _chatbotx_command() -> list[str]:
    script = Path(sys.executable).parent / "chatbotx"
    if script.exists():
        return [str(script)]
    found = shutil.which("chatbotx")
    if found:
        return [found]
    return [sys.executable, "-c", "from chatbotx.cli.main import main; main()"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`chatbotx server start` on a free port and a fresh SQLite data directory, CHATBOTX_PUBLIC_URL pointing
    at it (so the embed snippet names it); its first start prints the workspace's API token."""
    _require_browser()
    data_dir = tmp_path_factory.mktemp("widget-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key.startswith(("CHATBOTX_TEST", "CHATBOTX_CHROMIUM")) or not key.startswith("CHATBOTX_")
    }
    env.update(
        CHATBOTX_PUBLIC_URL=url,
        CHATBOTX_DATA_DIR=str(data_dir),
        CHATBOTX_RATE_LIMIT_PER_MINUTE="0",
        CHATBOTX_LOG_LEVEL="warning",
        HOME=str(data_dir),  # keeps the CLI's own config out of the real home
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / f"server-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.log"  # one per xdist worker
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*_chatbotx_command(), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
        )
    try:
        token = _wait_until_up(process, url, log)
        yield Server(url, token, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path) -> str:
    deadline = time.monotonic() + 90
    token = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited ({process.returncode}):\n{log.read_text()}")
        if token is None:
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("API token:"):
                    token = line.split(":", 1)[1].strip()
        if token is not None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    return token
        time.sleep(0.1)
    raise AssertionError(f"the server did not come up in time:\n{log.read_text()}")


# --- the customer's site, on another origin ----------------------------------------------------------------


class Site:
    """A static web server on its own port (so its origin differs from the API's) serving pages by name."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[bytes, dict[str, str]]] = {}
        pages = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/favicon.ico":
                    self.send_response(204)
                    self.end_headers()
                    return
                found = pages.get(self.path.split("?", 1)[0])
                if found is None:
                    self.send_error(404)
                    return
                body, headers = found
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def page(
        self,
        embed_script: str,
        settings: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        hostile_css: bool = True,
    ) -> str:
        """A shop page with a hostile stylesheet and only the embed snippet (and optional settings)."""
        path = f"/shop-{uuid.uuid4().hex[:8]}.html"
        setup = f"<script>window.chatbotxSettings = {json.dumps(settings)};</script>\n" if settings else ""
        style = (
            """<style>* { color: #c00 !important; font-family: serif !important; }
div, button, ol, li, textarea { position: static !important; display: inline !important; }</style>"""
            if hostile_css
            else ""
        )
        html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme shop</title>
{style}
</head><body>
<h1>Acme shop</h1><p>Our products.</p>
{setup}{embed_script}
</body></html>"""
        self.pages[path] = (html.encode(), headers or {})
        return self.url + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


# --- the agent's side: the admin API and its event stream --------------------------------------------------


@pytest.fixture
async def admin(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=30
    ) as client:
        yield client


@dataclass
class AgentStream:
    """The agent's `GET /api/v1/events` stream, read in the background."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def next_matching(self, type: str, **fields: Any) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            for event_type, data in self.events:
                if event_type == type and all(data.get(k) == v for k, v in fields.items()):
                    return data
            return None

        result: dict[str, Any] = await wait_for(found, limit=WAIT_MS / 1000)
        return result


@pytest.fixture
async def agent_stream(server: Server) -> AsyncIterator[AgentStream]:
    stream = AgentStream()
    connected = asyncio.Event()

    async def read() -> None:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(30, read=None)) as client,
            client.stream(
                "GET", f"{server.url}/api/v1/events", headers={"Authorization": f"Bearer {server.token}"}
            ) as answer,
        ):
            assert answer.status_code == 200
            connected.set()
            event_type, data = "message", ""
            async for line in answer.aiter_lines():
                if line.startswith("event:"):
                    event_type = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    stream.events.append((event_type, json.loads(data)))
                    event_type, data = "message", ""

    task = asyncio.create_task(read())
    await asyncio.wait_for(connected.wait(), WAIT_MS / 1000)
    yield stream
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def create_webchat(admin: httpx.AsyncClient, site: Site, **config: Any) -> dict[str, Any]:
    answer = await admin.post(
        "/api/v1/channels",
        json={
            "name": "Acme support",
            "channel": "webchat",
            "config": {
                "websiteUrl": site.url,
                "widgetColor": "#7c3aed",
                "greeting": "Hi! Ask us anything about your order.",
                "hmacMandatory": False,
                **config,
            },
        },
    )
    assert answer.status_code == 201, answer.text
    channel: dict[str, Any] = answer.json()
    assert channel["embedScript"] == (
        f'<script src="{str(admin.base_url).rstrip("/")}/widget/chatbotx-widget.js" '
        f'data-inbox-identifier="{channel["inboxIdentifier"]}" async></script>'
    )
    return channel


def site_api(channel: dict[str, Any]) -> str:
    """The public API of the channel's inbox, as the widget calls it."""
    base = channel["embedScript"].split('src="', 1)[1].split("/widget/", 1)[0]
    return f"{base}/public/api/v1/inboxes/{channel['inboxIdentifier']}"


async def conversation_messages(admin: httpx.AsyncClient, conversation_id: str) -> list[dict[str, Any]]:
    answer = await admin.get(f"/api/v1/conversations/{conversation_id}/messages")
    assert answer.status_code == 200, answer.text
    return list(reversed(answer.json()["data"]))  # oldest first


# --- the browser ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def browser(server: Server) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@dataclass
class Visitor:
    """One browser profile (its own localStorage) on the customer's site."""

    context: Any
    page: Any
    errors: list[str]
    name: str
    shots: int = 0

    async def screenshot(self, label: str) -> Path:
        self.shots += 1
        path = ARTIFACTS / f"{self.name}-{self.shots:02d}-{label}.png"
        await self.page.screenshot(path=str(path))
        return path

    def shadow(self, selector: str) -> Any:
        # Playwright's CSS locators pierce open shadow roots.
        return self.page.locator(f"#chatbotx-widget {selector}")


def record_console(errors: list[str], message: Any) -> None:
    # A failed load is recorded with its URL by record_failure; the console's copy has none.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(f"console error: {message.text}")


def record_failure(errors: list[str], response: Any) -> None:
    if response.status >= 400:
        errors.append(f"{response.request.method} {response.url} -> {response.status}")


@pytest.fixture
async def new_visitor(browser: Any, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    visitors: list[Visitor] = []

    async def make(suffix: str = "", width: int = 1024, height: int = 720) -> Visitor:
        context = await browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on("console", lambda message: record_console(errors, message))
        page.on("response", lambda response: record_failure(errors, response))
        name = request.node.name.removeprefix("test_") + suffix
        visitor = Visitor(context, page, errors, name)
        visitors.append(visitor)
        return visitor

    yield make
    for visitor in visitors:
        await visitor.context.close()


async def stored_session(visitor: Visitor, inbox_identifier: str) -> dict[str, Any] | None:
    key = f"chatbotx:{inbox_identifier}"
    raw = await visitor.page.evaluate("key => window.localStorage.getItem(key)", key)
    return json.loads(raw) if raw else None


async def open_widget(visitor: Visitor, url: str) -> None:
    from playwright.async_api import expect

    await visitor.page.goto(url)
    bubble = visitor.page.get_by_role("button", name="Open chat")
    await expect(bubble).to_be_visible(timeout=WAIT_MS)
    await bubble.click()
    await expect(visitor.page.get_by_role("dialog", name="Acme support")).to_be_visible(timeout=WAIT_MS)


async def say(visitor: Visitor, text: str) -> None:
    """Type `text` and press Enter; wait until the server has confirmed it (the message has its id)."""
    from playwright.async_api import expect

    box = visitor.page.get_by_role("textbox", name="Your message")
    await box.fill(text)
    await box.press("Enter")
    sent = visitor.shadow(".cbx-in[data-id]").filter(has_text=text)
    await expect(sent).to_have_count(1, timeout=WAIT_MS)


# --- scenarios ---------------------------------------------------------------------------------------------


async def test_a_visitor_chats_with_an_agent_and_keeps_the_conversation_across_a_reload(
    admin: httpx.AsyncClient, site: Site, new_visitor: Any, agent_stream: AgentStream
) -> None:
    from playwright.async_api import expect

    channel = await create_webchat(admin, site)
    identifier = channel["inboxIdentifier"]
    visitor = await new_visitor()
    await visitor.page.goto(site.page(channel["embedScript"]))

    bubble = visitor.page.get_by_role("button", name="Open chat")
    await expect(bubble).to_be_visible(timeout=WAIT_MS)
    assert await bubble.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(124, 58, 237)"
    await visitor.screenshot("bubble")
    assert await stored_session(visitor, identifier) is None  # nobody is a contact before they write

    await bubble.click()
    dialog = visitor.page.get_by_role("dialog", name="Acme support")
    await expect(dialog).to_be_visible(timeout=WAIT_MS)
    await expect(dialog).to_contain_text("Hi! Ask us anything about your order.")
    await expect(visitor.page.get_by_role("textbox", name="Your message")).to_be_focused()
    await visitor.screenshot("open")

    await say(visitor, "Hello, where is my order #1234?")
    session = await stored_session(visitor, identifier)
    assert session is not None
    assert session["conversationId"] and session["sourceId"] and session["pubsubToken"]
    conversation_id = session["conversationId"]

    # The agent's side: stored, and on the workspace's event stream.
    [stored] = await conversation_messages(admin, conversation_id)
    assert (stored["direction"], stored["content"]) == ("incoming", "Hello, where is my order #1234?")
    created = await agent_stream.next_matching("message.created", content="Hello, where is my order #1234?")
    assert created["conversationId"] == conversation_id

    reply = await admin.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"text": "It ships today, Ann!"}
    )
    assert reply.status_code == 201, reply.text
    answer = visitor.shadow(".cbx-out[data-id]").filter(has_text="It ships today, Ann!")
    await expect(answer).to_be_visible(timeout=WAIT_MS)
    # The page's `* { color: #c00 !important; font-family: serif !important }` stays outside the Shadow DOM.
    style = await answer.locator(".cbx-text").evaluate(
        "e => [getComputedStyle(e).color, getComputedStyle(e).fontFamily]"
    )
    assert style[0] == "rgb(17, 24, 39)" and "serif" not in style[1].replace("sans-serif", ""), style
    await visitor.screenshot("agent-reply")

    await visitor.page.reload()
    dialog = visitor.page.get_by_role("dialog", name="Acme support")
    await expect(dialog).to_be_visible(timeout=WAIT_MS)  # it was open: it opens again
    history = visitor.shadow(".cbx-msg[data-id]")
    await expect(history).to_have_count(2, timeout=WAIT_MS)
    await expect(history.nth(0)).to_contain_text("Hello, where is my order #1234?")
    await expect(history.nth(1)).to_contain_text("It ships today, Ann!")
    assert (await stored_session(visitor, identifier) or {}).get("conversationId") == conversation_id
    await visitor.screenshot("after-reload")

    # Still live after the reload, and the same conversation on the agent's side.
    await say(visitor, "Great, thanks")
    assert [m["content"] for m in await conversation_messages(admin, conversation_id)] == [
        "Hello, where is my order #1234?",
        "It ships today, Ann!",
        "Great, thanks",
    ]
    second = await admin.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"text": "You're welcome"}
    )
    assert second.status_code == 201, second.text
    await expect(visitor.shadow(".cbx-out[data-id]").filter(has_text="You're welcome")).to_be_visible(
        timeout=WAIT_MS
    )
    assert visitor.errors == []


async def test_a_reply_while_the_panel_is_closed_shows_an_unread_badge(
    admin: httpx.AsyncClient, site: Site, new_visitor: Any
) -> None:
    from playwright.async_api import expect

    channel = await create_webchat(admin, site)
    visitor = await new_visitor()
    await open_widget(visitor, site.page(channel["embedScript"]))
    await say(visitor, "Anyone there?")
    session = await stored_session(visitor, channel["inboxIdentifier"])
    assert session is not None

    await visitor.page.keyboard.press("Escape")
    bubble = visitor.page.get_by_role("button", name="Open chat")
    await expect(bubble).to_be_focused()
    reply = await admin.post(
        f"/api/v1/conversations/{session['conversationId']}/messages", json={"text": "Yes!"}
    )
    assert reply.status_code == 201, reply.text
    await expect(visitor.page.get_by_role("button", name="Open chat, 1 unread message")).to_be_visible(
        timeout=WAIT_MS
    )
    await visitor.screenshot("unread-badge")
    await visitor.page.get_by_role("button", name="Open chat, 1 unread message").click()
    await expect(visitor.shadow(".cbx-out[data-id]").filter(has_text="Yes!")).to_be_visible(timeout=WAIT_MS)
    await expect(visitor.page.get_by_role("button", name="Close chat").first).to_be_visible()
    assert visitor.errors == []


async def test_a_visitor_leaves_their_email(admin: httpx.AsyncClient, site: Site, new_visitor: Any) -> None:
    from playwright.async_api import expect

    channel = await create_webchat(admin, site)
    visitor = await new_visitor()
    await open_widget(visitor, site.page(channel["embedScript"]))
    await say(visitor, "Can you email me the invoice?")
    email_box = visitor.page.get_by_role("textbox", name="Your email")
    await expect(email_box).to_be_visible(timeout=WAIT_MS)
    await visitor.screenshot("email-prompt")

    await email_box.fill("not-an-email")
    await visitor.page.get_by_role("button", name="Save email").click()
    await expect(visitor.shadow(".cbx-email-error")).to_have_text(
        "That doesn't look like an email address.", timeout=WAIT_MS
    )

    address = f"ann-{uuid.uuid4().hex[:6]}@example.com"
    await email_box.fill(address)
    await visitor.page.get_by_role("button", name="Save email").click()
    await expect(visitor.shadow(".cbx-email [role=status]")).to_have_text(
        f"Thanks! We'll reply to {address}.", timeout=WAIT_MS
    )
    await visitor.screenshot("email-saved")

    session = await stored_session(visitor, channel["inboxIdentifier"])
    assert session is not None
    contact = (await admin.get(f"/api/v1/contacts/{session['contactId']}")).json()
    assert contact["email"] == address
    assert channel["id"] in [ci["inboxId"] for ci in contact["contactInboxes"]]
    found = (await admin.get("/api/v1/conversations", params={"keyword": address})).json()["data"]
    assert [c["id"] for c in found] == [session["conversationId"]]

    await visitor.page.reload()  # once left, the prompt does not come back
    await expect(visitor.shadow(".cbx-msg[data-id]")).to_have_count(1, timeout=WAIT_MS)
    await expect(visitor.page.get_by_role("textbox", name="Your email")).to_have_count(0)
    assert visitor.errors == []


def identity(channel: dict[str, Any], user_id: str, **extra: str) -> dict[str, Any]:
    """What the site's server puts in the page for a signed-in user: their id's HMAC with the inbox's key."""
    digest = hmac.new(channel["hmacToken"].encode(), user_id.encode(), hashlib.sha256).hexdigest()
    return {"user": {"identifier": user_id, "identifierHash": digest, **extra}}


async def test_a_visitor_identified_by_the_site_is_recognized_on_another_device(
    admin: httpx.AsyncClient, site: Site, new_visitor: Any
) -> None:
    from playwright.async_api import expect

    channel = await create_webchat(admin, site, hmacMandatory=True)
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    email = f"{user_id}@example.com"
    page = site.page(channel["embedScript"], identity(channel, user_id, email=email, name="Ann Lee"))

    laptop = await new_visitor("-laptop")
    await open_widget(laptop, page)
    await say(laptop, "Hi, it's Ann from my laptop")
    session = await stored_session(laptop, channel["inboxIdentifier"])
    assert session is not None and session["identifier"] == user_id
    contact = (await admin.get(f"/api/v1/contacts/{session['contactId']}")).json()
    assert (contact["email"], contact["fullName"]) == (email, "Ann Lee")
    await laptop.screenshot("identified")

    # Another device (a phone: another browser profile, empty localStorage) on a page without settings: the
    # site identifies the visitor after the load, with $chatbotx.setUser.
    phone = await new_visitor("-phone", width=390, height=760)
    await phone.page.goto(site.page(channel["embedScript"]))
    await expect(phone.page.get_by_role("button", name="Open chat")).to_be_visible(timeout=WAIT_MS)
    await phone.page.evaluate("user => window.$chatbotx.setUser(user)", identity(channel, user_id)["user"])
    await phone.page.get_by_role("button", name="Open chat").click()
    earlier = phone.shadow(".cbx-msg[data-id]").filter(has_text="Hi, it's Ann from my laptop")
    await expect(earlier).to_be_visible(timeout=WAIT_MS)
    phone_session = await stored_session(phone, channel["inboxIdentifier"])
    assert phone_session is not None
    assert phone_session["contactId"] == session["contactId"]
    assert phone_session["conversationId"] == session["conversationId"]
    dialog = await phone.page.get_by_role("dialog", name="Acme support").bounding_box()
    assert dialog == {"x": 0, "y": 0, "width": 390, "height": 760}  # a phone's panel fills the screen
    await phone.screenshot("recognized-on-a-phone")

    # Signing out: $chatbotx.reset() forgets the visitor in this browser.
    await phone.page.evaluate("() => window.$chatbotx.reset()")
    assert await stored_session(phone, channel["inboxIdentifier"]) is None
    await expect(phone.shadow(".cbx-msg[data-id]")).to_have_count(0)
    assert laptop.errors == [] and phone.errors == []


async def test_a_wrong_identity_hash_on_a_mandatory_inbox_is_refused_and_nothing_is_stored(
    admin: httpx.AsyncClient, site: Site, new_visitor: Any
) -> None:
    from playwright.async_api import expect

    channel = await create_webchat(admin, site, hmacMandatory=True)
    email = f"mallory-{uuid.uuid4().hex[:6]}@example.com"
    forged = {"user": {"identifier": "user-1", "identifierHash": "0" * 64, "email": email}}
    visitor = await new_visitor()
    await visitor.page.goto(site.page(channel["embedScript"], forged))
    await visitor.page.get_by_role("button", name="Open chat").click()

    alert = visitor.page.get_by_role("alert")
    await expect(alert).to_contain_text("could not verify who you are", timeout=WAIT_MS)
    await expect(visitor.page.get_by_role("textbox", name="Your message")).to_be_disabled()
    await visitor.screenshot("identity-refused")

    assert await stored_session(visitor, channel["inboxIdentifier"]) is None
    assert (await admin.get(f"/api/v1/contacts/email:{email}")).status_code == 404
    listed = await admin.get("/api/v1/conversations", params={"keyword": email})
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"] == []
    # The server's 401 for the contact creation, and nothing else went wrong.
    assert visitor.errors == [f"POST {site_api(channel)}/contacts -> 401"], visitor.errors


async def test_typing_shows_both_ways(
    admin: httpx.AsyncClient, site: Site, new_visitor: Any, agent_stream: AgentStream
) -> None:
    from playwright.async_api import expect

    channel = await create_webchat(admin, site)
    visitor = await new_visitor()
    await open_widget(visitor, site.page(channel["embedScript"]))
    await say(visitor, "Question about sizes")
    session = await stored_session(visitor, channel["inboxIdentifier"])
    assert session is not None
    conversation_id = session["conversationId"]

    # The visitor types: the agents see conversation.typing_on, and typing_off once the message is sent.
    box = visitor.page.get_by_role("textbox", name="Your message")
    await box.press_sequentially("Is an M")
    typing = await agent_stream.next_matching("conversation.typing_on", conversationId=conversation_id)
    assert typing["sender"]["type"] == "contact"
    await box.press("Enter")
    stopped = await agent_stream.next_matching("conversation.typing_off", conversationId=conversation_id)
    assert stopped["sender"]["type"] == "contact"

    # An agent types: the visitor sees it, until the agent stops.
    path = f"/api/v1/conversations/{conversation_id}/typing"
    assert (await admin.post(path, json={"typing": True})).status_code == 204
    indicator = visitor.shadow(".cbx-typing")
    await expect(indicator).to_have_text("Acme support typing…", timeout=WAIT_MS)
    await visitor.screenshot("agent-typing")
    assert (await admin.post(path, json={"typing": False})).status_code == 204
    await expect(indicator).to_be_hidden(timeout=WAIT_MS)
    # And a reply ends it too.
    assert (await admin.post(path, json={"typing": True})).status_code == 204
    await expect(indicator).to_be_visible(timeout=WAIT_MS)
    reply = await admin.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "An M fits"})
    assert reply.status_code == 201, reply.text
    answer = visitor.shadow(".cbx-out[data-id]").filter(has_text="An M fits")
    await expect(answer).to_be_visible(timeout=WAIT_MS)
    await expect(indicator).to_be_hidden()
    assert visitor.errors == []


async def test_a_long_conversation_pages_back_when_scrolled_to_the_top(
    admin: httpx.AsyncClient, site: Site, new_visitor: Any
) -> None:
    from playwright.async_api import expect

    channel = await create_webchat(admin, site)
    visitor = await new_visitor()
    await open_widget(visitor, site.page(channel["embedScript"]))
    await say(visitor, "Tell me everything")
    session = await stored_session(visitor, channel["inboxIdentifier"])
    assert session is not None
    for n in range(1, 25):
        answer = await admin.post(
            f"/api/v1/conversations/{session['conversationId']}/messages", json={"text": f"Part {n}"}
        )
        assert answer.status_code == 201, answer.text
    shown = visitor.shadow(".cbx-msg[data-id]")
    await expect(shown).to_have_count(25, timeout=WAIT_MS)  # live, as they were sent

    await visitor.page.reload()
    await expect(shown).to_have_count(20, timeout=WAIT_MS)  # the newest page
    await expect(shown.last).to_contain_text("Part 24")
    await visitor.shadow(".cbx-log").evaluate("log => { log.scrollTop = 0; }")
    await expect(shown).to_have_count(25, timeout=WAIT_MS)
    texts = await shown.locator(".cbx-text").all_inner_texts()
    assert texts == ["Tell me everything", *[f"Part {n}" for n in range(1, 25)]]
    # The visitor keeps looking at what they were reading (not thrown to the top or the bottom).
    assert await visitor.shadow(".cbx-log").evaluate("log => log.scrollTop") > 0
    await visitor.screenshot("older-page")
    assert visitor.errors == []


async def test_buttons_and_quick_replies_and_the_visitor_reading(
    admin: httpx.AsyncClient, site: Site, new_visitor: Any
) -> None:
    from playwright.async_api import expect

    channel = await create_webchat(admin, site)
    visitor = await new_visitor()
    await open_widget(visitor, site.page(channel["embedScript"]))
    await say(visitor, "Help")
    session = await stored_session(visitor, channel["inboxIdentifier"])
    assert session is not None
    reply = await admin.post(
        f"/api/v1/conversations/{session['conversationId']}/messages",
        json={
            "text": "What do you need?",
            "buttons": [
                {"title": "Track my order", "payload": "TRACK"},
                {"title": "Size guide", "url": "https://shop.example.com/sizes"},
            ],
            "quickReplies": ["Returns", "Something else"],
        },
    )
    assert reply.status_code == 201, reply.text
    message = visitor.shadow(".cbx-out[data-id]").filter(has_text="What do you need?")
    await expect(message).to_be_visible(timeout=WAIT_MS)
    link = message.get_by_role("link", name="Size guide")
    assert await link.get_attribute("href") == "https://shop.example.com/sizes"
    assert await link.get_attribute("rel") == "noopener noreferrer"
    await visitor.screenshot("choices")

    # The panel was open when the reply came: the agents learn the visitor has read it.
    async def read_at() -> str | None:
        contact = (await admin.get(f"/api/v1/contacts/{session['contactId']}")).json()
        return (contact.get("conversation") or {}).get("contactLastReadAt")

    assert await wait_for(read_at, limit=WAIT_MS / 1000)

    await message.get_by_role("button", name="Returns").click()
    sent = visitor.shadow(".cbx-in[data-id]")
    await expect(sent.filter(has_text="Returns")).to_have_count(1, timeout=WAIT_MS)
    await expect(message.get_by_role("button", name="Something else")).to_have_count(0)  # answered once
    await message.get_by_role("button", name="Track my order").click()  # buttons stay
    await expect(sent.filter(has_text="Track my order")).to_have_count(1, timeout=WAIT_MS)
    stored = await conversation_messages(admin, session["conversationId"])
    incoming = [m["content"] for m in stored if m["direction"] == "incoming"]
    assert incoming == ["Help", "Returns", "Track my order"]
    assert visitor.errors == []


async def test_a_site_with_a_strict_content_security_policy(
    admin: httpx.AsyncClient, site: Site, new_visitor: Any
) -> None:
    """A site that allows only ChatbotX's origin for scripts and connections, and no inline styles: the
    widget still shows, styled, and works (a CSP violation would show in the console, and fail the test)."""
    from playwright.async_api import expect

    channel = await create_webchat(admin, site)
    api = str(admin.base_url).rstrip("/")
    policy = f"default-src 'none'; script-src {api}; connect-src {api}; style-src 'self'; img-src 'self'"
    page = site.page(channel["embedScript"], headers={"Content-Security-Policy": policy}, hostile_css=False)
    visitor = await new_visitor()
    await open_widget(visitor, page)
    bubble = visitor.page.get_by_role("button", name="Close chat").last
    assert await bubble.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(124, 58, 237)"
    await say(visitor, "Hello from a locked-down site")
    session = await stored_session(visitor, channel["inboxIdentifier"])
    assert session is not None
    reply = await admin.post(
        f"/api/v1/conversations/{session['conversationId']}/messages",
        json={"text": "<img src=x onerror=alert(1)> is shown as text"},
    )
    assert reply.status_code == 201, reply.text
    literal = "<img src=x onerror=alert(1)> is shown as text"
    answer = visitor.shadow(".cbx-out[data-id]").filter(has_text=literal)
    await expect(answer).to_be_visible(timeout=WAIT_MS)
    await expect(answer.locator("img")).to_have_count(0)
    await visitor.screenshot("strict-csp")
    assert visitor.errors == []


async def test_a_deleted_visitor_starts_afresh(
    admin: httpx.AsyncClient, site: Site, new_visitor: Any
) -> None:
    """The contact was deleted (say, at the visitor's request): the stored session is forgotten, and writing
    again creates a new contact and conversation."""
    from playwright.async_api import expect

    channel = await create_webchat(admin, site)
    visitor = await new_visitor()
    await open_widget(visitor, site.page(channel["embedScript"]))
    await say(visitor, "Please forget me")
    before = await stored_session(visitor, channel["inboxIdentifier"])
    assert before is not None
    assert (await admin.delete(f"/api/v1/contacts/{before['contactId']}")).status_code == 204

    await visitor.page.reload()
    await expect(visitor.page.get_by_role("dialog", name="Acme support")).to_be_visible(timeout=WAIT_MS)

    async def forgotten() -> bool:
        return ((await stored_session(visitor, channel["inboxIdentifier"])) or {}).get("sourceId") is None

    await wait_for(forgotten, limit=WAIT_MS / 1000)
    await expect(visitor.shadow(".cbx-msg[data-id]")).to_have_count(0)

    await say(visitor, "Hello again")
    after = await stored_session(visitor, channel["inboxIdentifier"])
    assert after is not None
    assert after["contactId"] != before["contactId"]
    assert after["conversationId"] != before["conversationId"]
    stored = await conversation_messages(admin, after["conversationId"])
    assert [m["content"] for m in stored] == ["Hello again"]
    # What the browser saw fail: the old session's requests, and nothing else.
    assert visitor.errors and all(before["sourceId"] in error for error in visitor.errors), visitor.errors


SET_VISIBILITY = """state => {
    Object.defineProperty(document, "visibilityState", {configurable: true, get: () => state});
    document.dispatchEvent(new Event("visibilitychange"));
}"""
TRACK_EVENT_SOURCES = """(() => {
    const Original = window.EventSource;
    window.__sources = [];
    window.EventSource = class extends Original {
        constructor(...args) { super(...args); window.__sources.push(this); }
    };
})()"""


async def test_a_tab_hidden_for_a_minute_lets_its_stream_go_and_catches_up_when_shown(
    admin: httpx.AsyncClient, site: Site, new_visitor: Any
) -> None:
    """Each tab's stream holds one of the browser's 6 connections to the server (HTTP/1.1)."""
    from playwright.async_api import expect

    channel = await create_webchat(admin, site)
    visitor = await new_visitor()
    await visitor.context.add_init_script(TRACK_EVENT_SOURCES)
    await visitor.page.clock.install()
    await open_widget(visitor, site.page(channel["embedScript"]))
    await say(visitor, "I'll be in another tab")
    session = await stored_session(visitor, channel["inboxIdentifier"])
    assert session is not None
    await visitor.page.keyboard.press("Escape")

    await visitor.page.evaluate(SET_VISIBILITY, "hidden")
    await visitor.page.clock.fast_forward("00:59")
    assert await visitor.page.evaluate("window.__sources.map(s => s.readyState)") == [1]  # open still
    await visitor.page.clock.fast_forward("00:02")
    assert await visitor.page.evaluate("window.__sources.map(s => s.readyState)") == [2]  # closed

    reply = await admin.post(
        f"/api/v1/conversations/{session['conversationId']}/messages", json={"text": "Answered meanwhile"}
    )
    assert reply.status_code == 201, reply.text
    await visitor.page.evaluate(SET_VISIBILITY, "visible")
    await expect(visitor.page.get_by_role("button", name="Open chat, 1 unread message")).to_be_visible(
        timeout=WAIT_MS
    )
    assert await visitor.page.evaluate("window.__sources.map(s => s.readyState)") == [2, 1]
    await visitor.page.get_by_role("button", name="Open chat, 1 unread message").click()
    await expect(visitor.shadow(".cbx-out[data-id]").filter(has_text="Answered meanwhile")).to_be_visible()
    assert visitor.errors == []


async def test_a_message_written_offline_is_retried_and_stored_once(
    admin: httpx.AsyncClient, site: Site, new_visitor: Any
) -> None:
    from playwright.async_api import expect

    channel = await create_webchat(admin, site)
    visitor = await new_visitor()
    await open_widget(visitor, site.page(channel["embedScript"]))
    await say(visitor, "First, online")
    session = await stored_session(visitor, channel["inboxIdentifier"])
    assert session is not None

    await visitor.context.set_offline(True)
    box = visitor.page.get_by_role("textbox", name="Your message")
    await box.fill("Second, on a train")
    await box.press("Enter")
    failed = visitor.shadow(".cbx-failed").filter(has_text="Second, on a train")
    await expect(failed).to_contain_text("Not sent.", timeout=WAIT_MS)
    await visitor.screenshot("not-sent")

    await visitor.context.set_offline(False)
    await failed.get_by_role("button", name="Retry").click()
    await expect(visitor.shadow(".cbx-in[data-id]").filter(has_text="Second, on a train")).to_have_count(
        1, timeout=WAIT_MS
    )
    await expect(visitor.shadow(".cbx-failed")).to_have_count(0)
    stored = await conversation_messages(admin, session["conversationId"])
    assert [m["content"] for m in stored] == ["First, online", "Second, on a train"]
    # The stream came back too: an agent's reply still arrives.
    path = f"/api/v1/conversations/{session['conversationId']}/messages"
    reply = await admin.post(path, json={"text": "Got it"})
    assert reply.status_code == 201, reply.text
    await expect(visitor.shadow(".cbx-out[data-id]").filter(has_text="Got it")).to_be_visible(timeout=WAIT_MS)
    # Offline, the page could not reach the server (the browser logs that); no answer was an error.
    assert [e for e in visitor.errors if "ERR_INTERNET_DISCONNECTED" not in e] == [], visitor.errors


async def test_an_unknown_inbox_shows_nothing_and_says_why_in_the_console(
    admin: httpx.AsyncClient, site: Site, new_visitor: Any
) -> None:
    channel = await create_webchat(admin, site)
    wrong = channel["embedScript"].replace(channel["inboxIdentifier"], "no-such-inbox")
    visitor = await new_visitor()
    await visitor.page.goto(site.page(wrong))
    api = site_api({**channel, "inboxIdentifier": "no-such-inbox"})

    async def reported() -> bool:
        return any("could not load inbox no-such-inbox" in error for error in visitor.errors)

    await wait_for(reported, limit=WAIT_MS / 1000)
    assert await visitor.page.locator("#chatbotx-widget").count() == 0
    assert visitor.errors == [
        f"GET {api} -> 404",
        "console error: ChatbotX widget: could not load inbox no-such-inbox: "
        + (await admin.get(api)).json()["message"],
    ]
