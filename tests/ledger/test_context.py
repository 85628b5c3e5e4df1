"""What a run is given besides its prompt: history, fragments, images -- and where they go."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from superllmd.config import ProviderSettings
from superllmd.errors import UsageError
from superllmd.ledger.conversations import Conversations, check_attachments, fragment_hash
from superllmd.orchestrator import ask
from superllmd.orchestrator.context import RunContext, run_mode
from superllmd.orchestrator.run import Caller
from superllmd.protocol import Event
from superllmd.providers.base import (
    Attachment,
    Capabilities,
    ChatRequest,
    Completion,
    Message,
    Provider,
    StreamItem,
    TokenUsage,
)
from superllmd.providers.registry import Target

IMAGE = {"name": "dot.png", "media_type": "image/png", "data": base64.b64encode(b"png").decode()}


class Seeing(Provider):
    """A provider whose dialect sends images, for a model with vision."""

    takes_attachments = True
    seen: list[ChatRequest]

    async def complete(self, request: ChatRequest) -> Completion:
        self.seen = [*getattr(self, "seen", []), request]
        return Completion("seen", TokenUsage(1, 1))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        nothing: tuple[StreamItem, ...] = ()
        for item in nothing:
            yield item

    def capabilities(self, model: str) -> Capabilities:
        return Capabilities(vision=model == "eyes")


def _target(model: str) -> Target:
    return Target(Seeing("seeing", ProviderSettings()), model)


async def _drain(events: AsyncIterator[Event]) -> list[Event]:
    return [e async for e in events]


def _prepare(body: dict[str, Any]) -> Any:
    return asyncio.run(Conversations(None).prepare({"prompt": "q", **body}))


def test_fragments_go_first_and_are_named_by_hash() -> None:
    prepared = _prepare({"fragments": ["alpha", "", "beta"]})
    assert prepared.prompt == "alpha\n\nbeta\n\nq"
    assert prepared.user_prompt == "q"
    assert prepared.fragments == (fragment_hash("alpha"), fragment_hash("beta"))


@pytest.mark.parametrize(
    ("attachment", "message"),
    [
        ({**IMAGE, "media_type": "text/plain"}, "takes images"),
        ({**IMAGE, "data": "not base64!"}, "not valid base64"),
    ],
)
def test_bad_attachments_are_refused(attachment: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _prepare({"attachments": [attachment]})


def test_images_go_only_to_models_that_take_them() -> None:
    prepared = _prepare({"attachments": [IMAGE]})
    check_attachments(prepared, [_target("eyes")])
    with pytest.raises(UsageError, match="seeing/blind cannot take images"):
        check_attachments(prepared, [_target("eyes"), _target("blind")])
    target = _target("eyes")
    ctx = RunContext(
        "ask",
        {"prompt": "q", "system": "s", "stream": False},
        [target],
        Caller(),
        history=[Message("user", "before"), Message("assistant", "answer")],
        attachments=prepared.attachments,
        single=True,
    )
    events = asyncio.run(_drain(run_mode(ctx, ask.run)))
    assert events[-1]["type"] == "run.finished" and events[-1]["result"]["answer"] == "seen"
    (sent,) = cast(Seeing, target.provider).seen
    assert [(m.role, m.content) for m in sent.messages] == [
        ("system", "s"),
        ("user", "before"),
        ("assistant", "answer"),
        ("user", "q"),
    ]
    assert sent.messages[-1].attachments == (Attachment("image/png", IMAGE["data"]),)


def test_every_call_of_a_mode_gets_the_history_and_images() -> None:
    ctx = RunContext(
        "consensus",
        {"prompt": "q"},
        [_target("eyes")],
        Caller(),
        history=[Message("user", "before"), Message("assistant", "answer")],
        conversation_id="c1",
        attachments=[Attachment("image/png", "eA==")],
    )
    request = ctx.chat(_target("eyes"), [Message("system", "judge well"), Message("user", "go")])
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", "judge well"),
        ("user", "before"),
        ("assistant", "answer"),
        ("user", "go"),
    ]
    assert request.messages[-1].attachments and not request.messages[1].attachments
    assert ctx.info.conversation_id == "c1" and ctx.result()["conversation_id"] == "c1"
