/* test_topics.c — the topic table (lm_topics.h) against everything else
 * that names a topic:
 *   topics.matches_the_proto_docs: every row of the header table of
 *     proto/lastmile/v1/lastmile.proto is a table row with that message
 *     type, and the table has no other rows;
 *   topics.matches_the_runtime_suffixes: the runtime's suffix strings
 *     (LM_TOPIC_<X>, lm_topic_suffixes) are the table's, in its order;
 *   topics.workers_agree: each of the four workers' declared input_type
 *     is the table's type for its input suffix, it is that topic's
 *     reader, every output it declares is a topic it is listed as a
 *     writer of, and a worker that dedupes by offset reads a topic
 *     nothing outside lastmile writes (docs/DELIVERY.md);
 *   topics.lookups: find/type on known, unknown and NULL suffixes. */
#include "lm_kafka.h"
#include "lm_topics.h"

#include "followup.h"
#include "intake.h"
#include "qualification.h"
#include "timing.h"
#include "webhook.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define LM_TEST_PROTO LM_SOURCE_DIR "/proto/lastmile/v1/lastmile.proto"
#define LM_TEST_LINE  512

static int listed(const char *const *names, const char *name) {
    for (; *names != NULL; names++)
        if (strcmp(*names, name) == 0)
            return 1;
    return 0;
}

/* Rows of the proto header table look like
 *   "//   lastmile.intake       LeadSubmitted    producers outside ..."
 * (continuation lines start with spaces after the "//"). */
Test(topics, matches_the_proto_docs) {
    FILE *f = fopen(LM_TEST_PROTO, "r");
    char line[LM_TEST_LINE];
    size_t rows = 0;

    cr_assert_not_null(f, "cannot open %s", LM_TEST_PROTO);
    while (fgets(line, sizeof line, f) != NULL) {
        char suffix[64], type[64];
        const lm_topic *t;

        if (strncmp(line, "//   lastmile.", 14) != 0)
            continue;
        cr_assert_eq(sscanf(line + 14, "%63s %63s", suffix, type), 2, "%s",
                     line);
        t = lm_topics_find(suffix);
        cr_assert_not_null(t,
                           "topic \"%s\" of the proto docs is not in "
                           "lm_topics.c",
                           suffix);
        cr_expect_str_eq(t->type->short_name, type, "topic %s", suffix);
        rows++;
    }
    fclose(f);
    cr_expect_eq(rows, LM_TOPICS_COUNT,
                 "the proto docs list %zu topics, lm_topics.c %d", rows,
                 LM_TOPICS_COUNT);
}

Test(topics, matches_the_runtime_suffixes) {
    const char *const named[] = {LM_TOPIC_INTAKE,   LM_TOPIC_QUALIFICATION,
                                 LM_TOPIC_FOLLOWUP, LM_TOPIC_ACTIONS,
                                 LM_TOPIC_TIMING,   LM_TOPIC_OUTCOMES,
                                 LM_TOPIC_DLQ};
    const ProtobufCMessageDescriptor *types[] = {
        LM_TOPIC_INTAKE_TYPE,   LM_TOPIC_QUALIFICATION_TYPE,
        LM_TOPIC_FOLLOWUP_TYPE, LM_TOPIC_ACTIONS_TYPE,
        LM_TOPIC_TIMING_TYPE,   LM_TOPIC_OUTCOMES_TYPE,
        LM_TOPIC_DLQ_TYPE};
    size_t i;

    cr_assert_eq(sizeof named / sizeof named[0], LM_TOPICS_COUNT);
    for (i = 0; i < LM_TOPICS_COUNT; i++) {
        cr_assert_not_null(lm_topic_suffixes[i]);
        cr_expect_str_eq(lm_topic_suffixes[i], lm_topics[i].suffix);
        cr_expect_str_eq(named[i], lm_topics[i].suffix);
        cr_expect_eq(types[i], lm_topics[i].type, "%s", named[i]);
        cr_expect(lm_topics[i].written_by != 0, "%s has no writer", named[i]);
        cr_expect_eq(lm_topics[i].writers[0] != NULL,
                     (lm_topics[i].written_by & LM_TOPICS_BY_WORKERS) != 0,
                     "%s: writers and LM_TOPICS_BY_WORKERS disagree", named[i]);
    }
    cr_expect_null(lm_topic_suffixes[LM_TOPICS_COUNT]);
}

Test(topics, workers_agree) {
    const lm_worker *const workers[] = {
        &lm_intake_worker, &lm_qualification_worker, &lm_followup_worker,
        &lm_timing_worker, &lm_webhook_worker};
    size_t i, k, readers = 0;

    for (i = 0; i < sizeof workers / sizeof workers[0]; i++) {
        const lm_worker *w = workers[i];
        const lm_topic *in = lm_topics_find(w->input);

        cr_assert_not_null(in, "%s reads \"%s\", not in the table", w->name,
                           w->input);
        cr_expect_eq(w->input_type, in->type,
                     "%s declares input_type %s for \"%s\"; the table says %s",
                     w->name, w->input_type->name, w->input, in->type->name);
        cr_expect(in->reader != NULL && strcmp(in->reader, w->name) == 0,
                  "the table names %s, not %s, as the reader of \"%s\"",
                  in->reader ? in->reader : "no worker", w->name, w->input);
        if (w->dedupe == LM_DEDUPE_BY_OFFSET)
            cr_expect((in->written_by & LM_TOPICS_BY_OUTSIDE) == 0,
                      "%s dedupes by offset, but \"%s\" is written from "
                      "outside lastmile",
                      w->name, w->input);
        cr_assert_not_null(w->outputs, "%s", w->name);
        for (k = 0; w->outputs[k] != NULL; k++) {
            const lm_topic *out = lm_topics_find(w->outputs[k]);

            cr_assert_not_null(out, "%s writes \"%s\", not in the table",
                               w->name, w->outputs[k]);
            cr_expect(listed(out->writers, w->name),
                      "%s writes \"%s\" but is not among its writers in "
                      "lm_topics.c",
                      w->name, w->outputs[k]);
        }
    }
    for (i = 0; i < LM_TOPICS_COUNT; i++)
        readers += lm_topics[i].reader != NULL;
    cr_expect_eq(readers, sizeof workers / sizeof workers[0],
                 "every topic with a reader is one worker's input");
}

Test(topics, lookups) {
    cr_expect_eq(lm_topics_type("intake"),
                 &lastmile__v1__lead_submitted__descriptor);
    cr_expect_eq(lm_topics_type("dlq"), &lastmile__v1__dead_letter__descriptor);
    cr_expect_eq(lm_topics_find("outcomes"), &lm_topics[5]);
    cr_expect_null(lm_topics_find("lastmile.intake")); /* suffixes only */
    cr_expect_null(lm_topics_find(""));
    cr_expect_null(lm_topics_find(NULL));
    cr_expect_null(lm_topics_type("nope"));
}
