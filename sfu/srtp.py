"""libsrtp through pylibsrtp 1.0, without its per-packet allocations, and for the C sender.

pylibsrtp's `Session.protect` (and the three others) allocate a length cell and a copy of
the packet for every packet. The SFU calls the same libsrtp functions on the same session,
through pylibsrtp's own cffi binding and buffer (`fast_protect`, `fast_unprotect`), and
hands the C sender (sfu/native/) libsrtp's `srtp_protect` and the session's `srtp_t` by
address (`c_protect`). pylibsrtp documents no way to reach either: its wheels link libsrtp in
statically, so no other copy of the library (Debian's libsrtp2, say) could take its sessions.
That reach is `_libsrtp`, the one function here that names pylibsrtp's private parts;
tests/sfu/test_srtp.py fails loudly when a pylibsrtp release moves them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, NamedTuple

import pylibsrtp


class _Libsrtp(NamedTuple):
    """What pylibsrtp keeps of a session: its cffi binding, the `srtp_t`, its buffer."""

    ffi: Any
    lib: Any
    srtp: Any  # srtp_t
    cdata: Any  # char[1500], the buffer libsrtp works in
    buffer: Any  # cffi's view of cdata


def _libsrtp(session: pylibsrtp.Session) -> _Libsrtp:
    """The one reach into pylibsrtp's private names (pylibsrtp 1.0: `_binding`, and
    `Session._srtp`, `_cdata`, `_buffer`)."""
    binding = importlib.import_module("pylibsrtp._binding")
    return _Libsrtp(binding.ffi, binding.lib, session._srtp[0], session._cdata, session._buffer)


def fast_protect(session: pylibsrtp.Session, rtcp: bool = False) -> Callable[..., bytes]:
    """`session.protect` (or `protect_rtcp`), the same libsrtp call without pylibsrtp's
    per-packet allocations: `fast(data)`, or `fast(head, payload)` for the packet `head +
    payload`, copied into libsrtp's buffer piece by piece rather than joined first.

    The function holds the session: libsrtp's context is freed with it.
    """
    srtp = _libsrtp(session)
    length = srtp.ffi.new("int *")
    protect = srtp.lib.srtp_protect_rtcp if rtcp else srtp.lib.srtp_protect
    trailer = pylibsrtp.SRTP_MAX_SRTCP_TRAILER_LEN if rtcp else pylibsrtp.SRTP_MAX_TRAILER_LEN
    buffer, context, cdata = srtp.buffer, srtp.srtp, srtp.cdata
    limit = len(buffer) - trailer
    ok = srtp.lib.srtp_err_status_ok

    def fast(head: bytes, payload: bytes = b"", session: pylibsrtp.Session = session) -> bytes:
        start = len(head)
        size = start + len(payload)
        if size > limit:
            raise ValueError("packet is too long")
        buffer[0:start] = head
        buffer[start:size] = payload
        length[0] = size
        status = protect(context, cdata, length)
        if status != ok:
            raise pylibsrtp.Error(f"srtp_protect{'_rtcp' * rtcp} failed ({status})")
        packet: bytes = buffer[0 : length[0]]
        return packet

    return fast


def joining_protect(protect: Callable[[bytes], bytes]) -> Callable[..., bytes]:
    """`fast_protect`'s calling convention for another session object's `protect`."""

    def joined(head: bytes, payload: bytes = b"") -> bytes:
        return protect(head + payload)

    return joined


def fast_unprotect(session: pylibsrtp.Session, rtcp: bool) -> Callable[[bytes], bytes]:
    """`session.unprotect` (or `unprotect_rtcp`) without pylibsrtp's per-packet allocations; a
    packet too long for its buffer is a `pylibsrtp.Error` (dropped) rather than a ValueError,
    which would end aiortc's receiving task, and with it the connection."""
    srtp = _libsrtp(session)
    length = srtp.ffi.new("int *")
    unprotect = srtp.lib.srtp_unprotect_rtcp if rtcp else srtp.lib.srtp_unprotect
    buffer, context, cdata = srtp.buffer, srtp.srtp, srtp.cdata
    limit = len(buffer)
    ok = srtp.lib.srtp_err_status_ok

    def fast(data: bytes, session: pylibsrtp.Session = session) -> bytes:
        size = len(data)
        if size > limit:
            raise pylibsrtp.Error("packet is too long")
        length[0] = size
        buffer[0:size] = data
        status = unprotect(context, cdata, length)
        if status != ok:
            raise pylibsrtp.Error(f"srtp_unprotect failed ({status})")
        packet: bytes = buffer[0 : length[0]]
        return packet

    return fast


def c_protect(session: pylibsrtp.Session) -> tuple[int, int]:
    """The addresses of libsrtp's `srtp_protect` and of `session`'s `srtp_t`, for C; the
    session must outlive their use."""
    srtp = _libsrtp(session)
    function = srtp.ffi.addressof(srtp.lib, "srtp_protect")
    return int(srtp.ffi.cast("uintptr_t", function)), int(srtp.ffi.cast("uintptr_t", srtp.srtp))
