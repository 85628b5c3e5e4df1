"""Fixtures shared by every test: isolated state and the fake providers."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai import FakeOpenAI
from tests.pg import PgServer, find_bin


@pytest.fixture
def short_home() -> Iterator[Path]:
    """A SUPERLLM_HOME short enough for AF_UNIX paths (about 100 bytes), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="sl", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A private PostgreSQL server for the whole session (tests/pg.py)."""
    bin_dir = find_bin()
    if bin_dir is None:
        pytest.fail(
            "PostgreSQL is not installed: the ledger's PostgreSQL tests need initdb and "
            "pg_ctl (apt-get install postgresql)"
        )
    server = PgServer(bin_dir).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of a new, empty database on the session's server."""
    return pg_server.database()


@pytest.fixture(autouse=True)
def _no_real_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests must never read or write the developer's real keyring.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    for name in list(os.environ):
        if name.startswith("SUPERLLM_"):
            monkeypatch.delenv(name)
