"""Error mapping at the provider boundary: status -> the error tree, retry-after, redaction."""

from __future__ import annotations

import email.utils
import json

import pytest

from superllmd import errors
from superllmd.providers._http import map_status_error, parse_retry_after, redact


def _map(status: int, body: object, headers: dict[str, str] | None = None) -> errors.ProviderError:
    text = body if isinstance(body, str) else json.dumps(body)
    return map_status_error(
        "openai",
        status,
        headers or {},
        text,
        model="gpt-x",
        key_source="$OPENAI_API_KEY",
        secrets=("sk-live-abcdef123456",),
    )


def _oa(message: str, kind: str = "invalid_request_error", code: str | None = None) -> object:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (401, _oa("Incorrect API key", code="invalid_api_key"), errors.AuthError),
        (403, _oa("region"), errors.PermissionDenied),
        (404, _oa("no model", code="model_not_found"), errors.ModelNotFound),
        (429, _oa("slow down", "requests", "rate_limit_exceeded"), errors.RateLimited),
        (429, _oa("quota", "insufficient_quota", "insufficient_quota"), errors.QuotaExhausted),
        (
            429,
            {
                "type": "error",
                "error": {
                    "type": "rate_limit_error",
                    "message": "Number of request tokens has exceeded your per-minute limit",
                },
            },
            errors.RateLimited,
        ),
        (
            429,
            {
                "type": "error",
                "error": {
                    "type": "rate_limit_error",
                    "message": "spend limit reached",
                    "details": {"error_code": "enforced_spend_limit_reached"},
                },
            },
            errors.QuotaExhausted,
        ),
        (402, {"error": {"code": 402, "message": "Insufficient credits"}}, errors.QuotaExhausted),
        (
            400,
            _oa("maximum context length is 8192 tokens", code="context_length_exceeded"),
            errors.ContextTooLong,
        ),
        (400, _oa("bad temperature"), errors.BadRequest),
        (500, _oa("boom", "server_error"), errors.ServerError),
        (503, _oa("overloaded", "server_error"), errors.Overloaded),
        (
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            errors.Overloaded,
        ),
        (502, "<html>Bad Gateway</html>", errors.ServerError),
    ],
)
def test_status_maps_to_error_class(status: int, body: object, cls: type) -> None:
    error = _map(status, body)
    assert type(error) is cls
    assert error.details["provider"] == "openai"
    assert error.exit_code == 4


def test_retryable_flags() -> None:
    assert _map(429, _oa("x", code="rate_limit_exceeded")).retryable
    assert _map(503, _oa("x")).retryable
    assert not _map(429, _oa("q", code="insufficient_quota")).retryable
    assert not _map(401, _oa("x")).retryable
    assert not _map(400, _oa("x")).retryable


def test_auth_message_names_source_and_next_step() -> None:
    error = _map(401, _oa("Incorrect API key provided: sk-live-abcdef123456."))
    assert "$OPENAI_API_KEY" in error.message
    assert "superllm keys set openai" in error.message
    assert "abcdef123456" not in error.message


def test_non_json_body_is_readable() -> None:
    error = _map(500, "<html><body>oops</body></html>")
    assert "oops" in error.message and "500" in error.message


def test_retry_after_sources() -> None:
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=1_000_000) == pytest.approx(30, abs=1)
    assert (
        parse_retry_after(
            {"x-ratelimit-reset-requests": "6m0s", "x-ratelimit-reset-tokens": "39.8s"}
        )
        == 360.0
    )
    assert parse_retry_after({"x-ratelimit-reset-tokens": "12ms"}) == pytest.approx(0.012)
    assert parse_retry_after({}) is None
    assert _map(429, _oa("x"), {"retry-after-ms": "10"}).details["retry_after"] == 0.01


def test_redact_removes_keys_and_keylike_strings() -> None:
    text = "bad key sk-proj-AbCdEf123456 and the literal s3cr3t-value-here"
    out = redact(text, ("s3cr3t-value-here",))
    assert "AbCdEf123456" not in out and "s3cr3t" not in out
    assert "[redacted]" in out


def test_error_round_trip_keeps_class_and_exit_code() -> None:
    original = errors.RateLimited("slow", provider="openai", retry_after=2.0)
    rebuilt = errors.from_dict(original.to_dict())
    assert type(rebuilt) is errors.RateLimited
    assert rebuilt.retry_after == 2.0 and rebuilt.exit_code == 4
    assert errors.from_dict({"code": "budget", "message": "m"}).exit_code == 5
    assert errors.from_dict({"code": "no_agreement", "message": "m"}).exit_code == 6
    assert type(errors.from_dict({"code": "???", "message": "m"})) is errors.SuperllmError
