"""Instagram Messaging adapter: through the linked Facebook Page (Messenger API for Instagram) or through
Instagram Login (graph.instagram.com, no Page).

Wire formats: reference/channels.md section 4; the shared Messenger Platform code is channels/meta.py.
User documentation: docs/channels/instagram.md.
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
from chatbotx.kit.errors import invalid_field
from chatbotx.settings import get_settings

MAX_TEXT = 1000
PAGE_FIELDS = ("messages", "messaging_postbacks", "message_reads", "message_echoes", "standby")
LOGIN_FIELDS = ("messages", "messaging_postbacks", "messaging_seen")


def via_page(ctx: ChannelContext) -> bool:
    """Connected through a Facebook Page (pageId given) rather than through Instagram Login."""
    return bool(value(ctx, "pageId"))


class InstagramAdapter(MessengerPlatformAdapter):
    channel: ClassVar[str] = "instagram"
    object_name: ClassVar[str] = "instagram"
    flavor: ClassVar[Flavor] = Flavor("Instagram", MAX_TEXT, metadata=False, reusable=False)

    def account_id(self, ctx: ChannelContext) -> str | None:
        account = value(ctx, "instagramUserId")
        return str(account) if account else None

    def api_url(self, ctx: ChannelContext, path: str) -> str:
        settings = get_settings()
        base = settings.meta_graph_api_base if via_page(ctx) else settings.instagram_api_base
        return graph_url(base, ctx.config, path)

    def sender_path(self, ctx: ChannelContext) -> str:
        return str(value(ctx, "pageId") if via_page(ctx) else value(ctx, "instagramUserId"))

    def token(self, ctx: ChannelContext) -> str:
        return str(value(ctx, "pageAccessToken" if via_page(ctx) else "accessToken") or "")

    def proves_app_secret(self, ctx: ChannelContext) -> bool:
        return via_page(ctx)  # graph.instagram.com takes the user token alone

    async def connect(self, ctx: ChannelContext) -> dict[str, Any]:
        check_common_config(ctx)
        if via_page(ctx):
            return await self._connect_page(ctx)
        return await self._connect_login(ctx)

    async def _connect_page(self, ctx: ChannelContext) -> dict[str, Any]:
        """The Page's token is checked and its linked Instagram professional account found."""
        require_config(ctx, "Instagram", "pageId", "pageAccessToken", "appSecret")
        page_id = numeric_id(ctx, "pageId", "Facebook Page id")
        page = await self.check_token(ctx, page_id, "id,name,instagram_business_account", "config.pageId")
        account = str((page.get("instagram_business_account") or {}).get("id") or "")
        if not account:
            raise invalid_field(
                "config.pageId", "this Page has no Instagram professional account linked to it"
            )
        given = value(ctx, "instagramUserId")
        if given and str(given) != account:
            raise invalid_field(
                "config.instagramUserId", f"the Page is linked to Instagram account {account}, not {given}"
            )
        await self.call(
            ctx, "POST", f"{page_id}/subscribed_apps", params={"subscribed_fields": ",".join(PAGE_FIELDS)}
        )
        return {"instagramUserId": account, "pageName": page.get("name"), "connectedVia": "page"}

    async def _connect_login(self, ctx: ChannelContext) -> dict[str, Any]:
        """Instagram Login: the user token is checked with GET /me (its user_id is the webhooks' entry id)."""
        require_config(ctx, "Instagram", "accessToken", "appSecret")
        me = await self.check_token(ctx, "me", "user_id,username", "config.accessToken")
        account = str(me.get("user_id") or me.get("id") or "")
        given = value(ctx, "instagramUserId")
        if given and str(given) != account:
            raise invalid_field(
                "config.instagramUserId",
                f"the access token belongs to Instagram account {account}, not {given}",
            )
        connected = {
            "instagramUserId": account,
            "username": me.get("username"),
            "connectedVia": "instagramLogin",
        }
        fields = ",".join(LOGIN_FIELDS)
        await self.call(ctx, "POST", "me/subscribed_apps", params={"subscribed_fields": fields})
        return connected


register(InstagramAdapter())
