"""Prompt templates for consensus and debate, in one place so they can be read and tuned.

Each template that a model sees in a special role (judge, aggregator, reviewer, chairman,
debater revising its answer) opens with a fixed first sentence, exported as a ``*_HEAD``
constant: transcripts can be searched for it, and the fake agents in the tests recognise
the role from it exactly as a real model would, by reading the prompt.

Identity hygiene: templates only ever receive anonymised
labels ("Response A"), never provider or model names; :func:`responses_block` also clips
each response so one verbose model cannot push the others out of a judge's context.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from superllmd.orchestrator.extract import AnswerType, format_instruction

__all__ = [
    "CHAIR_HEAD",
    "JSON_RETRY",
    "MAX_SHOWN_CHARS",
    "PICK_HEAD",
    "RANK_HEAD",
    "SYNTH_HEAD",
    "TIE_INSTRUCTION",
    "UPDATE_HEAD",
    "USC_INSTRUCTION",
    "chair_prompt",
    "clip",
    "pick_prompt",
    "question_prompt",
    "rank_prompt",
    "responses_block",
    "synth_prompt",
    "update_prompt",
]

#: A shown response longer than this keeps its head and its tail (where the final-answer
#: line is): a cheap summary, the final answer plus the steps that lead to it.
MAX_SHOWN_CHARS: Final = 2000

PICK_HEAD: Final = "You are judging candidate responses to a question."
RANK_HEAD: Final = "You are reviewing anonymous responses to a question."
SYNTH_HEAD: Final = "You have been given several responses to the question below."
CHAIR_HEAD: Final = "You are the chair of a council that answered the question below."
UPDATE_HEAD: Final = "These are the latest answers from the other agents:"

#: Universal Self-Consistency (Chen et al. 2023): pick the answer most responses support.
USC_INSTRUCTION: Final = (
    "Evaluate the responses and select the one that is most consistent with the others, "
    "that is, whose final answer is supported by the majority of the responses."
)
TIE_INSTRUCTION: Final = (
    "The responses reach different final answers with equal support. Check their reasoning "
    "step by step and select the response whose final answer is correct."
)
JSON_RETRY: Final = (
    "That reply could not be used: {problem}. Reply again with only the JSON object, no other text."
)


def clip(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """``text`` cut to about ``limit`` characters, keeping the start and the end."""
    text = text.strip()
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half].rstrip()}\n[...]\n{text[-half:].lstrip()}"


def responses_block(labelled: Sequence[tuple[str, str]]) -> str:
    """``Response A:`` headers, one per (label, text), each text clipped."""
    return "\n\n".join(f"{label}:\n{clip(text)}" for label, text in labelled)


def question_prompt(prompt: str, answer_type: AnswerType) -> str:
    """The user's prompt, with the final-answer instruction for extractable types."""
    instruction = format_instruction(answer_type)
    return f"{prompt}\n\n{instruction}" if instruction else prompt


def pick_prompt(question: str, labelled: Sequence[tuple[str, str]], instruction: str) -> str:
    """Ask a judge to choose one response, answering in JSON (validated, never eval'd)."""
    labels = ", ".join(label for label, _ in labelled)
    return (
        f"{PICK_HEAD} {instruction}\n\n"
        f"Question:\n{question}\n\n"
        f"{responses_block(labelled)}\n\n"
        f'Reply with only a JSON object: {{"choice": "<one of: {labels}>", '
        f'"reason": "<one sentence>"}}'
    )


def rank_prompt(question: str, labelled: Sequence[tuple[str, str]]) -> str:
    """Ask one council member to rank every response (llm-council stage 2, in JSON)."""
    return (
        f"{RANK_HEAD} Evaluate each response for correctness and insight, then rank them "
        f"from best to worst. Judge the content only; the order shown means nothing.\n\n"
        f"Question:\n{question}\n\n"
        f"{responses_block(labelled)}\n\n"
        f'Reply with only a JSON object: {{"ranking": ["Response X", ...]}}, listing every '
        f"response exactly once, best first."
    )


def synth_prompt(
    question: str,
    labelled: Sequence[tuple[str, str]],
    answer_type: AnswerType,
    summary: str,
) -> str:
    """The MoA aggregate-and-synthesise instruction (one aggregation layer)."""
    instruction = format_instruction(answer_type)
    return (
        f"{SYNTH_HEAD} Synthesise them into a single, high-quality answer. Evaluate them "
        f"critically: some of the information may be biased or wrong, so do not simply "
        f"copy one or average them; correct what is wrong and keep what is well supported.\n"
        f"{summary}\n\n"
        f"Question:\n{question}\n\n"
        f"{responses_block(labelled)}\n\n"
        f"Write the final answer to the question. {instruction}"
    ).rstrip()


def chair_prompt(
    question: str,
    labelled: Sequence[tuple[str, str]],
    ranking: Sequence[str],
    answer_type: AnswerType,
) -> str:
    """The chairman's brief (llm-council stage 3), with labels only, never model names."""
    instruction = format_instruction(answer_type)
    ranked = ", ".join(ranking) if ranking else "not available"
    return (
        f"{CHAIR_HEAD} The members answered independently, then ranked each other's "
        f"responses anonymously.\n"
        f"Peer ranking (best first): {ranked}\n\n"
        f"Question:\n{question}\n\n"
        f"{responses_block(labelled)}\n\n"
        f"Write the council's final answer, drawing on the best responses and correcting "
        f"their errors. {instruction}"
    ).rstrip()


def update_prompt(labelled: Sequence[tuple[str, str]], answer_type: AnswerType) -> str:
    """The debate revision prompt.

    It asks for a specific error before any change, because agents otherwise drift to the
    majority whether or not it is right (Wynn et al. 2025).
    """
    instruction = format_instruction(answer_type) or "End with your complete final answer."
    return (
        f"{UPDATE_HEAD}\n\n{responses_block(labelled)}\n\n"
        f"Check their reasoning and yours step by step. Change your answer only if you can "
        f"point to a specific error in your reasoning; agreement with the majority is not a "
        f"reason to change. {instruction}"
    )
