"""`superllm consensus` and `superllm debate` end to end: the real commands, a real daemon,
and fake agents speaking the OpenAI wire format over HTTP (tests/fakes/agents.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Cli
from tests.fakes.agents import Fleet, installed
from tests.fakes.items import arithmetic_items
from tests.fakes.openai import FakeOpenAI

ITEM = arithmetic_items(1, seed=31)[0]
BIG = next(it for it in arithmetic_items(50, seed=32, high=999) if abs(it.gold) >= 1000)


@pytest.fixture(autouse=True)
def agents(fake_openai: FakeOpenAI) -> Iterator[Fleet]:
    with installed(fake_openai, Fleet(seed=9)) as fleet:
        yield fleet


def models(*names: str) -> list[str]:
    return [arg for name in names for arg in ("-m", f"fake/{name}")]


def as_json(result: Any) -> dict[str, Any]:
    assert result.stdout, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def events_of(result: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


# --------------------------------------------------------------------------- consensus


def test_consensus_json_shape(cli: Cli) -> None:
    result = cli(
        "consensus", "--json", *models("oracle@1", "oracle@2", "noisy-0-spread@3"), ITEM.prompt
    )
    assert result.returncode == 0, result.stderr
    data = as_json(result)
    assert data["mode"] == "consensus" and data["run_id"]
    assert data["answer"] == ITEM.gold_key
    assert data["strategy"] == "vote"
    assert data["agreement"] == pytest.approx(2 / 3)  # 2 of 3 agree with the winner
    assert data["rounds"] == 1 and data["calls"] == 3
    assert [p["model"] for p in data["participants"]] == [
        "fake/oracle@1",
        "fake/oracle@2",
        "fake/noisy-0-spread@3",
    ]
    for participant in data["participants"]:
        assert participant["answer"] and participant["error"] is None
        assert participant["usage"]["output_tokens"] > 0
        assert set(participant) >= {"cost_usd", "latency_ms"}
    report = data["report"]
    assert report["answer_type"] == "numeric"
    assert report["agreement"]["dissenters"] == ["fake/noisy-0-spread@3"]
    assert data["usage"]["input_tokens"] > 0 and data["judge"] is None


def test_consensus_prints_only_the_answer_in_a_pipe(cli: Cli) -> None:
    result = cli("consensus", *models("oracle@1", "oracle@2"), ITEM.prompt)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{ITEM.gold_key}\n"


def test_consensus_stream_json_events(cli: Cli) -> None:
    result = cli(
        "consensus",
        "--stream-json",
        "--strategy",
        "synthesize",
        "--judge",
        "fake/judge-1-0",
        *models("oracle@1", "noisy-0-shared@2"),
        ITEM.prompt,
    )
    assert result.returncode == 0, result.stderr
    events = events_of(result)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run.started" and kinds[-1] == "run.finished"
    assert events[0]["participants"] == ["fake/oracle@1", "fake/noisy-0-shared@2"]
    assert len({e["run_id"] for e in events}) == 1
    for name in ("fake/oracle@1", "fake/noisy-0-shared@2"):
        assert any(e["type"] == "delta" and e["participant"] == name for e in events)
        assert any(e["type"] == "message" and e["participant"] == name for e in events)
    (finished,) = [e for e in events if e["type"] == "round.finished"]
    assert finished["agreement"] == 0.5 and finished["round"] == 0  # a 1-1 split
    assert kinds.index("round.finished") < kinds.index("judge.delta")
    judge = [e for e in events if e["type"] == "judge.message"]
    assert len(judge) == 1 and judge[0]["participant"] == "fake/judge-1-0"
    final = events[-1]["result"]
    assert final["judge"]["model"] == "fake/judge-1-0"
    assert ITEM.gold_key in final["answer"]


def test_a_failing_participant_is_reported_and_the_run_goes_on(cli: Cli) -> None:
    result = cli("consensus", "--json", *models("oracle@1", "error-401", "oracle@2"), ITEM.prompt)
    assert result.returncode == 0, result.stderr
    data = as_json(result)
    assert data["answer"] == ITEM.gold_key
    (failed,) = data["report"]["failed"]
    assert failed["participant"] == "fake/error-401" and failed["code"] == "auth"
    (entry,) = [p for p in data["participants"] if p["model"] == "fake/error-401"]
    assert entry["error"]["code"] == "auth" and entry["answer"] is None


def test_every_participant_failing_exits_4(cli: Cli) -> None:
    result = cli("consensus", *models("error-401", "error-404"), ITEM.prompt)
    assert result.returncode == 4
    assert "every participant failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_flaky_participants_are_retried_over_http(cli: Cli) -> None:
    result = cli("consensus", "--stream-json", *models("flaky-0.6@1", "flaky-0.6@2"), ITEM.prompt)
    assert result.returncode == 0, result.stderr
    events = events_of(result)
    assert any(e["type"] == "retry" and e["code"] == "rate_limited" for e in events)
    assert events[-1]["result"]["answer"] == ITEM.gold_key


def test_quorum_reports_the_slow_participant_as_late(cli: Cli) -> None:
    # `slow` streams each word after a delay, so the two others finish first.
    result = cli(
        "consensus", "--json", "--quorum", "2", *models("oracle@1", "slow", "oracle@2"), ITEM.prompt
    )
    assert result.returncode == 0, result.stderr
    data = as_json(result)
    assert data["answer"] == ITEM.gold_key
    assert data["report"]["late"] == [{"participant": "fake/slow", "round": 0}]
    (late,) = [p for p in data["participants"] if p["model"] == "fake/slow"]
    assert late["answer"] is None and late["error"]["code"] == "cancelled"
    assert data["report"]["agreement"]["n_valid"] == 2


def test_require_agreement_exits_6_below_the_threshold(cli: Cli) -> None:
    split = cli(
        "consensus",
        "--json",
        "--require-agreement",
        *models("noisy-0-spread@1", "noisy-0-spread@2"),
        ITEM.prompt,
    )
    assert split.returncode == 6, split.stderr
    assert as_json(split)["error"]["code"] == "no_agreement"
    agreed = cli("consensus", "--require-agreement", *models("oracle@1", "oracle@2"), ITEM.prompt)
    assert agreed.returncode == 0, agreed.stderr


def test_vote_reads_mixed_answer_formats(cli: Cli) -> None:
    result = cli(
        "consensus",
        "--json",
        *models("oracle+fmt-tag@1", "oracle+fmt-boxed@2", "oracle+fmt-dollar@3"),
        BIG.prompt,
    )
    assert result.returncode == 0, result.stderr
    data = as_json(result)
    texts = [p["answer"] for p in data["participants"]]
    assert f"FINAL ANSWER: {int(BIG.gold):,}" in texts[0]
    assert "\\boxed{" in texts[1] and "The answer is $" in texts[2]
    assert data["answer"] == BIG.gold_key and data["agreement"] == 1.0


def test_samples_auto_tops_up(cli: Cli) -> None:
    result = cli(
        "consensus",
        "--json",
        "--samples",
        "auto",
        *models("oracle@1", "oracle@2", "persuader@3"),
        ITEM.prompt,
    )
    assert result.returncode == 0, result.stderr
    data = as_json(result)
    assert data["report"]["sampling"]["top_up"] > 0
    assert data["calls"] == data["report"]["sampling"]["samples"]


# --------------------------------------------------------------------------- debate


def test_debate_is_skipped_when_round_zero_is_unanimous(cli: Cli) -> None:
    result = cli("debate", "--json", *models("oracle@1", "oracle@2", "oracle@3"), ITEM.prompt)
    assert result.returncode == 0, result.stderr
    data = as_json(result)
    assert data["mode"] == "debate" and data["answer"] == ITEM.gold_key
    assert (data["rounds"], data["calls"]) == (1, 3)
    assert data["report"]["skipped"] is True


def test_debate_rounds_stream_agreement_and_changes(cli: Cli) -> None:
    result = cli(
        "debate",
        "--stream-json",
        *models("noisy-0-shared+corrective-1-0@1", "noisy-0-shared+corrective-1-0@2", "oracle@3"),
        ITEM.prompt,
    )
    assert result.returncode == 0, result.stderr
    events = events_of(result)
    rounds = [e for e in events if e["type"] == "round.finished"]
    assert [(r["round"], r["agreement"]) for r in rounds] == [(0, pytest.approx(2 / 3)), (1, 1.0)]
    assert len(rounds[1]["report"]["changed"]) == 2
    assert {e["round"] for e in events if e["type"] == "message"} == {0, 1}
    final = events[-1]["result"]
    assert final["answer"] == ITEM.gold_key
    assert final["report"]["vote_at_0"]["answer"] != ITEM.gold_key
    assert final["rounds"] == 2 and final["calls"] == 6


def test_max_calls_stops_a_debate_early(cli: Cli) -> None:
    result = cli(
        "debate",
        "--json",
        "--max-calls",
        "4",
        *models("oracle@1", "oracle@2", "noisy-0-spread@3"),
        ITEM.prompt,
    )
    assert result.returncode == 0, result.stderr
    data = as_json(result)
    assert data["stopped"] == "max calls (4) reached"
    assert data["calls"] == 4 and data["answer"] == ITEM.gold_key


# --------------------------------------------------------------------------- a real model


@pytest.mark.local_model
def test_consensus_medoid_on_the_local_model(cli: Cli) -> None:
    result = cli(
        "consensus",
        "--json",
        "-m",
        "local/smollm2",
        "-m",
        "local/smollm2",
        "--strategy",
        "medoid",
        "--max-output",
        "16",
        "Name one colour of the rainbow.",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data = as_json(result)
    assert data["answer"].strip()
    assert data["strategy"] == "medoid" and data["calls"] == 2
    assert data["report"]["medoid"] in {"local/smollm2", "local/smollm2#2"}
    assert 0.0 <= data["agreement"] <= 1.0


def test_the_run_token_budget_and_its_deprecated_spelling(cli: Cli) -> None:
    panel = models("oracle@1", "oracle@2", "noisy-0-spread@3")
    new = cli("debate", "--json", "--token-budget", "1", *panel, ITEM.prompt)
    assert new.returncode == 0, new.stderr
    assert as_json(new)["stopped"] == "max tokens (1) reached"
    assert "deprecated" not in new.stderr
    # The modes' old --max-tokens (the run budget) still works for a release, and says so.
    old = cli("debate", "--json", "--max-tokens", "1", *panel, ITEM.prompt)
    assert old.returncode == 0, old.stderr
    assert as_json(old)["stopped"] == "max tokens (1) reached"
    assert "--max-tokens in the modes is deprecated" in old.stderr
    assert "--token-budget" in old.stderr
