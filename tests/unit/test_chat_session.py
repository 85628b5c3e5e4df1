"""``superllm chat``'s session without a terminal: what a turn sends, what the chat cost."""

from __future__ import annotations

from superllm_cli import _calls
from superllm_cli.chat import ChatSession


def test_a_turn_is_the_sdks_ask_call() -> None:
    session = ChatSession(client=None, model="m/x", system="be brief", continue_last=True)
    first = session._request("hi")
    assert first == _calls.ask("hi", model="m/x", system="be brief", continue_last=True)
    session.conversation_id = "c1"  # once the daemon has named it, the chat stays in it
    later = session._request("more")
    assert later.body is not None and later.body["conversation_id"] == "c1"
    assert not later.body["continue_last"]


def test_the_cost_is_the_priced_sum_plus_the_unpriced_calls() -> None:
    session = ChatSession(client=None, write=lambda text: None)
    usage = {"input_tokens": 3, "output_tokens": 4, "cached_tokens": 0}
    session._settle("a", "x", {"usage": usage, "cost_usd": 0.0125, "conversation_id": "c1"})
    session._settle("b", "y", {"usage": usage, "cost_usd": None})
    line = session.cost_line()
    assert "2 turns" in line and "6 in / 8 out" in line
    assert "$0.0125 + 1 unpriced" in line and "conversation c1" in line
