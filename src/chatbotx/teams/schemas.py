from __future__ import annotations

import datetime as dt

from pydantic import Field

from chatbotx.kit.schemas import IdIn, IdStr, InputSchema, Schema

MAX_MEMBER_IDS = 100


class Team(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    workspace_id: IdStr
    name: str
    description: str | None = None
    member_ids: list[IdStr] = Field(default_factory=list, description="Ids of the members in the team")


class TeamCreate(InputSchema):
    name: str = Field(min_length=1, max_length=200, description="Team name, unique in the workspace")
    description: str | None = Field(default=None, max_length=1000)
    member_ids: list[IdIn] = Field(
        default_factory=list, max_length=MAX_MEMBER_IDS, description="Initial members"
    )


class TeamUpdate(InputSchema):
    name: str | None = Field(default=None, min_length=1, max_length=200, description="New name")
    description: str | None = Field(default=None, max_length=1000)


class TeamMembers(InputSchema):
    member_ids: list[IdIn] = Field(min_length=1, max_length=MAX_MEMBER_IDS, description="Member ids")
