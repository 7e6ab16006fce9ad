from __future__ import annotations

import httpx
import pytest

from tests.conftest import Tenant

URL = "/api/v1/saved-replies"


async def test_saved_reply_crud(api: httpx.AsyncClient) -> None:
    created = await api.post(URL, json={"shortcut": "hours", "text": "We are open 9-17."})
    assert created.status_code == 201, created.text
    reply = created.json()
    assert set(reply) == {"id", "createdAt", "updatedAt", "shortcut", "text", "workspaceId"}
    assert (await api.get(f"{URL}/{reply['id']}")).json() == reply
    assert (await api.get(URL)).json() == [reply]
    updated = await api.put(f"{URL}/{reply['id']}", json={"text": "Open 8-18."})
    assert updated.status_code == 200
    assert (updated.json()["shortcut"], updated.json()["text"]) == ("hours", "Open 8-18.")
    assert (await api.delete(f"{URL}/{reply['id']}")).status_code == 204
    assert (await api.get(f"{URL}/{reply['id']}")).status_code == 404


async def test_keyword_filter(api: httpx.AsyncClient) -> None:
    await api.post(URL, json={"shortcut": "hours", "text": "Open 9-17"})
    await api.post(URL, json={"shortcut": "refund", "text": "Refunds take 5 DAYS"})
    assert [r["shortcut"] for r in (await api.get(URL, params={"keyword": "HOUR"})).json()] == ["hours"]
    assert [r["shortcut"] for r in (await api.get(URL, params={"keyword": "days"})).json()] == ["refund"]
    assert [r["shortcut"] for r in (await api.get(URL)).json()] == ["hours", "refund"]


async def test_duplicate_shortcut_is_409(api: httpx.AsyncClient) -> None:
    await api.post(URL, json={"shortcut": "hi", "text": "Hello"})
    again = await api.post(URL, json={"shortcut": "hi", "text": "Hey"})
    assert again.status_code == 409 and again.json()["code"] == "DUPLICATE_SHORTCUT"
    other = (await api.post(URL, json={"shortcut": "bye", "text": "Bye"})).json()
    assert (await api.put(f"{URL}/{other['id']}", json={"shortcut": "hi"})).status_code == 409
    assert sorted(r["shortcut"] for r in (await api.get(URL)).json()) == ["bye", "hi"]


@pytest.mark.parametrize(
    "body",
    [
        {"shortcut": "two words", "text": "x"},
        {"shortcut": "", "text": "x"},
        {"shortcut": "ok", "text": ""},
        {"shortcut": "ok"},
        {"shortcut": "ok", "text": "x" * 10_001},
        {"shortcut": "ok", "text": "x", "extra": True},
    ],
)
async def test_bad_input_is_422(api: httpx.AsyncClient, body: dict[str, object]) -> None:
    assert (await api.post(URL, json=body)).status_code == 422
    assert (await api.get(URL)).json() == []


async def test_other_workspace_is_404(api: httpx.AsyncClient, other_tenant: Tenant) -> None:
    reply = (await api.post(URL, json={"shortcut": "mine", "text": "Mine"})).json()
    other = other_tenant.client
    assert (await other.get(f"{URL}/{reply['id']}")).status_code == 404
    assert (await other.put(f"{URL}/{reply['id']}", json={"text": "x"})).status_code == 404
    assert (await other.delete(f"{URL}/{reply['id']}")).status_code == 404
    assert (await other.get(URL)).json() == []
    # The same shortcut is free in another workspace.
    assert (await other.post(URL, json={"shortcut": "mine", "text": "Theirs"})).status_code == 201
    assert (await api.get(f"{URL}/x1")).status_code == 404
