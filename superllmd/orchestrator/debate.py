"""``debate``: independent answers, then rounds of revision until the panel settles.

Du et al.'s debate, with the guards the critiques call for:

- **Round 0** is independent. If every agent gives the same extractable answer, there is
  no debate at all: talking can only move agents away from a unanimous answer.
- **Rounds 1..R-1**: each agent sees its own history and the others' latest answers,
  anonymised and shuffled for it alone, and is told to change only on a specific error,
  never because of the majority.
- **Stop** on unanimity, on agreement reaching ``--threshold`` (default 0.8), on stability
  (nobody changed their extracted answer), after ``--rounds`` (default 3 in all), or when
  the run budget is spent (``stopped`` says so; the answer is what the panel had).
- **Final answer**: plurality over the last round; a tie goes to the answer with more votes
  summed over all rounds, then to the judge, then to the first configured agent. Free text
  is synthesised from the last round by the judge (or the first agent).

The report holds ``vote_at_0`` against ``final``, each agent's answer per round
(``history``), who changed and how (``changes``), and why the debate stopped: enough to
count flips against gold labels offline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from superllmd.orchestrator.agreement import text_report, vote_report
from superllmd.orchestrator.context import DEFAULT_THRESHOLD, RunContext
from superllmd.orchestrator.extract import AnswerType
from superllmd.orchestrator.judge import ask_text, show
from superllmd.orchestrator.panel import (
    EXTRACTABLE,
    Reply,
    agreement_of,
    answer_type_of,
    ask_panel,
    break_tie,
    display,
    participant_labels,
    temperature_of,
)
from superllmd.orchestrator.prompts import question_prompt, synth_prompt, update_prompt
from superllmd.orchestrator.run import RunBudgetExhausted, messages_of
from superllmd.providers.base import Message

__all__ = ["DEFAULT_ROUNDS", "REVISION_TEMPERATURE", "ROUND0_TEMPERATURE", "run"]

DEFAULT_ROUNDS: Final = 3  # round 0 plus up to two revisions
#: Diverse first answers, steadier revisions (defaults, tunables rather than findings).
ROUND0_TEMPERATURE: Final = 0.7
REVISION_TEMPERATURE: Final = 0.3


@dataclass
class _Agent:
    label: str
    history: list[Message]
    latest: Reply
    keys: list[str | None]  # the extracted answer held after each round

    @property
    def key(self) -> str | None:
        return self.latest.answer.key if self.latest.answer else None


async def _stop_reason(
    ctx: RunContext,
    answer_type: AnswerType,
    agents: Sequence[_Agent],
    changed: Sequence[str] | None,
    threshold: float,
) -> tuple[float, dict[str, Any], str | None]:
    """The round's agreement, its report, and why the debate stops here (None: go on)."""
    latest = [a.latest for a in agents]
    agreement, report = await agreement_of(ctx, answer_type, latest)
    if len(agents) < 2:
        return agreement, report, "one agent left"
    if answer_type in EXTRACTABLE:
        if report["n_abstain"] == 0 and len(report["distribution"]) == 1:
            return agreement, report, "unanimous"
        if report["n_valid"] >= 2 and agreement >= threshold:
            return agreement, report, "threshold"
    elif agreement >= threshold:
        return agreement, report, "threshold"
    if ctx.stopped:
        return agreement, report, "budget"
    if changed is not None and not changed and answer_type in EXTRACTABLE:
        return agreement, report, "stable"
    return agreement, report, None


async def _revise(
    ctx: RunContext,
    agents: dict[int, _Agent],
    labels: Sequence[str],
    answer_type: AnswerType,
    round_: int,
) -> list[dict[str, Any]] | None:
    """One revision round; returns who changed their answer, or None if the budget refused
    every call (then nothing changed and the debate stops)."""
    prompts: dict[int, str] = {}
    for i in agents:
        others = [a.latest.text for j, a in agents.items() if j != i]
        prompts[i] = update_prompt(show(ctx, others, recipient=i).labelled, answer_type)
    try:
        replies = await ask_panel(
            ctx,
            list(agents),
            labels,
            lambda i: [*agents[i].history, Message("user", prompts[i])],
            answer_type,
            round_=round_,
            temperature=temperature_of(ctx, REVISION_TEMPERATURE),
            require_one=False,
        )
    except RunBudgetExhausted as exc:
        ctx.stopped = exc.reason
        return None
    changes = []
    for reply in replies:
        agent = agents[reply.index]
        before = agent.key
        agent.history += [Message("user", prompts[reply.index]), Message("assistant", reply.text)]
        agent.latest = reply
        if agent.key != before:
            changes.append({"participant": agent.label, "from": before, "to": agent.key})
    for agent in agents.values():  # a failed or refused call keeps the agent's last answer
        agent.keys.append(agent.key)
    return changes


async def run(ctx: RunContext) -> None:
    """Run a debate and set the final answer."""
    answer_type = answer_type_of(ctx)
    extractable = answer_type in EXTRACTABLE
    ctx.strategy = "vote" if extractable else "synthesize"
    max_rounds = ctx.request.get("rounds") or DEFAULT_ROUNDS
    threshold = ctx.request.get("threshold")
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    labels = participant_labels(ctx.participants)
    opening = messages_of(
        ctx.request.get("system"), question_prompt(ctx.request["prompt"], answer_type)
    )
    ctx.report["answer_type"] = answer_type
    replies = await ask_panel(
        ctx,
        range(len(ctx.participants)),
        labels,
        lambda _: opening,
        answer_type,
        temperature=temperature_of(ctx, ROUND0_TEMPERATURE),
    )
    if not replies:
        return
    agents = {
        r.index: _Agent(r.label, [*opening, Message("assistant", r.text)], r, []) for r in replies
    }
    for agent in agents.values():
        agent.keys.append(agent.key)
    agreement, report, stop = await _stop_reason(
        ctx, answer_type, list(agents.values()), None, threshold
    )
    ctx.report["vote_at_0"] = {
        "answer": _plurality_display(replies, answer_type),
        "distribution": report.get("distribution"),
        "agreement": agreement,
    }
    ctx.report["skipped"] = stop == "unanimous"
    changes: list[list[dict[str, Any]]] = [[]]
    ctx.agreement = agreement
    ctx.round_finished(0, agreement, changed=[], stop=stop, **_brief(report))
    round_ = 1
    while stop is None and round_ < max_rounds:
        changed = await _revise(ctx, agents, labels, answer_type, round_)
        if changed is None:
            stop = "budget"
            break
        changes.append(changed)
        agreement, report, stop = await _stop_reason(
            ctx, answer_type, list(agents.values()), [c["participant"] for c in changed], threshold
        )
        ctx.agreement = agreement
        ctx.round_finished(
            round_,
            agreement,
            changed=[c["participant"] for c in changed],
            stop=stop,
            **_brief(report),
        )
        round_ += 1
    ctx.report.update(
        {
            "rounds_used": len(changes),
            "stop": stop or "max rounds",
            "changes": changes,
            "history": {a.label: a.keys for a in agents.values()},
        }
    )
    final = [a.latest for a in agents.values()]
    if extractable:
        await _final_vote(ctx, agents, final, answer_type, round_)
    else:
        await _final_synthesis(ctx, final, answer_type, round_)
    ctx.report["final"] = {"answer": ctx.answer, "distribution": report.get("distribution")}


def _brief(report: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "kind",
        "distribution",
        "label",
        "n_valid",
        "n_abstain",
        "n",
        "medoid",
        "mean_pairwise_agreement",
    )
    return {k: report[k] for k in keep if k in report}


def _plurality_display(replies: Sequence[Reply], answer_type: AnswerType) -> str | None:
    if answer_type not in EXTRACTABLE:
        return None
    winner = vote_report([r.answer for r in replies], [r.label for r in replies]).winner
    best = next((r.answer for r in replies if r.answer and r.answer.key == winner), None)
    return display(best, answer_type) if best else None


async def _final_vote(
    ctx: RunContext,
    agents: dict[int, _Agent],
    final: list[Reply],
    answer_type: AnswerType,
    round_: int,
) -> None:
    votes = vote_report([r.answer for r in final], [r.label for r in final])
    if votes.winner is None:
        ctx.report["fallback"] = "medoid: no agent gave an extractable answer"
        medoid = text_report([r.text for r in final], [r.label for r in final]).medoid_index
        ctx.answer = final[medoid or 0].text
        return
    winner = votes.winner
    if len(votes.tied) > 1:
        support = Counter(k for a in agents.values() for k in a.keys if k is not None)
        best = max(support[k] for k in votes.tied)
        tied = [k for k in votes.tied if support[k] == best]
        how = "support across rounds"
        if len(tied) > 1:
            reps = sorted(
                (next(r for r in final if r.answer and r.answer.key == k) for k in tied),
                key=lambda r: r.index,
            )
            chosen, how = await break_tie(ctx, reps, round_=round_)
            tied = [chosen.answer.key] if chosen.answer else tied
        winner = tied[0]
        ctx.report["tie_break"] = {"tied": votes.tied, "by": how, "winner": winner}
    chosen_reply = next(r for r in final if r.answer is not None and r.answer.key == winner)
    assert chosen_reply.answer is not None
    ctx.answer = display(chosen_reply.answer, answer_type)
    ctx.report["response"] = chosen_reply.text
    ctx.report["dissent"] = [r.label for r in final if r.answer is None or r.answer.key != winner]


async def _final_synthesis(
    ctx: RunContext, final: list[Reply], answer_type: AnswerType, round_: int
) -> None:
    texts = [r.text for r in final]
    medoid = text_report(texts, [r.label for r in final]).medoid_index or 0
    if len(final) > 1:
        aggregator = ctx.judge or final[0].target
        shown = show(ctx, texts, recipient=-1)
        summary = f"The response closest to the others is {shown.label_of(medoid)}."
        prompt = synth_prompt(ctx.request["prompt"], shown.labelled, answer_type, summary)
        text = await ask_text(ctx, aggregator, prompt, round_=round_)
        if text is not None:
            ctx.answer = text
            ctx.judge_result = {"model": aggregator.name, "answer": text, "task": "synthesis"}
            return
        ctx.report["fallback"] = "medoid: the aggregator gave no answer"
    ctx.answer = texts[medoid]
