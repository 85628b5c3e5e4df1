"""The ledger's hooks on a real call path: rows for calls and runs, the cache, privacy."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from superllmd.config import ConfigStore, ProviderSettings
from superllmd.ledger import history
from superllmd.ledger.recorder import SCRATCH_KEY, durable
from superllmd.ledger.wiring import LedgerParts, attach
from superllmd.orchestrator import ask as ask_mode
from superllmd.orchestrator.context import RunContext, run_mode
from superllmd.orchestrator.run import Caller
from superllmd.protocol import AskRequest
from superllmd.providers._http import HttpClients
from superllmd.providers.base import KindContext
from superllmd.providers.keys import KeyResolver
from superllmd.providers.openai import OpenAICompatibleKind
from superllmd.providers.registry import Target
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(delay=0.05).start()
    try:
        yield server
    finally:
        server.stop()


class World:
    """A caller with the ledger's hooks, calling the fake as provider ``fake``."""

    def __init__(self, tmp: Path, fake: FakeOpenAI, config: str = "") -> None:
        (tmp / "config.toml").write_text(config)
        self.path = tmp / "ledger.sqlite3"
        self.caller = Caller()
        self.parts: LedgerParts = attach(self.path, ConfigStore(tmp / "config.toml"), self.caller)
        self.fake = fake

    def target(self, model: str, http: HttpClients) -> Target:
        kind = OpenAICompatibleKind(KindContext(http, KeyResolver(use_keyring=False), Path("/x")))
        return Target(kind.create("fake", ProviderSettings(base_url=self.fake.base_url), {}), model)

    async def ask(
        self, body: AskRequest, model: str = "echo", stop_after: int | None = None
    ) -> Any:
        http = HttpClients()
        try:
            prepared = await self.parts.conversations.prepare(body)
            body["prompt"] = prepared.prompt
            run = RunContext(
                "ask",
                body,  # type: ignore[arg-type]
                [self.target(model, http)],
                self.caller,
                history=prepared.history,
                conversation_id=prepared.conversation_id,
                single=True,
            )
            run.info.scratch[SCRATCH_KEY] = prepared
            seen = 0
            events = durable(run_mode(run, ask_mode.run), self.parts.ledger)
            async for _ in events:
                seen += 1
                if stop_after is not None and seen >= stop_after:
                    break
            await events.aclose()  # type: ignore[attr-defined]
            await self.parts.ledger.barrier()
            return run.finished
        finally:
            await http.aclose()

    def rows(self, sql: str) -> list[Any]:
        conn = sqlite3.connect(self.path)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def close(self) -> None:
        self.parts.ledger.close()


@pytest.fixture
def world(tmp_path: Path, fake: FakeOpenAI) -> Iterator[World]:
    w = World(tmp_path, fake)
    try:
        yield w
    finally:
        w.close()


def test_a_run_writes_its_call_its_run_and_its_turn(world: World) -> None:
    result = asyncio.run(world.ask({"prompt": "one two three", "label": "nightly"}))
    assert result["conversation_id"]
    calls = world.rows(
        "SELECT run_id, provider, model, status, input_tokens, output_tokens, label, unpriced "
        "FROM calls"
    )
    assert calls == [(result["run_id"], "fake", "echo", "ok", 3, 4, "nightly", 1)]
    runs = world.rows("SELECT id, mode, prompt, answer, status, conversation_id FROM runs")
    assert runs == [
        (
            result["run_id"],
            "ask",
            "one two three",
            "echo: one two three",
            "ok",
            result["conversation_id"],
        )
    ]
    (transcript,) = world.rows("SELECT transcript FROM runs")[0]
    assert '"delta"' not in transcript and '"message"' in transcript  # whole texts only
    # The turn refers to the run's prompt and answer rather than storing them again.
    assert world.rows("SELECT role, content, from_run FROM messages ORDER BY id") == [
        ("user", None, 1),
        ("assistant", None, 1),
    ]
    conn = sqlite3.connect(world.path)
    try:
        assert history.conversation_messages(conn, result["conversation_id"]) == [
            ("user", "one two three"),
            ("assistant", "echo: one two three"),
        ]
    finally:
        conn.close()


def test_a_continued_conversation_sends_its_history(world: World) -> None:
    first = asyncio.run(world.ask({"prompt": "first"}))
    asyncio.run(world.ask({"prompt": "second", "continue_last": True}))
    sent = world.fake.chat_requests()[-1]["messages"]
    assert sent == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "echo: first"},
        {"role": "user", "content": "second"},
    ]
    cids = {r[0] for r in world.rows("SELECT conversation_id FROM runs")}
    assert cids == {first["conversation_id"]}


def test_an_abandoned_stream_is_recorded_interrupted(world: World) -> None:
    async def abandon() -> None:
        await world.ask({"prompt": "a b c d e f g h"}, model="slow", stop_after=3)
        # The inner generators are closed by asyncio's finaliser a few loop turns later.
        for _ in range(500):
            await world.parts.ledger.barrier()
            if world.rows("SELECT status FROM calls") != [("in_flight",)]:
                return
            await asyncio.sleep(0.01)

    asyncio.run(abandon())
    assert world.rows("SELECT status FROM calls") == [("interrupted",)]


def test_identical_requests_at_temperature_zero_are_cached(world: World) -> None:
    before = len(world.fake.chat_requests())
    body: AskRequest = {"prompt": "cache me", "temperature": 0}
    first = asyncio.run(world.ask(dict(body)))  # type: ignore[arg-type]
    second = asyncio.run(world.ask(dict(body)))  # type: ignore[arg-type]
    assert len(world.fake.chat_requests()) == before + 1
    assert second["answer"] == first["answer"] and second["cost_usd"] == 0.0
    assert [r[0] for r in world.rows("SELECT status FROM calls ORDER BY time")] == [
        "ok",
        "cached",
    ]
    # --no-cache asks again; other temperatures are never cached.
    asyncio.run(world.ask({"prompt": "cache me", "temperature": 0, "no_cache": True}))
    asyncio.run(world.ask({"prompt": "cache me", "temperature": 0.5}))
    asyncio.run(world.ask({"prompt": "cache me", "temperature": 0.5}))
    asyncio.run(world.ask({"prompt": "cache me"}))
    assert len(world.fake.chat_requests()) == before + 5


def test_the_cache_survives_a_restart_within_its_ttl(tmp_path: Path, fake: FakeOpenAI) -> None:
    body: AskRequest = {"prompt": "remember me", "temperature": 0}
    w = World(tmp_path, fake)
    asyncio.run(w.ask(dict(body)))  # type: ignore[arg-type]
    w.close()
    before = len(fake.chat_requests())
    w = World(tmp_path, fake)  # a new daemon: nothing in memory
    try:
        hit = asyncio.run(w.ask(dict(body)))  # type: ignore[arg-type]
        assert len(fake.chat_requests()) == before and hit["cost_usd"] == 0.0
        asyncio.run(w.ask({**body, "cache_ttl": 0}))  # type: ignore[typeddict-item]
        assert len(fake.chat_requests()) == before + 1
    finally:
        w.close()


def test_no_text_is_kept_without_log_prompts(tmp_path: Path, fake: FakeOpenAI) -> None:
    w = World(tmp_path, fake, "[daemon]\nlog_prompts = false\n")
    try:
        asyncio.run(w.ask({"prompt": "a secret plan", "temperature": 0}))
        asyncio.run(w.ask({"prompt": "more", "continue_last": True}))  # hot in memory
        assert w.fake.chat_requests()[-1]["messages"][0]["content"] == "a secret plan"
        assert w.rows("SELECT prompt, answer, transcript FROM runs") == [(None, None, None)] * 2
        assert w.rows("SELECT COUNT(*) FROM response_cache") == [(0,)]
        assert w.rows("SELECT DISTINCT content FROM messages") == [(None,)]
    finally:
        w.close()
    data = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.sqlite3*"))
    assert b"secret plan" not in data


def test_the_clients_environment_is_never_stored(world: World) -> None:
    asyncio.run(world.ask({"prompt": "hi", "env": {"OPENAI_API_KEY": "sk-do-not-store"}}))
    world.close()
    data = b"".join(p.read_bytes() for p in world.path.parent.glob("ledger.sqlite3*"))
    assert b"sk-do-not-store" not in data
    assert b"echo: hi" in data  # the check can see what is stored


def test_the_search_index_holds_each_finished_run_once(world: World) -> None:
    """A run's row is written when it starts and again when it ends; the search index must
    follow (a REPLACE left the starting row's words under a rowid no run has)."""
    for prompt in ("walrus one", "walrus two"):
        asyncio.run(world.ask({"prompt": prompt, "no_cache": True}))
    hits = world.rows("SELECT rowid FROM runs_fts WHERE runs_fts MATCH 'walrus'")
    assert sorted(hits) == sorted(world.rows("SELECT rowid FROM runs"))
    conn = sqlite3.connect(world.path)
    try:  # an external-content index that disagrees with its table fails this check
        conn.execute("INSERT INTO runs_fts (runs_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()
