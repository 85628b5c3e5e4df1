"""Bad input from the environment: one line naming what was wrong and what to do, the exit
code of DESIGN.md, never a traceback."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.e2e.conftest import SUPERLLM, base_env

ASK = [SUPERLLM, "ask", "-m", "fake/echo"]


def _run(
    args: list[str], env: dict[str, str], stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        args,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        env=env,
        capture_output=True,
        timeout=120,
    )
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode()
    )


def _one_clear_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("locale", ["C.UTF-8", "C", "en_US.UTF-8"])
def test_invalid_utf8_on_stdin_is_refused(env: dict[str, str], locale: str) -> None:
    result = _run(ASK, {**env, "LC_ALL": locale, "LANG": locale}, stdin=b"caf\xe9 au lait\n")
    assert result.returncode == 2
    _one_clear_line(result, "stdin is not valid UTF-8", "0xe9", "offset 3", "--binary-ok")


def test_random_binary_on_stdin_is_refused_with_a_hint(env: dict[str, str]) -> None:
    data = random.Random(15).randbytes(4096)
    result = _run(ASK, env, stdin=data)
    assert result.returncode == 2
    _one_clear_line(result, "stdin holds binary data (4096 bytes)", "--attach", "--binary-ok")
    for mode in ("consensus", "chain"):
        args = [SUPERLLM, mode, "-m", "fake/echo"]
        if mode == "chain":
            args.append("/nonexistent.toml")
        refused = _run(args, env, stdin=data)
        assert refused.returncode == 2 and "binary data" in refused.stderr, refused.stderr


def test_binary_ok_sends_it_with_bad_bytes_replaced(env: dict[str, str]) -> None:
    result = _run([*ASK, "--binary-ok"], env, stdin=b"abc\x00\xff def")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: abc\ufffd\ufffd def\n"


def test_config_that_is_not_utf8(env: dict[str, str], home: Path) -> None:
    path = home / "config" / "config.toml"
    path.write_bytes(path.read_bytes() + b"# caf\xe9\n")
    result = _run([*ASK, "hi"], env)
    assert result.returncode == 2
    _one_clear_line(result, f"{path} is not UTF-8 text", "line 4", "save it as UTF-8")


def test_config_that_turns_non_utf8_under_a_running_daemon(env: dict[str, str], home: Path) -> None:
    assert _run([SUPERLLM, "daemon", "start"], env).returncode == 0
    path = home / "config" / "config.toml"
    path.write_bytes(path.read_bytes() + b"# caf\xe9\n")
    for args in ([*ASK, "hi"], [SUPERLLM, "models"]):
        result = _run(args, env)
        assert result.returncode == 2, result.stderr
        _one_clear_line(result, f"{path} is not UTF-8 text", "save it as UTF-8")
        assert "500" not in result.stderr


def test_home_that_is_a_file(short_home: Path) -> None:
    file = short_home / "f"
    file.write_text("not a folder")
    result = _run([*ASK, "hi"], base_env(file))
    assert result.returncode == 2
    _one_clear_line(result, f"{file} is a file", "SUPERLLM_HOME")


def test_home_that_cannot_be_written() -> None:
    parent = Path(tempfile.mkdtemp(prefix="slw", dir="/tmp"))
    prefix: list[str] = []
    try:
        parent.chmod(0o555)
        if os.geteuid() == 0:
            # root writes anywhere; without its capabilities, and in a folder it does not
            # own, it is refused like any user.
            if shutil.which("setpriv") is None:
                pytest.skip("setpriv is not installed, so root cannot be made to lack rights")
            os.chown(parent, 65534, -1)
            prefix = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"]
        result = _run([*prefix, *ASK, "hi"], base_env(parent / "h"))
        assert result.returncode == 2
        _one_clear_line(
            result, f"cannot create {parent / 'h'} (permission denied)", "SUPERLLM_HOME"
        )
    finally:
        os.rmdir(parent)


def test_socket_path_that_is_a_folder(env: dict[str, str], home: Path) -> None:
    (home / "run" / "superllmd.sock").mkdir(parents=True)
    result = _run([*ASK, "hi"], env)
    assert result.returncode == 2
    _one_clear_line(result, "superllmd.sock is a folder", "rmdir")


def test_stdout_to_dev_full(env: dict[str, str]) -> None:
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [*ASK, "hello"], stdin=subprocess.DEVNULL, stdout=full, stderr=subprocess.PIPE, env=env
        )
    result = subprocess.CompletedProcess(proc.args, proc.returncode, "", proc.stderr.decode())
    assert result.returncode == 1
    _one_clear_line(result, "cannot write the output to stdout (No space left on device)")


def test_stdout_closed(env: dict[str, str]) -> None:
    result = subprocess.run(
        f"{SUPERLLM} ask -m fake/echo hello >&-",
        shell=True,
        env=env,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    _one_clear_line(result, "cannot write the output to stdout", "stdout is closed")


@pytest.mark.parametrize(("model", "code"), [("nosuchprovider/x", 2), ("fake/error-401", 4)])
def test_stderr_closed_keeps_the_exit_code(env: dict[str, str], model: str, code: int) -> None:
    result = subprocess.run(
        f"{SUPERLLM} ask -m {model} hello 2>&-",
        shell=True,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=False,
        stdout=subprocess.PIPE,
        timeout=120,
    )
    # A usage error (2) or a provider's (4), not the 1 a failed stderr write gave.
    assert result.returncode == code
    assert result.stdout == b""
