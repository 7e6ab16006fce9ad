"""--help at every level, output modes, and shell completion."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_help_at_every_level(cli: Cli) -> None:
    top = cli("--help").out
    for name in ("config", "server", "tags", "contacts", "completion"):
        assert name in top
    contacts = cli("contacts", "--help").out
    assert "tag" in contacts and "custom-field" in contacts
    if cli.server.has("sendMessage"):
        group = cli("contacts", "message", "--help").out
        assert "send" in group and "get" in group
        send = cli("contacts", "message", "send", "--help").out
        assert "Send message to contact" in send and "Example:" in send
        assert "chatbotx contacts message send <identifier>" in send
    tags_get = cli("tags", "get", "--help").out
    assert "Tag id or name" in tags_get and "chatbotx tags get <idOrName>" in tags_get


def test_outputs(cli: Cli) -> None:
    tag = cli("tags", "create", "--name", "vip", "--json").json()
    assert cli("tags", "create", "--name", "gold", "-q").out.strip() != tag["id"]
    assert sorted(cli("tags", "list", "-q").out.split()) == sorted(t["id"] for t in cli.get("/api/v1/tags"))
    table = cli("tags", "list").out
    assert "┃ id" in table and tag["id"] in table
    view = cli("tags", "get", "vip").out
    assert "name" in view and "vip" in view and tag["id"] in view
    assert cli("tags", "delete", tag["id"], "--json").out == ""


def test_errors_and_exit_codes(cli: Cli) -> None:
    missing = cli("tags", "get", "nope", check=False)
    assert (missing.code, missing.out) == (1, "")
    assert missing.err.strip() == "Error: NOT_FOUND (404): Tag 'nope' not found."
    cli("tags", "create", "--name", "dup")
    dup = cli("tags", "create", "--name", "dup", check=False)
    assert dup.code == 1 and "DUPLICATE_NAME (409)" in dup.err
    usage = cli("tags", "create", check=False)
    assert usage.code == 2 and "--name" in usage.err
    assert cli("tags", "frobnicate", check=False).code == 2


def test_completion_scripts(cli: Cli) -> None:
    for shell, marker in (
        ("bash", "complete -o"),
        ("zsh", "#compdef chatbotx"),
        ("fish", "complete --no-files --command chatbotx"),
    ):
        script = cli("completion", shell).out
        assert marker in script and "_CHATBOTX_COMPLETE" in script, shell
    env = {"_CHATBOTX_COMPLETE": "bash_complete", "COMP_WORDS": "chatbotx contacts ta", "COMP_CWORD": "2"}
    words = cli("contacts", "ta", env=env)
    assert "tag" in words.out and "tags" in words.out


def test_install_completion(cli: Cli) -> None:
    cli("--install-completion", env={"SHELL": "/bin/bash"})
    cli("--install-completion", env={"SHELL": "/bin/bash"})
    rc = (cli.home / ".bashrc").read_text()
    assert rc.count("_CHATBOTX_COMPLETE=bash_source chatbotx") == 1
