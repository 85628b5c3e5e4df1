"""CLI start-up and round-trip speed, measured against `python -c pass` in the same run.

    python3 bench/cli.py [--runs 40]

Prints the median wall time of each command, its ratio to `python -c pass`, and its peak
memory (max RSS). Goals (issue 13): `superllm --version` and `superllm ask` against a warm
daemon and an instant provider each within 3x of `python -c pass`, peak memory under
20 MiB. `consensus` and `usage` (on Typer) are shown beside them, `superllm ask` with the
fast path off (Typer reads the command line) for comparison, and `llm -m mock hi` when
`llm` is installed. The commands run round-robin, so load from other work on the machine
falls on every line alike; the load average is printed. Bytecode is compiled first, as an
installed package has it (this environment may set PYTHONDONTWRITEBYTECODE). Run on
demand; CI does not run benchmarks.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.openai import FakeOpenAI

BIN = Path(sys.executable).parent
GOAL_RATIO = 3.0
GOAL_MIB = 20.0
# GNU time forks the command from its own small process: the command's max RSS is then its
# own. (A child forked or vforked from this Python would report this Python's RSS.)
TIME = shutil.which("time") or "/usr/bin/time"


def run_once(argv: list[str], env: dict[str, str], rss_file: str) -> tuple[float, float]:
    """Wall time (ms) and max RSS (MiB) of one run."""
    start = time.perf_counter()
    done = subprocess.run(
        [TIME, "-f", "%M", "-o", rss_file, *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{argv} exited {done.returncode}")
    return elapsed, int(Path(rss_file).read_text().split()[-1]) / 1024


def typer_only(folder: str) -> str:
    """A `superllm` with the fast path off: Typer reads every command line."""
    script = Path(folder, "typer", "superllm")
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\nfrom superllm_cli.entry import main\n\nmain(fast=False)\n"
    )
    script.chmod(0o755)
    return str(script)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    if not Path(TIME).exists():
        raise SystemExit("bench/cli.py needs GNU time (/usr/bin/time) to read each max RSS")
    for package in ("superllm_cli", "superllmd"):
        compileall.compile_dir(ROOT / package, quiet=1)
    fake = FakeOpenAI(delay=0.0).start()
    home = tempfile.mkdtemp(prefix="slb", dir="/tmp")
    config = Path(home, "config", "config.toml")
    config.parent.mkdir(parents=True, mode=0o700)
    config.write_text(
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake.base_url}"\n'
    )
    config.chmod(0o600)
    env = {
        **os.environ,
        "SUPERLLM_HOME": home,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    superllm = str(BIN / "superllm")
    ask = ["ask", "-m", "fake/echo", "hi"]
    cases = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("superllm --version", [superllm, "--version"]),
        ("superllm ask (warm daemon, instant fake)", [superllm, *ask]),
        (
            "superllm consensus (2 instant fakes)",
            [superllm, "consensus", "-m", "fake/echo", "-m", "fake/gpt-fake", "hi"],
        ),
        ("superllm usage", [superllm, "usage"]),
        ("superllm ask, fast path off (Typer)", [typer_only(home), *ask]),
    ]
    if llm := shutil.which("llm"):
        cases.append(("llm -m mock hi (for reference)", [llm, "-m", "mock", "hi"]))
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    peaks: dict[str, float] = dict.fromkeys(times, 0.0)
    rss_file = str(Path(home, "rss"))
    load_before = os.getloadavg()
    try:
        subprocess.run([superllm, "daemon", "start"], env=env, check=True, capture_output=True)
        for _, argv in cases:  # warm up: caches, the daemon's pools
            run_once(argv, env, rss_file)
        for _ in range(args.runs):
            for name, argv in cases:
                ms, mib = run_once(argv, env, rss_file)
                times[name].append(ms)
                peaks[name] = max(peaks[name], mib)
    finally:
        subprocess.run([superllm, "daemon", "stop"], env=env, capture_output=True)
        fake.stop()
        shutil.rmtree(home, ignore_errors=True)
    load_after = os.getloadavg()
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["python -c pass"]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(
        f"# bench/cli.py  {stamp}  runs={args.runs} (round-robin, medians)  cores={os.cpu_count()}"
    )
    print(
        "# load average (1, 5, 15 min): before "
        + " ".join(f"{x:.2f}" for x in load_before)
        + ", after "
        + " ".join(f"{x:.2f}" for x in load_after)
    )
    print(f"{'command':44} {'median ms':>10} {'x pass':>8} {'peak MiB':>9}")
    for name in times:
        print(f"{name:44} {medians[name]:10.1f} {medians[name] / base:8.2f} {peaks[name]:9.1f}")
    print(f"goals: --version and ask each within {GOAL_RATIO:.2f}x, peak under {GOAL_MIB:.0f} MiB")
    for name, _ in cases[1:3]:
        ratio = medians[name] / base
        verdict = "met" if ratio <= GOAL_RATIO else f"missed by {ratio / GOAL_RATIO:.2f}x"
        memory = "met" if peaks[name] < GOAL_MIB else f"missed by {peaks[name] - GOAL_MIB:.1f} MiB"
        print(f"  {name}: time {verdict} ({ratio:.2f}x); memory {memory} ({peaks[name]:.1f} MiB)")


if __name__ == "__main__":
    main()
