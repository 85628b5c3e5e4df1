"""The user service: unit files, the launchd agent, and socket activation through LISTEN_FDS."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from superllm_cli.service import LAUNCHD_LABEL, service_files
from superllmd.paths import get_paths
from tests.e2e.conftest import BIN, Cli

SUPERLLMD = str(BIN / "superllmd")


def test_install_service_writes_verified_units_and_uninstall_removes_them(
    cli: Cli, tmp_path: Path, home: Path
) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    done = cli("daemon", "install-service", extra_env=env)
    assert done.returncode == 0, done.stderr
    units = tmp_path / "cfg" / "systemd" / "user"
    service, sock = units / "superllmd.service", units / "superllmd.socket"
    assert service.exists() and sock.exists()
    assert "systemctl --user enable --now superllmd.socket" in done.stdout
    assert f"ListenStream={home}/run/superllmd.sock" in sock.read_text()
    assert f'ExecStart="{SUPERLLMD}" --foreground' in service.read_text()
    assert f'Environment="SUPERLLM_HOME={home}"' in service.read_text()
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here (apt-get install systemd)")
    # --user needs a runtime folder to set up its manager; --man=no because the pages are in
    # man/ rather than installed here. Any complaint fails the test.
    runtime = tmp_path / "xdg-run"
    runtime.mkdir(mode=0o700)
    verified = subprocess.run(
        ["systemd-analyze", "verify", "--user", "--man=no", str(sock), str(service)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env, "XDG_RUNTIME_DIR": str(runtime)},
    )
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr.strip() == "", verified.stderr
    removed = cli("daemon", "uninstall-service", extra_env=env)
    assert removed.returncode == 0
    assert not service.exists() and not sock.exists()
    assert "disable --now" in removed.stdout
    again = cli("daemon", "uninstall-service", extra_env=env)
    assert "no superllm service files" in again.stdout


def test_on_macos_a_launchd_agent_is_generated(short_home: Path) -> None:
    paths = get_paths({"SUPERLLM_HOME": str(short_home)})
    files = service_files(
        "darwin", paths, "/opt/bin/superllmd", {"SUPERLLM_HOME": str(short_home)}, Path("/Users/u")
    )
    (path, text), *rest = files.items()
    assert not rest
    assert path == Path(f"/Users/u/Library/LaunchAgents/{LAUNCHD_LABEL}.plist")
    agent = plistlib.loads(text.encode())
    assert agent["Label"] == LAUNCHD_LABEL
    assert agent["ProgramArguments"] == ["/opt/bin/superllmd", "--foreground"]
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["EnvironmentVariables"] == {"SUPERLLM_HOME": str(short_home)}
    assert agent["StandardErrorPath"] == str(paths.log_file)


def test_no_key_or_other_variable_goes_into_a_unit(short_home: Path) -> None:
    environ = {"SUPERLLM_HOME": str(short_home), "OPENAI_API_KEY": "sk-secret-value"}
    paths = get_paths(environ)
    for platform in ("linux", "darwin"):
        for text in service_files(platform, paths, "/x/superllmd", environ, short_home).values():
            assert "sk-secret-value" not in text and "OPENAI_API_KEY" not in text


def test_the_daemon_serves_a_socket_passed_through_listen_fds(
    cli: Cli, env: dict[str, str], home: Path
) -> None:
    path = home / "run" / "superllmd.sock"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(16)
    inode = path.stat().st_ino
    fd = listener.fileno()
    # As systemd does: the socket on descriptor 3, LISTEN_PID the daemon's own pid.
    program = f'export LISTEN_FDS=1 LISTEN_PID=$$; exec "{SUPERLLMD}" --foreground 3<&{fd} {fd}<&-'
    daemon = subprocess.Popen(
        ["bash", "-c", program],
        env=env,
        pass_fds=(fd,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    listener.close()  # only the daemon holds it now
    try:
        done = cli("ask", "--no-autostart", "-m", "fake/echo", "hello via systemd")
        assert done.returncode == 0, done.stderr + (home / "state" / "superllmd.log").read_text()
        assert "hello via systemd" in done.stdout
        status = cli("daemon", "status", "--json")
        assert json.loads(status.stdout)["pid"] == daemon.pid
        assert path.stat().st_ino == inode  # served, not re-bound
        assert cli("daemon", "stop").returncode == 0
        daemon.wait(timeout=30)
        assert daemon.returncode == 0
        assert path.exists()  # the service manager's socket file is left alone
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        assert daemon.stderr is not None
        daemon.stderr.close()


def test_listen_fds_meant_for_another_process_is_ignored(short_home: Path) -> None:
    from superllmd.server import activated_socket

    environ = {"LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid() + 1)}
    assert activated_socket(environ) is None
    assert environ["LISTEN_FDS"] == "1"  # not ours: left for its owner
