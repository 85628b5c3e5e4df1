"""A run's events as MCP progress lines, and its result as a tool answer. Stdlib only.

Progress is reported per participant and per round ("round 2/3: 2 of 3 answered
(openai/gpt-4.1)"). The progress value counts the notifications sent, so it only grows, as
MCP requires; no total is claimed, because a debate may stop early and a judge may or may
not be called.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["DEBATE_ROUNDS", "Progress", "answer_text", "query_text", "summary_line"]

DEBATE_ROUNDS: Final = 3  # the daemon's default (orchestrator/debate.py)
# Modes where every participant answers once per round, so "k of n" is true.
_PANELS: Final = {"ask", "consensus", "debate"}


class Progress:
    """Feed it every event of one run; it returns the line to send, or None."""

    def __init__(self, mode: str, rounds: int | None = None) -> None:
        self.mode = mode
        self.rounds = rounds or (DEBATE_ROUNDS if mode == "debate" else None)
        self.size = 0
        self.count = 0
        self._answered: Counter[int] = Counter()
        self._failed: Counter[int] = Counter()
        self._current = 0  # error events carry no round: they belong to the latest one

    def feed(self, event: Mapping[str, Any]) -> str | None:
        line = self._line(event)
        if line is not None:
            self.count += 1
        return line

    def _line(self, event: Mapping[str, Any]) -> str | None:
        kind = event.get("type")
        if kind == "run.started":
            self.size = len(event.get("participants") or [])
            return f"{self.mode} started with {self.size} participant(s)"
        if kind == "message":
            round_ = self._current = int(event.get("round") or 0)
            self._answered[round_] += 1
            return f"{self._tally(round_)} ({event.get('participant')})"
        if kind == "error" and event.get("participant"):
            round_ = self._current
            self._failed[round_] += 1
            return f"{self._tally(round_)} ({event['participant']} failed: {event.get('message')})"
        if kind == "judge.message":
            return f"judge answered ({event.get('participant')})"
        if kind == "retry":
            return (
                f"{event.get('participant')}: {event.get('code')}, trying again "
                f"(attempt {int(event.get('attempt') or 0) + 1})"
            )
        if kind == "round.finished":
            self._current = int(event["round"]) + 1
        if kind == "round.finished" and event.get("agreement") is not None:
            return f"{self._round(int(event['round']))}agreement {event['agreement']:.2f}"
        return None

    def _round(self, round_: int) -> str:
        if self.rounds:
            return f"round {round_ + 1}/{self.rounds}: "
        return f"round {round_ + 1}: " if round_ else ""

    def _tally(self, round_: int) -> str:
        answered, failed = self._answered[round_], self._failed[round_]
        if self.mode in _PANELS and self.size:
            text = f"{answered} of {self.size} answered"
        else:
            text = f"{answered} answered"
        if failed:
            text += f", {failed} failed"
        return self._round(round_) + text


def _cost(value: Any) -> str:
    if value is None:
        return "cost unknown (an unpriced model)"
    return f"${value:.6f}" if 0 < value < 0.01 else f"${value:.4f}"


def summary_line(result: Mapping[str, Any]) -> str:
    """The run in one line after its answer: agreement, tokens, cost, run id."""
    usage = result.get("usage") or {}
    tokens = int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)
    parts = []
    if result.get("agreement") is not None:
        parts.append(f"agreement {result['agreement']:.2f}")
    parts += [f"{tokens} tokens", _cost(result.get("cost_usd")), f"run {result.get('run_id')}"]
    return " · ".join(parts)


def answer_text(result: Mapping[str, Any]) -> str:
    """What a client shows of a run: the answer, then the summary line."""
    return f"{result.get('answer') or ''}\n\n[superllm: {summary_line(result)}]"


def query_text(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False)
