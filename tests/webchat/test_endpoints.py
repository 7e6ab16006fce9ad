from __future__ import annotations

import httpx

from tests.webchat.conftest import Webchat


async def test_flow(webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    r = await public.get(webchat.base)
    assert r.status_code == 200, r.text
    r = await public.post(f"{webchat.base}/contacts", json={"name": "Ada Lovelace"})
    assert r.status_code == 200, r.text
    visitor = r.json()
    r = await public.post(f"{webchat.contact(visitor['source_id'])}/conversations", json={})
    assert r.status_code == 200, r.text
    conv = r.json()
    r = await public.post(
        f"{webchat.conversation(visitor['source_id'], conv['id'])}/messages",
        json={"content": "hello", "echo_id": "e1"},
    )
    assert r.status_code == 200, r.text
    r = await api.post(f"/api/v1/conversations/{conv['id']}/messages", json={"text": "hi there"})
    assert r.status_code in (200, 201), r.text
    r = await public.get(f"{webchat.conversation(visitor['source_id'], conv['id'])}/messages")
    assert [m["message_type"] for m in r.json()] == [0, 1]
