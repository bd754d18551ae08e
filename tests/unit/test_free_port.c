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

static int can_bind(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
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

Test(free_port, a_port_in_use_is_not_given) {
    /* hold a listener on every port it gives, and ask again: never one
       of them */
    int fds[50], ports[50];
    for (int i = 0; i < 50; i++) {
        ports[i] = lm_devstack_free_port();
        cr_assert_gt(ports[i], 0);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)ports[i]);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(bind(fds[i], (struct sockaddr *)&a, sizeof(a)), 0,
                     "port %d", ports[i]);
        cr_assert_eq(listen(fds[i], 1), 0);
        for (int j = 0; j < i; j++)
            cr_expect_neq(ports[i], ports[j], "port %d given twice", ports[i]);
    }
    for (int i = 0; i < 50; i++)
        close(fds[i]);
}
