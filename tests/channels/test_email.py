"""The email adapter's pieces: parsing received mail, composing replies, SMTP error mapping, settings, and the
IMAP fetch (cursor, cap, UIDVALIDITY, oversized mail) against a real dovecot; connect against aiosmtpd."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import aiosmtplib
import certifi
import httpx
import pytest
from aiosmtplib.errors import SMTPRecipientRefused
from hypothesis import given
from hypothesis import strategies as st

from chatbotx.channels import registry
from chatbotx.channels.base import (
    INVALID_MESSAGE,
    INVALID_RECIPIENT,
    PROVIDER_UNAVAILABLE,
    TOKEN_INVALID,
    ChannelContext,
    ProviderError,
)
from chatbotx.channels.email import (
    EmailAdapter,
    FileToAttach,
    compose,
    extract_attachment,
    html_to_text,
    imap_date,
    imap_fetch,
    is_automatic,
    mail_settings,
    message_ids,
    parse_mail,
    provider_id,
    references_for,
    reply_address_conversation,
    reply_subject,
    smtp_error,
    smtp_send,
)
from chatbotx.kit.errors import InvalidData
from tests.fakes.mail import (
    QUIET_SMTP,
    Dovecot,
    FakeSmtp,
    Mailbox,
    ServerCertificates,
    channel_config,
    free_port,
    mail,
    make_certificates,
    run_dovecot,
    run_smtp,
)

pytestmark = QUIET_SMTP

PARSER = BytesParser(policy=policy.default)


def raw(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=policy.SMTP)


def ctx(config: Mapping[str, Any]) -> ChannelContext:
    public = {k: v for k, v in config.items() if not k.endswith("Password")}
    secret = {k: v for k, v in config.items() if k.endswith("Password")}
    return ChannelContext(1, 1, public, secret, httpx.AsyncClient(), "http://testserver")


BASE = {
    "fromAddress": "Support@Shop.example.com",
    "smtpHost": "smtp.example.com",
    "smtpUser": "u",
    "smtpPassword": "p",
    "imapHost": "imap.example.com",
    "imapPassword": "q",
}


# ---------------------------------------------------------------------------------------------- settings


def test_the_adapter_is_registered_as_smtp() -> None:
    assert isinstance(registry.get("smtp"), EmailAdapter)
    assert EmailAdapter.window is None


def test_settings_defaults_follow_the_ports() -> None:
    settings = mail_settings(ctx(BASE))
    assert (settings.smtp_port, settings.smtp_tls) == (587, "starttls")
    assert (settings.imap_port, settings.imap_tls) == (993, "tls")
    assert settings.from_address == "support@shop.example.com"
    assert settings.imap_user == "support@shop.example.com"  # the address when no imapUser is given
    assert settings.domain == "shop.example.com"
    implicit = mail_settings(ctx({**BASE, "smtpPort": 465, "imapPort": "143"}))
    assert (implicit.smtp_tls, implicit.imap_port, implicit.imap_tls) == ("tls", 143, "starttls")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"smtpHost": None}, "config.smtpHost"),
        ({"imapPassword": ""}, "config.imapPassword"),
        ({"fromAddress": "not an address"}, "config.fromAddress"),
        ({"smtpPort": 70000}, "config.smtpPort"),
        ({"imapTls": "ssl"}, "config.imapTls"),
        ({"smtpPassword": None}, "config.smtpPassword"),  # a user needs a password
    ],
)
def test_incomplete_settings_name_the_field(change: dict[str, object], field: str) -> None:
    config = {**BASE, **change}
    with pytest.raises(InvalidData) as caught:
        mail_settings(ctx({k: v for k, v in config.items() if v is not None}))
    assert caught.value.message.startswith(field)


# ---------------------------------------------------------------------------------------------- parsing


def test_a_plain_mail_with_html_alternative_prefers_the_plain_text() -> None:
    parsed = parse_mail(
        raw(
            mail(
                text="Hello\r\n\r\n\r\n\r\nthere  ",
                html="<p>Hello <b>HTML</b></p>",
                references="<a@x> <b@x>",
                in_reply_to="<b@x>",
            )
        )
    )
    assert parsed is not None
    message = parsed.message
    assert message.text == "Hello\n\nthere"
    assert message.source_id == "jane@example.org" and message.profile.email == "jane@example.org"
    assert (message.profile.first_name, message.profile.last_name) == ("Jane", "Doe")
    assert message.provider_message_id == "first-42@example.org"
    assert message.thread == ["b@x", "a@x"]  # In-Reply-To first, then References newest first
    assert message.attributes["email"]["html"] == "<p>Hello <b>HTML</b></p>\r\n"  # as received
    assert message.sent_at == dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
    assert not parsed.automatic and "autoSubmitted" not in message.attributes


def test_html_becomes_clean_text() -> None:
    text = html_to_text(
        "<html><head><style>p{color:red}</style></head><body><h1>Order</h1><p>Hi&nbsp;<i>you</i></p>"
        "<ul><li>one</li><li>two</li></ul><script>alert(1)</script></body></html>"
    )
    assert text == "Order\n\nHi you\n\n  * one\n  * two"


def test_attachments_are_listed_and_cut_out_of_the_raw_mail() -> None:
    data = raw(
        mail(attachments=[("a.pdf", "application/pdf", b"%PDF-1"), ("photo.png", "image/png", b"\x89PNG")])
    )
    parsed = parse_mail(data)
    assert parsed is not None
    assert [(a.kind, a.filename, a.mime_type) for a in parsed.message.attachments] == [
        ("file", "a.pdf", "application/pdf"),
        ("image", "photo.png", "image/png"),
    ]
    assert extract_attachment(data, 1) == (b"\x89PNG", "image/png")
    with pytest.raises(ProviderError):
        extract_attachment(data, 2)


def test_a_mail_without_message_id_gets_a_stable_one() -> None:
    data = raw(mail(message_id=None))
    first, second = parse_mail(data), parse_mail(data)
    assert first is not None and second is not None
    assert first.message.provider_message_id == second.message.provider_message_id
    assert first.message.provider_message_id.endswith("@no-message-id.invalid")


def test_the_address_is_the_lower_cased_source_id_and_the_written_email() -> None:
    parsed = parse_mail(raw(mail(sender="Jane <Jane.Doe@Example.org>")))
    assert parsed is not None
    assert parsed.message.source_id == "jane.doe@example.org"
    assert parsed.message.profile.email == "Jane.Doe@Example.org"  # the pipeline normalizes it as contacts do


def test_a_mail_without_sender_is_not_a_message() -> None:
    assert parse_mail(b"Subject: hi\r\n\r\nbody\r\n") is None


@pytest.mark.parametrize(
    ("headers", "automatic"),
    [
        ({"Auto-Submitted": "auto-replied"}, True),
        ({"Auto-Submitted": "auto-generated"}, True),
        ({"Auto-Submitted": "no"}, False),
        ({"Precedence": "bulk"}, True),
        ({"Precedence": "list"}, True),
        ({"X-Autoreply": "yes"}, True),
        ({"Return-Path": "<>"}, True),
        ({}, False),
    ],
)
def test_automatic_mail_is_recognized(headers: dict[str, str], automatic: bool) -> None:
    data = raw(mail(headers=headers))
    assert is_automatic(PARSER.parsebytes(data)) is automatic
    parsed = parse_mail(data)
    assert parsed is not None
    assert parsed.message.attributes.get("autoSubmitted", False) is automatic


def test_message_ids_and_long_ones() -> None:
    assert message_ids("<a@x>\r\n <b@y> junk <a@x>") == ["a@x", "b@y"]
    assert message_ids(None) == []
    long = "x" * 300 + "@example.org"
    assert len(provider_id(long)) <= 255 and provider_id(long) == provider_id(long)
    assert provider_id("short@x") == "short@x"


def test_a_reply_address_names_its_conversation() -> None:
    assert (
        reply_address_conversation(["a@b.c", "Support+123@shop.example.com"], "support@shop.example.com")
        == 123
    )
    assert reply_address_conversation(["support+x@shop.example.com"], "support@shop.example.com") is None
    assert reply_address_conversation(["other+5@shop.example.com"], "support@shop.example.com") is None


@given(st.text(max_size=200))
def test_parsing_never_raises_on_any_body(body: str) -> None:
    data = b"From: a@example.org\r\nMessage-ID: <m@x>\r\nSubject: s\r\n\r\n" + body.encode("utf-8", "replace")
    parsed = parse_mail(data)
    assert parsed is not None and parsed.message.provider_message_id == "m@x"


# ---------------------------------------------------------------------------------------------- composing


def test_reply_subjects() -> None:
    assert reply_subject("Order") == "Re: Order"
    assert reply_subject("RE: Order") == "RE: Order"
    assert reply_subject("") == "New message"


def test_references_chain() -> None:
    assert references_for("p@x", ["a@x", "b@x"], []) == ["a@x", "b@x", "p@x"]
    assert references_for("p@x", [], ["a@x"]) == ["a@x", "p@x"]
    assert references_for(None, [], []) == []
    long = references_for("p@x", [f"{i}@x" for i in range(100)], [])
    assert len(long) == 50 and long[0] == "0@x" and long[-1] == "p@x"


def test_compose_writes_the_threading_headers_and_attachments() -> None:
    settings = mail_settings(ctx({**BASE, "fromName": "Shop"}))
    refs = [f"conversation/1/messages/{i}@shop.example.com" for i in range(6)]
    mail_ = compose(
        settings,
        to="jane@example.org",
        subject="Re: Ünïcode subject",
        text="Thanks",
        message_id="conversation/1/messages/9@shop.example.com",
        in_reply_to="p@x",
        references=[*refs, "p@x"],
        automatic=True,
        files=[FileToAttach("a.pdf", "application/pdf", b"%PDF")],
        now=dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC),
    )
    data = mail_.as_bytes()
    assert all(len(line) <= 78 for line in data.split(b"\r\n") if not line.startswith(b"References"))
    parsed = PARSER.parsebytes(data)
    assert parsed["From"] == "Shop <support@shop.example.com>"
    assert parsed["Message-ID"] == "<conversation/1/messages/9@shop.example.com>"
    assert parsed["In-Reply-To"] == "<p@x>"
    assert message_ids(parsed["References"]) == [*refs, "p@x"]
    assert parsed["Subject"] == "Re: Ünïcode subject"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["Date"] == "Sun, 22 Nov 2026 12:00:00 +0000"
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == "a.pdf" and attachment.get_content() == b"%PDF"


# ---------------------------------------------------------------------------------------------- SMTP errors


def test_smtp_errors_map_to_our_codes() -> None:
    auth = smtp_error(aiosmtplib.SMTPAuthenticationError(535, "bad"), "h")
    assert (auth.code, auth.retryable) == (TOKEN_INVALID, False)
    refused = smtp_error(aiosmtplib.SMTPRecipientsRefused([SMTPRecipientRefused(550, "no", "x@y")]), "h")
    assert (refused.code, refused.retryable) == (INVALID_RECIPIENT, False)
    deferred = smtp_error(aiosmtplib.SMTPRecipientsRefused([SMTPRecipientRefused(451, "later", "x@y")]), "h")
    assert (deferred.code, deferred.retryable) == (PROVIDER_UNAVAILABLE, True)
    busy = smtp_error(aiosmtplib.SMTPResponseException(421, "busy"), "h")
    assert (busy.code, busy.retryable) == (PROVIDER_UNAVAILABLE, True)
    too_big = smtp_error(aiosmtplib.SMTPDataError(552, "too big"), "h")
    assert (too_big.code, too_big.retryable) == (INVALID_MESSAGE, False)
    down = smtp_error(ConnectionRefusedError(111, "refused"), "h")
    assert (down.code, down.retryable) == (PROVIDER_UNAVAILABLE, True)


# ---------------------------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def imap_server() -> Iterator[Dovecot]:
    with run_dovecot() as server:
        yield server


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[FakeSmtp]:
    with run_smtp() as server:
        yield server


def test_imap_date_is_english_whatever_the_locale() -> None:
    assert imap_date(dt.date(2026, 3, 5)) == "05-Mar-2026"


def test_imap_fetch_cursor_cap_and_uidvalidity(imap_server: Dovecot, smtp_server: FakeSmtp) -> None:
    box: Mailbox = imap_server.add_mailbox()
    settings = mail_settings(ctx(channel_config(box, smtp_server)))
    for n in range(5):
        box.append(mail(message_id=f"<m{n}@example.org>"))
    today = dt.date.today()
    first = imap_fetch(settings, uid_validity=None, last_uid=0, since=today, cap=3, max_bytes=10_000)
    assert [m.uid for m in first.mails] == [1, 2, 3] and first.more
    assert all(m.complete and b"Message-ID: <m" in m.raw for m in first.mails)
    rest = imap_fetch(
        settings, uid_validity=first.uid_validity, last_uid=3, since=today, cap=3, max_bytes=10_000
    )
    assert [m.uid for m in rest.mails] == [4, 5] and not rest.more
    none = imap_fetch(
        settings, uid_validity=first.uid_validity, last_uid=5, since=today, cap=3, max_bytes=10_000
    )
    assert none.mails == []  # "6:*" still names the last mail: it is filtered out
    # Another UIDVALIDITY: the UIDs mean nothing any more; everything since the date is looked at again.
    again = imap_fetch(
        settings, uid_validity=first.uid_validity + 1, last_uid=5, since=today, cap=10, max_bytes=10_000
    )
    assert [m.uid for m in again.mails] == [1, 2, 3, 4, 5]
    # A byte budget stops a poll early (at least one mail is taken); the rest is "more".
    small = imap_fetch(
        settings, uid_validity=first.uid_validity, last_uid=0, since=today, cap=10, max_bytes=10_000, budget=1
    )
    assert [m.uid for m in small.mails] == [1] and small.more
    # A mail over the size limit: only its header.
    box.append(mail(message_id="<big@example.org>", text="x" * 5000))
    big = imap_fetch(
        settings, uid_validity=first.uid_validity, last_uid=5, since=today, cap=3, max_bytes=1000
    )
    [only] = big.mails
    assert (
        not only.complete
        and only.size > 5000
        and b"xxxx" not in only.raw
        and b"<big@example.org>" in only.raw
    )


async def test_connect_checks_both_logins(imap_server: Dovecot, smtp_server: FakeSmtp) -> None:
    box = imap_server.add_mailbox()
    adapter = EmailAdapter()
    extra = await adapter.connect(ctx(channel_config(box, smtp_server)))
    assert extra["smtpTls"] == "none" and extra["imapTls"] == "none" and extra["fromAddress"] == box.address
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"smtpPassword": "nope"}, TOKEN_INVALID, "SMTP"),
        ({"imapPassword": "nope"}, TOKEN_INVALID, "IMAP"),
        ({"smtpPort": free_port()}, PROVIDER_UNAVAILABLE, "SMTP"),
        ({"imapPort": free_port()}, PROVIDER_UNAVAILABLE, "IMAP"),
    ]
    for change, code, where in cases:
        with pytest.raises(ProviderError) as caught:
            await adapter.connect(ctx(channel_config(box, smtp_server, **change)))
        assert caught.value.code == code and where in caught.value.message


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_tls_modes_verify_the_servers(
    certificates: ServerCertificates, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STARTTLS and implicit TLS against both servers, certificates checked against the trusted CAs (here
    our test CA, through OpenSSL's SSL_CERT_FILE); a server we cannot verify is refused."""
    with run_dovecot(tls=certificates) as imap, run_smtp(certificates, mode) as smtp:
        box = imap.add_mailbox()
        config = channel_config(
            box,
            smtp,
            smtpHost="localhost",
            smtpTls=mode,
            imapHost="localhost",
            imapTls=mode,
            imapPort=imap.port if mode == "starttls" else imap.tls_port,
        )
        monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
        adapter = EmailAdapter()
        extra = await adapter.connect(ctx(config))
        assert (extra["smtpTls"], extra["imapTls"]) == (mode, mode)
        settings = mail_settings(ctx(config))
        letter = compose(
            settings,
            to="jane@example.org",
            subject="Hi",
            text="Over TLS",
            message_id="t@shop.example.com",
            in_reply_to=None,
            references=[],
            automatic=False,
            files=[],
        )
        await smtp_send(settings, letter, "jane@example.org")
        [received] = smtp.received()
        assert received.message["Message-ID"] == "<t@shop.example.com>"
        box.append(mail())
        fetched = imap_fetch(
            settings, uid_validity=None, last_uid=0, since=dt.date.today(), cap=5, max_bytes=10_000
        )
        assert len(fetched.mails) == 1

        monkeypatch.setenv("SSL_CERT_FILE", certifi.where())  # the public CAs only
        with pytest.raises(ProviderError) as caught:
            await adapter.connect(ctx(config))
        assert (
            caught.value.code == PROVIDER_UNAVAILABLE and "CERTIFICATE_VERIFY_FAILED" in caught.value.message
        )
