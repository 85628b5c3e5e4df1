"""SVG snapshots of the main screens at 80x24 and 160x48 (pytest-textual-snapshot).

The app runs on :class:`~tests.tui.scripted.ScriptedBackend` (fixed runs, usage, history,
providers) with ``show_volatile=False`` (no latencies or times) and a fixed ``today``, so a
snapshot is the same on every machine and day. Regenerate after a deliberate change with
``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from superllm_cli.tui.app import SuperllmApp
from superllm_cli.tui.widgets.cost_chart import CostChart
from superllm_cli.tui.widgets.model_picker import ModelPicker
from tests.tui.helpers import send, view, wait_for
from tests.tui.scripted import TODAY, ScriptedBackend

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
Compare = Callable[..., bool]


def make_app(mode: str = "debate") -> SuperllmApp:
    return SuperllmApp(backend=ScriptedBackend(), mode=mode, show_volatile=False, today=TODAY)


async def _models(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, SuperllmApp)
    # The harness may call us before the main screen has composed.
    await wait_for(pilot, lambda: app.main.query(ModelPicker))
    await wait_for(pilot, lambda: app.main.query_one(ModelPicker).option_count == 4)


async def _run(pilot: Pilot[None], prompt: str) -> None:
    app = pilot.app
    assert isinstance(app, SuperllmApp)
    await _models(pilot)
    await send(pilot, prompt)
    await wait_for(pilot, lambda: view(app).state.finished and not app.main.running)
    for column in [*view(app).columns.values()]:
        await column.settled()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_main_screen_before_a_run(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_models)


@pytest.mark.parametrize("size", SIZES)
def test_a_finished_debate(snap_compare: Compare, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await _run(pilot, "Compute 11 + 25 * 16.")

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_a_debate_on_its_first_round(snap_compare: Compare, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await _run(pilot, "Compute 11 + 25 * 16.")
        await pilot.press("f4")
        for column in view(pilot.app).columns.values():  # type: ignore[arg-type]
            await column.settled()

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_a_redteam_run(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = make_app("redteam")
    app.backend.runs.reverse()  # type: ignore[attr-defined]  # the redteam run first

    async def before(pilot: Pilot[None]) -> None:
        await _run(pilot, "Compute 11 + 25 * 16; show your steps.")

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_usage_screen(snap_compare: Compare, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await _models(pilot)
        await pilot.press("f5")
        await wait_for(
            pilot,
            lambda: (
                pilot.app.screen.query(CostChart) and pilot.app.screen.query_one(CostChart).days
            ),
        )
        await wait_for(pilot, lambda: len(pilot.app.screen.query(".gauge")) == 3)

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_history_screen(snap_compare: Compare, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await _models(pilot)
        await pilot.press("f6")
        await wait_for(
            pilot,
            lambda: (
                pilot.app.screen.query("#runs")
                and pilot.app.screen.query_one("#runs").row_count == 3
            ),
        )

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_providers_screen(snap_compare: Compare, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await _models(pilot)
        await pilot.press("f7")
        await wait_for(
            pilot,
            lambda: (
                "checking"
                not in str(
                    pilot.app.screen.query("#providers-status")
                    and pilot.app.screen.query_one("#providers-status").render()
                )
                and pilot.app.screen.query("#providers")
                and pilot.app.screen.query_one("#providers").row_count == 3
            ),
        )

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


def test_plain_answers_keep_what_markdown_would_eat(snap_compare: Compare) -> None:
    """An answer that is not Markdown shows as written: "3+4*5-2" keeps its star and
    "<number>" its brackets; a Markdown-shaped one is still rendered."""
    from textual.app import App, ComposeResult
    from textual.containers import Horizontal

    from superllm_cli.tui.widgets.participant_column import ParticipantColumn

    class Two(App[None]):
        def compose(self) -> ComposeResult:
            with Horizontal():
                yield ParticipantColumn("fake/plain", id="plain")
                yield ParticipantColumn("fake/markdown", id="markdown")

    async def before(pilot: Pilot[None]) -> None:
        await pilot.app.query_one("#plain", ParticipantColumn).show(
            "Compute 3+4*5-2 step by step. FINAL ANSWER: <number>"
        )
        await pilot.app.query_one("#markdown", ParticipantColumn).show(
            "# Steps\n\n- first **multiply**: 4*5 = 20\n- then `3+20-2`"
        )
        await pilot.pause()

    assert snap_compare(Two(), terminal_size=(80, 12), run_before=before)
