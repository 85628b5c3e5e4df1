"""Error messages read as sentences: never a doubled period.

A message that quotes another one (``f"{exc.message}. Try again"``) doubles the period when
the quoted message ends with its own, so the source is scanned for that pattern and for
literal doubled periods, and the one error tree tidies whatever comes from outside.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest

from superllmd.errors import ConfigError, ProviderError, SuperllmError, from_dict

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.glob("superllmd/**/*.py"), *ROOT.glob("superllm_cli/**/*.py")])
DOUBLED = re.compile(r"(?<=[^\s.])\.\s?\.(?=\s|$)")
#: Formatted values that hold a whole message (which may end with a period of its own).
QUOTES_A_MESSAGE = re.compile(r"(?:\bexc\b|\berr\b|\berror\b|message|\bwhy\b|\breason\b)")


def _findings(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and DOUBLED.search(node.value)
        ):
            found.append(f"{path.name}:{node.lineno}: {node.value!r}")
        if isinstance(node, ast.JoinedStr):
            parts = node.values
            for before, after in itertools.pairwise(parts):
                if (
                    isinstance(before, ast.FormattedValue)
                    and isinstance(after, ast.Constant)
                    and isinstance(after.value, str)
                    and after.value.startswith(".")
                    and not after.value.startswith("..")
                    and QUOTES_A_MESSAGE.search(ast.unparse(before.value))
                ):
                    found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_message_in_the_source_can_double_its_period() -> None:
    found = [f for path in SOURCES for f in _findings(path)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("raw", "tidy"),
    [
        ("the key is wrong.. Fix it.", "the key is wrong. Fix it."),
        ("server said: bad model.. try another", "server said: bad model. try another"),
        ("ends twice..", "ends twice."),
        ("an ellipsis... stays", "an ellipsis... stays"),
        ("paths like ../x and 0.5 stay", "paths like ../x and 0.5 stay"),
    ],
)
def test_the_error_tree_tidies_a_doubled_period(raw: str, tidy: str) -> None:
    assert SuperllmError(raw).message == tidy
    assert str(ProviderError(raw)) == tidy
    assert from_dict({"code": "config", "message": raw}).message == tidy


def test_a_quoted_message_ending_in_a_period_reads_once() -> None:
    inner = ConfigError("providers.x.kind is unknown.")
    outer = ConfigError(f"{inner.message}. Fix config.toml and try again.")
    assert ".." not in outer.message
