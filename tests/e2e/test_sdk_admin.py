"""The SDK beside the runs, against a real daemon: providers and their model lists, history,
budgets and config, on ``Client`` and ``AsyncClient`` (their answers are the protocol's types,
superllmd/protocol_admin.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from superllm_cli.client import AsyncClient, Client
from superllmd.errors import UsageError
from tests.e2e.conftest import base_env


@pytest.fixture
def client(home: Path) -> Iterator[Client]:
    with Client(environ=base_env(home)) as sdk:
        yield sdk


def test_history(client: Client) -> None:
    asked = client.ask("remember the tides", model="fake/echo", label="sdk-history")
    run_id, cid = asked["run_id"], asked["conversation_id"]
    assert cid is not None
    assert cid in [c["conversation_id"] for c in client.conversations(limit=5)]
    talk = client.conversation(cid)
    assert [m["role"] for m in talk["messages"]] == ["user", "assistant"]
    assert talk["messages"][0]["content"] == "remember the tides"
    record = client.run_record(run_id[:8])  # a unique prefix will do
    assert record["run_id"] == run_id and record["result"] is not None
    assert record["result"]["answer"] == asked["answer"]
    assert record["calls"] and record["calls"][0]["model"] == "echo"
    assert client.forget_runs(run_id) == {"runs": 1, "run_ids": [run_id]}
    with pytest.raises(UsageError):  # its text is gone...
        client.run_record(run_id)
    assert client.usage(label="sdk-history")["totals"]["calls"] == 1  # ...its cost is not
    assert client.forget_conversation(cid) == {"conversation_id": cid, "deleted": True}
    with pytest.raises(UsageError) as gone:
        client.conversation(cid)
    assert gone.value.exit_code == 2 and cid in gone.value.message


def test_budgets_and_config(client: Client) -> None:
    written = client.set_budget(daily_usd=2.5, label="nightly")
    assert written["set"] == ["budgets.labels.nightly"]
    rows = client.budgets()["budgets"]
    assert [(r["scope"], r["name"], r["limit_usd"]) for r in rows] == [("label", "nightly", 2.5)]
    with pytest.raises(UsageError):  # label budgets are daily
        client.set_budget(monthly_usd=9, label="nightly")
    assert client.clear_budgets(label="nightly")["cleared"] == ["budgets.labels.nightly"]
    assert client.budgets()["budgets"] == []
    changed = client.set_config("daemon.log_prompts", "false")
    assert changed["key"] == "daemon.log_prompts" and changed["path"].endswith("config.toml")
    assert client.config()["settings"]["daemon"]["log_prompts"] is False


def test_providers_and_model_lists(client: Client) -> None:
    rows = {p["id"]: p for p in client.providers()}
    assert rows["fake"]["configured"] and rows["fake"]["circuit"]["state"] == "closed"
    assert rows["openai"]["key_env"] == ["OPENAI_API_KEY"]
    (check,) = client.check_providers(["fake"], timeout=30)
    assert check["id"] == "fake" and check["ok"] and check["error"] is None
    (listing,) = client.refresh_models(["fake"], timeout=30)
    assert listing["ok"] and listing["count"] > 0 and listing["fetched_at"]
    listed = client.models(provider="fake")
    assert any(m["model"] == "fake/gpt-fake" and m.get("listed") for m in listed)
    with pytest.raises(UsageError):
        client.refresh_models(["nosuch"])


def test_async_client_has_them_too(home: Path) -> None:
    async def main() -> tuple[Any, ...]:
        async with AsyncClient(environ=base_env(home)) as sdk:
            asked = await sdk.ask("async history", model="fake/echo")
            listed = await sdk.conversations()
            listings = await sdk.refresh_models(["fake"], timeout=30)
            budget = await sdk.set_budget(daily_usd=1)
            cleared = await sdk.clear_budgets()
            health = await sdk.health()
            return asked, listed, listings, budget, cleared, health

    asked, listed, listings, budget, cleared, health = asyncio.run(main())
    assert asked["conversation_id"] in [c["conversation_id"] for c in listed]
    assert listings[0]["ok"]
    assert budget["set"] == ["budgets.daily_usd"] and cleared["cleared"] == ["budgets.daily_usd"]
    assert health["pid"] > 0
