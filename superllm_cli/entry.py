"""The ``superllm`` command: the fast path for the hot commands, Typer for everything else.

Kept to the standard library: this runs before anything else on every call, and the fast
path (``_fast``) exists because importing Typer costs more than a whole ``superllm ask``.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(*, fast: bool = True) -> None:
    """Run ``sys.argv``; with ``fast=False`` Typer reads every command line."""
    from superllm_cli._stdio import guard_streams, output_failed

    guard_streams()
    try:
        try:
            code = None
            if fast:
                from superllm_cli import _fast

                code = _fast.run(sys.argv[1:])
            if code is None:
                from superllm_cli.app import typer_main

                typer_main()
            else:
                sys.exit(code)
        finally:
            sys.stdout.flush()  # a failed write shows here, not as noise at interpreter exit
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:
        # stdout on a full disk (/dev/full), closed (>&-) or gone: one line, not a traceback.
        sys.exit(output_failed(exc))
