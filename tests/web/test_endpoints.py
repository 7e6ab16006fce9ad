"""The widget's script route (content type, ETag, caching) and the demo page that embeds it."""

from __future__ import annotations

import gzip
import hashlib

import httpx

from chatbotx.web.endpoints import WIDGET_FILE, accepts_gzip, etag_matches


async def test_the_widget_script_is_served_with_an_etag_and_a_long_cache(anon: httpx.AsyncClient) -> None:
    answer = await anon.get("/widget/chatbotx-widget.js", headers={"Accept-Encoding": "identity"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "content-encoding" not in answer.headers
    assert answer.content == WIDGET_FILE.read_bytes()
    assert answer.headers["etag"] == '"' + hashlib.sha256(answer.content).hexdigest()[:32] + '"'
    assert "max-age=86400" in answer.headers["cache-control"]
    assert answer.headers["cache-control"].startswith("public")
    assert answer.headers["vary"] == "Accept-Encoding"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cross-origin-resource-policy"] == "cross-origin"
    assert b"data-inbox-identifier" in answer.content and b"/public/api/v1/inboxes/" in answer.content


async def test_browsers_that_accept_gzip_get_it_compressed(anon: httpx.AsyncClient) -> None:
    plain = await anon.get("/widget/chatbotx-widget.js", headers={"Accept-Encoding": "identity"})
    async with anon.stream(
        "GET", "/widget/chatbotx-widget.js", headers={"Accept-Encoding": "gzip, deflate, br"}
    ) as answer:
        raw = b"".join([chunk async for chunk in answer.aiter_raw()])
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == plain.content
    assert len(raw) < len(plain.content) / 2
    assert answer.headers["etag"] == plain.headers["etag"][:-1] + '-gz"'  # another representation
    refused = await anon.get("/widget/chatbotx-widget.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers and refused.content == plain.content


async def test_a_matching_if_none_match_is_a_304_without_a_body(anon: httpx.AsyncClient) -> None:
    etag = (await anon.get("/widget/chatbotx-widget.js")).headers["etag"]  # the gzipped one
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        answer = await anon.get("/widget/chatbotx-widget.js", headers={"If-None-Match": header})
        assert answer.status_code == 304, header
        assert answer.content == b""
        assert answer.headers["etag"] == etag
    stale = await anon.get("/widget/chatbotx-widget.js", headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.content


async def test_head_answers_the_headers_alone(anon: httpx.AsyncClient) -> None:
    answer = await anon.head("/widget/chatbotx-widget.js")
    assert answer.status_code == 200
    assert answer.content == b""
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "etag" in answer.headers


def test_accepts_gzip() -> None:
    assert accepts_gzip("gzip")
    assert accepts_gzip("gzip, deflate, br")
    assert accepts_gzip("br;q=1.0, GZIP;q=0.5")
    assert accepts_gzip("*")
    assert not accepts_gzip(None)
    assert not accepts_gzip("")
    assert not accepts_gzip("identity")
    assert not accepts_gzip("br, deflate")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("gzip;q=0.0")
    assert not accepts_gzip("gzip;q=nonsense")


def test_etag_matching() -> None:
    assert etag_matches('"a"', '"a"')
    assert etag_matches('W/"a"', '"a"')
    assert etag_matches('"b" , "a"', '"a"')
    assert etag_matches("*", '"a"')
    assert not etag_matches(None, '"a"')
    assert not etag_matches("", '"a"')
    assert not etag_matches('"b"', '"a"')
    assert not etag_matches("a", '"a"')


async def test_the_demo_page_embeds_the_widget_of_the_inbox(anon: httpx.AsyncClient) -> None:
    answer = await anon.get("/widget/demo", params={"inbox": "Ab3_x-9"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert '/widget/chatbotx-widget.js" data-inbox-identifier="Ab3_x-9" async></script>' in answer.text
    assert answer.headers["cache-control"] == "no-store"


async def test_the_demo_page_refuses_what_is_not_an_identifier(anon: httpx.AsyncClient) -> None:
    bad = await anon.get("/widget/demo", params={"inbox": '"><script>alert(1)</script>'})
    assert bad.status_code == 422, bad.text
    assert bad.json()["code"] == "INVALID_REQUEST_DATA"
    assert "<script>alert" not in bad.text
    missing = await anon.get("/widget/demo")
    assert missing.status_code == 422


async def test_the_widget_routes_are_not_api_operations(anon: httpx.AsyncClient) -> None:
    spec = (await anon.get("/api/openapi.json")).json()
    assert not [path for path in spec["paths"] if path.startswith("/widget")]
