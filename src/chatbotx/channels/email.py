"""Email adapter (channel "smtp"): SMTP out, IMAP in (polled by chatbotx.channels.email_poll), threading.

Config keys (docs/channels/email.md): smtpHost, smtpPort, smtpUser, smtpPassword, smtpTls, imapHost,
imapPort, imapUser, imapPassword, imapTls, fromAddress, fromName. The passwords are secrets (sealed with the
credentials).

Threading follows Chatwoot's scheme (reference/channels.md section 5): every mail we send carries
`Message-ID: <conversation/{conversationId}/messages/{messageId}@{domain of fromAddress}>` (also the message's
provider id, so a customer's reply naming it in In-Reply-To joins the conversation), `In-Reply-To` = the last
incoming mail of the conversation and `References` = its References plus it. Provider ids are Message-IDs
without the angle brackets. Mail from automatons (RFC 3834 `Auto-Submitted`, `Precedence: bulk`, bounces) is
stored with `content_attributes.autoSubmitted = true` and nothing automatic is ever sent in answer to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import email.utils
import hashlib
import imaplib
import logging
import mimetypes
import re
import ssl
from collections.abc import Iterator
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any, ClassVar, Literal, cast

import aiosmtplib
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update

from chatbotx.channels.base import (
    INVALID_MESSAGE,
    INVALID_RECIPIENT,
    PROVIDER_ERROR,
    PROVIDER_UNAVAILABLE,
    TOKEN_INVALID,
    Attachment,
    AttachmentKind,
    ChannelContext,
    ContactProfile,
    InboundEvent,
    InboundMessage,
    OutboundMessage,
    ProviderError,
    RatePlan,
    SendResult,
    WebhookRequest,
)
from chatbotx.channels.registry import register
from chatbotx.files import service as files
from chatbotx.kit.db import commit, get_database
from chatbotx.kit.errors import ApiError, invalid_field
from chatbotx.kit.ids import parse_id
from chatbotx.models import Message as MessageRow
from chatbotx.settings import get_settings

log = logging.getLogger(__name__)

TlsMode = Literal["tls", "starttls", "none"]
TLS_MODES: tuple[str, ...] = ("tls", "starttls", "none")
DEFAULT_SMTP_PORT = 587
DEFAULT_IMAP_PORT = 993
TIMEOUT = 30.0  # seconds, per SMTP/IMAP operation
DEFAULT_PER_SECOND = 5.0
MAX_HTML = 512 * 1024  # characters of original HTML kept in the message's attributes
MAX_REFERENCES = 50  # ids in an outgoing References header (the first one and the newest ones)
PROVIDER_ID_MAX = 255
AUTO_PRECEDENCE = frozenset({"bulk", "auto_reply", "list", "junk"})
_MSG_ID = re.compile(r"<([^<>\s]+)>")
_RE_PREFIX = re.compile(r"^\s*re\s*:", re.IGNORECASE)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PARSER = BytesParser(policy=policy.default)


# ---------------------------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True, slots=True)
class MailSettings:
    smtp_host: str
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None
    smtp_tls: TlsMode
    imap_host: str
    imap_port: int
    imap_user: str
    imap_password: str
    imap_tls: TlsMode
    from_address: str  # lower-cased
    from_name: str | None

    @property
    def domain(self) -> str:
        return self.from_address.rsplit("@", 1)[1]


def _text(config: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = config.get(key)
    if value is None or value == "":
        if required:
            raise invalid_field(f"config.{key}", "is required for the email channel")
        return None
    if not isinstance(value, str) or not value.strip():
        raise invalid_field(f"config.{key}", "must be a non-empty string")
    return value.strip()


def _port(config: dict[str, Any], key: str, default: int) -> int:
    value = config.get(key, default)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
        raise invalid_field(f"config.{key}", "must be a port number (1-65535)")
    return value


def _tls(config: dict[str, Any], key: str, port: int, implicit_port: int) -> TlsMode:
    """The configured mode, or by the port: implicit TLS on 465 (SMTP) / 993 (IMAP), else STARTTLS."""
    value = config.get(key)
    if value is None or value == "":
        return "tls" if port == implicit_port else "starttls"
    if value not in TLS_MODES:
        raise invalid_field(f"config.{key}", f"must be one of {', '.join(TLS_MODES)}")
    return cast(TlsMode, value)


def mail_settings(ctx: ChannelContext) -> MailSettings:
    """The inbox's settings (public config and decrypted secrets together); InvalidData when incomplete."""
    config = {**ctx.config, **ctx.credentials}
    from_address = _text(config, "fromAddress", required=True) or ""
    try:
        from_address = validate_email(from_address, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise invalid_field("config.fromAddress", str(exc)) from exc
    smtp_port = _port(config, "smtpPort", DEFAULT_SMTP_PORT)
    imap_port = _port(config, "imapPort", DEFAULT_IMAP_PORT)
    smtp_user = _text(config, "smtpUser", required=False)
    smtp_password = _text(config, "smtpPassword", required=smtp_user is not None)
    return MailSettings(
        smtp_host=_text(config, "smtpHost", required=True) or "",
        smtp_port=smtp_port,
        smtp_user=smtp_user,
        smtp_password=smtp_password,
        smtp_tls=_tls(config, "smtpTls", smtp_port, 465),
        imap_host=_text(config, "imapHost", required=True) or "",
        imap_port=imap_port,
        imap_user=_text(config, "imapUser", required=False) or from_address,
        imap_password=_text(config, "imapPassword", required=True) or "",
        imap_tls=_tls(config, "imapTls", imap_port, 993),
        from_address=from_address,
        from_name=_text(config, "fromName", required=False),
    )


# ---------------------------------------------------------------------------------------------- parsing


def message_ids(value: object) -> list[str]:
    """The msg-ids of a Message-ID / In-Reply-To / References header, without brackets, in order, once."""
    return list(dict.fromkeys(_MSG_ID.findall(str(value or ""))))


def provider_id(message_id: str) -> str:
    """A Message-ID as a provider id: as it is when it fits the column, else a stable digest of it."""
    if len(message_id) <= PROVIDER_ID_MAX - len("message:"):
        return message_id
    return f"sha256:{hashlib.sha256(message_id.encode()).hexdigest()}@long-message-id.invalid"


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML mail (scripts and styles dropped, lists and tables laid out)."""
    from inscriptis import get_text  # lxml: ~10 MB, loaded with the first HTML mail, not by every server

    return clean_text(get_text(html))


def clean_text(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out = "\n".join(lines).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", out)


def _content(part: Message) -> str:
    try:
        return str(cast(EmailMessage, part).get_content())
    except (LookupError, ValueError, AssertionError):  # an unknown charset: decode what is there
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a malformed header the parser cannot model
        return ""
    return str(value or "").strip()


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, lower-cased address) of each mailbox in the header."""
    try:
        header = msg.get(name)
        groups = getattr(header, "addresses", None)
    except Exception:
        return []
    if not groups:
        return []
    return [(a.display_name or "", a.addr_spec.lower()) for a in groups if a.addr_spec and "@" in a.addr_spec]


def _sender_as_written(msg: Message) -> str | None:
    for name in ("From", "Sender"):
        try:
            groups = getattr(msg.get(name), "addresses", None) or ()
        except Exception:
            continue
        for a in groups:
            if a.addr_spec and "@" in a.addr_spec:
                return str(a.addr_spec)
    return None


def body_parts(msg: EmailMessage) -> tuple[Message | None, Message | None]:
    """The text/plain and text/html bodies of the mail (either may be missing)."""
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    return plain, html


def attachment_parts(
    msg: EmailMessage, bodies: tuple[Message | None, Message | None] | None = None
) -> list[Message]:
    """The mail's attachments in a fixed order (inline images included; the text bodies not)."""
    plain, html = bodies or body_parts(msg)
    bodies_ = {id(plain), id(html)}
    parts: list[Message] = []
    for part in msg.walk():
        if part.is_multipart() or id(part) in bodies_:
            continue
        filename = part.get_filename()
        if (
            part.get_content_maintype() == "text"
            and not filename
            and part.get_content_disposition() != "attachment"
        ):
            continue  # another alternative of the text
        parts.append(part)
    return parts


def attachment_kind(mime: str) -> AttachmentKind:
    major = mime.split("/", 1)[0]
    return cast(AttachmentKind, major) if major in ("image", "video", "audio") else "file"


def is_automatic(msg: Message) -> bool:
    """Whether a program sent the mail (RFC 3834 Auto-Submitted, Precedence bulk/list/auto_reply, a delivery
    report or a bounce from the null sender): nothing automatic may answer it."""
    auto = _header(msg, "Auto-Submitted").lower()
    if auto and not auto.startswith("no"):
        return True
    if _header(msg, "Precedence").lower() in AUTO_PRECEDENCE:
        return True
    if _header(msg, "X-Autoreply") or _header(msg, "X-Autorespond"):
        return True
    if msg.get_content_type() == "multipart/report":
        return True
    return _header(msg, "Return-Path") == "<>"


def _date(msg: Message) -> dt.datetime | None:
    raw = _header(msg, "Date")
    if not raw:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@dataclasses.dataclass(slots=True)
class ParsedMail:
    message: InboundMessage
    automatic: bool
    recipients: list[str]  # every address it was sent to (To, Cc, Delivered-To, X-Original-To)
    attachments: int


def parse_mail(raw: bytes) -> ParsedMail | None:
    """A received mail as an InboundMessage; None when it has no sender address to answer."""
    msg = cast(EmailMessage, _PARSER.parsebytes(raw))
    senders = _addresses(msg, "From") or _addresses(msg, "Sender")
    if not senders:
        return None
    name, address = senders[0]
    written = _sender_as_written(msg) or address  # the contact's email keeps the local part's case
    ids = message_ids(_header(msg, "Message-ID"))
    # No Message-ID (rare, broken senders): a digest of the raw mail, so fetching it again stays a repeat.
    message_id = ids[0] if ids else f"sha256:{hashlib.sha256(raw).hexdigest()}@no-message-id.invalid"
    in_reply_to = message_ids(_header(msg, "In-Reply-To"))
    references = message_ids(_header(msg, "References"))
    subject = _header(msg, "Subject")
    plain, html_part = body_parts(msg)
    html = _content(html_part) if html_part is not None else None
    if plain is not None:
        text = clean_text(_content(plain))
    elif html is not None:
        text = html_to_text(html)
    else:
        text = ""
    parts = attachment_parts(msg, (plain, html_part))
    attachments = []
    for part in parts:
        mime = part.get_content_type()
        attachments.append(
            Attachment(kind=attachment_kind(mime), mime_type=mime, filename=part.get_filename() or None)
        )
    automatic = is_automatic(msg)
    to = [a for _, a in _addresses(msg, "To")]
    cc = [a for _, a in _addresses(msg, "Cc")]
    details: dict[str, Any] = {
        "subject": subject,
        "messageId": message_id,
        "inReplyTo": in_reply_to,
        "references": references,
        "from": address,
        "fromName": name or None,
        "to": to,
        "cc": cc,
        "date": _header(msg, "Date") or None,
    }
    if html is not None:
        details["html"] = html[:MAX_HTML]
        if len(html) > MAX_HTML:
            details["htmlTruncated"] = True
    attributes: dict[str, Any] = {"email": details}
    if automatic:
        attributes["autoSubmitted"] = True
    first, _, last = name.strip().partition(" ")
    thread = [provider_id(i) for i in dict.fromkeys([*in_reply_to, *reversed(references)]) if i != message_id]
    content_type = "text" if text or not attachments else attachments[0].kind
    message = InboundMessage(
        source_id=address,
        provider_message_id=provider_id(message_id),
        content_type=content_type,
        text=text or (subject if not attachments else None) or None,
        attachments=attachments,
        attributes=attributes,
        profile=ContactProfile(first_name=first or None, last_name=last.strip() or None, email=written),
        sent_at=_date(msg),
        thread=thread,
    )
    recipients = to + cc + [a for _, a in _addresses(msg, "Delivered-To") + _addresses(msg, "X-Original-To")]
    return ParsedMail(message, automatic, list(dict.fromkeys(recipients)), len(parts))


def reply_address_conversation(recipients: list[str], from_address: str) -> int | None:
    """The conversation id of a `local+<conversationId>@domain` reply address among the recipients."""
    local, _, domain = from_address.partition("@")
    pattern = re.compile(rf"^{re.escape(local)}\+(\d{{1,19}})@{re.escape(domain)}$", re.IGNORECASE)
    for address in recipients:
        found = pattern.match(address)
        if found:
            return int(found.group(1))
    return None


def extract_attachment(raw: bytes, index: int) -> tuple[bytes, str]:
    """The bytes and MIME type of the mail's attachment number `index` (attachment_parts order)."""
    parts = attachment_parts(cast(EmailMessage, _PARSER.parsebytes(raw)))
    if not 0 <= index < len(parts):
        raise ProviderError(INVALID_MESSAGE, f"The mail has no attachment {index}")
    part = parts[index]
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):  # a message/rfc822 attachment: its own bytes
        payload = part.as_bytes() if part.get_content_type() != "message/rfc822" else bytes(part)
    return payload, part.get_content_type()


# ---------------------------------------------------------------------------------------------- composing


def our_message_id(conversation_id: int, message_id: int, domain: str) -> str:
    return f"conversation/{conversation_id}/messages/{message_id}@{domain}"


def reply_subject(subject: str | None) -> str:
    subject = (subject or "").strip()
    if not subject:
        return "New message"
    return subject if _RE_PREFIX.match(subject) else f"Re: {subject}"


def references_for(
    parent_id: str | None, parent_references: list[str], parent_in_reply_to: list[str]
) -> list[str]:
    """RFC 5322 3.6.4: the parent's References (else its In-Reply-To) then the parent's Message-ID; a very
    long chain keeps its first id and the newest ones."""
    chain = list(parent_references or parent_in_reply_to)
    if parent_id:
        chain.append(parent_id)
    chain = list(dict.fromkeys(chain))
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return chain


@dataclasses.dataclass(slots=True)
class FileToAttach:
    filename: str
    mime_type: str
    data: bytes


def compose(
    settings: MailSettings,
    *,
    to: str,
    subject: str,
    text: str,
    message_id: str,
    in_reply_to: str | None,
    references: list[str],
    automatic: bool,
    files: list[FileToAttach],
    now: dt.datetime | None = None,
) -> EmailMessage:
    """The MIME mail (policy SMTP: CRLF, folded headers)."""
    mail = EmailMessage(policy=policy.SMTP)
    local, _, domain = settings.from_address.partition("@")
    mail["From"] = Address(settings.from_name or "", local, domain)
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = email.utils.format_datetime(now or dt.datetime.now(dt.UTC))
    mail["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        mail["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        mail["References"] = " ".join(f"<{r}>" for r in references)
    mail["Reply-To"] = settings.from_address
    if automatic:  # RFC 3834: a program wrote this; well-behaved responders do not answer it
        mail["Auto-Submitted"] = "auto-replied" if in_reply_to else "auto-generated"
    mail.set_content(text)
    for item in files:
        maintype, _, subtype = item.mime_type.partition("/")
        mail.add_attachment(
            item.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=item.filename,
        )
    return mail


# ---------------------------------------------------------------------------------------------- SMTP


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def smtp_error(exc: Exception, host: str) -> ProviderError:
    """Our ProviderError for an aiosmtplib (or socket) failure: 4xx retryable, 5xx final."""
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return ProviderError(
            TOKEN_INVALID,
            f"The SMTP server refused the user name or password ({exc.code} {exc.message})",
            provider_code=exc.code,
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = exc.recipients
        code = refused[0].code if refused else 550
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in refused)
        if code >= 500:
            return ProviderError(
                INVALID_RECIPIENT, f"The SMTP server refused the recipient ({detail})", provider_code=code
            )
        return ProviderError(
            PROVIDER_UNAVAILABLE, f"Recipient deferred ({detail})", provider_code=code, retryable=True
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        if exc.code >= 500:
            return ProviderError(
                INVALID_RECIPIENT,
                f"The SMTP server refused the recipient ({exc.code} {exc.message})",
                provider_code=exc.code,
            )
        return ProviderError(
            PROVIDER_UNAVAILABLE,
            f"Recipient deferred ({exc.code} {exc.message})",
            provider_code=exc.code,
            retryable=True,
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(
        exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError | aiosmtplib.SMTPTimeoutError
    ):
        text = f"SMTP {exc.code} {exc.message}"
        if 400 <= exc.code < 500:
            return ProviderError(PROVIDER_UNAVAILABLE, text, provider_code=exc.code, retryable=True)
        if isinstance(exc, aiosmtplib.SMTPDataError):
            return ProviderError(
                INVALID_MESSAGE, f"The SMTP server refused the mail ({text})", provider_code=exc.code
            )
        return ProviderError(PROVIDER_ERROR, f"The SMTP server refused ({text})", provider_code=exc.code)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return ProviderError(PROVIDER_ERROR, f"The SMTP server does not support it: {exc}")
    return ProviderError(
        PROVIDER_UNAVAILABLE,
        f"The SMTP server {host} could not be reached ({type(exc).__name__}: {exc})".replace(": )", ")"),
        retryable=True,
    )


def _smtp_client(settings: MailSettings) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_tls == "tls",
        start_tls=settings.smtp_tls == "starttls",
        tls_context=_tls_context() if settings.smtp_tls != "none" else None,
        timeout=TIMEOUT,
    )


async def smtp_check(settings: MailSettings) -> None:
    """Connect, (STARTTLS,) log in and quit: the credentials work."""
    client = _smtp_client(settings)
    try:
        async with client:
            if settings.smtp_user and settings.smtp_password is not None:
                await client.login(settings.smtp_user, settings.smtp_password)
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise smtp_error(exc, settings.smtp_host) from exc


async def smtp_send(settings: MailSettings, mail: EmailMessage, recipient: str) -> None:
    client = _smtp_client(settings)
    try:
        async with client:
            if settings.smtp_user and settings.smtp_password is not None:
                await client.login(settings.smtp_user, settings.smtp_password)
            await client.send_message(mail, sender=settings.from_address, recipients=[recipient])
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise smtp_error(exc, settings.smtp_host) from exc


# ---------------------------------------------------------------------------------------------- IMAP


def imap_date(day: dt.date) -> str:
    """An IMAP SEARCH date (dd-Mon-yyyy, English month names whatever the locale)."""
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year}"


def _unreachable(settings: MailSettings, exc: BaseException) -> ProviderError:
    reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
    return ProviderError(
        PROVIDER_UNAVAILABLE,
        f"The IMAP server {settings.imap_host}:{settings.imap_port} could not be reached ({reason})",
        retryable=True,
    )


@contextlib.contextmanager
def imap_session(settings: MailSettings) -> Iterator[imaplib.IMAP4]:
    """A logged-in IMAP connection (TLS per imapTls), logged out afterwards. Blocking: run it in a thread."""
    try:
        if settings.imap_tls == "tls":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                settings.imap_host, settings.imap_port, ssl_context=_tls_context(), timeout=TIMEOUT
            )
        else:
            conn = imaplib.IMAP4(settings.imap_host, settings.imap_port, timeout=TIMEOUT)
            if settings.imap_tls == "starttls":
                conn.starttls(ssl_context=_tls_context())
    except (OSError, imaplib.IMAP4.error) as exc:
        raise _unreachable(settings, exc) from exc
    try:
        try:
            conn.login(settings.imap_user, settings.imap_password)
        except imaplib.IMAP4.abort as exc:
            raise _unreachable(settings, exc) from exc
        except (imaplib.IMAP4.error, UnicodeEncodeError) as exc:
            detail = (
                exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else exc
            )
            if "[UNAVAILABLE]" in str(detail):  # RFC 5530: the server cannot check now; try again later
                raise _unreachable(settings, exc) from exc
            raise ProviderError(
                TOKEN_INVALID, f"The IMAP server refused the user name or password ({detail})"
            ) from exc
        yield conn
    except (OSError, imaplib.IMAP4.abort) as exc:
        raise _unreachable(settings, exc) from exc
    except imaplib.IMAP4.error as exc:
        raise ProviderError(PROVIDER_ERROR, f"The IMAP server refused a command ({exc})") from exc
    finally:
        with contextlib.suppress(Exception):
            conn.logout()


def _select_inbox(conn: imaplib.IMAP4) -> int:
    """EXAMINE INBOX (read-only: fetching never changes a flag); its UIDVALIDITY."""
    typ, data = conn.select("INBOX", readonly=True)
    if typ != "OK":
        raise ProviderError(PROVIDER_ERROR, f"The IMAP server cannot open INBOX ({data!r})")
    _, values = conn.response("UIDVALIDITY")
    try:
        return int(values[0]) if values and values[0] else 0
    except (TypeError, ValueError):
        return 0


def imap_check(settings: MailSettings) -> int:
    """Log in and open INBOX: the credentials work. Its UIDVALIDITY."""
    with imap_session(settings) as conn:
        return _select_inbox(conn)


@dataclasses.dataclass(slots=True)
class FetchedMail:
    uid: int
    raw: bytes
    size: int
    complete: bool  # False: too large, only its header was fetched


@dataclasses.dataclass(slots=True)
class Fetched:
    uid_validity: int
    mails: list[FetchedMail]
    more: bool  # more new mail waits beyond the cap


_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
FETCH_CHUNK = 20  # mails per FETCH
CHUNK_BYTES = 16 * 1024 * 1024  # and about this many bytes per FETCH
POLL_BYTES = 128 * 1024 * 1024  # about this many bytes per poll (each mail counts up to max_bytes)


def _fetch_items(conn: imaplib.IMAP4, uids: list[int], item: str) -> dict[int, bytes]:
    if not uids:
        return {}
    typ, data = conn.uid("FETCH", ",".join(map(str, uids)), f"(UID {item})")
    if typ != "OK":
        raise ProviderError(PROVIDER_ERROR, f"The IMAP server refused FETCH ({data!r})")
    out: dict[int, bytes] = {}
    for entry in data:
        if isinstance(entry, tuple) and len(entry) >= 2:
            found = _UID.search(entry[0])
            if found and isinstance(entry[1], bytes):
                out[int(found.group(1))] = entry[1]
    return out


def _sizes(conn: imaplib.IMAP4, uids: list[int]) -> dict[int, int]:
    if not uids:
        return {}
    typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(UID RFC822.SIZE)")
    sizes: dict[int, int] = {}
    for entry in data if typ == "OK" else []:
        head = entry[0] if isinstance(entry, tuple) else entry
        if isinstance(head, bytes) and (u := _UID.search(head)) and (s := _SIZE.search(head)):
            sizes[int(u.group(1))] = int(s.group(1))
    return sizes


def imap_fetch(
    settings: MailSettings,
    *,
    uid_validity: int | None,
    last_uid: int,
    since: dt.date,
    cap: int,
    max_bytes: int,
    budget: int = POLL_BYTES,
) -> Fetched:
    """New mail in INBOX: UIDs above `last_uid` (all mail since `since` when the cursor is new or UIDVALIDITY
    changed), oldest first, at most `cap` mails and about `budget` bytes; bodies with BODY.PEEK[] (never marks
    a mail seen) a few at a time, only the header of a mail over `max_bytes`."""
    with imap_session(settings) as conn:
        current = _select_inbox(conn)
        if uid_validity != current or not last_uid:
            last_uid = 0
            typ, data = conn.uid("SEARCH", "SINCE", imap_date(since))
        else:
            typ, data = conn.uid("SEARCH", "UID", f"{last_uid + 1}:*")
        if typ != "OK":
            raise ProviderError(PROVIDER_ERROR, f"The IMAP server refused SEARCH ({data!r})")
        found = sorted({int(x) for x in (data[0] or b"").split() if x.isdigit() and int(x) > last_uid})
        uids = found[:cap]
        more = len(found) > cap
        sizes = _sizes(conn, uids)
        mails: list[FetchedMail] = []

        def fetch(chunk: list[int]) -> None:
            small = [u for u in chunk if sizes.get(u, 0) <= max_bytes]
            large = [u for u in chunk if sizes.get(u, 0) > max_bytes]
            bodies = _fetch_items(conn, small, "BODY.PEEK[]")
            headers = _fetch_items(conn, large, "BODY.PEEK[HEADER]")
            for uid in chunk:  # a mail expunged meanwhile is in neither: passed over
                if uid in bodies:
                    mails.append(FetchedMail(uid, bodies[uid], sizes.get(uid, len(bodies[uid])), True))
                elif uid in headers:
                    mails.append(FetchedMail(uid, headers[uid], sizes[uid], False))

        chunk: list[int] = []
        chunk_bytes = total = 0
        for uid in uids:
            if total >= budget:  # the rest next poll (at once: `more`)
                more = True
                break
            size = min(sizes.get(uid, 0), max_bytes)
            chunk.append(uid)
            chunk_bytes += size
            total += size
            if len(chunk) >= FETCH_CHUNK or chunk_bytes >= CHUNK_BYTES:
                fetch(chunk)
                chunk, chunk_bytes = [], 0
        if chunk:
            fetch(chunk)
        return Fetched(current, mails, more)


# ---------------------------------------------------------------------------------------------- adapter


RAW_PREFIX = "mail:"


def raw_file_ref(file_id: int, index: int) -> str:
    """An inbound attachment's provider id: the stored raw mail and the attachment's number in it."""
    return f"{RAW_PREFIX}{file_id}:{index}"


def config_error(exc: Exception) -> ProviderError:
    return ProviderError(
        PROVIDER_ERROR, f"The email channel's settings are incomplete: {getattr(exc, 'message', exc)}"
    )


def _extras(text: str, message: OutboundMessage) -> str:
    """Buttons and quick replies as plain lines (mail has no buttons)."""
    lines = []
    for button in [*message.buttons, *message.quick_replies]:
        lines.append(f"- {button.title}: {button.url}" if button.url else f"- {button.title}")
    return text + ("\n\n" + "\n".join(lines) if lines else "")


class EmailAdapter:
    channel: ClassVar[str] = "smtp"
    window: ClassVar[dt.timedelta | None] = None  # mail may be sent at any time

    def rate_plan(self, config: dict[str, Any]) -> RatePlan:
        per_second = DEFAULT_PER_SECOND
        configured = config.get("messagesPerSecond")
        if isinstance(configured, int | float) and not isinstance(configured, bool) and configured > 0:
            per_second = float(configured)
        return RatePlan(per_second=per_second, burst=5)

    async def connect(self, ctx: ChannelContext) -> dict[str, Any]:
        """Log in to the SMTP server and to the IMAP server (and open INBOX); the effective settings."""
        settings = mail_settings(ctx)
        await smtp_check(settings)
        await asyncio.to_thread(imap_check, settings)
        return {
            "fromAddress": settings.from_address,
            "smtpPort": settings.smtp_port,
            "smtpTls": settings.smtp_tls,
            "imapPort": settings.imap_port,
            "imapTls": settings.imap_tls,
            "imapUser": settings.imap_user,
        }

    async def handshake(self, ctx: ChannelContext, request: WebhookRequest) -> tuple[int, bytes] | None:
        return None

    def verify(self, ctx: ChannelContext, request: WebhookRequest) -> bool:
        return False  # mail arrives by IMAP polling, never by webhook

    def parse(self, ctx: ChannelContext, request: WebhookRequest) -> list[InboundEvent]:
        return []

    async def download(self, ctx: ChannelContext, attachment: Attachment) -> tuple[bytes, str | None]:
        """An attachment cut out of the raw mail the poller stored (`mail:<fileId>:<index>`)."""
        ref = attachment.provider_file_id or ""
        file_id, _, index = ref.removeprefix(RAW_PREFIX).partition(":")
        if not ref.startswith(RAW_PREFIX) or not file_id.isdigit() or not index.isdigit():
            raise ProviderError(INVALID_MESSAGE, f"Not an email attachment reference: {ref!r}")
        async with get_database().sessionmaker() as session:
            _, path = await files.content_path(session, ctx.workspace_id, int(file_id))
        raw = await asyncio.to_thread(path.read_bytes)
        return await asyncio.to_thread(extract_attachment, raw, int(index))

    async def send(self, ctx: ChannelContext, message: OutboundMessage) -> SendResult:
        """One mail to the contact's address, threaded under the conversation's last incoming mail; its
        Message-ID is the result."""
        try:
            settings = mail_settings(ctx)
        except Exception as exc:
            raise config_error(exc) from exc
        if message.template is not None:
            raise ProviderError(INVALID_MESSAGE, "Email has no message templates; send text instead")
        recipient = message.recipient.strip()
        if "@" not in recipient:
            raise ProviderError(INVALID_RECIPIENT, f"{recipient!r} is not an email address")
        context = await load_context(ctx, message.message_id)
        if context.automatic and context.parent_automatic:
            raise ProviderError(
                INVALID_MESSAGE,
                "Not sent: the contact's last mail was sent by a program (Auto-Submitted, a bulk or list "
                "mail); answering it automatically could start a mail loop (RFC 3834). A person may reply",
            )
        text = _extras(message.text or "", message)
        if not text and not context.files:
            raise ProviderError(INVALID_MESSAGE, "Nothing to send: no text and no attachments")
        message_id = our_message_id(context.conversation_id, message.message_id, settings.domain)
        parent = context.parent or {}
        in_reply_to = parent.get("messageId")
        references = references_for(
            in_reply_to, parent.get("references") or [], parent.get("inReplyTo") or []
        )
        subject = context.subject or reply_subject(context.first_subject)
        mail = compose(
            settings,
            to=recipient,
            subject=subject,
            text=text,
            message_id=message_id,
            in_reply_to=in_reply_to,
            references=references,
            automatic=context.automatic,
            files=context.files,
        )
        await smtp_send(settings, mail, recipient)
        # From here the mail is out: nothing may raise, or the dispatcher would send it again.
        details = {
            "subject": subject,
            "messageId": message_id,
            "inReplyTo": [in_reply_to] if in_reply_to else [],
            "references": references,
            "from": settings.from_address,
            "to": [recipient],
            "cc": [],
        }
        await record_sent(message.message_id, details)
        return SendResult(provider_message_id=provider_id(message_id))


# ---------------------------------------------------------------------------------------------- lookups


@dataclasses.dataclass(slots=True)
class SendContext:
    conversation_id: int
    automatic: bool  # a bot or the system wrote it, not a person
    subject: str | None  # set on the message itself (content_attributes.email.subject)
    first_subject: str | None  # of the conversation's first incoming mail
    parent: dict[str, Any] | None  # content_attributes.email of the last incoming mail
    parent_automatic: bool
    files: list[FileToAttach]


async def load_context(ctx: ChannelContext, message_id: int) -> SendContext:
    """What the OutboundMessage lacks: the conversation, who wrote it, the mail it answers, its files."""
    async with get_database().sessionmaker() as session:
        row = await session.get(MessageRow, message_id)
        if row is None:
            raise ProviderError(INVALID_MESSAGE, f"Message {message_id} no longer exists")
        incoming = (
            select(MessageRow.content_attributes)
            .where(MessageRow.conversation_id == row.conversation_id, MessageRow.direction == "incoming")
            .limit(1)
        )
        last = await session.scalar(incoming.order_by(MessageRow.id.desc()))
        first = await session.scalar(incoming.order_by(MessageRow.id))
        files = await _files(ctx, session, row.attachments or [])
    attributes = row.content_attributes or {}
    own = attributes.get("email") if isinstance(attributes.get("email"), dict) else {}
    parent = (last or {}).get("email") if isinstance((last or {}).get("email"), dict) else None
    first_email = (first or {}).get("email") if isinstance((first or {}).get("email"), dict) else {}
    return SendContext(
        conversation_id=row.conversation_id,
        automatic=row.sender_type != "agent",
        subject=str(own["subject"]) if own and own.get("subject") else None,
        first_subject=str(first_email.get("subject") or "") or None if first_email else None,
        parent=parent,
        parent_automatic=bool((last or {}).get("autoSubmitted")),
        files=files,
    )


async def _files(ctx: ChannelContext, session: Any, attachments: list[Any]) -> list[FileToAttach]:
    limit = get_settings().max_upload_bytes
    out: list[FileToAttach] = []
    for index, raw in enumerate(attachments):
        if not isinstance(raw, dict):
            continue
        file_id = parse_id(str(raw["fileId"])) if raw.get("fileId") is not None else None
        if file_id is not None:
            try:
                stored, path = await files.content_path(session, ctx.workspace_id, file_id)
                data = await asyncio.to_thread(path.read_bytes)
            except (ApiError, OSError) as exc:
                raise ProviderError(
                    INVALID_MESSAGE,
                    f"attachments.{index}: the file cannot be read ({getattr(exc, 'message', exc)})",
                ) from exc
            out.append(FileToAttach(stored.filename, stored.content_type, data))
            continue
        url = raw.get("url")
        if not url:
            continue
        try:
            response = await ctx.http.get(str(url), follow_redirects=True)
        except Exception as exc:
            raise ProviderError(
                PROVIDER_UNAVAILABLE,
                f"attachments.{index}: {url} could not be fetched ({exc!r})",
                retryable=True,
            ) from exc
        if not response.is_success or len(response.content) > limit:
            raise ProviderError(
                INVALID_MESSAGE, f"attachments.{index}: {url} answered {response.status_code}"
            )
        name = raw.get("name") or str(url).rsplit("/", 1)[-1].split("?", 1)[0] or "attachment"
        mime = (
            raw.get("contentType")
            or response.headers.get("content-type", "").split(";")[0].strip()
            or mimetypes.guess_type(name)[0]
            or "application/octet-stream"
        )
        out.append(FileToAttach(name, mime, response.content))
    return out


async def record_sent(message_id: int, details: dict[str, Any]) -> None:
    """Keep the headers we sent in the message's content_attributes.email (the agents' view). Best effort: the
    mail is already sent, and threading needs only the provider id the dispatcher records."""
    try:
        async with get_database().sessionmaker() as session:
            current = await session.scalar(
                select(MessageRow.content_attributes).where(MessageRow.id == message_id)
            )
            merged = {**(current or {}), "email": {**((current or {}).get("email") or {}), **details}}
            await session.execute(
                update(MessageRow).where(MessageRow.id == message_id).values(content_attributes=merged)
            )
            await commit(session)
    except Exception:
        log.exception("email: could not record the headers of sent message %s", message_id)


register(EmailAdapter())
