"""The one policy for reaching the daemon (superllm_cli/_daemon.py) holds on the async
transport too, which the TUI and ``AsyncClient`` use: a killed daemon is started again, a
daemon of another version is replaced, and racing clients start one daemon."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from superllm_cli.client import AsyncClient, Client
from superllmd import __version__
from superllmd.errors import DaemonError
from tests.e2e.conftest import base_env, daemon_pids, kill_daemons

OLD = (
    "import superllmd\n"
    "superllmd.__version__ = '0.0.1-old'\n"
    "from superllmd.server import main\n"
    "main(['--foreground'])\n"
)


def _wait(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _version(env: dict[str, str]) -> str | None:
    try:
        return Client(environ=env, autostart=False).health()["version"]
    except DaemonError:
        return None


async def _ask(env: dict[str, str], prompt: str) -> str:
    async with AsyncClient(environ=env) as sdk:
        return (await sdk.ask(prompt, model="fake/echo"))["answer"] or ""


def test_a_killed_daemon_is_started_again(home: Path) -> None:
    env = base_env(home)
    assert asyncio.run(_ask(env, "one")) == "echo: one"
    kill_daemons(home)  # SIGKILL: the socket file and the lock are left behind
    assert asyncio.run(_ask(env, "two")) == "echo: two"
    assert len(daemon_pids(home)) == 1


def test_racing_async_clients_start_one_daemon(home: Path) -> None:
    env = base_env(home)

    async def race() -> list[str]:
        return list(await asyncio.gather(*(_ask(env, f"n{i}") for i in range(6))))

    assert sorted(asyncio.run(race())) == [f"echo: n{i}" for i in range(6)]
    assert len(daemon_pids(home)) == 1


def test_a_daemon_of_another_version_is_replaced(home: Path) -> None:
    env = base_env(home)
    old = subprocess.Popen(
        [sys.executable, "-c", OLD],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert _wait(lambda: _version(env) == "0.0.1-old")

        async def main() -> tuple[str, str]:
            async with AsyncClient(environ=env) as sdk:
                answer = (await sdk.ask("hi", model="fake/echo"))["answer"] or ""
                return answer, (await sdk.health())["version"]

        assert asyncio.run(main()) == ("echo: hi", __version__)
        old.wait(30)  # stopped by the client
    finally:
        old.kill()
