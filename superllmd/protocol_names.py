"""The native API's names that a client needs at run time: the stream's media type and the
headers. No imports, so the CLI's fast path reads them without the protocol's shapes
(``superllmd.protocol``, which re-exports them, is for type checkers and the daemon).
"""

__all__ = ["ENV_NAMES_HEADER", "NDJSON", "VERSION_HEADER"]

NDJSON = "application/x-ndjson"
# Every request from a superllm client carries its version; the daemon refuses another one.
VERSION_HEADER = "x-superllm-version"
# The tag of the list of provider variables the client forwarded its environment by.
ENV_NAMES_HEADER = "x-superllm-env-names"
