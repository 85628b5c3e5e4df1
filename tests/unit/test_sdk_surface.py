"""The SDK covers the daemon's native API: every route has a typed method on ``Client`` and
``AsyncClient``, or is named here with where it is served instead (a new route fails this
test until it is one or the other)."""

from __future__ import annotations

import inspect
import typing
from typing import Any

import typing_extensions

from superllm_cli import _calls, _calls_admin
from superllm_cli._calls import Call
from superllm_cli.client import AsyncClient, Client
from superllmd import protocol, protocol_admin
from superllmd.api import native_routes

#: One call of every builder, with any arguments its route needs.
CALLS: list[Call[Any]] = [
    _calls.ask("p"),
    _calls.consensus("p", ["m"]),
    _calls.debate("p", ["m"]),
    _calls.redteam("p", ["m"]),
    _calls.chain("p", {"name": "w", "steps": []}),
    _calls.mapreduce("p", ["m"]),
    _calls.embed(["t"]),
    _calls.models(),
    _calls.usage(),
    _calls.runs(),
    _calls.run_record("r1"),
    _calls.budgets(),
    _calls_admin.providers(),
    _calls_admin.check_providers(),
    _calls_admin.refresh_models(),
    _calls_admin.conversations(),
    _calls_admin.conversation("c1"),
    _calls_admin.forget_conversation("c1"),
    _calls_admin.forget_runs("r1"),
    _calls_admin.set_budget(daily_usd=1),
    _calls_admin.clear_budgets(),
    _calls_admin.config(),
    _calls_admin.set_config("k", "v"),
]

#: Routes served otherwise than by a Call, or left to the command line on purpose.
ELSEWHERE = {
    ("GET", "/v1/health"): "Client.health (no autostart: it says whether one runs)",
    ("POST", "/v1/shutdown"): "Client.stop, which also waits for the daemon to exit",
    ("POST", "/v1/providers/{provider_id}/check"): "check_providers([id])",
    ("POST", "/v1/keys/forget"): "keys live in the OS keyring: `superllm keys set|remove`",
    ("POST", "/v1/providers/plugins"): "installs code in the daemon: `superllm providers add`",
    ("DELETE", "/v1/providers/plugins/{name}"): "`superllm providers remove`",
    ("GET", "/v1/gateway/tokens"): "the gateway's administration: `superllm serve token`",
    ("POST", "/v1/gateway/tokens"): "`superllm serve token create`",
    ("DELETE", "/v1/gateway/tokens/{name}"): "`superllm serve token revoke`",
    ("GET", "/v1/gateway/users"): "`superllm serve user`",
    ("POST", "/v1/gateway/users"): "`superllm serve user add`",
    ("DELETE", "/v1/gateway/users/{name}"): "`superllm serve user remove`",
    ("GET", "/v1/gateway/teams"): "`superllm serve team`",
    ("POST", "/v1/gateway/teams"): "`superllm serve team add`",
    ("DELETE", "/v1/gateway/teams/{name}"): "`superllm serve team remove`",
}


def _routes() -> list[tuple[str, str, Any]]:
    out = []
    for route in native_routes():
        for method in sorted((route.methods or set()) - {"HEAD"}):
            out.append((method, route.path, route.path_regex))
    return out


def test_every_route_has_a_method_or_a_reason() -> None:
    uncovered = []
    for method, path, regex in _routes():
        served = any(
            call.method == method and regex.match(call.path.split("?")[0]) for call in CALLS
        )
        if not served and (method, path) not in ELSEWHERE:
            uncovered.append(f"{method} {path}")
    assert uncovered == [], "give these routes a call in _calls/_calls_admin, or a reason"
    known = {(method, path) for method, path, _ in _routes()}
    assert set(ELSEWHERE) <= known, set(ELSEWHERE) - known  # no stale reasons


def test_every_builder_is_a_method_of_both_clients() -> None:
    builders = [
        name
        for module in (_calls, _calls_admin)
        for name in module.__all__
        if inspect.isfunction(getattr(module, name)) and name != "run"  # run: stream()
    ]
    for name in builders:
        assert callable(getattr(Client, name, None)), name
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name, None)), name
    assert callable(Client.stream) and callable(AsyncClient.stream)
    for name in ("health", "start", "stop", "restart"):
        assert callable(getattr(Client, name)), name
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name)), name


def test_answers_are_typed() -> None:
    """Each builder says what its answer is: a protocol type, never a bare dict."""
    for module in (_calls, _calls_admin):
        for name in module.__all__:
            builder = getattr(module, name)
            if not inspect.isfunction(builder):
                continue
            # The answer types are imported for type checkers only (the CLI's start-up).
            names = {**vars(protocol), **vars(protocol_admin), **vars(module)}
            hints = typing.get_type_hints(builder, globalns=names)
            (answer,) = typing.get_args(hints["return"])
            assert answer is not dict and typing.get_origin(answer) is not dict, name
            if typing.get_origin(answer) is list:
                (answer,) = typing.get_args(answer)
            assert typing_extensions.is_typeddict(answer), (name, answer)


def test_the_tui_sends_the_sdks_requests() -> None:
    """One request builder: a TUI run is the SDK's call for its mode, plus the environment."""
    from superllm_cli.tui.backend import run_request

    env = {"SUPERLLM_LABEL": "x"}
    assert run_request("ask", "hi", ["a/b"], env) == (
        "/v1/ask",
        {**(_calls.ask("hi", model="a/b").body or {}), "env": env},
    )
    for mode, call in (
        ("consensus", _calls.consensus("hi", ["a/b", "c/d"])),
        ("debate", _calls.debate("hi", ["a/b", "c/d"])),
        ("redteam", _calls.redteam("hi", ["a/b", "c/d"])),
    ):
        assert run_request(mode, "hi", ["a/b", "c/d"], env) == (
            call.path,
            {**(call.body or {}), "env": env},
        )
    assert run_request("redteam", "hi", [], env)[1]["mode_options"] == {"submode": "critique"}


def test_a_route_a_gateway_does_not_serve_is_a_usage_error() -> None:
    """A gateway's door answers Starlette's plain 404 for the routes it leaves to the socket."""
    from superllm_cli._daemon import error_of
    from superllmd.errors import DaemonError, UsageError

    missing = error_of(404, b"Not Found")
    assert isinstance(missing, UsageError) and missing.exit_code == 2
    assert "daemon's own socket" in missing.message
    assert isinstance(error_of(500, b"oops"), DaemonError)
