"""`superllm providers list` end to end: the real command, a real daemon, no key ever shown."""

from __future__ import annotations

import json
from pathlib import Path

from superllm_cli._env import query
from tests.e2e.conftest import Cli

GROQ_KEY = "gsk-e2e-do-not-print-4f1c"
XAI_KEY = "xai-e2e-do-not-print-99aa"


def test_query_carries_names_of_set_variables_never_their_values() -> None:
    environ = {"GROQ_API_KEY": GROQ_KEY, "EMPTY": "", "SUPERLLM_DEFAULT_MODEL": "x/y", "PS1": "$"}
    for names in (None, ["GROQ_API_KEY", "EMPTY"]):  # the daemon's list unknown, known
        text = query("/v1/providers", environ, names, present=True)
        assert GROQ_KEY not in text
        assert "GROQ_API_KEY" in text
        assert "EMPTY" not in text
        assert "SUPERLLM_DEFAULT_MODEL=x%2Fy" in text
    # Once the list is known, only its names go: not every variable of the shell.
    assert "PS1" not in query("/v1/providers", environ, ["GROQ_API_KEY"], present=True)


def test_list_json_reports_key_sources_and_never_keys(cli: Cli, home: Path) -> None:
    marker = home / "api_key_cmd_ran"
    config = home / "config" / "config.toml"
    config.write_text(
        config.read_text() + f'\n[providers.together]\napi_key_cmd = "touch {marker}"\n'
    )
    result = cli(
        "providers", "list", "--json", extra_env={"GROQ_API_KEY": GROQ_KEY, "XAI_API_KEY": XAI_KEY}
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    by_id = {row["id"]: row for row in rows}
    assert len(rows) >= 50  # presets + native + local
    assert {"id", "kind", "base_url", "key_source", "configured"} <= set(rows[0])

    assert by_id["groq"]["key_source"] == "$GROQ_API_KEY"
    assert by_id["groq"]["configured"] is True
    assert by_id["groq"]["kind"] == "openai-preset"
    assert by_id["groq"]["base_url"] == "https://api.groq.com/openai/v1"
    assert by_id["xai"]["key_source"] == "$XAI_API_KEY"
    assert by_id["openrouter"]["key_source"] is None
    assert by_id["openrouter"]["configured"] is False
    assert by_id["lmstudio"]["configured"] is True  # a local server needs no key
    assert by_id["fake"]["kind"] == "openai-compatible"  # from config.toml
    # api_key_cmd counts as a source but is not run just to draw a list.
    assert by_id["together"]["key_source"] == "api_key_cmd"
    assert by_id["together"]["configured"] is True
    assert not marker.exists()

    for secret in (GROQ_KEY, XAI_KEY):
        assert secret not in result.stdout
        assert secret not in result.stderr
        for path in home.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


def test_list_table_on_stdout(cli: Cli) -> None:
    result = cli("providers", "list", extra_env={"GROQ_API_KEY": GROQ_KEY})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["PROVIDER", "KIND", "READY", "KEY"]
    groq = next(line for line in lines if line.startswith("groq "))
    assert "$GROQ_API_KEY" in groq and " yes " in groq
    assert GROQ_KEY not in result.stdout
    assert "\x1b[" not in result.stdout  # a pipe gets no colour


def test_environment_applies_to_the_request_only(cli: Cli) -> None:
    first = json.loads(cli("providers", "list", "--json", extra_env={"GROQ_API_KEY": "k"}).stdout)
    second = json.loads(cli("providers", "list", "--json").stdout)
    assert {r["id"]: r for r in first}["groq"]["configured"] is True
    assert {r["id"]: r for r in second}["groq"]["key_source"] is None
