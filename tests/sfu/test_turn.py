"""TURN REST API credentials (coturn `use-auth-secret`), and the ones each participant gets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from sfu.config import IceConfig, IceServer, SfuConfig
from sfu.node import SfuNode
from sfu.turn import TURN_CREDENTIAL_SECONDS, turn_credentials
from tests.support.sfu_peers import LOOPBACK, NodeBot


def _expected(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_credentials_are_coturns_rest_api_ones() -> None:
    username, credential = turn_credentials("s3cret", "meet-x/p1", now=1_700_000_000.7, ttl=43200)
    assert username == "1700043200:meet-x/p1"
    assert credential == _expected("s3cret", "1700043200:meet-x/p1")
    # The same vector from `openssl dgst -sha1 -hmac s3cret -binary | base64`.
    assert credential == "Zo9MZ8rR0e5ZGYHXyw8QIe0vJjk="
    assert TURN_CREDENTIAL_SECONDS == 12 * 3600


def _config(secret: str) -> SfuConfig:
    servers = (
        IceServer("stun:127.0.0.1:3478"),
        IceServer("turn:127.0.0.1:3478?transport=udp", "static", "password"),
    )
    ice = IceConfig(host_addresses=LOOPBACK, ice_servers=servers)
    return SfuConfig(ice=ice, turn_secret=secret)


async def test_each_participant_gets_turn_credentials_of_its_own() -> None:
    node = SfuNode(_config("s3cret"))
    before = int(time.time())
    alice = await NodeBot(node, "meet-turn", "alice").join()
    bob = await NodeBot(node, "meet-turn", "bob").join()
    try:
        usernames = []
        for bot in (alice, bob):
            welcome = (await bot.wait_for(lambda b=bot: b.got("welcome")))[0].fields
            stun, turn = welcome["ice_servers"]
            assert stun == {"urls": "stun:127.0.0.1:3478"}
            expiry, identity = turn["username"].split(":", 1)
            assert identity == f"meet-turn/{welcome['you']}"
            assert before + TURN_CREDENTIAL_SECONDS <= int(expiry) <= time.time() + 43200
            assert turn["credential"] == _expected("s3cret", turn["username"])
            usernames.append(turn["username"])
        assert usernames[0] != usernames[1]
        # The SFU's own peer connections use credentials of their own too.
        servers = node.config.peer_ice().ice_servers
        (server_turn,) = [s for s in servers if s.urls.startswith("turn")]
        assert server_turn.username is not None and server_turn.username.endswith(":sfu")
        assert server_turn.credential == _expected("s3cret", server_turn.username)
    finally:
        await alice.leave()
        await bob.leave()
        await node.close()


async def test_without_a_secret_the_static_credentials_are_given() -> None:
    node = SfuNode(_config(""))
    alice = await NodeBot(node, "meet-static", "alice").join()
    try:
        welcome = (await alice.wait_for(lambda: alice.got("welcome")))[0].fields
        assert welcome["ice_servers"][1] == {
            "urls": "turn:127.0.0.1:3478?transport=udp",
            "username": "static",
            "credential": "password",
        }
    finally:
        await alice.leave()
        await node.close()


def test_the_secret_comes_from_the_settings() -> None:
    from web.config import Settings
    from web.visio.sfu_setup import sfu_config

    settings = Settings.from_env({"ATELIER_VISIO_TURN_SECRET": " s3cret "})
    assert sfu_config(settings).turn_secret == "s3cret"
    assert sfu_config(Settings.from_env({})).turn_secret == ""
