"""An extension whose own import fails: the door must say so, not serve without it."""

import no_such_dependency  # type: ignore[import-not-found]  # noqa: F401
