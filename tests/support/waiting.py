"""Waiting for the event itself, never for a fixed time: poll a condition until it holds, with
a deadline that only bounds a failure (a passing test returns as soon as the condition does)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

T = TypeVar("T")

POLL_SECONDS = 0.005


async def eventually(
    condition: Callable[[], T | Awaitable[T]], timeout: float = 10.0, what: str = ""
) -> T:
    """The first truthy value of `condition()` (awaited when it is a coroutine), checked as
    the event loop runs; AssertionError naming `what` (or the condition) after `timeout`
    seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return cast(T, value)
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await asyncio.sleep(POLL_SECONDS)


async def until_passes(check: Callable[[], None], timeout: float = 10.0) -> None:
    """Run `check` (a function of assertions) until it passes, as the event loop runs; after
    `timeout` seconds, its last failure is raised."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(POLL_SECONDS)


def eventually_blocking(
    condition: Callable[[], T], timeout: float = 10.0, what: str = "", poll: float = 0.02
) -> T:
    """`eventually` for code without an event loop (another process or thread does the work)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(poll)
    return value
