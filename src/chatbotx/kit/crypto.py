"""Encryption at rest for secrets (channel credentials): Fernet, keyed by settings.secret_key or a key file.

Without CHATBOTX_SECRET_KEY a random key is generated once into `<data dir>/secret.key` (mode 0600). Several
keys may be given comma-separated: the first encrypts, all decrypt (key rotation).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from chatbotx.settings import get_settings

KEY_FILE = "secret.key"


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with the configured keys (the key changed or was lost)."""


def _fernet_key(secret: str) -> bytes:
    """A Fernet key from `secret`: used as is when it already is one, else derived with SHA-256."""
    raw = secret.strip().encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return raw
    except ValueError:
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest())


def _read_or_create_key_file(path: Path) -> str:
    """The key in `path`, created with mode 0600 if missing; concurrent first uses agree on one key."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode() + "\n")
        # link() publishes the complete file atomically and fails if another process got there first.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return path.read_text().strip()


@functools.lru_cache(maxsize=8)
def _cipher(secret_key: str | None, data_dir: str) -> MultiFernet:
    source = secret_key or _read_or_create_key_file(Path(data_dir) / KEY_FILE)
    keys = [k for k in source.split(",") if k.strip()]
    if not keys:
        raise ValueError("CHATBOTX_SECRET_KEY (or the key file) holds no key")
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys])


def cipher() -> MultiFernet:
    settings = get_settings()
    return _cipher(settings.secret_key, str(settings.data_dir.resolve()))


def encrypt_text(plain: str) -> str:
    return cipher().encrypt(plain.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("stored secret cannot be decrypted with the configured key") from None


def encrypt_json(data: dict[str, Any]) -> str:
    return encrypt_text(orjson.dumps(data).decode())


def decrypt_json(token: str | None) -> dict[str, Any]:
    """The dict encrypted in `token`; {} for None."""
    if not token:
        return {}
    value = orjson.loads(decrypt_text(token))
    return value if isinstance(value, dict) else {}
