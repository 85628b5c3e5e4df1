"""The gateway: superllm's models and modes for programs other than its own CLI.

Two doors open onto one ASGI app and one event loop: the Unix socket (trusted, same user) and
the optional TCP door (untrusted: every request carries a token). What a route needs to know
about its caller is in the request's scope state, put there by the door:

- ``scope["state"]["door"]``: ``"socket"`` or ``"tcp"`` (absent means the socket);
- ``scope["state"]["gateway_token"]``: the caller's :class:`GatewayToken` (TCP door only).

Routes read them with :func:`door_of` and :func:`token_of`, and run an ask or a mode for the
caller with ``superllmd.gateway.engine.ask_events`` / ``run_events``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "DOOR_KEY",
    "TOKEN_KEY",
    "Door",
    "GatewayToken",
    "door_of",
    "environ_of",
    "token_of",
]

Door = Literal["socket", "tcp"]

#: Keys in ``scope["state"]``.
DOOR_KEY = "door"
TOKEN_KEY = "gateway_token"


@dataclass(frozen=True, slots=True)
class GatewayToken:
    """A TCP caller's token as the door checked it (never the secret itself).

    ``budget_daily`` (USD per local day), ``rpm`` and ``tpm`` are None when unlimited;
    ``models`` holds shell-style patterns (``openai/*``, ``fast``), empty meaning any model;
    ``expires`` is unix time or None.
    """

    name: str
    budget_daily: float | None = None
    rpm: int | None = None
    tpm: int | None = None
    models: tuple[str, ...] = ()
    expires: float | None = None
    # The user the token belongs to, that user's team, and their daily budgets.
    user: str | None = None
    team: str | None = None
    user_daily: float | None = None
    team_daily: float | None = None

    def allows(self, *names: str | None) -> bool:
        """Whether any of ``names`` (a requested name, the model it resolved to) matches one
        of the token's model patterns."""
        if not self.models:
            return True
        return any(
            name is not None and fnmatch.fnmatchcase(name, pattern)
            for name in names
            for pattern in self.models
        )


def _state(scope_or_request: Any) -> Mapping[str, Any]:
    scope = getattr(scope_or_request, "scope", scope_or_request)
    state = scope.get("state") if isinstance(scope, Mapping) else None
    return state if isinstance(state, Mapping) else {}


def door_of(scope_or_request: Any) -> Door:
    """Which door a request came in by (a Starlette Request or an ASGI scope)."""
    return "tcp" if _state(scope_or_request).get(DOOR_KEY) == "tcp" else "socket"


def token_of(scope_or_request: Any) -> GatewayToken | None:
    """The caller's token (TCP door), or None (socket door)."""
    token = _state(scope_or_request).get(TOKEN_KEY)
    return token if isinstance(token, GatewayToken) else None


def environ_of(body: Mapping[str, Any], token: GatewayToken | None) -> Mapping[str, str] | None:
    """The environment a request is served under, as its POST body carries it: the client's
    own on the socket door (None: the daemon's own); never a token holder's (on the TCP door
    the caller is not the daemon's user, and ``SUPERLLM_*`` variables could lift budgets or
    run ``api_key_cmd``), whose ``env`` is removed from the body too, so it is not kept."""
    if token is not None:
        if isinstance(body, dict):
            body.pop("env", None)
        return None
    env = body.get("env")
    return env if isinstance(env, dict) else None
