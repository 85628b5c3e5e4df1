"""Providers: which are configured, whether each answers and how fast, where its key comes
from, and the command that adds a missing one.

The table is ``GET /v1/providers`` (key *sources* only; no key ever crosses the socket);
``c`` checks the usable ones with ``POST /v1/providers/check``, the cheapest real call
each dialect offers, and fills in status and latency.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Static

from superllm_cli.tui.backend import usable
from superllm_cli.tui.screens.base import SuiteScreen

__all__ = ["ProvidersScreen", "key_cell"]


def key_cell(row: dict[str, Any]) -> Text:
    """Where the key comes from, or what is missing and the command that adds it."""
    if row.get("key_source"):
        return Text(f"✔ {row['key_source']}", style="green")
    names = " or ".join(f"${n}" for n in row.get("key_env") or ())
    if row.get("configured"):
        return Text("none needed", style="dim")
    add = f"superllm keys set {row.get('id')}"
    return Text("✖ missing", style="red") + Text(f" · {add}" + (f" (or {names})" if names else ""))


class ProvidersScreen(SuiteScreen):
    CSS_PATH = "providers.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("c", "check", "Check"),
        Binding("a", "toggle_all", "All/configured"),
    ]

    def __init__(self, *, show_latency: bool = True, check_on_open: bool = True) -> None:
        super().__init__()
        self.show_latency = show_latency
        self.check_on_open = check_on_open
        self.rows: list[dict[str, Any]] = []
        self.checks: dict[str, dict[str, Any]] = {}
        self.show_all = False

    def compose(self) -> ComposeResult:
        yield Header(icon="≋")
        yield DataTable[Text](id="providers", cursor_type="row", zebra_stripes=True)
        yield Static("", id="providers-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "providers"
        table = self.query_one(DataTable)
        table.add_column("provider", key="id")
        table.add_column("status", key="status")
        table.add_column("latency", key="latency")
        table.add_column("key", key="key")
        table.add_column("base url", key="url")
        self.load()

    @work(exclusive=True, group="providers")
    async def load(self) -> None:
        from superllm_cli.tui.backend import query
        from superllmd.errors import SuperllmError

        backend = self.suite.backend
        try:
            self.rows = await backend.get(query("/v1/providers", backend.request_env()))
        except SuperllmError as exc:
            self.query_one("#providers-status", Static).update(f"unavailable: {exc.message}")
            return
        self._fill()
        if self.check_on_open:
            await self._check()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        shown = [r for r in self.rows if self.show_all or usable(r)]
        for row in shown:
            check = self.checks.get(row["id"])
            if check is None:
                status = Text("configured" if row.get("configured") else "no key", style="dim")
                latency = Text("")
            elif check.get("ok"):
                status = Text("● ok", style="green")
                ms = check.get("latency_ms")
                shown_ms = f"{ms} ms" if self.show_latency and ms is not None else "-- ms"
                latency = Text(shown_ms)
            else:
                error = check.get("error") or {}
                status = Text(f"✖ {error.get('code', 'failed')}", style="red")
                latency = Text("")
            table.add_row(
                Text(str(row["id"]), style="bold"),
                status,
                latency,
                key_cell(row),
                Text(str(row.get("base_url") or ""), style="dim"),
                key=str(row["id"]),
            )
        total, ready = len(self.rows), sum(1 for r in self.rows if usable(r))
        which = "all" if self.show_all else "usable"
        self.query_one("#providers-status", Static).update(
            f"{ready} of {total} providers usable · showing {which} · c checks, a toggles"
        )

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self._fill()

    def action_check(self) -> None:
        self.run_worker(self._check(), exclusive=True, group="check")

    async def _check(self) -> None:
        from superllmd.errors import SuperllmError

        ids = [r["id"] for r in self.rows if usable(r)]
        if not ids:
            return
        self.query_one("#providers-status", Static).update("checking...")
        backend = self.suite.backend
        try:
            results = await backend.post(
                "/v1/providers/check", {"ids": ids, "env": backend.request_env()}
            )
        except SuperllmError as exc:
            self.notify(exc.message, title="check", severity="error")
            results = []
        self.checks.update({r["id"]: r for r in results if isinstance(r, dict)})
        self._fill()
