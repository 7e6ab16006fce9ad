"""Uploading CSVs, starting imports, waiting for them; reading what they wrote from the database."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from chatbotx.kit import db
from chatbotx.models import Contact, ContactCustomField, ContactTag, Inbox, Tag


async def upload(api: httpx.AsyncClient, text: str | bytes, name: str = "contacts.csv") -> str:
    content = text.encode() if isinstance(text, str) else text
    response = await api.post("/api/v1/files", files={"file": (name, content, "text/csv")})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def wait_done(api: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    """Poll the job until it is finished or failed (the in-process broker runs it in this loop)."""
    for _ in range(400):
        job = (await api.get(f"/api/v1/contacts/imports/{job_id}")).json()
        if job["status"] in ("finished", "failed"):
            return job
        await asyncio.sleep(0.025)
    raise AssertionError(f"import {job_id} did not finish: {job}")


async def run(api: httpx.AsyncClient, text: str | bytes, **body: Any) -> dict[str, Any]:
    file_id = await upload(api, text)
    response = await api.post("/api/v1/contacts/import", json={"fileId": file_id, **body})
    assert response.status_code == 201, response.text
    return await wait_done(api, response.json()["id"])


async def contacts(workspace_id: str | int) -> list[Contact]:
    async with db.get_database().sessionmaker() as s:
        stmt = select(Contact).where(Contact.workspace_id == int(workspace_id)).order_by(Contact.id)
        return list((await s.execute(stmt)).scalars())


async def by_email(workspace_id: str | int) -> dict[str | None, Contact]:
    return {c.email: c for c in await contacts(workspace_id)}


async def tag_names(contact_id: int) -> list[str]:
    async with db.get_database().sessionmaker() as s:
        stmt = (
            select(Tag.name)
            .join(ContactTag, ContactTag.tag_id == Tag.id)
            .where(ContactTag.contact_id == contact_id)
        )
        return sorted((await s.execute(stmt)).scalars())


async def field_values(contact_id: int) -> dict[int, str | None]:
    async with db.get_database().sessionmaker() as s:
        stmt = select(ContactCustomField).where(ContactCustomField.contact_id == contact_id)
        return {f.custom_field_id: f.value for f in (await s.execute(stmt)).scalars()}


async def count_tags(workspace_id: str | int) -> int:
    async with db.get_database().sessionmaker() as s:
        return int(await s.scalar(select(func.count()).where(Tag.workspace_id == int(workspace_id))) or 0)


async def add_contact(workspace_id: str | int, **values: Any) -> int:
    async with db.get_database().sessionmaker() as s:
        contact = Contact(workspace_id=int(workspace_id), **values)
        s.add(contact)
        await db.commit(s)
        return contact.id


async def add_inbox(workspace_id: str | int, channel: str, name: str = "Inbox") -> int:
    async with db.get_database().sessionmaker() as s:
        inbox = Inbox(workspace_id=int(workspace_id), name=name, channel=channel)
        s.add(inbox)
        await db.commit(s)
        return inbox.id
