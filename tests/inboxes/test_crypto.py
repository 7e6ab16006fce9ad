"""kit.crypto (used for channel credentials) and the secret-splitting rules of inboxes.secrets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from chatbotx.inboxes.secrets import apply_config, is_secret_key
from chatbotx.kit import crypto
from chatbotx.settings import Settings


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = crypto._cipher(None, str(tmp_path))
    key_file = tmp_path / crypto.KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = first.encrypt(b"hello")
    crypto._cipher.cache_clear()
    again = crypto._cipher(None, str(tmp_path))
    assert again.decrypt(token) == b"hello"


def test_secret_key_setting_and_rotation(tmp_path: Path) -> None:
    old = crypto._cipher("old passphrase", str(tmp_path))
    token = old.encrypt(b"data")
    assert not (tmp_path / crypto.KEY_FILE).exists()
    rotated = crypto._cipher(f"{Fernet.generate_key().decode()},old passphrase", str(tmp_path))
    assert rotated.decrypt(token) == b"data"
    other = crypto._cipher("another passphrase", str(tmp_path))
    with pytest.raises(Exception):  # noqa: B017 (InvalidToken)
        other.decrypt(token)


def test_round_trip_with_configured_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "get_settings", lambda: Settings(data_dir=tmp_path))
    sealed = crypto.encrypt_json({"botToken": "t0k3n"})
    assert "t0k3n" not in sealed
    assert crypto.decrypt_json(sealed) == {"botToken": "t0k3n"}
    assert crypto.decrypt_json(None) == {}
    with pytest.raises(crypto.SecretDecryptionError):
        crypto.decrypt_text("not a fernet token")


@pytest.mark.parametrize(
    "key",
    [
        "botToken",
        "accessToken",
        "appSecret",
        "pageAccessToken",
        "smtpPassword",
        "imapPassword",
        "api_key",
        "TOKEN",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["phoneNumberId", "tokenExpiry", "secretary", "host", "passwordHint"])
def test_public_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_apply_config_patch() -> None:
    public, secrets = apply_config({"a": 1, "b": 2}, {"botToken": "x"}, {"a": None, "c": 3, "appSecret": "s"})
    assert public == {"b": 2, "c": 3}
    assert secrets == {"botToken": "x", "appSecret": "s"}


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "keys" / crypto.KEY_FILE
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: crypto._read_or_create_key_file(path), range(16)))
    assert len(keys) == 1
    assert sorted(p.name for p in path.parent.iterdir()) == [crypto.KEY_FILE]
