"""Images reach each dialect in its own wire shape (WIRE.md 2.1, 3.1, 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from superllmd.config import ProviderSettings
from superllmd.providers._http import HttpClients
from superllmd.providers.anthropic import AnthropicKind
from superllmd.providers.base import Attachment, ChatRequest, KindContext, Message
from superllmd.providers.gemini import GeminiKind
from superllmd.providers.keys import KeyResolver
from superllmd.providers.openai import OpenAICompatibleKind

IMAGE = Attachment("image/png", "iVBORw0KGgo=")
REQUEST = ChatRequest("m", (Message("user", "what is this?", attachments=(IMAGE,)),))


def _provider(kind: Any) -> Any:
    context = KindContext(HttpClients(), KeyResolver(use_keyring=False), Path("/x"))
    return kind(context).create("p", ProviderSettings(base_url="http://127.0.0.1:9"), {})


def test_openai_sends_image_url_parts() -> None:
    body = _provider(OpenAICompatibleKind)._body(REQUEST, stream=False)
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]


def test_anthropic_sends_base64_image_blocks() -> None:
    body, _ = _provider(AnthropicKind)._body(REQUEST, stream=False)
    assert body["messages"][0]["content"] == [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "text", "text": "what is this?"},
    ]


def test_gemini_sends_inline_data() -> None:
    body = _provider(GeminiKind)._body(REQUEST)
    assert body["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"text": "what is this?"},
    ]


def _plain_body(kind: Any) -> Any:
    provider = _provider(kind)
    assert provider.takes_attachments
    plain = ChatRequest("m", (Message("user", "hi"),))
    if kind is GeminiKind:
        return provider._body(plain)
    body = provider._body(plain, stream=False)
    return body[0] if isinstance(body, tuple) else body


@pytest.mark.parametrize("kind", [OpenAICompatibleKind, AnthropicKind, GeminiKind])
def test_text_only_messages_are_unchanged(kind: Any) -> None:
    text = str(_plain_body(kind))
    assert "'hi'" in text
    assert "image" not in text and "inlineData" not in text


def test_the_fakes_refuse_images_in_the_wrong_shape() -> None:
    """The fakes check the wire shape, so the e2e image tests can fail."""
    import httpx

    from tests.fakes.anthropic import FakeAnthropic
    from tests.fakes.gemini import FakeGemini

    anthropic, gemini = FakeAnthropic().start(), FakeGemini().start()
    try:
        url_block = {"type": "image", "source": {"type": "url", "url": "data:image/png;base64,x"}}
        openai_part = {"type": "image_url", "image_url": {"url": "data:image/png;base64,x"}}
        for block in (url_block, openai_part):
            body = {
                "model": "echo",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": [block]}],
            }
            sent = httpx.post(
                f"{anthropic.base_url}/v1/messages",
                json=body,
                headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
            )
            assert sent.status_code == 400, sent.text
            assert "messages.0.content.0" in sent.json()["error"]["message"]
        for part in (
            {"image": {"mimeType": "image/png", "data": "x"}},
            {"inlineData": {"data": "x"}},
        ):
            sent = httpx.post(
                f"{gemini.base_url}/v1beta/models/echo:generateContent",
                json={"contents": [{"role": "user", "parts": [part]}]},
                headers={"x-goog-api-key": "k"},
            )
            assert sent.status_code == 400, sent.text
        assert anthropic.images == [] and gemini.images == []
    finally:
        anthropic.stop()
        gemini.stop()
