"""The TCP door: ``[daemon] listen = "127.0.0.1:8765"`` (or ``superllm serve``).

A second uvicorn server in the daemon's event loop, on the same DaemonState as the socket's,
serving superllmd/gateway/routes.py behind the token check. Loopback unless
``daemon.allow_remote = true`` (then a warning); HTTPS when ``tls_cert`` and ``tls_key`` are
set. It drains with the socket's server: in-flight streams get the grace period.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from superllmd.config import DaemonSettings
from superllmd.errors import ConfigError

__all__ = ["Listen", "bind_tcp", "parse_listen", "tcp_server"]

log = logging.getLogger("superllmd")


@dataclass(frozen=True)
class Listen:
    host: str
    port: int
    tls_cert: str | None = None
    tls_key: str | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls_cert else 'http'}://{host}:{self.port}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_listen(settings: DaemonSettings) -> Listen | None:
    """The TCP door to open, or None; ConfigError naming the key when it is wrong."""
    text = settings.listen
    if not text:
        return None
    host, sep, port_text = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(
            f'daemon.listen = {text!r}: write HOST:PORT, for example "127.0.0.1:8765"'
        )
    if not _loopback(host) and not settings.allow_remote:
        raise ConfigError(
            f"daemon.listen = {text!r} is not a loopback address, so other machines could "
            "reach the gateway; set daemon.allow_remote = true (or `superllm serve "
            "--allow-remote`) if that is what you want"
        )
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ConfigError("daemon.tls_cert and daemon.tls_key go together: set both or neither")
    return Listen(host, int(port_text), settings.tls_cert, settings.tls_key)


def bind_tcp(listen: Listen) -> socket.socket:
    """Bind and listen; the address actually bound (port 0 picks one) is in the result."""
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off only on sockets that say they are TCP, and
    # with Nagle on, a response's headers and body (two writes) wait out the client's
    # delayed ACK, 40 ms a request. TCP_NODELAY on the listener is inherited by each accept.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((listen.host, listen.port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"daemon.listen: cannot listen on {listen.host}:{listen.port} ({exc.strerror}); "
            "choose another port"
        ) from None
    sock.listen(1024)
    sock.setblocking(False)
    if not _loopback(listen.host):
        message = (
            f"the gateway listens on {listen.host}:{sock.getsockname()[1]}, beyond this "
            "machine; only callers with a token get in"
        )
        log.warning(message)
        print(f"superllmd: warning: {message}", file=sys.stderr)
    return sock


def tcp_server(state: Any, listen: Listen, grace_period: float, doors: Any = None) -> Any:
    """The uvicorn server of the TCP door (serve it with ``sockets=[bind_tcp(...)]``), with
    the door limits of ``doors`` (a ``config.DaemonSettings``; its defaults if None)."""
    import uvicorn

    from superllmd.doors import guard
    from superllmd.gateway.routes import create_tcp_app

    config = uvicorn.Config(
        create_tcp_app(state),
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(int(grace_period), 1),
        timeout_keep_alive=30,
        # Nothing reads a caller's address, so X-Forwarded-For from a loopback peer (uvicorn
        # trusts those by default) would only rewrite what no one looks at; and its
        # middleware parsed the peer's IP address on every request.
        proxy_headers=False,
        ssl_certfile=listen.tls_cert,
        ssl_keyfile=listen.tls_key,
    )
    try:
        config.load()
    except (OSError, ValueError) as exc:  # an unreadable certificate or key
        raise ConfigError(f"daemon.tls_cert / daemon.tls_key: {exc}") from None
    guard(config, doors, "TCP door")  # timeouts, connections (superllmd/doors.py)
    server = uvicorn.Server(config)
    server.capture_signals = nullcontext  # type: ignore[method-assign,assignment]
    return server
