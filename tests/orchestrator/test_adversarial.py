"""redteam (critique and dispute) and validated JSON output, in-process (§1.4, §4.4, §6.3)."""

from __future__ import annotations

import asyncio
import builtins
import json
import math
import re
from typing import Any

import pytest

from superllmd.errors import BadRequest
from superllmd.orchestrator import adversarial
from superllmd.orchestrator.context import RunContext
from superllmd.orchestrator.run import Caller
from superllmd.orchestrator.structured import (
    InvalidOutput,
    SchemaError,
    arr,
    ask_json,
    check_schema,
    obj,
    parse_json,
    validate,
)
from superllmd.providers.base import Message
from tests.fakes.roles import Messages, Roles, arithmetic_item, run_inprocess, targets

BLUE, RED, JUDGE = "acme/alpha", "zeta/omega", "jury/judge"


def run(
    prompt: str,
    policy: Any,
    panel: tuple[str, ...] = (BLUE, RED),
    judge: str | None = JUDGE,
    **request: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    request = {"prompt": prompt, "seed": 1, **request}
    judge_target = targets(policy, judge)[0] if judge else None
    return asyncio.run(
        run_inprocess("redteam", adversarial.run, request, targets(policy, *panel), judge_target)
    )


# --------------------------------------------------------------------------- structured JSON


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ('Sure!\n```json\n{"a": [1, 2]}\n```\nDone.', {"a": [1, 2]}),
        ('The verdict: {"winner": "A"} -- final.', {"winner": "A"}),
        ("[1, 2, 3]", [1, 2, 3]),
        ('noise { not json } then {"ok": true}', {"ok": True}),
    ],
)
def test_parse_json_finds_the_value(reply: str, value: Any) -> None:
    assert parse_json(reply) == value


@pytest.mark.parametrize(
    "reply",
    [
        "{'a': 1}",  # a Python literal, not JSON
        "{\"a\": __import__('os').getpid()}",
        '{"a": NaN}',
        "no json here",
        "",
    ],
)
def test_parse_json_never_evaluates(reply: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("model output was evaluated")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    with pytest.raises(ValueError):
        parse_json(reply)


def test_validate_reports_every_problem() -> None:
    schema = obj(
        "id items",
        id={"type": "integer", "minimum": 1},
        items=arr(obj("name", name={"type": "string", "pattern": "^[a-z]+$"})),
        kind={"enum": ["x", "y"]},
    )
    assert validate({"id": 2, "items": [{"name": "ok"}], "kind": "x"}, schema) == []
    errors = validate({"id": True, "items": [{"name": "BAD"}, {}], "kind": "z"}, schema)
    assert errors == [
        "$.id: expected integer, got boolean",
        "$.items[0].name: does not match /^[a-z]+$/",
        "$.items[1]: missing required key 'name'",
        '$.kind: must be one of "x", "y"',
    ]
    assert validate([1], {"type": "object"}) == ["$: expected object, got array"]
    closed = {"type": "object", "additionalProperties": False, "properties": {"a": {}}}
    assert validate({"a": 1, "b": 2}, closed) == ["$: unexpected key 'b'"]


def test_any_of_as_pydantic_writes_optional_fields_and_unions() -> None:
    schema = obj(
        "name kind",
        name={"anyOf": [{"type": "string"}, {"type": "null"}]},
        kind={"anyOf": [{"type": "integer", "minimum": 1}, {"enum": ["x"]}]},
    )
    check_schema(schema)
    assert validate({"name": None, "kind": 3}, schema) == []
    assert validate({"name": "a", "kind": "x"}, schema) == []
    assert validate({"name": 5, "kind": 0}, schema) == [
        "$.name: matches none of anyOf (closest: $.name: expected string, got number)",
        "$.kind: matches none of anyOf (closest: $.kind: must be >= 1)",
    ]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "object", "oneOf": []}, "unsupported keyword"),
        ({"anyOf": []}, "anyOf must be a non-empty list"),
        ({"anyOf": [{"format": "email"}]}, r"\$\.anyOf\[0\]: unsupported keyword"),
        ({"type": "thing"}, "type must be one of"),
        ({"properties": {"a": {"format": "email"}}}, r"\$\.a: unsupported keyword"),
        ({"pattern": "("}, "bad pattern"),
        ([], "must be a table"),
    ],
)
def test_check_schema_rejects_what_it_would_ignore(schema: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        check_schema(schema)


class Scripted:
    """Replies from a list, recording every request it saw."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.seen: list[Messages] = []

    def __call__(self, model: str, messages: Messages) -> str:
        self.seen.append(list(messages))
        return self.replies.pop(0)


def ask(policy: Any) -> Any:
    async def go() -> Any:
        target = targets(policy, "p/m")[0]
        ctx = RunContext("redteam", {"prompt": "q"}, [target], Caller())
        schema = obj("winner", winner={"enum": ["A", "B"]})
        return await ask_json(ctx, target, [Message("user", "Reply in JSON")], schema)

    return asyncio.run(go())


def test_invalid_json_is_retried_then_fails_cleanly() -> None:
    policy = Scripted("I pick A", "{'winner': 'A'}", '{"winner": "C"}', '{"winner": "A"}')
    got = ask(policy)
    assert not got.ok and got.attempts == 3 and len(policy.seen) == 3
    assert got.errors[0].startswith("not JSON") and "must be one of" in got.errors[2]
    retry = policy.seen[1]  # the model sees its own reply and what was wrong with it
    assert retry[-2] == ("assistant", "I pick A") and "not valid" in retry[-1][1]
    with pytest.raises(InvalidOutput, match="no valid JSON after 3 attempt"):
        got.require("the judge")
    assert InvalidOutput("x").exit_code == 4


def test_valid_json_after_one_retry() -> None:
    got = ask(Scripted("oops", 'Here: {"winner": "B"}'))
    assert got.ok and got.value == {"winner": "B"} and got.attempts == 2


def test_provider_failure_is_not_retried_as_bad_json() -> None:
    def broken(model: str, messages: Messages) -> str:
        raise BadRequest("nope")

    got = ask(broken)
    assert not got.ok and got.attempts == 1 and isinstance(got.provider_error, BadRequest)
    with pytest.raises(BadRequest):
        got.require("the judge")


# --------------------------------------------------------------------------- critique


def test_planted_error_is_found_fixed_and_upheld() -> None:
    question, gold, wrong = arithmetic_item(1)
    result, events = run(question, Roles(blue_accuracy=0.0))
    report = result["report"]
    assert report["blue_answer"].endswith(f"FINAL ANSWER: {gold}")
    assert result["answer"].endswith(f"FINAL ANSWER: {gold}")
    assert report["verdict"] == "revise" and report["upheld"] == ["O1"] and report["open"] == []
    assert report["objections"][0]["response"]["action"] == "accept"
    assert str(wrong) in report["objections"][0]["claim"]
    assert report["residual_risks"] == ["checked by hand only"]
    assert report["stop_reason"] == "the judge found no valid open objection"
    assert result["agreement"] == 1.0 and result["strategy"] == "critique"
    assert result["judge"]["model"] == JUDGE
    judged = [e for e in events if e["type"] == "judge.message"]
    assert [e["participant"] for e in judged] == [JUDGE]
    assert all(e["participant"] in (BLUE, RED) for e in events if e["type"] == "message")


def test_false_alarm_is_rebutted_and_rejected() -> None:
    question, gold, _ = arithmetic_item(2)
    result, _ = run(question, Roles(false_alarm=1.0))
    report = result["report"]
    assert result["answer"].endswith(f"FINAL ANSWER: {gold}")
    assert report["verdict"] == "blue" and report["upheld"] == []
    assert report["objections"][0]["response"]["action"] == "rebut"
    assert report["objections"][0]["valid"] is False


def test_no_objection_still_gets_a_verdict() -> None:
    question = arithmetic_item(3)[0]
    roles = Roles()
    result, _ = run(question, roles)
    assert result["report"]["stop_reason"] == "red raised no new objection"
    assert result["report"]["verdict"] == "blue" and result["report"]["objections"] == []
    assert roles.calls == {"answer": 1, "red": 1, "judge": 1}


class Relentless(Roles):
    """Red always finds something new; the judge always keeps it open."""

    def _red(self, model: str, prompt: str, messages: Messages) -> str:
        n = prompt.count("\n- ")
        claims = ["the proof skips a case", "a unit is wrong", "an edge input crashes", "x"]
        return json.dumps({"objections": [{"claim": claims[n], "evidence": "see line 2"}]})

    def _judge(self, model: str, prompt: str, messages: Messages) -> str:
        ids = re.findall(r"\[(O\d+)\]", prompt)
        rulings = [{"id": i, "valid": True, "resolved": False, "reason": "r"} for i in ids]
        return json.dumps(
            {
                "objections": rulings,
                "preference": "red",
                "final_answer": "a safer answer",
                "residual_risks": "edge cases",
            }
        )


@pytest.mark.parametrize("rounds", [1, 2, 3])
def test_rounds_cap_the_loop(rounds: int) -> None:
    roles = Relentless()
    result, events = run("Is this proof right?", roles, rounds=rounds)
    report = result["report"]
    assert report["stop_reason"] == f"{rounds} round(s) reached"
    assert len(report["objections"]) == rounds and report["open"] == report["upheld"]
    assert roles.calls["red"] == roles.calls["judge"] == roles.calls["respond"] == rounds
    assert result["answer"] == "a safer answer" and report["verdict"] == "red"
    assert report["residual_risks"] == ["edge cases"]
    assert result["agreement"] == 0.0
    assert [e["round"] for e in events if e["type"] == "round.finished"] == list(range(rounds))


def test_repeated_objections_are_not_new() -> None:
    class Repeating(Relentless):
        def _red(self, model: str, prompt: str, messages: Messages) -> str:
            return json.dumps({"objections": [{"claim": "The proof skips a case!"}]})

    roles = Repeating()
    result, _ = run("Is this proof right?", roles, rounds=3)
    assert result["report"]["stop_reason"] == "red raised no new objection"
    assert roles.calls["red"] == 2 and len(result["report"]["objections"]) == 1


def test_unreadable_json_degrades_instead_of_failing() -> None:
    question, _, _ = arithmetic_item(4)
    roles = Roles(json_ok=False)
    result, _ = run(question, roles)
    report = result["report"]
    assert result.get("error") is None and result["answer"].startswith("Working")
    assert report["verdict"] == "undecided" and report["objections"] == []
    assert any("treated as none" in w for w in report["warnings"])
    assert any("ruling could not be read" in w for w in report["warnings"])
    assert roles.calls == {"answer": 1, "red": 3, "judge": 3}  # each JSON role: 1 + 2 retries


def test_budget_stop_keeps_the_report() -> None:
    question, _, wrong = arithmetic_item(8)
    result, _ = run(question, Roles(blue_accuracy=0.0), max_calls=2)  # blue, then red
    report = result["report"]
    assert result["stopped"] == report["stop_reason"] == "max calls (2) reached"
    assert result["answer"].endswith(f"FINAL ANSWER: {wrong}")  # nothing overturned it yet
    assert report["verdict"] == "undecided" and [o["id"] for o in report["objections"]] == ["O1"]


def test_one_model_plays_every_role() -> None:
    result, events = run(arithmetic_item(5)[0], Roles(blue_accuracy=0.0), panel=(BLUE,), judge=None)
    assert result["report"]["roles"] == {"blue": BLUE, "red": BLUE, "judge": BLUE}
    names = {e["participant"] for e in events if e["type"] == "message"}
    assert names == {f"{BLUE} (blue)", f"{BLUE} (red)"}
    # run.started announces the same two names, so a client draws two lanes, not one.
    assert events[0]["labels"] == [f"{BLUE} (blue)", f"{BLUE} (red)"]


def test_two_models_are_announced_by_their_names() -> None:
    _, events = run("q?", Roles(), panel=(BLUE, RED, "third/model"), judge=None)
    assert events[0]["type"] == "run.started" and events[0]["labels"] == [BLUE, RED]


def test_judge_defaults_to_a_third_participant() -> None:
    result, _ = run("q?", Roles(), panel=(BLUE, RED, "third/model"), judge=None)
    assert result["report"]["roles"]["judge"] == "third/model"


def test_judges_never_see_provider_names() -> None:
    judge_prompts: list[str] = []

    class Recording(Roles):
        def _answer(self, model: str, prompt: str, messages: Messages) -> str:
            return f"As {BLUE} (Acme/Alpha), I say: " + super()._answer(model, prompt, messages)

        def __call__(self, model: str, messages: Messages) -> str:
            text = " ".join(c for _, c in messages)
            if adversarial.TASK_JUDGE in text or adversarial.TASK_DISPUTE_JUDGE in text:
                judge_prompts.append(text)
            return super().__call__(model, messages)

    roles = Recording(blue_accuracy=0.0)
    question = arithmetic_item(6)[0]
    run(question, roles)
    run(question, roles, mode_options={"submode": "dispute"})
    assert len(judge_prompts) == 3
    masked = "As [a model] ([a model]), I say"  # blue named itself; the dispute judge sees
    assert sum(masked in prompt for prompt in judge_prompts) == 2
    for prompt in judge_prompts:
        for name in ("acme", "alpha", "zeta", "omega"):
            assert name not in prompt.lower()


def test_blue_failure_fails_the_run() -> None:
    def broken(model: str, messages: Messages) -> str:
        raise BadRequest("the prompt is too odd")

    result, _ = run("q?", broken)
    assert result["error"]["code"] == "bad_request"


def test_unknown_submode_is_a_usage_error() -> None:
    result, _ = run("q?", Roles(), mode_options={"submode": "brawl"})
    assert result["error"]["code"] == "usage" and "brawl" in result["error"]["message"]


def test_critique_accuracy_matches_closed_form() -> None:
    """Blue right half the time, red finds 70% of errors and cries wolf 20% of the time, the
    judge is accurate: final accuracy p + (1-p)·detect, and no right answer is lost."""
    roles = Roles(seed=3, blue_accuracy=0.5, detect=0.7, false_alarm=0.2)
    n, correct, lost = 600, 0, 0
    for i in range(n):
        question, gold, _ = arithmetic_item(i, seed=3)
        result, events = run(question, roles, seed=i)
        first = next(e["text"] for e in events if e["type"] == "message")
        right = result["answer"].endswith(f"FINAL ANSWER: {gold}")
        correct += right
        lost += first.endswith(f"FINAL ANSWER: {gold}") and not right
    p = 0.5 + 0.5 * 0.7
    assert abs(correct / n - p) < 3 * math.sqrt(p * (1 - p) / n)
    assert lost == 0


# --------------------------------------------------------------------------- dispute


def test_dispute_runs_both_orders_and_picks_the_right_side() -> None:
    question, gold, _ = arithmetic_item(7)
    roles = Roles(blue_accuracy=0.0)
    result, events = run(question, roles, mode_options={"submode": "dispute"}, rounds=2)
    report = result["report"]
    assert report["positions"]["red"] == f"FINAL ANSWER: {gold}"  # red's best alternative
    assert [j["order"] for j in report["judgements"]] in (
        [["blue", "red"], ["red", "blue"]],
        [["red", "blue"], ["blue", "red"]],
    )
    assert report["verdict"] == "red" and result["answer"] == f"FINAL ANSWER: {gold}"
    assert result["agreement"] == 1.0 and not report["uncertain"]
    assert len(report["arguments"]) == 2 and roles.calls["argue"] == 4
    assert len([e for e in events if e["type"] == "judge.message"]) == 2


def test_disagreeing_orders_are_a_tie_unless_a_jury_breaks_it() -> None:
    options = {"submode": "dispute", "answer": "Yes.", "alternative": "No."}
    roles = Roles()  # on a question it cannot check, the judge picks whichever side is first
    result, _ = run("Should we ship?", roles, mode_options=options, rounds=1)
    report = result["report"]
    assert report["verdict"] == "tie" and report["uncertain"] and result["agreement"] == 0.5
    assert result["answer"] == "Yes." and roles.calls["answer"] == roles.calls["alternative"] == 0
    result, _ = run("Should we ship?", roles, panel=(BLUE, RED, "j1/x"), mode_options=options)
    assert result["report"]["verdict"] in ("blue", "red") and len(result["report"]["jury"]) == 1
    assert result["agreement"] == pytest.approx(2 / 3)


def test_both_orders_remove_position_bias() -> None:
    """judge(acc=0.8, position_bias=0.5): one order favours whichever side is shown first
    (0.95 vs 0.85); both orders with ties scored 1/2 make the two cases equal (0.9)."""
    roles = Roles(seed=11, judge_acc=0.8, position_bias=0.5)
    single: dict[bool, list[float]] = {True: [], False: []}
    both: dict[bool, list[float]] = {True: [], False: []}
    for i in range(1000):
        question, gold, wrong = arithmetic_item(i, seed=11)
        right_side = "blue" if i % 2 else "red"
        blue, red = (gold, wrong) if right_side == "blue" else (wrong, gold)
        options = {
            "submode": "dispute",
            "answer": f"FINAL ANSWER: {blue}",
            "alternative": f"FINAL ANSWER: {red}",
        }
        result, _ = run(question, roles, mode_options=options, rounds=1, seed=i)
        first = result["report"]["judgements"][0]
        shown_first = first["order"][0] == right_side
        single[shown_first].append(float(first["winner"] == right_side))
        verdict = result["report"]["verdict"]
        both[shown_first].append(1.0 if verdict == right_side else 0.5 if verdict == "tie" else 0)

    def gap(scores: dict[bool, list[float]]) -> tuple[float, float]:
        means = {k: sum(v) / len(v) for k, v in scores.items()}
        var = {k: sum((x - means[k]) ** 2 for x in v) / (len(v) - 1) for k, v in scores.items()}
        se = math.sqrt(sum(var[k] / len(scores[k]) for k in scores))
        return means[True] - means[False], se

    assert min(len(v) for v in single.values()) > 400
    single_gap, single_se = gap(single)
    both_gap, both_se = gap(both)
    assert abs(single_gap - 0.10) < 3 * single_se  # the bias is there with one order...
    assert single_gap > 3 * single_se
    assert abs(both_gap) < 3 * both_se  # ...and gone with both
    assert abs(both_gap) < single_gap
