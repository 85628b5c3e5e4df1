"""``superllm tui`` and ``superllm debate --tui``: the real commands, in a real terminal (a
pseudo-terminal), against a real daemon."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import SUPERLLM, base_env
from tests.fakes.agents import Fleet, installed
from tests.fakes.items import arithmetic_items
from tests.fakes.openai import FakeOpenAI

ITEM = arithmetic_items(1, seed=31)[0]
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\x1b\][^\x07]*\x07")


@pytest.fixture
def fleet(fake_openai: FakeOpenAI) -> Iterator[Fleet]:
    with installed(fake_openai, Fleet(seed=9)) as fleet:
        yield fleet


def test_the_tui_needs_a_terminal(tui_home: Path) -> None:
    result = subprocess.run(
        [str(SUPERLLM), "tui"], env=base_env(tui_home), capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "the TUI needs a terminal" in result.stderr and "Traceback" not in result.stderr


def test_tui_flags_are_documented() -> None:
    for args in (["tui", "--help"], ["debate", "--help"], ["consensus", "--help"]):
        out = subprocess.run([str(SUPERLLM), *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0
        assert ("--mode" if args[0] == "tui" else "--tui") in out.stdout


def _screen(fd: int, until: bytes, timeout: float) -> bytes:
    """Read the terminal until ``until`` shows up (escape codes removed)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
            if until in ANSI.sub(b"", seen):
                return ANSI.sub(b"", seen)
    raise AssertionError(f"{until!r} not on screen; saw: {ANSI.sub(b'', seen)[-2000:]!r}")


def _drain(fd: int) -> None:
    if select.select([fd], [], [], 0.1)[0]:
        with contextlib.suppress(OSError):
            os.read(fd, 65536)


def test_debate_tui_plays_the_run_in_the_terminal(tui_home: Path, fleet: Fleet) -> None:
    models = ["-m", "fake/noisy-0-shared+corrective-1-0@1", "-m", "fake/oracle@3"]
    env = base_env(tui_home) | {"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [str(SUPERLLM), "debate", "--tui", *models, ITEM.prompt],
        stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    try:
        text = _screen(leader, b"finished", 60)
        assert b"fake/oracle@3" in text and b"agreement" in text
        os.write(leader, b"\x11")  # ctrl+q
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            _drain(leader)  # a full terminal buffer would block the app's last writes
        assert proc.wait(timeout=1) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)


def _tui_run(home: Path, args: list[str]) -> tuple[int, str]:
    """Run ``superllm ARGS`` (a ``--tui`` run) in a terminal, quit once it has finished;
    (exit code, what the terminal showed after the TUI closed)."""
    env = base_env(home) | {"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [str(SUPERLLM), *args], stdin=follower, stdout=follower, stderr=follower, env=env,
        close_fds=True,
    )  # fmt: skip
    os.close(follower)
    try:
        _screen(leader, b"finished", 90)
        os.write(leader, b"\x11")  # ctrl+q
        seen = b""
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.1)[0]:
                with contextlib.suppress(OSError):
                    seen += os.read(leader, 65536)
        code = proc.wait(timeout=1)
        while select.select([leader], [], [], 0.2)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        # What follows the app leaving the alternate screen is what the command printed.
        after = seen.rsplit(b"\x1b[?1049l", 1)[-1]
        return code, ANSI.sub(b"", after).decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)


@pytest.mark.parametrize("mode", ["debate", "consensus"])
def test_a_tui_run_exits_like_the_plain_command(
    tui_home: Path, fake_openai: FakeOpenAI, mode: str
) -> None:
    args = [mode, "--require-agreement", "-m", "fake/noisy-0-spread@1", "-m",
            "fake/noisy-0-spread@2", "--no-cache", ITEM.prompt]  # fmt: skip
    # A fresh fleet for each run: the same answers both times (a fleet answers a repeated
    # request anew).
    with installed(fake_openai, Fleet(seed=9)):
        plain = subprocess.run(
            [str(SUPERLLM), *args], env=base_env(tui_home), capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=120,
        )  # fmt: skip
    assert plain.returncode == 6, plain.stderr
    assert plain.stdout.strip()
    with installed(fake_openai, Fleet(seed=9)):
        code, printed = _tui_run(tui_home, [*args[:1], "--tui", *args[1:]])
    assert code == plain.returncode
    assert plain.stdout.strip() in printed
    assert "below the required" in printed  # the same error line as the plain command
