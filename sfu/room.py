"""One meeting, sans-I/O: participants, lobby, publications, moderation, hands, reactions, chat.

The room takes events (a newcomer, a client message, published tracks, an audio level, a
departure) with `now` (a monotonic clock) and returns actions: messages to send to participants
and connections to close. The I/O shell (`sfu/node.py`) carries them out and asks
`forwarding()` what each subscriber should receive. Media negotiation (SDP, ICE) is the
shell's; the room only decides who may publish and what the tracks are. Chat lines are stamped
with `wall_clock` (epoch seconds, `time.time` unless a test gives another), which people read
as the time of day.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sfu.errors import SignalingError
from sfu.forwarding import Publication, SpeakerOrder, forwarding_plan
from sfu.signaling import (
    Chat,
    ClientMessage,
    Leave,
    Moderate,
    Pin,
    RaiseHand,
    React,
    ServerMessage,
    SetMuted,
)

ROLES = ("host", "member", "guest")
# What a participant's client does with media (docs/visio.md, "Participant modes"): both
# publish and receive; publish only (it is sent no subscribe offers, so need not answer
# any); receive only (it may not publish, and takes no place in the last-N speaker order).
MODES = ("both", "publish-only", "receive-only")
# Close codes (4000-4999 are the application's): the client shows the reason.
CLOSE_REFUSED = 4403
CLOSE_REMOVED = 4410
CLOSE_ENDED = 4411
CLOSE_FULL = 4429
CLOSE_LEFT = 1000
CHAT_HISTORY = 200


@dataclass(frozen=True)
class Newcomer:
    """Who is connecting: a display name, a role, and whether they wait in the lobby."""

    name: str
    role: str  # host | member | guest
    principal: str = ""
    lobby: bool = False
    mode: str = "both"  # one of MODES


@dataclass(frozen=True)
class Send:
    to: str
    message: ServerMessage


@dataclass(frozen=True)
class Close:
    participant: str
    code: int
    reason: str


Action = Send | Close


@dataclass
class Participant:
    id: str
    name: str
    role: str
    principal: str
    in_lobby: bool
    mode: str = "both"
    hand: bool = False
    pins: frozenset[str] = frozenset()
    tracks: dict[str, Publication] = field(default_factory=dict)

    def describe(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "mode": self.mode,
            "hand": self.hand,
            "tracks": [p.describe() for p in self.tracks.values()],
        }


class MeetingRoom:
    """The state of one meeting; every method returns the actions it leads to."""

    def __init__(
        self,
        name: str,
        *,
        max_participants: int,
        last_n: int,
        welcome_extra: dict[str, object] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.wall_clock = wall_clock
        self.welcome_extra = dict(welcome_extra or {})
        self.max_participants = max_participants
        self.last_n = last_n
        self.ended = False
        self.participants: dict[str, Participant] = {}
        self.speakers = SpeakerOrder()
        self.chat: list[dict[str, object]] = []
        self._ids = (f"p{n}" for n in itertools.count(1))

    # -- queries --------------------------------------------------------------------------

    @property
    def empty(self) -> bool:
        return not self.participants

    def joined(self) -> list[Participant]:
        return [p for p in self.participants.values() if not p.in_lobby]

    def may_publish(self, participant: str) -> bool:
        p = self.participants.get(participant)
        return p is not None and not p.in_lobby and not self.ended and p.mode != "receive-only"

    def publication(self, track: str) -> Publication | None:
        for p in self.participants.values():
            if track in p.tracks:
                return p.tracks[track]
        return None

    def forwarding(self) -> dict[str, frozenset[str]]:
        """Subscriber → the track ids it should receive now."""
        joined = self.joined()
        pins = {p.id: p.pins for p in joined}
        pubs = [t for p in joined for t in p.tracks.values()]
        mode = {p.id: p.mode for p in joined}
        order = [p for p in self.speakers.order if mode.get(p) != "receive-only"]
        receivers = [p for p in self.speakers.order if mode.get(p) != "publish-only"]
        return forwarding_plan(pubs, order, pins, self.last_n, receivers)

    # -- events ---------------------------------------------------------------------------

    def connect(self, newcomer: Newcomer, now: float) -> tuple[str, list[Action]]:
        """A connection was authorised: join, wait in the lobby, or be refused (full, ended)."""
        pid = next(self._ids)
        if newcomer.role not in ROLES:
            raise ValueError(f"unknown role {newcomer.role!r}")
        if newcomer.mode not in MODES:
            raise ValueError(f"unknown mode {newcomer.mode!r}")
        if self.ended:
            return pid, [Close(pid, CLOSE_ENDED, "the meeting has ended")]
        if len(self.participants) >= self.max_participants:
            return pid, [Close(pid, CLOSE_FULL, "the meeting is full")]
        name = newcomer.name.strip()[:80] or "Invité"
        person = Participant(
            pid, name, newcomer.role, newcomer.principal, newcomer.lobby, newcomer.mode
        )
        self.participants[pid] = person
        if person.in_lobby:
            return pid, [Send(pid, ServerMessage("lobby", {"you": pid})), *self._lobby_to_hosts()]
        return pid, self._enter(person, now)

    def disconnect(self, participant: str, now: float) -> list[Action]:
        person = self.participants.pop(participant, None)
        if person is None:
            return []
        if person.in_lobby:
            return self._lobby_to_hosts()
        self.speakers.remove(participant)
        return self._broadcast(ServerMessage("left", {"participant": participant}))

    def set_tracks(self, participant: str, tracks: list[Publication]) -> list[Action]:
        """The shell negotiated `participant`'s publish connection: these tracks now send."""
        person = self.participants.get(participant)
        if person is None or person.in_lobby:
            return []
        actions: list[Action] = []
        wanted = {t.track: t for t in tracks}
        # A transceiver that now carries something else (camera → screen) is a new track.
        changed = [
            t
            for t, pub in person.tracks.items()
            if t in wanted and (pub.kind, pub.source) != (wanted[t].kind, wanted[t].source)
        ]
        for track in [t for t in person.tracks if t not in wanted or t in changed]:
            del person.tracks[track]
            message = ServerMessage("unpublished", {"participant": participant, "track": track})
            actions += self._broadcast(message)
        for track, pub in wanted.items():
            if track not in person.tracks:
                person.tracks[track] = pub
                actions += self._broadcast(ServerMessage("published", pub.describe()))
        return actions

    def audio_level(self, participant: str, level: int, now: float) -> list[Action]:
        if not self.speakers.audio_level(participant, level, now):
            return []
        return self._broadcast(ServerMessage("active_speaker", {"participant": participant}))

    def handle(self, participant: str, message: ClientMessage, now: float) -> list[Action]:
        """A room message from a participant (media messages belong to the shell)."""
        person = self.participants.get(participant)
        if person is None:
            return []
        if isinstance(message, Leave):
            return [Close(participant, CLOSE_LEFT, "left"), *self.disconnect(participant, now)]
        if person.in_lobby:
            raise SignalingError("wait until a host lets you in")
        if isinstance(message, SetMuted):
            return self._set_muted(person, message.track, message.muted, by=None)
        if isinstance(message, RaiseHand):
            person.hand = message.raised
            return self._broadcast(
                ServerMessage("hand", {"participant": participant, "raised": message.raised})
            )
        if isinstance(message, React):
            return self._broadcast(
                ServerMessage("reaction", {"participant": participant, "emoji": message.emoji})
            )
        if isinstance(message, Chat):
            line: dict[str, object] = {"participant": participant, "name": person.name}
            # `at`: milliseconds since 1970, the browser shows it in the reader's time zone.
            line.update(text=message.text, at=int(self.wall_clock() * 1000))
            self.chat = [*self.chat[-(CHAT_HISTORY - 1) :], line]
            return self._broadcast(ServerMessage("chat", line))
        if isinstance(message, Pin):
            person.pins = frozenset(p for p in message.participants if p != participant)
            return []
        if isinstance(message, Moderate):
            if person.role != "host":
                raise SignalingError("only hosts may do that")
            return self._moderate(person, message, now)
        raise SignalingError(f"{message.type!r} is not a room message")

    # -- internals ------------------------------------------------------------------------

    def _enter(self, person: Participant, now: float) -> list[Action]:
        person.in_lobby = False
        self.speakers.add(person.id)
        welcome = ServerMessage(
            "welcome",
            {
                "you": person.id,
                "name": person.name,
                "role": person.role,
                "mode": person.mode,
                "room": self.name,
                "participants": [p.describe() for p in self.joined() if p is not person],
                "active_speaker": self.speakers.active,
                "chat": list(self.chat),
                **self.welcome_extra,
            },
        )
        actions: list[Action] = [Send(person.id, welcome)]
        joined = ServerMessage("joined", {"participant": person.describe()})
        actions += self._broadcast(joined, but=person.id)
        if person.role == "host":
            actions += self._lobby_to_hosts(only=person.id)
        return actions

    def _moderate(self, host: Participant, message: Moderate, now: float) -> list[Action]:
        if message.action == "end":
            self.ended = True
            actions: list[Action] = []
            for pid in list(self.participants):
                actions.append(Close(pid, CLOSE_ENDED, "the meeting has ended"))
                self.speakers.remove(pid)
            self.participants.clear()
            return actions
        if message.action == "mute_all":
            actions = []
            for person in self.joined():
                if person is not host:
                    actions += self._mute_audio(person, host.id)
            return actions
        target = self.participants.get(message.participant or "")
        if target is None:
            raise SignalingError("no such participant")
        if message.action in ("admit", "refuse"):
            if not target.in_lobby:
                raise SignalingError("that participant is not in the lobby")
            if message.action == "refuse":
                del self.participants[target.id]
                refused = Close(target.id, CLOSE_REFUSED, "a host refused you")
                return [refused, *self._lobby_to_hosts()]
            return [*self._enter(target, now), *self._lobby_to_hosts()]
        if message.action == "mute":
            return self._mute_audio(target, host.id)
        # remove
        removed = Close(target.id, CLOSE_REMOVED, "a host removed you")
        return [removed, *self.disconnect(target.id, now)]

    def _mute_audio(self, person: Participant, by: str) -> list[Action]:
        actions: list[Action] = []
        for track, pub in list(person.tracks.items()):
            if pub.kind == "audio" and not pub.muted:
                actions += self._set_muted(person, track, True, by=by)
        return actions

    def _set_muted(
        self, person: Participant, track: str, muted: bool, by: str | None
    ) -> list[Action]:
        pub = person.tracks.get(track)
        if pub is None:
            raise SignalingError("no such track of yours")
        if pub.muted == muted:
            return []
        person.tracks[track] = replace(pub, muted=muted)
        fields: dict[str, object] = {"participant": person.id, "track": track, "muted": muted}
        if by is not None:
            fields["by"] = by
        return self._broadcast(ServerMessage("muted", fields))

    def _broadcast(self, message: ServerMessage, but: str | None = None) -> list[Action]:
        return [Send(p.id, message) for p in self.joined() if p.id != but]

    def _lobby_to_hosts(self, only: str | None = None) -> list[Action]:
        waiting = [{"id": p.id, "name": p.name} for p in self.participants.values() if p.in_lobby]
        message = ServerMessage("lobby_changed", {"waiting": waiting})
        hosts = [p for p in self.joined() if p.role == "host" and (only is None or p.id == only)]
        return [Send(h.id, message) for h in hosts]
