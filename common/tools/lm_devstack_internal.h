/* lm_devstack_internal.h — what lm_devstack.c lends lm_devstack_cluster.c
 * (processes and the stack directory's small files); not for other
 * modules. Same rules as lm_devstack.h: no heap, not thread-safe. */
#ifndef LM_DEVSTACK_INTERNAL_H
#define LM_DEVSTACK_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

/* fork + exec argv (PATH searched), stdout/stderr appended to logfile; in
 * a session of its own, or dying with us when die_with_parent. The pid,
 * or -1. */
pid_t lm_devstack_spawn(char *const argv[], const char *logfile,
                        int die_with_parent);
/* SIGTERM (SIGKILL when hard), SIGKILL after a grace period; waits. */
void lm_devstack_stop_pid(pid_t pid, int hard);
/* <dir>/<name> written whole (through a rename) / read, trailing blanks
 * cut. 0 / -1. */
int lm_devstack_write_file(const char *dir, const char *name, const char *text);
int lm_devstack_read_file(const char *dir, const char *name, char *buf,
                          size_t bufsz);
/* The redis-server command line of every embedded Redis, single or a
 * cluster's node: port and dir, then `extra` (NULL-ended, may be NULL:
 * the cluster's options), then the persistence every one of them keeps
 * (AOF, fsync every second, no RDB snapshots: docs/PERFORMANCE.md, "The
 * AOF rewrite"). Fills argv (cap entries, NULL-ended) with pointers to
 * the arguments; nothing is copied. The count, or -1 when cap is short. */
int lm_devstack_redis_argv(char **argv, size_t cap, char *port, char *dir,
                           char *const *extra);

#endif
