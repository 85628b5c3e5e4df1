"""The daemon checks every numeric field of the socket API itself: a client that skips the
CLI's checks gets the same one-line error naming the field (exit 2's code, ``usage``).

Bodies are posted straight to the daemon's Unix socket, not through ``superllm``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from superllmd import __version__
from superllmd.api import VERSION_HEADER
from superllmd.paths import get_paths
from tests.e2e.conftest import Cli, base_env
from tests.fakes.openai import FakeOpenAI

ASK = {"prompt": "hi", "model": "fake/echo"}
RUN = {"prompt": "hi", "models": ["fake/echo", "fake/echo"]}


@pytest.fixture
def post(cli: Cli, home: Path) -> Any:
    assert cli("daemon", "start").returncode == 0
    socket = get_paths(base_env(home)).socket
    client = httpx.Client(
        transport=httpx.HTTPTransport(uds=str(socket)),
        base_url="http://superllm",
        headers={VERSION_HEADER: __version__},
        timeout=30,
    )
    yield lambda method, path, body: client.request(method, path, json=body)
    client.close()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/ask", {**ASK, "max_cost": -1}, "max_cost"),
        ("/v1/ask", {**ASK, "max_tokens": 0}, "max_tokens"),
        ("/v1/ask", {**ASK, "temperature": 2.5}, "temperature"),
        ("/v1/ask", {**ASK, "temperature": -0.1}, "temperature"),
        ("/v1/ask", {**ASK, "cache_ttl": -5}, "cache_ttl"),
        ("/v1/consensus", {**RUN, "threshold": 1.5}, "threshold"),
        ("/v1/consensus", {**RUN, "quorum": 0}, "quorum"),
        ("/v1/debate", {**RUN, "rounds": 0}, "rounds"),
        ("/v1/consensus", {**RUN, "max_calls": 0}, "max_calls"),
        ("/v1/consensus", {**RUN, "max_run_tokens": -3}, "max_run_tokens"),
        ("/v1/consensus", {**RUN, "timeout": 0}, "timeout"),
        ("/v1/consensus", {**RUN, "max_cost": -0.01}, "max_cost"),
    ],
)
def test_out_of_bounds_numbers_are_refused_naming_the_field(
    post: Any, fake_openai: FakeOpenAI, path: str, body: dict[str, Any], field: str
) -> None:
    before = len(fake_openai.chat_requests())
    answer = post("POST", path, body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "usage"
    assert error["message"].startswith(f"invalid request: {field}: Input should be")
    assert "\n" not in error["message"]
    assert len(fake_openai.chat_requests()) == before  # nothing was sent


def test_a_negative_budget_is_refused_by_the_daemon(post: Any) -> None:
    answer = post("PUT", "/v1/budgets", {"daily_usd": -1})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"].startswith("invalid request: daily_usd: ")


def test_bounds_at_their_edges_are_accepted(post: Any) -> None:
    body = {**ASK, "max_cost": 0.5, "max_tokens": 1, "temperature": 2, "cache_ttl": 0}
    answer = post("POST", "/v1/ask", body)
    assert answer.status_code == 200, answer.text
    assert '"run.finished"' in answer.text or '"answer"' in answer.text
