"""json_only.JsonOnly: a streamed structured answer loses what a model wrapped around the
JSON, however its text is cut into pieces."""

from __future__ import annotations

import itertools
import json

import pytest

from superllmd.gateway.json_only import JsonOnly

VALUE = '{"name": "a } ] \\" {", "list": [1, {"b": []}], "n": null}'


def _through(text: str, cuts: list[int]) -> str:
    unwrap = JsonOnly()
    bounds = [0, *cuts, len(text)]
    sent = "".join(unwrap.feed(text[a:b]) for a, b in itertools.pairwise(bounds))
    return sent + unwrap.finish()


@pytest.mark.parametrize(
    "reply",
    [
        VALUE,
        f"  {VALUE}\n",
        f"Here it is:\n```json\n{VALUE}\n```",
        f"Sure {{as asked}}:\n```json\n{VALUE}\n```\nAnything else?",
        f"The answer {VALUE} -- hope that helps {{really}}.",
        f"[note] [nullable fields] {VALUE}",
    ],
)
def test_the_value_alone_wherever_the_pieces_are_cut(reply: str) -> None:
    for cut in range(len(reply) + 1):
        assert json.loads(_through(reply, [cut])) == json.loads(VALUE), cut
    assert json.loads(_through(reply, list(range(1, len(reply))))) == json.loads(VALUE)


def test_an_array_is_a_value_too() -> None:
    assert _through("```\n[1, [2], 3]\n```", [4, 9]) == "[1, [2], 3]"


def test_an_array_of_words_is_a_value() -> None:
    assert _through("Here: [ true, null]", [8, 12, 15]) == "[ true, null]"
    assert _through("[falsey] [false]", [3, 6]) == "[false]"


def test_text_with_no_json_is_given_back_whole() -> None:
    prose = "Certainly! Here is what you asked for."
    assert _through(prose, [3, 10]) == prose
