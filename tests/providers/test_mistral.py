"""Mistral specifics: 422 validation details, random_seed, model_length, finish_reason error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from superllmd.errors import BadRequest, ServerError
from tests.providers.conformance import Harness, run_check, standard_request
from tests.providers.test_conformance import dialect

MISTRAL = dialect("mistral")


def run(check: Any, tmp_path: Path) -> None:
    run_check(MISTRAL, check, tmp_path)


def test_a_422_names_the_field_and_the_rule(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        exc = await h.fails(
            lambda: h.provider().complete(standard_request("error-422")), BadRequest
        )
        assert "body.temperature: Input should be less than or equal to 1.5" in exc.message
        assert "[{" not in exc.message, "no raw JSON in the message"

    run(check, tmp_path)


def test_seed_is_sent_as_random_seed(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        # The fake, like Mistral, refuses unknown fields such as "seed" with a 422.
        done = await h.provider().complete(standard_request(options={"seed": 42}))
        assert done.text.startswith("echo:")
        body = h.last_request().json()
        assert body["random_seed"] == 42 and "seed" not in body

    run(check, tmp_path)


def test_model_length_is_reported_as_length(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        assert (await h.provider().complete(standard_request("model_length"))).finish_reason == (
            "length"
        )
        _, (final,) = await h.stream(standard_request("model_length"))
        assert final.finish_reason == "length"

    run(check, tmp_path)


def test_finish_reason_error_is_a_server_error(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        await h.fails(lambda: h.provider().complete(standard_request("finish-error")), ServerError)
        await h.fails(lambda: h.stream(standard_request("finish-error")), ServerError)

    run(check, tmp_path)


def test_embeddings_and_model_list(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        provider = h.provider()
        vectors = await provider.embed("mistral-embed", ["a", "b"])
        assert len(vectors) == 2 and vectors[0] != vectors[1]
        assert h.last_request().path == "/v1/embeddings"
        assert await provider.list_models() == ["mistral-fake", "echo"]

    run(check, tmp_path)
