"""Reading numbers the way people and models write them, for answer extraction.

"1,234" is 1234 (never 1.234), "-10" keeps its sign, "\\frac{3}{4}" and "3/4" are exact
fractions, "$12.", "50%" and "1.2 x 10^3" are numbers too. Votes compare numbers by
:func:`number_key`, so values equal to 1e-6 relative share a key.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from typing import Final

__all__ = [
    "LATEX_UNWRAP",
    "clean_numeric",
    "lenient_number",
    "normalize_number",
    "number_key",
    "numbers_in",
]

# Numeric keys keep 7 significant digits (equal after rounding to 1e-6 relative), but are
# never coarser than the units digit, so distinct integers -- e.g. off-by-one answers in the
# millions -- never share a key.
_SIG_DIGITS: Final = 7
# Beyond this many digits or exponent a "number" is noise, and str(int) would raise.
_MAX_DIGITS: Final = 1000

_MINUS_SIGNS: Final = str.maketrans(dict.fromkeys("\u2212\u2012\u2013\ufe63\uff0d", "-"))
LATEX_UNWRAP: Final = re.compile(
    r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}"
)
_LATEX_THOUSANDS: Final = re.compile(r"(?<=\d)(?:\{,\}|\\,)(?=\d{3}(?!\d))")
_LATEX_NOISE: Final = re.compile(
    r"\\left|\\right|\\[!,;:]|\\quad|\^\s*\{?\s*\\circ\s*\}?|\u00b0|\\%|%|\\\$|\$|\\displaystyle"
)
_TIMES_TEN: Final = re.compile(
    r"(\d)\s*(?:\\times|\\cdot|\u00d7|\*|x)\s*10\s*\^\s*\{?\s*([-+]?\d+)\s*\}?"
)
_NUM: Final = r"(?:\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER_RE: Final = re.compile(
    rf"(?<![\w.^])(?P<sign>[-+])?(?<![\w.^])(?P<num>{_NUM})(?:[ \t]*/[ \t]*(?P<den>{_NUM}))?"
)
_FRAC_RE: Final = re.compile(
    r"(?P<sign>-\s*)?(?:(?<!\d)(?P<whole>\d+)\s*)?\\frac\s*"
    r"(?:\{(?P<n>[^{}]+)\}|(?P<n1>\d))\s*(?:\{(?P<d>[^{}]+)\}|(?P<d1>\d))"
)
_OPERATOR_AFTER: Final = re.compile(
    r"\s*(?:[-+*/\u00d7\u00f7=^\u00b7]|\\times|\\cdot|[xX](?=\s*[-\d(]))"
)


def _to_fraction(digits: str) -> Fraction | None:
    text = digits.replace(",", "")
    mantissa, _, exponent = text.lower().partition("e")
    if len(mantissa) > _MAX_DIGITS or len(exponent) > 5 or abs(int(exponent or 0)) > _MAX_DIGITS:
        return None
    return Fraction(text)


def _token_value(match: re.Match[str]) -> Fraction | None:
    value = _to_fraction(match["num"])
    if value is not None and match["den"] is not None:
        den = _to_fraction(match["den"])
        value = None if den is None or den == 0 else value / den
    if value is not None and match["sign"] == "-":
        value = -value
    return value


def _render_frac(match: re.Match[str]) -> str:
    """Turn ``\\frac{a}{b}`` into ``a/b`` so the tokenizer sees one number, not two."""
    parts = []
    for text in (match["n"] or match["n1"], match["d"] or match["d1"]):
        inner = _NUMBER_RE.fullmatch(text.strip())
        parts.append(_token_value(inner) if inner else None)
    num, den = parts
    if num is None or den is None or den == 0:
        return match[0]
    value = num / den + int(match["whole"] or 0)  # "2\frac{1}{2}" is a mixed number
    return str(-value if match["sign"] else value)  # Fraction's str is "p/q" or "p"


def clean_numeric(text: str) -> str:
    text = text.translate(_MINUS_SIGNS)
    text = LATEX_UNWRAP.sub(r"\1", text)
    text = _LATEX_THOUSANDS.sub(",", text)
    text = _TIMES_TEN.sub(r"\1e\2", text)
    if "frac" in text:
        text = _FRAC_RE.sub(_render_frac, re.sub(r"\\[dt]frac", r"\\frac", text))
    return _LATEX_NOISE.sub("", text)


def numbers_in(text: str) -> list[tuple[re.Match[str], Fraction]]:
    tokens = ((match, _token_value(match)) for match in _NUMBER_RE.finditer(text))
    return [(match, value) for match, value in tokens if value is not None]


def normalize_number(s: str) -> Fraction | None:
    """Parse a string that states one number, the way people and models write them.

    Strips ``$``, ``%``, units (surrounding words) and thousands separators, keeps the sign
    (ASCII or Unicode minus), and reads decimals, ``3/4``, ``\\frac{3}{4}`` and scientific
    notation exactly. A percent sign is dropped, not divided by 100 (GSM8K convention).
    Strict: ``None`` unless exactly one number remains (after the last ``=``, if any).

    >>> normalize_number("$1,234.50"), normalize_number("-10"), normalize_number("3 or 4")
    (Fraction(2469, 2), Fraction(-10, 1), None)
    """
    text = clean_numeric(s).rsplit("=", 1)[-1]
    found = numbers_in(text)
    return found[0][1] if len(found) == 1 else None


def lenient_number(payload: str) -> Fraction | None:
    """The answer inside a tag that may carry words or working: "42 (6 x 7)", "6 x 7 = 42"."""
    cleaned = clean_numeric(payload)
    found = numbers_in(cleaned)
    for match, value in found:
        if not _OPERATOR_AFTER.match(cleaned, match.end()):
            return value
    return found[-1][1] if found else None


def _floor_log10(magnitude: Fraction) -> int:
    exp = len(str(magnitude.numerator)) - len(str(magnitude.denominator))
    return exp - 1 if magnitude < Fraction(10) ** exp else exp


def number_key(value: Fraction) -> str:
    """The comparison key of a number: equal values give equal keys.

    Rounded (half-even) to 7 significant digits, but never coarser than the units digit.

    >>> number_key(Fraction(1, 3)), number_key(Fraction(3, 10)), number_key(Fraction(-10))
    ('0.3333333', '0.3', '-10')
    """
    if value == 0:
        return "0"
    quantum_exp = min(0, _floor_log10(abs(value)) - _SIG_DIGITS + 1)
    rounded = round(value / Fraction(10) ** quantum_exp)
    if quantum_exp == 0:
        return str(rounded)
    return format(Decimal(rounded).scaleb(quantum_exp).normalize(), "f")
