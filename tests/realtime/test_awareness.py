"""Awareness (presence) states with y-protocols semantics, time passed in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from realtime.awareness import (
    BROADCAST_BURST_BYTES,
    BROADCAST_BYTES_PER_SECOND,
    MAX_BYTES_PER_CONNECTION,
    MAX_CLIENT_IDS_PER_CONNECTION,
    MAX_ENTRIES,
    MAX_STATE_BYTES,
    AwarenessTable,
    decode_awareness_update,
)
from realtime.errors import ProtocolError
from realtime.protocol import AwarenessMessage, write_var_string, write_var_uint

FIXTURES = Path(__file__).parent.parent / "fixtures" / "yprotocols"


def real_update(name: str) -> bytes:
    return AwarenessMessage.parse((FIXTURES / f"{name}.bin").read_bytes()).update


def entry_update(*entries: tuple[int, int, str]) -> bytes:
    out = write_var_uint(len(entries))
    for client_id, clock, state in entries:
        out += write_var_uint(client_id) + write_var_uint(clock) + write_var_string(state)
    return out


ADA = json.dumps({"user": {"name": "Ada"}})
GRACE = json.dumps({"user": {"name": "Grace"}})


def test_real_three_client_update_adds_three_states() -> None:
    table = AwarenessTable()
    change = table.apply_update(real_update("awareness_three_clients"), now=0.0)
    assert sorted(change.added) == [7001, 7002, 7003]
    assert table.client_ids == {7001, 7002, 7003}
    assert json.loads(table.state(7003) or "")["user"]["name"] == "Zoë ✓"


def test_encoding_every_state_reproduces_the_js_bytes() -> None:
    table = AwarenessTable()
    update = real_update("awareness_three_clients")
    table.apply_update(update, now=0.0)
    assert table.encode([7001, 7002, 7003]) == update


def test_real_removal_removes_the_client() -> None:
    table = AwarenessTable()
    table.apply_update(real_update("awareness_one_client"), now=0.0)
    change = table.apply_update(real_update("awareness_removal"), now=1.0)
    assert change.removed == (7001,)
    assert table.client_ids == frozenset()


def test_older_clock_is_ignored() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((1, 5, ADA)), now=0.0)
    change = table.apply_update(entry_update((1, 4, GRACE)), now=1.0)
    assert change.accepted == ()
    assert table.state(1) == ADA


def test_same_clock_with_a_state_is_ignored_but_with_null_removes() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((1, 5, ADA)), now=0.0)
    assert table.apply_update(entry_update((1, 5, GRACE)), now=1.0).accepted == ()
    assert table.apply_update(entry_update((1, 5, "null")), now=1.0).removed == (1,)


def test_newer_clock_updates_the_state() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((1, 1, ADA)), now=0.0)
    change = table.apply_update(entry_update((1, 2, GRACE)), now=1.0)
    assert change.updated == (1,)
    assert table.state(1) == GRACE


def test_renewal_with_the_same_state_is_accepted_but_not_a_change() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((1, 1, ADA)), now=0.0)
    change = table.apply_update(entry_update((1, 2, ADA)), now=15.0)
    assert change.accepted == (1,)
    assert change.changed == ()


def test_removed_client_cannot_be_resurrected_by_a_late_older_update() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((1, 3, ADA)), now=0.0)
    table.remove([1], now=1.0)
    assert table.apply_update(entry_update((1, 3, ADA)), now=2.0).accepted == ()
    assert table.client_ids == frozenset()


def test_remove_bumps_the_clock_and_announces_null() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((1, 3, ADA), (2, 1, GRACE)), now=0.0)
    removal = table.remove([1], now=1.0)
    assert removal == entry_update((1, 4, "null"))
    assert table.client_ids == {2}
    assert table.remove([1], now=2.0) is None  # already gone


def test_removal_is_accepted_by_another_table() -> None:
    mine, theirs = AwarenessTable(), AwarenessTable()
    update = entry_update((1, 3, ADA))
    mine.apply_update(update, now=0.0)
    theirs.apply_update(update, now=0.0)
    removal = mine.remove([1], now=1.0)
    assert removal is not None
    assert theirs.apply_update(removal, now=1.0).removed == (1,)


def test_states_not_renewed_for_30_seconds_expire() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((1, 1, ADA), (2, 1, GRACE)), now=0.0)
    table.apply_update(entry_update((2, 2, GRACE)), now=15.0)  # client 2 renews
    assert table.expire(now=29.9) is None
    removal = table.expire(now=30.0)
    assert removal == entry_update((1, 2, "null"))
    assert table.client_ids == {2}
    assert table.expire(now=45.0) == entry_update((2, 3, "null"))


def test_encode_of_a_removed_client_says_null() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((1, 1, ADA)), now=0.0)
    table.remove([1], now=1.0)
    assert table.encode([1]) == entry_update((1, 2, "null"))
    assert table.encode() == entry_update()


@pytest.mark.parametrize(
    "update",
    [
        entry_update((1, 1, "{not json")),
        entry_update((1, 1, "NaN")),
        entry_update((1, 1, ADA)) + b"\x00",
        entry_update((1, 1, ADA))[:-1],
        write_var_uint(1) + write_var_uint(1) + write_var_uint(1) + b"\x02\xc3\x28",
        write_var_uint(MAX_ENTRIES + 10),
    ],
)
def test_malformed_awareness_update_is_rejected_and_changes_nothing(update: bytes) -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((9, 1, GRACE)), now=0.0)
    with pytest.raises(ProtocolError) as caught:
        table.apply_update(update, now=1.0)
    assert caught.value.close_code == 1008
    assert table.client_ids == {9}


def test_partially_valid_update_changes_nothing() -> None:
    table = AwarenessTable()
    update = entry_update((1, 1, ADA), (2, 1, "{oops"))
    with pytest.raises(ProtocolError):
        table.apply_update(update, now=0.0)
    assert table.client_ids == frozenset()


def test_decode_returns_entries_in_order() -> None:
    assert decode_awareness_update(entry_update((5, 2, ADA), (3, 1, "null"))) == [
        (5, 2, ADA),
        (3, 1, "null"),
    ]


# --- who may change a presence, and how much of it one connection may hold ------------------

ALICE, READER, OTHER = 1, 2, 3  # local connections (holders)


def big_state(size: int) -> str:
    """A JSON state of exactly `size` UTF-8 bytes."""
    base = json.dumps({"user": {"name": "Ada"}, "pad": ""})
    return base[:-2] + "x" * (size - len(base)) + '"}'


def test_a_client_id_held_by_one_connection_cannot_be_changed_or_removed_by_another() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((10, 1, ADA)), now=0.0, holder=ALICE)
    forged = table.apply_update(entry_update((10, 2, GRACE)), now=1.0, holder=READER)
    removed = table.apply_update(entry_update((10, 1, "null")), now=1.0, holder=READER)
    assert forged.accepted == removed.accepted == ()
    assert forged.refused == removed.refused == (10,)
    assert table.state(10) == ADA and table.clock(10) == 1
    assert table.held_by(ALICE) == {10} and table.held_by(READER) == frozenset()


def test_an_echo_of_someone_elses_state_is_dropped_without_being_a_refusal() -> None:
    table = AwarenessTable()
    update = entry_update((10, 1, ADA))
    table.apply_update(update, now=0.0, holder=ALICE)
    echo = table.apply_update(update, now=1.0, holder=READER)  # the stock client echoes
    assert echo.accepted == echo.refused == ()


def test_the_own_entries_of_an_update_with_a_foreign_entry_are_still_taken() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((10, 1, ADA)), now=0.0, holder=ALICE)
    change = table.apply_update(entry_update((10, 2, GRACE), (20, 1, GRACE)), 1.0, holder=READER)
    assert change.accepted == (20,) and change.refused == (10,)
    assert table.encode(change.accepted) == entry_update((20, 1, GRACE))
    assert table.state(10) == ADA and table.held_by(READER) == {20}


def test_the_holder_changes_and_removes_its_own_state() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((10, 1, ADA)), now=0.0, holder=ALICE)
    assert table.apply_update(entry_update((10, 2, GRACE)), 1.0, holder=ALICE).updated == (10,)
    assert table.apply_update(entry_update((10, 3, "null")), 2.0, holder=ALICE).removed == (10,)
    assert table.held_by(ALICE) == frozenset()


def test_a_released_client_id_may_be_claimed_again_with_a_newer_clock() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((10, 1, ADA)), now=0.0, holder=ALICE)
    assert table.release(ALICE, now=1.0) == entry_update((10, 2, "null"))
    # The same tab, reconnected on a new connection, renews its presence.
    change = table.apply_update(entry_update((10, 3, ADA)), now=2.0, holder=OTHER)
    assert change.added == (10,) and table.held_by(OTHER) == {10}


def test_an_expired_state_frees_its_client_id() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((10, 1, ADA)), now=0.0, holder=ALICE)
    table.expire(now=30.0)
    assert table.held_by(ALICE) == frozenset()
    assert table.apply_update(entry_update((10, 3, GRACE)), 31.0, holder=OTHER).added == (10,)


def test_another_worker_cannot_change_a_locally_held_client_id() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((10, 1, ADA)), now=0.0, holder=ALICE)
    change = table.apply_update(entry_update((10, 2, GRACE), (99, 1, GRACE)), now=1.0)
    assert change.accepted == (99,) and table.state(10) == ADA


def test_a_state_from_another_worker_cannot_be_taken_over_by_a_local_connection() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((99, 1, GRACE)), now=0.0)  # held on another worker
    change = table.apply_update(entry_update((99, 2, ADA)), now=1.0, holder=READER)
    assert change.refused == (99,) and table.state(99) == GRACE
    assert table.held_locally() == []


def updates_for(ids: range, clock: int = 1, state: str = ADA) -> bytes:
    return entry_update(*((client_id, clock, state) for client_id in ids))


def test_one_connection_may_hold_four_client_ids_and_no_more() -> None:
    table = AwarenessTable()
    table.apply_update(updates_for(range(100, 100 + MAX_CLIENT_IDS_PER_CONNECTION)), 0.0, ALICE)
    with pytest.raises(ProtocolError) as caught:
        table.apply_update(entry_update((500, 1, ADA)), now=1.0, holder=ALICE)
    assert caught.value.close_code == 1008 and "client ids" in str(caught.value)
    assert len(table.held_by(ALICE)) == MAX_CLIENT_IDS_PER_CONNECTION and table.state(500) is None
    # Another connection is not held back by it.
    assert table.apply_update(entry_update((600, 1, ADA)), 1.0, holder=OTHER).added == (600,)


def test_many_fresh_client_ids_in_one_update_are_refused_whole() -> None:
    table = AwarenessTable()
    with pytest.raises(ProtocolError):
        table.apply_update(updates_for(range(1000, 1200)), now=0.0, holder=ALICE)
    assert table.client_ids == frozenset()


def test_a_state_over_the_size_limit_is_refused_as_too_big() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((10, 1, big_state(MAX_STATE_BYTES))), 0.0, holder=ALICE)
    with pytest.raises(ProtocolError) as caught:
        table.apply_update(entry_update((10, 2, big_state(MAX_STATE_BYTES + 1))), 1.0, ALICE)
    assert caught.value.close_code == 1009
    assert table.clock(10) == 1


def test_the_states_one_connection_holds_are_bounded_together() -> None:
    table = AwarenessTable()
    size = MAX_BYTES_PER_CONNECTION // 2 - 100
    table.apply_update(updates_for(range(10, 12), state=big_state(size)), 0.0, holder=ALICE)
    with pytest.raises(ProtocolError) as caught:
        table.apply_update(entry_update((12, 1, big_state(size))), now=1.0, holder=ALICE)
    assert caught.value.close_code == 1009
    assert table.client_ids == {10, 11}
    # Shrinking one's own states is always possible.
    assert table.apply_update(entry_update((10, 2, ADA)), 1.0, holder=ALICE).updated == (10,)


def test_presence_changes_past_the_byte_budget_are_refused_until_time_passes() -> None:
    table = AwarenessTable()
    state_size = 8 * 1024
    clock = 0
    with pytest.raises(ProtocolError) as caught:
        for clock in range(1, 2 * BROADCAST_BURST_BYTES // state_size):
            table.apply_update(entry_update((10, clock, big_state(state_size))), 0.0, ALICE)
    assert caught.value.close_code == 1008 and "too frequent" in str(caught.value)
    # A burst went through, then nothing more: what everyone else got is bounded.
    taken = clock - 1
    assert BROADCAST_BURST_BYTES // 2 < taken * state_size <= BROADCAST_BURST_BYTES
    assert table.clock(10) == taken
    # A second later the budget has refilled for more than one change.
    assert BROADCAST_BYTES_PER_SECOND > 2 * state_size
    assert table.apply_update(entry_update((10, clock, ADA)), 1.0, ALICE).accepted == (10,)


def test_a_removal_of_unknown_or_foreign_ids_by_a_local_connection_changes_nothing() -> None:
    table = AwarenessTable()
    table.apply_update(entry_update((10, 1, ADA)), now=0.0, holder=ALICE)
    change = table.apply_update(entry_update((10, 5, "null"), (77, 1, "null")), 1.0, READER)
    assert change.accepted == () and table.client_ids == {10}
