"""A short run of bench/soak.py in CI: every request that reached a fake provider is a ledger
row, the flapping provider's circuit opened and closed again, and fds did not grow."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def _soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.soak
def test_a_short_soak_keeps_the_ledger_equal_to_what_was_served() -> None:
    figures = _soak().soak(duration=20, workers=4, every=5, phase_s=2)
    assert figures["served"] > 50, figures
    assert figures["rows"] == figures["served"], figures
    # Every kind of load ran, and every fault of the flapping provider was hit.
    assert {"ask", "chain", "consensus", "debate", "cancel", "kill"} <= set(figures["runs"])
    assert not [k for k in figures["runs"] if "failed" in k], figures["runs"]
    assert {"ok", "429", "5xx", "stall", "disconnect"} <= set(figures["flap_by_phase"])
    assert figures["circuits"]["flap"]["trips"] >= 1
    assert figures["fds_end"] <= figures["fds_warm"] + 16, figures
