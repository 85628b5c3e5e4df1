"""One daemon, one set of files: a client whose environment resolves other ones is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from superllm_cli.client import Client
from superllmd.paths import Paths
from tests.e2e.conftest import Cli


def test_health_reports_the_daemons_files(cli: Cli, home: Path, env: dict[str, str]) -> None:
    assert cli("daemon", "start").returncode == 0
    paths = Client(environ=env).health()["paths"]
    assert paths["ledger"] == str(home / "data" / "ledger.sqlite3")
    assert paths["config"] == str(home / "config" / "config.toml")


def test_a_client_resolving_other_files_is_told_once(
    cli: Cli, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("daemon", "start").returncode == 0
    # As a cron job without XDG_DATA_HOME would: the same socket, other config and data.
    other = Paths(tmp_path / "config", tmp_path / "data", tmp_path / "state", home / "run")
    client = Client(other, autostart=False)
    client.call("GET", "/v1/models")
    client.call("GET", "/v1/usage")
    told = [line for line in capsys.readouterr().err.splitlines() if "running daemon" in line]
    assert len(told) == 1
    assert str(home / "data" / "ledger.sqlite3") in told[0]
    assert str(tmp_path / "data" / "ledger.sqlite3") in told[0]
    assert "SUPERLLM_HOME" in told[0]
    same = Client(Paths(home / "config", home / "data", home / "state", home / "run"))
    same.call("GET", "/v1/models")
    assert "running daemon" not in capsys.readouterr().err


def test_config_path_names_the_file_the_running_daemon_reads(
    cli: Cli, home: Path, short_home: Path, env: dict[str, str]
) -> None:
    import subprocess

    from tests.e2e.conftest import SUPERLLM, base_env

    assert cli("daemon", "start").returncode == 0
    # Another environment that reaches the same socket (as cron and a login shell do) but
    # resolves another config file.
    other = short_home / "other"
    other.mkdir(mode=0o700)
    (other / "run").symlink_to(home / "run")
    shown = subprocess.run(
        [SUPERLLM, "config", "path"],
        env=base_env(other),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == f"{home / 'config' / 'config.toml'}\n"
    assert "running daemon uses" in shown.stderr and "SUPERLLM_HOME" in shown.stderr
    # With no daemon running, the path this environment would give a new one.
    assert cli("daemon", "stop").returncode == 0
    alone = subprocess.run(
        [SUPERLLM, "config", "path"], env=base_env(other), capture_output=True, text=True
    )
    assert alone.stdout == f"{other / 'config' / 'config.toml'}\n" and alone.stderr == ""
