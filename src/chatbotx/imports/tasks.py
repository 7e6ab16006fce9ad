"""The job that runs a contact import (`contacts.import`), and the restart hook that resumes them."""

from __future__ import annotations

import logging
from typing import Any

from taskiq import TaskiqEvents

from chatbotx.kit.db import get_database
from chatbotx.kit.jobs import broker

log = logging.getLogger("chatbotx.imports")


@broker.task(task_name="contacts.import")
async def import_contacts_task(job_id: int) -> None:
    # Imported here: the service imports this module to kick the task.
    from chatbotx.imports.service import run_import

    await run_import(job_id)


@broker.on_event(TaskiqEvents.WORKER_STARTUP)
async def resume_imports(_state: Any = None) -> None:
    """Kick every import left queued or running by a stopped process; each resumes after its last committed
    batch. A job that is in fact still running elsewhere is safe: each batch is applied by one runner only."""
    from chatbotx.imports.service import pending_job_ids

    try:
        async with get_database().sessionmaker() as session:
            job_ids = await pending_job_ids(session)
    except Exception as exc:  # e.g. a database not migrated yet: nothing to resume
        log.warning("could not look for contact imports to resume: %s", exc)
        return
    for job_id in job_ids:
        await import_contacts_task.kiq(job_id)
