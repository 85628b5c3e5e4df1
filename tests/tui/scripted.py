"""A backend with fixed answers, for screenshots that are the same on every machine and day.

The app takes any object with the :class:`~superllm_cli.tui.backend.Backend` methods; this
one answers from the data below instead of a daemon, and streams fixed runs: a debate of
three models over two rounds with a judge, and a redteam. The data has the daemon's shapes
(``/v1/models``, ``/v1/providers``, ``/v1/usage``, ``/v1/budgets``, ``/v1/runs``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from typing import Any

__all__ = ["TODAY", "ScriptedBackend", "debate_events", "redteam_events"]

TODAY = dt.date(2026, 1, 15)
RUN_ID = "run_0a1b2c3d"
PANEL = ["fake/alpha", "fake/beta", "local/smollm2"]

ANSWERS = {
    0: {
        "fake/alpha": "We need **11 + 25 × 16**.\n\n1. Multiply first: 25 × 16 = 400\n"
        "2. Add: 11 + 400 = 411\n\nFINAL ANSWER: 411",
        "fake/beta": "Left to right: 11 + 25 = 36, times 16 is 576.\n\nFINAL ANSWER: 576",
        "local/smollm2": "The product comes first, so the sum is `411`.\n\nFINAL ANSWER: 411",
    },
    1: {
        "fake/alpha": "The others agree on precedence; I keep **411**.\n\nFINAL ANSWER: 411",
        "fake/beta": "I evaluated left to right by mistake: multiplication binds tighter.\n\n"
        "FINAL ANSWER: 411",
        "local/smollm2": "Still `411`.\n\nFINAL ANSWER: 411",
    },
}
JUDGE = "All three agree after round 1: **411** (beta corrected its order of operations)."


def _usage(text: str) -> dict[str, int]:
    return {"input_tokens": 40, "output_tokens": len(text.split()), "cached_tokens": 0}


def _cost(model: str, text: str) -> float | None:
    return None if model.startswith("fake/") else round(len(text.split()) * 1e-6, 8)


def _say(kind: str, model: str, round_: int, text: str, run_id: str) -> list[dict[str, Any]]:
    words = text.split(" ")
    events: list[dict[str, Any]] = [
        {"type": f"{kind}delta", "run_id": run_id, "participant": model, "round": round_,
         "text": w + (" " if i < len(words) - 1 else "")}
        for i, w in enumerate(words)
    ]  # fmt: skip
    events.append(
        {"type": f"{kind}message", "run_id": run_id, "participant": model, "round": round_,
         "text": text, "usage": _usage(text), "cost_usd": _cost(model, text), "latency_ms": 812}
    )  # fmt: skip
    return events


def debate_events(run_id: str = RUN_ID) -> list[dict[str, Any]]:
    """A finished debate: round 0 split 2 to 1, round 1 unanimous, the judge's summary."""
    events: list[dict[str, Any]] = [
        {
            "type": "run.started",
            "run_id": run_id,
            "mode": "debate",
            "participants": PANEL,
            "labels": PANEL,
        }
    ]
    for round_, agreement in ((0, 1 / 3), (1, 1.0)):
        for model in PANEL:
            events += _say("", model, round_, ANSWERS[round_][model], run_id)
        events.append(
            {"type": "round.finished", "run_id": run_id, "round": round_,
             "agreement": agreement, "report": {}}
        )  # fmt: skip
    events += _say("judge.", "fake/judge", 1, JUDGE, run_id)
    participants = [
        {"model": m, "answer": ANSWERS[1][m], "error": None, "usage": _usage(ANSWERS[1][m]),
         "cost_usd": _cost(m, ANSWERS[1][m]), "latency_ms": 812}
        for m in PANEL
    ]  # fmt: skip
    result = {
        "run_id": run_id, "mode": "debate", "answer": "411", "agreement": 1.0, "rounds": 2,
        "participants": participants, "judge": {"model": "fake/judge", "answer": JUDGE},
        "usage": {"input_tokens": 280, "output_tokens": 96, "cached_tokens": 0},
        "cost_usd": None, "latency_ms": 2436, "conversation_id": None, "calls": 7,
    }  # fmt: skip
    events.append({"type": "run.finished", "run_id": run_id, "result": result})
    return events


def redteam_events(run_id: str = "run_5e6f7a8b") -> list[dict[str, Any]]:
    """A redteam critique: one upheld objection that blue accepted, one dismissed."""
    red = '{"objections": [{"id": "1", "claim": "Adds before multiplying", "evidence": ' \
        '"11 + 25 = 36 first", "severity": "high"}, {"id": "2", "claim": "No units given", ' \
        '"evidence": "none", "severity": "low"}]}'  # fmt: skip
    blue = '{"responses": [{"id": "O1", "action": "accept", "text": "Fixed: 25 × 16 first"}, ' \
        '{"id": "O2", "action": "rebut", "text": "The question has no units"}], ' \
        '"answer": "FINAL ANSWER: 411"}'  # fmt: skip
    judge = '{"objections": [{"id": "O1", "valid": true, "resolved": true, "reason": ' \
        '"precedence was wrong, now fixed"}, {"id": "O2", "valid": false, "resolved": false, ' \
        '"reason": "not a flaw"}], "preference": "revise", "final_answer": "411", ' \
        '"residual_risks": []}'  # fmt: skip
    events: list[dict[str, Any]] = [
        {"type": "run.started", "run_id": run_id, "mode": "redteam",
         "participants": ["fake/blue", "fake/red"], "labels": ["fake/blue", "fake/red"]}
    ]  # fmt: skip
    events += _say("", "fake/blue", 0, "11 + 25 = 36; 36 × 16 = 576. FINAL ANSWER: 576", run_id)
    events += _say("", "fake/red", 0, red, run_id)
    events += _say("", "fake/blue", 0, blue, run_id)
    events += _say("judge.", "fake/judge", 0, judge, run_id)
    events.append(
        {"type": "round.finished", "run_id": run_id, "round": 0, "agreement": 1.0,
         "report": {"new_objections": 2, "open": 0}}
    )  # fmt: skip
    events.append(
        {"type": "run.finished", "run_id": run_id,
         "result": {"run_id": run_id, "mode": "redteam", "answer": "411", "agreement": 1.0,
                    "participants": [], "judge": {"model": "fake/judge", "answer": "411"},
                    "usage": {"input_tokens": 160, "output_tokens": 90, "cached_tokens": 0},
                    "cost_usd": None, "latency_ms": 3000, "conversation_id": None,
                    "calls": 4, "report": {}}}
    )  # fmt: skip
    return events


MODELS = [
    {"model": "fake/alpha", "provider": "fake", "price_input": None, "price_output": None,
     "context_window": None, "embeddings": False},
    {"model": "fake/beta", "provider": "fake", "price_input": None, "price_output": None,
     "context_window": None, "embeddings": False},
    {"model": "local/smollm2", "provider": "local", "price_input": 0.0, "price_output": 0.0,
     "context_window": 8192, "embeddings": False},
    {"model": "openai/gpt-4.1-mini", "provider": "openai", "price_input": 0.4,
     "price_output": 1.6, "context_window": 1047576, "embeddings": False},
]  # fmt: skip
PROVIDERS = [
    {"id": "fake", "kind": "openai-compatible", "base_url": "http://127.0.0.1:8000/v1",
     "key_source": None, "key_env": [], "configured": True, "models": ["alpha", "beta"]},
    {"id": "local", "kind": "local", "base_url": None, "key_source": None, "key_env": [],
     "configured": True, "models": []},
    {"id": "openai", "kind": "openai", "base_url": "https://api.openai.com/v1",
     "key_source": "$OPENAI_API_KEY", "key_env": ["OPENAI_API_KEY"], "configured": True,
     "models": []},
    {"id": "anthropic", "kind": "anthropic", "base_url": "https://api.anthropic.com",
     "key_source": None, "key_env": ["ANTHROPIC_API_KEY"], "configured": False, "models": []},
]  # fmt: skip
CHECKS = [
    {"id": "fake", "ok": True, "latency_ms": 3, "via": "models", "model": None, "error": None},
    {"id": "local", "ok": True, "latency_ms": 41, "via": "complete", "model": "smollm2",
     "error": None},
    {"id": "openai", "ok": False, "latency_ms": 120, "via": "models", "model": None,
     "error": {"code": "auth", "message": "bad key"}},
]  # fmt: skip


def _figures(calls: int, cost: float | None, unpriced: int | None = None) -> dict[str, Any]:
    # As the daemon reports it: cost_usd null when any call was unpriced, and what is known.
    unpriced = (calls if cost is None else 0) if unpriced is None else unpriced
    return {"calls": calls, "input_tokens": calls * 50, "output_tokens": calls * 20,
            "cached_tokens": 0, "cost_usd": None if unpriced else cost,
            "known_cost_usd": cost or 0.0, "unpriced_calls": unpriced,
            "cache_hits": 0, "errors": 0}  # fmt: skip


def _usage_report(by: str) -> dict[str, Any]:
    if by == "day":
        days = [(9, 4, 0.0021), (11, 12, 0.0105), (12, 3, None), (14, 9, 0.0064), (15, 7, 0.0032)]
        rows = [{"day": f"2026-01-{d:02d}", **_figures(c, x)} for d, c, x in days]
    elif by == "provider":
        rows = [{"provider": "openai", **_figures(20, 0.0222)},
                {"provider": "fake", **_figures(12, None)},
                {"provider": "local", **_figures(3, 0.0)}]  # fmt: skip
    else:
        rows = [{"model": "openai/gpt-4.1-mini", **_figures(20, 0.0222)},
                {"model": "fake/alpha", **_figures(6, None)},
                {"model": "fake/beta", **_figures(6, None)},
                {"model": "local/smollm2", **_figures(3, 0.0)}]  # fmt: skip
    totals = _figures(35, 0.0222, 12)
    return {"by": by, "since": None, "until": None, "totals": totals, "rows": rows}


BUDGETS = {
    "path": "/home/user/.config/superllm/config.toml", "warn_at": 0.8, "block_unpriced": False,
    "budgets": [
        {"budget": "daily", "scope": "global", "name": None, "period": "day", "limit_usd": 0.05,
         "spent_usd": 0.0032, "reserved_usd": 0.0, "left_usd": 0.0468, "unpriced": True},
        {"budget": "monthly", "scope": "global", "name": None, "period": "month",
         "limit_usd": 0.03, "spent_usd": 0.0222, "reserved_usd": 0.002, "left_usd": 0.0058,
         "unpriced": False},
        {"budget": "daily openai", "scope": "provider", "name": "openai", "period": "day",
         "limit_usd": 0.01, "spent_usd": 0.011, "reserved_usd": 0.0, "left_usd": 0.0,
         "unpriced": False},
    ],
}  # fmt: skip
RUNS = [
    {"run_id": RUN_ID, "time": 1768471200, "mode": "debate", "prompt": "Compute 11 + 25 * 16.",
     "agreement": 1.0, "cost_usd": None},
    {"run_id": "run_5e6f7a8b", "time": 1768467600, "mode": "redteam",
     "prompt": "Compute 11 + 25 * 16; show your steps.", "agreement": 1.0, "cost_usd": None},
    {"run_id": "run_9c0d1e2f", "time": 1768381200, "mode": "consensus",
     "prompt": "Name the largest planet.", "agreement": 0.67, "cost_usd": 0.0012},
]  # fmt: skip


class ScriptedBackend:
    """Fixed answers; ``stream`` plays ``runs`` in turn (a debate, then a redteam)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        self.runs = [debate_events(), redteam_events()]

    def request_env(self) -> dict[str, str]:
        return {}

    async def get(self, path: str) -> Any:
        self.requests.append((path, None))
        route, _, query = path.partition("?")
        if route == "/v1/models":
            return MODELS
        if route == "/v1/providers":
            return PROVIDERS
        if route == "/v1/usage":
            by = next((p[3:] for p in query.split("&") if p.startswith("by=")), "day")
            return _usage_report(by)
        if route == "/v1/budgets":
            return BUDGETS
        if route == "/v1/runs":
            if "search=" in query:
                word = query.split("search=", 1)[1].split("&")[0].lower()
                return {"runs": [r for r in RUNS if word in str(r["prompt"]).lower()]}
            return {"runs": RUNS}
        if route.startswith("/v1/runs/"):
            run_id = route.rsplit("/", 1)[1]
            events = redteam_events(run_id) if run_id == "run_5e6f7a8b" else debate_events()
            return {"run_id": run_id, "transcript": events}
        raise AssertionError(f"no scripted answer for GET {path}")

    async def post(self, path: str, body: Any) -> Any:
        self.requests.append((path, body))
        if path == "/v1/providers/check":
            return CHECKS
        raise AssertionError(f"no scripted answer for POST {path}")

    async def stream(self, path: str, body: Any) -> AsyncGenerator[dict[str, Any], None]:
        self.requests.append((path, body))
        events = self.runs.pop(0) if self.runs else debate_events()
        for event in events:
            yield event
