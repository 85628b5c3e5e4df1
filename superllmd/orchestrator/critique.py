"""``redteam critique``: red objects, blue answers each objection, the judge rules on each,
until no objection stands (see adversarial.py for the protocol)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from superllmd.orchestrator.agreement import lexical_similarity
from superllmd.orchestrator.context import RunContext
from superllmd.orchestrator.roles import (
    MAX_OBJECTIONS,
    OBJECTIONS_SCHEMA,
    REPEAT_SIMILARITY,
    RESPONSES_SCHEMA,
    TASK_JUDGE,
    TASK_RED,
    TASK_RESPOND,
    VERDICT_SCHEMA,
    Roles,
    ask_role,
    blue_messages,
    clip,
    first_answer,
    why_unreadable,
)
from superllmd.orchestrator.run import RunBudgetExhausted
from superllmd.providers.base import Message

__all__ = ["Critique"]


@dataclass
class Critique:
    ctx: RunContext
    roles: Roles
    objections: list[dict[str, Any]] = field(default_factory=list)
    verdict: dict[str, Any] | None = None
    judged: bool = False

    async def run(self, rounds: int) -> None:
        ctx = self.ctx
        self.question = ctx.request["prompt"]
        self.warnings: list[str] = ctx.report["warnings"]
        answer = await first_answer(ctx, self.roles)
        stop = f"{rounds} round(s) reached"
        try:
            for r in range(rounds):
                new = await self._objections(answer, r)
                if new:
                    self.objections += new
                    answer = ctx.answer = await self._respond(answer, new, r)
                    await self._judge(answer, r)
                elif not self.judged:  # red found nothing at once: still a verdict and the risks
                    await self._judge(answer, r)
                ctx.round_finished(r, self._agreement(), new_objections=len(new), open=self._open())
                if not new:
                    stop = "red raised no new objection"
                    break
                if self.verdict is None:
                    stop = "the judge's ruling could not be read"
                    break
                if not self._open():
                    stop = "the judge found no valid open objection"
                    break
        except RunBudgetExhausted as exc:  # stop with what the rounds so far established
            ctx.stopped = stop = exc.reason
        self._finish(answer, stop)

    async def _objections(self, answer: str, r: int) -> list[dict[str, Any]]:
        raised = "".join(f"\n- {o['claim']}" for o in self.objections)
        prompt = (
            f"{TASK_RED}\nQuestion:\n{clip(self.question)}\n\nAnswer under review:\n"
            f"<<<\n{clip(answer)}\n>>>\n"
            + (f"\nObjections already raised (do not repeat them):{raised}\n" if raised else "")
            + "\nList each concrete, substantive flaw, with evidence: a quote from the answer, a "
            "counterexample, a test or a calculation. Object only on substantive grounds; if "
            "the answer is sound, give an empty list. Reply with only a JSON object: "
            '{"objections": [{"id": "1", "claim": "...", "evidence": "...", '
            '"severity": "low|medium|high|critical"}]}'
        )
        red, who = self.roles.red, self.roles.label("red")
        got = await ask_role(self.ctx, red, [Message("user", prompt)], OBJECTIONS_SCHEMA, who, r)
        if not got.ok:
            self.warnings.append(
                f"round {r}: red's objections could not be read after {got.attempts} "
                f"attempt(s) ({why_unreadable(got)}); treated as none"
            )
            return []
        new: list[dict[str, Any]] = []
        seen = [o["claim"] for o in self.objections]
        for item in got.value["objections"][:MAX_OBJECTIONS]:
            claim = clip(item["claim"].strip(), 1500)
            if not claim or any(lexical_similarity(claim, s) >= REPEAT_SIMILARITY for s in seen):
                continue
            seen.append(claim)
            new.append(
                {
                    "id": f"O{len(self.objections) + len(new) + 1}",
                    "round": r,
                    "claim": claim,
                    "evidence": clip(item.get("evidence", ""), 1500),
                    "severity": item.get("severity", "medium"),
                    "response": None,
                    "valid": None,
                    "resolved": None,
                    "reason": "",
                }
            )
        return new

    async def _respond(self, answer: str, new: list[dict[str, Any]], r: int) -> str:
        listed = "".join(
            f"\n[{o['id']}] ({o['severity']}) {o['claim']}\n  Evidence: {o['evidence']}"
            for o in new
        )
        prompt = (
            f"{TASK_RESPOND}{listed}\n\nFor each objection either accept it and revise your "
            "answer, or rebut it with evidence. Reply with only a JSON object: "
            '{"responses": [{"id": "O1", "action": "accept|rebut", "text": "..."}], '
            '"answer": "your full answer, revised for every objection you accept"}'
        )
        messages = [
            *blue_messages(self.ctx),
            Message("assistant", clip(answer)),
            Message("user", prompt),
        ]
        who = self.roles.label("blue")
        got = await ask_role(self.ctx, self.roles.blue, messages, RESPONSES_SCHEMA, who, r)
        if not got.ok:
            self.warnings.append(
                f"round {r}: blue's responses could not be read ({why_unreadable(got)})"
            )
            return answer
        by_id = {str(x["id"]): x for x in got.value["responses"]}
        for objection in new:
            if (response := by_id.get(objection["id"])) is not None:
                text = clip(response.get("text", ""), 1500)
                objection["response"] = {"action": response["action"], "text": text}
        revised: str = got.value["answer"].strip()
        return revised or answer

    async def _judge(self, answer: str, r: int) -> None:
        shown = list(self.objections)
        self.ctx.rng.shuffle(shown)  # position bias: no objection is always read first
        pairs = "".join(_pair(o) for o in shown) or "\n(No objections were raised.)"
        shown_answer, pairs = self.roles.mask(clip(answer)), self.roles.mask(pairs)
        prompt = (
            f"{TASK_JUDGE}\nQuestion:\n{clip(self.question)}\n\nCurrent answer:\n<<<\n"
            f"{shown_answer}\n>>>\n\nObjections and the author's responses, in no particular "
            f"order:{pairs}\n\nFor each objection decide whether it is valid (it names a real "
            "flaw) and whether the current answer has resolved it. Then give your preference: "
            '"blue" (the answer stands as it is), "revise" (it needs the changes in your '
            'final_answer) or "red" (the objections defeat it; give the right answer), your '
            "final_answer in full, and the residual risks. Reply with only a JSON object: "
            '{"objections": [{"id": "O1", "valid": true, "resolved": false, "reason": "..."}], '
            '"preference": "blue|revise|red", "final_answer": "...", "residual_risks": ["..."]}'
        )
        judge, messages = self.roles.judge, [Message("user", prompt)]
        got = await ask_role(self.ctx, judge, messages, VERDICT_SCHEMA, judge.name, r, "judge")
        self.judged = True
        if not got.ok:
            self.warnings.append(
                f"round {r}: the judge's ruling could not be read ({why_unreadable(got)})"
            )
            self.verdict = None
            return
        self.verdict = got.value
        by_id = {o["id"]: o for o in self.objections}
        for ruling in got.value["objections"]:
            if (objection := by_id.get(str(ruling["id"]))) is not None:
                objection["valid"] = ruling["valid"]
                objection["resolved"] = bool(ruling.get("resolved", False))
                objection["reason"] = clip(ruling.get("reason", ""), 1500)
        final = got.value["final_answer"].strip()
        self.ctx.judge_result = {"model": self.roles.judge.name, "answer": final or got.text}

    def _open(self) -> int:
        return sum(1 for o in self.objections if o["valid"] and not o["resolved"])

    def _agreement(self) -> float | None:
        if self.verdict is None:
            return None
        return 1 - self._open() / len(self.objections) if self.objections else 1.0

    def _finish(self, answer: str, stop: str) -> None:
        verdict = self.verdict
        preference = verdict["preference"] if verdict else "undecided"
        final = answer
        if verdict and preference != "blue" and verdict["final_answer"].strip():
            final = verdict["final_answer"]
        self.ctx.answer = final
        self.ctx.agreement = self._agreement()
        self.ctx.report.update(
            verdict=preference,
            blue_answer=answer,
            objections=self.objections,
            upheld=[o["id"] for o in self.objections if o["valid"]],
            open=[o["id"] for o in self.objections if o["valid"] and not o["resolved"]],
            residual_risks=verdict["residual_risks"] if verdict else [],
            stop_reason=stop,
        )


def _pair(o: dict[str, Any]) -> str:
    response = o["response"]
    reply = "no response"
    if response is not None:
        action = "accepted and revised" if response["action"] == "accept" else "rebutted"
        reply = f"{action}: {response['text']}"
    return (
        f"\n[{o['id']}] ({o['severity']}) Objection: {o['claim']}\n  Evidence: {o['evidence']}"
        f"\n  Author's response ({reply})"
    )
