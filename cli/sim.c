/* sim.c — the simulated market (see sim.h). */
#include "sim.h"

#include "lm_hash.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SIM_REPEAT_SHARE  0.05
#define SIM_INVALID_SHARE 0.02
#define SIM_HOUR_MS       3600000LL

static double u(uint64_t seed, uint64_t i, uint64_t k) {
    char buf[64];
    int n =
        snprintf(buf, sizeof(buf), "%llu/%llu/%llu", (unsigned long long)seed,
                 (unsigned long long)i, (unsigned long long)k);
    return lm_hash_unit(lm_hash64(buf, (size_t)n, 0x73696dULL));
}

static size_t pick(const double *weights, size_t n, double x) {
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += weights[i];
    x *= total;
    for (size_t i = 0; i < n; i++) {
        if (x < weights[i])
            return i;
        x -= weights[i];
    }
    return n - 1;
}

static const char *countries[] = {"US", "CA", "GB", "DE", "FR", "NL",
                                  "IN", "JP", "AU", "SG", "BR", "MX"};
static const double country_w[] = {30, 6, 10, 9, 6, 4, 8, 5, 5, 3, 8, 6};
static const char *sources[] = {"web_form", "referral", "ads",
                                "crm",      "event",    "purchased_list"};
static const double source_w[] = {35, 10, 25, 10, 8, 12};
static const char *titles[] = {"CEO",
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
static const double title_w[] = {3, 3, 6, 4, 8, 6, 12, 12, 18, 14, 14};
static const char *first[] = {"Ada",   "Grace", "Linus", "Mei",   "Ravi",
                              "Sofia", "Jonas", "Amara", "Kenji", "Lucia"};
static const char *last[] = {"Lovelace", "Hopper", "Berg",   "Chen", "Iyer",
                             "Rossi",    "Weber",  "Okafor", "Sato", "Diaz"};

/* The person behind submission i: repeats point at an earlier person. */
static size_t person_of(const lm_sim *s, size_t i, int *repeat) {
    *repeat = 0;
    if (i > 10 && u(s->seed, i, 1) < SIM_REPEAT_SHARE) {
        *repeat = 1;
        return (size_t)(u(s->seed, i, 2) * (double)i);
    }
    return i;
}

void lm_sim_lead_make(const lm_sim *s, size_t i, lm_sim_lead *o) {
    memset(o, 0, sizeof(*o));
    size_t p = person_of(s, i, &o->repeat);
    uint64_t sd = s->seed;
    snprintf(o->event_id, sizeof(o->event_id), "sim-%llu-%zu",
             (unsigned long long)sd, i);
    const char *fn = first[(size_t)(u(sd, p, 3) * 10)];
    const char *ln = last[(size_t)(u(sd, p, 4) * 10)];
    snprintf(o->full_name, sizeof(o->full_name), "%s %s", fn, ln);
    snprintf(o->company, sizeof(o->company), "Company %zu", p % 4000);
    snprintf(o->email, sizeof(o->email), "%s.%s.%zu@company%zu.example.com", fn,
             ln, p, p % 4000);
    for (char *c = o->email; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c + 32);
    snprintf(o->country, sizeof(o->country), "%s",
             countries[pick(country_w, 12, u(sd, p, 5))]);
    snprintf(o->source, sizeof(o->source), "%s",
             sources[pick(source_w, 6, u(sd, i, 6))]);
    snprintf(o->title, sizeof(o->title), "%s",
             titles[pick(title_w, 11, u(sd, p, 7))]);
    /* log-normal company size around 80, long tail to ~50k */
    double z =
        sqrt(-2 * log(u(sd, p, 8) + 1e-12)) * cos(6.283185307 * u(sd, p, 9));
    o->company_size = (int32_t)fmin(50000, exp(4.4 + 1.6 * z));
    if (u(sd, p, 10) < 0.1)
        o->company_size = 0; /* unknown */
    snprintf(o->pages, sizeof(o->pages), "%d", (int)(u(sd, i, 11) * 15));
    snprintf(o->opened, sizeof(o->opened), "%d", (int)(u(sd, i, 12) * 6));
    snprintf(o->demo, sizeof(o->demo), "%d", u(sd, i, 13) < 0.1 ? 1 : 0);
    if (u(sd, p, 14) < 0.5)
        snprintf(o->phone, sizeof(o->phone), "+1 555 %07zu", p % 10000000);
    o->submitted_at_ms =
        s->start_ms + (int64_t)((double)s->span_ms * (double)i /
                                (double)(s->n_leads ? s->n_leads : 1));
    o->invalid = u(sd, i, 15) < SIM_INVALID_SHARE;
    if (o->invalid) {
        if (u(sd, i, 16) < 0.5)
            snprintf(o->email, sizeof(o->email), "not-an-address-%zu", i);
        else
            snprintf(o->country, sizeof(o->country), "ZZ");
    }

    Lastmile__V1__LeadSubmitted m = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    m.event_id = o->event_id;
    m.source = o->source;
    m.email = o->email;
    m.full_name = o->full_name;
    m.company = o->company;
    m.title = o->title;
    m.company_size = o->company_size;
    m.country = o->country;
    m.phone = o->phone[0] && o->country[0] == 'U' ? o->phone : (char *)"";
    m.submitted_at_ms = o->submitted_at_ms;
    const char *keys[3] = {"pages_viewed", "emails_opened", "demo_requested"};
    char *vals[3] = {o->pages, o->opened, o->demo};
    for (int k = 0; k < 3; k++) {
        lastmile__v1__lead_submitted__attributes_entry__init(&o->attr[k]);
        o->attr[k].key = (char *)keys[k];
        o->attr[k].value = vals[k];
        o->attr_ptrs[k] = &o->attr[k];
    }
    m.n_attributes = 3;
    m.attributes = o->attr_ptrs;
    o->msg = m;
}

/* A lead's hidden intent to buy: its person's (lm_sim_truth_intent, from
 * what the submission shows and a personal draw) when the market knows who
 * is behind the id, else drawn from the id (skewed low); and the value of
 * its deal. */
static double sim_intent(const lm_sim *s, const char *lead_id) {
    size_t i;
    if (lm_sim_person_of(s, lead_id, &i) == 0) {
        lm_sim_lead l;
        lm_sim_lead_make(s, i, &l);
        return lm_sim_truth_intent(s, i, &l);
    }
    return pow(lm_hash_unit(lm_hash64_str(lead_id, s->seed)), 2.5);
}

static int64_t sim_deal_cents(const lm_sim *s, const char *lead_id) {
    uint64_t h = lm_hash64_str(lead_id, s->seed);
    return (int64_t)(500000 + 4500000 * lm_hash_unit(h >> 7));
}

int lm_sim_answer_handoff(const lm_sim *s,
                          const Lastmile__V1__FollowUpAction *a,
                          lm_sim_answer *out) {
    memset(out, 0, sizeof(*out));
    if (a->kind != LASTMILE__V1__ACTION_KIND__HANDOFF)
        return 0;
    /* the people who reply are worth a sales conversation: a good share
       of their deals is won, most of the rest lost; some stay undecided
       past the deal window */
    double won = 0.2 + 0.5 * sim_intent(s, a->lead_id);
    double x = lm_hash_unit(lm_hash64_str(a->action_id, s->seed + 4));
    double days = lm_hash_unit(lm_hash64_str(a->action_id, s->seed + 5));
    if (x < won) {
        out->kind = LASTMILE__V1__RESPONSE_KIND__CONVERTED;
        out->deal_value_cents = sim_deal_cents(s, a->lead_id);
        days = 2 + 12 * days; /* 2 to 14 days */
    } else if (x < won + 0.45) {
        out->kind = LASTMILE__V1__RESPONSE_KIND__LOST;
        days = 3 + 18 * days; /* 3 to 21 days */
    } else {
        return 0;
    }
    out->occurred_at_ms =
        a->scheduled_for_ms + (int64_t)(days * 24 * SIM_HOUR_MS);
    return 1;
}

int lm_sim_answer_touch(const lm_sim *s, const Lastmile__V1__FollowUpAction *a,
                        lm_sim_answer *out) {
    memset(out, 0, sizeof(*out));
    if (a->kind != LASTMILE__V1__ACTION_KIND__TOUCH)
        return 0;
    double intent = sim_intent(s, a->lead_id);
    double channel = strcmp(a->channel, "call") == 0 ? 1.4 : 1.0;
    /* the person's hour curve (region, role) and how long ago they asked */
    double hour = lm_sim_truth_hour(s->seed, lm_sim_region_of(a->segment),
                                    lm_sim_person_role(s, a->lead_id), a->slot);
    double age =
        a->submitted_at_ms > 0 && a->scheduled_for_ms > a->submitted_at_ms
            ? (double)(a->scheduled_for_ms - a->submitted_at_ms) /
                  (double)SIM_HOUR_MS
            : 0;
    double p =
        0.18 * intent * channel * hour * lm_sim_truth_decay(s->seed, age);
    double x = lm_hash_unit(lm_hash64_str(a->action_id, s->seed + 1));
    if (a->step == 0 && x > 0.995) {
        out->kind = LASTMILE__V1__RESPONSE_KIND__BOUNCED;
    } else if (x < p) {
        double k = lm_hash_unit(lm_hash64_str(a->action_id, s->seed + 2));
        if (k < 0.05)
            out->kind = LASTMILE__V1__RESPONSE_KIND__UNSUBSCRIBED;
        else if (k < 0.05 + 0.35 * intent) {
            out->kind = LASTMILE__V1__RESPONSE_KIND__CONVERTED;
            out->deal_value_cents = sim_deal_cents(s, a->lead_id);
        } else if (k < 0.3)
            out->kind = LASTMILE__V1__RESPONSE_KIND__MEETING_BOOKED;
        else
            out->kind = LASTMILE__V1__RESPONSE_KIND__REPLIED;
    } else {
        return 0;
    }
    double delay = lm_hash_unit(lm_hash64_str(a->action_id, s->seed + 3));
    out->occurred_at_ms =
        a->scheduled_for_ms + (int64_t)(delay * 6 * SIM_HOUR_MS);
    return 1;
}
