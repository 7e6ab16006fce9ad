from __future__ import annotations

import datetime as dt
import typing
from typing import Any, Literal

from pydantic import Field

from chatbotx.kit.schemas import IdStr, InputSchema, Schema

ChannelKind = Literal[
    "omnichannel", "webchat", "messenger", "whatsapp", "zalo", "smtp", "telegram", "instagram", "tiktok"
]
CHANNEL_KINDS: tuple[str, ...] = typing.get_args(ChannelKind)
SettableStatus = Literal["active", "disabled"]

CONFIG_HELP = (
    "Channel settings. Keys ending in Token, Secret, Password, ApiKey or PrivateKey (botToken, accessToken, "
    "appSecret, smtpPassword...) are secrets: stored encrypted, never returned (see secretKeys)."
)


class Channel(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    channel: ChannelKind
    source_id: str | None = None
    workspace_id: IdStr
    status: str = Field(description="active, disabled, or needs_attention (see statusReason)")
    status_reason: str | None = Field(
        default=None, description="Why the channel needs attention (an expired token, ...)"
    )
    config: dict[str, Any] = Field(description="The channel's settings without its secrets")
    secret_keys: list[str] = Field(
        description="Names of the secrets that are set (their values are never shown)"
    )
    webhook_url: str = Field(description="Where the provider must send this channel's events")
    verify_token: str | None = Field(
        default=None,
        description="Meta channels (whatsapp, messenger, instagram): the verify token to enter with "
        "webhookUrl in Meta's dashboard (generated when not given)",
    )
    inbox_identifier: str | None = Field(
        default=None,
        description="webchat: the inbox's public identifier (the widget's data-inbox-identifier and the "
        "{inbox_identifier} of the public Client API /public/api/v1/inboxes/{inbox_identifier}/...)",
    )
    embed_script: str | None = Field(
        default=None, description="webchat: the script tag that puts the chat bubble on the website"
    )
    hmac_token: str | None = Field(
        default=None,
        description="webchat: the identity-verification key. The website's server signs a logged-in "
        "visitor's user id with it (identifier_hash = hex HMAC-SHA256(hmacToken, identifier)); keep it on "
        "the server, never in the page. Generated on create; set config.hmacToken to null to rotate it.",
    )


class ChannelCreate(InputSchema):
    name: str = Field(min_length=1, max_length=200, description="Channel name")
    channel: ChannelKind = Field(description="Channel kind")
    source_id: str | None = Field(
        default=None, max_length=200, description="The provider's id for the channel"
    )
    config: dict[str, Any] = Field(default_factory=dict, description=CONFIG_HELP)


class ChannelUpdate(InputSchema):
    name: str | None = Field(default=None, min_length=1, max_length=200, description="New name")
    source_id: str | None = Field(default=None, max_length=200)
    status: SettableStatus | None = Field(default=None, description="active or disabled")
    config: dict[str, Any] | None = Field(
        default=None,
        description="A patch over the current config: a key set to null is removed, others are set; "
        "keys not given keep their values (secrets included).",
    )
