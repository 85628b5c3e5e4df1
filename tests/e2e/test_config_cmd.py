"""`superllm config path|show|set`: the daemon owns configuration; the CLI asks it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Cli


def test_config_path(cli: Cli, home: Path) -> None:
    result = cli("config", "path")
    assert result.returncode == 0
    assert result.stdout.strip() == str(home / "config" / "config.toml")


def test_config_set_then_show(cli: Cli, home: Path) -> None:
    path = home / "config" / "config.toml"
    path.write_text("# my providers\n" + path.read_text())
    assert cli("config", "set", "providers.fake.timeout", "30").returncode == 0
    assert cli("config", "set", "default_model", "fake/echo").returncode == 0
    text = path.read_text()
    assert text.startswith("# my providers\n")  # comments survive
    shown = json.loads(cli("config", "show", "--json").stdout)
    assert shown["providers"]["fake"]["timeout"] == 30
    assert shown["default_model"] == "fake/echo"
    assert cli("ask", "hi").stdout == "echo: hi\n"  # the new default is used at once


def test_config_set_refuses_invalid_value(cli: Cli, home: Path) -> None:
    path = home / "config" / "config.toml"
    before = path.read_text()
    result = cli("config", "set", "daemon.idle_timeout", "whenever")
    assert result.returncode == 2
    assert "daemon.idle_timeout" in result.stderr
    assert path.read_text() == before  # nothing half-written


def test_config_show_applies_environment(cli: Cli) -> None:
    shown = cli("config", "show", "--json", extra_env={"SUPERLLM_PROVIDERS__FAKE__TIMEOUT": "7"})
    assert json.loads(shown.stdout)["providers"]["fake"]["timeout"] == 7
    plain = cli("config", "show")
    assert plain.returncode == 0 and "[providers.fake]" in plain.stdout
