"""The Python SDK (superllm_cli.client) against a real daemon and fake providers: every
method, typed events, the error tree, autostart, AsyncClient, and a gateway over TCP."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_type_hints

import pytest

import superllm_cli
from superllm_cli import _calls
from superllm_cli.client import AsyncClient, Client
from superllmd import protocol, protocol_tools
from superllmd.errors import (
    AuthError,
    BudgetExceeded,
    DaemonError,
    ProviderError,
    SuperllmError,
    UsageError,
)
from superllmd.protocol import AskRequest, RunRequest
from tests.e2e.conftest import Cli, base_env
from tests.fakes.openai import FakeOpenAI
from tests.fakes.roles import Roles, openai_reply

ROOT = Path(__file__).resolve().parents[2]
PANEL = ["fake/echo", "fake/gpt-fake"]
# The SDK's options name the protocol's shapes for type checkers only (the CLI's start-up).
_SHAPES = {**vars(protocol), **vars(protocol_tools)}


@pytest.fixture
def client(home: Path) -> Iterator[Client]:
    with Client(environ=base_env(home)) as sdk:
        yield sdk


@pytest.fixture
def roles(fake_openai: FakeOpenAI) -> Iterator[Roles]:
    roles = Roles()
    saved = fake_openai.reply
    fake_openai.reply = openai_reply(roles)
    try:
        yield roles
    finally:
        fake_openai.reply = saved


def test_public_names() -> None:
    assert superllm_cli.__all__ == ["AsyncClient", "Client", "__version__"]
    assert superllm_cli.Client is Client and superllm_cli.AsyncClient is AsyncClient
    import superllm_cli.client as module

    assert module.__all__ == ["AsyncClient", "Client", "SuperllmError", "lock_holder"]
    for name in ("ask", "consensus", "debate", "redteam", "chain", "mapreduce", "embed"):
        assert callable(getattr(Client, name)) and callable(getattr(AsyncClient, name))
    for name in ("models", "usage", "runs", "budgets", "stream", "run_record"):
        assert callable(getattr(Client, name)) and callable(getattr(AsyncClient, name))


def test_options_match_the_protocol() -> None:
    """The SDK's keyword options are the request fields, no more and no fewer."""
    ask = set(get_type_hints(_calls.AskOptions, localns=_SHAPES))
    ask |= {"prompt", "model", "env", "stream"}
    assert ask == set(get_type_hints(AskRequest))
    run = set(get_type_hints(_calls.RunOptions, localns=_SHAPES))
    run |= {"prompt", "models", "env", "stream"}
    assert run | {"workflow"} == set(get_type_hints(RunRequest))


def test_ask_with_tools_round_trips(client: Client) -> None:
    """The model asks for a call; the caller runs it and sends the chat back for the answer."""
    tool: Any = {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    asked = client.ask("Weather in Paris?", model="fake/gpt-fake", tools=[tool], no_cache=True)
    calls = asked.get("tool_calls") or []
    assert [c["name"] for c in calls] == ["get_weather"]
    assert "city" in json.loads(calls[0]["arguments"])
    answered = client.ask(
        "",
        model="fake/gpt-fake",
        tools=[tool],
        no_cache=True,
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": calls},
            {"role": "tool", "content": "18C and sunny", "tool_call_id": calls[0]["id"]},
        ],
    )
    assert not answered.get("tool_calls")
    assert "18C and sunny" in (answered["answer"] or "")


def test_ask_autostarts_and_returns_a_typed_result(client: Client) -> None:
    result = client.ask("hello there", model="fake/echo", label="sdk-test")
    assert result["mode"] == "ask" and result["run_id"]
    assert result["model"] == "fake/echo"
    assert "hello there" in (result["answer"] or "")
    assert result["usage"]["output_tokens"] > 0
    assert client.health()["version"] == superllm_cli.__version__


def test_stream_yields_events_in_order(client: Client) -> None:
    events = list(client.stream("ask", "stream me", model="fake/echo"))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run.started" and kinds[-1] == "run.finished"
    assert "delta" in kinds
    text = "".join(e["text"] for e in events if e["type"] == "delta")
    last = events[-1]
    assert last["type"] == "run.finished" and last["result"]["answer"] == text


def test_modes(client: Client, roles: Roles, tmp_path: Path) -> None:
    merged = client.consensus("Say hi", PANEL, strategy="synthesize", judge="fake/judge")
    assert merged["mode"] == "consensus" and len(merged["participants"]) == 2
    argued = client.debate("Say hi", PANEL, rounds=1)
    assert argued["mode"] == "debate" and argued["rounds"] >= 1
    checked = client.redteam("2+2?", ["fake/blue", "fake/red"], judge="fake/judge", rounds=1)
    assert checked["mode"] == "redteam" and checked["strategy"] == "critique"
    flow = tmp_path / "flow.toml"
    flow.write_text('name = "one"\n[[steps]]\nname = "draft"\nprompt = "Draft about: {input}"\n')
    chained = client.chain("tides", flow, ["fake/writer"])
    assert chained["mode"] == "chain" and chained["report"]["workflow"] == "one"
    steps = [{"name": "a", "prompt": "{input}"}]
    inline = client.chain("tides", {"name": "two", "steps": steps}, ["fake/writer"])
    assert inline["report"]["workflow"] == "two"
    reduced = client.mapreduce("word " * 400, ["fake/writer"], mode_options={"chunk_tokens": 100})
    assert reduced["mode"] == "mapreduce"


def test_reading_routes(client: Client) -> None:
    client.ask("count me", model="fake/echo", label="sdk-read")
    vectors = client.embed(["a", "b"], model="fake/emb")
    assert vectors["model"] == "fake/emb" and len(vectors["vectors"]) == 2
    assert vectors["dimensions"] == len(vectors["vectors"][0])
    rows = client.models(provider="openai")
    assert rows and all(row["provider"] == "openai" for row in rows)
    assert {"model", "priced", "context_window"} <= set(rows[0])
    report = client.usage(by="label")
    assert any(row["label"] == "sdk-read" for row in report["rows"])
    assert report["totals"]["calls"] >= 1
    runs = client.runs(label="sdk-read")
    assert [r["label"] for r in runs] == ["sdk-read"]
    assert client.run_record(runs[0]["run_id"])["run_id"] == runs[0]["run_id"]
    budgets = client.budgets()
    assert budgets["budgets"] == [] and budgets["path"].endswith("config.toml")


def test_errors_are_the_one_tree_with_exit_codes(client: Client, home: Path) -> None:
    with pytest.raises(AuthError) as caught:
        client.ask("hi", model="fake/error-401")
    assert isinstance(caught.value, ProviderError) and caught.value.exit_code == 4
    with pytest.raises(SuperllmError) as usage:
        client.chain("hi", "no-such-workflow", ["fake/echo"])
    assert usage.value.exit_code == 2 and "no-such-workflow" in usage.value.message
    client.stop()
    offline = Client(environ=base_env(home), autostart=False)
    with pytest.raises(DaemonError) as down:
        offline.ask("hi", model="fake/echo")
    assert down.value.exit_code == 3 and "not running" in down.value.message


def test_an_error_raised_as_the_run_goes_keeps_its_class(
    client: Client, cli: Cli, home: Path, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """A usage error of a chain step and a budget refusal, both met after the daemon took
    the request: the SDK raises their own classes (streamed or not) and the CLI exits 2, 5."""
    step = {"name": "a", "prompt": "{input}", "model": "nosuch/model"}
    flow = {"name": "w", "steps": [step]}
    with pytest.raises(UsageError) as streamed:
        client.chain("hi", flow, ["fake/echo"])
    assert streamed.value.exit_code == 2 and "chain step 'a'" in streamed.value.message
    body = {"prompt": "hi", "models": ["fake/echo"], "workflow": flow, "env": {}}
    with pytest.raises(UsageError):  # not streamed: the daemon answers 400
        client.call("POST", "/v1/chain", body)
    path = tmp_path / "flow.toml"
    path.write_text('name = "w"\n[[steps]]\nname = "a"\nprompt = "{input}"\nmodel = "nosuch/m"\n')
    run = cli("chain", str(path), "hi", "-m", "fake/echo")
    assert run.returncode == 2 and "chain step 'a'" in run.stderr, run.stderr
    priced = {
        "OPENAI_API_KEY": "sk-test",
        "SUPERLLM_PROVIDERS__OPENAI__BASE_URL": fake_openai.base_url,
    }
    paying = Client(environ={**base_env(home), **priced})
    with pytest.raises(BudgetExceeded) as refused:
        paying.ask("hi", model="openai/gpt-4.1-mini", max_cost=1e-7, max_tokens=10000)
    assert refused.value.exit_code == 5 and "--max-cost" in refused.value.message
    over = cli("ask", "-m", "openai/gpt-4.1-mini", "--max-cost", "1e-7", "hi", extra_env=priced)
    assert over.returncode == 5, over.stderr


def test_async_client(home: Path) -> None:
    async def main() -> tuple[Any, list[str], Any]:
        async with AsyncClient(environ=base_env(home)) as sdk:
            answer = await sdk.ask("async hello", model="fake/echo")
            kinds = [e["type"] async for e in sdk.stream("consensus", "hi", models=PANEL)]
            try:
                await sdk.ask("hi", model="fake/error-401")
            except SuperllmError as exc:
                return answer, kinds, exc
            return answer, kinds, None

    answer, kinds, error = asyncio.run(main())
    assert "async hello" in answer["answer"]
    assert kinds[0] == "run.started" and kinds[-1] == "run.finished"
    assert isinstance(error, AuthError) and error.exit_code == 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def gateway(home: Path) -> Iterator[str]:
    """The daemon's app on a TCP port, as the gateway's door serves it (tests/fakes)."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.tcp_door", str(port), "t0ken"],
        cwd=ROOT,
        env=base_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_tcp_gateway_same_api(gateway: str, home: Path) -> None:
    with Client(base_url=gateway, token="t0ken", environ={"UNRELATED_SECRET": "x"}) as remote:
        assert remote.env_for_request() == {}  # a gateway uses its own keys
        result = remote.ask("over tcp", model="fake/echo")
        assert "over tcp" in (result["answer"] or "")
        assert [e["type"] for e in remote.stream("ask", "s", model="fake/echo")][-1] == (
            "run.finished"
        )
        assert remote.models(provider="openai")
    with pytest.raises(SuperllmError) as denied:
        Client(base_url=gateway, token="wrong").models()
    assert denied.value.exit_code == 4  # auth, from the error body

    async def main() -> Any:
        async with AsyncClient(base_url=gateway, token="t0ken") as sdk:
            return await sdk.ask("async tcp", model="fake/echo")

    assert "async tcp" in asyncio.run(main())["answer"]
    with pytest.raises(DaemonError):
        Client(base_url="http://127.0.0.1:1", token="t").models()


def test_docs_examples_run(home: Path, fake_openai: FakeOpenAI) -> None:
    """Every python block of docs/sdk.md, run as a user would, against this daemon."""
    text = (ROOT / "docs" / "sdk.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert len(blocks) >= 4
    config = home / "config" / "config.toml"
    config.write_text(
        'default_embedding_model = "fake/emb"\n'
        + config.read_text()
        + '\n[aliases]\nfast = "fake/echo"\nsmart = "fake/gpt-fake"\n'
    )
    before = len(fake_openai.chat_requests())
    for block in blocks:
        result = subprocess.run(
            [sys.executable, "-c", block],
            env=base_env(home),
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, f"{block}\n{result.stderr}"
        assert result.stdout.strip(), block
    assert len(fake_openai.chat_requests()) > before + 5  # the examples reached the provider
