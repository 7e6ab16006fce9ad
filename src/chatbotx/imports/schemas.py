"""Contact import jobs as the API shows them, and the request that starts one."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from chatbotx.kit.schemas import IdIn, IdStr, InputSchema, OptIdStr, Schema

Channel = Literal[
    "omnichannel", "webchat", "messenger", "whatsapp", "zalo", "smtp", "telegram", "instagram", "tiktok"
]
JobStatus = Literal["queued", "running", "finished", "failed"]


class ContactImportCreate(InputSchema):
    file_id: IdIn = Field(description="An uploaded CSV file (POST /api/v1/files)")
    channel: Channel | None = Field(
        default=None,
        description="Channel of the inbox to put the contacts on; alone, the workspace's only inbox of it",
    )
    inbox_id: IdIn | None = Field(default=None, description="Inbox to put every imported contact on")
    mapping: dict[str, str | None] | None = Field(
        default=None,
        max_length=500,
        description="CSV column -> contact field (firstName, lastName, fullName, email, phoneNumber, gender, "
        "locale, timezone, country, state, city, ref, source, tags, sourceId, customField:<name>); null "
        "ignores a column. Without it, headers are recognised by name.",
        examples=[{"E-mail": "email", "Mobile": "phoneNumber", "Plan": "customField:plan"}],
    )
    update_existing: bool = Field(
        default=True, description="Update contacts that already exist (matched by email, then phone)"
    )


class ImportFailure(Schema):
    row: int = Field(description="Line of the file where the record starts (the header is line 1)")
    column: str | None = Field(default=None, description="The column at fault, when one is")
    reason: str


class ContactImport(Schema):
    id: IdStr
    file_id: IdStr
    inbox_id: OptIdStr = None
    channel: str | None = None
    mapping: dict[str, str | None] = Field(default_factory=dict)
    update_existing: bool
    status: JobStatus
    total_rows: int = Field(description="Data records in the file (known once the job has started)")
    processed_rows: int
    created_count: int
    updated_count: int
    skipped_count: int = Field(description="Existing contacts left alone because updateExisting is false")
    failed_count: int = Field(description="Rows not imported; the first 1000 reasons are in `failures`")
    failures: list[ImportFailure]
    error: str | None = Field(default=None, description="Why the whole job failed, when it did")
    created_at: dt.datetime
    finished_at: dt.datetime | None = None
