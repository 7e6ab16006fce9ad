"""Signed, expiring public URLs for stored files, so a provider can fetch an attachment we send.

`/media/{fileId}?exp=<unix seconds>&sig=<HMAC-SHA256>`; the key is derived from the server's secret key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import time
from pathlib import Path

from chatbotx.kit import crypto
from chatbotx.settings import get_settings

TTL_SECONDS = 7 * 24 * 3600  # long enough for the provider to fetch it after any retry delay


@functools.lru_cache(maxsize=4)
def _key(secret_key: str | None, data_dir: str) -> bytes:
    crypto.cipher()  # creates the key file on first use when no secret key is configured
    source = secret_key or (Path(data_dir) / crypto.KEY_FILE).read_text().strip()
    first = source.split(",")[0].strip()
    return hashlib.sha256(b"chatbotx media url v1\0" + first.encode()).digest()


def _signing_key() -> bytes:
    settings = get_settings()
    return _key(settings.secret_key, str(settings.data_dir.resolve()))


def signature(file_id: int, expires: int) -> str:
    return hmac.new(_signing_key(), f"{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def media_url(file_id: int, *, now: float | None = None, ttl: int = TTL_SECONDS) -> str:
    expires = int(now if now is not None else time.time()) + ttl
    base = get_settings().public_url.rstrip("/")
    return f"{base}/media/{file_id}?exp={expires}&sig={signature(file_id, expires)}"


def verify(file_id: int, expires: int, sig: str, *, now: float | None = None) -> bool:
    if expires < int(now if now is not None else time.time()):
        return False
    return hmac.compare_digest(signature(file_id, expires), sig)
