/* lm_report_owners.c — owners' SLA figures and waiting owner steps (see
 * lm_report_owners.h). Sections: adding · reading · rendering. */
#include "lm_report_owners.h"

#include "lm_clock.h"
#include "lm_fmt.h"
#include "lm_sla.h"
#include "lm_timers.h"

#include <stdlib.h>
#include <string.h>

/* ================================================================ adding */

static int64_t *stat_slot(lm_owner_sla_row *r, const char *what, size_t n) {
    static const char *const names[] = {
        LM_SLA_STAT_BREACHES, LM_SLA_STAT_REMINDERS, LM_SLA_STAT_LOST,
        LM_SLA_STAT_GAINED, LM_SLA_STAT_ESCALATED};
    int64_t *slots[] = {&r->breaches, &r->reminders, &r->reassigned_from,
                        &r->reassigned_to, &r->escalations};
    for (size_t i = 0; i < 5; i++)
        if (strlen(names[i]) == n && strncmp(names[i], what, n) == 0)
            return slots[i];
    return NULL;
}

int lm_report_owners_add_stat(lm_owners_report *o, const char *field,
                              int64_t count) {
    const char *b1 = strchr(field, '|'), *b2 = b1 ? strchr(b1 + 1, '|') : NULL;
    if (!b2)
        return 0;
    lm_owner_sla_row probe;
    memset(&probe, 0, sizeof(probe));
    if (!stat_slot(&probe, field, (size_t)(b1 - field)))
        return 0;
    snprintf(probe.team, sizeof(probe.team), "%.*s", (int)(b2 - b1 - 1),
             b1 + 1);
    snprintf(probe.owner, sizeof(probe.owner), "%s", b2 + 1);
    lm_owner_sla_row *r = NULL;
    for (size_t i = 0; i < o->n_rows && !r; i++)
        if (strcmp(o->rows[i].team, probe.team) == 0 &&
            strcmp(o->rows[i].owner, probe.owner) == 0)
            r = &o->rows[i];
    if (!r) {
        if (o->n_rows >= LM_REPORT_OWNERS_ROWS_MAX)
            return -1;
        lm_owner_sla_row *n =
            realloc(o->rows, (o->n_rows + 1) * sizeof(*o->rows));
        if (!n)
            return -1;
        o->rows = n;
        r = &o->rows[o->n_rows++];
        *r = probe;
    }
    *stat_slot(r, field, (size_t)(b1 - field)) += count;
    return 0;
}

int lm_report_owners_add_timer(lm_owners_report *o, const char *member,
                               size_t len, int64_t due_ms) {
    lm_timer t;
    lm_owner_step s;
    if (lm_timers_decode(member, len, due_ms, &t) != 0 ||
        strcmp(t.kind, LM_SLA_TIMER_DEADLINE) != 0)
        return 0;
    memset(&s, 0, sizeof(s));
    if (lm_sla_payload_parse(t.payload, t.payload_len, &s.level, &s.step,
                             s.action, sizeof(s.action), s.owner,
                             sizeof(s.owner)) != 0)
        return 0;
    if (o->n_steps >= LM_REPORT_OWNERS_STEPS_MAX)
        return -1;
    lm_owner_step *n = realloc(o->steps, (o->n_steps + 1) * sizeof(*n));
    if (!n)
        return -1;
    o->steps = n;
    snprintf(s.lead, sizeof(s.lead), "%s", t.lead);
    s.due_ms = due_ms;
    s.overdue = s.level >= 1 || due_ms < o->now_ms;
    o->n_overdue += (size_t)s.overdue;
    o->steps[o->n_steps++] = s;
    return 0;
}

static int cmp_row(const void *a, const void *b) {
    const lm_owner_sla_row *x = a, *y = b;
    int c = strcmp(x->team, y->team);
    return c ? c : strcmp(x->owner, y->owner);
}

static int cmp_step(const void *a, const void *b) {
    const lm_owner_step *x = a, *y = b;
    if (x->overdue != y->overdue)
        return y->overdue - x->overdue;
    if (x->level != y->level)
        return y->level - x->level;
    if (x->due_ms != y->due_ms)
        return x->due_ms < y->due_ms ? -1 : 1;
    return strcmp(x->action, y->action);
}

void lm_report_owners_sort(lm_owners_report *o) {
    if (o->n_rows)
        qsort(o->rows, o->n_rows, sizeof(*o->rows), cmp_row);
    if (o->n_steps)
        qsort(o->steps, o->n_steps, sizeof(*o->steps), cmp_step);
}

/* =============================================================== reading */

/* Adds every element pair of a ZRANGE WITHSCORES reply (claims when
 * claimed: "<due>|<member>"). */
static int add_zset(lm_owners_report *o, const redisReply *z, int claimed) {
    for (size_t i = 0; z && z->type == REDIS_REPLY_ARRAY && i + 1 < z->elements;
         i += 2) {
        const redisReply *m = z->element[i];
        if (m->type != REDIS_REPLY_STRING)
            continue;
        if (claimed) {
            lm_timer t;
            char member[LM_TIMERS_MEMBER_MAX];
            size_t len;
            if (lm_timers_decode_claim(m->str, m->len, &t) != 0 ||
                lm_timers_encode(&t, member, &len) != 0)
                continue;
            if (lm_report_owners_add_timer(o, member, len, t.due_ms) != 0)
                return -1;
        } else {
            const redisReply *sc = z->element[i + 1];
            int64_t due = 0;
            if (!sc->str || lm_parse_int64(sc->str, 0, INT64_MAX, &due) != 0)
                continue;
            if (lm_report_owners_add_timer(o, m->str, m->len, due) != 0)
                return -1;
        }
    }
    return 0;
}

/* One bucket's HGETALL of the SLA counts, added up into o. */
static int add_stats(lm_owners_report *o, const redisReply *h) {
    for (size_t i = 0; h && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements;
         i += 2) {
        int64_t v = 0;
        if (!h->element[i + 1]->str ||
            lm_parse_int64(h->element[i + 1]->str, 0, INT64_MAX, &v) != 0)
            continue;
        if (h->element[i]->str &&
            lm_report_owners_add_stat(o, h->element[i]->str, v) != 0)
            return -1;
    }
    return 0;
}

int lm_report_owners_collect(lm_redis *r, int64_t now_ms, lm_owners_report *o,
                             char *err, size_t errsz) {
    memset(o, 0, sizeof(*o));
    o->now_ms = now_ms;
    lm_pipe pipe, *p = &pipe;
    /* every SLA bucket, then every timer bucket: one pipeline */
    enum { NS = LM_SLA_STATS_BUCKETS, N = NS + 2 * LM_TIMERS_BUCKETS };
    redisReply *rep[N];
    size_t n = N;
    int rc = -1;
    memset(&pipe, 0, sizeof(pipe));
    for (unsigned b = 0; b < NS; b++) {
        char key[LM_KEY_MAX];
        lm_sla_stats_bucket_key(b, key);
        lm_pipe_cmd_strs(p, "HGETALL", key, NULL);
    }
    for (int b = 0; b < LM_TIMERS_BUCKETS; b++) {
        char set[LM_TIMERS_KEY_MAX], cl[LM_TIMERS_KEY_MAX];
        lm_timers_key(b, "", set);
        lm_timers_key(b, ":claimed", cl);
        lm_pipe_cmd_strs(p, "ZRANGE", set, "0", "-1", "WITHSCORES", NULL);
        lm_pipe_cmd_strs(p, "ZRANGE", cl, "0", "-1", "WITHSCORES", NULL);
    }
    memset(rep, 0, sizeof(rep));
    if (p->n != n) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    if (lm_redis_exec(r, p, rep, err, errsz) != 0)
        goto done;
    for (size_t b = 0; b < NS; b++)
        if (add_stats(o, rep[b]) != 0)
            goto oom;
    for (int b = 0; b < LM_TIMERS_BUCKETS; b++)
        if (add_zset(o, rep[NS + 2 * b], 0) != 0 ||
            add_zset(o, rep[NS + 1 + 2 * b], 1) != 0)
            goto oom;
    lm_report_owners_sort(o);
    rc = 0;
    goto done;
oom:
    snprintf(err, errsz, "out of memory (or more than %d owner steps)",
             LM_REPORT_OWNERS_STEPS_MAX);
done:
    lm_redis_replies_free(rep, n);
    lm_pipe_free(p);
    return rc;
}

int lm_report_owners_load(const lm_settings *s, int64_t now_ms,
                          lm_owners_report *o, char *err, size_t errsz) {
    char why[512] = "";
    memset(o, 0, sizeof(*o));
    lm_redis *r =
        lm_redis_new(s->redis_url, s->redis_timeout_ms, why, sizeof(why));
    int rc = -1;
    if (!r || lm_redis_connect(r, why, sizeof(why)) != 0)
        snprintf(err, errsz, "Redis: %s", why);
    else
        rc = lm_report_owners_collect(r, now_ms, o, err, errsz);
    lm_redis_destroy(r);
    return rc;
}

void lm_report_owners_free(lm_owners_report *o) {
    if (!o)
        return;
    free(o->rows);
    free(o->steps);
    memset(o, 0, sizeof(*o));
}

/* ============================================================= rendering */

static json_t *row_json(const lm_owner_sla_row *r, int with_owner) {
    json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "team", r->team,
                          "breaches", (json_int_t)r->breaches, "reminders",
                          (json_int_t)r->reminders, "reassigned_from",
                          (json_int_t)r->reassigned_from, "reassigned_to",
                          (json_int_t)r->reassigned_to, "escalations",
                          (json_int_t)r->escalations);
    if (j && with_owner)
        json_object_set_new(j, "owner", json_string(r->owner));
    return j;
}

/* Team totals into t (rows sorted by team): how many. */
static size_t team_totals(const lm_owners_report *o, lm_owner_sla_row *t) {
    size_t n = 0;
    for (size_t i = 0; i < o->n_rows; i++) {
        const lm_owner_sla_row *r = &o->rows[i];
        if (!n || strcmp(t[n - 1].team, r->team) != 0) {
            memset(&t[n], 0, sizeof(t[n]));
            snprintf(t[n].team, sizeof(t[n].team), "%s", r->team);
            n++;
        }
        t[n - 1].breaches += r->breaches;
        t[n - 1].reminders += r->reminders;
        t[n - 1].reassigned_from += r->reassigned_from;
        t[n - 1].reassigned_to += r->reassigned_to;
        t[n - 1].escalations += r->escalations;
    }
    return n;
}

json_t *lm_report_owners_json(const lm_owners_report *o) {
    json_t *root = json_object(), *by_owner = json_array(),
           *by_team = json_array();
    lm_owner_sla_row *t = calloc(o->n_rows ? o->n_rows : 1, sizeof(*t));
    if (!root || !by_owner || !by_team || !t) {
        json_decref(root);
        json_decref(by_owner);
        json_decref(by_team);
        free(t);
        return NULL;
    }
    for (size_t i = 0; i < o->n_rows; i++)
        json_array_append_new(by_owner, row_json(&o->rows[i], 1));
    size_t nt = team_totals(o, t);
    for (size_t i = 0; i < nt; i++)
        json_array_append_new(by_team, row_json(&t[i], 0));
    free(t);
    json_object_set_new(root, "by_owner", by_owner);
    json_object_set_new(root, "by_team", by_team);
    json_object_set_new(root, "steps_waiting",
                        json_integer((json_int_t)o->n_steps));
    json_object_set_new(root, "steps_overdue",
                        json_integer((json_int_t)o->n_overdue));
    return root;
}

json_t *lm_report_owners_steps_json(const lm_owners_report *o, size_t limit) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < o->n_steps && i < limit; i++) {
        const lm_owner_step *s = &o->steps[i];
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:s, s:i, s:i, s:I, s:f}", "lead_id",
                         s->lead, "action_id", s->action, "owner", s->owner,
                         "level", s->level, "step", s->step, "due_ms",
                         (json_int_t)s->due_ms, "overdue_s",
                         s->due_ms < o->now_ms
                             ? (double)(o->now_ms - s->due_ms) / 1e3
                             : 0.0));
    }
    return a;
}

void lm_report_owners_print(const lm_owners_report *o, FILE *f) {
    fprintf(f,
            "\nOwner deadlines (SLA): %zu step%s waiting on owners, %zu "
            "overdue\n",
            o->n_steps, o->n_steps == 1 ? "" : "s", o->n_overdue);
    if (o->n_rows == 0) {
        fprintf(f, "  no deadline missed\n");
        return;
    }
    fprintf(f, "  %-14s %-24s %9s %9s %9s %9s %11s\n", "TEAM", "OWNER",
            "breaches", "reminded", "lost", "gained", "escalated");
    for (size_t i = 0; i < o->n_rows; i++) {
        const lm_owner_sla_row *r = &o->rows[i];
        fprintf(f, "  %-14s %-24s %9lld %9lld %9lld %9lld %11lld\n", r->team,
                r->owner, (long long)r->breaches, (long long)r->reminders,
                (long long)r->reassigned_from, (long long)r->reassigned_to,
                (long long)r->escalations);
    }
}

void lm_report_owners_print_steps(const lm_owners_report *o, FILE *f,
                                  size_t limit) {
    static const char *const what[] = {"first deadline", "reminded",
                                       "reassigned"};
    char d[32];
    fprintf(f, "%zu owner step%s waiting, %zu overdue (overdue first)\n",
            o->n_steps, o->n_steps == 1 ? "" : "s", o->n_overdue);
    if (o->n_steps == 0)
        return;
    fprintf(f, "%-40s %-24s %-15s %12s\n", "ACTION", "OWNER", "LEVEL",
            "OVERDUE");
    for (size_t i = 0; i < o->n_steps && i < limit; i++) {
        const lm_owner_step *s = &o->steps[i];
        int64_t late = o->now_ms - s->due_ms;
        fprintf(f, "%-40s %-24s %-15s %12s\n", s->action, s->owner,
                what[s->level],
                late > 0 ? lm_fmt_duration(d, sizeof(d), (double)(late / 1000),
                                           LM_FMT_DUR_WHOLE)
                         : (s->overdue ? "missed" : "-"));
    }
    if (o->n_steps > limit)
        fprintf(f, "... and %zu more\n", o->n_steps - limit);
}

void lm_report_owners_attach(const lm_settings *s, const char *who, json_t *j,
                             FILE *f) {
    lm_owners_report o;
    char err[512];
    if (lm_report_owners_load(s, lm_clock_now_ms(), &o, err, sizeof(err)) !=
        0) {
        fprintf(stderr, "%s: owner deadlines: %s\n", who, err);
        return;
    }
    if (j)
        json_object_set_new(j, "owners", lm_report_owners_json(&o));
    else
        lm_report_owners_print(&o, f);
    lm_report_owners_free(&o);
}
