"""Awareness (presence) states with y-protocols semantics, time passed in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from realtime.awareness import MAX_ENTRIES, AwarenessTable, decode_awareness_update
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
        write_var_uint(MAX_ENTRIES + 1),
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
