"""Visitors identified by the website (HMAC of their user id), over the public API: the same visitor on every
device, refusals with a stable code, mandatory verification, custom attributes only for verified visitors."""

from __future__ import annotations

import hashlib
import hmac

import httpx
from hypothesis import given
from hypothesis import strategies as st

from chatbotx.webchat.service import identifier_hash, verified_source_id
from tests.conftest import Tenant
from tests.webchat.conftest import Webchat, make_webchat


def sign(webchat: Webchat, identifier: str) -> str:
    return hmac.new(webchat.hmac_token.encode(), identifier.encode(), hashlib.sha256).hexdigest()


@given(st.text(min_size=1, max_size=50), st.text(min_size=1, max_size=50))
def test_identifier_hash_is_hex_hmac_sha256(secret: str, identifier: str) -> None:
    expected = hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()
    assert identifier_hash(secret, identifier) == expected


@given(st.text(min_size=1, max_size=50))
def test_verified_source_ids_depend_on_the_inbox_secret(identifier: str) -> None:
    a = verified_source_id("secret-a", identifier)
    assert a == verified_source_id("secret-a", identifier)
    assert a != verified_source_id("secret-b", identifier)
    assert a.startswith("v-") and len(a) == 42


async def test_a_verified_user_is_the_same_visitor_everywhere(
    webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    body = {
        "identifier": "user-42",
        "identifier_hash": sign(webchat, "user-42"),
        "name": "Ada",
        "email": "ada@example.com",
    }
    first = (await public.post(f"{webchat.base}/contacts", json=body)).json()
    assert first["identifier_verified"] is True and first["email"] == "ada@example.com"
    conv = (await public.post(f"{webchat.contact(first['source_id'])}/conversations", json={})).json()
    # Another device (no stored source id): the same contact, source id, token and conversations.
    second = await public.post(
        f"{webchat.base}/contacts",
        json={"identifier": "user-42", "identifier_hash": sign(webchat, "user-42").upper()},
    )
    assert second.status_code == 200 and second.json() == first
    convs = (await public.get(f"{webchat.contact(first['source_id'])}/conversations")).json()
    assert [c["id"] for c in convs] == [conv["id"]]
    # Someone else with a valid hash is someone else.
    other = (
        await public.post(
            f"{webchat.base}/contacts",
            json={"identifier": "user-43", "identifier_hash": sign(webchat, "user-43")},
        )
    ).json()
    assert other["id"] != first["id"] and other["source_id"] != first["source_id"]
    # The source id does not reveal the user id.
    assert "user-42" not in first["source_id"]
    contact = (await api.get(f"/api/v1/contacts/{first['id']}")).json()
    assert contact["email"] == "ada@example.com"


async def test_an_identifier_without_a_hash_is_not_trusted(
    webchat: Webchat, public: httpx.AsyncClient
) -> None:
    body = {"identifier": "user-42", "identifier_hash": sign(webchat, "user-42")}
    verified = (await public.post(f"{webchat.base}/contacts", json=body)).json()
    claimed = (await public.post(f"{webchat.base}/contacts", json={"identifier": "user-42"})).json()
    assert claimed["id"] != verified["id"] and claimed["identifier_verified"] is False


async def test_a_wrong_hash_is_refused(webchat: Webchat, public: httpx.AsyncClient) -> None:
    for bad in ("0" * 64, sign(webchat, "user-43"), "not-hex"):
        response = await public.post(
            f"{webchat.base}/contacts", json={"identifier": "user-42", "identifier_hash": bad}
        )
        assert response.status_code == 401
        assert response.json()["code"] == "IDENTITY_VERIFICATION_FAILED"
        assert response.json()["data"]["reason"] == "invalid"
    lone = await public.post(f"{webchat.base}/contacts", json={"identifier_hash": sign(webchat, "x")})
    assert lone.status_code == 422 and lone.json()["data"]["errors"][0]["field"] == "identifier"


async def test_mandatory_verification(tenant: Tenant, public: httpx.AsyncClient) -> None:
    webchat = await make_webchat(tenant.client, hmacMandatory=True)
    assert (await public.get(webchat.base)).json()["hmacMandatory"] is True
    for body in ({}, {"identifier": "user-1"}, {"name": "anonymous"}):
        response = await public.post(f"{webchat.base}/contacts", json=body)
        assert response.status_code == 401, body
        assert response.json()["code"] == "IDENTITY_VERIFICATION_FAILED"
        assert response.json()["data"]["reason"] == "missing"
    ok = await public.post(
        f"{webchat.base}/contacts", json={"identifier": "user-1", "identifier_hash": sign(webchat, "user-1")}
    )
    assert ok.status_code == 200


async def test_turning_verification_on_shuts_out_anonymous_visitors(
    webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    anonymous = (await public.post(f"{webchat.base}/contacts", json={})).json()
    await api.put(f"/api/v1/channels/{webchat.channel['id']}", json={"config": {"hmacMandatory": True}})
    response = await public.get(webchat.contact(anonymous["source_id"]))
    assert response.status_code == 401 and response.json()["code"] == "IDENTITY_VERIFICATION_FAILED"


async def test_rotating_the_key_invalidates_old_hashes(
    webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    old_hash = sign(webchat, "user-7")
    first = (
        await public.post(
            f"{webchat.base}/contacts", json={"identifier": "user-7", "identifier_hash": old_hash}
        )
    ).json()
    rotated = (
        await api.put(f"/api/v1/channels/{webchat.channel['id']}", json={"config": {"hmacToken": None}})
    ).json()
    refused = await public.post(
        f"{webchat.base}/contacts", json={"identifier": "user-7", "identifier_hash": old_hash}
    )
    assert refused.status_code == 401
    new_hash = hmac.new(rotated["hmacToken"].encode(), b"user-7", hashlib.sha256).hexdigest()
    again = (
        await public.post(
            f"{webchat.base}/contacts", json={"identifier": "user-7", "identifier_hash": new_hash}
        )
    ).json()
    assert again["source_id"] == first["source_id"]  # the visitor keeps its conversations across a rotation


async def test_custom_attributes_only_from_verified_visitors(
    webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    field = await api.post("/api/v1/custom-fields", json={"name": "plan", "type": "shortText"})
    assert field.status_code in (200, 201), field.text
    refused = await public.post(f"{webchat.base}/contacts", json={"custom_attributes": {"plan": "gold"}})
    assert refused.status_code == 422 and refused.json()["data"]["errors"][0]["field"] == "custom_attributes"
    body = {
        "identifier": "u-9",
        "identifier_hash": sign(webchat, "u-9"),
        "custom_attributes": {"plan": "gold"},
    }
    contact = (await public.post(f"{webchat.base}/contacts", json=body)).json()
    values = (await api.get(f"/api/v1/contacts/{contact['id']}/custom-fields")).json()
    assert [(v["name"], v["value"]) for v in values] == [("plan", "gold")]
    unknown = {**body, "custom_attributes": {"nope": 1}}
    response = await public.post(f"{webchat.base}/contacts", json=unknown)
    assert response.status_code in (404, 422) and response.json()["code"] != "INTERNAL_ERROR"
