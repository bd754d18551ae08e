/* lm_policy_route_opts.c — the keys of decisions.yaml that say how owners
 * are chosen beyond the routing rules (docs/ROUTING.md):
 *   routing_options: { nurture_takes_capacity: false }
 *   accounts:        { same_owner: true, pause_on_reply: false }
 *   teams.<t>.overflow: <team>       where a full team's leads go
 *   teams.<t>.owners[i].weight: 2    the owner's share of the round robin
 * Errors as everywhere in the policy: file:line: key: what; fix.
 * Called only from lm_policy_load.c / lm_policy_routing.c, on the loading
 * thread; everything it keeps lives in the policy's arena. */
#include "lm_policy_internal.h"

#include "lm_suggest.h"

#include <string.h>
#include <strings.h>

/* A yes/no value: true/false (also yes/no, on/off), any case. 0/-1. */
static int pol_bool(pol_ctx *c, const pol_field *f, const char *path,
                    int *out) {
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    const char *s = pol_str(c, f->v, pol_kline(f), path, "true");
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return pol_err(c, pol_line(f->v), path,
                   "\"%.60s\" is not true or false; write true or false", s);
}

/* Reads the flags of a mapping section into out[] (defaults already
 * there). An absent section keeps the defaults. */
static int pol_flags(pol_ctx *c, const pol_field *top, const char *path,
                     const char *example, pol_field *f, size_t nf,
                     int *const *out) {
    char kp[LM_POLICY_PATH_MAX];
    if (top->v == NULL)
        return 0;
    if (top->v->type != YAML_MAPPING_NODE)
        return pol_expected(c, top->v, pol_kline(top), path, "a mapping",
                            example);
    if (pol_map(c, top->v, pol_line(top->v), path, example, f, nf))
        return -1;
    for (size_t i = 0; i < nf; i++) {
        if (f[i].v == NULL)
            continue;
        pol_join(kp, sizeof kp, path, f[i].key);
        if (pol_bool(c, &f[i], kp, out[i]))
            return -1;
    }
    return 0;
}

int pol_parse_routing_options(pol_ctx *c, const pol_field *top) {
    lm_routing_options *o = &c->p->routing_opts;
    pol_field f[] = {{"nurture_takes_capacity", NULL, NULL}};
    int *const out[] = {&o->nurture_takes_capacity};
    o->nurture_takes_capacity = 0;
    return pol_flags(c, top, "routing_options",
                     "\"routing_options: { nurture_takes_capacity: false }\"",
                     f, 1, out);
}

int pol_parse_accounts(pol_ctx *c, const pol_field *top) {
    lm_routing_options *o = &c->p->routing_opts;
    pol_field f[] = {{"same_owner", NULL, NULL},
                     {"pause_on_reply", NULL, NULL}};
    int *const out[] = {&o->accounts_same_owner, &o->accounts_pause_on_reply};
    o->accounts_same_owner = 1;
    o->accounts_pause_on_reply = 0;
    return pol_flags(
        c, top, "accounts",
        "\"accounts: { same_owner: true, pause_on_reply: false }\"", f, 2, out);
}

int pol_owner_weight(pol_ctx *c, const pol_field *f, const char *path,
                     int32_t *out) {
    char wp[LM_POLICY_PATH_MAX];
    int64_t w = 1;
    pol_join(wp, sizeof wp, path, "weight");
    if (f->v != NULL &&
        pol_int(c, f->v, pol_kline(f), wp, 1, LM_POLICY_WEIGHT_MAX, "2", &w))
        return -1;
    *out = (int32_t)w;
    return 0;
}

int pol_team_overflow(pol_ctx *c, size_t team, const pol_field *f,
                      const char *path) {
    char op[LM_POLICY_PATH_MAX];
    const char *name;
    lm_policy *p = c->p;
    if (p->overflow_names == NULL) {
        p->overflow_names =
            pol_alloc(p, LM_POLICY_MAX_TEAMS * sizeof *p->overflow_names);
        p->overflow_lines =
            pol_alloc(p, LM_POLICY_MAX_TEAMS * sizeof *p->overflow_lines);
        if (p->overflow_names == NULL || p->overflow_lines == NULL)
            return pol_oom(c);
        memset(p->overflow_names, 0,
               LM_POLICY_MAX_TEAMS * sizeof *p->overflow_names);
    }
    if (f->v == NULL || team >= LM_POLICY_MAX_TEAMS)
        return 0;
    pol_join(op, sizeof op, path, "overflow");
    if ((name = pol_str(c, f->v, pol_kline(f), op, "general")) == NULL)
        return -1;
    if ((p->overflow_names[team] = pol_strdup(p, name)) == NULL)
        return pol_oom(c);
    p->overflow_lines[team] = pol_line(f->v);
    return 0;
}

int pol_resolve_overflow(pol_ctx *c) {
    lm_policy *p = c->p;
    const char *tnames[LM_POLICY_MAX_TEAMS];
    char op[LM_POLICY_PATH_MAX], kp[LM_POLICY_PATH_MAX], lb[256];
    for (size_t j = 0; j < p->n_teams; j++)
        tnames[j] = p->teams[j].name;
    for (size_t t = 0; t < p->n_teams; t++) {
        const char *name =
            p->overflow_names != NULL ? p->overflow_names[t] : NULL;
        const char *hint;
        p->teams[t].overflow = NULL;
        if (name == NULL)
            continue;
        pol_join(kp, sizeof kp, "teams", p->teams[t].name);
        pol_join(op, sizeof op, kp, "overflow");
        if (strcmp(name, p->teams[t].name) == 0)
            return pol_err(c, p->overflow_lines[t], op,
                           "a team cannot overflow into itself; name another "
                           "team or remove the key");
        p->teams[t].overflow = lm_policy_team(p, name);
        if (p->teams[t].overflow != NULL)
            continue;
        hint = lm_suggest(name, tnames, p->n_teams);
        if (hint != NULL)
            return pol_err(c, p->overflow_lines[t], op,
                           "unknown team \"%.60s\"; did you mean \"%s\"?", name,
                           hint);
        return pol_err(c, p->overflow_lines[t], op,
                       "unknown team \"%.60s\"; the teams are %s", name,
                       pol_names(tnames, p->n_teams, lb, sizeof lb));
    }
    return 0;
}
