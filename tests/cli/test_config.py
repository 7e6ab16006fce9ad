"""`chatbotx config ...` and the precedence of flag > environment > file."""

from __future__ import annotations

import json
import stat

from tests.cli.conftest import Cli


def test_config_set_writes_a_private_file(cli: Cli) -> None:
    path = cli.home / ".chatbotX" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert saved == {"apiKey": cli.token, "apiUrl": cli.server.api_url}
    cli("config", "set", "--apiUrl", cli.server.url + "/")  # without /api: normalised
    assert json.loads(path.read_text())["apiUrl"] == cli.server.api_url
    assert cli("tags", "list", "--json").json() == []


def test_config_show_masks_the_token(cli: Cli) -> None:
    shown = cli("config", "show").out
    assert cli.token not in shown and cli.token[:6] in shown
    assert f"apiUrl: {cli.server.api_url}" in shown
    assert cli("config", "get", "apiKey").out.strip() != cli.token
    assert cli("config", "get", "apiKey", "--reveal").out.strip() == cli.token
    assert cli.token not in cli("config", "get").out


def test_precedence_flag_over_env_over_file(cli: Cli) -> None:
    env = {"CHATBOTX_API_URL": "http://env.example:1/api"}
    assert cli("config", "get", "apiUrl").out.strip() == cli.server.api_url
    assert cli("config", "get", "apiUrl", env=env).out.strip() == "http://env.example:1/api"
    flagged = cli("--apiUrl", "http://flag.example:2", "config", "get", "apiUrl", env=env).out.strip()
    assert flagged == "http://flag.example:2/api"
    # the env URL is really used: unreachable there, exit 3
    assert cli("tags", "list", env=env, check=False).code == 3
    # a wrong token by flag beats the right one in the file
    wrong = cli("--apiKey", "cbx_wrong", "tags", "list", check=False)
    assert wrong.code == 1 and "UNAUTHORIZED" in wrong.err
    wrong_env = cli("tags", "list", env={"CHATBOTX_API_KEY": "cbx_wrong"}, check=False)
    assert wrong_env.code == 1 and "UNAUTHORIZED" in wrong_env.err
    insecure = cli("config", "get", "allowSelfSignedCert", env={"CHATBOTX_ALLOW_SELF_SIGNED_CERT": "true"})
    assert insecure.out.strip() == "true"


def test_environment_only_without_a_config_file(cli: Cli) -> None:
    (cli.home / ".chatbotX" / "config.json").unlink()
    env = {"CHATBOTX_API_KEY": cli.token, "CHATBOTX_API_URL": cli.server.api_url}
    cli("tags", "create", "--name", "from-env", env=env)
    assert [t["name"] for t in cli.get("/api/v1/tags")] == ["from-env"]
    no_token = cli("tags", "list", env={"CHATBOTX_API_URL": cli.server.api_url}, check=False)
    assert no_token.code == 1 and "config set --apiKey" in no_token.err


def test_save_local_config_hook(cli: Cli) -> None:
    """The function `make run` / `server start` calls to point the CLI at the local server."""
    import subprocess
    import sys

    code = (
        "from chatbotx.cli.config import save_local_config;"
        f"save_local_config({cli.server.url!r}, {cli.token!r})"
    )
    subprocess.run([sys.executable, "-c", code], env=cli.env, check=True)
    saved = json.loads((cli.home / ".chatbotX" / "config.json").read_text())
    assert saved["apiUrl"] == cli.server.api_url and saved["apiKey"] == cli.token
