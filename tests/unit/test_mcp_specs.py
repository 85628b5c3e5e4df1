"""The MCP tool definitions: in step with the daemon, and progress lines as promised."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from superllm_cli.commands.usage import BY
from superllmd.errors import UsageError
from superllmd.mcptools.progress import Progress, summary_line
from superllmd.mcptools.specs import CAPABILITIES, STRATEGIES, TOOLS, USAGE_BY, run_request
from superllmd.orchestrator.consensus import STRATEGIES as DAEMON_STRATEGIES
from superllmd.providers.selection import CAPABILITIES as DAEMON_CAPABILITIES


def test_the_mirrored_lists_match_the_daemon() -> None:
    assert set(STRATEGIES) == {*DAEMON_STRATEGIES, "rank"}
    assert CAPABILITIES == DAEMON_CAPABILITIES
    assert USAGE_BY == BY


def test_the_specs_import_nothing_heavy() -> None:
    code = (
        "import superllmd.mcptools.specs, superllmd.mcptools.progress, sys, json; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    for name in ("mcp", "mcp_types", "pydantic", "httpx", "superllmd.orchestrator", "asyncio"):
        assert name not in loaded, name


def test_run_requests_in_the_native_api_shape() -> None:
    body = run_request(TOOLS["redteam"], {"prompt": "p", "models": ["a/b"], "max_cost": 0.5})
    assert body["mode_options"] == {"submode": "critique"} and body["max_cost"] == 0.5
    chain = run_request(TOOLS["chain"], {"workflow": '[[steps]]\nname = "a"\nprompt = "x"\n'})
    assert chain["workflow"] == {"steps": [{"name": "a", "prompt": "x"}]}
    with pytest.raises(UsageError, match="not valid TOML"):
        run_request(TOOLS["chain"], {"workflow": "[[steps"})
    with pytest.raises(UsageError, match="give the text"):
        run_request(TOOLS["mapreduce"], {})


def test_progress_lines_per_participant_and_round() -> None:
    progress = Progress("debate", rounds=3)
    lines = [
        progress.feed(e)
        for e in (
            {"type": "run.started", "participants": ["a", "b", "c"]},
            {"type": "message", "participant": "a", "round": 0},
            {"type": "delta", "participant": "b", "round": 0, "text": "x"},
            {"type": "error", "participant": "b", "message": "rate limited"},
            {"type": "round.finished", "round": 0, "agreement": 0.5},
            {"type": "message", "participant": "a", "round": 1},
        )
    ]
    assert lines == [
        "debate started with 3 participant(s)",
        "round 1/3: 1 of 3 answered (a)",
        None,
        "round 1/3: 1 of 3 answered, 1 failed (b failed: rate limited)",
        "round 1/3: agreement 0.50",
        "round 2/3: 1 of 3 answered (a)",
    ]
    assert progress.count == 5


def test_summary_says_unknown_rather_than_free() -> None:
    line = summary_line({"run_id": "r1", "usage": {"input_tokens": 3, "output_tokens": 4}})
    assert line == "7 tokens · cost unknown (an unpriced model) · run r1"
