"""Polling the email channels' IMAP mailboxes: new mail -> InboundEvent rows -> the `inbound.process` job.

Every CHATBOTX_IMAP_POLL_SECONDS each process running background work (the server, `chatbotx server
worker`) polls the email inboxes due. One poller at a time owns an inbox: a ChannelPoll row per inbox holds
the lease (`leased_until`) and the cursor (`state`: IMAP UIDVALIDITY and the last UID seen). A poll fetches
mail above the cursor (oldest first, at most POLL_CAP; more next round), stores each new Message-ID once as
a webhook would (inbound.store.store_events), moves the cursor and releases the lease in one transaction, then
kicks the inbound job. A mail with attachments is kept whole as a stored file (`message/rfc822`); its
attachments are cut out of it by the adapter's download when the inbound job stores them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import io
import logging
import time
from typing import Any

from sqlalchemy import Insert, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.channels.base import TOKEN_INVALID, ProviderError
from chatbotx.channels.context import channel_context
from chatbotx.channels.email import (
    Fetched,
    MailSettings,
    ParsedMail,
    config_error,
    imap_fetch,
    mail_settings,
    parse_mail,
    raw_file_ref,
    reply_address_conversation,
)
from chatbotx.files import service as files
from chatbotx.inbound import codec, store, tasks
from chatbotx.kit.db import commit, get_database, utcnow
from chatbotx.kit.errors import ApiError
from chatbotx.models import ChannelPoll, Conversation, InboundEvent, Inbox, Message
from chatbotx.settings import get_settings

log = logging.getLogger("chatbotx.email")

CHANNEL = "smtp"
POLL_CAP = 200  # mails per poll; a fuller mailbox is drained over the next rounds, at once
LEASE = dt.timedelta(minutes=5)
TICK_MAX = 5.0  # seconds between looks for due inboxes (each inbox is polled per its own interval)
MAX_BACKOFF = 3600.0
CONCURRENCY = 8
FIRST_POLL_LOOKBACK = dt.timedelta(days=1)  # a new channel picks up the mail of the day before it


@dataclasses.dataclass(slots=True)
class PollResult:
    fetched: int  # mails fetched from the server
    stored: int  # new messages stored (repeats and skipped mail excluded)
    more: bool  # the cap was reached: more mail waits


def poll_interval() -> float:
    return float(get_settings().imap_poll_seconds)


def _insert_ignore(session: AsyncSession, inbox_id: int) -> Insert:
    values = {"inbox_id": inbox_id, "state": {}, "failures": 0}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(ChannelPoll).values(values).on_conflict_do_nothing(index_elements=["inbox_id"])


async def claim(inbox_id: int, now: dt.datetime, *, force: bool = False) -> dict[str, Any] | None:
    """Take the inbox's lease if it is free (and the inbox is due, unless `force`): its poll row, or None."""
    async with get_database().sessionmaker() as session:
        await session.execute(_insert_ignore(session, inbox_id))
        stmt = update(ChannelPoll).where(
            ChannelPoll.inbox_id == inbox_id,
            or_(ChannelPoll.leased_until.is_(None), ChannelPoll.leased_until < now),
        )
        if not force:
            changed = (
                select(Inbox.id)
                .where(Inbox.id == inbox_id, Inbox.updated_at > ChannelPoll.last_polled_at)
                .exists()
            )
            stmt = stmt.where(
                or_(
                    ChannelPoll.next_poll_at.is_(None),
                    ChannelPoll.next_poll_at <= now,
                    and_(ChannelPoll.failures > 0, changed),
                )
            )
        result = await session.execute(
            stmt.values(leased_until=now + LEASE).returning(
                ChannelPoll.state, ChannelPoll.failures, ChannelPoll.last_polled_at
            )
        )
        row = result.first()
        await commit(session)
    if row is None:
        return None
    return {"state": dict(row[0] or {}), "failures": row[1], "last_polled_at": row[2]}


async def release(inbox_id: int) -> None:
    async with get_database().sessionmaker() as session:
        await session.execute(
            update(ChannelPoll).where(ChannelPoll.inbox_id == inbox_id).values(leased_until=None)
        )
        await commit(session)


async def record_failure(inbox: Inbox, failures: int, error: Exception) -> None:
    """Back off (the interval doubled per failure, at most an hour) and say why; refused credentials also put
    the channel in needs_attention (fixed by updating its config, which connects again)."""
    message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
    delay = min(poll_interval() * 2 ** min(failures, 16), MAX_BACKOFF)
    now = utcnow()
    async with get_database().sessionmaker() as session:
        await session.execute(
            update(ChannelPoll)
            .where(ChannelPoll.inbox_id == inbox.id)
            .values(
                leased_until=None,
                failures=failures + 1,
                last_error=message[:2000],
                last_polled_at=now,
                next_poll_at=now + dt.timedelta(seconds=delay),
            )
        )
        if isinstance(error, ProviderError) and error.code == TOKEN_INVALID:
            await session.execute(
                update(Inbox)
                .where(Inbox.id == inbox.id, Inbox.status == "active")
                .values(status="needs_attention", status_reason=f"Email: {message}"[:2000], updated_at=now)
            )
        await commit(session)


async def known_ids(session: AsyncSession, inbox_id: int, provider_ids: list[str]) -> set[str]:
    """Which of these Message-IDs the inbox already has (as a stored event or a message)."""
    if not provider_ids:
        return set()
    keys = {f"message:{pid}"[: codec.KEY_MAX]: pid for pid in provider_ids}
    rows = await session.execute(
        select(InboundEvent.dedupe_key).where(
            InboundEvent.inbox_id == inbox_id, InboundEvent.dedupe_key.in_(list(keys))
        )
    )
    known = {keys[row[0]] for row in rows}
    rows = await session.execute(
        select(Message.provider_message_id).where(
            Message.inbox_id == inbox_id, Message.provider_message_id.in_(provider_ids)
        )
    )
    return known | {row[0] for row in rows}


async def conversation_anchor(session: AsyncSession, inbox_id: int, conversation_id: int) -> str | None:
    """A provider id in the conversation of a reply+<id>@ address, so the mail threads into it."""
    return await session.scalar(
        select(Message.provider_message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.id == conversation_id,
            Conversation.inbox_id == inbox_id,
            Message.provider_message_id.is_not(None),
        )
        .order_by(Message.id.desc())
        .limit(1)
    )


def parse_fetched(
    settings: MailSettings, fetched: Fetched, max_bytes: int
) -> list[tuple[ParsedMail, bytes | None]]:
    """The fetched mail worth storing, parsed: (mail, raw bytes to keep when it has attachments). CPU-bound
    (the stdlib parser takes milliseconds a mail): run it in a thread."""
    out: list[tuple[ParsedMail, bytes | None]] = []
    for item in fetched.mails:
        try:
            parsed = parse_mail(item.raw)
        except Exception:  # the parser is lenient; a mail it still cannot read is logged and passed over
            log.exception("email: cannot parse mail UID %s", item.uid)
            continue
        if parsed is None:
            log.warning("email: mail UID %s has no sender address; skipped", item.uid)
            continue
        if parsed.message.source_id == settings.from_address:
            continue  # our own mail (a copy in INBOX, a bounce to ourselves): never a contact
        if not item.complete:
            message = parsed.message
            message.attachments = []
            message.content_type = "text"
            message.text = (
                f"(This mail is {item.size} bytes, more than the {max_bytes}-byte limit; "
                "only its header was downloaded.)"
            )
            message.attributes["email"]["omittedBytes"] = item.size
        out.append((parsed, item.raw if item.complete and parsed.attachments else None))
    return out


async def store_mail(
    inbox: Inbox,
    settings: MailSettings,
    fetched: Fetched,
    mails: list[tuple[ParsedMail, bytes | None]],
    state: dict[str, Any],
) -> int:
    """Store the new mail, move the cursor and release the lease in one transaction; kick the inbound job."""
    max_bytes = get_settings().max_upload_bytes
    now = utcnow()
    async with get_database().sessionmaker() as session:
        known = await known_ids(session, inbox.id, [m.message.provider_message_id for m, _ in mails])
        events = []
        for parsed, raw in mails:
            message = parsed.message
            if message.provider_message_id in known:
                continue
            known.add(message.provider_message_id)
            conversation_id = reply_address_conversation(parsed.recipients, settings.from_address)
            if conversation_id is not None:
                anchor = await conversation_anchor(session, inbox.id, conversation_id)
                if anchor and message.thread is not None and anchor not in message.thread:
                    message.thread.append(anchor)
            if raw is not None:
                try:
                    kept = await files.store(
                        session, inbox.workspace_id, io.BytesIO(raw), "mail.eml", "message/rfc822", max_bytes
                    )
                except Exception as exc:  # the message is kept; its attachments say why they are missing
                    log.warning("email: cannot keep the raw mail %s: %s", message.provider_message_id, exc)
                else:
                    message.attributes["email"]["rawFileId"] = str(kept.id)
                    for index, attachment in enumerate(message.attachments):
                        attachment.provider_file_id = raw_file_ref(kept.id, index)
            events.append(message)
        stored = await store.store_events(session, inbox.workspace_id, inbox.id, events)
        last_uid = max([m.uid for m in fetched.mails], default=0)
        if state.get("uidValidity") == fetched.uid_validity:
            last_uid = max(last_uid, int(state.get("lastUid") or 0))
        next_poll = now if fetched.more else now + dt.timedelta(seconds=poll_interval())
        await session.execute(
            update(ChannelPoll)
            .where(ChannelPoll.inbox_id == inbox.id)
            .values(
                state={"uidValidity": fetched.uid_validity, "lastUid": last_uid},
                leased_until=None,
                last_polled_at=now,
                next_poll_at=next_poll,
                last_error=None,
                failures=0,
            )
        )
        if stored:
            tasks.kick_after_commit(session, inbox.id)
        await commit(session)
    return stored


async def poll_inbox(inbox_id: int, *, force: bool = False) -> PollResult | None:
    """Poll one email inbox if it is due and no other poller holds it; None when it was not polled."""
    now = utcnow()
    claimed = await claim(inbox_id, now, force=force)
    if claimed is None:
        return None
    async with get_database().sessionmaker() as session:
        inbox = await session.get(Inbox, inbox_id)
    if inbox is None or inbox.channel != CHANNEL or inbox.status != "active":
        await release(inbox_id)
        return None
    try:
        try:
            settings = mail_settings(channel_context(inbox))
        except ApiError as exc:  # settings changed behind the API's back: say so, do not crash the round
            raise config_error(exc) from exc
        state = claimed["state"]
        since = (claimed["last_polled_at"] or inbox.created_at) - FIRST_POLL_LOOKBACK
        fetched = await asyncio.to_thread(
            imap_fetch,
            settings,
            uid_validity=state.get("uidValidity"),
            last_uid=int(state.get("lastUid") or 0),
            since=since.date(),
            cap=POLL_CAP,
            max_bytes=get_settings().max_upload_bytes,
        )
        mails = await asyncio.to_thread(parse_fetched, settings, fetched, get_settings().max_upload_bytes)
        stored = await store_mail(inbox, settings, fetched, mails, state)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await release(inbox_id)
        raise
    except Exception as exc:
        if not isinstance(exc, ProviderError):
            log.exception("email: polling inbox %s failed", inbox_id)
        else:
            log.warning("email: polling inbox %s failed: %s", inbox_id, exc.message)
        await record_failure(inbox, int(claimed["failures"] or 0), exc)
        return None
    return PollResult(len(fetched.mails), stored, fetched.more)


async def poll_now(inbox_id: int, *, wait: float = 30.0) -> PollResult | None:
    """Poll the inbox now, whatever its schedule, waiting (up to `wait` seconds) for another's lease."""
    deadline = time.monotonic() + wait
    while True:
        result = await poll_inbox(inbox_id, force=True)
        if result is not None or time.monotonic() > deadline:
            return result
        async with get_database().sessionmaker() as session:
            poll = await session.get(ChannelPoll, inbox_id)
            held = poll is not None and poll.leased_until is not None and poll.leased_until > utcnow()
        if not held:  # not leased, so not polled for another reason (inactive inbox, an error recorded)
            return None
        await asyncio.sleep(0.05)


async def due_inboxes(now: dt.datetime | None = None) -> list[int]:
    """Active email inboxes whose next poll is due (or that failed and were changed since: a fixed password is
    tried at once) and whose lease is free."""
    now = now or utcnow()
    async with get_database().sessionmaker() as session:
        rows = await session.execute(
            select(Inbox.id)
            .outerjoin(ChannelPoll, ChannelPoll.inbox_id == Inbox.id)
            .where(
                Inbox.channel == CHANNEL,
                Inbox.status == "active",
                or_(
                    ChannelPoll.inbox_id.is_(None),
                    and_(
                        or_(
                            ChannelPoll.next_poll_at.is_(None),
                            ChannelPoll.next_poll_at <= now,
                            # Failing, and the channel changed since (new settings): no need to wait out
                            # the backoff.
                            and_(ChannelPoll.failures > 0, Inbox.updated_at > ChannelPoll.last_polled_at),
                        ),
                        or_(ChannelPoll.leased_until.is_(None), ChannelPoll.leased_until < now),
                    ),
                ),
            )
            .order_by(Inbox.id)
        )
        return [row[0] for row in rows]


async def poll_due() -> int:
    """Poll every due email inbox (a few at a time); how many were polled."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(inbox_id: int) -> bool:
        async with gate:
            return await poll_inbox(inbox_id) is not None

    results = await asyncio.gather(*(one(i) for i in await due_inboxes()))
    return sum(results)


async def run_poller() -> None:
    """Forever: poll the due email inboxes (cancel the task to stop)."""
    while True:
        try:
            await poll_due()
        except Exception:  # a database blip: try again next round
            log.exception("email poller failed")
        await asyncio.sleep(min(poll_interval(), TICK_MAX))


_poller: asyncio.Task[None] | None = None


def start() -> None:
    """Run the poller in this process (the app lifespan and `chatbotx server worker` call this)."""
    global _poller
    if _poller is None or _poller.done():
        _poller = asyncio.create_task(run_poller(), name="chatbotx-email-poller")


async def stop() -> None:
    global _poller
    if _poller is not None:
        _poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _poller
        _poller = None
