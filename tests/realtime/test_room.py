"""One document room: simulated connections with real pycrdt documents on the client side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pycrdt
import pytest

from realtime.awareness import BROADCAST_BURST_BYTES, MAX_CLIENT_IDS_PER_CONNECTION
from realtime.protocol import (
    EMPTY_UPDATE,
    AwarenessMessage,
    PermissionDenied,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    parse_message,
    write_var_string,
    write_var_uint,
)
from realtime.room import (
    READ_ONLY_REASON,
    Action,
    Broadcast,
    Close,
    DocumentRoom,
    Persist,
    Publish,
    Send,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "yprotocols"


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.bin").read_bytes()


class Client:
    """A simulated browser: a pycrdt document that records its own updates."""

    def __init__(self) -> None:
        self.doc: pycrdt.Doc[Any] = pycrdt.Doc()
        self.text = self.doc.get("t", type=pycrdt.Text)
        self.updates: list[bytes] = []
        self.doc.observe(lambda event: self.updates.append(event.update))

    def type(self, index: int, text: str) -> bytes:
        """Insert text and return the sync update message the client would send."""
        self.text.insert(index, text)
        return bytes(SyncUpdate(self.updates[-1]))

    def deliver(self, data: bytes) -> None:
        message = parse_message(data)
        if isinstance(message, SyncUpdate | SyncStep2):
            self.doc.apply_update(message.update)


class Network:
    """Executes a room's actions against simulated local clients, recording the rest."""

    def __init__(self, room: DocumentRoom) -> None:
        self.room = room
        self.clients: dict[int, Client] = {}
        self.published: list[bytes] = []
        self.persisted: list[bytes] = []
        self.closed: list[Close] = []
        self.sent: dict[int, list[bytes]] = {}

    def connect(self, conn: int, *, writable: bool = True, now: float = 0.0) -> Client:
        client = Client()
        self.clients[conn] = client
        self.sent[conn] = []
        self.run(self.room.connect(conn, writable=writable, now=now))
        return client

    def send(self, conn: int, data: bytes, now: float = 0.0) -> list[Action]:
        actions = self.room.receive(conn, data, now)
        self.run(actions)
        return actions

    def run(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self.sent[action.conn].append(action.data)
                self.clients[action.conn].deliver(action.data)
            elif isinstance(action, Broadcast):
                for conn, client in self.clients.items():
                    if conn != action.exclude:
                        self.sent[conn].append(action.data)
                        client.deliver(action.data)
            elif isinstance(action, Publish):
                self.published.append(action.data)
            elif isinstance(action, Persist):
                self.persisted.append(action.update)
            else:
                self.closed.append(action)
                self.clients.pop(action.conn)


def text_of(room: DocumentRoom) -> str:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.apply_update(room.encode_state())
    return str(doc.get("t", type=pycrdt.Text))


def awareness(client_id: int, clock: int, state: object) -> bytes:
    update = write_var_uint(1) + write_var_uint(client_id) + write_var_uint(clock)
    return bytes(AwarenessMessage(update + write_var_string(json.dumps(state))))


def test_connect_sends_the_room_state_vector() -> None:
    room = DocumentRoom("doc")
    actions = room.connect(1, writable=True, now=0.0)
    assert actions == [Send(1, bytes(SyncStep1(room.state_vector())))]


def test_step1_is_answered_with_what_the_client_lacks() -> None:
    writer = Client()
    writer.text.insert(0, "stored text")
    room = DocumentRoom("doc", initial_update=writer.doc.get_update())
    net = Network(room)
    reader = net.connect(1)
    net.send(1, bytes(SyncStep1(reader.doc.get_state())))
    assert str(reader.text) == "stored text"


def test_two_clients_converge() -> None:
    net = Network(DocumentRoom("doc"))
    alice, bob = net.connect(1), net.connect(2)
    net.send(1, alice.type(0, "hello"))
    net.send(2, bob.type(5, " world"))
    assert str(alice.text) == str(bob.text) == "hello world" == text_of(net.room)


def test_three_clients_typing_concurrently_converge() -> None:
    net = Network(DocumentRoom("doc"))
    clients = [net.connect(conn) for conn in (1, 2, 3)]
    # Each types before seeing the others' changes.
    messages = [client.type(0, f"<{n}>") for n, client in enumerate(clients)]
    for conn, message in zip((1, 2, 3), messages, strict=True):
        net.send(conn, message)
    texts = {str(client.text) for client in clients}
    assert texts == {text_of(net.room)}
    assert sorted(texts.pop()) == sorted("<0><1><2>")


def test_update_is_broadcast_verbatim_published_and_persisted_once() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    message = Client().type(0, "x")
    update = SyncUpdate.parse(message).update
    assert room.receive(1, message, 0.0) == [
        Broadcast(message, exclude=1),
        Publish(message),
        Persist(update),
    ]


def test_step2_is_reframed_as_an_update_for_the_others() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    client = Client()
    client.text.insert(0, "offline edits")
    step2 = bytes(SyncStep2(client.doc.get_update()))
    actions = room.receive(1, step2, 0.0)
    reframed = bytes(SyncUpdate(client.doc.get_update()))
    assert actions[:2] == [Broadcast(reframed, exclude=1), Publish(reframed)]
    assert text_of(room) == "offline edits"


def test_empty_step2_produces_nothing() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    assert room.receive(1, fixture("sync_step2_empty"), 0.0) == []


def test_read_only_client_cannot_write() -> None:
    net = Network(DocumentRoom("doc"))
    net.connect(1, writable=False)
    watcher = net.connect(2)
    actions = net.send(1, Client().type(0, "vandalism"))
    assert actions == [Send(1, bytes(PermissionDenied(READ_ONLY_REASON)))]
    assert net.persisted == [] and net.published == []
    assert text_of(net.room) == "" and str(watcher.text) == ""


def test_a_writer_lowered_to_reader_is_told_at_once_and_then_refused() -> None:
    net = Network(DocumentRoom("doc"))
    writer = net.connect(1)
    watcher = net.connect(2)
    net.send(1, writer.type(0, "before "))
    assert net.room.set_writable(1, False) == [Send(1, bytes(PermissionDenied(READ_ONLY_REASON)))]
    assert net.room.set_writable(1, False) == []  # already read-only: nothing to say
    actions = net.send(1, writer.type(7, "after"))
    assert actions == [Send(1, bytes(PermissionDenied(READ_ONLY_REASON)))]
    assert text_of(net.room) == "before " == str(watcher.text)


def test_a_reader_raised_to_writer_is_asked_for_what_it_holds_and_its_edits_land() -> None:
    net = Network(DocumentRoom("doc"))
    reader = net.connect(1, writable=False)
    watcher = net.connect(2)
    net.send(1, reader.type(0, "typed while read-only, "))  # refused, kept on the device
    (ask,) = net.room.set_writable(1, True)
    assert isinstance(ask, Send) and ask.conn == 1
    step1 = parse_message(ask.data)
    assert isinstance(step1, SyncStep1)
    # The client answers the step 1 with everything the room lacks, then goes on typing.
    net.send(1, bytes(SyncStep2(reader.doc.get_update(step1.state_vector))))
    net.send(1, reader.type(len(str(reader.text)), "then saved"))
    assert text_of(net.room) == "typed while read-only, then saved" == str(watcher.text)


def test_read_only_client_empty_step2_is_silently_fine() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=False, now=0.0)
    assert room.receive(1, bytes(SyncStep2(EMPTY_UPDATE)), 0.0) == []


def test_read_only_client_can_sync_and_show_presence() -> None:
    net = Network(DocumentRoom("doc"))
    writer = net.connect(1)
    net.send(1, writer.type(0, "read me"))
    reader = net.connect(2, writable=False)
    net.send(2, bytes(SyncStep1(reader.doc.get_state())))
    assert str(reader.text) == "read me"
    presence = awareness(42, 1, {"user": {"name": "Reader"}})
    assert net.send(2, presence) == [Broadcast(presence, exclude=None), Publish(presence)]


def test_awareness_is_echoed_to_every_connection_including_the_sender() -> None:
    net = Network(DocumentRoom("doc"))
    net.connect(1)
    net.connect(2)
    presence = awareness(10, 1, {"user": {"name": "Ada"}})
    net.send(1, presence)
    assert presence in net.sent[1] and presence in net.sent[2]
    assert net.published == [presence]


def test_stale_awareness_is_not_echoed() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    presence = awareness(10, 1, {"user": {"name": "Ada"}})
    room.receive(1, presence, 0.0)
    assert room.receive(1, presence, 1.0) == []


def test_new_connection_receives_known_awareness_states() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    room.receive(1, awareness(10, 1, {"user": {"name": "Ada"}}), 0.0)
    actions = room.connect(2, writable=True, now=1.0)
    assert actions[1] == Send(2, bytes(AwarenessMessage(room.awareness.encode())))


def test_disconnect_removes_the_awareness_of_that_connection_only() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    room.connect(2, writable=True, now=0.0)
    room.receive(1, awareness(10, 3, {"user": {"name": "Ada"}}), 0.0)
    room.receive(2, awareness(20, 1, {"user": {"name": "Grace"}}), 0.0)
    actions = room.disconnect(1, now=5.0)
    removal = awareness(10, 4, None)
    assert actions == [Broadcast(removal, exclude=None), Publish(removal)]
    assert room.awareness.client_ids == {20}
    assert room.connections == {2}


def test_awareness_expires_after_30_seconds_without_renewal() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    room.receive(1, awareness(10, 1, {"user": {"name": "Ada"}}), 0.0)
    assert room.tick(29.0) == []
    actions = room.tick(30.0)
    removal = awareness(10, 2, None)
    assert actions == [Broadcast(removal, exclude=None), Publish(removal)]
    assert room.disconnect(1, now=31.0) == []  # nothing left to remove


def test_query_awareness_is_answered_with_every_state() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    assert room.receive(1, bytes(QueryAwareness()), 0.0) == []
    room.receive(1, awareness(10, 1, {"user": {"name": "Ada"}}), 0.0)
    assert room.receive(1, bytes(QueryAwareness()), 0.0) == [
        Send(1, bytes(AwarenessMessage(room.awareness.encode())))
    ]


def presence_of(room: DocumentRoom, client_id: int) -> object:
    state = room.awareness.state(client_id)
    return None if state is None else json.loads(state)


def entries(*items: tuple[int, int, object]) -> bytes:
    update = write_var_uint(len(items))
    for client_id, clock, state in items:
        update += write_var_uint(client_id) + write_var_uint(clock)
        update += write_var_string(json.dumps(state))
    return bytes(AwarenessMessage(update))


ALICE_ADMIN = {"user": {"name": "Alice Admin", "color": "#36c"}}


def test_a_reader_shows_its_own_presence_but_cannot_replace_or_remove_an_editors() -> None:
    net = Network(DocumentRoom("doc"))
    net.connect(1)
    net.connect(2, writable=False)
    net.connect(3)
    net.send(1, awareness(10, 1, ALICE_ADMIN))
    own = awareness(20, 1, {"user": {"name": "lecteur"}})
    assert net.send(2, own) == [Broadcast(own, exclude=None), Publish(own)]
    sent_before = {conn: list(sent) for conn, sent in net.sent.items()}

    assert net.send(2, awareness(10, 2, {"user": {"name": "Mallory"}})) == []
    assert net.send(2, awareness(10, 1, None)) == []  # a removal at the same clock
    assert net.send(2, awareness(10, 99, None)) == []
    assert presence_of(net.room, 10) == ALICE_ADMIN
    assert net.sent == sent_before and net.closed == []
    # The editor keeps changing it as before.
    assert net.send(1, awareness(10, 2, {"user": {"name": "Alice"}}))


def test_an_editor_cannot_take_over_another_editors_presence_either() -> None:
    net = Network(DocumentRoom("doc"))
    net.connect(1)
    net.connect(2)
    net.send(1, awareness(10, 1, ALICE_ADMIN))
    assert net.send(2, awareness(10, 2, {"user": {"name": "Bob"}})) == []
    assert presence_of(net.room, 10) == ALICE_ADMIN


def test_only_the_entries_taken_are_broadcast() -> None:
    net = Network(DocumentRoom("doc"))
    net.connect(1)
    net.connect(2)
    net.send(1, awareness(10, 1, ALICE_ADMIN))
    mixed = entries((10, 2, {"user": {"name": "Mallory"}}), (20, 1, {"user": {"name": "Bob"}}))
    own = awareness(20, 1, {"user": {"name": "Bob"}})
    assert net.send(2, mixed) == [Broadcast(own, exclude=None), Publish(own)]
    assert presence_of(net.room, 10) == ALICE_ADMIN


def test_a_disconnected_connections_client_id_may_be_claimed_by_its_reconnection() -> None:
    net = Network(DocumentRoom("doc"))
    net.connect(1)
    net.connect(2)
    net.send(1, awareness(10, 1, ALICE_ADMIN))
    net.run(net.room.disconnect(1, now=1.0))
    net.clients.pop(1)
    net.connect(3)  # the same tab, on a new socket
    renewal = awareness(10, 3, ALICE_ADMIN)
    assert net.send(3, renewal) == [Broadcast(renewal, exclude=None), Publish(renewal)]
    assert net.room.awareness.held_by(3) == {10}


@pytest.mark.parametrize(
    ("flood", "code"),
    [
        ([entries(*((1000 + i, 1, {"n": i}) for i in range(200)))], 1008),
        ([awareness(10, 2, {"pad": "x" * 20_000})], 1009),
        ([awareness(11 + i, 1, {"pad": "x" * 12_000}) for i in range(3)], 1009),
    ],
    ids=["many fresh ids", "one huge state", "too much held together"],
)
def test_presence_past_a_bound_closes_only_its_connection(flood: list[bytes], code: int) -> None:
    net = Network(DocumentRoom("doc"))
    net.connect(1)
    net.connect(2)
    net.send(1, awareness(5, 1, ALICE_ADMIN))
    net.send(2, awareness(10, 1, {"user": {"name": "Fred"}}))
    for message in flood:
        if 2 not in net.clients:
            break
        net.send(2, message)
    assert [(close.conn, close.code) for close in net.closed] == [(2, code)]
    assert presence_of(net.room, 5) == ALICE_ADMIN
    assert len(net.room.awareness) <= 1 + MAX_CLIENT_IDS_PER_CONNECTION
    assert all(len(data) < 32 * 1024 for data in net.sent[1])


def test_an_awareness_flood_reaches_the_others_only_up_to_a_burst_then_closes_the_flooder() -> None:
    net = Network(DocumentRoom("doc"))
    net.connect(1)
    net.connect(2)
    received_before = sum(map(len, net.sent[1]))
    for clock in range(1, 1001):  # renewals of one's own 12 kB state, all at once
        if 2 not in net.clients:
            break
        net.send(2, awareness(10, clock, {"pad": "x" * 12_000}))
    assert [(close.conn, close.code) for close in net.closed] == [(2, 1008)]
    assert sum(map(len, net.sent[1])) - received_before <= BROADCAST_BURST_BYTES
    # ...and the flooder's presence goes when it does.
    net.run(net.room.disconnect(2, now=0.0))
    assert net.room.awareness.client_ids == frozenset()


def test_a_newcomer_sending_back_every_state_of_a_crowded_room_is_not_closed() -> None:
    room = DocumentRoom("doc")
    for first in range(0, 400, 200):  # 400 people present, on another worker
        room.receive_remote(entries(*((i, 1, {"n": i}) for i in range(first, first + 200))), 0)
    room.connect(1, writable=False, now=0.0)
    # The stock client sends back, at once, every state it was just sent.
    echo = bytes(AwarenessMessage(room.awareness.encode()))
    assert room.receive(1, echo, 0.0) == []
    assert len(room.awareness) == 400


def test_a_remote_update_cannot_change_a_local_connections_presence() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    room.receive(1, awareness(10, 1, ALICE_ADMIN), 0.0)
    assert room.receive_remote(awareness(10, 2, {"user": {"name": "Mallory"}}), 0.0) == []
    assert room.receive_remote(awareness(10, 1, None), 0.0) == []
    assert presence_of(room, 10) == ALICE_ADMIN


def test_oversize_document_is_refused_and_nothing_applied() -> None:
    room = DocumentRoom("doc", max_document_size=1000)
    room.connect(1, writable=True, now=0.0)
    client = Client()
    assert room.receive(1, client.type(0, "small"), 0.0)[0] == Broadcast(
        bytes(SyncUpdate(client.updates[-1])), exclude=1
    )
    actions = room.receive(1, client.type(0, "x" * 2000), 0.0)
    assert len(actions) == 1
    assert isinstance(actions[0], Close) and actions[0].code == 1009
    assert text_of(room) == "small"


def test_many_small_updates_are_measured_before_being_refused() -> None:
    room = DocumentRoom("doc", max_document_size=2000)
    room.connect(1, writable=True, now=0.0)
    client = Client()
    for n in range(200):  # ~30 bytes per update, ~1 byte per character in the document
        actions = room.receive(1, client.type(n, "a"), 0.0)
        assert not any(isinstance(action, Close) for action in actions), n
    assert text_of(room) == "a" * 200


def test_garbage_closes_only_the_offending_connection() -> None:
    net = Network(DocumentRoom("doc"))
    alice, carol = net.connect(1), net.connect(3)
    net.connect(2)
    net.send(1, alice.type(0, "kept"))
    actions = net.send(2, b"\x00\x02\x05garba")
    assert len(actions) == 1 and isinstance(actions[0], Close) and actions[0].code == 1008
    assert 2 not in net.clients
    net.send(3, carol.type(4, " and more"))
    assert str(alice.text) == text_of(net.room) == "kept and more"


def test_invalid_update_bytes_close_with_policy_violation() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    actions = room.receive(1, bytes(SyncUpdate(b"\x00\x00\x00")), 0.0)
    assert [type(a) for a in actions] == [Close] and actions[0] == Close(
        1, 1008, "trailing bytes after update: 1 at byte 2"
    )


def test_unknown_message_type_closes_with_unsupported_data() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    assert room.receive(1, b"\x07", 0.0) == [Close(1, 1003, "unknown message type 7")]


def test_auth_message_from_a_client_is_a_policy_violation() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    actions = room.receive(1, fixture("permission_denied"), 0.0)
    assert len(actions) == 1 and isinstance(actions[0], Close) and actions[0].code == 1008


def test_update_with_a_bad_parent_in_the_document_closes_and_keeps_rooms_consistent() -> None:
    # The parent (client 1, clock 0) is a string item already in the document: only pycrdt
    # can tell, after integrating whatever came before it in the update.
    room = DocumentRoom("doc")
    net = Network(room)
    net.connect(1)
    watcher = net.connect(2)
    first = b"\x01\x01\x01\x00\x04\x01\x01t\x01a\x00"
    net.send(1, bytes(SyncUpdate(first)))
    # client 2: "b" at the root (fine), then "c" whose parent is the string "a" (refused)
    bad = b"\x01\x02\x02\x00\x04\x01\x01t\x01b\x04\x00\x01\x00\x01c\x00"
    actions = net.send(1, bytes(SyncUpdate(bad)))
    assert isinstance(actions[-1], Close) and actions[-1].code == 1008
    assert [type(action) for action in actions] == [Broadcast, Publish, Persist, Close]
    assert sorted(text_of(room)) == ["a", "b"]
    # Whatever pycrdt integrated before refusing went everywhere the document goes.
    assert str(watcher.text) == text_of(room)
    state: pycrdt.Doc[Any] = pycrdt.Doc()
    for update in net.persisted:
        state.apply_update(update)
    assert state.get_state() == pycrdt.get_state(room.encode_state())


def test_the_same_update_twice_is_harmless() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    message = Client().type(0, "once")
    room.receive(1, message, 0.0)
    room.receive(1, message, 0.0)
    room.receive_remote(message, 0.0)
    assert text_of(room) == "once"


def test_real_ywebsocket_client_first_messages_are_accepted() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    step1 = room.receive(1, fixture("ywebsocket_client_0"), 0.0)
    assert isinstance(step1[0], Send) and isinstance(parse_message(step1[0].data), SyncStep2)
    presence = fixture("ywebsocket_client_1")
    assert room.receive(1, presence, 0.0) == [Broadcast(presence, exclude=None), Publish(presence)]
    step2_with_skip = fixture("ywebsocket_client_2")
    actions = room.receive(1, step2_with_skip, 0.0)
    assert [type(action) for action in actions] == [Broadcast, Publish, Persist]
    assert not room.is_idle and room.size > 0


def test_real_step2_with_skip_then_the_missing_update_completes_the_text() -> None:
    net = Network(DocumentRoom("doc"))
    watcher = net.connect(2)
    net.connect(1)
    net.send(1, fixture("sync_step2_with_skip"))
    net.send(1, fixture("update_missing_second"))
    assert text_of(net.room) == "first second third" == str(watcher.text)


def test_remote_update_is_broadcast_to_all_locals_and_not_republished() -> None:
    net = Network(DocumentRoom("doc"))
    alice = net.connect(1)
    message = Client().type(0, "from another worker")
    actions = net.room.receive_remote(message, 0.0)
    net.run(actions)
    assert actions == [Broadcast(message, exclude=None)]
    assert str(alice.text) == "from another worker"


def test_remote_step1_is_answered_on_the_bus_with_a_step2() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    room.receive(1, Client().type(0, "only here"), 0.0)
    peer = DocumentRoom("doc")
    (hello_step1, hello_query) = peer.bus_hello()
    assert hello_query == Publish(bytes(QueryAwareness()))
    assert isinstance(hello_step1, Publish)
    answer = room.receive_remote(hello_step1.data, 0.0)
    assert len(answer) == 1 and isinstance(answer[0], Publish)
    assert isinstance(parse_message(answer[0].data), SyncStep2)
    peer.receive_remote(answer[0].data, 0.0)
    assert text_of(peer) == "only here"


def test_remote_query_awareness_is_answered_with_local_clients_only() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    assert room.receive_remote(bytes(QueryAwareness()), 0.0) == []
    room.receive(1, awareness(10, 1, {"user": {"name": "Ada"}}), 0.0)
    room.receive_remote(awareness(99, 1, {"user": {"name": "Remote"}}), 0.0)
    answer = room.receive_remote(bytes(QueryAwareness()), 0.0)
    assert answer == [Publish(awareness(10, 1, {"user": {"name": "Ada"}}))]


def test_remote_awareness_is_broadcast_to_locals_only() -> None:
    room = DocumentRoom("doc")
    presence = awareness(99, 1, {"user": {"name": "Remote"}})
    assert room.receive_remote(presence, 0.0) == [Broadcast(presence, exclude=None)]
    assert room.awareness.client_ids == {99}


def test_malformed_remote_data_is_ignored() -> None:
    room = DocumentRoom("doc")
    for data in (b"", b"\x07", b"\x00\x02\x03abc", bytes(SyncUpdate(b"\x00\x00\x00"))):
        assert room.receive_remote(data, 0.0) == []


def test_catch_up_sends_locals_only_what_they_lacked() -> None:
    net = Network(DocumentRoom("doc"))
    alice = net.connect(1)
    net.send(1, alice.type(0, "seen "))
    elsewhere = Client()
    elsewhere.doc.apply_update(net.room.encode_state())
    elsewhere.text.insert(5, "missed")
    actions = net.room.catch_up(elsewhere.doc.get_update(), 0.0)
    net.run(actions)
    assert str(alice.text) == "seen missed"
    assert all(isinstance(action, Broadcast) for action in actions)
    assert net.room.catch_up(elsewhere.doc.get_update(), 0.0) == []  # nothing new


def test_close_reason_fits_in_a_websocket_close_frame() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    (close,) = room.receive(1, b"\x02\x00\x02\xc3\x28", 0.0)
    assert isinstance(close, Close) and len(close.reason.encode()) <= 123


def test_unknown_connection_is_ignored() -> None:
    room = DocumentRoom("doc")
    assert room.receive(5, b"\x07", 0.0) == []
    assert room.disconnect(5, 0.0) == []
    assert room.is_idle


def test_the_revision_moves_on_every_change_and_only_then() -> None:
    room = DocumentRoom("doc")
    room.connect(1, writable=True, now=0.0)
    room.connect(2, writable=False, now=0.0)
    first = room.revision
    room.receive(1, awareness(10, 1, {"user": {"name": "Ada"}}), 0.0)
    room.receive(2, Client().type(0, "refused"), 0.0)  # read-only: not applied
    assert room.revision == first
    room.receive(1, Client().type(0, "x"), 0.0)
    assert room.revision != first
    # A room loaded again (after an unload) never reuses a revision seen before.
    again = DocumentRoom("doc", initial_update=room.encode_state())
    assert again.revision not in (first, room.revision)
