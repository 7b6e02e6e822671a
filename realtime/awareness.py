"""Awareness (presence) states of one document, with y-protocols semantics and owners.

An awareness update is a varuint count, then per entry a varuint client id, a varuint clock and
a varString JSON state, "null" meaning the client is gone.  An entry is accepted when its clock
is greater than the known one, or equal with a null state for a client still present (a removal
racing a renewal), exactly as y-protocols' `applyAwarenessUpdate`.  The JS clients renew their
state every 15 s; a state not renewed for 30 s is removed.  Time is always passed in as `now`.

Unlike y-protocols, a client id here belongs to the local connection that first announced it
(its holder) until that connection leaves, removes it or lets it expire: entries from anyone
else for that id are dropped, so nobody can change or remove another person's presence.  The
stock client echoes every state it receives and removes peers it thinks timed out, so dropped
entries are not an offence in themselves.  What one connection holds, and how fast it may
change it, is bounded (the constants below); an update past a bound is refused whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, TypeAlias

from plumbing.ratelimit import TokenBucket

from .errors import CLOSE_MESSAGE_TOO_BIG, CLOSE_POLICY_VIOLATION, ProtocolError
from .protocol import _Reader, write_var_string, write_var_uint

__all__ = [
    "BROADCAST_BURST_BYTES",
    "BROADCAST_BYTES_PER_SECOND",
    "MAX_BYTES_PER_CONNECTION",
    "MAX_CLIENT_IDS_PER_CONNECTION",
    "MAX_ENTRIES",
    "MAX_STATE_BYTES",
    "OUTDATED_TIMEOUT",
    "AwarenessChange",
    "AwarenessTable",
    "Holder",
]

OUTDATED_TIMEOUT: Final = 30.0
"""Seconds after which a state that was not renewed is removed (y-protocols' outdatedTimeout)."""

MAX_ENTRIES: Final = 256
"""Entries accepted in one awareness update beyond the number of clients the table knows.

A client normally sends one, but the stock client sends back every state it receives, all the
states of the room at once when it joins: so much is always allowed."""

MAX_STATE_BYTES: Final = 16 * 1024
"""UTF-8 size of one client's JSON state (name, colour, cursor: normally well under 1 KiB)."""

MAX_CLIENT_IDS_PER_CONNECTION: Final = 4
"""Client ids one connection may hold (the stock client uses one; a little room to spare)."""

MAX_BYTES_PER_CONNECTION: Final = 32 * 1024
"""UTF-8 size of all the states one connection holds, together."""

BROADCAST_BYTES_PER_SECOND: Final = 64 * 1024
"""Presence one connection may send everyone, on average (a caret moving is ~300 B a time)."""

BROADCAST_BURST_BYTES: Final = 256 * 1024
"""... and in a burst: what every other peer may have to take at once from one connection."""

_CHANGE_COST: Final = 128
"""Bytes counted against the budget for each client changed, on top of its state: framing,
and the work of applying and forwarding it."""

Holder: TypeAlias = int
"""A local connection holding client ids (the room's connection id)."""

_NULL: Final = "null"


@dataclass(frozen=True, slots=True)
class AwarenessChange:
    """What an awareness update changed: client ids added, updated (state differs), removed.

    `accepted` lists, once each, every client id whose entry was newer than what was known,
    including renewals that left the state unchanged; an update with no accepted entry was
    stale or foreign.
    """

    added: tuple[int, ...] = ()
    updated: tuple[int, ...] = ()
    removed: tuple[int, ...] = ()
    accepted: tuple[int, ...] = ()
    refused: tuple[int, ...] = ()
    """Client ids held by someone else whose entry was newer (and so would have been taken)."""

    @property
    def changed(self) -> tuple[int, ...]:
        return self.added + self.updated + self.removed


@dataclass(slots=True)
class _ClientMeta:
    clock: int
    last_updated: float


@dataclass(slots=True)
class _Holding:
    """What one local connection holds, and what it may still broadcast."""

    client_ids: set[int]
    budget: TokenBucket


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


def decode_awareness_update(
    data: bytes, max_entries: int = MAX_ENTRIES
) -> list[tuple[int, int, str]]:
    """Decode an awareness update into (client id, clock, JSON state) entries; strict."""
    reader = _Reader(data)
    count = reader.var_uint()
    if count > max_entries:
        raise ProtocolError(
            f"awareness update of {count} entries exceeds the limit of {max_entries}"
        )
    entries = []
    for _ in range(count):
        client_id = reader.var_uint()
        clock = reader.var_uint()
        start = reader.pos
        if reader.var_uint() > MAX_STATE_BYTES:
            raise ProtocolError(
                f"awareness state of client {client_id} exceeds {MAX_STATE_BYTES} bytes",
                CLOSE_MESSAGE_TOO_BIG,
            )
        reader.pos = start
        state = reader.var_string("awareness state")
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
    """The awareness states of one document: client id -> (clock, JSON state, last renewed).

    Each state announced by a local connection is held by it (`Holder`); states from other
    workers have no local holder.
    """

    def __init__(self) -> None:
        # Clocks are kept after a removal so that a late, older update cannot resurrect a state.
        self._meta: dict[int, _ClientMeta] = {}
        self._states: dict[int, str] = {}
        self._holder_of: dict[int, Holder] = {}
        self._holdings: dict[Holder, _Holding] = {}

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

    def held_by(self, holder: Holder) -> frozenset[int]:
        """The client ids a local connection holds."""
        holding = self._holdings.get(holder)
        return frozenset() if holding is None else frozenset(holding.client_ids)

    def held_locally(self) -> list[int]:
        """Every client id held by a local connection, in the order they were announced."""
        return list(self._holder_of)

    def __len__(self) -> int:
        return len(self._states)

    def apply_update(
        self, data: bytes, now: float, holder: Holder | None = None
    ) -> AwarenessChange:
        """Apply an awareness update from local connection `holder` (None: another worker).

        Entries for client ids held by someone else are dropped (a local connection's ids are
        never changed from elsewhere, not even by another worker).  Raise ProtocolError (1008
        or 1009), changing nothing, if the update is malformed or would take `holder` past a
        bound.
        """
        entries = decode_awareness_update(data, MAX_ENTRIES + len(self._meta))
        # What the update would make of each client it touches, before anything is changed.
        clocks: dict[int, int] = {}
        states: dict[int, str | None] = {}
        taken: list[tuple[int, int, str]] = []
        refused: dict[int, None] = {}
        for client_id, clock, state in entries:
            if client_id in clocks:
                current_clock, previous = clocks[client_id], states[client_id]
            else:
                meta = self._meta.get(client_id)
                current_clock = 0 if meta is None else meta.clock
                previous = self._states.get(client_id)
            if not (
                current_clock < clock
                or (current_clock == clock and state == _NULL and previous is not None)
            ):
                continue  # stale: the stock client echoes every state it receives
            if not self._may_change(client_id, holder, removal=state == _NULL):
                refused[client_id] = None
                continue
            clocks[client_id] = clock
            states[client_id] = None if state == _NULL else state
            taken.append((client_id, clock, state))
        if holder is not None and taken:
            self._check_bounds(holder, states, now)
        return self._commit(taken, holder, now, tuple(refused))

    def _may_change(self, client_id: int, holder: Holder | None, *, removal: bool) -> bool:
        owner = self._holder_of.get(client_id)
        if holder is None:
            return owner is None
        if owner == holder:
            return True
        # A local connection may claim an id nobody has a state for; removing one is moot.
        return not removal and owner is None and client_id not in self._states

    def _check_bounds(self, holder: Holder, states: dict[int, str | None], now: float) -> None:
        holding = self._holdings.get(holder)
        held = set() if holding is None else set(holding.client_ids)
        for client_id, state in states.items():
            if state is None:
                held.discard(client_id)
            else:
                held.add(client_id)
        if len(held) > MAX_CLIENT_IDS_PER_CONNECTION:
            raise ProtocolError(
                f"presence: at most {MAX_CLIENT_IDS_PER_CONNECTION} client ids per connection"
            )
        held_bytes = 0
        for client_id in held:
            state = states.get(client_id) or self._states[client_id]
            held_bytes += len(state.encode())
        if held_bytes > MAX_BYTES_PER_CONNECTION:
            raise ProtocolError(
                f"presence: more than {MAX_BYTES_PER_CONNECTION} bytes of states on one connection",
                CLOSE_MESSAGE_TOO_BIG,
            )
        # What everyone else will be sent: each changed client once, with its final state.
        cost = sum(
            _CHANGE_COST + (0 if state is None else len(state.encode()))
            for state in states.values()
        )
        if holding is None:
            holding = self._holdings[holder] = _Holding(
                set(), TokenBucket(BROADCAST_BYTES_PER_SECOND, BROADCAST_BURST_BYTES, now)
            )
        if not holding.budget.take(now, cost):
            raise ProtocolError(
                "presence: changes too large or too frequent, slow down", CLOSE_POLICY_VIOLATION
            )

    def _commit(
        self,
        taken: list[tuple[int, int, str]],
        holder: Holder | None,
        now: float,
        refused: tuple[int, ...],
    ) -> AwarenessChange:
        added: list[int] = []
        updated: list[int] = []
        removed: list[int] = []
        accepted: dict[int, None] = {}
        for client_id, clock, state in taken:
            accepted[client_id] = None
            meta = self._meta.get(client_id)
            previous = self._states.get(client_id)
            if meta is None:
                self._meta[client_id] = _ClientMeta(clock, now)
            else:
                meta.clock = clock
                meta.last_updated = now
            if state == _NULL:
                if previous is not None:
                    del self._states[client_id]
                    removed.append(client_id)
                    self._release_id(client_id)
            else:
                self._states[client_id] = state
                if previous is None:
                    added.append(client_id)
                    if holder is not None:
                        self._holder_of[client_id] = holder
                        self._holdings[holder].client_ids.add(client_id)
                elif previous != state:
                    updated.append(client_id)
        return AwarenessChange(
            tuple(added), tuple(updated), tuple(removed), tuple(accepted), refused
        )

    def _release_id(self, client_id: int) -> None:
        holder = self._holder_of.pop(client_id, None)
        holding = None if holder is None else self._holdings.get(holder)
        if holding is not None:
            holding.client_ids.discard(client_id)

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

    def release(self, holder: Holder, now: float) -> bytes | None:
        """A local connection left: remove its states (its ids are free again); see `remove`."""
        holding = self._holdings.pop(holder, None)
        if holding is None:
            return None
        return self.remove(sorted(holding.client_ids), now)

    def remove(self, client_ids: Iterable[int], now: float) -> bytes | None:
        """Remove states; return the update telling others (clock + 1, null), or None."""
        entries = []
        for client_id in client_ids:
            if client_id not in self._states:
                continue
            del self._states[client_id]
            self._release_id(client_id)
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
