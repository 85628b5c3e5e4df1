"""``chain``: a TOML workflow of named steps, or the built-in ``refine``.

A workflow::

    name = "summarise-then-title"          # optional
    [[steps]]
    name = "summary"
    prompt = "Summarise:\\n{input}"
    model = "openai/gpt-4.1-mini"          # optional: default the first participant
    check = { regex = "\\\\w" }
    [[steps]]
    name = "title"
    prompt = "A title for: {steps.summary}"
    output = "json"
    check = { schema = { type = "object", required = ["title"] } }

Step keys: ``name``, ``prompt`` (placeholders ``{input}``, ``{prev}`` -- the previous step's
output, or the input for the first step -- and ``{steps.NAME}`` of an earlier step; ``{{``
and ``}}`` are literal braces; other braces, as in a JSON example, are left alone),
``model`` or ``models``, ``judge``, ``mode`` (``ask`` by default, or ``consensus``,
``debate``, ``redteam``, ``mapreduce``), ``options`` (that mode's options), ``rounds``,
``strategy``, ``system``, ``temperature``, ``output`` (``text`` or ``json``), ``check`` (any
of ``regex``, ``schema``, ``gate`` -- a yes/no question a model answers about the output,
the judge's call), ``retries`` (default 1) and ``description``.

The whole workflow is validated before any call: unknown keys, missing or duplicate names,
placeholders naming no step or a later one, bad regexes and unsupported schema keywords are
usage errors (exit 2) naming the step.

A step whose mode is not ``ask`` runs that mode's own ``run`` on a child context that shares
this run's budget, events and call record -- the real mode, not an imitation, so a chain
step behaves exactly as the command would. A failed check retries the step, telling the
model why; when the retries are spent the run fails naming the step, with every step's
output so far in ``report["steps"]``.

``refine`` (Self-Refine): participant A drafts, B (a different model when one is given)
critiques, A revises, until B answers "NO ISSUES" or after 2 iterations (``--rounds``). A
critic with no outside signal can make reasoning answers worse (Huang et al. 2024), so
prefer a workflow with checks where a check is possible.
"""

from __future__ import annotations

import copy
import json
import random
import re
from dataclasses import dataclass
from typing import Any, Final, cast

from superllmd.errors import ProviderError, SuperllmError, UsageError
from superllmd.orchestrator.context import RunContext
from superllmd.orchestrator.extract import extract_answer
from superllmd.orchestrator.modes import MODES, mode_function
from superllmd.orchestrator.run import messages_of
from superllmd.orchestrator.structured import check_reply
from superllmd.orchestrator.workflow import (
    Step,
    StepFailed,
    WorkflowError,
    clip,
    parse_workflow,
    references,
    render,
)
from superllmd.protocol import RunRequest
from superllmd.providers.base import Message
from superllmd.providers.registry import Target

__all__ = [
    "NO_ISSUES",
    "TASK_CRITIQUE",
    "TASK_GATE",
    "TASK_REVISE",
    "Step",
    "StepFailed",
    "WorkflowError",
    "parse_workflow",
    "references",
    "render",
    "run",
]

REFINE_ITERATIONS: Final = 2
NO_ISSUES: Final = "NO ISSUES"
TASK_GATE: Final = "You check the output of one step of a workflow."
TASK_CRITIQUE: Final = "You review an answer for substantive problems."
TASK_REVISE: Final = "A reviewer commented on your answer."
_ROUTES: Final = {"redteam": "adversarial"}  # step mode -> route in MODES
_NO_ISSUES: Final = re.compile(r"\W*no\s+(?:substantive\s+)?(?:issues|problems)\b", re.IGNORECASE)


def _child(parent: RunContext, step: Step, prompt: str, targets: list[Target]) -> RunContext:
    """The context of a nested mode in a chain step: a shallow copy of the chain's, so that it
    shares the run's id, budget, call record, event stream and everything else the run
    carries, with its own request, panel and result fields."""
    request = {
        key: value
        for key, value in parent.request.items()
        if key not in ("workflow", "mode_options", "models", "judge", "prompt", "strategy")
    }
    request.update(prompt=prompt, mode_options=dict(step.options or {}))
    for key in ("rounds", "strategy", "system", "temperature"):
        if getattr(step, key) is not None:
            request[key] = getattr(step, key)
    child = copy.copy(parent)
    child.mode = MODES[_ROUTES.get(step.mode, step.mode)].mode
    child.request = cast(RunRequest, request)
    child.participants = list(targets)
    child.judge = parent.resolve(step.judge) if step.judge else parent.judge
    child.rng = random.Random(parent.rng.random())
    child.strategy, child.rounds, child.report = step.strategy, 0, {}
    child.answer = child.agreement = child.judge_result = child.stopped = None
    return child


@dataclass
class _Runner:
    ctx: RunContext
    steps: list[Step]

    async def run(self) -> None:
        ctx = self.ctx
        targets = {s.name: self._targets(s) for s in self.steps}  # bad names fail before calls
        values = {"input": ctx.request["prompt"]}
        records: list[dict[str, Any]] = []
        ctx.report["steps"] = records
        prev = values["input"]
        for i, step in enumerate(self.steps):
            values["prev"] = prev
            prompt = render(step.prompt, values)
            record: dict[str, Any] = {
                "name": step.name,
                "mode": step.mode,
                "models": [t.name for t in targets[step.name]],
                "status": "running",
                "attempts": 0,
                "output": None,
                "check": None,
            }
            records.append(record)
            feedback: tuple[str, str] | None = None
            for attempt in range(1, step.retries + 2):
                record["attempts"] = attempt
                text = await self._execute(step, i, prompt, targets[step.name], feedback, record)
                value, reason = await self._check(step, i, text, targets[step.name])
                record["output"] = value if reason is None else text
                record["check"] = {"passed": reason is None, "reason": reason}
                if reason is None:
                    break
                feedback = (text, reason)
            if reason is not None:
                record["status"] = "failed"
                ctx.round_finished(i, None, step=step.name, status="failed")
                ctx.answer = None  # a chain that did not finish has no answer to pipe on
                raise StepFailed(
                    f"chain step {step.name!r} failed its check after {record['attempts']} "
                    f"attempt(s): {reason}"
                )
            record["status"] = "ok"
            prev = values[f"steps.{step.name}"] = (
                text if step.output == "text" else json.dumps(value, ensure_ascii=False)
            )
            ctx.answer = prev
            ctx.round_finished(i, None, step=step.name, status="ok", attempts=record["attempts"])

    def _targets(self, step: Step) -> list[Target]:
        try:
            resolved = [self.ctx.resolve(m) for m in step.models]
            if step.judge:
                self.ctx.resolve(step.judge)  # a bad judge name, too, fails before any call
        except SuperllmError as exc:
            raise type(exc)(f"chain step {step.name!r}: {exc.message}", **exc.details) from None
        if resolved:
            return resolved
        return self.ctx.participants[:1] if step.mode == "ask" else self.ctx.participants

    async def _execute(
        self,
        step: Step,
        i: int,
        prompt: str,
        targets: list[Target],
        feedback: tuple[str, str] | None,
        record: dict[str, Any],
    ) -> str:
        retry = (
            []
            if feedback is None
            else [
                Message("assistant", clip(feedback[0])),
                Message("user", f"That output failed the step's check: {feedback[1]}. Try again."),
            ]
        )
        try:
            if step.mode != "ask":
                if feedback is not None:  # a nested run has no thread to continue: say it here
                    prompt += f"\n\n(An earlier answer failed a check: {feedback[1]}.)"
                child = _child(self.ctx, step, prompt, targets)
                await mode_function(MODES[_ROUTES.get(step.mode, step.mode)])(child)
                record["report"] = child.report
                self.ctx.stopped = child.stopped or self.ctx.stopped
                if child.answer is None:
                    raise ProviderError(child.stopped or "the nested run gave no answer")
                return child.answer
            system = step.system or self.ctx.request.get("system")
            outcome = await self.ctx.call(
                targets[0],
                [*messages_of(system, prompt), *retry],
                participant=step.name,
                round_=i,
                temperature=step.temperature,
                json_output=step.output == "json",
            )
            if outcome.completion is None:
                raise outcome.error or ProviderError("no reply")
            return outcome.text
        except SuperllmError as exc:
            record["status"], self.ctx.answer = "failed", None
            raise type(exc)(f"chain step {step.name!r}: {exc.message}", **exc.details) from None

    async def _check(
        self, step: Step, i: int, text: str, targets: list[Target]
    ) -> tuple[Any, str | None]:
        """(the step's value, None) when every check passes, else (None, why not)."""
        value: Any = text
        if step.output == "json":
            value, errors = check_reply(text, step.schema or {})
            if errors:
                return None, "; ".join(errors[:3])
        if step.regex is not None and step.regex.search(text) is None:
            return None, f"the output does not match /{step.regex.pattern}/"
        if step.gate is not None:
            judge = self.ctx.resolve(step.judge) if step.judge else self.ctx.judge or targets[0]
            prompt = (
                f"{TASK_GATE}\nOutput:\n<<<\n{clip(text)}\n>>>\nQuestion: {step.gate}\n"
                "Answer yes or no, then end with FINAL ANSWER: yes or FINAL ANSWER: no."
            )
            outcome = await self.ctx.call(
                judge, [Message("user", prompt)], participant=judge.name, round_=i, role="judge"
            )
            verdict = extract_answer(outcome.text, "boolean") if outcome.ok else None
            if verdict is None or verdict.value is not True:
                shown = "unreadable" if verdict is None else "no"
                return None, f"the gate {step.gate!r} answered {shown}"
        return value, None


async def run(ctx: RunContext) -> None:
    options = ctx.request.get("mode_options") or {}
    builtin = options.get("builtin")
    if builtin is not None:
        if builtin != "refine":
            raise UsageError(f"chain: no built-in workflow {builtin!r}; the built-in is refine")
        ctx.strategy = "refine"
        await refine(ctx)
        return
    workflow = ctx.request.get("workflow")
    if not workflow:
        raise WorkflowError("chain: give a workflow file (TOML) or the built-in name refine")
    steps = parse_workflow(workflow)
    ctx.strategy = "workflow"
    if isinstance(workflow.get("name"), str):
        ctx.report["workflow"] = workflow["name"]
    await _Runner(ctx, steps).run()


async def refine(ctx: RunContext) -> None:
    """Draft (A), critique (B), revise (A), until B reports no issues or the iterations end."""
    author = ctx.participants[0]
    critic = next((t for t in ctx.participants if t.name != author.name), ctx.participants[-1])
    iterations = ctx.request.get("rounds") or REFINE_ITERATIONS
    question = ctx.request["prompt"]
    base = messages_of(ctx.request.get("system"), question)
    steps: list[dict[str, Any]] = []
    ctx.report.update(author=author.name, critic=critic.name, steps=steps)
    outcome = await ctx.call(author, base, participant="draft")
    if outcome.completion is None:
        raise outcome.error or ProviderError("refine: the draft failed")
    answer = ctx.answer = outcome.text
    steps.append({"name": "draft", "model": author.name, "output": answer})
    ctx.round_finished(0, None, step="draft")
    stop = f"{iterations} iteration(s) reached"
    for it in range(1, iterations + 1):
        prompt = (
            f"{TASK_CRITIQUE}\nQuestion:\n{clip(question)}\n\nAnswer:\n<<<\n{clip(answer)}\n>>>\n"
            "List its substantive problems (errors, gaps, unclear parts), each with a concrete "
            f"fix. If there are none, reply exactly: {NO_ISSUES}"
        )
        review = await ctx.call(
            critic, [Message("user", prompt)], participant="critique", round_=it
        )
        if review.completion is None:
            stop = f"the critique failed: {review.error.message if review.error else 'no reply'}"
            break
        steps.append({"name": f"critique {it}", "model": critic.name, "output": review.text})
        if _NO_ISSUES.match(review.text.strip()):
            stop = "the critic found no issues"
            ctx.round_finished(it, None, step=f"critique {it}", issues=False)
            break
        revise = [
            *base,
            Message("assistant", clip(answer)),
            Message(
                "user",
                f"{TASK_REVISE}\n<<<\n{clip(review.text)}\n>>>\nRevise your answer to fix the "
                "problems that are real. Reply with the full revised answer only.",
            ),
        ]
        outcome = await ctx.call(author, revise, participant="revise", round_=it)
        if outcome.completion is not None and outcome.text.strip():
            answer = ctx.answer = outcome.text
        steps.append({"name": f"revise {it}", "model": author.name, "output": answer})
        ctx.round_finished(it, None, step=f"revise {it}", issues=True)
    ctx.report.update(
        iterations=sum(1 for s in steps if s["name"].startswith("revise")), stop_reason=stop
    )
