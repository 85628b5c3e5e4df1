"""Answer extraction and normalisation (ORCHESTRATION.md §1.1, §6.5).

The extractor decides the score, so it is tested on its own: round-trips of rendered
numbers, real GSM8K gold formats, multiple-choice forms, and regressions for the bugs
found in reference debate code.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from superllmd.orchestrator import extract
from superllmd.orchestrator.extract import (
    Answer,
    AnswerType,
    detect_answer_type,
    extract_answer,
    format_instruction,
    is_correct,
    normalize_number,
    normalize_text,
    number_key,
)


def numeric_value(text: str) -> Fraction | str | bool | None:
    answer = extract_answer(text, "numeric")
    return None if answer is None else answer.value


def signed(n: int, body: str) -> str:
    """Put the minus sign in front of a currency symbol, as people write "-$5"."""
    return f"-{body}" if n < 0 else body


# --------------------------------------------------------------------------- round trips

RENDERINGS: dict[str, Callable[[int], str]] = {
    "plain tag": lambda n: f"FINAL ANSWER: {n}",
    "commas": lambda n: f"FINAL ANSWER: {n:,}",
    "dollars": lambda n: "FINAL ANSWER: " + signed(n, f"${abs(n):,}"),
    "dollar after sign": lambda n: f"Total: ${n:,}",
    "percent": lambda n: f"The rate is {n}%",
    "boxed": lambda n: f"So we get \\boxed{{{n}}}",
    "boxed commas": lambda n: f"$\\boxed{{{n:,}}}$",
    "trailing period": lambda n: f"The answer is {n:,}.",
    "tag with extra text": lambda n: (
        f"FINAL ANSWER: {n:,} dollars, because 3 + 4 = 7 and 12 - 5 = 7."
    ),
    "tag with working": lambda n: f"FINAL ANSWER: 2 * 3 = {n}",
    "several numbers": lambda n: f"First 3 + 4 = 7. Then 10 * 2 = 20.\nSo the total is {n:,}.",
    "last tag wins": lambda n: f"FINAL ANSWER: 999999999999\nWait, no.\nFINAL ANSWER: {n}",
    "unicode minus": lambda n: f"FINAL ANSWER: {n}".replace("-", "\u2212"),
    "markdown bold": lambda n: f"**FINAL ANSWER:** {n:,}",
    "answer on next line": lambda n: f"FINAL ANSWER:\n\n{n:,}\n",
    "gsm8k gold": lambda n: f"He pays <<5*2=10>>10 in all.\n#### {n:,}",
}


@pytest.mark.parametrize("render", RENDERINGS.values(), ids=RENDERINGS.keys())
@given(n=st.integers(min_value=-(10**12), max_value=10**12))
@example(n=-10)
@example(n=1234)
@example(n=276_000)
@example(n=0)
def test_rendered_integers_round_trip(render: Callable[[int], str], n: int) -> None:
    assert numeric_value(render(n)) == Fraction(n)


@given(
    d=st.decimals(min_value=Decimal("-1e7"), max_value=Decimal("1e7"), places=3, allow_nan=False)
)
def test_rendered_decimals_round_trip(d: Decimal) -> None:
    assert numeric_value(f"FINAL ANSWER: {d:,f}") == Fraction(d)
    assert numeric_value(f"We get {d:,f}.") == Fraction(d)


@given(
    num=st.integers(min_value=-500, max_value=500),
    den=st.integers(min_value=1, max_value=500),
)
def test_latex_and_slash_fractions_round_trip(num: int, den: int) -> None:
    expected = Fraction(num, den)
    sign = "-" if num < 0 else ""
    assert numeric_value(f"\\boxed{{{sign}\\frac{{{abs(num)}}}{{{den}}}}}") == expected
    assert numeric_value(f"\\boxed{{\\dfrac{{{num}}}{{{den}}}}}") == expected
    assert numeric_value(f"FINAL ANSWER: {num}/{den}") == expected
    assert normalize_number(f"$\\frac{{{num}}}{{{den}}}$") == expected


@given(
    mantissa=st.integers(min_value=-9999, max_value=9999),
    exponent=st.integers(min_value=-30, max_value=30),
)
def test_scientific_notation_round_trips(mantissa: int, exponent: int) -> None:
    expected = Fraction(mantissa) * Fraction(10) ** exponent
    assert numeric_value(f"FINAL ANSWER: {mantissa}e{exponent}") == expected
    assert numeric_value(f"FINAL ANSWER: {mantissa} \\times 10^{{{exponent}}}") == expected


ALL_TYPES: tuple[AnswerType, ...] = ("numeric", "choice", "boolean", "short", "code", "free")


@given(st.text())
def test_extraction_never_raises_and_choice_keys_are_letters(text: str) -> None:
    for answer_type in ALL_TYPES:
        answer = extract_answer(text, answer_type)
        assert answer is None or isinstance(answer, Answer)
    choice = extract_answer(text, "choice")
    assert choice is None or (len(choice.key) == 1 and choice.key in "ABCDEFGHIJ")


# Each of these took 10-20 s before the scans were made linear; a reply is untrusted input.
@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "text",
    ["\\boxed{" * 20_000, " " * 50_000 + "x?", "1" * 30_000, "\\frac{" * 20_000, "word " * 20_000],
    ids=["unclosed boxes", "spaces", "digit run", "unclosed fracs", "words"],
)
def test_adversarial_replies_stay_fast(text: str) -> None:
    for answer_type in ALL_TYPES:
        extract_answer(text, answer_type)
    assert detect_answer_type(text) == "free"
    assert extract_answer(text, "numeric") is None  # 30,000 digits is noise, not a number


# --------------------------------------------------------------------------- GSM8K gold

# 14 golds with thousands separators and 2 negatives: the formats the reference regex
# misread in the 1,319 GSM8K test answers (§0.10, §6.1).
GSM8K_TRICKY_GOLDS = [
    ("#### 1,234", 1234),
    ("#### 276,000", 276_000),
    ("#### 1,000,000", 1_000_000),
    ("#### 3,600", 3600),
    ("#### 10,000", 10_000),
    ("#### 1,080", 1080),
    ("#### 2,125", 2125),
    ("#### 45,000", 45_000),
    ("#### 7,425", 7425),
    ("#### 100,000", 100_000),
    ("#### 1,875", 1875),
    ("#### 20,000", 20_000),
    ("#### 5,600", 5600),
    ("#### 12,500", 12_500),
    ("#### -10", -10),
    ("#### -3", -3),
]


def test_sixteen_tricky_golds_are_fourteen_separators_and_two_negatives() -> None:
    assert len(GSM8K_TRICKY_GOLDS) == 16
    assert sum("," in text for text, _ in GSM8K_TRICKY_GOLDS) == 14
    assert sum(value < 0 for _, value in GSM8K_TRICKY_GOLDS) == 2


@pytest.mark.parametrize(("gold", "expected"), GSM8K_TRICKY_GOLDS)
def test_tricky_gsm8k_golds_parse_exactly(gold: str, expected: int) -> None:
    solution = f"Step 1: 12 * 5 = <<12*5=60>>60.\nStep 2: 60 - 2 = <<60-2=58>>58.\n{gold}"
    assert numeric_value(gold) == Fraction(expected)
    assert numeric_value(solution) == Fraction(expected)
    assert normalize_number(gold.removeprefix("#### ")) == Fraction(expected)
    gold_answer = extract_answer(gold, "numeric")
    assert is_correct(extract_answer(f"FINAL ANSWER: {expected}", "numeric"), gold_answer)


# --------------------------------------------------------------------------- regressions


def test_comma_is_a_thousands_separator_never_a_decimal_point() -> None:
    # composable-models gen_math.py turned "," into "." so "1,234" became 1.234.
    assert normalize_number("1,234") == 1234
    assert normalize_number("1,234") != Fraction("1.234")
    assert numeric_value("\\boxed{1,234}") == 1234
    assert numeric_value("FINAL ANSWER: 1,234,567.5") == Fraction("1234567.5")


def test_minus_sign_is_kept_in_boxed_and_gold() -> None:
    # eval_gsm.py stripped every non-digit from \boxed{}, and its gold regex read -10 as 10.
    assert numeric_value("\\boxed{-10}") == -10
    assert numeric_value("#### -10") == -10
    assert numeric_value("\\boxed{\u221210}") == -10
    assert normalize_number("-$5") == -5


def test_thousands_gold_is_not_read_as_its_last_group() -> None:
    # The gold regex \d+\.?\d* read "276,000" as "000".
    assert numeric_value("#### 276,000") == 276_000
    assert normalize_number("276,000") not in (0, 276, Fraction("276.000"))


def test_unparseable_output_is_an_abstention_never_correct() -> None:
    gold = extract_answer("#### 42", "numeric")
    assert extract_answer("I'm not sure how to solve this.", "numeric") is None
    assert extract_answer("", "numeric") is None
    assert not is_correct(None, gold)
    # A tag that states no number abstains instead of borrowing one from the working.
    assert extract_answer("3 + 4 = 7, so... FINAL ANSWER: cannot be determined", "numeric") is None
    with pytest.raises(ValueError, match="gold"):
        is_correct(gold, None)


# --------------------------------------------------------------------------- keys


@given(st.integers(min_value=-(10**11), max_value=10**11).filter(bool))
def test_tiny_relative_differences_share_a_key(n: int) -> None:
    assert number_key(Fraction(n) * (1 + Fraction(1, 10**12))) == number_key(Fraction(n))


@given(st.integers(), st.integers())
@example(a=12_345_678, b=12_345_679)  # 8 digits: 7 significant alone would merge them
def test_distinct_integers_never_share_a_key(a: int, b: int) -> None:
    assert (number_key(Fraction(a)) == number_key(Fraction(b))) == (a == b)


@pytest.mark.parametrize(
    ("left", "right"),
    [("0.3333333", "\\frac{1}{3}"), ("0.30000000000000004", "0.3"), ("3/4", "0.75")],
)
def test_values_within_a_millionth_compare_equal(left: str, right: str) -> None:
    a, b = extract_answer(left, "numeric"), extract_answer(right, "numeric")
    assert a is not None and b is not None
    assert a.key == b.key


def test_values_further_apart_compare_different() -> None:
    assert number_key(Fraction("0.333")) != number_key(Fraction(1, 3))
    assert number_key(Fraction(1_000_001)) != number_key(Fraction(1_000_000))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12 apples", 12), ("x = 5", 5), ("50%", 50), ("3 + 4 = 7", 7), ("3 or 4", None)],
)
def test_normalize_number_is_strict(text: str, expected: int | None) -> None:
    assert normalize_number(text) == (None if expected is None else Fraction(expected))


# --------------------------------------------------------------------------- choices


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(b)", "B"),
        ("Answer: B", "B"),
        ("B)", "B"),
        ("I think (A)\u2026 final (C)", "C"),
        ("I think (A)... on reflection the final answer is (C).", "C"),
        ("{final answer: (D)}", "D"),
        ("FINAL ANSWER: b", "B"),
        ("Reasoning about (A) and (B).\nFINAL ANSWER: A", "A"),
        ("The answer is **C**.", "C"),
        ("\\boxed{\\text{E}}", "E"),
    ],
)
def test_multiple_choice_forms(text: str, expected: str) -> None:
    answer = extract_answer(text, "choice")
    assert answer is not None and answer.key == expected


@pytest.mark.parametrize("text", ["A cat sat on the mat.", "I have no idea", "f(a) = 3"])
def test_words_and_function_calls_are_not_choices(text: str) -> None:
    assert extract_answer(text, "choice") is None


# --------------------------------------------------------------------------- other kinds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes, because 17 has no divisors.", True),
        ("FINAL ANSWER: No", False),
        ("Let me think. The answer is false.", False),
        ("FINAL ANSWER: true", True),
    ],
)
def test_booleans(text: str, expected: bool) -> None:
    answer = extract_answer(text, "boolean")
    assert answer is not None and answer.value is expected


def test_boolean_without_verdict_abstains() -> None:
    assert extract_answer("It depends on the context.", "boolean") is None
    assert extract_answer("FINAL ANSWER: maybe", "boolean") is None


def test_short_answers_use_squad_normalisation() -> None:
    a = extract_answer("After some thought.\nFINAL ANSWER: The Eiffel Tower.", "short")
    b = extract_answer("eiffel   tower", "short")
    assert a is not None and b is not None
    assert a.key == b.key == "eiffel tower"
    assert normalize_text("An  apple, a day!") == "apple day"


def test_code_takes_last_fenced_block_and_ignores_trailing_space() -> None:
    a = extract_answer("Draft:\n```py\nx = 0\n```\nFinal:\n```python\nx = 1   \n\n```", "code")
    b = extract_answer("x = 1", "code")
    assert a is not None and b is not None
    assert a.key == b.key == "x = 1"


def test_free_text_keys_and_empty_reply() -> None:
    answer = extract_answer("  The sky is BLUE.  ", "free")
    assert answer is not None and answer.key == "sky is blue"
    assert extract_answer("   ", "free") is None


# --------------------------------------------------------------------------- task type


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("What is 17 * 23 + 4?", "numeric"),
        ("How many apples does Tom have left?", "numeric"),
        ("Calculate the area of a 3 by 4 rectangle.", "numeric"),
        ("Which is larger?\n(A) 3/4\n(B) 2/3", "choice"),
        ("Pick one.\nA) red\nB) blue\nC) green", "choice"),
        ("Is 17 a prime number?", "boolean"),
        ("True or false: the sun is a star.", "boolean"),
        ("Write a Python function that reverses a string.", "code"),
        ("Implement binary search.", "code"),
        ("Tell me about the history of Rome.", "free"),
        ("Summarise the meeting on 2024-01-05.", "free"),
    ],
)
def test_detect_answer_type(prompt: str, expected: AnswerType) -> None:
    assert detect_answer_type(prompt) == expected


@pytest.mark.parametrize(
    ("answer_type", "reply", "key"),
    [
        ("numeric", "-12", "-12"),
        ("choice", "b", "B"),
        ("boolean", "yes", "true"),
        ("short", "Paris", "paris"),
    ],
)
def test_format_instruction_is_extractable(answer_type: AnswerType, reply: str, key: str) -> None:
    instruction = format_instruction(answer_type)
    assert instruction.startswith("End your reply with one line: FINAL ANSWER:")
    # A model that echoes the instruction and then follows it is still parsed correctly.
    answer = extract_answer(f"Working...\n{instruction}\nFINAL ANSWER: {reply}", answer_type)
    assert answer is not None and answer.key == key


@pytest.mark.parametrize("answer_type", ["code", "free"])
def test_no_format_instruction_for_unextractable_types(answer_type: AnswerType) -> None:
    assert format_instruction(answer_type) == ""


def test_public_names_are_exported() -> None:
    assert sorted(extract.__all__) == extract.__all__
    for name in extract.__all__:
        assert hasattr(extract, name), name


# --------------------------------------------------------------------------- echoed instructions

_FILLER = st.text(alphabet=st.sampled_from("abcdefghij .,\n"), max_size=40)


@given(
    answer=st.integers(min_value=-(10**6), max_value=10**6),
    before=_FILLER,
    between=_FILLER,
    echo_first=st.booleans(),
)
@example(answer=7, before="", between="\n", echo_first=True)
def test_an_echoed_instruction_is_never_the_answer(
    answer: int, before: str, between: str, echo_first: bool
) -> None:
    """A model that repeats the format line ("... such as -12 or 3.5 ...") before or after
    its answer is read for its answer, never for the instruction's example."""
    echo = extract.format_instruction("numeric")
    said = f"FINAL ANSWER: {answer}"
    parts = [echo, said] if echo_first else [said, echo]
    got = extract_answer(before + parts[0] + between + parts[1], "numeric")
    assert got is not None and got.value == answer


@pytest.mark.parametrize("answer_type", ["numeric", "choice", "boolean", "short"])
def test_a_reply_that_only_echoes_the_instruction_abstains(answer_type: AnswerType) -> None:
    echo = extract.format_instruction(answer_type)
    assert extract_answer(f"{echo}\n", answer_type) is None
    assert extract_answer(f"FINAL ANSWER: {echo}", answer_type) is None
