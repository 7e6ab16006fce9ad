"""The outbound dispatcher: claim due queued messages with a lease, send them through the channel
adapters under the inboxes' rate limits, and record what happened (sent, retry later, failed, plus the
error's effects).

Delivery is keyed by Message.id and at least once: a claimed row is ours until its lease passes; we never
start a send after our lease (minus a margin) and never send a row whose status is no longer queued; a
provider success is committed at once (group commit). The one remaining gap is a crash between the
provider's answer and that commit: the lease then expires and the message is sent again. Cancelling a
dispatcher is not such a crash: the sends in flight finish and are recorded, the rows not yet sent are
released."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import math
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import httpx
from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatbotx.channels import base, registry
from chatbotx.channels.base import ChannelAdapter, ChannelContext, ProviderError, RatePlan
from chatbotx.channels.context import channel_context
from chatbotx.dispatcher import outbound, policy
from chatbotx.dispatcher.limits import OutboundLimiter, Ticket
from chatbotx.kit.db import commit, utcnow
from chatbotx.kit.events import MESSAGE_UPDATED, publish_many
from chatbotx.messages.schemas import Message as MessageOut
from chatbotx.models import ContactInbox, ErrorLog, Inbox, Message

log = logging.getLogger("chatbotx.dispatcher")

LEASE = dt.timedelta(seconds=60)
LEASE_MARGIN = 5.0  # seconds: no send starts this close to the end of our lease
BATCH = 200

MAX_ATTEMPTS = 12  # then failed (about an hour of backoff in all)
BACKOFF_CAP = 900.0
UNREACHABLE_CODES = frozenset({base.BLOCKED_BY_USER, base.INVALID_RECIPIENT})
OutcomeKind = Literal["sent", "retry", "failed", "release"]


def send_concurrency(plan: RatePlan) -> int:
    """Provider calls in flight per inbox: enough for the inbox's rate at ~250 ms a call, between 8 and 64 (a
    crowd of requests queued on the HTTP pool costs more CPU than it sends)."""
    if not plan.per_second:
        return 32
    return max(8, min(64, math.ceil(plan.per_second / 4)))


def backoff(attempts: int) -> float:
    """Seconds before retry number `attempts` (1, 2, 4, ... capped at 15 minutes)."""
    return min(2.0 ** max(attempts - 1, 0), BACKOFF_CAP)


def adapter_channels() -> list[str]:
    """Channels that have an adapter (only their messages are the dispatcher's)."""
    return registry.channels()


def clear_error(channel: str, error: ProviderError, attempts: int) -> str:
    """The provider's reason, said so that a user knows what happened and what to do."""
    name = policy.channel_name(channel)
    reason = error.message.rstrip(".")
    return {
        base.BLOCKED_BY_USER: f"The contact has blocked this {name} channel ({reason}).",
        base.INVALID_RECIPIENT: f"{name} cannot deliver to this contact ({reason}).",
        base.TOKEN_INVALID: f"{name} rejected the channel's credentials ({reason}); "
        "update the channel's token.",
        base.OUTSIDE_WINDOW: f"{name} refused a free-form message outside the customer-service window; "
        + ("send it with a message tag" if channel in policy.TAG_CHANNELS else "send a template")
        + f" ({reason}).",
        base.INVALID_MESSAGE: f"{name} refused the message as invalid ({reason}).",
        base.RATE_LIMITED: f"{name} kept throttling this channel after {attempts} attempts ({reason}).",
        base.PROVIDER_UNAVAILABLE: f"{name} was unavailable after {attempts} attempts ({reason}).",
    }.get(error.code, f"{name} error: {reason}.")


@dataclasses.dataclass(eq=False)
class InboxRun:
    """One inbox within a batch: its adapter, context and rate plan (built once), and whether it broke."""

    inbox: Inbox
    adapter: ChannelAdapter
    ctx: ChannelContext
    plan: RatePlan
    broken: bool = False


@dataclasses.dataclass(eq=False)
class Claimed:
    message: Message
    run: InboxRun
    contact_inbox: ContactInbox | None
    now: dt.datetime  # the batch's clock: due times and windows are judged against it
    deadline: float  # monotonic: our lease minus the margin
    sending: bool = False  # settled or handed to a provider call: shutdown leaves it alone


@dataclasses.dataclass(eq=False)
class Outcome:
    claimed: Claimed
    kind: OutcomeKind
    provider_message_id: str | None = None
    error: str | None = None
    error_code: str | None = None
    next_attempt_at: dt.datetime | None = None
    attempts: int = 0
    effect: Literal["unreachable", "needs_attention"] | None = None
    provider_code: str | int | None = None
    written: bool = False


class ResultWriter:
    """Writes outcomes with group commit: whoever takes the lock writes everything pending in one transaction,
    so under load many results share a commit and at rest each one is committed at once."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]):
        self.sessionmaker = sessionmaker
        self.pending: list[Outcome] = []
        self.lock = asyncio.Lock()

    async def record(self, outcome: Outcome) -> None:
        self.pending.append(outcome)
        async with self.lock:
            if outcome.written:
                return
            batch, self.pending = self.pending, []
            # Shielded: a cancelled caller must not abort a write that holds other callers' outcomes too.
            await asyncio.shield(self._write_with_retries(batch))

    async def flush(self, extra: Sequence[Outcome] = ()) -> None:
        """Write everything still pending (a cancelled caller may have left its outcome behind)."""
        self.pending.extend(extra)
        async with self.lock:
            batch, self.pending = [o for o in self.pending if not o.written], []
            if batch:
                await self._write_with_retries(batch)

    async def _write_with_retries(self, batch: list[Outcome]) -> None:
        for attempt in range(5):
            try:
                await self._write(batch)
                break
            except IntegrityError:
                await self._write_one_by_one(batch)
                break
            except Exception:
                if attempt == 4:
                    # The leases will pass and these rows be claimed again (a sent one sent twice).
                    log.exception("could not record %d dispatcher outcomes", len(batch))
                    break
                await asyncio.sleep(0.2 * 2**attempt)
        for outcome in batch:
            outcome.written = True

    async def _write_one_by_one(self, batch: list[Outcome]) -> None:
        for outcome in batch:
            try:
                await self._write([outcome])
            except IntegrityError:
                # The provider's id collides with a stored one: keep the send, drop the id.
                log.warning("provider id %r of message %s is taken", outcome.provider_message_id, outcome)
                outcome.provider_message_id = None
                await self._write([outcome])

    async def _write(self, batch: Sequence[Outcome]) -> None:
        now = utcnow()
        async with self.sessionmaker() as session:
            await _write_messages(session, batch, now)
            await _write_effects(session, batch, now)
            # One INSERT of message.updated events per workspace (in the batch's order), not one per message.
            updates: dict[int, list[tuple[str, dict[str, Any]]]] = {}
            for outcome in batch:
                if outcome.kind != "release":
                    message = outcome.claimed.message
                    payload = MessageOut.model_validate(message).model_dump(mode="json", by_alias=True)
                    updates.setdefault(message.workspace_id, []).append((MESSAGE_UPDATED, payload))
            for workspace_id, items in updates.items():
                await publish_many(session, workspace_id, items)
            await commit(session)


def _apply(outcome: Outcome, now: dt.datetime) -> dict[str, Any]:
    """Update the in-memory row (events show the new state) and return the statement's parameters."""
    message = outcome.claimed.message
    message.updated_at = now
    message.leased_until = None
    if outcome.kind == "sent":
        message.status, message.sent_at = "sent", now
        message.provider_message_id = outcome.provider_message_id
        message.error = message.error_code = None
    elif outcome.kind == "failed":
        message.status = "failed"
        message.error, message.error_code = outcome.error, outcome.error_code
    elif outcome.kind == "retry":
        message.error, message.error_code = outcome.error, outcome.error_code
    if outcome.kind in ("retry", "release") and outcome.next_attempt_at is not None:
        message.next_attempt_at = outcome.next_attempt_at
    if outcome.kind != "release":
        message.attempts = outcome.attempts
    return {
        "b_id": message.id,
        "b_status": message.status,
        "b_pmid": message.provider_message_id,
        "b_error": message.error,
        "b_code": message.error_code,
        "b_next": message.next_attempt_at,
        "b_attempts": message.attempts,
        "b_sent": message.sent_at,
        "b_now": now,
    }


async def _write_messages(session: AsyncSession, batch: Sequence[Outcome], now: dt.datetime) -> None:
    params = [_apply(outcome, now) for outcome in batch]
    table = Message.__table__  # Core executemany: one statement, one round of parameters
    assert isinstance(table, Table)
    # Only a row still queued changes: a status webhook or another writer may have moved it on.
    stmt = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.status == "queued")
        .values(
            status=bindparam("b_status"),
            provider_message_id=bindparam("b_pmid"),
            error=bindparam("b_error"),
            error_code=bindparam("b_code"),
            next_attempt_at=bindparam("b_next"),
            attempts=bindparam("b_attempts"),
            sent_at=bindparam("b_sent"),
            updated_at=bindparam("b_now"),
            leased_until=None,
        )
    )
    await session.execute(stmt, params)


async def _write_effects(session: AsyncSession, batch: Sequence[Outcome], now: dt.datetime) -> None:
    for outcome in batch:
        claimed = outcome.claimed
        if outcome.effect == "unreachable" and claimed.contact_inbox is not None:
            await session.execute(
                update(ContactInbox)
                .where(ContactInbox.id == claimed.contact_inbox.id)
                .values(unreachable_at=now, unreachable_reason=outcome.error_code)
            )
        elif outcome.effect == "needs_attention":
            inbox = claimed.run.inbox
            changed = await session.execute(
                update(Inbox)
                .where(Inbox.id == inbox.id, Inbox.status == "active")
                .values(status="needs_attention", status_reason=outcome.error, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if getattr(changed, "rowcount", 0):  # logged once, by whoever flagged the inbox
                session.add(
                    ErrorLog(
                        workspace_id=inbox.workspace_id,
                        source=f"channel.{inbox.channel}",
                        code=outcome.error_code or base.TOKEN_INVALID,
                        message=outcome.error or "",
                        data={
                            "inboxId": str(inbox.id),
                            "channel": inbox.channel,
                            "messageId": str(claimed.message.id),
                            "providerCode": outcome.provider_code,
                        },
                    )
                )


def _due(now: dt.datetime, channels: Sequence[str]) -> Any:
    return (
        select(Message.id)
        .join(Inbox, Inbox.id == Message.inbox_id)
        .where(
            Message.status == "queued",
            Message.next_attempt_at <= now,
            or_(Message.leased_until.is_(None), Message.leased_until < now),
            Message.direction == "outgoing",
            Message.private.is_(False),
            Inbox.channel.in_(channels),
            # A channel needing attention (or disabled, or never connected) keeps its messages until fixed.
            Inbox.status == "active",
            Inbox.credentials.is_not(None),
        )
    )


class Dispatcher:
    """Claims and sends: `drain()` sends everything due now (tests, benchmarks), `run()` is the service."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        limiter: OutboundLimiter | None = None,
        *,
        lease: dt.timedelta = LEASE,
        batch: int = BATCH,
        capacity: int = 500,
        per_inbox_concurrency: int | None = None,
        poll_interval: float = 0.2,
        channels: Sequence[str] | None = None,
    ):
        self.sessionmaker = sessionmaker
        self.limiter = limiter or OutboundLimiter()
        self.lease = lease
        self.batch = batch
        self.capacity = capacity
        self.poll_interval = poll_interval
        self.channels = list(channels) if channels is not None else None
        self.writer = ResultWriter(sessionmaker)
        self.wake = asyncio.Event()
        self.sends: set[asyncio.Task[None]] = set()  # provider calls in flight (finish even when cancelled)
        self.groups: dict[tuple[int, str], deque[Claimed]] = {}
        self.queued = 0  # messages waiting in the groups (not the one each is working on)
        self.current: dict[tuple[int, str], Claimed] = {}  # the message each group is working on
        self.orphans: list[Claimed] = []  # rows of cancelled workers, to release
        self.per_inbox_concurrency = per_inbox_concurrency  # None: from each inbox's rate plan
        self.gates: dict[int, asyncio.Semaphore] = {}  # provider calls at once per inbox
        self.claiming: asyncio.Future[list[Claimed]] | None = None  # a claim whose rows are not started yet
        self.workers: set[asyncio.Task[None]] = set()
        self.slot_freed = asyncio.Event()
        self.last_housekeeping = 0.0

    # ------------------------------------------------------------------ claiming

    def _channels(self) -> list[str]:
        return self.channels if self.channels is not None else adapter_channels()

    async def claim(self, now: dt.datetime, limit: int) -> list[Claimed]:
        """Lease up to `limit` due messages (oldest due first) and load what sending them needs."""
        channels = self._channels()
        if not channels or limit <= 0:
            return []
        async with self.sessionmaker() as session:
            # A read first: an idle poll must not take SQLite's write lock.
            if not await session.scalar(select(_due(now, channels).exists())):
                return []
            due = _due(now, channels).order_by(Message.next_attempt_at, Message.id).limit(limit)
            if (await session.connection()).dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True, of=Message)
            claimed_ids = list(
                (
                    await session.execute(
                        update(Message)
                        .where(Message.id.in_(due))
                        .values(leased_until=now + self.lease)
                        .returning(Message.id)
                        .execution_options(synchronize_session=False)
                    )
                ).scalars()
            )
            deadline = time.monotonic() + self.lease.total_seconds() - LEASE_MARGIN
            rows = await self._load(session, claimed_ids, now, deadline)
            await commit(session)
        return rows

    async def _load(
        self, session: AsyncSession, ids: Sequence[int], now: dt.datetime, deadline: float
    ) -> list[Claimed]:
        if not ids:
            return []
        messages = list(
            (await session.execute(select(Message).where(Message.id.in_(ids)).order_by(Message.id))).scalars()
        )
        inbox_ids = {m.inbox_id for m in messages if m.inbox_id is not None}
        contact_ids = {m.contact_id for m in messages}
        inboxes = {
            i.id: i for i in (await session.execute(select(Inbox).where(Inbox.id.in_(inbox_ids)))).scalars()
        }
        identities: dict[tuple[int, int], list[ContactInbox]] = {}
        for row in (
            await session.execute(
                select(ContactInbox).where(
                    ContactInbox.contact_id.in_(contact_ids), ContactInbox.inbox_id.in_(inbox_ids)
                )
            )
        ).scalars():
            identities.setdefault((row.contact_id, row.inbox_id), []).append(row)
        runs: dict[int, InboxRun] = {}
        claimed = []
        for message in messages:
            inbox = inboxes[message.inbox_id] if message.inbox_id is not None else None
            adapter = registry.get(inbox.channel) if inbox is not None else None
            if inbox is None or adapter is None:
                continue  # the lease passes and nobody takes it: not a message of ours
            run = runs.get(inbox.id)
            if run is None:
                ctx = channel_context(inbox)
                run = runs[inbox.id] = InboxRun(inbox, adapter, ctx, adapter.rate_plan(ctx.config))
            rows = identities.get((message.contact_id, inbox.id), [])
            reachable = [r for r in rows if r.unreachable_at is None]
            target = policy.pick_contact_inbox(reachable) or policy.pick_contact_inbox(rows)
            claimed.append(Claimed(message, run, target, now, deadline))
        return claimed

    # ------------------------------------------------------------------ sending

    def _precheck(self, item: Claimed) -> Outcome | None:
        """A final outcome reached without calling the provider, or None to go on and send."""
        message, run, target = item.message, item.run, item.contact_inbox
        channel = run.inbox.channel
        if message.status != "queued":
            return Outcome(item, "release")
        if target is None:
            return self._fail(item, "CONTACT_NOT_ON_CHANNEL", "The contact has no identity on this channel.")
        if target.unreachable_at is not None:
            text = policy.unreachable_message(channel, target.unreachable_reason)
            return self._fail(item, "CONTACT_UNREACHABLE", text)
        window = policy.window_for(
            channel, run.adapter.window, message.content_type, message.content_attributes
        )
        if window is not None and not policy.window_open(target.last_inbound_at, window, item.now):
            text = policy.outside_window_message(channel, window, target.last_inbound_at)
            return self._fail(item, base.OUTSIDE_WINDOW, text)
        return None

    def _fail(self, item: Claimed, code: str, text: str, **extra: Any) -> Outcome:
        return Outcome(item, "failed", error=text, error_code=code, attempts=item.message.attempts, **extra)

    def _on_error(self, item: Claimed, error: ProviderError) -> Outcome:
        attempts = item.message.attempts + 1
        run = item.run
        channel = run.inbox.channel
        if error.retryable and attempts < MAX_ATTEMPTS:
            delay = max(error.retry_after or 0.0, backoff(attempts))
            if error.code == base.RATE_LIMITED and error.retry_after:
                self.limiter.pause(str(run.inbox.id), error.retry_after)
            return Outcome(
                item,
                "retry",
                error=f"{policy.channel_name(channel)}: {error.message} (attempt {attempts}; retrying)",
                error_code=error.code,
                next_attempt_at=item.now + dt.timedelta(seconds=delay),
                attempts=attempts,
                provider_code=error.provider_code,
            )
        outcome = Outcome(
            item,
            "failed",
            error=clear_error(channel, error, attempts),
            error_code=error.code,
            attempts=attempts,
            provider_code=error.provider_code,
        )
        if error.code in UNREACHABLE_CODES:
            outcome.effect = "unreachable"
            if item.contact_inbox is not None:  # later messages of this batch to them fail without a call
                item.contact_inbox.unreachable_at = item.now
                item.contact_inbox.unreachable_reason = error.code
        elif error.code == base.TOKEN_INVALID:
            outcome.effect = "needs_attention"
            run.broken = True
        return outcome

    async def _send(self, item: Claimed) -> Outcome:
        run = item.run
        message = outbound.build(item.message, item.contact_inbox.source_id if item.contact_inbox else "")
        try:
            result = await run.adapter.send(run.ctx, message)
        except ProviderError as error:
            return self._on_error(item, error)
        except httpx.HTTPError as error:
            reason = f"{type(error).__name__}: {error}".rstrip(": ")
            return self._on_error(item, ProviderError(base.PROVIDER_UNAVAILABLE, reason, retryable=True))
        except Exception as error:  # an adapter bug must not lose the message: retry, then fail visibly
            log.exception("adapter %s failed on message %s", run.inbox.channel, item.message.id)
            return self._on_error(
                item, ProviderError(base.PROVIDER_ERROR, f"{type(error).__name__}: {error}", retryable=True)
            )
        return Outcome(
            item, "sent", provider_message_id=result.provider_message_id, attempts=item.message.attempts + 1
        )

    async def _send_and_record(self, item: Claimed, gate: asyncio.Semaphore, ticket: Ticket) -> None:
        try:
            outcome = await self._send(item)
        finally:
            gate.release()  # the next send need not wait for this one's commit
            await self.limiter.done(ticket)  # it counts until a window after the provider's answer
        await self.writer.record(outcome)

    async def _settle(self, outcome: Outcome) -> None:
        outcome.claimed.sending = True
        await self.writer.record(outcome)

    async def _process(self, item: Claimed, pending: deque[Claimed]) -> None:
        """Send one message (or settle it without a call); on a deferral the rest of its group follows it."""
        if item.run.broken or time.monotonic() >= item.deadline:
            await self._settle(Outcome(item, "release"))
            return
        settled = self._precheck(item)
        if settled is not None:
            await self._settle(settled)
            return
        run = item.run
        target = item.contact_inbox
        assert target is not None
        # The gate comes before the limiter: once admitted, a send goes out at once (a send queued behind
        # others after its admission could bunch up with the next second's and break the limit).
        gate = self._gate(run)
        await gate.acquire()
        try:
            max_wait = item.deadline - time.monotonic()
            wait, ticket = await self.limiter.turn(str(run.inbox.id), target.source_id, run.plan, max_wait)
        except BaseException:
            gate.release()
            raise
        if ticket is None or run.broken or time.monotonic() >= item.deadline:
            gate.release()
            if ticket is not None:
                await self.limiter.cancel(ticket)
            later = item.now + dt.timedelta(seconds=wait) if wait else None
            deferred = list(pending)
            for each in [item, *deferred]:
                await self._settle(Outcome(each, "release", next_attempt_at=later))
            # Only those: messages a later claim added to the group meanwhile stay queued behind them.
            for _ in deferred:
                pending.popleft()
            self.queued -= len(deferred)
            return
        # Shielded: cancelling the dispatcher must not cut a provider call in half (sent, never recorded).
        item.sending = True
        task = asyncio.create_task(self._send_and_record(item, gate, ticket))
        self.sends.add(task)
        task.add_done_callback(self.sends.discard)
        await asyncio.shield(task)

    def _gate(self, run: InboxRun) -> asyncio.Semaphore:
        gate = self.gates.get(run.inbox.id)
        if gate is None:
            size = self.per_inbox_concurrency or send_concurrency(run.plan)
            gate = self.gates[run.inbox.id] = asyncio.Semaphore(size)
        return gate

    async def _work(self, key: tuple[int, str]) -> None:
        """Send one recipient's messages in order (the group may grow while we work)."""
        queue = self.groups[key]
        try:
            while queue:
                item = self.current[key] = queue.popleft()
                self.queued -= 1
                await self._process(item, queue)
        except asyncio.CancelledError:
            # Not sent and not settled: `_shutdown` releases them (cancelling a gather of workers lets them
            # finish before the canceller runs, so they must hand over their rows themselves).
            current = self.current.get(key)
            self.orphans += [i for i in ([current] if current else []) if not i.sending] + list(queue)
            self.queued -= len(queue)
            queue.clear()
            raise
        finally:
            self.current.pop(key, None)
            self.groups.pop(key, None)
            self.slot_freed.set()

    def _start(self, items: Iterable[Claimed]) -> None:
        for item in items:
            recipient = item.contact_inbox.source_id if item.contact_inbox else f"message:{item.message.id}"
            key = (item.run.inbox.id, recipient)
            self.queued += 1
            queue = self.groups.get(key)
            if queue is not None:
                queue.append(item)
                continue
            self.groups[key] = deque([item])
            worker = asyncio.create_task(self._work(key))
            self.workers.add(worker)
            worker.add_done_callback(self.workers.discard)

    def in_flight(self) -> int:
        """Messages claimed and not yet settled or answered: waiting in their groups, or at the provider."""
        return self.queued + len(self.sends)

    # ------------------------------------------------------------------ running

    async def drain(self, now: dt.datetime | None = None) -> int:
        """Send everything due at `now` (default: the current time) and return how many were claimed."""
        total = 0
        try:
            while True:
                items = await self._claim(now or utcnow(), self.batch)
                if not items:
                    if not self.workers:
                        break
                    # Nothing more due yet: once the rest is sent, look again (a row released meanwhile).
                    await asyncio.gather(*list(self.workers))
                    continue
                total += len(items)
                self._start(items)
                # The next claim overlaps this batch's sends: it goes out once half the batch is done (a
                # claim of many rows takes a while; the sends must not wait for it).
                while self.groups and self.in_flight() > self.batch // 2:
                    self.slot_freed.clear()
                    await self.slot_freed.wait()
        except asyncio.CancelledError:
            await self._shutdown()
            raise
        return total

    async def run(self) -> None:
        """Until cancelled: claim when due work exists (woken at once by `wake`, else every poll interval)."""
        try:
            while True:
                await self._housekeeping()
                room = self.capacity - self.in_flight()
                claimed = 0
                if room >= min(self.batch, self.capacity // 2):
                    try:
                        items = await self._claim(utcnow(), min(room, self.batch))
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("dispatcher claim failed")
                        items = []
                    claimed = len(items)
                    self._start(items)
                if claimed and claimed == min(room, self.batch):
                    continue  # more may be due right now
                self.wake.clear()
                self.slot_freed.clear()
                waits = [asyncio.ensure_future(self.wake.wait())]
                if room < min(self.batch, self.capacity // 2):
                    waits.append(asyncio.ensure_future(self.slot_freed.wait()))
                try:
                    await asyncio.wait(waits, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waits:
                        waiter.cancel()
        except asyncio.CancelledError:
            await self._shutdown()
            raise

    async def _claim(self, now: dt.datetime, limit: int) -> list[Claimed]:
        """`claim`, shielded: if we are cancelled meanwhile, `_shutdown` releases what it leased."""
        self.claiming = asyncio.ensure_future(self.claim(now, limit))
        items = await asyncio.shield(self.claiming)
        self.claiming = None
        return items

    async def _housekeeping(self) -> None:
        """Once a second: reopen snoozed conversations whose time has come (when that module offers it)."""
        if time.monotonic() - self.last_housekeeping < 1.0:
            return
        self.last_housekeeping = time.monotonic()
        try:
            from chatbotx.conversations import service as conversations
        except ImportError:
            return
        wake_snoozed = getattr(conversations, "wake_snoozed", None)
        if wake_snoozed is None:
            return
        try:
            async with self.sessionmaker() as session:
                await wake_snoozed(session, utcnow())
                await commit(session)
        except Exception:
            log.exception("waking snoozed conversations failed")

    async def _shutdown(self) -> None:
        """Let the provider calls in flight finish and be recorded; release every row not yet sent."""
        left = [item for queue in self.groups.values() for item in queue]
        left += [item for item in self.current.values() if not item.sending]
        if self.claiming is not None:
            with contextlib.suppress(Exception):
                left += await self.claiming
            self.claiming = None
        for queue in self.groups.values():
            self.queued -= len(queue)
            queue.clear()
        for worker in list(self.workers):
            worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*list(self.workers), return_exceptions=True)
        if self.sends:
            await asyncio.wait(list(self.sends), timeout=30)
        left += self.orphans
        self.orphans = []
        released = {id(item): item for item in left if not item.sending}
        await self.writer.flush([Outcome(item, "release") for item in released.values()])
