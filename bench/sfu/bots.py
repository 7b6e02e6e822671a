"""Synthetic visio participants for the SFU benchmark: aiortc publishers and subscribers.

One process runs several participants on one event loop. Publishers send a pre-encoded file with
`MediaPlayer(path, decode=False)` (no encoding); subscribers never decode: every receiver's
jitter-buffer output (the `(codec, JitterFrame)` queue aiortc's decoder thread would read) is
replaced by a counter, so a "frame" here is a complete encoded frame as the SFU would forward it.
Bots run on uvloop, and their SRTP goes from the socket to aiortc's receivers without aioice's
queue (`set_remote`): about 40 % less CPU per bot in the 10-person meeting.

The driver (bench/sfu_bench.py) writes a JSON plan and reads one JSON result line on stdout:

  plan = {"server": "atelier" | "relay" | "janus", "url": ..., "room": ..., "media": path,
          "participants": [{"name", "publish": bool, "subscribe": bool, "join_at": epoch}],
          "window": [epoch_start, epoch_end], "stop_at": epoch}

Signaling dialects: "atelier" (Atelier's `/visio/{room}` JSON messages, docs/visio.md; the
MediaRelay baseline in bench/sfu/relay_server.py speaks the same) and "janus" (Janus VideoRoom
over its WebSocket API). Only loopback: see bench/sfu/loopback.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import os
import random
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import av
import loopback
import psutil
import uvloop
import websockets
from aiortc import (
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    rtcrtpreceiver,
)
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtp import RtcpPsfbPacket

from sfu import aiortc_internals
from sfu.receiving import FastReceive

# ------------------------------------------------------------------------ frame counting


@dataclass
class StreamStat:
    """One received track of one subscriber."""

    subscriber: str
    kind: str
    mid: str | None
    publisher: str | None  # the publishing participant, when the signaling says it
    t_join: float  # when the subscriber sent its join/subscribe
    t_announced: float  # when the offer carrying this stream reached the subscriber
    first_frame: float | None = None
    first_key: float | None = None
    arrivals: list[float] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)
    last_pli: float = 0.0

    def on_frame(self, now: float, rtp_ts: int, data: bytes) -> None:
        if self.first_frame is None:
            self.first_frame = now
        # VP8 payload header: the P bit (bit 0 of the first byte) is 0 on a keyframe
        if self.first_key is None and self.kind == "video" and data and not data[0] & 1:
            self.first_key = now
        self.arrivals.append(now)
        self.timestamps.append(rtp_ts)

    def summary(self, window: tuple[float, float], receiver: Any) -> dict[str, Any]:
        a, b = window
        idx = [i for i, t in enumerate(self.arrivals) if a <= t < b]
        frames = len(idx)
        ts_frames = 0
        if idx:
            # frames the sender produced between the first and last one received in the window,
            # from the RTP timestamps (video 90 kHz at 30 fps = 3000 per frame, Opus 960/20 ms)
            step = 3000 if self.kind == "video" else 960
            span = (self.timestamps[idx[-1]] - self.timestamps[idx[0]]) % (1 << 32)
            ts_frames = round(span / step) + 1
        lost = 0
        received = 0
        if receiver is not None:
            streams = getattr(receiver, "_RTCRtpReceiver__remote_streams", {})
            for st in streams.values():
                lost += st.packets_lost
                received += st.packets_received
        return {
            "subscriber": self.subscriber,
            "kind": self.kind,
            "mid": self.mid,
            "publisher": self.publisher,
            "t_join": self.t_join,
            "t_announced": self.t_announced,
            "first_frame": self.first_frame,
            "first_key": self.first_key,
            "frames": frames,
            "frames_total": len(self.arrivals),
            "ts_frames": ts_frames,
            "rtp_lost": lost,
            "rtp_received": received,
        }


PLI_INTERVAL = 0.25  # seconds between a subscriber's keyframe requests while it has none
PLI_TASKS: set[Any] = set()


class _FrameSink:
    """Stands in for a receiver's decoder queue: counts complete encoded frames, decodes none."""

    def __init__(self, receiver: Any) -> None:
        self.receiver = receiver

    def put(self, item: Any) -> None:
        if item is None:
            return
        _codec, frame = item
        stat: StreamStat | None = getattr(self.receiver, "_bench_stat", None)
        if stat is None:
            return
        now = time.time()
        stat.on_frame(now, frame.timestamp, frame.data)
        if stat.kind == "video" and stat.first_key is None and now - stat.last_pli > PLI_INTERVAL:
            # a browser's decoder cannot start on a delta frame and asks for a keyframe
            streams = getattr(self.receiver, "_RTCRtpReceiver__remote_streams", {})
            if streams:
                stat.last_pli = now
                ssrc = next(iter(streams))
                PLI_TASKS.add(asyncio.ensure_future(self.receiver._send_rtcp_pli(ssrc)))


def _no_decoder(*args: Any) -> None:
    """The decoder thread's body: nothing (frames go to _FrameSink instead)."""


_receiver_init = rtcrtpreceiver.RTCRtpReceiver.__init__


def _counting_init(self: Any, kind: str, transport: Any) -> None:
    _receiver_init(self, kind, transport)
    self._bench_stat = None
    self._RTCRtpReceiver__decoder_queue = _FrameSink(self)


rtcrtpreceiver.decoder_worker = _no_decoder
rtcrtpreceiver.RTCRtpReceiver.__init__ = _counting_init  # type: ignore[method-assign]


# ------------------------------------------------------------------------ helpers

STATS: list[tuple[StreamStat, Any]] = []
ERRORS: list[str] = []
PUBLISHED: dict[str, float] = {}  # participant name -> when its publish answer was applied
JOINED: dict[str, float] = {}
OFFERS: list[tuple[float, float]] = []  # subscribe offers: (when, seconds to answer)


def log(msg: str) -> None:
    print(f"[sfu-bot {os.getpid()}] {msg}", file=sys.stderr, flush=True)


def prefer(pc: RTCPeerConnection, transceiver: Any, kind: str, name: str) -> None:
    caps = RTCRtpSender.getCapabilities(kind)
    codecs = [c for c in caps.codecs if c.mimeType.lower() in (f"{kind}/{name}", f"{kind}/rtx")]
    transceiver.setCodecPreferences(codecs)


KEYFRAMES = {"requests": 0, "served": 0}


class KeyframeOnRequest(MediaStreamTrack):
    """The player's pre-encoded video, answering keyframe requests as an encoder would.

    A file cannot make a keyframe on demand; after a PLI or FIR the next frame is taken from a
    keyframe-only encoding of the same pictures (same timestamps) instead of the main file.
    Without this a new subscriber of a forwarding SFU would wait for the file's next keyframe
    (one per second). The delta frames that follow reference the main file's previous frame:
    harmless here, since nothing is decoded.
    """

    kind = "video"

    def __init__(self, source: MediaStreamTrack, keys_path: str) -> None:
        super().__init__()
        self.source = source
        self.keys = av.open(keys_path)
        self.key_packets = self.keys.demux(self.keys.streams.video[0])
        self.key: Any = None
        self.wanted = False

    def request_keyframe(self) -> None:
        KEYFRAMES["requests"] += 1
        self.wanted = True

    def _key_at(self, pts: int) -> Any:
        while self.key is None or self.key.pts is None or self.key.pts < pts:
            self.key = next(self.key_packets, None)
            if self.key is None:
                return None
        return self.key if self.key.pts == pts else None

    async def recv(self) -> Any:
        packet = await self.source.recv()
        if self.wanted:
            self.wanted = False
            if not packet.is_keyframe:
                key = self._key_at(packet.pts)
                if key is not None:
                    out = av.Packet(bytes(key))
                    out.pts, out.dts, out.time_base = packet.pts, packet.dts, packet.time_base
                    KEYFRAMES["served"] += 1
                    return out
        return packet

    def stop(self) -> None:
        super().stop()
        self.source.stop()
        with contextlib.suppress(Exception):
            self.keys.close()


def relay_keyframe_requests(sender: Any, track: KeyframeOnRequest) -> None:
    """aiortc's sender only sets an encoder flag on PLI/FIR; hand them to the track."""
    handle = sender._handle_rtcp_packet

    async def on_rtcp(packet: Any) -> None:
        await handle(packet)
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (1, 4):  # PLI, FIR
            track.request_keyframe()

    sender._handle_rtcp_packet = on_rtcp


def add_publish_tracks(
    pc: RTCPeerConnection, media: str, keys: str | None
) -> tuple[MediaPlayer, list[Any]]:
    player = MediaPlayer(media, decode=False)
    out = []
    if player.audio is not None:
        t = pc.addTransceiver(player.audio, direction="sendonly")
        prefer(pc, t, "audio", "opus")
        out.append(("microphone", t))
    if player.video is not None:
        video: MediaStreamTrack = player.video
        if keys:
            video = KeyframeOnRequest(player.video, keys)
        t = pc.addTransceiver(video, direction="sendonly")
        prefer(pc, t, "video", "vp8")
        if isinstance(video, KeyframeOnRequest):
            relay_keyframe_requests(t.sender, video)
        out.append(("camera", t))
    return player, out


def track_owners(tracks: Any) -> dict[str, str | None]:
    """mid -> publishing participant, from a `subscribe` message's `tracks` (track ids are
    "participant:mid"), as {mid: track id} or [{"mid", "track"}]."""
    pairs: list[tuple[Any, Any]] = []
    if isinstance(tracks, dict):
        pairs = list(tracks.items())
    elif isinstance(tracks, list):
        pairs = [
            (t.get("mid"), t.get("track") or t.get("id")) for t in tracks if isinstance(t, dict)
        ]
    return {str(mid): (tid.split(":")[0] if isinstance(tid, str) else None) for mid, tid in pairs}


def attach_stats(
    pc: RTCPeerConnection,
    subscriber: str,
    t_join: float,
    publishers_by_mid: dict[str, str | None] | None = None,
) -> None:
    """Give every receiving transceiver without one a StreamStat (after setRemoteDescription)."""
    now = time.time()
    for tr in pc.getTransceivers():
        r = tr.receiver
        if getattr(r, "_bench_stat", None) is not None or tr.direction == "sendonly":
            continue
        if tr.kind not in ("audio", "video"):
            continue
        pub = (publishers_by_mid or {}).get(tr.mid or "")
        stat = StreamStat(subscriber, tr.kind, tr.mid, pub, t_join, now)
        r._bench_stat = stat
        STATS.append((stat, r))


async def set_remote(pc: RTCPeerConnection, sdp: str, kind: str) -> None:
    """Apply the server's description; the connection's SRTP then goes straight from the socket
    to aiortc's receivers (`sfu.receiving.FastReceive`: same handlers, NACKs, PLIs and statistics
    as aiortc's own path, without aioice's queue and task per packet), so that the bots, the
    same for every server, take less of the machine from the server they measure."""
    await pc.setRemoteDescription(RTCSessionDescription(sdp, kind))
    FastReceive.watch(pc)


async def sleep_until(t: float) -> None:
    await asyncio.sleep(max(0.0, t - time.time()))


# ------------------------------------------------------------------------ Atelier dialect


class AtelierBot:
    """One participant over `/visio/{room}` (Atelier's SFU, or the MediaRelay baseline)."""

    def __init__(self, plan: dict[str, Any], spec: dict[str, Any]) -> None:
        self.plan = plan
        self.name = spec["name"]
        self.publish = spec["publish"]
        self.subscribe = spec["subscribe"]
        self.ws: Any = None
        self.pub_pc: RTCPeerConnection | None = None
        self.sub_pc: RTCPeerConnection | None = None
        self.player: MediaPlayer | None = None
        self.t_join = 0.0
        self.reader: asyncio.Task[None] | None = None
        self.answered = asyncio.Event()
        self.pub_answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.you: str | None = None  # the participant id the server gave us
        self.welcomed = asyncio.Event()
        self.sub_lock = asyncio.Lock()

    async def run(self) -> None:
        sep = "&" if "?" in self.plan["url"] else "?"
        url = f"{self.plan['url']}/{self.plan['room']}{sep}name={self.name}"
        if self.plan.get("token"):
            url += f"&token={self.plan['token']}"
        self.t_join = time.time()
        JOINED[self.name] = self.t_join
        self.ws = await websockets.connect(url, max_size=None, open_timeout=20)
        self.reader = asyncio.create_task(self.read())
        await asyncio.wait_for(self.welcomed.wait(), 20)
        if self.publish:
            self.pub_pc = RTCPeerConnection(loopback.rtc_configuration())
            self.player, trs = add_publish_tracks(
                self.pub_pc, self.plan["media"], self.plan.get("keys")
            )
            await self.pub_pc.setLocalDescription(await self.pub_pc.createOffer())
            offer = self.pub_pc.localDescription.sdp
            loopback.check_sdp(offer)
            tracks = [{"mid": t.mid, "source": src} for src, t in trs]
            await self.ws.send(json.dumps({"type": "publish", "sdp": offer, "tracks": tracks}))
            sdp = await asyncio.wait_for(self.pub_answer, 20)
            loopback.check_sdp(sdp)
            await set_remote(self.pub_pc, sdp, "answer")
            PUBLISHED[self.name] = time.time()
            if self.you:
                PUBLISHED[self.you] = PUBLISHED[self.name]

    async def read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind in ("publish_answer", "answer", "published_answer") and "sdp" in msg:
                    if not self.pub_answer.done():
                        self.pub_answer.set_result(msg["sdp"])
                elif kind in ("subscribe", "subscribe_offer") and "sdp" in msg:
                    await self.on_subscribe_offer(msg)
                elif kind == "welcome":
                    self.you = msg.get("you")
                    self.welcomed.set()
                elif kind == "error":
                    ERRORS.append(f"{self.name}: server error {msg}")
        except websockets.ConnectionClosed:
            pass
        except Exception as exc:
            ERRORS.append(f"{self.name}: reader: {exc!r}")
            log(traceback.format_exc())

    async def on_subscribe_offer(self, msg: dict[str, Any]) -> None:
        t0 = time.monotonic()
        async with self.sub_lock:
            await self._answer_offer(msg)
        OFFERS.append((time.time(), time.monotonic() - t0))

    async def _answer_offer(self, msg: dict[str, Any]) -> None:
        sdp = msg["sdp"]
        loopback.check_sdp(sdp)
        if self.sub_pc is None:
            self.sub_pc = RTCPeerConnection(loopback.rtc_configuration())
        await set_remote(self.sub_pc, sdp, "offer")
        owners = track_owners(msg.get("tracks"))
        if self.subscribe:
            attach_stats(self.sub_pc, self.name, self.t_join, owners)
        await self.sub_pc.setLocalDescription(await self.sub_pc.createAnswer())
        answer = {"type": "subscribe_answer", "sdp": self.sub_pc.localDescription.sdp}
        if "revision" in msg:
            answer["revision"] = msg["revision"]
        await self.ws.send(json.dumps(answer))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.send(json.dumps({"type": "leave"}))
        for pc in (self.pub_pc, self.sub_pc):
            if pc is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pc.close(), 5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 2)


# ------------------------------------------------------------------------ Janus dialect


class JanusSession:
    """A Janus API session over its WebSocket transport (subprotocol janus-protocol)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: Any = None
        self.session = 0
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.events: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.ids = itertools.count(1)

    async def connect(self) -> None:
        self.ws = await websockets.connect(
            self.url, subprotocols=["janus-protocol"], max_size=None, open_timeout=20
        )
        self.tasks.append(asyncio.create_task(self.read()))
        r = await self.request({"janus": "create"})
        self.session = r["data"]["id"]
        self.tasks.append(asyncio.create_task(self.keepalive()))

    async def read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                msg = json.loads(raw)
                tid = msg.get("transaction")
                if msg.get("janus") == "ack" and tid in self.pending and "plugindata" not in msg:
                    fut = self.pending[tid]
                    if getattr(fut, "_ack_is_reply", False):
                        self.pending.pop(tid)
                        fut.set_result(msg)
                    continue
                if tid in self.pending:
                    fut = self.pending.pop(tid)
                    if not fut.done():
                        fut.set_result(msg)
                    continue
                sender = msg.get("sender")
                if isinstance(sender, int) and sender in self.events:
                    self.events[sender].put_nowait(msg)

    async def keepalive(self) -> None:
        while True:
            await asyncio.sleep(20)
            with contextlib.suppress(Exception):
                await self.request({"janus": "keepalive"}, ack=True)

    async def request(
        self, body: dict[str, Any], handle: int | None = None, ack: bool = False
    ) -> dict[str, Any]:
        tid = f"t{next(self.ids)}"
        msg = {**body, "transaction": tid}
        if self.session:
            msg["session_id"] = self.session
        if handle is not None:
            msg["handle_id"] = handle
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        fut._ack_is_reply = ack  # type: ignore[attr-defined]
        self.pending[tid] = fut
        await self.ws.send(json.dumps(msg))
        r = await asyncio.wait_for(fut, 20)
        if r.get("janus") == "error":
            raise RuntimeError(f"janus error: {r.get('error')}")
        data = r.get("plugindata", {}).get("data", {})
        if data.get("error_code") and data.get("error_code") != 427:  # 427: room exists
            raise RuntimeError(f"videoroom error: {data}")
        return r

    async def attach(self) -> int:
        r = await self.request({"janus": "attach", "plugin": "janus.plugin.videoroom"})
        h = int(r["data"]["id"])
        self.events[h] = asyncio.Queue()
        return h

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        req: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            req["jsep"] = jsep
        return await self.request(req, handle)

    async def trickle_done(self, handle: int) -> None:
        await self.request({"janus": "trickle", "candidate": {"completed": True}}, handle, ack=True)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.request({"janus": "destroy"}), 3)
        for t in self.tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 2)


class JanusBot:
    def __init__(self, plan: dict[str, Any], spec: dict[str, Any]) -> None:
        self.plan = plan
        self.name = spec["name"]
        self.publish = spec["publish"]
        self.subscribe = spec["subscribe"]
        self.room = int(plan["room"])
        self.js = JanusSession(plan["url"])
        self.pub_pc: RTCPeerConnection | None = None
        self.sub_pc: RTCPeerConnection | None = None
        self.player: MediaPlayer | None = None
        self.t_join = 0.0

    async def run(self) -> None:
        self.t_join = time.time()
        JOINED[self.name] = self.t_join
        await self.js.connect()
        if self.publish:
            h = await self.js.attach()
            await self.js.message(
                h,
                {
                    "request": "create",
                    "room": self.room,
                    "publishers": 64,
                    "videocodec": "vp8",
                    "audiocodec": "opus",
                    "bitrate": 0,
                    "fir_freq": 0,
                    "notify_joining": False,
                },
            )
            await self.js.message(
                h,
                {"request": "join", "ptype": "publisher", "room": self.room, "display": self.name},
            )
            self.pub_pc = RTCPeerConnection(loopback.rtc_configuration())
            self.player, _ = add_publish_tracks(
                self.pub_pc, self.plan["media"], self.plan.get("keys")
            )
            await self.pub_pc.setLocalDescription(await self.pub_pc.createOffer())
            offer = self.pub_pc.localDescription.sdp
            r = await self.js.message(
                h,
                {"request": "publish", "audio": True, "video": True},
                {"type": "offer", "sdp": offer},
            )
            await self.js.trickle_done(h)
            sdp = r["jsep"]["sdp"]
            loopback.check_sdp(sdp)
            await set_remote(self.pub_pc, sdp, "answer")
            PUBLISHED[self.name] = time.time()

    async def start_subscribing(self) -> None:
        """Subscribe to every publisher in the room but oneself, on one peer connection."""
        # a subscribe-only participant joined when it opened its session
        t_sub = time.time() if self.publish else self.t_join
        h = await self.js.attach()
        r = await self.js.message(h, {"request": "listparticipants", "room": self.room})
        feeds = [
            p
            for p in r["plugindata"]["data"].get("participants", [])
            if p.get("publisher") and p.get("display") != self.name
        ]
        if not feeds:
            ERRORS.append(f"{self.name}: no publisher to subscribe to")
            return
        r = await self.js.message(
            h,
            {
                "request": "join",
                "ptype": "subscriber",
                "room": self.room,
                "streams": [{"feed": p["id"]} for p in feeds],
            },
        )
        sdp = r["jsep"]["sdp"]
        loopback.check_sdp(sdp)
        owners = {
            str(s.get("mid")): s.get("feed_display")
            for s in r["plugindata"]["data"].get("streams", [])
        }
        self.sub_pc = RTCPeerConnection(loopback.rtc_configuration())
        await set_remote(self.sub_pc, sdp, "offer")
        attach_stats(self.sub_pc, self.name, t_sub, owners)
        await self.sub_pc.setLocalDescription(await self.sub_pc.createAnswer())
        await self.js.message(
            h, {"request": "start"}, {"type": "answer", "sdp": self.sub_pc.localDescription.sdp}
        )
        await self.js.trickle_done(h)

    async def close(self) -> None:
        for pc in (self.pub_pc, self.sub_pc):
            if pc is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pc.close(), 5)
        await self.js.close()


# ------------------------------------------------------------------------ the process


async def lag_monitor(window: tuple[float, float], out: list[float]) -> None:
    period = 0.05
    while True:
        t0 = time.monotonic()
        await asyncio.sleep(period)
        lag = time.monotonic() - t0 - period
        now = time.time()
        if window[0] <= now < window[1]:
            out.append(lag)


async def run_participant(bot: Any, spec: dict[str, Any], plan: dict[str, Any]) -> None:
    await sleep_until(spec["join_at"])
    try:
        await bot.run()
        if isinstance(bot, JanusBot) and bot.subscribe:
            await sleep_until(spec.get("subscribe_at", spec["join_at"]))
            await bot.start_subscribing()
    except Exception as exc:
        ERRORS.append(f"{spec['name']}: {exc!r}")
        log(traceback.format_exc())


async def main_async(plan: dict[str, Any]) -> dict[str, Any]:
    window = (float(plan["window"][0]), float(plan["window"][1]))
    lags: list[float] = []
    mon = asyncio.create_task(lag_monitor(window, lags))
    kind = plan["server"]
    bots = [
        (JanusBot(plan, s) if kind == "janus" else AtelierBot(plan, s), s)
        for s in plan["participants"]
    ]
    tasks = [asyncio.create_task(run_participant(b, s, plan)) for b, s in bots]
    me = psutil.Process()
    await sleep_until(window[0])
    c0 = me.cpu_times()
    await sleep_until(window[1])
    c1 = me.cpu_times()
    for t in tasks:
        if not t.done():
            t.cancel()
            ERRORS.append("a participant was still joining at the end of the window")
    streams = [s.summary(window, r) for s, r in STATS]
    mon.cancel()
    lags.sort()
    result = {
        "pid": os.getpid(),
        "participants": len(bots),
        "cpu_seconds": (c1.user + c1.system) - (c0.user + c0.system),
        "window": list(window),
        "lag_p99_ms": 1000 * lags[int(0.99 * (len(lags) - 1))] if lags else None,
        "lag_max_ms": 1000 * lags[-1] if lags else None,
        "streams": streams,
        "published": PUBLISHED,
        "joined": JOINED,
        "errors": ERRORS,
        "keyframe_requests": KEYFRAMES["requests"],
        "offers": len(OFFERS),
        "offers_in_window": sum(1 for t, _ in OFFERS if window[0] <= t < window[1]),
        "offer_answer_max_s": max((d for _, d in OFFERS), default=None),
        "keyframes_served": KEYFRAMES["served"],
    }
    # print the result before the teardown, which may be slow under load
    print(json.dumps(result), flush=True)
    await asyncio.gather(*(asyncio.wait_for(b.close(), 8) for b, _ in bots), return_exceptions=True)
    return result


def main() -> None:
    # As an SFU node runs aiortc (its receive path is the bots' too): patched, and with the
    # start-up heap out of the collector's sight.
    aiortc_internals.install()
    gc.collect()
    gc.freeze()
    plan = json.loads(Path(sys.argv[1]).read_text())
    if plan.get("rcvbuf"):
        loopback.set_receive_buffer(int(plan["rcvbuf"]))
    random.seed(plan.get("seed", 0))
    uvloop.run(main_async(plan))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
