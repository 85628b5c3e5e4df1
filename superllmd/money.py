"""How an amount of money is written, by the daemon's messages (budget refusals, caps) and the
CLI's and TUI's tables alike (superllm_cli/money.py builds on it). Stdlib only."""

from __future__ import annotations

import math

__all__ = ["usd"]


def usd(value: float) -> str:
    """Money to four significant figures and at least cents: $2.00, $0.01601, $0.000008.

    >>> usd(2), usd(0.016012), usd(0.000008), usd(1234.5)
    ('$2.00', '$0.01601', '$0.000008', '$1,234.50')
    """
    if value <= 0 or value >= 100:
        return f"${max(value, 0.0):,.2f}"
    decimals = max(2, 3 - math.floor(math.log10(value)))
    whole, _, frac = f"{value:.{decimals}f}".partition(".")
    return f"${whole}.{frac.rstrip('0').ljust(2, '0')}"
