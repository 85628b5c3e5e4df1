"""One participant's column: its model, status, tokens, cost and latency, and its answer as
markdown rendered while it streams.

Text arrives as many small deltas (8 participants at 50 tokens a second is 400 a second).
Appending each to the Markdown widget would re-parse and re-mount blocks 400 times a second,
so deltas are queued and a single task per column appends whatever has gathered since its
last append: under load the batches grow, nothing is dropped and the order is kept.
``rendered_text`` is what has reached the widget, for the benchmark to count.
"""

from __future__ import annotations

import asyncio
from typing import Final

from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Markdown, Static

from superllm_cli.money import cost_text, duration, tokens
from superllm_cli.tui.markup import for_markdown, markdown_shaped

__all__ = ["STATUS_MARKS", "ParticipantColumn"]

STATUS_MARKS: Final = {
    "waiting": "○ waiting",
    "streaming": "◐ streaming",
    "done": "● done",
    "failed": "✖ failed",
    "retried": "↻ retried",
}


class ParticipantColumn(VerticalScroll):
    """A participant's live answer for the round on show."""

    status: reactive[str] = reactive("waiting")
    tokens: reactive[int] = reactive(0)
    cost: reactive[float | None] = reactive(0.0)
    unpriced: reactive[int] = reactive(0)  # calls with no price
    latency_ms: reactive[int | None] = reactive(None)
    error: reactive[str | None] = reactive(None)
    retries: reactive[int] = reactive(0)

    def __init__(
        self, name: str, *, show_latency: bool = True, id: str | None = None, role: str = ""
    ) -> None:
        super().__init__(id=id, classes="participant")
        self.participant = name
        self.role = role
        self.show_latency = show_latency
        self.rendered_text = ""
        self._pending: list[str] = []
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._markdown = Markdown("", classes="answer")
        self._shaped = False  # whether the text on show is Markdown (else it is escaped)
        self._error = Static("", classes="error")

    def compose(self):  # type: ignore[no-untyped-def]
        yield self._error
        yield self._markdown

    def on_mount(self) -> None:
        self._error.display = False
        self._titles()
        self._pump = asyncio.create_task(self._run())

    def on_unmount(self) -> None:
        if self._pump is not None:
            self._pump.cancel()

    # -- reactives ----------------------------------------------------------------------

    def validate_status(self, status: str) -> str:
        return status if status in STATUS_MARKS else "waiting"

    def watch_status(self, status: str) -> None:
        self.set_class(status == "failed", "-failed")
        self.set_class(status == "streaming", "-streaming")
        self._titles()

    def watch_tokens(self) -> None:
        self._titles()

    def watch_cost(self) -> None:
        self._titles()

    def watch_unpriced(self) -> None:
        self._titles()

    def watch_latency_ms(self) -> None:
        self._titles()

    def watch_retries(self) -> None:
        self._titles()

    def watch_error(self, error: str | None) -> None:
        self._error.update(error or "")
        self._error.display = bool(error)

    def _titles(self) -> None:
        # The name goes on top and the status word below, so a narrow column keeps the name.
        name = f"{self.role}: {self.participant}" if self.role else self.participant
        mark, word = STATUS_MARKS[self.status].split(" ", 1)
        self.border_title = f"{mark} {name}"
        parts = [
            word if not self.retries else f"{word} ↻{self.retries}",
            f"{tokens(self.tokens)} tok",
        ]
        parts.append(cost_text(self.cost or 0.0, self.unpriced))
        if self.latency_ms is not None:
            parts.append(duration(self.latency_ms) if self.show_latency else "-.- s")
        self.border_subtitle = " · ".join(parts)

    # -- text ---------------------------------------------------------------------------

    def append(self, text: str) -> None:
        """Queue a delta; it is rendered with whatever else arrives before the next frame."""
        self._pending.append(text)
        self._wake.set()

    async def show(self, text: str) -> None:
        """Replace the answer on show (another round, a replayed run, a final message)."""
        self._pending.clear()
        self._wake.clear()
        self._shaped = markdown_shaped(text)
        await self._markdown.update(for_markdown(text, self._shaped))
        self.rendered_text = text
        self.scroll_end(animate=False, immediate=False)

    @property
    def shown_text(self) -> str:
        """What the column will show once its queue is drained."""
        return self.rendered_text + "".join(self._pending)

    async def settled(self) -> None:
        """Wait until every queued delta has been rendered."""
        while self._pending:
            await asyncio.sleep(0.01)
        async with self._markdown.lock:
            pass

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending:
                continue
            chunk = "".join(self._pending)
            self._pending.clear()
            follow = self.scroll_y >= self.max_scroll_y - 1
            text = self.rendered_text + chunk
            if markdown_shaped(text) != self._shaped:  # it turned out to be Markdown
                self._shaped = not self._shaped
                await self._markdown.update(for_markdown(text, self._shaped))
            else:
                await self._markdown.append(for_markdown(chunk, self._shaped))
            self.rendered_text = text
            if follow:
                self.scroll_end(animate=False, immediate=False)
