"""Redteam: each objection red raised, blue's answer to it, and the judge's ruling.

Rows come from :func:`superllm_cli.runstate.objections_of`: read live from the JSON the
three roles write, then replaced by the daemon's final report, which is the record.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

__all__ = ["RedteamView", "ruling_of"]


def ruling_of(objection: dict[str, Any]) -> Text:
    """The judge's ruling on one objection, in words: upheld, resolved, dismissed, pending."""
    valid, resolved = objection.get("valid"), objection.get("resolved")
    reason = str(objection.get("reason") or "")
    if valid is None:
        head = Text("pending", style="dim")
    elif not valid:
        head = Text("dismissed", style="green")
    elif resolved:
        head = Text("upheld, resolved", style="yellow")
    else:
        head = Text("upheld, open", style="bold red")
    return head + Text(f": {reason}" if reason else "")


def _response(objection: dict[str, Any]) -> Text:
    response = objection.get("response")
    if not isinstance(response, dict):
        return Text("no response", style="dim")
    action = "accepted" if response.get("action") == "accept" else "rebutted"
    style = "cyan" if action == "accepted" else "magenta"
    return Text(action, style=style) + Text(f": {response.get('text', '')}")


class RedteamView(DataTable[Text]):
    """One row per objection: id, severity, claim, response, ruling."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, zebra_stripes=True, cursor_type="row")
        self.border_title = "objections"
        self.objections: list[dict[str, Any]] = []

    def on_mount(self) -> None:
        self._columns()

    def on_resize(self) -> None:
        self._columns()
        self._rows()

    def _columns(self) -> None:
        # The three text columns share the width, so rows wrap instead of scrolling sideways.
        text = max((self.size.width - 3 - 8 - 2 * 5 - 2) // 3, 12)
        if self.columns and self.ordered_columns[2].width == text:
            return
        self.clear(columns=True)
        self.add_column("id", width=3, key="id")
        self.add_column("sev", width=8, key="sev")
        self.add_column("objection", width=text, key="claim")
        self.add_column("response", width=text, key="response")
        self.add_column("ruling", width=text, key="ruling")

    def set_objections(self, objections: list[dict[str, Any]]) -> None:
        if objections == self.objections:
            return
        self.objections = [dict(o) for o in objections]
        self._rows()

    def _rows(self) -> None:
        objections = self.objections
        self.clear()
        for o in objections:
            severity = str(o.get("severity") or "")
            sev_style = "bold red" if severity in ("high", "critical") else ""
            self.add_row(
                Text(str(o.get("id", ""))),
                Text(severity, style=sev_style),
                Text(str(o.get("claim", ""))),
                _response(o),
                ruling_of(o),
                height=None,
            )
        self.border_title = f"objections · {len(objections)}"
