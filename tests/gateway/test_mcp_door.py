"""MCP at /mcp on the real TCP door: a real daemon with ``[daemon] listen``, a token from
``superllm serve token create``, the official MCP client over streamable HTTP."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.conftest import Cli, write_config
from tests.fakes.openai import FakeOpenAI
from tests.gateway.test_door import _free_port, _token

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def mcp_url(home: Path, fake_openai: FakeOpenAI, cli: Cli) -> Iterator[str]:
    port = _free_port()
    write_config(
        home,
        f'[daemon]\nlisten = "127.0.0.1:{port}"\n'
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n',
    )
    assert cli("daemon", "start").returncode == 0
    yield f"http://127.0.0.1:{port}/mcp"


async def test_a_token_holder_calls_consensus_and_sees_progress(
    mcp_url: str, cli: Cli, home: Path
) -> None:
    secret = _token(cli, "editor")
    lines: list[str] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        lines.append(message or "")

    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        transport = streamable_http_client(mcp_url, http_client=http)
        async with Client(transport, read_timeout_seconds=60) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            result = await client.call_tool(
                "consensus",
                {"prompt": "What is 6*7?", "models": ["fake/echo", "fake/gpt-fake"]},
                progress_callback=progress,
            )
    assert "consensus" in names and "usage" in names
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.structured_content["agreement"] is not None
    assert "2 of 2 answered" in " ".join(lines)
    conn = sqlite3.connect(home / "data" / "ledger.sqlite3")
    try:
        tokens = conn.execute("SELECT DISTINCT token FROM calls").fetchall()
    finally:
        conn.close()
    assert tokens == [("editor",)]


@pytest.mark.parametrize("header", [None, "Bearer sl-wrong"])
async def test_a_missing_or_wrong_token_is_refused(
    mcp_url: str, cli: Cli, header: str | None
) -> None:
    _token(cli, "someone")  # tokens exist; this request just does not carry one of them
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"content-type": "application/json", "accept": "application/json"}
    if header:
        headers["authorization"] = header
    answer = httpx.post(mcp_url, content=json.dumps(listing), headers=headers, timeout=30)
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "authentication_error"
    async with httpx2.AsyncClient(headers={"authorization": header or ""}) as http:
        with pytest.raises(Exception):  # the SDK cannot connect: its own error for a 401
            async with Client(streamable_http_client(mcp_url, http_client=http)):
                pass
