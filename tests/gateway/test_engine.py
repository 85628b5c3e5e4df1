"""The gateway seam: ``ask_events`` / ``run_events`` for a token, on a real DaemonState with
its real ledger, against the fake OpenAI server."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from superllmd.errors import BudgetExceeded, GatewayForbidden
from superllmd.gateway import GatewayToken
from superllmd.gateway.engine import ask_events, run_events
from superllmd.paths import get_paths
from superllmd.protocol import Event
from superllmd.state import DaemonState
from tests.fakes.openai import FakeOpenAI

PRICED = '[prices."fake/gpt-fake"]\ninput = 1000.0\noutput = 1000.0\n'


def _state(home: Path, fake: FakeOpenAI, extra: str = "") -> DaemonState:
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'default_model = "fake/gpt-fake"\n{extra}\n'
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake.base_url}"\n'
        'models = ["gpt-fake", "echo"]\n'
    )
    return DaemonState.create(get_paths({"SUPERLLM_HOME": str(home)}), use_keyring=False)


async def _drain(events: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in events]


def _rows(home: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(home / "data" / "ledger.sqlite3")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_tokens_name_is_on_every_ledger_row(short_home: Path, fake_openai: FakeOpenAI) -> None:
    async def go() -> None:
        state = _state(short_home, fake_openai)
        token = GatewayToken("ci-bot")
        try:
            ask = await ask_events(state, {"prompt": "hello", "model": "fake/gpt-fake"}, token)
            events = await _drain(ask)
            assert events[-1]["type"] == "run.finished"
            assert events[-1]["result"]["error"] is None
            run = await run_events(
                state,
                "consensus",
                {"prompt": "hi", "models": ["fake/gpt-fake", "fake/echo"]},
                token,
            )
            assert (await _drain(run))[-1]["type"] == "run.finished"
            plain = await ask_events(state, {"prompt": "cli", "model": "fake/echo"}, None)
            await _drain(plain)
        finally:
            await state.aclose()

    asyncio.run(go())
    runs = _rows(short_home, "SELECT mode, coalesce(token, '-') FROM runs ORDER BY 1, 2")
    assert runs == [("ask", "-"), ("ask", "ci-bot"), ("consensus", "ci-bot")]
    calls = _rows(
        short_home,
        "SELECT calls.token IS runs.token, calls.token FROM calls JOIN runs ON runs.id = run_id",
    )
    assert len(calls) >= 4  # the ask, two panelists (and a merge), the plain ask
    assert all(same for same, _ in calls)
    assert [t for _, t in calls].count("ci-bot") == len(calls) - 1


def test_a_model_outside_the_tokens_patterns_is_refused_before_sending(
    short_home: Path, fake_openai: FakeOpenAI
) -> None:
    token = GatewayToken("narrow", models=("fake/echo", "cheap*"))
    before = len(fake_openai.chat_requests())

    async def go() -> None:
        state = _state(short_home, fake_openai)
        try:
            with pytest.raises(GatewayForbidden, match="may not use fake/gpt-fake"):
                await ask_events(state, {"prompt": "x", "model": "fake/gpt-fake"}, token)
            with pytest.raises(GatewayForbidden):
                await run_events(
                    state,
                    "consensus",
                    {"prompt": "x", "models": ["fake/echo", "fake/gpt-fake"]},
                    token,
                )
            ok = await ask_events(state, {"prompt": "x", "model": "fake/echo"}, token)
            assert (await _drain(ok))[-1]["result"]["error"] is None
        finally:
            await state.aclose()

    asyncio.run(go())
    assert len(fake_openai.chat_requests()) == before + 1


def test_a_token_holders_env_is_ignored(short_home: Path, fake_openai: FakeOpenAI) -> None:
    # SUPERLLM_* in a socket client's env applies to its request; from a token it must not,
    # or any caller could lift the budgets (or point a provider's api_key_cmd at a program).
    lift = {"SUPERLLM_BUDGETS__DAILY_USD": "1000"}

    async def go() -> None:
        state = _state(short_home, fake_openai, PRICED + "[budgets]\ndaily_usd = 0.000001\n")
        try:
            body: dict[str, Any] = {"prompt": "hello", "model": "fake/gpt-fake", "env": lift}
            events = await _drain(await ask_events(state, body, GatewayToken("t")))  # type: ignore[arg-type]
            assert "env" not in body
            assert events[-1]["result"]["error"]["code"] == "budget"
            mine = {"prompt": "hello", "model": "fake/gpt-fake", "env": lift}
            events = await _drain(await ask_events(state, mine, None))  # type: ignore[arg-type]
            assert events[-1]["result"]["error"] is None
        finally:
            await state.aclose()

    asyncio.run(go())


def test_a_tokens_daily_budget_is_reserved_like_the_global_ones(
    short_home: Path, fake_openai: FakeOpenAI
) -> None:
    async def go() -> list[str | None]:
        state = _state(short_home, fake_openai, PRICED)
        token = GatewayToken("capped", budget_daily=0.0005)
        codes: list[str | None] = []
        try:
            for _ in range(2):
                body = {"prompt": "hello", "model": "fake/gpt-fake", "max_tokens": 100}
                events = await _drain(await ask_events(state, body, token))  # type: ignore[arg-type]
                error = events[-1]["result"]["error"]
                codes.append(error and error["code"])
                if error:
                    assert "daily budget for token capped" in error["message"]
            other = {"prompt": "hello", "model": "fake/gpt-fake", "max_tokens": 100}
            events = await _drain(await ask_events(state, other, GatewayToken("other")))  # type: ignore[arg-type]
            codes.append(events[-1]["result"]["error"])
        finally:
            await state.aclose()
        return codes

    # At $1000/M tokens even the prompt's one token ($0.001) is over the token's $0.0005.
    codes = asyncio.run(go())
    assert codes == [BudgetExceeded.code, BudgetExceeded.code, None]  # another token: its own


def test_a_race_of_many_calls_never_overshoots_a_tokens_budget(
    short_home: Path, fake_openai: FakeOpenAI
) -> None:
    # 40 asks at once under one token whose budget has room for about 5 estimates: what the
    # token spent may pass its budget by at most one call's estimate (the settle-up of
    # estimate vs real cost), never by the many calls a check-then-send race would let by.
    budget = 0.5
    max_tokens = 100
    estimate = (len("race me") // 4 + max_tokens) * 1000 / 1e6  # $1000/M in and out

    async def go() -> list[Any]:
        state = _state(short_home, fake_openai, PRICED)
        token = GatewayToken("racer", budget_daily=budget)

        async def one() -> Any:
            body = {"prompt": "race me", "model": "fake/gpt-fake", "max_tokens": max_tokens}
            events = await _drain(await ask_events(state, body, token))  # type: ignore[arg-type]
            return events[-1]["result"]

        try:
            return list(await asyncio.gather(*(one() for _ in range(40))))
        finally:
            await state.aclose()

    results = asyncio.run(go())
    ok = [r for r in results if r["error"] is None]
    refused = [r for r in results if r["error"] is not None]
    assert ok and refused
    assert all(r["error"]["code"] == "budget" for r in refused)
    spent = _rows(short_home, "SELECT SUM(cost_usd) FROM calls WHERE token = 'racer'")[0][0]
    assert spent <= budget + estimate
    assert len(ok) <= budget / min(r["cost_usd"] for r in ok) + 1
