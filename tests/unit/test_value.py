"""rolebinder.value.Value against its oracle, typing.NamedTuple: the same class written both ways
must behave the same (construction, errors, equality, hashing, replace, pickling, repr)."""

from __future__ import annotations

import pickle
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rolebinder.value import Value


class Point(Value):
    x: int
    y: int = 0
    label: str | None = None

    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)


class Oracle(NamedTuple):
    x: int
    y: int = 0
    label: str | None = None

    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)


class Checked(Value):
    """A subclass that checks its fields in __new__, as InstanceCheck does."""

    ids: tuple[str, ...]

    def __new__(cls, ids: tuple[str, ...]) -> Checked:
        if not ids:
            raise ValueError("at least one id")
        return super().__new__(cls, tuple(ids))


calls = st.tuples(st.integers(), st.integers(), st.none() | st.text(max_size=5))


@given(calls, st.integers(0, 3), st.booleans())
def test_construction_matches_named_tuple(values: tuple, positional: int, keywords: bool) -> None:
    args = values[:positional]
    names = ("x", "y", "label")[positional:]
    kwargs = dict(zip(names, values[positional:], strict=True)) if keywords else {}
    if not keywords and positional == 0:
        with pytest.raises(TypeError):
            Point(*args, **kwargs)
        with pytest.raises(TypeError):
            Oracle(*args, **kwargs)
        return
    ours, theirs = Point(*args, **kwargs), Oracle(*args, **kwargs)
    assert tuple(ours) == tuple(theirs)
    assert ours._asdict() == theirs._asdict()
    assert ours.norm1() == theirs.norm1()
    assert (ours.x, ours.y, ours.label) == (theirs.x, theirs.y, theirs.label)
    assert repr(ours) == repr(theirs).replace("Oracle", "Point")
    assert hash(ours) == hash(theirs) and ours == Point(*theirs)
    assert ours._replace(y=7) == Point(ours.x, 7, ours.label)
    assert pickle.loads(pickle.dumps(ours)) == ours


def test_the_class_describes_its_fields_like_named_tuple() -> None:
    assert Point._fields == Oracle._fields
    assert Point._field_defaults == Oracle._field_defaults
    assert Point._make([1, 2, "a"]) == Point(1, 2, "a")
    assert (
        str(__import__("inspect").signature(Point))
        == "(x: 'int', y: 'int' = 0, label: 'str | None' = None)"
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (Point, "missing x"),
        (lambda: Point(1, 2, "a", 4), "takes 3 arguments, 4 given"),
        (lambda: Point(1, x=2), "unexpected or repeated argument 'x'"),
        (lambda: Point(1, z=2), "unexpected or repeated argument 'z'"),
        (lambda: Point(1)._replace(z=3), "has no field z"),
    ],
)
def test_bad_construction_is_a_type_error(build: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        build()  # type: ignore[operator]


def test_values_are_immutable() -> None:
    point = Point(1)
    with pytest.raises(AttributeError):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        point.other = 2  # type: ignore[attr-defined]


def test_a_subclass_new_checks_every_construction_path() -> None:
    assert Checked(("a",)).ids == ("a",)
    with pytest.raises(ValueError, match="at least one id"):
        Checked(())
    with pytest.raises(ValueError, match="at least one id"):
        Checked(("a",))._replace(ids=())
    with pytest.raises(ValueError, match="at least one id"):
        Checked._make([()])


def test_fields_cannot_start_with_an_underscore() -> None:
    with pytest.raises(TypeError, match="cannot start with an underscore"):

        class Bad(Value):
            _hidden: int
