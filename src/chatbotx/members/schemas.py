from __future__ import annotations

import datetime as dt
import typing
from typing import Literal

from pydantic import Field

from chatbotx.kit.schemas import IdStr, InputSchema, Schema

Role = Literal["owner", "admin", "agent"]
ROLES: tuple[str, ...] = typing.get_args(Role)


class User(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    email: str
    email_verified: bool
    image: str | None = None
    is_anonymous: bool


class Member(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    role: Role
    workspace_id: IdStr
    user_id: IdStr
    user: User


class MemberCreate(InputSchema):
    email: str = Field(min_length=3, max_length=320, description="The person's email address")
    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="Display name (used only for a new user)"
    )
    role: Role = Field(default="agent", description="owner, admin or agent")


class MemberUpdate(InputSchema):
    role: Role = Field(description="owner, admin or agent")
