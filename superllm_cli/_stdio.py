"""Standard streams that may be closed or full, so output failures end in one clear line.

A process started with ``>&-`` or ``2>&-`` gets ``sys.stdout``/``sys.stderr`` = None, and one
writing to /dev/full fails on every flush (and again at exit). Without care either becomes a
traceback or a wrong exit code: an error message that cannot be shown must not turn a
provider error (exit 4) into exit 1.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys

__all__ = ["guard_streams", "output_failed"]

# Exit code when the output cannot be written: 1, the code of an unexpected error.
EXIT_OUTPUT = 1


class _Closed(io.TextIOBase):
    """Stands in for a closed stream: writing to it fails like writing to a closed fd."""

    def __init__(self, name: str, *, discard: bool) -> None:
        self._name = name
        self._discard = discard

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if self._discard:
            return len(text)
        raise OSError(errno.EBADF, f"{self._name} is closed")


def guard_streams() -> None:
    """Replace closed std streams: stderr by a sink (errors still set the exit code), stdout
    by a stream whose writes fail with EBADF (reported by :func:`output_failed`)."""
    if sys.stderr is None:
        sys.stderr = _Closed("stderr", discard=True)
    if sys.stdout is None:
        sys.stdout = _Closed("stdout", discard=False)
    if sys.stdin is None:
        sys.stdin = io.StringIO()


def output_failed(exc: OSError) -> int:
    """Report an output that cannot be written, silence the flush at exit, return the code."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EPIPE:  # the reader went away (| head): not worth a message
        code = 0
    else:
        code = EXIT_OUTPUT
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(
                f"superllm: error: cannot write the output to stdout ({reason}); "
                "send it somewhere that takes it (> FILE or | less)\n"
            )
            sys.stderr.flush()
    # Python flushes stdout again at exit and would print "Exception ignored ...".
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    sys.stdout = _Closed("stdout", discard=True)
    return code
