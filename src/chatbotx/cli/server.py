"""`chatbotx server ...`: run and administer a ChatbotX server (talks to the database directly)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

T = TypeVar("T")
FIRST_TOKEN_FILE = "first-token"
GRACEFUL_SHUTDOWN_SECONDS = 10  # requests still open when the server stops are cut after this


def _settings(data_dir: str | None = None, database_url: str | None = None) -> Any:
    from chatbotx.settings import get_settings

    if data_dir:
        os.environ["CHATBOTX_DATA_DIR"] = data_dir
    if database_url:
        os.environ["CHATBOTX_DATABASE_URL"] = database_url
    get_settings.cache_clear()
    return get_settings()


def _run_with_session(fn: Callable[[Any], Awaitable[T]]) -> T:
    from chatbotx.kit.db import Database, commit

    async def runner() -> T:
        from chatbotx.settings import get_settings

        database = Database(get_settings())
        try:
            async with database.sessionmaker() as session:
                result = await fn(session)
                await commit(session)
                return result
        finally:
            await database.dispose()

    return asyncio.run(runner())


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _print(data: Any, as_json: bool, human: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        human()


data_dir_option = click.option(
    "--data-dir",
    envvar="CHATBOTX_DATA_DIR",
    type=click.Path(file_okay=False),
    help="Data directory (SQLite, files).",
)
database_option = click.option(
    "--database-url",
    envvar="CHATBOTX_DATABASE_URL",
    help="postgresql+asyncpg://... (default: SQLite in data dir).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.group()
def server() -> None:
    """Run and administer a ChatbotX server."""


@server.command()
@data_dir_option
@database_option
def migrate(data_dir: str | None, database_url: str | None) -> None:
    """Apply database migrations."""
    settings = _settings(data_dir, database_url)
    from chatbotx.kit.migrate import upgrade

    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    click.echo(f"Database is up to date: {_redact(settings.effective_database_url)}")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _workspace_json(workspace: Any) -> dict[str, Any]:
    return {"id": str(workspace.id), "name": workspace.name, "createdAt": workspace.created_at.isoformat()}


@server.command("create-workspace")
@click.argument("name")
@click.option(
    "--owner-email", default="owner@localhost", show_default=True, help="Email of the owner member."
)
@data_dir_option
@database_option
@json_option
def create_workspace(
    name: str, owner_email: str, data_dir: str | None, database_url: str | None, as_json: bool
) -> None:
    """Create workspace NAME with its owner and a token with all scopes (shown once)."""
    _settings(data_dir, database_url)
    from chatbotx.workspaces import service

    result = _run_with_session(lambda s: service.create_workspace(s, name, owner_email))
    workspace, _member, token = result
    data = {"workspace": _workspace_json(workspace), "token": token}
    _print(data, as_json, lambda: click.echo(f"Workspace {workspace.name} ({workspace.id})\nToken: {token}"))


@server.command("create-token")
@click.option("--workspace", "workspace_id", required=True, help="Workspace id.")
@click.option(
    "--scopes", default="*", show_default=True, help="Comma-separated scopes, e.g. contacts.list,tags.edit."
)
@click.option("--name", default="", help="A label for the token.")
@data_dir_option
@database_option
@json_option
def create_token(
    workspace_id: str, scopes: str, name: str, data_dir: str | None, database_url: str | None, as_json: bool
) -> None:
    """Create an API token for a workspace (shown once)."""
    _settings(data_dir, database_url)
    from chatbotx.kit.errors import ApiError
    from chatbotx.kit.ids import parse_id
    from chatbotx.workspaces import service

    wid = parse_id(workspace_id)
    if wid is None:
        _fail("--workspace must be a workspace id", 2)
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()]
    try:
        token, plain = _run_with_session(lambda s: service.create_token(s, wid or 0, scope_list, name=name))
    except ApiError as exc:
        _fail(exc.message)
    data = {
        "token": plain,
        "id": str(token.id),
        "workspaceId": str(token.workspace_id),
        "scopes": token.scopes,
    }
    _print(data, as_json, lambda: click.echo(plain))


@server.command("list-workspaces")
@data_dir_option
@database_option
@json_option
def list_workspaces(data_dir: str | None, database_url: str | None, as_json: bool) -> None:
    """List the workspaces on this server."""
    _settings(data_dir, database_url)
    from chatbotx.workspaces import service

    workspaces = _run_with_session(service.list_workspaces)
    data = [_workspace_json(w) for w in workspaces]

    def human() -> None:
        from rich.console import Console
        from rich.table import Table

        table = Table("id", "name", "createdAt")
        for row in data:
            table.add_row(row["id"], row["name"], row["createdAt"])
        Console().print(table)

    _print(data, as_json, human)


ROLE_CHOICE = click.Choice(["owner", "admin", "agent"])
workspace_option = click.option("--workspace", "workspace_id", required=True, help="Workspace id.")


def _parse_id(raw: str, what: str) -> int:
    from chatbotx.kit.ids import parse_id

    value = parse_id(raw)
    if value is None:
        _fail(f"{what} must be an id, got {raw!r}", 2)
    return value


def _admin(workspace_id: str, action: Callable[[Any, int], Awaitable[T]]) -> T:
    """Run `action(session, workspace_id)` in one transaction after checking the workspace exists."""
    from chatbotx.kit.errors import ApiError
    from chatbotx.workspaces import service as workspaces

    wid = _parse_id(workspace_id, "--workspace")

    async def run(session: Any) -> T:
        await workspaces.get(session, wid)
        return await action(session, wid)

    try:
        return _run_with_session(run)
    except ApiError as exc:
        _fail(exc.message)


def _dump(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(mode="json", by_alias=True))


def _member_line(member: dict[str, Any]) -> str:
    user = member["user"]
    return f"{member['id']}  {member['role']:<6} {user['name']} <{user['email']}>"


@server.command("add-member")
@workspace_option
@click.argument("email")
@click.option("--role", type=ROLE_CHOICE, default="agent", show_default=True)
@click.option("--name", default=None, help="Display name (for a person new to this server).")
@data_dir_option
@database_option
@json_option
def add_member(
    workspace_id: str,
    email: str,
    role: str,
    name: str | None,
    data_dir: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Add the person with EMAIL to a workspace (creating their user if needed)."""
    _settings(data_dir, database_url)
    from chatbotx.members import service

    member = _dump(_admin(workspace_id, lambda s, wid: service.add(s, wid, email, name=name, role=role)))
    _print(member, as_json, lambda: click.echo(f"Added {_member_line(member)}"))


@server.command("list-members")
@workspace_option
@data_dir_option
@database_option
@json_option
def list_members(workspace_id: str, data_dir: str | None, database_url: str | None, as_json: bool) -> None:
    """List the members of a workspace."""
    _settings(data_dir, database_url)
    from chatbotx.kit.pagination import MAX_PER_PAGE, PageParams
    from chatbotx.members import service

    async def all_members(session: Any, wid: int) -> list[Any]:
        members, page, page_count = [], 1, 1
        while page <= page_count:
            batch, page_count = await service.list_members(session, wid, PageParams(page, MAX_PER_PAGE))
            members.extend(batch)
            page += 1
        return members

    data = [_dump(m) for m in _admin(workspace_id, all_members)]

    def human() -> None:
        from rich.console import Console
        from rich.table import Table

        table = Table("id", "role", "name", "email")
        for m in data:
            table.add_row(m["id"], m["role"], m["user"]["name"], m["user"]["email"])
        Console().print(table)

    _print(data, as_json, human)


@server.command("set-role")
@workspace_option
@click.argument("member_id")
@click.argument("role", type=ROLE_CHOICE)
@data_dir_option
@database_option
@json_option
def set_role(
    workspace_id: str,
    member_id: str,
    role: str,
    data_dir: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Give member MEMBER_ID the role ROLE (owner, admin or agent)."""
    _settings(data_dir, database_url)
    from chatbotx.members import service

    mid = _parse_id(member_id, "MEMBER_ID")
    member = _dump(_admin(workspace_id, lambda s, wid: service.set_role(s, wid, mid, role)))
    _print(member, as_json, lambda: click.echo(f"Updated {_member_line(member)}"))


@server.command("remove-member")
@workspace_option
@click.argument("member_id")
@data_dir_option
@database_option
def remove_member(workspace_id: str, member_id: str, data_dir: str | None, database_url: str | None) -> None:
    """Remove member MEMBER_ID from a workspace (their API tokens are revoked)."""
    _settings(data_dir, database_url)
    from chatbotx.members import service

    mid = _parse_id(member_id, "MEMBER_ID")
    _admin(workspace_id, lambda s, wid: service.remove(s, wid, mid))
    click.echo(f"Removed member {mid}")


@server.command("create-team")
@workspace_option
@click.argument("name")
@click.option("--description", default=None, help="What the team does.")
@data_dir_option
@database_option
@json_option
def create_team(
    workspace_id: str,
    name: str,
    description: str | None,
    data_dir: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Create team NAME in a workspace."""
    _settings(data_dir, database_url)
    from pydantic import ValidationError

    from chatbotx.teams import service
    from chatbotx.teams.schemas import TeamCreate

    try:
        body = TeamCreate(name=name, description=description)
    except ValidationError as exc:
        _fail(f"invalid team: {exc.errors()[0]['msg']}", 2)
    team = _dump(_admin(workspace_id, lambda s, wid: service.create(s, wid, body)))
    _print(team, as_json, lambda: click.echo(f"Team {team['name']} ({team['id']})"))


async def _bootstrap(session: Any, data_dir: Path) -> tuple[str | None, str | None]:
    """On first start: a workspace, its owner and a token (kept in the data dir for `make run` to show)."""
    from sqlalchemy import select

    from chatbotx.kit.security import hash_token
    from chatbotx.models import ApiToken, Workspace
    from chatbotx.workspaces import service

    token_file = data_dir / FIRST_TOKEN_FILE
    if await session.scalar(select(Workspace.id).limit(1)) is None:
        workspace, _member, token = await service.create_workspace(session, "My workspace")
        data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (start-up, nothing else runs)
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        return str(workspace.id), token
    if token_file.exists():
        token = token_file.read_text().strip()
        row = await session.scalar(
            select(ApiToken.workspace_id).where(
                ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
            )
        )
        if row is not None:
            return str(row), token
    return None, None


@server.command()
@click.option("--host", envvar="CHATBOTX_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="CHATBOTX_PORT", default=8000, show_default=True, type=int)
@data_dir_option
@database_option
@click.option(
    "--no-worker", is_flag=True, help="Serve the API only; run jobs in `chatbotx server worker` processes."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="HTTP worker processes (events, rate limits and background loops are shared between them).",
)
@click.option(
    "--configure-cli",
    is_flag=True,
    help="Also point the `chatbotx` CLI at this server (~/.chatbotX/config.json).",
)
def start(
    host: str,
    port: int,
    data_dir: str | None,
    database_url: str | None,
    no_worker: bool,
    workers: int,
    configure_cli: bool,
) -> None:
    """Apply migrations and start the server (SQLite in the data directory unless --database-url)."""
    if no_worker:
        os.environ["CHATBOTX_NO_WORKER"] = "1"
    os.environ["CHATBOTX_WORKERS"] = str(workers)  # read by each worker process (kit/events, kit/ratelimit)
    settings = _settings(data_dir, database_url)
    from chatbotx.kit.migrate import upgrade

    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    workspace_id, token = _run_with_session(lambda s: _bootstrap(s, settings.data_dir))
    url = f"http://{host}:{port}"
    click.echo(f"ChatbotX {_version()} at {url}  (API docs: {url}/api/docs)")
    click.echo(f"Database: {_redact(settings.effective_database_url)}")
    click.echo(f"Data directory: {settings.data_dir.resolve()}")
    if token:
        click.echo(f"Workspace: {workspace_id}")
        click.echo(f"API token: {token}")
        click.echo(f"Try: curl -H 'Authorization: Bearer {token}' {url}/api/v1/contacts")
        if configure_cli:
            from chatbotx.cli.config import save_local_config

            local_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            path = save_local_config(f"http://{local_host}:{port}/api", token)
            click.echo(f"CLI configured in {path}: try `chatbotx tags list`")
    import uvicorn

    uvicorn.run(
        "chatbotx.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        access_log=False,
        # Realtime streams (SSE) never end by themselves: without a bound, stopping waits for every client to
        # leave (with --workers, a second Ctrl+C does not help: the parent waits for its workers).
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def _version() -> str:
    import chatbotx

    return chatbotx.__version__


@server.command()
@data_dir_option
@database_option
def worker(data_dir: str | None, database_url: str | None) -> None:
    """Run background jobs from the broker (scale-out: CHATBOTX_BROKER_URL=redis://...) until stopped."""
    settings = _settings(data_dir, database_url)
    if not settings.broker_url:
        _fail("`chatbotx server worker` needs CHATBOTX_BROKER_URL (e.g. redis://127.0.0.1:6379/0).", 2)

    async def run() -> None:
        from chatbotx.app import BACKGROUND_RETRY, background_loops, tune_gc
        from chatbotx.dispatcher import runner as dispatcher
        from chatbotx.dispatcher.sender_lock import process_lock, run_while_held
        from chatbotx.kit import db, jobs

        await jobs.broker.startup()
        dispatcher.start()  # sends queued messages (shares the rate limits through CHATBOTX_REDIS_URL)
        # Resuming imports, re-queueing webhook events left pending and polling the email inboxes over IMAP:
        # in one worker of all (the one holding the database's background lock; another takes over).
        lock = process_lock(db.get_database().engine, "background")
        background = (
            asyncio.create_task(run_while_held(lock, background_loops, BACKGROUND_RETRY))
            if lock is not None
            else asyncio.create_task(background_loops())
        )
        tune_gc()  # the server's garbage-collector settings (startup objects frozen, fewer young collections)
        click.echo(f"Worker consuming {settings.broker_url}, dispatching queued messages")
        try:
            await jobs.start_worker(worker_hooks=False)
        finally:
            await dispatcher.stop()
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await background
            await jobs.broker.shutdown()
            await db.get_database().dispose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
