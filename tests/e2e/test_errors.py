"""Exit codes and messages of DESIGN.md, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Cli, daemon_pids, write_config
from tests.fakes.openai import FakeOpenAI


def test_unknown_provider_is_a_usage_error_listing_the_known_ids(cli: Cli) -> None:
    result = cli("ask", "-m", "nosuch/model", "hi")
    assert result.returncode == 2
    assert "unknown provider 'nosuch'" in result.stderr
    assert "known: " in result.stderr and "openai" in result.stderr and "fake" in result.stderr
    assert "Traceback" not in result.stderr


def test_model_without_provider_exits_4(cli: Cli) -> None:
    result = cli("ask", "-m", "gpt-something", "hi")
    assert result.returncode == 4
    assert "provider/model" in result.stderr


def test_upstream_404_model_exits_4(cli: Cli) -> None:
    result = cli("ask", "-m", "fake/error-404", "hi")
    assert result.returncode == 4
    assert "fake/error-404" in result.stderr and "404" in result.stderr


def test_truncated_stream_is_an_error_not_a_short_answer(cli: Cli) -> None:
    result = cli("ask", "-m", "fake/truncated", "one two three four five six")
    assert result.returncode == 4
    assert "ended before its end marker" in result.stderr
    data = json.loads(cli("ask", "-m", "fake/truncated", "--json", "a b c d e f").stdout)
    assert data["error"]["code"] == "protocol"
    assert data["answer"] is None


def test_connection_reset_mid_stream_exits_4(cli: Cli) -> None:
    result = cli("ask", "-m", "fake/reset", "one two three four five six")
    assert result.returncode == 4
    assert "broke mid-answer" in result.stderr


def test_midstream_error_event_exits_4(cli: Cli) -> None:
    result = cli("ask", "-m", "fake/midstream-error", "one two three four")
    assert result.returncode == 4
    assert "mid-stream" in result.stderr


def test_auth_error_names_source_never_the_key(
    cli: Cli, home: Path, fake_openai: FakeOpenAI
) -> None:
    write_config(
        home,
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n'
        'api_key_env = "FAKE_KEY"\n',
    )
    secret = "sk-test-SECRET-1234567890abcdef"
    result = cli("ask", "-m", "fake/leaky", "hi", extra_env={"FAKE_KEY": secret})
    assert result.returncode == 4
    assert "$FAKE_KEY" in result.stderr
    assert secret not in result.stderr + result.stdout
    assert "SECRET" not in result.stderr
    log = (home / "state" / "superllmd.log").read_text()
    assert secret not in log


def test_unreachable_daemon_with_no_autostart_exits_3(cli: Cli, home: Path) -> None:
    result = cli("ask", "--no-autostart", "-m", "fake/echo", "hi")
    assert result.returncode == 3
    assert "daemon start" in result.stderr
    assert daemon_pids(home) == []


def test_bad_config_exits_2_naming_key_file_and_line(cli: Cli, home: Path) -> None:
    path = write_config(home, '# settings\n[daemon]\nidle_timeout = "soon"\n')
    result = cli("ask", "-m", "fake/echo", "hi")
    assert result.returncode == 2
    assert "daemon.idle_timeout" in result.stderr
    assert f"{path}, line 3" in result.stderr
    assert "Traceback" not in result.stderr
    assert daemon_pids(home) == []  # nothing started half-way


def test_bad_config_written_while_running_exits_2(cli: Cli, home: Path) -> None:
    assert cli("ask", "-m", "fake/echo", "hi").returncode == 0
    path = write_config(home, "[providers.fake]\nkind = 3\n")
    result = cli("ask", "-m", "fake/echo", "hi")
    assert result.returncode == 2
    assert "providers.fake.kind" in result.stderr and str(path) in result.stderr


def test_unknown_config_key_is_reported(cli: Cli, home: Path) -> None:
    write_config(home, 'default_modle = "fake/echo"\n')
    result = cli("ask", "hi")
    assert result.returncode == 2
    assert "default_modle: unknown key" in result.stderr and "line 1" in result.stderr


def test_bad_flag_exits_2(cli: Cli) -> None:
    assert cli("ask", "--stream", "sometimes", "hi").returncode == 2
    assert cli("ask", "-o", "novalue", "-m", "fake/echo", "hi").returncode == 2
    assert cli("ask", "--temperature", "9", "hi").returncode == 2


def test_retry_is_visible_in_stream_json(cli: Cli, fake_openai: FakeOpenAI) -> None:
    fake_openai.script = ["error-429"]
    try:
        result = cli("ask", "-m", "fake/echo", "--stream-json", "again")
    finally:
        fake_openai.script = []
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    retries = [e for e in events if e["type"] == "retry"]
    assert len(retries) == 1 and retries[0]["code"] == "rate_limited"
    assert events[-1]["result"]["answer"] == "echo: again"


def test_alias_fallback_chain(cli: Cli, home: Path, fake_openai: FakeOpenAI) -> None:
    write_config(
        home,
        f'[aliases]\nsturdy = ["fake/quota", "fake/echo"]\n'
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n',
    )
    result = cli("ask", "-m", "sturdy", "--json", "falls back")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == "fake/echo" and data["answer"] == "echo: falls back"
    assert data["participants"][0]["error"]["code"] == "quota"
