"""Folding the daemon's events into a run (no screen needed)."""

from __future__ import annotations

from typing import Any

from superllm_cli.runstate import RunState, objections_of, readable
from tests.tui.scripted import debate_events, redteam_events


def _msg(name: str, text: str, round_: int = 0, cost: float | None = 0.001) -> dict[str, Any]:
    usage = {"input_tokens": 10, "output_tokens": 5, "cached_tokens": 0}
    return {"type": "message", "run_id": "r", "participant": name, "round": round_,
            "text": text, "usage": usage, "cost_usd": cost, "latency_ms": 100}  # fmt: skip


def test_lanes_are_the_labels_the_daemon_announces() -> None:
    state = RunState()
    state.apply({"type": "run.started", "run_id": "r", "mode": "consensus",
                 "participants": ["m", "m"], "labels": ["m", "m#2"]})  # fmt: skip
    assert list(state.lanes) == ["m", "m#2"]
    # A transcript recorded before labels: lanes as its events name them.
    old = RunState()
    old.apply({"type": "run.started", "run_id": "r", "mode": "consensus",
               "participants": ["m", "m"]})  # fmt: skip
    old.apply(_msg("m#2", "x"))
    assert list(old.lanes) == ["m", "m#2"]


def test_a_retry_shows_then_the_new_attempt_replaces_the_text() -> None:
    state = RunState()
    state.apply({"type": "delta", "participant": "m", "round": 0, "text": "half "})
    state.apply({"type": "retry", "participant": "m", "attempt": 1, "code": "rate_limited",
                 "message": "slow down", "wait_s": 0.1})  # fmt: skip
    lane = state.lanes["m"]
    assert lane.status == "retried" and lane.retries == 1 and "slow down" in (lane.error or "")
    state.apply(_msg("m", "whole answer"))
    assert lane.status == "done" and lane.error is None and lane.text_at(0) == "whole answer"
    state.apply({"type": "delta", "participant": "m", "round": 0, "text": "again"})
    assert lane.text_at(0) == "again"  # a finished turn streamed anew starts empty


def test_totals_count_unpriced_calls_as_unknown_not_free() -> None:
    state = RunState()
    state.apply(_msg("a", "x", cost=0.002))
    state.apply(_msg("b", "y", cost=None))
    assert state.totals() == (20, 10, 0.002, 1)  # the known sum and one unpriced call
    state.apply({"type": "error", "participant": "c", "code": "auth", "message": "bad key",
                 "retryable": False})  # fmt: skip
    assert state.lanes["c"].status == "failed" and state.calls == 3
    state.apply({"type": "error", "participant": None, "code": "x", "message": "boom"})
    assert state.error == "x: boom"


def test_rounds_agreement_and_the_final_result() -> None:
    state = RunState()
    for event in debate_events():
        state.apply(event)
    assert state.finished and state.last_round == 1 and state.agreement == 1.0
    assert [r.agreement for r in state.rounds.values()] == [1 / 3, 1.0]
    assert state.lanes["fake/beta"].text_at(0).startswith("Left to right")
    assert state.lanes["fake/beta"].text_at(5).startswith("I evaluated")  # latest up to 5
    assert state.judge is not None and state.judge.name == "fake/judge"
    assert state.totals()[:2] == (280, 96)


def test_redteam_objections_are_read_live_from_the_roles_json() -> None:
    state = RunState()
    events = redteam_events()
    for event in events[:-1]:  # before run.finished: parsed from the answers
        state.apply(event)
    live = objections_of(state)
    assert [o["id"] for o in live] == ["O1", "O2"]
    assert live[0]["response"]["action"] == "accept" and live[0]["valid"] is True
    assert live[1]["valid"] is False and live[1]["reason"] == "not a flaw"
    red = state.lanes["fake/red"].text_at(0)
    assert readable(red).startswith("- (high) Adds before multiplying")
    assert "Final answer: 411" in readable(state.judge.text_at(0) if state.judge else "")
    assert readable("plain prose { not json") == "plain prose { not json"
