"""superllm's files are its owner's alone: 0700 folders, 0600 files, checked as another user."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from superllmd.paths import Paths, get_paths
from superllmd.privacy import prepare
from tests.e2e.conftest import SUPERLLM, base_env, kill_daemons
from tests.fakes.openai import FakeOpenAI

OTHER_USER = "superllm-other"


@pytest.fixture(scope="module")
def other_user() -> Iterator[str]:
    """A second local user, created for the test when we are root."""
    if os.geteuid() != 0:
        pytest.skip("creating a second unix user needs root; run the suite as root to check")
    if shutil.which("useradd") is None or shutil.which("runuser") is None:
        pytest.skip("useradd/runuser are not installed, so no second user can be made")
    created = False
    try:
        pwd.getpwnam(OTHER_USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", OTHER_USER], check=True)
        created = True
    try:
        yield OTHER_USER
    finally:
        if created:
            subprocess.run(["userdel", OTHER_USER], check=False)


def _as(user: str, path: Path) -> subprocess.CompletedProcess[str]:
    """Try to read ``path`` as ``user``."""
    return subprocess.run(
        ["runuser", "-u", user, "--", "head", "-c", "64", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def _loose(root: Path) -> list[str]:
    """Everything under ``root`` that a group or other user could read, write or enter."""
    found = []
    for folder, _dirs, files in os.walk(root):
        for path in [Path(folder), *(Path(folder) / f for f in files)]:
            mode = stat.S_IMODE(path.lstat().st_mode)
            if mode & 0o077:
                found.append(f"{path} {oct(mode)}")
    return found


@pytest.fixture
def public_parent() -> Iterator[Path]:
    """A world-readable folder (like a home folder), with nothing of superllm's in it yet."""
    parent = Path(tempfile.mkdtemp(prefix="slp", dir="/tmp"))
    parent.chmod(0o755)
    try:
        yield parent
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def test_new_home_is_private_to_another_user(
    public_parent: Path, other_user: str, fake_openai: FakeOpenAI
) -> None:
    home = public_parent / "h"  # does not exist: superllm creates it
    env = base_env(home)
    env["SUPERLLM_PROVIDERS__FAKE__KIND"] = "openai-compatible"
    env["SUPERLLM_PROVIDERS__FAKE__BASE_URL"] = fake_openai.base_url
    run = {"env": env, "capture_output": True, "text": True, "timeout": 120}
    try:
        asked = subprocess.run(
            [SUPERLLM, "ask", "-m", "fake/echo", "my secret plan"], stdin=subprocess.DEVNULL, **run
        )
        assert asked.returncode == 0, asked.stderr
        set_ = subprocess.run([SUPERLLM, "config", "set", "default_model", "fake/echo"], **run)
        assert set_.returncode == 0, set_.stderr
        ledger = home / "data" / "ledger.sqlite3"
        files = [ledger, home / "config" / "config.toml", home / "state" / "superllmd.log"]
        for path in files:
            assert path.exists(), path
        assert (home / "data" / "ledger.sqlite3-wal").exists()  # the daemon still runs
        assert _loose(home) == []
        # Even where the user opens the top folder up, the files stay theirs.
        home.chmod(0o755)
        for path in files:
            denied = _as(other_user, path)
            assert denied.returncode != 0 and "secret" not in denied.stdout
            assert "Permission denied" in denied.stderr
        # The same read as the owner works, so the denial above is about the modes.
        for path in files:
            mine = subprocess.run(["head", "-c", "64", str(path)], capture_output=True)
            assert mine.returncode == 0 and mine.stdout
    finally:
        subprocess.run([SUPERLLM, "daemon", "stop"], **run)
        kill_daemons(home)


def test_loose_files_are_tightened_with_a_notice(
    public_parent: Path, fake_openai: FakeOpenAI
) -> None:
    home = public_parent / "h"
    env = base_env(home)
    env["SUPERLLM_PROVIDERS__FAKE__KIND"] = "openai-compatible"
    env["SUPERLLM_PROVIDERS__FAKE__BASE_URL"] = fake_openai.base_url
    run = {"env": env, "capture_output": True, "text": True, "timeout": 120}
    ask = [SUPERLLM, "ask", "-m", "fake/echo", "hello"]
    try:
        first = subprocess.run(ask, stdin=subprocess.DEVNULL, **run)
        assert first.returncode == 0, first.stderr
        assert "private" not in first.stderr  # nothing was loose: no notice
        assert subprocess.run([SUPERLLM, "daemon", "stop"], **run).returncode == 0
        # As an older version (or a cp -r) would have left them.
        for folder, _dirs, names in os.walk(home):
            Path(folder).chmod(0o755)
            for name in names:
                (Path(folder) / name).chmod(0o644)
        second = subprocess.run(ask, stdin=subprocess.DEVNULL, **run)
        assert second.returncode == 0, second.stderr
        notices = [line for line in second.stderr.splitlines() if "private" in line]
        assert len(notices) == 1 and "other users could read" in notices[0]
        # The top folder existed before this start: it is the user's to open, its parts are ours.
        assert [x for d in ("config", "data", "state", "run") for x in _loose(home / d)] == []
        third = subprocess.run(ask, stdin=subprocess.DEVNULL, **run)
        assert "private" not in third.stderr
    finally:
        subprocess.run([SUPERLLM, "daemon", "stop"], **run)
        kill_daemons(home)


def test_default_platformdirs_homes_are_created_private(
    public_parent: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(public_parent))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    default = get_paths({})
    assert str(default.data_dir).startswith(str(public_parent))
    # The runtime folder is shared by every process of this uid: use one of our own.
    paths = Paths(
        default.config_dir, default.data_dir, default.state_dir, public_parent / "run-test"
    )
    assert prepare(paths) is None
    assert _loose(public_parent / ".config") == []
    assert _loose(public_parent / ".local") == []
    for folder in (paths.config_dir, paths.data_dir, paths.state_dir, paths.runtime_dir):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_files_the_cli_writes_are_private_too(public_parent: Path, fake_openai: FakeOpenAI) -> None:
    """Commands that write without the daemon (templates) run under the user's umask: their
    folders and files must be born private, so no later start has anything to tighten."""
    home = public_parent / "h"  # does not exist: the first command creates it
    env = {**base_env(home), "EDITOR": "true"}
    env["SUPERLLM_PROVIDERS__FAKE__KIND"] = "openai-compatible"
    env["SUPERLLM_PROVIDERS__FAKE__BASE_URL"] = fake_openai.base_url
    run = {
        "env": env,
        "capture_output": True,
        "text": True,
        "timeout": 120,
        "stdin": subprocess.DEVNULL,
        "preexec_fn": lambda: os.umask(0o022),  # a usual login shell's
    }
    try:
        saved = subprocess.run(
            [SUPERLLM, "templates", "save", "mine", "--system", "my secret style"], **run
        )
        assert saved.returncode == 0, saved.stderr
        edited = subprocess.run([SUPERLLM, "templates", "edit", "review"], **run)
        assert edited.returncode == 0, edited.stderr
        assert (home / "config" / "templates" / "mine.toml").exists()
        assert _loose(home) == []
        asked = subprocess.run([SUPERLLM, "ask", "-m", "fake/echo", "hi"], **run)
        assert asked.returncode == 0, asked.stderr
        assert "private" not in asked.stderr  # nothing was left loose to tighten
    finally:
        subprocess.run([SUPERLLM, "daemon", "stop"], **{**run, "preexec_fn": None})
        kill_daemons(home)
