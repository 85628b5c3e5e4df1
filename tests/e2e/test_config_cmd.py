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


def _editor(tmp_path: Path, script: str) -> str:
    """A fake editor: a shell script run as `EDITOR FILE`, as a real editor would be."""
    path = tmp_path / "fake-editor"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


def test_config_edit_saves_a_valid_edit(cli: Cli, home: Path, tmp_path: Path) -> None:
    path = home / "config" / "config.toml"
    # Top-level keys go before the first table: write the line, then the old text.
    editor = _editor(
        tmp_path,
        '{ printf \'default_model = "fake/edited"\\n\'; cat "$1"; } > "$1.new"\nmv "$1.new" "$1"\n',
    )
    result = cli("config", "edit", extra_env={"EDITOR": editor, "VISUAL": ""})
    assert result.returncode == 0, result.stderr
    assert path.read_text().startswith('default_model = "fake/edited"\n')
    assert "[providers.fake]" in path.read_text()  # the editor got the old text to edit
    assert not path.with_name("config.toml.edit").exists()
    shown = json.loads(cli("config", "show", "--json").stdout)
    assert shown["default_model"] == "fake/edited"


def test_config_edit_keeps_the_old_file_on_a_bad_edit(cli: Cli, home: Path, tmp_path: Path) -> None:
    path = home / "config" / "config.toml"
    before = path.read_text()
    visual = _editor(tmp_path, 'printf \'[daemon]\\nidle_timeout = "whenever"\\n\' >> "$1"\n')
    result = cli("config", "edit", extra_env={"VISUAL": visual, "EDITOR": "false"})
    assert result.returncode == 2
    assert "daemon.idle_timeout" in result.stderr and "unchanged" in result.stderr
    assert path.read_text() == before
    draft = path.with_name("config.toml.edit")
    assert "whenever" in draft.read_text()  # the edit is not lost either
    assert str(draft) in result.stderr.replace("\n", "")
    # An editor that fails changes nothing; no editor at all says what to set.
    failed = cli("config", "edit", extra_env={"VISUAL": "", "EDITOR": "false"})
    assert failed.returncode == 2 and "exited with 1" in failed.stderr
    assert path.read_text() == before
    none = cli("config", "edit", extra_env={"VISUAL": "", "EDITOR": ""})
    assert none.returncode == 2 and "$EDITOR" in none.stderr
