/* The SFU's C sender: one frame, as SRTP packets, to every subscriber of its track.

   This header is the one description of the sender: sender.c includes it, and cffi reads it
   (sfu/native/build.py) to build the Python binding, from which the Python side takes its
   constants and the layout of `atelier_dest`. So it holds only what cffi's parser reads:
   integer #defines, the struct, the function declarations (the include guard is left out
   for cffi). */
#ifndef ATELIER_SENDER_H
#define ATELIER_SENDER_H

/* Frames a destination remembers for retransmissions (its `ring_*` arrays). */
#define ATELIER_RING 128
/* The longest RTP header extension block a destination sends. */
#define ATELIER_EXT_MAX 64
/* Most packets per sendmmsg; a larger frame goes in several (a keyframe of a 1080p screen
   share is ~150 packets). */
#define ATELIER_MAX_BATCH 64
/* One packet's room in the send buffer: a 1500-byte MTU datagram plus libsrtp's largest
   trailer. */
#define ATELIER_STRIDE 1600

/* One subscriber writer's state: where and how its packets go, and what it sent. */
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

/* One frame (`count` payloads, `size` bytes in all) to each of `n` destinations; returns
   how many it sent to. `buffer` holds ATELIER_MAX_BATCH packets of `stride` bytes. */
int atelier_send_frame(atelier_dest **dests, int n, unsigned long long serial,
    unsigned int timestamp, unsigned int stamp, unsigned long long ntp,
    int count, const unsigned char **payloads, const int *sizes, int size,
    unsigned char *buffer, int stride);

/* The SHA-256 (hex) of sender.h and sender.c this module was built from. */
const char *atelier_source_hash(void);

#endif
