"""One client's live stream as a state machine: no sockets, no sleeps."""

from __future__ import annotations

import json
from typing import Any

from live.protocol import Event
from live.session import (
    MAX_TOPICS,
    Action,
    Authorize,
    Close,
    Follow,
    Replay,
    Send,
    Session,
    State,
    Unfollow,
)

ME = "user:7"
PAGE = "item:page:12"
OTHER = "item:page:99"


def sent(actions: list[Action]) -> list[dict[str, Any]]:
    return [json.loads(a.text) for a in actions if isinstance(a, Send)]


def event(n: int, topic: str = PAGE, kind: str = "comment") -> Event:
    return Event(f"1000-{n}", topic, kind, {"n": n})


def live_session(*topics: str, last: str | None = None) -> Session:
    """A session that said hello, had every topic allowed, and replayed nothing."""
    session = Session({ME})
    session.start()
    session.receive(json.dumps({"type": "hello", "last": last, "topics": list(topics)}))
    for topic in topics:
        session.authorized(topic, True)
    session.replayed([], "1000-0")
    return session


def test_a_session_follows_its_own_topic_from_the_start() -> None:
    assert Session({ME}).start() == [Follow(ME)]


def test_hello_asks_for_each_topic_then_replays_once_all_are_answered() -> None:
    session = Session({ME})
    actions = session.receive(json.dumps({"type": "hello", "last": None, "topics": [PAGE, OTHER]}))
    assert actions == [Authorize(PAGE), Authorize(OTHER)]
    assert session.authorized(PAGE, True) == [Follow(PAGE)]
    actions = session.authorized(OTHER, False)
    assert sent(actions) == [{"type": "refused", "topic": OTHER, "reason": "not found"}]
    assert actions[-1] == Replay(None, frozenset({ME, PAGE}))
    actions = session.replayed([], "1000-5")
    assert sent(actions) == [
        {"type": "ready", "last": "1000-5"},
        {"type": "subscribed", "topic": PAGE},
    ]
    assert session.state is State.LIVE


def test_a_forbidden_topic_gets_nothing_of_it() -> None:
    session = Session({ME})
    session.receive(json.dumps({"type": "hello", "last": None, "topics": [OTHER]}))
    session.authorized(OTHER, False)
    session.replayed([], "1000-0")
    assert session.deliver(event(1, OTHER)) == []
    assert OTHER not in session.topics


def test_a_client_coming_back_gets_what_it_missed_once_and_in_order() -> None:
    session = Session({ME})
    session.receive(json.dumps({"type": "hello", "last": "1000-2", "topics": [PAGE]}))
    session.authorized(PAGE, True)
    # Live events arrive while the replay is read: they wait (one of them is also replayed).
    assert session.deliver(event(4)) == []
    assert session.deliver(event(5)) == []
    actions = session.replayed([event(3), event(4)], "1000-4")
    ids = [m["id"] for m in sent(actions) if m["type"] == "event"]
    assert ids == ["1000-3", "1000-4", "1000-5"]
    assert sent(actions)[3] == {"type": "ready", "last": "1000-5"}
    # Afterwards: new events go at once; an old one (already given) never again.
    assert [m["id"] for m in sent(session.deliver(event(6)))] == ["1000-6"]
    assert session.deliver(event(5)) == []


def test_events_the_client_already_had_are_not_given_again() -> None:
    session = live_session(PAGE, last="1000-10")
    assert session.deliver(event(9)) == []
    assert sent(session.deliver(event(11)))[0]["id"] == "1000-11"


def test_a_client_past_the_retention_window_is_told_to_reload_and_goes_on() -> None:
    session = Session({ME})
    session.receive(json.dumps({"type": "hello", "last": "1-0", "topics": []}))
    messages = sent(session.replayed(None, "2000-3"))
    assert messages == [
        {"type": "reload", "reason": "missed events are too old"},
        {"type": "ready", "last": "2000-3"},
    ]
    assert sent(session.deliver(event(1, ME)))  # the stream goes on


def test_subscribing_later_is_authorised_and_said_once_allowed() -> None:
    session = live_session()
    assert session.receive(json.dumps({"type": "subscribe", "topic": PAGE})) == [Authorize(PAGE)]
    actions = session.authorized(PAGE, True)
    assert actions[0] == Follow(PAGE)
    assert sent(actions) == [{"type": "subscribed", "topic": PAGE}]
    assert sent(session.deliver(event(1)))[0]["topic"] == PAGE


def test_unsubscribing_stops_the_events_but_never_ones_own_topic() -> None:
    session = live_session(PAGE)
    actions = session.receive(json.dumps({"type": "unsubscribe", "topic": PAGE}))
    assert actions[0] == Unfollow(PAGE)
    assert session.deliver(event(1)) == []
    session.receive(json.dumps({"type": "unsubscribe", "topic": ME}))
    assert sent(session.deliver(event(2, ME)))


def test_access_revoked_to_a_topic_ends_its_events_at_once() -> None:
    session = live_session(PAGE)
    actions = session.revoke(PAGE)
    assert actions[0] == Unfollow(PAGE)
    assert sent(actions) == [{"type": "unsubscribed", "topic": PAGE}]
    assert session.deliver(event(1)) == []


def test_a_session_follows_at_most_so_many_topics() -> None:
    session = live_session()
    for n in range(MAX_TOPICS - 1):
        topic = f"item:page:{n}"
        session.receive(json.dumps({"type": "subscribe", "topic": topic}))
        session.authorized(topic, True)
    one_more = "item:page:one-more"
    refused = sent(session.receive(json.dumps({"type": "subscribe", "topic": one_more})))
    assert refused == [
        {"type": "refused", "topic": one_more, "reason": f"at most {MAX_TOPICS} topics"}
    ]


def test_bad_messages_close_with_a_clear_reason() -> None:
    cases = {
        "not json": (1008, "not JSON"),
        "[1]": (1008, "a message is a JSON object"),
        '{"type": "shout"}': (1008, "unknown message type 'shout'"),
        '{"type": "subscribe", "topic": "x y"}': (1008, "not a topic: 'x y'"),
        '{"type": "hello", "last": "yesterday"}': (1008, "hello: not an event id: 'yesterday'"),
        '{"type": "subscribe", "topic": "item:page:1"}': (1008, "send hello first"),
        "x" * 20_000: (1009, "message larger than 16384 bytes"),
    }
    for text, closed in cases.items():
        assert Session({ME}).receive(text) == [Close(*closed)], text
    session = live_session()
    assert session.receive('{"type": "hello", "last": null}') == [Close(1008, "hello is sent once")]
    assert session.deliver(event(1, ME)) == []  # closed: nothing more


def test_ping_is_answered_at_any_time() -> None:
    assert sent(Session({ME}).receive('{"type": "ping"}')) == [{"type": "pong"}]
