"""The ledger's cost: throughput at 32 concurrent requests, and memory over 10,000 requests.

    python3 bench/ledger.py [--requests 10000] [--concurrency 32]

Starts an instant fake OpenAI server in its own process, then for each configuration -- the
real daemon, and a baseline daemon started without a ledger -- a daemon under a fresh
SUPERLLM_HOME. 32 client threads stream ``/v1/ask`` through the socket (as the CLI does)
until the requests are done. Printed per configuration: requests per second, p50/p99
latency, ledger rows written per second, the daemon's resident memory after warm-up and
after all requests; then ratios against the baseline. Target: memory flat within 20 MiB.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WARMUP = 500
TARGET_GROWTH_MIB = 20.0


def _fake(conn: Connection) -> None:
    from tests.fakes.openai import FakeOpenAI

    fake = FakeOpenAI(delay=0.0).start()
    conn.send(fake.base_url)
    conn.recv()  # until told to stop
    fake.stop()


def _serve(home: str, ledger: bool) -> None:
    """The daemon's role (run as a child of this file): the baseline opens no ledger."""
    from superllmd import server, state
    from superllmd.paths import get_paths

    if not ledger:
        create = state.DaemonState.create.__func__  # type: ignore[attr-defined]

        def without_ledger(cls: Any, paths: Any, **kw: Any) -> Any:
            return create(cls, paths, open_ledger=False, **kw)

        state.DaemonState.create = classmethod(without_ledger)  # type: ignore[method-assign,assignment]
    os.environ["SUPERLLM_HOME"] = home
    paths = get_paths()
    server._setup_logging(paths, foreground=False)
    sys.exit(server.Daemon(paths).run())


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _drive(env: dict[str, str], total: int, concurrency: int) -> tuple[float, list[float]]:
    """Stream ``total`` asks from ``concurrency`` threads; seconds taken and latencies."""
    from superllm_cli.client import Client

    client = Client(environ=env, autostart=False)
    latencies: list[float] = []
    lock = threading.Lock()
    left = [total]
    errors: list[str] = []

    def worker(n: int) -> None:
        i = 0
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            i += 1
            body = {"prompt": f"question {n} {i}", "model": "fake/echo", "env": {}}
            started = time.perf_counter()
            try:
                for _ in client.events("POST", "/v1/ask", body):
                    pass
            except Exception as exc:
                errors.append(repr(exc))
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, e.g. {errors[0]}")
    return time.perf_counter() - started, latencies


def _rows(home: Path) -> int:
    path = home / "data" / "ledger.sqlite3"
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        tables = ("calls", "runs", "messages", "conversations")
        return sum(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables)
    finally:
        conn.close()


def measure(base_url: str, *, ledger: bool, requests: int, concurrency: int) -> dict[str, float]:
    from superllm_cli.client import Client

    home = Path(tempfile.mkdtemp(prefix="slb", dir="/tmp"))
    (home / "config").mkdir()
    (home / "config" / "config.toml").write_text(
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{base_url}"\n'
    )
    env = {**os.environ, "SUPERLLM_HOME": str(home)}
    env = {k: v for k, v in env.items() if not k.endswith("_API_KEY")}
    daemon = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(home), "--ledger" if ledger else "--no-ledger"],
        env=env,
    )
    try:
        client = Client(environ=env, autostart=False)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.health()
                break
            except Exception:
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise SystemExit("the daemon did not start") from None
                time.sleep(0.05)
        _drive(env, WARMUP, concurrency)
        rss_before = _rss_mib(daemon.pid)
        rows_before = _rows(home)
        elapsed, latencies = _drive(env, requests, concurrency)
        rows = _rows(home) - rows_before
        rss_after = _rss_mib(daemon.pid)
        latencies.sort()
        return {
            "rps": requests / elapsed,
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "rows_per_s": rows / elapsed,
            "rss_before": rss_before,
            "rss_after": rss_after,
        }
    finally:
        daemon.terminate()
        daemon.wait(30)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--ledger", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-ledger", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, ledger=not args.no_ledger)
        return
    parent, child = multiprocessing.Pipe()
    fake = multiprocessing.Process(target=_fake, args=(child,), daemon=True)
    fake.start()
    base_url = parent.recv()
    try:
        results = {}
        for name, ledger in (("no ledger", False), ("ledger", True)):
            print(f"{name}: {args.requests} requests at concurrency {args.concurrency}...")
            results[name] = measure(
                base_url, ledger=ledger, requests=args.requests, concurrency=args.concurrency
            )
    finally:
        parent.send("stop")
        fake.join(10)
    base, led = results["no ledger"], results["ledger"]
    print(
        f"\n{'':12}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'rows/s':>10}"
        f"{'RSS MiB':>18}{'growth':>10}"
    )
    for name, r in results.items():
        growth = r["rss_after"] - r["rss_before"]
        print(
            f"{name:12}{r['rps']:10.0f}{r['p50_ms']:10.1f}{r['p99_ms']:10.1f}"
            f"{r['rows_per_s']:10.0f}{r['rss_before']:8.1f} -> {r['rss_after']:6.1f}"
            f"{growth:+10.1f}"
        )
    print(
        f"\nledger / no ledger: throughput x{led['rps'] / base['rps']:.2f}, "
        f"p50 x{led['p50_ms'] / base['p50_ms']:.2f}, p99 x{led['p99_ms'] / base['p99_ms']:.2f}, "
        f"memory after x{led['rss_after'] / base['rss_after']:.2f}"
    )
    growth = led["rss_after"] - led["rss_before"]
    verdict = "ok" if growth <= TARGET_GROWTH_MIB else "OVER TARGET"
    print(
        f"ledger memory growth over {args.requests} requests: {growth:+.1f} MiB "
        f"(target within {TARGET_GROWTH_MIB:.0f} MiB): {verdict}"
    )


if __name__ == "__main__":
    main()
