"""Channels (inboxes): /api/v1/channels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from chatbotx.inboxes import service
from chatbotx.inboxes.schemas import Channel, ChannelCreate, ChannelKind, ChannelUpdate
from chatbotx.kit.db import SessionDep
from chatbotx.kit.errors import ERROR_RESPONSES, ErrorBody
from chatbotx.kit.ids import parse_id
from chatbotx.kit.pagination import Page, PageDep
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require

router = APIRouter(prefix="/api/v1/channels", tags=["Channels"])
BODY_ERRORS = {**ERROR_RESPONSES, 400: {"model": ErrorBody, "description": "Malformed JSON body"}}
Reader = Annotated[Principal, Depends(require("channels.list"))]
Editor = Annotated[Principal, Depends(require("channels.edit"))]
ChannelId = Annotated[str, Path(description="Channel (inbox) id", max_length=40)]


@router.get("", response_model=Page[Channel], **op("listChannels", "List channels", "channels list"))
async def list_channels(
    session: SessionDep,
    who: Reader,
    page: PageDep,
    includes: Annotated[
        str | None,
        Query(max_length=200, description="Accepted for compatibility; channels are always returned whole"),
    ] = None,
    channel: Annotated[ChannelKind | None, Query(description="Only channels of this kind")] = None,
) -> object:
    data, page_count = await service.list_channels(session, who.workspace_id, page, channel=channel)
    return {"data": data, "pageCount": page_count}


@router.post(
    "",
    status_code=201,
    response_model=Channel,
    **op("createChannel", "Create a channel", "channels create", responses=BODY_ERRORS),
)
async def create_channel(session: SessionDep, who: Editor, body: ChannelCreate) -> object:
    return service.channel_out(await service.create(session, who.workspace_id, body))


@router.get("/{id}", response_model=Channel, **op("getChannel", "Get channel by id", "channels get"))
async def get_channel(session: SessionDep, who: Reader, id: ChannelId) -> object:
    return service.channel_out(await service.get(session, who.workspace_id, parse_id(id)))


@router.put(
    "/{id}",
    response_model=Channel,
    **op("updateChannel", "Update channel", "channels update", responses=BODY_ERRORS),
)
async def update_channel(session: SessionDep, who: Editor, id: ChannelId, body: ChannelUpdate) -> object:
    return service.channel_out(await service.update(session, who.workspace_id, parse_id(id), body))


@router.delete(
    "/{id}",
    status_code=204,
    response_class=Response,
    **op("deleteChannel", "Delete channel", "channels delete"),
)
async def delete_channel(session: SessionDep, who: Editor, id: ChannelId) -> None:
    await service.delete(session, who.workspace_id, parse_id(id))
