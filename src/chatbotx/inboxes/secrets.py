"""Splitting a channel's config into public settings and secrets, and sealing the secrets for storage.

A key is secret when it ends in Token, Secret, Password, ApiKey or PrivateKey (any case, `_`/`-` ignored):
botToken, accessToken, appSecret, pageAccessToken, smtpPassword, imapPassword... except `verifyToken` (Meta's
webhook verify token, which the user must copy into Meta's dashboard). Secrets must be top-level
string values of `config`. The sealed form lists the secret key names in clear (so listing channels needs no
decryption) next to the Fernet-encrypted values.
"""

from __future__ import annotations

from typing import Any

import orjson

from chatbotx.kit.crypto import decrypt_json, encrypt_json
from chatbotx.kit.errors import invalid_field

SECRET_SUFFIXES = ("token", "secret", "password", "apikey", "privatekey")
MAX_SECRET_LENGTH = 4096


# Names that look secret but must be shown: Meta's webhook verify token is typed into Meta's dashboard.
PUBLIC_KEYS = frozenset({"verifytoken"})


def is_secret_key(key: str) -> bool:
    name = key.lower().replace("_", "").replace("-", "")
    return name.endswith(SECRET_SUFFIXES) and name not in PUBLIC_KEYS


def _refuse_nested_secrets(value: Any, path: str) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if is_secret_key(str(key)):
                raise invalid_field(f"{path}.{key}", "secrets must be top-level keys of config")
            _refuse_nested_secrets(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _refuse_nested_secrets(inner, f"{path}.{index}")


def _check_secret(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid_field(f"config.{key}", "a secret must be a non-empty string")
    if len(value) > MAX_SECRET_LENGTH:
        raise invalid_field(f"config.{key}", f"must be at most {MAX_SECRET_LENGTH} characters")
    return value


def apply_config(
    public: dict[str, Any], secrets: dict[str, str], patch: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """New (public, secrets) after `patch`: a key set to null is removed, any other value replaces it."""
    public, secrets = dict(public), dict(secrets)
    for key, value in patch.items():
        secret = is_secret_key(key)
        if value is None:
            (secrets if secret else public).pop(key, None)
        elif secret:
            secrets[key] = _check_secret(key, value)
        else:
            _refuse_nested_secrets(value, f"config.{key}")
            public[key] = value
    return public, secrets


def seal(secrets: dict[str, str]) -> str | None:
    if not secrets:
        return None
    return orjson.dumps({"keys": sorted(secrets), "box": encrypt_json(secrets)}).decode()


def secret_keys(sealed: str | None) -> list[str]:
    """The names of the secrets in `sealed`, without decrypting anything."""
    if not sealed:
        return []
    return list(orjson.loads(sealed).get("keys", []))


def unseal(sealed: str | None) -> dict[str, str]:
    if not sealed:
        return {}
    return decrypt_json(orjson.loads(sealed).get("box"))
