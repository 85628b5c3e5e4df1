"""Help that teaches: every command's --help ends with real examples; `superllm` alone helps."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

import pytest
from typer._click.core import Command
from typer.core import TyperGroup

from superllm_cli.docgen.manpage import commands
from superllm_cli.examples import EXAMPLES
from tests.e2e.conftest import SUPERLLM

PATHS = [path for path, _cmd, _ctx in commands()]


def _help(path: str) -> str:
    from typer.testing import CliRunner

    from superllm_cli.app import app

    done = CliRunner().invoke(app, [*path.split()[1:], "--help"], terminal_width=100)
    assert done.exit_code == 0, done.output
    return done.output


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "100"}


@pytest.mark.parametrize("path", PATHS)
def test_help_ends_with_two_or_three_examples(path: str) -> None:
    text = _help(path)
    _head, marker, tail = text.rpartition("Examples:\n")
    assert marker, f"{path} --help has no examples"
    examples = [line.strip() for line in tail.splitlines() if line.strip()]
    assert 2 <= len(examples) <= 3, examples
    assert all("superllm" in e for e in examples)
    assert examples == list(EXAMPLES[path.removeprefix("superllm").strip()])


def _invocations(line: str) -> list[list[str]]:
    """The argument lists of every `superllm ...` in a shell line (pipes and && split it)."""
    # A quoted command substitution that is a whole word is a command of its own.
    flat = re.sub(r'"\$\(([^()]*)\)"', r" ; \1 ; ", line)
    words = shlex.split(flat, posix=True)
    found: list[list[str]] = []
    current: list[str] | None = None
    for word in words:
        if word in ("|", "&&", ";", "<", ">"):
            current = None
        elif word == "superllm":
            current = []
            found.append(current)
        elif current is not None and not word.startswith(("<", ">")):
            current.append(word)
    return found


def _parse(args: list[str]) -> None:
    """Parse ``superllm ARGS`` with the real command tree, as click would before running it."""
    from superllm_cli.docgen.manpage import _root

    cmd: Command = _root()
    ctx = cmd.make_context("superllm", list(args), resilient_parsing=False)
    while isinstance(cmd, TyperGroup):
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            return
        name, sub, rest = cmd.resolve_command(ctx, rest)
        assert sub is not None, f"unknown command {name}"
        cmd = sub
        ctx = cmd.make_context(name or "", rest, parent=ctx)
    assert not ctx.args, f"unexpected arguments {ctx.args}"


@pytest.mark.parametrize(
    "line", sorted({line for lines in EXAMPLES.values() for line in lines}), ids=str
)
def test_every_example_parses_against_the_command_tree(line: str) -> None:
    invocations = _invocations(line)
    assert invocations, line
    for args in invocations:
        _parse([a.replace("RUN_ID", "r1a2b3").replace("CONV_ID", "c1a2b3") for a in args])


def test_a_broken_example_would_fail() -> None:
    from typer._click.exceptions import UsageError

    with pytest.raises(UsageError):
        _parse(["ask", "--no-such-option"])


def test_superllm_alone_prints_an_overview_and_exits_0() -> None:
    assert SUPERLLM
    done = subprocess.run([SUPERLLM], capture_output=True, text=True, timeout=60, env=_env())
    assert done.returncode == 0
    assert done.stdout.startswith("superllm: one command for many LLMs")
    for command in ("ask", "consensus", "models", "usage", "tui"):
        assert f"superllm {command}" in done.stdout
    assert "docs/" in done.stdout and "man superllm" in done.stdout
    assert len(done.stdout.splitlines()) <= 20
