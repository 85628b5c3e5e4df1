"""`superllm keys`: the OS keyring (a file-backed one in a temp folder), masked listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, write_config
from tests.fakes.openai import FakeOpenAI

SECRET = "sk-kr-0123456789abcdefXYZ"


@pytest.fixture
def keyring_env(home: Path) -> dict[str, str]:
    return {
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(home / "keyring"),
    }


def test_set_list_use_remove(
    cli: Cli, home: Path, fake_openai: FakeOpenAI, keyring_env: dict[str, str]
) -> None:
    write_config(
        home,
        f'[providers.fake]\nkind = "openai-compatible"\n'
        f'base_url = "{fake_openai.base_url}"\napi_key_env = "FAKE_KEY"\n',
    )
    stored = cli("keys", "set", "fake", input=SECRET + "\n", extra_env=keyring_env)
    assert stored.returncode == 0, stored.stderr
    assert SECRET not in stored.stdout + stored.stderr

    listed = json.loads(cli("keys", "list", "--json", extra_env=keyring_env).stdout)
    [row] = [r for r in listed if r["provider"] == "fake"]
    assert row["source"] == "keyring"
    assert row["masked"] == "sk-…fXYZ"
    assert SECRET not in json.dumps(listed)

    answer = cli("ask", "-m", "fake/echo", "with a key", extra_env=keyring_env)
    assert answer.returncode == 0, answer.stderr
    sent = [r for r in fake_openai.requests if r.path.endswith("/chat/completions")][-1]
    assert sent.headers["authorization"] == f"Bearer {SECRET}"

    # The keyring comes before the environment variable (DESIGN.md, Providers).
    cli("ask", "-m", "fake/echo", "env too", extra_env={**keyring_env, "FAKE_KEY": "sk-env-other"})
    sent = [r for r in fake_openai.requests if r.path.endswith("/chat/completions")][-1]
    assert sent.headers["authorization"] == f"Bearer {SECRET}"

    removed = cli("keys", "remove", "fake", extra_env=keyring_env)
    assert removed.returncode == 0, removed.stderr
    cli("ask", "-m", "fake/echo", "env now", extra_env={**keyring_env, "FAKE_KEY": "sk-env-other"})
    sent = [r for r in fake_openai.requests if r.path.endswith("/chat/completions")][-1]
    assert sent.headers["authorization"] == "Bearer sk-env-other"  # the daemon forgot it
    again = cli("keys", "remove", "fake", extra_env=keyring_env)
    assert again.returncode == 2 and "no key for fake" in again.stderr


def test_env_key_is_listed_masked(cli: Cli, keyring_env: dict[str, str]) -> None:
    listed = json.loads(
        cli(
            "keys",
            "list",
            "--json",
            extra_env={**keyring_env, "GROQ_API_KEY": "gsk_abcdefghijklmnop"},
        ).stdout
    )
    [row] = [r for r in listed if r["provider"] == "groq"]
    assert row == {"provider": "groq", "source": "$GROQ_API_KEY", "masked": "gsk…mnop"}


def test_set_refuses_empty_and_never_takes_argv(cli: Cli, keyring_env: dict[str, str]) -> None:
    empty = cli("keys", "set", "fake", input="\n", extra_env=keyring_env)
    assert empty.returncode == 2 and "no key given" in empty.stderr
    argv = cli("keys", "set", "fake", "sk-on-the-command-line", extra_env=keyring_env)
    assert argv.returncode == 2  # a key on the command line is a usage error


def test_path_names_the_backend(cli: Cli, home: Path, keyring_env: dict[str, str]) -> None:
    result = cli("keys", "path", extra_env=keyring_env)
    assert result.returncode == 0
    assert "PlaintextKeyring" in result.stdout and str(home / "keyring") in result.stdout


def test_no_keyring_backend_is_a_clear_error(cli: Cli) -> None:
    result = cli(
        "keys",
        "set",
        "fake",
        input="sk-x\n",
        extra_env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    assert result.returncode == 2
    assert "no usable OS keyring" in result.stderr and "Traceback" not in result.stderr


def test_set_refuses_an_unknown_provider(cli: Cli, keyring_env: dict[str, str]) -> None:
    result = cli("keys", "set", "opnai", input=SECRET + "\n", extra_env=keyring_env)
    assert result.returncode == 2
    assert "unknown provider 'opnai'" in result.stderr and "openai" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    listed = json.loads(cli("keys", "list", "--json", "--all", extra_env=keyring_env).stdout)
    assert "opnai" not in {r["provider"] for r in listed}


def test_list_says_so_when_there_is_no_key(cli: Cli, keyring_env: dict[str, str]) -> None:
    result = cli("keys", "list", extra_env=keyring_env)
    assert result.returncode == 0, result.stderr
    assert "no API keys found" in result.stderr and "keys set" in result.stderr
    assert result.stdout == ""
