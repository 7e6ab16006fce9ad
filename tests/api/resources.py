"""One of each resource in a workspace (inserted via the models), and which resource a path parameter names.

Used by the isolation test (B's ids called from workspace A) and by schemathesis (real ids to fuzz with).
A path parameter is mapped by the collection segment before it (`/tags/{id}` -> tag); `PARAM_OVERRIDES`
handles exceptions. An unmapped parameter fails the isolation test, so no id-taking endpoint goes unguarded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid
from typing import Any

from chatbotx.kit import db
from chatbotx.kit.db import utcnow
from chatbotx.models import (
    AiAgent,
    BotField,
    Broadcast,
    Contact,
    ContactCustomField,
    ContactInbox,
    ContactNote,
    ContactTag,
    Conversation,
    CustomField,
    ErrorLog,
    Flow,
    ImportJob,
    Inbox,
    Integration,
    Keyword,
    Member,
    Message,
    SavedReply,
    Sequence,
    SequenceStep,
    StoredFile,
    Tag,
    Team,
    TeamMember,
    TemplateMessage,
    Trigger,
    User,
    Webhook,
)

# The collection segment before a path parameter -> the kind of resource the parameter names.
SEGMENT_KIND = {
    "contacts": "contact",
    "tags": "tag",
    "custom-fields": "custom_field",
    "bot-fields": "bot_field",
    "members": "member",
    "teams": "team",
    "channels": "inbox",
    "inboxes": "inbox",
    "conversations": "conversation",
    "messages": "message",
    "notes": "contact_note",
    "flows": "flow",
    "sequences": "sequence",
    "steps": "sequence_step",
    "broadcasts": "broadcast",
    "keywords": "keyword",
    "triggers": "trigger",
    "webhooks": "webhook",
    "saved-replies": "saved_reply",
    "template-messages": "template_message",
    "ai-agents": "ai_agent",
    "integrations": "integration",
    "error-logs": "error_log",
    "files": "stored_file",
    "imports": "import_job",
    "contact-inboxes": "contact_inbox",
}
# (path, parameter) -> kind, where the segment rule above does not fit.
PARAM_OVERRIDES: dict[tuple[str, str], str] = {}
# Path parameters that name a resource by id or by name (both forms are tried).
BY_NAME_PARAMS = {"idOrName"}


@dataclasses.dataclass
class Seeded:
    """The resources of one workspace: kind -> id, kind -> name; the contact's email and phone."""

    workspace_id: int
    ids: dict[str, int]
    names: dict[str, str]
    email: str
    phone: str


def param_kind(path: str, param: str) -> str | None:
    """The kind of resource `{param}` in `path` names, or None when nobody said."""
    if (path, param) in PARAM_OVERRIDES:
        return PARAM_OVERRIDES[(path, param)]
    segments = path.split("/")
    index = segments.index("{" + param + "}")
    return SEGMENT_KIND.get(segments[index - 1]) if index > 0 else None


def values_for(kind: str, param: str, seeded: Seeded) -> list[str]:
    """Every way to name that resource in a path: id forms, and the name where the parameter takes one."""
    ident = str(seeded.ids[kind])
    if kind == "contact":
        return [f"id:{ident}", ident, f"email:{seeded.email}", f"phone:{seeded.phone}"]
    if param in BY_NAME_PARAMS and kind in seeded.names:
        return [ident, seeded.names[kind]]
    return [ident]


def path_values(path: str, seeded: Seeded) -> dict[str, str] | None:
    """A real value for every path parameter of `path` (the first form), or None if one is unmapped."""
    params = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    if not params:
        return None
    out = {}
    for param in params:
        kind = param_kind(path, param)
        if kind is None or kind not in seeded.ids:
            return None
        out[param] = values_for(kind, param, seeded)[0]
    return out


async def seed_workspace(workspace_id: int, database: db.Database | None = None) -> Seeded:
    """Insert one of each resource into the workspace, linked the way real data is."""
    database = database or db.get_database()
    tag_ = uuid.uuid4().hex[:8]
    now = utcnow()
    phone = f"+1650{int(uuid.uuid4().int % 10_000_000):07d}"
    email = f"contact-{tag_}@example.com"
    async with database.sessionmaker() as s:
        user = User(email=f"agent-{tag_}@example.com", name=f"Agent {tag_}")
        s.add(user)
        await s.flush()
        member = Member(workspace_id=workspace_id, user_id=user.id, role="agent")
        team = Team(workspace_id=workspace_id, name=f"team-{tag_}")
        inbox = Inbox(workspace_id=workspace_id, name=f"inbox-{tag_}", channel="webchat", source_id=tag_)
        contact = Contact(
            workspace_id=workspace_id,
            first_name="Ada",
            last_name=tag_,
            full_name=f"Ada {tag_}",
            email=email,
            phone_number=phone,
            subscribed_at=now,
        )
        tag = Tag(workspace_id=workspace_id, name=f"tag-{tag_}")
        field = CustomField(workspace_id=workspace_id, name=f"field_{tag_}", type="shortText")
        bot_field = BotField(workspace_id=workspace_id, name=f"bot_{tag_}", type="shortText", value="v")
        flow = Flow(workspace_id=workspace_id, name=f"flow-{tag_}", definition={})
        s.add_all([member, team, inbox, contact, tag, field, bot_field, flow])
        await s.flush()
        conversation = Conversation(
            workspace_id=workspace_id,
            contact_id=contact.id,
            inbox_id=inbox.id,
            last_activity_at=now,
            assigned_user_id=user.id,
            assigned_team_id=team.id,
        )
        sequence = Sequence(workspace_id=workspace_id, name=f"sequence-{tag_}")
        template = TemplateMessage(workspace_id=workspace_id, inbox_id=inbox.id, name=f"template_{tag_}")
        stored = _stored_file(database, workspace_id, tag_)
        s.add_all([conversation, sequence, template, stored])
        await s.flush()
        message = Message(
            workspace_id=workspace_id,
            conversation_id=conversation.id,
            contact_id=contact.id,
            inbox_id=inbox.id,
            direction="incoming",
            sender_type="contact",
            content="hello",
            status="delivered",
        )
        rows: dict[str, Any] = {
            "contact": contact,
            "tag": tag,
            "custom_field": field,
            "bot_field": bot_field,
            "member": member,
            "team": team,
            "inbox": inbox,
            "conversation": conversation,
            "message": message,
            "contact_note": ContactNote(contact_id=contact.id, text="a note", created_by_id=member.id),
            "contact_inbox": ContactInbox(
                contact_id=contact.id, inbox_id=inbox.id, source_id=f"visitor-{tag_}"
            ),
            "flow": flow,
            "sequence": sequence,
            "sequence_step": SequenceStep(sequence_id=sequence.id, position=0, flow_id=flow.id),
            "broadcast": Broadcast(workspace_id=workspace_id, name=f"broadcast-{tag_}", inbox_id=inbox.id),
            "keyword": Keyword(
                workspace_id=workspace_id, name=f"keyword-{tag_}", phrases=["hi"], reply_text="Hello!"
            ),
            "trigger": Trigger(workspace_id=workspace_id, name=f"trigger-{tag_}", event="contact.created"),
            "webhook": Webhook(workspace_id=workspace_id, name=f"hook-{tag_}", url="https://example.com/h"),
            "saved_reply": SavedReply(workspace_id=workspace_id, shortcut=f"sr{tag_}", text="Thanks!"),
            "template_message": template,
            "ai_agent": AiAgent(workspace_id=workspace_id, name=f"agent-{tag_}"),
            "integration": Integration(workspace_id=workspace_id, name=f"integration-{tag_}", kind="zapier"),
            "error_log": ErrorLog(workspace_id=workspace_id, source="test", code="E", message="boom"),
            "stored_file": stored,
        }
        s.add_all(list(rows.values()))
        s.add_all(
            [
                ContactTag(contact_id=contact.id, tag_id=tag.id),
                ContactCustomField(contact_id=contact.id, custom_field_id=field.id, value="blue"),
                TeamMember(team_id=team.id, member_id=member.id),
            ]
        )
        await s.flush()
        import_job = ImportJob(workspace_id=workspace_id, file_id=stored.id, status="finished")
        s.add(import_job)
        await s.flush()
        rows["import_job"] = import_job
        names = {
            "tag": tag.name,
            "custom_field": field.name,
            "bot_field": bot_field.name,
            "team": team.name,
            "inbox": inbox.name,
            "flow": flow.name,
            "sequence": sequence.name,
            "broadcast": rows["broadcast"].name,
            "keyword": rows["keyword"].name,
            "trigger": rows["trigger"].name,
            "webhook": rows["webhook"].name,
            "ai_agent": rows["ai_agent"].name,
            "integration": rows["integration"].name,
            "template_message": template.name,
            "saved_reply": rows["saved_reply"].shortcut,
        }
        ids = {kind: row.id for kind, row in rows.items()}
        await db.commit(s)
    return Seeded(workspace_id, ids, names, email, phone)


def _stored_file(database: db.Database, workspace_id: int, tag_: str) -> StoredFile:
    """A stored CSV whose content exists on disk (under the files directory, as the files service does)."""
    content = b"email,firstName\nimported@example.com,Imp\n"
    relative = f"{workspace_id}/{tag_}.csv"
    target = database.settings.files_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return StoredFile(
        workspace_id=workspace_id,
        filename=f"contacts-{tag_}.csv",
        content_type="text/csv",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        path=relative,
        created_at=dt.datetime.now(dt.UTC),
    )
