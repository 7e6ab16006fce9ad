"""The webchat widget's script (`GET /widget/chatbotx-widget.js`) and a demo page that embeds it.

Neither is an API operation (no operationId, not in the OpenAPI document): a site's `<script>` tag loads the
file, and the demo page is for people trying an inbox out.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import html
import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from chatbotx.kit.errors import invalid_field
from chatbotx.settings import get_settings

STATIC_DIR = Path(__file__).parent / "static"
WIDGET_FILE = STATIC_DIR / "widget" / "chatbotx-widget.js"
# The embed snippet's URL carries no version, so a browser must come back now and then to see a new widget:
# a day fresh, then a revalidation that usually costs a 304 thanks to the ETag.
WIDGET_CACHE_CONTROL = "public, max-age=86400, stale-while-revalidate=604800"
INBOX_IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

widget_router = APIRouter(prefix="/widget", include_in_schema=False)


@dataclasses.dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str  # of `body`; the gzipped representation's is `gzip_etag` (strong ETags differ per encoding)

    @property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gz"'


@functools.cache
def widget_asset() -> Asset:
    """The widget's bytes, gzipped too, and their ETag (read once per process; the file ships with the
    package). Every customer page loads it, so it is served compressed to browsers that accept gzip."""
    body = WIDGET_FILE.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Asset(body, gzip.compress(body, compresslevel=9, mtime=0), etag)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header accepts gzip (`gzip` or `*`, not with q=0)."""
    for part in (accept_encoding or "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip().lower().removeprefix("q=").strip()
            return not q or _positive(q)
    return False


def _positive(q: str) -> bool:
    try:
        return float(q) > 0
    except ValueError:
        return False


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, as RFC 9110 wants for it)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags


@widget_router.api_route("/chatbotx-widget.js", methods=["GET", "HEAD"])
async def widget_script(request: Request) -> Response:
    asset = widget_asset()
    gzipped = accepts_gzip(request.headers.get("accept-encoding"))
    etag = asset.gzip_etag if gzipped else asset.etag
    headers = {
        "ETag": etag,
        "Cache-Control": WIDGET_CACHE_CONTROL,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Sites that isolate themselves (Cross-Origin-Embedder-Policy) may still load it.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    body = asset.gzipped if gzipped else asset.body
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


DEMO_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ChatbotX widget demo</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}
code,pre{{background:#f3f4f6;border-radius:6px}}pre{{padding:.75rem;overflow-x:auto}}</style>
</head>
<body>
<h1>ChatbotX widget demo</h1>
<p>The chat bubble in the corner is inbox <code>{identifier}</code>'s widget, embedded with:</p>
<pre><code>{snippet}</code></pre>
{script}
</body>
</html>
"""


@widget_router.get("/demo", response_class=HTMLResponse)
async def widget_demo(
    inbox: Annotated[str, Query(description="The inbox identifier of a webchat channel")],
) -> HTMLResponse:
    if not INBOX_IDENTIFIER.match(inbox):
        raise invalid_field("inbox", "must be an inbox identifier (letters, digits, - and _)")
    # The same address as the channel's embedScript.
    src = get_settings().public_url.rstrip("/") + "/widget/chatbotx-widget.js"
    script = f'<script src="{html.escape(src)}" data-inbox-identifier="{html.escape(inbox)}" async></script>'
    page = DEMO_PAGE.format(identifier=html.escape(inbox), snippet=html.escape(script), script=script)
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})
