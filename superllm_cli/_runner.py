"""Running a command body the same way whichever parser read the command line.

Typer (``options.run``) and the fast path (``_fast``) both run a command's body through
:func:`guarded`: a superllm error becomes one line on stderr and its exit code, Ctrl-C
becomes 130, a reader that went away (``| head``) becomes 0. Stdlib only: the fast path
imports it on every call.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from superllm_cli.render import ColorMode, Output
from superllmd.records import record

__all__ = ["COLOR_MODES", "ExitCode", "Globals", "guarded"]

T = TypeVar("T")
#: What the root --color takes (checked before any command runs, by either parser).
COLOR_MODES = ("auto", "always", "never")


@record
class Globals:
    """The root options (``--color``, ``-v``, ``--debug``) every command's body sees."""

    color: ColorMode = "auto"
    verbose: bool = False
    debug: bool = False

    def output(self) -> Output:
        return Output(self.color, self.verbose)


class ExitCode(Exception):
    """End the command with ``code``; whatever had to be said has been said."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def guarded(g: Globals, body: Callable[[Output], T]) -> T:
    """Run ``body``: superllm errors become a message and :class:`ExitCode`."""
    from superllmd.errors import SuperllmError

    out = g.output()
    try:
        return body(out)
    except SuperllmError as exc:
        if g.debug:
            raise
        out.error(exc.message)
        raise ExitCode(exc.exit_code) from None
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        raise ExitCode(130) from None
    except BrokenPipeError:
        # The reader went away (superllm ask ... | head): not an error worth a message.
        sys.stderr.close()
        raise ExitCode(0) from None
