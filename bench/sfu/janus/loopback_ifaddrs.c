/* LD_PRELOAD shim for the Janus benchmark peer (bench/sfu/janus.py).
 *
 * Janus 1.1 skips interfaces flagged IFF_LOOPBACK when it gathers ICE host candidates, even when
 * they are named in ice_enforce_list, so on a loopback-only benchmark it would offer no usable
 * candidate. This shim clears IFF_LOOPBACK on "lo" in getifaddrs(); with ice_enforce_list = "lo"
 * Janus then offers 127.0.0.1 as its only host candidate. Nothing else is changed. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>

int getifaddrs(struct ifaddrs **ifap) {
    static int (*real)(struct ifaddrs **) = NULL;
    if (real == NULL)
        real = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
    int rc = real(ifap);
    if (rc == 0) {
        for (struct ifaddrs *i = *ifap; i != NULL; i = i->ifa_next)
            if (i->ifa_name != NULL && strcmp(i->ifa_name, "lo") == 0)
                i->ifa_flags &= ~IFF_LOOPBACK;
    }
    return rc;
}
