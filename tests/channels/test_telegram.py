"""The Telegram adapter against the fake Bot API: connect, verify, parse of every update kind, download, every
send format (asserted on the request bodies the fake received) and every error mapping."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chatbotx.channels import registry
from chatbotx.channels.base import (
    Attachment,
    Button,
    ChannelContext,
    InboundMessage,
    OutboundMessage,
    ProviderError,
    Template,
    WebhookRequest,
)
from chatbotx.channels.telegram import TelegramAdapter
from chatbotx.settings import get_settings
from tests.fakes.telegram import ERRORS, FakeBot, FakeTelegram, FakeUser, serve_fake_telegram

adapter = TelegramAdapter()
PUBLIC_URL = "https://chat.example.com"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeTelegram]:
    with serve_fake_telegram() as fake:
        yield fake


@pytest.fixture
def fake(fake_server: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegram]:
    fake_server.reset()
    monkeypatch.setenv("CHATBOTX_TELEGRAM_API_BASE", fake_server.base_url)
    get_settings.cache_clear()
    yield fake_server
    get_settings.cache_clear()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def bot(fake: FakeTelegram) -> FakeBot:
    return fake.add_bot(username="shop_bot", first_name="Shop")


@pytest.fixture
def user(bot: FakeBot) -> FakeUser:
    return bot.user(23, "Sojan", "Jose", username="sojan")


def context(
    http: httpx.AsyncClient, credentials: dict[str, Any], config: dict[str, Any] | None = None
) -> ChannelContext:
    return ChannelContext(
        inbox_id=42,
        workspace_id=1,
        config=config or {},
        credentials=credentials,
        http=http,
        public_url=PUBLIC_URL,
    )


@pytest.fixture
def ctx(http: httpx.AsyncClient, bot: FakeBot) -> ChannelContext:
    return context(http, {"botToken": bot.token, "webhookSecret": "s3cret-Token_1"})


def request(update: Any, secret: str | None = "s3cret-Token_1") -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-telegram-bot-api-secret-token"] = secret
    return WebhookRequest("POST", headers, {}, json.dumps(update).encode())


def parse_one(ctx: ChannelContext, update: dict[str, Any]) -> InboundMessage:
    events = adapter.parse(ctx, request(update))
    assert len(events) == 1
    assert isinstance(events[0], InboundMessage)
    return events[0]


async def provider_error(coro: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await coro
    return info.value


# ------------------------------------------------------------------------------------------- registry, plan


def test_registered_on_import() -> None:
    assert isinstance(registry.get("telegram"), TelegramAdapter)
    assert TelegramAdapter.window is None


def test_rate_plan() -> None:
    plan = adapter.rate_plan({})
    assert (plan.per_second, plan.per_recipient_per_second, plan.burst) == (30.0, 1.0, 3)
    assert adapter.rate_plan({"messagesPerSecond": 100}).per_second == 100.0
    assert adapter.rate_plan({"messagesPerSecond": 5000}).per_second == 1000.0
    assert adapter.rate_plan({"messagesPerSecond": "x"}).per_second == 30.0


# ------------------------------------------------------------------------------------------- connect


async def test_connect_registers_the_webhook_with_a_secret(
    fake: FakeTelegram, bot: FakeBot, http: httpx.AsyncClient
) -> None:
    ctx = context(http, {"botToken": bot.token})
    config = await adapter.connect(ctx)
    assert config["botId"] == str(bot.id)
    assert config["botUsername"] == "shop_bot"
    assert config["botName"] == "Shop"
    secret = config["webhookSecret"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,256}", secret)
    assert [r.method for r in fake.requests] == ["getMe", "setWebhook"]
    assert fake.requests_for("setWebhook")[0].params == {
        "url": f"{PUBLIC_URL}/webhooks/telegram/42",
        "secret_token": secret,
        "allowed_updates": ["message", "callback_query"],
    }
    info = (await http.get(f"{fake.base_url}/bot{bot.token}/getWebhookInfo")).json()
    assert info["ok"] is True
    assert info["result"]["url"] == f"{PUBLIC_URL}/webhooks/telegram/42"
    assert info["result"]["allowed_updates"] == ["message", "callback_query"]


async def test_connect_again_keeps_the_stored_secret(
    fake: FakeTelegram, bot: FakeBot, http: httpx.AsyncClient
) -> None:
    config = await adapter.connect(context(http, {"botToken": bot.token, "webhookSecret": "kept_secret"}))
    assert config["webhookSecret"] == "kept_secret"
    assert bot.webhook["secret_token"] == "kept_secret"


async def test_connect_with_a_wrong_token(fake: FakeTelegram, http: httpx.AsyncClient) -> None:
    error = await provider_error(adapter.connect(context(http, {"botToken": "123456:wrong"})))
    assert error.code == "TOKEN_INVALID"
    assert "Unauthorized" in error.message
    assert error.provider_code == 401
    assert fake.requests_for("setWebhook") == []


async def test_connect_with_a_malformed_or_missing_token(fake: FakeTelegram, http: httpx.AsyncClient) -> None:
    error = await provider_error(adapter.connect(context(http, {"botToken": "not-a-token"})))
    assert (error.code, error.provider_code) == ("TOKEN_INVALID", 404)
    error = await provider_error(adapter.connect(context(http, {})))
    assert error.code == "TOKEN_INVALID"
    assert "botToken" in error.message


async def test_connect_when_telegram_is_down(
    fake: FakeTelegram, bot: FakeBot, http: httpx.AsyncClient
) -> None:
    fake.fail_next(1, "server_error", methods=("setWebhook",))
    error = await provider_error(adapter.connect(context(http, {"botToken": bot.token})))
    assert (error.code, error.retryable) == ("PROVIDER_UNAVAILABLE", True)


async def test_disconnect_removes_the_webhook(
    fake: FakeTelegram, bot: FakeBot, http: httpx.AsyncClient
) -> None:
    ctx = context(http, {"botToken": bot.token})
    await adapter.connect(ctx)
    await adapter.disconnect(ctx)
    assert bot.webhook["url"] == ""


# ------------------------------------------------------------------------------------------- verify


def test_verify_the_secret_header(ctx: ChannelContext, bot: FakeBot, user: FakeUser) -> None:
    update = bot.text_update(user, "hi")
    assert adapter.verify(ctx, request(update)) is True
    assert adapter.verify(ctx, request(update, "s3cret-Token_2")) is False
    assert adapter.verify(ctx, request(update, "")) is False
    assert adapter.verify(ctx, request(update, None)) is False
    no_secret = context(ctx.http, {"botToken": bot.token})
    assert adapter.verify(no_secret, request(update)) is False
    in_config = context(ctx.http, {"botToken": bot.token}, {"webhookSecret": "s3cret-Token_1"})
    assert adapter.verify(in_config, request(update)) is True


async def test_handshake_is_not_a_thing(ctx: ChannelContext) -> None:
    assert await adapter.handshake(ctx, WebhookRequest("GET", {}, {}, b"")) is None


# ------------------------------------------------------------------------------------------- parse


def test_parse_text(ctx: ChannelContext, bot: FakeBot, user: FakeUser) -> None:
    update = bot.text_update(user, "test")
    message = parse_one(ctx, update)
    assert message.source_id == "23"
    assert message.provider_message_id == f"23:{update['message']['message_id']}"
    assert (message.content_type, message.text, message.attachments) == ("text", "test", [])
    assert (message.profile.first_name, message.profile.last_name) == ("Sojan", "Jose")
    assert (message.profile.username, message.profile.locale) == ("sojan", "en")
    assert message.sent_at is not None and int(message.sent_at.timestamp()) == update["message"]["date"]
    assert message.attributes["chatType"] == "private"


def test_parse_the_reference_fixture(ctx: ChannelContext) -> None:
    update = {
        "update_id": 2342342343242,
        "message": {
            "message_id": 1,
            "from": {
                "id": 23,
                "is_bot": False,
                "first_name": "Sojan",
                "last_name": "Jose",
                "username": "sojan",
                "language_code": "en",
            },
            "chat": {
                "id": 23,
                "first_name": "Sojan",
                "last_name": "Jose",
                "username": "sojan",
                "type": "private",
            },
            "date": 1631132077,
            "text": "test",
        },
    }
    message = parse_one(ctx, update)
    assert (message.source_id, message.provider_message_id, message.text) == ("23", "23:1", "test")
    assert message.sent_at is not None and message.sent_at.isoformat() == "2021-09-08T20:14:37+00:00"


def test_parse_a_reply(ctx: ChannelContext, bot: FakeBot, user: FakeUser) -> None:
    message = parse_one(ctx, bot.text_update(user, "yes that", reply_to=7))
    assert message.attributes["replyTo"] == "23:7"


def test_parse_a_group_message(ctx: ChannelContext, bot: FakeBot, user: FakeUser) -> None:
    update = bot.text_update(user, "hello group")
    update["message"]["chat"] = {"id": -1001234567890, "title": "Team", "type": "supergroup"}
    message = parse_one(ctx, update)
    assert message.source_id == "-1001234567890"
    assert message.provider_message_id.startswith("-1001234567890:")
    assert message.profile.first_name == "Sojan"  # the sender, not the group
    assert message.attributes["chatType"] == "supergroup"


def test_parse_photo_keeps_the_largest_size(ctx: ChannelContext, bot: FakeBot, user: FakeUser) -> None:
    update = bot.photo_update(user, b"\xff\xd8\xff\xe0 a photo", caption="Receipt")
    message = parse_one(ctx, update)
    assert (message.content_type, message.text) == ("image", "Receipt")
    [attachment] = message.attachments
    assert attachment.kind == "image"
    assert attachment.provider_file_id == update["message"]["photo"][-1]["file_id"]
    assert (attachment.mime_type, attachment.caption, attachment.size) == ("image/jpeg", "Receipt", 12)


def test_parse_document(ctx: ChannelContext, bot: FakeBot, user: FakeUser) -> None:
    update = bot.document_update(user, b"%PDF-1.4", "invoice.pdf", "application/pdf")
    message = parse_one(ctx, update)
    assert (message.content_type, message.text) == ("file", None)
    [attachment] = message.attachments
    assert (attachment.kind, attachment.filename, attachment.mime_type, attachment.size) == (
        "file",
        "invoice.pdf",
        "application/pdf",
        8,
    )
    assert attachment.provider_file_id == update["message"]["document"]["file_id"]


@pytest.mark.parametrize(
    ("builder", "content_type", "mime"),
    [
        ("video_update", "video", "video/mp4"),
        ("voice_update", "audio", "audio/ogg"),
        ("audio_update", "audio", "audio/mpeg"),
        ("sticker_update", "sticker", "image/webp"),
    ],
)
def test_parse_other_media(
    ctx: ChannelContext, bot: FakeBot, user: FakeUser, builder: str, content_type: str, mime: str
) -> None:
    update = getattr(bot, builder)(user)
    message = parse_one(ctx, update)
    assert message.content_type == content_type
    [attachment] = message.attachments
    assert (attachment.kind, attachment.mime_type) == (content_type, mime)
    key = next(k for k in ("video", "voice", "audio", "sticker") if k in update["message"])
    assert attachment.provider_file_id == update["message"][key]["file_id"]
    if builder == "sticker_update":
        assert message.text == "\U0001f44d"  # the sticker's emoji
    if builder == "audio_update":
        assert attachment.filename == "song.mp3"


def test_parse_an_animated_gif_as_video(ctx: ChannelContext, bot: FakeBot, user: FakeUser) -> None:
    update = bot.document_update(user, b"gif", "dance.mp4", "video/mp4")
    update["message"]["animation"] = dict(update["message"]["document"])  # Telegram sends both
    message = parse_one(ctx, update)
    assert message.content_type == "video"


def test_parse_location_and_venue(ctx: ChannelContext, bot: FakeBot, user: FakeUser) -> None:
    message = parse_one(ctx, bot.location_update(user, 52.52, 13.405))
    assert message.content_type == "location"
    assert message.attributes["location"] == {
        "latitude": 52.52,
        "longitude": 13.405,
        "name": None,
        "address": None,
    }
    venue = {"title": "Brandenburg Gate", "address": "Pariser Platz"}
    message = parse_one(ctx, bot.location_update(user, 52.5163, 13.3777, venue))
    assert message.attributes["location"] == {
        "latitude": 52.5163,
        "longitude": 13.3777,
        "name": "Brandenburg Gate",
        "address": "Pariser Platz",
    }


def test_parse_contact(ctx: ChannelContext, bot: FakeBot, user: FakeUser) -> None:
    message = parse_one(ctx, bot.contact_update(user, "+4915112345678", "Ada", "Lovelace", user_id=99))
    assert (message.content_type, message.text) == ("contact", "Ada Lovelace")
    assert message.attributes["contacts"] == [
        {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "phoneNumber": "+4915112345678",
            "userId": "99",
            "vcard": None,
        }
    ]


def test_parse_callback_query(ctx: ChannelContext, bot: FakeBot, user: FakeUser) -> None:
    update = bot.callback_update(user, "opt_yes", message_id=42, title="Yes")
    message = parse_one(ctx, update)
    assert message.content_type == "button"
    assert message.source_id == "23"
    assert message.provider_message_id == f"callback:{update['callback_query']['id']}"
    assert message.text == "Yes"
    assert message.attributes["payload"] == "opt_yes"
    assert message.attributes["callbackQueryId"] == update["callback_query"]["id"]
    assert message.attributes["replyTo"] == "23:42"
    assert message.profile.first_name == "Sojan"


def test_parse_skips_what_is_not_a_new_message(ctx: ChannelContext, bot: FakeBot, user: FakeUser) -> None:
    assert adapter.parse(ctx, request(bot.edited_update(user, 1, "fixed typo"))) == []
    kicked = {
        "update_id": 5,
        "my_chat_member": {
            "chat": user.as_private_chat(),
            "from": user.as_user(),
            "date": 1,
            "old_chat_member": {"user": bot.as_user(), "status": "member"},
            "new_chat_member": {"user": bot.as_user(), "status": "kicked", "until_date": 0},
        },
    }
    assert adapter.parse(ctx, request(kicked)) == []
    service = bot.text_update(user, "x")
    del service["message"]["text"]
    service["message"]["new_chat_title"] = "Renamed"
    assert parse_one(ctx, service).content_type == "unsupported"
    assert adapter.parse(ctx, WebhookRequest("POST", {}, {}, b"not json")) == []
    assert adapter.parse(ctx, request([1, 2])) == []


# ------------------------------------------------------------------------------------------- download, ack


async def test_download(fake: FakeTelegram, ctx: ChannelContext, bot: FakeBot, user: FakeUser) -> None:
    message = parse_one(ctx, bot.photo_update(user, b"\xff\xd8\xff\xe0 pixels"))
    content, mime = await adapter.download(ctx, message.attachments[0])
    assert (content, mime) == (b"\xff\xd8\xff\xe0 pixels", "image/jpeg")
    [get_file] = fake.requests_for("getFile")
    assert get_file.params == {"file_id": message.attachments[0].provider_file_id}
    [download] = fake.requests_for("file")
    assert download.token == bot.token and download.params["path"].startswith("photos/")


async def test_download_takes_the_mime_type_from_the_server(
    ctx: ChannelContext, bot: FakeBot, user: FakeUser
) -> None:
    message = parse_one(ctx, bot.document_update(user, b"PK zip", "a.zip", "application/zip"))
    attachment = message.attachments[0]
    attachment.mime_type = None
    assert await adapter.download(ctx, attachment) == (b"PK zip", "application/zip")


async def test_download_of_an_unknown_file(ctx: ChannelContext) -> None:
    error = await provider_error(adapter.download(ctx, Attachment(kind="image", provider_file_id="nope")))
    assert (error.code, error.message) == ("INVALID_MESSAGE", "Bad Request: invalid file_id")


async def test_acknowledge_answers_the_callback_query(
    fake: FakeTelegram, ctx: ChannelContext, bot: FakeBot, user: FakeUser
) -> None:
    message = parse_one(ctx, bot.callback_update(user, "opt_yes"))
    await adapter.acknowledge(ctx, message)
    assert bot.answered == [{"callback_query_id": message.attributes["callbackQueryId"]}]
    await adapter.acknowledge(ctx, message)  # too old / already answered: logged, never raised
    assert len(fake.requests_for("answerCallbackQuery")) == 2
    await adapter.acknowledge(ctx, parse_one(ctx, bot.text_update(user, "hi")))
    assert len(fake.requests_for("answerCallbackQuery")) == 2


# ------------------------------------------------------------------------------------------- send


def out(**kw: Any) -> OutboundMessage:
    return OutboundMessage(message_id=1, recipient="23", **kw)


async def test_send_text(fake: FakeTelegram, ctx: ChannelContext, user: FakeUser) -> None:
    result = await adapter.send(ctx, out(text="Hello <b>there</b>"))
    [sent] = fake.sent()
    assert sent.method == "sendMessage"
    assert sent.content_type == "application/json"
    assert sent.params == {"chat_id": 23, "text": "Hello <b>there</b>"}  # no parse_mode: sent as typed
    assert result.provider_message_id == "23:1"
    await adapter.send(ctx, out(text="again"))
    assert fake.sent()[-1].params["text"] == "again"


async def test_send_buttons_as_an_inline_keyboard(
    fake: FakeTelegram, ctx: ChannelContext, user: FakeUser
) -> None:
    buttons = [Button("Yes", payload="opt_yes"), Button("No"), Button("Docs", url="https://example.com/docs")]
    await adapter.send(ctx, out(text="Pick one", buttons=buttons))
    [sent] = fake.sent()
    assert sent.params == {
        "chat_id": 23,
        "text": "Pick one",
        "reply_markup": {
            "inline_keyboard": [
                [{"text": "Yes", "callback_data": "opt_yes"}],
                [{"text": "No", "callback_data": "No"}],
                [{"text": "Docs", "url": "https://example.com/docs"}],
            ]
        },
    }


async def test_send_refuses_callback_data_over_64_bytes(
    fake: FakeTelegram, ctx: ChannelContext, user: FakeUser
) -> None:
    await adapter.send(ctx, out(text="ok", buttons=[Button("Max", payload="é" * 32)]))  # 64 bytes
    error = await provider_error(
        adapter.send(ctx, out(text="Pick", buttons=[Button("Too long", payload="é" * 33)]))
    )
    assert (error.code, error.retryable) == ("INVALID_MESSAGE", False)
    assert "64 bytes" in error.message
    assert len(fake.requests) == 1


async def test_send_quick_replies_as_a_one_time_keyboard(
    fake: FakeTelegram, ctx: ChannelContext, user: FakeUser
) -> None:
    replies = [Button(t) for t in ("Red", "Green", "Blue", "Other")]
    await adapter.send(ctx, out(text="Colour?", quick_replies=replies))
    [sent] = fake.sent()
    assert sent.params == {
        "chat_id": 23,
        "text": "Colour?",
        "reply_markup": {
            "keyboard": [[{"text": "Red"}, {"text": "Green"}, {"text": "Blue"}], [{"text": "Other"}]],
            "one_time_keyboard": True,
            "resize_keyboard": True,
        },
    }


async def test_send_an_image_with_the_text_as_caption(
    fake: FakeTelegram, ctx: ChannelContext, user: FakeUser
) -> None:
    image = Attachment(kind="image", url="https://example.com/a.jpg")
    result = await adapter.send(ctx, out(text="Receipt", attachments=[image], buttons=[Button("Ok", "ok")]))
    [sent] = fake.sent()
    assert sent.method == "sendPhoto"
    assert sent.params == {
        "chat_id": 23,
        "photo": "https://example.com/a.jpg",
        "caption": "Receipt",
        "reply_markup": {"inline_keyboard": [[{"text": "Ok", "callback_data": "ok"}]]},
    }
    assert result.provider_message_id == "23:1"


@pytest.mark.parametrize(
    ("kind", "method", "field"),
    [
        ("file", "sendDocument", "document"),
        ("video", "sendVideo", "video"),
        ("audio", "sendAudio", "audio"),
    ],
)
async def test_send_media_by_url(
    fake: FakeTelegram, ctx: ChannelContext, user: FakeUser, kind: Any, method: str, field: str
) -> None:
    attachment = Attachment(kind=kind, url="https://example.com/x.bin", caption="Invoice")
    await adapter.send(ctx, out(attachments=[attachment]))
    [sent] = fake.sent()
    assert sent.method == method
    assert sent.params == {"chat_id": 23, field: "https://example.com/x.bin", "caption": "Invoice"}


async def test_send_several_attachments_then_the_text(
    fake: FakeTelegram, ctx: ChannelContext, bot: FakeBot, user: FakeUser
) -> None:
    known = fake.add_file(b"webp", "image/webp", "stickers")
    attachments = [
        Attachment(kind="image", url="https://example.com/1.jpg", caption="one"),
        Attachment(kind="sticker", provider_file_id=known.file_id),
    ]
    result = await adapter.send(
        ctx, out(text="Here you go", attachments=attachments, quick_replies=[Button("Thanks")])
    )
    assert [(r.method, r.params) for r in fake.sent()] == [
        ("sendPhoto", {"chat_id": 23, "photo": "https://example.com/1.jpg", "caption": "one"}),
        ("sendSticker", {"chat_id": 23, "sticker": known.file_id}),
        (
            "sendMessage",
            {
                "chat_id": 23,
                "text": "Here you go",
                "reply_markup": {
                    "keyboard": [[{"text": "Thanks"}]],
                    "one_time_keyboard": True,
                    "resize_keyboard": True,
                },
            },
        ),
    ]
    assert result.provider_message_id == "23:1"  # the first message of the send


async def test_send_uploads_a_local_file(
    fake: FakeTelegram, ctx: ChannelContext, user: FakeUser, tmp_path: Path
) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.7 the report")
    await adapter.send(ctx, out(text="Report", attachments=[Attachment(kind="file", url=path.as_uri())]))
    [sent] = fake.sent()
    assert sent.method == "sendDocument"
    assert sent.content_type.startswith("multipart/form-data")
    assert sent.params == {"chat_id": "23", "caption": "Report"}
    upload = sent.files["document"]
    assert (upload["filename"], upload["contentType"], upload["content"]) == (
        "report.pdf",
        "application/pdf",
        b"%PDF-1.7 the report",
    )


async def test_send_long_text_is_not_a_caption(
    fake: FakeTelegram, ctx: ChannelContext, user: FakeUser
) -> None:
    text = "x" * 1500
    await adapter.send(ctx, out(text=text, attachments=[Attachment(kind="image", url="https://e.com/a.png")]))
    assert [(r.method, r.params.get("caption")) for r in fake.sent()] == [
        ("sendPhoto", None),
        ("sendMessage", None),
    ]
    assert fake.sent()[1].params["text"] == text


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        (out(), "Nothing to send"),
        (out(text="x" * 4097), "4096"),
        (out(text="hi", template=Template("order", "en")), "templates"),
        (out(attachments=[Attachment(kind="image")]), "URL"),
    ],
)
async def test_send_refuses_what_telegram_cannot_take(
    fake: FakeTelegram, ctx: ChannelContext, message: OutboundMessage, needle: str
) -> None:
    error = await provider_error(adapter.send(ctx, message))
    assert error.code == "INVALID_MESSAGE"
    assert needle in error.message
    assert fake.requests == []


@pytest.mark.parametrize(
    ("name", "code", "retryable", "retry_after"),
    [
        ("rate_limited", "RATE_LIMITED", True, 3.0),
        ("blocked", "BLOCKED_BY_USER", False, None),
        ("deactivated", "INVALID_RECIPIENT", False, None),
        ("unauthorized", "TOKEN_INVALID", False, None),
        ("chat_not_found", "INVALID_RECIPIENT", False, None),
        ("server_error", "PROVIDER_UNAVAILABLE", True, None),
    ],
)
async def test_send_error_mapping(
    fake: FakeTelegram,
    ctx: ChannelContext,
    user: FakeUser,
    name: str,
    code: str,
    retryable: bool,
    retry_after: float | None,
) -> None:
    fake.fail_next(1, name)
    error = await provider_error(adapter.send(ctx, out(text="hi")))
    assert (error.code, error.retryable, error.retry_after) == (code, retryable, retry_after)
    assert error.message == ERRORS[name][1]["description"]
    assert error.provider_code == ERRORS[name][0]
    await adapter.send(ctx, out(text="hi"))  # only the next call failed
    assert len(fake.sent()) == 1


async def test_send_errors_from_the_fake_state(
    fake: FakeTelegram, ctx: ChannelContext, bot: FakeBot, user: FakeUser
) -> None:
    error = await provider_error(adapter.send(ctx, OutboundMessage(message_id=1, recipient="777", text="hi")))
    assert (error.code, error.message) == ("INVALID_RECIPIENT", "Bad Request: chat not found")
    bot.block(23)
    error = await provider_error(adapter.send(ctx, out(text="hi")))
    assert (error.code, error.message) == ("BLOCKED_BY_USER", "Forbidden: bot was blocked by the user")
    error = await provider_error(adapter.send(context(ctx.http, {"botToken": "1:revoked"}), out(text="hi")))
    assert error.code == "TOKEN_INVALID"


async def test_send_migrated_group_and_other_bad_requests(
    fake: FakeTelegram, ctx: ChannelContext, user: FakeUser
) -> None:
    migrated = {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": -1001234567890},
    }
    fake.fail_next(1, (400, migrated))
    assert (await provider_error(adapter.send(ctx, out(text="hi")))).code == "INVALID_RECIPIENT"
    fake.fail_next(
        1, (400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"})
    )
    assert (await provider_error(adapter.send(ctx, out(text="hi")))).code == "INVALID_MESSAGE"
    fake.fail_next(
        1, (409, {"ok": False, "error_code": 409, "description": "Conflict: terminated by other getUpdates"})
    )
    assert (await provider_error(adapter.send(ctx, out(text="hi")))).code == "PROVIDER_ERROR"


async def test_send_when_telegram_is_unreachable(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATBOTX_TELEGRAM_API_BASE", "http://127.0.0.1:9")  # discard port: nothing listens
    get_settings.cache_clear()
    try:
        error = await provider_error(adapter.send(context(http, {"botToken": "1:x"}), out(text="hi")))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert (error.code, error.retryable) == ("PROVIDER_UNAVAILABLE", True)


# ------------------------------------------------------------------------------------------- the fake itself


async def test_fake_accepts_form_encoded_calls(fake: FakeTelegram, bot: FakeBot, user: FakeUser) -> None:
    markup = json.dumps({"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]})
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{fake.base_url}/bot{bot.token}/sendmessage",
            data={"chat_id": "23", "text": "hi", "reply_markup": markup},
        )
    body = response.json()
    assert body["ok"] is True
    assert body["result"]["chat"] == user.as_private_chat()
    assert body["result"]["from"] == bot.as_user()
    assert body["result"]["reply_markup"] == json.loads(markup)
    assert fake.requests[-1].params["reply_markup"] == json.loads(markup)


async def test_fake_delivers_updates_with_the_registered_secret(
    fake: FakeTelegram, bot: FakeBot, user: FakeUser, ctx: ChannelContext
) -> None:
    received: list[tuple[dict[str, str], Any]] = []

    async def webhook(request: Request) -> JSONResponse:
        received.append((dict(request.headers), await request.json()))
        return JSONResponse({})

    app = Starlette(routes=[Route("/webhooks/telegram/42", webhook, methods=["POST"])])
    await adapter.connect(context(ctx.http, {"botToken": bot.token, "webhookSecret": "abc"}))
    update = bot.text_update(user, "hi")
    response = await fake.deliver(bot, update, app=app)
    assert response.status_code == 200
    await fake.deliver(bot, update, app=app, secret="forged")
    await fake.deliver(bot, update, app=app, secret=None)
    assert [h.get("x-telegram-bot-api-secret-token") for h, _ in received] == ["abc", "forged", None]
    assert received[0][1] == update
    assert received[0][0]["content-type"] == "application/json"


async def test_sender_action_typing(ctx: ChannelContext, fake: FakeTelegram, user: FakeUser) -> None:
    await adapter.sender_action(ctx, str(user.id), "typing_on")
    await adapter.sender_action(ctx, str(user.id), "typing_off")  # Telegram has no "off": nothing is called
    await adapter.sender_action(ctx, str(user.id), "mark_seen")
    [action] = fake.requests_for("sendChatAction")
    assert action.status == 200 and action.params == {"chat_id": str(user.id), "action": "typing"}
