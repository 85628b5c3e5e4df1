"""A team gateway's speed: 1, 2 and 3 instances on one PostgreSQL ledger, beside one on SQLite.

    python3 bench/team.py [--requests 2000] [--out bench/results/team-DATE.txt]

Everything runs on this machine: an instant OpenAI-shaped upstream (bench/gateway.py's), a
private PostgreSQL server (tests/pg.py: initdb in a temporary folder), and N real
``superllmd`` processes with ``[daemon] listen``, each with its own SUPERLLM_HOME and the same
``[ledger] url``. The load generator plays the load balancer: it sends request i to instance
i mod N. Every call carries a token with a daily budget, rpm and tpm, under a global daily
budget and priced models, so the shared estimate-reserve-settle, the shared rate windows and
the ledger rows are all on the path. For c = 32 and 256 it prints req/s, p50, p99 and
errors, with the ratio to the single SQLite instance measured in the same run, and the
ledger's raw write rate (units committed per second through each backend's writer).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from gateway import free_port, serve_upstream

from tests.pg import PgServer, find_bin

SUPERLLM = shutil.which("superllm") or "superllm"


def start_instance(
    home: Path, upstream: str, port: int, url: str | None
) -> subprocess.Popen[bytes]:
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    ledger = f'[ledger]\nurl = "{url}"\n' if url else ""
    config.write_text(
        f'[daemon]\nlisten = "127.0.0.1:{port}"\n[budgets]\ndaily_usd = 100000.0\n'
        f'[providers.up]\nkind = "openai-compatible"\nbase_url = "{upstream}/v1"\n'
        'models = ["c1"]\n[prices."up/c1"]\ninput = 0.1\noutput = 0.1\n' + ledger
    )
    return subprocess.Popen(
        [sys.executable, "-m", "superllmd", "--foreground"],
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERLLM_")}
    return env | {"SUPERLLM_HOME": str(home), "UP_API_KEY": "x"}


def make_token(home: Path) -> str:
    made = subprocess.run(
        [SUPERLLM, "serve", "token", "create", "bench", "--budget-daily", "100000",
         "--rpm", "100000000", "--tpm", "1000000000"],
        env=_env(home), capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return made.stdout.strip()


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("an instance exited at start") from None
            time.sleep(0.05)
    raise SystemExit("an instance did not open its port")


async def drive(urls: list[str], token: str, total: int, concurrency: int) -> dict[str, float]:
    body = b'{"model": "up/c1", "messages": [{"role": "user", "content": "hi"}]}'
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    latencies: list[float] = []
    errors = 0
    sent = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker() -> None:
            nonlocal sent, errors
            while sent < total:
                url = urls[sent % len(urls)] + "/v1/chat/completions"
                sent += 1
                start = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as r:
                        await r.read()
                        if r.status != 200:
                            errors += 1
                            continue
                except aiohttp.ClientError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(int(q * len(latencies)), len(latencies) - 1)] * 1000

    return {"rps": len(latencies) / wall, "p50": pct(0.5), "p99": pct(0.99), "errors": errors}


def write_rate(backend: str, url: str | None, units: int = 20000) -> float:
    """Units per second through the ledger's writer: ``units`` settled-call upserts queued
    at once, timed until the barrier returns."""
    from superllmd.ledger.db import Ledger
    from superllmd.ledger.pg import PgLedger

    sql = (
        "INSERT INTO calls (id, time, ended, run_id, mode, provider, model, input_tokens, "
        "output_tokens, cost_usd, status) VALUES (?, ?, ?, 'r', 'ask', 'up', 'c1', 5, 5, 1e-6, "
        "'ok') ON CONFLICT (id) DO UPDATE SET status = excluded.status"
    )

    async def run() -> float:
        folder = Path(tempfile.mkdtemp(prefix="slb"))
        ledger = PgLedger.open(url) if url else Ledger.open(folder / "ledger.sqlite3")
        ledger.write(sql, (f"{backend}-warm", time.time(), time.time()))
        await ledger.barrier()
        began = time.perf_counter()
        now = time.time()
        for i in range(units):
            ledger.write(sql, (f"{backend}-{i}", now, now))
        await ledger.barrier()
        rate = units / (time.perf_counter() - began)
        await ledger.aclose()
        shutil.rmtree(folder, ignore_errors=True)
        return rate

    return asyncio.run(run())


def run_setup(
    name: str, count: int, upstream: str, url: str | None, args: Any
) -> dict[int, dict[str, float]]:
    homes = [Path(tempfile.mkdtemp(prefix="slb", dir="/tmp")) for _ in range(count)]
    ports = [free_port() for _ in range(count)]
    procs = [start_instance(h, upstream, p, url) for h, p in zip(homes, ports, strict=True)]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_port(port, proc)
        token = make_token(homes[0])
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        asyncio.run(drive(urls, token, 200, 16))  # warm pools and caches
        out = {}
        for concurrency in (32, 256):
            out[concurrency] = asyncio.run(drive(urls, token, args.requests, concurrency))
            print(f"  {name} c={concurrency}: {out[concurrency]}", file=sys.stderr)
        return out
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for home in homes:
            shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per cell")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    bin_dir = find_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    upstream_port = free_port()
    upstream = multiprocessing.Process(target=serve_upstream, args=(upstream_port,), daemon=True)
    upstream.start()
    server = PgServer(bin_dir).start()
    try:
        up = f"http://127.0.0.1:{upstream_port}"
        time.sleep(0.5)
        results = {"sqlite x1": run_setup("sqlite x1", 1, up, None, args)}
        for n in (1, 2, 3):
            results[f"postgres x{n}"] = run_setup(f"postgres x{n}", n, up, server.database(), args)
        rates = {
            "sqlite": write_rate("sqlite", None),
            "postgres": write_rate("pg", server.database()),
        }
    finally:
        server.close()
        upstream.terminate()
    table = render(results, rates, args)
    print(table)
    if args.out:
        args.out.write_text(table)


def render(
    results: dict[str, dict[int, dict[str, float]]], rates: dict[str, float], args: Any
) -> str:
    base = results["sqlite x1"]
    lines = [
        f"bench/team.py, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores "
        f"(load generator, upstream, PostgreSQL and every instance on the same machine), "
        f"{args.requests} non-stream chat completions per cell, load average "
        f"{os.getloadavg()[0]:.1f}",
        "",
        f"{'setup':<13} {'c':>4} {'req/s':>8} {'x sqlite':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6}",
    ]
    for name, cells in results.items():
        for c, r in cells.items():
            lines.append(
                f"{name:<13} {c:>4} {r['rps']:>8.0f} {r['rps'] / base[c]['rps']:>9.2f} "
                f"{r['p50']:>8.1f} {r['p99']:>8.1f} {int(r['errors']):>6}"
            )
    lines += [
        "",
        "ledger writer, 20000 settled-call upserts queued at once:",
        *(f"  {k:<9} {v:>8.0f} units/s" for k, v in rates.items()),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
