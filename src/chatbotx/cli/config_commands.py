"""`chatbotx config set|get|show|unset`: the saved client settings in ~/.chatbotX/config.json."""

from __future__ import annotations

import click

from chatbotx.cli import config

KEYS = ("apiKey", "apiUrl", "allowSelfSignedCert")


@click.group("config")
def config_group() -> None:
    """Save and show the API token and URL the client commands use."""


@config_group.command("set")
@click.option("--apiKey", "api_key", metavar="TOKEN", help="Workspace API token.")
@click.option("--apiUrl", "api_url", metavar="URL", help="API URL, e.g. https://app.chatbotx.io/api.")
@click.option(
    "--allowSelfSignedCert/--no-allowSelfSignedCert",
    "allow_self_signed",
    default=None,
    help="Accept a self-signed TLS certificate (local instances).",
)
def config_set(api_key: str | None, api_url: str | None, allow_self_signed: bool | None) -> None:
    """Save credentials once; they persist across runs (file mode 0600).

    \b
    Example:
      chatbotx config set --apiKey <your-workspace-token> --apiUrl https://app.chatbotx.io/api
    """
    updates: dict[str, object] = {}
    if api_key is not None:
        updates["apiKey"] = api_key.strip()
    if api_url is not None:
        if not api_url.strip().startswith(("http://", "https://")):
            raise click.BadParameter("must start with http:// or https://", param_hint="--apiUrl")
        updates["apiUrl"] = config.normalize_api_url(api_url)
    if allow_self_signed is not None:
        updates["allowSelfSignedCert"] = allow_self_signed
    if not updates:
        raise click.UsageError("Nothing to set: give --apiKey and/or --apiUrl.")
    path = config.save(updates)
    click.echo(f"Saved to {path}")


@config_group.command("get")
@click.argument("key", required=False, type=click.Choice(KEYS))
@click.option("--reveal", is_flag=True, help="Print the token unmasked.")
def config_get(key: str | None, reveal: bool) -> None:
    """Print the effective settings (flag > environment > file), or one KEY; the token is masked.

    \b
    Example:
      chatbotx config get apiUrl
    """
    _show(key, reveal)


@config_group.command("show")
@click.option("--reveal", is_flag=True, help="Print the token unmasked.")
def config_show(reveal: bool) -> None:
    """Show the effective settings and where each comes from; the token is masked."""
    _show(None, reveal)


@config_group.command("unset")
@click.argument("key", type=click.Choice(KEYS))
def config_unset(key: str) -> None:
    """Remove KEY from the config file."""
    config.save({key: None})
    click.echo(f"Removed {key} from {config.config_path()}")


def _show(key: str | None, reveal: bool) -> None:
    ctx = click.get_current_context()
    root = ctx.find_root().params
    cfg = config.resolve(root.get("api_key"), root.get("api_url"))
    values = {
        "apiUrl": cfg.api_url,
        "apiKey": cfg.api_key if reveal and cfg.api_key else config.mask(cfg.api_key),
        "allowSelfSignedCert": "true" if cfg.allow_self_signed else "false",
    }
    if key:
        click.echo(values[key])
        return
    for name, value in values.items():
        source = cfg.sources.get(name, "not set")
        click.echo(f"{name}: {value}  ({source})")
    click.echo(f"config file: {config.config_path()}")
