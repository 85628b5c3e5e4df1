"""``superllm tui``: open the TUI; and ``consensus|debate --tui``: open it on one run.

Textual is imported here, inside the command bodies, never at module level: ``superllm ask``
must not pay for it (tests/unit/test_cli_imports.py).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from superllm_cli.completion import complete_models
from superllm_cli.options import NoAutostart, run
from superllm_cli.render import Output

__all__ = ["open_run", "tui"]


def _needs_terminal() -> None:
    from superllmd.errors import UsageError

    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        raise UsageError("the TUI needs a terminal; in a pipe use the plain commands")


def tui(
    ctx: typer.Context,
    mode: Annotated[
        str, typer.Option("--mode", help="ask, consensus, debate or redteam to start in.")
    ] = "consensus",
    model: Annotated[
        list[str] | None,
        typer.Option(
            "-m", "--model", help="Pick a model; repeat for more.", autocompletion=complete_models
        ),
    ] = None,
    no_autostart: NoAutostart = False,
) -> None:
    """Open the terminal UI: watch models answer side by side, usage, history, providers."""
    if mode not in ("ask", "consensus", "debate", "redteam"):
        raise typer.BadParameter("use ask, consensus, debate or redteam", param_hint="--mode")

    def body(out: Output) -> None:
        _needs_terminal()
        from superllm_cli.tui.app import SuperllmApp
        from superllm_cli.tui.backend import DaemonBackend

        backend = DaemonBackend(autostart=not no_autostart)
        SuperllmApp(backend=backend, mode=mode, models=list(model or [])).run()

    run(ctx, body)


def open_run(route: str, request: dict[str, Any], out: Output, *, autostart: bool = True) -> None:
    """Open the TUI on one run (``superllm debate --tui ...``) instead of the plain view.

    When the user quits, the run ends as the plain command would: its answer on stdout, its
    failures and warnings on stderr, and the same exit code (6 where ``--require-agreement``
    was not met); quitting before the run finished is an interruption (130).
    """
    _needs_terminal()
    from superllm_cli.runview import print_failures, print_warnings, summary
    from superllm_cli.tui.app import SuperllmApp
    from superllm_cli.tui.backend import DaemonBackend
    from superllmd.errors import Cancelled, from_dict

    mode = "redteam" if route == "adversarial" else route
    app = SuperllmApp(
        backend=DaemonBackend(autostart=autostart),
        mode=mode if mode in ("ask", "consensus", "debate", "redteam") else "consensus",
        models=list(request.get("models") or []),
        start=(f"/v1/{route}", request),
    )
    app.run()
    result = app.start_result
    if result is None:
        raise Cancelled("the run was stopped in the TUI before it finished")
    if result.get("answer"):
        out.answer(str(result["answer"]))
    out.status(summary(result))
    print_failures(result, out)
    print_warnings(result, out)
    if result.get("error"):
        raise from_dict(result["error"])
