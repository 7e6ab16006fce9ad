"""A fake Telegram Bot API server: the real paths, parameter encodings, success and error bodies, file
downloads, plus builders of real-shaped Updates delivered with the X-Telegram-Bot-Api-Secret-Token header.

    with serve_fake_telegram() as fake:           # uvicorn on a free 127.0.0.1 port, in a thread
        bot = fake.add_bot("123:ABC", username="shop_bot")
        user = bot.user(23, "Sojan", "Jose")      # a user who started the bot (their private chat exists)
        await fake.deliver(bot, bot.text_update(user, "hi"), client=app_client)
        fake.fail_next(1, "rate_limited")          # the next send answers 429 retry_after
        fake.requests_for("sendMessage")[-1].params

Formats: reference/channels.md section 1 (and the Bot API's documented Message/User/Chat/File objects).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.serving import serve_asgi

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
REGISTERED = object()  # deliver(): use the secret the bot registered with setWebhook
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_JSON_PARAMS = {"reply_markup", "allowed_updates", "entities", "caption_entities", "link_preview_options"}

# Error bodies exactly as the Bot API sends them; fail_next() takes one of these names or (status, body).
ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "rate_limited": (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        },
    ),
    "blocked": (
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    ),
    "deactivated": (403, {"ok": False, "error_code": 403, "description": "Forbidden: user is deactivated"}),
    "unauthorized": (401, {"ok": False, "error_code": 401, "description": "Unauthorized"}),
    "chat_not_found": (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}),
    "server_error": (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
}
CHAT_ACTIONS = (
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
)
SEND_METHODS = (
    "sendmessage",
    "sendphoto",
    "senddocument",
    "sendvideo",
    "sendaudio",
    "sendsticker",
    "sendvoice",
)
MEDIA_FIELDS = {
    "sendphoto": "photo",
    "senddocument": "document",
    "sendvideo": "video",
    "sendaudio": "audio",
    "sendsticker": "sticker",
    "sendvoice": "voice",
}


def _error(status: int, description: str, **parameters: Any) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return status, body


@dataclasses.dataclass
class Recorded:
    """One request the fake received."""

    method: str  # the Bot API method as sent (case kept), or "file" for downloads
    token: str
    params: dict[str, Any]  # query + body parameters (JSON-in-form values decoded)
    content_type: str
    body: bytes
    files: dict[str, dict[str, Any]]  # multipart uploads: field -> {filename, contentType, size, content}
    at: float  # time.time() when received
    status: int = 200


@dataclasses.dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    mime_type: str


@dataclasses.dataclass
class FakeUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"

    def as_user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                user[key] = getattr(self, key)
        return user

    def as_private_chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "first_name": self.first_name}
        if self.last_name is not None:
            chat["last_name"] = self.last_name
        if self.username is not None:
            chat["username"] = self.username
        chat["type"] = "private"
        return chat


class FakeBot:
    """One bot: its identity, webhook registration, chats, message ids and open callback queries."""

    def __init__(self, fake: FakeTelegram, token: str, bot_id: int, username: str, first_name: str):
        self.fake = fake
        self.token = token
        self.id = bot_id
        self.username = username
        self.first_name = first_name
        self.webhook: dict[str, Any] = {"url": ""}
        self.chats: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.callback_queries: dict[str, int] = {}  # open query id -> chat id
        self.answered: list[dict[str, Any]] = []
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._update_ids = itertools.count(700_000_001)

    def as_user(self) -> dict[str, Any]:
        return {"id": self.id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    def next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def user(
        self, user_id: int, first_name: str = "Sojan", last_name: str | None = "Jose", **kw: Any
    ) -> FakeUser:
        """A user who has started the bot: their private chat exists (sends to it succeed)."""
        user = FakeUser(user_id, first_name, last_name, kw.get("username"), kw.get("language_code", "en"))
        self.chats[user_id] = user.as_private_chat()
        return user

    def block(self, chat_id: int) -> None:
        """The user blocks the bot: every later send to them answers 403."""
        self.blocked.add(chat_id)

    # ------------------------------------------------------------------------------ updates (inbound)

    def _update(self, **content: Any) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), **content}

    def _message(self, user: FakeUser, **content: Any) -> dict[str, Any]:
        self.chats.setdefault(user.id, user.as_private_chat())
        return {
            "message_id": self.next_message_id(user.id),
            "from": user.as_user(),
            "chat": user.as_private_chat(),
            "date": int(time.time()),
            **content,
        }

    def text_update(self, user: FakeUser, text: str, *, reply_to: int | None = None) -> dict[str, Any]:
        message = self._message(user, text=text)
        if reply_to is not None:
            message["reply_to_message"] = {
                "message_id": reply_to,
                "from": self.as_user(),
                "chat": user.as_private_chat(),
                "date": int(time.time()) - 60,
                "text": "earlier",
            }
        return self._update(message=message)

    def edited_update(self, user: FakeUser, message_id: int, text: str) -> dict[str, Any]:
        message = {
            "message_id": message_id,
            "from": user.as_user(),
            "chat": user.as_private_chat(),
            "date": int(time.time()) - 30,
            "edit_date": int(time.time()),
            "text": text,
        }
        return self._update(edited_message=message)

    def photo_update(
        self, user: FakeUser, content: bytes = b"\xff\xd8\xff\xe0fake-jpeg", caption: str | None = None
    ) -> dict[str, Any]:
        small = self.fake.add_file(content[:4], "image/jpeg", "photos")
        large = self.fake.add_file(content, "image/jpeg", "photos")
        sizes = [
            {
                "file_id": small.file_id,
                "file_unique_id": small.file_unique_id,
                "file_size": 4,
                "width": 90,
                "height": 67,
            },
            {
                "file_id": large.file_id,
                "file_unique_id": large.file_unique_id,
                "file_size": len(content),
                "width": 800,
                "height": 600,
            },
        ]
        extra = {"caption": caption} if caption is not None else {}
        return self._update(message=self._message(user, photo=sizes, **extra))

    def _media_update(
        self, user: FakeUser, key: str, stored: StoredFile, fields: dict[str, Any], caption: str | None
    ) -> dict[str, Any]:
        media = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, **fields}
        media["file_size"] = len(stored.content)
        extra = {"caption": caption} if caption is not None else {}
        return self._update(message=self._message(user, **{key: media}, **extra))

    def document_update(
        self,
        user: FakeUser,
        content: bytes = b"%PDF-1.4 fake",
        file_name: str = "invoice.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
    ) -> dict[str, Any]:
        stored = self.fake.add_file(content, mime_type, "documents", file_name)
        return self._media_update(
            user, "document", stored, {"file_name": file_name, "mime_type": mime_type}, caption
        )

    def video_update(
        self, user: FakeUser, content: bytes = b"fake-mp4", caption: str | None = None
    ) -> dict[str, Any]:
        stored = self.fake.add_file(content, "video/mp4", "videos")
        fields = {"width": 640, "height": 360, "duration": 5, "mime_type": "video/mp4"}
        return self._media_update(user, "video", stored, fields, caption)

    def voice_update(self, user: FakeUser, content: bytes = b"OggS fake") -> dict[str, Any]:
        stored = self.fake.add_file(content, "audio/ogg", "voice")
        return self._media_update(user, "voice", stored, {"duration": 2, "mime_type": "audio/ogg"}, None)

    def audio_update(self, user: FakeUser, content: bytes = b"ID3 fake") -> dict[str, Any]:
        stored = self.fake.add_file(content, "audio/mpeg", "music", "song.mp3")
        fields = {
            "duration": 180,
            "performer": "Band",
            "title": "Song",
            "file_name": "song.mp3",
            "mime_type": "audio/mpeg",
        }
        return self._media_update(user, "audio", stored, fields, None)

    def sticker_update(self, user: FakeUser, content: bytes = b"RIFF fake webp") -> dict[str, Any]:
        stored = self.fake.add_file(content, "image/webp", "stickers")
        fields = {
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "\U0001f44d",
            "set_name": "SomeSet",
        }
        return self._media_update(user, "sticker", stored, fields, None)

    def location_update(
        self, user: FakeUser, latitude: float, longitude: float, venue: dict[str, str] | None = None
    ) -> dict[str, Any]:
        location = {"latitude": latitude, "longitude": longitude}
        extra: dict[str, Any] = {}
        if venue is not None:
            extra["venue"] = {"location": location, **venue}
        return self._update(message=self._message(user, location=location, **extra))

    def contact_update(
        self,
        user: FakeUser,
        phone_number: str,
        first_name: str,
        last_name: str | None = None,
        user_id: int | None = None,
    ) -> dict[str, Any]:
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
        if last_name is not None:
            contact["last_name"] = last_name
        if user_id is not None:
            contact["user_id"] = user_id
        return self._update(message=self._message(user, contact=contact))

    def callback_update(
        self, user: FakeUser, data: str, *, message_id: int | None = None, title: str = "Yes"
    ) -> dict[str, Any]:
        """A tap on an inline button of a bot message (`message_id`, or a fresh one) carrying `data`."""
        query_id = str(secrets.randbelow(10**18))
        self.callback_queries[query_id] = user.id
        message = {
            "message_id": message_id if message_id is not None else self.next_message_id(user.id),
            "from": self.as_user(),
            "chat": user.as_private_chat(),
            "date": int(time.time()) - 10,
            "text": "Pick one",
            "reply_markup": {"inline_keyboard": [[{"text": title, "callback_data": data}]]},
        }
        query = {
            "id": query_id,
            "from": user.as_user(),
            "message": message,
            "chat_instance": "-8261849316549912345",
            "data": data,
        }
        return self._update(callback_query=query)


class FakeTelegram:
    """The fake Bot API: bots by token, stored files, recorded requests, scripted failures."""

    def __init__(self) -> None:
        self.base_url = ""  # set by serve_fake_telegram
        self.bots: dict[str, FakeBot] = {}
        self.files: dict[str, StoredFile] = {}
        self.requests: list[Recorded] = []
        self._failures: list[tuple[int, dict[str, Any], tuple[str, ...]]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._api, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
            ]
        )

    # ------------------------------------------------------------------------------ test controls

    def reset(self) -> None:
        with self._lock:
            self.bots.clear()
            self.files.clear()
            self.requests.clear()
            self._failures.clear()

    def add_bot(
        self, token: str | None = None, *, username: str = "chatbotx_test_bot", first_name: str = "Shop"
    ) -> FakeBot:
        bot_id = 6_000_000_000 + next(self._ids)
        token = token or f"{bot_id}:AAH{secrets.token_urlsafe(24)}"
        bot = FakeBot(self, token, bot_id, username, first_name)
        self.bots[token] = bot
        return bot

    def add_file(self, content: bytes, mime_type: str, folder: str, name: str | None = None) -> StoredFile:
        n = next(self._ids)
        extension = (name or "").rsplit(".", 1)[-1] if name and "." in name else mime_type.split("/")[-1]
        stored = StoredFile(
            file_id=f"AgACAgUAAxkBAAI{n:06d}{secrets.token_urlsafe(18)}",
            file_unique_id=f"AQAD{n:06d}",
            file_path=f"{folder}/file_{n}.{extension}",
            content=content,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        return stored

    def fail_next(
        self, count: int, error: str | tuple[int, dict[str, Any]], *, methods: tuple[str, ...] = SEND_METHODS
    ) -> None:
        """The next `count` calls of `methods` (case-insensitive; default: the sends) answer `error`."""
        status, body = ERRORS[error] if isinstance(error, str) else error
        with self._lock:
            self._failures.extend([(status, body, tuple(m.lower() for m in methods))] * count)

    def requests_for(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.method.lower() == method.lower()]

    def sent(self) -> list[Recorded]:
        """The successful send* calls, in order."""
        return [r for r in self.requests if r.method.lower() in SEND_METHODS and r.status == 200]

    async def deliver(
        self,
        bot: FakeBot,
        update: dict[str, Any],
        *,
        client: httpx.AsyncClient | None = None,
        app: Any = None,
        url: str | None = None,
        secret: str | object | None = REGISTERED,
    ) -> httpx.Response:
        """POST `update` as Telegram does: to the registered webhook URL (or `url`) with the registered secret
        (or `secret`; None sends no header). `client` or `app` (ASGI) route it in-process."""
        target = url or bot.webhook.get("url")
        if not target:
            raise RuntimeError("no webhook is registered for this bot (and no url given)")
        token = bot.webhook.get("secret_token") if secret is REGISTERED else secret
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers[SECRET_HEADER] = str(token)
        body = json.dumps(update).encode()
        if client is not None:
            return await client.post(target, content=body, headers=headers)
        transport = httpx.ASGITransport(app=app) if app is not None else None
        async with httpx.AsyncClient(transport=transport, timeout=30) as own:
            return await own.post(target, content=body, headers=headers)

    # ------------------------------------------------------------------------------ HTTP

    async def _read_params(self, request: Request) -> tuple[dict[str, Any], dict[str, dict[str, Any]], bytes]:
        params: dict[str, Any] = dict(request.query_params)
        files: dict[str, dict[str, Any]] = {}
        body = await request.body()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json" and body:
            loaded = json.loads(body)
            if isinstance(loaded, dict):
                params.update(loaded)
        elif content_type == "application/x-www-form-urlencoded":
            params.update(dict(parse_qsl(body.decode(), keep_blank_values=True)))
        elif content_type == "multipart/form-data":
            form = await request.form()
            for key, value in form.multi_items():
                if isinstance(value, str):
                    params[key] = value
                else:
                    content = await value.read()
                    files[key] = {
                        "filename": value.filename,
                        "contentType": value.content_type,
                        "size": len(content),
                        "content": content,
                    }
        for key in _JSON_PARAMS & params.keys():
            if isinstance(params[key], str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(params[key])
        return params, files, body

    async def _api(self, request: Request) -> Response:
        token = request.path_params["token"]
        method = request.path_params["method"]
        params, files, body = await self._read_params(request)
        record = Recorded(
            method, token, params, request.headers.get("content-type", ""), body, files, time.time()
        )
        self.requests.append(record)
        status, payload = self._answer(token, method.lower(), params, files)
        record.status = status
        return JSONResponse(payload, status_code=status)

    def _scripted_failure(self, method: str) -> tuple[int, dict[str, Any]] | None:
        with self._lock:
            for index, (status, body, methods) in enumerate(self._failures):
                if method in methods:
                    del self._failures[index]
                    return status, body
        return None

    def _answer(
        self, token: str, method: str, params: dict[str, Any], files: dict[str, dict[str, Any]]
    ) -> tuple[int, dict[str, Any]]:
        if ":" not in token:
            return _error(404, "Not Found")
        bot = self.bots.get(token)
        if bot is None:
            return ERRORS["unauthorized"]
        failure = self._scripted_failure(method)
        if failure is not None:
            return failure
        handler = getattr(self, f"_m_{method}", None)
        if method in SEND_METHODS:
            outcome = self._send(bot, method, params, files)
        elif handler is not None:
            outcome = handler(bot, params)
        else:
            return _error(404, "Not Found: method not found")
        if isinstance(outcome, tuple):
            return outcome
        return 200, {"ok": True, "result": outcome}

    def _m_sendchataction(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        if not params.get("chat_id"):
            return _error(400, 'Bad Request: parameter "chat_id" is required')
        if params.get("action") not in CHAT_ACTIONS:
            return _error(400, "Bad Request: wrong parameter action in request")
        return True

    def _m_getme(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        return {
            **bot.as_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_setwebhook(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        url = params.get("url")
        if url is None:
            return _error(400, 'Bad Request: parameter "url" is required')
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.match(str(secret)):
            return _error(400, "Bad Request: secret token contains unallowed characters")
        if url and not str(url).startswith(("http://", "https://")):
            return _error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        bot.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": params.get("allowed_updates"),
            "max_connections": int(params.get("max_connections", 40)),
        }
        return True

    def _m_deletewebhook(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        bot.webhook = {"url": ""}
        return True

    def _m_getwebhookinfo(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        info: dict[str, Any] = {
            "url": bot.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }
        if bot.webhook.get("url"):
            info["max_connections"] = bot.webhook.get("max_connections", 40)
            info["ip_address"] = "127.0.0.1"
            if bot.webhook.get("allowed_updates") is not None:
                info["allowed_updates"] = bot.webhook["allowed_updates"]
        return info

    def _m_answercallbackquery(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in bot.callback_queries:
            return _error(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        del bot.callback_queries[query_id]
        bot.answered.append(params)
        return True

    def _m_getfile(self, bot: FakeBot, params: dict[str, Any]) -> Any:
        stored = self.files.get(str(params.get("file_id", "")))
        if stored is None:
            return _error(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    def _send(
        self, bot: FakeBot, method: str, params: dict[str, Any], files: dict[str, dict[str, Any]]
    ) -> Any:
        raw_chat = params.get("chat_id")
        try:
            chat_id = int(raw_chat)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            chat_id = None
        if raw_chat in (None, ""):
            return _error(400, "Bad Request: chat_id is empty")
        if chat_id is None or chat_id not in bot.chats:
            return _error(400, "Bad Request: chat not found")
        if chat_id in bot.blocked:
            return ERRORS["blocked"]
        markup = params.get("reply_markup")
        problem = _check_markup(markup)
        if problem:
            return _error(400, problem)
        message: dict[str, Any] = {
            "message_id": bot.next_message_id(chat_id),
            "from": bot.as_user(),
            "chat": bot.chats[chat_id],
            "date": int(time.time()),
        }
        if method == "sendmessage":
            text = params.get("text")
            if not text:
                return _error(400, "Bad Request: message text is empty")
            if len(str(text)) > 4096:
                return _error(400, "Bad Request: message is too long")
            message["text"] = text
        else:
            field = MEDIA_FIELDS[method]
            media = self._media(field, params.get(field), files.get(field))
            if isinstance(media, tuple):
                return media
            message[field] = media
            caption = params.get("caption")
            if caption:
                if len(str(caption)) > 1024:
                    return _error(400, "Bad Request: message caption is too long")
                message["caption"] = caption
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # Telegram echoes inline keyboards only
        return message

    def _media(self, field: str, source: Any, upload: dict[str, Any] | None) -> Any:
        if upload is not None:
            stored = self.add_file(
                upload["content"],
                upload["contentType"] or "application/octet-stream",
                f"{field}s",
                upload["filename"],
            )
        elif isinstance(source, str) and source in self.files:
            stored = self.files[source]
        elif isinstance(source, str) and source.startswith(("http://", "https://")):
            stored = self.add_file(b"", "application/octet-stream", f"{field}s", source.rsplit("/", 1)[-1])
        elif source:
            return _error(400, "Bad Request: wrong file identifier/HTTP URL specified")
        else:
            return _error(400, f"Bad Request: there is no {field} in the request")
        base = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        if field == "photo":
            return [{**base, "width": 800, "height": 600}]
        if field == "document":
            return {**base, "file_name": stored.file_path.rsplit("/", 1)[-1], "mime_type": stored.mime_type}
        return base

    async def _download(self, request: Request) -> Response:
        token = request.path_params["token"]
        path = request.path_params["path"]
        self.requests.append(Recorded("file", token, {"path": path}, "", b"", {}, time.time()))
        if token not in self.bots:
            return JSONResponse(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401
            )
        for stored in self.files.values():
            if stored.file_path == path:
                return Response(stored.content, media_type=stored.mime_type)
        return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404)


TEXT_BUTTONS_UNALLOWED = (
    "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
)


def _check_markup(markup: Any) -> str | None:
    """The Bot API's complaint about a reply_markup, if any."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        return "Bad Request: can't parse reply keyboard markup JSON object"
    for row in markup.get("inline_keyboard") or []:
        for button in row:
            if "text" not in button:
                return TEXT_BUTTONS_UNALLOWED
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                return "Bad Request: BUTTON_DATA_INVALID"
            if data is None and "url" not in button:
                return TEXT_BUTTONS_UNALLOWED
    for row in markup.get("keyboard") or []:
        for button in row:
            if not isinstance(button, dict | str):
                return "Bad Request: can't parse keyboard button"
    return None


@contextlib.contextmanager
def serve_fake_telegram() -> Iterator[FakeTelegram]:
    """Run a FakeTelegram on a free 127.0.0.1 port (uvicorn in a background thread); fake.base_url is set."""
    fake = FakeTelegram()
    with serve_asgi(fake.app) as base_url:
        fake.base_url = base_url
        yield fake
