"""One document room: bytes in from connections and the bus, actions out (sans-I/O).

The room owns the pycrdt document and the awareness table of one document.  It never does I/O:
every method returns a list of actions for the shell (`rooms.py`) to execute in order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from pycrdt import Doc, TransactionEvent

from .awareness import AwarenessChange, AwarenessTable
from .errors import CLOSE_MESSAGE_TOO_BIG, CLOSE_POLICY_VIOLATION, ProtocolError
from .protocol import (
    EMPTY_UPDATE,
    AwarenessMessage,
    PermissionDenied,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    parse_message,
    validate_state_vector,
    validate_update,
)

__all__ = [
    "READ_ONLY_REASON",
    "Action",
    "Broadcast",
    "Close",
    "ConnId",
    "DocumentRoom",
    "Persist",
    "Publish",
    "Send",
]

ConnId: TypeAlias = int

READ_ONLY_REASON: Final = "read-only access: your changes were not saved"
_MAX_CLOSE_REASON_BYTES: Final = 123  # RFC 6455: the close frame payload is at most 125 bytes
_REVISIONS: Final = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Send:
    """Send `data` to one local connection."""

    conn: ConnId
    data: bytes


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send `data` to every local connection except `exclude`."""

    data: bytes
    exclude: ConnId | None


@dataclass(frozen=True, slots=True)
class Publish:
    """Publish y-protocol message bytes on the bus (the shell adds the instance-id prefix)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Persist:
    """Append a Yjs v1 update, received from this worker's own client, to the update log."""

    update: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """Close one local connection with a WebSocket close code and reason (≤ 123 bytes)."""

    conn: ConnId
    code: int
    reason: str


Action: TypeAlias = Send | Broadcast | Publish | Persist | Close


def _close(conn: ConnId, code: int, reason: str) -> Close:
    encoded = reason.encode("utf-8")
    if len(encoded) > _MAX_CLOSE_REASON_BYTES:
        reason = encoded[: _MAX_CLOSE_REASON_BYTES - 3].decode("utf-8", "ignore") + "..."
    return Close(conn, code, reason)


@dataclass(slots=True)
class _Connection:
    writable: bool


class DocumentRoom:
    """The live state of one document and the local connections editing it."""

    def __init__(
        self, name: str, *, initial_update: bytes = b"", max_document_size: int = 32 * 2**20
    ) -> None:
        self.name = name
        self.max_document_size = max_document_size
        self._doc: Doc[Any] = Doc()
        self._changes: list[bytes] = []
        # What each transaction really changed: duplicates change nothing, and a failed apply
        # may have integrated part of an update before raising.
        self._doc.observe(self._on_transaction)
        if initial_update and initial_update != EMPTY_UPDATE:
            self._doc.apply_update(initial_update)  # from our own store: trusted
        self._changes.clear()
        self._size = len(initial_update)
        # Changes to the document bump this to a number never used before in the process (so
        # a reloaded room never repeats one): "changed since I looked" is `revision != seen`.
        self.revision = next(_REVISIONS)
        self._awareness = AwarenessTable()
        self._connections: dict[ConnId, _Connection] = {}

    def _on_transaction(self, event: TransactionEvent) -> None:
        self._changes.append(event.update)

    # --- properties ---------------------------------------------------------------------

    @property
    def connections(self) -> frozenset[ConnId]:
        return frozenset(self._connections)

    @property
    def is_idle(self) -> bool:
        """No local connection is open."""
        return not self._connections

    @property
    def size(self) -> int:
        """Approximate size of the document in bytes (an upper bound: updates are added up)."""
        return self._size

    @property
    def awareness(self) -> AwarenessTable:
        return self._awareness

    def encode_state(self) -> bytes:
        """The whole document as one Yjs v1 update."""
        return self._doc.get_update()

    def state_vector(self) -> bytes:
        return self._doc.get_state()

    # --- local connections --------------------------------------------------------------

    def connect(self, conn: ConnId, *, writable: bool, now: float) -> list[Action]:
        """A connection joined: send it our state vector and the known awareness states."""
        self._connections[conn] = _Connection(writable)
        actions: list[Action] = [Send(conn, bytes(SyncStep1(self._doc.get_state())))]
        if len(self._awareness):
            actions.append(Send(conn, bytes(AwarenessMessage(self._awareness.encode()))))
        return actions

    def set_writable(self, conn: ConnId, writable: bool) -> list[Action]:
        """A connection's access changed while it is open (a role lowered to reader, or raised).

        Losing write access is said to the client at once, so its editor turns read-only
        before the person types something that would not be saved. Gaining it, the client is
        asked for what it holds that the room lacks (a sync step 1, as on a reconnect): its
        later edits build on those, and would wait for them forever otherwise.
        """
        connection = self._connections.get(conn)
        if connection is None or connection.writable == writable:
            return []
        connection.writable = writable
        if writable:
            return [Send(conn, bytes(SyncStep1(self._doc.get_state())))]
        return [Send(conn, bytes(PermissionDenied(READ_ONLY_REASON)))]

    def disconnect(self, conn: ConnId, now: float) -> list[Action]:
        """A connection left: remove the awareness states it held (their ids are free again)."""
        if self._connections.pop(conn, None) is None:
            return []
        return self._awareness_broadcast(self._awareness.release(conn, now))

    def receive(self, conn: ConnId, data: bytes, now: float) -> list[Action]:
        """A message from a local connection."""
        connection = self._connections.get(conn)
        if connection is None:
            return []
        try:
            message = parse_message(data)
            if isinstance(message, SyncUpdate | SyncStep2):
                return self._receive_update(conn, connection, message, data)
            if isinstance(message, SyncStep1):
                return [Send(conn, bytes(SyncStep2(self._diff(message.state_vector))))]
            if isinstance(message, AwarenessMessage):
                change = self._awareness.apply_update(message.update, now, holder=conn)
                return self._awareness_broadcast(self._changed_states(change))
            if isinstance(message, QueryAwareness):
                if not len(self._awareness):
                    return []
                return [Send(conn, bytes(AwarenessMessage(self._awareness.encode())))]
            raise ProtocolError("auth messages are sent by the server only")
        except ProtocolError as error:
            return [_close(conn, error.close_code, str(error))]

    def _diff(self, state_vector: bytes) -> bytes:
        validate_state_vector(state_vector)
        try:
            return self._doc.get_update(state_vector)
        except ValueError as error:
            raise ProtocolError(f"invalid state vector: {error}") from None

    def _receive_update(
        self,
        conn: ConnId,
        connection: _Connection,
        message: SyncUpdate | SyncStep2,
        data: bytes,
    ) -> list[Action]:
        update = message.update
        if update == EMPTY_UPDATE:
            return []
        if not connection.writable:
            return [Send(conn, bytes(PermissionDenied(READ_ONLY_REASON)))]
        validate_update(update)
        if self._would_exceed(len(update)):
            return [
                _close(
                    conn,
                    CLOSE_MESSAGE_TOO_BIG,
                    f"document would exceed the limit of {self.max_document_size} bytes",
                )
            ]
        try:
            self._apply(update)
        except _ApplyFailed as failure:
            return [
                *self._share_partial(failure.partial, conn),
                _close(conn, CLOSE_POLICY_VIOLATION, f"invalid update: {failure.reason}"),
            ]
        # Others must not take a step2 for an answer to their own step1: re-frame it.
        out = data if isinstance(message, SyncUpdate) else bytes(SyncUpdate(update))
        return [Broadcast(out, exclude=conn), Publish(out), Persist(update)]

    def _would_exceed(self, added: int) -> bool:
        if self._size + added <= self.max_document_size:
            return False
        # The running total over-counts (every update is added whole); measure before refusing.
        self._size = len(self._doc.get_update())
        return self._size + added > self.max_document_size

    def _apply(self, update: bytes) -> None:
        self._changes.clear()
        try:
            self._doc.apply_update(update)
        except Exception as error:  # pycrdt raises ValueError or RuntimeError
            partial = [change for change in self._changes if change != EMPTY_UPDATE]
            raise _ApplyFailed(str(error), partial) from None
        finally:
            self._changes.clear()
        self._size += len(update)
        self.revision = next(_REVISIONS)

    def _share_partial(self, partial: list[bytes], exclude: ConnId | None) -> list[Action]:
        # yrs may integrate part of an update before refusing the rest; what it integrated is
        # now in the document, so it goes everywhere the document goes, to stay consistent.
        actions: list[Action] = []
        for change in partial:
            self._size += len(change)
            self.revision = next(_REVISIONS)
            out = bytes(SyncUpdate(change))
            actions += [Broadcast(out, exclude=exclude), Publish(out), Persist(change)]
        return actions

    def _changed_states(self, change: AwarenessChange) -> bytes | None:
        # Only what was taken goes on: entries dropped as stale or foreign reach nobody.
        return self._awareness.encode(change.accepted) if change.accepted else None

    def _awareness_broadcast(self, update: bytes | None, *, publish: bool = True) -> list[Action]:
        # Presence goes to every local connection, the sender included, as y-websocket does.
        if update is None:
            return []
        data = bytes(AwarenessMessage(update))
        if not publish:
            return [Broadcast(data, exclude=None)]
        return [Broadcast(data, exclude=None), Publish(data)]

    # --- other workers and storage --------------------------------------------------------

    def receive_remote(self, data: bytes, now: float) -> list[Action]:
        """A y-protocol message from another worker, via the bus; malformed data gives []."""
        try:
            message = parse_message(data)
            if isinstance(message, SyncUpdate | SyncStep2):
                if message.update == EMPTY_UPDATE:
                    return []
                validate_update(message.update)
                try:
                    self._apply(message.update)
                except _ApplyFailed as failure:
                    return [Broadcast(bytes(SyncUpdate(c)), exclude=None) for c in failure.partial]
                out = data if isinstance(message, SyncUpdate) else bytes(SyncUpdate(message.update))
                return [Broadcast(out, exclude=None)]
            if isinstance(message, SyncStep1):
                # A peer worker just loaded the room: give it what it lacks.
                diff = self._diff(message.state_vector)
                return [] if diff == EMPTY_UPDATE else [Publish(bytes(SyncStep2(diff)))]
            if isinstance(message, AwarenessMessage):
                change = self._awareness.apply_update(message.update, now)
                return self._awareness_broadcast(self._changed_states(change), publish=False)
            if isinstance(message, QueryAwareness):
                held = self._awareness.held_locally()
                if not held:
                    return []
                return [Publish(bytes(AwarenessMessage(self._awareness.encode(held))))]
            return []
        except ProtocolError:
            return []

    def apply_server_update(self, update: bytes, now: float) -> list[Action]:
        """A change made by the server itself (a version restore): share and store it once."""
        if not update or update == EMPTY_UPDATE:
            return []
        validate_update(update)
        try:
            self._apply(update)
        except _ApplyFailed as failure:
            # Built by us from our own state, so this should not happen; stay consistent.
            return self._share_partial(failure.partial, None)
        out = bytes(SyncUpdate(update))
        return [Broadcast(out, exclude=None), Publish(out), Persist(update)]

    def catch_up(self, update: bytes, now: float) -> list[Action]:
        """Apply stored state (after a bus outage) and send locals what they lacked."""
        if not update or update == EMPTY_UPDATE:
            return []
        self._changes.clear()
        try:
            self._doc.apply_update(update)
        except Exception:
            pass  # stored by us, so valid; whatever was integrated is still shared below
        changes = [change for change in self._changes if change != EMPTY_UPDATE]
        self._changes.clear()
        actions: list[Action] = []
        for change in changes:
            self._size += len(change)
            self.revision = next(_REVISIONS)
            actions.append(Broadcast(bytes(SyncUpdate(change)), exclude=None))
        return actions

    def bus_hello(self) -> list[Action]:
        """When the room starts on a worker: ask peers for document state and presence."""
        return [
            Publish(bytes(SyncStep1(self._doc.get_state()))),
            Publish(bytes(QueryAwareness())),
        ]

    def tick(self, now: float) -> list[Action]:
        """Expire awareness states not renewed for 30 s."""
        return self._awareness_broadcast(self._awareness.expire(now))


class _ApplyFailed(Exception):
    def __init__(self, reason: str, partial: list[bytes]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial
