"""Client settings: global flags, then the CHATBOTX_* environment, then ~/.chatbotX/config.json.

Stdlib only: this runs on every client command and must stay cheap to import.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_DIR_NAME = ".chatbotX"
CONFIG_FILE_NAME = "config.json"
DEFAULT_API_URL = "http://127.0.0.1:8000/api"
ENV_API_KEY = "CHATBOTX_API_KEY"
ENV_API_URL = "CHATBOTX_API_URL"
ENV_SELF_SIGNED = "CHATBOTX_ALLOW_SELF_SIGNED_CERT"
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


def config_dir() -> Path:
    """~/.chatbotX; HOME is honoured (Path.home() reads it), so tests can point it at a temp dir."""
    return Path.home() / CONFIG_DIR_NAME


def config_path() -> Path:
    return config_dir() / CONFIG_FILE_NAME


def load_file() -> dict[str, Any]:
    """The saved settings, or {} when the file is missing or unreadable (never locks anyone out)."""
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_private_json(path: Path, data: Any) -> None:
    """Write atomically with mode 0600 (the file may hold a token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        path.parent.chmod(0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
    path.chmod(0o600)


def save(updates: dict[str, Any]) -> Path:
    """Merge `updates` into the config file (None values are removed) and return its path."""
    data = load_file()
    for key, value in updates.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path = config_path()
    write_private_json(path, data)
    return path


def save_local_config(api_url: str, token: str) -> Path:
    """Point the CLI at a local server (called by `make run` / `chatbotx server start`)."""
    return save({"apiUrl": normalize_api_url(api_url), "apiKey": token})


def normalize_api_url(url: str) -> str:
    """The API base always ends in /api: "http://h:8000" and "http://h:8000/api/" both give "http://h:8000/api"."""
    url = url.strip().rstrip("/")
    if not url.endswith("/api"):
        url += "/api"
    return url


def mask(token: str | None) -> str:
    if not token:
        return "(not set)"
    if len(token) <= 10:
        return "*" * len(token)
    return f"{token[:6]}…{token[-4:]}"


@dataclass(frozen=True)
class ClientConfig:
    api_url: str
    api_key: str | None
    allow_self_signed: bool
    sources: dict[str, str]


def resolve(api_key_flag: str | None = None, api_url_flag: str | None = None) -> ClientConfig:
    """Flag > environment > config file > default, per setting; `sources` says where each came from."""
    saved = load_file()
    sources: dict[str, str] = {}

    def pick(name: str, flag: str | None, env: str) -> str | None:
        if flag:
            sources[name] = "flag"
            return flag
        if os.environ.get(env):
            sources[name] = f"env {env}"
            return os.environ[env]
        value = saved.get(name)
        if value not in (None, ""):
            sources[name] = f"file {config_path()}"
            return str(value)
        return None

    api_url = pick("apiUrl", api_url_flag, ENV_API_URL)
    if api_url is None:
        sources["apiUrl"] = "default"
        api_url = DEFAULT_API_URL
    api_key = pick("apiKey", api_key_flag, ENV_API_KEY)
    env_insecure = os.environ.get(ENV_SELF_SIGNED)
    if env_insecure is not None:
        insecure = env_insecure.strip().lower() in TRUE_WORDS
        sources["allowSelfSignedCert"] = f"env {ENV_SELF_SIGNED}"
    else:
        insecure = bool(saved.get("allowSelfSignedCert", False))
        sources["allowSelfSignedCert"] = "file" if "allowSelfSignedCert" in saved else "default"
    return ClientConfig(normalize_api_url(api_url), api_key, insecure, sources)
