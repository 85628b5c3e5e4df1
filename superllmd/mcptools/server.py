"""The MCP server, built with the official SDK's low-level :class:`mcp.server.lowlevel.Server`.

One server definition for both transports; only the :class:`Backend` differs. Tools come
from :mod:`superllmd.mcptools.specs`; arguments are checked against each tool's input schema
here, so a bad argument is a tool error naming it, never a crash. Errors are tool results
with ``isError`` set, the CLI's message as text, and ``{"error": {"code", "message",
"exit_code"}}`` as structured content. Recent runs are resources at
``superllm://runs/ID``; the built-in chains are prompts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeAlias

import anyio
import jsonschema
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from superllmd import __version__
from superllmd.errors import DaemonError, SuperllmError, UsageError, from_dict
from superllmd.mcptools.backend import Backend
from superllmd.mcptools.progress import Progress, answer_text, query_text
from superllmd.mcptools.specs import BUILTIN_CHAINS, TOOLS, ToolSpec, query_request, run_request

__all__ = ["RUN_URI", "build_server", "tool_error"]

log = logging.getLogger("superllm.mcp")

RUN_URI = "superllm://runs/"
RECENT_RUNS = 20
INSTRUCTIONS = (
    "superllm reaches many language models through one daemon and one usage ledger. Use "
    "ask for a second opinion, consensus to convene several models, debate to let them "
    "argue, redteam to attack an answer, chain and mapreduce for pipelines and long texts, "
    "models to see what can be called and at what price, usage for what was spent."
)

Ctx: TypeAlias = "ServerRequestContext[Any, Any]"


def tool_error(error: SuperllmError, result: dict[str, Any] | None = None) -> types.CallToolResult:
    """A tool error carrying the CLI's message, error code and exit code."""
    info = {"code": error.code, "message": error.message, "exit_code": error.exit_code}
    structured = {**(result or {}), "error": info}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=error.message)],
        structured_content=structured,
        is_error=True,
    )


def _check(spec: ToolSpec, args: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(spec.input_schema)
    problems = sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path))
    if problems:
        first = problems[0]
        where = ".".join(str(p) for p in first.absolute_path) or "arguments"
        raise UsageError(f"{spec.name}: invalid {where}: {first.message}")


def _tool(spec: ToolSpec) -> types.Tool:
    return types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=spec.input_schema,
        output_schema=spec.output_schema,
    )


class _Handlers:
    """The server's request handlers over one backend."""

    def __init__(self, backend_for: Callable[[Ctx], Backend]) -> None:
        self.backend_for = backend_for

    async def list_tools(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[_tool(spec) for spec in TOOLS.values()])

    async def call_tool(
        self, ctx: Ctx, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        spec = TOOLS.get(params.name)
        try:
            if spec is None:
                raise UsageError(f"no tool {params.name!r}; these exist: {', '.join(TOOLS)}")
            args = dict(params.arguments or {})
            _check(spec, args)
            backend = self.backend_for(ctx)
            if spec.kind == "query":
                result = await self._query(backend, spec, args)
            else:
                result = await self._run(ctx, backend, spec, args)
        except SuperllmError as exc:
            log.info("tool %s: error (%s) %s", params.name, exc.code, exc.message)
            return tool_error(exc)
        except Exception as exc:  # a bug must not take the connection down
            log.exception("tool %s failed", params.name)
            return tool_error(SuperllmError(f"internal error in {params.name}: {exc}"))
        data = result.structured_content or {}
        if result.is_error:  # a run that failed inside: its error is in the result
            log.info("tool %s: error (%s)", params.name, (data.get("error") or {}).get("code"))
        elif "run_id" in data:
            log.info("tool %s: ok (run %s)", params.name, data["run_id"])
        else:
            log.info("tool %s: ok", params.name)
        return result

    async def _query(
        self, backend: Backend, spec: ToolSpec, args: dict[str, Any]
    ) -> types.CallToolResult:
        value = await backend.get(spec.route, query_request(spec, args))
        structured = {"models": value} if spec.name == "models" else value
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=query_text(structured))],
            structured_content=structured,
        )

    async def _run(
        self, ctx: Ctx, backend: Backend, spec: ToolSpec, args: dict[str, Any]
    ) -> types.CallToolResult:
        document = await _document(backend, args["path"]) if args.get("path") else None
        body = run_request(spec, args, document)
        progress = Progress(spec.name, args.get("rounds"))
        result: dict[str, Any] | None = None
        events = backend.run(spec.route, body)
        try:
            async for event in events:
                line = progress.feed(event)
                if line is not None:
                    await ctx.session.report_progress(progress.count, None, line)
                if event.get("type") == "run.finished":
                    result = event["result"]
        finally:
            # Also when cancelled: closing the stream is what cancels the run in the daemon.
            with anyio.CancelScope(shield=True):
                await _aclose(events)
        if result is None:
            raise DaemonError("the daemon ended the run without a result")
        if result.get("error"):
            return tool_error(from_dict(result["error"]), result)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=answer_text(result))],
            structured_content=result,
        )

    # -- resources: recent runs ---------------------------------------------------------

    async def list_resources(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        answer = await self.backend_for(ctx).get("/v1/runs", [("limit", str(RECENT_RUNS))])
        return types.ListResourcesResult(resources=[_resource(r) for r in answer["runs"]])

    async def list_templates(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        template = types.ResourceTemplate(
            name="run",
            title="A superllm run",
            uri_template=RUN_URI + "{run_id}",
            description="One run: request, answer, every participant's transcript and cost.",
            mime_type="application/json",
        )
        return types.ListResourceTemplatesResult(resource_templates=[template])

    async def read_resource(
        self, ctx: Ctx, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        run_id = uri.removeprefix(RUN_URI)
        if not uri.startswith(RUN_URI) or not run_id or "/" in run_id:
            raise _mcp_error(f"no resource {uri}; runs are at {RUN_URI}RUN_ID")
        try:
            run = await self.backend_for(ctx).get(f"/v1/runs/{run_id}")
        except SuperllmError as exc:
            raise _mcp_error(exc.message) from None
        text = json.dumps(run, indent=2)
        contents = types.TextResourceContents(uri=uri, mime_type="application/json", text=text)
        return types.ReadResourceResult(contents=[contents])

    # -- prompts: the built-in chains ---------------------------------------------------

    async def list_prompts(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[_prompt(n, d) for n, d in BUILTIN_CHAINS.items()])

    async def get_prompt(
        self, ctx: Ctx, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        if params.name not in BUILTIN_CHAINS:
            raise _mcp_error(f"no prompt {params.name!r}; these exist: {', '.join(BUILTIN_CHAINS)}")
        args = params.arguments or {}
        text = args.get("input") or ""
        models = [m.strip() for m in (args.get("models") or "").split(",") if m.strip()]
        call = {"builtin": params.name, "input": text, **({"models": models} if models else {})}
        message = (
            f"Run superllm's built-in `{params.name}` chain with the `chain` tool, with these "
            f"arguments:\n{json.dumps(call, indent=2)}\n\nThen show me its answer and cost."
        )
        return types.GetPromptResult(
            description=BUILTIN_CHAINS[params.name],
            messages=[
                types.PromptMessage(
                    role="user", content=types.TextContent(type="text", text=message)
                )
            ],
        )


async def _document(backend: Backend, raw: str) -> str:
    """mapreduce's file, if it lies under a folder the user allowed in config."""
    config = await backend.get("/v1/config")
    allowed = [
        Path(p).expanduser().resolve()
        for p in ((config.get("settings") or {}).get("mcp") or {}).get("allowed_paths", [])
    ]
    path = Path(raw).expanduser().resolve()
    if not any(path.is_relative_to(root) for root in allowed):
        raise UsageError(
            f"mapreduce: {raw} is not under a folder allowed for MCP; allow one with "
            "`superllm config set mcp.allowed_paths '[\"/path/to/folder\"]'`, or pass text"
        )
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"mapreduce: cannot read {raw}: {exc.strerror}") from None


def _resource(run: dict[str, Any]) -> types.Resource:
    prompt = " ".join(str(run.get("prompt") or "").split())
    cost = run.get("cost_usd")
    shown = "cost unknown" if cost is None else f"${cost:.6f}"
    return types.Resource(
        name=f"{run.get('mode')} {run['run_id'][:12]}",
        uri=RUN_URI + run["run_id"],
        description=f"{prompt[:120]} ({run.get('status')}, {shown})",
        mime_type="application/json",
    )


def _prompt(name: str, description: str) -> types.Prompt:
    return types.Prompt(
        name=name,
        title=f"superllm chain: {name}",
        description=description,
        arguments=[
            types.PromptArgument(name="input", description="What to work on.", required=True),
            types.PromptArgument(name="models", description="Participants: a,b (optional)."),
        ],
    )


def _mcp_error(message: str) -> MCPError:
    return MCPError(code=types.INVALID_PARAMS, message=message)


async def _aclose(events: AsyncIterator[dict[str, Any]]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


def build_server(
    backend: Backend | None = None,
    *,
    backend_for: Callable[[Ctx], Backend] | None = None,
    name: str = "superllm",
) -> Server[Any]:
    """The MCP server over ``backend``, or over ``backend_for(ctx)`` chosen per request (the
    HTTP door's, which acts for each request's token); run it on any transport of the SDK."""
    if backend_for is None:
        if backend is None:
            raise ValueError("give a backend or backend_for")
        fixed = backend
        backend_for = lambda ctx: fixed  # noqa: E731
    h = _Handlers(backend_for)
    return Server(
        name,
        version=__version__,
        title="superllm",
        instructions=INSTRUCTIONS,
        on_list_tools=h.list_tools,
        on_call_tool=h.call_tool,
        on_list_resources=h.list_resources,
        on_list_resource_templates=h.list_templates,
        on_read_resource=h.read_resource,
        on_list_prompts=h.list_prompts,
        on_get_prompt=h.get_prompt,
    )
