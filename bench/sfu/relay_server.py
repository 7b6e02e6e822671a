"""The MediaRelay baseline for the SFU benchmark: decode once, re-encode per subscriber.

A small aiortc server speaking Atelier's visio signaling (docs/visio.md) on
`ws://127.0.0.1:PORT/visio/{room}`, so the same bots drive it: `welcome`, `publish` →
`publish_answer`, and server-offered `subscribe` {sdp, revision, tracks} answered by
`subscribe_answer`. Each published track is decoded by aiortc's receiver and fanned out with
`MediaRelay.subscribe(track, buffered=False)` (no unbounded queue when overloaded), so every
subscriber's sender encodes its own VP8/Opus stream: what aiortc's public API does without
Atelier's pass-through. No lobby, tokens, last-N or moderation: a benchmark peer, not a product.

  .venv/bin/python bench/sfu/relay_server.py --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loopback
import websockets
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

RELAY = MediaRelay()
TASKS: set[asyncio.Task[None]] = set()


def spawn(coro: Any) -> None:
    task = asyncio.ensure_future(coro)
    TASKS.add(task)
    task.add_done_callback(TASKS.discard)


@dataclass
class Member:
    id: str
    ws: Any
    room: Room
    pub_pc: RTCPeerConnection | None = None
    sub_pc: RTCPeerConnection | None = None
    revision: int = 0
    awaiting: bool = False
    dirty: bool = False
    sent: dict[str, str] = field(default_factory=dict)  # track id -> mid on sub_pc
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, obj: dict[str, Any]) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.send(json.dumps(obj))


@dataclass
class Room:
    name: str
    members: dict[str, Member] = field(default_factory=dict)
    tracks: dict[str, tuple[str, Any]] = field(default_factory=dict)  # id -> (owner, track)


ROOMS: dict[str, Room] = {}
IDS = (f"p{n}" for n in itertools.count(1))


def prefer(transceiver: Any, kind: str) -> None:
    name = "vp8" if kind == "video" else "opus"
    caps = RTCRtpSender.getCapabilities(kind)
    transceiver.setCodecPreferences(
        [c for c in caps.codecs if c.mimeType.lower() in (f"{kind}/{name}", f"{kind}/rtx")]
    )


async def update(member: Member) -> None:
    """Offer the member every track of the others it does not receive yet."""
    async with member.lock:
        if member.awaiting:
            member.dirty = True
            return
        new = [
            (tid, track)
            for tid, (owner, track) in member.room.tracks.items()
            if owner != member.id and tid not in member.sent
        ]
        if not new:
            return
        if member.sub_pc is None:
            member.sub_pc = RTCPeerConnection(loopback.rtc_configuration())
        added = []
        for tid, track in new:
            tr = member.sub_pc.addTransceiver(
                RELAY.subscribe(track, buffered=False), direction="sendonly"
            )
            prefer(tr, track.kind)
            added.append((tid, tr))
        await member.sub_pc.setLocalDescription(await member.sub_pc.createOffer())
        for tid, tr in added:
            member.sent[tid] = tr.mid
        member.revision += 1
        member.awaiting = True
        await member.send(
            {
                "type": "subscribe",
                "sdp": member.sub_pc.localDescription.sdp,
                "revision": member.revision,
                "tracks": {mid: tid for tid, mid in member.sent.items()},
            }
        )


async def on_publish(member: Member, msg: dict[str, Any]) -> None:
    loopback.check_sdp(msg["sdp"])
    pc = member.pub_pc = RTCPeerConnection(loopback.rtc_configuration())
    await pc.setRemoteDescription(RTCSessionDescription(msg["sdp"], "offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    await member.send({"type": "publish_answer", "sdp": pc.localDescription.sdp})
    for tr in pc.getTransceivers():
        if tr.receiver.track is not None:
            member.room.tracks[f"{member.id}:{tr.mid}"] = (member.id, tr.receiver.track)
    for other in list(member.room.members.values()):
        if other is not member:
            spawn(update(other))


async def on_answer(member: Member, msg: dict[str, Any]) -> None:
    if member.sub_pc is None or msg.get("revision") != member.revision:
        return
    await member.sub_pc.setRemoteDescription(RTCSessionDescription(msg["sdp"], "answer"))
    member.awaiting = False
    if member.dirty:
        member.dirty = False
        await update(member)


async def handler(ws: Any) -> None:
    path = ws.request.path.split("?")[0]
    if not path.startswith("/visio/"):
        await ws.close(4404, "not found")
        return
    name = path[len("/visio/") :]
    room = ROOMS.setdefault(name, Room(name))
    member = Member(next(IDS), ws, room)
    room.members[member.id] = member
    others = [{"id": m, "tracks": []} for m in room.members if m != member.id]
    await member.send({"type": "welcome", "you": member.id, "room": name, "participants": others})
    spawn(update(member))
    try:
        async for raw in ws:
            msg = json.loads(raw)
            kind = msg.get("type")
            if kind == "publish":
                await on_publish(member, msg)
            elif kind == "subscribe_answer":
                await on_answer(member, msg)
            elif kind == "leave":
                break
    except websockets.ConnectionClosed:
        pass
    finally:
        room.members.pop(member.id, None)
        for tid in [t for t, (owner, _) in room.tracks.items() if owner == member.id]:
            del room.tracks[tid]
        for pc in (member.pub_pc, member.sub_pc):
            if pc is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pc.close(), 5)
        if not room.members:
            ROOMS.pop(name, None)


async def main_async(port: int) -> None:
    async with websockets.serve(handler, "127.0.0.1", port, max_size=None):
        print(f"relay server on ws://127.0.0.1:{port}/visio/", flush=True)
        await asyncio.Future()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(args.port))


if __name__ == "__main__":
    main()
