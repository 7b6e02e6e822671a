"""Live sockets, and ending or narrowing them the moment access changes, on every worker.

Every long-lived connection (a document's `/sync` socket, a meeting's `/visio` socket, the
`/live` stream) registers here with the tags its access rests on: `session:<id>`, `user:12`,
`space:3`, `guest-link:5`, `doc:<name>`... When access changes, the web app publishes an
`AccessChange` naming tags; each worker then closes, or asks to check their access again,
the sockets it holds that carry every one of them. One mechanism for every kind of socket:
an engine only says how to close one of its sockets and how to check it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from plumbing.bus import Bus

log = logging.getLogger("atelier.access")

CHANNEL = "atelier:access"
ANY = "*"  # a tag "<kind>:*" matches every "<kind>:<id>"
# Access checks run at once for one change (each is a database query or two).
CONCURRENT_CHECKS = 16


class LiveSocket(Protocol):
    """What the registry needs of a connection."""

    @property
    def tags(self) -> frozenset[str]: ...

    def close(self, code: int, reason: str) -> None:
        """Close now with this code (the client is told why)."""

    async def recheck(self, reason: str) -> None:
        """Ask the authoriser again, then close (saying `reason`), narrow (say, to
        read-only) or keep going."""


@dataclass(frozen=True)
class AccessChange:
    """Sockets carrying every tag in `tags` (and none in `keep`) lost or changed access.

    With `close` set they are closed with that code at once (signed out, deactivated);
    otherwise each checks its access again (a role changed, a page went to the trash).
    """

    tags: frozenset[str]
    reason: str
    close: int | None = None
    keep: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.tags:
            raise ValueError("an access change names at least one tag")

    def encode(self) -> bytes:
        return json.dumps(
            {
                "tags": sorted(self.tags),
                "reason": self.reason,
                "close": self.close,
                "keep": sorted(self.keep),
            }
        ).encode()

    @classmethod
    def decode(cls, data: bytes) -> AccessChange:
        raw = json.loads(data)
        close = raw.get("close")
        return cls(
            frozenset(str(t) for t in raw["tags"]),
            str(raw.get("reason", ""))[:120],
            None if close is None else int(close),
            frozenset(str(t) for t in raw.get("keep", ())),
        )


class LiveSockets:
    """This worker's live sockets, found by tag."""

    def __init__(self) -> None:
        self._by_tag: dict[str, set[LiveSocket]] = {}

    def add(self, socket: LiveSocket) -> None:
        for tag in socket.tags:
            self._by_tag.setdefault(tag, set()).add(socket)

    def discard(self, socket: LiveSocket) -> None:
        for tag in socket.tags:
            holders = self._by_tag.get(tag)
            if holders is not None:
                holders.discard(socket)
                if not holders:
                    del self._by_tag[tag]

    def __len__(self) -> int:
        return len({s for holders in self._by_tag.values() for s in holders})

    def tags_starting(self, prefix: str) -> set[str]:
        """The tags in use that start with `prefix` (the access watch's question)."""
        return {tag for tag in self._by_tag if tag.startswith(prefix)}

    def _holders(self, tag: str) -> set[LiveSocket]:
        # A socket tagged "space:*" reaches across spaces (the live stream follows many): it
        # answers to every "space:<id>".
        prefix, _, _ = tag.partition(":")
        found = self._by_tag.get(tag, set())
        wildcard = self._by_tag.get(f"{prefix}:{ANY}")
        return found | wildcard if wildcard else found

    def matching(self, tags: Iterable[str], keep: Iterable[str] = ()) -> list[LiveSocket]:
        """Sockets that carry every one of `tags` (or its kind's wildcard) and none of `keep`."""
        groups = [self._holders(tag) for tag in tags]
        if not groups:
            return []
        smallest = min(groups, key=len)
        kept = frozenset(keep)
        return [s for s in smallest if all(s in g for g in groups) and not (s.tags & kept)]

    async def apply(self, change: AccessChange) -> int:
        """Close or re-check this worker's matching sockets; returns how many."""
        found = self.matching(change.tags, change.keep)
        if change.close is not None:
            for socket in found:
                socket.close(change.close, change.reason)
            return len(found)
        limit = asyncio.Semaphore(CONCURRENT_CHECKS)

        async def check(socket: LiveSocket) -> None:
            async with limit:
                try:
                    await socket.recheck(change.reason)
                except Exception:
                    # An error must not keep access open: the client reconnects and is
                    # authorised from scratch.
                    log.warning("access check failed; closing the socket", exc_info=True)
                    socket.close(1011, "access could not be checked: reconnect")

        await asyncio.gather(*(check(s) for s in found))
        return len(found)


class AccessChanges:
    """Publishes access changes: applied here at once, and by the other workers over the bus."""

    def __init__(self, sockets: LiveSockets, bus: Bus | None = None) -> None:
        self.sockets = sockets
        self._bus = bus
        self._pending: set[asyncio.Task[int]] = set()

    async def listen(self) -> None:
        """Apply the changes other workers publish (call once the bus has started)."""
        if self._bus is not None:
            await self._bus.subscribe(CHANNEL, self._on_message)

    def _on_message(self, data: bytes) -> None:
        try:
            change = AccessChange.decode(data)
        except (ValueError, KeyError, TypeError):
            log.warning("bus: ignoring a malformed access change")
            return
        self._spawn(change)

    def _spawn(self, change: AccessChange) -> None:
        task = asyncio.create_task(self.sockets.apply(change), name="access-change")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def publish(self, change: AccessChange) -> int:
        """Apply `change` to this worker's sockets (awaited) and send it to the others."""
        if self._bus is not None:
            self._bus.publish(CHANNEL, change.encode())
        return await self.sockets.apply(change)

    async def close(self) -> None:
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
