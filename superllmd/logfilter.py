"""Rate-limited logging: a message that repeats (accept() failing in a storm of EMFILE, a
provider down for every call) is written once per window, with how many were held back.

With descriptors exhausted, asyncio logs ``socket.accept() out of system resource`` on every
loop turn: 140,000 lines in ten seconds. One line per window says the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["RepeatFilter"]


class RepeatFilter(logging.Filter):
    """Lets the first record of each (logger, level, message template) through per ``window``
    seconds; the next one let through says how many were dropped in between."""

    def __init__(
        self, window: float = 10.0, clock: Callable[[], float] = time.monotonic, keep: int = 1024
    ) -> None:
        super().__init__()
        self.window = window
        self.clock = clock
        self.keep = keep
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.window:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        if len(self._seen) >= self.keep:  # many distinct messages: forget the oldest half
            for old in sorted(self._seen, key=lambda k: self._seen[k][0])[: self.keep // 2]:
                del self._seen[old]
        self._seen[key] = (now, 0)
        if last is not None and last[1]:
            record.msg = f"{record.msg} ({last[1]} more like it in the last {self.window:g} s)"
        return True
