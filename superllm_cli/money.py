"""How numbers are written everywhere the CLI and the TUI show them: money, token counts,
durations and aligned tables (one rule each, one module).

* A known amount gets four significant figures and at least cents: ``$2.00``, ``$0.01601``,
  ``$0.000008``; a cost that is not zero never reads ``$0.0000``.
* Calls of a model nobody priced are counted, never shown as free: the known sum plus how
  many calls had no price, ``$0.1591 + 3 unpriced``, or ``unpriced`` (``3 unpriced``) when
  nothing in it had a price.

* Token counts: ``9999``, ``12.3k``, ``128k``, ``1M``.
* Durations: ``812 ms`` under a second, ``2.4 s`` under a minute, ``3m 05s`` beyond.
* Tables: columns padded to their widest cell, two spaces apart, the last one ragged.

Stdlib only: the CLI imports it on every command.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from superllmd.money import usd

__all__ = ["cost_of", "cost_text", "duration", "io_tokens", "table", "tokens", "usd"]


def cost_text(known: float, unpriced: int) -> str:
    """The known sum plus a count of unpriced calls: ``$0.1591 + 3 unpriced``."""
    if unpriced <= 0:
        return usd(known)
    marker = "unpriced" if unpriced == 1 else f"{unpriced} unpriced"
    if known <= 0:
        return marker
    return f"{usd(known)} + {unpriced} unpriced"


def cost_of(figures: Mapping[str, Any]) -> tuple[float, int]:
    """(known USD, unpriced calls) of a run result or a usage row.

    Reads ``known_cost_usd`` and ``unpriced_calls`` where the daemon sends them; from an
    older daemon, a null ``cost_usd`` counts as one unpriced call of unknown cost.
    """
    cost = figures.get("cost_usd")
    known = figures.get("known_cost_usd")
    unpriced = figures.get("unpriced_calls")
    if known is None:
        known = 0.0 if cost is None else cost
    if unpriced is None:
        unpriced = 1 if cost is None else 0
    return float(known), int(unpriced)


def tokens(n: int) -> str:
    """A token count, short: ``9999``, ``12.3k``, ``128k``, ``1.5M``."""
    for size, unit in ((1_000_000, "M"), (1000, "k")):
        if n >= max(size, 10_000):
            return f"{n / size:.1f}".removesuffix(".0") + unit
    return str(n)


def io_tokens(figures: Mapping[str, Any]) -> str:
    """``424 in / 159 out tokens`` of a usage, a run result's or a report's totals."""
    return f"{figures.get('input_tokens', 0)} in / {figures.get('output_tokens', 0)} out tokens"


def duration(ms: float) -> str:
    """A duration in milliseconds, read at a glance: ``812 ms``, ``2.4 s``, ``3m 05s``."""
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes}m {seconds:02d}s"


def table(rows: Sequence[Sequence[str]], *, right: Collection[int] = ()) -> list[str]:
    """Rows as aligned lines: each column padded to its widest cell (``right``: the indexes
    of columns aligned right, such as amounts), two spaces apart, the last column ragged.

    >>> table([("MODEL", "PRICE"), ("openai/gpt-4.1", "$2.00")])
    ['MODEL           PRICE', 'openai/gpt-4.1  $2.00']
    """
    if not rows:
        return []
    count = max(len(row) for row in rows)
    widths = [max((len(row[i]) for row in rows if i < len(row)), default=0) for i in range(count)]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines
