"""The ChannelContext of an inbox: its config, decrypted credentials, the shared HTTP client, our URL."""

from __future__ import annotations

from chatbotx.channels.base import ChannelContext
from chatbotx.inboxes.service import credentials_of
from chatbotx.kit.http import http_client
from chatbotx.models import Inbox
from chatbotx.settings import get_settings


def channel_context(inbox: Inbox) -> ChannelContext:
    return ChannelContext(
        inbox_id=inbox.id,
        workspace_id=inbox.workspace_id,
        config=dict(inbox.config or {}),
        credentials=credentials_of(inbox),
        http=http_client(),
        public_url=get_settings().public_url.rstrip("/"),
    )
