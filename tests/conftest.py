"""Fixtures shared by every test: isolated state and the fake providers."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai import FakeOpenAI


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


@pytest.fixture(autouse=True)
def _no_real_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests must never read or write the developer's real keyring.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    for name in list(os.environ):
        if name.startswith("SUPERLLM_"):
            monkeypatch.delenv(name)
