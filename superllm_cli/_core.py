"""What :class:`~superllm_cli.client.Client` and ``AsyncClient`` share: where the daemon
is, what a request carries (its headers and the forwarded environment), the policy for a
failed attempt, and how a run's result becomes an answer or an error. Stdlib only: the CLI
starts through it on every call."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from superllm_cli import _env
from superllm_cli._calls import Call
from superllm_cli._daemon import LocalDaemon, Policy, RemoteGateway
from superllm_cli._env import EnvNames, forwarded
from superllmd import __version__
from superllmd.errors import DaemonError, from_dict
from superllmd.paths import Paths, get_paths
from superllmd.protocol_names import ENV_NAMES_HEADER, VERSION_HEADER

if TYPE_CHECKING:
    from superllmd.protocol import RunResult

__all__ = ["Core", "Response", "result_of"]

R = TypeVar("R")
_UNKNOWN_TAG = "-"  # no list stored yet: the daemon answers with its own
_PREFIX = "/superllm"  # where a gateway serves the native API on its TCP door


class Response(Protocol):
    status: int

    @property
    def headers(self) -> Mapping[str, str]: ...

    def read(self) -> bytes: ...

    def iter_lines(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class Core:
    """What both clients share: where the daemon is, what a request carries, the policy."""

    def __init__(
        self,
        paths: Paths | None = None,
        *,
        autostart: bool = True,
        environ: Mapping[str, str] | None = None,
        base_url: str | None = None,
        token: str | None = None,
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.token = token
        self.autostart = autostart and self.base_url is None
        self._daemon: LocalDaemon | None = None
        self.policy: Policy
        if self.base_url is None:
            self.paths = paths or get_paths(self.environ)
            self.names = EnvNames(self.paths.runtime_dir)
            self._daemon = LocalDaemon(
                self.paths, self.environ, autostart=self.autostart, names=self.names
            )
            self.policy = self._daemon
        else:
            self.policy = RemoteGateway(self.base_url)

    @property
    def daemon(self) -> LocalDaemon:
        if self._daemon is None:
            raise DaemonError(f"{self.base_url} is a gateway: it is not started or stopped here")
        return self._daemon

    # -- what a request carries ------------------------------------------------------------

    def env_for_request(self) -> dict[str, str]:
        """The environment a request carries (it applies to that request only): the
        ``SUPERLLM_*`` variables and the provider variables the daemon names. None over TCP:
        a gateway uses its own keys."""
        if self.base_url is not None:
            return {}
        if not self.names.loaded:
            self.names.load()
        return forwarded(self.environ, self.names.names)

    def query(
        self, path: str, params: Mapping[str, Any] | None = None, *, present: bool = False
    ) -> str:
        """``path`` with ``params`` and what of the environment a GET carries (``_env.query``);
        over TCP, ``params`` only."""
        if self.base_url is not None:
            return _env.query(path, {}, [], params)
        known = self.names.loaded or self.names.load()
        return _env.query(
            path, self.environ, self.names.names if known else None, params, present=present
        )

    def _encode(
        self, method: str, path: str, body: Any, accept: str, attempt: int
    ) -> tuple[str, bytes | None, dict[str, str]]:
        headers = {"Accept": accept}
        if isinstance(body, dict) and "env" in body:
            if attempt:  # the list of provider variables may just have changed
                body = {**body, "env": self.env_for_request()}
            if self.base_url is None:
                headers[ENV_NAMES_HEADER] = self.names.tag or _UNKNOWN_TAG
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.base_url is None:
            headers[VERSION_HEADER] = __version__
            return path, data, headers
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return _PREFIX + path, data, headers

    def _prepare(self, call: Call[Any]) -> tuple[str, str, Any]:
        body = call.body
        if call.env == "forward" and body is not None:
            body = {**body, "env": self.env_for_request()}
        if call.env in ("settings", "present"):
            path = self.query(call.path, call.params, present=call.env == "present")
            return call.method, path, body
        return call.method, _env.query(call.path, {}, [], call.params), body

    def _answer(self, call: Call[R], answer: Any) -> R:
        return cast(R, answer[call.key] if call.key else answer)


def result_of(result: RunResult | None) -> RunResult:
    if result is None:
        raise DaemonError("the daemon ended the run without a result; see `superllm daemon logs`")
    if result.get("error"):
        raise from_dict(dict(result["error"] or {}))
    return result
