"""A run as a client knows it: the daemon's events folded into plain data.

The one fold of the client side: the CLI's live panels (``superllm_cli.runview``), the TUI,
a run replayed from the ledger and the benchmark all go through :meth:`RunState.apply`.
Stdlib only and free of Textual, so the CLI imports it cheaply and the folding is tested
without a screen. ``apply`` returns what changed, so a view redraws only that.

Participants are named as the daemon's events name them: ``run.started`` carries each one's
label (the model, with ``#2``, ``#3`` for a model that sits on the panel more than once). A
transcript recorded before labels were sent lists plain models; its lanes are then made as
events name them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Change",
    "Lane",
    "RoundInfo",
    "RunState",
    "Status",
    "Turn",
    "objections_of",
    "readable",
    "verdict",
]

Status = Literal["waiting", "streaming", "done", "failed", "retried"]


@dataclass
class Turn:
    """One participant's answer in one round."""

    text: str = ""
    deltas: int = 0
    done: bool = False


@dataclass
class Lane:
    """One participant (or the judge): its answers per round and its running numbers."""

    name: str
    status: Status = "waiting"
    turns: dict[int, Turn] = field(default_factory=dict)
    error: str | None = None
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0  # calls of this lane that had no price
    latency_ms: int | None = None

    def turn(self, round_: int) -> Turn:
        return self.turns.setdefault(round_, Turn())

    @property
    def last_round(self) -> int:
        return max(self.turns, default=0)

    def text_at(self, round_: int) -> str:
        """The answer shown for ``round_``: the latest one given up to that round."""
        rounds = [r for r in self.turns if r <= round_]
        return self.turns[max(rounds)].text if rounds else ""


@dataclass
class RoundInfo:
    agreement: float | None
    report: dict[str, Any]


@dataclass(frozen=True)
class Change:
    """What one event changed: ``kind`` is ``lane``, ``text``, ``round``, ``judge``,
    ``started``, ``finished`` or ``error``; ``text`` carries a delta's new text."""

    kind: str
    lane: str | None = None
    round: int = 0
    text: str = ""


@dataclass
class RunState:
    run_id: str | None = None
    mode: str | None = None
    lanes: dict[str, Lane] = field(default_factory=dict)
    judge: Lane | None = None
    rounds: dict[int, RoundInfo] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    calls: int = 0

    # -- folding ------------------------------------------------------------------------

    def apply(self, event: dict[str, Any]) -> Change | None:
        kind = event.get("type")
        if kind == "run.started":
            self.run_id, self.mode = event.get("run_id"), event.get("mode")
            for label in event.get("labels") or event.get("participants") or []:
                self.lane(str(label))
            return Change("started")
        if kind in ("delta", "judge.delta"):
            lane = self._lane_of(event)
            round_ = int(event.get("round", 0))
            turn = lane.turn(round_)
            if turn.done:  # a new attempt of a finished turn (a retry's second answer)
                turn.text, turn.done = "", False
            turn.text += event["text"]
            turn.deltas += 1
            lane.status = "streaming"
            return Change("text", lane.name, round_, event["text"])
        if kind in ("message", "judge.message"):
            return self._message(event)
        if kind == "error":
            return self._error(event)
        if kind == "retry":
            lane = self.lane(event["participant"])
            lane.status, lane.retries = "retried", lane.retries + 1
            lane.error = f"retry {event.get('attempt')}: {event.get('message', '')}".strip()
            return Change("lane", lane.name)
        if kind == "round.finished":
            round_ = int(event.get("round", 0))
            self.rounds[round_] = RoundInfo(event.get("agreement"), event.get("report") or {})
            return Change("round", round=round_)
        if kind == "run.finished":
            self.result = event.get("result") or {}
            self.run_id = self.run_id or self.result.get("run_id")
            if self.result.get("error") and not self.error:
                self.error = str(self.result["error"].get("message"))
            return Change("finished")
        return None

    def lane(self, name: str) -> Lane:
        return self.lanes.setdefault(name, Lane(name))

    def _lane_of(self, event: dict[str, Any]) -> Lane:
        name = event["participant"]
        if str(event["type"]).startswith("judge"):
            if self.judge is None or self.judge.name != name:
                self.judge = Lane(name)
            return self.judge
        return self.lane(name)

    def _message(self, event: dict[str, Any]) -> Change:
        lane = self._lane_of(event)
        round_ = int(event.get("round", 0))
        turn = lane.turn(round_)
        turn.text, turn.done = event["text"], True
        lane.status, lane.error = "done", None
        usage = event.get("usage") or {}
        lane.input_tokens += int(usage.get("input_tokens", 0))
        lane.output_tokens += int(usage.get("output_tokens", 0))
        cost = event.get("cost_usd")
        if cost is None:
            lane.unpriced += 1
        else:
            lane.cost_usd += float(cost)
        lane.latency_ms = event.get("latency_ms")
        self.calls += 1
        is_judge = str(event["type"]).startswith("judge")
        return Change("judge" if is_judge else "lane", lane.name, round_)

    def _error(self, event: dict[str, Any]) -> Change:
        name = event.get("participant")
        message = f"{event.get('code', 'error')}: {event.get('message', '')}"
        if name is None:
            self.error = message
            return Change("error")
        lane = self.judge if self.judge and self.judge.name == name else self.lane(name)
        lane.status, lane.error = "failed", message
        self.calls += 1
        return Change("lane", lane.name)

    # -- views --------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.result is not None

    @property
    def last_round(self) -> int:
        rounds = [lane.last_round for lane in self.lanes.values() if lane.turns]
        return max([*rounds, *self.rounds], default=0)

    @property
    def agreement(self) -> float | None:
        if self.result is not None and "agreement" in self.result:
            value = self.result.get("agreement")
            return None if value is None else float(value)
        known = [r.agreement for _, r in sorted(self.rounds.items()) if r.agreement is not None]
        return known[-1] if known else None

    def totals(self) -> tuple[int, int, float, int]:
        """(input tokens, output tokens, known cost, unpriced calls) so far; output tokens
        include the deltas of answers still streaming."""
        lanes = [*self.lanes.values(), *([self.judge] if self.judge else [])]
        if self.result is not None and self.result.get("usage"):
            usage = self.result["usage"]
            known, unpriced = _known_cost(self.result, lanes)
            return (
                int(usage.get("input_tokens", 0)),
                int(usage.get("output_tokens", 0)),
                known,
                unpriced,
            )
        streaming = sum(t.deltas for lane in lanes for t in lane.turns.values() if not t.done)
        return (
            sum(lane.input_tokens for lane in lanes),
            sum(lane.output_tokens for lane in lanes) + streaming,  # a delta is about a token
            sum(lane.cost_usd for lane in lanes),
            sum(lane.unpriced for lane in lanes),
        )


def _known_cost(result: dict[str, Any], lanes: list[Lane]) -> tuple[float, int]:
    """The result's known cost and unpriced count; from a daemon that sends neither, what
    the lanes counted."""
    if "known_cost_usd" in result and "unpriced_calls" in result:
        return float(result["known_cost_usd"]), int(result["unpriced_calls"])
    cost = result.get("cost_usd")
    if cost is not None:
        return float(cost), 0
    return sum(lane.cost_usd for lane in lanes), max(sum(lane.unpriced for lane in lanes), 1)


def verdict(result: dict[str, Any]) -> tuple[str, str] | None:
    """(title, text) of a run's final answer with who stood behind it, for a run whose
    answer no judge wrote: ``("vote", "411\n\n2 of 3 agree: a, b")``; None without one."""
    answer = result.get("answer")
    if not answer:
        return None
    report = result.get("report") or {}
    found = report.get("agreement")
    votes: dict[str, Any] = found if isinstance(found, dict) else {}
    distribution = votes.get("distribution")
    text = str(answer)
    if isinstance(distribution, dict) and distribution:
        winner = str(report.get("winner") or next(iter(distribution)))
        backers = [str(b) for b in distribution.get(winner) or []]
        n = int(votes.get("n") or sum(len(v) for v in distribution.values()))
        if backers:
            text += f"\n\n{len(backers)} of {n} agree: {', '.join(backers)}"
    return str(result.get("strategy") or result.get("mode") or "final"), text


def objections_of(state: RunState) -> list[dict[str, Any]]:
    """A redteam run's objections, each with blue's response and the judge's ruling.

    The final report is the record; while the run goes on they are read from red's, blue's
    and the judge's JSON answers as they arrive (best effort: what cannot be read is left
    out, as the daemon itself does).
    """
    if state.result is not None:
        found = (state.result.get("report") or {}).get("objections")
        if isinstance(found, list):
            return [o for o in found if isinstance(o, dict)]
    roles = {}
    if state.lanes:
        names = list(state.lanes)
        roles = {"blue": names[0], "red": names[1] if len(names) > 1 else names[0]}
    objections: list[dict[str, Any]] = []
    red = state.lanes.get(roles.get("red", ""))
    blue = state.lanes.get(roles.get("blue", ""))
    if red is not None:
        for round_, turn in sorted(red.turns.items()):
            for item in _json_list(turn.text if turn.done else "", "objections"):
                if item.get("claim"):
                    objections.append({**item, "id": f"O{len(objections) + 1}", "round": round_})
    by_id = {o["id"]: o for o in objections}
    if blue is not None and blue is not red:
        for round_, turn in blue.turns.items():
            if round_ == 0 and not turn.text.lstrip().startswith("{"):
                continue
            for item in _json_list(turn.text if turn.done else "", "responses"):
                if (o := by_id.get(str(item.get("id")))) is not None:
                    o["response"] = {"action": item.get("action"), "text": item.get("text", "")}
    if state.judge is not None:
        for turn in state.judge.turns.values():
            for item in _json_list(turn.text if turn.done else "", "objections"):
                if (o := by_id.get(str(item.get("id")))) is not None:
                    o.update(
                        valid=item.get("valid"),
                        resolved=item.get("resolved"),
                        reason=item.get("reason", ""),
                    )
    return objections


def _json_list(text: str, key: str) -> list[dict[str, Any]]:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return []
    try:
        value = json.loads(text[start : end + 1])
    except ValueError:
        return []
    items = value.get(key) if isinstance(value, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def readable(text: str) -> str:
    """A redteam role's JSON answer as markdown a person reads; other text as it is.

    Red's objections, blue's responses with its revised answer, and the judge's verdict
    arrive as JSON (the mode asks for it); shown raw they bury the point in braces.
    """
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return text
    try:
        value = json.loads(text[start : end + 1])
    except ValueError:
        return text
    if not isinstance(value, dict):
        return text
    lines: list[str] = []
    if "preference" in value or "final_answer" in value:
        lines.append(f"Preference: **{value.get('preference', '?')}**")
        for item in _json_list(text, "objections"):
            ruling = "valid" if item.get("valid") else "not valid"
            if item.get("valid"):
                ruling += ", resolved" if item.get("resolved") else ", open"
            lines.append(f"- {item.get('id')} {ruling}: {item.get('reason', '')}")
        lines.append(f"\nFinal answer: {value.get('final_answer', '')}")
        risks = value.get("residual_risks") or []
        if isinstance(risks, list) and risks:
            lines.append("\nResidual risks:\n\n" + "\n".join(f"- {r}" for r in risks))
    elif "responses" in value:
        for item in _json_list(text, "responses"):
            action = "accepted" if str(item.get("action")).startswith("accept") else "rebutted"
            lines.append(f"- {item.get('id')} {action}: {item.get('text', '')}")
        lines.append(f"\nRevised answer: {value.get('answer', '')}")
    elif "objections" in value:
        for item in _json_list(text, "objections"):
            lines.append(
                f"- ({item.get('severity', '?')}) {item.get('claim', '')}"
                + (f" (evidence: {item['evidence']})" if item.get("evidence") else "")
            )
        if not lines:
            lines.append("No objections.")
    else:
        return text
    return "\n".join(lines)
