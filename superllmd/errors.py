"""The one exception tree of superllm, shared by the daemon and the CLI. Stdlib only.

::

    SuperllmError                 exit 1   internal
    ├── UsageError                exit 2   usage
    │   ├── UnknownProvider                usage      (a model named a provider not configured)
    │   └── ConfigError           exit 2   config
    ├── DaemonError               exit 3   daemon
    │   ├── VersionMismatch                version_mismatch
    │   ├── EnvNamesChanged                env_names  (the client refreshes its list, resends)
    │   └── LedgerError                    ledger     (the ledger cannot be opened)
    ├── ProviderError             exit 4   provider
    │   ├── AuthError                      auth
    │   ├── PermissionDenied               permission
    │   ├── ModelNotFound                  not_found
    │   ├── RateLimited           retry    rate_limited
    │   ├── QuotaExhausted                 quota
    │   ├── Overloaded            retry    overloaded
    │   ├── ServerError           retry    server_error
    │   ├── ContextTooLong                 context_too_long
    │   ├── BadRequest                     bad_request
    │   ├── ProviderTimeout       retry    timeout
    │   ├── ProviderConnectionError retry  connection
    │   └── ProtocolError         retry    protocol      (malformed or truncated response)
    ├── BudgetExceeded            exit 5   budget
    ├── NoAgreement               exit 6   no_agreement
    ├── Cancelled                 exit 130 cancelled
    └── GatewayDenied             exit 2   unauthorized (the TCP door refused the caller)
        ├── GatewayForbidden               forbidden
        └── GatewayRateLimited    retry    token_rate_limited

Third-party errors (httpx, llama.cpp, sqlite) are translated into these at the boundary and
never leak. Every error crosses the socket as ``{"code", "message", "retryable", ...}`` and
is rebuilt on the other side with :func:`from_dict`, so the CLI can pick the exit code. So
every error the daemon can send is declared here, where the client sees it: a subclass
declared elsewhere (orchestrator, ledger) must keep its parent's code, and comes back as the
parent (tests/daemon/test_error_tree.py walks the tree). A subclass that shares its parent's
code (``UnknownProvider``) exists for the daemon's own ``except`` clauses; the client
rebuilds it as the parent.
Messages say what failed and what to do; they never contain a secret.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

__all__ = [
    "AuthError",
    "BadRequest",
    "BudgetExceeded",
    "Cancelled",
    "ConfigError",
    "ContextTooLong",
    "DaemonError",
    "EnvNamesChanged",
    "GatewayDenied",
    "GatewayForbidden",
    "GatewayRateLimited",
    "LedgerError",
    "ModelNotFound",
    "NoAgreement",
    "Overloaded",
    "PermissionDenied",
    "ProtocolError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderTimeout",
    "QuotaExhausted",
    "RateLimited",
    "ServerError",
    "SuperllmError",
    "UnknownProvider",
    "UsageError",
    "VersionMismatch",
    "from_dict",
    "sentence",
]


#: "said: Invalid key.. Set one" -- but not an ellipsis, "../path" or "0.5".
_DOUBLED_PERIOD = re.compile(r"(?<=[^\s.])\.\s?\.(?=\s|$)")


def sentence(text: str) -> str:
    """``text`` ending in exactly one period, to quote a message before another sentence.

    >>> sentence("Invalid API key."), sentence("no route")
    ('Invalid API key.', 'no route.')
    """
    stripped = text.rstrip()
    return stripped if stripped.endswith((".", "!", "?")) else stripped + "."


class SuperllmError(Exception):
    code: ClassVar[str] = "internal"
    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, **details: Any) -> None:
        message = _DOUBLED_PERIOD.sub(".", message)  # a quoted message brought its own
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
            **self.details,
        }


class UsageError(SuperllmError):
    code = "usage"
    exit_code = 2
    http_status = 400


class UnknownProvider(UsageError):
    """A model named a provider that is not configured: the user's typo (exit 2), which a
    gateway answers as its dialect's unknown model (404)."""


class ConfigError(UsageError):
    code = "config"
    http_status = 422


class DaemonError(SuperllmError):
    code = "daemon"
    exit_code = 3
    http_status = 503


class VersionMismatch(DaemonError):
    """The daemon runs another version than the client; the client restarts it."""

    code = "version_mismatch"
    http_status = 409


class EnvNamesChanged(DaemonError):
    """The client forwarded its environment by a stale list of provider variables.

    ``details`` carry the daemon's current ``names`` and their ``tag``; the client stores
    them and sends the request again, so a provider added to config.toml gets its key.
    """

    code = "env_names"
    http_status = 409

    @property
    def names(self) -> list[str]:
        value = self.details.get("names")
        return [str(n) for n in value] if isinstance(value, list) else []

    @property
    def tag(self) -> str:
        return str(self.details.get("tag", ""))


class LedgerError(DaemonError):
    """The ledger cannot be opened (corrupt, newer schema, unwritable folder)."""

    code = "ledger"


class ProviderError(SuperllmError):
    code = "provider"
    exit_code = 4
    http_status = 502

    @property
    def provider(self) -> str | None:
        value = self.details.get("provider")
        return value if isinstance(value, str) else None


class AuthError(ProviderError):
    code = "auth"
    http_status = 401


class PermissionDenied(ProviderError):
    code = "permission"
    http_status = 403


class ModelNotFound(ProviderError):
    code = "not_found"
    http_status = 404


class RateLimited(ProviderError):
    code = "rate_limited"
    http_status = 429
    retryable = True

    @property
    def retry_after(self) -> float | None:
        value = self.details.get("retry_after")
        return float(value) if isinstance(value, int | float) else None


class QuotaExhausted(ProviderError):
    """A 429 or 402 that waiting will not fix (billing, spend limits)."""

    code = "quota"
    http_status = 402


class Overloaded(ProviderError):
    code = "overloaded"
    http_status = 503
    retryable = True


class ServerError(ProviderError):
    code = "server_error"
    http_status = 502
    retryable = True


class ContextTooLong(ProviderError):
    code = "context_too_long"
    http_status = 413


class BadRequest(ProviderError):
    code = "bad_request"
    http_status = 400


class ProviderTimeout(ProviderError):
    code = "timeout"
    http_status = 504
    retryable = True


class ProviderConnectionError(ProviderError):
    code = "connection"
    http_status = 502
    retryable = True


class ProtocolError(ProviderError):
    """The provider answered something that breaks its own wire format, e.g. a cut stream."""

    code = "protocol"
    http_status = 502
    retryable = True


class BudgetExceeded(SuperllmError):
    code = "budget"
    exit_code = 5
    http_status = 402


class NoAgreement(SuperllmError):
    code = "no_agreement"
    exit_code = 6
    http_status = 409


class Cancelled(SuperllmError):
    code = "cancelled"
    exit_code = 130
    http_status = 499


class GatewayDenied(SuperllmError):
    """The TCP door refused a caller: no token, an unknown, revoked or expired one (401)."""

    code = "unauthorized"
    exit_code = 2
    http_status = 401


class GatewayForbidden(GatewayDenied):
    """The caller's token may not use what it asked for (a model outside its patterns)."""

    code = "forbidden"
    http_status = 403


class GatewayRateLimited(GatewayDenied):
    """The caller's token is over its requests or tokens per minute; ``retry_after`` says
    when it may try again."""

    code = "token_rate_limited"
    http_status = 429
    retryable = True
    #: The x-ratelimit headers of the window that refused, for the 429 (not sent over the wire).
    limit_headers: list[tuple[bytes, bytes]] = []  # noqa: RUF012 - never mutated, replaced


def _all_subclasses(cls: type[SuperllmError]) -> list[type[SuperllmError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out


_BY_CODE: dict[str, type[SuperllmError]] = {}
for _cls in _all_subclasses(SuperllmError):  # parents first: a code's first class is its own
    _BY_CODE.setdefault(_cls.code, _cls)


def from_dict(data: dict[str, Any]) -> SuperllmError:
    """Rebuild an error that crossed the socket; unknown codes become a plain SuperllmError."""
    code = str(data.get("code", "internal"))
    message = str(data.get("message", "unknown error"))
    details = {k: v for k, v in data.items() if k not in {"code", "message", "retryable"}}
    return _BY_CODE.get(code, SuperllmError)(message, **details)
