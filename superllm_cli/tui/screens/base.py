"""What every screen of the TUI shares: the app it belongs to, typed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

if TYPE_CHECKING:
    from superllm_cli.tui.app import SuperllmApp

__all__ = ["SuiteScreen"]


class SuiteScreen(Screen[None]):
    """A screen of :class:`~superllm_cli.tui.app.SuperllmApp`, whose backend it reads."""

    @property
    def suite(self) -> SuperllmApp:
        from superllm_cli.tui.app import SuperllmApp

        assert isinstance(self.app, SuperllmApp)
        return self.app
