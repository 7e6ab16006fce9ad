"""Shell completion: `chatbotx completion bash|zsh|fish` prints the script; --install-completion adds it."""

from __future__ import annotations

import os
from pathlib import Path

import click

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_CHATBOTX_COMPLETE"


def script(shell: str) -> str:
    from click.shell_completion import get_completion_class

    from chatbotx.cli.main import cli

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - SHELLS are all built in
        raise click.UsageError(f"unsupported shell {shell}")
    return cls(cli, {}, "chatbotx", COMPLETE_VAR).source()


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    Examples:
      eval "$(chatbotx completion bash)"        # in ~/.bashrc
      eval "$(chatbotx completion zsh)"         # in ~/.zshrc
      chatbotx completion fish > ~/.config/fish/completions/chatbotx.fish
    """
    click.echo(script(shell))


def install() -> None:
    """Add completion for the user's shell ($SHELL) to its start-up file, once."""
    shell = Path(os.environ.get("SHELL", "bash")).name
    if shell not in SHELLS:
        raise click.UsageError(f"cannot install completion for shell {shell!r}; use `chatbotx completion`.")
    home = Path.home()
    if shell == "fish":
        target = home / ".config" / "fish" / "completions" / "chatbotx.fish"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(script("fish"))
    else:
        target = home / (".bashrc" if shell == "bash" else ".zshrc")
        line = f'eval "$({COMPLETE_VAR}={shell}_source chatbotx)"'
        existing = target.read_text() if target.exists() else ""
        if line not in existing:
            with target.open("a") as fh:
                fh.write(f"\n# chatbotx shell completion\n{line}\n")
    click.echo(f"Completion installed in {target}; open a new shell to use it.")
