"""The part of ``ctypes`` that ``skiff.sys`` uses, built on its C module ``_ctypes`` directly.

Why: ``import ctypes`` costs 2-3 ms of every runtime start (7 ms on a loaded machine): the module
defines dozens of types and checks them, and makes a libffi closure. The runtime needs a handful of
types, ``CDLL`` with errno, structures and buffers. Same names and behaviour as ``ctypes``; mixing
the two works (a type is a type to ``_ctypes``).

    from skiff.sys import ffi
    libc = ffi.CDLL("libc.so.6", use_errno=True)
    libc.mount.argtypes = [ffi.c_char_p, ffi.c_char_p, ffi.c_char_p, ffi.c_ulong, ffi.c_char_p]
"""

from __future__ import annotations

import _ctypes
from _ctypes import Array, Structure, addressof, get_errno, sizeof

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    _Int = _ctypes._SimpleCData[int]
    _Bytes = _ctypes._SimpleCData[bytes]
    _BytesOrNone = _ctypes._SimpleCData[bytes | None]
    _IntOrNone = _ctypes._SimpleCData[int | None]
else:  # generic only to type checkers
    _Int = _Bytes = _BytesOrNone = _IntOrNone = _ctypes._SimpleCData

__all__ = [
    "CDLL", "Array", "Structure", "addressof", "byref", "c_char", "c_char_p", "c_int", "c_long",
    "c_uint", "c_uint32", "c_uint64", "c_ulong", "c_ushort", "c_void_p", "create_string_buffer",
    "get_errno", "sizeof", "POINTER",
]

byref: Any = _ctypes.byref
POINTER: Any = _ctypes.POINTER


class c_int(_Int):
    _type_ = "i"


class c_uint(_Int):
    _type_ = "I"


class c_long(_Int):
    _type_ = "l"


class c_ulong(_Int):
    _type_ = "L"


class c_ushort(_Int):
    _type_ = "H"


class c_uint64(_Int):
    _type_ = "Q"


class c_char(_Bytes):
    _type_ = "c"


class c_char_p(_BytesOrNone):
    _type_ = "z"


class c_void_p(_IntOrNone):
    _type_ = "P"


c_uint32 = c_uint  # Linux, every architecture Skiff runs on


def create_string_buffer(init: bytes | int, size: int | None = None) -> Any:
    """A mutable char array: ``init`` bytes (plus a NUL unless ``size`` says otherwise), or zeros."""
    if isinstance(init, bytes):
        buf: Any = (c_char * (len(init) + 1 if size is None else size))()
        buf.value = init
        return buf
    return (c_char * init)()


class CDLL:
    """A shared library; its functions are attributes (cdecl, returning int unless told)."""

    def __init__(self, name: str, use_errno: bool = False) -> None:
        flags = _ctypes.FUNCFLAG_CDECL | (_ctypes.FUNCFLAG_USE_ERRNO if use_errno else 0)

        class _FuncPtr(_ctypes.CFuncPtr):
            _flags_ = flags
            _restype_ = c_int

        self._name = name
        self._FuncPtr = _FuncPtr
        self._handle = _ctypes.dlopen(name, _ctypes.RTLD_LOCAL)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        func: Any = self._FuncPtr((name, self))  # type: ignore[arg-type]
        func.__name__ = name
        setattr(self, name, func)
        return func
