"""Standalone SFU nodes (`atelier sfu`) behind signaling-only web workers
(`ATELIER_VISIO_MODE=signaling`), all real processes on loopback with a real Redis.

Media stays on 127.0.0.1 (host candidates only, no STUN/TURN server)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from aiortc.contrib.media import MediaPlayer

from sfu.cluster import ALIVE_KEY, NODES_KEY, ROOM_KEY
from tests.support.servers import ATELIER, ROOT, AtelierServer, RedisServer, read_log, stop_process
from tests.support.sfu_media import decoded_pictures, write_test_video
from tests.support.sfu_peers import WsBot
from tests.support.visio import LOOPBACK_ENV, close_of, visio_url


def two_workers(
    atelier: Callable[..., AtelierServer], redis_url: str, tmp_path: Path
) -> tuple[AtelierServer, AtelierServer, str]:
    """Two embedded `atelier serve` workers on one data dir and one Redis, and a visio token."""
    env = {"REDIS_URL": redis_url, **LOOPBACK_ENV}
    one = atelier(tmp_path / "shared", **env)
    two = atelier(tmp_path / "shared", **env)
    return one, two, one.token("visio-", "rw")


class SfuNodeProcess:
    """One `atelier sfu` process; its node id is read from its first line."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.env = AtelierServer(data_dir, env=env).env
        self.log_path = data_dir / f"sfu-{uuid.uuid4().hex[:8]}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.node_id = ""

    def start(self, timeout: float = 30.0) -> SfuNodeProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*ATELIER, "sfu"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log().splitlines():
                if line.startswith("atelier sfu: node ") and " ready" in line:
                    self.node_id = line.split()[3]
                    return self
            if self.process.poll() is not None:
                raise RuntimeError(f"atelier sfu exited early:\n{self.log()}")
            time.sleep(0.1)
        raise RuntimeError(f"atelier sfu not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return read_log(self.log_path)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        return stop_process(self.process, sig, timeout)


@pytest.fixture
def sfu_node(tmp_path: Path) -> Iterator[Callable[..., SfuNodeProcess]]:
    started: list[SfuNodeProcess] = []

    def start(data_dir: Path, **env: str) -> SfuNodeProcess:
        node = SfuNodeProcess(data_dir, env)
        started.append(node)
        return node.start()

    yield start
    for node in started:
        node.stop()


def _text(value: object) -> str | None:
    return value.decode() if isinstance(value, bytes) else None


async def _meet_and_exchange_frames(alice: WsBot, bob: WsBot, video: Path) -> None:
    """Both publish the same pre-encoded video; each sees the other's pictures as sent."""
    pictures = decoded_pictures(video)
    for bot in (alice, bob):
        await bot.publish([(MediaPlayer(str(video), decode=False).video, "camera")])
    for bot in (alice, bob):
        await bot.wait_for(lambda b=bot: any(len(b.pictures(m)) >= 20 for m in b.frames), 20)
        (mid,) = [m for m in bot.frames if bot.pictures(m)]
        assert pictures.start_of(bot.pictures(mid)) in pictures.keyframes


async def test_meetings_run_on_sfu_nodes_and_move_when_one_dies(
    atelier: Callable[..., AtelierServer],
    sfu_node: Callable[..., SfuNodeProcess],
    private_redis: RedisServer,
    tmp_path: Path,
    unique: str,
) -> None:
    # A Redis of our own: the set of live SFU nodes is global to a Redis database.
    redis_url = private_redis.url
    shared = tmp_path / "shared"
    env = {"REDIS_URL": redis_url, "ATELIER_VISIO_MODE": "signaling", **LOOPBACK_ENV}
    one = atelier(shared, **env)
    two = atelier(shared, **env)
    token = one.token("visio-", "rw")
    room = f"meet-{unique}"
    store = redis.Redis.from_url(redis_url)
    video = write_test_video(tmp_path / "pattern.webm", seconds=8)

    # No SFU node alive: a clear "retry shortly" close, which the page retries on.
    code, reason = await close_of(visio_url(one, room, token, "early"))
    assert (code, reason) == (1013, "no media server available, retry shortly")

    # One node: participants whose signaling lands on different web workers meet on it.
    first = sfu_node(shared, **env)
    assert first.node_id.encode() in store.smembers(NODES_KEY)
    alice = await WsBot(visio_url(one, room, token, "alice"), "alice").join()
    await alice.wait_for(lambda: alice.got("welcome"), 15)
    bob = await WsBot(visio_url(two, room, token, "bob"), "bob").join()
    welcome = (await bob.wait_for(lambda: bob.got("welcome"), 15))[0].fields
    assert [p["name"] for p in welcome["participants"]] == ["alice"]
    assert _text(store.get(ROOM_KEY + room)) == first.node_id
    await _meet_and_exchange_frames(alice, bob, video)

    # A second node joins; the owner dies without a word: both members are closed with 4408.
    second = sfu_node(shared, **env)
    first.stop(signal.SIGKILL)
    for bot in (alice, bob):
        await bot.wait_for(lambda b=bot: b.closed, 20)
        assert bot.closed is not None and bot.closed[0] == 4408, bot.closed
        await bot.leave()

    # They reconnect (each through the other worker this time): the room lives on the live node.
    alice = await WsBot(visio_url(two, room, token, "alice"), "alice").join()
    await alice.wait_for(lambda: alice.got("welcome"), 15)
    bob = await WsBot(visio_url(one, room, token, "bob"), "bob").join()
    welcome = (await bob.wait_for(lambda: bob.got("welcome"), 15))[0].fields
    assert [p["name"] for p in welcome["participants"]] == ["alice"]
    assert _text(store.get(ROOM_KEY + room)) == second.node_id
    await _meet_and_exchange_frames(alice, bob, video)

    # SIGTERM ends the node cleanly: its members are told, it leaves Redis, it exits with 0.
    assert second.stop() == 0, second.log()
    for bot in (alice, bob):
        await bot.wait_for(lambda b=bot: b.closed, 10)
        assert bot.closed == (1001, "the meeting server is stopping"), bot.closed
        await bot.leave()
    assert second.node_id.encode() not in store.smembers(NODES_KEY)
    assert store.exists(ALIVE_KEY + second.node_id) == 0
    assert store.exists(ROOM_KEY + room) == 0
    store.close()


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ATELIER, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_atelier_sfu_without_redis_exits_with_a_clear_message(tmp_path: Path) -> None:
    env = AtelierServer(tmp_path / "data").env
    done = _run(["sfu"], env)
    assert done.returncode != 0
    assert "`atelier sfu` needs REDIS_URL" in done.stderr


def test_signaling_mode_without_redis_refuses_to_start(tmp_path: Path) -> None:
    env = AtelierServer(tmp_path / "data", env={"ATELIER_VISIO_MODE": "signaling"}).env
    done = _run(["serve", "--port", "1"], env)
    assert done.returncode != 0
    assert "ATELIER_VISIO_MODE=signaling needs REDIS_URL" in done.stderr


def test_sfu_node_process_stops_on_sigterm_even_when_idle(
    sfu_node: Callable[..., SfuNodeProcess], private_redis: RedisServer, tmp_path: Path
) -> None:
    node = sfu_node(tmp_path / "data", REDIS_URL=private_redis.url, **LOOPBACK_ENV)
    store = redis.Redis.from_url(private_redis.url)
    with contextlib.closing(store):
        assert store.exists(ALIVE_KEY + node.node_id) == 1
        assert node.stop() == 0
        assert store.exists(ALIVE_KEY + node.node_id) == 0
        assert node.node_id.encode() not in store.smembers(NODES_KEY)
    assert "atelier sfu: stopped" in node.log()


async def test_embedded_workers_notice_a_dead_owner_and_the_room_moves(
    atelier: Callable[..., AtelierServer],
    private_redis: RedisServer,
    tmp_path: Path,
    unique: str,
) -> None:
    one, two, token = two_workers(atelier, private_redis.url, tmp_path)
    room = f"meet-{unique}"
    store = redis.Redis.from_url(private_redis.url)
    alice = await WsBot(visio_url(one, room, token, "alice"), "alice").join()
    await alice.wait_for(lambda: alice.got("welcome"))
    owner = _text(store.get(ROOM_KEY + room))
    bob = await WsBot(visio_url(two, room, token, "bob"), "bob").join()  # relayed to one
    await bob.wait_for(lambda: bob.got("welcome"))

    one.kill()  # the owner dies: worker two stops hearing its heartbeat and closes bob
    await bob.wait_for(lambda: bob.closed, 20)
    assert bob.closed == (4408, "the media server stopped answering")
    await bob.leave()
    await alice.leave()

    bob = await WsBot(visio_url(two, room, token, "bob"), "bob").join()
    welcome = (await bob.wait_for(lambda: bob.got("welcome")))[0].fields
    assert welcome["participants"] == []  # a fresh room, on worker two
    assert _text(store.get(ROOM_KEY + room)) not in (None, owner)
    await bob.leave()
    store.close()


async def test_an_owner_drops_the_members_of_a_worker_that_died(
    atelier: Callable[..., AtelierServer],
    private_redis: RedisServer,
    tmp_path: Path,
    unique: str,
) -> None:
    one, two, token = two_workers(atelier, private_redis.url, tmp_path)
    room = f"meet-{unique}"
    alice = await WsBot(visio_url(one, room, token, "alice"), "alice").join()  # one owns
    await alice.wait_for(lambda: alice.got("welcome"))
    bob = await WsBot(visio_url(two, room, token, "bob"), "bob").join()  # relayed to one
    await bob.wait_for(lambda: bob.got("welcome"))
    await alice.wait_for(lambda: alice.got("joined"))

    two.kill()  # bob's worker dies without relaying his departure: its heartbeat stops
    left = await alice.wait_for(lambda: alice.got("left"), 20)
    assert left[0].fields["participant"] == alice.got("joined")[0].fields["participant"]["id"]
    assert alice.closed is None
    await bob.leave()
    await alice.leave()
