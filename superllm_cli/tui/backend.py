"""Where the TUI gets its data: the daemon, through the SDK's :class:`AsyncClient`.

The TUI must not block, and it must be able to stop a run at once: ``AsyncClient`` speaks
httpx over the Unix socket, and cancelling the task that reads a stream (or closing it)
drops its connection, which the daemon takes as the end of the run. Autostart, the version
check and the environment rule are the client's (``superllm_cli._daemon``, ``_env``), the
same as the CLI's.

:class:`Backend` is what the app needs; :class:`DaemonBackend` is the real one. Tests and
snapshots may hand the app any other object with the same methods (explicit dependency,
not a test switch).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any, Protocol, cast

from superllm_cli import _calls, _env
from superllm_cli._calls import ROUTES
from superllm_cli.client import AsyncClient
from superllmd.paths import Paths
from superllmd.protocol import Mode

__all__ = ["Backend", "DaemonBackend", "query", "route_of", "run_request", "usable"]


def route_of(mode: str) -> str:
    """The daemon route for a TUI mode: ``redteam`` is served at ``/v1/adversarial``."""
    return ROUTES[mode]


class Backend(Protocol):
    """What the TUI asks of the daemon."""

    def request_env(self) -> dict[str, str]:
        """The environment forwarded with each run (it applies to that request only)."""
        ...

    async def get(self, path: str) -> Any:
        """``GET path``: the JSON answer."""
        ...

    async def post(self, path: str, body: Any) -> Any:
        """``POST path`` with a JSON body: the JSON answer."""
        ...

    def stream(self, path: str, body: Any) -> AsyncGenerator[dict[str, Any], None]:
        """``POST path``: its NDJSON events as they arrive. Closing the iterator (or
        cancelling the task reading it) drops the connection, which cancels the run."""
        ...


class DaemonBackend:
    """The daemon over its Unix socket; starts it (in a thread) when nothing answers.

    ``environ`` is the environment the TUI acts for (``os.environ`` by default): it picks
    the daemon (``SUPERLLM_HOME``), and what of it each run carries is the client's rule.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        paths: Paths | None = None,
        autostart: bool = True,
    ) -> None:
        self.client = AsyncClient(paths, autostart=autostart, environ=environ)
        self.environ = self.client.environ
        self.paths = self.client.paths

    def request_env(self) -> dict[str, str]:
        return self.client.env_for_request()

    async def get(self, path: str) -> Any:
        return await self.client.call("GET", path)

    async def post(self, path: str, body: Any) -> Any:
        return await self.client.call("POST", path, body)

    def stream(self, path: str, body: Any) -> AsyncGenerator[dict[str, Any], None]:
        return self.client.events("POST", path, body)


def query(path: str, environ: Mapping[str, str]) -> str:
    """``path`` with what of ``environ`` (a backend's ``request_env()``) a GET carries: its
    ``SUPERLLM_*`` settings, and the names (never the values) of its provider variables."""
    return _env.query(path, environ, None, present=True)


def run_request(
    mode: str, prompt: str, models: list[str], env: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """The route and body for a prompt in a TUI mode: the SDK's call for it, as the CLI's
    commands send it, with ``env`` (the backend's ``request_env()``)."""
    single = mode == "ask"
    call = _calls.run(
        cast(Mode, mode),
        prompt,
        model=models[0] if single and models else None,
        models=None if single else list(models),
    )
    return call.path, {**(call.body or {}), "env": env}


def usable(provider: dict[str, Any]) -> bool:
    """Whether a ``/v1/providers`` row can be called now: configured, and with a key, or
    declared with models in config.toml, or the embedded local model. A keyless preset for a
    local server (LM Studio, vLLM...) counts as configured but says nothing of whether that
    server runs, so it is left out until the user asks for every provider."""
    return bool(
        provider.get("configured")
        and (
            provider.get("key_source")
            or provider.get("kind") == "local"
            or (provider.get("kind") != "openai-preset" and provider.get("models"))
        )
    )
