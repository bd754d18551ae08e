/* lm_env.c — configuration from the environment (see lm_env.h).
 *
 * Validation collects every problem before failing, so a person fixing a
 * deployment sees all of them at once. */
#include "lm_env.h"

#include "lm_clock.h"
#include "lm_fmt.h"

#include "lm_log.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

typedef struct env_entry {
    const char *name, *who;
    int required;
    const char *def, *example, *doc;
} env_entry;

static const env_entry env_table[] = {
#define LM_ENV(n, w, r, d, e, doc) {n, w, r, d, e, doc},
#include "lm_env_vars.def"
#undef LM_ENV
};
static const size_t env_table_n = sizeof(env_table) / sizeof(env_table[0]);

#define ENV_FILE_MAX (64 * 1024)

void lm_env_visit(lm_env_visit_fn fn, void *opaque) {
    for (size_t i = 0; i < env_table_n; i++)
        fn(opaque, env_table[i].name, env_table[i].who, env_table[i].required,
           env_table[i].def, env_table[i].example, env_table[i].doc);
}

static const env_entry *env_find(const char *name) {
    for (size_t i = 0; i < env_table_n; i++)
        if (strcmp(env_table[i].name, name) == 0)
            return &env_table[i];
    return NULL;
}

int lm_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out) {
    if (!s || !*s)
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int lm_parse_double(const char *s, double min, double max, double *out) {
    if (!s || !*s)
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min ||
        v > max)
        return -1;
    *out = v;
    return 0;
}

static char *read_secret_file(const char *path, char *err, size_t errsz,
                              const char *var) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        lm_errf_add(err, errsz,
                    "%s: cannot open %s: %s (point it at a readable "
                    "file, e.g. %s=/run/secrets/lastmile/value)",
                    var, path, strerror(errno), var);
        return NULL;
    }
    char *buf = malloc(ENV_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, ENV_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!buf) {
        lm_errf_add(err, errsz, "%s: out of memory", var);
        return NULL;
    }
    if (n > ENV_FILE_MAX) {
        free(buf);
        lm_errf_add(err, errsz, "%s: %s is larger than %d bytes", var, path,
                    ENV_FILE_MAX);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    return buf;
}

int lm_env_get(const char *name, char **out, char *err, size_t errsz) {
    char file_var[256];
    snprintf(file_var, sizeof(file_var), "%s_FILE", name);
    const char *direct = getenv(name);
    const char *path = getenv(file_var);
    if (direct && !*direct)
        direct = NULL;
    if (path && !*path)
        path = NULL;
    *out = NULL;
    if (direct && path) {
        lm_errf_add(err, errsz, "%s and %s are both set: set only one", name,
                    file_var);
        return -1;
    }
    if (path) {
        *out = read_secret_file(path, err, errsz, file_var);
        if (!*out)
            return -1;
        if (!**out) {
            free(*out);
            *out = NULL;
            return 0;
        }
        return 1;
    }
    if (!direct)
        return 0;
    *out = strdup(direct);
    if (!*out) {
        lm_errf_add(err, errsz, "%s: out of memory", name);
        return -1;
    }
    return 1;
}

/* Reads `name` from the table: the value, or the default (malloc'd). */
static char *env_value(const char *name, const char *component, char *err,
                       size_t errsz, int *bad) {
    const env_entry *e = env_find(name);
    char *v = NULL;
    int r = lm_env_get(name, &v, err, errsz);
    if (r < 0) {
        *bad = 1;
        return NULL;
    }
    if (r == 0) {
        int required =
            e && e->required && strcmp(component, "cli") != 0 &&
            (strcmp(e->who, "all") == 0 || strcmp(e->who, component) == 0);
        if (required) {
            lm_errf_add(err, errsz, "%s is not set: %s (example: %s=%s)", name,
                        e->doc, name, e->example);
            *bad = 1;
            return NULL;
        }
        v = strdup(e ? e->def : "");
    }
    return v;
}

static int env_number(const char *name, const char *component, int64_t min,
                      int64_t max, int64_t *out, char *err, size_t errsz) {
    int bad = 0;
    char *v = env_value(name, component, err, errsz, &bad);
    if (bad)
        return -1;
    int rc = 0;
    if (v && *v && lm_parse_int64(v, min, max, out) != 0) {
        const env_entry *e = env_find(name);
        lm_errf_add(err, errsz,
                    "%s: \"%s\" is not a whole number from %lld to %lld "
                    "(example: %s=%s)",
                    name, v, (long long)min, (long long)max, name,
                    e ? e->example : "1");
        rc = -1;
    }
    free(v);
    return rc;
}

/* LASTMILE_KAFKA_SASL_MECHANISMS → "sasl.mechanisms". */
static void kafka_prop_name(const char *suffix, char *out, size_t outsz) {
    size_t i = 0;
    for (; suffix[i] && i + 1 < outsz; i++)
        out[i] =
            suffix[i] == '_' ? '.' : (char)tolower((unsigned char)suffix[i]);
    out[i] = '\0';
}

/* The replica's name. Given (LASTMILE_INSTANCE_ID, or "@hostname" for the
 * host's name: Docker and Kubernetes keep it across a container's
 * restarts), it is stable, and consumers join as static members; not
 * given, "<host>-<pid>" names this process only. 0 / -1 with err. */
static int resolve_instance_id(lm_settings *s, char *err, size_t errsz) {
    char host[128] = "host";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    char id[200];
    if (*s->instance_id && strcmp(s->instance_id, "@hostname") != 0) {
        for (const char *p = s->instance_id; *p; p++)
            if (!isalnum((unsigned char)*p) && !strchr("._-", *p)) {
                snprintf(err, errsz,
                         "LASTMILE_INSTANCE_ID=%s: only letters, digits, "
                         "'.', '_' and '-' (or \"@hostname\"); e.g. "
                         "qualification-0",
                         s->instance_id);
                return -1;
            }
        s->instance_id_static = 1;
        return 0;
    }
    s->instance_id_static = *s->instance_id != '\0'; /* "@hostname" */
    if (s->instance_id_static)
        snprintf(id, sizeof(id), "%s", host);
    else
        snprintf(id, sizeof(id), "%s-%ld", host, (long)getpid());
    free(s->instance_id);
    s->instance_id = strdup(id);
    return s->instance_id ? 0 : -1;
}

static int load_kafka_props(lm_settings *s, char *err, size_t errsz) {
    static const char prefix[] = "LASTMILE_KAFKA_";
    int rc = 0;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, prefix, sizeof(prefix) - 1) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        char var[256];
        size_t vlen = (size_t)(eq - *e);
        if (vlen >= sizeof(var))
            continue;
        memcpy(var, *e, vlen);
        var[vlen] = '\0';
        size_t sl = strlen(var);
        int is_file = sl > 5 && strcmp(var + sl - 5, "_FILE") == 0;
        if (is_file)
            var[sl - 5] = '\0';
        /* each property once, whether given directly or as _FILE */
        char name[200];
        kafka_prop_name(var + sizeof(prefix) - 1, name, sizeof(name));
        int seen = 0;
        for (int i = 0; i < s->n_kafka; i++)
            if (strcmp(s->kafka[i].name, name) == 0)
                seen = 1;
        if (seen)
            continue;
        char *value = NULL;
        int r = lm_env_get(var, &value, err, errsz);
        if (r < 0) {
            rc = -1;
            continue;
        }
        if (r == 0)
            continue;
        if (s->n_kafka >= LM_KAFKA_PROPS_MAX) {
            lm_errf_add(err, errsz,
                        "LASTMILE_KAFKA_*: more than %d properties; keep only "
                        "those you need",
                        LM_KAFKA_PROPS_MAX);
            free(value);
            return -1;
        }
        s->kafka[s->n_kafka].name = strdup(name);
        s->kafka[s->n_kafka].value = value;
        s->n_kafka++;
    }
    return rc;
}

/* Any LASTMILE_ variable that is neither listed nor a passthrough. */
static int check_unknown(char *err, size_t errsz) {
    int rc = 0;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "LASTMILE_", 9) != 0 ||
            strncmp(*e, "LASTMILE_KAFKA_", 15) == 0)
            continue;
        const char *eq = strchr(*e, '=');
        char var[256];
        size_t vlen = eq ? (size_t)(eq - *e) : strlen(*e);
        if (vlen >= sizeof(var))
            vlen = sizeof(var) - 1;
        memcpy(var, *e, vlen);
        var[vlen] = '\0';
        size_t sl = strlen(var);
        if (sl > 5 && strcmp(var + sl - 5, "_FILE") == 0)
            var[sl - 5] = '\0';
        if (env_find(var) || strncmp(var, "LASTMILE_TEST_", 14) == 0)
            continue;
        /* suggest the closest known name by shared prefix length */
        const char *best = NULL;
        size_t best_len = 0;
        for (size_t i = 0; i < env_table_n; i++) {
            size_t k = 0;
            while (var[k] && var[k] == env_table[i].name[k])
                k++;
            if (k > best_len) {
                best_len = k;
                best = env_table[i].name;
            }
        }
        lm_errf_add(err, errsz,
                    "%s is not a lastmile setting (did you mean %s? `lastmile "
                    "env` lists them all)",
                    var,
                    best_len > 9 && best ? best
                                         : "one of the LASTMILE_* "
                                           "variables");
        rc = -1;
    }
    return rc;
}

/* LASTMILE_TIME_PATH: the shared clock replaces the fixed scale, so the
 * two are not given together; the file must be there (its owner creates
 * it before starting the fleet). Attaches this process's clock. */
static int settings_clock(lm_settings *s, const char *component, char *err,
                          size_t errsz) {
    int bad = 0;
    s->time_path = env_value("LASTMILE_TIME_PATH", component, err, errsz, &bad);
    if (bad || !s->time_path || !*s->time_path)
        return bad ? -1 : 0;
    if (s->time_scale != 1.0 || s->time_origin_ms != 0 ||
        s->time_start_ms != 0) {
        lm_errf_add(err, errsz,
                    "LASTMILE_TIME_PATH is set together with "
                    "LASTMILE_TIME_SCALE/_ORIGIN_MS/_START_MS: the shared "
                    "clock file carries the scale; unset the other three");
        return -1;
    }
    char why[4200];
    if (lm_clock_attach(s->time_path, why, sizeof(why)) != 0) {
        lm_errf_add(err, errsz, "LASTMILE_TIME_PATH: %s", why);
        return -1;
    }
    return 0;
}

/* The string settings (addresses, names, paths) and the checks of their
 * form. *bad set to 1 when one is wrong (said in err). */
static void settings_strings(lm_settings *s, const char *component, char *err,
                             size_t errsz, int *bad) {
    s->brokers = env_value("LASTMILE_BROKERS", component, err, errsz, bad);
    s->redis_url = env_value("LASTMILE_REDIS_URL", component, err, errsz, bad);
    s->topic_prefix =
        env_value("LASTMILE_TOPIC_PREFIX", component, err, errsz, bad);
    s->metrics_addr =
        env_value("LASTMILE_METRICS_ADDR", component, err, errsz, bad);
    s->instance_id =
        env_value("LASTMILE_INSTANCE_ID", component, err, errsz, bad);
    s->config_path = env_value("LASTMILE_CONFIG", component, err, errsz, bad);
    s->model_path = env_value("LASTMILE_MODEL", component, err, errsz, bad);

    if (s->topic_prefix) {
        for (const char *p = s->topic_prefix; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' &&
                *p != '-') {
                lm_errf_add(
                    err, errsz,
                    "LASTMILE_TOPIC_PREFIX: \"%s\" may hold only letters, "
                    "digits, '.', '_' and '-' (example: "
                    "LASTMILE_TOPIC_PREFIX=acme.lastmile.)",
                    s->topic_prefix);
                *bad = 1;
                break;
            }
        if (strlen(s->topic_prefix) > 100) {
            lm_errf_add(err, errsz,
                        "LASTMILE_TOPIC_PREFIX: longer than 100 characters");
            *bad = 1;
        }
    }
    if (s->brokers && strchr(s->brokers, ' ')) {
        lm_errf_add(
            err, errsz,
            "LASTMILE_BROKERS: \"%s\" has a space; separate brokers "
            "with commas (example: LASTMILE_BROKERS=kafka-0:9092,kafka-1:9092)",
            s->brokers);
        *bad = 1;
    }
}

/* The log level and the clock (scale, origin, start). *bad set to 1
 * when one is wrong (said in err); a missing origin is not checked after
 * an earlier mistake. */
static void settings_level_and_clock(lm_settings *s, const char *component,
                                     char *err, size_t errsz, int *bad) {
    char *lvl = env_value("LASTMILE_LOG_LEVEL", component, err, errsz, bad);
    if (lvl) {
        s->log_level = lm_log_parse_level(lvl);
        if (s->log_level < 0) {
            lm_errf_add(
                err, errsz,
                "LASTMILE_LOG_LEVEL: \"%s\" is not a level; use debug, "
                "info, warn or error (example: LASTMILE_LOG_LEVEL=debug)",
                lvl);
            *bad = 1;
            s->log_level = LM_LOG_INFO;
        }
        free(lvl);
    }

    char *scale = env_value("LASTMILE_TIME_SCALE", component, err, errsz, bad);
    if (scale) {
        if (lm_parse_double(scale, 1e-3, 1e9, &s->time_scale) != 0) {
            lm_errf_add(
                err, errsz,
                "LASTMILE_TIME_SCALE: \"%s\" is not a number from 0.001 "
                "to 1e9 simulated seconds per real second (example: "
                "LASTMILE_TIME_SCALE=3600)",
                scale);
            *bad = 1;
        }
        free(scale);
    }
    if (env_number("LASTMILE_TIME_ORIGIN_MS", component, 1, INT64_C(1) << 50,
                   &s->time_origin_ms, err, errsz) != 0)
        *bad = 1;
    if (env_number("LASTMILE_TIME_START_MS", component, 1, INT64_C(1) << 50,
                   &s->time_start_ms, err, errsz) != 0)
        *bad = 1;
    if (!*bad && s->time_scale != 1.0 && s->time_origin_ms == 0) {
        lm_errf_add(
            err, errsz,
            "LASTMILE_TIME_ORIGIN_MS is not set but LASTMILE_TIME_SCALE "
            "is: every process must share the origin of the scaled clock "
            "(example: LASTMILE_TIME_ORIGIN_MS=$(date +%%s%%3N))");
        *bad = 1;
    }
    if (settings_clock(s, component, err, errsz) != 0)
        *bad = 1;
}

/* The runtime's numbers (batch size, dedupe window, timeouts, replicas
 * to wait for, overlap), each with its default. *bad set to 1 when one
 * is wrong (said in err). */
static void settings_numbers(lm_settings *s, const char *component, char *err,
                             size_t errsz, int *bad) {
    /* 500: a worker's memory holds a batch in flight and the next one's
       inputs; at 1,000 qualification passed 30 MB of RSS under load, and
       the fleet did no better (docs/PERFORMANCE.md, "Targets",
       2026-12-06) */
    int64_t n = 500;
    if (env_number("LASTMILE_BATCH_MAX", component, 1, 100000, &n, err,
                   errsz) != 0)
        *bad = 1;
    s->batch_max = (int)n;
    s->dedupe_ttl_s = 86400;
    if (env_number("LASTMILE_DEDUPE_TTL_S", component, 60, 365LL * 86400,
                   &s->dedupe_ttl_s, err, errsz) != 0)
        *bad = 1;
    n = 10000;
    if (env_number("LASTMILE_SHUTDOWN_TIMEOUT_MS", component, 100, 3600000, &n,
                   err, errsz) != 0)
        *bad = 1;
    s->shutdown_timeout_ms = (int)n;
    n = 2000;
    if (env_number("LASTMILE_REDIS_TIMEOUT_MS", component, 10, 600000, &n, err,
                   errsz) != 0)
        *bad = 1;
    s->redis_timeout_ms = (int)n;
    n = -1;
    if (env_number("LASTMILE_REDIS_WAIT_REPLICAS", component, 0, 16, &n, err,
                   errsz) != 0)
        *bad = 1;
    s->redis_wait_replicas = (int)n;
    n = 1;
    if (env_number("LASTMILE_OVERLAP", component, 0, 1, &n, err, errsz) != 0)
        *bad = 1;
    s->overlap = (int)n;
}

int lm_settings_load(lm_settings *s, const char *component, char *err,
                     size_t errsz) {
    memset(s, 0, sizeof(*s));
    if (err && errsz)
        err[0] = '\0';
    /* every check runs, so one start names every mistake */
    int bad = check_unknown(err, errsz) != 0;
    settings_strings(s, component, err, errsz, &bad);
    settings_level_and_clock(s, component, err, errsz, &bad);
    settings_numbers(s, component, err, errsz, &bad);
    if (load_kafka_props(s, err, errsz) != 0)
        bad = 1;
    if (!bad && s->instance_id && resolve_instance_id(s, err, errsz) != 0)
        bad = 1;
    if (bad) {
        lm_settings_free(s);
        return -1;
    }
    return 0;
}

void lm_settings_free(lm_settings *s) {
    if (!s)
        return;
    free(s->brokers);
    free(s->redis_url);
    free(s->topic_prefix);
    free(s->metrics_addr);
    free(s->instance_id);
    free(s->config_path);
    free(s->model_path);
    free(s->time_path);
    for (int i = 0; i < s->n_kafka; i++) {
        free(s->kafka[i].name);
        free(s->kafka[i].value);
    }
    memset(s, 0, sizeof(*s));
}
