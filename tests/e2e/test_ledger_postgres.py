"""The real daemon with its ledger in PostgreSQL (``[ledger] url``): every command that reads
or writes the ledger works as on SQLite, and nothing is written to a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.e2e.conftest import Cli, write_config
from tests.fakes.openai import FakeOpenAI

pytestmark = pytest.mark.postgres

MODEL = "openai/gpt-4.1-mini"


@pytest.fixture
def pg_home(home: Path, pg_url: str, fake_openai: FakeOpenAI) -> Path:
    write_config(
        home,
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n'
        f'[providers.openai]\nbase_url = "{fake_openai.base_url}"\n'
        f'[ledger]\nurl = "{pg_url}"\n',
    )
    return home


def _json(result: object) -> dict[str, object]:
    out = getattr(result, "stdout", "")
    assert getattr(result, "returncode", 1) == 0, getattr(result, "stderr", "")
    data: dict[str, object] = json.loads(out)
    return data


def test_ask_usage_log_and_tokens_on_postgres(pg_home: Path, pg_url: str, cli: Cli) -> None:
    env = {"OPENAI_API_KEY": "sk-test"}
    first = _json(cli("ask", "-m", MODEL, "--json", "the sky over the sea", extra_env=env))
    assert first["answer"] and first["cost_usd"]
    again = cli("ask", "-c", "and at night?", "-m", MODEL, extra_env=env)
    assert again.returncode == 0, again.stderr

    report = _json(cli("usage", "--json", "--by", "model"))
    totals = report["totals"]
    assert isinstance(totals, dict) and totals["calls"] == 2
    assert totals["cost_usd"] == pytest.approx(2 * float(str(first["cost_usd"])), rel=0.5)
    by_day = _json(cli("usage", "--json", "--by", "day"))
    assert len(by_day["rows"]) == 1  # type: ignore[arg-type]

    log = cli("log", "--json", "--search", "sky")
    assert log.returncode == 0, log.stderr
    found = json.loads(log.stdout)
    runs = found["runs"] if isinstance(found, dict) else found
    assert [r["run_id"] for r in runs] == [first["run_id"]]
    shown = cli("log", str(first["run_id"]))
    assert shown.returncode == 0 and "the sky over the sea" in shown.stdout

    created = cli("serve", "token", "create", "ci", "--budget-daily", "1")
    assert created.returncode == 0, created.stderr
    listed = _json(cli("serve", "token", "list", "--json"))
    assert [t["name"] for t in listed["tokens"]] == ["ci"]  # type: ignore[attr-defined]

    # The rows are in PostgreSQL, and no SQLite ledger was made beside it.
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM calls WHERE status = 'ok'").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM messages").fetchone() == (4,)
        assert conn.execute("SELECT count(*) FROM gateway_tokens").fetchone() == (1,)
    assert not (pg_home / "data" / "ledger.sqlite3").exists()


def test_a_database_that_is_not_there_stops_the_daemon_saying_so(
    home: Path, pg_server: object, cli: Cli
) -> None:
    port = pg_server.port
    write_config(home, f'[ledger]\nurl = "postgresql://nobody:s3cret@127.0.0.1:{port}/none"\n')
    result = cli("ask", "-m", "fake/echo", "hi")
    assert result.returncode == 3, result.stderr
    assert "cannot open the ledger postgresql://nobody@127.0.0.1" in result.stderr
    assert "s3cret" not in result.stderr
