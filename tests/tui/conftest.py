"""TUI fixtures: the app in-process (``App.run_test``) against a real daemon and fake
providers, built on the end-to-end fixtures (tests/e2e/conftest.py).

The daemon is the real ``superllmd``, started by the app's own backend on first use, in a
short SUPERLLM_HOME; provider ``fake`` is the session's FakeOpenAI, with the models the
picker should list.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from superllm_cli.tui.backend import DaemonBackend
from tests.e2e.conftest import SUPERLLM, base_env, kill_daemons, write_config
from tests.fakes.openai import FakeOpenAI

FAKE_MODELS = (
    "oracle@1",
    "oracle@2",
    "oracle@3",
    "noisy-0-shared+corrective-1-0@1",
    "noisy-0-shared+corrective-1-0@2",
    "judge-1-0",
    "error-401",
    "flaky-0.6@1",
    "flaky-0.6@2",
    "slow",
    "blue",
    "red",
    "judge",
)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (anyio's pytest plugin; anyio comes with starlette)."""
    return "asyncio"


@pytest.fixture
def tui_home(short_home: Path, fake_openai: FakeOpenAI) -> Iterator[Path]:
    models = ", ".join(f'"{m}"' for m in FAKE_MODELS)
    write_config(
        short_home,
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n'
        f"models = [{models}]\n",
    )
    try:
        yield short_home
    finally:
        subprocess.run(
            [str(SUPERLLM), "daemon", "stop"],
            env=base_env(short_home),
            capture_output=True,
            timeout=30,
        )
        kill_daemons(short_home)


@pytest.fixture
def backend(tui_home: Path) -> DaemonBackend:
    """The TUI's real backend, acting for a user whose SUPERLLM_HOME is ``tui_home``."""
    return DaemonBackend(base_env(tui_home))
