"""Agreement reports, stopping rules and closed forms (ORCHESTRATION.md §1.2, §1.3, §6.3)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from superllmd.orchestrator import agreement
from superllmd.orchestrator.agreement import (
    beta_confidence,
    cosine,
    lexical_similarity,
    majority_accuracy,
    should_stop_sampling,
    text_report,
    vote_report,
    wilson_interval,
)
from superllmd.orchestrator.extract import Answer, extract_answer


def num(text: str) -> Answer | None:
    return extract_answer(text, "numeric")


def letter(key: str) -> Answer:
    return Answer(raw=key, key=key, value=key)


# --------------------------------------------------------------------------- Beta rule

BETA_TABLE = [
    (3, 0, 0.9375),
    (4, 0, 0.96875),
    (5, 0, 0.984375),
    (2, 1, 0.6875),
    (3, 1, 0.8125),
    (4, 1, 0.890625),
    (5, 1, 0.9375),
    (6, 1, 0.96484375),
]


@pytest.mark.parametrize(("top", "runner_up", "expected"), BETA_TABLE)
def test_beta_confidence_table(top: int, runner_up: int, expected: float) -> None:
    assert beta_confidence(top, runner_up) == expected


def beta_tail_by_integration(a: int, b: int) -> Fraction:
    """∫_½^1 x^a (1-x)^b dx / B(a+1, b+1), integrated exactly term by term (§1.3)."""
    tail = Fraction(0)
    for j in range(b + 1):
        power = a + j + 1  # (1-x)^b = Σ C(b,j) (-x)^j, and ∫_½^1 x^n dx = (1 - ½^n) / n
        tail += math.comb(b, j) * (-1) ** j * (1 - Fraction(1, 2**power)) / power
    beta = Fraction(math.factorial(a) * math.factorial(b), math.factorial(a + b + 1))
    return tail / beta


@given(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=40))
def test_beta_confidence_equals_the_posterior_integral(a: int, b: int) -> None:
    assert beta_confidence(a, b) == pytest.approx(float(beta_tail_by_integration(a, b)))


# Kept small: beyond about 50 votes the float rounds to 1.0 and cannot grow.
@given(st.integers(min_value=0, max_value=20), st.integers(min_value=0, max_value=20))
def test_beta_confidence_grows_with_the_lead(a: int, b: int) -> None:
    assert beta_confidence(a + 1, b) > beta_confidence(a, b)
    assert beta_confidence(a, a) == 0.5


def test_three_unanimous_votes_are_not_enough_at_the_default_threshold() -> None:
    assert not should_stop_sampling([3])
    assert should_stop_sampling([4])
    assert not should_stop_sampling([1, 5])  # 5-1 is 0.9375
    assert should_stop_sampling([1, 6, 0])  # 6-1 is 0.965, order does not matter
    assert not should_stop_sampling([])
    assert should_stop_sampling([4, 1], threshold=0.89)


def stop_point(votes: str, threshold: float = 0.95) -> int | None:
    """Samples drawn before the Beta rule stops, feeding one vote at a time."""
    counts: dict[str, int] = {}
    for drawn, vote in enumerate(votes, start=1):
        counts[vote] = counts.get(vote, 0) + 1
        if should_stop_sampling(list(counts.values()), threshold):
            return drawn
    return None


@pytest.mark.parametrize(
    ("votes", "expected"),
    [("AAAAAA", 4), ("ABAAAAAA", 7), ("ABABAB", None), ("BAAAAA", None), ("BAAAAAA", 7)],
)
def test_beta_stop_points(votes: str, expected: int | None) -> None:
    assert stop_point(votes) == expected


def test_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError):
        beta_confidence(-1, 0)
    with pytest.raises(ValueError):
        should_stop_sampling([3, -1], 0.9)


# --------------------------------------------------------------------------- closed forms

MAJORITY_TABLE = {
    0.67: (0.670, 0.745, 0.795, 0.832, 0.860, 0.916),
    0.85: (0.850, 0.939, 0.973, 0.988, 0.994, 0.999),
    0.40: (0.400, 0.352, 0.317, 0.290, 0.267, 0.213),
}


@pytest.mark.parametrize(("p", "row"), MAJORITY_TABLE.items())
def test_majority_accuracy_table(p: float, row: tuple[float, ...]) -> None:
    got = tuple(round(majority_accuracy(p, k), 3) for k in (1, 3, 5, 7, 9, 15))
    assert got == row


@given(st.floats(min_value=0, max_value=1), st.integers(min_value=1, max_value=30))
def test_majority_accuracy_bounds_and_ties(p: float, k: int) -> None:
    value = majority_accuracy(p, k)
    assert -1e-12 <= value <= 1 + 1e-12
    # Voting helps above 1/2 and hurts below it; a coin stays a coin.
    if k >= 3 and 0.55 < p < 0.99:
        assert value > p
    if k >= 3 and 0.01 < p < 0.45:
        assert value < p
    assert majority_accuracy(0.5, k) == pytest.approx(0.5)
    # An even panel with ties split is no better than the odd panel below it.
    if k % 2 == 0:
        assert value == pytest.approx(majority_accuracy(p, k - 1))


def test_majority_accuracy_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        majority_accuracy(1.5, 3)
    with pytest.raises(ValueError):
        majority_accuracy(0.5, 0)


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.49, 0.943)
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


@given(st.integers(min_value=1, max_value=5000), st.data())
def test_wilson_interval_contains_the_estimate(n: int, data: st.DataObject) -> None:
    successes = data.draw(st.integers(min_value=0, max_value=n))
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0
    wide_low, wide_high = wilson_interval(successes, n, z=2.58)  # 99% contains 95%
    assert wide_low <= low and high <= wide_high


# --------------------------------------------------------------------------- vote report


def test_unanimous_with_abstention_excluded_from_votes() -> None:
    replies = ["FINAL ANSWER: 1,234", "\\boxed{1234}", "I cannot solve this."]
    report = vote_report([num(r) for r in replies], ["gpt", "claude", "gemini"])
    assert (report.n_valid, report.n_abstain) == (2, 1)
    assert report.winner == "1234"
    assert report.distribution == {"1234": ["gpt", "claude"]}
    assert report.label == "unanimous"
    assert report.dissenters == ["gemini"]
    assert report.plurality_share == 1.0
    assert report.beta_confidence == 0.875  # 2-0, the abstention is not a vote
    assert report.agreement == 1.0 == report.mean_pairwise_agreement
    assert report.abstain_rate == pytest.approx(1 / 3)


def test_strong_plurality_split_and_none_labels() -> None:
    a, b, c = letter("A"), letter("B"), letter("C")
    strong = vote_report([b, a, a], ["x", "y", "z"])
    assert (strong.label, strong.winner, strong.margin) == ("strong", "A", 1)
    assert strong.dissenters == ["x"]
    # The headline is the plurality share (2 of 3 agree with the winner); the pairwise mean
    # (one agreeing pair of three) is kept beside it under its own name.
    assert strong.agreement == pytest.approx(2 / 3) == strong.plurality_share
    assert strong.mean_pairwise_agreement == pytest.approx(1 / 3)
    plurality = vote_report([a, a, b, c], ["w", "x", "y", "z"])
    assert (plurality.label, plurality.plurality_share) == ("plurality", 0.5)
    assert plurality.distribution == {"A": ["w", "x"], "B": ["y"], "C": ["z"]}
    none = vote_report([None, None], ["x", "y"])
    assert (none.label, none.winner, none.tied, none.agreement) == ("none", None, [], 0.0)
    assert none.dissenters == ["x", "y"]


def test_tie_is_split_and_broken_by_first_appearance() -> None:
    a, b = letter("A"), letter("B")
    report = vote_report([b, a, a, None, b], ["v", "w", "x", "y", "z"])
    assert report.label == "split"
    assert report.tied == ["B", "A"]
    assert report.winner == "B"
    assert report.margin == 0
    assert report.beta_confidence == 0.5
    assert list(report.distribution) == ["B", "A"]
    assert report.dissenters == ["w", "x", "y"]


def test_distribution_orders_by_count_then_first_appearance() -> None:
    a, b, c = letter("A"), letter("B"), letter("C")
    report = vote_report([c, b, a, a, b, a], list("123456"))
    assert list(report.distribution) == ["A", "B", "C"]
    assert report.answers["A"] is a
    assert report.margin == 1


def test_vote_report_rejects_mismatched_labels() -> None:
    with pytest.raises(ValueError):
        vote_report([letter("A")], ["x", "y"])


@given(st.lists(st.one_of(st.none(), st.sampled_from("ABC").map(letter)), max_size=12))
def test_vote_report_invariants(answers: list[Answer | None]) -> None:
    labels = [f"p{i}" for i in range(len(answers))]
    report = vote_report(answers, labels)
    counts = [len(voters) for voters in report.distribution.values()]
    assert report.n_valid + report.n_abstain == len(answers)
    assert sum(counts) == report.n_valid == sum(a is not None for a in answers)
    assert counts == sorted(counts, reverse=True)
    assert 0.0 <= report.agreement <= 1.0
    if report.n_valid:
        assert report.winner is not None
        assert len(report.dissenters) == len(answers) - counts[0]
        assert (report.agreement == 1.0) == (report.label == "unanimous")
        assert report.agreement == report.plurality_share == counts[0] / report.n_valid
        assert (report.mean_pairwise_agreement == 1.0) == (report.label == "unanimous")
        # A share of pairs never exceeds the share of the largest group.
        assert report.mean_pairwise_agreement <= report.agreement + 1e-12


# --------------------------------------------------------------------------- similarity


def lcs_table(a: list[str], b: list[str]) -> int:
    """Textbook LCS dynamic programme, to check the bit-parallel one."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = (
                table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
            )
    return table[-1][-1]


words = st.lists(st.sampled_from(["the", "cat", "sat", "on", "a", "mat", "dog"]), max_size=14)


@given(words, words)
def test_lexical_similarity_matches_jaccard_plus_rouge_l(a: list[str], b: list[str]) -> None:
    if not a or not b:
        expected = 1.0 if a == b else 0.0
    else:
        jaccard = len(set(a) & set(b)) / len(set(a) | set(b))
        expected = (jaccard + 2 * lcs_table(a, b) / (len(a) + len(b))) / 2
    assert lexical_similarity(" ".join(a), " ".join(b)) == pytest.approx(expected)


@given(st.text(), st.text())
def test_lexical_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    assert lexical_similarity(a, b) == lexical_similarity(b, a)
    assert 0.0 <= lexical_similarity(a, b) <= 1.0
    assert lexical_similarity(a, a) == 1.0


def test_lexical_similarity_hand_computed() -> None:
    # sets share 4 of 6 words (Jaccard 2/3); LCS 5 of 6+6 tokens (F = 5/6).
    assert lexical_similarity("The cat sat on the mat", "the cat lay on the mat") == pytest.approx(
        0.75
    )
    assert lexical_similarity("red green", "blue yellow") == 0.0


def test_cosine() -> None:
    assert cosine([1, 0], [0, 2]) == 0.0
    assert cosine([1, 2], [2, 4]) == pytest.approx(1.0)
    assert cosine([1, 2], [-1, -2]) == pytest.approx(-1.0)
    assert cosine([0, 0], [1, 1]) == 0.0
    with pytest.raises(ValueError):
        cosine([1], [1, 2])


# --------------------------------------------------------------------------- text report


def test_text_report_medoid_on_hand_made_answers() -> None:
    texts = [
        "Take the train to Paris, then a bus.",
        "The fastest route is the train to Paris, then a bus.",
        "Train to Paris, then the bus, is fastest.",
        "Bananas are rich in potassium.",
    ]
    report = text_report(texts, ["a", "b", "c", "d"])
    assert report.medoid_index == 1
    assert report.medoid_label == "b"
    assert min(range(4), key=lambda i: report.mean_similarity[i]) == 3  # the outlier
    assert report.similarity[0][3] == report.similarity[3][0] == 0.0
    assert all(report.similarity[i][i] == 1.0 for i in range(4))
    assert report.label == "low"


def test_text_report_with_custom_similarity_and_vectors() -> None:
    def closeness(a: str, b: str) -> float:
        return 1 / (1 + abs(float(a) - float(b)))

    report = text_report(["1", "2", "3", "10"], list("wxyz"), similarity=closeness)
    assert report.medoid_index == 1
    vectors = [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 0.0]]
    by_vector = text_report(["", "", "", ""], list("wxyz"), vectors=vectors)
    assert by_vector.medoid_label == "x"
    assert by_vector.similarity[0][3] == 0.0  # cosine -1 is clamped to no agreement


def test_text_report_ties_edge_cases_and_labels() -> None:
    same = text_report(["same words"] * 3, ["x", "y", "z"])
    assert (same.medoid_index, same.agreement, same.label) == (0, 1.0, "high")
    single = text_report(["only one"], ["x"])
    assert (single.medoid_label, single.mean_pairwise_similarity) == ("x", 1.0)
    empty = text_report([], [])
    assert (empty.medoid_index, empty.label, empty.agreement) == (None, "none", 0.0)
    with pytest.raises(ValueError):
        text_report(["a"], ["x", "y"])


@given(st.lists(st.text(max_size=40), min_size=2, max_size=6))
def test_text_report_is_symmetric_and_medoid_maximises_mean(texts: list[str]) -> None:
    report = text_report(texts, [str(i) for i in range(len(texts))])
    n = len(texts)
    assert all(
        report.similarity[i][j] == report.similarity[j][i] for i in range(n) for j in range(n)
    )
    assert report.medoid_index is not None
    assert report.mean_similarity[report.medoid_index] == max(report.mean_similarity)
    assert 0.0 <= report.agreement <= 1.0


def test_public_names_are_exported() -> None:
    assert sorted(agreement.__all__) == agreement.__all__
    for name in agreement.__all__:
        assert hasattr(agreement, name), name
