/* lm_log.h — one-line JSON logs on stderr.
 *
 * Every line is a JSON object: {"ts":"2026-11-25T00:49:10.123Z",
 * "level":"info","component":"intake","event":"started","msg":"...", ...}.
 * `event` is a stable machine-readable name; `msg` is for people.
 *
 * Personal data never goes into a log in clear: log lm_log_pii_ref() of an
 * email, phone or name instead (a short keyed hash that lets an operator
 * correlate lines without seeing the value).
 *
 * Thread-safety: lines are written with one write(2) each, so lines from
 * several threads do not interleave. lm_log_init is called once, first. */
#ifndef LM_LOG_H
#define LM_LOG_H

#include <jansson.h>
#include <stddef.h>

typedef enum lm_log_level {
    LM_LOG_DEBUG = 0,
    LM_LOG_INFO = 1,
    LM_LOG_WARN = 2,
    LM_LOG_ERROR = 3,
} lm_log_level;

/* Sets the component name (copied) and the least level written. */
void lm_log_init(const char *component, lm_log_level level);
/* "debug" | "info" | "warn" | "error" → level; -1 when unknown. */
int lm_log_parse_level(const char *s);
int lm_log_enabled(lm_log_level level);

/* Writes one line; msg is a printf format. */
void lm_log(lm_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with extra fields: `fields` is a JSON object whose members are
 * added to the line. Takes ownership of `fields` (may be NULL). */
void lm_log_with(lm_log_level level, const char *event, json_t *fields,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A 16-hex-digit reference for a personal value (email, phone, name), so
 * logs can name a lead's data without showing it. out must hold 17 bytes. */
void lm_log_pii_ref(const char *value, char out[17]);

#endif
