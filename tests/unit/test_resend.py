"""After a connection cut, only a request that cannot have reached a provider is sent again
(superllm_cli/_daemon.py): a POST may already have been billed when its daemon died."""

from __future__ import annotations

from pathlib import Path

import pytest

from superllm_cli._daemon import LocalDaemon, resendable
from superllm_cli._env import EnvNames
from superllm_cli._wire import WireError
from superllmd.errors import DaemonError
from superllmd.paths import get_paths


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[LocalDaemon, list[str]]:
    paths = get_paths({"SUPERLLM_HOME": str(tmp_path)})
    local = LocalDaemon(paths, {}, autostart=True, names=EnvNames(paths.runtime_dir))
    started: list[str] = []
    monkeypatch.setattr(local, "start", lambda: started.append("start"))
    return local, started


def test_which_methods_may_be_sent_again() -> None:
    assert all(resendable(m) for m in ("GET", "HEAD", "PUT", "DELETE"))
    assert not resendable("POST")


@pytest.mark.parametrize(
    "cut", [WireError("closed without answering"), ConnectionResetError(), BrokenPipeError()]
)
def test_a_cut_post_is_not_sent_again(daemon: tuple[LocalDaemon, list[str]], cut: OSError) -> None:
    local, started = daemon
    with pytest.raises(DaemonError, match="not sent again"):
        local.recover(cut, 0, resend=False)
    assert started == []
    local.recover(cut, 0, resend=True)  # a GET: a daemon is started and it goes again
    assert started == ["start"]


def test_a_post_that_found_no_daemon_is_sent_once_one_starts(
    daemon: tuple[LocalDaemon, list[str]],
) -> None:
    local, started = daemon
    local.recover(ConnectionRefusedError(), 0, resend=False)  # nothing was sent
    assert started == ["start"]
