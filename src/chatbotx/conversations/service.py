"""Listing conversations: the inbox filters as SQL, keyset paging, nested objects in two queries per page."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.lists.audience import contact_filter_where
from chatbotx.lists.paging import decode_keyset, encode_keyset
from chatbotx.lists.params import contains_any
from chatbotx.models import Contact, ContactTag, Conversation, Inbox, Member, Message, Team, User

CONVERSATION_STATUSES = ("open", "pending", "snoozed", "resolved")


@dataclasses.dataclass(frozen=True, slots=True)
class ConversationQuery:
    """The parsed filters of a conversations list (None = not filtered)."""

    bot_category: str | None = None
    bot_enabled: bool | None = None
    assigned_id: int | None = None
    channel: str | None = None
    status: str | None = None
    keyword: str | None = None
    tag_ids: tuple[int, ...] = ()
    contact_filter: dict[str, Any] | None = None


def status_clause(status: str) -> ColumnElement[bool]:
    """The inbox view or conversation status named `status` (see docs/conversations.md)."""
    if status in CONVERSATION_STATUSES:
        return Conversation.status == status
    if status == "noAdminReply":
        # The contact wrote and no admin has replied since.
        return and_(
            Conversation.contact_replied_at.is_not(None),
            or_(
                Conversation.admin_replied_at.is_(None),
                Conversation.admin_replied_at < Conversation.contact_replied_at,
            ),
        )
    if status == "unread":
        # The contact wrote after an agent last read the conversation.
        return and_(
            Conversation.contact_replied_at.is_not(None),
            or_(
                Conversation.agent_last_read_at.is_(None),
                Conversation.agent_last_read_at < Conversation.contact_replied_at,
            ),
        )
    if status == "followUp":
        return Conversation.followed.is_(True)
    if status == "archived":
        return Conversation.archived_at.is_not(None)
    if status == "blocked":
        return Contact.blocked_at.is_not(None)
    raise ValueError(f"unknown status {status!r}")


def assigned_clause(workspace_id: int, assigned_id: int) -> ColumnElement[bool]:
    """Assigned to this user, or to the user of this workspace member (the members API shows member ids)."""
    member_user = select(Member.user_id).where(Member.id == assigned_id, Member.workspace_id == workspace_id)
    return or_(Conversation.assigned_user_id == assigned_id, Conversation.assigned_user_id.in_(member_user))


ConversationRows = Select[Conversation, Contact, Inbox, User, Team]


async def _filtered(session: AsyncSession, workspace_id: int, query: ConversationQuery) -> ConversationRows:
    stmt = (
        select(Conversation, Contact, Inbox, User, Team)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(Inbox, Inbox.id == Conversation.inbox_id)
        .outerjoin(User, User.id == Conversation.assigned_user_id)
        .outerjoin(Team, Team.id == Conversation.assigned_team_id)
        .where(Conversation.workspace_id == workspace_id)
    )
    if query.bot_category in ("bot", "human"):
        stmt = stmt.where(Conversation.bot_enabled.is_(query.bot_category == "bot"))
    if query.bot_enabled is not None:
        stmt = stmt.where(Conversation.bot_enabled.is_(query.bot_enabled))
    if query.assigned_id is not None:
        stmt = stmt.where(assigned_clause(workspace_id, query.assigned_id))
    if query.channel:
        stmt = stmt.where(Inbox.channel == query.channel)
    if query.status:
        stmt = stmt.where(status_clause(query.status))
    if query.keyword and query.keyword.strip():
        stmt = stmt.where(
            contains_any(
                query.keyword,
                Contact.first_name,
                Contact.last_name,
                Contact.full_name,
                Contact.email,
                Contact.phone_number,
            )
        )
    if query.tag_ids:
        tagged = select(ContactTag.contact_id).where(
            ContactTag.contact_id == Contact.id, ContactTag.tag_id.in_(query.tag_ids)
        )
        stmt = stmt.where(tagged.exists())
    if query.contact_filter is not None:
        stmt = stmt.where(await contact_filter_where(session, workspace_id, query.contact_filter))
    return stmt


def _after(cursor: str | None) -> ColumnElement[bool] | None:
    """Rows strictly after the cursor in (lastActivityAt desc, id desc) order."""
    position = decode_keyset(cursor)
    if position is None:
        return None
    at, row_id = position
    return or_(
        Conversation.last_activity_at < at,
        and_(Conversation.last_activity_at == at, Conversation.id < row_id),
    )


async def _last_messages(session: AsyncSession, conversation_ids: list[int]) -> dict[int, Message]:
    """The newest message of each conversation (ids are time-ordered, so the newest is the max id)."""
    if not conversation_ids:
        return {}
    newest = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(conversation_ids))
        .group_by(Message.conversation_id)
    )
    rows = (await session.execute(select(Message).where(Message.id.in_(newest)))).scalars()
    return {message.conversation_id: message for message in rows}


def conversation_out(
    conversation: Conversation,
    contact: Contact,
    inbox: Inbox | None,
    user: User | None,
    team: Team | None,
    last_message: Message | None,
) -> dict[str, Any]:
    c = conversation
    return {
        "id": c.id,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "status": c.status,
        "snoozed_until": c.snoozed_until,
        "bot_enabled": c.bot_enabled,
        "bot_resume_at": c.bot_resume_at,
        "archived_at": c.archived_at,
        "additional_attributes": c.additional_attributes,
        "contact_last_read_at": c.contact_last_read_at,
        "agent_last_read_at": c.agent_last_read_at,
        "last_activity_at": c.last_activity_at,
        "followed": c.followed,
        "workspace_id": c.workspace_id,
        "contact_id": c.contact_id,
        "admin_replied_at": c.admin_replied_at,
        "contact_replied_at": c.contact_replied_at,
        "ai_context_last_message_id": c.ai_context_last_message_id,
        "assigned_user_id": c.assigned_user_id,
        "assigned_inbox_team_id": c.assigned_team_id,
        "assigned_user": user,
        "assigned_inbox_team": team,
        "inbox": inbox,
        "contact": contact,
        "last_message": last_message,
    }


async def list_conversations(
    session: AsyncSession, workspace_id: int, query: ConversationQuery, cursor: str | None, per_page: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page, newest activity first, and the cursor of the next page (None at the end)."""
    stmt = await _filtered(session, workspace_id, query)
    after = _after(cursor)
    if after is not None:
        stmt = stmt.where(after)
    stmt = stmt.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc()).limit(per_page + 1)
    rows = (await session.execute(stmt)).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    last = await _last_messages(session, [row[0].id for row in rows])
    data = [
        conversation_out(conversation, contact, inbox, user, team, last.get(conversation.id))
        for conversation, contact, inbox, user, team in rows
    ]
    next_cursor = None
    if more:
        final = rows[-1][0]
        next_cursor = encode_keyset(final.last_activity_at, final.id)
    return data, next_cursor
