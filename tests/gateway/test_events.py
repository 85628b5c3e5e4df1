"""GET /v1/events: every run's events over a WebSocket on the TCP door, by token."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from superllmd.gateway.bus import QUEUE, EventBus
from tests.e2e.conftest import Cli
from tests.gateway.test_door import _token, door  # noqa: F401  (the fixture)


def _collect(url: str, secret: str, into: list[dict[str, Any]], ready: threading.Event) -> None:
    with connect(url, additional_headers={"authorization": f"Bearer {secret}"}) as ws:
        ready.set()
        while True:
            event = json.loads(ws.recv(timeout=30))
            into.append(event)
            if event["type"] == "run.finished" and len(
                [e for e in into if e["type"] == "run.finished"]
            ) >= (2 if "token=" not in url else 1):
                return


def test_dashboards_see_every_run_with_its_token_and_cost(door: str, cli: Cli) -> None:  # noqa: F811
    secret = _token(cli, "dash")
    ws_url = door.replace("http://", "ws://") + "/v1/events"
    mine: list[dict[str, Any]] = []
    every: list[dict[str, Any]] = []
    ready = [threading.Event(), threading.Event()]
    readers = [
        threading.Thread(target=_collect, args=(ws_url + "?token=dash", secret, mine, ready[0])),
        threading.Thread(target=_collect, args=(ws_url, secret, every, ready[1])),
    ]
    for reader in readers:
        reader.start()
    assert all(r.wait(30) for r in ready)
    asked = httpx.post(
        f"{door}/superllm/v1/ask",
        headers={"authorization": f"Bearer {secret}"},
        json={"prompt": "watched"},
        timeout=60,
    )
    assert asked.status_code == 200
    assert cli("ask", "from the socket").returncode == 0
    for reader in readers:
        reader.join(60)
    finished = [e for e in mine if e["type"] == "run.finished"]
    assert [e["token"] for e in finished] == ["dash"]
    assert "cost_usd" in finished[0]["result"]
    assert {e["token"] for e in every if e["type"] == "run.finished"} == {"dash", None}
    assert all(e["token"] == "dash" for e in mine)


def test_the_event_stream_needs_a_token(door: str) -> None:  # noqa: F811
    with pytest.raises(InvalidStatus), connect(door.replace("http://", "ws://") + "/v1/events"):
        pass


def test_a_slow_subscriber_is_dropped_and_never_blocks_publishing() -> None:
    async def go() -> None:
        bus = EventBus()
        slow = bus.subscribe()
        quick = bus.subscribe("t")
        for i in range(QUEUE + 10):
            bus.publish({"type": "delta", "n": i, "token": "t"})
            if not quick.queue.empty():
                await quick.next()
        assert slow.dropped and not quick.dropped
        assert (await slow.next()) == {"type": "dropped", "reason": "too slow to keep up"}
        assert (await slow.next()) is None
        bus.publish({"type": "delta", "token": "other"})
        assert quick.queue.empty()  # another token's event is not for this subscriber

    asyncio.run(go())


def test_gateway_calls_and_virtual_models_reach_dashboards(door: str, cli: Cli) -> None:  # noqa: F811
    secret = _token(cli, "vendor")
    seen: list[dict[str, Any]] = []
    ready = threading.Event()

    def collect() -> None:
        url = door.replace("http://", "ws://") + "/v1/events?token=vendor"
        with connect(url, additional_headers={"authorization": f"Bearer {secret}"}) as ws:
            ready.set()
            while sum(e["type"] == "run.finished" for e in seen) < 2:
                seen.append(json.loads(ws.recv(timeout=30)))

    reader = threading.Thread(target=collect)
    reader.start()
    assert ready.wait(30)
    auth = {"authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=door, headers=auth, timeout=60) as http:
        chat = {"model": "fake/echo", "messages": [{"role": "user", "content": "via openai"}]}
        assert http.post("/v1/chat/completions", json=chat).status_code == 200
        message = {
            "model": "consensus:fake/echo,fake/gpt-fake",
            "max_tokens": 32,
            "messages": [{"role": "user", "content": "via anthropic"}],
        }
        assert http.post("/v1/messages", json=message).status_code == 200
    reader.join(60)
    finished = [e for e in seen if e["type"] == "run.finished"]
    assert [e["result"]["mode"] for e in finished] == ["ask", "consensus"]
    assert all(e["token"] == "vendor" for e in seen)
    assert all("cost_usd" in e["result"] for e in finished)
    started = [e for e in seen if e["type"] == "run.started"]
    assert len(started) == 2 and any(e["type"] == "message" for e in seen)
