"""The SFU's one piece of C: a frame made into SRTP packets for each of its subscribers.

Forwarding costs a server most where Python is slowest: for every frame, for every subscriber,
each packet's header, its protection and its `sendto`. `atelier_fanout` does those for one
frame and all the subscribers of its track at once: each subscriber writer's state lives in an
`atelier_dest` (its own dup of the socket, the remote address, SRTP session, sequence numbers,
SSRC, extensions, counters, and a ring of the frames sent, for retransmissions); for each, the
headers are written into one buffer, each packet is protected by libsrtp's own `srtp_protect`
(the function pylibsrtp holds, reached by its address: the same library and session as the
Python path) and all of them go to the kernel with one `sendmmsg`. The bytes on the wire are
the Python path's (tests compare them).

Built by `make setup` (`python -m sfu.native`) with cffi and the C compiler into
`sfu/_native*.so`; without it (no compiler) `RtpWriter` sends from Python, as before. `LIB`
is None then, and `WHY` says why.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

# Most packets per `sendmmsg`; a larger frame goes in several (a keyframe of a 1080p screen
# share is ~150 packets).
MAX_BATCH = 64
# Frames a writer remembers for retransmissions (`atelier_dest.ring_*`), and the longest
# extension block it sends (`atelier_dest.ext`): as in the C below.
RING = 128
EXT_MAX = 64
# One packet's room in the buffer: a 1500-byte MTU datagram plus libsrtp's largest trailer.
STRIDE = 1600

CDEF = """
#define ATELIER_RING 128
#define ATELIER_EXT_MAX 64
typedef struct {
    int fd;
    unsigned int addrlen;
    unsigned char addr[28];
    void *protect;
    void *session;
    unsigned char first;
    unsigned char payload_type;
    unsigned int seq;
    unsigned int ssrc;
    unsigned int timestamp_origin;
    unsigned char ext[64];
    int ext_len;
    int stamp_at;
    unsigned long long packets;
    unsigned long long octets;
    unsigned long long refused;
    unsigned int last_timestamp;
    unsigned long long last_ntp;
    unsigned int ring_next;
    unsigned int ring_seq[128];
    unsigned int ring_count[128];
    unsigned long long ring_serial[128];
    unsigned int ring_timestamp[128];
    unsigned int ring_stamp[128];
} atelier_dest;

int atelier_fanout(atelier_dest **dests, int n, unsigned long long serial,
    unsigned int timestamp, unsigned int stamp, unsigned long long ntp,
    int count, const unsigned char **payloads, const int *sizes, int size,
    unsigned char *buffer, int stride);
"""

SOURCE = r"""
#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <string.h>

#define MAX_BATCH @MAX_BATCH@
#define SRTP_MAX_TRAILER 144
#define ATELIER_RING 128
#define ATELIER_EXT_MAX 64

typedef int (*protect_fn)(void *session, void *packet, int *length);

typedef struct {
    int fd;                        /* our own dup of the ICE socket; -1: send nothing */
    unsigned int addrlen;
    unsigned char addr[28];        /* the remote sockaddr_in or sockaddr_in6 */
    void *protect;                 /* libsrtp's srtp_protect */
    void *session;                 /* the srtp_t */
    unsigned char first;           /* RTP's first byte (0x90 with extensions) */
    unsigned char payload_type;
    unsigned int seq;              /* the next sequence number */
    unsigned int ssrc;
    unsigned int timestamp_origin;
    unsigned char ext[ATELIER_EXT_MAX];  /* the extension block */
    int ext_len;
    int stamp_at;                  /* where abs-send-time's 3 bytes go in ext, or -1 */
    unsigned long long packets;    /* sent since Python last read them (sender reports) */
    unsigned long long octets;
    unsigned long long refused;    /* packets the kernel did not take */
    unsigned int last_timestamp;
    unsigned long long last_ntp;
    unsigned int ring_next;        /* frames sent, for retransmission: the ring's next slot */
    unsigned int ring_seq[ATELIER_RING];
    unsigned int ring_count[ATELIER_RING];
    unsigned long long ring_serial[ATELIER_RING];
    unsigned int ring_timestamp[ATELIER_RING];
    unsigned int ring_stamp[ATELIER_RING];
} atelier_dest;

/* Packets `seq`, `seq + 1`, ... of one frame (`count` <= MAX_BATCH of them, the marker on the
   one at index `last`): a 12-byte RTP header, the extension block, the payload; each
   protected in place in `buffer` (`stride` bytes per packet) and all sent with one sendmmsg.
   Returns how many packets the kernel took. A packet that does not fit, or that libsrtp
   refuses, is left out (as the Python path drops it). */
static int send_batch(const atelier_dest *d, unsigned int seq, unsigned int timestamp,
    int count, int last, const unsigned char **payloads, const int *sizes,
    unsigned char *buffer, int stride)
{
    struct mmsghdr messages[MAX_BATCH];
    struct iovec iov[MAX_BATCH];
    int ready = 0;
    for (int i = 0; i < count; i++) {
        unsigned char *p = buffer + (size_t)i * (size_t)stride;
        int length = 12 + d->ext_len + sizes[i];
        if (sizes[i] < 0 || length + SRTP_MAX_TRAILER > stride)
            continue;
        unsigned int s = (seq + (unsigned int)i) & 0xFFFF;
        p[0] = d->first;
        p[1] = (unsigned char)(d->payload_type | (i == last ? 0x80 : 0));
        p[2] = (unsigned char)(s >> 8);
        p[3] = (unsigned char)s;
        p[4] = (unsigned char)(timestamp >> 24);
        p[5] = (unsigned char)(timestamp >> 16);
        p[6] = (unsigned char)(timestamp >> 8);
        p[7] = (unsigned char)timestamp;
        p[8] = (unsigned char)(d->ssrc >> 24);
        p[9] = (unsigned char)(d->ssrc >> 16);
        p[10] = (unsigned char)(d->ssrc >> 8);
        p[11] = (unsigned char)d->ssrc;
        memcpy(p + 12, d->ext, (size_t)d->ext_len);
        memcpy(p + 12 + d->ext_len, payloads[i], (size_t)sizes[i]);
        if (((protect_fn)d->protect)(d->session, p, &length) != 0)
            continue;
        iov[ready].iov_base = p;
        iov[ready].iov_len = (size_t)length;
        memset(&messages[ready], 0, sizeof(messages[ready]));
        messages[ready].msg_hdr.msg_name = (void *)d->addr;
        messages[ready].msg_hdr.msg_namelen = d->addrlen;
        messages[ready].msg_hdr.msg_iov = &iov[ready];
        messages[ready].msg_hdr.msg_iovlen = 1;
        ready++;
    }
    if (ready == 0)
        return 0;
    int sent = sendmmsg(d->fd, messages, (unsigned int)ready, MSG_DONTWAIT);
    return sent < 0 ? 0 : sent;
}

/* One frame (`count` payloads, `size` bytes in all) to each of `n` subscribers' writers:
   their own sequence numbers, timestamp origin, SSRC, extensions (the abs-send-time `stamp`
   written in), SRTP session and socket; a writer whose fd is -1 is skipped. Each writer's
   sequence number, counters and retransmission ring (this frame's `serial`) move on as the
   Python path's would. Returns how many writers it sent to. */
int atelier_fanout(atelier_dest **dests, int n, unsigned long long serial,
    unsigned int timestamp, unsigned int stamp, unsigned long long ntp,
    int count, const unsigned char **payloads, const int *sizes, int size,
    unsigned char *buffer, int stride)
{
    int served = 0;
    if (count <= 0)
        return 0;
    for (int k = 0; k < n; k++) {
        atelier_dest *d = dests[k];
        if (d == NULL || d->fd < 0 || d->ext_len < 0 || d->ext_len > ATELIER_EXT_MAX)
            continue;
        if (d->stamp_at >= 0 && d->stamp_at + 3 <= d->ext_len) {
            d->ext[d->stamp_at] = (unsigned char)(stamp >> 16);
            d->ext[d->stamp_at + 1] = (unsigned char)(stamp >> 8);
            d->ext[d->stamp_at + 2] = (unsigned char)stamp;
        }
        unsigned int ts = d->timestamp_origin + timestamp;
        unsigned int seq = d->seq & 0xFFFF;
        for (int start = 0; start < count; start += MAX_BATCH) {
            int batch = count - start < MAX_BATCH ? count - start : MAX_BATCH;
            int sent = send_batch(d, (seq + (unsigned int)start) & 0xFFFF, ts, batch,
                count - 1 - start, payloads + start, sizes + start, buffer, stride);
            d->refused += (unsigned long long)(batch - sent);
        }
        unsigned int slot = d->ring_next % ATELIER_RING;
        d->ring_seq[slot] = seq;
        d->ring_count[slot] = (unsigned int)count;
        d->ring_serial[slot] = serial;
        d->ring_timestamp[slot] = ts;
        d->ring_stamp[slot] = stamp;
        d->ring_next = (slot + 1) % ATELIER_RING;
        d->seq = (seq + (unsigned int)count) & 0xFFFF;
        d->packets += (unsigned long long)count;
        d->octets += (unsigned long long)size;
        d->last_timestamp = ts;
        d->last_ntp = ntp;
        served++;
    }
    return served;
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
