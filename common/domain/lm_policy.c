/* lm_policy.c — the decision config in memory: its arena and the queries
 * the workers ask of it (thresholds, costs, segment, route, team, cadence).
 *
 * Loading lives in lm_policy_load.c and the files it calls (see
 * lm_policy_internal.h for the map of the module); the allowed-hours
 * arithmetic in lm_policy_hours.c.
 * Ownership: a policy owns one arena (a chain of blocks); every string and
 * array in it is carved from the arena, so lm_policy_free frees the chain
 * and the struct, and getters hand out pointers into it.
 * Threads: a loaded policy is immutable; no globals here. */
#include "lm_policy_internal.h"

#include "lm_fmt.h"
#include "lm_geo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LM_POLICY_ARENA_BLOCK 8192

/* ------------------------------------------------------------------ */
/* The arena                                                           */
/* ------------------------------------------------------------------ */

/* Zeroed memory from the policy's arena; NULL when out of memory. */
void *pol_alloc(lm_policy *p, size_t n) {
    pol_block *b = p->arena;
    void *r;

    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) *
        sizeof(max_align_t);
    if (n == 0)
        n = sizeof(max_align_t);
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > LM_POLICY_ARENA_BLOCK ? n : LM_POLICY_ARENA_BLOCK;
        b = calloc(1, sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->cap = cap;
        b->next = p->arena;
        p->arena = b;
    }
    r = (char *)b->data + b->used;
    b->used += n;
    return r;
}

char *pol_strdup(lm_policy *p, const char *s) {
    size_t n = strlen(s);
    char *d = pol_alloc(p, n + 1);
    if (d != NULL)
        memcpy(d, s, n + 1);
    return d;
}

void lm_policy_free(lm_policy *p) {
    pol_block *b, *next;

    if (p == NULL)
        return;
    for (b = p->arena; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    free(p);
}

/* ------------------------------------------------------------------ */
/* Getters                                                             */
/* ------------------------------------------------------------------ */

double lm_policy_threshold_qualified(const lm_policy *p) {
    return p->qualified;
}

double lm_policy_threshold_nurture(const lm_policy *p) {
    return p->nurture;
}

int64_t lm_policy_dedupe_window_ms(const lm_policy *p) {
    return p->dedupe_ms;
}

int64_t lm_policy_deal_window_ms(const lm_policy *p) {
    return p->deal_window_ms;
}

double lm_policy_control_share(const lm_policy *p) {
    return p->control_share;
}

int64_t lm_policy_channel_cost_cents(const lm_policy *p, const char *channel) {
    size_t i;
    if (p == NULL || channel == NULL)
        return -1;
    for (i = 0; i < p->n_channels; i++)
        if (strcmp(p->channels[i].name, channel) == 0)
            return p->channels[i].cost_cents;
    return -1;
}

int lm_policy_segment(const lm_policy *p, const char *country_alpha2,
                      int32_t company_size, char *buf, size_t bufsz) {
    const struct lm_geo_country *g;
    const char *region;
    size_t i;

    if (buf == NULL || bufsz == 0)
        return -1;
    buf[0] = '\0';
    if (p == NULL || p->n_bands == 0)
        return -1;
    g = lm_geo_country(country_alpha2);
    region = g != NULL ? g->region : LM_POLICY_REGION_OTHER;
    for (i = 0; i + 1 < p->n_bands && company_size >= p->bands[i].below; i++)
        ;
    /* lm_fmt_cat, not snprintf: this runs for every lead (issue 16) */
    if (lm_fmt_cat(buf, bufsz, region, "/", p->bands[i].name, NULL) >= bufsz) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

static int rule_has(const char *const *list, size_t n, const char *s,
                    int nocase) {
    size_t i;
    for (i = 0; i < n; i++)
        if ((nocase ? strcasecmp(list[i], s) : strcmp(list[i], s)) == 0)
            return 1;
    return 0;
}

const lm_team *lm_policy_route(const lm_policy *p, const char *country_alpha2,
                               int32_t company_size, const char *source) {
    const struct lm_geo_country *g;
    size_t i;

    if (p == NULL || p->n_rules == 0)
        return NULL;
    g = lm_geo_country(country_alpha2);
    for (i = 0; i < p->n_rules; i++) {
        const pol_rule *r = &p->rules[i];
        if (r->n_regions &&
            (g == NULL || !rule_has(r->regions, r->n_regions, g->region, 0)))
            continue;
        if (r->n_countries &&
            (g == NULL ||
             !rule_has(r->countries, r->n_countries, g->alpha2, 0)))
            continue;
        if (r->has_min && company_size < r->min_size)
            continue;
        if (r->has_max && company_size > r->max_size)
            continue;
        if (r->n_sources &&
            (source == NULL || !rule_has(r->sources, r->n_sources, source, 1)))
            continue;
        return r->team;
    }
    return p->rules[p->n_rules - 1].team; /* unreachable: the fallback */
}

const lm_team *lm_policy_team(const lm_policy *p, const char *name) {
    size_t i;
    if (p == NULL || name == NULL)
        return NULL;
    for (i = 0; i < p->n_teams; i++)
        if (strcmp(p->teams[i].name, name) == 0)
            return &p->teams[i];
    return NULL;
}

size_t lm_policy_team_index(const lm_policy *p, const lm_team *t) {
    if (p == NULL || t == NULL || t < p->teams || t >= p->teams + p->n_teams)
        return (size_t)-1;
    return (size_t)(t - p->teams);
}

const lm_routing_options *lm_policy_routing_options(const lm_policy *p) {
    return &p->routing_opts;
}

size_t lm_policy_team_count(const lm_policy *p) {
    return p != NULL ? p->n_teams : 0;
}

const lm_team *lm_policy_team_at(const lm_policy *p, size_t i) {
    return p != NULL && i < p->n_teams ? &p->teams[i] : NULL;
}

const lm_cadence *lm_policy_cadence(const lm_policy *p, const char *name) {
    size_t i;
    if (p == NULL || name == NULL)
        return NULL;
    for (i = 0; i < p->n_cadences; i++)
        if (strcmp(p->cadences[i].name, name) == 0)
            return &p->cadences[i];
    return NULL;
}
