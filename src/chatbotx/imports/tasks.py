"""The background job that runs a contact import (`contacts.import`)."""

from __future__ import annotations

from chatbotx.kit.jobs import broker


@broker.task(task_name="contacts.import")
async def import_contacts_task(job_id: int) -> None:
    # Imported here: the service imports this module to kick the task.
    from chatbotx.imports.service import run_import

    await run_import(job_id)
