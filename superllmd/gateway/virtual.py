"""Virtual models: the multi-model modes behind a model name, for any vendor-shaped client.

::

    consensus:openai/gpt-4.1,anthropic/claude-sonnet-4-5,gemini/gemini-2.5-pro?strategy=vote
    debate:openai/gpt-4.1,anthropic/claude-sonnet-4-5?rounds=2
    redteam:openai/gpt-4.1,anthropic/claude-sonnet-4-5?judge=openai/gpt-4.1-mini
    consensus                       (the default panel: the ``panel`` alias, or the default
                                     model three times)

Options are a query string: the named fields of a run request (``strategy``, ``rounds``,
``judge``, ``threshold``, ``quorum``, ``require_agreement``, ``answer_type``, ``samples``,
``max_calls``, ``timeout``, ``seed``); anything else goes to the mode's own options. Any
other name (a model, an alias, a fallback chain, a selector) is an ordinary ask.

A virtual run's final answer is the reply's content; how it was reached (participants,
rounds, agreement, the mode's report) and the run's cost travel in a ``superllm`` key that
vendor clients ignore (``extension``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from superllmd.errors import UsageError
from superllmd.protocol import Event, RunRequest, RunResult

__all__ = ["VIRTUAL_MODES", "Virtual", "extension", "parse", "progress"]

#: Virtual model prefix -> the mode's route (orchestrator/modes.py).
VIRTUAL_MODES = {"consensus": "consensus", "debate": "debate", "redteam": "adversarial"}

_INT = {"rounds", "quorum", "max_calls", "seed", "max_run_tokens"}
_FLOAT = {"threshold", "timeout", "max_cost"}
_STR = {"strategy", "judge", "answer_type", "samples"}
_BOOL = {"require_agreement"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class Virtual:
    """A parsed virtual model: which mode, over which models, with which options."""

    name: str  # as the caller wrote it
    mode: str  # a route of orchestrator.modes.MODES
    models: tuple[str, ...]
    options: Mapping[str, Any]

    def request(self, base: Mapping[str, Any]) -> RunRequest:
        """A run request: the chat's fields (prompt, system, history, ...) plus the mode's."""
        body: dict[str, Any] = {
            k: v for k, v in base.items() if k not in {"model", "stop", "json_output"}
        }
        body["models"] = list(self.models)
        mode_options: dict[str, Any] = {}
        for key, value in self.options.items():
            if key in _INT | _FLOAT | _STR | _BOOL:
                body[key] = value
            else:
                mode_options[key] = value
        if mode_options:
            body["mode_options"] = mode_options
        return body  # type: ignore[return-value]


def parse(model: str) -> Virtual | None:
    """The virtual model ``model`` names, or None for an ordinary model name.

    >>> parse("consensus:a/x,b/y?strategy=vote").options
    {'strategy': 'vote'}
    """
    head, colon, rest = model.partition(":")
    if head not in VIRTUAL_MODES or (colon and not rest):
        return None
    names, _, query = rest.partition("?")
    models = tuple(n.strip() for n in names.split(",") if n.strip())
    options = {key: _value(key, raw) for key, raw in parse_qsl(query, keep_blank_values=True)}
    return Virtual(model, VIRTUAL_MODES[head], models, options)


def _value(key: str, raw: str) -> Any:
    try:
        if key in _INT:
            return int(raw)
        if key in _FLOAT:
            return float(raw)
    except ValueError:
        raise UsageError(
            f"virtual model option {key}={raw!r} takes a number", param="model"
        ) from None
    if key in _BOOL or raw.lower() in _TRUE | _FALSE:
        if raw.lower() not in _TRUE | _FALSE:
            raise UsageError(f"virtual model option {key}={raw!r} takes true or false")
        return raw.lower() in _TRUE
    return raw


def progress(event: Event) -> dict[str, Any] | None:
    """What a stream's ``superllm`` key carries for one native event of a virtual run: the
    participants' text and messages, rounds, judging and errors (the answer goes as
    content). None for events the extension leaves out."""
    kind = event["type"]
    if kind == "run.finished":
        return None
    return {k: v for k, v in event.items() if k != "run_id"}


def extension(result: RunResult, virtual: Virtual | None) -> dict[str, Any]:
    """The ``superllm`` key of a finished reply: run id, the model that answered, cost, and
    for a virtual model how the answer was reached."""
    out: dict[str, Any] = {
        "run_id": result["run_id"],
        "mode": result["mode"],
        "model": result.get("model"),
        "cost_usd": result["cost_usd"],
        "usage": result["usage"],
    }
    if virtual is not None:
        out["agreement"] = result.get("agreement")
        out["strategy"] = result.get("strategy")
        out["rounds"] = result.get("rounds")
        out["participants"] = result["participants"]
        out["judge"] = result["judge"]
        out["report"] = result.get("report", {})
        out["stopped"] = result.get("stopped")
    if result.get("warnings"):
        out["warnings"] = result.get("warnings")
    return out


def virtual_ids(aliases: Sequence[str]) -> list[str]:
    """The model ids /v1/models offers for the modes: each mode over the default panel."""
    return sorted(VIRTUAL_MODES)
