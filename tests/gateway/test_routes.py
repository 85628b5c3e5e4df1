"""The TCP door's route table: extensions at their paths, the native API under /superllm."""

from __future__ import annotations

import pytest
from starlette.routing import Mount, Route

from superllmd.gateway import routes as table


def _paths(routes: list[object]) -> set[str]:
    found: set[str] = set()
    for route in routes:
        if isinstance(route, Mount):
            found |= {route.path + p for p in _paths(list(route.routes))}
        elif isinstance(route, Route):
            found.add(route.path)
    return found


def test_the_native_api_is_under_the_prefix_without_the_owners_routes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(table, "EXTENSIONS", ())
    paths = _paths(list(table.tcp_routes()))
    assert {"/superllm/v1/ask", "/superllm/v1/consensus", "/superllm/v1/models"} <= paths
    # What only the daemon's own user may do stays on the socket.
    for private in ("shutdown", "config", "keys/forget", "providers/plugins", "runs", "budgets"):
        assert f"/superllm/v1/{private}" not in paths
    assert not any(p.startswith("/v1/") for p in paths)


def test_extensions_that_exist_are_served_and_missing_ones_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        table, "EXTENSIONS", ("superllmd.gateway.not_written_yet", "tests.gateway.ext_sample")
    )
    assert "/v1/whoami" in _paths(list(table.tcp_routes()))


def test_an_extension_that_fails_to_import_fails_the_door(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(table, "EXTENSIONS", ("tests.gateway.ext_broken",))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency"):
        table.tcp_routes()
