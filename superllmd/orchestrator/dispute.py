"""``redteam dispute``: two sides argue opposite answers; the judge rules in both orders
and a disagreement between the two rulings is a tie (see adversarial.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from superllmd.errors import ProviderError
from superllmd.orchestrator.context import RunContext
from superllmd.orchestrator.roles import (
    RULING_SCHEMA,
    TASK_ALTERNATIVE,
    TASK_ARGUE,
    TASK_DISPUTE_JUDGE,
    Roles,
    ask_role,
    clip,
    first_answer,
    why_unreadable,
)
from superllmd.orchestrator.run import CallOutcome
from superllmd.orchestrator.structured import gather_all
from superllmd.providers.base import Message
from superllmd.providers.registry import Target

__all__ = ["Dispute"]


@dataclass
class Dispute:
    ctx: RunContext
    roles: Roles
    arguments: list[dict[str, str]] = field(default_factory=list)

    async def run(self, rounds: int, options: dict[str, Any]) -> None:
        ctx, roles = self.ctx, self.roles
        self.question = ctx.request["prompt"]
        blue = options.get("answer") or await first_answer(ctx, roles)
        red = options.get("alternative") or await self._alternative(blue)
        self.positions = {"blue": str(blue), "red": str(red)}
        ctx.answer = self.positions["blue"]
        ctx.round_finished(0, None, stage="positions")
        for r in range(1, rounds + 1):
            sides = ("blue", "red")
            outcomes = await gather_all(ctx, [self._argue(s, r) for s in sides])
            self.arguments.append(
                {
                    s: clip(o.text, 3000) if o is not None and o.ok else "(no argument)"
                    for s, o in zip(sides, outcomes, strict=True)
                }
            )
            ctx.round_finished(r, None, stage="arguments")
        first = ("blue", "red") if ctx.rng.random() < 0.5 else ("red", "blue")
        orders = [first, (first[1], first[0])]
        judgements = await self._rule([(roles.judge, o) for o in orders], rounds + 1)
        votes = [j["winner"] for j in judgements]
        verdict: str = votes[0] if votes[0] is not None and votes[0] == votes[1] else "tie"
        jury: list[dict[str, Any]] = []
        if verdict == "tie" and roles.jury:
            jury = await self._rule(
                [(t, orders[k % 2]) for k, t in enumerate(roles.jury)], rounds + 2
            )
            counts = Counter(j["winner"] for j in jury if j["winner"])
            ranked = counts.most_common()
            if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
                verdict = ranked[0][0]
        valid = [v for v in votes + [j["winner"] for j in jury] if v]
        ctx.agreement = max(Counter(valid).values()) / len(valid) if valid else None
        ctx.answer = self.positions["blue" if verdict == "tie" else verdict]
        ctx.judge_result = {"model": roles.judge.name, "answer": ctx.answer, "verdict": verdict}
        ctx.round_finished(rounds + 1, ctx.agreement, stage="judgement", verdict=verdict)
        ctx.report.update(
            positions=self.positions,
            arguments=self.arguments,
            judgements=judgements,
            jury=jury,
            verdict=verdict,
            uncertain=verdict == "tie",
        )

    async def _argue(self, side: str, r: int) -> CallOutcome:
        target = self.roles.blue if side == "blue" else self.roles.red
        return await self.ctx.call(
            target,
            [Message("user", self._argue_prompt(side, r))],
            participant=self.roles.label(side),
            round_=r,
        )

    async def _alternative(self, blue: str) -> str:
        prompt = (
            f"{TASK_ALTERNATIVE}\nQuestion:\n{clip(self.question)}\n\nProposed answer:\n<<<\n"
            f"{clip(blue)}\n>>>\nGive the strongest different answer: the one a careful expert "
            "who disagreed would defend. Reply with that answer only."
        )
        outcome = await self.ctx.call(
            self.roles.red, [Message("user", prompt)], participant=self.roles.label("red")
        )
        if outcome.completion is None:
            raise outcome.error or ProviderError("redteam: red proposed no alternative")
        return outcome.text

    def _argue_prompt(self, side: str, r: int) -> str:
        other = "red" if side == "blue" else "blue"
        history = "".join(
            f"\nRound {i} -- you: {a[side]}\nRound {i} -- opponent: {a[other]}"
            for i, a in enumerate(self.arguments, 1)
        )
        return (
            f"{TASK_ARGUE}\nQuestion:\n{clip(self.question)}\n\nYou argue that the answer is:\n"
            f"<<<\n{clip(self.positions[side])}\n>>>\nThe opposing side argues that it is:\n"
            f"<<<\n{clip(self.positions[other])}\n>>>\n"
            + (f"\nThe debate so far:{history}\n" if history else "")
            + f"\nWrite your argument for round {r}: give evidence for your answer and rebut "
            "the opponent's latest points. Keep to your assigned answer and under 200 words."
        )

    def _judge_prompt(self, order: tuple[str, str]) -> str:
        a, b = order
        debate = "".join(
            f"\nRound {i} -- Side A: {x[a]}\nRound {i} -- Side B: {x[b]}"
            for i, x in enumerate(self.arguments, 1)
        )
        side_a, side_b = (self.roles.mask(clip(self.positions[x])) for x in order)
        debate = self.roles.mask(debate) or " (none)"
        return (
            f"{TASK_DISPUTE_JUDGE}\nQuestion:\n{clip(self.question)}\n\nSide A answers:\n<<<\n"
            f"{side_a}\n>>>\nSide B answers:\n<<<\n{side_b}"
            f"\n>>>\n\nThe debate:{debate}\n\nDecide, on the evidence, which "
            'side\'s answer is correct. Reply with only a JSON object: {"winner": "A or B", '
            '"reason": "..."}'
        )

    async def _rule(
        self, panel: list[tuple[Target, tuple[str, str]]], r: int
    ) -> list[dict[str, Any]]:
        got = await gather_all(
            self.ctx,
            [
                ask_role(
                    self.ctx,
                    t,
                    [Message("user", self._judge_prompt(o))],
                    RULING_SCHEMA,
                    t.name,
                    r,
                    "judge",
                )
                for t, o in panel
            ],
        )
        out: list[dict[str, Any]] = []
        for (target, order), g in zip(panel, got, strict=True):
            winner = None
            if g is not None and g.ok:
                winner = order[0] if g.value["winner"] == "A" else order[1]
            elif g is not None:
                self.ctx.report["warnings"].append(
                    f"{target.name}'s ruling could not be read ({why_unreadable(g)}); "
                    "counted as no vote"
                )
            reason = clip(g.value.get("reason", ""), 1500) if g is not None and g.ok else ""
            out.append(
                {"model": target.name, "order": list(order), "winner": winner, "reason": reason}
            )
        return out
