"""The daemon's lifecycle, in explicit phases.

1. ``acquire``: take the daemon lock (one daemon per runtime folder), record our pid.
2. ``check``: load the configuration; a bad file stops us here, before anything listens.
3. ``bind``: remove a stale socket (we hold the lock, so it is stale), bind a fresh one 0600
   inside a 0700 folder; or, under socket activation (LISTEN_FDS/LISTEN_PID), take the
   listening socket the service manager passed as descriptor 3 and leave its file alone.
4. ``serve``: uvicorn on that socket; connections from another uid are refused (SO_PEERCRED).
5. ``drain``: on SIGTERM, SIGINT, ``POST /v1/shutdown`` or the idle timeout, stop accepting,
   let in-flight requests finish within ``daemon.grace_period``, then cancel them.
6. ``release``: close provider pools, unlink the socket, drop the lock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import fcntl
import gc
import logging
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, MutableMapping
from contextlib import contextmanager, nullcontext
from typing import IO, Any

from superllmd import __version__
from superllmd.doors import guard
from superllmd.errors import ConfigError, SuperllmError
from superllmd.launch import (
    EXIT_ALREADY_RUNNING,
    EXIT_CONFIG,
    is_listening,
    spawn,
    wait_listening,
)
from superllmd.paths import Paths, ensure_private_dir, get_paths
from superllmd.privacy import PRIVATE_UMASK, prepare

__all__ = [
    "EXIT_ALREADY_RUNNING",
    "EXIT_CONFIG",
    "Daemon",
    "activated_socket",
    "main",
    "peer_uid",
]

log = logging.getLogger("superllmd")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_SD_LISTEN_FDS_START = 3  # systemd passes activated sockets from this descriptor on


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (Linux SO_PEERCRED)."""
    if sock.family != socket.AF_UNIX or not hasattr(socket, "SO_PEERCRED"):
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def activated_socket(environ: MutableMapping[str, str]) -> socket.socket | None:
    """The listening socket a service manager passed us (sd_listen_fds(3)), or None.

    Honoured only when LISTEN_PID is our pid, so a child we start never takes it; the
    variables are removed so they are not inherited either.
    """
    if environ.get("LISTEN_PID") != str(os.getpid()):
        return None
    count = environ.get("LISTEN_FDS", "0")
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        environ.pop(name, None)
    if not count.isdigit() or int(count) < 1:
        return None
    sock = socket.socket(fileno=_SD_LISTEN_FDS_START)
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise ConfigError("LISTEN_FDS passed a socket that is not a Unix stream socket")
    os.set_inheritable(sock.fileno(), False)
    sock.setblocking(False)
    return sock


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (a runtime dependency; 1.3-2x the gateway's
    requests per second, bench/gateway.py), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    # What startup made (modules, classes, settings, the apps) lives as long as the daemon:
    # out of the collector's sight, a full collection scans only what requests made. It
    # scanned all of it, a 100-200 ms stop of the event loop every ~1,500 gateway requests.
    gc.collect()
    gc.freeze()
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(main)


def _peer_checked(base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, refusing Unix-socket peers of another uid."""

    class PeerChecked(base):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                uid = peer_uid(sock)
                if uid is not None and uid != os.getuid():
                    log.warning("refused a connection from uid %s", uid)
                    self.transport = transport  # what connection_lost closes
                    transport.close()
                    return
            super().connection_made(transport)

    return PeerChecked


class Daemon:
    def __init__(self, paths: Paths, *, install_signal_handlers: bool = True) -> None:
        self.paths = paths
        self.install_signal_handlers = install_signal_handlers
        self._lock: IO[str] | None = None
        self._state: Any = None  # DaemonState, once serving
        self._socket_id: tuple[int, int] | None = None  # (device, inode) of the socket we bound
        self._activated = False  # the socket came from a service manager (LISTEN_FDS)
        self.listen: Any = None  # gateway.listen.Listen, when the TCP door is open
        self.door_settings: Any = None  # config.DaemonSettings, from phase 2

    # phase 1
    def acquire(self) -> bool:
        ensure_private_dir(self.paths.runtime_dir)
        lock = open(self.paths.daemon_lock, "a+")  # noqa: SIM115 - held for the daemon's life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            return False
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        self._lock = lock
        return True

    # phase 2
    def check(self) -> None:
        from superllmd.config import load_settings

        settings = load_settings(self.paths.config_file, os.environ)
        from superllmd.config import parse_duration

        self.idle_timeout = parse_duration(settings.daemon.idle_timeout)
        self.grace_period = settings.daemon.grace_period
        self.door_settings = settings.daemon  # header/body timeouts, connections per door
        from superllmd.gateway.listen import parse_listen

        self.listen = parse_listen(settings.daemon)

    # phase 3
    def bind(self) -> socket.socket:
        activated = activated_socket(os.environ)
        if activated is not None:
            # The service manager owns the socket file: serve its socket, never unlink it.
            self._activated = True
            log.info("serving the socket passed by the service manager (LISTEN_FDS)")
            return activated
        path = self.paths.socket
        if path.exists() or path.is_symlink():
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        self._socket_id = _file_id(path)
        sock.listen(1024)
        sock.setblocking(False)
        return sock

    # phases 4 and 5
    def serve(self, sock: socket.socket) -> None:
        import uvicorn

        from superllmd.api import create_app
        from superllmd.state import DaemonState

        # Opens the ledger (migrating it) before serving; release closes it.
        state = self._state = DaemonState.create(self.paths)
        config = uvicorn.Config(
            create_app(state),
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=max(int(self.grace_period), 1),
            timeout_keep_alive=30,
        )
        config.load()
        config.http_protocol_class = _peer_checked(config.http_protocol_class)
        guard(config, self.door_settings, "socket")  # timeouts, connections (doors.py)
        server = uvicorn.Server(config)
        # uvicorn re-raises a caught SIGTERM once it has drained, which would kill us before
        # phase 6; our handlers only ask it to drain, and we exit normally afterwards.
        if self.install_signal_handlers:
            server.capture_signals = lambda: _drain_on_signals(server)  # type: ignore[method-assign]
        else:
            server.capture_signals = nullcontext  # type: ignore[method-assign,assignment]

        def request_shutdown() -> None:
            log.info("shutdown requested")
            server.should_exit = True

        state.request_shutdown = request_shutdown

        door = None
        if self.listen is not None:  # the gateway's TCP door, beside the socket
            from superllmd.gateway.listen import bind_tcp, tcp_server

            door = tcp_server(state, self.listen, self.grace_period, self.door_settings)
            door_sock = bind_tcp(self.listen)
            done = asyncio.Event()

            async def doors_closed() -> None:  # the socket's lifespan closes the state
                await done.wait()

            state.wait_other_doors = doors_closed

        async def run() -> None:
            watchers = [
                asyncio.create_task(self._idle_watch(state, server)),
                asyncio.create_task(self._socket_watch(server)),
            ]
            try:
                if door is None:
                    await server.serve(sockets=[sock])
                    return
                both = asyncio.create_task(_drain_together(server, door))

                async def serve_door() -> None:
                    try:
                        await door.serve(sockets=[door_sock])
                    finally:
                        done.set()

                await asyncio.gather(server.serve(sockets=[sock]), serve_door())
                both.cancel()
            finally:
                for watcher in watchers:
                    watcher.cancel()

        log.info(
            "superllmd %s listening on %s (pid %s)", __version__, self.paths.socket, os.getpid()
        )
        if self.listen is not None:
            port = door_sock.getsockname()[1]
            url = dataclasses.replace(self.listen, port=port).url
            log.info("gateway listening on %s", url)
            print(f"superllmd: gateway listening on {url}", file=sys.stderr, flush=True)
        _run_loop(run())

    async def _idle_watch(self, state: Any, server: Any) -> None:
        if self.idle_timeout <= 0:
            return
        while not server.should_exit:
            await asyncio.sleep(min(self.idle_timeout / 4, 5.0))
            idle = time.monotonic() - state.last_activity
            if state.inflight == 0 and idle >= self.idle_timeout:
                log.info("idle for %.0f s; exiting", idle)
                server.should_exit = True

    async def _socket_watch(self, server: Any, every: float = 2.0) -> None:
        """Exit when our socket file is removed or replaced: no client could reach us, and a
        daemon nobody can reach must not hold the lock (clients find us by it, and stop us)."""
        while not server.should_exit and self._socket_id is not None:
            await asyncio.sleep(every)
            if _file_id(self.paths.socket) != self._socket_id:
                log.warning("%s was removed or replaced; exiting", self.paths.socket)
                server.should_exit = True

    # phase 6
    def release(self) -> None:
        if self._state is not None and self._state.ledger is not None:
            self._state.ledger.close()  # idempotent: the lifespan usually closed it already
        # Only our own socket: one that replaced it belongs to someone else.
        if not self._activated and _file_id(self.paths.socket) == self._socket_id:
            with contextlib.suppress(FileNotFoundError):
                self.paths.socket.unlink()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def run(self) -> int:
        if not self.acquire():
            print(f"superllmd: another daemon already serves {self.paths.socket}", file=sys.stderr)
            return EXIT_ALREADY_RUNNING
        try:
            try:
                self.check()
            except ConfigError as exc:
                log.error("%s", exc.message)
                print(f"superllmd: {exc.message}", file=sys.stderr)
                return EXIT_CONFIG
            try:
                self.serve(self.bind())
            except SuperllmError as exc:  # the ledger cannot be opened, say
                log.error("%s", exc.message)
                print(f"superllmd: {exc.message}", file=sys.stderr)
                return exc.exit_code
            log.info("stopped")
            return 0
        finally:
            self.release()


async def _drain_together(*servers: Any) -> None:
    """When one door is told to stop (signal, shutdown, idle), stop the other too."""
    while not any(s.should_exit for s in servers):
        await asyncio.sleep(0.05)
    for s in servers:
        s.should_exit = True


def _file_id(path: Any) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


@contextmanager
def _drain_on_signals(server: Any) -> Iterator[None]:
    handlers = {sig: signal.signal(sig, server.handle_exit) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _setup_logging(paths: Paths, foreground: bool) -> None:
    handlers: list[logging.Handler] = [logging.FileHandler(paths.log_file, encoding="utf-8")]
    if foreground and sys.stderr.isatty():
        handlers.append(logging.StreamHandler())
    from superllmd.logfilter import RepeatFilter

    repeats = RepeatFilter()
    for handler in handlers:
        handler.addFilter(repeats)
    logging.basicConfig(
        level=os.environ.get("SUPERLLM_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="superllmd", description="The superllm daemon.")
    parser.add_argument(
        "--foreground",
        action="store_true",
        help="run here instead of detaching (for debugging and service managers)",
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="also open the gateway's TCP door here (as [daemon] listen)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="let --listen use an address other machines can reach (as daemon.allow_remote)",
    )
    parser.add_argument("--version", action="version", version=f"superllmd {__version__}")
    args = parser.parse_args(argv)
    if args.listen:  # flags win over config, as every SUPERLLM_* variable does
        os.environ["SUPERLLM_DAEMON__LISTEN"] = args.listen
    if args.allow_remote:
        os.environ["SUPERLLM_DAEMON__ALLOW_REMOTE"] = "true"
    # Everything the daemon creates (ledger and its -wal/-shm, log, caches, config) is 0600.
    os.umask(PRIVATE_UMASK)
    try:
        paths = get_paths()
        notice = prepare(paths)
    except SuperllmError as exc:
        print(f"superllmd: {exc.message}", file=sys.stderr)
        sys.exit(exc.exit_code)
    if not args.foreground:
        if is_listening(paths.socket):
            print(f"superllmd is already running on {paths.socket}")
            sys.exit(0)
        proc = spawn(paths)
        if wait_listening(paths.socket, proc, timeout=30):
            print(f"superllmd started (pid {proc.pid})")
            sys.exit(0)
        print(f"superllmd did not start; see {paths.log_file}", file=sys.stderr)
        sys.exit(proc.poll() or 3)
    _setup_logging(paths, foreground=True)
    if notice:
        log.warning("%s", notice)
    sys.exit(Daemon(paths).run())
