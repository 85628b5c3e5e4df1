"""The fast path reads the command line exactly as Typer does, or leaves it to Typer.

Each argv of the corpus goes through Typer (``CliRunner`` on the real app) and through
``superllm_cli._fast``; both run the same body, here with ``Client.events`` (ask) and
``Client.call`` (usage) replaced by a recorder, so the test compares what each parser
handed the body and the request each built. Forms the fast path does not read must come
back as None (Typer's).
"""

from __future__ import annotations

import inspect
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from superllm_cli import _ask, _fast, _usage
from superllm_cli.app import app
from superllm_cli.client import Client
from superllm_cli.commands import ask as ask_command
from superllm_cli.commands import usage as usage_command
from superllm_cli.completion import COMPLETE_VAR
from superllm_cli.docgen.fastspec import SPEC_FILE, fastspec_json
from superllmd import records

ROOT = Path(__file__).resolve().parents[2]

# Forms the fast path must read itself, each with the stdin it gets.
FAST: list[tuple[list[str], str]] = [
    (["ask", "hi"], ""),
    (["ask"], "from stdin"),
    (["ask", "hi"], "and stdin"),
    (["ask", "-m", "fake/echo", "hi"], ""),
    (["ask", "hi", "-m", "fake/echo"], ""),
    (["ask", "--model", "fake/echo", "hi"], ""),
    (["ask", "--model=fake/echo", "hi"], ""),
    (["ask", "-mfake/echo", "hi"], ""),
    (["ask", "-m=x", "hi"], ""),
    (["ask", "-m", "a", "-m", "b", "hi"], ""),
    (["ask", "-m", "--json", "hi"], ""),
    (["ask", "-s", "Be terse.", "--system=Be brief.", "hi"], ""),
    (["ask", "--temperature", "0", "--max-tokens", "1", "hi"], ""),
    (["ask", "--temperature=2", "--max-tokens=4096", "hi"], ""),
    (["ask", "--temperature", "0.7", "--max-cost", "0.5", "hi"], ""),
    (["ask", "--temperature", "1e0", "--max-cost", ".25", "hi"], ""),
    (["ask", "--max-tokens", "+12", "hi"], ""),
    (["ask", "-o", "top_p=0.9", "-o", "seed=3", "--option=stop=x", "hi"], ""),
    (["ask", "--stream", "never", "hi"], ""),
    (["ask", "--stream=always", "hi"], ""),
    (["ask", "--json", "hi"], ""),
    (["ask", "--stream-json", "hi"], ""),
    (["ask", "-c", "hi"], ""),
    (["ask", "--continue", "--no-cache", "--cache-ttl", "2h", "hi"], ""),
    (["ask", "--cid", "c123", "hi"], ""),
    (["ask", "-cm", "fake/echo", "hi"], ""),
    (["ask", "-cmfake/echo", "hi"], ""),
    (["ask", "--label", "nightly", "--no-autostart", "hi"], ""),
    (["ask", "--binary-ok", "hi"], "text"),
    (["ask", "-t", "translate", "-p", "to", "French", "hi"], ""),
    (["ask", "-x", "--schema", "name str, age int", "hi"], ""),
    (["ask", "-cx", "--extract-last", "hi"], ""),
    (["ask", "-t", "translate", "--param", "to=French", "hi"], ""),
    (["ask", "-t", "translate", "-p", "to", "a=b", "--", "-p"], ""),
    (["ask", "--", "-not an option"], ""),
    (["ask", "-m", "x", "--", "--json"], ""),
    (["ask", "-"], ""),
    (["ask", ""], "only stdin"),
    (["-v", "ask", "hi"], ""),
    (["--verbose", "--color", "never", "ask", "hi"], ""),
    (["--color=always", "ask", "hi"], ""),
    (["--color", "auto", "-v", "ask", "--json", "hi"], ""),
    (["usage"], ""),
    (["usage", "--by", "model", "--since", "7d"], ""),
    (["usage", "--by=label", "--until=2026-12-01", "--label", "nightly"], ""),
    (["usage", "--since", "0", "--provider", "fake", "--model", "fake/echo", "--mode=ask"], ""),
    (["usage", "--json"], ""),
    (["usage", "--csv", "--no-autostart"], ""),
    (["-v", "usage", "--by", "token"], ""),
]

# Forms the fast path must leave to Typer (which answers, or explains the mistake).
TYPER: list[list[str]] = [
    [],
    ["--help"],
    ["ask", "--help"],
    ["ask", "-h"],
    ["--version", "ask", "hi"],
    ["-v", "--version"],
    ["--debug", "ask", "hi"],
    ["--color", "bad", "ask", "hi"],
    ["--color"],
    ["ask", "--stream", "sometimes", "hi"],
    ["ask", "--unknown", "hi"],
    ["ask", "-X", "hi"],
    ["ask", "-cX", "hi"],
    ["ask", "-vc", "hi"],
    ["ask", "--json=1", "hi"],
    ["ask", "--temperature", "3", "hi"],
    ["ask", "--temperature", "-1", "hi"],
    ["ask", "--temperature", "abc", "hi"],
    ["ask", "--temperature", "nan", "hi"],
    ["ask", "--temperature", " 1", "hi"],
    ["ask", "--max-tokens", "0", "hi"],
    ["ask", "--max-tokens", "7.0", "hi"],
    ["ask", "--max-cost", "-0.1", "hi"],
    ["ask", "-m"],
    ["ask", "--model"],
    ["ask", "one", "two"],
    ["ask", "-5 apples"],
    ["usage", "--by", "year"],
    ["usage", "--help"],
    ["usage", "extra"],
    ["usage", "--json=yes"],
    ["consensus", "hi"],
    ["models"],
    ["daemon", "status"],
    ["nosuchcommand"],
    ["_", "hi"],
]


Args = _ask.AskArgs | _usage.UsageArgs
Calls = list[tuple[Args, dict[str, Any]]]
REPORT = {
    "by": "day",
    "rows": [
        {
            "day": "2026-12-04",
            "calls": 2,
            "input_tokens": 3,
            "output_tokens": 4,
            "cached_tokens": 0,
            "cost_usd": None,
            "unpriced_calls": 2,
        }
    ],
    "totals": {
        "calls": 2,
        "input_tokens": 3,
        "output_tokens": 4,
        "cached_tokens": 0,
        "cost_usd": None,
        "unpriced_calls": 2,
    },
}


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Calls]:
    """Every body's arguments and the request it sent (answered as the daemon would)."""
    monkeypatch.setenv("SUPERLLM_HOME", str(tmp_path))
    monkeypatch.delenv("SUPERLLM_LABEL", raising=False)
    calls: Calls = []

    def recording(real: Any) -> Any:
        def body(out: Any, args: Any) -> int:
            calls.append((args, {"output": (out.color, out.verbose, out.rich_out)}))
            code: int = real(out, args)
            return code

        return body

    def events(self: Client, method: str, path: str, request: Any) -> Iterator[dict[str, Any]]:
        assert (method, path) == ("POST", "/v1/ask")
        calls[-1][1]["request"] = request
        yield {"type": "delta", "text": "ok"}
        result = {"answer": "ok", "model": "fake/echo", "usage": {}, "latency_ms": 1}
        yield {"type": "run.finished", "result": result}

    def call(self: Client, method: str, path: str, body: Any = None, timeout: Any = None) -> Any:
        assert method == "GET" and body is None
        calls[-1][1]["request"] = path
        return REPORT

    for module, name in ((_ask, "ask_body"), (_usage, "usage_body")):
        body = recording(getattr(module, name))
        monkeypatch.setattr(module, name, body)
        command = ask_command if module is _ask else usage_command
        monkeypatch.setattr(command, name, body)
    monkeypatch.setattr(Client, "events", events)
    monkeypatch.setattr(Client, "call", call)
    yield calls


def _through_typer(argv: list[str], stdin: str) -> int:
    result = CliRunner().invoke(app, argv, input=stdin)
    return result.exit_code


def _through_fast(argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch) -> int | None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    return _fast.run(argv)


@pytest.mark.parametrize(("argv", "stdin"), FAST, ids=[" ".join(a) + f"<{s}" for a, s in FAST])
def test_both_parsers_read_the_same_arguments_and_build_the_same_request(
    argv: list[str],
    stdin: str,
    recorder: Calls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    typer_code = _through_typer(argv, stdin)
    assert len(recorder) == 1, f"Typer did not run ask_body (exit {typer_code})"
    fast_code = _through_fast(argv, stdin, monkeypatch)
    assert fast_code is not None, "the fast path left a common form to Typer"
    assert len(recorder) == 2
    (typer_args, typer_request), (fast_args, fast_request) = recorder
    assert fast_args == typer_args
    assert fast_request == typer_request  # the request, and the root options' output
    assert "request" in fast_request
    assert fast_code == typer_code


def test_the_label_comes_from_the_environment_as_in_typer(
    recorder: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPERLLM_LABEL", "cron-job")
    _through_typer(["ask", "hi"], "")
    assert _through_fast(["ask", "hi"], "", monkeypatch) == 0
    assert recorder[0][0].label == recorder[1][0].label == "cron-job"
    assert recorder[0][1]["request"]["label"] == recorder[1][1]["request"]["label"] == "cron-job"


@pytest.mark.parametrize("argv", TYPER, ids=[" ".join(a) or "(none)" for a in TYPER])
def test_unusual_forms_are_left_to_typer(
    argv: list[str],
    recorder: Calls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _through_fast(argv, "", monkeypatch) is None
    assert recorder == []


def test_a_tab_press_is_left_to_typer(recorder: Calls, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COMPLETE_VAR, "bash_complete")
    assert _through_fast(["ask", "hi"], "", monkeypatch) is None
    assert _through_fast(["--version"], "", monkeypatch) is None


def test_without_its_table_the_fast_path_leaves_everything_to_typer(
    recorder: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_fast, "_spec", dict)
    assert _through_fast(["ask", "hi"], "", monkeypatch) is None


def test_version_is_printed_as_typer_prints_it(monkeypatch: pytest.MonkeyPatch) -> None:
    typer_out = CliRunner().invoke(app, ["--version"]).output
    assert _through_fast(["--version"], "", monkeypatch) == 0
    assert isinstance(sys.stdout, io.StringIO)
    assert sys.stdout.getvalue() == typer_out
    assert typer_out.startswith("superllm ")


def _spec_with(monkeypatch: pytest.MonkeyPatch, name: str, entry: list[Any]) -> None:
    spec = json.loads(json.dumps(_fast._spec()))
    spec["ask"]["options"][f"--{name}"] = [name, True]
    spec["ask"]["params"][name] = entry
    monkeypatch.setattr(_fast, "_spec", lambda: spec)


def test_an_option_ask_body_does_not_know_sends_every_ask_to_typer(
    recorder: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Someone adds --tools to the Typer command (and regenerates the table) but not to
    # AskArgs: the fast path cannot pass it on, so it must not run the command at all.
    _spec_with(monkeypatch, "tools", ["str", False, None, None, None, None, []])
    assert _through_fast(["ask", "hi"], "", monkeypatch) is None
    assert _through_fast(["ask", "--tools", "x.json", "hi"], "", monkeypatch) is None


def test_an_option_of_a_kind_the_fast_parser_cannot_read_goes_to_typer_when_used(
    recorder: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    _spec_with(monkeypatch, "model", ["other", False, None, None, None, None, []])
    assert _through_fast(["ask", "--model", "x", "hi"], "", monkeypatch) is None


def test_the_committed_table_is_what_the_app_generates() -> None:
    committed = (ROOT / SPEC_FILE).read_text(encoding="utf-8")
    assert committed == fastspec_json(), "run `python -m superllm_cli.docgen` and commit"
    for name in ("ask", "usage"):
        assert _fast._spec()[name]["fast"] is True, f"{name} must stay on the fast path"


@pytest.mark.parametrize(
    ("name", "function", "args"),
    [("ask", ask_command.ask, _ask.AskArgs), ("usage", usage_command.usage, _usage.UsageArgs)],
)
def test_the_body_arguments_have_one_field_per_parameter_of_the_command(
    name: str, function: Any, args: type[Args]
) -> None:
    params = inspect.signature(function).parameters
    command = {n: p.default for n, p in params.items() if n != "ctx"}
    fields = records.fields(args)
    assert fields == command
    assert set(_fast._spec()[name]["params"]) == set(fields)


def _modules_after(argv: list[str], home: Path) -> tuple[int, set[str]]:
    code = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: sys.stderr.write('\\n' + json.dumps(sorted(sys.modules))))\n"
        f"sys.argv = ['superllm', *{argv!r}]\n"
        "from superllm_cli.entry import main\n"
        "main()\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "SUPERLLM_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    return done.returncode, set(json.loads(done.stderr.rsplit("\n", 1)[-1]))


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--version"], 0),
        (["ask", "--no-autostart", "-m", "fake/echo", "hi"], 3),
        (["usage", "--no-autostart"], 3),
    ],
)
def test_the_fast_path_imports_no_typer_pydantic_or_rich(
    argv: list[str], code: int, tmp_path: Path
) -> None:
    returncode, loaded = _modules_after(argv, tmp_path)
    assert returncode == code
    assert "superllm_cli._fast" in loaded or argv == ["--version"]
    for name in ("typer", "click", "pydantic", "rich", "httpx", "superllm_cli.app", *SLOW):
        assert name not in loaded, f"{argv} imported {name}"


#: Stdlib and own modules the fast path does without: ``inspect`` (which ``dataclasses`` and
#: ``typing_extensions`` import, and with it ``ast``, ``dis``, ``tokenize``) costs about a
#: tenth of an ``ask``; the protocol's shapes are for type checkers.
SLOW = ("inspect", "dataclasses", "typing_extensions", "superllmd.protocol")


def test_what_ask_runs_after_the_answer_imports_no_inspect() -> None:
    """The modules ``ask_body`` imports once the daemon answered (the subprocess test above
    stops at the missing daemon): the client, the request builder, the answer's output."""
    code = (
        "import sys\n"
        "from superllm_cli import _fast\n"
        "from superllm_cli import _ask, _calls, _runner, _usage, client, flags, request\n"
        "from superllm_cli import render, runview, schema\n"
        "from superllmd import errors, launch, paths\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "superllm_cli.runview" in loaded  # the check can see what is loaded
    for name in SLOW:
        assert name not in loaded, f"the ask path imports {name}"


def test_typer_still_answers_what_the_fast_path_leaves(tmp_path: Path) -> None:
    returncode, loaded = _modules_after(["ask", "--help"], tmp_path)
    assert returncode == 0
    assert "typer" in loaded
