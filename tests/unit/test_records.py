"""``superllmd.records``: the fast path's dataclass stand-in behaves as a dataclass does."""

from __future__ import annotations

import pytest

from superllmd.records import MISSING, field, fields, record


@record
class Base:
    name: str
    size: int = 1


@record
class Child(Base):
    tags: list[str] = field(default_factory=list)
    size: int = 2  # a redefined field keeps its place and takes the new default


@record
class Grandchild(Child):
    extra: bool = False


@record(frozen=True)
class Point:
    x: int
    y: int = 0


def test_fields_are_in_order_with_their_defaults() -> None:
    assert fields(Base) == {"name": MISSING, "size": 1}
    assert list(fields(Child)) == ["name", "size", "tags"]
    assert fields(Child)["size"] == 2


def test_init_takes_fields_by_position_or_keyword() -> None:
    assert Child("a", 3, ["t"]) == Child(name="a", size=3, tags=["t"])
    child = Child("a")
    assert (child.name, child.size, child.tags) == ("a", 2, [])
    assert Child("b").tags is not child.tags  # a factory's default is made per instance
    assert repr(child) == "Child(name='a', size=2, tags=[])"
    grand = Grandchild("g")  # an inherited factory field still has its default
    assert (grand.tags, grand.extra) == ([], False)
    assert list(fields(Grandchild)) == ["name", "size", "tags", "extra"]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing arguments: name"),
        (("a",), {"name": "b"}, "multiple values for argument 'name'"),
        ((), {"name": "a", "colour": 1}, "unexpected keyword argument 'colour'"),
        (("a", 1, [], 4), {}, "at most 3 positional"),
    ],
)
def test_bad_arguments_raise_type_error(
    args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        Child(*args, **kwargs)  # type: ignore[arg-type]


def test_equality_is_by_class_and_fields() -> None:
    assert Base("a") == Base("a", 1)
    assert Base("a") != Base("a", 2)
    assert Base("a") != Child("a", 1)
    child = Child("a")
    child.size = 5  # not frozen: assignable, and unhashable like a dataclass with eq
    assert child.size == 5
    with pytest.raises(TypeError):
        hash(child)


def test_a_frozen_record_refuses_assignment_and_hashes_by_fields() -> None:
    point = Point(1)
    with pytest.raises(AttributeError, match="frozen"):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError, match="frozen"):
        del point.y
    assert hash(point) == hash(Point(1, 0))
    assert {point: "p"}[Point(1)] == "p"


def test_a_required_field_cannot_follow_a_default() -> None:
    class Bad:
        a: int = 0
        b: int

    with pytest.raises(TypeError, match="'b' without a default"):
        record(Bad)
