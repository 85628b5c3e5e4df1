"""debate, in-process on fake agents: skipping, stopping rules, prompts, ties, budget."""

from __future__ import annotations

import asyncio
from typing import Any

from superllmd.orchestrator import debate
from superllmd.orchestrator.prompts import SYNTH_HEAD, UPDATE_HEAD
from superllmd.protocol import Event, RunResult
from tests.fakes.agents import AgentProvider, Fleet, drive, make_context
from tests.fakes.items import Item, arithmetic_items

ITEM = arithmetic_items(1, seed=21)[0]


def run(
    models: list[str], item: Item | str = ITEM, *, judge: str | None = None, **request: Any
) -> tuple[RunResult, list[Event], AgentProvider]:
    prompt = item if isinstance(item, str) else item.prompt
    ctx, provider = make_context(
        "debate", prompt, models, Fleet(seed=4), judge=judge, seed=2, **request
    )
    events = asyncio.run(drive(ctx, debate.run))
    return events[-1]["result"], events, provider  # type: ignore[typeddict-item]


def rounds_of(events: list[Event]) -> list[dict[str, Any]]:
    return [dict(e) for e in events if e["type"] == "round.finished"]


def test_unanimous_round_zero_skips_the_debate() -> None:
    result, events, _ = run(["oracle@1", "oracle@2", "oracle@3"])
    assert result["answer"] == ITEM.gold_key
    assert (result["rounds"], result["calls"]) == (1, 3)
    assert result["report"]["skipped"] is True and result["report"]["stop"] == "unanimous"
    (finished,) = rounds_of(events)
    assert finished["agreement"] == 1.0 and finished["report"]["stop"] == "unanimous"


def test_stubborn_agents_stop_when_nobody_changes() -> None:
    result, events, _ = run(["oracle@1", "oracle@2", "noisy-0-spread@3"])
    assert result["report"]["stop"] == "stable"
    assert (result["rounds"], result["calls"]) == (2, 6)
    assert result["report"]["changes"] == [[], []]
    assert result["answer"] == ITEM.gold_key
    assert result["report"]["dissent"] == ["fake/noisy-0-spread@3"]
    assert [r["round"] for r in rounds_of(events)] == [0, 1]


def test_corrective_agents_converge_and_the_report_shows_who_moved() -> None:
    models = ["noisy-0-shared+corrective-1-0@1", "noisy-0-shared+corrective-1-0@2", "oracle@3"]
    result, events, _ = run(models)
    wrong = result["report"]["vote_at_0"]["answer"]
    assert wrong != ITEM.gold_key  # two shared wrong answers outvote the right one
    assert result["answer"] == ITEM.gold_key
    assert result["report"]["stop"] == "unanimous"
    assert result["report"]["changes"][1] == [
        {"participant": f"fake/{m}", "from": wrong, "to": ITEM.gold_key} for m in models[:2]
    ]
    assert result["report"]["history"]["fake/oracle@3"] == [ITEM.gold_key] * 2
    agreements = [r["agreement"] for r in rounds_of(events)]
    assert agreements == [2 / 3, 1.0]  # plurality share: 2 of 3 agreed in round 0
    assert rounds_of(events)[1]["report"]["changed"] == [f"fake/{m}" for m in models[:2]]


def test_revision_prompt_shows_the_others_anonymised_with_own_history() -> None:
    models = ["noisy-0-shared+corrective-1-0@1", "noisy-0-spread@2", "oracle@3"]
    _, _, provider = run(models, rounds=2)
    revision = [r for r in provider.requests if r.messages[-1].content.startswith(UPDATE_HEAD)]
    assert len(revision) == 3
    first = next(r for r in revision if r.model == models[0])
    roles = [m.role for m in first.messages]
    assert roles == ["user", "assistant", "user"]  # its own history, then the update
    update = first.messages[-1].content
    assert "Response A:" in update and "Response B:" in update and "Response C:" not in update
    assert first.messages[1].content not in update  # its own answer is not among the others
    assert "fake/" not in update and "oracle" not in update
    assert "specific error" in update and "FINAL ANSWER: <number>" in update
    assert first.temperature == debate.REVISION_TEMPERATURE


def test_rounds_limit() -> None:
    result, _, _ = run(["oracle@1", "noisy-0-spread@2"], rounds=1)
    assert (result["rounds"], result["calls"]) == (1, 2)
    assert result["report"]["stop"] == "max rounds"


def test_max_calls_stops_early_with_what_it_has() -> None:
    result, _, _ = run(["oracle@1", "oracle@2", "noisy-0-spread@3"], max_calls=4)
    assert result["calls"] == 4
    assert result["stopped"] == "max calls (4) reached"
    assert result["report"]["stop"] == "budget"
    assert len(result["report"]["not_called"]) == 2  # round 1 got one call of three
    assert result["answer"] == ITEM.gold_key


def test_threshold_stops_before_debating() -> None:
    models = ["oracle@1", "oracle@2", "oracle@3", "oracle@4", "persuader@5"]
    # 4-1 is a plurality share of 0.8 (the headline figure thresholds use), though only
    # 6 agreeing pairs of 10: the default threshold 0.8 is met by a 4-of-5 majority.
    default, events, _ = run(models)
    assert (default["rounds"], default["report"]["stop"]) == (1, "threshold")
    assert default["agreement"] == 0.8
    (round0,) = rounds_of(events)
    assert round0["report"]["mean_pairwise_agreement"] == 0.6
    strict, _, _ = run(models, threshold=0.9)
    assert strict["rounds"] == 2 and strict["report"]["stop"] == "stable"


def test_final_tie_goes_to_support_across_rounds() -> None:
    # Round 0: 3 right, 1 wrong; the susceptible agent caves in round 1: a 2-2 tie that the
    # votes summed over rounds (7 against 5) settle.
    models = ["oracle@1", "oracle@2", "oracle+corrective-0-1@3", "persuader@4"]
    result, _, _ = run(models)
    assert result["report"]["history"]["fake/oracle+corrective-0-1@3"][:2] != [
        ITEM.gold_key,
        ITEM.gold_key,
    ]
    assert result["report"]["tie_break"]["by"] == "support across rounds"
    assert result["answer"] == ITEM.gold_key


def test_final_tie_without_support_goes_to_the_judge_else_first() -> None:
    models = ["noisy-0-spread@1", "oracle@2"]
    plain, _, _ = run(models)
    assert plain["report"]["tie_break"]["by"] == "first configured"
    assert plain["answer"] != ITEM.gold_key
    judged, events, _ = run(models, judge="judge-1-0")
    assert judged["report"]["tie_break"]["by"] == "judge"
    assert judged["answer"] == ITEM.gold_key
    assert any(e["type"] == "judge.message" for e in events)


def test_free_text_debate_ends_in_a_synthesis() -> None:
    result, _, provider = run(["oracle@1", "oracle@2"], "Describe a good API in one line.")
    assert result["strategy"] == "synthesize"
    assert result["judge"] is not None and result["judge"]["task"] == "synthesis"
    assert result["answer"] == result["judge"]["answer"]
    assert any(r.messages[-1].content.startswith(SYNTH_HEAD) for r in provider.requests)


def test_every_agent_failing_fails_the_run() -> None:
    result, _, _ = run(["error-401", "error-500"])
    assert result["error"] is not None and result["error"]["code"] == "provider"
