/* bench_info.c — INFO fields, commandstats and the floor worker's summary
 * line (see bench_info.h). Pure: no I/O, no globals. */
#include "bench_info.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value after "<field>:" on a line of its own, or NULL. */
static const char *info_value(const char *info, const char *field) {
    size_t fl = strlen(field);
    for (const char *p = info; p && *p;) {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':')
            return p + fl + 1;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

int bench_info_double(const char *info, const char *field, double *out) {
    const char *v = info ? info_value(info, field) : NULL;
    if (!v)
        return -1;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || errno || (*end && *end != '\r' && *end != '\n'))
        return -1;
    *out = d;
    return 0;
}

int bench_info_ll(const char *info, const char *field, long long *out) {
    const char *v = info ? info_value(info, field) : NULL;
    if (!v)
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || errno || (*end && *end != '\r' && *end != '\n'))
        return -1;
    *out = n;
    return 0;
}

int bench_info_cmdstats(const char *info, lm_strmap *calls) {
    static const char pre[] = "cmdstat_";
    int n = 0;
    for (const char *p = info; p && *p;) {
        const char *nl = strchr(p, '\n');
        if (strncmp(p, pre, sizeof(pre) - 1) == 0) {
            const char *name = p + sizeof(pre) - 1;
            const char *colon = strchr(name, ':');
            if (!colon || (nl && colon > nl) ||
                strncmp(colon + 1, "calls=", 6) != 0)
                return -1;
            char *end;
            errno = 0;
            long long c = strtoll(colon + 7, &end, 10);
            if (end == colon + 7 || errno || c < 0 ||
                (*end != ',' && *end != '\r' && *end != '\n' && *end))
                return -1;
            int64_t *slot =
                lm_strmap_put(calls, name, (size_t)(colon - name), 0, NULL);
            if (!slot)
                return -1;
            *slot += c;
            n++;
        }
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

void bench_floor_summary_format(const bench_floor_counts *c, char *out,
                                size_t outsz) {
    snprintf(out, outsz,
             "%s batches=%lld roundtrips=%lld leads=%lld commands=%lld\n",
             BENCH_FLOOR_SUMMARY, c->batches, c->roundtrips, c->leads,
             c->commands);
}

/* Reads "<name>=<n>" at *p and moves past it and one space. 0 / -1. */
static int summary_field(const char **p, const char *name, long long *out) {
    size_t nl = strlen(name);
    if (strncmp(*p, name, nl) != 0 || (*p)[nl] != '=')
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(*p + nl + 1, &end, 10);
    if (end == *p + nl + 1 || errno || v < 0)
        return -1;
    *out = v;
    *p = *end == ' ' ? end + 1 : end;
    return 0;
}

int bench_floor_summary_parse(const char *log, bench_floor_counts *c) {
    const char *last = NULL;
    for (const char *p = log; p && (p = strstr(p, BENCH_FLOOR_SUMMARY)); p++)
        if (p == log || p[-1] == '\n')
            last = p;
    if (!last)
        return -1;
    const char *p = last + strlen(BENCH_FLOOR_SUMMARY);
    if (*p++ != ' ')
        return -1;
    bench_floor_counts r;
    if (summary_field(&p, "batches", &r.batches) != 0 ||
        summary_field(&p, "roundtrips", &r.roundtrips) != 0 ||
        summary_field(&p, "leads", &r.leads) != 0 ||
        summary_field(&p, "commands", &r.commands) != 0)
        return -1;
    if (*p && *p != '\n' && *p != '\r')
        return -1;
    *c = r;
    return 0;
}
