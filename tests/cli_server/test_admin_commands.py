"""`chatbotx server` admin commands (members, teams) against a SQLite data directory."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from chatbotx.cli.server import server
from chatbotx.settings import get_settings

Invoke = Callable[..., Result]


@pytest.fixture(scope="module")
def invoke(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Invoke]:
    data_dir = str(tmp_path_factory.mktemp("cli-data"))
    runner = CliRunner()
    # The commands write CHATBOTX_* into os.environ; keep that from leaking into the other tests.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHATBOTX_DATA_DIR", data_dir)
        patch.delenv("CHATBOTX_DATABASE_URL", raising=False)

        def run(*args: str) -> Result:
            return runner.invoke(server, [*args, "--data-dir", data_dir])

        assert run("migrate").exit_code == 0
        yield run
    get_settings.cache_clear()


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def workspace(invoke: Invoke) -> str:
    created = _json(invoke("create-workspace", "Acme", "--owner-email", "boss@acme.example", "--json"))
    return str(created["workspace"]["id"])


def test_add_list_set_role_remove(invoke: Invoke, workspace: str) -> None:
    added = _json(
        invoke(
            "add-member",
            "--workspace",
            workspace,
            "ann@acme.example",
            "--role",
            "admin",
            "--name",
            "Ann",
            "--json",
        )
    )
    assert added["role"] == "admin" and added["user"]["name"] == "Ann" and added["workspaceId"] == workspace

    members = _json(invoke("list-members", "--workspace", workspace, "--json"))
    assert sorted(m["user"]["email"] for m in members) == ["ann@acme.example", "boss@acme.example"]
    human = invoke("list-members", "--workspace", workspace)
    assert human.exit_code == 0 and "ann@acme.example" in human.output

    promoted = _json(invoke("set-role", "--workspace", workspace, added["id"], "owner", "--json"))
    assert promoted["role"] == "owner"

    removed = invoke("remove-member", "--workspace", workspace, added["id"])
    assert removed.exit_code == 0, removed.output
    members = _json(invoke("list-members", "--workspace", workspace, "--json"))
    assert [m["user"]["email"] for m in members] == ["boss@acme.example"]


def test_errors_are_clear(invoke: Invoke, workspace: str) -> None:
    owner = _json(invoke("list-members", "--workspace", workspace, "--json"))[0]
    last = invoke("set-role", "--workspace", workspace, owner["id"], "agent")
    assert last.exit_code == 1 and "at least one owner" in last.output
    assert invoke("remove-member", "--workspace", workspace, owner["id"]).exit_code == 1

    again = invoke("add-member", "--workspace", workspace, "boss@acme.example")
    assert again.exit_code == 1 and "already a member" in again.output
    bad_email = invoke("add-member", "--workspace", workspace, "not-an-email")
    assert bad_email.exit_code == 1
    assert invoke("add-member", "--workspace", workspace, "x@acme.example", "--role", "boss").exit_code == 2

    assert invoke("list-members", "--workspace", "abc").exit_code == 2
    missing = invoke("list-members", "--workspace", "12345")
    assert missing.exit_code == 1 and "Workspace not found" in missing.output
    assert invoke("remove-member", "--workspace", workspace, "12345").exit_code == 1
    assert _json(invoke("list-members", "--workspace", workspace, "--json"))[0]["role"] == "owner"


def test_create_team(invoke: Invoke, workspace: str) -> None:
    team = _json(
        invoke("create-team", "--workspace", workspace, "Support", "--description", "Tier 1", "--json")
    )
    assert team["name"] == "Support" and team["description"] == "Tier 1" and team["memberIds"] == []
    duplicate = invoke("create-team", "--workspace", workspace, "Support")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    assert invoke("create-team", "--workspace", workspace, "").exit_code == 2
    human = invoke("create-team", "--workspace", workspace, "Sales")
    assert human.exit_code == 0 and "Team Sales" in human.output
