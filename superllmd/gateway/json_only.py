"""A structured answer's text as it streams, without what a model wrapped around the JSON.

Providers with native structured output answer bare JSON. Others (a local model, an
OpenAI-compatible server that ignores the format) often write ``Here it is: ```json`` before
the value and a closing fence or a remark after it. A reply is unwrapped here, as it
streams (or whole, ``json_alone``, for JSON mode; a schema's answer is sent as it was
validated, ``Done.answer``): nothing is sent
before the value's first ``{`` or ``[`` (the first after an opening fence, when one comes
first; a brace of prose, as in ``{as asked}``, is not a value's), and nothing after the
bracket that closes it. Text with no JSON in it is given back whole at the end, so no
answer is lost.
"""

from __future__ import annotations

__all__ = ["JsonOnly", "json_alone"]

_OPENERS = "{["
# What may follow an opening bracket in JSON: a key or the end in an object; any value or
# the end in an array.
_VALUE_STARTS = {"{": '"}', "[": '"{[]-0123456789'}
_WORDS = ("true", "false", "null")


def _starts_value(opener: str, after: str) -> bool | None:
    """Whether ``after`` (what follows an opener, spaces dropped) can go on a JSON value
    that the opener starts; None while too little of it has come to tell."""
    if not after:
        return None
    if after[0] in _VALUE_STARTS[opener]:
        return True
    if opener == "[":  # [true, ...] is a value; [note] is prose
        for word in _WORDS:
            if word.startswith(after[: len(word)]):
                return None if len(after) <= len(word) else not after[len(word)].isalnum()
    return False


def json_alone(text: str) -> str:
    """A whole reply as its stream would have been sent: the JSON value alone."""
    unwrap = JsonOnly()
    return unwrap.feed(text) + unwrap.finish()


def _first_opener(text: str, start: int = 0) -> int:
    found = [i for i in (text.find(c, start) for c in _OPENERS) if i >= 0]
    return min(found) if found else -1


class JsonOnly:
    """Feed the answer's pieces in order; each call gives what to send of that piece."""

    def __init__(self) -> None:
        self._held = ""  # the text before the value, until the value starts
        self._from = 0  # where in it to look for the value: the openers before are prose
        self._started = False
        self._ended = False
        self._depth = 0
        self._in_string = False
        self._escaped = False

    def feed(self, text: str) -> str:
        if self._ended:
            return ""
        if not self._started:
            self._held += text
            start = self._start()
            if start < 0:
                return ""
            text, self._held, self._started = self._held[start:], "", True
        return self._until_closed(text)

    def finish(self) -> str:
        """What is left to send when the answer ends: all of it, if no value ever started."""
        held, self._held = self._held, ""
        return "" if self._started else held

    def _start(self) -> int:
        """Where the value starts in the held text, or -1 while that cannot be told yet."""
        held = self._held
        fence = held.find("```")
        at = self._from
        while (opener := _first_opener(held, at)) >= 0:
            if 0 <= fence < opener:  # inside a fence: after the line that names a language
                line_end = held.find("\n", fence)
                if line_end < 0:
                    return -1
                if opener < line_end:
                    at = line_end
                    continue
            starts = _starts_value(held[opener], held[opener + 1 :].lstrip())
            if starts is None:
                return -1
            if starts:
                return opener
            at = self._from = opener + 1
        return -1

    def _until_closed(self, text: str) -> str:
        for i, char in enumerate(text):
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif char == "\\":
                    self._escaped = True
                elif char == '"':
                    self._in_string = False
            elif char == '"':
                self._in_string = True
            elif char in _OPENERS:
                self._depth += 1
            elif char in "}]":
                self._depth -= 1
                if self._depth == 0:
                    self._ended = True
                    return text[: i + 1]
        return text
