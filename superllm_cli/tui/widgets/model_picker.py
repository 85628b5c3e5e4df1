"""The model picker: the configured models, named in full; pick several.

A name is never cut: one longer than the panel is wide wraps onto the next line. Each
model's provider, price per million tokens (in/out) and context window show under its name
on demand (``details``, toggled by the main screen's key), since most of the time the name
is what one picks by and the panel is narrow. Rows come from ``GET /v1/models``, kept to
providers that can be called now (see ``pickable`` in the main screen), not the whole
catalog. Space (or a click) picks; the order of picking is the panel's order, which matters
to redteam (blue first, red second).
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widgets import OptionList, SelectionList
from textual.widgets._toggle_button import ToggleButton
from textual.widgets.selection_list import Selection

from superllm_cli.money import tokens

__all__ = ["ModelPicker", "describe_model"]


def _price(value: Any) -> str:
    return "?" if value is None else f"${float(value):g}"


def _context(value: Any) -> str:
    return f"ctx {tokens(int(value))}" if value else "ctx ?"


def describe_model(row: dict[str, Any]) -> str:
    """``provider · $in/$out per M · ctx 128k`` for one ``/v1/models`` row."""
    if row.get("named"):
        return f"{row.get('provider', '?')} · not in the catalog"
    if row.get("price_input") is None and row.get("price_output") is None:
        price = "unpriced"
    else:
        price = f"{_price(row.get('price_input'))}/{_price(row.get('price_output'))} per M"
    return f"{row.get('provider', '?')} · {price} · {_context(row.get('context_window'))}"


class ModelPicker(SelectionList[str]):
    """Pick the panel; ``picked`` lists the chosen models in the order they were picked."""

    # SelectionList cuts a long prompt with an ellipsis; a model name must read in full.
    # The scroll bar's room is kept, so wrapping is measured at the width it is drawn at
    # (OptionList measures its lines once and does not re-measure when a bar appears).
    DEFAULT_CSS = """
    ModelPicker { text-wrap: wrap; text-overflow: fold; scrollbar-gutter: stable; }
    """

    details: reactive[bool] = reactive(False)

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
        self.border_subtitle = "f8 prices"

    def watch_details(self) -> None:
        """Redraw every option with (or without) its details."""
        self.border_subtitle = "" if self.details else "f8 prices"
        for index, row in enumerate(self.rows.values()):
            self.replace_option_prompt_at_index(index, self._prompt(row))
        self.refresh(layout=True)
        self.call_after_refresh(self.scroll_to_highlight)

    def _prompt(self, row: dict[str, Any]) -> Text:
        prompt = Text(row["model"], style="bold", overflow="fold")
        if self.details:
            prompt.append(f"\n{describe_model(row)}", style="dim")
        return prompt

    def render_line(self, y: int) -> Strip:
        """A line with its option's check box, on the option's first line only.

        SelectionList takes line ``y`` for option ``y`` (one line per option); with names
        that wrap that draws the wrong boxes, so the line's option is looked up in
        OptionList's own line map instead.
        """
        line = OptionList.render_line(self, y)
        try:
            index, offset = self._lines[self.scroll_offset.y + y]
        except IndexError:
            return line
        selection = self.get_option_at_index(index)
        component = "selection-list--button"
        if selection.value in self._selected:
            component += "-selected"
        if self.highlighted == index:
            component += "-highlighted"
        underlying = next(iter(line)).style or self.rich_style
        if offset:  # a wrapped name's next line: room for the box, no box
            return Strip([Segment(" " * 4, style=underlying), *line])
        button = self.get_component_rich_style(component) + Style(meta={"option": index})
        side = Style.from_color(button.bgcolor, underlying.bgcolor) + Style(meta={"option": index})
        return Strip(
            [
                Segment(ToggleButton.BUTTON_LEFT, style=side),
                Segment(ToggleButton.BUTTON_INNER, style=button),
                Segment(ToggleButton.BUTTON_RIGHT, style=side),
                Segment(" ", style=underlying),
                *line,
            ]
        )

    def set_models(self, rows: list[dict[str, Any]], picked: list[str] | None = None) -> None:
        """Show ``rows`` (``/v1/models`` entries); ``picked`` are selected at once.

        A picked model that no row lists (one the user named with ``tui -m``, that the
        catalog does not know) is kept and listed first: the user's word stands, and the
        daemon says at run time if the provider does not have it.
        """
        keep = list(dict.fromkeys(picked or self.picked))
        known = {row["model"] for row in rows}
        named = [
            {"model": m, "provider": m.partition("/")[0], "named": True}
            for m in keep
            if m not in known
        ]
        self.rows = {row["model"]: row for row in [*named, *rows]}
        self.clear_options()
        for name, row in self.rows.items():
            self.add_option(Selection(self._prompt(row), name, name in keep))
        self.picked = keep
        self._update_title()

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        event.stop()
        now = set(self.selected)
        self.picked = [m for m in self.picked if m in now]
        self.picked += [m for m in self.selected if m not in self.picked]
        self._update_title()
        self.post_message(self.Changed(self, list(self.picked)))

    def _update_title(self) -> None:
        self.border_title = f"models · {len(self.picked)} picked" if self.picked else "models"
