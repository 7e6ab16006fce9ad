"""The spec cache (TTL, --refresh-spec, new endpoints, corrupt file, per-URL keys) and how flags become
requests, against a fake API whose spec the tests edit."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import CHATBOTX, Result, user_env
from tests.cli.fake_api import FakeApi


@pytest.fixture
def fake() -> Iterator[FakeApi]:
    with FakeApi() as api:
        yield api


class Runner:
    def __init__(self, home: Path, api_url: str):
        self.home = home
        self.env = {**user_env(home), "CHATBOTX_API_URL": api_url, "CHATBOTX_API_KEY": "cbx_test"}

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        proc = subprocess.run(
            [*CHATBOTX, *args], env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=60
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    @property
    def cache_file(self) -> Path:
        return self.home / ".chatbotX" / "openapi-cache.json"


@pytest.fixture
def run(fake: FakeApi, tmp_path: Path) -> Runner:
    return Runner(tmp_path, fake.url + "/api")


def test_spec_is_cached_for_the_ttl(run: Runner, fake: FakeApi) -> None:
    assert run("things", "list").code == 0
    assert run("things", "list").code == 0
    assert fake.spec_fetches == 1
    cache = json.loads(run.cache_file.read_text())
    assert list(cache["specs"]) == [fake.url + "/api"]
    assert run.cache_file.stat().st_mode & 0o777 == 0o600

    assert run("things", "list", env={"CHATBOTX_SPEC_CACHE_TTL_SECONDS": "0"}).code == 0
    assert fake.spec_fetches == 2


def test_expired_entry_is_refetched(run: Runner, fake: FakeApi) -> None:
    assert run("things", "list").code == 0
    cache = json.loads(run.cache_file.read_text())
    cache["specs"][fake.url + "/api"]["fetchedAt"] -= 3601
    run.cache_file.write_text(json.dumps(cache))
    assert run("things", "list").code == 0
    assert fake.spec_fetches == 2


def test_new_endpoint_appears_after_refresh_spec(run: Runner, fake: FakeApi) -> None:
    assert run("things", "list").code == 0
    fake.spec["paths"]["/api/v1/gadgets"] = {
        "get": {"operationId": "listGadgets", "summary": "List gadgets", "x-cli-name": "gadgets list"}
    }
    stale = run("gadgets", "list")
    assert stale.code == 2, stale
    assert "--refresh-spec" in stale.err

    fresh = run("--refresh-spec", "gadgets", "list", "--json")
    assert fresh.code == 0, fresh
    assert fresh.json()["path"] == "/api/v1/gadgets"
    assert fake.spec_fetches == 2
    # and the refreshed spec is the cached one now
    assert run("gadgets", "list").code == 0
    assert fake.spec_fetches == 2
    assert "gadgets" in run("--help").out


def test_deleting_the_cache_file_refetches(run: Runner, fake: FakeApi) -> None:
    assert run("things", "list").code == 0
    run.cache_file.unlink()
    assert run("things", "list").code == 0
    assert fake.spec_fetches == 2


@pytest.mark.parametrize("garbage", ["{not json", '{"format": 1, "specs": []}', "[]", ""])
def test_corrupt_cache_is_recovered(run: Runner, fake: FakeApi, garbage: str) -> None:
    run.cache_file.parent.mkdir(parents=True)
    run.cache_file.write_text(garbage)
    result = run("things", "list", "--json")
    assert result.code == 0, result
    assert json.loads(run.cache_file.read_text())["specs"][fake.url + "/api"]["spec"]["paths"]


def test_cache_is_keyed_by_api_url(run: Runner, fake: FakeApi) -> None:
    with FakeApi() as other:
        other.spec["paths"] = {
            "/api/v1/widgets": {"get": {"operationId": "listWidgets", "x-cli-name": "widgets list"}}
        }
        assert run("things", "list").code == 0
        assert run("--apiUrl", other.url, "widgets", "list").code == 0
        assert run("things", "list").code == 0
        assert run("--apiUrl", other.url + "/api/", "widgets", "list").code == 0
        assert (fake.spec_fetches, other.spec_fetches) == (1, 1)
        assert run("widgets", "list").code == 2


def test_unreachable_server_without_cache_is_one_line_and_exit_3(tmp_path: Path) -> None:
    run = Runner(tmp_path, "http://127.0.0.1:9/api")
    result = run("tags", "list")
    assert result.code == 3
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert "cannot reach http://127.0.0.1:9" in result.err
    # local commands still work, and --help still lists them
    assert run("config", "show").code == 0
    helped = run("--help")
    assert helped.code == 0 and "config" in helped.out


def test_stale_cache_serves_when_server_is_down(run: Runner, fake: FakeApi) -> None:
    assert run("things", "list").code == 0
    port = fake.url.rsplit(":", 1)[1]
    fake.stop()
    helped = run("things", "--help", env={"CHATBOTX_SPEC_CACHE_TTL_SECONDS": "0"})
    assert helped.code == 0 and "list" in helped.out
    down = run("things", "list", env={"CHATBOTX_SPEC_CACHE_TTL_SECONDS": "0"})
    assert down.code == 3 and f"127.0.0.1:{port}" in down.err and "Traceback" not in down.err


# --- how flags become requests


def last(fake: FakeApi) -> dict[str, object]:
    return fake.requests[-1]


def test_query_flags_arrays_and_booleans(run: Runner, fake: FakeApi) -> None:
    assert run("things", "list", "--page", "2", "--channels", "whatsapp,telegram", "--botEnabled").code == 0
    assert last(fake)["query"] == {
        "page": ["2"],
        "channels": ["whatsapp", "telegram"],
        "botEnabled": ["true"],
    }
    assert last(fake)["auth"] == "Bearer cbx_test"
    assert run("things", "list", "--channels", '["webchat"]', "--no-botEnabled").code == 0
    assert last(fake)["query"] == {"channels": ["webchat"], "botEnabled": ["false"]}
    assert run("things", "list", "--botEnabled", "false").code == 0
    assert last(fake)["query"] == {"botEnabled": ["false"]}


def test_body_flags_are_typed_from_the_schema(run: Runner, fake: FakeApi, tmp_path: Path) -> None:
    meta = tmp_path / "meta.json"
    meta.write_text('{"plan": "gold"}')
    result = run(
        "things", "create", "--name", "x", "--tagIds", "1,2", "--count", "3", "--active", "--meta", f"@{meta}"
    )
    assert result.code == 0, result
    assert last(fake)["body"] == {
        "name": "x",
        "tagIds": ["1", "2"],
        "count": 3,
        "active": True,
        "meta": {"plan": "gold"},
    }
    assert run("things", "create", "--name", "y", "--tagIds", '["7"]', "--meta", '{"a": 1}').code == 0
    assert last(fake)["body"] == {"name": "y", "tagIds": ["7"], "meta": {"a": 1}}
    assert run("things", "create", "--data", '{"name": "z", "count": 1}', "--count", "5").code == 0
    assert last(fake)["body"] == {"name": "z", "count": 5}


def test_usage_errors_exit_2_and_send_nothing(run: Runner, fake: FakeApi) -> None:
    for args in (
        ("things", "create"),  # required --name
        ("things", "create", "--name", "x", "--count", "many"),
        ("things", "create", "--name", "x", "--kind", "c"),
        ("things", "create", "--name", "x", "--meta", "{bad"),
        ("things", "nope"),
    ):
        result = run(*args)
        assert result.code == 2, (args, result)
        assert "Traceback" not in result.err
    assert fake.requests == []


def test_same_cli_name_dispatches_on_positionals(run: Runner, fake: FakeApi) -> None:
    assert run("things", "update", "my thing", "--value", "premium").code == 0
    assert last(fake)["rawPath"] == "/api/v1/things/my%20thing"
    assert last(fake)["method"] == "PUT" and last(fake)["body"] == {"value": "premium"}
    pairs = '[{"id": "1", "value": "a"}]'
    assert run("things", "update", "--fields", pairs).code == 0
    assert last(fake)["path"] == "/api/v1/things/bulk" and last(fake)["body"] == {"fields": json.loads(pairs)}
    wrong = run("things", "update", "--value", "x")
    assert wrong.code == 2 and "things update <idOrName> --value" in wrong.err
    helped = run("things", "update", "--help").out
    assert "[IDORNAME]" in helped and "--fields" in helped and "--value" in helped


def test_path_values_are_escaped(run: Runner, fake: FakeApi) -> None:
    assert run("things", "update", "email:a+b@example.com", "--value", "1").code == 0
    assert last(fake)["rawPath"] == "/api/v1/things/email%3Aa%2Bb%40example.com"


def test_multipart_upload_takes_a_local_path(run: Runner, fake: FakeApi, tmp_path: Path) -> None:
    csv = tmp_path / "contacts.csv"
    csv.write_text("email\na@example.com\n")
    assert run("things", "upload", "--file", str(csv), "--label", "hello").code == 0
    sent = last(fake)
    assert str(sent["contentType"]).startswith("multipart/form-data; boundary=")
    assert 'filename="contacts.csv"' in str(sent["body"]) and "a@example.com" in str(sent["body"])
    assert 'name="label"' in str(sent["body"])
    missing = run("things", "upload", "--file", str(tmp_path / "nope.csv"))
    assert missing.code == 2


def test_api_error_goes_to_stderr_with_exit_1(run: Runner, fake: FakeApi) -> None:
    result = run("things", "update", "missing", "--value", "1")
    assert result.code == 1
    assert result.out == ""
    assert result.err.strip() == "Error: NOT_FOUND (404): Thing not found."


def test_api_url_with_or_without_api_suffix(fake: FakeApi, tmp_path: Path) -> None:
    for api_url in (fake.url, fake.url + "/api", fake.url + "/api/"):
        run = Runner(tmp_path / str(abs(hash(api_url))), api_url)
        result = run("things", "list", "--json")
        assert result.code == 0, result
        assert result.json()["path"] == "/api/v1/things"


def test_no_server_import_on_the_client_path(run: Runner) -> None:
    code = (
        "import sys, runpy; sys.argv = ['chatbotx', 'things', 'list', '--json'];"
        "\ntry:\n    runpy.run_module('chatbotx.cli.main', run_name='__main__')\nexcept SystemExit: pass\n"
        "heavy = sorted(m for m in ('fastapi', 'sqlalchemy', 'pydantic', 'rich', 'httpx', 'chatbotx.app')"
        " if m in sys.modules)\nprint('HEAVY', heavy, file=sys.stderr)"
    )
    proc = subprocess.run(
        [CHATBOTX[0], "-c", code], env={**run.env, "PYTHONPATH": os.getcwd()}, capture_output=True, text=True
    )
    assert "HEAVY []" in proc.stderr, proc.stderr
