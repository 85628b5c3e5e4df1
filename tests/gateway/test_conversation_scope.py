"""Conversations are scoped per gateway token: a token continues only its own, on a real
DaemonState with its ledger (also after a restart), against the fake OpenAI server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from superllmd.errors import UsageError
from superllmd.gateway import GatewayToken
from superllmd.gateway.engine import ask_events
from superllmd.state import DaemonState
from tests.fakes.openai import FakeOpenAI
from tests.gateway.test_engine import _drain, _state

A, B = GatewayToken("alice"), GatewayToken("bob")


async def _ask(state: DaemonState, token: GatewayToken | None, **body: Any) -> dict[str, Any]:
    events = await _drain(await ask_events(state, {"model": "fake/echo", **body}, token))  # type: ignore[arg-type,typeddict-item]
    result: dict[str, Any] = events[-1]["result"]  # type: ignore[typeddict-item]
    assert result["error"] is None
    return result


def _sent(fake: FakeOpenAI) -> list[str]:
    """The texts of the messages the provider got in the last call."""
    return [str(m["content"]) for m in fake.chat_requests()[-1]["messages"]]


def test_a_token_continues_only_its_own_conversations(
    short_home: Path, fake_openai: FakeOpenAI
) -> None:
    async def first_daemon() -> str:
        state = _state(short_home, fake_openai)
        try:
            cid = (await _ask(state, A, prompt="alice's secret plan"))["conversation_id"]
            with pytest.raises(UsageError, match="no conversation"):
                await ask_events(state, {"prompt": "more", "conversation_id": cid}, B)
            # Bob's "continue the last" is his own last: none yet, so a new conversation.
            bobs = await _ask(state, B, prompt="bob starts", continue_last=True)
            assert bobs["conversation_id"] != cid
            assert "alice's secret plan" not in " ".join(_sent(fake_openai))
            # The socket's own -c is the socket user's, not a token holder's.
            mine = await _ask(state, None, prompt="me", continue_last=True)
            assert mine["conversation_id"] not in {cid, bobs["conversation_id"]}
            # Alice herself continues, by id and as her last.
            assert (await _ask(state, A, prompt="go on", conversation_id=cid))[
                "conversation_id"
            ] == cid
            assert "alice's secret plan" in _sent(fake_openai)
            last = await _ask(state, A, prompt="and then", continue_last=True)
            assert last["conversation_id"] == cid
            return str(cid)
        finally:
            await state.aclose()

    async def after_restart(cid: str) -> None:
        state = _state(short_home, fake_openai)  # nothing hot: ownership from the ledger
        try:
            with pytest.raises(UsageError, match="no conversation"):
                await ask_events(state, {"prompt": "x", "conversation_id": cid}, B)
            with pytest.raises(UsageError, match="no conversation"):
                await ask_events(state, {"prompt": "x", "conversation_id": "c-made-up"}, A)
            bobs = await _ask(state, B, prompt="again", continue_last=True)
            assert bobs["conversation_id"] != cid
            assert "alice's secret plan" not in " ".join(_sent(fake_openai))
            again = await _ask(state, A, prompt="resume", continue_last=True)
            assert again["conversation_id"] == cid
            assert "alice's secret plan" in _sent(fake_openai)
            # The daemon's own user (the socket) is trusted with any conversation by id.
            assert (await _ask(state, None, prompt="peek", conversation_id=cid))[
                "conversation_id"
            ] == cid
        finally:
            await state.aclose()

    cid = asyncio.run(first_daemon())
    asyncio.run(after_restart(cid))
