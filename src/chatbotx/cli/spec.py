"""The server's OpenAPI document: fetched from {apiUrl}/public-spec.json, cached per API URL for an hour."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from chatbotx.cli import config
from chatbotx.cli.transport import ConnectionFailed, request

CACHE_FILE_NAME = "openapi-cache.json"
DEFAULT_TTL_SECONDS = 3600.0
CACHE_FORMAT = 1

try:  # orjson parses the cached document several times faster; stdlib json is the fallback
    import orjson

    def _loads(data: bytes) -> Any:
        return orjson.loads(data)

except ImportError:  # pragma: no cover
    import json

    def _loads(data: bytes) -> Any:
        return json.loads(data)


class SpecError(Exception):
    """The spec could not be obtained (unreachable server or a non-spec answer)."""


def cache_path() -> Path:
    return config.config_dir() / CACHE_FILE_NAME


def ttl_seconds() -> float:
    try:
        return float(os.environ.get("CHATBOTX_SPEC_CACHE_TTL_SECONDS", DEFAULT_TTL_SECONDS))
    except ValueError:
        return DEFAULT_TTL_SECONDS


def spec_url(api_url: str) -> str:
    return config.normalize_api_url(api_url) + "/public-spec.json"


def operation_url(api_url: str, path: str) -> str:
    """Spec paths start with /api/v1; the API URL already ends in /api (maybe behind a path prefix)."""
    base = config.normalize_api_url(api_url)
    if path.startswith("/api/") or path == "/api":
        path = path[len("/api") :]
    return base + path


def _read_cache() -> dict[str, Any]:
    """The whole cache, or {} when missing or corrupt (a corrupt file is simply rebuilt)."""
    try:
        data = _loads(cache_path().read_bytes())
    except (OSError, ValueError):
        return {}
    if (
        not isinstance(data, dict)
        or data.get("format") != CACHE_FORMAT
        or not isinstance(data.get("specs"), dict)
    ):
        return {}
    return data


def cached(api_url: str) -> tuple[dict[str, Any], float] | None:
    """(spec, fetched_at) from the cache for this API URL, whatever its age."""
    entry = _read_cache().get("specs", {}).get(api_url)
    if not isinstance(entry, dict) or not _looks_like_spec(entry.get("spec")):
        return None
    fetched_at = entry.get("fetchedAt")
    if not isinstance(fetched_at, int | float):
        return None
    return entry["spec"], float(fetched_at)


def _looks_like_spec(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("paths"), dict)


def _store(api_url: str, spec: dict[str, Any]) -> None:
    data = _read_cache() or {"format": CACHE_FORMAT, "specs": {}}
    data["specs"][api_url] = {"fetchedAt": time.time(), "spec": spec}
    with contextlib.suppress(OSError):  # a read-only home only loses the cache, not the command
        config.write_private_json(cache_path(), data)


def fetch(api_url: str, allow_self_signed: bool = False) -> dict[str, Any]:
    url = spec_url(api_url)
    try:
        resp = request("GET", url, allow_self_signed=allow_self_signed, timeout=30)
    except ConnectionFailed as exc:
        raise SpecError(
            f"{exc} (API URL {api_url}; set it with `chatbotx config set --apiUrl URL`)"
        ) from None
    if resp.status != 200:
        raise SpecError(f"no API spec at {url} (HTTP {resp.status}); is the API URL right?")
    try:
        doc = _loads(resp.body)
    except ValueError:
        doc = None
    if not _looks_like_spec(doc):
        raise SpecError(f"{url} did not return an OpenAPI document; is the API URL right?")
    return doc


def load(
    api_url: str, *, refresh: bool = False, allow_self_signed: bool = False
) -> tuple[dict[str, Any], str]:
    """The spec for this API URL and where it came from ("cache", "server" or "stale cache").

    A fresh cache entry is used as is; otherwise the server is asked, and if it cannot answer an old entry
    still serves (the command itself will then report the connection error).
    """
    api_url = config.normalize_api_url(api_url)
    entry = None if refresh else cached(api_url)
    if entry is not None and time.time() - entry[1] < ttl_seconds():
        return entry[0], "cache"
    try:
        doc = fetch(api_url, allow_self_signed)
    except SpecError:
        stale = entry or cached(api_url)
        if stale is None:
            raise
        return stale[0], "stale cache"
    _store(api_url, doc)
    return doc, "server"
