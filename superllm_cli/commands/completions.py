"""``superllm completions SHELL``: print the completion script for bash, zsh or fish."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from superllm_cli.completion import SHELLS, script

__all__ = ["completions"]


def _shells(incomplete: str) -> list[str]:
    return [s for s in SHELLS if s.startswith(incomplete)]


def completions(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.", autocompletion=_shells)],
) -> None:
    """Print the shell completion script for SHELL (model ids, providers, runs complete too).

    \b
    bash: superllm completions bash > ~/.local/share/bash-completion/completions/superllm
    zsh:  superllm completions zsh > ~/.zfunc/_superllm (with fpath+=(~/.zfunc) in .zshrc)
    fish: superllm completions fish > ~/.config/fish/completions/superllm.fish
    """
    if shell not in SHELLS:
        raise typer.BadParameter(f"{shell!r}: choose bash, zsh or fish", param_hint="SHELL")
    sys.stdout.write(script(shell))
