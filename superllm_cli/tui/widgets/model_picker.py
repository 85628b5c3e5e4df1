"""The model picker: the configured models with provider, price and context; pick several.

Each model's provider, price per million tokens (in/out) and context window follow its
name, and show in full under the list for the highlighted one. Rows come from
``GET /v1/models``, kept to providers that can be called now (see ``pickable`` in the main
screen), not the whole catalog. Space (or a click) picks; the order of picking is the
panel's order, which matters to redteam (blue first, red second).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import SelectionList
from textual.widgets.selection_list import Selection

__all__ = ["ModelPicker", "describe_model"]


def _price(value: Any) -> str:
    return "?" if value is None else f"${float(value):g}"


def _context(value: Any) -> str:
    if not value:
        return "ctx ?"
    n = int(value)
    return f"ctx {n // 1_000_000}M" if n >= 1_000_000 else f"ctx {n // 1000}k"


def describe_model(row: dict[str, Any]) -> str:
    """``provider · $in/$out per M · ctx 128k`` for one ``/v1/models`` row."""
    if row.get("price_input") is None and row.get("price_output") is None:
        price = "unpriced"
    else:
        price = f"{_price(row.get('price_input'))}/{_price(row.get('price_output'))} per M"
    return f"{row.get('provider', '?')} · {price} · {_context(row.get('context_window'))}"


class ModelPicker(SelectionList[str]):
    """Pick the panel; ``picked`` lists the chosen models in the order they were picked."""

    class Changed(Message):
        def __init__(self, picker: ModelPicker, models: list[str]) -> None:
            super().__init__()
            self.picker = picker
            self.models = models

        @property
        def control(self) -> ModelPicker:
            return self.picker

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.picked: list[str] = []
        self.rows: dict[str, dict[str, Any]] = {}
        self.border_title = "models"

    def set_models(self, rows: list[dict[str, Any]], picked: list[str] | None = None) -> None:
        """Show ``rows`` (``/v1/models`` entries); ``picked`` are selected at once."""
        keep = [m for m in (picked or self.picked) if any(r["model"] == m for r in rows)]
        self.rows = {row["model"]: row for row in rows}
        self.clear_options()
        for row in rows:
            # One line per option (SelectionList shows no more): the details follow the name
            # where there is room, and the highlighted model's are in the border below.
            prompt = Text(row["model"], style="bold")
            prompt.append(f"  {describe_model(row)}", style="dim")
            self.add_option(Selection(prompt, row["model"], row["model"] in keep))
        self.picked = keep
        self._update_title()

    def watch_highlighted(self, highlighted: int | None) -> None:
        super().watch_highlighted(highlighted)
        row = None
        if highlighted is not None and 0 <= highlighted < self.option_count:
            row = self.rows.get(str(self.get_option_at_index(highlighted).value))
        self.border_subtitle = describe_model(row) if row else ""

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        event.stop()
        now = set(self.selected)
        self.picked = [m for m in self.picked if m in now]
        self.picked += [m for m in self.selected if m not in self.picked]
        self._update_title()
        self.post_message(self.Changed(self, list(self.picked)))

    def _update_title(self) -> None:
        self.border_title = f"models · {len(self.picked)} picked" if self.picked else "models"
