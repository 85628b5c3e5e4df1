"""``python -m superllmd.testing.plugin_check``: what `providers install` runs after installing."""

from __future__ import annotations

import subprocess
import sys

from superllmd.testing.plugin_check import check_distribution, main


def test_a_missing_distribution_and_one_without_entry_points_fail() -> None:
    assert check_distribution("superllm-provider-not-installed") == [
        {
            "check": "installed",
            "ok": False,
            "detail": "no distribution named superllm-provider-not-installed is installed",
        }
    ]
    results = check_distribution("pytest")  # installed, but no superllm.providers entry point
    assert [r["ok"] for r in results] == [True, False]
    assert "declares no entry point in superllm.providers" in str(results[1]["detail"])


def test_built_in_kinds_are_refused_and_the_command_line_says_so() -> None:
    # superllm-cli declares the built-in kinds: a plugin may not take their names.
    results = check_distribution("superllm-cli")
    assert results[0]["ok"] and any("built-in kind" in str(r["detail"]) for r in results)
    done = subprocess.run(
        [sys.executable, "-m", "superllmd.testing.plugin_check", "pytest"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "ok   installed",
        "FAIL entry points: declares no entry point in superllm.providers",
    ]
    assert main([]) == 2
