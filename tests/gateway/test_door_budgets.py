"""Budgets and limits at the real TCP door, seen by the vendors' SDKs: a token's daily
budget and the global one answer 402 in each vendor's shape, every answer carries the
token's ``x-ratelimit-*`` headers (streams, errors and the door's own 429 too), and
``token list`` shows each token's limits and spend."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from superllm_cli.money import usd
from tests.e2e.conftest import Cli, write_config
from tests.fakes.openai import FakeOpenAI

# $1000 per million tokens: a prompt's first token ($0.001) is over a $0.0005 budget.
PRICED = '[prices."fake/gpt-fake"]\ninput = 1000.0\noutput = 1000.0\n'
HI = [{"role": "user", "content": "hi"}]
Door = Callable[[str], str]  # extra config -> the door's URL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def door(home: Path, fake_openai: FakeOpenAI, cli: Cli) -> Iterator[Door]:
    def start(extra: str) -> str:
        port = _free_port()
        write_config(
            home,
            f'[daemon]\nlisten = "127.0.0.1:{port}"\n{extra}\n'
            f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n'
            'models = ["gpt-fake"]\n',
        )
        assert cli("daemon", "start").returncode == 0
        return f"http://127.0.0.1:{port}"

    yield start


def _token(cli: Cli, name: str, *args: str) -> str:
    made = cli("serve", "token", "create", name, *args)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def _clients(url: str, secret: str) -> tuple[openai.OpenAI, anthropic.Anthropic]:
    return (
        openai.OpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0),
        anthropic.Anthropic(base_url=url, api_key=secret, max_retries=0),
    )


def _both_refuse_with_402(url: str, secret: str, why: str) -> None:
    oai, ant = _clients(url, secret)
    with pytest.raises(openai.APIStatusError) as info:
        oai.chat.completions.create(model="fake/gpt-fake", messages=HI)  # type: ignore[arg-type]
    assert info.value.status_code == 402
    body: Any = info.value.body
    assert body["type"] == "insufficient_quota" and body["code"] == "budget_exceeded"
    assert why in body["message"]
    with pytest.raises(openai.APIStatusError) as streamed:  # refused before the stream starts
        list(oai.chat.completions.create(model="fake/gpt-fake", messages=HI, stream=True))  # type: ignore[arg-type]
    assert streamed.value.status_code == 402
    with pytest.raises(anthropic.APIStatusError) as refused:
        ant.messages.create(model="fake/gpt-fake", max_tokens=16, messages=HI)  # type: ignore[arg-type]
    assert refused.value.status_code == 402
    error: Any = refused.value.body
    assert error["type"] == "error" and why in error["error"]["message"]


def test_a_tokens_budget_is_402_and_token_list_shows_limits_and_spend(
    door: Door, cli: Cli, fake_openai: FakeOpenAI
) -> None:
    url = door(PRICED)
    poor = _token(cli, "poor", "--budget-daily", "0.0005", "--rpm", "50", "--tpm", "90000")
    sent = len(fake_openai.chat_requests())
    _both_refuse_with_402(url, poor, "daily budget for token poor")
    assert len(fake_openai.chat_requests()) == sent, "refused before sending"
    rich = _token(cli, "rich", "--models", "fake/*")
    oai, _ = _clients(url, rich)
    oai.chat.completions.create(model="fake/gpt-fake", messages=HI, max_tokens=5)  # type: ignore[arg-type]
    tokens = json.loads(cli("serve", "token", "list", "--json").stdout)["tokens"]
    listed = {t["name"]: t for t in tokens}
    assert (listed["poor"]["budget_daily_usd"], listed["poor"]["rpm"]) == (0.0005, 50)
    assert listed["poor"]["tpm"] == 90000 and listed["poor"]["spent_today_usd"] == 0
    assert listed["rich"]["models"] == ["fake/*"] and listed["rich"]["spent_today_usd"] > 0
    table = cli("serve", "token", "list").stdout
    poor_row = next(line for line in table.splitlines() if line.startswith("poor"))
    assert "$0.0005/day" in poor_row and "50 rpm" in poor_row and "90000 tpm" in poor_row
    rich_row = next(line for line in table.splitlines() if line.startswith("rich"))
    assert "fake/*" in rich_row and "never" not in rich_row  # last used: just now
    assert rich_row.split()[-2:] == [usd(listed["rich"]["spent_today_usd"])] * 2  # TODAY, ALL


def test_the_global_budget_holds_for_every_token(door: Door, cli: Cli) -> None:
    url = door(PRICED + "[budgets]\ndaily_usd = 0.0005\n")
    _both_refuse_with_402(url, _token(cli, "free"), "daily budget")


def test_ratelimit_headers_on_every_answer(door: Door, cli: Cli) -> None:
    url = door("")
    secret = _token(cli, "limited", "--rpm", "5", "--tpm", "100000")
    auth = {"authorization": f"Bearer {secret}"}
    chat = {"model": "fake/gpt-fake", "messages": HI}
    with httpx.Client(base_url=url, headers=auth, timeout=30) as http:
        answers = [
            http.post("/v1/chat/completions", json=chat),
            http.post("/v1/messages", json={**chat, "max_tokens": 16}),
            http.post("/v1/chat/completions", json={**chat, "model": "nosuch/model"}),
        ]
        with http.stream("POST", "/v1/chat/completions", json={**chat, "stream": True}) as s:
            body = s.read()
            answers.append(s)
        assert b"data: [DONE]" in body
        assert [a.status_code for a in answers] == [200, 200, 404, 200]
        remaining = [int(a.headers["x-ratelimit-remaining-requests"]) for a in answers]
        assert remaining == [4, 3, 2, 1]
        for answer in answers:
            assert answer.headers["x-ratelimit-limit-requests"] == "5"
            assert answer.headers["x-ratelimit-limit-tokens"] == "100000"
            assert answer.headers["x-ratelimit-reset-requests"].endswith("s")
            assert int(answer.headers["x-ratelimit-remaining-tokens"]) <= 100000
        assert http.get("/v1/models").status_code == 200
        refused = http.post("/v1/chat/completions", json=chat)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.headers["x-ratelimit-remaining-requests"] == "0"
        assert refused.headers["x-ratelimit-limit-requests"] == "5"
