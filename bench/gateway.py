"""Gateway speed: superllm's TCP door against a bare aiohttp pass-through, one run.

    python3 bench/gateway.py [--requests 2000] [--soak 20000]

Three processes besides this load generator (aiohttp client):

- ``upstream``: an instant OpenAI-shaped server (aiohttp): a chat completion at once, or a
  stream of 1 or 200 chunks (model ``c1`` / ``c200``);
- ``passthrough``: the yardstick, a bare aiohttp proxy that forwards each request to the
  upstream and streams the answer back, nothing else;
- ``superllm``: a real ``superllmd`` with ``[daemon] listen``, the ledger on, a token with
  rpm/tpm/daily budget, a global daily budget and prices, so the token check, the budget's
  estimate-reserve-settle and the ledger rows are all on the path.

The route benched is the gateway's OpenAI-compatible ``/v1/chat/completions`` when that module
exists, else the native ``/superllm/v1/ask`` over TCP (the table header says which). For each
of c = 1, 32, 256, stream and non-stream, and 200-chunk streams: req/s, p50, p99, time to first
chunk (streams), errors; CPU per streamed chunk of each server process; the daemon's RSS
after the cells (its warm-up) and after ``--soak`` more requests. Goals and reference figures
are in issue 11.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the instant upstream -------------------------------------------------------------------


def _completion(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-b",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "ok"},
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
    ).encode()


def _chunks(model: str, n: int) -> list[bytes]:
    def event(delta: dict[str, Any], finish: str | None, usage: Any = None) -> bytes:
        body: dict[str, Any] = {
            "id": "chatcmpl-b",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage is not None:
            body["usage"] = usage
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    out = [event({"role": "assistant", "content": ""}, None)]
    out += [event({"content": "ok "}, None) for _ in range(n)]
    out.append(event({}, "stop"))
    usage = {"prompt_tokens": 3, "completion_tokens": n, "total_tokens": 3 + n}
    last = {"id": "chatcmpl-b", "object": "chat.completion.chunk", "created": 1}
    out.append(
        b"data: "
        + json.dumps({**last, "model": model, "choices": [], "usage": usage}).encode()
        + b"\n\n"
    )
    out.append(b"data: [DONE]\n\n")
    return out


def serve_upstream(port: int) -> None:
    cache: dict[tuple[str, int], list[bytes]] = {}

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = str(body.get("model", "c1"))
        if not body.get("stream"):
            return web.Response(body=_completion(model), content_type="application/json")
        n = int(model[1:]) if model[1:].isdigit() else 1
        chunks = cache.setdefault((model, n), _chunks(model, n))
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- the yardstick: a bare pass-through -----------------------------------------------------


def serve_passthrough(port: int, upstream: str) -> None:
    async def forward(request: web.Request) -> web.StreamResponse:
        session: aiohttp.ClientSession = request.app["session"]
        body = await request.read()
        async with session.post(
            upstream + "/v1/chat/completions",
            data=body,
            headers={"content-type": "application/json"},
        ) as up:
            response = web.StreamResponse(
                status=up.status, headers={"content-type": up.headers["content-type"]}
            )
            await response.prepare(request)
            async for chunk in up.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def startup(app: web.Application) -> None:
        app["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def cleanup(app: web.Application) -> None:
        await app["session"].close()

    app = web.Application()
    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    app.router.add_post("/v1/chat/completions", forward)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- superllm -------------------------------------------------------------------------------


def start_superllm(home: Path, upstream: str, port: int) -> tuple[subprocess.Popen[bytes], str]:
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'default_model = "up/c1"\n[daemon]\nlisten = "127.0.0.1:{port}"\nlog_prompts = true\n'
        "[budgets]\ndaily_usd = 100000.0\n"
        f'[providers.up]\nkind = "openai-compatible"\nbase_url = "{upstream}/v1"\n'
        'models = ["c1", "c200"]\n'
        '[prices."up/c1"]\ninput = 0.1\noutput = 0.1\n'
        '[prices."up/c200"]\ninput = 0.1\noutput = 0.1\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERLLM_")}
    env |= {"SUPERLLM_HOME": str(home), "UP_API_KEY": "x", "OPENAI_API_KEY": "x"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "superllmd", "--foreground"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # The token is made over the daemon's socket: wait for it, or the CLI would autostart a
    # second daemon, and the one measured (this pid) could be the one that gave way.
    sock = home / "run" / "superllmd.sock"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(sock))
            break
        except OSError:
            time.sleep(0.05)
    made = subprocess.run(
        [
            shutil.which("superllm") or "superllm",
            "serve",
            "token",
            "create",
            "bench",
            "--budget-daily",
            "100000",
            "--rpm",
            "100000000",
            "--tpm",
            "1000000000",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc, made.stdout.strip()


def superllm_route() -> str:
    try:
        import superllmd.gateway.openai  # noqa: F401
    except ModuleNotFoundError:
        return "native"
    return "openai"


# -- the load generator ---------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Target:
    def __init__(self, name: str, url: str, kind: str, token: str | None = None) -> None:
        self.name, self.url, self.kind = name, url, kind
        self.headers = {"authorization": f"Bearer {token}"} if token else {}

    def request(self, model: str, stream: bool) -> tuple[str, dict[str, Any], dict[str, str]]:
        if self.kind == "native":
            headers = {**self.headers}
            if stream:
                headers["accept"] = "application/x-ndjson"
            body = {"prompt": "hi", "model": f"up/{model}", "stream": stream}
            return self.url + "/superllm/v1/ask", body, headers
        prefix = "up/" if self.name == "superllm" else ""
        body = {
            "model": prefix + model,
            "messages": [{"role": "user", "content": "hi"}],
            "stream": stream,
        }
        return self.url + "/v1/chat/completions", body, self.headers


async def drive(
    target: Target, model: str, stream: bool, total: int, concurrency: int
) -> dict[str, float]:
    url, body, headers = target.request(model, stream)
    payload = json.dumps(body).encode()
    headers = {**headers, "content-type": "application/json"}
    latencies: list[float] = []
    firsts: list[float] = []
    errors = 0
    chunks = 0
    left = total
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal left, errors, chunks
            while left > 0:
                left -= 1
                start = time.perf_counter()
                first = None
                try:
                    async with session.post(url, data=payload, headers=headers) as r:
                        async for piece in r.content.iter_any():
                            if first is None:
                                first = time.perf_counter()
                            chunks += piece.count(b"\n")
                        if r.status != 200:
                            errors += 1
                            continue
                except aiohttp.ClientError:
                    errors += 1
                    continue
                end = time.perf_counter()
                latencies.append(end - start)
                if first is not None:
                    firsts.append(first - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    latencies.sort()
    firsts.sort()

    def pct(values: list[float], q: float) -> float:
        return values[min(int(q * len(values)), len(values) - 1)] * 1000 if values else float("nan")

    return {
        "rps": len(latencies) / wall,
        "p50": pct(latencies, 0.5),
        "p99": pct(latencies, 0.99),
        "ttfc": statistics.median(firsts) * 1000 if firsts and stream else float("nan"),
        "errors": errors,
        "lines": chunks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="per cell at c>1")
    parser.add_argument("--soak", type=int, default=20000, help="requests for the RSS check")
    args = parser.parse_args()

    up_port, pass_port, door_port = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    procs = [
        multiprocessing.Process(target=serve_upstream, args=(up_port,), daemon=True),
        multiprocessing.Process(target=serve_passthrough, args=(pass_port, upstream), daemon=True),
    ]
    for p in procs:
        p.start()
    home = Path(tempfile.mkdtemp(prefix="slb", dir="/tmp"))
    daemon, token = None, ""
    try:
        time.sleep(1.0)
        daemon, token = start_superllm(home, upstream, door_port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", door_port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        route = superllm_route()
        targets = {
            "upstream": Target("upstream", upstream, "openai"),
            "passthrough": Target("passthrough", f"http://127.0.0.1:{pass_port}", "openai"),
            "superllm": Target("superllm", f"http://127.0.0.1:{door_port}", route, token),
        }
        pids = {"passthrough": procs[1].pid, "superllm": daemon.pid}
        run_all(targets, pids, route, args)
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(30)
        for p in procs:
            p.terminate()
        shutil.rmtree(home, ignore_errors=True)


def run_all(targets: dict[str, Target], pids: dict[str, Any], route: str, args: Any) -> None:
    what = (
        "/v1/chat/completions (OpenAI-compatible)"
        if route == "openai"
        else "native /superllm/v1/ask over TCP (the OpenAI-compatible route had not landed)"
    )
    print(f"# bench/gateway.py  {time.strftime('%Y-%m-%d %H:%M')}  superllm route: {what}")
    print(
        f"# {os.cpu_count()} cores, load generator on the same machine; token check, "
        "budgets (global + token) and ledger on"
    )
    print("# load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    # Warm every path once (pools, imports, prices, the budget tallies).
    for t in targets.values():
        asyncio.run(drive(t, "c1", False, 50, 4))
        asyncio.run(drive(t, "c200", True, 10, 2))
    rss_start = rss_mib(pids["superllm"])
    print(
        f"{'cell':<22} {'target':<12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'ttfc ms':>8} {'errors':>6}"
    )
    results: dict[tuple[str, str], dict[str, float]] = {}
    cells = [
        (f"c={c} {'stream' if s else 'json'}{' 200ch' if m == 'c200' else ''}", c, s, m)
        for c in (1, 32, 256)
        for s, m in ((False, "c1"), (True, "c1"), (True, "c200"))
    ]
    cpu: dict[str, list[float]] = {"passthrough": [0.0, 0.0], "superllm": [0.0, 0.0]}
    for label, c, stream, model in cells:
        total = max(300, args.requests // (10 if model == "c200" else 1)) if c > 1 else 300
        for name, target in targets.items():
            pid = pids.get(name)
            before = cpu_s(pid) if pid else 0.0
            r = asyncio.run(drive(target, model, stream, total, c))
            results[(label, name)] = r
            if pid and model == "c200":
                cpu[name][0] += cpu_s(pid) - before
                cpu[name][1] += total * 200
            print(
                f"{label:<22} {name:<12} {r['rps']:>9.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} "
                f"{r['ttfc']:>8.2f} {r['errors']:>6.0f}",
                flush=True,
            )
    # The soak: RSS after many more requests, from where the cells left it. The cells are
    # the warm-up: c=256 and 200-chunk streams size the pools, buffers and allocator arenas
    # a steady load needs; what grows past them with more requests is what would leak.
    rss_before = rss_mib(pids["superllm"])
    print(f"# daemon RSS: {rss_start:.0f} MiB after warming up, {rss_before:.0f} after the cells")
    asyncio.run(drive(targets["superllm"], "c1", False, args.soak, 32))
    rss_after = rss_mib(pids["superllm"])
    print("# load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    summary(results, cpu, rss_before, rss_after, args.soak)


def summary(
    results: dict[tuple[str, str], dict[str, float]],
    cpu: dict[str, list[float]],
    rss_before: float,
    rss_after: float,
    soak: int,
) -> None:
    def r(cell: str, name: str) -> dict[str, float]:
        return results[(cell, name)]

    added_p50 = r("c=1 json", "superllm")["p50"] - r("c=1 json", "upstream")["p50"]
    ratio32 = r("c=32 json", "superllm")["rps"] / r("c=32 json", "passthrough")["rps"]
    p99_256 = max(r(c, "superllm")["p99"] for c in ("c=256 json", "c=256 stream"))
    err_256 = sum(
        r(c, "superllm")["errors"] for c in ("c=256 json", "c=256 stream", "c=256 stream 200ch")
    )
    ttfc = r("c=32 stream", "superllm")["ttfc"] - r("c=32 stream", "upstream")["ttfc"]
    per_chunk = {k: (v[0] / v[1] * 1000 if v[1] else float("nan")) for k, v in cpu.items()}
    growth = (rss_after - rss_before) / rss_before * 100 if rss_before else float("nan")
    print()
    print("goal                                          measured                 goal   met")
    rows = [
        (
            "added p50 at c=1 (json, vs upstream)",
            f"{added_p50:.2f} ms",
            "<= 0.5 ms",
            added_p50 <= 0.5,
        ),
        ("req/s at c=32 vs pass-through (json)", f"{ratio32:.0%}", ">= 60%", ratio32 >= 0.6),
        (
            "p99 at c=256, errors",
            f"{p99_256:.1f} ms, {err_256:.0f} err",
            "< 150 ms, 0",
            p99_256 < 150 and err_256 == 0,
        ),
        ("added TTFC at c=32 (vs upstream)", f"{ttfc:.2f} ms", "<= 5 ms", ttfc <= 5),
        (
            "CPU per streamed chunk (superllm)",
            f"{per_chunk['superllm']:.4f} ms",
            "< 0.1 ms",
            per_chunk["superllm"] < 0.1,
        ),
        ("CPU per streamed chunk (pass-through)", f"{per_chunk['passthrough']:.4f} ms", "-", True),
        (
            f"RSS after the cells -> after {soak} more",
            f"{rss_before:.0f} -> {rss_after:.0f} MiB ({growth:+.1f}%)",
            "within 10%",
            abs(growth) <= 10,
        ),
    ]
    for goal, measured, target, met in rows:
        print(f"{goal:<45} {measured:<24} {target:<12} {'yes' if met else 'NO'}")


if __name__ == "__main__":
    main()
