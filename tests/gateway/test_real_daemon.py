"""The vendor SDKs against the real daemon's TCP door (``[daemon] listen``), with a token made
by ``superllm serve token create``: every gateway call lands in the ledger under the token."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from tests.e2e.conftest import Cli, write_config
from tests.fakes.openai import FakeOpenAI


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def door(home: Path, fake_openai: FakeOpenAI, cli: Cli) -> Iterator[tuple[str, str]]:
    port = _free_port()
    write_config(
        home,
        f'[daemon]\nlisten = "127.0.0.1:{port}"\n'
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n'
        'models = ["gpt-fake"]\n',
    )
    assert cli("daemon", "start").returncode == 0
    made = cli("serve", "token", "create", "sdk", "--models", "fake/*")
    assert made.returncode == 0, made.stderr
    yield f"http://127.0.0.1:{port}", made.stdout.strip()


def test_sdks_through_the_real_door(door: tuple[str, str], cli: Cli) -> None:
    url, secret = door
    oai = openai.OpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0)
    reply = oai.chat.completions.create(
        model="fake/gpt-fake", messages=[{"role": "user", "content": "over tcp"}]
    )
    assert reply.choices[0].message.content == "echo: over tcp"
    chunks = list(
        oai.chat.completions.create(
            model="fake/gpt-fake",
            messages=[{"role": "user", "content": "streamed"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "echo: streamed"
    )
    ant = anthropic.Anthropic(base_url=url, api_key=secret, max_retries=0)
    message = ant.messages.create(
        model="fake/gpt-fake", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].type == "text" and message.content[0].text == "echo: hi"
    # The token's model patterns hold on the gateway routes too.
    with pytest.raises(openai.PermissionDeniedError):
        oai.chat.completions.create(
            model="openai/gpt-4.1", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{url}/v1", api_key="sl-wrong", max_retries=0).models.list()
    usage = json.loads(cli("usage", "--by", "token", "--json").stdout)
    assert [(r["token"], r["calls"]) for r in usage["rows"]] == [("sdk", 3)]
