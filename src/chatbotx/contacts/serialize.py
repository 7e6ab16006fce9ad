"""Full contact objects (seed 002) as plain dicts, batch-loaded: one query per related table per page.

The dicts have camelCase keys, ids as strings and aware datetimes, so they go straight to orjson
(`dumps_json`) or through the `schemas.Contact` response model alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import BindParameter, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.models import (
    Contact,
    ContactCustomField,
    ContactInbox,
    ContactNote,
    ContactTag,
    Conversation,
    Inbox,
    Tag,
    Team,
    User,
)

# The contact columns the object needs (a Core select of these is the fast path for pages).
CONTACT_COLUMNS = tuple(
    Contact.__table__.c[name]
    for name in (
        "id",
        "created_at",
        "updated_at",
        "avatar",
        "phone_number",
        "email",
        "email_verified",
        "email_opt_in",
        "first_name",
        "last_name",
        "full_name",
        "gender",
        "last_read_at",
        "ref",
        "source",
        "country",
        "state",
        "city",
        "location",
        "locale",
        "timezone",
        "subscribed_at",
        "broadcast_subscribed_at",
        "blocked_at",
        "workspace_id",
    )
)

_INBOX = Inbox.__table__.c
_USER = User.__table__.c
_TEAM = Team.__table__.c


def select_contact_rows() -> Select[Any]:
    """A Core select of the contact columns; add WHERE/ORDER/LIMIT and pass the rows to `contacts_out`."""
    return select(*CONTACT_COLUMNS)


def _sid(value: int | None) -> str | None:
    return None if value is None else str(value)


def _contact(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "avatar": row.avatar,
        "phoneNumber": row.phone_number,
        "email": row.email,
        "emailVerified": bool(row.email_verified),
        "emailOptIn": bool(row.email_opt_in),
        "firstName": row.first_name,
        "lastName": row.last_name,
        "fullName": row.full_name,
        "gender": row.gender,
        "lastReadAt": row.last_read_at,
        "ref": row.ref,
        "source": row.source,
        "country": row.country,
        "state": row.state,
        "city": row.city,
        "location": row.location,
        "locale": row.locale,
        "timezone": row.timezone,
        "subscribedAt": row.subscribed_at,
        "broadcastSubscribedAt": row.broadcast_subscribed_at,
        "blockedAt": row.blocked_at,
        "workspaceId": str(row.workspace_id),
        "contactCustomFields": [],
        "tags": [],
        "contactNotes": [],
        "contactInboxes": [],
        "conversation": None,
    }


def _inbox(row: Any, prefix: str) -> dict[str, Any] | None:
    inbox_id = getattr(row, f"{prefix}id")
    if inbox_id is None:
        return None
    return {
        "id": str(inbox_id),
        "createdAt": getattr(row, f"{prefix}created_at"),
        "updatedAt": getattr(row, f"{prefix}updated_at"),
        "name": getattr(row, f"{prefix}name"),
        "channel": getattr(row, f"{prefix}channel"),
        "sourceId": getattr(row, f"{prefix}source_id"),
        "workspaceId": str(getattr(row, f"{prefix}workspace_id")),
        "status": getattr(row, f"{prefix}status"),
    }


def _inbox_columns(prefix: str) -> list[Any]:
    names = ("id", "created_at", "updated_at", "name", "channel", "source_id", "workspace_id", "status")
    return [_INBOX[name].label(f"{prefix}{name}") for name in names]


_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)


def _custom_fields_stmt() -> Select[Any]:
    c = ContactCustomField.__table__.c
    return (
        select(c.id, c.created_at, c.updated_at, c.value, c.contact_id, c.custom_field_id)
        .where(c.contact_id.in_(_IDS))
        .order_by(c.contact_id, c.id)
    )


def _tags_stmt() -> Select[Any]:
    t = Tag.__table__.c
    ct = ContactTag.__table__.c
    return (
        select(
            ct.contact_id, t.id, t.created_at, t.updated_at, t.name, t.deleted_at, t.folder_id, t.workspace_id
        )
        .join(Tag.__table__, t.id == ct.tag_id)
        .where(ct.contact_id.in_(_IDS), t.deleted_at.is_(None))
        .order_by(ct.contact_id, t.name)
    )


def _notes_stmt() -> Select[Any]:
    n = ContactNote.__table__.c
    return (
        select(n.id, n.created_at, n.updated_at, n.text, n.contact_id, n.created_by_id)
        .where(n.contact_id.in_(_IDS))
        .order_by(n.contact_id, n.created_at.desc(), n.id.desc())
    )


def _contact_inboxes_stmt() -> Select[Any]:
    ci = ContactInbox.__table__.c
    return (
        select(ci.id.label("ci_id"), ci.contact_id, ci.inbox_id, *_inbox_columns("i_"))
        .join(Inbox.__table__, _INBOX.id == ci.inbox_id)
        .where(ci.contact_id.in_(_IDS))
        .order_by(ci.contact_id, ci.created_at, ci.id)
    )


def _latest_conversations_stmt() -> Select[Any]:
    """Each contact's latest conversation (by lastActivityAt), its assignee, team and inbox: one query."""
    cv = Conversation.__table__.c
    ranked = (
        select(
            *cv,
            func.row_number()
            .over(partition_by=cv.contact_id, order_by=(cv.last_activity_at.desc(), cv.id.desc()))
            .label("rn"),
        )
        .where(cv.contact_id.in_(_IDS))
        .subquery()
    )
    r = ranked.c
    return (
        select(
            r.id,
            r.created_at,
            r.updated_at,
            r.bot_enabled,
            r.bot_resume_at,
            r.archived_at,
            r.additional_attributes,
            r.contact_last_read_at,
            r.agent_last_read_at,
            r.last_activity_at,
            r.followed,
            r.workspace_id,
            r.contact_id,
            r.admin_replied_at,
            r.contact_replied_at,
            r.ai_context_last_message_id,
            r.assigned_user_id,
            r.assigned_team_id,
            _USER.id.label("u_id"),
            _USER.created_at.label("u_created_at"),
            _USER.updated_at.label("u_updated_at"),
            _USER.name.label("u_name"),
            _USER.email.label("u_email"),
            _USER.email_verified.label("u_email_verified"),
            _USER.image.label("u_image"),
            _USER.is_anonymous.label("u_is_anonymous"),
            _TEAM.id.label("t_id"),
            _TEAM.created_at.label("t_created_at"),
            _TEAM.updated_at.label("t_updated_at"),
            _TEAM.workspace_id.label("t_workspace_id"),
            _TEAM.name.label("t_name"),
            *_inbox_columns("i_"),
        )
        .select_from(ranked)
        .outerjoin(User.__table__, _USER.id == r.assigned_user_id)
        .outerjoin(Team.__table__, _TEAM.id == r.assigned_team_id)
        .outerjoin(Inbox.__table__, _INBOX.id == r.inbox_id)
        .where(r.rn == 1)
    )


# Built once: constructing and cache-keying these on every request cost more than running them.
_CUSTOM_FIELDS = _custom_fields_stmt()
_TAGS = _tags_stmt()
_NOTES = _notes_stmt()
_CONTACT_INBOXES = _contact_inboxes_stmt()
_LATEST_CONVERSATIONS = _latest_conversations_stmt()


async def _rows(session: AsyncSession, stmt: Select[Any], ids: list[int]) -> Sequence[Any]:
    return (await session.execute(stmt, {"ids": ids})).all()


def _conversation(row: Any) -> dict[str, Any]:
    user = None
    if row.u_id is not None:
        user = {
            "id": str(row.u_id),
            "createdAt": row.u_created_at,
            "updatedAt": row.u_updated_at,
            "name": row.u_name,
            "email": row.u_email,
            "emailVerified": bool(row.u_email_verified),
            "image": row.u_image,
            "isAnonymous": bool(row.u_is_anonymous),
        }
    team = None
    if row.t_id is not None:
        team = {
            "id": str(row.t_id),
            "createdAt": row.t_created_at,
            "updatedAt": row.t_updated_at,
            "workspaceId": str(row.t_workspace_id),
            "name": row.t_name,
        }
    return {
        "id": str(row.id),
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "botEnabled": bool(row.bot_enabled),
        "botResumeAt": row.bot_resume_at,
        "archivedAt": row.archived_at,
        "additionalAttributes": row.additional_attributes,
        "contactLastReadAt": row.contact_last_read_at,
        "agentLastReadAt": row.agent_last_read_at,
        "lastActivityAt": row.last_activity_at,
        "followed": bool(row.followed),
        "workspaceId": str(row.workspace_id),
        "contactId": str(row.contact_id),
        "adminRepliedAt": row.admin_replied_at,
        "contactRepliedAt": row.contact_replied_at,
        "aiContextLastMessageId": _sid(row.ai_context_last_message_id),
        "assignedUserId": _sid(row.assigned_user_id),
        "assignedInboxTeamId": _sid(row.assigned_team_id),
        "assignedUser": user,
        "assignedInboxTeam": team,
        "inbox": _inbox(row, "i_"),
    }


async def contacts_out(session: AsyncSession, contacts: Sequence[Any]) -> list[dict[str, Any]]:
    """Full contact objects for `contacts` (Contact objects or rows of `select_contact_rows()`), in order.

    Five queries at most (custom fields, tags, notes, contact inboxes, latest conversations), none when empty.
    """
    out = [_contact(c) for c in contacts]
    if not out:
        return out
    by_id = {int(item["id"]): item for item in out}
    ids = list(by_id)
    for row in await _rows(session, _CUSTOM_FIELDS, ids):
        by_id[row.contact_id]["contactCustomFields"].append(
            {
                "id": str(row.id),
                "createdAt": row.created_at,
                "updatedAt": row.updated_at,
                "value": row.value,
                "contactId": str(row.contact_id),
                "customFieldId": str(row.custom_field_id),
            }
        )
    for row in await _rows(session, _TAGS, ids):
        by_id[row.contact_id]["tags"].append(
            {
                "id": str(row.id),
                "createdAt": row.created_at,
                "updatedAt": row.updated_at,
                "name": row.name,
                "deletedAt": row.deleted_at,
                "folderId": _sid(row.folder_id),
                "workspaceId": str(row.workspace_id),
            }
        )
    for row in await _rows(session, _NOTES, ids):
        by_id[row.contact_id]["contactNotes"].append(
            {
                "id": str(row.id),
                "createdAt": row.created_at,
                "updatedAt": row.updated_at,
                "text": row.text,
                "contactId": str(row.contact_id),
                "createdById": _sid(row.created_by_id),
            }
        )
    for row in await _rows(session, _CONTACT_INBOXES, ids):
        inbox = _inbox(row, "i_")
        by_id[row.contact_id]["contactInboxes"].append(
            {
                "id": str(row.ci_id),
                "contactId": str(row.contact_id),
                "inboxId": str(row.inbox_id),
                "channel": inbox["channel"] if inbox else None,
                "inbox": inbox,
            }
        )
    for row in await _rows(session, _LATEST_CONVERSATIONS, ids):
        by_id[row.contact_id]["conversation"] = _conversation(row)
    return out


def dumps_json(value: Any) -> bytes:
    """JSON bytes for contact dicts: datetimes as ISO 8601 with Z, like the response models."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)
