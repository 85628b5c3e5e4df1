"""Driving the app in tests: wait for a condition, send a prompt, read what a column shows."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot
from textual.widget import Widget

from superllm_cli.tui.app import SuperllmApp
from superllm_cli.tui.widgets.mode_switch import ModeSwitch
from superllm_cli.tui.widgets.model_picker import ModelPicker
from superllm_cli.tui.widgets.participant_column import ParticipantColumn
from superllm_cli.tui.widgets.prompt_box import PromptBox
from superllm_cli.tui.widgets.run_view import RunView

__all__ = ["column", "region_text", "run_prompt", "screen_text", "send", "view", "wait_for"]


async def wait_for(
    pilot: Pilot[None], check: Callable[[], object], timeout: float = 30.0, what: str = ""
) -> None:
    """Let the app run until ``check()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await pilot.pause(0.05)


def view(app: SuperllmApp) -> RunView:
    return app.main.query_one(RunView)


def column(app: SuperllmApp, name: str) -> ParticipantColumn:
    return view(app).columns[name]


def screen_text(app: SuperllmApp) -> str:
    """The screen as plain text, as a person would read it."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def region_text(app: SuperllmApp, widget: Widget) -> str:
    """What the screen shows inside ``widget``'s region (its border included), line by line."""
    region = widget.region
    lines = screen_text(app).splitlines()[region.y : region.bottom]
    return "\n".join(line[region.x : region.right] for line in lines)


async def send(pilot: Pilot[None], text: str) -> None:
    """Type a prompt into the box and press the send key."""
    app = pilot.app
    assert isinstance(app, SuperllmApp)
    box = app.main.query_one(PromptBox)
    box.focus()
    box.load_text(text)
    await pilot.press("ctrl+s")


async def run_prompt(pilot: Pilot[None], mode: str, text: str, *, timeout: float = 60.0) -> RunView:
    """Switch to ``mode``, send ``text`` and wait for the run to finish."""
    app = pilot.app
    assert isinstance(app, SuperllmApp)
    await wait_for(pilot, lambda: app.main.query_one(ModelPicker).option_count, what="models")
    app.main.query_one(ModeSwitch).mode = mode
    before = view(app).state
    await send(pilot, text)
    run = view(app)
    await wait_for(
        pilot,
        lambda: run.state is not before and run.state.finished and not app.main.running,
        timeout,
        what="the run to finish",
    )
    for col in run.columns.values():
        await col.settled()
    await pilot.pause()
    return run
