"""`Value`: the base of rolebinder's value types, a `typing.NamedTuple` that is cheap to define.

Written like a NamedTuple (annotated fields, defaults, methods) and behaving like one: an
immutable tuple with named fields, `_replace`, `_asdict`, `_make`, `_fields`, equality and hashing
by value, a `Name(field=...)` repr. Type checkers see `typing.NamedTuple` itself.

Why not `typing.NamedTuple`: defining one costs about 0.2 ms at import (every field annotation is
compiled into a `ForwardRef`, then `collections.namedtuple` compiles `__new__`), and a handler's
cold start defines some thirty of them: 7 ms, a quarter of what rolebinder's own import cost
(docs/PERFORMANCE.md, issue 14). A `Value` class is built without compiling anything: its
`__new__` binds arguments by name in Python, which costs about a microsecond more per keyword
construction than a generated one. A subclass that must check or convert its fields overrides
`__new__` (and nothing else: `_make` and `_replace` construct through it).
"""

from __future__ import annotations

from operator import itemgetter

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any

_MISSING: Any = object()
_TUPLE_NEW = tuple.__new__


class _ValueType(type):
    """Turns the annotated class body of a `Value` subclass into tuple fields."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> type:
        if not any(isinstance(base, _ValueType) for base in bases):  # the base class itself
            return super().__new__(mcs, name, bases, namespace)
        fields = tuple(namespace.get("__annotations__", ()))
        if not fields or any(f.startswith("_") for f in fields):
            if fields:
                raise TypeError(f"{name}: a Value's fields cannot start with an underscore")
            namespace.setdefault("__slots__", ())  # a subclass adding methods, not fields
            return super().__new__(mcs, name, bases, namespace)
        defaults = tuple(namespace.pop(f, _MISSING) for f in fields)
        namespace.update(
            __slots__=(),
            _fields=fields,
            _field_defaults={
                f: d for f, d in zip(fields, defaults, strict=True) if d is not _MISSING
            },
            _defaults=defaults,
            _positions={f: i for i, f in enumerate(fields)},
            __match_args__=fields,
        )
        for position, field in enumerate(fields):
            namespace[field] = property(itemgetter(position), doc=f"Alias for field {position}")
        return super().__new__(mcs, name, bases, namespace)

    @property
    def __signature__(cls) -> Any:
        """The constructor's parameters, as a NamedTuple's (inspect, Hypothesis' `builds`), built
        when asked; None for a class with its own `__new__`, whose signature it is then."""
        if "__new__" in vars(cls):
            return None
        import inspect  # noqa: PLC0415 - only introspection needs it

        owner = next(c for c in cls.__mro__ if "_fields" in vars(c))
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        return inspect.Signature(
            [
                inspect.Parameter(
                    field,
                    kind,
                    default=cls._field_defaults.get(field, inspect.Parameter.empty),
                    annotation=owner.__annotations__[field],
                )
                for field in cls._fields
            ]
        )


class _Value(tuple, metaclass=_ValueType):  # type: ignore[type-arg]
    __slots__ = ()
    # Set on each Value class (unannotated: typing.get_type_hints of a class reads its bases').
    _fields = ()
    _field_defaults = {}
    _defaults = ()
    _positions = {}

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        count = len(cls._fields)
        if len(args) > count:
            raise TypeError(f"{cls.__name__} takes {count} arguments, {len(args)} given")
        values = [*args, *cls._defaults[len(args) :]]
        for key, value in kwargs.items():
            position = cls._positions.get(key)
            if position is None or position < len(args):
                raise TypeError(f"{cls.__name__}: unexpected or repeated argument {key!r}")
            values[position] = value
        if _MISSING in values:
            missing = [f for f, v in zip(cls._fields, values, strict=True) if v is _MISSING]
            raise TypeError(f"{cls.__name__} is missing {', '.join(missing)}")
        return _TUPLE_NEW(cls, values)

    @classmethod
    def _make(cls, iterable: Any) -> Any:
        return cls(*iterable)

    def _replace(self, **changes: Any) -> Any:
        values = [changes.pop(f, v) for f, v in zip(self._fields, self, strict=True)]
        if changes:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(changes)}")
        return type(self)(*values)

    def _asdict(self) -> dict[str, Any]:
        return dict(zip(self._fields, self, strict=True))

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        shown = ", ".join(f"{f}={v!r}" for f, v in zip(self._fields, self, strict=True))
        return f"{type(self).__name__}({shown})"


if TYPE_CHECKING:
    from typing import NamedTuple as Value
else:
    Value = _Value
