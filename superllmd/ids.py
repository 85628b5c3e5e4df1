"""Random ids for runs, calls and responses: unique, not secret.

``os.urandom`` (behind ``secrets`` and ``uuid.uuid4``) is a system call that lets go of the
GIL, and a gateway request made four of them; ids need uniqueness, not unpredictability, so
they come from a generator seeded once from the system's randomness. Secrets (tokens) still
use ``secrets``.
"""

from __future__ import annotations

import random

__all__ = ["random_hex"]

_rng = random.Random()  # seeded from os.urandom


def random_hex(nbytes: int) -> str:
    """``nbytes`` random bytes as ``2 * nbytes`` hex digits."""
    return f"{_rng.getrandbits(nbytes * 8):0{nbytes * 2}x}"
