"""Upstream client speed: httpx's default pool vs HTTP/2 vs the aiohttp transport.

    python3 bench/upstream.py [--requests 2000]

A local OpenAI-shaped server (hypercorn, in its own process so it does not share our GIL)
answers chat completions instantly, streamed and not. For each client and concurrency level
(1, 32, 256) the bench prints requests per second and p50/p99 latency, with ratios against
httpx's default in the same run. Needs the bench extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

COMPLETION = json.dumps(
    {
        "id": "chatcmpl-b",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
).encode()


async def app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Any]],
    send: Callable[[Any], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": COMPLETION})


def serve(port: int) -> None:
    from hypercorn.asyncio import serve as hyper_serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.backlog = 1024
    asyncio.run(hyper_serve(app, config))  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clients() -> dict[str, Callable[[], httpx.AsyncClient]]:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    made: dict[str, Callable[[], httpx.AsyncClient]] = {
        "httpx default": lambda: httpx.AsyncClient(limits=limits, timeout=60),
        "httpx http2": lambda: httpx.AsyncClient(
            limits=limits, timeout=60, http1=False, http2=True
        ),
    }
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:
        print("(httpx-aiohttp not installed: pip install -e '.[bench]')", file=sys.stderr)
    else:
        made["httpx + aiohttp"] = lambda: httpx.AsyncClient(
            transport=AiohttpTransport(), timeout=60
        )
    return made


async def measure(
    make: Callable[[], httpx.AsyncClient], url: str, concurrency: int, total: int
) -> tuple[float, float, float, int]:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    latencies: list[float] = []
    errors = 0
    async with make() as client:
        await client.post(url, json=body)  # warm the pool
        queue = iter(range(total))

        async def worker() -> None:
            nonlocal errors
            for _ in queue:
                start = time.perf_counter()
                try:
                    response = await client.post(url, json=body)
                    response.raise_for_status()
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort() if latencies else latencies.append(float("nan"))
    p99 = latencies[min(int(len(latencies) * 0.99), len(latencies) - 1)]
    ok = total - errors
    return ok / elapsed, statistics.median(latencies) * 1000, p99 * 1000, errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    port = free_port()
    server = multiprocessing.Process(target=serve, args=(port,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(url.replace("/v1/chat/completions", "/"))
            break
        except httpx.TransportError:
            time.sleep(0.05)
    rows = []
    try:
        for concurrency in (1, 32, 256):
            total = min(args.requests, 300) if concurrency == 1 else args.requests
            base = None
            for name, make in clients().items():
                rps, p50, p99, errors = asyncio.run(measure(make, url, concurrency, total))
                base = base or rps
                rows.append((concurrency, name, rps, p50, p99, rps / base, errors))
    finally:
        server.terminate()
    print(
        f"{'conc':>5} {'client':18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>9} {'x default':>9}"
        f" {'errors':>6}"
    )
    for concurrency, name, rps, p50, p99, ratio, errors in rows:
        print(
            f"{concurrency:5d} {name:18} {rps:9.0f} {p50:8.2f} {p99:9.2f} {ratio:9.2f} {errors:6d}"
        )


if __name__ == "__main__":
    main()
