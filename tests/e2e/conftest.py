"""End-to-end fixtures: the real ``superllm`` command against a real daemon.

Each test gets its own SUPERLLM_HOME (so its own socket, daemon, config and log); a
session-wide fake OpenAI server is declared in its config as provider ``fake``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.openai import FakeOpenAI

BIN = Path(sys.executable).parent
SUPERLLM = str(BIN / "superllm") if (BIN / "superllm").exists() else shutil.which("superllm")

Cli = Callable[..., subprocess.CompletedProcess[str]]


def base_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SUPERLLM_") and not k.endswith("_API_KEY")
    }
    env["SUPERLLM_HOME"] = str(home)
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    env.pop("NO_COLOR", None)
    return env


def daemon_pids(home: Path) -> list[int]:
    """superllmd processes whose SUPERLLM_HOME is ``home`` (read from /proc)."""
    pids = []
    needle = f"SUPERLLM_HOME={home}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if b"superllmd" not in cmdline:
                continue
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def kill_daemons(home: Path) -> None:
    for pid in daemon_pids(home):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while daemon_pids(home) and time.monotonic() < deadline:
        time.sleep(0.05)


def write_config(home: Path, text: str) -> Path:
    path = home / "config" / "config.toml"
    # Private, as superllm makes them: a loose file would add a "made private" notice.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.fixture
def home(short_home: Path, fake_openai: FakeOpenAI) -> Iterator[Path]:
    write_config(
        short_home,
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n',
    )
    try:
        yield short_home
    finally:
        subprocess.run(
            [SUPERLLM, "daemon", "stop"], env=base_env(short_home), capture_output=True, timeout=30
        )
        kill_daemons(short_home)


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return base_env(home)


@pytest.fixture
def cli(env: dict[str, str]) -> Cli:
    assert SUPERLLM, "the superllm command is not installed (pip install -e .)"

    def run(
        *args: str,
        input: str | None = None,
        extra_env: dict[str, str] | None = None,
        timeout: float = 120,
        stdin: int | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SUPERLLM, *args],
            input=input,
            # Never inherit pytest's stdin: it may be a terminal or a pipe that stays open.
            stdin=(subprocess.DEVNULL if stdin is None else stdin) if input is None else None,
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
