"""Keyframe-request coalescing per publisher track (clock passed in)."""

from __future__ import annotations

from sfu.feedback import KeyframeRequests


def test_requests_within_the_interval_fold_into_one_more_when_it_ends() -> None:
    requests = KeyframeRequests(interval=0.3)
    assert requests.request("t", now=10.0)
    assert not any(requests.request("t", now=10.0 + i * 0.01) for i in range(1, 20))
    assert requests.next_due() == 10.3
    assert requests.due(now=10.2) == []
    assert requests.due(now=10.3) == ["t"]
    assert requests.due(now=10.4) == []  # folded: one, not nineteen
    assert requests.next_due() is None


def test_tracks_are_coalesced_independently() -> None:
    requests = KeyframeRequests(interval=0.3)
    assert requests.request("a", now=1.0)
    assert requests.request("b", now=1.1)
    assert not requests.request("a", now=1.2)
    assert requests.due(now=1.35) == ["a"]


def test_a_new_subscriber_gets_one_at_once_unless_one_just_left() -> None:
    requests = KeyframeRequests(interval=0.3, urgent_interval=0.05)
    assert requests.request("t", now=5.0)
    assert not requests.request("t", now=5.02, urgent=True)  # a keyframe is already coming
    assert requests.due(now=6.0) == []  # and nothing is owed for it
    assert requests.request("t", now=6.1)
    assert requests.request("t", now=6.2, urgent=True)  # inside 300 ms, but a newcomer waits


def test_forgetting_a_track_drops_its_pending_request() -> None:
    requests = KeyframeRequests()
    requests.request("t", now=0.0)
    requests.request("t", now=0.1)
    requests.forget("t")
    assert requests.due(now=1.0) == []
    assert requests.request("t", now=1.0)
