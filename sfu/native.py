"""The SFU's one piece of C: a subscriber's frame made into SRTP packets and sent in one call.

Forwarding costs a server most where Python is slowest: for every frame, for every subscriber,
each packet's header, its protection and its `sendto`. `atelier_send_frame` does those for
one frame and one subscriber: headers written into one buffer, each packet protected by
libsrtp's own `srtp_protect` (the function pylibsrtp holds, reached by its address: the same
library and session as the Python path) and all of them handed to the kernel with one
`sendmmsg`. The bytes on the wire are the Python path's (tests compare them).

Built by `make setup` (`python -m sfu.native`) with cffi and the C compiler into
`sfu/_native*.so`; without it (no compiler) `RtpWriter` sends from Python, as before. `LIB`
is None then, and `WHY` says why.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

# Largest frame sent in one call; a larger one goes in several calls (a keyframe of a
# 1080p screen share is ~150 packets).
MAX_BATCH = 64
# One packet's room in the buffer: a 1500-byte MTU datagram plus libsrtp's largest trailer.
STRIDE = 1600

CDEF = """
int atelier_send_frame(int fd, const void *addr, unsigned int addrlen,
    void *protect, void *session,
    unsigned char first, unsigned char payload_type, unsigned int seq, unsigned int timestamp,
    unsigned int ssrc, const unsigned char *extensions, int extensions_len,
    int count, int last, const unsigned char **payloads, const int *sizes,
    unsigned char *buffer, int stride);
"""

SOURCE = r"""
#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <string.h>

#define MAX_BATCH @MAX_BATCH@
#define SRTP_MAX_TRAILER 144

typedef int (*protect_fn)(void *session, void *packet, int *length);

/* Packets `seq`, `seq + 1`, ... of one frame: a 12-byte RTP header (the marker on the
   packet at index `last`), the extension block, the payload; each protected in place in
   `buffer` (`stride` bytes per packet) and all sent to `addr` with one sendmmsg.
   Returns how many packets the kernel took, or -errno. A packet that does not fit, or that
   libsrtp refuses, is left out (as the Python path drops it). */
int atelier_send_frame(int fd, const void *addr, unsigned int addrlen,
    void *protect, void *session,
    unsigned char first, unsigned char payload_type, unsigned int seq, unsigned int timestamp,
    unsigned int ssrc, const unsigned char *extensions, int extensions_len,
    int count, int last, const unsigned char **payloads, const int *sizes,
    unsigned char *buffer, int stride)
{
    struct mmsghdr messages[MAX_BATCH];
    struct iovec iov[MAX_BATCH];
    int ready = 0;
    if (count > MAX_BATCH || extensions_len < 0)
        return -EINVAL;
    for (int i = 0; i < count; i++) {
        unsigned char *p = buffer + (size_t)i * (size_t)stride;
        int length = 12 + extensions_len + sizes[i];
        if (sizes[i] < 0 || length + SRTP_MAX_TRAILER > stride)
            continue;
        unsigned int s = (seq + (unsigned int)i) & 0xFFFF;
        p[0] = first;
        p[1] = (unsigned char)(payload_type | (i == last ? 0x80 : 0));
        p[2] = (unsigned char)(s >> 8);
        p[3] = (unsigned char)s;
        p[4] = (unsigned char)(timestamp >> 24);
        p[5] = (unsigned char)(timestamp >> 16);
        p[6] = (unsigned char)(timestamp >> 8);
        p[7] = (unsigned char)timestamp;
        p[8] = (unsigned char)(ssrc >> 24);
        p[9] = (unsigned char)(ssrc >> 16);
        p[10] = (unsigned char)(ssrc >> 8);
        p[11] = (unsigned char)ssrc;
        memcpy(p + 12, extensions, (size_t)extensions_len);
        memcpy(p + 12 + extensions_len, payloads[i], (size_t)sizes[i]);
        if (((protect_fn)protect)(session, p, &length) != 0)
            continue;
        iov[ready].iov_base = p;
        iov[ready].iov_len = (size_t)length;
        memset(&messages[ready], 0, sizeof(messages[ready]));
        messages[ready].msg_hdr.msg_name = (void *)addr;
        messages[ready].msg_hdr.msg_namelen = addrlen;
        messages[ready].msg_hdr.msg_iov = &iov[ready];
        messages[ready].msg_hdr.msg_iovlen = 1;
        ready++;
    }
    if (ready == 0)
        return 0;
    int sent = sendmmsg(fd, messages, (unsigned int)ready, MSG_DONTWAIT);
    return sent < 0 ? -errno : sent;
}
""".replace("@MAX_BATCH@", str(MAX_BATCH))


def build() -> Path:
    """Compile `sfu/_native*.so` next to this file (cffi and a C compiler needed)."""
    import cffi  # type: ignore[import-untyped]

    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source("sfu._native", SOURCE, extra_compile_args=["-O2"])
    root = Path(__file__).resolve().parent.parent
    with warnings.catch_warnings():  # setuptools' notes on our pyproject.toml, not about this
        warnings.simplefilter("ignore")
        built = Path(ffi.compile(tmpdir=str(root)))
    for left in ("_native.c", "_native.o"):  # the generated source and object file
        (built.parent / left).unlink(missing_ok=True)
    return built


def _load() -> tuple[Any, Any, str]:
    try:
        from sfu import _native  # type: ignore[attr-defined]
    except ImportError as exc:
        return None, None, f"not built ({exc}); run `make setup`"
    return _native.ffi, _native.lib, ""


FFI, LIB, WHY = _load()


if __name__ == "__main__":
    try:
        print(f"built {build()}")
    except Exception as exc:  # no compiler, no headers: the Python path serves
        print(f"sfu/native.py: not built ({exc}); the SFU sends from Python", file=sys.stderr)
        sys.exit(0)
