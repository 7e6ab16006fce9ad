"""Running import jobs directly: batches, resuming after a crash, inboxes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from chatbotx.imports import service, writer
from chatbotx.imports.rows import ContactRow
from chatbotx.kit import db
from chatbotx.models import ContactInbox, ImportJob
from tests.imports.helpers import add_contact, add_inbox, by_email, contacts, run, tag_names, upload


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so the job is not marked failed."""


async def queued_job(workspace_id: str, file_id: str, **values: Any) -> int:
    """A job row as the endpoint makes it, but not kicked: the test runs it."""
    async with db.get_database().sessionmaker() as s:
        job = ImportJob(
            workspace_id=int(workspace_id), file_id=int(file_id), mapping={}, failures=[], **values
        )
        s.add(job)
        await db.commit(s)
        return job.id


async def job_row(job_id: int) -> ImportJob:
    async with db.get_database().sessionmaker() as s:
        job = await s.get(ImportJob, job_id)
        assert job is not None
        return job


def people_csv(n: int) -> str:
    # Row 4 repeats row 1's address: the same contact, updated, whichever batch it falls in.
    lines = ["email,first name,tags"] + [f"p{i}@example.com,P{i},t{i % 2}" for i in range(n)]
    lines.insert(4, "p0@example.com,Again,t9")
    return "\n".join(lines) + "\n"


async def test_batches_resume_after_a_stop(tenant, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(service, "BATCH_SIZE", 3)
    job_id = await queued_job(tenant.workspace_id, await upload(tenant.client, people_csv(10)))

    await service.run_import(job_id, max_batches=2)
    job = await job_row(job_id)
    assert (job.status, job.total_rows, job.processed_rows) == ("running", 11, 6)
    assert (job.created_count, job.updated_count) == (5, 1)
    assert len(await contacts(tenant.workspace_id)) == 5

    await service.run_import(job_id)
    job = await job_row(job_id)
    assert (job.status, job.processed_rows, job.created_count, job.updated_count) == ("finished", 11, 10, 1)
    people = await by_email(tenant.workspace_id)
    assert len(people) == len(await contacts(tenant.workspace_id)) == 10
    assert people["p0@example.com"].first_name == "Again"

    await service.run_import(job_id)  # a finished job is left alone
    assert len(await contacts(tenant.workspace_id)) == 10


async def test_a_smaller_first_batch_then_full_ones_and_resume(
    tenant, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(service, "BATCH_SIZE", 4)
    monkeypatch.setattr(service, "FIRST_BATCH", 2)
    job_id = await queued_job(tenant.workspace_id, await upload(tenant.client, people_csv(10)))
    await service.run_import(job_id, max_batches=2)
    job = await job_row(job_id)
    assert (job.status, job.processed_rows, job.created_count, job.updated_count) == ("running", 6, 5, 1)
    await service.run_import(job_id)  # resumes with a small batch again, then full ones
    job = await job_row(job_id)
    assert (job.status, job.processed_rows, job.created_count, job.updated_count) == ("finished", 11, 10, 1)
    assert len(await contacts(tenant.workspace_id)) == 10


async def test_a_crash_inside_a_batch_writes_nothing_of_it(tenant, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(service, "BATCH_SIZE", 4)
    job_id = await queued_job(tenant.workspace_id, await upload(tenant.client, people_csv(10)))
    real_write = writer.write_batch
    calls = 0

    async def crash_on_second_batch(*args: Any) -> None:
        nonlocal calls
        calls += 1
        await real_write(*args)  # the rows are written in the transaction...
        if calls == 2:
            raise Crash()  # ...which never commits

    monkeypatch.setattr(writer, "write_batch", crash_on_second_batch)
    with pytest.raises(Crash):
        await service.run_import(job_id)
    job = await job_row(job_id)
    assert (job.status, job.processed_rows, job.created_count) == ("running", 4, 3)
    assert len(await contacts(tenant.workspace_id)) == 3

    monkeypatch.setattr(writer, "write_batch", real_write)
    await service.run_import(job_id)
    job = await job_row(job_id)
    assert (job.status, job.processed_rows, job.created_count, job.updated_count) == ("finished", 11, 10, 1)
    assert len(await contacts(tenant.workspace_id)) == 10


async def test_a_failure_between_a_batchs_writes_leaves_no_half_row(
    tenant, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The second batch's contacts are copied in, then writing their tags fails: none of that batch stays (no
    contact without its tags), the first batch stays whole, and the job is failed with its progress."""
    monkeypatch.setattr(service, "BATCH_SIZE", 4)
    job_id = await queued_job(tenant.workspace_id, await upload(tenant.client, people_csv(10)))
    real_ensure_tags = writer.ensure_tags
    calls = 0

    async def fail_on_second_batch(*args: Any) -> dict[str, int]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("tags unavailable")
        return await real_ensure_tags(*args)

    monkeypatch.setattr(writer, "ensure_tags", fail_on_second_batch)
    await service.run_import(job_id)
    job = await job_row(job_id)
    assert (job.status, job.error, job.processed_rows, job.created_count) == (
        "failed",
        "Internal error: RuntimeError",
        4,
        3,
    )
    people = await by_email(tenant.workspace_id)
    assert sorted(people) == ["p0@example.com", "p1@example.com", "p2@example.com"]
    assert people["p0@example.com"].first_name == "Again"  # row 4 updated it within the first batch
    assert [await tag_names(c.id) for c in people.values()] == [["t0", "t9"], ["t1"], ["t0"]]


async def test_planner_statistics_follow_the_workspace_not_the_table(
    tenant, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """ANALYZE each time the import has doubled the workspace (at least a batch), one at a time."""
    monkeypatch.setattr(service, "BATCH_SIZE", 10)
    for i in range(5):
        await add_contact(tenant.workspace_id, email=f"before{i}@example.com")
    analyzed: list[int] = []
    release = asyncio.Event()

    async def record(self: service.PlannerStatistics) -> None:
        analyzed.append(self.known or 0)
        await release.wait()

    monkeypatch.setattr(service.PlannerStatistics, "_analyze", record)
    statistics = service.PlannerStatistics(int(tenant.workspace_id))
    statistics.enabled = True  # as on PostgreSQL, whatever the test database
    release.set()
    for created in (0, 4, 5, 10, 10, 10, 10):  # the workspace had 5 contacts (the first batch only updated)
        await statistics.grew(created)
        await statistics.close()
    assert analyzed == [24, 54]  # 5 + 19 >= 5 + 10; then 24 + 30 >= 2 * 24

    release.clear()
    await statistics.grew(60)
    await asyncio.sleep(0)
    await statistics.grew(200)  # while the ANALYZE at 114 runs: none more, the growth is kept
    assert analyzed == [24, 54, 114]
    release.set()
    await statistics.close()
    await statistics.grew(0)
    await statistics.close()
    assert analyzed == [24, 54, 114, 314]


async def test_a_second_runner_cannot_apply_a_batch_twice(tenant, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(service, "BATCH_SIZE", 5)
    job_id = await queued_job(tenant.workspace_id, await upload(tenant.client, people_csv(10)))
    # Two runners race from the same starting point; each batch is applied by exactly one of them.
    await asyncio.gather(service.run_import(job_id), service.run_import(job_id))
    job = await job_row(job_id)
    assert job.processed_rows == 11 and job.created_count == 10
    assert len(await contacts(tenant.workspace_id)) == 10


async def test_unexpected_errors_fail_the_job(tenant, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    job_id = await queued_job(tenant.workspace_id, await upload(tenant.client, people_csv(3)))

    async def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(writer, "write_batch", broken)
    await service.run_import(job_id)
    job = await job_row(job_id)
    assert job.status == "failed" and job.error == "Internal error: RuntimeError" and job.finished_at
    assert await contacts(tenant.workspace_id) == []


async def test_whatsapp_inbox_gets_contact_inboxes(api: httpx.AsyncClient, tenant) -> None:  # type: ignore[no-untyped-def]
    inbox_id = await add_inbox(tenant.workspace_id, "whatsapp")
    known = await add_contact(tenant.workspace_id, phone_number="+14155550100")
    csv = "phone,email\n+1 415 555 0100,\n+14155550101,\n,nophone@example.com\n"
    job = await run(api, csv, inboxId=str(inbox_id), channel="whatsapp")
    assert (job["createdCount"], job["updatedCount"], job["failedCount"]) == (1, 1, 1), job
    assert job["inboxId"] == str(inbox_id) and job["channel"] == "whatsapp"
    assert "phone number" in job["failures"][0]["reason"]
    async with db.get_database().sessionmaker() as s:
        rows = (
            (await s.execute(select(ContactInbox).where(ContactInbox.inbox_id == inbox_id))).scalars().all()
        )
    by_source = {r.source_id: r.contact_id for r in rows}
    assert set(by_source) == {"14155550100", "14155550101"}
    assert by_source["14155550100"] == known

    # Again through the channel alone (the workspace's only WhatsApp inbox): nothing new on the inbox.
    job = await run(api, "phone\n+14155550101\n", channel="whatsapp")
    assert (job["updatedCount"], job["inboxId"]) == (1, str(inbox_id))
    async with db.get_database().sessionmaker() as s:
        count = len((await s.execute(select(ContactInbox).where(ContactInbox.inbox_id == inbox_id))).all())
    assert count == 2


async def test_source_ids_for_other_channels(api: httpx.AsyncClient, tenant) -> None:  # type: ignore[no-untyped-def]
    inbox_id = await add_inbox(tenant.workspace_id, "telegram")
    file_id = await upload(api, "email\na@example.com\n")
    refused = await api.post("/api/v1/contacts/import", json={"fileId": file_id, "inboxId": inbox_id})
    assert refused.status_code == 422 and refused.json()["data"]["errors"][0]["field"] == "mapping"
    job = await run(api, "email,Source ID\na@example.com,777\nb@example.com,\n", inboxId=inbox_id)
    assert (job["createdCount"], job["failedCount"]) == (1, 1), job
    async with db.get_database().sessionmaker() as s:
        (row,) = (await s.execute(select(ContactInbox).where(ContactInbox.inbox_id == inbox_id))).scalars()
    assert row.source_id == "777"


async def test_inbox_checks(api: httpx.AsyncClient, tenant, other_tenant) -> None:  # type: ignore[no-untyped-def]
    mine = await add_inbox(tenant.workspace_id, "whatsapp")
    theirs = await add_inbox(other_tenant.workspace_id, "whatsapp")
    file_id = await upload(api, "phone\n+14155550100\n")

    async def start(**body: Any) -> httpx.Response:
        return await api.post("/api/v1/contacts/import", json={"fileId": file_id, **body})

    assert (await start(inboxId=str(theirs))).status_code == 404
    wrong = await start(inboxId=str(mine), channel="telegram")
    assert wrong.status_code == 422 and wrong.json()["data"]["errors"][0]["field"] == "channel"
    assert (await start(channel="messenger")).status_code == 422  # no such inbox
    await add_inbox(tenant.workspace_id, "whatsapp", "Second")
    several = await start(channel="whatsapp")
    assert several.status_code == 422 and several.json()["data"]["errors"][0]["field"] == "inboxId"
    assert (await start(channel="nope")).status_code == 422


async def test_each_batch_sees_the_previous_one(tenant, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # Batch N+1 is matched while batch N is still being written: it must see N's changes all the same.
    monkeypatch.setattr(service, "BATCH_SIZE", 1)
    known = await add_contact(tenant.workspace_id, email="a@example.com", phone_number="+14155550100")
    csv = (
        "email,phone,first name,last name\n"
        "b@example.com,+14155550100,,\n"  # A is found by phone; its address becomes b@
        "a@example.com,,New,\n"  # a@ is nobody's any more: a new contact
        "b@example.com,,Bea,\n"  # A again, by its new address
        ",+14155550100,,Smith\n"  # A again, by phone; its full name keeps the first name set above
    )
    job_id = await queued_job(tenant.workspace_id, await upload(tenant.client, csv))
    await service.run_import(job_id)
    job = await job_row(job_id)
    assert (job.status, job.created_count, job.updated_count) == ("finished", 1, 3)
    people = await by_email(tenant.workspace_id)
    assert set(people) == {"a@example.com", "b@example.com"}
    assert people["b@example.com"].id == known
    assert (people["b@example.com"].first_name, people["b@example.com"].full_name) == ("Bea", "Bea Smith")
    assert people["a@example.com"].first_name == "New"


async def test_interrupted_jobs_are_resumed_on_worker_startup(tenant) -> None:  # type: ignore[no-untyped-def]
    from chatbotx.imports.tasks import resume_imports

    job_id = await queued_job(
        tenant.workspace_id, await upload(tenant.client, people_csv(4)), status="running"
    )
    await resume_imports()
    for _ in range(400):
        if (await job_row(job_id)).status == "finished":
            break
        await asyncio.sleep(0.025)
    job = await job_row(job_id)
    assert (job.status, job.created_count, job.updated_count) == ("finished", 4, 1)


async def test_imported_contacts_are_found_by_keyword(tenant) -> None:  # type: ignore[no-untyped-def]
    """What an import creates or changes is searchable at once (PostgreSQL's generated search_text)."""
    await add_contact(tenant.workspace_id, email="old@example.com", first_name="Oldname")
    job = await run(
        tenant.client,
        "email,first name,phone\nold@example.com,Renamed,\nnew@example.com,Fresh,+84 90 123 4567\n",
    )
    assert (job["status"], job["createdCount"], job["updatedCount"]) == ("finished", 1, 1)

    async def found(keyword: str) -> list[str]:
        response = await tenant.client.get("/api/v1/contacts", params={"keyword": keyword})
        assert response.status_code == 200, response.text
        return sorted(c["firstName"] for c in response.json()["data"])

    assert await found("oldname") == []
    assert await found("renamed") == ["Renamed"]
    assert await found("fresh") == ["Fresh"]
    assert await found("+84 901") == ["Fresh"]
    assert await found("example.com") == ["Fresh", "Renamed"]


async def test_the_keyword_index_has_nothing_pending_after_an_import(tenant) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL: the import's new entries of the keyword index are merged out of GIN's pending list (which
    every search reads entry by entry until autovacuum merges it); SQLite has no such index."""
    merge = text("SELECT gin_clean_pending_list(CAST(:index AS regclass))")
    async with db.get_database().engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            await conn.execute(merge, {"index": service.SEARCH_INDEX})  # start from an empty list
    csv = "email,first name\n" + "".join(f"gin{i}@example.com,Gin{i}\n" for i in range(50))
    job = await run(tenant.client, csv)
    assert (job["status"], job["createdCount"]) == ("finished", 50), job
    if postgres:
        async with db.get_database().engine.begin() as conn:
            assert await conn.scalar(merge, {"index": service.SEARCH_INDEX}) == 0  # no page left pending
    response = await tenant.client.get("/api/v1/contacts", params={"keyword": "gin4"})
    found = sorted(c["email"] for c in response.json()["data"])
    assert found == sorted(f"gin{i}@example.com" for i in (4, *range(40, 50)))


async def test_a_batch_written_first_in_its_session_rolls_back_whole(tenant) -> None:  # type: ignore[no-untyped-def]
    """The COPY goes through the driver's connection: it must be inside the session's transaction even as the
    session's first statement (SQLAlchemy's asyncpg adapter sends BEGIN only with its own first one)."""
    target = writer.Target(int(tenant.workspace_id))
    rows = [ContactRow(2, {"email": "first@example.com"}, ["t"], {})]
    async with db.get_database().sessionmaker() as session:
        planned = await writer.plan(session, target, rows)
    async with db.get_database().sessionmaker() as session:
        await writer.write_batch(session, target, planned)
        await session.rollback()
    assert await contacts(tenant.workspace_id) == []
