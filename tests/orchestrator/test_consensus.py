"""consensus, in-process on fake agents: every strategy, failures, quorum, sampling, judges."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from superllmd.errors import BudgetExceeded
from superllmd.orchestrator import consensus
from superllmd.orchestrator.context import RunContext
from superllmd.orchestrator.council import borda, kendall_w
from superllmd.orchestrator.judge import JSON_ATTEMPTS, parse_json_object, show
from superllmd.orchestrator.prompts import JSON_RETRY, PICK_HEAD, SYNTH_HEAD
from superllmd.protocol import Event, RunResult
from tests.fakes.agents import AgentProvider, Fleet, drive, make_context
from tests.fakes.items import Item, arithmetic_items

ITEM = arithmetic_items(1, seed=11)[0]
BIG = next(it for it in arithmetic_items(50, seed=12, high=999) if abs(it.gold) >= 1000)
CHOICE = arithmetic_items(1, seed=13, choice=True)[0]


def run(
    models: list[str], item: Item | str = ITEM, *, judge: str | None = None, **request: Any
) -> tuple[RunResult, list[Event], AgentProvider]:
    prompt = item if isinstance(item, str) else item.prompt
    ctx, provider = make_context(
        "consensus", prompt, models, Fleet(seed=3), judge=judge, seed=1, **request
    )
    events = asyncio.run(drive(ctx, consensus.run))
    return events[-1]["result"], events, provider  # type: ignore[typeddict-item]


def prompts_to(provider: AgentProvider, model: str) -> list[str]:
    return [r.messages[-1].content for r in provider.requests if r.model == model]


# --------------------------------------------------------------------------- vote


def test_vote_reads_mixed_answer_formats() -> None:
    models = ["oracle+fmt-tag@1", "oracle+fmt-boxed@2", "oracle+fmt-dollar@3"]
    result, _, _ = run(models, BIG)
    assert result["answer"] == BIG.gold_key
    assert result["strategy"] == "vote"
    assert result["agreement"] == 1.0
    assert result["report"]["agreement"]["distribution"] == {
        BIG.gold_key: [f"fake/{m}" for m in models]
    }
    texts = [p["answer"] or "" for p in result["participants"]]
    assert f"FINAL ANSWER: {int(BIG.gold):,}" in texts[0] and "," in texts[0]
    assert "\\boxed{" in texts[1] and "The answer is $" in texts[2]


def test_vote_on_multiple_choice() -> None:
    models = ["oracle+fmt-paren@1", "oracle+fmt-tag@2", "noisy-0-shared+fmt-boxed@3"]
    result, _, provider = run(models, CHOICE)
    assert result["report"]["answer_type"] == "choice"
    assert result["answer"] == CHOICE.gold_key
    assert result["report"]["agreement"]["label"] == "strong"
    assert "FINAL ANSWER: <letter>" in prompts_to(provider, "oracle+fmt-paren@1")[0]


def test_plurality_excludes_abstentions() -> None:
    result, _, _ = run(["noisy-0-spread@1", "oracle@2", "oracle@3", "formatless-1@4"])
    agreement = result["report"]["agreement"]
    assert result["answer"] == ITEM.gold_key
    assert agreement["n_valid"] == 3 and agreement["n_abstain"] == 1
    assert agreement["abstain_rate"] == 0.25
    assert "fake/formatless-1@4" in agreement["dissenters"]
    # Headline: 2 of the 3 valid answers agree with the winner; the abstention is no vote.
    assert result["agreement"] == pytest.approx(2 / 3)
    assert agreement["mean_pairwise_agreement"] == pytest.approx(1 / 3)  # one pair of three


def test_tie_goes_to_the_first_configured_without_a_judge() -> None:
    result, events, _ = run(["noisy-0-spread@1", "oracle@2"])
    assert result["answer"] != ITEM.gold_key  # the first participant's (wrong) answer
    assert result["report"]["tie_break"]["by"] == "first configured"
    assert not any(e["type"].startswith("judge") for e in events)


def test_tie_goes_to_the_judge_when_there_is_one() -> None:
    result, events, provider = run(["noisy-0-spread@1", "oracle@2"], judge="judge-1-0")
    assert result["answer"] == ITEM.gold_key
    assert result["report"]["tie_break"]["by"] == "judge"
    assert result["judge"] == {
        "model": "fake/judge-1-0",
        "answer": result["report"]["response"],
        "task": "tie-break",
    }
    assert any(e["type"] == "judge.message" for e in events)
    (prompt,) = prompts_to(provider, "judge-1-0")
    assert prompt.startswith(PICK_HEAD)
    assert "fake/" not in prompt and "noisy" not in prompt and "oracle" not in prompt


def test_a_judge_that_never_writes_json_is_retried_twice_then_voting_decides() -> None:
    result, _, provider = run(["noisy-0-spread@1", "oracle@2"], judge="garbled")
    asked = [r for r in provider.requests if r.model == "garbled"]
    assert len(asked) == JSON_ATTEMPTS == 3
    assert asked[-1].json_output and asked[-1].temperature == 0.0
    retry = asked[-1].messages[-1].content
    assert retry == JSON_RETRY.format(problem="it contained no JSON object")
    assert result["report"]["tie_break"]["by"] == "first configured"
    assert result["judge"] is None


# --------------------------------------------------------------------------- failures, quorum


def test_a_failed_participant_is_reported_and_the_run_goes_on() -> None:
    result, events, _ = run(["oracle@1", "error-401", "oracle@2"])
    assert result["answer"] == ITEM.gold_key and result.get("error") is None
    assert result["report"]["failed"] == [
        {
            "participant": "fake/error-401",
            "round": 0,
            "code": "auth",
            "message": "fake agent failed with 401",
        }
    ]
    failed = [p for p in result["participants"] if p["model"] == "fake/error-401"]
    assert failed[0]["error"] == {"code": "auth", "message": "fake agent failed with 401"}
    assert any(e["type"] == "error" and e["participant"] == "fake/error-401" for e in events)


def test_every_participant_failing_fails_the_run() -> None:
    result, _, _ = run(["error-401", "error-404"])
    assert result["error"] is not None
    assert result["error"]["code"] == "provider"
    assert "every participant failed" in result["error"]["message"]
    assert result["answer"] is None


def test_flaky_participants_are_retried() -> None:
    result, _, provider = run(["flaky-0.5@1", "flaky-0.5@2", "flaky-0.5@3"])
    assert result["answer"] == ITEM.gold_key
    assert result["calls"] == len(provider.requests) > 3  # attempts, not just successes


def test_quorum_takes_the_first_answers_and_reports_the_rest_late() -> None:
    started = time.perf_counter()
    result, _, _ = run(["oracle@1", "oracle+delay-2000@2", "oracle@3"], quorum=2)
    assert time.perf_counter() - started < 1.5
    assert result["answer"] == ITEM.gold_key
    assert result["report"]["late"] == [{"participant": "fake/oracle+delay-2000@2", "round": 0}]
    late = [p for p in result["participants"] if p["model"] == "fake/oracle+delay-2000@2"]
    assert late[0]["error"] is not None and late[0]["error"]["code"] == "cancelled"
    assert result["report"]["agreement"]["n_valid"] == 2


def test_usage_errors() -> None:
    for request in ({"strategy": "nope"}, {"quorum": 4}, {"samples": "lots"}):
        result, _, _ = run(["oracle@1", "oracle@2"], **request)
        assert result["error"] is not None and result["error"]["code"] == "usage", request
    result, _, _ = run(["oracle@1"], answer_type="number")
    assert result["error"] is not None and "answer type" in result["error"]["message"]


# --------------------------------------------------------------------------- sampling


def test_samples_auto_stops_on_three_unanimous() -> None:
    result, _, _ = run(["oracle@1", "oracle@2", "oracle@3"], samples="auto")
    assert result["calls"] == 3
    assert result["report"]["sampling"]["stop"] == "confident"
    assert result["report"]["sampling"]["beta_confidence"] == 0.9375


def test_samples_auto_tops_up_a_split_round_robin() -> None:
    # 2-1 (0.6875) -> three more (one each) -> 4-2 (0.77) -> two more -> 6-2 (0.91): stop.
    result, _, provider = run(["oracle@1", "oracle@2", "persuader@3"], samples="auto")
    sampling = result["report"]["sampling"]
    assert (sampling["samples"], sampling["top_up"], sampling["stop"]) == (8, 5, "confident")
    assert [r.model for r in provider.requests][3:] == [
        "oracle@1",
        "oracle@2",
        "persuader@3",
        "oracle@1",
        "oracle@2",
    ]
    assert result["answer"] == ITEM.gold_key


def test_fixed_samples_is_self_consistency() -> None:
    result, _, _ = run(["noisy-0.5-spread@1"], samples="5")
    assert result["calls"] == 5 and result["report"]["sampling"]["mode"] == "fixed"
    assert consensus.samples_needed([2, 1]) == 3 and consensus.samples_needed([3]) == 0


# --------------------------------------------------------------------------- other strategies


def test_medoid_picks_a_panel_answer_with_no_extra_call() -> None:
    result, _, _ = run(["oracle@1", "oracle@2", "noisy-0-spread@3"], strategy="medoid")
    texts = [p["answer"] for p in result["participants"]]
    assert result["answer"] in texts and result["calls"] == 3
    assert result["report"]["medoid"] in {"fake/oracle@1", "fake/oracle@2"}


def test_usc_picks_the_most_consistent_answer() -> None:
    models = ["noisy-0-shared@1", "noisy-0-shared@2", "oracle@3"]
    plain, _, _ = run(models, strategy="usc")
    assert plain["answer"] != ITEM.gold_key  # consistency, not correctness
    assert plain["calls"] == 4 and plain["judge"] is not None
    assert plain["judge"]["model"] == "fake/noisy-0-shared@1"  # default: the first participant
    judged, _, _ = run(models, strategy="usc", judge="judge-1-0")
    assert judged["answer"] == ITEM.gold_key
    fallback, _, _ = run(models, strategy="usc", judge="garbled")
    assert fallback["report"]["fallback"].startswith("vote")
    assert fallback["calls"] == 3 + JSON_ATTEMPTS


def test_synthesize_is_the_default_for_free_text() -> None:
    result, events, provider = run(["oracle@1", "oracle@2"], "Write a haiku about autumn rain.")
    assert result["strategy"] == "synthesize"
    assert result["report"]["answer_type"] == "free"
    assert result["report"]["agreement"]["kind"] == "text"
    assert result["judge"] is not None and result["judge"]["model"] == "fake/oracle@1"
    assert result["answer"] == result["judge"]["answer"]
    synth = [p for p in prompts_to(provider, "oracle@1") if p.startswith(SYNTH_HEAD)]
    assert len(synth) == 1 and "Response A" in synth[0] and "Response B" in synth[0]
    assert "FINAL ANSWER" not in synth[0]  # no format instruction for free text
    assert [e["type"] for e in events].count("judge.message") == 1


def test_synthesize_with_a_judge_never_shows_names() -> None:
    models = ["noisy-0-shared@1", "oracle@2", "oracle@3"]
    result, _, provider = run(models, strategy="synthesize", judge="judge-1-0")
    (prompt,) = prompts_to(provider, "judge-1-0")
    assert "fake/" not in prompt and "oracle" not in prompt
    assert ITEM.gold_key in (result["answer"] or "")


def test_council_ranks_peers_excluding_self_votes() -> None:
    models = ["noisy-0-spread@1", "oracle@2", "oracle@3", "noisy-0-spread@4"]
    result, _, _ = run(models, strategy="council")
    council = result["report"]["council"]
    assert result["calls"] == 2 * len(models) + 1
    # Each fake prefers its own answer: the wrong ones rank themselves first, and only
    # excluding self-votes puts the two right answers on top.
    assert {"fake/noisy-0-spread@1", "fake/noisy-0-spread@4"} <= set(council["self_first"])
    assert council["ballots"]["fake/noisy-0-spread@1"][0] == "fake/noisy-0-spread@1"
    names = [f"fake/{m}" for m in models]
    ballots = [[names.index(x) for x in council["ballots"][name]] for name in names]
    excluded = borda([[c for c in b if c != k] for k, b in enumerate(ballots)], len(names))
    assert [council["borda"][name] for name in names] == [round(x, 4) for x in excluded]
    assert excluded != borda(ballots, len(names))  # the exclusion changed the scores
    assert set(council["ranking"][:2]) == {"fake/oracle@2", "fake/oracle@3"}
    assert 0.0 <= council["kendall_w"] <= 1.0
    assert ITEM.gold_key in (result["answer"] or "")
    assert result["judge"] is not None and result["judge"]["task"] == "chair"


def test_borda_and_kendall_w() -> None:
    assert borda([[1, 2], [0, 2], [0, 1]], 3) == [1.0, 0.5, 0.0]
    assert kendall_w([[0, 1, 2]] * 4, 3) == 1.0
    assert kendall_w([[0, 1, 2]], 3) is None


# --------------------------------------------------------------------------- hygiene


def test_same_seed_same_transcript() -> None:
    def transcript() -> list[tuple[str, str]]:
        _, events, _ = run(
            ["noisy-0.5-spread@1", "noisy-0.5-spread@2", "oracle@3"], strategy="council"
        )
        return [(e["type"], str(e.get("text", ""))) for e in events[1:-1]]

    assert transcript() == transcript()


def test_judge_output_is_parsed_never_evaluated() -> None:
    assert parse_json_object("__import__('os').system('false')") is None
    assert parse_json_object('{"choice": 1') is None
    assert parse_json_object('```json\n{"a": [1]}\n``` then {"b": 2}') == {"a": [1]}


def test_show_masks_names_and_shuffles_per_recipient() -> None:
    ctx, _ = make_context("consensus", "q", ["oracle@1", "oracle@2"], Fleet(), seed=5)
    assert isinstance(ctx, RunContext)
    texts = ["As fake/oracle@1, I say 3.", "I say 4.", "I say 5.", "I say 6."]
    orders = {tuple(i for _, i in ctx.anonymise(texts, r)) for r in range(8)}
    assert len(orders) > 1
    shown = show(ctx, texts, recipient=0)
    assert all("fake/" not in text for _, text in shown.labelled)
    assert sorted(shown.index.values()) == [0, 1, 2, 3]


# --------------------------------------------------------------------------- embeddings


class _Embedder(AgentProvider):
    """Embeds every text to the same direction: by meaning, all answers agree."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__(Fleet(seed=0))
        self.fail = fail
        self.embedded: list[list[str]] = []

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        from superllmd.errors import ProviderConnectionError

        self.embedded.append(texts)
        if self.fail:
            raise ProviderConnectionError("embedding service down")
        return [[1.0, 0.0] for _ in texts]


def _free_text_run(embedder: _Embedder | None) -> RunResult:
    from superllmd.providers.registry import Target

    prompt = "Write a short poem about the sea."  # free text: no extractable answer
    ctx, _ = make_context(
        "consensus",
        prompt,
        ["fake/a", "fake/b", "fake/c"],
        Fleet(seed=5),
        strategy="medoid",
        seed=1,
    )
    ctx.embedder = Target(embedder, "emb") if embedder else None
    events = asyncio.run(drive(ctx, consensus.run))
    return events[-1]["result"]  # type: ignore[typeddict-item]


def test_free_text_agreement_uses_embeddings_when_configured() -> None:
    lexical = _free_text_run(None)
    assert lexical["report"]["similarity"] == "lexical"
    embedder = _Embedder()
    by_meaning = _free_text_run(embedder)
    assert by_meaning["report"]["similarity"].startswith("embedding:")
    assert embedder.embedded and len(embedder.embedded[0]) == 3
    assert by_meaning["agreement"] == pytest.approx(1.0)  # identical vectors: full agreement
    assert lexical["agreement"] is not None and lexical["agreement"] < 1.0


def test_embedding_failure_falls_back_to_lexical_with_a_warning() -> None:
    result = _free_text_run(_Embedder(fail=True))
    assert result["report"]["similarity"] == "lexical"
    assert any("embedding" in w for w in result["report"]["warnings"])
    assert result["warnings"]  # and it reaches the CLI's stderr


# --------------------------------------------------------------------------- budget refusals


class _Refuses:
    """A before-call hook standing in for a budget that refuses some models' calls."""

    def __init__(self, *models: str) -> None:
        self.models = models

    async def before_call(self, call: Any) -> None:
        if call.target.model in self.models:
            raise BudgetExceeded(f"{call.target.model} would pass the daily budget")

    def after_call(self, *args: Any) -> None:
        return None


@pytest.mark.parametrize(
    ("models", "expected"),
    [(["oracle@1", "oracle@2"], "budget"), (["oracle@1", "error-401"], "provider")],
)
def test_a_panel_the_budget_refused_fails_as_over_budget(models: list[str], expected: str) -> None:
    """Every call refused: the run is over budget (exit 5); a refusal beside a provider's
    failure is the provider's failure (exit 4). Decided from the calls' errors, with no
    budget hook relabelling the result afterwards."""
    ctx, _ = make_context("consensus", ITEM.prompt, models, Fleet(seed=3), seed=1)
    ctx.caller.hooks.append(_Refuses("oracle@1", "oracle@2"))
    result = asyncio.run(drive(ctx, consensus.run))[-1]["result"]  # type: ignore[typeddict-item]
    assert result["error"] is not None and result["error"]["code"] == expected, result["error"]
