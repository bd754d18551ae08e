/* lm_policy_routing.c — the sections of decisions.yaml that say who owns
 * a lead: teams (owners and their capacities) and the routing rules
 * (regions, countries, company sizes, sources -> a team), ending in a rule
 * with no conditions. Countries and regions are checked against lm_geo.
 * One reader per level, top-down: pol_parse_teams -> team_parse (one
 * team) -> owner_parse (one owner); pol_parse_routing -> rule_parse (one
 * rule: its lists, sizes and team). What they keep lives in the policy's
 * arena; the first error stops the load.
 * Called only from lm_policy_load.c, on the loading thread. */
#include "lm_policy_internal.h"

#include "lm_suggest.h"

#include "lm_geo.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Teams                                                               */
/* ------------------------------------------------------------------ */

/* The name of an owner (field f, key path np), checked: at most
 * LM_POLICY_OWNER_MAX bytes, no control character, not already one of
 * owners[0..n) of team tname. *out points into the YAML document. 0/-1. */
static int owner_name(pol_ctx *c, const pol_field *f, const char *np,
                      const lm_owner *owners, size_t n, const char *tname,
                      const char **out) {
    const char *oname;
    size_t j;

    if ((oname = pol_str(c, f->v, pol_kline(f), np, "robin")) == NULL)
        return -1;
    if (strlen(oname) > LM_POLICY_OWNER_MAX)
        return pol_err(c, pol_line(f->v), np,
                       "owner name is longer than %d characters",
                       LM_POLICY_OWNER_MAX);
    for (j = 0; oname[j] != '\0'; j++)
        if (iscntrl((unsigned char)oname[j]))
            return pol_err(c, pol_line(f->v), np,
                           "owner name contains a control character; "
                           "remove it");
    for (j = 0; j < n; j++)
        if (strcmp(owners[j].name, oname) == 0)
            return pol_err(c, pol_line(f->v), np,
                           "owner \"%.60s\" is listed twice in team "
                           "\"%s\"; keep one",
                           oname, tname);
    *out = oname;
    return 0;
}

/* Item i (node on) of team tname's owners list (key path op) into
 * owners[i], after owners[0..i); tf/tp: the team's working-time fields
 * and key path, the defaults the owner's own keys override. Strings go
 * to the policy's arena. 0/-1. */
static int owner_parse(pol_ctx *c, yaml_node_t *on, const char *op, size_t i,
                       lm_owner *owners, const char *tname, const pol_field *tf,
                       const char *tp) {
    enum { OF_NAME, OF_CAP, OF_WEIGHT, OF_WORK, OF_N = OF_WORK + POL_WORK_N };
    pol_field of[OF_N] = {{"name", NULL, NULL},
                          {"capacity", NULL, NULL},
                          {"weight", NULL, NULL},
                          POL_WORK_FIELDS};
    char ip[LM_POLICY_PATH_MAX], np[LM_POLICY_PATH_MAX], cp[LM_POLICY_PATH_MAX];
    const char *oname = NULL;
    int64_t cap;

    pol_index(ip, sizeof ip, op, i);
    pol_join(np, sizeof np, ip, "name");
    pol_join(cp, sizeof cp, ip, "capacity");
    if (on == NULL ||
        pol_map(c, on, pol_line(on), ip, "\"- { name: robin, capacity: 50 }\"",
                of, OF_N) ||
        pol_req(c, pol_line(on), ip, &of[OF_NAME], "\"name: robin\"") ||
        pol_req(c, pol_line(on), ip, &of[OF_CAP], "\"capacity: 50\"") ||
        owner_name(c, &of[OF_NAME], np, owners, i, tname, &oname) ||
        pol_int(c, of[OF_CAP].v, pol_kline(&of[OF_CAP]), cp, 1,
                LM_POLICY_CAPACITY_MAX, "50", &cap))
        return -1;
    if ((owners[i].name = pol_strdup(c->p, oname)) == NULL)
        return pol_oom(c);
    owners[i].capacity = (int32_t)cap;
    if (pol_owner_weight(c, &of[OF_WEIGHT], ip, &owners[i].weight) ||
        pol_parse_work(c, tf, tp, &of[OF_WORK], ip, &owners[i].work))
        return -1;
    return 0;
}

/* A team's owners: (field f, key path op): a list of 1 to
 * LM_POLICY_MAX_OWNERS items, their number into *n. 0/-1. */
static int team_owner_count(pol_ctx *c, const pol_field *f, const char *op,
                            size_t *n) {
    yaml_node_t *seq = f->v;

    if (seq->type != YAML_SEQUENCE_NODE)
        return pol_expected(c, seq, pol_kline(f), op, "a list of owners",
                            "\"- { name: robin, capacity: 50 }\"");
    *n = pol_count(seq);
    if (*n == 0)
        return pol_err(c, pol_kline(f), op,
                       "the team has no owners; add e.g. \"- { name: "
                       "robin, capacity: 50 }\"");
    if (*n > LM_POLICY_MAX_OWNERS)
        return pol_err(c, pol_kline(f), op, "more than %d owners",
                       LM_POLICY_MAX_OWNERS);
    return 0;
}

/* Team t, key k (its name) and value v of the mapping at path, into
 * c->p->teams[t]: its overflow, lead and owners. Its name, owners and
 * their strings go to the policy's arena. 0/-1. */
static int team_parse(pol_ctx *c, const char *path, size_t t, yaml_node_t *k,
                      yaml_node_t *v) {
    enum {
        TF_OWNERS,
        TF_OVERFLOW,
        TF_WORK,
        TF_LEAD = TF_WORK + POL_WORK_N,
        TF_N
    };
    pol_field f[TF_N] = {{"owners", NULL, NULL},
                         {"overflow", NULL, NULL},
                         POL_WORK_FIELDS,
                         {"lead", NULL, NULL}};
    const char *name = (const char *)k->data.scalar.value;
    char kp[LM_POLICY_PATH_MAX], op[LM_POLICY_PATH_MAX];
    yaml_node_item_t *it;
    yaml_node_t *seq;
    lm_owner *owners;
    size_t i = 0, no = 0;
    lm_team *team = &c->p->teams[t];

    pol_join(kp, sizeof kp, path, name);
    pol_join(op, sizeof op, kp, "owners");
    if (pol_map(c, v, pol_line(k), kp,
                "\"owners:\" with a list of { name, capacity } on the next "
                "line",
                f, TF_N) ||
        pol_team_overflow(c, t, &f[TF_OVERFLOW], kp) ||
        pol_req(c, pol_line(k), kp, &f[TF_OWNERS],
                "\"owners:\" with a list of { name, capacity } under it") ||
        team_owner_count(c, &f[TF_OWNERS], op, &no))
        return -1;
    owners = pol_alloc(c->p, no * sizeof *owners);
    if (owners == NULL || (team->name = pol_strdup(c->p, name)) == NULL)
        return pol_oom(c);
    if (pol_parse_team_lead(c, &f[TF_LEAD], kp, &team->lead))
        return -1;
    seq = f[TF_OWNERS].v;
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++, i++)
        if (owner_parse(c, pol_node(c, *it), op, i, owners, name, &f[TF_WORK],
                        kp))
            return -1;
    team->owners = owners;
    team->n_owners = no;
    return 0;
}

int pol_parse_teams(pol_ctx *c, const pol_field *top) {
    const char *path = "teams";
    yaml_node_t *n = top->v;
    yaml_node_pair_t *pr;
    size_t t = 0, cnt;

    if (n->type != YAML_MAPPING_NODE)
        return pol_expected(c, n, pol_kline(top), path, "a mapping of teams",
                            "\"na:\" with \"owners:\" under it");
    cnt = pol_count(n);
    if (cnt == 0)
        return pol_err(c, pol_kline(top), path,
                       "no teams; add e.g. \"general: { owners: [ { name: "
                       "robin, capacity: 50 } ] }\"");
    if (cnt > LM_POLICY_MAX_TEAMS)
        return pol_err(c, pol_kline(top), path, "more than %d teams",
                       LM_POLICY_MAX_TEAMS);
    if (pol_user_keys(c, n, path, "team"))
        return -1;
    c->p->teams = pol_alloc(c->p, cnt * sizeof *c->p->teams);
    if (c->p->teams == NULL)
        return pol_oom(c);
    for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++, t++)
        if (team_parse(c, path, t, pol_node(c, pr->key),
                       pol_node(c, pr->value)))
            return -1;
    c->p->n_teams = cnt;
    return pol_resolve_overflow(c);
}

/* ------------------------------------------------------------------ */
/* Routing                                                             */
/* ------------------------------------------------------------------ */

/* A match list: a YAML list of values (or one value). Each item goes
 * through check(), which returns the canonical string to keep or NULL
 * after setting an error. */
typedef const char *(*pcheck_fn)(pol_ctx *c, const char *s, size_t line,
                                 const char *path);

static int plist_field(pol_ctx *c, const pol_field *f, const char *path,
                       pcheck_fn check, const char *example, const char ***out,
                       size_t *n_out) {
    yaml_node_t *n = f->v;
    const char **items;
    size_t cnt, i = 0;

    if (n->type == YAML_SCALAR_NODE && !pol_is_null(n)) {
        const char *s = pol_str(c, n, pol_kline(f), path, example);
        if (s == NULL)
            return -1;
        items = pol_alloc(c->p, sizeof *items);
        if (items == NULL)
            return pol_oom(c);
        if ((items[0] = check(c, s, pol_line(n), path)) == NULL)
            return -1;
        *out = items;
        *n_out = 1;
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return pol_expected(c, n, pol_kline(f), path, "a list", example);
    cnt = pol_count(n);
    if (cnt == 0)
        return pol_err(c, pol_kline(f), path,
                       "the list is empty; list at least one item (e.g. %s) or "
                       "remove the key",
                       example);
    if (cnt > LM_POLICY_MAX_LIST)
        return pol_err(c, pol_kline(f), path, "more than %d items",
                       LM_POLICY_MAX_LIST);
    items = pol_alloc(c->p, cnt * sizeof *items);
    if (items == NULL)
        return pol_oom(c);
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++, i++) {
        yaml_node_t *in = pol_node(c, *it);
        char ip[LM_POLICY_PATH_MAX];
        const char *s;
        pol_index(ip, sizeof ip, path, i);
        if (in == NULL ||
            (s = pol_str(c, in, pol_line(in), ip, example)) == NULL ||
            (items[i] = check(c, s, pol_line(in), ip)) == NULL)
            return -1;
    }
    *out = items;
    *n_out = cnt;
    return 0;
}

static const char *pcheck_region(pol_ctx *c, const char *s, size_t line,
                                 const char *path) {
    const char *r = lm_geo_region(s);
    if (r == NULL)
        pol_err(c, line, path, "unknown region \"%.60s\"; use one of %s", s,
                LM_GEO_REGIONS);
    return r;
}

static const char *pcheck_country(pol_ctx *c, const char *s, size_t line,
                                  const char *path) {
    const struct lm_geo_country *g = lm_geo_country(s);
    if (g != NULL)
        return g->alpha2;
    if (strcasecmp(s, "UK") == 0)
        pol_err(c, line, path,
                "unknown country \"%.60s\"; the ISO code of the United Kingdom "
                "is \"GB\"",
                s);
    else
        pol_err(c, line, path,
                "unknown country \"%.60s\"; use ISO 3166-1 alpha-2 codes such "
                "as \"US\", \"DE\" or \"JP\"",
                s);
    return NULL;
}

static const char *pcheck_source(pol_ctx *c, const char *s, size_t line,
                                 const char *path) {
    const char *d;
    if (strlen(s) > LM_POLICY_NAME_MAX)
        pol_err(c, line, path, "source name is longer than %d characters",
                LM_POLICY_NAME_MAX);
    else if ((d = pol_strdup(c->p, s)) == NULL)
        pol_oom(c);
    else
        return d;
    return NULL;
}

/* A rule's optional match list f (rule path ip), read by plist_field into
 * *out and *n_out; the array and strings are the policy arena's. Absent:
 * nothing is set. 0/-1. */
static int rule_list(pol_ctx *c, const pol_field *f, const char *ip,
                     pcheck_fn check, const char *example, const char ***out,
                     size_t *n_out) {
    char fp[LM_POLICY_PATH_MAX];

    if (f->v == NULL)
        return 0;
    pol_join(fp, sizeof fp, ip, f->key);
    return plist_field(c, f, fp, check, example, out, n_out);
}

/* A rule's optional min_company_size (fmin) and max_company_size (fmax),
 * rule path ip, into r; a max below the min matches no company. 0/-1. */
static int rule_sizes(pol_ctx *c, const pol_field *fmin, const pol_field *fmax,
                      const char *ip, pol_rule *r) {
    char fp[LM_POLICY_PATH_MAX];
    int64_t v;

    if (fmin->v != NULL) {
        pol_join(fp, sizeof fp, ip, "min_company_size");
        if (pol_int(c, fmin->v, pol_kline(fmin), fp, 0, INT32_MAX, "1000", &v))
            return -1;
        r->has_min = 1;
        r->min_size = (int32_t)v;
    }
    if (fmax->v != NULL) {
        pol_join(fp, sizeof fp, ip, "max_company_size");
        if (pol_int(c, fmax->v, pol_kline(fmax), fp, 0, INT32_MAX, "999", &v))
            return -1;
        r->has_max = 1;
        r->max_size = (int32_t)v;
        if (r->has_min && r->max_size < r->min_size)
            return pol_err(c, pol_line(fmax->v), fp,
                           "%d is below min_company_size (%d); no company "
                           "can match, swap them",
                           r->max_size, r->min_size);
    }
    return 0;
}

/* A rule's team: (field f, rule path ip) into r->team, one of the teams
 * read before (it points into c->p->teams); an unknown name gets "did you
 * mean" or the list of teams. 0/-1. */
static int rule_team(pol_ctx *c, const pol_field *f, const char *ip,
                     pol_rule *r) {
    const char *tnames[LM_POLICY_MAX_TEAMS];
    char fp[LM_POLICY_PATH_MAX], lb[256];
    const char *team, *hint;
    size_t j;

    pol_join(fp, sizeof fp, ip, "team");
    if ((team = pol_str(c, f->v, pol_kline(f), fp, "general")) == NULL)
        return -1;
    r->team = lm_policy_team(c->p, team);
    if (r->team != NULL)
        return 0;
    for (j = 0; j < c->p->n_teams; j++)
        tnames[j] = c->p->teams[j].name;
    hint = lm_suggest(team, tnames, c->p->n_teams);
    if (hint != NULL)
        return pol_err(c, pol_line(f->v), fp,
                       "unknown team \"%.60s\"; did you mean \"%s\"?", team,
                       hint);
    return pol_err(c, pol_line(f->v), fp,
                   "unknown team \"%.60s\"; the teams are %s (add it "
                   "under teams:)",
                   team, pol_names(tnames, c->p->n_teams, lb, sizeof lb));
}

/* Rule i of the cnt in the list at path (node n, NULL if malformed) into
 * c->p->rules[i]: its conditions and its team. The last rule, the
 * fallback, and only it, has no conditions. Lists in the arena. 0/-1. */
static int rule_parse(pol_ctx *c, const char *path, size_t i, size_t cnt,
                      yaml_node_t *n) {
    enum { R_REG, R_CTY, R_MIN, R_MAX, R_SRC, R_TEAM, R_N };
    pol_field f[R_N] = {
        {"regions", NULL, NULL},          {"countries", NULL, NULL},
        {"min_company_size", NULL, NULL}, {"max_company_size", NULL, NULL},
        {"sources", NULL, NULL},          {"team", NULL, NULL}};
    pol_rule *r = &c->p->rules[i];
    char ip[LM_POLICY_PATH_MAX];
    int conds;

    pol_index(ip, sizeof ip, path, i);
    if (n == NULL ||
        pol_map(c, n, pol_line(n), ip, "\"- { regions: [NA], team: na }\"", f,
                R_N) ||
        pol_req(c, pol_line(n), ip, &f[R_TEAM], "\"team: general\"") ||
        rule_list(c, &f[R_REG], ip, pcheck_region, "[NA, EMEA]", &r->regions,
                  &r->n_regions) ||
        rule_list(c, &f[R_CTY], ip, pcheck_country, "[US, CA]", &r->countries,
                  &r->n_countries) ||
        rule_sizes(c, &f[R_MIN], &f[R_MAX], ip, r) ||
        rule_list(c, &f[R_SRC], ip, pcheck_source, "[webinar, partner]",
                  &r->sources, &r->n_sources) ||
        rule_team(c, &f[R_TEAM], ip, r))
        return -1;
    conds = r->n_regions || r->n_countries || r->has_min || r->has_max ||
            r->n_sources;
    if (!conds && i + 1 < cnt)
        return pol_err(c, pol_line(n), ip,
                       "this rule has no conditions, so the rules after it "
                       "can never match; move it to the end");
    if (conds && i + 1 == cnt)
        return pol_err(c, pol_line(n), ip,
                       "the last rule must have no conditions: it is the "
                       "fallback for every other lead; add e.g. \"- { team: "
                       "%s }\" after it",
                       r->team->name);
    return 0;
}

int pol_parse_routing(pol_ctx *c, const pol_field *top) {
    const char *path = "routing";
    yaml_node_t *seq = top->v;
    yaml_node_item_t *it;
    size_t i = 0, cnt;

    if (seq->type != YAML_SEQUENCE_NODE)
        return pol_expected(c, seq, pol_kline(top), path, "a list of rules",
                            "\"- { regions: [NA], team: na }\"");
    cnt = pol_count(seq);
    if (cnt == 0)
        return pol_err(c, pol_kline(top), path,
                       "no rules; add at least the fallback rule, e.g. \"- { "
                       "team: general }\"");
    if (cnt > LM_POLICY_MAX_RULES)
        return pol_err(c, pol_kline(top), path, "more than %d rules",
                       LM_POLICY_MAX_RULES);
    c->p->rules = pol_alloc(c->p, cnt * sizeof *c->p->rules);
    if (c->p->rules == NULL)
        return pol_oom(c);
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++, i++)
        if (rule_parse(c, path, i, cnt, pol_node(c, *it)))
            return -1;
    c->p->n_rules = cnt;
    return 0;
}
