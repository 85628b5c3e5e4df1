"""``superllm log on|off|status`` and ``superllm log rm ID|--before DATE``.

Whether the daemon stores prompt and response text is ``[daemon] log_prompts``; tokens and
costs are always kept, because budgets and usage depend on them. ``rm`` removes runs' text
from the ledger (their place in ``superllm log``), never their costs.
"""

from __future__ import annotations

import sys
from typing import Any

from superllm_cli.render import Output

__all__ = ["ACTIONS", "control"]

ACTIONS = ("on", "off", "status", "rm")


def _status(client: Any, out: Output, *, json_out: bool) -> None:
    settings = client.config()["settings"]
    storing = bool(settings["daemon"]["log_prompts"])
    if json_out:
        out.json({"log_prompts": storing})
        return
    sys.stdout.write(
        (
            "on: prompts and answers are stored"
            if storing
            else "off: prompts and answers are not stored"
        )
        + "; tokens and costs are always kept\n"
    )


def control(
    client: Any, out: Output, action: str, target: str | None, before: str | None, json_out: bool
) -> None:
    """Run one of ACTIONS against the daemon ``client``."""
    from superllmd.errors import UsageError

    if action in ("on", "off"):
        if target is not None or before is not None:
            raise UsageError(f"`superllm log {action}` takes no other argument")
        value = "true" if action == "on" else "false"
        client.set_config("daemon.log_prompts", value)
        _status(client, out, json_out=json_out)
        return
    if action == "status":
        _status(client, out, json_out=json_out)
        return
    if (target is None) == (before is None):
        raise UsageError("`superllm log rm` takes a run id or --before DATE (e.g. 30d, 2025-01-31)")
    done = client.forget_runs(target, before=before)
    if json_out:
        out.json(done)
        return
    count = done["runs"]
    sys.stdout.write(f"removed {count} run{'' if count == 1 else 's'}' text; costs are kept\n")
