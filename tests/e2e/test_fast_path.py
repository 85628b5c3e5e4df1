"""The fast path and Typer say the same thing against a real daemon.

Each command line runs twice, through the installed ``superllm`` (which takes the fast
path for these forms) and through a ``superllm`` that lets Typer read every command line
(``entry.main(fast=False)``); stdout, stderr and the exit code must match, once run ids,
conversation ids and latencies are blanked out.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from superllm_cli import _fast
from tests.e2e.conftest import SUPERLLM, Cli

CORPUS: list[tuple[list[str], str | None]] = [
    (["ask", "-m", "fake/echo", "hi"], None),
    (["ask", "--model=fake/echo", "--stream", "never", "hi"], None),
    (["-v", "ask", "-m", "fake/echo", "hi"], None),
    (["--color", "never", "-v", "ask", "-mfake/echo", "--max-tokens", "5", "hi"], None),
    (["ask", "-m", "fake/echo", "--json", "hi"], None),
    (["ask", "-m", "fake/echo", "--stream-json", "hi"], None),
    (["ask", "-m", "fake/echo", "-o", "top_p=0.5", "--temperature", "0.2", "hi"], None),
    (["ask", "-m", "fake/echo"], "piped text"),
    (["ask", "-m", "fake/echo", "first"], "then stdin"),
    (["-v", "ask", "-m", "fake/echo", "--label", "nightly", "--max-cost", "1", "hi"], None),
    (["ask", "-m", "fake/echo"], None),
    (["ask", "-m", "nope/x", "hi"], None),
    (["ask", "-m", "fake/error-401", "hi"], None),
    (["ask", "-m", "fake/error-401", "--json", "hi"], None),
    (["ask", "-m", "fake/echo", "-o", "no-equals", "hi"], None),
    (["ask", "-m", "fake/echo", "--cache-ttl", "soon", "hi"], None),
    (["ask", "-m", "fake/echo", "-f", "/nonexistent/file", "hi"], None),
    (["usage"], None),
    (["usage", "--by", "model", "--since", "0"], None),
    (["usage", "--by=label", "--json"], None),
    (["usage", "--csv", "--mode", "ask"], None),
    (["usage", "--since", "next tuesday"], None),
]

# Ids, latencies, and the report's period (its start is "30 days before now").
_IDS = re.compile(r'"(run_id|conversation_id|latency_ms|since|until)": ?("[^"]*"|[0-9.]+)')
_SECONDS = re.compile(r"[0-9]+\.[0-9] s\b")
_MILLIS = re.compile(r"\b[0-9]+ ms\b")  # the -v status line's latency


def _normal(text: str, home: Path) -> str:
    text = _IDS.sub(r'"\1": _', text).replace(str(home), "$HOME")
    return _MILLIS.sub("_ ms", _SECONDS.sub("_ s", text))


@pytest.fixture
def typer_cli(env: dict[str, str], tmp_path: Path) -> Cli:
    """``superllm`` with the fast path off (named so, since errors print the program)."""
    script = tmp_path / "typer-only" / "superllm"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\nfrom superllm_cli.entry import main\n\nmain(fast=False)\n"
    )
    script.chmod(0o755)

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args],
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def _same(
    fast: subprocess.CompletedProcess[str], slow: subprocess.CompletedProcess[str], home: Path
) -> None:
    assert (fast.returncode, _normal(fast.stdout, home), _normal(fast.stderr, home)) == (
        slow.returncode,
        _normal(slow.stdout, home),
        _normal(slow.stderr, home),
    )


def test_the_corpus_reads_the_same_through_both_parsers(
    cli: Cli, typer_cli: Cli, home: Path
) -> None:
    assert SUPERLLM
    cli("daemon", "start")
    codes = set()
    for argv, stdin in CORPUS:
        # No ask answered from the cache, whichever parser runs it second.
        args = argv if argv[0] == "usage" else [*argv, "--no-cache"]
        assert _fast.parse(args) is not None, f"{args} is not on the fast path"
        fast = cli(*args, input=stdin)
        slow = typer_cli(*args, input=stdin)
        _same(fast, slow, home)
        codes.add(fast.returncode)
    assert {0, 2, 4} <= codes  # answers, the CLI's own errors and the daemon's


def test_autostart_and_no_autostart_read_the_same(cli: Cli, typer_cli: Cli, home: Path) -> None:
    args = ["ask", "-m", "fake/echo", "--no-cache", "hi"]
    refused = cli("--color", "never", *args, "--no-autostart")
    assert refused.returncode == 3
    _same(refused, typer_cli("--color", "never", *args, "--no-autostart"), home)
    started = cli(*args)  # no daemon yet: this one starts it
    assert started.returncode == 0 and started.stdout == "echo: hi\n"
    assert cli("daemon", "stop").returncode == 0
    _same(started, typer_cli(*args), home)
