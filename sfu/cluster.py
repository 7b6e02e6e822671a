"""SFU processes in Redis: who is alive (heartbeats with a load figure) and who owns a room.

- Every SFU-aware process with Redis (embedded workers, signaling-only web workers, and
  `atelier sfu` nodes) refreshes `{atelier-sfu}:node:<id>` every `BEAT_SECONDS` with a TTL of
  `HEARTBEAT_MS`; the value is its load, `{"role", "rooms", "participants"}`. A process whose
  key is gone is dead: the processes it relayed for close those connections (4408) and its
  rooms may be taken over.
- Standalone nodes (`atelier sfu`) are also listed in the set `{atelier-sfu}:nodes`, where
  signaling-only web workers pick the least loaded one for a new room.
- A room's owner is `{atelier-sfu}:room:<room>` = node id, a lease (`LEASE_MS`) its owner
  renews. Claiming runs in one Lua script: the current owner if it is alive, otherwise the
  candidate (if it is alive): so each room has exactly one live owner at a time, and a room
  whose owner died moves on the next join.

Redis Cluster: every key a script touches is passed in its KEYS (the owner's heartbeat key
too: the client reads the owner first, and the script answers "changed" if it moved since,
which the client retries), and every key carries the hash tag `{atelier-sfu}`, so they all
hash to one slot (scripts and `MGET` of heartbeats across nodes are then allowed).

(Pub/sub channels and keys are separate namespaces in Redis: the channel
`atelier:sfu:node:<id>` carries relayed signaling.)
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfu.errors import SfuError

if TYPE_CHECKING:
    from redis.asyncio import Redis

LEASE_MS = 15_000
RENEW_SECONDS = 5.0
HEARTBEAT_MS = 6_000
BEAT_SECONDS = 1.5
WATCH_SECONDS = 1.0
# One hash tag for every key: one Redis Cluster slot, so scripts and MGET may mix them.
HASH_TAG = "{atelier-sfu}"
ROOM_KEY = HASH_TAG + ":room:"
ALIVE_KEY = HASH_TAG + ":node:"
NODES_KEY = HASH_TAG + ":nodes"
# Claim attempts while the owner keeps changing between the read and the script.
CLAIM_ATTEMPTS = 5
CLOSE_NO_MEDIA_SERVER = 1013

# KEYS: the room's lease, the heartbeat of the owner the client read (ARGV[3], '' = none),
# the candidate's heartbeat; ARGV: candidate ('' = none), lease ms, owner read.
# Returns {1, live owner ('' = none)}, or {0} when the owner is no longer the one read.
_CLAIM = """
local owner = redis.call('get', KEYS[1]) or ''
if owner ~= ARGV[3] then return {0} end
if owner ~= '' and redis.call('exists', KEYS[2]) == 1 then return {1, owner} end
if ARGV[1] == '' or redis.call('exists', KEYS[3]) == 0 then return {1, ''} end
redis.call('set', KEYS[1], ARGV[1], 'px', ARGV[2])
return {1, ARGV[1]}
"""
_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end"
)


class MediaServerUnavailable(SfuError):
    """No live SFU node can take the room: the client should retry shortly (close 1013)."""

    code = CLOSE_NO_MEDIA_SERVER

    def __init__(self, reason: str = "no media server available, retry shortly") -> None:
        super().__init__(reason)
        self.reason = reason


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RoomLeases:
    """`room → node` ownership in Redis, each claim a lease renewed by its owner."""

    def __init__(self, client: Redis, node_id: str) -> None:
        self._client = client
        self.node_id = node_id

    async def claim(self, room: str, candidate: str | None = None) -> str | None:
        """The live owner of `room`; if it has none, `candidate` (default: this node) becomes
        the owner, provided it is alive. None: no live owner and the candidate is not alive.
        MediaServerUnavailable if the owner changed under every attempt (never seen)."""
        who = self.node_id if candidate is None else candidate
        key = ROOM_KEY + room
        for _ in range(CLAIM_ATTEMPTS):
            seen = await self._client.get(key)
            read = "" if seen is None else _text(seen)
            keys = (key, ALIVE_KEY + read, ALIVE_KEY + who)
            answer = await self._client.eval(_CLAIM, 3, *keys, who, str(LEASE_MS), read)
            if int(answer[0]) == 1:
                owner = _text(answer[1])
                return owner or None
        raise MediaServerUnavailable("the meeting is changing servers, retry shortly")

    async def live_owner(self, room: str) -> str | None:
        """The owner of `room` if it is alive (claims nothing)."""
        return await self.claim(room, "")

    async def renew(self, room: str) -> bool:
        renewed = await self._client.eval(_RENEW, 1, ROOM_KEY + room, self.node_id, str(LEASE_MS))
        return bool(renewed)

    async def release(self, room: str) -> None:
        await self._client.eval(_RELEASE, 1, ROOM_KEY + room, self.node_id)


@dataclass(frozen=True)
class NodeLoad:
    node: str
    rooms: int
    participants: int


class NodeDirectory:
    """The heartbeats of SFU processes, and the standalone nodes new rooms are placed on."""

    def __init__(self, client: Redis) -> None:
        self._client = client

    async def beat(self, node: str, role: str, rooms: int, participants: int) -> None:
        load = json.dumps({"role": role, "rooms": rooms, "participants": participants})
        pipe = self._client.pipeline(transaction=False)
        pipe.set(ALIVE_KEY + node, load, px=HEARTBEAT_MS)
        if role == "standalone":
            pipe.sadd(NODES_KEY, node)
        await pipe.execute()

    async def withdraw(self, node: str) -> None:
        """Take a node out of placement (it is stopping; its heartbeat stays a moment)."""
        await self._client.srem(NODES_KEY, node)

    async def forget(self, node: str) -> None:
        pipe = self._client.pipeline(transaction=False)
        pipe.srem(NODES_KEY, node)
        pipe.delete(ALIVE_KEY + node)
        await pipe.execute()

    async def alive(self, nodes: set[str]) -> set[str]:
        """Those of `nodes` whose heartbeat is current."""
        if not nodes:
            return set()
        ordered = sorted(nodes)
        pipe = self._client.pipeline(transaction=False)
        for node in ordered:
            pipe.exists(ALIVE_KEY + node)
        found = await pipe.execute()
        return {node for node, exists in zip(ordered, found, strict=True) if exists}

    async def standalone(self) -> list[NodeLoad]:
        """The live standalone nodes and their load; dead ones leave the set."""
        members = sorted(_text(m) for m in await self._client.smembers(NODES_KEY))
        if not members:
            return []
        values = await self._client.mget([ALIVE_KEY + m for m in members])
        live, dead = [], []
        for node, raw in zip(members, values, strict=True):
            if raw is None:
                dead.append(node)
                continue
            try:
                load = json.loads(raw)
                live.append(NodeLoad(node, int(load["rooms"]), int(load["participants"])))
            except (ValueError, KeyError, TypeError):
                live.append(NodeLoad(node, 0, 0))
        if dead:
            await self._client.srem(NODES_KEY, *dead)
        return live

    async def least_loaded(self) -> str | None:
        """The live standalone node with the fewest participants (then rooms), if any."""
        nodes = await self.standalone()
        if not nodes:
            return None
        best = min((n.participants, n.rooms) for n in nodes)
        return random.choice([n.node for n in nodes if (n.participants, n.rooms) == best])
