"""The README's configuration examples, run as written against the fake OpenAI server
(only the base URL is pointed at the fake)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.e2e.conftest import Cli, write_config
from tests.fakes.openai import FakeOpenAI

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
LAB_URL = "http://127.0.0.1:8000/v1"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def test_the_env_example_names_its_kind_and_runs(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    (block,) = [b for b in _blocks("sh") if "SUPERLLM_PROVIDERS__MYLAB__" in b]
    assert "SUPERLLM_PROVIDERS__MYLAB__KIND=" in block
    command = block.replace(LAB_URL, fake_openai.base_url)
    done = subprocess.run(
        ["sh", "-c", command], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "echo: hi\n"


def test_the_config_example_runs(cli: Cli, home: Path, fake_openai: FakeOpenAI) -> None:
    (block,) = [b for b in _blocks("toml") if "[providers.mylab]" in b]
    write_config(home, block.replace(LAB_URL, fake_openai.base_url))
    result = cli("ask", "-m", "mylab/qwen3-8b", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: hi\n"
