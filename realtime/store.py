"""Durable storage of Yjs documents: an update log with group commit, plus compacted snapshots.

Every update a worker receives from its clients is `append`ed (no I/O, no await); a
background task writes all queued updates, of every document, in one transaction every
`commit_interval`. A document's log is merged into its snapshot (`compact`) in the background
once it grows past `compact_after` rows or `compact_bytes`. Several processes may share one
database: compaction is guarded in the database, not only in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from pycrdt import merge_updates
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from realtime.errors import RealtimeError
from realtime.merging import ignore_interrupts, merge
from realtime.update_log import UpdateLog, update_log_for

logger = logging.getLogger(__name__)

_RETRY_FIRST_DELAY = 0.1
_RETRY_MAX_DELAY = 5.0
_LATENCY_SAMPLES = 4096


class StoreError(RealtimeError):
    """The document store cannot do what was asked (closed, or the database failed)."""


@dataclass
class StoreStats:
    """Counters for tests, benchmarks and metrics."""

    pending: int = 0
    """Updates appended and not yet committed."""
    commits: int = 0
    """Group-commit transactions that succeeded."""
    committed_updates: int = 0
    failed_commits: int = 0
    compactions: int = 0
    """Compactions that replaced a snapshot."""
    compaction_conflicts: int = 0
    """Compactions abandoned (and retried later) because another one got there first."""
    commit_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=_LATENCY_SAMPLES))
    """Duration of recent commit transactions."""
    wait_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=_LATENCY_SAMPLES))
    """For recent commits: how long the oldest update in the group waited to become durable."""


@dataclass
class _LogSize:
    rows: int = 0
    bytes: int = 0
    snapshot_bytes: int = 0


@dataclass
class _DocumentLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class _CompactionConflict(Exception):
    """Another compaction changed the document between our read and our write."""


class DocumentStore:
    """Update log and snapshots of Yjs documents, in the database behind `engine`."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        commit_interval: float = 0.05,
        compact_after: int = 200,
        compact_bytes: int = 1_000_000,
        close_timeout: float = 30.0,
        merge_in_process_bytes: int = 256 * 1024,
    ) -> None:
        self._commit_interval = commit_interval
        self._compact_after = compact_after
        self._compact_bytes = compact_bytes
        self._close_timeout = close_timeout
        self._merge_in_process_bytes = merge_in_process_bytes
        self._merger: ProcessPoolExecutor | None = None
        self.stats = StoreStats()

        # Queued updates per document, oldest first. A commit removes what it wrote only
        # once the transaction succeeded, so `load` always sees in-flight updates too.
        self._pending: dict[str, list[bytes]] = {}
        self._oldest_pending: float | None = None
        self._commit_lock = asyncio.Lock()
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None

        self._log_sizes: dict[str, _LogSize] = {}
        self._document_locks: dict[str, _DocumentLock] = {}
        self._compactions: dict[str, asyncio.Task[None]] = {}
        self._log: UpdateLog = update_log_for(engine)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the background group-commit task."""
        if self._closed:
            raise StoreError("the document store is closed")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="document-store-commit")

    async def close(self) -> None:
        """Commit everything queued, wait for running compactions, stop.

        Retries a failing database for up to `close_timeout` seconds, then raises StoreError
        (the updates are then lost here; clients still hold them and resync). The engine is
        the caller's to dispose.
        """
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None
        try:
            await self._flush_with_retry(deadline=time.monotonic() + self._close_timeout)
        finally:
            if self._compactions:
                await asyncio.gather(*self._compactions.values(), return_exceptions=True)
            await self._log.close()
            if self._merger is not None:
                self._merger.shutdown(wait=False, cancel_futures=True)
                self._merger = None

    # -- writing -----------------------------------------------------------------------------

    def append(self, name: str, update: bytes) -> None:
        """Queue `update` of document `name`; committed with others within ~commit_interval."""
        if self._closed:
            raise StoreError("the document store is closed")
        self._pending.setdefault(name, []).append(update)
        self.stats.pending += 1
        if self._oldest_pending is None:
            self._oldest_pending = time.monotonic()
        self._wakeup.set()

    async def flush(self) -> None:
        """Commit everything queued so far; raises if the database fails (nothing is lost)."""
        await self._commit()

    async def _run(self) -> None:
        retry_delay = 0.0
        # `close` may set both events at any await below (even as the gathering wait times
        # out): check `_stopping` before every wait, or the wake-up could be cleared unseen.
        while not self._stopping.is_set():
            await self._wakeup.wait()
            if self._stopping.is_set():
                return
            # Let a group gather; after a failure, back off instead.
            if await self._stop_requested_within(retry_delay or self._commit_interval):
                return
            self._wakeup.clear()
            try:
                await self._commit()
            except Exception as exc:
                retry_delay = min(max(retry_delay * 2, _RETRY_FIRST_DELAY), _RETRY_MAX_DELAY)
                logger.error(
                    "committing %d document updates failed, retrying in %.1f s: %s",
                    self.stats.pending,
                    retry_delay,
                    _describe(exc),
                )
                self._wakeup.set()
            else:
                retry_delay = 0.0

    async def _stop_requested_within(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            return False
        return True

    async def _flush_with_retry(self, deadline: float) -> None:
        delay = _RETRY_FIRST_DELAY
        while True:
            try:
                await self._commit()
                return
            except Exception as exc:
                if time.monotonic() + delay > deadline:
                    logger.error(
                        "giving up: %d document updates could not be stored: %s",
                        self.stats.pending,
                        _describe(exc),
                    )
                    raise StoreError(
                        f"{self.stats.pending} document updates could not be stored"
                    ) from exc
                logger.error(
                    "flushing %d document updates failed, retrying in %.1f s: %s",
                    self.stats.pending,
                    delay,
                    _describe(exc),
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_DELAY)

    async def _commit(self) -> None:
        async with self._commit_lock:
            if not self._pending:
                return
            counts = {name: len(updates) for name, updates in self._pending.items()}
            rows = [(name, update) for name, updates in self._pending.items() for update in updates]
            oldest = self._oldest_pending
            started = time.monotonic()
            try:
                await self._log.insert(rows)
            except Exception:
                self.stats.failed_commits += 1
                raise
            finished = time.monotonic()

            for name, count in counts.items():
                updates = self._pending[name]
                size = self._log_sizes.setdefault(name, _LogSize())
                size.rows += count
                size.bytes += sum(len(update) for update in updates[:count])
                del updates[:count]
                if not updates:
                    del self._pending[name]
            # What is left was appended while we committed.
            self._oldest_pending = started if self._pending else None
            self.stats.pending -= len(rows)
            self.stats.commits += 1
            self.stats.committed_updates += len(rows)
            self.stats.commit_seconds.append(finished - started)
            if oldest is not None:
                self.stats.wait_seconds.append(finished - oldest)

        for name in counts:
            self._maybe_schedule_compaction(name)

    # -- reading -----------------------------------------------------------------------------

    async def load(self, name: str) -> bytes:
        """The whole document as one update (snapshot, log and queued updates); b"" if unknown."""
        queued_before = list(self._pending.get(name, ()))
        stored = await self._log.load(name)
        # Updates committed while we read may now be both in `stored` and gone from the
        # queue, or in neither list if we looked only once: take the queue before and after.
        # Duplicates are harmless, merging is idempotent.
        queued_after = self._pending.get(name, [])
        seen = {id(update) for update in queued_before}
        queued = queued_before + [u for u in queued_after if id(u) not in seen]

        log_rows = [data for data, part in stored if part == 1]
        snapshot_bytes = sum(len(data) for data, part in stored if part == 0)
        self._seed_log_size(name, log_rows, snapshot_bytes)
        parts = [data for data, _part in stored if data] + queued
        if len(parts) > 1 and self._large(parts):
            try:
                return await self._merge_in_process(parts)
            except ValueError:
                pass  # a bad part: the careful merge below keeps what can be read
        return _merge(parts, name)

    def _seed_log_size(self, name: str, log_rows: Sequence[bytes], snapshot_bytes: int) -> None:
        self._log_sizes[name] = _LogSize(
            len(log_rows), sum(len(data) for data in log_rows), snapshot_bytes
        )
        self._maybe_schedule_compaction(name)

    # -- compaction --------------------------------------------------------------------------

    def _maybe_schedule_compaction(self, name: str) -> None:
        size = self._log_sizes.get(name)
        if size is None or self._closed or name in self._compactions:
            return
        if size.rows < self._compact_after and size.bytes < self._compact_bytes:
            return
        # Merging costs about the snapshot's size and holds the GIL (pycrdt), stalling every
        # socket meanwhile: compact a large document only once its log is a fair fraction of
        # its snapshot, so the merging work per stored byte stays constant as documents grow.
        if size.bytes * 4 < size.snapshot_bytes and size.rows < self._compact_after * 50:
            return
        task = asyncio.create_task(self._compact_in_background(name), name=f"compact {name}")
        self._compactions[name] = task
        task.add_done_callback(lambda _: self._compactions.pop(name, None))

    async def _compact_in_background(self, name: str) -> None:
        try:
            await self.compact(name)
        except Exception as exc:
            # Try again only once the log has grown by another full threshold.
            previous = self._log_sizes.get(name)
            self._log_sizes[name] = _LogSize(
                snapshot_bytes=previous.snapshot_bytes if previous else 0
            )
            logger.error("compacting document %r failed: %s", name, _describe(exc))

    async def compact(self, name: str) -> None:
        """Merge the document's snapshot and log into a new snapshot, deleting merged rows."""
        async with self._document_lock(name):
            for _attempt in range(5):
                try:
                    await self._compact_once(name)
                    return
                except _CompactionConflict:
                    self.stats.compaction_conflicts += 1
            logger.warning("compacting document %r kept conflicting; left for later", name)

    async def _compact_once(self, name: str) -> None:
        # Read and merge outside any write transaction: merging a large document takes a
        # while, and SQLite would block every writer meanwhile.
        version, snapshot, log = await self._log.read_for_compaction(name)
        if not log:
            return
        max_id = log[-1][0]
        merged_bytes = sum(len(data) for _id, data in log)
        parts = ([snapshot] if snapshot else []) + [data for _id, data in log]
        new_snapshot = await self._merge_off_the_loop(parts)

        if not await self._log.replace_snapshot(name, version, new_snapshot, len(log), max_id):
            raise _CompactionConflict
        self.stats.compactions += 1
        size = self._log_sizes.get(name)
        if size is not None:
            size.rows = max(size.rows - len(log), 0)
            size.bytes = max(size.bytes - merged_bytes, 0)
            size.snapshot_bytes = len(new_snapshot)

    def _large(self, parts: list[bytes]) -> bool:
        """Large enough a merge to hold the GIL for long (see `_merge_in_process`)."""
        return sum(len(part) for part in parts) >= self._merge_in_process_bytes

    async def _merge_off_the_loop(self, parts: list[bytes]) -> bytes:
        """Small merges in a thread; large ones, which hold the GIL for long, in a process."""
        if self._large(parts):
            return await self._merge_in_process(parts)
        return await asyncio.to_thread(merge_updates, *parts)

    async def _merge_in_process(self, parts: list[bytes]) -> bytes:
        if self._merger is None:
            self._merger = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=ignore_interrupts
            )
        try:
            return await asyncio.get_running_loop().run_in_executor(self._merger, merge, parts)
        except BrokenProcessPool:
            # The merging process died (killed, out of memory): a new one next time; this
            # merge runs here rather than failing the compaction.
            logger.warning("the merging process died; merging in the server this time")
            self._merger = None
            return await asyncio.to_thread(merge_updates, *parts)

    @contextlib.asynccontextmanager
    async def _document_lock(self, name: str) -> AsyncIterator[None]:
        entry = self._document_locks.setdefault(name, _DocumentLock())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._document_locks[name]


def _merge(parts: list[bytes], name: str) -> bytes:
    if not parts:
        return b""
    if len(parts) == 1:
        return parts[0]
    try:
        return merge_updates(*parts)
    except ValueError:
        pass
    # Keep what can be read rather than losing the whole document to one bad update.
    good = []
    for part in parts:
        try:
            merge_updates(part)
        except ValueError:
            continue
        good.append(part)
    logger.error("document %r: skipped %d unreadable stored updates", name, len(parts) - len(good))
    return merge_updates(*good) if good else b""


def _describe(exc: BaseException) -> str:
    """A short error description with no SQL, parameters or connection URL."""
    detail: BaseException = exc
    if isinstance(exc, SQLAlchemyError) and isinstance(getattr(exc, "orig", None), BaseException):
        # The wrapper's message carries the SQL statement; the driver's does not.
        detail = exc.orig  # type: ignore[attr-defined]
    lines = str(detail).splitlines()
    return f"{type(detail).__name__}: {lines[0] if lines else ''}"[:300]
