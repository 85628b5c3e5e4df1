"""The end-to-end fixtures (a SUPERLLM_HOME with the fake, its env, the real CLI), shared."""

from tests.e2e.conftest import cli, env, home  # noqa: F401
