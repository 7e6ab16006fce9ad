"""Sequence shapes: the list item with its counts, and the detail with its steps."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from chatbotx.kit.schemas import IdStr, OptIdStr, Schema


class EnrollmentCounts(Schema):
    total: int = Field(description="Every enrollment, whatever its status")
    active: int = Field(description="Still receiving steps")
    completed: int = Field(description="Received every step")
    cancelled: int = Field(description="Unsubscribed or removed before the end")


class Sequence(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    description: str | None = None
    active: bool
    folder_id: OptIdStr = None
    workspace_id: IdStr
    step_count: int
    enrollment_counts: EnrollmentCounts


class SequenceStep(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    sequence_id: IdStr
    position: int = Field(description="0-based order in the sequence")
    flow_id: OptIdStr = Field(default=None, description="The flow this step sends")
    delay_value: int = Field(description="Wait after the previous step")
    delay_unit: str = Field(description="minutes, hours or days")
    anytime: bool = Field(description="true = send as soon as due; false = only inside the send window")
    send_time_start: str | None = Field(default=None, description="HH:MM, the contact's time zone")
    send_time_end: str | None = Field(default=None, description="HH:MM, the contact's time zone")
    send_days: list[int] = Field(description="Allowed weekdays, 0 = Monday; empty = every day")
    active: bool


class SequenceDetail(Sequence):
    steps: list[SequenceStep]
