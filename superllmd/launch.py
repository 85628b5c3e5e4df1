"""Starting a detached daemon. Stdlib only: the CLI's autostart uses it too."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from superllmd.paths import Paths
from superllmd.privacy import open_private

__all__ = ["EXIT_ALREADY_RUNNING", "EXIT_CONFIG", "is_listening", "log_tail", "spawn"]

# superllmd's exit codes when it refuses to start.
EXIT_CONFIG = 2
EXIT_ALREADY_RUNNING = 3


def spawn(paths: Paths, environ: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``superllmd --foreground`` in its own session, its output going to the log."""
    paths.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with os.fdopen(
        open_private(paths.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "ab"
    ) as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "superllmd", "--foreground"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
            close_fds=True,
            env=None if environ is None else dict(environ),
            cwd="/",
        )


def is_listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


def wait_listening(path: Path, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < deadline:
        if is_listening(path):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)
    return False


def log_tail(path: Path, lines: int = 10) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(f.tell() - 16384, 0))
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]
