"""Settings: file, then environment, with errors that name key, file and line."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from superllmd.config import ConfigStore, load_settings, parse_duration
from superllmd.config_edit import set_key
from superllmd.errors import ConfigError

DESIGN_EXAMPLE = """\
default_model = "local/smollm2"          # or an alias
[aliases]
fast = "openai/gpt-4.1-mini"
smart = ["anthropic/claude-sonnet-4-5", "openai/gpt-4.1"]   # a list is a fallback chain
[providers.openai]
base_url = "https://api.openai.com/v1"
[providers.mylab]
kind = "openai-compatible"
base_url = "http://127.0.0.1:8000/v1"
models = ["qwen3-8b"]
[budgets]
daily_usd = 2.0
monthly_usd = 30.0
[daemon]
idle_timeout = "0"                       # never
log_prompts = true
"""


def test_design_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(DESIGN_EXAMPLE)
    s = load_settings(path, {})
    assert s.default_model == "local/smollm2"
    assert s.aliases["smart"] == ["anthropic/claude-sonnet-4-5", "openai/gpt-4.1"]
    assert s.providers["mylab"].models == ["qwen3-8b"]
    assert s.budgets.daily_usd == 2.0 and s.daemon.log_prompts is True


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "nope.toml", {})
    assert s.default_model is None and s.providers == {}


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(DESIGN_EXAMPLE)
    env = {
        "SUPERLLM_PROVIDERS__OPENAI__BASE_URL": "http://127.0.0.1:9/v1",
        "SUPERLLM_DEFAULT_MODEL": "fast",
        "SUPERLLM_HOME": "/ignored",  # not a setting: ignored, not an error
    }
    s = load_settings(path, env)
    assert s.providers["openai"].base_url == "http://127.0.0.1:9/v1"
    assert s.default_model == "fast"
    assert s.providers["mylab"].base_url == "http://127.0.0.1:8000/v1"  # untouched


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[daemon]\nidle_timeout = "later"\n', "daemon.idle_timeout"),
        ("[providers.x]\nkind = 'openai-compatible'\ntimeout = -1\n", "providers.x.timeout"),
        ("[budgets]\ndayly_usd = 2\n", "budgets.dayly_usd: unknown key"),
    ],
)
def test_errors_name_key_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, {})
    message = info.value.message
    assert expected in message
    line = text.splitlines().index(text.splitlines()[-1]) + 1
    assert f"{path}, line {line}" in message


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("default_model = \n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(path, {})


def test_error_from_environment_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SUPERLLM_DAEMON__GRACE_PERIOD"):
        load_settings(tmp_path / "none.toml", {"SUPERLLM_DAEMON__GRACE_PERIOD": "-3"})


def test_store_reloads_when_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('default_model = "a/b"\n')
    store = ConfigStore(path)
    assert store.get({}).default_model == "a/b"
    assert store.get({}) is store.get({})  # cached
    path.write_text('default_model = "c/dd"\n')
    assert store.get({}).default_model == "c/dd"
    path.write_text("default_model = 3\n")
    with pytest.raises(ConfigError):
        store.get({})


def test_the_daemons_settings_are_kept_for_one_loop_iteration(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('default_model = "a/b"\n')
    store = ConfigStore(path)

    async def go() -> None:
        assert store.get(os.environ).default_model == "a/b"
        path.write_text('default_model = "c/dd"\n')
        assert store.get(os.environ).default_model == "a/b"  # the same iteration
        await asyncio.sleep(0)
        assert store.get(os.environ).default_model == "c/dd"  # the next one sees the edit
        path.write_text('default_model = "e/f"\n')
        store.invalidate()  # the daemon's own edits say so at once
        assert store.get(os.environ).default_model == "e/f"

    asyncio.run(go())
    path.write_text('default_model = "g/h"\n')
    assert store.get(os.environ).default_model == "g/h"  # no loop: every lookup checks


def test_set_key_keeps_comments_and_refuses_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('# mine\n[providers.openai]\nbase_url = "x"  # old\n')
    set_key(path, "providers.openai.base_url", "http://h/v1", {})
    set_key(path, "providers.openai.timeout", "30", {})
    set_key(path, "default_model", "local/smollm2", {})
    set_key(path, "aliases.fast", "openai/gpt-4.1-mini", {})
    s = load_settings(path, {})
    assert s.providers["openai"].base_url == "http://h/v1"
    assert s.providers["openai"].timeout == 30
    assert s.default_model == "local/smollm2" and s.aliases["fast"] == "openai/gpt-4.1-mini"
    assert path.read_text().startswith("# mine\n")
    before = path.read_text()
    with pytest.raises(ConfigError):
        set_key(path, "daemon.grace_period", "-1", {})
    with pytest.raises(ConfigError):
        set_key(path, "no such.key", "1", {})
    assert path.read_text() == before


def test_durations() -> None:
    assert parse_duration("0") == 0
    assert parse_duration("90") == 90 and parse_duration("90s") == 90
    assert parse_duration("30m") == 1800 and parse_duration("2h") == 7200
    assert parse_duration("250ms") == 0.25
    with pytest.raises(ValueError):
        parse_duration("soon")


CONFIG = """\
# my superllm config
default_model = "local/smollm2"   # the embedded one

[aliases]
smart = ["anthropic/claude-sonnet-4-5", "openai/gpt-4.1"]  # a chain

# hand-priced models
[prices."openai/gpt-4.1"]
input = 2.0
output = 8.0

[providers.openai]
base_url = "http://old/v1"
headers = { "X-Team" = "blue" }  # sent with every call
"""


def test_set_key_edits_only_the_value_it_sets(tmp_path: Path) -> None:
    """Comments, blank lines, quoting, inline tables and arrays stay as the user wrote them."""
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    set_key(path, 'prices."openai/gpt-4.1".input', "2.5", {})
    set_key(path, "aliases.smart", '["openai/gpt-4.1", "local/smollm2"]', {})
    set_key(path, 'providers.openai.headers."X-Team"', "red", {})
    expected = (
        CONFIG.replace("input = 2.0", "input = 2.5")
        .replace(
            '["anthropic/claude-sonnet-4-5", "openai/gpt-4.1"]',
            '["openai/gpt-4.1", "local/smollm2"]',
        )
        .replace('"X-Team" = "blue"', '"X-Team" = "red"')
    )
    assert path.read_text() == expected
    s = load_settings(path, {})
    assert s.aliases["smart"] == ["openai/gpt-4.1", "local/smollm2"]
    assert s.providers["openai"].headers == {"X-Team": "red"}


def test_set_key_adds_keys_and_tables_in_place(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    set_key(path, 'budgets.labels."cron/nightly"', "0.5", {})
    set_key(path, "providers.openai.timeout", "30", {})
    set_key(path, "daemon.log_prompts", "false", {})
    text = path.read_text()
    assert text.startswith(
        CONFIG.split("[providers.openai]", maxsplit=1)[0]
    )  # untouched up to there
    assert '[budgets.labels]\n"cron/nightly" = 0.5\n' in text
    assert '"X-Team" = "blue" }  # sent with every call\ntimeout = 30\n' in text
    assert "[budgets]\n" not in text  # no empty parent header
    s = load_settings(path, {})
    assert s.providers["openai"].timeout == 30 and s.daemon.log_prompts is False
    assert s.budgets.labels["cron/nightly"] == 0.5
    with pytest.raises(ConfigError, match="not a table"):
        set_key(path, "default_model.x", "1", {})
    with pytest.raises(ConfigError, match="quote a part"):
        set_key(path, "prices.openai/gpt-4.1.input", "1", {})
