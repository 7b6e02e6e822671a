"""Keep credentials out of the server's log.

uvicorn logs every WebSocket it accepts or refuses with its path and query string, and the
sync and visio sockets carry their credential there (`?token=`, for clients that cannot send
a cookie). This filter replaces such values with `[redacted]` in every record of uvicorn's
loggers and ours before any handler sees it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_SECRET_PARAMETER = re.compile(
    r"(?P<name>[?&;](?:token|access_token|code|state|key|secret|password|signature)=)"
    r"[^&;\s\"']+",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "atelier")


def redact(text: str) -> str:
    """`text` with the values of credential-like query parameters replaced."""
    return _SECRET_PARAMETER.sub(lambda m: m.group("name") + REDACTED, text)


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and string arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        # The logger's filter and its handler's both see most records: clean each once.
        if getattr(record, "atelier_redacted", False):
            return True
        record.atelier_redacted = True
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _clean(arg) for key, arg in record.args.items()}
        return True


def install() -> None:
    """Attach the filter to uvicorn's loggers, ours, and their handlers (idempotent).

    A logger's filters see only the records made on that logger; its handlers' filters also
    see those its children pass up, so both get one.
    """
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for filterer in (logger, *logger.handlers):
            if not any(isinstance(f, RedactSecrets) for f in filterer.filters):
                filterer.addFilter(RedactSecrets())
