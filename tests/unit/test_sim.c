/* test_sim.c — the simulated market's hidden truths (cli/sim.h): each
 * seed draws its own world (hour-of-week curves by region and role, and a
 * decay with the time since the person asked), every truth is a pure
 * function of the seed, and an answer follows the person behind the lead
 * id (the people index). Pure: no broker, no Redis. */
#include "sim.h"

#include "lm_lead.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

/* The slot (Mon-Fri, 08-18h) where (region, role) answers best. */
static int best_slot(uint64_t seed, int region, int role) {
    int best = 0;
    double top = -1;
    for (int d = 0; d < 5; d++)
        for (int h = 8; h < 18; h++) {
            double f = lm_sim_truth_hour(seed, region, role, d * 24 + h);
            if (f > top) {
                top = f;
                best = d * 24 + h;
            }
        }
    return best;
}

Test(sim, each_seed_draws_its_own_world) {
    int differ = 0;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        for (int r = 0; r < LM_SIM_N_REGIONS; r++)
            for (int q = 0; q < LM_SIM_N_ROLES; q++) {
                /* pure: the same seed, the same truth */
                for (int k = 0; k < 168; k++) {
                    double f = lm_sim_truth_hour(seed, r, q, k);
                    cr_assert(f > 0.2 && f < 3.1, "factor %f", f);
                    cr_assert_eq(f, lm_sim_truth_hour(seed, r, q, k));
                }
                differ += best_slot(seed, r, q) != best_slot(seed + 1, r, q);
            }
    }
    cr_expect(differ > 5 * LM_SIM_N_REGIONS * LM_SIM_N_ROLES / 2,
              "the best hour moves with the seed (%d of %d pairs)", differ,
              5 * LM_SIM_N_REGIONS * LM_SIM_N_ROLES);
    /* roles differ within a region */
    int roles_differ = 0;
    for (int q = 1; q < LM_SIM_N_ROLES; q++)
        roles_differ += best_slot(3, LM_SIM_EMEA, q) !=
                        best_slot(3, LM_SIM_EMEA, LM_SIM_EXEC);
    cr_expect(roles_differ > 0, "roles answer at different hours");
    /* weekends are quiet */
    cr_expect(lm_sim_truth_hour(1, LM_SIM_NA, LM_SIM_IC, 5 * 24 + 12) <
              lm_sim_truth_hour(1, LM_SIM_NA, LM_SIM_IC, best_slot(1, 0, 2)));
}

Test(sim, the_chance_of_an_answer_decays_with_time) {
    double hl[2];
    for (uint64_t seed = 1; seed <= 2; seed++) {
        cr_expect_eq(lm_sim_truth_decay(seed, 0), 1);
        double prev = 1;
        for (int h = 1; h < 60 * 24; h += 12) {
            double d = lm_sim_truth_decay(seed, h);
            cr_assert(d <= prev && d > 0.09, "decay %f at %dh", d, h);
            prev = d;
        }
        hl[seed - 1] = lm_sim_truth_decay(seed, 7 * 24);
    }
    cr_expect_neq(hl[0], hl[1], "each seed its own decay");
}

Test(sim, regions_and_roles_are_read_as_the_market_reads_them) {
    cr_expect_eq(lm_sim_region_of("NA/mid"), LM_SIM_NA);
    cr_expect_eq(lm_sim_region_of("EMEA/ent"), LM_SIM_EMEA);
    cr_expect_eq(lm_sim_region_of("LATAM"), LM_SIM_LATAM);
    cr_expect_eq(lm_sim_region_of("NAX/mid"), LM_SIM_OTHER);
    cr_expect_eq(lm_sim_region_of(NULL), LM_SIM_OTHER);
    cr_expect_eq(lm_sim_role_of_title("CEO"), LM_SIM_EXEC);
    cr_expect_eq(lm_sim_role_of_title("IT Director"), LM_SIM_MANAGER);
    cr_expect_eq(lm_sim_role_of_title("Engineer"), LM_SIM_IC);
    cr_expect_eq(lm_sim_role_of_title(""), LM_SIM_NONE);
}

/* The connector knows who is behind a lead id: the lead intake makes of
 * submission i (its tail hashes the event id) has i's role. */
Test(sim, an_answer_follows_the_person_behind_the_lead) {
    lm_sim s = {.seed = 9, .n_leads = 500, .start_ms = 0, .span_ms = 1};
    lm_sim_people *people = lm_sim_people_build(&s);
    cr_assert_not_null(people);
    s.people = people;
    int checked = 0;
    for (size_t i = 0; i < s.n_leads; i += 7) {
        lm_sim_lead l;
        lm_sim_lead_make(&s, i, &l);
        char id[LM_LEAD_ID_MAX];
        lm_lead_id("0123456789abcdef", l.event_id, id);
        cr_expect_eq(lm_sim_person_role(&s, id), lm_sim_role_of_title(l.title),
                     "submission %zu (%s)", i, l.title);
        checked++;
    }
    cr_expect_gt(checked, 50);
    /* an id it does not know: a role all the same, the same each time */
    const char *stranger = "fedcba9876543210-ffffffff";
    int r = lm_sim_person_role(&s, stranger);
    cr_expect(r >= 0 && r < LM_SIM_N_ROLES);
    cr_expect_eq(lm_sim_person_role(&s, stranger), r);
    lm_sim_people_free(people);
}
