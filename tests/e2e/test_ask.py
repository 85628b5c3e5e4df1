"""`superllm ask` end to end: the real command, a real daemon, the fake OpenAI server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.e2e.conftest import SUPERLLM, Cli
from tests.fakes.openai import FakeOpenAI


def test_ask_through_fake_prints_answer(cli: Cli) -> None:
    result = cli("ask", "-m", "fake/echo", "hello there")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: hello there\n"
    assert result.stderr == ""  # not a terminal and no -v: no status lines


def test_ask_sends_flags_to_provider(cli: Cli, fake_openai: FakeOpenAI) -> None:
    result = cli(
        "ask",
        "-m",
        "fake/echo-flags",
        "-s",
        "be brief",
        "--temperature",
        "0.2",
        "--max-tokens",
        "7",
        "-o",
        "top_p=0.5",
        "-o",
        "seed=3",
        "q",
    )
    assert result.returncode == 0, result.stderr
    sent = [r for r in fake_openai.chat_requests() if r["model"] == "echo-flags"][-1]
    assert sent["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "q"},
    ]
    assert sent["temperature"] == 0.2
    assert sent["max_tokens"] == 7
    assert sent["top_p"] == 0.5 and sent["seed"] == 3
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_prompt_from_stdin_alone_and_joined(cli: Cli) -> None:
    alone = cli("ask", "-m", "fake/echo", input="from a pipe\n")
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout == "echo: from a pipe\n"
    joined = cli("ask", "-m", "fake/echo", "summarise:", input="the text\n")
    assert joined.stdout == "echo: summarise:\n\nthe text\n"


def test_shell_pipeline(env: dict[str, str], home: Path) -> None:
    result = subprocess.run(
        f"printf 'piped words' | {SUPERLLM} ask -m fake/echo | tr a-z A-Z",
        shell=True,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ECHO: PIPED WORDS\n"


def test_no_prompt_is_usage_error(cli: Cli) -> None:
    result = cli("ask", "-m", "fake/echo")  # stdin is /dev/null, as under cron
    assert result.returncode == 2
    assert "no prompt" in result.stderr
    assert "Traceback" not in result.stderr


def test_stream_never_still_prints_answer(cli: Cli, fake_openai: FakeOpenAI) -> None:
    result = cli("ask", "-m", "fake/echo-whole", "--stream", "never", "all at once")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: all at once\n"
    sent = [r for r in fake_openai.chat_requests() if r["model"] == "echo-whole"][-1]
    assert "stream" not in sent


def test_json_result_shape(cli: Cli) -> None:
    result = cli("ask", "-m", "fake/echo", "--json", "shape please")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for key in (
        "run_id",
        "mode",
        "answer",
        "model",
        "participants",
        "judge",
        "usage",
        "cost_usd",
        "latency_ms",
        "conversation_id",
    ):
        assert key in data, key
    assert data["mode"] == "ask"
    assert data["answer"] == "echo: shape please"
    assert data["model"] == "fake/echo"
    assert data["judge"] is None
    assert data["cost_usd"] is None  # an unpriced model is unknown, never free
    usage = data["usage"]
    assert usage["output_tokens"] == 3
    assert usage["input_tokens"] == 2
    assert set(usage) == {"input_tokens", "output_tokens", "cached_tokens"}
    [participant] = data["participants"]
    assert participant["model"] == "fake/echo" and participant["error"] is None
    assert participant["answer"] == data["answer"]


def test_stream_json_events(cli: Cli) -> None:
    result = cli("ask", "-m", "fake/echo", "--stream-json", "one two three")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "run.started" and types[-1] == "run.finished"
    assert types[-2] == "message"
    assert set(types[1:-2]) == {"delta"}
    assert len({e["run_id"] for e in events}) == 1
    assert "".join(e["text"] for e in events if e["type"] == "delta") == "echo: one two three"
    assert events[0]["participants"] == ["fake/echo"] and events[0]["mode"] == "ask"
    assert events[-1]["result"]["answer"] == "echo: one two three"


def test_pipe_output_has_no_control_characters(cli: Cli) -> None:
    result = cli("ask", "-m", "fake/echo", "\x1b[31mred\x07 text")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "red text" in result.stdout


def test_pipe_output_streams_as_it_arrives(env: dict[str, str], fake_openai: FakeOpenAI) -> None:
    # fake/slow waits between words: the first word must reach the pipe before the last
    # is sent, i.e. while the command is still running.
    fake_openai.delay = 0.3
    proc = subprocess.Popen(
        [SUPERLLM, "ask", "-m", "fake/slow", "a b c d e f g h"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.read(5)
        still_running = proc.poll() is None
        rest = proc.stdout.read()
        proc.wait(60)
    finally:
        fake_openai.delay = 0.05
        proc.kill()
    assert first == b"echo:"
    assert still_running
    assert (first + rest).decode() == "echo: a b c d e f g h\n"


def test_verbose_status_goes_to_stderr(cli: Cli) -> None:
    result = cli("-v", "ask", "-m", "fake/echo", "status")
    assert result.returncode == 0
    assert result.stdout == "echo: status\n"
    assert "fake/echo" in result.stderr and "tokens" in result.stderr


def test_env_override_applies_to_that_request_only(cli: Cli) -> None:
    first = cli("ask", "--json", "hi", extra_env={"SUPERLLM_DEFAULT_MODEL": "fake/echo"})
    assert json.loads(first.stdout)["model"] == "fake/echo"
    second = cli("ask", "--json", "hi", extra_env={"SUPERLLM_DEFAULT_MODEL": "fake/other-model"})
    assert json.loads(second.stdout)["model"] == "fake/other-model"
