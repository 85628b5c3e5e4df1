"""Which function runs which mode. Mode modules are imported on first use."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from superllmd.errors import UsageError
from superllmd.orchestrator.context import ModeFn
from superllmd.protocol import Mode

__all__ = ["MODES", "ModeSpec", "mode_function"]


@dataclass(frozen=True, slots=True)
class ModeSpec:
    mode: Mode
    module: str  # superllmd.orchestrator.<module>, exposing ``async def run(ctx)``
    route: str
    # One model answers (a fallback chain after it): its request names ``model``, not a
    # panel, and its result reports that model instead of agreement (context.RunContext).
    single: bool = False
    #: It answers ``json_schema`` (a validated JSON object); other modes refuse one.
    structured: bool = False


MODES: dict[str, ModeSpec] = {
    spec.route: spec
    for spec in (
        ModeSpec("ask", "ask", "ask", single=True, structured=True),
        ModeSpec("consensus", "consensus", "consensus", structured=True),
        ModeSpec("debate", "debate", "debate"),
        ModeSpec("redteam", "adversarial", "adversarial"),
        ModeSpec("chain", "chain", "chain"),
        ModeSpec("mapreduce", "mapreduce", "mapreduce"),
    )
}


def mode_function(spec: ModeSpec) -> ModeFn:
    try:
        module = importlib.import_module(f"superllmd.orchestrator.{spec.module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"superllmd.orchestrator.{spec.module}":
            raise UsageError(f"the {spec.mode} mode is not available in this build") from None
        raise
    run: ModeFn = module.run
    return run
