"""On a terminal: rich rendering of the streamed answer. Run under a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

from tests.e2e.conftest import SUPERLLM, Cli
from tests.fakes.openai import FakeOpenAI


def _run_in_pty(argv: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        argv,
        env={**env, "TERM": "xterm-256color", "COLUMNS": "80"},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(10), b"".join(chunks).decode(errors="replace")


def test_markdown_is_rendered_on_a_terminal(env: dict[str, str], fake_openai: FakeOpenAI) -> None:
    fake_openai.reply = lambda body: "# Title\n\nSome **bold** words and `code`."
    try:
        code, screen = _run_in_pty([SUPERLLM, "ask", "-m", "fake/echo", "hi"], env)
    finally:
        from tests.fakes.openai import echo_reply

        fake_openai.reply = echo_reply
    assert code == 0, screen
    assert "\x1b[" in screen  # styled output on a terminal
    assert "bold" in screen and "**bold**" not in screen  # markdown rendered, not raw
    assert "fake/echo" in screen  # the status line (stderr is the terminal too)


def test_no_color_is_honoured(env: dict[str, str], fake_openai: FakeOpenAI) -> None:
    code, screen = _run_in_pty(
        [SUPERLLM, "--color", "never", "ask", "-m", "fake/echo", "plain please"], env
    )
    assert code == 0
    assert "echo: plain please" in screen
    assert "\x1b[1m" not in screen and "\x1b[3" not in screen  # no bold, no colours


def test_version(cli: Cli) -> None:
    from superllmd import __version__

    result = cli("--version")
    assert result.returncode == 0 and result.stdout == f"superllm {__version__}\n"


def test_superllmd_without_foreground_detaches(env: dict[str, str], cli: Cli) -> None:
    started = subprocess.run(
        [sys.executable, "-m", "superllmd"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert started.returncode == 0, started.stderr
    assert "superllmd started" in started.stdout
    assert cli("daemon", "status").returncode == 0
    again = subprocess.run(
        [sys.executable, "-m", "superllmd"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert again.returncode == 0 and "already running" in again.stdout


def test_live_panels_leave_a_line_per_participant(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    from tests.fakes.agents import Fleet, installed
    from tests.fakes.items import arithmetic_items

    item = arithmetic_items(1, seed=31)[0]
    argv = [SUPERLLM, "consensus", "-m", "fake/oracle@1", "-m", "fake/error-401", item.prompt]
    with installed(fake_openai, Fleet(seed=9)):
        code, screen = _run_in_pty(argv, env)
    assert code == 0, screen
    # The transient panels are gone, but who answered and who failed stays on the screen.
    assert "fake/oracle@1 · round 0 · done" in screen
    assert "fake/error-401 · round 0 · failed" in screen
    assert "fake/error-401 failed:" in screen  # and the failure line itself
