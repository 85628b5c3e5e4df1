"""HTTP/1.1 over a Unix socket, with the stdlib only.

The CLI must start fast, and httpx alone costs about 100 ms to import; one request per
connection over a local socket needs none of its machinery. Responses may be sized
(``Content-Length``) or chunked (how uvicorn streams NDJSON); ``iter_lines`` yields each
line as soon as its bytes arrive.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

__all__ = ["Response", "WireError", "request"]


class WireError(OSError):
    """The daemon closed the connection or spoke something that is not HTTP/1.1."""


class Response:
    def __init__(self, sock: socket.socket, status: int, headers: dict[str, str], rest: bytes):
        self._sock = sock
        self.status = status
        self.headers = headers
        self._buffer = rest
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._remaining = int(length) if length is not None and not self._chunked else None
        self._chunk_left = 0
        self._done = False

    def _recv(self) -> bytes:
        data = self._sock.recv(65536)
        if not data:
            raise WireError("the daemon closed the connection mid-response")
        return data

    def _need(self, n: int) -> None:
        while len(self._buffer) < n:
            self._buffer += self._recv()

    def _line(self) -> bytes:
        while (i := self._buffer.find(b"\r\n")) < 0:
            self._buffer += self._recv()
        line, self._buffer = self._buffer[:i], self._buffer[i + 2 :]
        return line

    def iter_raw(self) -> Iterator[bytes]:
        """Body bytes as they arrive."""
        if self._done:
            return
        if self._chunked:
            while True:
                if self._chunk_left == 0:
                    size = int(self._line().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self._line()  # the empty trailer section
                        break
                    self._chunk_left = size
                if not self._buffer:
                    self._buffer = self._recv()
                piece = self._buffer[: self._chunk_left]
                self._buffer = self._buffer[len(piece) :]
                self._chunk_left -= len(piece)
                if self._chunk_left == 0:
                    self._need(2)
                    self._buffer = self._buffer[2:]
                yield piece
        elif self._remaining is not None:
            while self._remaining > 0:
                piece = self._buffer[: self._remaining] if self._buffer else self._recv()
                self._buffer = b""
                piece = piece[: self._remaining]
                self._remaining -= len(piece)
                yield piece
        else:  # read to close
            if self._buffer:
                yield self._buffer
            while data := self._sock.recv(65536):
                yield data
        self._done = True
        self.close()

    def iter_lines(self) -> Iterator[bytes]:
        pending = b""
        for piece in self.iter_raw():
            pending += piece
            *lines, pending = pending.split(b"\n")
            yield from (line for line in lines if line.strip())
        if pending.strip():
            yield pending

    def read(self) -> bytes:
        return b"".join(self.iter_raw())

    def json(self) -> Any:
        return json.loads(self.read() or b"null")

    def close(self) -> None:
        self._sock.close()


def request(
    socket_path: str,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
    connect_timeout: float = 5.0,
) -> Response:
    """Send one request; raises OSError (FileNotFoundError, ConnectionRefusedError...) if the
    socket does not answer, WireError if the answer is not HTTP."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(connect_timeout)
        sock.connect(socket_path)
        sock.settimeout(timeout)
        lines = [f"{method} {path} HTTP/1.1", "Host: superllmd", "Connection: close"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        sock.sendall(head + (body or b""))
        buffer = b""
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            data = sock.recv(65536)
            if not data:
                raise WireError("the daemon closed the connection without answering")
            buffer += data
        status_line, *header_lines = buffer[:end].decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise WireError(f"not an HTTP response: {status_line[:80]!r}")
        parsed: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            parsed[name.strip().lower()] = value.strip()
        return Response(sock, int(parts[1]), parsed, buffer[end + 4 :])
    except BaseException:
        sock.close()
        raise
