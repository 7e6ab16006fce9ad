"""Facebook Messenger adapter: a Page's conversations through Meta's Send API and Page webhooks.

Wire formats: reference/channels.md section 3; the shared Messenger Platform code is channels/meta.py.
User documentation: docs/channels/messenger.md.
"""

from __future__ import annotations

from typing import Any, ClassVar

from chatbotx.channels.base import ChannelContext
from chatbotx.channels.meta import (
    Flavor,
    MessengerPlatformAdapter,
    check_common_config,
    graph_url,
    numeric_id,
    value,
)
from chatbotx.channels.meta import require as require_config
from chatbotx.channels.registry import register
from chatbotx.settings import get_settings

MAX_TEXT = 2000
# The Page webhook fields we handle (message_reactions and the rest are subscribed by the user if wanted).
SUBSCRIBED_FIELDS = (
    "messages",
    "messaging_postbacks",
    "message_deliveries",
    "message_reads",
    "message_echoes",
    "messaging_referrals",
    "standby",
)


class MessengerAdapter(MessengerPlatformAdapter):
    channel: ClassVar[str] = "messenger"
    object_name: ClassVar[str] = "page"
    flavor: ClassVar[Flavor] = Flavor("Messenger", MAX_TEXT, metadata=True, reusable=True)

    def account_id(self, ctx: ChannelContext) -> str | None:
        page_id = value(ctx, "pageId")
        return str(page_id) if page_id else None

    def api_url(self, ctx: ChannelContext, path: str) -> str:
        return graph_url(get_settings().meta_graph_api_base, ctx.config, path)

    def sender_path(self, ctx: ChannelContext) -> str:
        return str(value(ctx, "pageId"))

    def token(self, ctx: ChannelContext) -> str:
        return str(value(ctx, "pageAccessToken") or "")

    async def connect(self, ctx: ChannelContext) -> dict[str, Any]:
        """Check the Page token (GET /{pageId}) and subscribe our app to the Page's messaging webhooks."""
        require_config(ctx, "Messenger", "pageId", "pageAccessToken", "appSecret")
        page_id = numeric_id(ctx, "pageId", "Facebook Page id")
        check_common_config(ctx)
        page = await self.check_token(ctx, page_id, "id,name", "config.pageId")
        await self.call(
            ctx,
            "POST",
            f"{page_id}/subscribed_apps",
            params={"subscribed_fields": ",".join(SUBSCRIBED_FIELDS)},
        )
        return {"pageName": page.get("name")}


register(MessengerAdapter())
