"""Credentials never reach the log."""

from __future__ import annotations

import logging

import pytest

from web.logs import REDACTED, RedactSecrets, install, redact


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/sync/page-1?token=abc.def-ghi", f"/sync/page-1?token={REDACTED}"),
        ("/visio/meet-x?name=Ana&token=T0k3n&x=1", f"/visio/meet-x?name=Ana&token={REDACTED}&x=1"),
        ("/oidc/callback?code=C&state=S", f"/oidc/callback?code={REDACTED}&state={REDACTED}"),
        ("/espaces/projet?page=2", "/espaces/projet?page=2"),
        ('"WebSocket /sync/d?TOKEN=x" 403', f'"WebSocket /sync/d?TOKEN={REDACTED}" 403'),
    ],
)
def test_credential_parameters_are_replaced_and_nothing_else(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_uvicorn_records_are_cleaned_before_any_handler_formats_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install()
    install()  # twice: still one filter
    logger = logging.getLogger("uvicorn.error")
    assert sum(isinstance(f, RedactSecrets) for f in logger.filters) == 1
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        logger.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5", "/sync/d?token=SECRET")
    assert "SECRET" not in caplog.text and REDACTED in caplog.text
