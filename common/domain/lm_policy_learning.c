/* lm_policy_learning.c — the config's `learning:` section (learned
 * timing, lm_learn.h): the global holdout, the features, the prior
 * strength of pooling, the exploration share, the value of waiting and
 * the rule. Absent: lm_learn_cfg_default. Errors as every section's:
 * "<file>:<line>: learning.<key>: what is wrong; the fix". */
#include "lm_policy_internal.h"

#include <string.h>

static const struct {
    const char *name;
    int bit;
} features[] = {{"role", LM_LEARN_F_ROLE},
                {"channel", LM_LEARN_F_CHANNEL},
                {"cadence", LM_LEARN_F_CADENCE},
                {"step", LM_LEARN_F_STEP},
                {"day_of_week", LM_LEARN_F_DAY}};
#define N_FEATURES    (sizeof(features) / sizeof(features[0]))
#define FEATURE_NAMES "role, channel, cadence, step, day_of_week"

static int parse_features(pol_ctx *c, const pol_field *f, int *out) {
    const char *path = "learning.features";
    yaml_node_t *n = f->v;
    if (n->type != YAML_SEQUENCE_NODE)
        return pol_expected(c, n, pol_kline(f), path, "a list of features",
                            "[role, channel, cadence, day_of_week]");
    *out = 0;
    size_t i = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++, i++) {
        yaml_node_t *in = pol_node(c, *it);
        char ip[LM_POLICY_PATH_MAX];
        const char *s;
        pol_index(ip, sizeof ip, path, i);
        if (in == NULL ||
            (s = pol_str(c, in, pol_line(in), ip, "role")) == NULL)
            return -1;
        int bit = 0;
        for (size_t k = 0; k < N_FEATURES; k++)
            if (strcmp(s, features[k].name) == 0)
                bit = features[k].bit;
        if (!bit)
            return pol_err(c, pol_line(in), ip,
                           "\"%.60s\" is not a feature; use " FEATURE_NAMES, s);
        if (*out & bit)
            return pol_err(c, pol_line(in), ip, "\"%.60s\" is listed twice", s);
        *out |= bit;
    }
    return 0;
}

int pol_parse_learning(pol_ctx *c, const pol_field *top) {
    enum { L_HOLD, L_FEAT, L_POOL, L_EXPL, L_WAIT, L_RULE, L_N };
    pol_field f[L_N] = {
        {"holdout", NULL, NULL},        {"features", NULL, NULL},
        {"pool_strength", NULL, NULL},  {"explore", NULL, NULL},
        {"wait_half_life", NULL, NULL}, {"rule", NULL, NULL}};
    lm_learn_cfg *lc = &c->p->learning;
    lm_learn_cfg_default(lc);
    if (top->v == NULL)
        return 0;
    if (pol_map(c, top->v, pol_kline(top), "learning",
                "\"holdout: 0.05\" (see the built-in default)", f, L_N))
        return -1;
    if (f[L_HOLD].v && pol_double(c, &f[L_HOLD], "learning.holdout", 0, 1,
                                  "0.05", &lc->holdout))
        return -1;
    if (f[L_FEAT].v && parse_features(c, &f[L_FEAT], &lc->features))
        return -1;
    if (f[L_POOL].v && pol_double(c, &f[L_POOL], "learning.pool_strength", 1,
                                  1e6, "40", &lc->pool_strength))
        return -1;
    if (f[L_EXPL].v && pol_double(c, &f[L_EXPL], "learning.explore", 0, 1,
                                  "0.1", &lc->explore))
        return -1;
    if (f[L_WAIT].v &&
        pol_field_duration(c, &f[L_WAIT], "learning.wait_half_life", 1,
                           &lc->half_life_ms))
        return -1;
    if (f[L_RULE].v) {
        const char *s = pol_str(c, f[L_RULE].v, pol_kline(&f[L_RULE]),
                                "learning.rule", "value");
        if (s == NULL)
            return -1;
        if (strcmp(s, "value") == 0)
            lc->rule = LM_LEARN_RULE_VALUE;
        else if (strcmp(s, "thompson") == 0)
            lc->rule = LM_LEARN_RULE_THOMPSON;
        else
            return pol_err(c, pol_line(f[L_RULE].v), "learning.rule",
                           "\"%.60s\" is not a rule; use value (expected "
                           "answer chance times the cost of waiting) or "
                           "thompson (sampling per segment, no pooling)",
                           s);
    }
    return 0;
}

const lm_learn_cfg *lm_policy_learning(const lm_policy *p) {
    return &p->learning;
}
