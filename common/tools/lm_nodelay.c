/* lm_nodelay.c — accept() with TCP_NODELAY for the embedded broker (see
 * lm_nodelay.h for why).
 *
 * This file must not include <sys/socket.h>: glibc declares accept() there
 * with a transparent-union argument that a plain definition would clash
 * with. The system calls are made directly instead. */
#include "lm_nodelay.h"

#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LM_IPPROTO_TCP 6 /* <netinet/in.h> */
#define LM_TCP_NODELAY 1 /* <netinet/tcp.h> */

struct sockaddr;
typedef unsigned int lm_socklen;

int accept(int fd, struct sockaddr *addr, lm_socklen *addrlen);
int accept4(int fd, struct sockaddr *addr, lm_socklen *addrlen, int flags);

static atomic_int nodelay_on = 0;

void lm_nodelay_enable(void) {
    atomic_store(&nodelay_on, 1);
}

int accept4(int fd, struct sockaddr *addr, lm_socklen *addrlen, int flags) {
    int c = (int)syscall(SYS_accept4, fd, addr, addrlen, flags);
    if (c >= 0 && atomic_load(&nodelay_on)) {
        int one = 1;
        /* fails harmlessly on a Unix socket */
        (void)syscall(SYS_setsockopt, c, LM_IPPROTO_TCP, LM_TCP_NODELAY, &one,
                      (lm_socklen)sizeof(one));
    }
    return c;
}

int accept(int fd, struct sockaddr *addr, lm_socklen *addrlen) {
    return accept4(fd, addr, addrlen, 0);
}
