"""``superllm mcp`` driven by the official MCP client over stdio, against a real daemon.

The client starts the real ``superllm mcp`` command (which autostarts the daemon in this
test's SUPERLLM_HOME); the models are the fake OpenAI-compatible provider ``fake``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from superllm_cli.client import Client as DaemonClient
from superllmd.errors import DaemonError
from tests.e2e.conftest import SUPERLLM, Cli
from tests.fakes.openai import FakeOpenAI, echo_reply

pytestmark = pytest.mark.anyio

PANEL = ["fake/echo", "fake/echo", "fake/gpt-fake"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def connect(env: dict[str, str], *args: str) -> AsyncIterator[Client]:
    assert SUPERLLM
    params = StdioServerParameters(command=SUPERLLM, args=["mcp", *args], env=env)
    async with Client(params, read_timeout_seconds=60) as client:
        yield client


async def test_lists_every_tool_with_schemas(env: dict[str, str]) -> None:
    async with connect(env) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {
        "ask",
        "consensus",
        "debate",
        "redteam",
        "chain",
        "mapreduce",
        "models",
        "usage",
    }
    ask = tools["ask"].input_schema
    assert ask["required"] == ["prompt"]
    assert set(ask["properties"]) >= {"model", "prompt", "system", "max_cost"}
    assert set(tools["consensus"].input_schema["properties"]) >= {"models", "strategy", "prompt"}
    assert set(tools["debate"].input_schema["properties"]) >= {"models", "rounds", "threshold"}
    assert set(tools["usage"].input_schema["properties"]) >= {"period", "by"}
    assert set(tools["models"].input_schema["properties"]) >= {"capability", "max_price"}
    for name in ("ask", "consensus", "debate", "redteam", "chain", "mapreduce"):
        out = tools[name].output_schema
        assert out is not None and {"answer", "usage", "cost_usd"} <= set(out["required"])


async def test_ask_answers_with_tokens_and_cost(env: dict[str, str]) -> None:
    async with connect(env) as client:
        result = await client.call_tool(
            "ask", {"model": "fake/echo", "prompt": "hello there", "system": "be brief"}
        )
    assert not result.is_error, result.content
    data = result.structured_content
    assert data is not None
    assert data["answer"] == "echo: hello there" and data["mode"] == "ask"
    assert data["model"] == "fake/echo"
    assert data["usage"]["input_tokens"] > 0 and data["usage"]["output_tokens"] > 0
    assert "cost_usd" in data  # null: the fake model is unpriced, which is said, not hidden
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith("echo: hello there")
    assert "tokens" in text and "cost unknown" in text and data["run_id"] in text


async def test_consensus_reports_agreement_and_progress_per_participant(
    env: dict[str, str],
) -> None:
    lines: list[tuple[float, str | None]] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        lines.append((value, message))

    async with connect(env) as client:
        result = await client.call_tool(
            "consensus",
            {"prompt": "What is 6*7?", "models": PANEL, "strategy": "vote"},
            progress_callback=progress,
        )
    assert not result.is_error, result.content
    data = result.structured_content
    assert data is not None and data["mode"] == "consensus" and data["strategy"] == "vote"
    assert data["agreement"] is not None and 0 <= data["agreement"] <= 1
    assert len(data["participants"]) == 3 and "report" in data
    values = [v for v, _ in lines]
    assert values == sorted(values) and len(set(values)) == len(values)  # only grows
    messages = [m for _, m in lines]
    assert messages[0] == "consensus started with 3 participant(s)"
    answered = [m for m in messages if m and "answered" in m]
    assert [m.split(" (")[0] for m in answered] == [
        "1 of 3 answered",
        "2 of 3 answered",
        "3 of 3 answered",
    ]
    assert any("fake/gpt-fake" in m for m in answered)


async def test_a_priced_consensus_shows_progress_and_cost(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    # What a user of a fresh install sees: a key in the MCP client's config, a council of
    # priced models, progress while it runs, and what it cost.
    panel = ["openai/gpt-4.1-mini", "openai/gpt-4.1-nano", "openai/gpt-4o-mini"]
    messages: list[str | None] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        messages.append(message)

    async with connect(priced_env(env, fake_openai)) as client:
        result = await client.call_tool(
            "consensus", {"prompt": "What is 6*7?", "models": panel}, progress_callback=progress
        )
    assert not result.is_error, result.content
    data = result.structured_content
    assert data is not None and data["cost_usd"] > 0
    assert data["usage"]["input_tokens"] > 0 and len(data["participants"]) == 3
    assert [m.split(" (")[0] for m in messages if m and "answered" in m] == [
        f"{n} of 3 answered" for n in (1, 2, 3)
    ]
    assert len(fake_openai.requests) >= 3


COLOURS = {"echo": "red like fire", "gpt-fake": "blue as the sea", "other": "green grass"}


async def test_debate_progress_per_round_in_order(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    messages: list[str] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    # Each model keeps its own free-text answer: no agreement, so both rounds run.
    fake_openai.reply = lambda body: COLOURS.get(body["model"], "a judge's synthesis")
    try:
        async with connect(env) as client:
            result = await client.call_tool(
                "debate",
                {
                    "prompt": "Describe a colour",
                    "models": ["fake/echo", "fake/gpt-fake", "fake/other"],
                    "rounds": 2,
                    "threshold": 1.0,
                    "answer_type": "free",
                },
                progress_callback=progress,
            )
    finally:
        fake_openai.reply = echo_reply
    assert not result.is_error, result.content
    data = result.structured_content
    assert data is not None and data["mode"] == "debate" and data["rounds"] == 2
    tallies = [m.split(" (")[0] for m in messages if "answered" in m and "judge" not in m]
    assert tallies == [
        "round 1/2: 1 of 3 answered",
        "round 1/2: 2 of 3 answered",
        "round 1/2: 3 of 3 answered",
        "round 2/2: 1 of 3 answered",
        "round 2/2: 2 of 3 answered",
        "round 2/2: 3 of 3 answered",
    ]
    first_agreement = next(i for i, m in enumerate(messages) if m.startswith("round 1/2: agree"))
    assert first_agreement < messages.index(next(m for m in messages if m.startswith("round 2/2")))


async def test_redteam_chain_and_mapreduce(env: dict[str, str], home: Path) -> None:
    doc = home / "docs" / "long.txt"
    doc.parent.mkdir()
    doc.write_text("Paragraph about cats. " * 200)
    outside = home / "secret.txt"
    outside.write_text("not to be read")
    workflow = '[[steps]]\nname = "first"\nprompt = "Shout: {input}"\n'
    allowed = {**env, "SUPERLLM_MCP__ALLOWED_PATHS": json.dumps([str(doc.parent)])}
    async with connect(allowed) as client:
        red = await client.call_tool(
            "redteam", {"prompt": "Is the sky green?", "models": ["fake/echo", "fake/gpt-fake"]}
        )
        refine = await client.call_tool(
            "chain", {"builtin": "refine", "input": "a haiku", "models": ["fake/echo"]}
        )
        flow = await client.call_tool(
            "chain", {"workflow": workflow, "input": "hi", "models": ["fake/echo"]}
        )
        by_text = await client.call_tool(
            "mapreduce",
            {"text": "Cats purr. " * 50, "question": "What do cats do?", "models": ["fake/echo"]},
        )
        by_path = await client.call_tool(
            "mapreduce",
            {
                "path": str(doc),
                "question": "What is it about?",
                "chunk_tokens": 200,
                "models": ["fake/echo"],
            },
        )
        refused = await client.call_tool(
            "mapreduce", {"path": str(outside), "models": ["fake/echo"]}
        )
    for result, mode in ((red, "redteam"), (refine, "chain"), (flow, "chain")):
        assert not result.is_error, result.content
        assert result.structured_content is not None
        assert result.structured_content["mode"] == mode
    assert flow.structured_content is not None
    assert flow.structured_content["answer"] == "echo: Shout: hi"
    for result in (by_text, by_path):
        assert not result.is_error, result.content
        assert result.structured_content is not None
        assert result.structured_content["mode"] == "mapreduce"
    assert by_path.structured_content is not None
    assert len(by_path.structured_content["report"]["chunks"]) > 1  # the file was read
    assert refused.is_error
    assert refused.structured_content is not None
    assert refused.structured_content["error"]["code"] == "usage"
    assert "not under a folder allowed" in refused.content[0].text  # type: ignore[union-attr]


def priced_env(env: dict[str, str], fake: FakeOpenAI) -> dict[str, str]:
    """``env`` with openai pointed at the fake: openai/* models are priced from the catalog."""
    return {
        **env,
        "OPENAI_API_KEY": "sk-test",
        "SUPERLLM_PROVIDERS__OPENAI__BASE_URL": fake.base_url,
    }


async def test_models_and_usage(env: dict[str, str], fake_openai: FakeOpenAI) -> None:
    async with connect(priced_env(env, fake_openai)) as client:
        every = await client.call_tool("models", {"provider": "openai"})
        cheap = await client.call_tool("models", {"provider": "openai", "max_price": 0.5})
        vision = await client.call_tool("models", {"provider": "openai", "capability": ["vision"]})
        asked = await client.call_tool("ask", {"model": "openai/gpt-4.1-mini", "prompt": "hi"})
        usage = await client.call_tool("usage", {"period": "1d", "by": "model"})
        bad = await client.call_tool("models", {"capability": ["telepathy"]})
    assert every.structured_content is not None and cheap.structured_content is not None
    assert vision.structured_content is not None
    all_rows = every.structured_content["models"]
    cheap_rows = cheap.structured_content["models"]
    assert 0 < len(cheap_rows) < len(all_rows)
    assert all(max(r["price_input"], r["price_output"]) <= 0.5 for r in cheap_rows)
    assert all(r["vision"] for r in vision.structured_content["models"])
    # The key comes from the MCP server's own environment, as set in an MCP client's config.
    assert not asked.is_error and asked.structured_content is not None, asked.content
    assert asked.structured_content["cost_usd"] > 0
    assert usage.structured_content is not None
    rows = {r["model"]: r for r in usage.structured_content["rows"]}
    assert rows["openai/gpt-4.1-mini"]["calls"] == 1
    assert rows["openai/gpt-4.1-mini"]["cost_usd"] > 0
    assert usage.structured_content["totals"]["calls"] >= 1
    assert bad.is_error and "telepathy" in bad.content[0].text  # type: ignore[union-attr]


async def test_bad_arguments_are_tool_errors_and_the_server_lives_on(env: dict[str, str]) -> None:
    async with connect(env) as client:
        wrong_type = await client.call_tool("ask", {"prompt": 5})
        missing = await client.call_tool("consensus", {"models": PANEL})
        extra = await client.call_tool("debate", {"prompt": "x", "rounds": 0})
        unknown = await client.call_tool("summon", {"prompt": "x"})
        bad_provider = await client.call_tool("ask", {"prompt": "x", "model": "nobody/none"})
        bad_model = await client.call_tool("ask", {"prompt": "x", "model": "fake/error-404"})
        both = await client.call_tool("chain", {"builtin": "refine", "workflow": "x = 1"})
        still = await client.call_tool("ask", {"prompt": "still here", "model": "fake/echo"})
    for result, code, words in (
        (wrong_type, "usage", "ask: invalid prompt: 5 is not of type 'string'"),
        (missing, "usage", "'prompt' is a required property"),
        (extra, "usage", "invalid rounds"),
        (unknown, "usage", "no tool 'summon'"),
        (bad_provider, "usage", "unknown provider 'nobody'"),
        (bad_model, "not_found", "fake"),
        (both, "usage", "either builtin"),
    ):
        assert result.is_error, result
        assert result.structured_content is not None
        error = result.structured_content["error"]
        assert error["code"] == code, error
        assert words in result.content[0].text  # type: ignore[union-attr]
    assert wrong_type.structured_content is not None
    assert wrong_type.structured_content["error"]["exit_code"] == 2
    assert bad_model.structured_content is not None
    assert bad_model.structured_content["error"]["exit_code"] == 4
    assert not still.is_error


async def test_budget_refusal_is_a_tool_error_with_exit_code_5(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    async with connect(priced_env(env, fake_openai)) as client:
        result = await client.call_tool(
            "ask",
            {
                "model": "openai/gpt-4.1-mini",
                "prompt": "expensive",
                "max_tokens": 10000,
                "max_cost": 0.0001,
            },
        )
    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["error"]["code"] == "budget"
    assert result.structured_content["error"]["exit_code"] == 5
    assert "--max-cost of $0.0001 would be exceeded" in result.content[0].text  # type: ignore[union-attr]


def _budgets(env: dict[str, str]) -> list[dict[str, Any]]:
    answer = DaemonClient(environ=env, autostart=False).call("GET", "/v1/budgets")
    rows: list[dict[str, Any]] = answer["budgets"]
    return rows


def _wait(predicate: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


async def test_cancelling_a_call_cancels_the_run_and_releases_its_reservation(
    env: dict[str, str], home: Path, fake_openai: FakeOpenAI
) -> None:
    config = home / "config" / "config.toml"
    config.write_text(
        config.read_text() + '[prices."fake/slow"]\ninput = 1.0\noutput = 1.0\n'
        "[budgets]\ndaily_usd = 100.0\n"
    )
    prompt = "slowly " * 300  # 300 words at 0.05 s each: far longer than the test waits
    started = anyio.Event()

    async def progress(value: float, total: float | None, message: str | None) -> None:
        if message and "started" in message:
            started.set()

    async with connect(env) as client:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.call_tool(
                    "ask", {"model": "fake/slow", "prompt": prompt}, progress_callback=progress
                )

            tg.start_soon(call)
            with anyio.fail_after(30):
                await started.wait()
            reserved = await anyio.to_thread.run_sync(
                lambda: _wait(lambda: _budgets(env)[0]["reserved_usd"] > 0)
            )
            assert reserved, _budgets(env)
            tg.cancel_scope.cancel()
        # The server lives on after a cancelled call.
        after = await client.call_tool("ask", {"model": "fake/echo", "prompt": "next"})
    assert not after.is_error
    released = await anyio.to_thread.run_sync(
        lambda: _wait(lambda: _budgets(env)[0]["reserved_usd"] == 0)
    )
    assert released, _budgets(env)
    conn = sqlite3.connect(home / "data" / "ledger.sqlite3")
    try:
        statuses = conn.execute("SELECT status FROM calls WHERE model = 'slow'").fetchall()
    finally:
        conn.close()
    assert statuses == [("interrupted",)]
    assert fake_openai.chat_requests()  # it was sent, then cut short
    spent = _budgets(env)[0]["spent_usd"]
    assert spent < 300 * 2 / 1e6 * 1.0  # only what streamed before the cancel


async def test_recent_runs_are_resources_and_chains_are_prompts(env: dict[str, str]) -> None:
    async with connect(env) as client:
        done = await client.call_tool("ask", {"model": "fake/echo", "prompt": "remember me"})
        assert done.structured_content is not None
        run_id = done.structured_content["run_id"]
        resources = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
        read = await client.read_resource(f"superllm://runs/{run_id}")
        prompts = (await client.list_prompts()).prompts
        prompt = await client.get_prompt("refine", {"input": "my essay", "models": "fake/echo"})
    assert f"superllm://runs/{run_id}" in [str(r.uri) for r in resources]
    assert templates[0].uri_template == "superllm://runs/{run_id}"
    body = json.loads(read.contents[0].text)  # type: ignore[union-attr]
    assert body["run_id"] == run_id and body["answer"] == "echo: remember me"
    assert body["transcript"] and body["calls"][0]["status"] == "ok"
    assert "cost_usd" in body and body["input_tokens"] > 0
    assert [p.name for p in prompts] == ["refine"]
    text = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert '"builtin": "refine"' in text and "my essay" in text


def test_stdout_carries_only_protocol(env: dict[str, str]) -> None:
    assert SUPERLLM
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    lines = "".join(json.dumps(m) + "\n" for m in (hello, initialized, listing))
    proc = subprocess.Popen(
        [SUPERLLM, "-v", "mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(lines)
    proc.stdin.flush()
    answers = [json.loads(proc.stdout.readline()) for _ in range(2)]
    killer = threading.Timer(20, proc.kill)
    killer.start()
    proc.stdin.close()  # the client is gone: the server ends
    rest = proc.stdout.read()
    proc.wait()
    killer.cancel()
    assert [a["id"] for a in answers] == [1, 2]
    assert answers[0]["result"]["serverInfo"]["name"] == "superllm"
    assert len(answers[1]["result"]["tools"]) == 8
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in rest.splitlines())
    assert proc.returncode == 0


def _serve_lines(env: dict[str, str], verbose: bool, messages: list[dict[str, Any]]) -> str:
    """Send ``messages`` to ``superllm [-v] mcp``, wait for every answer, close; its stderr."""
    assert SUPERLLM
    proc = subprocess.Popen(
        [SUPERLLM, *(["-v"] if verbose else []), "mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    killer = threading.Timer(120, proc.kill)
    killer.start()
    try:
        proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        proc.stdin.flush()
        waiting = {m["id"] for m in messages if "id" in m}
        while waiting:  # the server stops at EOF, dropping what it has not answered
            answer = json.loads(proc.stdout.readline())
            waiting.discard(answer.get("id"))
        proc.stdin.close()
        proc.wait()
        return proc.stderr.read()
    finally:
        killer.cancel()


def test_verbose_logs_each_tool_call_on_stderr(env: dict[str, str]) -> None:
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }
    calls = [
        {"name": "ask", "arguments": {"prompt": "hi", "model": "fake/echo"}},
        {"name": "ask", "arguments": {"prompt": "hi", "model": "nobody/none"}},
    ]
    messages = [hello, {"jsonrpc": "2.0", "method": "notifications/initialized"}]
    messages += [
        {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": call}
        for n, call in enumerate(calls, 2)
    ]
    logged = [line for line in _serve_lines(env, True, messages).splitlines() if "tool ask" in line]
    assert len(logged) == 2, logged  # in the order they finished
    assert any(line.startswith("superllm mcp: INFO tool ask: ok (run ") for line in logged)
    assert any("tool ask: error (usage) unknown provider 'nobody'" in line for line in logged)
    assert "tool ask" not in _serve_lines(env, False, messages)  # without -v: warnings only


@pytest.mark.parametrize("client", ["claude-desktop", "claude-code", "codex", "cursor"])
def test_print_config(cli: Cli, env: dict[str, str], client: str) -> None:
    result = cli("mcp", "--print-config", client)
    assert result.returncode == 0, result.stderr
    assert SUPERLLM
    command = str(Path(SUPERLLM).resolve())
    if client in ("claude-desktop", "cursor"):
        server = json.loads(result.stdout)["mcpServers"]["superllm"]
    elif client == "codex":
        server = tomllib.loads(result.stdout)["mcp_servers"]["superllm"]
    else:
        assert result.stdout.startswith("claude mcp add --scope user --env SUPERLLM_HOME=")
        assert result.stdout.rstrip().endswith(f"superllm -- {command} mcp")
        return
    assert server["command"] == command and server["args"] == ["mcp"]
    assert server["env"] == {"SUPERLLM_HOME": env["SUPERLLM_HOME"]}
    assert result.stderr.startswith("# ")


def test_print_config_for_an_unknown_client_is_a_usage_error(cli: Cli) -> None:
    result = cli("mcp", "--print-config", "notepad")
    assert result.returncode == 2
    assert "claude-desktop, claude-code, codex, cursor" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_server_starts_the_daemon_when_none_runs(env: dict[str, str]) -> None:
    with pytest.raises(DaemonError):
        DaemonClient(environ=env, autostart=False).health()

    async def main() -> None:
        async with connect(env) as client:
            result = await client.call_tool("ask", {"model": "fake/echo", "prompt": "wake"})
            assert not result.is_error

    anyio.run(main)
    assert DaemonClient(environ=env, autostart=False).health()["version"]
