"""The daemon's lock and pid file are the source of truth, not its socket file."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from superllm_cli.client import Client, lock_holder
from superllmd.paths import get_paths
from tests.e2e.conftest import Cli, daemon_pids

# Holds the daemon lock like superllmd does (pid written in it), and has no socket at all.
_DEAF_DAEMON = """
import fcntl, os, sys, time
lock = open(sys.argv[1], "a+")
fcntl.flock(lock, fcntl.LOCK_EX)
lock.seek(0); lock.truncate(); lock.write(f"{os.getpid()}\\n"); lock.flush()
print("ready", flush=True)
time.sleep(120)
"""


def _gone(pid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return True
        time.sleep(0.05)
    return False


def test_stop_and_status_find_a_daemon_by_its_lock(short_home: Path, cli: Cli) -> None:
    paths = get_paths({"SUPERLLM_HOME": str(short_home)})
    paths.runtime_dir.mkdir(mode=0o700, parents=True)
    deaf = subprocess.Popen(
        [sys.executable, "-c", _DEAF_DAEMON, str(paths.daemon_lock)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert deaf.stdout is not None and deaf.stdout.readline() == "ready\n"
        assert lock_holder(paths) == deaf.pid
        status = cli("daemon", "status")
        assert status.returncode == 3
        assert f"pid {deaf.pid}" in status.stderr and "superllm daemon restart" in status.stderr
        stopped = cli("daemon", "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout == f"superllmd stopped (pid {deaf.pid})\n"
        assert deaf.wait(20) != 0  # it got SIGTERM
        assert lock_holder(paths) is None
    finally:
        deaf.kill()


def test_a_replaced_socket_makes_the_daemon_exit_and_the_next_client_starts_one(
    home: Path, env: dict[str, str], cli: Cli
) -> None:
    assert cli("ask", "-m", "fake/echo", "one").returncode == 0
    [pid] = daemon_pids(home)
    socket_path = home / "run" / "superllmd.sock"
    socket_path.unlink()
    socket_path.write_text("not a socket")  # someone else's file now
    assert _gone(pid), "the daemon whose socket was replaced kept running"
    assert socket_path.read_text() == "not a socket"  # it did not remove what is not its own
    socket_path.unlink()
    again = cli("ask", "-m", "fake/echo", "two")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "echo: two\n"
    assert Client(environ=env).health()["pid"] != pid
