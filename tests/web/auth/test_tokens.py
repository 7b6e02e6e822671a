from __future__ import annotations

from pathlib import Path

import pytest

from web.auth.tokens import (
    TokenError,
    load_secret_key,
    mint_document_token,
    read_document_token,
)

SECRET = "s" * 40


def test_a_token_grants_documents_under_its_prefix_only() -> None:
    token = mint_document_token(SECRET, prefix="team-", writable=True, ttl=60, now=1000)
    grant = read_document_token(SECRET, token, now=1010)
    assert grant.writable and grant.covers("team-notes") and not grant.covers("other")


def test_a_read_only_token_is_read_only() -> None:
    token = mint_document_token(SECRET, prefix="", writable=False, ttl=60, now=0)
    assert read_document_token(SECRET, token, now=1).writable is False


def test_an_expired_token_is_refused() -> None:
    token = mint_document_token(SECRET, prefix="", writable=True, ttl=60, now=0)
    with pytest.raises(TokenError, match="expired"):
        read_document_token(SECRET, token, now=61)


def test_a_token_already_accepted_is_still_refused_once_expired() -> None:
    token = mint_document_token(SECRET, prefix="", writable=True, ttl=60, now=0)
    assert read_document_token(SECRET, token, now=59).writable
    with pytest.raises(TokenError, match="expired"):
        read_document_token(SECRET, token, now=60)


def test_a_token_accepted_under_one_key_is_refused_under_another() -> None:
    token = mint_document_token(SECRET, prefix="", writable=True, ttl=60, now=0)
    assert read_document_token(SECRET, token, now=1).writable
    with pytest.raises(TokenError, match="signature"):
        read_document_token("k" * 40, token, now=1)


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = mint_document_token("k" * 40, prefix="", writable=True, ttl=60, now=0)
    with pytest.raises(TokenError, match="signature"):
        read_document_token(SECRET, token, now=1)


def test_a_tampered_token_is_refused() -> None:
    token = mint_document_token(SECRET, prefix="a", writable=False, ttl=60, now=0)
    with pytest.raises(TokenError):
        read_document_token(SECRET, token[:-3] + "AAA", now=1)
    # Refused every time, not only the first.
    with pytest.raises(TokenError):
        read_document_token(SECRET, token[:-3] + "AAA", now=1)


def test_the_generated_secret_key_is_kept_and_private(tmp_path: Path) -> None:
    first = load_secret_key("", tmp_path)
    assert load_secret_key("", tmp_path) == first and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert load_secret_key("c" * 40, tmp_path) == "c" * 40
