/* The SFU's C sender (declarations and the layout of `atelier_dest` in sender.h).

   Forwarding costs a server most where Python is slowest: for every frame, for every
   subscriber, each packet's header, its protection and its `sendto`. `atelier_send_frame`
   does those for one frame and all the subscribers of its track at once: for each
   destination the headers are written into one buffer, each packet is protected by
   libsrtp's own `srtp_protect` (the function pylibsrtp holds, reached by its address: the
   same library and session as the Python path) and all of them go to the kernel with one
   `sendmmsg`. The bytes on the wire are the Python path's (tests compare them). */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>
#include <string.h>

#include "sender.h"

#define SRTP_MAX_TRAILER 144

typedef int (*protect_fn)(void *session, void *packet, int *length);

/* Packets `seq`, `seq + 1`, ... of one frame (`count` <= ATELIER_MAX_BATCH of them, the
   marker on the one at index `last`): a 12-byte RTP header, the extension block, the
   payload; each protected in place in `buffer` (`stride` bytes per packet) and all sent
   with one sendmmsg. Returns how many packets the kernel took. A packet that does not fit,
   or that libsrtp refuses, is left out (as the Python path drops it). */
static int send_batch(const atelier_dest *d, unsigned int seq, unsigned int timestamp,
    int count, int last, const unsigned char **payloads, const int *sizes,
    unsigned char *buffer, int stride)
{
    struct mmsghdr messages[ATELIER_MAX_BATCH];
    struct iovec iov[ATELIER_MAX_BATCH];
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

/* Each destination gets the frame with its own sequence numbers, timestamp origin, SSRC,
   extensions (the abs-send-time `stamp` written in), SRTP session and socket; one whose fd
   is -1 is skipped. Each destination's sequence number, counters and retransmission ring
   (this frame's `serial`) move on as the Python path's would. */
int atelier_send_frame(atelier_dest **dests, int n, unsigned long long serial,
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
        for (int start = 0; start < count; start += ATELIER_MAX_BATCH) {
            int batch = count - start < ATELIER_MAX_BATCH ? count - start : ATELIER_MAX_BATCH;
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

const char *atelier_source_hash(void)
{
    return ATELIER_SOURCE_HASH;
}
