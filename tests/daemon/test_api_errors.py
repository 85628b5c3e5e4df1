"""Every failure inside a route reaches the client as an error body with a code.

The daemon app runs in-process (the real routes, registry, ledger and config) against the
fake OpenAI server; nothing here may answer 500 except the deliberate bug of the catch-all
test, and none may hang (pytest-timeout).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from superllmd import __version__, errors
from superllmd.api import create_app
from superllmd.orchestrator.context import letter_label
from superllmd.orchestrator.judge import label_in
from superllmd.paths import get_paths
from superllmd.state import DaemonState
from tests.fakes.openai import FakeOpenAI

NDJSON = "application/x-ndjson"
KEY_ENV = "FAKE_TEST_KEY"


@pytest.fixture
def client(short_home: Path, fake_openai: FakeOpenAI) -> Iterator[TestClient]:
    config = short_home / "config" / "config.toml"
    config.parent.mkdir(mode=0o700, parents=True)
    config.write_text(
        f'[providers.fake]\nkind = "openai-compatible"\nbase_url = "{fake_openai.base_url}"\n'
        f'api_key_env = "{KEY_ENV}"\n'
    )
    paths = get_paths({"SUPERLLM_HOME": str(short_home)})
    state = DaemonState.create(paths, use_keyring=False)
    with TestClient(create_app(state), raise_server_exceptions=False) as test_client:
        yield test_client


def _error(answer: Any) -> dict[str, Any]:
    body = answer.json()
    assert isinstance(body.get("error"), dict), body
    assert body["error"]["code"], body
    return dict(body["error"])


def _streamed_error(answer: Any) -> dict[str, Any]:
    events = [json.loads(line) for line in answer.text.splitlines() if line]
    errors = [e for e in events if e["type"] == "error"]
    assert errors, events
    assert events[-1]["type"] == "run.finished"
    return dict(errors[-1])


@pytest.mark.parametrize("key", ["sk-caf\u00e9-secret", "sk-\x01control-secret", "sk-a b-secret"])
def test_key_that_cannot_be_sent(client: TestClient, key: str) -> None:
    body = {"prompt": "hi", "model": "fake/echo", "env": {KEY_ENV: key}}
    answer = client.post("/v1/ask", json=body)
    error = answer.json()["error"]  # a run's result: the participant's error is the run's
    assert answer.status_code == 401 and error["code"] == "auth"  # AuthError's own status
    assert error["provider"] == "fake" and error["retryable"] is False
    assert "the key for fake" in error["message"] and "cannot be sent" in error["message"]
    assert "secret" not in error["message"]
    streamed = client.post("/v1/ask", json=body, headers={"accept": NDJSON})
    assert streamed.status_code == 200
    event = _streamed_error(streamed)
    assert event["code"] == "auth" and "secret" not in streamed.text


def test_base_url_with_user_info(client: TestClient) -> None:
    env = {"SUPERLLM_PROVIDERS__FAKE__BASE_URL": "http://me:hunter2@127.0.0.1:9/v1"}
    answer = client.post("/v1/ask", json={"prompt": "hi", "model": "fake/echo", "env": env})
    error = _error(answer)
    assert answer.status_code == 422 and error["code"] == "config"
    assert "user name or password" in error["message"] and "hunter2" not in error["message"]


# Raised by a mode as it runs (after the request was accepted): a chain step's model, a
# budget refusal, a judge that cannot be reached...
IN_RUN = [
    errors.UsageError("chain step 'a': unknown provider 'nosuch'"),
    errors.ConfigError("providers.x.kind: bad"),
    errors.BudgetExceeded("daily budget of $1 would be exceeded"),
    errors.RateLimited("slow down", provider="fake", retry_after=3.0),
    errors.AuthError("the key was refused", provider="fake"),
    errors.ProviderError("every participant failed"),
    errors.NoAgreement("agreement 0.20 is below the required 0.80"),
    errors.LedgerError("the ledger is locked"),
    errors.SuperllmError("a mode's own failure"),
]


@pytest.mark.parametrize("mode", ["ask", "chain"])
@pytest.mark.parametrize("raised", IN_RUN, ids=lambda e: type(e).__name__)
def test_an_error_raised_in_a_run_keeps_its_code_and_status(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, mode: str, raised: errors.SuperllmError
) -> None:
    """Whether streamed or not, the run's error comes back whole: its code (so its class and
    exit code), its details, and, on a non-streamed answer, its own HTTP status."""
    from superllmd.gateway import engine

    async def failing(ctx: object) -> None:
        raise raised

    monkeypatch.setattr(engine, "mode_function", lambda spec: failing)
    body: dict[str, Any] = {"prompt": "hi", "env": {}}
    body.update({"model": "fake/echo"} if mode == "ask" else {"models": ["fake/echo"]})
    if mode == "chain":
        body["workflow"] = {"name": "w", "steps": [{"name": "a", "prompt": "{input}"}]}
    answer = client.post(f"/v1/{mode}", json=body)
    assert answer.status_code == type(raised).http_status, answer.text
    rebuilt = errors.from_dict(answer.json()["error"])
    assert (rebuilt.code, rebuilt.exit_code) == (raised.code, raised.exit_code)
    assert rebuilt.details == raised.details and rebuilt.retryable == raised.retryable
    streamed = client.post(f"/v1/{mode}", json=body, headers={"accept": NDJSON})
    assert streamed.status_code == 200  # sent before the run began
    finished = json.loads(streamed.text.splitlines()[-1])
    assert finished["type"] == "run.finished"
    assert finished["result"]["error"] == raised.to_dict()


def test_an_unknown_path_or_method_is_an_error_body(client: TestClient) -> None:
    """Not Starlette's plain text, which a client could only call a broken daemon (exit 3)."""
    missing = client.get("/v1/nosuch")
    assert missing.status_code == 404 and _error(missing)["code"] == "usage"
    assert "GET /v1/nosuch" in _error(missing)["message"]
    wrong = client.delete("/v1/usage")
    assert wrong.status_code == 405 and _error(wrong)["code"] == "usage"
    rebuilt = errors.from_dict(_error(wrong))
    assert isinstance(rebuilt, errors.UsageError) and rebuilt.exit_code == 2


def test_labels_go_on_past_z() -> None:
    assert [letter_label(i) for i in (0, 25, 26, 27, 51, 52, 701, 702)] == [
        "A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA",
    ]  # fmt: skip
    labels = [f"Response {letter_label(i)}" for i in range(30)]
    assert label_in("response ab", labels) == "Response AB"


def test_panel_of_27_is_served(client: TestClient, fake_openai: FakeOpenAI) -> None:
    before = len(fake_openai.chat_requests())
    body = {"prompt": "2+2?", "models": ["fake/echo"] * 27, "strategy": "vote", "env": {}}
    answer = client.post("/v1/consensus", json=body)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["participants"]) == 27
    assert len(fake_openai.chat_requests()) - before >= 27
    runs = client.get("/v1/runs").json()
    assert answer.json()["run_id"] in json.dumps(runs)


def test_panel_size_limit_is_checked_before_any_call(
    client: TestClient, fake_openai: FakeOpenAI
) -> None:
    before = len(fake_openai.chat_requests())
    answer = client.post("/v1/consensus", json={"prompt": "x", "models": ["fake/echo"] * 33})
    error = _error(answer)
    assert answer.status_code == 400 and "daemon.max_panel (32)" in error["message"]
    env = {"SUPERLLM_DAEMON__MAX_PANEL": "2"}
    three = client.post("/v1/debate", json={"prompt": "x", "models": ["fake/echo"] * 3, "env": env})
    assert three.status_code == 400 and "daemon.max_panel (2)" in _error(three)["message"]
    assert len(fake_openai.chat_requests()) == before


def test_temperature_nan(client: TestClient) -> None:
    raw = b'{"prompt": "hi", "model": "fake/echo", "temperature": NaN}'
    answer = client.post("/v1/ask", content=raw, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert "NaN is not a number JSON allows" in _error(answer)["message"]
    nested = raw.replace(b'"temperature": NaN', b'"options": {"top_p": -Infinity}')
    answer = client.post("/v1/ask", content=nested, headers={"content-type": "application/json"})
    assert answer.status_code == 400 and "-Infinity" in _error(answer)["message"]


def test_non_ascii_version_header(client: TestClient) -> None:
    answer = client.get(
        "/v1/models",
        headers={"x-superllm-version": b"0.\xff\xfe"},  # type: ignore[dict-item]
    )
    error = _error(answer)
    assert answer.status_code == 409 and error["code"] == "version_mismatch"
    assert __version__ in error["message"]


def test_unexpected_exception_in_a_route_is_an_error_body(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from superllmd.gateway import engine

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug, with the prompt 'private words' in its message")

    async def broken_later(*args: object) -> AsyncIterator[dict[str, str]]:
        yield {"type": "run.started", "run_id": "r1"}
        broken()

    monkeypatch.setattr(engine, "run_mode", broken)
    with caplog.at_level(logging.ERROR, logger="superllmd"):
        answer = client.post("/v1/ask", json={"prompt": "hi", "model": "fake/echo"})
        error = _error(answer)
        assert answer.status_code == 500 and error["code"] == "internal"
        assert "RuntimeError" in error["message"] and "private words" not in error["message"]
        monkeypatch.setattr(engine, "run_mode", broken_later)  # mid-stream, after the status
        streamed = client.post(
            "/v1/ask", json={"prompt": "hi", "model": "fake/echo"}, headers={"accept": NDJSON}
        )
        assert _streamed_error(streamed)["code"] == "internal"
    assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)
    assert client.get("/v1/health").status_code == 200  # still serving


# -- generated bodies -------------------------------------------------------------------

ROUTES = [
    ("POST", "/v1/ask"),
    ("POST", "/v1/consensus"),
    ("POST", "/v1/debate"),
    ("POST", "/v1/adversarial"),
    ("POST", "/v1/chain"),
    ("POST", "/v1/mapreduce"),
    ("POST", "/v1/embed"),
    ("PUT", "/v1/budgets"),
    ("PUT", "/v1/config"),
    ("POST", "/v1/providers/fake/check"),
    ("POST", "/v1/keys/forget"),
    ("GET", "/v1/usage"),
    ("GET", "/v1/runs"),
    ("GET", "/v1/conversations"),
    ("GET", "/v1/models"),
]
FIELDS = [
    "prompt", "model", "models", "temperature", "max_tokens", "max_cost", "system",
    "options", "stream", "judge", "strategy", "rounds", "threshold", "quorum", "label",
    "env", "conversation_id", "continue_last", "fragments", "attachments", "cache_ttl",
    "texts", "key", "value", "daily_usd", "monthly_usd", "provider", "workflow", "seed",
    "max_calls", "timeout", "answer_type", "samples",
]  # fmt: skip
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["fake/echo", "fake/gpt-fake", "nosuch/x", "", "\x00", "A" * 300])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8) | values


@settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(route=st.sampled_from(ROUTES), body=bodies, stream=st.booleans())
def test_generated_bodies_never_make_a_server_error(
    client: TestClient, route: tuple[str, str], body: Any, stream: bool
) -> None:
    method, path = route
    headers = {"accept": NDJSON if stream else "application/json"}
    if method == "GET":
        params = body if isinstance(body, dict) else {}
        flat = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in params.items()}
        answer = client.get(path, params=flat, headers=headers)
    else:
        raw = json.dumps(body, allow_nan=True).encode()
        answer = client.request(method, path, content=raw, headers=headers)
    assert answer.status_code != 500, answer.text
    if answer.status_code >= 400:
        _error(answer)
    elif answer.headers.get("content-type", "").startswith(NDJSON):
        events = [json.loads(line) for line in answer.text.splitlines() if line]
        assert all(e.get("code") != "internal" for e in events), events
