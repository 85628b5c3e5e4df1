"""The ``superllm chat`` REPL: one conversation in the ledger, a turn per line.

Lines are read with the stdlib ``readline`` (history kept in the state folder). A turn
streams its answer as it arrives; Ctrl-C cancels that answer and returns to the prompt,
Ctrl-C at the prompt clears the line, and Ctrl-D (or ``/exit``) leaves. Commands::

    !multi        type several lines, end with a line holding only !end
    /model NAME   ask another model from the next turn on
    /system TEXT  set the system prompt (/system alone clears it)
    /save FILE    write the conversation so far as Markdown
    /cost         tokens and cost of this chat so far
    /help         this list
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from superllm_cli.money import cost_of, cost_text
from superllm_cli.render import strip_controls

if TYPE_CHECKING:
    from superllm_cli._calls import Call
    from superllmd.protocol import RunResult

__all__ = ["HELP", "ChatSession"]

HELP = (
    "!multi (several lines, end with !end), /model NAME, /system TEXT, /save FILE, /cost, "
    "/exit; Ctrl-C cancels an answer, Ctrl-D leaves"
)


@dataclass
class ChatSession:
    """State of one chat: what the next turn sends, and what the turns so far cost."""

    client: Any
    model: str | None = None
    system: str | None = None
    conversation_id: str | None = None
    continue_last: bool = False
    label: str | None = None
    turns: list[tuple[str, str]] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    known_cost_usd: float = 0.0  # the priced calls' sum
    unpriced_calls: int = 0  # and how many had no price (the money rule, money.py)
    write: Callable[[str], object] = sys.stdout.write

    def _request(self, prompt: str) -> Call[RunResult]:
        """The turn as the SDK's ask call: this conversation, or the last one to continue."""
        from superllm_cli import _calls

        return _calls.ask(
            prompt,
            model=self.model,
            system=self.system,
            label=self.label,
            conversation_id=self.conversation_id,
            continue_last=self.conversation_id is None and self.continue_last,
        )

    def turn(self, prompt: str) -> None:
        """Send one turn and stream its answer; KeyboardInterrupt cancels only this answer."""
        from superllmd.errors import from_dict

        events = self.client.run_events(self._request(prompt))
        text = ""
        result: dict[str, Any] = {}
        try:
            for event in events:
                if event.get("type") == "delta":
                    piece = strip_controls(event["text"])
                    text += piece
                    self.write(piece)
                    sys.stdout.flush()
                elif event.get("type") == "run.finished":
                    result = event["result"]
        except KeyboardInterrupt:
            events.close()  # drops the connection: the daemon cancels the run
            self.write("\n(answer cancelled)\n")
            return
        self.write("\n" if text and not text.endswith("\n") else "")
        if result.get("error"):
            self.write(f"superllm: {from_dict(result['error']).message}\n")
            return
        self._settle(prompt, result.get("answer") or text, result)

    def _settle(self, prompt: str, answer: str, result: dict[str, Any]) -> None:
        self.turns.append((prompt, answer))
        self.conversation_id = result.get("conversation_id") or self.conversation_id
        usage = result.get("usage") or {}
        self.input_tokens += int(usage.get("input_tokens", 0))
        self.output_tokens += int(usage.get("output_tokens", 0))
        known, unpriced = cost_of(result)
        self.known_cost_usd += known
        self.unpriced_calls += unpriced

    def cost_line(self) -> str:
        cost = cost_text(self.known_cost_usd, self.unpriced_calls)
        return (
            f"{len(self.turns)} turns · {self.input_tokens} in / {self.output_tokens} out "
            f"tokens · {cost}" + (f" · conversation {self.conversation_id}" if self.turns else "")
        )

    def markdown(self) -> str:
        parts = [f"# superllm chat {self.conversation_id or ''}".rstrip(), ""]
        if self.system:
            parts += ["## system", self.system, ""]
        for prompt, answer in self.turns:
            parts += ["## you", prompt, "", "## answer", answer, ""]
        return "\n".join(parts)

    def command(self, line: str) -> bool:
        """Handle a /command; False when the chat should end."""
        name, _, arg = line[1:].partition(" ")
        arg = arg.strip()
        if name in ("exit", "quit"):
            return False
        if name == "model" and arg:
            self.model = arg
            self.write(f"model: {arg}\n")
        elif name == "system":
            self.system = arg or None
            self.write(f"system prompt: {arg}\n" if arg else "system prompt cleared\n")
        elif name == "save" and arg:
            self._save(arg)
        elif name == "cost":
            self.write(self.cost_line() + "\n")
        else:
            self.write(HELP + "\n")
        return True

    def _save(self, path: str) -> None:
        try:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(self.markdown())
        except OSError as exc:
            self.write(f"superllm: cannot write {path}: {exc.strerror}\n")
            return
        self.write(f"saved {len(self.turns)} turns to {path}\n")
