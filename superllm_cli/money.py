"""How money is written everywhere the CLI and the TUI show it (one rule, one module).

* A known amount gets four significant figures and at least cents: ``$2.00``, ``$0.01601``,
  ``$0.000008``; a cost that is not zero never reads ``$0.0000``.
* Calls of a model nobody priced are counted, never shown as free: the known sum plus how
  many calls had no price, ``$0.1591 + 3 unpriced``, or ``unpriced`` (``3 unpriced``) when
  nothing in it had a price.

Stdlib only: the CLI imports it on every command.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["cost_of", "cost_text", "usd"]


def usd(value: float) -> str:
    """Money to four significant figures and at least cents: $2.00, $0.01601, $0.000008."""
    if value <= 0 or value >= 100:
        return f"${max(value, 0.0):,.2f}"
    decimals = max(2, 3 - math.floor(math.log10(value)))
    whole, _, frac = f"{value:.{decimals}f}".partition(".")
    return f"${whole}.{frac.rstrip('0').ljust(2, '0')}"


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
