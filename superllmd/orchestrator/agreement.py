"""Agreement measures, stopping rules and the closed forms the tests check against.

Every mode attaches an agreement report to its output:
:func:`vote_report` for extractable answers (exact match on normalised keys) and
:func:`text_report` for free text (pairwise similarity and the medoid). Abstentions are
reported, never voted. :func:`beta_confidence` is the Adaptive-Consistency stopping rule
in closed form, so no SciPy is needed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal

from superllmd.orchestrator.extract import Answer

__all__ = [
    "DEFAULT_STOP_THRESHOLD",
    "HIGH_SIMILARITY",
    "MODERATE_SIMILARITY",
    "TextLabel",
    "TextReport",
    "VoteLabel",
    "VoteReport",
    "beta_confidence",
    "cosine",
    "lexical_similarity",
    "majority_accuracy",
    "should_stop_sampling",
    "text_report",
    "vote_report",
    "wilson_interval",
]

VoteLabel = Literal["unanimous", "strong", "plurality", "split", "none"]
TextLabel = Literal["high", "moderate", "low", "none"]

#: Adaptive-Consistency's default: three unanimous votes (0.9375) are not enough, four are.
DEFAULT_STOP_THRESHOLD: Final = 0.95
#: Text-agreement labels. Lexical overlap of two paraphrases rarely passes 0.5, so "high"
#: means near-identical wording and "moderate" means a shared core; use embeddings (cosine)
#: when meaning matters more than wording.
HIGH_SIMILARITY: Final = 0.8
MODERATE_SIMILARITY: Final = 0.5


# --------------------------------------------------------------------------- voting


def beta_confidence(top: int, runner_up: int) -> float:
    """P(the leading answer is the true majority | counts), under a uniform Beta prior.

    Equals ``P(Binomial(a + b + 1, 1/2) <= a)`` for ``a = top``, ``b = runner_up``, computed
    exactly. Equal counts give 0.5 (no evidence either way).

    >>> beta_confidence(3, 0), beta_confidence(4, 0), beta_confidence(2, 1)
    (0.9375, 0.96875, 0.6875)
    """
    if top < 0 or runner_up < 0:
        raise ValueError("vote counts cannot be negative")
    n = top + runner_up + 1
    return float(Fraction(sum(math.comb(n, k) for k in range(top + 1)), 2**n))


def should_stop_sampling(counts: Sequence[int], threshold: float = DEFAULT_STOP_THRESHOLD) -> bool:
    """The Beta rule: stop once the top two vote counts give ``beta_confidence >= threshold``.

    ``counts`` are the votes per distinct answer, in any order; abstentions are not counts.

    >>> should_stop_sampling([3], 0.95), should_stop_sampling([4], 0.95)
    (False, True)
    """
    if any(c < 0 for c in counts):
        raise ValueError("vote counts cannot be negative")
    ranked = [*sorted(counts, reverse=True), 0, 0]
    if ranked[0] == 0:
        return False
    return beta_confidence(ranked[0], ranked[1]) >= threshold


@dataclass(frozen=True, slots=True)
class VoteReport:
    """Exact-match agreement among extracted answers (one per voter, ``None`` = abstained).

    ``distribution`` maps each answer key to the labels that gave it, most votes first, ties
    in order of first appearance; ``winner`` is its first key, so a tie is broken by first
    appearance (callers shuffle voters with a seed, or hand ``tied`` to a judge).
    ``answers`` holds the first :class:`Answer` seen per key, for its raw text and value.
    ``margin`` is a *count* (top votes minus runner-up votes); ``plurality_share`` is the
    top count over valid answers. ``agreement`` is the headline figure that thresholds use:
    the plurality share (4, 4, 5 -> 0.67; 1.0 for a single valid answer, 0.0 for none).
    ``mean_pairwise_agreement`` is the share of agreeing pairs among valid answers (4, 4, 5
    -> 0.33), reported beside it under its own name.
    """

    n_valid: int
    n_abstain: int
    distribution: dict[str, list[str]]
    answers: dict[str, Answer]
    winner: str | None
    tied: list[str]
    plurality_share: float
    margin: int
    beta_confidence: float
    label: VoteLabel
    dissenters: list[str]
    mean_pairwise_agreement: float

    @property
    def agreement(self) -> float:
        """The headline agreement: the share of valid answers that match the winner."""
        return self.plurality_share

    @property
    def abstain_rate(self) -> float:
        """Share of voters who gave no parseable answer (reported, never voted)."""
        total = self.n_valid + self.n_abstain
        return self.n_abstain / total if total else 0.0


def _vote_label(counts: list[int]) -> VoteLabel:
    if not counts:
        return "none"
    if len(counts) > 1 and counts[0] == counts[1]:
        return "split"
    if len(counts) == 1:
        return "unanimous"
    return "strong" if 3 * counts[0] >= 2 * sum(counts) else "plurality"


def vote_report(answers: Sequence[Answer | None], labels: Sequence[str]) -> VoteReport:
    """Tally extracted answers by key.

    >>> from fractions import Fraction
    >>> seven = Answer(raw="7", key="7", value=Fraction(7))
    >>> r = vote_report([seven, seven, None], ["a", "b", "c"])
    >>> r.winner, r.label, r.n_abstain, r.dissenters
    ('7', 'unanimous', 1, ['c'])
    """
    if len(answers) != len(labels):
        raise ValueError(f"{len(answers)} answers but {len(labels)} labels")
    grouped: dict[str, list[str]] = {}
    first: dict[str, Answer] = {}
    for answer, label in zip(answers, labels, strict=True):
        if answer is not None:
            grouped.setdefault(answer.key, []).append(label)
            first.setdefault(answer.key, answer)
    # sorted() is stable, so equal counts keep their first-appearance order.
    distribution = dict(sorted(grouped.items(), key=lambda item: -len(item[1])))
    counts = [len(voters) for voters in distribution.values()]
    n_valid = sum(counts)
    top = counts[0] if counts else 0
    runner_up = counts[1] if len(counts) > 1 else 0
    winner = next(iter(distribution), None)
    pairs = n_valid * (n_valid - 1) // 2
    agreeing = sum(c * (c - 1) // 2 for c in counts)
    return VoteReport(
        n_valid=n_valid,
        n_abstain=len(answers) - n_valid,
        distribution=distribution,
        answers={key: first[key] for key in distribution},
        winner=winner,
        tied=[key for key, voters in distribution.items() if len(voters) == top],
        plurality_share=top / n_valid if n_valid else 0.0,
        margin=top - runner_up,
        beta_confidence=beta_confidence(top, runner_up),
        label=_vote_label(counts),
        dissenters=[
            label
            for answer, label in zip(answers, labels, strict=True)
            if answer is None or answer.key != winner
        ],
        mean_pairwise_agreement=agreeing / pairs if pairs else float(n_valid == 1),
    )


# --------------------------------------------------------------------------- free text

_WORD_RE: Final = re.compile(r"\w+")


def _tokens(text: str) -> list[str]:
    return _WORD_RE.findall(text.casefold())


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Longest common subsequence length, bit-parallel (Allison-Dix / Hyyrö).

    One big-int step per token of ``b`` instead of a len(a) x len(b) table, so long
    answers stay cheap in pure Python.
    """
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    row = full
    for token in b:
        match = row & masks.get(token, 0)
        row = ((row + match) | (row - match)) & full
    return len(a) - row.bit_count()


def lexical_similarity(a: str, b: str) -> float:
    """Word-overlap similarity in [0, 1]: the mean of token-set Jaccard and ROUGE-L F1.

    Jaccard rewards shared vocabulary; the LCS F-measure rewards shared word order. Both
    are symmetric, 1.0 for the same words in the same order (case-insensitive) and 0.0 for
    no shared word. Two empty texts are identical (1.0).

    >>> lexical_similarity("the cat sat", "the cat sat"), lexical_similarity("a b", "c d")
    (1.0, 0.0)
    """
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return 1.0 if ta == tb else 0.0
    sa, sb = set(ta), set(tb)
    jaccard = len(sa & sb) / len(sa | sb)
    rouge_l = 2 * _lcs_length(ta, tb) / (len(ta) + len(tb))
    return (jaccard + rouge_l) / 2


def cosine(u: Sequence[float], v: Sequence[float]) -> float:
    """Cosine similarity of two vectors, in [-1, 1]; 0.0 if either is all zeros."""
    if len(u) != len(v):
        raise ValueError(f"vectors differ in length: {len(u)} != {len(v)}")
    norm = math.sqrt(math.fsum(x * x for x in u)) * math.sqrt(math.fsum(y * y for y in v))
    if norm == 0:
        return 0.0
    return max(-1.0, min(1.0, math.fsum(x * y for x, y in zip(u, v, strict=True)) / norm))


@dataclass(frozen=True, slots=True)
class TextReport:
    """Agreement among free-text answers (no extractable answer).

    ``similarity[i][j]`` is the pairwise similarity (diagonal 1.0). The medoid is the text
    with the highest mean similarity to the others (ties: lowest index); it is the
    consensus pick, chosen without any reference answer. ``mean_pairwise_similarity`` is the
    mean over distinct pairs: 1.0 for a single text, 0.0 for none. ``label`` is "high"
    (>= ``HIGH_SIMILARITY``), "moderate" (>= ``MODERATE_SIMILARITY``), "low", or "none".
    """

    labels: list[str]
    similarity: list[list[float]]
    mean_similarity: list[float]
    medoid_index: int | None
    medoid_label: str | None
    mean_pairwise_similarity: float
    label: TextLabel

    @property
    def agreement(self) -> float:
        """Alias of ``mean_pairwise_similarity``, to read like :class:`VoteReport`."""
        return self.mean_pairwise_similarity


def text_report(
    texts: Sequence[str],
    labels: Sequence[str],
    similarity: Callable[[str, str], float] | None = None,
    vectors: Sequence[Sequence[float]] | None = None,
) -> TextReport:
    """Pairwise similarity and medoid of free-text answers.

    Uses cosine on ``vectors`` (embeddings, one per text) when given, else ``similarity``,
    else :func:`lexical_similarity`. The function is called once per unordered pair, so it
    should be symmetric. Scores are clamped to [0, 1]: an anti-correlated embedding counts
    as no agreement rather than negative agreement.

    >>> r = text_report(["red apple", "a red apple", "blue sky"], ["x", "y", "z"])
    >>> r.medoid_label
    'x'
    """
    n = len(texts)
    if len(labels) != n or (vectors is not None and len(vectors) != n):
        raise ValueError("texts, labels and vectors must have the same length")
    if vectors is not None:
        vecs = vectors

        def score(i: int, j: int) -> float:
            return cosine(vecs[i], vecs[j])
    else:
        pair_similarity = similarity or lexical_similarity

        def score(i: int, j: int) -> float:
            return pair_similarity(texts[i], texts[j])

    matrix = [[1.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            matrix[i][j] = matrix[j][i] = max(0.0, min(1.0, score(i, j)))
    means = [
        math.fsum(row[:i] + row[i + 1 :]) / (n - 1) if n > 1 else 1.0
        for i, row in enumerate(matrix)
    ]
    medoid = max(range(n), key=lambda i: (means[i], -i)) if n else None
    pairwise = math.fsum(means) / n if n else 0.0
    label: TextLabel
    if n == 0:
        label = "none"
    elif pairwise >= HIGH_SIMILARITY:
        label = "high"
    elif pairwise >= MODERATE_SIMILARITY:
        label = "moderate"
    else:
        label = "low"
    return TextReport(
        labels=list(labels),
        similarity=matrix,
        mean_similarity=means,
        medoid_index=medoid,
        medoid_label=labels[medoid] if medoid is not None else None,
        mean_pairwise_similarity=pairwise,
        label=label,
    )


# --------------------------------------------------------------------------- statistics


def majority_accuracy(p: float, k: int) -> float:
    """Accuracy of a majority vote of ``k`` independent voters, each right with prob. ``p``.

    ``sum C(k, j) p^j (1-p)^(k-j)`` over ``j > k/2``; for even ``k`` a tie counts 1/2. This is
    the closed form for binary or shared errors: voting helps when p > 1/2 and hurts
    when p < 1/2.

    >>> round(majority_accuracy(0.67, 3), 3), round(majority_accuracy(0.40, 15), 3)
    (0.745, 0.213)
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if k < 1:
        raise ValueError(f"need at least one voter, got {k}")
    terms = [math.comb(k, j) * p**j * (1 - p) ** (k - j) for j in range(k + 1)]
    wins = math.fsum(terms[j] for j in range(k + 1) if 2 * j > k)
    return wins + (terms[k // 2] / 2 if k % 2 == 0 else 0.0)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion (95% by default), as ``(low, high)``.

    Behaves at 0% and 100% where the normal interval does not; ``n == 0`` gives (0, 1).

    >>> tuple(round(x, 3) for x in wilson_interval(8, 10))
    (0.49, 0.943)
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return (0.0, 1.0)
    phat = successes / n
    denominator = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denominator
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denominator
    # The exact bounds at 0 and n are 0 and 1; floating point would leave crumbs like 3e-17.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)
