"""The y-websocket wire protocol: lib0 encoding, sync, awareness, auth and query-awareness.

Every message is a varuint type followed by its payload:

* 0 sync: varuint submessage (0 step1 + state vector, 1 step2 + update, 2 update + update),
  the payload as a varUint8Array;
* 1 awareness: varUint8Array awareness update;
* 2 auth: varuint 0 (permission denied) + varString reason;
* 3 query-awareness: no payload.

Decoding is strict, unlike lib0's and pycrdt's decoders: varuints must be minimal and fit in
53 bits (JavaScript's safe integers), no length may run past the end, strings must be UTF-8 and
nothing may follow a complete message, so that `bytes(parse(data)) == data` for every accepted
message.  `validate_update` checks the structure of a Yjs v1 update, because pycrdt's
`Doc.apply_update` accepts some garbage without complaint.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from typing import Final, TypeAlias, TypeVar

from .errors import (
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_POLICY_VIOLATION,
    CLOSE_UNSUPPORTED_DATA,
    ProtocolError,
)

__all__ = [
    "EMPTY_UPDATE",
    "MAX_SAFE_INTEGER",
    "AwarenessMessage",
    "Message",
    "MessageType",
    "PermissionDenied",
    "QueryAwareness",
    "SyncStep1",
    "SyncStep2",
    "SyncUpdate",
    "parse_message",
    "validate_state_vector",
    "validate_update",
    "write_var_string",
    "write_var_uint",
    "write_var_uint8_array",
]

MAX_SAFE_INTEGER: Final = 2**53 - 1
"""The largest varuint accepted: JavaScript's Number.MAX_SAFE_INTEGER, as lib0 enforces."""

_MAX_VARUINT_BYTES: Final = 8  # ceil(53 / 7)
_MAX_U32: Final = 2**32 - 1  # yrs keeps clocks and lengths in u32

EMPTY_UPDATE: Final = b"\x00\x00"
"""A Yjs v1 update with no structs and an empty delete set."""


class MessageType:
    """Outer message types of the y-websocket protocol."""

    SYNC: Final = 0
    AWARENESS: Final = 1
    AUTH: Final = 2
    QUERY_AWARENESS: Final = 3


_SYNC_STEP1: Final = 0
_SYNC_STEP2: Final = 1
_SYNC_UPDATE: Final = 2
_AUTH_PERMISSION_DENIED: Final = 0


# --- encoding -------------------------------------------------------------------------------


def write_var_uint(value: int) -> bytes:
    """Encode a non-negative integer as a lib0 varuint."""
    if value < 0x80:
        if value < 0:
            raise ValueError(f"varuint cannot encode a negative number: {value}")
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def write_var_uint8_array(data: bytes) -> bytes:
    """Encode bytes as a lib0 varUint8Array (varuint length, then the bytes)."""
    return write_var_uint(len(data)) + data


def write_var_string(text: str) -> bytes:
    """Encode a string as a lib0 varString (UTF-8 as a varUint8Array)."""
    return write_var_uint8_array(text.encode("utf-8"))


# --- strict decoding ------------------------------------------------------------------------


def _truncated(what: str) -> ProtocolError:
    return ProtocolError(f"truncated message: {what}", CLOSE_POLICY_VIOLATION)


class _Reader:
    """A cursor over bytes with strict lib0 decoding; every error is a ProtocolError."""

    __slots__ = ("canonical", "data", "pos")

    def __init__(self, data: bytes, *, canonical: bool = True) -> None:
        self.data = data
        self.pos = 0
        # Framing must be minimal so that re-encoding gives the same bytes; inside updates we
        # accept what lib0 and yrs accept (only the 8-byte / 53-bit bound applies).
        self.canonical = canonical

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def var_uint(self) -> int:
        data = self.data
        pos = self.pos
        if pos < len(data):
            first = data[pos]
            if first < 0x80:  # fast path: most varuints are one byte
                self.pos = pos + 1
                return first
        start = pos
        result = 0
        shift = 0
        while True:
            if pos >= len(data):
                raise _truncated(f"varuint runs past the end at byte {start}")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift >= 7 * _MAX_VARUINT_BYTES:
                raise ProtocolError(f"overlong varuint at byte {start}: more than 8 bytes")
        if self.canonical and byte == 0:
            raise ProtocolError(f"overlong varuint at byte {start}: not minimally encoded")
        if result > MAX_SAFE_INTEGER:
            raise ProtocolError(f"varuint at byte {start} exceeds 2**53 - 1")
        self.pos = pos
        return result

    def u32(self, what: str) -> int:
        start = self.pos
        value = self.var_uint()
        if value > _MAX_U32:
            raise ProtocolError(f"{what} at byte {start} exceeds 2**32 - 1")
        return value

    def u8(self, what: str) -> int:
        pos = self.pos
        if pos >= len(self.data):
            raise _truncated(f"{what} runs past the end at byte {pos}")
        self.pos = pos + 1
        return self.data[pos]

    def skip(self, length: int, what: str) -> int:
        """Advance over `length` bytes and return where they start."""
        start = self.pos
        end = start + length
        if end > len(self.data):
            left = len(self.data) - start
            raise _truncated(
                f"{what} of {length} bytes at byte {start} runs past the end ({left} left)"
            )
        self.pos = end
        return start

    def var_uint8_array(self, what: str = "byte array") -> bytes:
        length = self.var_uint()
        start = self.skip(length, what)
        return self.data[start : self.pos]

    def var_string(self, what: str = "string") -> str:
        length = self.var_uint()
        start = self.skip(length, what)
        try:
            return self.data[start : self.pos].decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(f"invalid UTF-8 in {what} at byte {start}") from None

    def expect_end(self, what: str) -> None:
        if self.pos != len(self.data):
            extra = len(self.data) - self.pos
            raise ProtocolError(f"trailing bytes after {what}: {extra} at byte {self.pos}")


# --- messages -------------------------------------------------------------------------------


def _check_size(data: bytes, max_size: int | None) -> None:
    if max_size is not None and len(data) > max_size:
        raise ProtocolError(
            f"message of {len(data)} bytes exceeds the limit of {max_size}", CLOSE_MESSAGE_TOO_BIG
        )


def _read_sync_body(reader: _Reader) -> tuple[int, bytes]:
    start = reader.pos
    kind = reader.var_uint()
    if kind not in (_SYNC_STEP1, _SYNC_STEP2, _SYNC_UPDATE):
        raise ProtocolError(
            f"unknown sync message type {kind} at byte {start}", CLOSE_UNSUPPORTED_DATA
        )
    payload = reader.var_uint8_array(_SYNC_NAMES[kind])
    reader.expect_end(_SYNC_NAMES[kind])
    return kind, payload


_SYNC_NAMES: Final = {
    _SYNC_STEP1: "sync step1",
    _SYNC_STEP2: "sync step2",
    _SYNC_UPDATE: "sync update",
}


def _expect_type(reader: _Reader, expected: int, name: str) -> None:
    kind = reader.var_uint()
    if kind != expected:
        raise ProtocolError(f"not a {name} message: type {kind}", CLOSE_POLICY_VIOLATION)


def _sync(kind: int, payload: bytes) -> bytes:
    return bytes((MessageType.SYNC, kind)) + write_var_uint8_array(payload)


_SyncMessage = TypeVar("_SyncMessage", "SyncStep1", "SyncStep2", "SyncUpdate")


def _parse_sync(cls: type[_SyncMessage], kind: int, data: bytes) -> _SyncMessage:
    message = parse_message(data)
    if not isinstance(message, cls):
        raise ProtocolError(f"not a {_SYNC_NAMES[kind]} message: {type(message).__name__}")
    return message


@dataclass(frozen=True, slots=True)
class SyncStep1:
    """Sync step 1: the sender's state vector, asking for what it lacks."""

    state_vector: bytes

    def __bytes__(self) -> bytes:
        return _sync(_SYNC_STEP1, self.state_vector)

    @classmethod
    def parse(cls, data: bytes) -> SyncStep1:
        return _parse_sync(cls, _SYNC_STEP1, data)


@dataclass(frozen=True, slots=True)
class SyncStep2:
    """Sync step 2: an update with what the other side lacked."""

    update: bytes

    def __bytes__(self) -> bytes:
        return _sync(_SYNC_STEP2, self.update)

    @classmethod
    def parse(cls, data: bytes) -> SyncStep2:
        return _parse_sync(cls, _SYNC_STEP2, data)


@dataclass(frozen=True, slots=True)
class SyncUpdate:
    """An incremental document update."""

    update: bytes

    def __bytes__(self) -> bytes:
        return _sync(_SYNC_UPDATE, self.update)

    @classmethod
    def parse(cls, data: bytes) -> SyncUpdate:
        return _parse_sync(cls, _SYNC_UPDATE, data)


@dataclass(frozen=True, slots=True)
class AwarenessMessage:
    """An awareness update (presence: user, cursor), its payload left encoded."""

    update: bytes

    def __bytes__(self) -> bytes:
        return bytes((MessageType.AWARENESS,)) + write_var_uint8_array(self.update)

    @classmethod
    def parse(cls, data: bytes) -> AwarenessMessage:
        reader = _Reader(data)
        _expect_type(reader, MessageType.AWARENESS, "awareness")
        update = reader.var_uint8_array("awareness update")
        reader.expect_end("awareness message")
        return cls(update)


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    """A request for every known awareness state."""

    def __bytes__(self) -> bytes:
        return bytes((MessageType.QUERY_AWARENESS,))

    @classmethod
    def parse(cls, data: bytes) -> QueryAwareness:
        reader = _Reader(data)
        _expect_type(reader, MessageType.QUERY_AWARENESS, "query-awareness")
        reader.expect_end("query-awareness")
        return cls()


@dataclass(frozen=True, slots=True)
class PermissionDenied:
    """Auth message: the server refused something, with a reason for the user."""

    reason: str

    def __bytes__(self) -> bytes:
        return bytes((MessageType.AUTH, _AUTH_PERMISSION_DENIED)) + write_var_string(self.reason)

    @classmethod
    def parse(cls, data: bytes) -> PermissionDenied:
        reader = _Reader(data)
        _expect_type(reader, MessageType.AUTH, "auth")
        return cls._parse_body(reader)

    @classmethod
    def _parse_body(cls, reader: _Reader) -> PermissionDenied:
        start = reader.pos
        kind = reader.var_uint()
        if kind != _AUTH_PERMISSION_DENIED:
            raise ProtocolError(
                f"unknown auth message type {kind} at byte {start}", CLOSE_UNSUPPORTED_DATA
            )
        reason = reader.var_string("permission-denied reason")
        reader.expect_end("permission-denied")
        return cls(reason)


Message: TypeAlias = (
    SyncStep1 | SyncStep2 | SyncUpdate | AwarenessMessage | QueryAwareness | PermissionDenied
)


def parse_message(data: bytes, *, max_size: int | None = None) -> Message:
    """Decode one y-websocket message; raise ProtocolError (with a close code) if invalid."""
    _check_size(data, max_size)
    if not data:
        raise ProtocolError("empty message")
    reader = _Reader(data)
    kind = reader.var_uint()
    if kind == MessageType.SYNC:
        sync_kind, payload = _read_sync_body(reader)
        if sync_kind == _SYNC_UPDATE:
            return SyncUpdate(payload)
        if sync_kind == _SYNC_STEP2:
            return SyncStep2(payload)
        return SyncStep1(payload)
    if kind == MessageType.AWARENESS:
        update = reader.var_uint8_array("awareness update")
        reader.expect_end("awareness message")
        return AwarenessMessage(update)
    if kind == MessageType.QUERY_AWARENESS:
        reader.expect_end("query-awareness")
        return QueryAwareness()
    if kind == MessageType.AUTH:
        return PermissionDenied._parse_body(reader)
    raise ProtocolError(f"unknown message type {kind}", CLOSE_UNSUPPORTED_DATA)


# --- Yjs v1 updates -------------------------------------------------------------------------

_GC: Final = 0
_SKIP: Final = 10
_BIT8: Final = 0x80  # has origin
_BIT7: Final = 0x40  # has right origin
_BIT6: Final = 0x20  # has parentSub
_CONTENT_DELETED: Final = 1
_CONTENT_TYPE: Final = 7
_TYPE_REF_XML_ELEMENT: Final = 3  # the only type ref followed by a name
# 0 array, 1 map, 2 text, 3 xml element, 4 xml fragment, 6 xml text.  5 (XmlHook) is refused:
# Yjs writes a hook name after it and yrs reads none, so the two would disagree on the bytes.
_SUPPORTED_TYPE_REFS: Final = frozenset((0, 1, 2, 3, 4, 6))
_MAX_ANY_DEPTH: Final = 64


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _check_json(text: str, what: str, start: int, *, allow_undefined: bool = False) -> None:
    if allow_undefined and text == "undefined":  # ContentJSON writes undefined this way
        return
    try:
        json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        raise ProtocolError(f"invalid JSON in {what} at byte {start}") from None


def _skip_any(reader: _Reader, depth: int = 0) -> None:
    """Skip one lib0 `Any` value (the encoding of writeAny)."""
    if depth > _MAX_ANY_DEPTH:
        raise ProtocolError(f"value nested deeper than {_MAX_ANY_DEPTH} at byte {reader.pos}")
    start = reader.pos
    tag = reader.u8("value tag")
    if tag in (127, 126, 121, 120):  # undefined, null, false, true
        return
    if tag == 125:  # varint: same byte layout as a varuint, with sign and 6 bits in the first
        if reader.u8("integer") & 0x80:
            reader.var_uint()
    elif tag == 124:
        reader.skip(4, "float32")
    elif tag in (123, 122):
        reader.skip(8, "float64" if tag == 123 else "bigint64")
    elif tag == 119:
        reader.var_string()
    elif tag == 118:
        for _ in range(reader.var_uint()):
            reader.var_string("object key")
            _skip_any(reader, depth + 1)
    elif tag == 117:
        for _ in range(reader.var_uint()):
            _skip_any(reader, depth + 1)
    elif tag == 116:
        reader.var_uint8_array()
    else:
        raise ProtocolError(f"unknown value tag {tag} at byte {start}")


def _skip_item_content(reader: _Reader, content_ref: int, start: int) -> int:
    """Skip the content of an item, returning its length in clock units."""
    if content_ref == 4:  # string: length in UTF-16 code units
        text = reader.var_string()
        length = len(text.encode("utf-16-le")) // 2
    elif content_ref == 8:  # any
        length = reader.u32("item length")
        for _ in range(length):
            _skip_any(reader)
    elif content_ref == 1:  # deleted
        length = reader.u32("deleted length")
    elif content_ref == 7:  # type
        type_start = reader.pos
        type_ref = reader.var_uint()
        if type_ref not in _SUPPORTED_TYPE_REFS:
            raise ProtocolError(f"unsupported type ref {type_ref} at byte {type_start}")
        if type_ref == _TYPE_REF_XML_ELEMENT:
            reader.var_string("type name")
        length = 1
    elif content_ref == 6:  # format: key + JSON value
        reader.var_string("format key")
        value_start = reader.pos
        _check_json(reader.var_string("format value"), "format value", value_start)
        length = 1
    elif content_ref == 5:  # embed: JSON
        value_start = reader.pos
        _check_json(reader.var_string("embed"), "embed", value_start)
        length = 1
    elif content_ref == 2:  # legacy JSON content
        length = reader.u32("item length")
        for _ in range(length):
            value_start = reader.pos
            text = reader.var_string("JSON value")
            _check_json(text, "JSON value", value_start, allow_undefined=True)
    elif content_ref == 3:  # binary
        reader.var_uint8_array("binary content")
        length = 1
    elif content_ref == 9:  # sub-document: guid + options
        reader.var_string("sub-document guid")
        _skip_any(reader)
        length = 1
    else:
        raise ProtocolError(f"unknown content type {content_ref} at byte {start}")
    return length


def _check_clock(clock: int, start: int) -> None:
    if clock > _MAX_U32:
        raise ProtocolError(f"struct clock runs past 2**32 - 1 at byte {start}")


# client -> (start clock, end clock) of the structs of an update that cannot be a parent
_Ranges: TypeAlias = dict[int, list[tuple[int, int]]]


def _read_structs(reader: _Reader) -> None:
    # yrs refuses an item whose parent is an item that is neither a type nor deleted; such
    # parents inside the update itself are checked here (parents in the document cannot be).
    not_parents: _Ranges = {}
    parents: list[tuple[int, int, int]] = []  # (client, clock, byte offset)
    for _ in range(reader.var_uint()):
        struct_count = reader.var_uint()
        client = reader.var_uint()
        clock = reader.u32("clock")
        for _ in range(struct_count):
            start = reader.pos
            info = reader.u8("struct info")
            content_ref = info & 0x1F
            if content_ref == _GC or content_ref == _SKIP:
                if info != content_ref:  # yrs rejects GC and Skip with item flags
                    raise ProtocolError(f"invalid struct info {info} at byte {start}")
                length = reader.u32("struct length")
            else:
                if info & _BIT8:  # origin id
                    reader.var_uint()
                    reader.u32("origin clock")
                if info & _BIT7:  # right origin id
                    reader.var_uint()
                    reader.u32("right origin clock")
                if not info & (_BIT8 | _BIT7):
                    parent_start = reader.pos
                    parent_info = reader.var_uint()
                    if parent_info == 1:
                        reader.var_string("parent name")
                    elif parent_info == 0:
                        parents.append((reader.var_uint(), reader.u32("parent clock"), start))
                    else:
                        raise ProtocolError(f"invalid parent info at byte {parent_start}")
                    if info & _BIT6:
                        reader.var_string("parent key")
                length = _skip_item_content(reader, content_ref, start)
                if content_ref != _CONTENT_TYPE and content_ref != _CONTENT_DELETED:
                    not_parents.setdefault(client, []).append((clock, clock + length))
            if length == 0:
                raise ProtocolError(f"empty struct at byte {start}")
            clock += length
            _check_clock(clock, start)
    if parents and not_parents:
        _check_parents(parents, not_parents)


def _check_parents(parents: list[tuple[int, int, int]], not_parents: _Ranges) -> None:
    for client_ranges in not_parents.values():
        client_ranges.sort()
    for client, clock, start in parents:
        ranges = not_parents.get(client)
        if ranges is None:
            continue
        index = bisect_right(ranges, (clock, _MAX_U32 + 1)) - 1
        if index >= 0 and ranges[index][0] <= clock < ranges[index][1]:
            raise ProtocolError(f"parent of the item at byte {start} is not a type")


def _read_delete_set(reader: _Reader) -> None:
    for _ in range(reader.var_uint()):
        reader.var_uint()  # client id
        for _ in range(reader.var_uint()):
            start = reader.pos
            clock = reader.u32("delete clock")
            length = reader.u32("delete length")
            _check_clock(clock + length, start)


def validate_update(update: bytes) -> None:
    """Raise ProtocolError (1008) unless `update` is a well-formed Yjs v1 update."""
    reader = _Reader(update, canonical=False)
    _read_structs(reader)
    _read_delete_set(reader)
    reader.expect_end("update")


def validate_state_vector(state_vector: bytes) -> None:
    """Raise ProtocolError (1008) unless `state_vector` is a well-formed Yjs state vector."""
    reader = _Reader(state_vector, canonical=False)
    for _ in range(reader.var_uint()):
        reader.var_uint()  # client id
        reader.u32("clock")
    reader.expect_end("state vector")
