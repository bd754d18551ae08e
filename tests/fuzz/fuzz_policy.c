/* fuzz_policy.c — the decision config (YAML): bytes → lm_policy_parse.
 *
 * Invariants: a refused file gets an error naming the file (the message
 * starts with the name given); a loaded policy keeps the invariants
 * lm_policy.h promises, and its decisions run: thresholds ordered, every
 * route gives a team with owners, both required cadences exist with steps
 * and a sane window, and scheduling in them never goes backwards. */
#include "fuzz.h"

#include "lm_policy.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 0;
}

static void exercise(const lm_policy *p) {
    fuzz_check(lm_policy_threshold_nurture(p) <=
                   lm_policy_threshold_qualified(p),
               "thresholds out of order");
    fuzz_check(lm_policy_dedupe_window_ms(p) > 0, "dedupe window <= 0");
    double cs = lm_policy_control_share(p);
    fuzz_check(cs >= 0 && cs <= 1, "control share outside 0..1");
    static const char *const countries[] = {"DE", "US", "JP", "BR", "", "zz"};
    static const int32_t sizes[] = {-1, 0, 9, 250, 10000000};
    static const char *const sources[] = {"web_form", "ads", "", "REFERRAL"};
    for (size_t i = 0; i < sizeof(countries) / sizeof(*countries); i++)
        for (size_t j = 0; j < sizeof(sizes) / sizeof(*sizes); j++) {
            const lm_team *t = lm_policy_route(p, countries[i], sizes[j],
                                               sources[(i + j) % 4]);
            fuzz_check(t && t->n_owners >= 1, "route without a team");
            char seg[LM_POLICY_SEGMENT_MAX];
            fuzz_check(lm_policy_segment(p, countries[i], sizes[j], seg,
                                         sizeof(seg)) == 0 &&
                           seg[0],
                       "no segment");
        }
    static const char *const names[] = {"qualified", "nurture"};
    for (size_t i = 0; i < 2; i++) {
        const lm_cadence *c = lm_policy_cadence(p, names[i]);
        fuzz_check(c && c->n_steps >= 1, "required cadence missing");
        fuzz_check(c->allowed_start_min >= 0 &&
                       c->allowed_start_min < c->allowed_end_min &&
                       c->allowed_end_min <= 1440 && c->business_days_mask,
                   "cadence window broken");
        for (size_t s = 0; s < c->n_steps; s++)
            fuzz_check(
                c->steps[s].wait_ms >= 0 &&
                    c->steps[s].response_window_ms > 0 &&
                    lm_policy_channel_cost_cents(p, c->steps[s].channel) >= 0,
                "cadence step broken");
        int64_t when =
            lm_policy_next_allowed_ms(c, "Asia/Kolkata", FUZZ_NOW_MS);
        fuzz_check(when >= FUZZ_NOW_MS, "next allowed instant in the past");
        lm_slot slots[168];
        size_t n = lm_policy_candidate_slots(c, "Europe/Berlin", FUZZ_NOW_MS,
                                             3LL * 86400 * 1000, slots, 168);
        for (size_t k = 0; k < n; k++)
            fuzz_check(
                slots[k].start_ms >= FUZZ_NOW_MS &&
                    (k == 0 || slots[k].start_ms > slots[k - 1].start_ms),
                "candidate slots out of order");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > FUZZ_MAX_INPUT)
        return 0;
    char err[LM_POLICY_ERRSZ];
    err[0] = '\0';
    lm_policy *p = lm_policy_parse((const char *)data, size, "fuzz.yaml", err,
                                   sizeof(err));
    if (!p) {
        fuzz_check(strncmp(err, "fuzz.yaml", 9) == 0,
                   "config error does not name the file");
        return 0;
    }
    exercise(p);
    lm_policy_free(p);
    return 0;
}
