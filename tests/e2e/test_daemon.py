"""The daemon's lifecycle, end to end: autostart, races, stop, restart, permissions."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import SUPERLLM, Cli, base_env, daemon_pids, kill_daemons


def _wait(predicate: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_twenty_racing_clients_start_one_daemon(env: dict[str, str], home: Path) -> None:
    procs = [
        subprocess.Popen(
            [SUPERLLM, "ask", "-m", "fake/echo", f"question {i}"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(20)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for i, (proc, (out, err)) in enumerate(zip(procs, outputs, strict=True)):
        assert proc.returncode == 0, err
        assert out == f"echo: question {i}\n"
    assert len(daemon_pids(home)) == 1
    log = (home / "state" / "superllmd.log").read_text()
    assert log.count("listening on") == 1


def test_status_stop_restart(cli: Cli, home: Path) -> None:
    assert cli("daemon", "status").returncode == 3
    started = cli("daemon", "start")
    assert started.returncode == 0, started.stderr
    status = json.loads(cli("daemon", "status", "--json").stdout)
    assert status["pid"] in daemon_pids(home)
    assert status["api_version"] == 1
    restarted = cli("daemon", "restart")
    assert restarted.returncode == 0
    new = json.loads(cli("daemon", "status", "--json").stdout)
    assert new["pid"] != status["pid"]
    assert daemon_pids(home) == [new["pid"]]
    stopped = cli("daemon", "stop")
    assert stopped.returncode == 0 and str(new["pid"]) in stopped.stdout
    assert daemon_pids(home) == []
    assert not (home / "run" / "superllmd.sock").exists()
    assert cli("daemon", "status").returncode == 3
    assert "not running" in cli("daemon", "stop").stdout


def test_logs_command(cli: Cli) -> None:
    cli("daemon", "start")
    logs = cli("daemon", "logs", "-n", "5")
    assert logs.returncode == 0
    assert "listening on" in logs.stdout


def test_socket_and_folder_are_private(cli: Cli, home: Path) -> None:
    assert cli("daemon", "start").returncode == 0
    sock = home / "run" / "superllmd.sock"
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "run").stat().st_mode) == 0o700


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another uid")
def test_peer_of_another_uid_is_refused(cli: Cli, home: Path) -> None:
    assert cli("daemon", "start").returncode == 0
    sock_path = str(home / "run" / "superllmd.sock")
    # The 0700 folder alone stops another user; loosen it (and the socket) as a careless
    # system might, to show the daemon's own SO_PEERCRED check still refuses the peer.
    os.chmod(home, 0o755)
    os.chmod(home / "run", 0o755)
    os.chmod(sock_path, 0o666)
    probe = (
        "import os, socket, sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "try:\n"
        "    s.sendall(b'GET /v1/health HTTP/1.1\\r\\nHost: x\\r\\n'\n"
        "              b'Connection: close\\r\\n\\r\\n')\n"
        "    print(repr(s.recv(100)))\n"
        "except OSError:\n"
        "    print(repr(b''))\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", probe, sock_path], capture_output=True, text=True, timeout=30
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() == "b''"  # closed without an answer
    same = subprocess.run(
        [
            sys.executable,
            "-c",
            probe.replace("os.setgid(65534); os.setuid(65534)\n", ""),
            sock_path,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "200 OK" in same.stdout
    assert "refused a connection from uid 65534" in (home / "state" / "superllmd.log").read_text()


def test_stale_socket_is_cleaned_up(cli: Cli, home: Path) -> None:
    run = home / "run"
    run.mkdir(mode=0o700, parents=True, exist_ok=True)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(run / "superllmd.sock"))
    stale.close()  # the file stays, nothing listens: what a crashed daemon leaves
    result = cli("ask", "-m", "fake/echo", "after a crash")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: after a crash\n"


def test_killed_daemon_is_restarted_by_next_command(cli: Cli, home: Path) -> None:
    assert cli("ask", "-m", "fake/echo", "one").returncode == 0
    kill_daemons(home)  # SIGKILL: socket and lock file left behind
    result = cli("ask", "-m", "fake/echo", "two")
    assert result.returncode == 0, result.stderr
    assert len(daemon_pids(home)) == 1


def test_daemon_of_another_version_is_restarted(cli: Cli, env: dict[str, str], home: Path) -> None:
    old = (
        "import sys, superllmd\n"
        "superllmd.__version__ = '0.0.1-old'\n"
        "from superllmd.server import main\n"
        "main(['--foreground'])\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", old],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert _wait(lambda: (home / "run" / "superllmd.sock").exists())
        _wait(lambda: cli("daemon", "status").returncode == 0)
        assert json.loads(cli("daemon", "status", "--json").stdout)["version"] == "0.0.1-old"
        refused = cli("ask", "--no-autostart", "-m", "fake/echo", "hi")
        assert refused.returncode == 3
        assert "0.0.1-old" in refused.stderr and "daemon restart" in refused.stderr
        result = cli("ask", "-m", "fake/echo", "hi")
        assert result.returncode == 0, result.stderr
        assert result.stdout == "echo: hi\n"
        proc.wait(30)  # the old daemon was stopped
        status = json.loads(cli("daemon", "status", "--json").stdout)
        assert status["version"] != "0.0.1-old"
    finally:
        proc.kill()


def test_sigterm_lets_inflight_request_finish(
    env: dict[str, str], home: Path, cli: Cli, fake_openai: object
) -> None:
    assert cli("daemon", "start").returncode == 0
    [pid] = daemon_pids(home)
    setattr(fake_openai, "delay", 0.2)  # noqa: B010
    try:
        proc = subprocess.Popen(
            [SUPERLLM, "ask", "-m", "fake/slow", "w1 w2 w3 w4 w5 w6 w7 w8"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        first = proc.stdout.read(5)  # the request is in flight
        os.kill(pid, signal.SIGTERM)
        rest = proc.stdout.read()
        proc.wait(60)
    finally:
        setattr(fake_openai, "delay", 0.05)  # noqa: B010
    assert proc.returncode == 0
    assert (first + rest).decode() == "echo: w1 w2 w3 w4 w5 w6 w7 w8\n"
    assert _wait(lambda: pid not in daemon_pids(home))
    assert not (home / "run" / "superllmd.sock").exists()


def test_idle_timeout_stops_daemon(cli: Cli, home: Path) -> None:
    result = cli("daemon", "start", extra_env={"SUPERLLM_DAEMON__IDLE_TIMEOUT": "1s"})
    assert result.returncode == 0, result.stderr
    assert daemon_pids(home)
    assert _wait(lambda: not daemon_pids(home), timeout=20)
    assert "idle for" in (home / "state" / "superllmd.log").read_text()


def test_cron_and_login_environments_reach_one_daemon(tmp_path: Path) -> None:
    """No SUPERLLM_HOME: a bare cron-like environment and a rich login-like one must find
    the same socket, so the same daemon."""
    user_home = tmp_path / "user"
    user_home.mkdir()
    bin_dir = str(Path(SUPERLLM).parent)
    cron = {
        "HOME": str(user_home),
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    login = {
        **base_env(user_home),
        "HOME": str(user_home),
        "XDG_RUNTIME_DIR": str(tmp_path / "xdg-run"),
        "DISPLAY": ":0",
        "TERM": "xterm",
    }
    login.pop("SUPERLLM_HOME")
    try:
        first = subprocess.run(
            [
                "env",
                "-i",
                *(f"{k}={v}" for k, v in cron.items()),
                SUPERLLM,
                "daemon",
                "status",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if first.returncode == 0:  # a daemon of this user is already there: leave it be
            pytest.skip("a real superllmd already runs for this user")
        started = subprocess.run(
            ["env", "-i", *(f"{k}={v}" for k, v in cron.items()), SUPERLLM, "daemon", "start"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert started.returncode == 0, started.stderr
        from_cron = json.loads(
            subprocess.run(
                [
                    "env",
                    "-i",
                    *(f"{k}={v}" for k, v in cron.items()),
                    SUPERLLM,
                    "daemon",
                    "status",
                    "--json",
                ],
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
        )
        from_login = json.loads(
            subprocess.run(
                [SUPERLLM, "daemon", "status", "--json"],
                env=login,
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
        )
        assert from_cron["pid"] == from_login["pid"]
    finally:
        subprocess.run(
            ["env", "-i", *(f"{k}={v}" for k, v in cron.items()), SUPERLLM, "daemon", "stop"],
            capture_output=True,
            timeout=60,
        )


def test_daemon_that_cannot_start_exits_3_with_its_log(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    # A broken installation: the daemon's web server cannot be imported.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "uvicorn.py").write_text("raise RuntimeError('uvicorn is broken here')\n")
    result = cli("ask", "-m", "fake/echo", "hi", extra_env={"PYTHONPATH": str(broken)})
    assert result.returncode == 3
    assert "failed to start" in result.stderr
    assert "uvicorn is broken here" in result.stderr  # the last lines of its log
    assert "superllmd.log" in result.stderr
    assert daemon_pids(home) == []
