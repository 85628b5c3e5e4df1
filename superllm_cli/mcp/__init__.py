"""``superllm mcp``: superllm as an MCP server on stdio, and the snippets that set clients up.

Importing this package loads nothing: the SDK is imported by :func:`superllm_cli.mcp.stdio.
serve` only, when the command runs.
"""

__all__: list[str] = []
