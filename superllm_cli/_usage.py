"""What ``superllm usage`` does once its command line is read, whichever parser read it.

Typer (``commands/usage.py``) and the fast path (``_fast``) both fill a :class:`UsageArgs`
and call :func:`usage_body`. On a terminal: a table with a small bar chart. In a pipe: the
same table as plain text, or ``--json`` / ``--csv``. A cost is the known sum plus how many
calls were unpriced (``$0.1591 + 3 unpriced``), never 0 for what has no price. Stdlib only
(rich on a terminal).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from superllm_cli.render import Output, strip_controls
from superllmd.records import record

if TYPE_CHECKING:
    from superllmd.protocol import UsageReport

__all__ = ["BY", "UsageArgs", "format_cost", "usage_body"]

BY = (
    "day", "week", "month", "provider", "model", "mode", "label", "token", "user", "team",
)  # fmt: skip
_FIGURES = ("calls", "input_tokens", "output_tokens", "cached_tokens", "cost_usd")
_HEADERS = ("CALLS", "IN", "OUT", "CACHED", "COST")
_BAR = 20


def format_cost(figures: Mapping[str, Any]) -> str:
    """A row's cost by the one money rule (superllm_cli/money.py): the known sum plus how
    many calls were unpriced."""
    from superllm_cli.money import cost_of, cost_text

    return cost_text(*cost_of(figures))


def _cells(figures: Mapping[str, Any]) -> list[str]:
    return [
        str(figures["calls"]),
        str(figures["input_tokens"]),
        str(figures["output_tokens"]),
        str(figures["cached_tokens"]),
        format_cost(figures),
    ]


@record
class UsageArgs:
    """The parameters of ``superllm usage``, one field per parameter of
    ``commands.usage.usage`` (a test keeps them equal)."""

    by: str = "day"
    since: str | None = "30d"
    until: str | None = None
    provider: str | None = None
    model: str | None = None
    mode: str | None = None
    label: str | None = None
    json_out: bool = False
    csv_out: bool = False
    no_autostart: bool = False

    def bad_value(self) -> tuple[str, str] | None:
        """(option, what to do) for a value no parser checks by its type, else None."""
        if self.by not in BY:
            return "--by", f"use one of {', '.join(BY)}"
        return None


def usage_body(out: Output, args: UsageArgs) -> int:
    """Ask the daemon's ledger and print the report; the exit code (0)."""
    from superllm_cli.client import Client

    report = Client(autostart=not args.no_autostart).usage(
        by=args.by or "day",
        since=args.since or None,
        until=args.until or None,
        provider=args.provider or None,
        model=args.model or None,
        mode=args.mode or None,
        label=args.label or None,
    )
    if args.json_out:
        out.json(report)
    elif args.csv_out:
        _csv(report)
    elif out.rich_out:
        _rich(report, out)
    else:
        _plain(report)
    return 0


def _csv(report: UsageReport) -> None:
    import csv

    by = report["by"]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([by, *_FIGURES])
    for row in report["rows"]:
        writer.writerow([row[by], *("" if row[f] is None else row[f] for f in _FIGURES)])
    totals: Mapping[str, Any] = report["totals"]
    writer.writerow(["total", *("" if totals[f] is None else totals[f] for f in _FIGURES)])


def _plain(report: UsageReport) -> None:
    by = report["by"]
    lines: list[list[str]] = [[by.upper(), *_HEADERS]]
    lines += [[str(row[by] or "-"), *_cells(row)] for row in report["rows"]]
    lines.append(["TOTAL", *_cells(report["totals"])])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for line in lines:
        cells = [line[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
        sys.stdout.write(strip_controls("  ".join(cells)) + "\n")


def _bar(value: float, top: float) -> str:
    if top <= 0:
        return ""
    eighths = round(value / top * _BAR * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + ("" if part == 0 else " ▏▎▍▌▋▊▉"[part])


def _rich(report: UsageReport, out: Output) -> None:
    from rich.table import Table

    by = report["by"]
    rows = report["rows"]
    # Bars follow cost where every row is priced, else tokens (which always are known).
    priced = all(r["cost_usd"] is not None for r in rows)

    def measure(row: dict[str, Any]) -> float:
        return float(row["cost_usd"]) if priced else row["input_tokens"] + row["output_tokens"]

    top = max((measure(r) for r in rows), default=0.0)
    table = Table(show_footer=True, box=None, padding=(0, 1))
    table.add_column(by, footer="total", style="bold")
    totals = report["totals"]
    for header, key, cell in zip(_HEADERS, _FIGURES, _cells(totals), strict=True):
        table.add_column(header.lower(), footer=cell, justify="right", no_wrap=key == "cost_usd")
    table.add_column("by cost" if priced else "by tokens", style="cyan")
    for row in rows:
        table.add_row(str(row[by] or "-"), *_cells(row), _bar(measure(row), top))
    console = out._console(sys.stdout)
    console.print(table)
