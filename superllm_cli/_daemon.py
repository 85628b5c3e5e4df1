"""The one policy for reaching a daemon, shared by the CLI, the TUI and the SDK.

Every client sends a request, and when the attempt fails asks :meth:`Policy.recover` what
to do; the answer is the same whatever the transport (the CLI's stdlib socket, or httpx for
the TUI and ``AsyncClient``):

- nothing listens on the socket: take the spawn lock, check again, start ``superllmd``
  detached and wait for ``/v1/health`` (twenty racing clients start one daemon), unless
  autostart is off;
- the connection drops before an answer (the daemon is restarting): wait for it, once;
- the daemon runs another version: stop it and start ours, once;
- the daemon's list of provider variables changed: store the new one (``_env``), resend.

Anything else is raised as the ``superllmd.errors`` tree. The lifecycle is blocking (it is
rare); async clients run :meth:`Policy.recover` in a thread. Stdlib only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from superllm_cli._env import EnvNames
from superllm_cli._wire import WireError, request
from superllmd import __version__
from superllmd.errors import (
    ConfigError,
    DaemonError,
    EnvNamesChanged,
    SuperllmError,
    UsageError,
    VersionMismatch,
    from_dict,
)
from superllmd.launch import EXIT_CONFIG, log_tail, spawn, wait_listening
from superllmd.paths import Paths, daemon_paths, ensure_private_dir
from superllmd.privacy import open_private, prepare

__all__ = [
    "ATTEMPTS",
    "LocalDaemon",
    "Policy",
    "RemoteGateway",
    "error_of",
    "lock_holder",
    "resendable",
]

ATTEMPTS = 3
START_TIMEOUT = 60.0
# The connection went away before an answer: the daemon is restarting (or died).
_DROPPED = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, WireError)
_NOT_LISTENING = (FileNotFoundError, ConnectionRefusedError, NotADirectoryError)
# Requests that may be sent again after a connection cut once they were sent: a POST may
# already have called a provider (and been billed) when its daemon died.
_RESENDABLE = frozenset({"GET", "HEAD", "PUT", "DELETE"})


def resendable(method: str) -> bool:
    """Whether a request cut after it was sent may be sent again to a new daemon."""
    return method in _RESENDABLE


class Policy(Protocol):
    """What a client does after a failed attempt."""

    def recover(self, error: BaseException, attempt: int, *, resend: bool = True) -> None:
        """Make the next attempt worth sending (start, restart, refresh), or raise.
        ``resend`` is False for a request that must not be sent twice (see resendable)."""
        ...


def error_of(status: int, body: bytes) -> SuperllmError:
    """The error an answer of ``status`` >= 400 carries in its ``{"error": {...}}`` body."""
    import json

    try:
        return from_dict(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        if status in (404, 405):  # a gateway's door serves part of the API (see RemoteGateway)
            return UsageError(
                f"no such route here (HTTP {status}): a gateway over TCP serves runs, models, "
                "providers and embeddings; history, usage, budgets and config are on the "
                "daemon's own socket"
            )
        return DaemonError(f"the daemon answered {status} without an error body")


class RemoteGateway:
    """A gateway over TCP: nothing to start; errors say which address failed."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def recover(self, error: BaseException, attempt: int, *, resend: bool = True) -> None:
        if isinstance(error, SuperllmError):
            raise error
        raise DaemonError(f"cannot reach the gateway at {self.base_url}: {error}") from None


class LocalDaemon:
    """The user's daemon on its Unix socket: health, start, stop, restart, and the policy."""

    def __init__(
        self, paths: Paths, environ: Mapping[str, str], *, autostart: bool, names: EnvNames
    ) -> None:
        self.paths = paths
        self.environ = environ
        self.autostart = autostart
        self.names = names
        self._told = False  # about a daemon with other paths (see compare_paths)

    # -- the policy ------------------------------------------------------------------------

    def recover(self, error: BaseException, attempt: int, *, resend: bool = True) -> None:
        last = attempt >= ATTEMPTS - 1
        if isinstance(error, EnvNamesChanged) and not last:
            self.names.update(error.names, error.tag)
            return
        if isinstance(error, VersionMismatch) and self.autostart and attempt == 0:
            self.restart()
            return
        if isinstance(error, SuperllmError):
            raise error
        if isinstance(error, PermissionError):
            prepare(self.paths)  # names the folder that cannot be written, if one is
            raise DaemonError(
                f"cannot connect to {self.paths.socket} (permission denied); "
                "set SUPERLLM_HOME to a folder of your own"
            ) from None
        if isinstance(error, _NOT_LISTENING):
            if isinstance(error, NotADirectoryError):
                prepare(self.paths)  # names the file that stands where a folder should be
            if not self.autostart:
                raise DaemonError(
                    f"the daemon is not running (no answer on {self.paths.socket}); start "
                    "it with `superllm daemon start`, or drop --no-autostart"
                ) from None
            if not last:
                self.start()
                return
            raise DaemonError("the daemon did not come up; see `superllm daemon logs`")
        if isinstance(error, _DROPPED) and not resend:
            raise DaemonError(
                "the daemon stopped before it answered; the request may have reached the "
                "provider, so it was not sent again: `superllm log` shows what was recorded, "
                "`superllm daemon logs` why it stopped; run the command again"
            ) from None
        if isinstance(error, _DROPPED) and self.autostart and attempt == 0:
            self.start()  # under the spawn lock: waits for a restarting daemon, or starts one
            return
        if isinstance(error, OSError):
            raise DaemonError(f"lost the connection to the daemon: {error}") from None
        raise error

    # -- the lifecycle ---------------------------------------------------------------------

    def health(self, timeout: float = 5.0) -> dict[str, Any]:
        try:
            response = request(
                str(self.paths.socket),
                "GET",
                "/v1/health",
                timeout=timeout,
                connect_timeout=timeout,
            )
            result: dict[str, Any] = response.json()
        except (OSError, ValueError) as exc:
            pid = lock_holder(self.paths)
            if pid is not None:
                raise DaemonError(
                    f"the daemon (pid {pid}) runs but does not answer on {self.paths.socket} "
                    "(was the socket file removed or replaced?); run `superllm daemon restart`"
                ) from None
            raise DaemonError(f"the daemon is not running ({exc.__class__.__name__})") from None
        self.names.update_from(result)
        self.compare_paths(result)
        return result

    def compare_paths(self, health: Mapping[str, Any]) -> None:
        """Say once when the daemon reads other files than this client would (one started
        from a shell with other XDG_* variables, say): the daemon's stay in use."""
        theirs = health.get("paths")
        if self._told or not isinstance(theirs, dict):
            return
        mine = daemon_paths(self.paths)
        if all(theirs.get(k) == mine[k] for k in ("config", "ledger")):
            return
        self._told = True
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(
                f"superllm: the running daemon uses the ledger {theirs.get('ledger')} and the "
                f"config {theirs.get('config')} (this environment would use "
                f"{mine['ledger']} and {mine['config']}); set SUPERLLM_HOME to pin one place\n"
            )

    def compare_headers(self, headers: Mapping[str, str]) -> None:
        """``compare_paths`` from the paths every socket answer names in its headers."""
        if self._told or "x-superllm-ledger" not in headers:
            return
        from urllib.parse import unquote

        paths = {k: unquote(headers.get(f"x-superllm-{k}", "")) for k in ("config", "ledger")}
        self.compare_paths({"paths": paths})

    def start(self) -> dict[str, Any]:
        """Start a daemon unless one answers; under a lock, so racing clients start one."""
        with self._spawn_lock() as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                health = self.health()
            except DaemonError:
                if lock_holder(self.paths) is not None:
                    self.stop()  # alive but deaf (its socket replaced): it would block a new one
            else:
                if health.get("version") == __version__:
                    return health
                self.stop()
            return self._spawn_and_wait()

    def restart(self) -> dict[str, Any]:
        with self._spawn_lock() as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.stop()
            return self._spawn_and_wait()

    def _spawn_lock(self) -> IO[str]:
        """Make superllm's folders private (saying so once if some were not), open the lock."""
        notice = prepare(self.paths)
        if notice:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(f"superllm: {notice}\n")
        ensure_private_dir(self.paths.runtime_dir)
        return os.fdopen(open_private(self.paths.spawn_lock), "a")

    def stop(self, timeout: float = 30.0) -> int | None:
        """Ask the daemon to stop and wait for it to exit; None if none was running."""
        try:
            answer = request(str(self.paths.socket), "POST", "/v1/shutdown", timeout=5.0).json()
        except (OSError, ValueError):
            # No answer on the socket: the lock and its pid file still say who runs.
            pid = lock_holder(self.paths)
            if pid is None:
                return None
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            _wait_gone(self.paths, pid, timeout)
            return pid
        pid = int(answer["pid"])
        _wait_gone(self.paths, pid, timeout)
        return pid

    def _spawn_and_wait(self) -> dict[str, Any]:
        proc = spawn(self.paths, dict(self.environ))
        if wait_listening(self.paths.socket, proc, START_TIMEOUT):
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    return self.health(timeout=1.0)
                except DaemonError:
                    time.sleep(0.02)
        code = proc.poll()
        tail = "\n".join("  " + line for line in log_tail(self.paths.log_file, 10))
        if code == EXIT_CONFIG:
            last = next(
                (
                    line.split("superllmd: ", 1)[1]
                    for line in reversed(tail.splitlines())
                    if "superllmd: " in line
                ),
                "bad configuration",
            )
            raise ConfigError(last)
        raise DaemonError(
            f"the daemon failed to start (exit {code}). Last lines of "
            f"{self.paths.log_file}:\n{tail}"
        )


def lock_holder(paths: Paths) -> int | None:
    """The pid of the daemon that holds the daemon lock, or None when no process holds it."""
    try:
        lock = open(paths.daemon_lock)  # noqa: SIM115 - closed below, and flock needs the file
    except OSError:
        return None
    with lock:
        text = lock.read().strip()
        pid = int(text) if text.isdigit() else None
        if pid is None or not _alive(pid):  # the usual case: no flock, so no race with a start
            return None
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return pid
        return None


def _wait_gone(paths: Paths, pid: int, timeout: float) -> None:
    """Wait until the daemon has let go of its lock: it is then done, whoever its parent is
    (a process that is not ours lingers as a zombie that ``kill(pid, 0)`` still finds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
        try:
            with os.fdopen(open_private(paths.daemon_lock), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not _alive(pid):
                return
        except BlockingIOError:
            pass
        time.sleep(0.02)
    raise DaemonError(f"the daemon (pid {pid}) did not stop within {timeout:.0f} s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: a zombie has exited; only its parent's bookkeeping remains
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
