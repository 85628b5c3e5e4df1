"""The scripted fake-server toolkit, now shipped as ``superllmd.testing.server``.

Kept as a re-export so the fakes in this folder (and anything else importing
``tests.fakes.server``) keep working; new code imports from ``superllmd.testing.server``.
"""

from __future__ import annotations

from superllmd.testing.server import FakeRequest, FakeServer, Handler, Writer

__all__ = ["FakeRequest", "FakeServer", "Handler", "Writer"]
