"""superllm as an MCP server: one set of tools, resources and prompts, two transports.

::

    specs.py    stdlib only: each tool's JSON schemas, its arguments -> a native API request,
                run events -> progress lines, results -> structured output
    server.py   the official ``mcp`` SDK's low-level Server built over a :class:`Backend`
    backend.py  what the server needs of the daemon (runs as event streams, GETs)

The stdio transport (``superllm mcp``, superllm_cli/mcp/) gives the server a backend that
speaks to the daemon over its socket; the streamable-HTTP transport (/mcp on the TCP door,
superllmd/api/mcp.py) gives it one that runs inside the daemon. Importing this package
loads nothing.
"""

__all__: list[str] = []
