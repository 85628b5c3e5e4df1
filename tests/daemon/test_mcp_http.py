"""MCP over streamable HTTP at /mcp on the TCP door, driven by the official MCP client.

A real daemon state (ledger, budgets, registry, tokens) in a temp SUPERLLM_HOME, the TCP
door's app (with its token check) from superllmd.gateway.routes served by uvicorn on a
loopback port, the fake OpenAI provider, and a token ``t1`` made in the daemon's store.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from superllmd.gateway.routes import create_tcp_app
from superllmd.paths import get_paths
from superllmd.state import DaemonState
from tests.fakes.openai import FakeOpenAI

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def door(
    home: Path, fake: FakeOpenAI, extra: str = ""
) -> AsyncIterator[tuple[str, Any, str]]:
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake.base_url}"\n{extra}'
    )
    state = DaemonState.create(get_paths({"SUPERLLM_HOME": str(home)}), use_keyring=False)
    secret = await state.tokens.create("t1")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_tcp_app(state), log_level="warning"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        while not server.started:
            await anyio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}/mcp", state, secret
        finally:
            server.should_exit = True
    await state.aclose()


@asynccontextmanager
async def connect(url: str, token: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, read_timeout_seconds=60) as client:
            yield client


async def test_tools_over_http_with_progress_for_the_token(
    short_home: Path, fake_openai: FakeOpenAI
) -> None:
    messages: list[str] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with (
        door(short_home, fake_openai) as (url, state, secret),
        connect(url, secret) as client,
    ):
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool(
            "consensus",
            {"prompt": "What is 6*7?", "models": ["fake/echo", "fake/gpt-fake"]},
            progress_callback=progress,
        )
        ask = await client.call_tool("ask", {"prompt": "hi", "model": "fake/echo"})
        usage = await client.call_tool("usage", {"by": "model", "period": "1d"})
        bad = await client.call_tool("debate", {"prompt": "x", "rounds": "three"})
        resources = (await client.list_resources()).resources
        assert state.ledger is not None
        await state.ledger.barrier()
        tokens = await state.ledger.read(
            lambda conn: conn.execute("SELECT DISTINCT token FROM calls").fetchall()
        )
    assert len(names) == 8
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.structured_content["agreement"] is not None
    assert messages[0] == "consensus started with 2 participant(s)"
    assert [m.split(" (")[0] for m in messages if "answered" in m] == [
        "1 of 2 answered",
        "2 of 2 answered",
    ]
    assert ask.structured_content is not None
    assert ask.structured_content["answer"] == "echo: hi"
    assert tokens == [("t1",)]  # every call on the ledger names the token
    assert usage.structured_content is not None
    assert usage.structured_content["totals"]["calls"] >= 3
    assert bad.is_error and "invalid rounds" in bad.content[0].text  # type: ignore[union-attr]
    assert len(resources) == 2


async def test_a_token_sees_only_its_own_runs_and_usage(
    short_home: Path, fake_openai: FakeOpenAI
) -> None:
    async with door(short_home, fake_openai) as (url, state, secret):
        # A run from the socket door (no token) is not this caller's.
        from superllmd.gateway.engine import ask_events

        events = await ask_events(state, {"prompt": "mine", "model": "fake/echo"}, None)
        run_id = [e async for e in events][-1]["run_id"]
        async with connect(url, secret) as client:
            resources = (await client.list_resources()).resources
            usage = await client.call_tool("usage", {"period": "1d"})
            with pytest.raises(Exception, match="made with this token"):
                await client.read_resource(f"superllm://runs/{run_id}")
    assert resources == []
    assert usage.structured_content is not None
    assert usage.structured_content["totals"]["calls"] == 0


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_a_missing_or_wrong_token_is_refused(
    short_home: Path, fake_openai: FakeOpenAI, token: str | None
) -> None:
    async with door(short_home, fake_openai) as (url, _, _secret):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx2.AsyncClient(headers=headers) as http:
            hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            answer = await http.post(
                url,
                content=json.dumps(hello),
                headers={"content-type": "application/json", "accept": "application/json"},
            )
        with pytest.raises(Exception):  # the SDK fails to connect: its own error for a 401
            async with connect(url, token):
                pass
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "authentication_error"


async def test_cancelling_over_http_releases_the_reservation(
    short_home: Path, fake_openai: FakeOpenAI
) -> None:
    extra = '[prices."fake/slow"]\ninput = 1.0\noutput = 1.0\n[budgets]\ndaily_usd = 100.0\n'
    started = anyio.Event()

    async def progress(value: float, total: float | None, message: str | None) -> None:
        if message and "started" in message:
            started.set()

    async with (
        door(short_home, fake_openai, extra) as (url, state, secret),
        connect(url, secret) as client,
    ):
        assert state.budget is not None
        budgets = state.settings(None).budgets

        async def reserved() -> float:
            assert state.budget is not None
            rows = await state.budget.status(budgets)
            return float(rows[0]["reserved_usd"])

        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.call_tool(
                    "ask",
                    {"model": "fake/slow", "prompt": "slowly " * 300},
                    progress_callback=progress,
                )

            tg.start_soon(call)
            with anyio.fail_after(30):
                await started.wait()
                while await reserved() == 0:
                    await anyio.sleep(0.05)
            tg.cancel_scope.cancel()
        with anyio.fail_after(20):
            while await reserved() > 0:
                await anyio.sleep(0.05)
        assert state.ledger is not None
        await state.ledger.barrier()
        statuses = await state.ledger.read(
            lambda conn: conn.execute("SELECT status FROM calls WHERE model = 'slow'").fetchall()
        )
    assert statuses == [("interrupted",)]


async def test_every_other_tool_over_http(short_home: Path, fake_openai: FakeOpenAI) -> None:
    """The tools the first test does not call, over this transport too."""
    workflow = '[[steps]]\nname = "first"\nprompt = "Shout: {input}"\n'
    rounds: list[str] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        rounds.append(message or "")

    async with (
        door(short_home, fake_openai) as (url, _state, secret),
        connect(url, secret) as client,
    ):
        debate = await client.call_tool(
            "debate",
            {"prompt": "What is 6*7?", "models": ["fake/echo", "fake/gpt-fake"], "rounds": 2},
            progress_callback=progress,
        )
        red = await client.call_tool(
            "redteam", {"prompt": "Is the sky green?", "models": ["fake/echo", "fake/gpt-fake"]}
        )
        refine = await client.call_tool(
            "chain", {"builtin": "refine", "input": "a haiku", "models": ["fake/echo"]}
        )
        flow = await client.call_tool(
            "chain", {"workflow": workflow, "input": "hi", "models": ["fake/echo"]}
        )
        mapped = await client.call_tool(
            "mapreduce",
            {"text": "Cats purr. " * 50, "question": "What do cats do?", "models": ["fake/echo"]},
        )
        models = await client.call_tool("models", {"provider": "openai", "max_price": 0.5})
    for result, mode in (
        (debate, "debate"),
        (red, "redteam"),
        (refine, "chain"),
        (flow, "chain"),
        (mapped, "mapreduce"),
    ):
        assert not result.is_error, result.content
        assert result.structured_content is not None
        data = result.structured_content
        assert data["mode"] == mode and data["answer"] and "cost_usd" in data
        assert data["usage"]["input_tokens"] > 0
    assert flow.structured_content is not None
    assert flow.structured_content["answer"] == "echo: Shout: hi"
    assert any(m.startswith("round 1/2") for m in rounds), rounds
    assert not models.is_error and models.structured_content is not None
    rows = models.structured_content["models"]
    assert rows and all(max(r["price_input"], r["price_output"]) <= 0.5 for r in rows)
