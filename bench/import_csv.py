"""CSV import of 100,000 contacts on PostgreSQL: rows/s (target >= 20,000) and peak RSS, beside a raw COPY.

Runs the IMPORTS service in this process (`chatbotx.imports.service.run_import`, as the worker does, with
its garbage-collector settings) on a fresh database, sampling RSS every 20 ms; a smaller file first shows
whether peak memory grows with the file. Two baselines, asyncpg COPY of the same rows: into an unindexed
table shaped like `contact` (the floor of moving the bytes), and into the real `contact` and `contact_tag`
tables of another fresh database, with their indexes and reference checks, one transaction per import batch
(the least the import must write).
Run: `python -m bench import_csv` (BENCH_IMPORT_SIZES=20000,100000; BENCH_IMPORT_TIMELINE=1 adds where the
wall time went, batch by batch: see Timeline).
"""

from __future__ import annotations

import asyncio
import contextvars
import csv
import hashlib
import itertools
import os
import resource
import shutil
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil

from bench.common import FIRST, LAST, Store, asyncpg_dsn, fresh_store, log

SIZES = [int(s) for s in os.environ.get("BENCH_IMPORT_SIZES", "20000,100000").split(",")]
TARGET_ROWS_S = 20_000
TIMELINE = os.environ.get("BENCH_IMPORT_TIMELINE") == "1"


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["First Name", "Last Name", "Email", "Phone", "Country", "Tags"])
        for i in range(rows):
            first, last = FIRST[i % 10], LAST[(i // 10) % 10]
            writer.writerow(
                [
                    first,
                    f"{last}{i}",
                    f"{first.lower()}.{i}@example.org",
                    f"+1555{i:07d}",
                    "US",
                    f"csv,batch{i % 5}",
                ]
            )


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _backend_cpu(conn: Any) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend of this database (read from /proc: the server must
    run on this machine; empty otherwise)."""
    pids = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend'"
    )
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for row in pids:
        try:
            with open(f"/proc/{row['pid']}/stat") as stat:  # noqa: ASYNC230 (procfs: never blocks)
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[row["pid"]] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


class CpuUse:
    """CPU seconds of this process and of the PostgreSQL backends serving `database_url` during `run`:
    robust to other work on the machine, unlike the wall clock."""

    python = 0.0
    postgres = 0.0

    async def measure(self, database_url: str, run: Callable[[], Awaitable[Any]]) -> Any:
        import asyncpg

        watcher = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            before, cpu = await _backend_cpu(watcher), _process_cpu()
            result = await run()
            after = await _backend_cpu(watcher)
            self.python = _process_cpu() - cpu
            self.postgres = sum(v - before.get(pid, 0.0) for pid, v in after.items())
            return result
        finally:
            await watcher.close()

    def per_row(self, rows: int) -> str:
        python, postgres = self.python / rows * 1e6, self.postgres / rows * 1e6
        return f"CPU per row: Python {python:4.0f} us, PostgreSQL {postgres:4.0f} us"


class PeakRss:
    """Samples this process's RSS in a thread; `peak_mb` is the highest reading."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self.start = self.peak
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak / 1_048_576

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 1_048_576


class Timeline:
    """With BENCH_IMPORT_TIMELINE=1: where a run's wall time goes, batch by batch (the hooks cost some CPU, so
    not in the figures' runs). Wraps the import's stages (checking, planning, the write) and times the write's
    statements, to show whether the write (one batch at a time: the critical path) waits for anything."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, float, float]] = []
        self.stage: contextvars.ContextVar[str] = contextvars.ContextVar("stage", default="")
        self.started = 0.0
        self.replaced: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        from sqlalchemy import event

        from chatbotx.imports import service, writer
        from chatbotx.kit import db

        def timed(name: str, stage: str, function: Callable[..., Awaitable[Any]]) -> Any:
            async def run(*args: Any) -> Any:
                if stage:
                    self.stage.set(stage)
                started = time.perf_counter()
                try:
                    return await function(*args)
                finally:
                    self.spans.append((name, started, time.perf_counter()))

            return run

        def checked(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            for item in checking(*args, **kwargs):  # a batch, or whatever else the generator yields
                self.spans.append(("checking", started, time.perf_counter()))
                yield item
                started = time.perf_counter()

        checking, copy = service.checked_batches, writer._copy

        async def copied(session: Any, table: Any, columns: Any, rows: list[Any]) -> None:
            await timed(f"write: COPY {table.name}", "", copy)(session, table, columns, rows)

        self.replace(service, "checked_batches", checked)
        self.replace(service, "_plan", timed("planning", "plan", service._plan))
        self.replace(service, "_commit_batch", timed("write", "write", service._commit_batch))
        self.replace(writer, "_copy", copied)
        engine = db.get_database().engine.sync_engine

        @event.listens_for(engine, "before_cursor_execute")
        def before(connection: Any, *_: Any) -> None:
            connection.info["bench_started"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def after(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
            stage = self.stage.get()
            if stage == "plan":
                name = "planning: look-ups"
            elif stage == "write":
                name = "write: first statement" if statement.startswith("SET LOCAL") else "write: others"
            else:
                return
            self.spans.append((name, connection.info.pop("bench_started"), time.perf_counter()))

    def replace(self, module: Any, name: str, value: Any) -> None:
        self.replaced.append((module, name, getattr(module, name)))
        setattr(module, name, value)

    def remove(self) -> None:
        """Put the import's own functions back (the engine, and its listeners, are the run's only)."""
        for module, name, original in reversed(self.replaced):
            setattr(module, name, original)
        self.replaced.clear()

    def summary(self) -> str:
        writes = sorted((start, end) for name, start, end in self.spans if name == "write")
        if not writes:
            return "timeline: no batch written"
        wall = writes[-1][1] - self.started
        busy = sum(end - start for start, end in writes)
        gaps = sum(after[0] - before[1] for before, after in itertools.pairwise(writes))
        totals: dict[str, float] = {}
        for name, start, end in self.spans:
            totals[name] = totals.get(name, 0.0) + end - start
        means = ", ".join(
            f"{name} {total / len(writes) * 1000:.1f}" for name, total in sorted(totals.items())
        )
        return (
            f"timeline: {len(writes)} writes, busy {busy / wall:.0%} of the run to the last commit (gaps "
            f"{gaps * 1000:.0f} ms, first write at {(writes[0][0] - self.started) * 1000:.0f} ms); "
            f"per batch, ms: {means}"
        )


async def run_import(
    store_workspace: int, csv_path: Path, cpu: CpuUse | None = None, timeline: Timeline | None = None
) -> tuple[float, dict[str, int], PeakRss]:
    from chatbotx.imports import service
    from chatbotx.imports.schemas import ContactImportCreate
    from chatbotx.kit import db
    from chatbotx.models import ImportJob, StoredFile

    database = db.get_database()
    relative = f"{store_workspace}/{csv_path.name}"
    target = database.settings.files_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(csv_path, target)
    async with database.sessionmaker() as session:
        stored = StoredFile(
            workspace_id=store_workspace,
            filename=csv_path.name,
            content_type="text/csv",
            size=target.stat().st_size,
            sha256=hashlib.sha256(target.read_bytes()).hexdigest(),
            path=relative,
        )
        session.add(stored)
        await session.flush()
        job, _ = await service.create_import(session, store_workspace, ContactImportCreate(file_id=stored.id))
        await session.commit()  # a plain commit: the queued task is not sent, this process runs the job
        job_id = job.id
    if timeline is not None:
        timeline.install()
    with PeakRss() as rss:
        started = time.perf_counter()
        if timeline is not None:
            timeline.started = started
        try:
            if cpu is None:
                await service.run_import(job_id)
            else:
                await cpu.measure(
                    str(database.settings.effective_database_url), lambda: service.run_import(job_id)
                )
        finally:
            if timeline is not None:
                timeline.remove()
        elapsed = time.perf_counter() - started
    async with database.sessionmaker() as session:
        done = await session.get(ImportJob, job_id)
        assert done is not None
        counts = {
            "status": done.status,
            "created": done.created_count,
            "updated": done.updated_count,
            "failed": done.failed_count,
        }
    return elapsed, counts, rss  # type: ignore[return-value]


async def raw_copy(database_url: str, csv_path: Path) -> float:
    """COPY the same rows (parsed from the CSV) into a table shaped like `contact`, without its indexes."""
    import asyncpg

    from bench.common import contact_rows

    with csv_path.open(newline="") as f:
        count = sum(1 for _ in f) - 1
    rows = list(contact_rows(1, 0, count))
    columns = list(rows[0].keys())
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute("CREATE TEMP TABLE copy_floor (LIKE contact INCLUDING DEFAULTS)")
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "copy_floor", records=[tuple(r[c] for c in columns) for r in rows], columns=columns
        )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def table_copy(store: Store, count: int, batch: int, cpu: CpuUse | None = None) -> float:
    """What the import must write at least, as bare COPY: the contacts into the real `contact` table (all its
    indexes, the trigram one included) and their two tags into `contact_tag`, `batch` rows a transaction."""
    import asyncpg

    from bench.common import _tag_rows, contact_rows

    assert store.database_url
    conn = await asyncpg.connect(asyncpg_dsn(store.database_url))
    try:
        tag_rows = _tag_rows(store.workspace_id)
        await conn.copy_records_to_table(
            "tag", records=[tuple(t.values()) for t in tag_rows], columns=list(tag_rows[0].keys())
        )
        tags = [t["id"] for t in tag_rows]

        async def copy_all() -> None:
            for start in range(0, count, batch):
                rows = list(contact_rows(store.workspace_id, start, min(batch, count - start)))
                columns = list(rows[0].keys())
                now = rows[0]["created_at"]
                links = [
                    (r["id"], tags[(i + k) % len(tags)], now) for i, r in enumerate(rows) for k in range(2)
                ]
                async with conn.transaction():
                    await conn.execute("SET LOCAL synchronous_commit = off")
                    await conn.copy_records_to_table(
                        "contact", records=[tuple(r[c] for c in columns) for r in rows], columns=columns
                    )
                    await conn.copy_records_to_table(
                        "contact_tag", records=links, columns=["contact_id", "tag_id", "created_at"]
                    )

        started = time.perf_counter()
        if cpu is None:
            await copy_all()
        else:
            await cpu.measure(store.database_url, copy_all)
        return time.perf_counter() - started
    finally:
        await conn.close()


def bench_size(rows: int) -> list[str]:
    with fresh_store("postgres") as store:
        assert store.database_url
        for key, value in store.env().items():
            if key.startswith("CHATBOTX_"):
                os.environ[key] = value
        from chatbotx.app import tune_gc
        from chatbotx.kit import db
        from chatbotx.settings import get_settings

        get_settings.cache_clear()
        db.set_database(db.Database(get_settings()))
        # The garbage-collector settings of the processes that run imports (`server start` and `server worker`
        # both call it: startup objects frozen, fewer young collections). Without them this process spent
        # 37-38 us of CPU a row instead of 23-26 (50,000 rows), measuring a collector no import runs with.
        tune_gc()
        csv_path = store.data_dir / f"contacts-{rows}.csv"
        write_csv(csv_path, rows)
        import_cpu, tables_cpu = CpuUse(), CpuUse()
        timeline = Timeline() if TIMELINE else None

        async def go() -> tuple[float, dict[str, int], PeakRss, float]:
            try:
                elapsed, counts, rss = await run_import(store.workspace_id, csv_path, import_cpu, timeline)
                floor = await raw_copy(store.database_url or "", csv_path)
                return elapsed, counts, rss, floor
            finally:
                await db.get_database().dispose()
                db.set_database(None)

        elapsed, counts, rss, floor = asyncio.run(go())
    from chatbotx.imports.service import BATCH_SIZE

    with fresh_store("postgres") as other:
        tables = asyncio.run(table_copy(other, rows, BATCH_SIZE, tables_cpu))
    rate = rows / elapsed
    verdict = "OK" if rate >= TARGET_ROWS_S else "UNDER TARGET"
    return [
        f"import {rows:>7,} rows: {elapsed:6.2f}s = {rate:9,.0f} rows/s "
        f"({verdict}, target {TARGET_ROWS_S:,})  "
        f"peak RSS {rss.peak_mb:6.1f} MB (+{rss.growth_mb:5.1f} MB during the import)  {counts}",
        f"  import {import_cpu.per_row(rows)}",
        f"raw COPY {rows:>7,} rows: {floor:6.2f}s = {rows / floor:9,.0f} rows/s   import/COPY ratio "
        f"{(rows / elapsed) / (rows / floor):.3f}  (into an unindexed copy of contact)",
        f"COPY into contact + contact_tag {rows:>7,} rows: {tables:6.2f}s = {rows / tables:9,.0f} rows/s   "
        f"import/COPY ratio {(rows / elapsed) / (rows / tables):.3f}  (the tables the import writes, "
        f"{BATCH_SIZE:,} rows a transaction)",
        f"  COPY into contact + contact_tag {tables_cpu.per_row(rows)}",
        *([timeline.summary()] if timeline is not None else []),
    ]


def main() -> None:
    log("== import_csv (PostgreSQL, in-process run_import)")
    for rows in SIZES:
        for line in bench_size(rows):
            log(line)


if __name__ == "__main__":
    main()
