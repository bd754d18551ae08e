/* lm_devstack.c — the embedded default stack (see lm_devstack.h).
 *
 * Sections: processes · redis-server · the broker process · up/down. */
#include "lm_devstack.h"
#include "lm_devstack_internal.h"
#include "lm_nodelay.h"

#include "lm_clock.h"
#include "lm_env.h"
#include "lm_hash.h"
#include "lm_kafka.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEV_STOP_GRACE_MS 5000
#define DEV_CTL_LINE_MAX  256

/* ============================================================ processes */

/* Binds a fresh socket to 127.0.0.1:port (0: the kernel's choice); the
 * port bound, or -1. Closed before returning. */
static int bind_probe(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int got = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        got = ntohs(a.sin_port);
    close(fd);
    return got;
}

int lm_devstack_ephemeral_low(void) {
    int low = LM_DEVSTACK_EPHEMERAL_LOW, high = 0;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &low, &high) != 2 || low < 1 || low > 65535)
            low = LM_DEVSTACK_EPHEMERAL_LOW;
        fclose(f);
    }
    return low;
}

/* A port is handed to another process, which binds it later. One from
 * bind(0) is an ephemeral port, and in between the outgoing connections
 * of any process on the machine (the workers started just before, to the
 * broker and Redis) may take it as their local port: the later bind then
 * fails ("address already in use"; seen in the bench's fleet). So a
 * random port below the ephemeral range, which connect() never hands
 * out, checked free; bind(0) when that range is too small or every try
 * was taken. */
int lm_devstack_free_port(void) {
    /* draws: lm_hash64 of a count, seeded once per process (pid, clock) */
    static uint64_t seed, draws;
    int hi = lm_devstack_ephemeral_low(), lo = hi - LM_DEVSTACK_PORT_SPAN;
    if (lo < 1024)
        return bind_probe(0);
    if (!seed)
        seed = ((uint64_t)getpid() << 32 ^ (uint64_t)lm_clock_real_ms()) | 1;
    for (int tries = 0; tries < 64; tries++) {
        draws++;
        int port = lo + (int)(lm_hash64(&draws, sizeof(draws), seed) %
                              (uint64_t)(hi - lo));
        if (bind_probe(port) == port)
            return port;
    }
    return bind_probe(0);
}

static int tcp_answers(const char *host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &a.sin_addr);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* fork + exec argv with stdout/stderr to logfile, in a new session. */
static pid_t spawn(char *const argv[], const char *logfile,
                   int die_with_parent) {
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (die_with_parent)
        prctl(PR_SET_PDEATHSIG, SIGTERM);
    else
        setsid();
    int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0)
        dup2(nul, STDIN_FILENO);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
    }
    execvp(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static int pid_alive(pid_t pid) {
    if (pid <= 0)
        return 0;
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid)
        return 0; /* our child, reaped */
    return kill(pid, 0) == 0;
}

static void stop_pid(pid_t pid, int hard) {
    if (pid <= 0)
        return;
    kill(pid, hard ? SIGKILL : SIGTERM);
    int64_t deadline = lm_clock_mono_ms() + DEV_STOP_GRACE_MS;
    while (pid_alive(pid) && lm_clock_mono_ms() < deadline)
        usleep(20 * 1000);
    if (pid_alive(pid)) {
        kill(pid, SIGKILL);
        while (pid_alive(pid) && lm_clock_mono_ms() < deadline + 2000)
            usleep(20 * 1000);
    }
}

static int write_file(const char *dir, const char *name, const char *text) {
    char path[700], tmp[720];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fputs(text, f);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

static int read_file(const char *dir, const char *name, char *buf,
                     size_t bufsz) {
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, bufsz - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return 0;
}

static void write_pid(const char *dir, const char *name, pid_t pid) {
    char text[32];
    snprintf(text, sizeof(text), "%ld\n", (long)pid);
    write_file(dir, name, text);
}

/* ========================================================= redis-server */

int lm_devstack_redis_argv(char **argv, size_t cap, char *port, char *dir,
                           char *const *extra) {
    static char *const head[] = {"redis-server", "--port", NULL, "--bind",
                                 "127.0.0.1"};
    static char *const tail[] = {
        "--appendonly", "yes", "--appendfsync",    "everysec", "--save", "",
        "--daemonize",  "no",  "--protected-mode", "yes"};
    size_t n = 0, nh = sizeof(head) / sizeof(head[0]),
           nt = sizeof(tail) / sizeof(tail[0]), ne = 0;
    while (extra && extra[ne])
        ne++;
    if (nh + ne + 2 + nt + 1 > cap)
        return -1;
    for (size_t i = 0; i < nh; i++)
        argv[n++] = i == 2 ? port : head[i];
    for (size_t i = 0; i < ne; i++)
        argv[n++] = extra[i];
    argv[n++] = "--dir";
    argv[n++] = dir;
    for (size_t i = 0; i < nt; i++)
        argv[n++] = tail[i];
    argv[n] = NULL;
    return (int)n;
}

int lm_devstack_redis_start(lm_devstack *st, int die_with_parent, char *err,
                            size_t errsz) {
    char port[16], logfile[700];
    snprintf(port, sizeof(port), "%d", st->redis_port);
    snprintf(logfile, sizeof(logfile), "%s/redis.log", st->dir);
    char *argv[32];
    if (lm_devstack_redis_argv(argv, 32, port, st->dir, NULL) < 0) {
        snprintf(err, errsz, "redis-server: too many arguments");
        return -1;
    }
    st->redis_pid = spawn(argv, logfile, die_with_parent);
    if (st->redis_pid < 0) {
        snprintf(err, errsz, "fork: %s", strerror(errno));
        return -1;
    }
    int64_t deadline = lm_clock_mono_ms() + LM_DEVSTACK_READY_TIMEOUT_MS;
    while (lm_clock_mono_ms() < deadline) {
        if (!pid_alive(st->redis_pid)) {
            snprintf(err, errsz,
                     "redis-server exited at start (see %s; is Debian's "
                     "redis-server installed? `make deps` installs it)",
                     logfile);
            st->redis_pid = 0;
            return -1;
        }
        if (tcp_answers("127.0.0.1", st->redis_port)) {
            write_pid(st->dir, "redis.pid", st->redis_pid);
            return 0;
        }
        usleep(20 * 1000);
    }
    snprintf(err, errsz, "redis-server did not answer on 127.0.0.1:%d (see %s)",
             st->redis_port, logfile);
    stop_pid(st->redis_pid, 1);
    st->redis_pid = 0;
    return -1;
}

int lm_devstack_redis_stop(lm_devstack *st, int hard) {
    stop_pid(st->redis_pid, hard);
    st->redis_pid = 0;
    return 0;
}

/* ================================================== the broker process */

static volatile sig_atomic_t broker_stop = 0;
static void on_broker_signal(int sig) {
    (void)sig;
    broker_stop = 1;
}

static void broker_command(rd_kafka_mock_cluster_t *mc, char *line,
                           int64_t *up_at) {
    char *save = NULL;
    char *cmd = strtok_r(line, " \t", &save);
    if (!cmd)
        return;
    if (strcmp(cmd, "down") == 0) {
        char *secs = strtok_r(NULL, " \t", &save);
        int64_t s = 0;
        rd_kafka_mock_broker_set_down(mc, 1);
        if (secs && lm_parse_int64(secs, 1, 3600, &s) == 0)
            *up_at = lm_clock_mono_ms() + s * 1000;
        fprintf(stderr, "broker: down%s%s\n", secs ? " for " : "",
                secs ? secs : "");
    } else if (strcmp(cmd, "up") == 0) {
        rd_kafka_mock_broker_set_up(mc, 1);
        *up_at = 0;
        fprintf(stderr, "broker: up\n");
    } else if (strcmp(cmd, "errors") == 0) {
        char *api = strtok_r(NULL, " \t", &save);
        char *code = strtok_r(NULL, " \t", &save);
        char *count = strtok_r(NULL, " \t", &save);
        int64_t a, c, n;
        if (api && code && count && lm_parse_int64(api, 0, 100, &a) == 0 &&
            lm_parse_int64(code, -200, 200, &c) == 0 &&
            lm_parse_int64(count, 1, 1000, &n) == 0) {
            rd_kafka_resp_err_t errs[1000];
            for (int i = 0; i < n; i++)
                errs[i] = (rd_kafka_resp_err_t)c;
            rd_kafka_mock_push_request_errors_array(mc, (int16_t)a, (size_t)n,
                                                    errs);
            fprintf(stderr, "broker: %lld error(s) %lld on api %lld\n",
                    (long long)n, (long long)c, (long long)a);
        }
    }
}

int lm_devstack_broker_main(const char *dir, const char *topic_prefix,
                            int partitions) {
    char errstr[512];
    lm_nodelay_enable(); /* see lm_nodelay.h: 40 ms per acknowledgement */
    signal(SIGTERM, on_broker_signal);
    signal(SIGINT, on_broker_signal);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "broker: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    if (!mc) {
        fprintf(stderr, "broker: could not create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 0; lm_topic_suffixes[i]; i++) {
        char name[LM_TOPIC_MAX];
        snprintf(name, sizeof(name), "%s%s",
                 topic_prefix ? topic_prefix : "lastmile.",
                 lm_topic_suffixes[i]);
        rd_kafka_mock_topic_create(mc, name, partitions, 1);
    }
    char fifo[700];
    snprintf(fifo, sizeof(fifo), "%s/broker.ctl", dir);
    unlink(fifo);
    mkfifo(fifo, 0600);
    int ctl = open(fifo, O_RDWR | O_NONBLOCK); /* RDWR: never sees EOF */
    char bootstraps[512];
    snprintf(bootstraps, sizeof(bootstraps), "%s\n",
             rd_kafka_mock_cluster_bootstraps(mc));
    write_file(dir, "brokers", bootstraps);
    fprintf(stderr, "broker: mock cluster on %s", bootstraps);

    char line[DEV_CTL_LINE_MAX];
    size_t used = 0;
    int64_t up_at = 0;
    while (!broker_stop) {
        struct pollfd p = {ctl, POLLIN, 0};
        if (ctl >= 0 && poll(&p, 1, 200) > 0 && (p.revents & POLLIN)) {
            ssize_t n = read(ctl, line + used, sizeof(line) - 1 - used);
            if (n > 0) {
                used += (size_t)n;
                line[used] = '\0';
                char *nl;
                while ((nl = strchr(line, '\n'))) {
                    *nl = '\0';
                    broker_command(mc, line, &up_at);
                    size_t rest = used - (size_t)(nl + 1 - line);
                    memmove(line, nl + 1, rest);
                    used = rest;
                    line[used] = '\0';
                }
                if (used == sizeof(line) - 1)
                    used = 0; /* overlong line: drop it */
            }
        } else if (ctl < 0) {
            usleep(200 * 1000);
        }
        if (up_at && lm_clock_mono_ms() >= up_at) {
            rd_kafka_mock_broker_set_up(mc, 1);
            up_at = 0;
            fprintf(stderr, "broker: up\n");
        }
    }
    if (ctl >= 0)
        close(ctl);
    unlink(fifo);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

int lm_devstack_broker_ctl(const lm_devstack *st, const char *command) {
    char fifo[700];
    snprintf(fifo, sizeof(fifo), "%s/broker.ctl", st->dir);
    int fd = open(fifo, O_WRONLY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    char line[DEV_CTL_LINE_MAX];
    int n = snprintf(line, sizeof(line), "%s\n", command);
    ssize_t w = write(fd, line, (size_t)n);
    close(fd);
    return w == n ? 0 : -1;
}

/* ============================================================= up/down */

/* Redis's files of a previous run, as Redis 7 writes them in --dir. */
static const char *const redis_files[] = {"appendonlydir", "appendonly.aof",
                                          "dump.rdb", NULL};

/* Moves a previous run's Redis files into <dir>/previous-redis/ (emptied
 * first), so the new Redis starts empty. 1 when there were some, 0 when
 * none, -1 with err. */
static int redis_files_aside(const char *dir, char *err, size_t errsz) {
    char prev[700], from[800], to[900];
    snprintf(prev, sizeof(prev), "%s/previous-redis", dir);
    int found = 0;
    for (int i = 0; redis_files[i]; i++) {
        snprintf(from, sizeof(from), "%s/%s", dir, redis_files[i]);
        struct stat sb;
        if (lstat(from, &sb) != 0)
            continue;
        if (!found) {
            char cmd[800];
            snprintf(cmd, sizeof(cmd), "rm -rf '%s'", prev);
            if (system(cmd) != 0 || mkdir(prev, 0755) != 0) {
                snprintf(err, errsz, "cannot empty %s: %s", prev,
                         strerror(errno));
                return -1;
            }
            found = 1;
        }
        snprintf(to, sizeof(to), "%s/%s", prev, redis_files[i]);
        if (rename(from, to) != 0) {
            snprintf(err, errsz,
                     "cannot move %s aside (%s): remove it, or the new "
                     "Redis would load state the new broker does not have",
                     from, strerror(errno));
            return -1;
        }
    }
    return found;
}

int lm_devstack_up(const lm_devstack_opts *o, lm_devstack *st, char *err,
                   size_t errsz) {
    memset(st, 0, sizeof(*st));
    snprintf(st->dir, sizeof(st->dir), "%s", o->dir);
    mkdir(st->dir, 0755);
    struct stat sb;
    if (stat(st->dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errsz, "cannot create the stack directory %s: %s",
                 st->dir, strerror(errno));
        return -1;
    }
    char brokers_file[700];
    snprintf(brokers_file, sizeof(brokers_file), "%s/brokers", st->dir);
    unlink(brokers_file);

    /* the broker */
    char parts[16], logfile[700];
    snprintf(parts, sizeof(parts), "%d",
             o->partitions > 0 ? o->partitions
                               : LM_DEVSTACK_PARTITIONS_DEFAULT);
    snprintf(logfile, sizeof(logfile), "%s/broker.log", st->dir);
    char *argv[] = {(char *)o->lastmile_exe,
                    "dev",
                    "broker",
                    "--dir",
                    st->dir,
                    "--partitions",
                    parts,
                    "--prefix",
                    (char *)(o->topic_prefix ? o->topic_prefix : "lastmile."),
                    NULL};
    st->broker_pid = spawn(argv, logfile, o->die_with_parent);
    if (st->broker_pid < 0) {
        snprintf(err, errsz, "fork: %s", strerror(errno));
        return -1;
    }
    int64_t deadline = lm_clock_mono_ms() + LM_DEVSTACK_READY_TIMEOUT_MS;
    while (read_file(st->dir, "brokers", st->brokers, sizeof(st->brokers)) !=
           0) {
        if (!pid_alive(st->broker_pid) || lm_clock_mono_ms() > deadline) {
            snprintf(err, errsz, "the mock broker did not start (see %s)",
                     logfile);
            lm_devstack_down(st);
            return -1;
        }
        usleep(20 * 1000);
    }
    write_pid(st->dir, "broker.pid", st->broker_pid);

    /* redis, empty: the broker has nothing either */
    if (o->redis_cluster)
        return lm_devstack_cluster_up(o, st, err, errsz);
    int aside = redis_files_aside(st->dir, err, errsz);
    if (aside < 0) {
        lm_devstack_down(st);
        return -1;
    }
    st->redis_previous = aside;
    for (int attempt = 0; attempt < 5; attempt++) {
        st->redis_port = lm_devstack_free_port();
        if (st->redis_port > 0 &&
            lm_devstack_redis_start(st, o->die_with_parent, err, errsz) == 0)
            break;
        st->redis_port = 0;
    }
    if (!st->redis_port) {
        lm_devstack_down(st);
        return -1;
    }
    snprintf(st->redis_url, sizeof(st->redis_url), "redis://127.0.0.1:%d/0",
             st->redis_port);
    char env[2048];
    lm_devstack_env(st, o->topic_prefix, env, sizeof(env));
    write_file(st->dir, "env", env);
    return 0;
}

int lm_devstack_env(const lm_devstack *st, const char *topic_prefix, char *buf,
                    size_t bufsz) {
    int n = snprintf(buf, bufsz,
                     "export LASTMILE_BROKERS=%s\n"
                     "export LASTMILE_REDIS_URL=%s\n"
                     "export LASTMILE_TOPIC_PREFIX=%s\n"
                     "export LASTMILE_KAFKA_FETCH_WAIT_MAX_MS=%s\n",
                     st->brokers, st->redis_url,
                     topic_prefix ? topic_prefix : "lastmile.",
                     LM_DEVSTACK_FETCH_WAIT_MS);
    return n > 0 && (size_t)n < bufsz ? 0 : -1;
}

void lm_devstack_client_setenv(void) {
    setenv("LASTMILE_KAFKA_FETCH_WAIT_MAX_MS", LM_DEVSTACK_FETCH_WAIT_MS, 0);
}

int lm_devstack_load(const char *dir, lm_devstack *st, char *err,
                     size_t errsz) {
    memset(st, 0, sizeof(*st));
    snprintf(st->dir, sizeof(st->dir), "%s", dir);
    char text[64];
    int64_t v;
    if (read_file(dir, "brokers", st->brokers, sizeof(st->brokers)) != 0) {
        snprintf(err, errsz,
                 "no stack in %s (start one with `lastmile dev up`)", dir);
        return -1;
    }
    if (read_file(dir, "broker.pid", text, sizeof(text)) == 0 &&
        lm_parse_int64(text, 1, INT32_MAX, &v) == 0)
        st->broker_pid = (pid_t)v;
    if (read_file(dir, "redis.pid", text, sizeof(text)) == 0 &&
        lm_parse_int64(text, 1, INT32_MAX, &v) == 0)
        st->redis_pid = (pid_t)v;
    char env[2048];
    if (read_file(dir, "env", env, sizeof(env)) == 0) {
        const char *u = strstr(env, "LASTMILE_REDIS_URL=");
        if (u) {
            u += strlen("LASTMILE_REDIS_URL=");
            size_t n = strcspn(u, "\n");
            if (n < sizeof(st->redis_url)) {
                memcpy(st->redis_url, u, n);
                st->redis_url[n] = '\0';
            }
            st->redis_cluster =
                strncmp(st->redis_url, "redis+cluster:", 14) == 0;
            const char *port = strrchr(st->redis_url, ':');
            int64_t p;
            char pb[16];
            if (port) {
                snprintf(pb, sizeof(pb), "%.*s", (int)strcspn(port + 1, "/"),
                         port + 1);
                if (lm_parse_int64(pb, 1, 65535, &p) == 0)
                    st->redis_port = (int)p;
            }
        }
    }
    return 0;
}

void lm_devstack_down(lm_devstack *st) {
    lm_devstack_cluster_stop(st->dir); /* --redis-cluster's, when any */
    stop_pid(st->redis_pid, 0);
    stop_pid(st->broker_pid, 0);
    st->redis_pid = st->broker_pid = 0;
    const char *files[] = {"redis.pid", "broker.pid", "brokers", "env"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[700];
        snprintf(path, sizeof(path), "%s/%s", st->dir, files[i]);
        unlink(path);
    }
}

/* ============================ lent to lm_devstack_cluster.c (internal.h) */

pid_t lm_devstack_spawn(char *const argv[], const char *logfile,
                        int die_with_parent) {
    return spawn(argv, logfile, die_with_parent);
}

void lm_devstack_stop_pid(pid_t pid, int hard) {
    stop_pid(pid, hard);
}

int lm_devstack_write_file(const char *dir, const char *name,
                           const char *text) {
    return write_file(dir, name, text);
}

int lm_devstack_read_file(const char *dir, const char *name, char *buf,
                          size_t bufsz) {
    return read_file(dir, name, buf, bufsz);
}
