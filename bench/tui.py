"""TUI streaming: does the view keep up with 8 participants at 50 tokens a second each?

    python3 bench/tui.py [--participants 8] [--rate 50] [--tokens 200] [--size 200x50]

Drives the real app headless (``App.run_test``) against a real daemon and a fake provider
that streams one word (token) per chunk with a fixed delay, and reports:

- tokens sent by the fake, received by the app, and rendered into the columns' markdown
  (rendered / sent must be 1.00, and the rendered text must equal the sent text, in order);
- the render backlog while streaming (tokens received but not yet rendered, sampled every
  50 ms) and how long after the last token the screen caught up;
- frame time: each screen update (layout, compositing, rendering the changed regions),
  count, mean, p95 and max, and frames per second while streaming.

Targets (issue 6): nothing dropped or reordered, the backlog drains within a frame or two of
the stream ending, p95 frame time under 1/30 s. Run on demand; CI does not run benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.screen import Screen

from superllm_cli.tui.app import SuperllmApp
from superllm_cli.tui.backend import DaemonBackend
from superllm_cli.tui.widgets.prompt_box import PromptBox
from superllm_cli.tui.widgets.run_view import RunView
from tests.e2e.conftest import base_env, kill_daemons, write_config
from tests.fakes.openai import FakeOpenAI

FRAMES: list[float] = []


def _timed_frames() -> None:
    """Time every screen update (the benchmark's own instrumentation, not the app's)."""
    original = Screen._on_timer_update

    def timed(self: Screen[Any]) -> None:
        start = time.perf_counter()
        original(self)
        FRAMES.append(time.perf_counter() - start)

    Screen._on_timer_update = timed  # type: ignore[method-assign]


def answer(tokens: int) -> str:
    """``tokens`` words with markdown in them: paragraphs, bold, a list now and then."""
    words = []
    for i in range(tokens):
        word = f"**w{i}**" if i % 17 == 0 else f"w{i}"
        if i and i % 40 == 0:
            word = "\n\n- " + word
        elif i and i % 25 == 0:
            word = "\n\n" + word
        words.append(word)
    return " ".join(words)


async def drive(args: argparse.Namespace, backend: DaemonBackend, text: str) -> dict[str, Any]:
    width, height = (int(n) for n in args.size.split("x"))
    app = SuperllmApp(backend=backend, mode="consensus", models=["fake/slow"])
    samples: list[tuple[float, int, int]] = []
    async with app.run_test(size=(width, height), headless=True) as pilot:
        view = app.main.query_one(RunView)
        app.main.query_one(PromptBox).load_text("stream")
        body = {"prompt": "stream", "models": ["fake/slow"] * args.participants, "options": {},
                "strategy": "vote", "env": backend.request_env()}  # fmt: skip
        FRAMES.clear()
        start = time.perf_counter()
        app.main.start("/v1/consensus", body)
        last_received = 0.0
        while True:
            await asyncio.sleep(0.05)
            lanes = [lane for name, lane in view.state.lanes.items() if name in view.columns]
            received = sum(t.deltas for lane in lanes for t in lane.turns.values())
            rendered = sum(len(c.rendered_text.split()) for c in view.columns.values())
            now = time.perf_counter() - start
            samples.append((now, received, rendered))
            if received and (len(samples) < 2 or received != samples[-2][1]):
                last_received = now
            if view.state.finished and not app.main.running:
                break
        frames_streaming = len(FRAMES)
        stream_seconds = last_received
        for column in view.columns.values():
            await column.settled()
        caught_up = time.perf_counter() - start - last_received
        await pilot.pause()
        rendered_texts = [c.rendered_text for c in view.columns.values()]
    return {
        "samples": samples,
        "texts": rendered_texts,
        "received": samples[-1][1],
        "stream_seconds": stream_seconds,
        "caught_up_s": caught_up,
        "frames_streaming": frames_streaming,
    }


def _serve_fake(rate: float, text: str, urls: Any, stop: Any) -> None:
    """The fake provider in its own process, so it does not share the app's GIL."""
    # The fake sleeps between chunks and then writes; about 5 ms go to the write and the
    # event loop, so the sleep is shortened to send at ``rate`` (the report shows the rate).
    fake = FakeOpenAI(delay=max(1.0 / rate - 0.005, 0.0)).start()
    fake.reply = lambda body: text
    urls.put(fake.base_url)
    stop.wait()
    fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--participants", type=int, default=8)
    parser.add_argument("--rate", type=float, default=50.0, help="tokens a second each")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per answer")
    parser.add_argument("--size", default="200x50", help="terminal size, WxH")
    args = parser.parse_args()

    text = answer(args.tokens)
    context = multiprocessing.get_context("fork")
    urls, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve_fake, args=(args.rate, text, urls, stop), daemon=True)
    server.start()
    base_url = urls.get(timeout=30)
    home = Path(tempfile.mkdtemp(prefix="slb", dir="/tmp"))
    write_config(
        home,
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{base_url}"\n'
        'models = ["slow"]\n',
    )
    _timed_frames()
    try:
        result = asyncio.run(drive(args, DaemonBackend(base_env(home)), text))
    finally:
        kill_daemons(home)
        stop.set()
        server.join(10)
        shutil.rmtree(home, ignore_errors=True)

    sent_each = len(text.split())
    sent = sent_each * args.participants
    rendered = sum(len(t.split()) for t in result["texts"])
    exact = sum(t == text for t in result["texts"])
    backlog = [r - s for _, r, s in result["samples"]]
    frames = sorted(FRAMES)
    ms = [f * 1000 for f in frames]
    p95 = ms[int(len(ms) * 0.95) - 1] if ms else 0.0
    print(f"participants {args.participants} x {args.rate:g} tokens/s x {sent_each} tokens")
    print(f"tokens sent {sent}, received {result['received']}, rendered {rendered}")
    print(f"received/sent {result['received'] / sent:.3f}   rendered/sent {rendered / sent:.3f}")
    print(f"columns whose text equals what was sent, in order: {exact}/{args.participants}")
    print(
        f"render backlog while streaming: max {max(backlog, default=0)} tokens, "
        f"mean {statistics.fmean(backlog) if backlog else 0:.1f}; caught up "
        f"{result['caught_up_s'] * 1000:.0f} ms after the run ended"
    )
    seconds = max(result["stream_seconds"], 1e-9)
    print(
        f"frames {len(ms)} ({result['frames_streaming'] / seconds:.1f}/s while streaming): "
        f"mean {statistics.fmean(ms) if ms else 0:.2f} ms, p95 {p95:.2f} ms, "
        f"max {max(ms, default=0):.2f} ms"
    )
    print(
        f"stream took {result['stream_seconds']:.2f} s (ideal {sent_each / args.rate:.2f} s): "
        f"{sent_each / seconds:.1f} tokens/s per participant as sent"
    )


if __name__ == "__main__":
    main()
