"""The registry of live sockets: which sockets an access change reaches, and what it does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from plumbing.bus import InProcessBus, LocalHub
from plumbing.sockets import AccessChange, AccessChanges, LiveSockets


class FakeSocket:
    """A socket as the registry sees it: tags, a close and a re-check that may fail."""

    def __init__(self, *tags: str, recheck_error: Exception | None = None) -> None:
        self.tags = frozenset(tags)
        self.closed: tuple[int, str] | None = None
        self.rechecked: list[str] = []
        self._error = recheck_error

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    async def recheck(self, reason: str) -> None:
        self.rechecked.append(reason)
        if self._error is not None:
            raise self._error


async def until(condition: Callable[[], object]) -> None:
    """Let the event loop run the tasks a bus message started, until `condition` holds."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the event loop never got there")


def registry(*sockets: FakeSocket) -> LiveSockets:
    live = LiveSockets()
    for socket in sockets:
        live.add(socket)
    return live


async def test_a_change_reaches_the_sockets_carrying_every_one_of_its_tags() -> None:
    mine = FakeSocket("user:1", "space:3", "session:a")
    other_space = FakeSocket("user:1", "space:4", "session:a")
    someone_else = FakeSocket("user:2", "space:3", "session:b")
    live = registry(mine, other_space, someone_else)
    change = AccessChange(frozenset({"user:1", "space:3"}), "role changed")
    assert await live.apply(change) == 1
    assert mine.rechecked == ["role changed"]
    assert other_space.rechecked == someone_else.rechecked == []


async def test_a_closing_change_closes_with_its_code_and_spares_the_kept_session() -> None:
    laptop = FakeSocket("user:1", "session:laptop")
    phone = FakeSocket("user:1", "session:phone")
    live = registry(laptop, phone)
    change = AccessChange(
        frozenset({"user:1"}), "signed out", close=4401, keep=frozenset({"session:phone"})
    )
    assert await live.apply(change) == 1
    assert laptop.closed == (4401, "signed out")
    assert phone.closed is None and phone.rechecked == []


async def test_a_recheck_that_fails_closes_the_socket_rather_than_keep_access_open() -> None:
    broken = FakeSocket("doc:x", recheck_error=RuntimeError("database away"))
    fine = FakeSocket("doc:x")
    live = registry(broken, fine)
    await live.apply(AccessChange(frozenset({"doc:x"}), "page moved to the trash"))
    assert broken.closed is not None and broken.closed[0] == 1011
    assert fine.closed is None and fine.rechecked == ["page moved to the trash"]


def test_a_socket_that_left_is_found_no_more() -> None:
    socket = FakeSocket("user:1", "space:3")
    live = registry(socket)
    live.discard(socket)
    assert live.matching({"user:1"}) == []
    assert len(live) == 0 and live.tags_starting("user:") == set()


def test_access_changes_cross_the_bus_as_they_were_made() -> None:
    change = AccessChange(frozenset({"user:1"}), "signed out", 4401, frozenset({"session:k"}))
    assert AccessChange.decode(change.encode()) == change
    with pytest.raises(ValueError):
        AccessChange(frozenset(), "nothing named")


async def test_a_change_published_on_one_worker_is_applied_on_the_other() -> None:
    hub = LocalHub()
    here_bus, there_bus = InProcessBus(hub), InProcessBus(hub)
    await here_bus.start()
    await there_bus.start()
    here_socket, there_socket = FakeSocket("user:1"), FakeSocket("user:1")
    here = AccessChanges(registry(here_socket), here_bus)
    there = AccessChanges(registry(there_socket), there_bus)
    await here.listen()
    await there.listen()
    await here.publish(AccessChange(frozenset({"user:1"}), "deactivated", close=4401))
    assert here_socket.closed == (4401, "deactivated")
    await until(lambda: there_socket.closed)  # applied from the bus handler's task
    assert there_socket.closed == (4401, "deactivated")
    await here.close()
    await there.close()


async def test_a_malformed_change_on_the_bus_is_ignored() -> None:
    hub = LocalHub()
    bus = InProcessBus(hub)
    await bus.start()
    socket = FakeSocket("user:1")
    changes = AccessChanges(registry(socket), bus)
    await changes.listen()
    sender = InProcessBus(hub)
    await sender.start()
    sender.publish("atelier:access", b"{not json")
    sender.publish("atelier:access", b'{"tags": []}')
    # A good one after them: once it is applied, the bad ones before it were dropped.
    sender.publish("atelier:access", AccessChange(frozenset({"user:1"}), "good").encode())
    await until(lambda: socket.rechecked)
    assert socket.closed is None and socket.rechecked == ["good"]


async def test_a_socket_tagged_for_every_space_is_reached_by_a_change_in_any_of_them() -> None:
    stream = FakeSocket("user:1", "session:a", "space:*")
    other_person = FakeSocket("user:2", "space:*")
    live = registry(stream, other_person)
    assert await live.apply(AccessChange(frozenset({"user:1", "space:3"}), "removed")) == 1
    assert stream.rechecked == ["removed"] and other_person.rechecked == []
