"""Conversations, context fragments and attachments: what a run is given besides its prompt.

Every run belongs to a conversation: a new one, the last one (``superllm ask -c``) or a named
one (``--cid``). The daemon keeps the recent ones hot in memory and rebuilds an older one
from the ledger's messages, so ``-c`` works across daemon restarts. Only text stored in the
ledger survives a restart: with ``[daemon] log_prompts = false`` a conversation lives in
memory only.

A fragment (``-f PATH``) is a text the CLI sends whole; it goes before the prompt and is
stored once by its SHA-256, however many runs use it. An attachment (``-a PATH``) is an
image, sent only to models that take images.

Example (what a route does before building its run)::

    prepared = await state.conversations.prepare(body)
    ctx = RunContext("ask", {**body, "prompt": prepared.prompt}, targets, caller,
                     history=prepared.history, conversation_id=prepared.conversation_id)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from superllmd.errors import UsageError
from superllmd.ids import random_hex
from superllmd.ledger import history
from superllmd.ledger.base import Backend, Statement
from superllmd.orchestrator.hooks import RunInfo
from superllmd.providers.base import Attachment, Message
from superllmd.providers.registry import Target

__all__ = [
    "Conversations",
    "Prepared",
    "PromptTooLarge",
    "check_attachments",
    "check_prompt_size",
    "fragment_hash",
]

HOT = 64  # conversations kept in memory
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
MAX_IMAGE_BYTES = 20 * 1024 * 1024


def fragment_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_conversation_id() -> str:
    return f"c{int(time.time() * 1000):x}{random_hex(4)}"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A run's context: the prompt as sent (fragments first), and the history before it."""

    conversation_id: str
    prompt: str
    user_prompt: str
    history: tuple[Message, ...]
    fragments: tuple[str, ...]  # SHA-256 of each fragment, in order
    fragment_texts: tuple[str, ...]
    attachments: tuple[Attachment, ...]
    # The model the conversation is held with: what a continued turn uses unless the request
    # names one (the route sets it to the model it resolved, and the turn records it).
    model: str | None = None


class Conversations:
    def __init__(self, ledger: Backend | None, *, hot: int = HOT) -> None:
        self.ledger = ledger
        self._hot: OrderedDict[str, list[Message]] = OrderedDict()
        self._models: dict[str, str] = {}  # conversation id -> its model, for the hot ones
        # conversation id -> the gateway token holding it (None: the socket's user), and each
        # holder's last conversation: a token may continue only its own (``owner``).
        self._owners: dict[str, str | None] = {}
        self._max = hot
        self._last: dict[str | None, str] = {}

    async def prepare(self, body: Mapping[str, Any], owner: str | None = None) -> Prepared:
        """Resolve the conversation, fold fragments into the prompt, check attachments.

        ``owner`` is the caller's gateway token (None on the socket): ``continue_last`` picks
        that holder's last conversation, and a ``conversation_id`` held by another is unknown
        to it. Raises UsageError for an unknown ``conversation_id`` or a bad attachment.
        """
        cid = body.get("conversation_id")
        if not cid and body.get("continue_last"):
            cid = await self._last_id(owner)
        history_: tuple[Message, ...] = ()
        model: str | None = None
        if cid and owner is not None and await self._owner_of(cid) != owner:
            # Another holder's conversation is "no conversation" to this token: its id
            # must not even be confirmed, nor its messages reach this run.
            raise UsageError(f"no conversation {cid!r}; a token continues only its own")
        if body.get("messages") is not None:  # the caller keeps the chat (the gateways)
            history_ = tuple(_turn(t) for t in body["messages"])
            cid = cid or new_conversation_id()
        elif cid:
            history_ = tuple(await self._load(cid))
            model = await self._model_of(cid)
        else:
            cid = new_conversation_id()
        texts = tuple(t for t in body.get("fragments") or () if t)
        prompt = "\n\n".join([*texts, body["prompt"]])
        return Prepared(
            conversation_id=cid,
            prompt=prompt,
            user_prompt=body["prompt"],
            history=history_,
            fragments=tuple(fragment_hash(t) for t in texts),
            fragment_texts=texts,
            attachments=tuple(_attachment(a) for a in body.get("attachments") or ()),
            model=model,
        )

    async def _model_of(self, cid: str) -> str | None:
        known = self._models.get(cid)
        if known is not None or self.ledger is None:
            return known
        return await self.ledger.read(lambda c: history.conversation_model(c, cid))

    async def _last_id(self, owner: str | None) -> str | None:
        if (known := self._last.get(owner)) is not None:
            return known
        if self.ledger is None:
            return None
        return await self.ledger.read(lambda c: history.last_conversation(c, owner))

    async def _owner_of(self, cid: str) -> str | None:
        if cid in self._owners:
            return self._owners[cid]
        if self.ledger is None:
            return None
        await self.ledger.barrier()
        (owner,) = await self.ledger.read(lambda c: history.conversation_owner(c, cid))
        return owner

    async def _load(self, cid: str) -> list[Message]:
        hot = self._hot.get(cid)
        if hot is not None:
            self._hot.move_to_end(cid)
            return list(hot)
        stored = None
        if self.ledger is not None:
            await self.ledger.barrier()  # a turn that just finished is on its way to disk
            stored = await self.ledger.read(lambda c: history.conversation_messages(c, cid))
        if stored is None:
            raise UsageError(
                f"no conversation {cid!r}; `superllm log` shows each run's conversation id"
            )
        if any(content is None for _, content in stored):
            raise UsageError(
                f"conversation {cid!r} cannot be continued: its text was not kept "
                "([daemon] log_prompts = false) and the daemon has restarted since"
            )
        messages = [Message(role, content or "") for role, content in stored]  # type: ignore[arg-type]
        self._remember(cid, messages)
        return list(messages)

    def _remember(self, cid: str, messages: list[Message]) -> None:
        self._hot[cid] = messages
        self._hot.move_to_end(cid)
        while len(self._hot) > self._max:
            gone, _ = self._hot.popitem(last=False)
            self._models.pop(gone, None)
            self._owners.pop(gone, None)

    def forget(self, cid: str) -> None:
        """Drop a deleted conversation from memory, so ``-c`` cannot bring it back."""
        self._hot.pop(cid, None)
        self._models.pop(cid, None)
        self._owners.pop(cid, None)
        for owner in [o for o, last in self._last.items() if last == cid]:
            del self._last[owner]

    def record(
        self, run: RunInfo, prepared: Any, answer: str | None, keep_text: bool
    ) -> Sequence[Statement]:
        """Take a finished turn: remember it, and return the ledger rows that store it.

        A run that produced no answer adds nothing to its conversation.
        """
        cid = run.conversation_id
        if not cid or answer is None:
            return ()
        user = prepared.prompt if prepared is not None else ""
        # Titled by what the user typed, not by the fragments that go before it.
        title = prepared.user_prompt if prepared is not None else ""
        turn = [Message("user", user), Message("assistant", answer)]
        known = self._hot.get(cid)
        if known is None and prepared is not None:
            known = list(prepared.history)
        model = getattr(prepared, "model", None)
        self._owners.setdefault(cid, run.token)  # its first run's holder keeps it
        self._remember(cid, [*(known or []), *turn])
        if model is not None:
            self._models[cid] = model
        self._last[run.token] = cid
        now = time.time()
        rows: list[Statement] = [
            (
                "INSERT INTO conversations (id, created, updated, mode, model, label, title) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "updated = excluded.updated, model = COALESCE(excluded.model, conversations.model)",
                (cid, now, now, run.mode, model, run.label, title[:80] if keep_text else None),
            )
        ]
        # The turn's text is its run's prompt (after its fragments) and answer, which the run
        # row written with these stores: the messages refer to it (stored once, migration 5).
        from_run = keep_text and prepared is not None
        for message in turn:
            content = message.content if keep_text and not from_run else None
            rows.append(
                (
                    "INSERT INTO messages (conversation_id, run_id, time, role, content, "
                    "from_run) VALUES (?, ?, ?, ?, ?, ?)",
                    (cid, run.run_id, now, message.role, content, int(from_run)),
                )
            )
        return rows


def _turn(raw: Mapping[str, Any]) -> Message:
    from superllmd.orchestrator.tooluse import message_of

    images = tuple(_attachment(a) for a in raw.get("attachments") or ())
    return message_of(raw, images)


def _attachment(raw: Mapping[str, str]) -> Attachment:
    media_type = (raw.get("media_type") or "").lower()
    name = raw.get("name") or "the attachment"
    if media_type not in IMAGE_TYPES:
        raise UsageError(
            f"{name}: -a takes images ({', '.join(sorted(IMAGE_TYPES))}), not {media_type!r}"
        )
    data = raw.get("data") or ""
    try:
        size = len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        raise UsageError(f"{name}: the attachment is not valid base64") from None
    if size > MAX_IMAGE_BYTES:
        raise UsageError(f"{name}: images up to {MAX_IMAGE_BYTES // 2**20} MiB, not {size}")
    return Attachment(media_type, data)


class PromptTooLarge(UsageError):
    """A run's prompt is bigger than ``daemon.max_prompt_mb``."""

    http_status = 413


def check_prompt_size(prepared: Prepared, system: str | None, limit_mb: float) -> None:
    """Refuse, before any call and before anything is stored, a run whose text (prompt,
    fragments, system prompt and the history sent with it) is over ``limit_mb``."""
    texts = [prepared.prompt, system or "", *(m.content for m in prepared.history)]
    size = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)
    if size > limit_mb * 1024 * 1024:
        raise PromptTooLarge(
            f"the prompt is {_size(size)}, more than daemon.max_prompt_mb "
            f"({limit_mb:g}); send less (`superllm mapreduce` splits a long input), or raise "
            "it with `superllm config set daemon.max_prompt_mb N`"
        )


def _size(n: int) -> str:
    return f"{n / 1024:.0f} kB" if n < 1024 * 1024 else f"{n / 1048576:.1f} MB"


def check_attachments(prepared: Prepared, targets: Sequence[Target]) -> None:
    """Refuse, naming them, the models that cannot take the run's images."""
    if not prepared.attachments and not any(m.attachments for m in prepared.history):
        return
    refusing = [
        t.name
        for t in targets
        if not (t.provider.capabilities(t.model).vision and t.provider.takes_attachments)
    ]
    if refusing:
        raise UsageError(
            f"{', '.join(refusing)} cannot take images (-a); pick a model with vision "
            "(superllm models --capability vision)"
        )
