"""``@frozen``: frozen dataclass semantics without the cost of ``dataclasses`` at import.

Why: the runtime is started once per container operation, and ``@dataclass`` generates and
compiles code for every class when its module is imported (about 1 ms a class, plus ~8 ms to import
``dataclasses`` and ``inspect``). These classes get one shared ``__init__`` that reads the field
list instead. Type checkers see a frozen dataclass (PEP 681 ``dataclass_transform``).

    @frozen
    class Mount:
        destination: str
        flags: int = 0

Mutable defaults are not allowed (use tuples; ``mutable=True`` classes copy dict/list defaults).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs ~5 ms of start-up
if TYPE_CHECKING:
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:
    def dataclass_transform(**_kw: Any) -> Any:
        return lambda f: f


__all__ = ["frozen", "record", "replace", "fields", "asdict"]


def _fields(cls: type) -> tuple[tuple[str, ...], dict[str, Any]]:
    names: list[str] = []
    defaults: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        for name in klass.__dict__.get("__annotations__", {}):  # noqa: RUF063 (inspect is slow to import)
            if name.startswith("_") or name in names:
                continue
            names.append(name)
            if name in klass.__dict__:
                defaults[name] = klass.__dict__[name]
    return tuple(names), defaults


def _make(cls: type[T], is_frozen: bool) -> type[T]:
    names, defaults = _fields(cls)
    for n in defaults:
        if n in cls.__dict__:
            delattr(cls, n)  # instances always carry their own value
    copy_default = {n for n, v in defaults.items() if isinstance(v, (dict, list))}

    def __init__(self: Any, *args: Any, **kw: Any) -> None:
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} positional arguments, got {len(args)}")
        d = self.__dict__
        for name, value in zip(names, args, strict=False):
            d[name] = value
        for name in names[len(args):]:
            if name in kw:
                d[name] = kw.pop(name)
            elif name in defaults:
                v = defaults[name]
                d[name] = v.copy() if name in copy_default else v
            else:
                raise TypeError(f"{cls.__name__}() missing argument {name!r}")
        if kw:
            raise TypeError(f"{cls.__name__}() got unexpected arguments {sorted(kw)}")

    def __repr__(self: Any) -> str:
        return f"{cls.__name__}({', '.join(f'{n}={self.__dict__[n]!r}' for n in names)})"

    def __eq__(self: Any, other: Any) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(self.__dict__ == other.__dict__)

    def __setattr__(self: Any, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of frozen {cls.__name__}")

    def __hash__(self: Any) -> int:
        return hash(tuple(self.__dict__[n] for n in names))

    setattr(cls, "__init__", __init__)  # noqa: B010 (mypy: no assigning methods on a class)
    setattr(cls, "__repr__", __repr__)  # noqa: B010
    setattr(cls, "__eq__", __eq__)  # noqa: B010
    if is_frozen:
        setattr(cls, "__setattr__", __setattr__)  # noqa: B010
        setattr(cls, "__delattr__", __setattr__)  # noqa: B010
        setattr(cls, "__hash__", __hash__)  # noqa: B010
    else:
        setattr(cls, "__hash__", None)  # noqa: B010
    setattr(cls, "__skiff_fields__", names)  # noqa: B010
    return cls


@dataclass_transform(frozen_default=True)
def frozen(cls: type[T]) -> type[T]:
    """A frozen record class (like ``@dataclass(frozen=True)``)."""
    return _make(cls, True)


@dataclass_transform()
def record(cls: type[T]) -> type[T]:
    """A mutable record class (like ``@dataclass``); dict/list defaults are copied per instance."""
    return _make(cls, False)


def fields(obj: Any) -> tuple[str, ...]:
    names: tuple[str, ...] = type(obj).__skiff_fields__
    return names


def replace(obj: T, **changes: Any) -> T:
    """A copy of ``obj`` with some fields changed (``dataclasses.replace``)."""
    values = {n: obj.__dict__[n] for n in fields(obj)}
    values.update(changes)
    return type(obj)(**values)


def asdict(obj: Any) -> dict[str, Any]:
    """Fields as a dict (shallow: nested records stay records)."""
    return {n: obj.__dict__[n] for n in fields(obj)}
