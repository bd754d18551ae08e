/* lm_log.c — JSON log lines on stderr (see lm_log.h).
 *
 * Lines are built with jansson (escaping is its job, not ours) and written
 * with a single write(2). The component name and level are process-wide,
 * set once by lm_log_init before any thread starts. */
#include "lm_log.h"

#include "lm_hash.h"
#include "lm_utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LM_LOG_MSG_MAX 2048

static char log_component[64] = "lastmile";
static lm_log_level log_level = LM_LOG_INFO;

void lm_log_init(const char *component, lm_log_level level) {
    snprintf(log_component, sizeof(log_component), "%s",
             component ? component : "lastmile");
    log_level = level;
}

int lm_log_parse_level(const char *s) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

int lm_log_enabled(lm_log_level level) {
    return level >= log_level;
}

static void log_emit(lm_log_level level, const char *event, json_t *fields,
                     const char *fmt, va_list ap) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    char msg[LM_LOG_MSG_MAX];
    char ts[40];
    struct timespec now;
    struct tm tm;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    lm_utf8_sanitize(msg); /* jansson refuses invalid UTF-8 */
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000L);

    json_t *line = json_object();
    if (!line) {
        json_decref(fields);
        return;
    }
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(names[level]));
    json_object_set_new(line, "component", json_string(log_component));
    json_object_set_new(line, "event", json_string(event ? event : "log"));
    json_object_set_new(line, "msg", json_string(msg));
    if (fields && json_is_object(fields))
        json_object_update(line, fields);
    json_decref(fields);

    char *text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(line);
    if (!text)
        return;
    size_t len = strlen(text);
    text[len] = '\n'; /* jansson's buffer has room for the NUL we overwrite */
    ssize_t w = write(STDERR_FILENO, text, len + 1);
    (void)w;
    free(text);
}

void lm_log(lm_log_level level, const char *event, const char *fmt, ...) {
    if (!lm_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_emit(level, event, NULL, fmt, ap);
    va_end(ap);
}

void lm_log_with(lm_log_level level, const char *event, json_t *fields,
                 const char *fmt, ...) {
    if (!lm_log_enabled(level)) {
        json_decref(fields);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    log_emit(level, event, fields, fmt, ap);
    va_end(ap);
}

void lm_log_pii_ref(const char *value, char out[17]) {
    uint64_t h = lm_hash64(value ? value : "", value ? strlen(value) : 0,
                           0x6c6d2d706969ULL /* "lm-pii" */);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}
