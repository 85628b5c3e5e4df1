"""Small record classes for the modules that run on every ``superllm`` call.

``@record`` is to these what ``@dataclass`` is elsewhere: fields declared as annotated class
attributes (with defaults, and ``field(default_factory=...)`` for mutable ones), an
``__init__`` taking them by position or keyword, ``__eq__`` and ``__repr__``, and with
``frozen=True`` no assignment after ``__init__`` and a ``__hash__``. Type checkers read it as a
dataclass (``typing.dataclass_transform``). It exists because ``dataclasses`` imports
``inspect`` (and with it ``ast``, ``dis``, ``tokenize``), which costs the CLI's fast path
about a tenth of its run; this module imports nothing beyond ``typing``. Annotations are
never evaluated (the modules use ``from __future__ import annotations``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

__all__ = ["MISSING", "field", "fields", "record"]

T = TypeVar("T")
C = TypeVar("C", bound=type)

#: The default of a field that has none (in :func:`fields`).
MISSING: Any = object()


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], T]) -> T:
    """A field whose default is made anew for each instance (``default_factory()``)."""
    return _Factory(default_factory)  # type: ignore[return-value]


def fields(cls: type) -> dict[str, Any]:
    """A record class's fields in order (inherited ones first), each with its default:
    :data:`MISSING` when it has none, the factory's marker for a ``field(...)``."""
    found: dict[str, Any] = getattr(cls, "__record_fields__")  # noqa: B009
    return dict(found)


def _collect(cls: type) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass is not cls and "__record_fields__" in klass.__dict__:
            found.update(klass.__dict__["__record_fields__"])  # a record base: as it was built
            continue
        # A class's own annotations (inspect.get_annotations would import inspect).
        own = klass.__dict__.get("__annotations__", {})  # noqa: RUF063
        for name, note in own.items():
            if isinstance(note, str) and note.startswith(("ClassVar", "typing.ClassVar")):
                continue
            found[name] = klass.__dict__.get(name, MISSING)  # redefined: keeps its place
    return found


def _build(cls: C, frozen: bool) -> C:
    defaults = _collect(cls)
    names = tuple(defaults)
    required = [n for n, v in defaults.items() if v is MISSING]
    seen_default = False
    for name in names:
        if defaults[name] is not MISSING:
            seen_default = True
        elif seen_default:
            raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one with")
    setter = object.__setattr__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes at most {len(names)} positional arguments")
        given = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in defaults:
                raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {key!r}")
            if key in given:
                raise TypeError(f"{cls.__name__}() got multiple values for argument {key!r}")
            given[key] = value
        missing = [n for n in required if n not in given]
        if missing:
            raise TypeError(f"{cls.__name__}() missing arguments: {', '.join(missing)}")
        for name in names:
            if name in given:
                value = given[name]
            else:
                value = defaults[name]
                if isinstance(value, _Factory):
                    value = value.make()
            setter(self, name, value)

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self: Any, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in names)

    for name, value in defaults.items():  # factories are not class-level defaults
        if isinstance(value, _Factory) and name in cls.__dict__:
            delattr(cls, name)
    cls.__record_fields__ = defaults  # type: ignore[attr-defined]
    cls.__match_args__ = names  # type: ignore[attr-defined, misc]
    cls.__init__ = __init__  # type: ignore[misc]
    cls.__repr__ = __repr__  # type: ignore[assignment]
    cls.__eq__ = __eq__  # type: ignore[assignment]
    if frozen:

        def __setattr__(self: Any, name: str, value: Any) -> None:
            raise AttributeError(f"cannot assign to field {name!r} of a frozen {cls.__name__}")

        def __hash__(self: Any) -> int:
            return hash(tuple(getattr(self, n) for n in names))

        def __delattr__(self: Any, name: str) -> None:
            raise AttributeError(f"cannot delete field {name!r} of a frozen {cls.__name__}")

        cls.__setattr__ = __setattr__  # type: ignore[assignment]
        cls.__delattr__ = __delattr__  # type: ignore[assignment]
        cls.__hash__ = __hash__  # type: ignore[assignment]
    else:
        cls.__hash__ = None  # type: ignore[assignment]  # as a dataclass with eq: unhashable
    return cls


@overload
def record(cls: C, /) -> C: ...
@overload
def record(*, frozen: bool = False) -> Callable[[C], C]: ...


@dataclass_transform(field_specifiers=(field,))
def record(cls: C | None = None, /, *, frozen: bool = False) -> C | Callable[[C], C]:
    """Make ``cls`` a record (``@record`` or ``@record(frozen=True)``)."""
    if cls is not None:
        return _build(cls, frozen)
    return lambda klass: _build(klass, frozen)
