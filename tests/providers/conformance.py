"""The conformance suite, now shipped as ``superllmd.testing.conformance``.

Kept as a re-export for the per-dialect test modules; new code (and plugin authors) import
from the package::

    from superllmd.testing.conformance import CHECKS, Dialect, check_id, run_check
"""

from __future__ import annotations

from superllmd.testing.conformance import (
    ANSWER,
    CHECKS,
    KEY,
    KEY_ENV,
    SYSTEM,
    USER,
    Check,
    Dialect,
    FakeVendor,
    Harness,
    check_id,
    expected_usage,
    run_check,
    standard_request,
)

__all__ = [
    "ANSWER",
    "CHECKS",
    "KEY",
    "KEY_ENV",
    "SYSTEM",
    "USER",
    "Check",
    "Dialect",
    "FakeVendor",
    "Harness",
    "check_id",
    "expected_usage",
    "run_check",
    "standard_request",
]
