"""The web app in process, as the web tests build it: its settings and the tokens it accepts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from web.auth.tokens import mint_document_token
from web.config import Settings

SECRET = "test-secret-key-" + "x" * 32
BASE_URL = "http://atelier.test"


def web_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for an app on `data_dir`, reached at BASE_URL, with `overrides` applied."""
    values: dict[str, Any] = {
        "data_dir": str(data_dir),
        "secret_key": SECRET,
        "room_idle_seconds": 0.5,
        # The clients below ask for this host; the app refuses any other.
        "public_url": BASE_URL,
    }
    values.update(overrides)
    return Settings(**values)


def document_token(prefix: str, *, writable: bool = True, name: str = "", ttl: float = 3600) -> str:
    """A document token the app (signed with SECRET) accepts for documents under `prefix`."""
    return mint_document_token(
        SECRET, prefix=prefix, writable=writable, ttl=ttl, now=time.time(), name=name
    )
