"""Talk to the daemon: connect, autostart, request, stream events, errors -> exceptions.

A small sync layer over a Unix socket. If nothing answers, the client takes a file lock,
checks again, starts ``superllmd`` detached and waits for ``/v1/health``; so twenty clients
racing start one daemon. A daemon of another version is stopped and started again (or the
user is told, with ``autostart=False``).

Example::

    from superllm_cli.client import Client
    for event in Client().stream("POST", "/v1/ask", {"prompt": "hi"}):
        print(event["type"])
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from superllm_cli._wire import Response, WireError, request
from superllmd import __version__
from superllmd.errors import ConfigError, DaemonError, SuperllmError, VersionMismatch, from_dict
from superllmd.launch import EXIT_CONFIG, log_tail, spawn, wait_listening
from superllmd.paths import Paths, daemon_paths, ensure_private_dir, get_paths
from superllmd.privacy import open_private, prepare
from superllmd.protocol import NDJSON

__all__ = ["Client", "lock_holder"]

VERSION_HEADER = "x-superllm-version"
START_TIMEOUT = 60.0


class Client:
    def __init__(
        self,
        paths: Paths | None = None,
        *,
        autostart: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.paths = paths or get_paths(self.environ)
        self.autostart = autostart
        self._told = False  # about a daemon with other paths (see _compare_paths)

    # -- requests -----------------------------------------------------------------------

    def _send(
        self, method: str, path: str, body: Any, accept: str, timeout: float | None
    ) -> Response:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": accept, VERSION_HEADER: __version__}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return request(
            str(self.paths.socket), method, path, body=data, headers=headers, timeout=timeout
        )

    def _open(
        self, method: str, path: str, body: Any, accept: str, timeout: float | None
    ) -> Response:
        for attempt in range(2):
            try:
                response = self._send(method, path, body, accept, timeout)
            except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError) as exc:
                if isinstance(exc, NotADirectoryError):
                    prepare(self.paths)  # names the file that stands where a folder should be
                if not self.autostart:
                    raise DaemonError(
                        f"the daemon is not running (no answer on {self.paths.socket}); start "
                        "it with `superllm daemon start`, or drop --no-autostart"
                    ) from None
                self.start()
                continue
            except PermissionError:
                prepare(self.paths)  # names the folder that cannot be written, if one is
                raise DaemonError(
                    f"cannot connect to {self.paths.socket} (permission denied); "
                    "set SUPERLLM_HOME to a folder of your own"
                ) from None
            except (WireError, OSError) as exc:
                raise DaemonError(f"lost the connection to the daemon: {exc}") from None
            if not self._told and "x-superllm-ledger" in response.headers:
                from urllib.parse import unquote

                self._compare_paths(
                    {
                        "paths": {
                            k: unquote(response.headers.get(f"x-superllm-{k}", ""))
                            for k in ("config", "ledger")
                        }
                    }
                )
            if response.status >= 400:
                error = _error_of(response)
                if isinstance(error, VersionMismatch) and self.autostart and attempt == 0:
                    self.restart()
                    continue
                raise error
            return response
        raise DaemonError("the daemon did not come up; see `superllm daemon logs`")

    def call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        """One request, the JSON answer back."""
        return self._open(method, path, body, "application/json", timeout).json()

    def stream(self, method: str, path: str, body: Any) -> Iterator[dict[str, Any]]:
        """One request, its NDJSON events yielded as they arrive."""
        response = self._open(method, path, body, NDJSON, None)
        try:
            for line in response.iter_lines():
                yield json.loads(line)
        except (WireError, OSError) as exc:
            raise DaemonError(f"the daemon stopped mid-answer: {exc}") from None
        finally:
            response.close()

    def env_for_request(self) -> dict[str, str]:
        """The client's environment, which applies to this request only (see DESIGN.md)."""
        return self.environ

    # -- lifecycle ----------------------------------------------------------------------

    def health(self, timeout: float = 5.0) -> dict[str, Any]:
        try:
            response = self._send("GET", "/v1/health", None, "application/json", timeout)
        except (OSError, WireError) as exc:
            pid = lock_holder(self.paths)
            if pid is not None:
                raise DaemonError(
                    f"the daemon (pid {pid}) runs but does not answer on {self.paths.socket} "
                    "(was the socket file removed or replaced?); run `superllm daemon restart`"
                ) from None
            raise DaemonError(f"the daemon is not running ({exc.__class__.__name__})") from None
        result: dict[str, Any] = response.json()
        self._compare_paths(result)
        return result

    def _compare_paths(self, health: Mapping[str, Any]) -> None:
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

    def _spawn_lock(self) -> IO[str]:
        """Make superllm's folders private (saying so once if some were not), open the lock."""
        notice = prepare(self.paths)
        if notice:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(f"superllm: {notice}\n")
        ensure_private_dir(self.paths.runtime_dir)
        return os.fdopen(open_private(self.paths.spawn_lock), "a")

    def _spawn_and_wait(self) -> dict[str, Any]:
        proc = spawn(self.paths, self.environ)
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

    def stop(self, timeout: float = 30.0) -> int | None:
        """Ask the daemon to stop and wait for it to exit; None if none was running."""
        try:
            answer = self._send("POST", "/v1/shutdown", None, "application/json", 5.0).json()
        except (OSError, WireError):
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

    def restart(self) -> dict[str, Any]:
        with self._spawn_lock() as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.stop()
            return self._spawn_and_wait()


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


def _error_of(response: Response) -> SuperllmError:
    try:
        body = response.json()
        return from_dict(body["error"])
    except (ValueError, KeyError, TypeError):
        return DaemonError(f"the daemon answered {response.status} without an error body")
