"""Entry point of the `chatbotx` command. Imports stay lazy so that `chatbotx --help` starts fast."""

from __future__ import annotations

import click

from chatbotx.cli.server import server


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="chatbotx")
def cli() -> None:
    """ChatbotX: run a server (`chatbotx server ...`) or drive one through its API."""


cli.add_command(server)


def main() -> None:
    cli()
