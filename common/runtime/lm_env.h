/* lm_env.h — the fleet's configuration, read from the environment.
 *
 * Every variable is listed once, in lm_env_vars.def. Rules:
 *   - an empty variable counts as unset;
 *   - NAME_FILE names a file whose contents are NAME's value (for secrets);
 *     setting both NAME and NAME_FILE is an error;
 *   - LASTMILE_KAFKA_<PROPERTY> passes a librdkafka property through
 *     (LASTMILE_KAFKA_SASL_MECHANISMS → sasl.mechanisms);
 *   - any other LASTMILE_* variable is an error (a typo would otherwise be
 *     silently ignored).
 * Errors name the variable, say what was wrong and give an example of a
 * right value. Values of secrets never appear in an error or a log.
 *
 * Ownership: lm_settings owns its strings; lm_settings_free releases them. */
#ifndef LM_ENV_H
#define LM_ENV_H

#include <stddef.h>
#include <stdint.h>

#define LM_ENV_VALUE_MAX   4096
#define LM_KAFKA_PROPS_MAX 64

typedef struct lm_kafka_prop {
    char *name;  /* librdkafka property, e.g. "security.protocol" */
    char *value; /* may be a secret: never log it */
} lm_kafka_prop;

typedef struct lm_settings {
    char *brokers;
    char *redis_url; /* may hold a password: never log it */
    char *topic_prefix;
    char *metrics_addr; /* "" = no HTTP endpoint */
    int log_level;      /* lm_log_level */
    /* this replica's name: LASTMILE_INSTANCE_ID ("@hostname" takes the
       host's name), else "<host>-<pid>" */
    char *instance_id;
    /* 1 when LASTMILE_INSTANCE_ID was given: the name is stable across
       this replica's restarts, so consumers join their group as static
       members (group.instance.id) */
    int instance_id_static;
    char *config_path; /* "" = built-in default decision config */
    char *model_path;  /* "" = built-in default model */
    double time_scale;
    int64_t time_origin_ms; /* 0 = unset */
    int64_t time_start_ms;  /* 0 = same as origin */
    /* LASTMILE_TIME_PATH: the shared clock file, attached by
       lm_settings_load (lm_clock_attach); "" = none */
    char *time_path;
    int batch_max;
    int64_t dedupe_ttl_s;
    int shutdown_timeout_ms;
    int redis_timeout_ms;
    /* LASTMILE_REDIS_WAIT_REPLICAS: -1 unset (1 on a cluster), 0 off */
    int redis_wait_replicas;
    int overlap; /* LASTMILE_OVERLAP: 1 overlapped batches, 0 one by one */
    lm_kafka_prop kafka[LM_KAFKA_PROPS_MAX];
    int n_kafka;
} lm_settings;

/* Reads and validates every variable. `component` says which variables are
 * required ("intake", ..., or "cli" for the tool, which requires none).
 * 0 on success; -1 with every problem found written to err, one per line.
 * On failure `s` holds nothing to free. */
int lm_settings_load(lm_settings *s, const char *component, char *err,
                     size_t errsz);
void lm_settings_free(lm_settings *s);

/* One variable, honouring NAME_FILE and "empty is unset". Returns 1 and a
 * malloc'd value in *out (caller frees), 0 when unset, -1 with err. */
int lm_env_get(const char *name, char **out, char *err, size_t errsz);

/* Parses a whole decimal number within [min,max]; 0 / -1. */
int lm_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Parses a finite double within [min,max]; 0 / -1. */
int lm_parse_double(const char *s, double min, double max, double *out);

/* The known variables, for `lastmile env`: calls fn once per entry. */
typedef void (*lm_env_visit_fn)(void *opaque, const char *name, const char *who,
                                int required, const char *default_value,
                                const char *example, const char *doc);
void lm_env_visit(lm_env_visit_fn fn, void *opaque);

#endif
