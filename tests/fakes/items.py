"""Synthetic arithmetic items for the fake agents (ORCHESTRATION.md §6.1).

Du et al.'s generator ``a+b*c+d-e*f`` with integer operands, seeded; gold answers computed
exactly with ``Fraction`` by a tiny parser (never ``eval``); a multiple-choice rendering
with distractors from typical errors. :func:`parse_item` is how a fake agent reads an item
back out of whatever prompt it was sent.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from fractions import Fraction

from superllmd.orchestrator.extract import number_key

__all__ = ["LETTERS", "Item", "arithmetic_items", "evaluate", "parse_item", "seeded"]

LETTERS = "ABCD"


def seeded(*parts: object) -> random.Random:
    """A Random seeded by SHA-256 of the parts joined with ``|`` (stable across runs, unlike
    Python's ``hash()``)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


_EXPR = re.compile(r"\d+(?:\s*[-+*]\s*\d+){2,}")
_OPTION = re.compile(r"^\(([A-D])\)\s*(-?\d+)\s*$", re.M)


def evaluate(expression: str, *, precedence: bool = True) -> Fraction:
    """Value of ``a+b*c-...`` (non-negative integers, + - *); never ``eval``.

    ``precedence=False`` works strictly left to right: the classic misconception.

    >>> evaluate("2+3*4"), evaluate("2+3*4", precedence=False)
    (Fraction(14, 1), Fraction(20, 1))
    """
    tokens = re.findall(r"\d+|[-+*]", expression)
    if not precedence:
        value = Fraction(int(tokens[0]))
        for op, num in zip(tokens[1::2], tokens[2::2], strict=True):
            n = Fraction(int(num))
            value = value + n if op == "+" else value - n if op == "-" else value * n
        return value
    total, term, sign = Fraction(0), Fraction(int(tokens[0])), 1
    for op, num in zip(tokens[1::2], tokens[2::2], strict=True):
        if op == "*":
            term *= int(num)
        else:
            total += sign * term
            term, sign = Fraction(int(num)), 1 if op == "+" else -1
    return total + sign * term


@dataclass(frozen=True)
class Item:
    """One synthetic question; ``options`` set for a multiple-choice rendering."""

    expression: str
    options: tuple[Fraction, ...] | None = None

    @property
    def id(self) -> str:
        return self.expression

    @property
    def gold(self) -> Fraction:
        return evaluate(self.expression)

    @property
    def gold_key(self) -> str:
        if self.options is None:
            return number_key(self.gold)
        return LETTERS[self.options.index(self.gold)]

    @property
    def prompt(self) -> str:
        if self.options is None:
            return (
                f"What is the result of {self.expression}? "
                f"Make sure to state your answer at the end of the response."
            )
        lines = "\n".join(f"({LETTERS[i]}) {v}" for i, v in enumerate(self.options))
        return f"What is the value of {self.expression}?\n{lines}"


def arithmetic_items(n: int, seed: int = 0, *, high: int = 30, choice: bool = False) -> list[Item]:
    """Du et al.'s ``a+b*c+d-e*f`` items, operands in [0, high), seeded.

    Multiple-choice items get the gold answer and three distractors from typical errors:
    left-to-right evaluation, a sign error, off by one.
    """
    rng = seeded("items", seed, high, choice)
    items = []
    for _ in range(n):
        a, b, c, d, e, f = (rng.randrange(high) for _ in range(6))
        expression = f"{a}+{b}*{c}+{d}-{e}*{f}"
        if not choice:
            items.append(Item(expression))
            continue
        gold = evaluate(expression)
        options = [gold]
        for wrong in (evaluate(expression, precedence=False), -gold, gold + 1, gold - 1, gold + 2):
            if wrong not in options and len(options) < 4:
                options.append(wrong)
        rng.shuffle(options)
        items.append(Item(expression, tuple(options)))
    return items


def parse_item(text: str) -> Item | None:
    """The item a prompt asks about (the first expression in it), as the fake reads it."""
    match = _EXPR.search(text)
    if match is None:
        return None
    options = _OPTION.findall(text[match.end() :])[:4]
    values = tuple(Fraction(int(v)) for _, v in options) if len(options) == 4 else None
    return Item(re.sub(r"\s+", "", match.group(0)), values)
