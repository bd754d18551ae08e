/* bench_info.c — INFO fields, commandstats, the floor worker's summary
 * line and the Redis figures of a window (see bench_info.h). Pure: no I/O,
 * no globals. */
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

/* The rewrites that overlapped the window between two marks: counted, or
 * one that was running at either end (whether Redis counts a rewrite when
 * it starts or when it ends); -1 when a mark could not be read. */
long long bench_aof_rewrites_between(aof_mark a, aof_mark b) {
    if (a.rewrites < 0 || a.in_progress < 0 || b.rewrites < 0 ||
        b.in_progress < 0)
        return -1;
    long long n = b.rewrites - a.rewrites;
    return n > 0 ? n : (a.in_progress || b.in_progress);
}

void bench_redis_fig_from(const redis_snap *a, const redis_snap *b,
                          double n_leads, bench_redis_fig *out) {
    memset(out, 0, sizeof(*out));
    /* the bench's own INFO probes are not the fleet's: left out */
    const int64_t *info0 = a->cmdstats ? lm_strmap_get_str(a->cmdstats, "info")
                                       : NULL,
                  *info1 = b->cmdstats ? lm_strmap_get_str(b->cmdstats, "info")
                                       : NULL;
    long long probes = (info1 ? *info1 : 0) - (info0 ? *info0 : 0);
    out->commands_per_lead =
        (double)(b->commands - a->commands - probes) / n_leads;
    /* a rewrite in the window starts the file again: its size says nothing */
    long long rewrites = bench_aof_rewrites_between(a->aof, b->aof);
    out->aof_bytes_per_lead =
        a->aof_size >= 0 && b->aof_size >= 0 && rewrites == 0
            ? (double)(b->aof_size - a->aof_size) / n_leads
            : -1;
    out->cpu_s_per_1000_leads = (b->cpu_main - a->cpu_main) * 1000.0 / n_leads;
    out->rewrite_cpu_s_per_1000_leads =
        (b->cpu_children - a->cpu_children) * 1000.0 / n_leads;
    out->by_name = a->cmdstats && b->cmdstats ? lm_strmap_new(64) : NULL;
    for (size_t i = 0; out->by_name && i < lm_strmap_count(b->cmdstats); i++) {
        size_t len;
        const char *name = lm_strmap_key(b->cmdstats, i, &len);
        const int64_t *before = lm_strmap_get(a->cmdstats, name, len);
        int64_t d = *lm_strmap_value(b->cmdstats, i) - (before ? *before : 0);
        if (d > 0 && strcmp(name, "info") != 0 &&
            !lm_strmap_put(out->by_name, name, len, d, NULL))
            break;
    }
}
