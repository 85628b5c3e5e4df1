"""chain: workflow validation, templates, checks, nested modes and refine (§4.5)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest

from superllmd.errors import ModelNotFound
from superllmd.orchestrator import chain
from superllmd.orchestrator.chain import WorkflowError, parse_workflow, references, render
from tests.fakes.roles import Messages, Roles, arithmetic_item, run_inprocess, targets

PANEL = ("a/author", "b/critic")


class Worker(Roles):
    """Plays every role; as a plain step it echoes, or writes JSON when asked to."""

    def _answer(self, model: str, prompt: str, messages: Messages) -> str:
        last = messages[-1][1]
        if last.startswith("json:"):
            return "Here you are: " + json.dumps({"title": last[5:].strip()})
        return super()._answer(model, prompt, messages)


def run(
    workflow: dict[str, Any] | None,
    roles: Roles | None = None,
    prompt: str = "the input",
    panel: tuple[str, ...] = PANEL,
    **request: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    roles = roles or Worker()
    body = {"prompt": prompt, "workflow": workflow, **request}
    return asyncio.run(run_inprocess("chain", chain.run, body, targets(roles, *panel)))


def steps(*items: Any) -> dict[str, Any]:
    return {"steps": list(items)}


# --------------------------------------------------------------------------- templates


def test_references_and_render() -> None:
    template = 'Use {input} and {steps.a}, then {prev}. JSON: {"k": {"n": 1}} {{literal}}'
    assert references(template) == ["input", "steps.a", "prev"]
    values = {"input": "IN", "steps.a": "A", "prev": "P"}
    assert render(template, values) == 'Use IN and A, then P. JSON: {"k": {"n": 1}} {literal}'


def test_render_never_evaluates() -> None:
    # str.format would follow the attribute; the chain only ever looks names up.
    assert references("{input.__class__}") == ["input.__class__"]
    with pytest.raises(WorkflowError, match="unknown placeholder"):
        parse_workflow(steps({"name": "a", "prompt": "{input.__class__}"}))
    assert render("{input}", {"input": "{prev}"}) == "{prev}"  # values are not re-rendered


# --------------------------------------------------------------------------- validation


def test_a_valid_workflow() -> None:
    parsed = parse_workflow(
        {
            "name": "w",
            "steps": [
                {"name": "a", "prompt": "{input}", "model": "x/y", "check": {"regex": r"\w"}},
                {"name": "b", "prompt": "{steps.a}", "mode": "consensus", "models": ["x/y", "z/w"]},
                {"name": "c", "prompt": "{prev}", "check": {"schema": {"type": "object"}}},
            ],
        }
    )
    assert [s.name for s in parsed] == ["a", "b", "c"]
    assert parsed[0].models == ("x/y",) and parsed[0].regex is not None
    assert parsed[1].mode == "consensus" and parsed[1].models == ("x/y", "z/w")
    assert parsed[2].output == "json" and parsed[2].retries == 1


GOOD = {"name": "a", "prompt": "{input}"}
B = {"name": "b", "prompt": "x"}


@pytest.mark.parametrize(
    ("workflow", "message"),
    [
        ([], "must be a TOML table"),
        ({"steps": [GOOD], "stages": []}, "unknown top-level key(s) stages"),
        ({"steps": []}, "has no steps"),
        (steps("a"), "chain step 1: must be a table"),
        (steps({"prompt": "x"}), "chain step 1: needs a name"),
        (steps({"name": "a b", "prompt": "x"}), "chain step 1: needs a name"),
        (steps(GOOD, GOOD), "chain step 2 ('a'): the name is already used"),
        (steps(GOOD, B | {"promt": "y"}), "step 2 ('b'): unknown key(s) promt"),
        (steps({"name": "a"}), "step 1 ('a'): needs a prompt"),
        (steps({"name": "a", "prompt": "{inptu}"}), "step 1 ('a'): unknown placeholder {inptu}"),
        (steps(GOOD | {"prompt": "{steps.b}"}, B), "('a'): {steps.b} refers to a later step"),
        (steps(GOOD, B | {"prompt": "{steps.c}"}), "step 2 ('b'): {steps.c} refers to no step"),
        (steps({"name": "a", "prompt": "{steps.a}"}), "refers to the step itself"),
        (steps(GOOD | {"model": "x/y", "models": ["x/y"]}), "give model or models, not both"),
        (steps(GOOD | {"models": "x/y"}), "models a list of names"),
        (steps(GOOD | {"mode": "vote"}), "unknown mode 'vote'"),
        (steps(GOOD | {"output": "yaml"}), "output must be text or json"),
        (steps(GOOD | {"retries": 9}), "retries from 0 to 5"),
        (steps(GOOD | {"retries": "1"}), "retries must be an integer"),
        (steps(GOOD | {"temperature": "hot"}), "temperature must be a number"),
        (steps(GOOD | {"check": "yes"}), "check must be a table"),
        (steps(GOOD | {"check": {"regexp": "x"}}), "unknown check(s) regexp"),
        (steps(GOOD | {"check": {"regex": "("}}), "bad check regex"),
        (steps(GOOD | {"check": {"schema": {"type": "object", "oneOf": []}}}), "bad check schema"),
        (steps(GOOD | {"check": {"gate": " "}}), "check gate must be a yes/no question"),
    ],
)
def test_bad_workflows_name_the_step(workflow: Any, message: str) -> None:
    with pytest.raises(WorkflowError) as caught:
        parse_workflow(workflow)
    assert message in caught.value.message
    assert caught.value.exit_code == 2


def test_a_bad_workflow_fails_before_any_call() -> None:
    roles = Worker()
    result, _ = run(steps(GOOD, {"name": "b", "prompt": "{steps.zz}"}), roles)
    assert result["error"]["code"] == "usage" and "step 2 ('b')" in result["error"]["message"]
    assert sum(roles.calls.values()) == 0


def test_no_workflow_and_unknown_builtin_are_usage_errors() -> None:
    result, _ = run(None)
    assert result["error"]["code"] == "usage" and "refine" in result["error"]["message"]
    result, _ = run(None, mode_options={"builtin": "polish"})
    assert result["error"]["code"] == "usage" and "polish" in result["error"]["message"]


# --------------------------------------------------------------------------- running


def test_steps_feed_each_other() -> None:
    workflow = steps(
        {"name": "first", "prompt": "one: {input}"},
        {"name": "second", "prompt": "two: {prev}", "model": "z/other"},
        {"name": "third", "prompt": "three: {steps.first} | {input}"},
    )
    result, events = run(workflow)
    outs = [s["output"] for s in result["report"]["steps"]]
    assert outs[0] == "author says: one: the input"
    assert outs[1] == "other says: two: author says: one: the input"
    assert outs[2] == "author says: three: author says: one: the input | the input"
    assert result["answer"] == outs[2] and result["strategy"] == "workflow"
    assert all(s["status"] == "ok" and s["attempts"] == 1 for s in result["report"]["steps"])
    rounds = [e["report"]["step"] for e in events if e["type"] == "round.finished"]
    assert rounds == ["first", "second", "third"]
    assert [p["model"] for p in result["participants"]] == ["a/author", "z/other", "a/author"]


def test_json_output_is_validated_and_passed_on() -> None:
    schema = {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}}
    workflow = steps(
        {"name": "t", "prompt": "json: {input}", "check": {"schema": schema}},
        {"name": "use", "prompt": "title was {steps.t}"},
    )
    result, _ = run(workflow, prompt="Big News")
    first, second = result["report"]["steps"]
    assert first["output"] == {"title": "Big News"}
    assert second["output"] == 'author says: title was {"title": "Big News"}'


def test_a_failing_check_retries_then_aborts_naming_the_step() -> None:
    roles = Worker()
    workflow = steps(
        {"name": "ok", "prompt": "{input}"},
        {"name": "strict", "prompt": "again {prev}", "check": {"regex": "^NEVER"}, "retries": 2},
        {"name": "unreached", "prompt": "{prev}"},
    )
    result, events = run(workflow, roles)
    assert result["error"]["code"] == "provider"
    assert "chain step 'strict' failed its check after 3 attempt(s)" in result["error"]["message"]
    assert "/^NEVER/" in result["error"]["message"]
    done = result["report"]["steps"]
    assert [(s["name"], s["status"]) for s in done] == [("ok", "ok"), ("strict", "failed")]
    assert done[1]["output"].startswith("author says:") and done[1]["attempts"] == 3
    assert result["answer"] is None
    assert roles.calls["answer"] == 4
    last_retry = [e for e in events if e["type"] == "message"][-1]
    assert "failed the step's check" in last_retry["text"]  # the model was told why


def test_gate_check_asks_the_judge() -> None:
    workflow = steps({"name": "g", "prompt": "{input}", "check": {"gate": "Is it polite?"}})
    result, events = run(workflow, Worker(gate=True))
    assert result.get("error") is None
    assert [e["type"] for e in events].count("judge.message") == 1
    result, _ = run(workflow, Worker(gate=False))
    assert "the gate 'Is it polite?' answered no" in result["error"]["message"]


def test_unknown_step_model_names_the_step() -> None:
    roles = Worker()

    async def go() -> dict[str, Any]:
        from superllmd.orchestrator.context import RunContext, run_mode
        from superllmd.orchestrator.run import Caller

        def resolve(name: str) -> Any:
            raise ModelNotFound(f"unknown model {name}")

        body: Any = {"prompt": "x", "workflow": steps(GOOD | {"model": "no/such"})}
        ctx = RunContext("chain", body, targets(roles, *PANEL), Caller(), resolve=resolve)
        events = [cast(dict[str, Any], e) async for e in run_mode(ctx, chain.run)]
        result: dict[str, Any] = events[-1]["result"]
        return result

    result = asyncio.run(go())
    assert result["error"]["code"] == "not_found"
    assert result["error"]["message"] == "chain step 'a': unknown model no/such"
    assert sum(roles.calls.values()) == 0


def test_a_step_can_run_another_mode() -> None:
    question, gold, _ = arithmetic_item(1)
    roles = Worker(blue_accuracy=0.0)
    workflow = steps(
        {"name": "attack", "prompt": "{input}", "mode": "redteam", "rounds": 1},
        {"name": "say", "prompt": "final: {prev}"},
    )
    result, events = run(workflow, roles, prompt=question, panel=("a/blue", "b/red", "c/judge"))
    attack = result["report"]["steps"][0]
    assert attack["output"].endswith(f"FINAL ANSWER: {gold}")
    assert attack["report"]["verdict"] == "revise"
    assert {e["run_id"] for e in events} == {result["run_id"]}  # one run, one stream
    assert any(e["type"] == "judge.message" for e in events)
    assert result["calls"] == roles.calls.total()  # nested calls count in the chain's budget


def test_a_nested_step_is_retried_with_the_reason() -> None:
    asked: list[str] = []

    class Recording(Worker):
        def _answer(self, model: str, prompt: str, messages: Messages) -> str:
            asked.append(messages[-1][1])
            return super()._answer(model, prompt, messages)

    step = {"name": "attack", "prompt": "{input}", "mode": "redteam", "check": {"regex": "^NO"}}
    result, _ = run(steps(step), Recording(), prompt="Is it safe?", panel=("a/b", "c/d"))
    assert "chain step 'attack' failed its check after 2 attempt(s)" in result["error"]["message"]
    assert len(asked) == 2 and "failed a check: the output does not match /^NO/" in asked[1]


def test_nested_runs_share_the_budget() -> None:
    workflow = steps({"name": "attack", "prompt": "{input}", "mode": "redteam"})
    result, _ = run(workflow, Worker(blue_accuracy=0.0), prompt=arithmetic_item(2)[0], max_calls=2)
    assert result["stopped"] == "max calls (2) reached" and result["calls"] == 2


# --------------------------------------------------------------------------- refine


def test_refine_stops_when_the_critic_finds_no_issues() -> None:
    roles = Worker(critic_issues=1)
    result, _ = run(None, roles, prompt="Explain tides.", mode_options={"builtin": "refine"})
    report = result["report"]
    assert [s["name"] for s in report["steps"]] == ["draft", "critique 1", "revise 1", "critique 2"]
    assert report["stop_reason"] == "the critic found no issues" and report["iterations"] == 1
    assert (report["author"], report["critic"]) == PANEL
    assert result["answer"].endswith("Revised with a reason.") and result["strategy"] == "refine"
    models = [p["model"] for p in result["participants"]]
    assert models == ["a/author", "b/critic", "a/author", "b/critic"]


def test_refine_stops_after_two_iterations() -> None:
    roles = Worker(critic_issues=10)
    result, _ = run(None, roles, prompt="Explain tides.", mode_options={"builtin": "refine"})
    assert result["report"]["iterations"] == 2
    assert result["report"]["stop_reason"] == "2 iteration(s) reached"
    assert roles.calls == {"answer": 1, "critique": 2, "revise": 2}


def test_refine_with_one_model_critiques_itself() -> None:
    result, _ = run(
        None, Worker(), prompt="x", panel=("a/solo",), mode_options={"builtin": "refine"}
    )
    assert result["report"]["critic"] == result["report"]["author"] == "a/solo"
