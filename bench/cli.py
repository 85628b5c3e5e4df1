"""CLI start-up and round-trip speed, measured against `python -c pass` in the same run.

    python3 bench/cli.py [--runs 30]

Prints the median of each command and its ratio to `python -c pass`. Targets (issue 2):
`superllm --version` and `superllm ask` against a warm daemon and an instant provider,
each within 8x of `python -c pass`. Run on demand; CI does not run benchmarks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.openai import FakeOpenAI

BIN = Path(sys.executable).parent


def median_ms(argv: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    fake = FakeOpenAI(delay=0.0).start()
    home = tempfile.mkdtemp(prefix="slb", dir="/tmp")
    config = Path(home, "config", "config.toml")
    config.parent.mkdir(parents=True)
    config.write_text(
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake.base_url}"\n'
    )
    env = {
        **os.environ,
        "SUPERLLM_HOME": home,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    superllm = str(BIN / "superllm")
    try:
        subprocess.run([superllm, "daemon", "start"], env=env, check=True, capture_output=True)
        subprocess.run(
            [superllm, "ask", "-m", "fake/echo", "warm up"],
            env=env,
            check=True,
            capture_output=True,
        )
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("superllm --version", [superllm, "--version"]),
            (
                "superllm ask (warm daemon, instant fake)",
                [superllm, "ask", "-m", "fake/echo", "hi"],
            ),
        ]
        results = [(name, median_ms(argv, env, args.runs)) for name, argv in cases]
    finally:
        subprocess.run([superllm, "daemon", "stop"], env=env, capture_output=True)
        fake.stop()
    base = results[0][1]
    print(f"{'command':44} {'median ms':>10} {'x pass':>8}")
    for name, ms in results:
        print(f"{name:44} {ms:10.1f} {ms / base:8.2f}")
    print("target: each superllm line within 8.00x")


if __name__ == "__main__":
    main()
