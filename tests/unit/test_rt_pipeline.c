/* test_rt_pipeline.c — overlapped batches (common/runtime/lm_rt_pipeline.c):
 * a batch parked in flight keeps its records, and a delivery report finds
 * its record whether its batch is parked or live, never the next batch's
 * record at the same index. The waiting and committing need a broker:
 * tests/stack/test_crash_windows.c covers them. No Redis, no Kafka. */
#include "lm_rt_internal.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static lm_runtime rt;
static int forgotten;

static void forget(lm_runtime *r) {
    (void)r;
    forgotten++;
}

static const rt_dedupe_ops fake_dedupe = {.what = "nothing", .forget = forget};

static void setup(void) {
    memset(&rt, 0, sizeof(rt));
    rt.dedupe = &fake_dedupe;
    rt.overlap = 1;
    rt.n_topics = 1;
    forgotten = 0;
}

static void teardown(void) {
    free(rt.recs);
    free(rt.items);
    free(rt.counts);
    lm_buf_free(&rt.recbuf);
    lm_pipe_free(&rt.writes);
    lm_pipe_free(&rt.index);
    rt_pipeline_free(&rt);
}

/* Appends an output of `key` to the live batch (partition 0). */
static void rec_add(const char *key) {
    cr_assert_eq(rt_rec_add(&rt, -1, 0, key, strlen(key), "v", 1, key,
                            strlen(key), 0, 0),
                 0);
}

TestSuite(rt_pipeline, .init = setup, .fini = teardown);

Test(rt_pipeline, a_parked_batch_keeps_its_records) {
    rec_add("first-batch-a");
    rec_add("first-batch-bb");
    void *a = rt_delivery_opaque(&rt, 0), *b = rt_delivery_opaque(&rt, 1);
    cr_assert_eq(rt_delivery_rec(&rt, a), &rt.recs[0]);
    cr_assert_eq(rt_batch_after_produce(&rt), 0);
    cr_expect(rt_inflight(&rt));
    cr_expect_eq(forgotten, 1, "the batch's reads were not forgotten");
    cr_expect_eq(rt.n_recs, 0, "the next batch starts with no records");
    cr_expect_eq(rt.recbuf.len, 0);
    const rt_rec *ra = rt_delivery_rec(&rt, a), *rb = rt_delivery_rec(&rt, b);
    cr_assert(ra && rb, "the parked batch's records are gone");
    cr_expect_eq(ra->key_len, strlen("first-batch-a"));
    cr_expect_eq(rb->key_len, strlen("first-batch-bb"));
}

Test(rt_pipeline, a_report_never_finds_the_next_batchs_record) {
    rec_add("first");
    void *first = rt_delivery_opaque(&rt, 0);
    cr_assert_eq(rt_batch_after_produce(&rt), 0);
    rec_add("second-batch"); /* the same index, in the next batch */
    void *second = rt_delivery_opaque(&rt, 0);
    cr_expect_neq(first, second);
    cr_expect_eq(rt_delivery_rec(&rt, second), &rt.recs[0]);
    const rt_rec *r = rt_delivery_rec(&rt, first);
    cr_assert(r);
    cr_expect_neq(r, &rt.recs[0],
                  "a report of the parked batch found the "
                  "next batch's record");
    cr_expect_eq(r->key_len, strlen("first"));
    /* past the batch's records: none */
    cr_expect_null(rt_delivery_rec(&rt, rt_delivery_opaque(&rt, 5)));
}

Test(rt_pipeline, with_nothing_in_flight_settling_does_nothing) {
    cr_expect_not(rt_inflight(&rt));
    cr_expect_eq(rt_inflight_settle(&rt), 0); /* none: nothing to do */
}

/* A batch that watched every fence (its replica held every partition)
 * INCRs exactly those, whatever rt->every_partition says at the write.
 * Found in review: the write counted them again from it, and at 0 (a
 * revocation) it would INCR none, which the transaction's builder reads
 * as "nothing to apply". The runtime runs the rebalance callback only
 * when it takes a batch, never between a batch's two round trips, so
 * that did not happen; the count is the attempt's now all the same. */
Test(rt_pipeline, a_batch_that_watched_every_fence_increments_them_all) {
    lm_worker w = {.name = "intake"};
    rt.w = &w;
    snprintf(rt.input_topic, sizeof(rt.input_topic), "lastmile.intake");
    rt.claims = 1;
    rt.watch_all = 3;       /* round trip 1 watched three fences */
    rt.every_partition = 0; /* then the partitions were revoked */
    rt.n_fences = 1;
    rt.fences[0] = 2;
    cr_assert_eq(rt_dedupe_by_id.pipe_fences(&rt, 1, 0), 3);
    cr_expect_eq(rt.pipe.n, 3);
    cr_expect(
        strstr(rt.pipe.buf.data, "lm:{fence}:intake:lastmile.intake:0") &&
            strstr(rt.pipe.buf.data, "lm:{fence}:intake:lastmile.intake:1"),
        "every watched fence is incremented");
    rt.watch_all = 0; /* watched its claims: its own fences only */
    lm_pipe_reset(&rt.pipe);
    cr_assert_eq(rt_dedupe_by_id.pipe_fences(&rt, 1, 0), 1);
    cr_expect(strstr(rt.pipe.buf.data, "lm:{fence}:intake:lastmile.intake:2"));
    lm_pipe_free(&rt.pipe);
}
