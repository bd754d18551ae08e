/* learnbench.c — one seed of the learning figure (learnbench.h).
 *
 * An event queue in simulated time: a lead arrives (its first step is
 * chosen), a touch resolves (answered: the touch's slot learns a success
 * and the lead stops; silent when its response window ends: a failure,
 * and the next step is chosen from then, after its wait). The learner's
 * counts live in a map of the keys the timing worker would use
 * (lm_learn_keys), so the bench runs the worker's own estimate and choice.
 * Memory: the leads, the queue and the counts, freed before return. */
#include "learnbench.h"

#include "sim.h"

#include "lm_geo.h"
#include "lm_hash.h"
#include "lm_strmap.h"
#include "lm_tz.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LB_WEEK_MS    (7LL * 86400 * 1000)
#define LB_HOUR_MS    3600000LL
#define LB_HORIZON_MS (3LL * 86400 * 1000) /* as the timing worker's */
#define LB_REPLY_MS   (2 * LB_HOUR_MS)     /* an answer comes this late */
#define LB_QUALIFIED  0.4                  /* share on the qualified cadence */
/* Monday 2026-01-05 00:00 UTC: weeks start on Mondays */
#define LB_START_MS 1767571200000LL

typedef struct lb_lead {
    const char *tz, *role; /* learner's role reading */
    int region, truth_role;
    char segment[LM_POLICY_SEGMENT_MAX];
    const lm_cadence *cad;
    double intent;
    int64_t submitted;
} lb_lead;

enum { EV_ARRIVE, EV_RESOLVE };

typedef struct lb_event {
    int64_t at;
    uint32_t lead;
    int16_t step, kind;
    int32_t slot;
    int answered;
} lb_event;

typedef struct lb_state {
    const lm_policy *p;
    const lm_learn_cfg *lc;
    uint64_t seed;
    lb_lead *leads;
    lb_event *heap;
    size_t n_heap, cap_heap;
    lm_strmap *keys; /* key -> index into counts */
    lm_learn_counts *counts;
    size_t n_counts, cap_counts;
    lm_learnbench_run *out;
} lb_state;

/* ---------------------------------------------------------------- queue */

static int before(const lb_event *a, const lb_event *b) {
    return a->at < b->at || (a->at == b->at && a->lead < b->lead);
}

static int push(lb_state *s, lb_event e) {
    if (s->n_heap == s->cap_heap) {
        size_t cap = s->cap_heap ? 2 * s->cap_heap : 1024;
        lb_event *h = realloc(s->heap, cap * sizeof(*h));
        if (!h)
            return -1;
        s->heap = h;
        s->cap_heap = cap;
    }
    size_t i = s->n_heap++;
    while (i > 0 && before(&e, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = e;
    return 0;
}

static lb_event pop(lb_state *s) {
    lb_event top = s->heap[0], last = s->heap[--s->n_heap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->n_heap)
            break;
        if (c + 1 < s->n_heap && before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->n_heap)
        s->heap[i] = last;
    return top;
}

/* --------------------------------------------------------------- counts */

static lm_learn_counts *counts(lb_state *s, const char *key) {
    int64_t *v = lm_strmap_get_str(s->keys, key);
    if (v)
        return &s->counts[*v];
    if (s->n_counts == s->cap_counts) {
        size_t cap = s->cap_counts ? 2 * s->cap_counts : 64;
        lm_learn_counts *c = realloc(s->counts, cap * sizeof(*c));
        if (!c)
            return NULL;
        s->counts = c;
        s->cap_counts = cap;
    }
    if (!lm_strmap_put_str(s->keys, key, (int64_t)s->n_counts, NULL))
        return NULL;
    memset(&s->counts[s->n_counts], 0, sizeof(lm_learn_counts));
    return &s->counts[s->n_counts++];
}

static int keys(lb_state *s, const lb_lead *l, int step,
                char k[LM_LEARN_LEVELS][LM_LEARN_KEY_MAX]) {
    return lm_learn_keys(s->lc, l->segment, l->role, l->cad->name,
                         l->cad->steps[step].channel, step, k);
}

/* The touch of lead l's step at slot learns its answer, at every level. */
static int learn(lb_state *s, const lb_lead *l, int step, int32_t slot,
                 int answered) {
    char k[LM_LEARN_LEVELS][LM_LEARN_KEY_MAX];
    if (slot < 0 || slot >= LM_LEARN_SLOTS || keys(s, l, step, k) != 0)
        return 0;
    for (int L = 0; L < LM_LEARN_LEVELS; L++) {
        if (!k[L][0])
            continue;
        lm_learn_counts *c = counts(s, k[L]);
        if (!c)
            return -1;
        if (answered)
            c->s[slot]++;
        else
            c->f[slot]++;
    }
    return 0;
}

/* ---------------------------------------------------------- the market */

static double truth(const lb_state *s, const lb_lead *l, int32_t slot) {
    return lm_sim_truth_hour(s->seed, l->region, l->truth_role, slot);
}

static double decay(const lb_state *s, const lb_lead *l, int64_t at) {
    return lm_sim_truth_decay(s->seed,
                              (double)(at - l->submitted) / (double)LB_HOUR_MS);
}

/* The figure of one chosen touch. */
static void measure(lb_state *s, const lb_lead *l, const lm_slot *cand,
                    size_t n, const lm_learn_choice *ch) {
    int64_t wk = (ch->when_ms - LB_START_MS) / LB_WEEK_MS;
    if (wk < 0 || wk >= s->out->weeks || n == 0)
        return;
    lm_learnbench_week *w = &s->out->w[wk];
    double rnd = 0, vrnd = 0, top = -1, best = 0, vbest = 0;
    lm_sim seg = {.seed = s->seed};
    for (size_t i = 0; i < n; i++) {
        double q = truth(s, l, cand[i].slot), d = decay(s, l, cand[i].start_ms);
        rnd += q / (double)n;
        vrnd += q * d / (double)n;
        double segq = lm_sim_hour_factor(&seg, l->segment, cand[i].slot);
        if (segq > top) {
            top = segq;
            best = q;
            vbest = q * d;
        }
    }
    double q = truth(s, l, ch->slot);
    w->touches += 1;
    w->learned += q;
    w->random += rnd;
    w->best += best;
    w->v_learned += q * decay(s, l, ch->when_ms);
    w->v_random += vrnd;
    w->v_best += vbest;
}

/* Chooses the time of lead l's step from `earliest`, touches, and queues
 * the touch's resolution. */
static int touch(lb_state *s, uint32_t li, int step, int64_t earliest) {
    const lb_lead *l = &s->leads[li];
    const lm_step *st = &l->cad->steps[step];
    lm_learn_choice ch = {0};
    if (st->at_now) {
        ch.when_ms = earliest;
    } else {
        lm_slot cand[LM_LEARN_SLOTS];
        size_t n = lm_policy_candidate_slots(
            l->cad, l->tz, earliest, LB_HORIZON_MS, cand, LM_LEARN_SLOTS);
        if (n == 0)
            return 0;
        char k[LM_LEARN_LEVELS][LM_LEARN_KEY_MAX];
        lm_learn_counts lv[LM_LEARN_LEVELS];
        memset(lv, 0, sizeof(lv));
        if (keys(s, l, step, k) == 0)
            for (int L = 0; L < LM_LEARN_LEVELS; L++) {
                int64_t *v = k[L][0] ? lm_strmap_get_str(s->keys, k[L]) : NULL;
                if (v)
                    lv[L] = s->counts[*v];
            }
        double est[LM_LEARN_SLOTS];
        lm_learn_estimate(s->lc, lv, est);
        uint64_t seed =
            lm_hash64(&li, sizeof(li), s->seed * 131 + (uint64_t)step);
        lm_learn_choose(s->lc, cand, n, earliest, est, lv, seed, &ch);
        measure(s, l, cand, n, &ch);
    }
    lm_local_time lt;
    if (lm_tz_local(l->tz, ch.when_ms, &lt) != 0)
        return 0;
    double chan = strcmp(st->channel, "call") == 0 ? 1.4 : 1.0;
    double pr = 0.18 * l->intent * chan * truth(s, l, lt.hour_of_week) *
                decay(s, l, ch.when_ms);
    uint64_t k[3] = {s->seed, li, (uint64_t)step};
    int answered = lm_hash_unit(lm_hash64(k, sizeof(k), 0x616e73ULL)) < pr;
    int64_t wk = (ch.when_ms - LB_START_MS) / LB_WEEK_MS;
    if (answered && wk >= 0 && wk < s->out->weeks)
        s->out->w[wk].answers += 1;
    lb_event e = {.at = ch.when_ms +
                        (answered ? LB_REPLY_MS : st->response_window_ms),
                  .lead = li,
                  .step = (int16_t)step,
                  .kind = EV_RESOLVE,
                  .slot = lt.hour_of_week,
                  .answered = answered};
    return push(s, e);
}

static int make_lead(lb_state *s, const lm_sim *sim, size_t i, lb_lead *l) {
    lm_sim_lead sl;
    lm_sim_lead_make(sim, i, &sl);
    if (sl.invalid || sl.repeat)
        return 0;
    const struct lm_geo_country *g = lm_geo_country(sl.country);
    if (!g || lm_policy_segment(s->p, sl.country, sl.company_size, l->segment,
                                sizeof(l->segment)) != 0)
        return 0;
    l->tz = g->tz;
    l->region = lm_sim_region_of(l->segment);
    l->truth_role = lm_sim_role_of_title(sl.title);
    l->role = lm_learn_role(sl.title);
    uint64_t h = lm_hash64_str(sl.event_id, s->seed);
    l->intent = pow(lm_hash_unit(h), 2.5);
    l->cad = lm_policy_cadence(
        s->p, lm_hash_unit(h >> 13 | h << 51) < LB_QUALIFIED ? "qualified"
                                                             : "nurture");
    l->submitted = sl.submitted_at_ms;
    return l->cad != NULL;
}

int lm_learnbench_run_seed(const lm_policy *p, const lm_learn_cfg *lc,
                           uint64_t seed, int weeks, size_t leads_per_week,
                           lm_learnbench_run *out) {
    memset(out, 0, sizeof(*out));
    out->weeks =
        weeks > LM_LEARNBENCH_WEEKS_MAX ? LM_LEARNBENCH_WEEKS_MAX : weeks;
    lm_sim sim = {.seed = seed,
                  .n_leads = leads_per_week * (size_t)out->weeks,
                  .start_ms = LB_START_MS,
                  .span_ms = (int64_t)out->weeks * LB_WEEK_MS};
    lb_state s = {.p = p, .lc = lc, .seed = seed, .out = out};
    s.leads = calloc(sim.n_leads ? sim.n_leads : 1, sizeof(lb_lead));
    s.keys = lm_strmap_new(256);
    int rc = -1;
    if (!s.leads || !s.keys)
        goto done;
    for (size_t i = 0; i < sim.n_leads; i++)
        if (make_lead(&s, &sim, i, &s.leads[i])) {
            lb_event e = {.at = s.leads[i].submitted,
                          .lead = (uint32_t)i,
                          .kind = EV_ARRIVE};
            if (push(&s, e) != 0)
                goto done;
        }
    while (s.n_heap) {
        lb_event e = pop(&s);
        lb_lead *l = &s.leads[e.lead];
        int next = 0;
        if (e.kind == EV_RESOLVE) {
            if (learn(&s, l, e.step, e.slot, e.answered) != 0)
                goto done;
            if (e.answered)
                continue;
            next = e.step + 1;
        }
        if ((size_t)next >= l->cad->n_steps)
            continue;
        if (touch(&s, e.lead, next, e.at + l->cad->steps[next].wait_ms) != 0)
            goto done;
    }
    rc = 0;
done:
    free(s.leads);
    free(s.heap);
    free(s.counts);
    lm_strmap_free(s.keys);
    return rc;
}

double lm_learnbench_share(const lm_learnbench_week *w, int value) {
    double l = value ? w->v_learned : w->learned;
    double r = value ? w->v_random : w->random;
    double b = value ? w->v_best : w->best;
    return b - r != 0 ? (l - r) / (b - r) : 0;
}
