"""Restoring an old version: the change is built, shared live, published and stored once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pycrdt import Doc, XmlElement, XmlFragment, XmlText

from plumbing.bus import Bus, InProcessBus
from realtime.extract import document_blocks
from realtime.protocol import SyncUpdate, parse_message
from realtime.room import Broadcast, DocumentRoom, Persist, Publish
from realtime.rooms import DocumentRooms, RoomLimits
from realtime.store import DocumentStore
from realtime.versions import VersionError, restore_update
from tests.support.sinks import Sink


def page(*paragraphs: tuple[str, str]) -> Doc[Any]:
    """A TipTap-like document: a level-2 heading, then (text, bold text) paragraphs."""
    doc: Doc[Any] = Doc()
    fragment = doc.get("default", type=XmlFragment)
    heading = fragment.children.append(XmlElement("heading"))
    heading.attributes["level"] = 2.0
    heading.children.append(XmlText("Titre"))
    for plain, bold in paragraphs:
        paragraph = fragment.children.append(XmlElement("paragraph"))
        text = paragraph.children.append(XmlText())
        text.insert(0, plain)
        text.insert(len(text), bold, {"bold": {}})
    return doc


def edit(doc: Doc[Any], words: str) -> bytes:
    """Append a paragraph to `doc`; the update it made."""
    before = doc.get_state()
    paragraph = doc.get("default", type=XmlFragment).children.append(XmlElement("paragraph"))
    paragraph.children.append(XmlText(words))
    return doc.get_update(before)


def got_an_update(sink: Sink, since: int = 0) -> bool:
    """Has the client of `sink` been sent a document update (beyond the sync on joining), after
    its first `since` messages?"""
    return any(isinstance(parse_message(data), SyncUpdate) for data in sink.received[since:])


def test_a_restore_brings_back_the_old_text_with_its_formatting_and_attributes() -> None:
    doc = page(("Première ", "version"))
    old = doc.get_update()
    edit(doc, "ajout plus tard")
    current = doc.get_update()

    doc.apply_update(restore_update(current, old))

    assert str(doc.get("default", type=XmlFragment)) == (
        '<heading level="2">Titre</heading><paragraph>Première <bold>version</bold></paragraph>'
    )
    blocks = document_blocks(doc.get_update())
    assert blocks.children[0].attrs == {"level": 2}  # type: ignore[union-attr]


def test_a_restore_merges_with_a_client_that_kept_editing_concurrently() -> None:
    server = page(("Texte ", "ancien"))
    old = server.get_update()
    client: Doc[Any] = Doc()
    client.apply_update(server.get_update())
    edit(server, "après")
    restore = restore_update(server.get_update(), old)
    client_change = edit(client, "tapé pendant la restauration")

    server.apply_update(restore)
    server.apply_update(client_change)
    client.apply_update(restore)

    assert server.get_update() and str(server.get("default", type=XmlFragment)) == str(
        client.get("default", type=XmlFragment)
    )
    assert "après" not in str(client.get("default", type=XmlFragment))
    assert "tapé pendant la restauration" in str(client.get("default", type=XmlFragment))


def test_unreadable_version_bytes_are_refused_with_a_clear_error() -> None:
    with pytest.raises(VersionError, match="cannot be read"):
        restore_update(page().get_update(), b"\xff\xff\xff\xff")


def test_a_server_update_goes_to_everyone_to_the_bus_and_to_the_log_once() -> None:
    doc = page(("a", "b"))
    room = DocumentRoom("d", initial_update=doc.get_update())
    room.connect(1, writable=True, now=0)
    room.connect(2, writable=False, now=0)
    update = restore_update(room.encode_state(), page(("x", "y")).get_update())

    actions = room.apply_server_update(update, now=1)

    assert [type(a) for a in actions] == [Broadcast, Publish, Persist]
    broadcast = actions[0]
    assert isinstance(broadcast, Broadcast) and broadcast.exclude is None
    message = parse_message(broadcast.data)
    assert isinstance(message, SyncUpdate) and message.update == update
    assert document_blocks(room.encode_state()).text() == "Titrexy"
    assert room.apply_server_update(b"", now=2) == []


async def test_a_restore_reaches_every_connection_and_survives_a_reload(
    store: DocumentStore,
) -> None:
    old = page(("avant", "")).get_update()
    store.append("doc", page(("maintenant", "")).get_update())
    await store.flush()
    rooms = DocumentRooms(store, InProcessBus(), RoomLimits(room_idle_seconds=0))
    await rooms.start()
    sinks = [Sink(), Sink()]
    conns = [rooms.new_connection(s.send, s.close) for s in sinks]
    for conn in conns:
        await rooms.join("doc", conn, writable=True)
    assert rooms.take_changed() == set()

    await rooms.apply_server_change("doc", lambda current: restore_update(current, old))

    for sink in sinks:
        await sink.wait_for(lambda sink=sink: got_an_update(sink))
    assert rooms.take_changed() == {"doc"}
    for conn in conns:
        await rooms.leave("doc", conn)
    await store.flush()
    assert rooms.loaded == []
    assert document_blocks(await store.load("doc")).text() == "Titreavant"
    await rooms.close()


async def test_a_restore_of_a_document_nobody_has_open_loads_and_stores_it(
    store: DocumentStore,
) -> None:
    store.append("seul", page(("maintenant", "")).get_update())
    rooms = DocumentRooms(store, InProcessBus(), RoomLimits(room_idle_seconds=60))
    await rooms.start()
    old = page(("avant", "")).get_update()

    await rooms.apply_server_change("seul", lambda current: restore_update(current, old))
    await store.flush()

    assert document_blocks(await store.load("seul")).text() == "Titreavant"
    await rooms.close()


async def test_a_restore_on_one_worker_reaches_the_editors_of_another_and_is_stored_once(
    store: DocumentStore, worker_bus: Callable[[], Awaitable[Bus]], unique: str
) -> None:
    one = DocumentRooms(store, await worker_bus(), RoomLimits())
    two = DocumentRooms(store, await worker_bus(), RoomLimits())
    name = f"partagé-{unique}"  # one Redis may serve other test runs: a channel of our own
    current = page(("maintenant", ""))
    store.append(name, current.get_update())
    near, far = Sink(), Sink()
    near_conn = one.new_connection(near.send, near.close)
    far_conn = two.new_connection(far.send, far.close)
    await one.join(name, near_conn, writable=True)
    await two.join(name, far_conn, writable=True)
    # The far editor types and the near one sees it: each worker has heard the other arrive,
    # so the restore can only reach the far editor as an update published on the bus.
    typed = bytes(SyncUpdate(edit(current, "tapé loin")))
    two.receive(name, far_conn, typed)
    await near.wait_for(lambda: typed in near.received)
    assert two.take_changed() == {name}
    before = len(far.received)
    old = page(("avant", "")).get_update()

    await one.apply_server_change(name, lambda current: restore_update(current, old))

    # The editor on the other worker is sent the change, and that worker's document has it.
    await far.wait_for(lambda: got_an_update(far, since=before))
    state = two.document_state(name)
    assert state is not None and document_blocks(state).text() == "Titreavant"
    assert one.take_changed() == {name} and two.take_changed() == set()
    await one.leave(name, near_conn)
    await two.leave(name, far_conn)
    for rooms in (one, two):
        await rooms.close()
    await store.flush()
    assert store.stats.committed_updates == 3  # first state, far edit, restore: each once
    assert document_blocks(await store.load(name)).text() == "Titreavant"
