"""One-dimensional PostgreSQL arrays in the binary wire format, packed in bulk.

psycopg dumps a list parameter element by element in Python (a dumper call, a
length and a `struct.pack` each): for the matcher's and the batch placement's
column arrays that was a sixth of their CPU. Here a whole column of integers is
packed by one `struct.pack`, and strings, timestamps and JSON by one join, into
the bytes psycopg would have sent; `PackedArray` carries them, with the array
type's oid, through a dumper that hands them over as they are.

Only for the element types of the `_PACKERS` table; `pack_array` returns None
for any other, and the caller sends a plain list.
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import orjson
from psycopg import adapt, pq
from psycopg.abc import Buffer
from psycopg.adapt import PyFormat
from psycopg.types.json import Jsonb

_HEAD = struct.Struct(">iiiii")  # ndim, has nulls, element oid, length, lower bound
_LENGTH = struct.Struct(">i")
_NULL = _LENGTH.pack(-1)
_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_JSONB_ARRAY = 3807


class PackedArray:
    """An array parameter already in PostgreSQL's binary format, with the values
    it was packed from (for the text format: a query logged or mogrified)."""

    __slots__ = ("data", "oid", "values")

    def __init__(self, data: bytes, oid: int, values: Sequence) -> None:
        self.data = data
        self.oid = oid
        self.values = values


class _PackedArrayDumper(adapt.Dumper):
    format = pq.Format.BINARY

    def get_key(self, obj, format):
        return (PackedArray, obj.oid)

    def upgrade(self, obj, format):
        dumper = _PackedArrayDumper(PackedArray)
        dumper.oid = obj.oid
        return dumper

    def dump(self, obj: PackedArray) -> bytes:
        return obj.data


class _PackedArrayTextDumper(adapt.Dumper):
    """The values as psycopg writes a list in text (Django's query log)."""

    format = pq.Format.TEXT

    def dump(self, obj: PackedArray) -> Buffer | None:  # as the dumper it calls
        values = list(obj.values)
        if obj.oid == _JSONB_ARRAY:
            values = [None if value is None else Jsonb(value) for value in values]
        dumper = adapt.Transformer(self.connection).get_dumper(values, PyFormat.TEXT)
        return dumper.dump(values)


_registered: weakref.WeakSet = weakref.WeakSet()


def ready(connection) -> None:
    """Let this psycopg connection send `PackedArray`s (once per connection)."""
    if connection not in _registered:
        # the binary one last: it is also the one for %s
        connection.adapters.register_dumper(PackedArray, _PackedArrayTextDumper)
        connection.adapters.register_dumper(PackedArray, _PackedArrayDumper)
        _registered.add(connection)


_T = TypeVar("_T")


def _fixed(code: str, size: int) -> Callable[[Sequence], bytes]:
    """Integers or booleans of `size` bytes: one struct.pack for the column."""

    def pack(values: Sequence) -> bytes:
        flat = [size, 0] * len(values)  # each element: its length, its value
        flat[1::2] = values
        return struct.pack(">" + f"i{code}" * len(values), *flat)

    return pack


def _variable(
    encode: Callable[[_T], bytes], *, repeats: bool = True
) -> Callable[[Sequence[_T]], bytes]:
    """Values of their own length. `repeats`: the values are hashable and a
    column often repeats them (a run's one timestamp, a status), so each
    distinct one is encoded once."""

    def chunk(value: _T) -> bytes:
        data = encode(value)
        return _LENGTH.pack(len(data)) + data

    if not repeats:

        def pack(values: Sequence[_T]) -> bytes:
            return b"".join([chunk(value) for value in values])

        return pack

    def pack_repeating(values: Sequence[_T]) -> bytes:
        chunks: dict = {}
        parts = []
        for value in values:
            part = chunks.get(value)
            if part is None:
                part = chunks[value] = chunk(value)
            parts.append(part)
        return b"".join(parts)

    return pack_repeating


def _text(value) -> bytes:
    return str(value).encode()


def _timestamptz(value: datetime) -> bytes:
    if value.tzinfo is None:
        raise ValueError("timestamp with time zone needs an aware datetime")
    delta = value - _POSTGRES_EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return struct.pack(">q", micros)


def _jsonb(value) -> bytes:
    return b"\x01" + orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


# PostgreSQL type name -> (element oid, array oid, pack the non-null values)
_PACKERS: dict[str, tuple[int, int, Callable[[Sequence], bytes]]] = {
    "bigint": (20, 1016, _fixed("q", 8)),
    "integer": (23, 1007, _fixed("i", 4)),
    "smallint": (21, 1005, _fixed("h", 2)),
    "boolean": (16, 1000, _fixed("?", 1)),
    "text": (25, 1009, _variable(_text)),
    "varchar": (1043, 1015, _variable(_text)),
    "timestamp with time zone": (1184, 1185, _variable(_timestamptz)),
    "jsonb": (3802, _JSONB_ARRAY, _variable(_jsonb, repeats=False)),
}


def base_type(db_type: str) -> str:
    """`varchar(16)` -> `varchar`: the element type a packer is kept under."""
    return db_type.split("(", 1)[0].strip()


def can_pack(db_type: str) -> bool:
    return base_type(db_type) in _PACKERS


def pack_array(values: Sequence, db_type: str) -> PackedArray:
    """`values` (None for NULL) as an array of `db_type` in the binary format."""
    element_oid, array_oid, pack = _PACKERS[base_type(db_type)]
    if not values:  # no dimensions
        return PackedArray(_HEAD.pack(0, 0, element_oid, 0, 0)[:12], array_oid, values)
    if not any(value is None for value in values):
        head = _HEAD.pack(1, 0, element_oid, len(values), 1)
        return PackedArray(head + pack(values), array_oid, values)
    parts = [_HEAD.pack(1, 1, element_oid, len(values), 1)]
    for value in values:  # NULLs among them: element by element
        parts.append(_NULL if value is None else pack([value]))
    return PackedArray(b"".join(parts), array_oid, values)
