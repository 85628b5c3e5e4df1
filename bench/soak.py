"""Soak and fault matrix: a real daemon under mixed load against flapping fake providers.

    nice -n 10 python3 bench/soak.py [--duration 30m] [--workers 6] [--every 60]

Bounded (it stops after --duration and cleans up) and loopback only: two OpenAI-dialect fakes
on 127.0.0.1 -- ``steady`` always answers, ``flap`` cycles through 200, 429 storms (with
retry-after and x-ratelimit headers), 5xx, stalls and mid-stream disconnects -- and a daemon
in a temporary SUPERLLM_HOME. Workers send streamed asks, fallback-chain asks, consensus and
debate runs, streams cancelled after their first delta, and ``superllm ask`` processes
killed after their first output. Every --every seconds it prints the daemon's RSS, open fds,
asyncio tasks and threads, what was asked, requests the fakes served, the ledger's rows, and
each provider's circuit. At the end: RSS and fds after warm-up (the first report) against
the last, and ledger rows against requests the fakes served (they must be equal: every
request that reached a provider is a ledger row; no client is cut off before its request
was sent).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PHASES = ("ok", "429", "ok", "5xx", "ok", "stall", "ok", "disconnect")


@dataclass
class Fake:
    """An OpenAI chat-completions server on loopback; ``flapping`` cycles through PHASES."""

    flapping: bool
    phase_s: float = 20.0
    received: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    port: int = 0
    _started: float = field(default_factory=time.monotonic)
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.base_events.Server | None = None

    def phase(self) -> str:
        if not self.flapping:
            return "ok"
        return PHASES[int((time.monotonic() - self._started) / self.phase_s) % len(PHASES)]

    def start(self) -> Fake:
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line:
            return False
        headers: dict[str, str] = {}
        while (h := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = h.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        if b"/chat/completions" not in line:
            await _send(writer, 404, {"error": {"message": "no such route"}})
            return True
        self.received += 1
        phase = self.phase()
        self.by_outcome[phase] = self.by_outcome.get(phase, 0) + 1
        request = json.loads(body or b"{}")
        if phase == "429":
            await _send(
                writer,
                429,
                {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}},
                {"retry-after": "1", "x-ratelimit-remaining-requests": "0"},
            )
        elif phase == "5xx":
            await _send(writer, random.choice((500, 503)), {"error": {"message": "overloaded"}})
        elif phase == "stall":
            await _stream_head(writer)
            await _chunk(writer, "stalling ")
            # Silent until the daemon gives up (its provider timeout) and hangs up.
            await asyncio.wait_for(reader.read(), 60)
            return False
        elif phase == "disconnect":
            await _stream_head(writer)
            await _chunk(writer, "cut ")
            writer.transport.abort()
            return False
        elif request.get("stream"):
            await _stream_head(writer)
            for word in ("the ", "answer ", "is ", "42"):
                await _chunk(writer, word)
                await asyncio.sleep(0.05)
            usage = {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
            await _event(writer, {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            await _event(writer, {"choices": [], "usage": usage})
            done = b"data: [DONE]\n\n"
            writer.write(f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n")
            await writer.drain()
        else:
            await asyncio.sleep(0.05)
            await _send(
                writer,
                200,
                {
                    "id": "c",
                    "object": "chat.completion",
                    "model": request.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "42"},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
                },
            )
        return True


async def _send(
    writer: asyncio.StreamWriter, status: int, body: Any, extra: dict[str, str] | None = None
) -> None:
    data = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n"
    )
    head += "".join(f"{k}: {v}\r\n" for k, v in (extra or {}).items())
    writer.write(head.encode() + b"\r\n" + data)
    await writer.drain()


async def _stream_head(writer: asyncio.StreamWriter) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    await writer.drain()


async def _event(writer: asyncio.StreamWriter, payload: dict[str, Any]) -> None:
    data = f"data: {json.dumps({'id': 'c', 'object': 'chat.completion.chunk', **payload})}\n\n"
    raw = data.encode()
    writer.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
    await writer.drain()


async def _chunk(writer: asyncio.StreamWriter, text: str) -> None:
    await _event(writer, {"choices": [{"index": 0, "delta": {"content": text}}]})


# -- the load ---------------------------------------------------------------------------


@dataclass
class Counts:
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: dict[str, int] = field(default_factory=dict)

    def add(self, what: str) -> None:
        with self.lock:
            self.done[what] = self.done.get(what, 0) + 1


def _superllm() -> str:
    found = Path(sys.executable).parent / "superllm"
    return str(found) if found.exists() else (shutil.which("superllm") or "superllm")


def worker(env: dict[str, str], stop: threading.Event, counts: Counts, seed: int) -> None:
    from superllm_cli.client import Client

    rng = random.Random(seed)
    client = Client(environ=env)
    kinds = ["ask", "ask", "chain", "consensus", "debate", "cancel", "kill"]
    for n in itertools.count():
        if stop.is_set():
            return
        kind = rng.choice(kinds)
        prompt = f"soak {seed}-{n}: what is six times seven?"
        try:
            if kind == "kill":
                _killed_cli(env, prompt)
            elif kind == "cancel":
                events = client.events(
                    "POST", "/v1/ask", {"prompt": prompt, "model": "steady/m", "no_cache": True}
                )
                for event in events:
                    if event["type"] == "delta":
                        break  # half-way: the client goes
                events.close()  # type: ignore[attr-defined]
            else:
                path, body = _request(kind, prompt)
                for _ in client.events("POST", path, body):
                    pass
            counts.add(kind)
        except Exception as exc:  # a soak reports failures, it does not stop on them
            counts.add(f"{kind} failed ({type(exc).__name__})")


def _request(kind: str, prompt: str) -> tuple[str, dict[str, Any]]:
    base = {"prompt": prompt, "no_cache": True}
    if kind == "ask":
        return "/v1/ask", {**base, "model": random.choice(("flap/m", "steady/m"))}
    if kind == "chain":
        return "/v1/ask", {**base, "model": "chain"}
    models = ["flap/m", "steady/m", "steady/m2"]
    if kind == "consensus":
        return "/v1/consensus", {**base, "models": models, "strategy": "vote"}
    return "/v1/debate", {**base, "models": models, "rounds": 1, "strategy": "vote"}


def _killed_cli(env: dict[str, str], prompt: str) -> None:
    """``superllm ask`` killed after its first output: its request reached the provider."""
    proc = subprocess.Popen(
        [_superllm(), "ask", "-m", "steady/m", "--no-cache", "--stream", "always", prompt],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.read(1)
    finally:
        proc.kill()
        proc.wait()


# -- watching ---------------------------------------------------------------------------


def proc_stats(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
        "threads": int(fields["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def ledger_rows(home: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{home / 'data' / 'ledger.sqlite3'}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT status, COUNT(*) FROM calls GROUP BY status").fetchall())
    finally:
        conn.close()


def report(
    elapsed: float, pid: int, health: dict[str, Any], counts: Counts, fakes: list[Fake], home: Path
) -> dict[str, float]:
    stats = proc_stats(pid)
    rows = ledger_rows(home)
    circuits = health.get("circuits", {})
    shown = " ".join(
        f"{name}={c['state']}(trips {c['trips']})" for name, c in sorted(circuits.items())
    )
    with counts.lock:
        done = sum(v for k, v in counts.done.items() if "failed" not in k)
        failed = sum(v for k, v in counts.done.items() if "failed" in k)
    print(
        f"t={elapsed:5.0f}s rss={stats['rss_mb']:.1f}MB fds={stats['fds']:.0f} "
        f"tasks={health.get('tasks', '?')} threads={stats['threads']:.0f} runs={done} "
        f"client_errors={failed} served={sum(f.received for f in fakes)} "
        f"rows={sum(rows.values())} flap_phase={fakes[1].phase()} circuits: {shown}",
        flush=True,
    )
    return stats


def parse_duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)


def config_text(steady: Fake, flap: Fake) -> str:
    return f"""
[aliases]
chain = ["flap/m", "steady/m"]
[daemon]
breaker_threshold = 5
breaker_cooldown = 15
[providers.steady]
kind = "openai-compatible"
base_url = "http://127.0.0.1:{steady.port}/v1"
models = ["m", "m2"]
timeout = 3
[providers.flap]
kind = "openai-compatible"
base_url = "http://127.0.0.1:{flap.port}/v1"
models = ["m"]
timeout = 3
"""


def soak(duration: float, workers: int, every: float, phase_s: float) -> dict[str, Any]:
    """Run the soak; returns the figures the summary printed (the CI smoke checks them)."""
    from superllm_cli.client import Client

    steady, flap = Fake(False).start(), Fake(True, phase_s=phase_s).start()
    home = Path(tempfile.mkdtemp(prefix="soak", dir="/tmp"))
    (home / "config").mkdir(mode=0o700)
    (home / "config" / "config.toml").write_text(config_text(steady, flap))
    (home / "config" / "config.toml").chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERLLM_")}
    env.update(SUPERLLM_HOME=str(home), PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    subprocess.run([_superllm(), "daemon", "start"], env=env, check=True, capture_output=True)
    client = Client(environ=env)
    pid = int(client.call("GET", "/v1/health")["pid"])
    stop, counts = threading.Event(), Counts()
    threads = [
        threading.Thread(target=worker, args=(env, stop, counts, n), daemon=True)
        for n in range(workers)
    ]
    print(
        f"soak: {duration:.0f}s, {workers} workers, report every {every:.0f}s, flap phases "
        f"of {phase_s:.0f}s ({', '.join(PHASES)}); daemon pid {pid}",
        flush=True,
    )
    started = time.monotonic()
    for thread in threads:
        thread.start()
    samples: list[dict[str, float]] = []
    try:
        while (elapsed := time.monotonic() - started) < duration:
            time.sleep(min(every, max(duration - elapsed, 0.1)))
            health = client.call("GET", "/v1/health")
            samples.append(
                report(time.monotonic() - started, pid, health, counts, [steady, flap], home)
            )
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    # Every run has ended; the ledger has committed what the daemon settled.
    time.sleep(0.5)
    health = client.call("GET", "/v1/health")
    final = report(time.monotonic() - started, pid, health, counts, [steady, flap], home)
    subprocess.run([_superllm(), "daemon", "stop"], env=env, capture_output=True)
    rows = ledger_rows(home)
    served = steady.received + flap.received
    warm = samples[0] if samples else final
    figures = {
        "served": served,
        "rows": sum(rows.values()),
        "rows_by_status": rows,
        "flap_by_phase": flap.by_outcome,
        "runs": dict(counts.done),
        "rss_warm_mb": warm["rss_mb"],
        "rss_end_mb": final["rss_mb"],
        "fds_warm": warm["fds"],
        "fds_end": final["fds"],
        "circuits": health.get("circuits", {}),
    }
    print("summary:")
    print(f"  runs by kind: {json.dumps(dict(sorted(counts.done.items())))}")
    print(f"  flap requests by phase: {json.dumps(flap.by_outcome)}; steady: {steady.received}")
    print(f"  ledger rows {figures['rows']} vs requests the fakes served {served}: {rows}")
    print(
        f"  rss {warm['rss_mb']:.1f} -> {final['rss_mb']:.1f} MB "
        f"(x{final['rss_mb'] / warm['rss_mb']:.2f} of warm-up), fds {warm['fds']:.0f} -> "
        f"{final['fds']:.0f} (x{final['fds'] / warm['fds']:.2f})"
    )
    steady.stop()
    flap.stop()
    shutil.rmtree(home, ignore_errors=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", default="30m", help="how long: 90s, 10m, 1h (30m)")
    parser.add_argument("--workers", type=int, default=6, help="concurrent clients (6)")
    parser.add_argument("--every", type=float, default=60, help="seconds between reports (60)")
    parser.add_argument("--phase", type=float, default=20, help="seconds per flap phase (20)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    soak(parse_duration(args.duration), args.workers, args.every, args.phase)


if __name__ == "__main__":
    main()
