"""Awareness (presence) states of one document, with y-protocols semantics.

An awareness update is a varuint count, then per entry a varuint client id, a varuint clock and
a varString JSON state, "null" meaning the client is gone.  An entry is accepted when its clock
is greater than the known one, or equal with a null state for a client still present (a removal
racing a renewal), exactly as y-protocols' `applyAwarenessUpdate`.  The JS clients renew their
state every 15 s; a state not renewed for 30 s is removed.  Time is always passed in as `now`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from .errors import ProtocolError
from .protocol import _Reader, write_var_string, write_var_uint

__all__ = ["OUTDATED_TIMEOUT", "AwarenessChange", "AwarenessTable"]

OUTDATED_TIMEOUT: Final = 30.0
"""Seconds after which a state that was not renewed is removed (y-protocols' outdatedTimeout)."""

MAX_ENTRIES: Final = 256
"""Entries accepted in one awareness update (a client normally sends one)."""

MAX_STATE_BYTES: Final = 64 * 1024
"""Size of one client's JSON state (user name, colour, cursor: normally well under 1 KiB)."""

_NULL: Final = "null"


@dataclass(frozen=True, slots=True)
class AwarenessChange:
    """What an awareness update changed: client ids added, updated (state differs), removed.

    `accepted` lists every client id whose entry was newer than what was known, including
    renewals that left the state unchanged; an update with no accepted entry was stale.
    """

    added: tuple[int, ...] = ()
    updated: tuple[int, ...] = ()
    removed: tuple[int, ...] = ()
    accepted: tuple[int, ...] = ()

    @property
    def changed(self) -> tuple[int, ...]:
        return self.added + self.updated + self.removed


@dataclass(slots=True)
class _ClientMeta:
    clock: int
    last_updated: float


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _encode_entries(entries: Iterable[tuple[int, int, str]]) -> bytes:
    items = list(entries)
    parts = [write_var_uint(len(items))]
    for client_id, clock, state in items:
        parts.append(write_var_uint(client_id))
        parts.append(write_var_uint(clock))
        parts.append(write_var_string(state))
    return b"".join(parts)


def decode_awareness_update(data: bytes) -> list[tuple[int, int, str]]:
    """Decode an awareness update into (client id, clock, JSON state) entries; strict."""
    reader = _Reader(data)
    count = reader.var_uint()
    if count > MAX_ENTRIES:
        raise ProtocolError(
            f"awareness update of {count} entries exceeds the limit of {MAX_ENTRIES}"
        )
    entries = []
    for _ in range(count):
        client_id = reader.var_uint()
        clock = reader.var_uint()
        start = reader.pos
        state = reader.var_string("awareness state")
        if len(state) > MAX_STATE_BYTES:
            raise ProtocolError(
                f"awareness state of client {client_id} exceeds {MAX_STATE_BYTES} bytes"
            )
        if state != _NULL:
            try:
                json.loads(state, parse_constant=_reject_constant)
            except ValueError:
                raise ProtocolError(
                    f"awareness state of client {client_id} at byte {start} is not JSON"
                ) from None
        entries.append((client_id, clock, state))
    reader.expect_end("awareness update")
    return entries


class AwarenessTable:
    """The awareness states of one document: client id -> (clock, JSON state, last renewed)."""

    def __init__(self) -> None:
        # Clocks are kept after a removal so that a late, older update cannot resurrect a state.
        self._meta: dict[int, _ClientMeta] = {}
        self._states: dict[int, str] = {}

    @property
    def client_ids(self) -> frozenset[int]:
        """Clients with a state (removed clients are not included)."""
        return frozenset(self._states)

    def state(self, client_id: int) -> str | None:
        """The JSON state of a client, or None if it has none."""
        return self._states.get(client_id)

    def clock(self, client_id: int) -> int | None:
        meta = self._meta.get(client_id)
        return None if meta is None else meta.clock

    def __len__(self) -> int:
        return len(self._states)

    def apply_update(self, data: bytes, now: float) -> AwarenessChange:
        """Apply an awareness update; raise ProtocolError (1008) if malformed, changing nothing."""
        entries = decode_awareness_update(data)
        added: list[int] = []
        updated: list[int] = []
        removed: list[int] = []
        accepted: list[int] = []
        for client_id, clock, state in entries:
            meta = self._meta.get(client_id)
            current_clock = 0 if meta is None else meta.clock
            previous = self._states.get(client_id)
            if not (
                current_clock < clock
                or (current_clock == clock and state == _NULL and previous is not None)
            ):
                continue
            accepted.append(client_id)
            if meta is None:
                self._meta[client_id] = _ClientMeta(clock, now)
            else:
                meta.clock = clock
                meta.last_updated = now
            if state == _NULL:
                if previous is not None:
                    del self._states[client_id]
                    removed.append(client_id)
            else:
                self._states[client_id] = state
                if previous is None:
                    added.append(client_id)
                elif previous != state:
                    updated.append(client_id)
        return AwarenessChange(tuple(added), tuple(updated), tuple(removed), tuple(accepted))

    def encode(self, client_ids: Iterable[int] | None = None) -> bytes:
        """An awareness update with the current states (all clients when `client_ids` is None).

        Removed clients among `client_ids` are encoded with their clock and a null state.
        """
        if client_ids is None:
            ids: Iterable[int] = self._states
        else:
            ids = (client_id for client_id in client_ids if client_id in self._meta)
        return _encode_entries(
            (client_id, self._meta[client_id].clock, self._states.get(client_id, _NULL))
            for client_id in ids
        )

    def remove(self, client_ids: Iterable[int], now: float) -> bytes | None:
        """Remove states; return the update telling others (clock + 1, null), or None."""
        entries = []
        for client_id in client_ids:
            if client_id not in self._states:
                continue
            del self._states[client_id]
            meta = self._meta[client_id]
            meta.clock += 1
            meta.last_updated = now
            entries.append((client_id, meta.clock, _NULL))
        return _encode_entries(entries) if entries else None

    def expire(self, now: float, timeout: float = OUTDATED_TIMEOUT) -> bytes | None:
        """Remove states not renewed for `timeout` seconds; return the removal update or None."""
        # Clocks of clients removed long ago are forgotten, so the table does not grow forever.
        forgotten = [
            client_id
            for client_id, meta in self._meta.items()
            if client_id not in self._states and now - meta.last_updated >= 2 * timeout
        ]
        for client_id in forgotten:
            del self._meta[client_id]
        outdated = [
            client_id
            for client_id in self._states
            if now - self._meta[client_id].last_updated >= timeout
        ]
        return self.remove(outdated, now) if outdated else None
