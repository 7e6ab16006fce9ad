"""Contact imports: starting a job (one per file), reading its progress, and running it in batches.

A job streams its CSV and imports it batch by batch; each batch's writes and the job's progress commit in one
transaction, so a job that stops (crash, restart) resumes after its last committed batch and never imports a
row twice. `run_import(job_id)` runs a job to the end in the calling coroutine (the task and the benchmark).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.contacts.service import count_contacts
from chatbotx.files import service as files
from chatbotx.imports import writer
from chatbotx.imports.csvfile import (
    CsvError,
    CsvFormat,
    count_records,
    detect_format,
    iter_records,
    read_header,
)
from chatbotx.imports.mapping import ColumnPlan, FieldDef, plan_columns
from chatbotx.imports.rows import ContactRow, Failure, RecordChecker
from chatbotx.imports.schemas import ContactImportCreate
from chatbotx.kit.db import commit, get_database, utcnow
from chatbotx.kit.errors import ApiError, InvalidData, NotFound, invalid_field
from chatbotx.kit.jobs import kick_after_commit
from chatbotx.kit.pagination import PageParams, paginate
from chatbotx.models import Contact, CustomField, ImportJob, Inbox, StoredFile

log = logging.getLogger("chatbotx.imports")
BATCH_SIZE = 2500
# The first batch is smaller: nothing overlaps its checking and planning (the writes start after them).
FIRST_BATCH = 500
MAX_FAILURES = 1000
JOB = cast(Table, ImportJob.__table__)


# --- starting a job


async def load_fields(session: AsyncSession, workspace_id: int) -> dict[str, FieldDef]:
    stmt = select(CustomField.id, CustomField.name, CustomField.type).where(
        CustomField.workspace_id == workspace_id
    )
    return {f.name: FieldDef(f.id, f.name, f.type) for f in await session.execute(stmt)}


async def resolve_inbox(
    session: AsyncSession, workspace_id: int, inbox_id: int | None, channel: str | None
) -> Inbox | None:
    """The inbox the contacts go on: `inbox_id` (its channel must be `channel` if given), or the workspace's
    only inbox of `channel`; none for "omnichannel" or when neither is given."""
    base = select(Inbox).where(Inbox.workspace_id == workspace_id)
    if inbox_id is not None:
        inbox = await session.scalar(base.where(Inbox.id == inbox_id))
        if inbox is None:
            raise NotFound("Inbox not found.", resource="inbox")
        if channel is not None and channel != inbox.channel:
            raise invalid_field("channel", f"the inbox is a {inbox.channel} inbox, not {channel}")
        return inbox
    if channel is None or channel == "omnichannel":
        return None
    inboxes = (await session.execute(base.where(Inbox.channel == channel).limit(2))).scalars().all()
    if not inboxes:
        raise invalid_field("channel", f"the workspace has no {channel} inbox")
    if len(inboxes) > 1:
        raise invalid_field("inboxId", f"the workspace has several {channel} inboxes: say which one")
    return inboxes[0]


def _read_plan(
    path: Path, mapping: dict[str, str | None] | None, fields: dict[str, FieldDef]
) -> list[ColumnPlan]:
    try:
        header = read_header(path, detect_format(path))
    except (CsvError, UnicodeDecodeError) as exc:
        raise invalid_field("fileId", f"the file is not a CSV with a header row: {exc}") from None
    return plan_columns(header, mapping, fields)


async def job_for_file(session: AsyncSession, workspace_id: int, file_id: int) -> ImportJob | None:
    return await session.scalar(
        select(ImportJob).where(ImportJob.workspace_id == workspace_id, ImportJob.file_id == file_id)
    )


async def create_import(
    session: AsyncSession, workspace_id: int, data: ContactImportCreate
) -> tuple[ImportJob, bool]:
    """(the job, True) for a new job, queued after commit; (the existing job, False) if the file has one."""
    stored = await files.get(session, workspace_id, data.file_id)
    existing = await job_for_file(session, workspace_id, stored.id)
    if existing is not None:
        return existing, False
    inbox = await resolve_inbox(session, workspace_id, data.inbox_id, data.channel)
    fields = await load_fields(session, workspace_id)
    plans = await asyncio.to_thread(_read_plan, files.disk_path(stored), data.mapping, fields)
    addressed = writer.PHONE_CHANNELS | writer.EMAIL_CHANNELS
    if inbox is not None and inbox.channel not in addressed and all(p.target != "sourceId" for p in plans):
        raise invalid_field(
            "mapping",
            f"a {inbox.channel} inbox needs a sourceId column (the channel's id for each contact)",
        )
    job = ImportJob(
        workspace_id=workspace_id,
        file_id=stored.id,
        inbox_id=inbox.id if inbox else None,
        channel=inbox.channel if inbox else data.channel,
        mapping=data.mapping or {},
        update_existing=data.update_existing,
        failures=[],
    )
    try:
        async with session.begin_nested():
            session.add(job)
    except IntegrityError:  # the same file, imported by a concurrent request
        raced = await job_for_file(session, workspace_id, stored.id)
        if raced is None:
            raise
        return raced, False
    from chatbotx.imports.tasks import import_contacts_task

    kick_after_commit(session, import_contacts_task, job.id)
    return job, True


async def get(session: AsyncSession, workspace_id: int, job_id: int | None) -> ImportJob:
    job = None
    if job_id is not None:
        job = await session.scalar(
            select(ImportJob).where(ImportJob.id == job_id, ImportJob.workspace_id == workspace_id)
        )
    if job is None:
        raise NotFound("Import not found.", resource="import")
    return job


async def list_imports(
    session: AsyncSession, workspace_id: int, params: PageParams
) -> tuple[list[ImportJob], int]:
    stmt = select(ImportJob).where(ImportJob.workspace_id == workspace_id).order_by(ImportJob.id.desc())
    return await paginate(session, stmt, params)


# --- running a job


def checked_batches(
    path: Path, fmt: CsvFormat, plans: Sequence[ColumnPlan], skip: int, size: int, first: int | None = None
) -> Generator[tuple[int, list[ContactRow], list[Failure]], None, None]:
    """(records, checked rows, failures) per `size` data records (`first` in the first batch), after the first
    `skip` records."""
    count = 0
    rows: list[ContactRow] = []
    failures: list[Failure] = []
    check = RecordChecker(plans)
    limit = first or size
    for index, (line, record) in enumerate(iter_records(path, fmt)):
        if index < skip:
            continue
        checked = check(line, record)
        if isinstance(checked, ContactRow):
            rows.append(checked)
        else:
            failures.extend(checked)
        count += 1
        if count == limit:
            yield count, rows, failures
            count, rows, failures = 0, [], []
            limit = size
    if count:
        yield count, rows, failures


class _Stop(Exception):
    """The job is not ours to run any more (finished, failed, or advanced by another runner)."""


async def _prepare(job_id: int) -> tuple[ImportJob, Path, CsvFormat, list[ColumnPlan], writer.Target] | None:
    """Load what the run needs and mark the job running; None when there is nothing to run."""
    async with get_database().sessionmaker() as session:
        job = await session.get(ImportJob, job_id)
        if job is None or job.status in ("finished", "failed"):
            return None
        stored = await session.get(StoredFile, job.file_id)
        if stored is None:
            raise InvalidData("The import's file was deleted.")
        inbox = await session.get(Inbox, job.inbox_id) if job.inbox_id is not None else None
        fields = await load_fields(session, job.workspace_id)
        path = files.disk_path(stored)
        fmt, plans, total = await asyncio.to_thread(_scan, path, job.mapping or None, fields, job.total_rows)
        job.status = "running"
        job.total_rows = total
        await commit(session)
        target = writer.Target(
            job.workspace_id,
            job.update_existing,
            inbox.id if inbox else None,
            inbox.channel if inbox else None,
        )
        return job, path, fmt, plans, target


def _scan(
    path: Path, mapping: dict[str, Any] | None, fields: dict[str, FieldDef], known_total: int
) -> tuple[CsvFormat, list[ColumnPlan], int]:
    try:
        fmt = detect_format(path)
        plans = plan_columns(read_header(path, fmt), mapping, fields)
        total = known_total or count_records(path, fmt)
    except (CsvError, UnicodeDecodeError) as exc:
        raise InvalidData(f"The file is not a CSV with a header row: {exc}") from None
    return fmt, plans, total


async def _plan(
    target: writer.Target, rows: list[ContactRow], carried: writer.Carried | None
) -> writer.Planned:
    if not rows:
        return writer.Planned({}, writer.BatchResult(), writer.Carried())
    async with get_database().sessionmaker() as session:
        return await writer.plan(session, target, rows, carried)


async def _commit_batch(
    job: ImportJob, target: writer.Target, count: int, planned: writer.Planned, failures: list[Failure]
) -> writer.BatchResult:
    """One transaction: the batch's writes and the job's progress, guarded so that it applies once."""
    result = planned.result
    async with get_database().sessionmaker() as session:
        if session.get_bind().dialect.name == "postgresql":
            # Not waiting for the WAL flush is safe: the batch and the job's progress are one transaction, so
            # a database crash can lose only whole recent batches, and the job redoes exactly those.
            await session.execute(text("SET LOCAL synchronous_commit = off"))
        await writer.write_batch(session, target, planned)
        result.failures = sorted(failures + result.failures, key=lambda f: f.row)
        room = MAX_FAILURES - len(job.failures)
        if room > 0 and result.failures:
            job.failures = job.failures + [f.as_dict() for f in result.failures[:room]]
        progress = {
            "processed_rows": job.processed_rows + count,
            "created_count": job.created_count + result.created,
            "updated_count": job.updated_count + result.updated,
            "skipped_count": job.skipped_count + result.skipped,
            "failed_count": job.failed_count + result.failed_rows,
        }
        applied = await session.execute(
            update(JOB)
            .where(JOB.c.id == job.id, JOB.c.processed_rows == job.processed_rows, JOB.c.status == "running")
            .values(**progress, failures=job.failures, updated_at=utcnow())
        )
        if applied.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            raise _Stop()
        await commit(session)
    for key, value in progress.items():
        setattr(job, key, value)
    return result


async def _finish(job_id: int, **values: Any) -> None:
    async with get_database().sessionmaker() as session:
        await session.execute(
            update(JOB)
            .where(JOB.c.id == job_id, JOB.c.status.in_(("queued", "running")))
            .values(**values, finished_at=utcnow(), updated_at=utcnow())
        )
        await commit(session)


class PlannerStatistics:
    """Keeps PostgreSQL's statistics of the contact tables current while an import grows a workspace.

    Statistics that do not know the workspace (a table never analyzed, or a workspace added since) make the
    planner expect one row of it, and the batch look-ups then read all of the workspace's rows instead of
    probing the (workspace_id, key) indexes (see writer._lookup): each batch slower than the last. So ANALYZE
    each time the import has doubled the workspace (a few times per import, none into a workspace already much
    larger than the file). ANALYZE runs beside the batches (its own connection), never holding up a write.
    """

    # Only the columns the look-ups filter on: the statistics of the others (search_text above all) would cost
    # more than reading the sample.
    CONTACTS = "contact (workspace_id, email, phone_number)"
    CONTACT_INBOXES = "contact_inbox (inbox_id, source_id)"

    def __init__(self, workspace_id: int, with_inboxes: bool = False) -> None:
        self.workspace_id = workspace_id
        self.tables = [self.CONTACTS, self.CONTACT_INBOXES] if with_inboxes else [self.CONTACTS]
        self.enabled = get_database().engine.dialect.name == "postgresql"
        self.known: int | None = None
        self.grown = 0
        self.running: asyncio.Task[None] | None = None

    async def grew(self, created: int) -> None:
        if not self.enabled:
            return
        if self.known is None:
            async with get_database().sessionmaker() as session:
                own = [Contact.workspace_id == self.workspace_id]
                self.known = await count_contacts(session, self.workspace_id, own) - created
        self.grown += created
        if self.grown < max(BATCH_SIZE, self.known) or (self.running and not self.running.done()):
            return
        self.known += self.grown
        self.grown = 0
        self.running = asyncio.create_task(self._analyze())

    async def _analyze(self) -> None:
        try:
            async with get_database().engine.begin() as conn:
                await conn.execute(text(f"ANALYZE {', '.join(self.tables)}"))
        except Exception as exc:  # e.g. not the tables' owner: slower, still correct
            log.warning("ANALYZE during a contact import failed: %s", exc)
            self.enabled = False

    async def close(self) -> None:
        """Let a running ANALYZE finish (it is short; cancelling it would waste it)."""
        if self.running is not None:
            with contextlib.suppress(Exception):
                await self.running


SEARCH_INDEX = "ix_contact_search_text_trgm"  # the keyword search's trigram index (migration 0008)


async def merge_search_index() -> None:
    """PostgreSQL: move what the import added to the keyword index's pending list into the index proper.

    GIN takes new entries into a pending list (fastupdate) and merges it when it passes gin_pending_list_limit
    (4 MB) or when autovacuum comes by; until then every keyword search reads the whole list, entry by entry.
    One merge in bulk once the import has written costs less than any of those searches."""
    if get_database().engine.dialect.name != "postgresql":
        return
    try:
        async with get_database().engine.begin() as conn:
            await conn.execute(
                text("SELECT gin_clean_pending_list(CAST(:index AS regclass))"), {"index": SEARCH_INDEX}
            )
    except Exception as exc:  # e.g. not the index's owner: autovacuum merges it later, searches stay correct
        log.warning("merging the keyword index's pending entries after an import failed: %s", exc)


async def run_import(job_id: int, *, max_batches: int | None = None) -> None:
    """Run (or resume) the job to its end. `max_batches` stops early, as a crash would (for tests).

    Three stages overlap: batch N+2 is read and checked in a thread, batch N+1 is matched against the
    database (plus what batch N will have written) on one connection, and batch N is written and committed on
    another. Batches still commit one after the other, each with the job's progress.
    """
    try:
        prepared = await _prepare(job_id)
    except ApiError as exc:
        await _finish(job_id, status="failed", error=exc.message)
        return
    if prepared is None:
        return
    job, path, fmt, plans, target = prepared
    batches = checked_batches(path, fmt, plans, job.processed_rows, BATCH_SIZE, min(BATCH_SIZE, FIRST_BATCH))
    statistics = PlannerStatistics(target.workspace_id, with_inboxes=target.inbox_id is not None)
    started = 0
    carried: writer.Carried | None = None
    writing: asyncio.Task[writer.BatchResult] | None = None
    planning: asyncio.Task[writer.Planned] | None = None
    ahead: asyncio.Future[Any] = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
    try:
        while (max_batches is None or started < max_batches) and (batch := await ahead) is not None:
            ahead = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
            count, rows, failures = batch
            planning = asyncio.create_task(_plan(target, rows, carried))
            if writing is not None:
                await statistics.grew((await writing).created)
            planned = await planning
            carried = planned.carried
            writing = asyncio.create_task(_commit_batch(job, target, count, planned, failures))
            started += 1
        if writing is not None:
            await statistics.grew((await writing).created)
        if max_batches is None or started < max_batches:
            await _finish(job_id, status="finished", total_rows=job.processed_rows)
            await merge_search_index()
    except _Stop:
        return
    except (CsvError, UnicodeDecodeError) as exc:
        await _finish(job_id, status="failed", error=f"The file could not be read: {exc}")
    except Exception as exc:
        log.exception("contact import %s failed", job_id)
        await _finish(job_id, status="failed", error=f"Internal error: {type(exc).__name__}")
    finally:
        # Never leave a stage running; the exception that got us here still propagates.
        for task in (planning, writing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        with contextlib.suppress(BaseException):
            await ahead
        with contextlib.suppress(ValueError):
            batches.close()
        await statistics.close()


async def pending_job_ids(session: AsyncSession) -> list[int]:
    """Jobs queued or interrupted (e.g. by a restart): kick `contacts.import` for each to resume them."""
    stmt = select(ImportJob.id).where(ImportJob.status.in_(("queued", "running"))).order_by(ImportJob.id)
    return list((await session.execute(stmt)).scalars())
