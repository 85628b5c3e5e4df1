"""``superllm tui``: the Textual app.

It composes the screens and holds what they share: the :class:`~superllm_cli.tui.backend.
Backend` (the daemon, or whatever a test hands in), the prompt history and the display
options. ``show_volatile=False`` renders numbers that change from one run to the next
(latencies, times) as placeholders, so a screenshot of the app is the same every time: an
explicit parameter, not a test switch.

Example::

    from superllm_cli.tui.app import SuperllmApp
    SuperllmApp(mode="debate", models=["openai/gpt-4.1-mini", "local/smollm2"]).run()
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from superllm_cli.tui.backend import Backend, DaemonBackend
from superllm_cli.tui.screens.history import HistoryScreen
from superllm_cli.tui.screens.main import MainScreen
from superllm_cli.tui.screens.providers import ProvidersScreen
from superllm_cli.tui.screens.usage import UsageScreen
from superllm_cli.tui.widgets.mode_switch import MODES, ModeSwitch

__all__ = ["SuperllmApp"]


class SuperllmApp(App[None]):
    """Watch models think side by side."""

    TITLE = "superllm"
    # The main screen is the default screen, whose own CSS_PATH Textual does not load.
    CSS_PATH: ClassVar[list[str | PurePath]] = ["app.tcss", "screens/main.tcss"]
    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: the prompt box (a TextArea) would take f6 and f7 to select text.
        Binding("f5", "open('usage')", "Usage", priority=True),
        Binding("f6", "open('history')", "History", priority=True),
        Binding("f7", "open('providers')", "Providers", priority=True),
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False),
    ]

    def __init__(
        self,
        *,
        backend: Backend | None = None,
        mode: str = "consensus",
        models: list[str] | None = None,
        start: tuple[str, dict[str, Any]] | None = None,
        show_volatile: bool = True,
        check_providers: bool = True,
        today: dt.date | None = None,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        self.backend: Backend = backend if backend is not None else DaemonBackend()
        self.initial_mode = mode
        self.initial_models = list(models or [])
        self.start_run = start
        # The ``start`` run's result once it finishes: ``consensus --tui`` ends with it.
        self.start_result: dict[str, Any] | None = None
        self.show_volatile = show_volatile
        self.check_providers = check_providers
        self.today = today

    @property
    def main(self) -> MainScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, MainScreen)
        return screen

    def get_default_screen(self) -> MainScreen:
        return MainScreen(mode=self.initial_mode, show_latency=self.show_volatile)

    def on_mount(self) -> None:
        if self.start_run is not None:
            path, body = self.start_run
            self.call_after_refresh(self.main.start, path, body, True)

    # -- screens ------------------------------------------------------------------------

    def _screen(self, name: str) -> Screen[None]:
        if name == "usage":
            return UsageScreen(today=self.today)
        if name == "history":
            return HistoryScreen(show_times=self.show_volatile)
        if name == "providers":
            return ProvidersScreen(
                show_latency=self.show_volatile, check_on_open=self.check_providers
            )
        raise ValueError(f"no screen {name!r}")

    async def action_open(self, name: str) -> None:
        """Open a screen over the main one (replacing any other open screen)."""
        while len(self.screen_stack) > 1:
            await self.pop_screen()
        await self.push_screen(self._screen(name))

    def replay(self, events: list[dict[str, Any]]) -> None:
        """Back to the main screen, showing a recorded run."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.main.replay(events)

    # -- command palette ----------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        main = self.main
        yield SystemCommand("Send prompt", "Run the prompt in the box", main.action_send)
        yield SystemCommand("Cancel run", "Stop the run on show", main.action_cancel)
        for mode in MODES:
            yield SystemCommand(
                f"Mode: {mode}", f"Run the next prompt as {mode}", self._set_mode(mode)
            )
        yield SystemCommand("Models", "Show or hide the model picker", main.action_toggle_setup)
        yield SystemCommand(
            "Prices", "Show or hide each model's prices and context", main.action_toggle_prices
        )
        yield SystemCommand("Next round", "Show the next debate round", self._round(1))
        yield SystemCommand("Previous round", "Show the previous round", self._round(-1))
        for name in ("usage", "history", "providers"):
            yield SystemCommand(name.capitalize(), f"Open the {name} screen", self._opener(name))

    def _set_mode(self, mode: str) -> Any:
        def set_mode() -> None:
            self.main.query_one(ModeSwitch).mode = mode

        return set_mode

    def _round(self, step: int) -> Any:
        async def move() -> None:
            await self.main.action_round(step)

        return move

    def _opener(self, name: str) -> Any:
        async def open_screen() -> None:
            await self.action_open(name)

        return open_screen
