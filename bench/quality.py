"""Answer quality of consensus and debate at equal cost, and how parallel a panel really is.

    python3 bench/quality.py [--items 500] [--seed 0]       # fake agents, in-process
    python3 bench/quality.py --real --items 20               # the local model, via the daemon
    python3 bench/quality.py --parallel-only [--http]

Quality (ORCHESTRATION.md §6.4): each mode is compared with (a) the best single model, one
call, and (b) self-consistency on that model with the *same number of calls* as the mode,
on the same items: accuracy with a Wilson 95% interval, calls and tokens per item, and a
paired McNemar test against (b). Debate or voting that does not beat (b) bought nothing.

Parallelism: N participants of latency L each should finish in about L, not N x L; the
ratio wall/L is printed for N = 2, 8, 32 (in-process, or through the daemon with --http).
Run on demand; CI does not run benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from superllmd.orchestrator import consensus, debate
from superllmd.orchestrator.agreement import wilson_interval
from superllmd.orchestrator.context import ModeFn
from superllmd.protocol import Mode
from tests.fakes.agents import Fleet, drive, installed, make_context, run_inprocess
from tests.fakes.items import Item, arithmetic_items
from tests.fakes.openai import FakeOpenAI

BIN = Path(sys.executable).parent
SUPERLLM = str(BIN / "superllm") if (BIN / "superllm").exists() else shutil.which("superllm")


@dataclass
class Row:
    name: str
    correct: list[bool]
    calls: list[int]
    tokens: list[int]

    @property
    def mean_calls(self) -> float:
        return sum(self.calls) / len(self.calls)


def mcnemar(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Exact two-sided McNemar p-value for paired outcomes (binomial on discordant pairs)."""
    only_a = sum(x and not y for x, y in zip(a, b, strict=True))
    only_b = sum(y and not x for x, y in zip(a, b, strict=True))
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2.0 * float(tail))


def print_table(rows: Sequence[Row], baselines: dict[str, Row]) -> None:
    print(f"{'method':<42} {'acc':>6} {'95% CI':>15} {'calls':>6} {'tokens':>8} {'McNemar p':>10}")
    for row in rows:
        n = len(row.correct)
        k = sum(row.correct)
        low, high = wilson_interval(k, n)
        base = baselines.get(row.name)
        p = f"{mcnemar(row.correct, base.correct):.3g}" if base else "-"
        print(
            f"{row.name:<42} {k / n:6.3f} [{low:5.3f}, {high:5.3f}] {row.mean_calls:6.2f} "
            f"{sum(row.tokens) / n:8.0f} {p:>10}"
        )


# --------------------------------------------------------------------------- fake agents


def fake_row(
    name: str, fn: ModeFn, mode: Mode, items: Sequence[Item], models: list[str], **request: Any
) -> Row:
    async def go() -> list[Any]:
        fleet = Fleet(seed=1)
        return list(
            await asyncio.gather(
                *(run_inprocess(fn, mode, it.prompt, models, fleet, **request) for it in items)
            )
        )

    results = asyncio.run(go())
    return Row(
        name,
        [r["answer"] == it.gold_key for r, it in zip(results, items, strict=True)],
        [r["calls"] for r in results],
        [r["usage"]["input_tokens"] + r["usage"]["output_tokens"] for r in results],
    )


def fake_quality(n: int, seed: int) -> None:
    items = arithmetic_items(n, seed)
    # Three different models with independent errors; the first is the best single one.
    panel = ["noisy-0.7-spread@a", "noisy-0.6-spread@b", "noisy-0.55-spread@c"]
    debaters = [m.replace("@", "+corrective-0.5-0.15@") for m in panel]
    best = panel[0]
    single = fake_row(f"single ({best})", consensus.run, "consensus", items, [best])
    vote = fake_row("consensus vote (3 models)", consensus.run, "consensus", items, panel)
    auto = fake_row(
        "consensus vote --samples auto", consensus.run, "consensus", items, panel, samples="auto"
    )
    talk = fake_row("debate (3 models)", debate.run, "debate", items, debaters)
    rows, baselines = [single], {}
    for mode_row in (vote, auto, talk):
        k = max(1, round(mode_row.mean_calls))
        sc = fake_row(
            f"self-consistency x{k} ({best})",
            consensus.run,
            "consensus",
            items,
            [best],
            samples=str(k),
        )
        rows += [sc, mode_row]
        baselines[mode_row.name] = sc
    print(f"\nfake agents, {n} items (McNemar against the self-consistency row above it)")
    print_table(rows, baselines)


# --------------------------------------------------------------------------- the local model


def _cli(home: Path, *args: str) -> dict[str, Any]:
    assert SUPERLLM, "superllm is not installed (pip install -e .)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERLLM_")}
    env["SUPERLLM_HOME"] = str(home)
    done = subprocess.run(
        [SUPERLLM, *args, "--json"], env=env, capture_output=True, text=True, timeout=600
    )
    if not done.stdout:
        raise SystemExit(f"superllm {' '.join(args[:3])} failed: {done.stderr.strip()}")
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def real_quality(n: int, seed: int, home: Path) -> None:
    items = arithmetic_items(n, seed, high=10)  # small operands: a 135M model has a chance
    model = "local/smollm2"
    flags = ["--max-output", "96", "--temperature", "0.7", "--seed", str(seed)]

    def row(name: str, *args: str) -> Row:
        results = [_cli(home, *args, *flags, it.prompt) for it in items]
        return Row(
            name,
            [r.get("answer") == it.gold_key for r, it in zip(results, items, strict=True)],
            [r.get("calls", 0) for r in results],
            [r["usage"]["input_tokens"] + r["usage"]["output_tokens"] for r in results],
        )

    copies = ["-m", model] * 3
    single = row(f"single ({model})", "consensus", "-m", model)
    vote = row("consensus vote (3 samples)", "consensus", *copies)
    talk = row("debate (3 copies)", "debate", *copies)
    rows, baselines = [single], {}
    for mode_row in (vote, talk):
        k = max(1, round(mode_row.mean_calls))
        sc = row(f"self-consistency x{k}", "consensus", "-m", model, "--samples", str(k))
        rows += [sc, mode_row]
        baselines[mode_row.name] = sc
    print(f"\n{model}, {n} items (copies of one model: no diversity to gain from)")
    print_table(rows, baselines)


# --------------------------------------------------------------------------- parallelism


async def _inprocess_wall(n: int, latency_ms: int) -> float:
    models = [f"oracle+delay-{latency_ms}@{i}" for i in range(n)]
    ctx, _ = make_context("consensus", arithmetic_items(1)[0].prompt, models, Fleet())
    started = time.perf_counter()
    await drive(ctx, consensus.run)
    return time.perf_counter() - started


def parallelism(latency_ms: int, http: bool) -> None:
    latency = latency_ms / 1000
    print(f"\nparallelism: N participants of latency L = {latency_ms} ms, wall / L")
    if not http:
        for n in (2, 8, 32):
            wall = asyncio.run(_inprocess_wall(n, latency_ms))
            print(f"  in-process  N={n:<3} {wall / latency:5.2f}")
        return
    fake = FakeOpenAI().start()
    home = Path(tempfile.mkdtemp(prefix="slq", dir="/tmp"))
    (home / "config").mkdir()
    (home / "config" / "config.toml").write_text(
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake.base_url}"\n'
    )
    try:
        with installed(fake, Fleet()):
            _cli(home, "consensus", "-m", "fake/oracle", "1+2*3+4-5*6")  # start the daemon
            for n in (2, 8, 32):
                models = [
                    a for i in range(n) for a in ("-m", f"fake/oracle+delay-{latency_ms}@{i}")
                ]
                data = _cli(home, "consensus", *models, arithmetic_items(1)[0].prompt)
                print(f"  daemon/HTTP N={n:<3} {data['latency_ms'] / latency_ms:5.2f}")
    finally:
        subprocess.run(
            [SUPERLLM or "superllm", "daemon", "stop"],
            env={**os.environ, "SUPERLLM_HOME": str(home)},
            capture_output=True,
        )
        fake.stop()
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real", action="store_true", help="use the local model via the daemon")
    parser.add_argument("--parallel-only", action="store_true")
    parser.add_argument("--http", action="store_true", help="measure parallelism via the daemon")
    parser.add_argument("--latency-ms", type=int, default=300)
    args = parser.parse_args()
    if not args.parallel_only:
        if args.real:
            home = Path(tempfile.mkdtemp(prefix="slq", dir="/tmp"))
            try:
                real_quality(args.items, args.seed, home)
            finally:
                env = {**os.environ, "SUPERLLM_HOME": str(home)}
                subprocess.run(
                    [SUPERLLM or "superllm", "daemon", "stop"], env=env, capture_output=True
                )
                shutil.rmtree(home, ignore_errors=True)
        else:
            fake_quality(args.items, args.seed)
    parallelism(args.latency_ms, args.http)


if __name__ == "__main__":
    main()
