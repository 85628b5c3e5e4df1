"""Run an ask or a mode for a caller of either door: the one path every route takes.

The native routes (``/v1/ask``, ``/v1/consensus``, ...) call these with ``token=None``; the
gateway's dialect routes (OpenAI, Anthropic, MCP) call them with the caller's token. Both
functions are coroutines that *return* the run's event stream::

    events = await ask_events(state, body, token)   # may raise: nothing has been sent yet
    async for event in events: ...                  # run.started ... run.finished

Awaiting one does everything that can fail before a model is called -- resolving models,
the token's model patterns, the conversation, attachments -- and raises the
``superllmd.errors`` tree, so a route can answer with a status before any byte of a stream.
The stream is durable: a ``message`` event is yielded only once the ledger has its call, and
``run.finished`` once the ledger has the run. A caller that shows nothing before
``run.finished`` (a non-streamed answer) may pass ``hold=False`` to skip the per-message wait:
``run.finished`` still comes only after the ledger has everything.

With a token: the client's ``env`` is dropped (on the TCP door the caller is not the
daemon's user, and ``SUPERLLM_*`` variables could lift budgets or run ``api_key_cmd``), every
model the run may call must match the token's patterns, the token's name goes on every
ledger row, and its daily budget is reserved against like the global ones
(superllmd/budget.py). Requests and tokens per minute are the door's to count, per request
(superllmd/gateway/limits.py), since they hold for every route, not only those that run models.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, cast

from superllmd.errors import GatewayForbidden, UsageError
from superllmd.gateway import GatewayToken, environ_of
from superllmd.ledger.conversations import check_attachments, check_prompt_size
from superllmd.ledger.recorder import SCRATCH_KEY, durable
from superllmd.orchestrator.context import RunContext, run_mode
from superllmd.orchestrator.hooks import RunInfo
from superllmd.orchestrator.modes import MODES, mode_function
from superllmd.orchestrator.tooluse import check_tools, wants_tools
from superllmd.protocol import AskRequest, Event, RunRequest
from superllmd.providers.registry import Target

if TYPE_CHECKING:
    from superllmd.config import Settings
    from superllmd.state import DaemonState

__all__ = ["DEFAULT_PANEL", "ask_events", "participants", "run_events"]

# With no models named: the alias "panel" if configured, else the default model three times
# (self-consistency, the baseline every mode must beat at equal cost).
DEFAULT_PANEL = "panel"


async def ask_events(
    state: DaemonState, body: AskRequest, token: GatewayToken | None, *, hold: bool = True
) -> AsyncIterator[Event]:
    """Prepare one ask (a model, an alias or a fallback chain) and return its events: the
    ``ask`` mode of ``run_events``."""
    return await run_events(state, "ask", body, token, hold=hold)


async def run_events(
    state: DaemonState,
    mode: str,
    body: RunRequest | AskRequest,
    token: GatewayToken | None,
    *,
    hold: bool = True,
) -> AsyncIterator[Event]:
    """Prepare one run of a mode (``ask``, ``consensus``, ``debate``, ... as in MODES) and
    return its events."""
    spec = MODES.get(mode)
    if spec is None:
        raise UsageError(f"no mode {mode!r}: use one of {', '.join(MODES)}")
    environ = environ_of(body, token) or {}
    settings = state.settings(environ or None)
    owner = token.name if token else None
    judge: Target | None = None
    embedder: Target | None = None
    if spec.single:
        # The conversation's history, fragments folded into the prompt, images checked.
        prepared = await state.conversations.prepare(body, owner)
        # A continued conversation keeps its model unless the request names one.
        name = cast(AskRequest, body).get("model") or prepared.model
        panel = await state.resolve(name, settings, environ)
        _check_models(token, name, panel)
        prepared = dataclasses.replace(prepared, model=name or panel[0].name)
    else:
        request = cast(RunRequest, body)
        panel = await participants(request, state, settings, environ, token)
        judge_name = request.get("judge")
        judge = (await state.resolve(judge_name, settings, environ))[0] if judge_name else None
        if judge is not None:
            _check_models(token, judge_name, [judge])
        prepared = await state.conversations.prepare(body, owner)
        embedding = settings.default_embedding_model
        embedder = (await state.resolve(embedding, settings, environ))[0] if embedding else None
    fn = mode_function(spec)
    if body.get("json_schema") is not None:  # refused before any call, as a usage error
        if not spec.structured:
            raise UsageError(f"json_schema (--schema) is for ask and consensus, not {spec.mode}")
        from superllmd.orchestrator.structured import checked_schema

        checked_schema(body["json_schema"])
    check_prompt_size(prepared, body.get("system"), settings.daemon.max_prompt_mb)
    body["prompt"] = prepared.prompt
    check_attachments(prepared, [*panel, *([judge] if judge else [])])
    if spec.single:
        check_tools(body, prepared.history, panel)
    elif wants_tools(body, prepared.history):
        raise UsageError(
            f"{spec.mode} does not take tools: tools are for one model; ask a model (or an "
            "alias or fallback chain) instead",
            param="tools",
        )

    def resolve(name: str) -> Target:  # models a mode names as it runs (chain steps)
        target = state.targets(name, settings, environ)[0]
        _check_models(token, name, [target])
        return target

    ctx = RunContext(
        spec.mode,
        cast(RunRequest, body),  # an ask's request is a run's with ``model``, read by no mode
        panel,
        state.caller,
        judge=judge,
        resolve=resolve,
        history=prepared.history,
        conversation_id=prepared.conversation_id,
        attachments=prepared.attachments,
        embedder=embedder,
        single=spec.single,
    )
    ctx.info.scratch[SCRATCH_KEY] = prepared
    _for_token(ctx.info, token)
    return _publish(state, token, run_mode(ctx, fn), hold)


async def participants(
    body: RunRequest,
    state: DaemonState,
    settings: Settings,
    environ: Mapping[str, str],
    token: GatewayToken | None = None,
) -> list[Target]:
    """The run's panel: the models named, each alias expanded, or the default panel."""
    names = list(body.get("models") or [])
    if not names:
        if DEFAULT_PANEL in settings.aliases:
            names = [DEFAULT_PANEL]
        else:
            names = [state.registry.default_model(settings)] * 3
    limit = settings.daemon.max_panel
    targets: list[Target] = []
    for name in names:
        resolved = await state.resolve(name, settings, environ)
        # An alias naming several models puts each on the panel.
        chosen = resolved if name in settings.aliases else resolved[:1]
        _check_models(token, name, chosen)
        targets += chosen
        if len(targets) > limit:  # before any call: a panel this big is a typo or a runaway
            raise UsageError(
                f"{len(names) if len(names) > limit else 'more than ' + str(limit)} models on "
                f"the panel, more than daemon.max_panel ({limit}); name fewer, or raise it with "
                "`superllm config set daemon.max_panel N`"
            )
    return targets


def _check_models(token: GatewayToken | None, name: str | None, targets: list[Target]) -> None:
    if token is None or not token.models:
        return
    if token.allows(name):  # the token names this alias or model itself
        return
    for target in targets:
        if not token.allows(target.name):
            patterns = ", ".join(token.models)
            raise GatewayForbidden(
                f"token {token.name!r} may not use {target.name} (it allows {patterns}); "
                "ask for a model it allows, or use another token",
                model=target.name,
            )


def _publish(
    state: DaemonState, token: GatewayToken | None, events: AsyncIterator[Event], hold: bool
) -> AsyncIterator[Event]:
    """The run's events for its client, each also on the daemon's bus (GET /v1/events)."""
    stream = durable(events, state.ledger, hold=hold)
    return _on_bus(state, token.name if token else None, stream)


async def _on_bus(
    state: DaemonState, name: str | None, events: AsyncIterator[Event]
) -> AsyncIterator[Event]:
    bus = state.bus
    try:
        async for event in events:
            if bus.active:  # no dashboard: no copy
                bus.publish({**event, "token": name})
            yield event
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


def _for_token(info: RunInfo, token: GatewayToken | None) -> None:
    if token is not None:
        info.token = token.name
        info.token_daily_usd = token.budget_daily
        info.user, info.user_daily_usd = token.user, token.user_daily
        info.team, info.team_daily_usd = token.team, token.team_daily
