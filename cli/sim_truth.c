/* sim_truth.c — the simulated market's hidden truths, drawn per seed
 * (sim.h): hour-of-week answer curves by region and role, the decay of
 * the chance of answering with the time since the person asked, and the
 * people index that tells the market whose lead a lead id is.
 *
 * Every truth is a pure function of (seed, region, role, slot) or (seed,
 * hours): no tables, no state, so the connector, the learning bench and
 * the tests see the same world for a seed and another world for another
 * seed. The index is the one piece of memory (built once by its owner,
 * read-only afterwards; share it across threads freely). */
#include "sim.h"

#include "lm_hash.h"
#include "lm_geo.h"
#include "lm_lead.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_TRUTH_SEED 0x7472757468ULL /* "truth" */

static const char *const region_names[LM_SIM_N_REGIONS] = {"NA", "EMEA", "APAC",
                                                           "LATAM", "OTHER"};

/* A uniform draw in [lo, hi) from (seed, a, b, k): one parameter of the
 * world. */
static double draw(uint64_t seed, int a, int b, int k, double lo, double hi) {
    uint64_t key[4] = {seed, (uint64_t)a, (uint64_t)b, (uint64_t)k};
    double x = lm_hash_unit(lm_hash64(key, sizeof(key), SIM_TRUTH_SEED));
    return lo + (hi - lo) * x;
}

int lm_sim_region_of(const char *segment) {
    if (!segment)
        return LM_SIM_OTHER;
    for (int r = 0; r < LM_SIM_N_REGIONS; r++) {
        size_t n = strlen(region_names[r]);
        if (strncmp(segment, region_names[r], n) == 0 &&
            (segment[n] == '/' || segment[n] == '\0'))
            return r;
    }
    return LM_SIM_OTHER;
}

const char *lm_sim_region_name(int region) {
    return region >= 0 && region < LM_SIM_N_REGIONS ? region_names[region]
                                                    : "OTHER";
}

double lm_sim_truth_hour(uint64_t seed, int region, int role, int32_t slot) {
    if (slot < 0 || slot >= 168 || region < 0 || region >= LM_SIM_N_REGIONS ||
        role < 0 || role >= LM_SIM_N_ROLES)
        return 1.0;
    int day = slot / 24, hour = slot % 24;
    /* where the region's day peaks, and how each role moves it (seniors
       early or late, per world), with a little of each pair's own */
    double peak =
        draw(seed, region, -1, 1, 9.5, 16.5) +
        (role == LM_SIM_NONE ? 0 : draw(seed, -1, role, 2, -2.5, 2.5)) +
        draw(seed, region, role, 3, -1.0, 1.0);
    peak = fmin(18.0, fmax(8.0, peak));
    double width = draw(seed, region, role, 4, 1.2, 3.0);
    double top = draw(seed, region, role, 5, 2.0, 3.0);
    double floor_ = draw(seed, region, role, 6, 0.3, 0.55);
    int best = (int)draw(seed, region, role, 7, 0, 5); /* Mon..Fri */
    double dayf;
    if (day >= 5)
        dayf = 0.35;
    else if (day == best)
        dayf = 1.0;
    else if (day == best + 1)
        dayf = 0.85;
    else
        dayf = draw(seed, region, role, 10 + day, 0.45, 0.75);
    double d = (double)hour + 0.5 - peak;
    return floor_ + (top - floor_) * dayf * exp(-d * d / (2 * width * width));
}

double lm_sim_truth_decay(uint64_t seed, double hours) {
    if (hours <= 0)
        return 1.0;
    double half_days = draw(seed, -2, -2, 20, 3.0, 12.0);
    double rest = draw(seed, -2, -2, 21, 0.1, 0.3);
    return rest + (1 - rest) * pow(0.5, hours / (24.0 * half_days));
}

/* ---------------------------------------------------------- the people */

int lm_sim_role_of_title(const char *title) {
    static const struct {
        const char *title;
        int role;
    } roles[] = {{"CEO", LM_SIM_EXEC},
                 {"Founder", LM_SIM_EXEC},
                 {"VP Sales", LM_SIM_EXEC},
                 {"Head of Growth", LM_SIM_MANAGER},
                 {"Director of Marketing", LM_SIM_MANAGER},
                 {"IT Director", LM_SIM_MANAGER},
                 {"Sales Manager", LM_SIM_MANAGER},
                 {"Marketing Manager", LM_SIM_MANAGER},
                 {"Engineer", LM_SIM_IC},
                 {"Analyst", LM_SIM_IC}};
    if (!title)
        return LM_SIM_NONE;
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strcmp(title, roles[i].title) == 0)
            return roles[i].role;
    return LM_SIM_NONE;
}

struct lm_sim_people {
    size_t n;
    uint64_t *keys; /* (id suffix << 32) | submission index, sorted */
};

/* The 32 bits a lead id's tail (after its '-') carries, or -1. */
static int64_t id_tail(const char *lead_id) {
    if (!lead_id || strlen(lead_id) != 25 || lead_id[16] != '-')
        return -1;
    uint64_t v = 0;
    for (int i = 17; i < 25; i++) {
        char c = lead_id[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + (uint64_t)d;
    }
    return (int64_t)v;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

lm_sim_people *lm_sim_people_build(const lm_sim *s) {
    lm_sim_people *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->keys = calloc(s->n_leads ? s->n_leads : 1, sizeof(uint64_t));
    if (!p->keys) {
        free(p);
        return NULL;
    }
    for (size_t i = 0; i < s->n_leads; i++) {
        lm_sim_lead l;
        char id[LM_LEAD_ID_MAX];
        lm_sim_lead_make(s, i, &l);
        /* the tail of the lead id intake gives this submission (the
           person part does not matter: the tail is the event id's) */
        lm_lead_id("0000000000000000", l.event_id, id);
        int64_t t = id_tail(id);
        p->keys[p->n++] = ((uint64_t)t << 32) | (uint64_t)(uint32_t)i;
    }
    qsort(p->keys, p->n, sizeof(uint64_t), cmp_u64);
    return p;
}

void lm_sim_people_free(lm_sim_people *p) {
    if (!p)
        return;
    free(p->keys);
    free(p);
}

/* A draw in [0, 1) for (seed, submission, purpose): the cohort figure's
 * (cli/model_cohort.c), so both see the same people. */
static double person_draw(uint64_t seed, size_t i, unsigned k) {
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "cohort/%llu/%zu/%u",
                     (unsigned long long)seed, i, k);
    return lm_hash_unit(lm_hash64(buf, (size_t)n, 0x636f686f7274ULL));
}

static double term(const char *v, const char *const *names, const double *w,
                   size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0)
            return w[i];
    return 0.0;
}

static double intent_of(const char *title, const char *source,
                        int32_t company_size, const char *region, int pages,
                        int demo, double u1, double u2) {
    /* who buys here: the people who use the product (engineers, their
       directors), referred or from a curated list, at mid-sized
       companies, after reading; the built-in prior bets on seniority and
       on a demo request instead */
    static const char *const titles[] = {"CEO",
                                         "Founder",
                                         "VP Sales",
                                         "Head of Growth",
                                         "Director of Marketing",
                                         "IT Director",
                                         "Sales Manager",
                                         "Marketing Manager",
                                         "Engineer",
                                         "Analyst",
                                         ""};
    static const double title_w[] = {-0.7, -0.5, -0.3, 0.0, 0.1, 0.8,
                                     -0.2, 0.0,  0.9,  0.3, -1.0};
    static const char *const sources[] = {
        "referral", "web_form", "event", "crm", "ads", "purchased_list"};
    static const double source_w[] = {0.9, 0.3, 0.0, -0.3, -0.6, 0.5};
    static const char *const regions[] = {"NA", "EMEA", "APAC", "LATAM"};
    static const double region_w[] = {0.0, 0.2, -0.4, 0.4};
    double z = -1.7;
    z += term(title, titles, title_w, sizeof(title_w) / sizeof(*title_w));
    z += term(source, sources, source_w, sizeof(source_w) / sizeof(*source_w));
    z += term(region ? region : "", regions, region_w,
              sizeof(region_w) / sizeof(*region_w));
    if (company_size <= 0)
        z -= 0.3;
    else if (company_size >= 50 && company_size <= 1000)
        z += 0.5;
    else if (company_size > 5000)
        z -= 0.4;
    z += 0.09 * pages + 0.5 * demo;
    /* what no feature shows: a personal draw, normal with sd 0.8 */
    z += 0.8 * sqrt(-2.0 * log(u1 + 1e-12)) * cos(6.283185307179586 * u2);
    return 1.0 / (1.0 + exp(-z));
}

double lm_sim_truth_intent(const lm_sim *s, size_t i, const lm_sim_lead *l) {
    const struct lm_geo_country *g = lm_geo_country(l->country);
    return intent_of(l->title, l->source, l->company_size,
                     g ? g->region : "OTHER", (int)strtol(l->pages, NULL, 10),
                     l->demo[0] == '1', person_draw(s->seed, i, 1),
                     person_draw(s->seed, i, 2));
}

int lm_sim_person_of(const lm_sim *s, const char *lead_id, size_t *i) {
    int64_t t = id_tail(lead_id);
    if (!s->people || t < 0)
        return -1;
    size_t lo = 0, hi = s->people->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((int64_t)(s->people->keys[mid] >> 32) < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= s->people->n || (int64_t)(s->people->keys[lo] >> 32) != t)
        return -1;
    *i = (size_t)(uint32_t)s->people->keys[lo];
    return 0;
}

int lm_sim_person_role(const lm_sim *s, const char *lead_id) {
    size_t i;
    if (lm_sim_person_of(s, lead_id, &i) == 0) {
        lm_sim_lead l;
        lm_sim_lead_make(s, i, &l);
        return lm_sim_role_of_title(l.title);
    }
    /* a lead the index does not know: a role drawn from its id */
    double x = lm_hash_unit(lm_hash64_str(lead_id ? lead_id : "", s->seed));
    return x < 0.12   ? LM_SIM_EXEC
           : x < 0.54 ? LM_SIM_MANAGER
           : x < 0.86 ? LM_SIM_IC
                      : LM_SIM_NONE;
}

double lm_sim_hour_factor(const lm_sim *s, const char *segment, int32_t slot) {
    /* the market's role mix (sim.c's title weights) */
    static const double mix[LM_SIM_N_ROLES] = {0.12, 0.42, 0.32, 0.14};
    int r = lm_sim_region_of(segment);
    double f = 0;
    for (int q = 0; q < LM_SIM_N_ROLES; q++)
        f += mix[q] * lm_sim_truth_hour(s->seed, r, q, slot);
    return f;
}
