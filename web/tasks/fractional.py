"""Fractional indexing: order keys that sort between any two others, so a move is one row.

The same algorithm, key for key, as the npm package `fractional-indexing` 4.0.0 (David
Greenspan's, base-62 digits, A-Z/a-z integer heads) that the browser uses: a key made on
either side is the key the other would make. Keys compare as plain byte strings ("a0" <
"a0V" < "a1"), so the database must compare them bytewise too (collation "C" on
PostgreSQL; SQLite's default).

A key is an integer part (a head letter telling its length, then digits) and an optional
fraction with no trailing zero. `check_key` refuses anything else, and anything the JS
package would accept only by accident (characters outside the 62 digits).
"""

from __future__ import annotations

import re

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
INT_DIGITS = DIGITS[10:]  # A-Z (negative integer lengths) then a-z (positive)
ZERO = DIGITS[0]
_INDEX = {c: i for i, c in enumerate(DIGITS)}
_INT_INDEX = {c: i for i, c in enumerate(INT_DIGITS)}
_HALF = len(INT_DIGITS) // 2
SMALLEST_INTEGER = INT_DIGITS[0] + ZERO * _HALF  # "A" + 26 zeros: below every key
# Longer keys are refused: they only come from thousands of inserts at one spot, or tampering.
MAX_KEY_LENGTH = 128
_SHAPE = re.compile(r"[A-Za-z][0-9A-Za-z]*")


class InvalidKey(ValueError):
    """An order key that is not valid, or two bounds that leave no room between them."""


def _integer_length(head: str) -> int:
    i = _INT_INDEX.get(head)
    if i is None:
        raise InvalidKey(f"invalid order key head: {head!r}")
    return _HALF - i + 1 if i < _HALF else i - _HALF + 2


def _integer_part(key: str) -> str:
    length = _integer_length(key[0])
    if length > len(key):
        raise InvalidKey(f"invalid order key: {key!r}")
    return key[:length]


def check_key(key: object) -> str:
    """`key` if it is a valid order key, else `InvalidKey` saying why."""
    if not isinstance(key, str) or not key:
        raise InvalidKey("an order key is a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"an order key has {MAX_KEY_LENGTH} characters at most")
    if not _SHAPE.fullmatch(key):
        raise InvalidKey(f"invalid order key: {key!r}")
    if key == SMALLEST_INTEGER:
        raise InvalidKey(f"invalid order key: {key!r}")
    integer = _integer_part(key)
    if key[len(integer) :].endswith(ZERO):
        raise InvalidKey(f"invalid order key: {key!r}")
    return key


def is_valid_key(key: object) -> bool:
    try:
        check_key(key)
    except InvalidKey:
        return False
    return True


def _midpoint(a: str, b: str | None) -> str:
    """A fraction strictly between fractions `a` and `b` (None: no upper bound)."""
    if b is not None and a >= b:
        raise InvalidKey(f"{a} >= {b}")
    if a.endswith(ZERO) or (b and b.endswith(ZERO)):
        raise InvalidKey("trailing zero")
    if b:
        # Drop the longest common prefix, padding `a` with zeros as we go.
        n = 0
        while n < len(b) and (a[n] if n < len(a) else ZERO) == b[n]:
            n += 1
        if n > 0:
            return b[:n] + _midpoint(a[n:], b[n:])
    digit_a = _INDEX[a[0]] if a else 0
    digit_b = _INDEX[b[0]] if b is not None else len(DIGITS)
    if digit_b - digit_a > 1:
        # JavaScript's Math.round(x / 2) for whole x rounds halves up.
        return DIGITS[(digit_a + digit_b + 1) // 2]
    if b and len(b) > 1:
        return b[:1]
    return DIGITS[digit_a] + _midpoint(a[1:], None)


def _check_integer(x: str) -> None:
    if len(x) != _integer_length(x[0]):
        raise InvalidKey(f"invalid integer part of order key: {x}")


def _increment_integer(x: str) -> str | None:
    _check_integer(x)
    head = x[0]
    trailing = ""
    for i in range(len(x) - 1, 0, -1):
        d = _INDEX[x[i]] + 1
        if d == len(DIGITS):
            trailing = ZERO + trailing
        else:
            return head + x[1:i] + DIGITS[d] + trailing
    head_index = _INT_INDEX[head]
    if head_index == len(INT_DIGITS) - 1:
        return None  # already the largest integer
    h = INT_DIGITS[head_index + 1]
    delta = _integer_length(h) - _integer_length(head)
    return h + (trailing + ZERO if delta > 0 else trailing[1:] if delta < 0 else trailing)


def _decrement_integer(x: str) -> str | None:
    _check_integer(x)
    head = x[0]
    last = DIGITS[-1]
    trailing = ""
    for i in range(len(x) - 1, 0, -1):
        d = _INDEX[x[i]] - 1
        if d == -1:
            trailing = last + trailing
        else:
            return head + x[1:i] + DIGITS[d] + trailing
    head_index = _INT_INDEX[head]
    if head_index == 0:
        return None  # already the smallest integer
    h = INT_DIGITS[head_index - 1]
    delta = _integer_length(h) - _integer_length(head)
    return h + (trailing + last if delta > 0 else trailing[1:] if delta < 0 else trailing)


def generate_key_between(a: str | None, b: str | None) -> str:
    """A key that sorts after `a` and before `b` (None: the start or the end)."""
    if a is not None:
        check_key(a)
    if b is not None:
        check_key(b)
    if a is not None and b is not None and a > b:
        a, b = b, a  # as the JS package: bounds in either order
    if a is None:
        if b is None:
            return INT_DIGITS[_HALF] + ZERO
        ib = _integer_part(b)
        fb = b[len(ib) :]
        if ib == SMALLEST_INTEGER:
            return ib + _midpoint("", fb)
        if ib < b:
            return ib
        res = _decrement_integer(ib)
        if res is None:
            raise InvalidKey("cannot decrement any more")
        return res
    if b is None:
        ia = _integer_part(a)
        fa = a[len(ia) :]
        i = _increment_integer(ia)
        return ia + _midpoint(fa, None) if i is None else i
    ia = _integer_part(a)
    fa = a[len(ia) :]
    ib = _integer_part(b)
    fb = b[len(ib) :]
    if ia == ib:
        return ia + _midpoint(fa, fb)
    i = _increment_integer(ia)
    if i is None:
        raise InvalidKey("cannot increment any more")
    if i < b:
        return i
    return ia + _midpoint(fa, None)


def generate_n_keys_between(a: str | None, b: str | None, n: int) -> list[str]:
    """`n` distinct keys in order between `a` and `b` (consecutive integers at either end)."""
    if n == 0:
        return []
    if n == 1:
        return [generate_key_between(a, b)]
    if b is None:
        c = generate_key_between(a, b)
        result = [c]
        for _ in range(n - 1):
            c = generate_key_between(c, b)
            result.append(c)
        return result
    if a is None:
        c = generate_key_between(a, b)
        result = [c]
        for _ in range(n - 1):
            c = generate_key_between(a, c)
            result.append(c)
        result.reverse()
        return result
    mid = n // 2
    c = generate_key_between(a, b)
    return [
        *generate_n_keys_between(a, c, mid),
        c,
        *generate_n_keys_between(c, b, n - mid - 1),
    ]
