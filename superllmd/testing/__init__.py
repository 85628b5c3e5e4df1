"""Test tooling for provider plugin authors, shipped in the wheel so a plugin can use it.

- :mod:`superllmd.testing.server`: ``FakeServer``, a scripted HTTP/1.1 server on 127.0.0.1
  for writing a byte-faithful fake of a vendor's API (streams, resets, bad bodies).
- :mod:`superllmd.testing.conformance`: the conformance suite every built-in dialect passes,
  to run against a plugin's dialect and its fake (``Dialect``, ``CHECKS``, ``run_check``).

``superllm providers new NAME`` writes a package whose tests use both. This is test code: the
daemon and the CLI never import it (tests/unit/test_public_api.py checks), and its API may
grow between minor versions, though its names are kept.
"""

from __future__ import annotations

__all__: list[str] = []
