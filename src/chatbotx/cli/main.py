"""Entry point of the `chatbotx` command.

Local commands (config, server, completion, mcp) are fixed; every other command comes from the server's
OpenAPI document, read at run time (spec.py, commands.py). Imports stay lazy so client commands start fast.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from chatbotx.cli.runtime import EXIT_CONNECTION, get_runtime

# name -> "module:attribute", imported only when that command runs (the server stack is heavy).
LOCAL_COMMANDS = {
    "config": "chatbotx.cli.config_commands:config_group",
    "completion": "chatbotx.cli.completion:completion",
    "server": "chatbotx.cli.server:server",
}
OPTIONAL_COMMANDS = {"mcp": "chatbotx.mcp.cli:mcp_command"}


def _load(target: str) -> click.Command | None:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None  # an optional command that is not installed
        raise
    command = getattr(module, attr, None)
    return command if isinstance(command, click.Command) else None


def _optional_available(name: str) -> bool:
    from importlib.util import find_spec

    module_name = OPTIONAL_COMMANDS[name].partition(":")[0]
    try:
        return find_spec(module_name) is not None
    except ModuleNotFoundError:
        return False


class RootGroup(click.Group):
    """The top level: local commands first, then the groups of the API spec."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(LOCAL_COMMANDS) | {n for n in OPTIONAL_COMMANDS if _optional_available(n)}
        tree = self._tree(ctx, quiet=True)
        return sorted(names | set(tree or {}))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LOCAL_COMMANDS:
            return _load(LOCAL_COMMANDS[cmd_name])
        if cmd_name in OPTIONAL_COMMANDS:
            command = _load(OPTIONAL_COMMANDS[cmd_name])
            if command is not None:
                return command
        node = self._node(ctx, cmd_name, quiet=ctx.resilient_parsing)
        if node is None:
            return None
        from chatbotx.cli.commands import build

        return build(cmd_name, node, (cmd_name,))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            if "No such command" in exc.message and get_runtime(ctx).spec_source != "server":
                hint = " (if the server has new commands, retry with --refresh-spec)"
                raise click.UsageError(exc.message + hint, ctx) from None
            raise

    def _tree(self, ctx: click.Context, *, quiet: bool) -> dict[str, Any] | None:
        """The command tree, or None when no spec can be had (then a client command exits with code 3)."""
        return self._node(ctx, None, quiet=quiet)

    def _node(self, ctx: click.Context, group: str | None, *, quiet: bool) -> Any:
        from chatbotx.cli.spec import SpecError

        rt = get_runtime(ctx)
        try:
            tree = rt.tree if group is None else rt.subtree(group)
        except SpecError as exc:
            if quiet:
                if not ctx.resilient_parsing and not ctx.meta.get("chatbotx.spec_warned"):
                    ctx.meta["chatbotx.spec_warned"] = True
                    click.echo(f"Note: API commands unavailable: {exc}", err=True)
                return None
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_CONNECTION)
        if rt.spec_source == "stale cache" and not ctx.meta.get("chatbotx.stale_warned"):
            ctx.meta["chatbotx.stale_warned"] = True
            if not ctx.resilient_parsing:
                click.echo("Warning: server unreachable; using the cached API spec.", err=True)
        return tree


def _install_completion(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from chatbotx.cli.completion import install

    install()
    ctx.exit(0)


@click.group(
    cls=RootGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog="\b\nExamples:\n  chatbotx config set --apiKey <token> --apiUrl http://127.0.0.1:8000/api\n"
    "  chatbotx tags list\n  chatbotx contacts --help",
)
@click.option(
    "--apiKey",
    "api_key",
    metavar="TOKEN",
    is_eager=True,
    help="Workspace API token (overrides CHATBOTX_API_KEY and the config file).",
)
@click.option(
    "--apiUrl",
    "api_url",
    metavar="URL",
    is_eager=True,
    help="API URL, e.g. http://127.0.0.1:8000/api (overrides CHATBOTX_API_URL and the config file).",
)
@click.option(
    "--refresh-spec", is_flag=True, is_eager=True, help="Fetch the API spec again instead of using the cache."
)
@click.option(
    "--install-completion",
    is_flag=True,
    expose_value=False,
    callback=_install_completion,
    help="Install shell completion for the current shell and exit.",
)
@click.version_option(package_name="chatbotx")
def cli(api_key: str | None, api_url: str | None, refresh_spec: bool) -> None:
    """ChatbotX: drive a ChatbotX server through its API, or run one (`chatbotx server ...`).

    API commands are generated from the server's OpenAPI document (cached for an hour in
    ~/.chatbotX/openapi-cache.json). Add --json to print raw JSON, -q for ids only.
    """


def main() -> None:
    cli(prog_name="chatbotx")


if __name__ == "__main__":
    main()
