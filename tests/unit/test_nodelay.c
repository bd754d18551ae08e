/* test_nodelay.c — lm_nodelay: once enabled, a connection this process
 * accepts has TCP_NODELAY (the embedded broker's acknowledgements must not
 * wait for the client's delayed ACK); before, accept() behaves as libc's.
 * Loopback only. */
#include "lm_nodelay.h"

#include <criterion/criterion.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

/* Accepts one loopback connection; returns its TCP_NODELAY setting. */
static int accepted_nodelay(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(l, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(l, 1), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
    int s = accept(l, NULL, NULL);
    cr_assert_geq(s, 0);
    int on = -1;
    socklen_t ol = sizeof(on);
    cr_assert_eq(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, &ol), 0);
    close(s);
    close(c);
    close(l);
    return on;
}

Test(nodelay, set_on_accepted_connections_once_enabled) {
    cr_expect_eq(accepted_nodelay(), 0, "TCP_NODELAY before enabling");
    lm_nodelay_enable();
    cr_expect_neq(accepted_nodelay(), 0, "no TCP_NODELAY after enabling");
}
