/* test_free_port.c — lm_devstack_free_port (common/tools/lm_devstack.c):
 * the port it gives is free (this process can bind it) and, when the
 * range allows, below the kernel's ephemeral range, so no outgoing
 * connection of another process takes it before the process it is meant
 * for binds it (the bench's fleet failed "address already in use" when
 * the ports came from bind(0)). Loopback only. */
#include "lm_devstack.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* A socket bound to 127.0.0.1:port, listening when `listening`; -1 when
 * the port is taken. */
static int bind_loopback(int port, int listening) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        (listening && listen(fd, 1) != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int can_bind(int port) {
    int fd = bind_loopback(port, 0);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

Test(free_port, below_the_ephemeral_range_and_free) {
    int low = lm_devstack_ephemeral_low();
    int below = low - LM_DEVSTACK_PORT_SPAN >= 1024;
    int seen_two = 0, first = -1;
    for (int i = 0; i < 200; i++) {
        int port = lm_devstack_free_port();
        cr_assert_gt(port, 0);
        if (below)
            cr_expect(port >= low - LM_DEVSTACK_PORT_SPAN && port < low,
                      "%d not in [%d, %d)", port, low - LM_DEVSTACK_PORT_SPAN,
                      low);
        cr_expect(can_bind(port), "port %d is not free", port);
        if (first < 0)
            first = port;
        else if (port != first)
            seen_two = 1;
    }
    cr_expect(seen_two, "always port %d", first);
}

/* Listeners held on 50 ports it gave, it is asked 2,000 times more: never
 * one of them. Were the ports not checked, 2,000 draws among the 12,000
 * would hit one of the 50 about 8 times. */
Test(free_port, a_port_in_use_is_not_given) {
    enum { HELD = 50, ASKED = 2000 };
    int fds[HELD], ports[HELD];
    for (int i = 0; i < HELD; i++) {
        ports[i] = lm_devstack_free_port();
        cr_assert_gt(ports[i], 0);
        fds[i] = bind_loopback(ports[i], 1);
        cr_assert_geq(fds[i], 0, "port %d was given and is taken", ports[i]);
    }
    for (int n = 0; n < ASKED; n++) {
        int port = lm_devstack_free_port();
        for (int j = 0; j < HELD; j++)
            cr_assert_neq(port, ports[j], "port %d is held, and given", port);
    }
    for (int i = 0; i < HELD; i++)
        close(fds[i]);
}
