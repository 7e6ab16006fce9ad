"""SQLAlchemy models, one module per aggregate; importing this package registers them all."""

from chatbotx.models.automation import (
    AiAgent,
    Broadcast,
    BroadcastRecipient,
    Flow,
    FlowRun,
    Integration,
    Keyword,
    Sequence,
    SequenceEnrollment,
    SequenceStep,
    TemplateMessage,
    Trigger,
)
from chatbotx.models.contact import Contact, ContactCustomField, ContactInbox, ContactNote, ContactTag
from chatbotx.models.conversation import Conversation, Message
from chatbotx.models.fields import BotField, CustomField, Tag
from chatbotx.models.system import (
    ErrorLog,
    Event,
    ImportJob,
    InboundEvent,
    StoredFile,
    Webhook,
    WebhookDelivery,
)
from chatbotx.models.workspace import ApiToken, Inbox, Member, SavedReply, Team, TeamMember, User, Workspace

__all__ = [
    "AiAgent",
    "ApiToken",
    "BotField",
    "Broadcast",
    "BroadcastRecipient",
    "Contact",
    "ContactCustomField",
    "ContactInbox",
    "ContactNote",
    "ContactTag",
    "Conversation",
    "CustomField",
    "ErrorLog",
    "Event",
    "Flow",
    "FlowRun",
    "ImportJob",
    "InboundEvent",
    "Inbox",
    "Integration",
    "Keyword",
    "Member",
    "Message",
    "SavedReply",
    "Sequence",
    "SequenceEnrollment",
    "SequenceStep",
    "StoredFile",
    "Tag",
    "Team",
    "TeamMember",
    "TemplateMessage",
    "Trigger",
    "User",
    "Webhook",
    "WebhookDelivery",
    "Workspace",
]
