"""``redteam``: blue answers, red attacks, a judge rules.

Roles: blue is the first participant; red the second (the first again if only one is
given); the judge is ``--judge``, else a third participant, else red. Participants beyond
those form a jury that breaks a dispute's tie.

``critique`` (default), for k rounds (``--rounds``, default 2): blue answers (once); red
lists *new* concrete objections as JSON ``{id, claim, evidence, severity}``; blue accepts
and revises, or rebuts, each one (JSON); the judge sees the question, blue's current answer
and every objection with its response, shuffled, and returns ``{objections: [{id, valid,
resolved, reason}], preference, final_answer, residual_risks}`` -- ``valid``: the objection
names a real flaw; ``resolved``: the current answer already fixes it. The loop stops when no
objection is valid and unresolved ("open"), when red raises no new objection (a repeat, by
lexical similarity, is not new), or after k rounds. The answer is the judge's
``final_answer`` unless it prefers blue's answer as it stands. Agreement is the share of
objections not left open: how much of the attack the answer survived.

Small models often cannot write JSON, so the mode degrades instead of failing: red's
unreadable objections count as none, blue's unreadable responses leave its answer as it
was, an unreadable verdict leaves blue's answer with verdict "undecided" -- each noted in
``report["warnings"]``. Only a blue that cannot answer at all fails the run.

``dispute`` (Khan et al.): blue defends its own answer (or ``mode_options["answer"]``), red
the strongest alternative it proposes (or ``mode_options["alternative"]``), arguing in
simultaneous rounds. The judge sees only "Side A" and "Side B" and rules twice, once in each
order (against position bias); rulings that differ make a tie, broken by the jury's majority
if there is one, else reported as uncertain with blue's answer standing. Agreement is the
largest share of rulings for one side.

Judges never see model names: texts shown to them have every name of the run masked, and
they rule at temperature 0. Every text one model shows another is clipped.
"""

from __future__ import annotations

from superllmd.errors import UsageError
from superllmd.orchestrator.context import RunContext
from superllmd.orchestrator.critique import Critique
from superllmd.orchestrator.dispute import Dispute
from superllmd.orchestrator.roles import (
    DEFAULT_ROUNDS,
    TASK_ALTERNATIVE,
    TASK_ARGUE,
    TASK_DISPUTE_JUDGE,
    TASK_JUDGE,
    TASK_RED,
    TASK_RESPOND,
    Roles,
)

__all__ = [
    "DEFAULT_ROUNDS",
    "TASK_ALTERNATIVE",
    "TASK_ARGUE",
    "TASK_DISPUTE_JUDGE",
    "TASK_JUDGE",
    "TASK_RED",
    "TASK_RESPOND",
    "run",
]


async def run(ctx: RunContext) -> None:
    options = ctx.request.get("mode_options") or {}
    submode = options.get("submode") or "critique"
    if submode not in ("critique", "dispute"):
        raise UsageError(f"redteam: unknown submode {submode!r}; use critique or dispute")
    roles = Roles.of(ctx)
    rounds = ctx.request.get("rounds") or DEFAULT_ROUNDS
    ctx.strategy = submode
    ctx.report.update(
        submode=submode,
        roles={"blue": roles.blue.name, "red": roles.red.name, "judge": roles.judge.name},
        warnings=[],
    )
    if submode == "dispute":
        await Dispute(ctx, roles).run(rounds, options)
    else:
        await Critique(ctx, roles).run(rounds)
