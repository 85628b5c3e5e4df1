"""Usage, history and providers against a real daemon and its ledger; the palette and the
prompt's history."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from superllm_cli.tui.app import SuperllmApp
from superllm_cli.tui.backend import DaemonBackend
from superllm_cli.tui.screens.history import HistoryScreen
from superllm_cli.tui.screens.providers import ProvidersScreen
from superllm_cli.tui.screens.usage import UsageScreen
from superllm_cli.tui.widgets.budget_gauge import BudgetGauge
from superllm_cli.tui.widgets.cost_chart import CostChart
from superllm_cli.tui.widgets.mode_switch import ModeSwitch
from superllm_cli.tui.widgets.prompt_box import PromptBox
from superllm_cli.tui.widgets.round_tabs import RoundTabs
from tests.fakes.agents import Fleet, installed
from tests.fakes.items import arithmetic_items
from tests.fakes.openai import FakeOpenAI
from tests.tui.helpers import column, run_prompt, screen_text, view, wait_for
from tests.tui.scripted import ScriptedBackend

pytestmark = pytest.mark.anyio

ITEM = arithmetic_items(1, seed=31)[0]
SIZE = (160, 48)
DEBATERS = ("noisy-0-shared+corrective-1-0@1", "noisy-0-shared+corrective-1-0@2", "oracle@3")


@pytest.fixture
def fleet(fake_openai: FakeOpenAI) -> Iterator[Fleet]:
    with installed(fake_openai, Fleet(seed=9)) as fleet:
        yield fleet


def table(app: SuperllmApp, selector: str) -> DataTable[object]:
    return app.screen.query_one(selector, DataTable)


async def test_history_lists_searches_and_reopens_a_debate(
    backend: DaemonBackend, fleet: Fleet
) -> None:
    app = SuperllmApp(backend=backend, mode="debate", models=[f"fake/{m}" for m in DEBATERS])
    async with app.run_test(size=SIZE) as pilot:
        live = await run_prompt(pilot, "debate", ITEM.prompt)
        run_id = live.state.run_id
        texts = {
            n: {r: t.text for r, t in lane.turns.items()} for n, lane in live.state.lanes.items()
        }
        await run_prompt(pilot, "ask", "a second prompt about planets")

        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        runs = table(app, "#runs")
        await wait_for(pilot, lambda: runs.row_count == 2, what="two runs listed")
        assert "debate" in screen_text(app) and "a second prompt" in screen_text(app)

        app.screen.query_one("#search", Input).focus()
        await pilot.press(*"planets", "enter")
        await wait_for(pilot, lambda: runs.row_count == 1, what="the search")
        await pilot.press("ctrl+f")
        app.screen.query_one("#search", Input).value = ""
        await pilot.press("enter")
        await wait_for(pilot, lambda: runs.row_count == 2)

        runs.focus()
        runs.move_cursor(row=runs.get_row_index(str(run_id)))
        await pilot.press("enter")  # reopen the debate
        await wait_for(pilot, lambda: not isinstance(app.screen, HistoryScreen))
        await wait_for(pilot, lambda: view(app).state.run_id == run_id and view(app).state.finished)
        replay = view(app)
        assert replay.state.mode == "debate"
        assert {
            n: {r: t.text for r, t in lane.turns.items()} for n, lane in replay.state.lanes.items()
        } == texts  # every participant's answer in every round, as it was live
        tabs = app.main.query_one(RoundTabs)
        assert len(tabs.choices) == 2 and tabs.agreements[1] == 1.0
        changer = f"fake/{DEBATERS[0]}"
        await column(app, changer).settled()
        assert column(app, changer).rendered_text == texts[changer][1]
        await pilot.press("f4")
        await column(app, changer).settled()
        assert column(app, changer).rendered_text == texts[changer][0]
        assert "replayed" in app.main.sub_title


async def test_usage_shows_the_days_cost_providers_models_and_budgets(
    backend: DaemonBackend, fleet: Fleet, tui_home: Path
) -> None:
    config = tui_home / "config" / "config.toml"
    config.write_text(config.read_text() + "\n[budgets]\ndaily_usd = 2.0\nmonthly_usd = 30.0\n")
    app = SuperllmApp(backend=backend, models=["fake/oracle@1", "fake/oracle@2"])
    async with app.run_test(size=SIZE) as pilot:
        await run_prompt(pilot, "consensus", ITEM.prompt)
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, UsageScreen))
        chart = app.screen.query_one(CostChart)
        await wait_for(pilot, lambda: chart.days, what="the chart")
        assert len(chart.days) == 14 and chart.days[-1].calls == 2  # today: the two calls
        assert chart.days[-1].unpriced == 2  # the fake has no price: counted, not free
        by_provider = table(app, "#by-provider")
        await wait_for(pilot, lambda: by_provider.row_count == 1)
        assert by_provider.get_row_at(0)[:2] == ["fake", "2"]
        # Today's bar and the provider table read the same period: the same cost, by one rule.
        assert by_provider.get_row_at(0)[3] == "2 unpriced"
        assert table(app, "#by-model").row_count == 2
        await wait_for(pilot, lambda: len(app.screen.query(BudgetGauge)) == 2, what="gauges")
        text = screen_text(app)
        assert "$0.00 of $2.00" in text and "$30.00" in text and "left" in text
        assert "last 14 days: 2 calls" in text and "2 unpriced" in text
        assert not re.search(r"\$0\.0000(?!\d)", text) and "unknown" not in text


async def test_providers_show_status_latency_and_missing_keys(backend: DaemonBackend) -> None:
    app = SuperllmApp(backend=backend)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")
        await wait_for(pilot, lambda: isinstance(app.screen, ProvidersScreen))
        screen = app.screen
        assert isinstance(screen, ProvidersScreen)
        await wait_for(pilot, lambda: "fake" in screen.checks, what="the check")
        assert screen.checks["fake"]["ok"] is True
        assert screen.checks["fake"]["latency_ms"] is not None
        text = screen_text(app)
        assert "● ok" in text and " ms" in text
        await pilot.press("a")  # every provider, with how to add a missing key
        text = screen_text(app)
        assert "✖ missing · superllm keys set openai (or $OPENAI_API_KEY)" in text
        await pilot.press("escape")
        assert app.screen is app.main


async def test_the_command_palette_switches_mode_and_opens_screens() -> None:
    app = SuperllmApp(backend=ScriptedBackend(), show_volatile=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"mode: debate")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.main.query_one(ModeSwitch).mode == "debate")
        await pilot.press("ctrl+p", *"history")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))


async def test_the_mode_switch_takes_keys_and_clicks() -> None:
    app = SuperllmApp(backend=ScriptedBackend(), mode="ask")
    async with app.run_test(size=(80, 24)) as pilot:
        switch = app.main.query_one(ModeSwitch)
        await pilot.press("f2")
        assert switch.mode == "consensus"
        switch.focus()
        await pilot.press("right", "right")
        assert switch.mode == "redteam"
        await pilot.click(ModeSwitch, offset=(1, 0))
        assert switch.mode == "ask"
        assert app.main.sub_title == "ask"


async def test_the_prompt_box_walks_its_history_with_up_and_down() -> None:
    app = SuperllmApp(backend=ScriptedBackend(), show_volatile=False)
    async with app.run_test(size=(80, 24)) as pilot:
        box = app.main.query_one(PromptBox)
        box.past = ["first prompt", "second\nprompt"]
        box._position = 2
        box.load_text("draft")
        box.focus()
        await pilot.pause()
        await pilot.press("up")
        assert box.text == "second\nprompt"
        await pilot.press("up")  # the cursor is on the first line: older
        assert box.text == "first prompt"
        await pilot.press("up")  # nothing older: stays
        assert box.text == "first prompt"
        await pilot.press("down")
        assert box.text == "second\nprompt" and box.cursor_location == (1, 6)
        await pilot.press("up")  # within a multi-line entry the arrows move the cursor
        assert box.text == "second\nprompt" and box.cursor_location[0] == 0
        await pilot.press("down")
        assert box.text == "second\nprompt" and box.cursor_location[0] == 1
        await pilot.press("down")
        assert box.text == "draft"  # what was being typed comes back
        box.load_text("   ")
        await pilot.press("ctrl+s")  # nothing to send
        assert box.past == ["first prompt", "second\nprompt"]
