r"""Answer extraction and normalisation, shared by every voting mode.

The extractor decides the score: reference debate code read
"1,234" as 1.234, dropped minus signs and scored unparseable replies as correct. Here a
reply yields either a normalised :class:`Answer` or ``None`` -- an *abstention*, which never
gets a vote and is never correct (:func:`is_correct`).

Extraction order, stopping at the first hit:

1. an explicit ``FINAL ANSWER:`` tag (the last tag that parses wins);
2. ``\boxed{...}`` (the last one wins; nested braces and ``\frac{a}{b}`` are fine);
3. for choices: ``(X)``, ``Answer: X``, ``X)`` -- whichever comes last in the text;
4. for numbers: the last number in the text, unless a ``FINAL ANSWER`` tag was present
   and did not parse (the model committed to a non-number; guessing one from its working
   would invent a vote).

Example::

    >>> extract_answer("3 x 411 = 1,233, plus 1. FINAL ANSWER: $1,234.", "numeric")
    Answer(raw='$1,234.', key='1234', value=Fraction(1234, 1))
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal

from superllmd.orchestrator.numbers import (
    LATEX_UNWRAP,
    clean_numeric,
    lenient_number,
    normalize_number,
    number_key,
    numbers_in,
)

__all__ = [
    "Answer",
    "AnswerType",
    "detect_answer_type",
    "extract_answer",
    "format_instruction",
    "is_correct",
    "normalize_number",
    "normalize_text",
    "number_key",
]

AnswerType = Literal["numeric", "choice", "boolean", "short", "code", "free"]


@dataclass(frozen=True, slots=True)
class Answer:
    """One extracted answer.

    ``key`` is what votes compare (two answers agree iff their keys are equal); ``value`` is
    the parsed value (a ``Fraction`` for numbers, ``bool`` for yes/no, ``str`` otherwise);
    ``raw`` is the snippet of the reply it came from, for transcripts.
    """

    raw: str
    key: str
    value: Fraction | str | bool


def _numeric_answer(raw: str, value: Fraction | None) -> Answer | None:
    return None if value is None else Answer(raw=raw, key=number_key(value), value=value)


# --------------------------------------------------------------------------- text kinds

_ARTICLES: Final = re.compile(r"\b(?:a|an|the)\b")
_BOOLEANS: Final = {"yes": True, "true": True, "no": False, "false": False}
_BOOL_SAID: Final = re.compile(
    r"\banswer\s*(?:is\s*)?[:\uff1a]?\s*[*_]*(yes|no|true|false)\b", re.I
)


def normalize_text(s: str) -> str:
    """SQuAD-style key: case-fold, drop punctuation and articles, collapse whitespace.

    >>> normalize_text("  The Eiffel-Tower!  ")
    'eiffeltower'
    """
    s = s.casefold()
    s = "".join(
        ch for ch in s if ch not in string.punctuation and unicodedata.category(ch)[0] != "P"
    )
    return " ".join(_ARTICLES.sub(" ", s).split())


def _bool_answer(raw: str) -> Answer | None:
    words = re.findall(r"[a-z]+", raw.casefold())
    if not words or words[0] not in _BOOLEANS:
        return None
    value = _BOOLEANS[words[0]]
    return Answer(raw=raw, key="true" if value else "false", value=value)


def _short_answer(raw: str) -> Answer | None:
    value = raw.strip().strip("*_`\"'{}").strip()
    value = value[:-1] if value.endswith(".") else value
    key = normalize_text(value)
    return Answer(raw=raw, key=key, value=value) if key else None


def _choice_answer(raw: str, letter: str) -> Answer:
    return Answer(raw=raw, key=letter.upper(), value=letter.upper())


_CHOICE_LEAD: Final = re.compile(r"[\s*_(\[{\"']*([A-J])(?![\w'])(?P<rest>.*)", re.S)
_CHOICE_ONLY: Final = re.compile(r"\W*([A-Ja-j])\W*")
_CHOICE_PATTERNS: Final = (
    re.compile(r"(?<!\w)\(([A-Ja-j])\)"),
    re.compile(r"(?<![\w(])([A-J])\)"),
    re.compile(
        r"\b(?:answer|option|choice)\s*(?:is\s*)?[:\uff1a]?\s*[*_]{0,2}\(?([A-Ja-j])\)?[*_]{0,2}"
        r"(?=[ \t]*(?:$|[.,;:!]))",
        re.I | re.M,
    ),
)


def _parse_choice(payload: str) -> Answer | None:
    """A letter inside a tag: "B", "(b)", "C) 42", "B because ..." but not "I think"."""
    if only := _CHOICE_ONLY.fullmatch(payload):
        return _choice_answer(payload, only[1])
    lead = _CHOICE_LEAD.match(payload)
    if lead and not (lead[1] in "AI" and re.match(r"\s+[a-z]", lead["rest"])):
        return _choice_answer(payload, lead[1])
    return _last_choice(payload)


def _last_choice(text: str) -> Answer | None:
    hits = [m for pattern in _CHOICE_PATTERNS for m in pattern.finditer(text)]
    if not hits:
        return None
    last = max(hits, key=lambda m: m.start(1))
    return _choice_answer(last[0], last[1])


# --------------------------------------------------------------------------- extraction

_TAG_RE: Final = re.compile(
    r"final[ \t_-]*answer[*_ \t]*(?:[:\uff1a=]|\bis\b)(?P<payload>[^\n]*)", re.I
)
_FENCE_RE: Final = re.compile(r"```[^\n]*\n(.*?)```", re.S)
_BOX_RE: Final = re.compile(r"\\(?:boxed|fbox)\s*")


def _boxed(text: str) -> list[str]:
    """Contents of every ``\\boxed{...}`` in order, matching nested braces."""
    boxes = list(_BOX_RE.finditer(text))
    if not boxes:
        return []
    closing: dict[int, int] = {}  # one pass, so many unclosed boxes cannot go quadratic
    opened: list[int] = []
    for i, ch in enumerate(text):
        if ch == "{":
            opened.append(i)
        elif ch == "}" and opened:
            closing[opened.pop()] = i
    contents = []
    for box in boxes:
        start = box.end()
        if start in closing:
            contents.append(text[start + 1 : closing[start]])
        elif token := re.match(r"[^\s${]+", text[start:]):  # "\\boxed 5"
            contents.append(token[0])
    return contents


def _tag_payloads(text: str) -> list[str]:
    payloads = []
    for match in _TAG_RE.finditer(text):
        payload = match["payload"].strip(" \t*_:")
        if not payload:  # "FINAL ANSWER:\n42"
            following = [line for line in text[match.end() :].splitlines() if line.strip()]
            payload = following[0].strip() if following else ""
        payloads.append(payload)
    return payloads


def _parse_payload(payload: str, answer_type: AnswerType) -> Answer | None:
    boxed = _boxed(payload)
    if boxed:
        payload = boxed[-1]
    if answer_type == "numeric":
        return _numeric_answer(payload, lenient_number(payload))
    payload = LATEX_UNWRAP.sub(r"\1", payload)
    if answer_type == "choice":
        return _parse_choice(payload)
    if answer_type == "boolean":
        return _bool_answer(payload)
    return _short_answer(payload)


def _fallback(text: str, answer_type: AnswerType) -> Answer | None:
    """Steps 3 and 4 of the extraction order: patterns that need no tag."""
    if answer_type == "numeric":
        found = numbers_in(clean_numeric(text))
        return _numeric_answer(found[-1][0][0], found[-1][1]) if found else None
    if answer_type == "choice":
        if only := _CHOICE_ONLY.fullmatch(text):
            return _choice_answer(text, only[1])
        return _last_choice(text)
    if answer_type == "boolean":
        said = _BOOL_SAID.findall(text)
        return _bool_answer(said[-1] if said else text.strip())
    lines = [line for line in text.strip().splitlines() if line.strip()]
    said = re.findall(r"^\W*(?:the\s+)?answer\s*(?:is|:)\s*(.+)$", text, re.I | re.M)
    if said:
        return _short_answer(said[-1])
    # A bare one-line reply of a few words is the answer itself.
    if len(lines) == 1 and len(lines[0].split()) <= 10:
        return _short_answer(lines[0])
    return None


def extract_answer(text: str, answer_type: AnswerType) -> Answer | None:
    """Extract and normalise the answer in a model reply; ``None`` means abstention.

    ``code`` replies yield the last fenced block (or the whole reply); the key ignores
    trailing spaces and blank lines. ``free`` replies yield the whole reply with a SQuAD key;
    free text is compared with :func:`superllmd.orchestrator.agreement.text_report`.

    >>> extract_answer("I think (A)... on reflection, final (C)", "choice").key
    'C'
    """
    if answer_type in _PLACEHOLDERS:
        text = strip_echoed_instructions(text)
    if answer_type == "code":
        blocks = _FENCE_RE.findall(text)
        code = (blocks[-1] if blocks else text).strip("\n")
        key = "\n".join(line.rstrip() for line in code.splitlines() if line.strip())
        return Answer(raw=code, key=key, value=code) if key else None
    if answer_type == "free":
        key = normalize_text(text)
        return Answer(raw=text, key=key, value=text.strip()) if key else None
    payloads = _tag_payloads(text)
    for payload in reversed(payloads):
        if (answer := _parse_payload(payload, answer_type)) is not None:
            return answer
    for content in reversed(_boxed(text)):
        if (answer := _parse_payload(content, answer_type)) is not None:
            return answer
    if payloads and answer_type != "choice":
        return None  # a tag was given but said no number/yes/no: abstain, do not guess
    return _fallback(text, answer_type)


def is_correct(prediction: Answer | None, gold: Answer | None) -> bool:
    """Score one prediction; an abstention (``None``) is never correct.

    A gold answer that does not parse is a data error, not a free point, so it raises.
    """
    if gold is None:
        raise ValueError("gold answer did not parse; fix the data instead of scoring it")
    return prediction is not None and prediction.key == gold.key


# --------------------------------------------------------------------------- task type

_CODE_HINT: Final = re.compile(
    r"```|\bimplement\b|\b(?:write|create|fix|debug|refactor)\b[^.?!\n]*"
    r"\b(?:code|function|program|script|class|method|regex|algorithm|sql)\b",
    re.I,
)
_OPTION_RE: Final = re.compile(r"\(([A-J])\)|(?:^|\s)([A-J])[).:]\s", re.M)
_YES_NO_RE: Final = re.compile(r"\b(?:true or false|yes or no)\b", re.I)
_AUX_START: Final = re.compile(
    r"(?:is|are|am|was|were|does|do|did|can|could|will|would|should|shall|has|have|had|"
    r"may|might|must)\b",
    re.I,
)
_NUMERIC_HINT: Final = re.compile(
    r"\bhow\s+(?:many|much|long|far|old|often)\b|\b(?:compute|calculate|evaluate)\b|"
    r"\bwhat\s+is\s+(?:the\s+)?(?:sum|product|difference|quotient|total|value|number|result|"
    r"average|mean|remainder|area|perimeter|volume|probability|percentage)\b|"
    r"\d\s*(?:[-+*/\u00d7\u00f7^]\s*\(?\s*-?\d+(?:\.\d+)?\s*\)?\s*)+",
    re.I,
)
_DATE_RE: Final = re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b")


def detect_answer_type(prompt: str) -> AnswerType:
    """Guess the task type when ``--answer-type`` is not given (a cheap heuristic).

    Checked in order: code, choice (options "(A) ... (B)" or "A) / B." lines), boolean
    (the last question starts with is/does/can/... or says "true or false"), numeric
    ("how many", "compute", "what is the sum", or an arithmetic expression), else free.
    ``short`` is never guessed: it needs the flag.

    >>> detect_answer_type("What is 17 * 23 + 4?")
    'numeric'
    """
    if _CODE_HINT.search(prompt):
        return "code"
    letters = {a or b for a, b in _OPTION_RE.findall(prompt)}
    if {"A", "B"} <= letters:
        return "choice"
    last_question = re.split(r"[.?!\n]", prompt[: prompt.rfind("?")])[-1] if "?" in prompt else ""
    if _YES_NO_RE.search(prompt) or _AUX_START.match(last_question.strip()):
        return "boolean"
    if _NUMERIC_HINT.search(_DATE_RE.sub(" ", prompt)):
        return "numeric"
    return "free"


_PLACEHOLDERS: Final[dict[AnswerType, str]] = {
    "numeric": "<number> (a plain number such as -12 or 3.5, no units or thousands separators)",
    "choice": "<letter> (one option letter, e.g. B)",
    "boolean": "<yes or no>",
    "short": "<a few words, no explanation>",
}


def _loose(literal: str) -> str:
    """A regex for ``literal`` that allows any run of whitespace where it has a space."""
    return r"\s+".join(re.escape(word) for word in literal.split())


# Longest first, so a whole echoed instruction goes before a bare placeholder is looked for.
_ECHO_RE: Final = re.compile(
    "|".join(
        [
            *(
                _loose(f"End your reply with one line: FINAL ANSWER: {p}") + r"\.?"
                for p in _PLACEHOLDERS.values()
            ),
            *(r"(?:final\s*answer\s*:\s*)?" + _loose(p) for p in _PLACEHOLDERS.values()),
        ]
    ),
    re.I,
)


def strip_echoed_instructions(text: str) -> str:
    """The reply without any of our format instructions a model repeated back: their
    examples ("such as -12") and placeholders ("<number>") are not its answer.

    >>> strip_echoed_instructions("FINAL ANSWER: <yes or no>\\nFINAL ANSWER: yes")
    '\\nFINAL ANSWER: yes'
    """
    return _ECHO_RE.sub("", text)


def format_instruction(answer_type: AnswerType) -> str:
    """The line appended to the prompt so the answer can be extracted; empty for code/free."""
    placeholder = _PLACEHOLDERS.get(answer_type)
    return f"End your reply with one line: FINAL ANSWER: {placeholder}." if placeholder else ""
