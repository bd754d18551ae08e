/* lm_policy_sections.c — the sections of decisions.yaml that price and
 * pace a lead: thresholds, channels, segments (size bands) and cadences.
 * Each pol_parse_* walks its section with the schema walker
 * (lm_policy_schema.c), checks every key and value, and copies what it
 * needs into the policy's arena; the first error stops the load.
 * Called only from lm_policy_load.c, on the loading thread. */
#include "lm_policy_internal.h"

#include "lm_suggest.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Sections                                                            */
/* ------------------------------------------------------------------ */

int pol_parse_thresholds(pol_ctx *c, const pol_field *top) {
    pol_field f[] = {{"qualified", NULL, NULL}, {"nurture", NULL, NULL}};
    const char *path = "thresholds";

    if (pol_map(c, top->v, pol_kline(top), path,
                "\"thresholds: { qualified: 0.55, nurture: 0.25 }\"", f, 2))
        return -1;
    if (pol_req(c, pol_kline(top), path, &f[0], "\"qualified: 0.55\"") ||
        pol_req(c, pol_kline(top), path, &f[1], "\"nurture: 0.25\""))
        return -1;
    if (pol_double(c, &f[0], "thresholds.qualified", 0, 1, "0.55",
                   &c->p->qualified) ||
        pol_double(c, &f[1], "thresholds.nurture", 0, 1, "0.25",
                   &c->p->nurture))
        return -1;
    if (c->p->nurture > c->p->qualified)
        return pol_err(
            c, pol_line(f[1].v), "thresholds.nurture",
            "%g is above thresholds.qualified (%g); nurture must not "
            "be above qualified",
            c->p->nurture, c->p->qualified);
    return 0;
}

int pol_parse_channels(pol_ctx *c, const pol_field *top) {
    const char *path = "channels";
    yaml_node_t *n = top->v;
    yaml_node_pair_t *pr;
    size_t i = 0, cnt;

    if (n->type != YAML_MAPPING_NODE)
        return pol_expected(c, n, pol_kline(top), path, "a mapping of channels",
                            "\"email: { cost: 0.02 }\" under \"channels:\"");
    cnt = pol_count(n);
    if (cnt == 0)
        return pol_err(c, pol_kline(top), path,
                       "no channels; add e.g. \"email: { cost: 0.02 }\"");
    if (cnt > LM_POLICY_MAX_CHANNELS)
        return pol_err(c, pol_kline(top), path, "more than %d channels",
                       LM_POLICY_MAX_CHANNELS);
    if (pol_user_keys(c, n, path, "channel"))
        return -1;
    c->p->channels = pol_alloc(c->p, cnt * sizeof *c->p->channels);
    if (c->p->channels == NULL)
        return pol_oom(c);
    for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++, i++) {
        yaml_node_t *k = pol_node(c, pr->key), *v = pol_node(c, pr->value);
        const char *name = (const char *)k->data.scalar.value;
        pol_field f[] = {{"cost", NULL, NULL}, {"human", NULL, NULL}};
        char kp[LM_POLICY_PATH_MAX], cp[LM_POLICY_PATH_MAX],
            hp[LM_POLICY_PATH_MAX], ex[128];
        const char *s;
        int rc;

        pol_join(kp, sizeof kp, path, name);
        pol_join(cp, sizeof cp, kp, "cost");
        pol_join(hp, sizeof hp, kp, "human");
        snprintf(ex, sizeof ex, "\"%s: { cost: 0.02 }\"", name);
        if (pol_map(c, v, pol_line(k), kp, ex, f, 2) ||
            pol_req(c, pol_line(k), kp, &f[0], "\"cost: 0.02\"") ||
            pol_channel_human(c, &f[1], hp, &c->p->channels[i].human))
            return -1;
        if ((s = pol_str(c, f[0].v, pol_kline(&f[0]), cp, "\"0.02\"")) == NULL)
            return -1;
        rc = pol_money(s, &c->p->channels[i].cost_cents);
        if (rc == -2)
            return pol_err(
                c, pol_line(f[0].v), cp,
                "\"%.60s\" has more than 2 decimals; costs are kept in "
                "cents, write e.g. \"0.03\"",
                s);
        if (rc == -3)
            return pol_err(
                c, pol_line(f[0].v), cp,
                "\"%.60s\" is too large; the most a touch may cost is "
                "\"1000000.00\"",
                s);
        if (rc != 0)
            return pol_err(
                c, pol_line(f[0].v), cp,
                "\"%.60s\" is not an amount of money; write e.g. "
                "\"0.02\" or \"4.50\" (no currency sign, not negative)",
                s);
        if ((c->p->channels[i].name = pol_strdup(c->p, name)) == NULL)
            return pol_oom(c);
    }
    c->p->n_channels = cnt;
    return 0;
}

int pol_default_bands(pol_ctx *c) {
    static const char *const names[3] = {"smb", "mid", "ent"};
    static const int64_t below[3] = {50, 1000, INT64_MAX};
    size_t i;

    c->p->bands = pol_alloc(c->p, 3 * sizeof *c->p->bands);
    if (c->p->bands == NULL)
        return pol_oom(c);
    for (i = 0; i < 3; i++) {
        c->p->bands[i].name = names[i];
        c->p->bands[i].below = below[i];
    }
    c->p->n_bands = 3;
    return 0;
}

int pol_parse_segments(pol_ctx *c, const pol_field *top) {
    const char *path = "segments", *bpath = "segments.size_bands";
    pol_field f[] = {{"size_bands", NULL, NULL}};
    yaml_node_item_t *it;
    yaml_node_t *seq;
    size_t i = 0, cnt;

    if (pol_map(c, top->v, pol_kline(top), path,
                "\"size_bands:\" with a list of { name, below } on the next "
                "line",
                f, 1) ||
        pol_req(c, pol_kline(top), path, &f[0],
                "\"size_bands:\" with a list of { name, below } under it"))
        return -1;
    seq = f[0].v;
    if (seq->type != YAML_SEQUENCE_NODE)
        return pol_expected(c, seq, pol_kline(&f[0]), bpath, "a list of bands",
                            "\"- { name: smb, below: 50 }\"");
    cnt = pol_count(seq);
    if (cnt == 0)
        return pol_err(c, pol_kline(&f[0]), bpath,
                       "no bands; add e.g. \"- { name: all }\"");
    if (cnt > LM_POLICY_MAX_BANDS)
        return pol_err(c, pol_kline(&f[0]), bpath, "more than %d bands",
                       LM_POLICY_MAX_BANDS);
    c->p->bands = pol_alloc(c->p, cnt * sizeof *c->p->bands);
    if (c->p->bands == NULL)
        return pol_oom(c);
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *n = pol_node(c, *it);
        pol_field bf[] = {{"name", NULL, NULL}, {"below", NULL, NULL}};
        char ip[LM_POLICY_PATH_MAX], np[LM_POLICY_PATH_MAX],
            wp[LM_POLICY_PATH_MAX];
        const char *name;
        size_t j;

        pol_index(ip, sizeof ip, bpath, i);
        pol_join(np, sizeof np, ip, "name");
        pol_join(wp, sizeof wp, ip, "below");
        if (n == NULL ||
            pol_map(c, n, pol_line(n), ip, "\"- { name: smb, below: 50 }\"", bf,
                    2) ||
            pol_req(c, pol_line(n), ip, &bf[0], "\"name: smb\""))
            return -1;
        if ((name = pol_str(c, bf[0].v, pol_kline(&bf[0]), np, "smb")) ==
                NULL ||
            pol_name(c, name, pol_line(bf[0].v), np, "band"))
            return -1;
        for (j = 0; j < i; j++)
            if (strcmp(c->p->bands[j].name, name) == 0)
                return pol_err(
                    c, pol_line(bf[0].v), np,
                    "band \"%s\" is listed twice; give each band its "
                    "own name",
                    name);
        if ((c->p->bands[i].name = pol_strdup(c->p, name)) == NULL)
            return pol_oom(c);
        if (i + 1 < cnt) {
            if (bf[1].v == NULL)
                return pol_err(
                    c, pol_line(n), ip,
                    "only the last band may leave out \"below\"; add "
                    "e.g. \"below: 1000\"");
            if (pol_int(c, bf[1].v, pol_kline(&bf[1]), wp, 1, INT32_MAX, "50",
                        &c->p->bands[i].below))
                return -1;
            if (i > 0 && c->p->bands[i].below <= c->p->bands[i - 1].below)
                return pol_err(
                    c, pol_line(bf[1].v), wp,
                    "%lld is not above the previous band's %lld; list "
                    "bands from small to large",
                    (long long)c->p->bands[i].below,
                    (long long)c->p->bands[i - 1].below);
        } else {
            if (bf[1].v != NULL)
                return pol_err(
                    c, pol_line(bf[1].k), wp,
                    "the last band must have no \"below\" so that it "
                    "takes every larger company; remove it or add a "
                    "band after this one");
            c->p->bands[i].below = INT64_MAX;
        }
    }
    c->p->n_bands = cnt;
    return 0;
}

static int parse_days(pol_ctx *c, const pol_field *f, const char *path,
                      uint8_t *mask) {
    yaml_node_t *n = f->v;
    yaml_node_item_t *it;
    size_t i = 0;

    if (n->type != YAML_SEQUENCE_NODE)
        return pol_expected(c, n, pol_kline(f), path, "a list of days",
                            "[mon, tue, wed, thu, fri]");
    if (pol_count(n) == 0)
        return pol_err(c, pol_kline(f), path,
                       "no days; list at least one, e.g. [mon, tue, wed, thu, "
                       "fri]");
    *mask = 0;
    for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *in = pol_node(c, *it);
        char ip[LM_POLICY_PATH_MAX];
        const char *s;
        int d;
        pol_index(ip, sizeof ip, path, i);
        if (in == NULL || (s = pol_str(c, in, pol_line(in), ip, "mon")) == NULL)
            return -1;
        if ((d = pol_day(s)) < 0)
            return pol_err(
                c, pol_line(in), ip,
                "\"%.60s\" is not a day; use mon, tue, wed, thu, fri, "
                "sat or sun",
                s);
        if (*mask & (1u << d))
            return pol_err(c, pol_line(in), ip, "\"%.60s\" is listed twice", s);
        *mask |= (uint8_t)(1u << d);
    }
    return 0;
}

int pol_parse_days(pol_ctx *c, const pol_field *f, const char *path,
                   uint8_t *mask) {
    return parse_days(c, f, path, mask);
}

/* A cadence's allowed hours and business days (hours: 09:00-17:00 and
 * days: Monday to Friday unless given) under kp. 0/-1 (said in c). */
static int parse_cadence_window(pol_ctx *c, const char *kp,
                                const pol_field *hours, const pol_field *days,
                                lm_cadence *cad) {
    cad->allowed_start_min = 9 * 60;
    cad->allowed_end_min = 17 * 60;
    cad->business_days_mask = 0x1f; /* Monday to Friday */
    if (hours->v != NULL) {
        char hp[LM_POLICY_PATH_MAX];
        pol_join(hp, sizeof hp, kp, "allowed_hours");
        if (pol_field_hours(c, hours, hp, "windows", &cad->allowed_start_min,
                            &cad->allowed_end_min))
            return -1;
    }
    if (days->v != NULL) {
        char dp[LM_POLICY_PATH_MAX];
        pol_join(dp, sizeof dp, kp, "business_days");
        if (parse_days(c, days, dp, &cad->business_days_mask))
            return -1;
    }
    return 0;
}

/* A step's channel: one of the policy's (cnames, the policy's channel
 * names), or an error that suggests the nearest or lists them all. Sets
 * the step's channel (the policy's string) and whether it is human.
 * 0/-1 (said in c). */
static int parse_step_channel(pol_ctx *c, const pol_field *chan, const char *fp,
                              const char **cnames, lm_step *step) {
    const char *ch;
    size_t j;
    if ((ch = pol_str(c, chan->v, pol_kline(chan), fp, "email")) == NULL)
        return -1;
    if (lm_policy_channel_cost_cents(c->p, ch) < 0) {
        char lb[256];
        const char *hint = lm_suggest(ch, cnames, c->p->n_channels);
        if (hint != NULL)
            return pol_err(c, pol_line(chan->v), fp,
                           "unknown channel \"%.60s\"; did you mean \"%s\"?",
                           ch, hint);
        return pol_err(c, pol_line(chan->v), fp,
                       "unknown channel \"%.60s\"; the channels are %s (add "
                       "it under channels:)",
                       ch, pol_names(cnames, c->p->n_channels, lb, sizeof lb));
    }
    for (j = 0; j < c->p->n_channels; j++)
        if (strcmp(c->p->channels[j].name, ch) == 0) {
            step->channel = c->p->channels[j].name;
            step->human = c->p->channels[j].human;
        }
    return 0;
}

/* Step n of a cadence at path ip: { channel, wait, response_window, at,
 * deadline }. 0/-1 (said in c). */
static int parse_step(pol_ctx *c, yaml_node_t *n, const char *ip,
                      const char **cnames, lm_step *step) {
    enum { S_CHAN, S_WAIT, S_RESP, S_AT, S_DEADLINE, S_N };
    pol_field sf[S_N] = {{"channel", NULL, NULL},
                         {"wait", NULL, NULL},
                         {"response_window", NULL, NULL},
                         {"at", NULL, NULL},
                         {"deadline", NULL, NULL}};
    char fp[LM_POLICY_PATH_MAX];
    if (n == NULL ||
        pol_map(c, n, pol_line(n), ip,
                "\"- { channel: email, wait: 0, response_window: 1d }\"", sf,
                S_N) ||
        pol_req(c, pol_line(n), ip, &sf[S_CHAN], "\"channel: email\"") ||
        pol_req(c, pol_line(n), ip, &sf[S_RESP], "\"response_window: 1d\""))
        return -1;
    pol_join(fp, sizeof fp, ip, "channel");
    if (parse_step_channel(c, &sf[S_CHAN], fp, cnames, step))
        return -1;
    pol_join(fp, sizeof fp, ip, "at");
    if (pol_step_at(c, &sf[S_AT], fp, step))
        return -1;
    if (sf[S_WAIT].v != NULL) {
        pol_join(fp, sizeof fp, ip, "wait");
        if (pol_field_duration(c, &sf[S_WAIT], fp, 1, &step->wait_ms))
            return -1;
    }
    pol_join(fp, sizeof fp, ip, "response_window");
    if (pol_field_duration(c, &sf[S_RESP], fp, 0, &step->response_window_ms))
        return -1;
    return pol_parse_step_deadline(c, &sf[S_DEADLINE], ip, step->channel,
                                   &step->deadline_ms);
}

static int parse_cadence(pol_ctx *c, yaml_node_t *k, yaml_node_t *v,
                         lm_cadence *cad) {
    enum { C_STEPS, C_HOURS, C_DAYS, C_N };
    pol_field f[C_N] = {{"steps", NULL, NULL},
                        {"allowed_hours", NULL, NULL},
                        {"business_days", NULL, NULL}};
    const char *name = (const char *)k->data.scalar.value;
    char kp[LM_POLICY_PATH_MAX], sp[LM_POLICY_PATH_MAX];
    const char *cnames[LM_POLICY_MAX_CHANNELS];
    yaml_node_item_t *it;
    yaml_node_t *seq;
    lm_step *steps;
    size_t i = 0, cnt, j;

    pol_join(kp, sizeof kp, "cadences", name);
    pol_join(sp, sizeof sp, kp, "steps");
    if (pol_map(c, v, pol_line(k), kp,
                "\"steps:\" with a list of { channel, wait, response_window }",
                f, C_N) ||
        pol_req(c, pol_line(k), kp, &f[C_STEPS],
                "\"steps:\" with a list of { channel, wait, response_window } "
                "under it"))
        return -1;
    if ((cad->name = pol_strdup(c->p, name)) == NULL)
        return pol_oom(c);
    if (parse_cadence_window(c, kp, &f[C_HOURS], &f[C_DAYS], cad))
        return -1;
    seq = f[C_STEPS].v;
    if (seq->type != YAML_SEQUENCE_NODE)
        return pol_expected(
            c, seq, pol_kline(&f[C_STEPS]), sp, "a list of steps",
            "\"- { channel: email, wait: 0, response_window: 1d "
            "}\"");
    cnt = pol_count(seq);
    if (cnt == 0)
        return pol_err(c, pol_kline(&f[C_STEPS]), sp,
                       "no steps; add e.g. \"- { channel: email, wait: 0, "
                       "response_window: 1d }\"");
    if (cnt > LM_POLICY_MAX_STEPS)
        return pol_err(c, pol_kline(&f[C_STEPS]), sp, "more than %d steps",
                       LM_POLICY_MAX_STEPS);
    steps = pol_alloc(c->p, cnt * sizeof *steps);
    if (steps == NULL)
        return pol_oom(c);
    for (j = 0; j < c->p->n_channels; j++)
        cnames[j] = c->p->channels[j].name;
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++, i++) {
        char ip[LM_POLICY_PATH_MAX];
        pol_index(ip, sizeof ip, sp, i);
        if (parse_step(c, pol_node(c, *it), ip, cnames, &steps[i]))
            return -1;
    }
    cad->steps = steps;
    cad->n_steps = cnt;
    return 0;
}

int pol_parse_cadences(pol_ctx *c, const pol_field *top) {
    static const char *const required[2] = {"qualified", "nurture"};
    const char *path = "cadences";
    yaml_node_t *n = top->v;
    yaml_node_pair_t *pr;
    size_t i = 0, cnt, r;

    if (n->type != YAML_MAPPING_NODE)
        return pol_expected(c, n, pol_kline(top), path, "a mapping of cadences",
                            "\"qualified:\" with \"steps:\" under it");
    cnt = pol_count(n);
    if (cnt > LM_POLICY_MAX_CADENCES)
        return pol_err(c, pol_kline(top), path, "more than %d cadences",
                       LM_POLICY_MAX_CADENCES);
    if (pol_user_keys(c, n, path, "cadence"))
        return -1;
    for (r = 0; r < 2; r++) {
        int found = 0;
        for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
             pr++)
            if (strcmp((const char *)pol_node(c, pr->key)->data.scalar.value,
                       required[r]) == 0)
                found = 1;
        if (!found) {
            const char *names[LM_POLICY_MAX_CADENCES];
            const char *hint;
            size_t k = 0;
            for (pr = n->data.mapping.pairs.start;
                 pr < n->data.mapping.pairs.top; pr++)
                names[k++] =
                    (const char *)pol_node(c, pr->key)->data.scalar.value;
            hint = lm_suggest(required[r], names, k);
            if (hint != NULL)
                return pol_err(
                    c, pol_kline(top), path,
                    "missing the \"%s\" cadence (is \"%s\" a typo?); "
                    "it is required for %s leads",
                    required[r], hint, r == 0 ? "QUALIFIED" : "NURTURE");
            return pol_err(c, pol_kline(top), path,
                           "missing the \"%s\" cadence; it is required for %s "
                           "leads (see the built-in default for an example)",
                           required[r], r == 0 ? "QUALIFIED" : "NURTURE");
        }
    }
    c->p->cadences = pol_alloc(c->p, cnt * sizeof *c->p->cadences);
    if (c->p->cadences == NULL)
        return pol_oom(c);
    for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++, i++)
        if (parse_cadence(c, pol_node(c, pr->key), pol_node(c, pr->value),
                          &c->p->cadences[i]))
            return -1;
    c->p->n_cadences = cnt;
    return 0;
}
