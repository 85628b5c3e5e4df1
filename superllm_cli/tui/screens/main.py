"""The main screen: the mode switch and model picker beside the run view, the prompt below.

Runs are read by one worker at a time (group ``run``): a new prompt, a replay from history
or the cancel key ends the one before. Cancelling closes the stream's connection, which is
how the daemon learns to stop the run's calls.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Footer, Header

from superllm_cli.tui.backend import run_request, usable
from superllm_cli.tui.screens.base import SuiteScreen
from superllm_cli.tui.widgets.mode_switch import MODES, ModeSwitch
from superllm_cli.tui.widgets.model_picker import ModelPicker
from superllm_cli.tui.widgets.prompt_box import PromptBox
from superllm_cli.tui.widgets.run_view import RunView

__all__ = ["MainScreen", "pickable"]

NARROW = 110  # below this width the setup panel gives way to the run once one starts


def pickable(models: list[dict[str, Any]], providers: list[dict[str, Any]]) -> list[Any]:
    """The chat models of the providers that can be called now (see ``usable``)."""
    ready = {p["id"] for p in providers if usable(p)}
    return [m for m in models if m.get("provider") in ready and not m.get("embeddings")]


class MainScreen(SuiteScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "send", "Send"),
        Binding("escape", "cancel", "Cancel run"),
        Binding("f2", "cycle_mode", "Mode"),
        Binding("f3", "toggle_setup", "Models"),
        Binding("f4", "round(1)", "Round"),
        Binding("f8", "toggle_prices", "Prices", show=False),
        Binding("shift+f4", "round(-1)", "Previous round", show=False),
    ]

    running: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, *, mode: str = "consensus", show_latency: bool = True) -> None:
        super().__init__()
        self.initial_mode = mode
        self.show_latency = show_latency

    def compose(self) -> ComposeResult:
        yield Header(icon="≋")
        with Horizontal(id="body"):
            with Vertical(id="setup"):
                yield ModeSwitch(self.initial_mode, id="mode")
                yield ModelPicker(id="picker")
            yield RunView(show_latency=self.show_latency, id="run")
        yield PromptBox(id="prompt")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        prompt = self.query_one(PromptBox)
        prompt.cursor_blink = self.show_latency  # a still cursor when the screen must not vary
        prompt.focus()
        self.load_models()

    # -- models -------------------------------------------------------------------------

    @work(group="models", exclusive=True)
    async def load_models(self) -> None:
        from superllm_cli.tui.backend import query
        from superllmd.errors import SuperllmError

        backend = self.suite.backend
        env = backend.request_env()
        try:
            models, providers = await asyncio.gather(
                backend.get(query("/v1/models", env)), backend.get(query("/v1/providers", env))
            )
        except SuperllmError as exc:
            self.notify(exc.message, title="models", severity="error")
            return
        self.query_one(ModelPicker).set_models(
            pickable(models, providers), self.suite.initial_models
        )

    # -- actions ------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.running
        if action == "round":
            return self.query_one(RunView).state.last_round > 0 or None
        return True

    def action_send(self) -> None:
        self.query_one(PromptBox).action_submit()

    def action_cancel(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "run")

    def action_cycle_mode(self) -> None:
        switch = self.query_one(ModeSwitch)
        switch.mode = MODES[(MODES.index(switch.mode) + 1) % len(MODES)]

    def action_toggle_setup(self) -> None:
        setup = self.query_one("#setup")
        setup.display = not setup.display
        if setup.display:
            self.query_one(ModelPicker).focus()

    def action_toggle_prices(self) -> None:
        """Show or hide each model's provider, prices and context under its name."""
        picker = self.query_one(ModelPicker)
        picker.details = not picker.details

    async def action_round(self, step: int) -> None:
        await self.query_one(RunView).next_round(step)

    def on_mode_switch_changed(self, event: ModeSwitch.Changed) -> None:
        self.sub_title = event.mode

    def on_prompt_box_submitted(self, event: PromptBox.Submitted) -> None:
        mode = self.query_one(ModeSwitch).mode
        models = self.query_one(ModelPicker).picked
        path, body = run_request(mode, event.text, models, self.suite.backend.request_env())
        self.start(path, body)

    # -- runs ---------------------------------------------------------------------------

    def start(self, path: str, body: dict[str, Any], keep: bool = False) -> None:
        """Stream a run at ``path`` into the run view (ending any run on show); ``keep``
        records its result as the app's ``start_result``."""
        if self.size.width < NARROW:
            self.query_one("#setup").display = False
        self._consume(path, body, keep)

    @work(group="run", exclusive=True)
    async def _consume(self, path: str, body: dict[str, Any], keep: bool = False) -> None:
        from superllmd.errors import SuperllmError

        view = self.query_one(RunView)
        await view.reset()
        self.sub_title = f"{path.rsplit('/', 1)[-1]} · running"
        self.running = True
        try:
            async with aclosing(self.suite.backend.stream(path, body)) as events:
                async for event in events:
                    await view.apply(event)
            if keep:
                self.suite.start_result = view.state.result
            self.sub_title = f"{view.state.mode or ''} · finished"
        except asyncio.CancelledError:
            view.cancelled()
            self.sub_title = f"{view.state.mode or ''} · cancelled"
            raise
        except SuperllmError as exc:
            self.notify(exc.message, title="run", severity="error", timeout=10)
            self.sub_title = "failed"
        finally:
            self.running = False

    @work(group="run", exclusive=True)
    async def replay(self, events: list[dict[str, Any]]) -> None:
        """Show a finished run (from history) in the run view."""
        if self.size.width < NARROW:
            self.query_one("#setup").display = False
        view = self.query_one(RunView)
        await view.replay(events)
        self.sub_title = f"{view.state.mode or ''} · replayed {view.state.run_id or ''}"
