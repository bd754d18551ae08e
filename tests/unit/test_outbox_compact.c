/* test_outbox_compact.c — outboxes without the bytes the input gives back
 * (lm_worker.outbox_compact / outbox_expand; lm_rt_outbox.c; docs/
 * DELIVERY.md "What an outbox holds").
 *
 * Three layers: lm_pbwire's cut and put of one field; the workers' hooks
 * (qualification: a decision without its lead; intake: a LeadAccepted as
 * its accepted_at_ms) giving back the very bytes from the same input and
 * other bytes from another; and the runtime's outbox, packed compacted
 * and restored byte for byte from the redelivered input, or not at all
 * (logged, counted) when that input does not rebuild it. No Kafka, no
 * Redis. */
#include "intake.h"
#include "intake_outbox.h"
#include "lm_pbwire.h"
#include "lm_recorder.h"
#include "lm_rt_internal.h"
#include "qual_outbox.h"
#include "qualification.h"
#include "worker_testutil.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define NOW_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

/* ------------------------------------------------------------ helpers */

static Lastmile__V1__LeadAccepted__AttributesEntry attr = {
    PROTOBUF_C_MESSAGE_INIT(
        &lastmile__v1__lead_accepted__attributes_entry__descriptor),
    "demo_requested", "1"};
static Lastmile__V1__LeadAccepted__AttributesEntry *attrs[] = {&attr};

static Lastmile__V1__LeadAccepted accepted(const char *name) {
    Lastmile__V1__LeadAccepted l = LASTMILE__V1__LEAD_ACCEPTED__INIT;
    l.lead_id = "p1a2b3c4d5e6f7a8-0011223344556677";
    l.event_id = "ev-1";
    l.source = "web";
    l.email = "ada@example.com";
    l.email_domain = "example.com";
    l.full_name = (char *)name;
    l.company = "Analytical";
    l.title = "CEO";
    l.company_size = 60;
    l.country = "GB";
    l.timezone = "Europe/London";
    l.submitted_at_ms = NOW_MS - 60000;
    l.accepted_at_ms = NOW_MS - 30000;
    l.n_attributes = 1;
    l.attributes = attrs;
    return l;
}

/* Packs msg into a malloc'd buffer (caller frees). */
static uint8_t *pack(const ProtobufCMessage *msg, size_t *len) {
    uint8_t *b = lm_pb_pack(msg, len);
    cr_assert_not_null(b);
    return b;
}

/* A decision on lastmile.followup as qualification emits it: the lead is
 * the decoded input. Packed into a malloc'd buffer. */
static uint8_t *decision_event(const Lastmile__V1__LeadAccepted *lead,
                               size_t *len) {
    Lastmile__V1__Reason r = LASTMILE__V1__REASON__INIT;
    r.feature = "attr:demo_requested";
    r.contribution = 1.25;
    Lastmile__V1__Reason *rp[] = {&r};
    Lastmile__V1__QualificationDecision d =
        LASTMILE__V1__QUALIFICATION_DECISION__INIT;
    d.decision_id = "p1:decision";
    d.lead_id = lead->lead_id;
    d.score = 0.83;
    d.kind = LASTMILE__V1__DECISION_KIND__QUALIFIED;
    d.n_reasons = 1;
    d.reasons = rp;
    d.owner = "olivia";
    d.team = "emea";
    d.next_step = "hot cadence: email (step 1 of 4) by olivia";
    d.model_version = "builtin-1";
    d.decided_at_ms = NOW_MS;
    d.lead = (Lastmile__V1__LeadAccepted *)lead;
    d.segment = "EMEA/mid";
    d.shadow_score = 0.5;
    d.shadow_model_version = "cand-2";
    Lastmile__V1__FollowUpEvent ev = LASTMILE__V1__FOLLOW_UP_EVENT__INIT;
    ev.event_case = LASTMILE__V1__FOLLOW_UP_EVENT__EVENT_DECISION;
    ev.decision = &d;
    return pack(&ev.base, len);
}

static lm_outbox_input input_of(const ProtobufCMessage *event,
                                const lm_ident *ident, const uint8_t *raw,
                                size_t raw_len) {
    lm_outbox_input in = {event, ident, raw, raw_len};
    return in;
}

/* ------------------------------------------------------------ pbwire */

TestSuite(pbwire);

Test(pbwire, a_cut_then_a_put_gives_back_the_message) {
    Lastmile__V1__LeadAccepted l = accepted("Ada Byron");
    size_t raw_len, ev_len;
    uint8_t *raw = pack(&l.base, &raw_len);
    uint8_t *ev = decision_event(&l, &ev_len);
    static const uint32_t path[] = {1, 11};
    lm_buf cut = {0}, back = {0};
    cr_assert_eq(lm_pbwire_cut(ev, ev_len, path, 2, raw, raw_len, &cut), 1);
    cr_expect_lt(cut.len + raw_len, ev_len, "the lead's bytes are gone");
    cr_assert_eq(lm_pbwire_put((const uint8_t *)cut.data, cut.len, path, 2, raw,
                               raw_len, &back),
                 0);
    cr_assert_eq(back.len, ev_len);
    cr_expect(memcmp(back.data, ev, ev_len) == 0, "byte for byte");
    /* the field is there: a second put is refused, out left as it was */
    size_t was = back.len;
    cr_expect_eq(lm_pbwire_put((const uint8_t *)back.data, back.len, path, 2,
                               raw, raw_len, &back),
                 -1);
    cr_expect_eq(back.len, was);
    lm_buf_free(&cut);
    lm_buf_free(&back);
    free(raw);
    free(ev);
}

Test(pbwire, another_payload_or_a_malformed_message_is_not_cut) {
    Lastmile__V1__LeadAccepted l = accepted("Ada Byron");
    Lastmile__V1__LeadAccepted other = accepted("Ada Lovelace");
    size_t raw_len, other_len, ev_len;
    uint8_t *raw = pack(&l.base, &raw_len);
    uint8_t *oraw = pack(&other.base, &other_len);
    uint8_t *ev = decision_event(&l, &ev_len);
    static const uint32_t path[] = {1, 11};
    lm_buf out = {0};
    cr_expect_eq(lm_pbwire_cut(ev, ev_len, path, 2, oraw, other_len, &out), 0);
    cr_expect_eq(lm_pbwire_cut(ev, ev_len - 3, path, 2, raw, raw_len, &out), 0,
                 "truncated");
    static const uint32_t nowhere[] = {2, 11}; /* not a next_touch */
    cr_expect_eq(lm_pbwire_cut(ev, ev_len, nowhere, 2, raw, raw_len, &out), 0);
    cr_expect_eq(lm_pbwire_cut(ev, ev_len, path, 0, raw, raw_len, &out), -1,
                 "no path");
    cr_expect_eq(out.len, 0, "nothing appended");
    uint64_t v = 0;
    cr_expect_eq(lm_pbwire_varint(raw, raw_len, 14, &v), 0);
    cr_expect_eq((int64_t)v, NOW_MS - 30000);
    cr_expect_eq(lm_pbwire_varint(raw, raw_len, 16, &v), 1, "not there");
    cr_expect_eq(lm_pbwire_varint(raw, raw_len, 1, &v), -1, "a string");
    const uint8_t *p = NULL;
    size_t n = 0;
    cr_expect_eq(lm_pbwire_bytes(raw, raw_len, 1, &p, &n), 0, "the lead id");
    cr_expect(n == strlen(l.lead_id) && memcmp(p, l.lead_id, n) == 0);
    cr_expect_eq(lm_pbwire_bytes(raw, raw_len, 17, &p, &n), 1, "not there");
    cr_expect_eq(lm_pbwire_bytes(raw, raw_len, 14, &p, &n), -1, "a varint");
    cr_expect_eq(lm_pbwire_bytes(raw, raw_len - 1, 1, &p, &n), -1, "truncated");
    lm_buf_free(&out);
    free(raw);
    free(oraw);
    free(ev);
}

Test(pbwire, any_prefix_or_flipped_byte_is_read_safely) {
    Lastmile__V1__LeadAccepted l = accepted("Ada Byron");
    size_t raw_len, ev_len;
    uint8_t *raw = pack(&l.base, &raw_len);
    uint8_t *ev = decision_event(&l, &ev_len);
    uint8_t *m = malloc(ev_len);
    cr_assert_not_null(m);
    static const uint32_t path[] = {1, 11};
    lm_buf out = {0};
    uint64_t v;
    for (size_t n = 0; n <= ev_len; n++) { /* every prefix */
        int rc = lm_pbwire_cut(ev, n, path, 2, raw, raw_len, &out);
        cr_expect(rc == 0 || (rc == 1 && n == ev_len), "prefix %zu: %d", n, rc);
        lm_buf_reset(&out);
        (void)lm_pbwire_put(ev, n, path, 2, raw, raw_len, &out);
        lm_buf_reset(&out);
        cr_expect_leq(lm_pbwire_varint(ev, n, 4, &v), 1);
        const uint8_t *p;
        size_t pn;
        cr_expect_leq(lm_pbwire_bytes(ev, n, 1, &p, &pn), 1);
    }
    for (size_t i = 0; i < ev_len; i++) /* every byte, each bit flipped */
        for (int bit = 0; bit < 8; bit++) {
            memcpy(m, ev, ev_len);
            m[i] ^= (uint8_t)(1u << bit);
            int rc = lm_pbwire_cut(m, ev_len, path, 2, raw, raw_len, &out);
            cr_expect(rc == 0 || rc == 1, "byte %zu bit %d: %d", i, bit, rc);
            lm_buf_reset(&out);
            (void)lm_pbwire_put(m, ev_len, path, 2, raw, raw_len, &out);
            lm_buf_reset(&out);
            (void)lm_pbwire_varint(m, ev_len, 4, &v);
            const uint8_t *p;
            size_t pn;
            if (lm_pbwire_bytes(m, ev_len, 1, &p, &pn) == 0)
                cr_expect(p >= m && pn <= ev_len - (size_t)(p - m),
                          "byte %zu bit %d: outside the message", i, bit);
        }
    lm_buf_free(&out);
    free(m);
    free(raw);
    free(ev);
}

/* ------------------------------------------------ qualification's hooks */

TestSuite(qual_outbox);

Test(qual_outbox, a_decision_is_kept_without_its_lead_and_rebuilt) {
    Lastmile__V1__LeadAccepted l = accepted("Ada Byron");
    size_t raw_len, ev_len;
    uint8_t *raw = pack(&l.base, &raw_len);
    uint8_t *ev = decision_event(&l, &ev_len);
    lm_outbox_input in = input_of(&l.base, NULL, raw, raw_len);
    lm_buf c = {0}, back = {0};
    cr_assert_eq(qual_outbox_compact(NULL, &in, "followup", ev, ev_len, &c), 1);
    cr_expect_lt(c.len, ev_len - raw_len, "%zu of %zu bytes kept", c.len,
                 ev_len);
    /* what a restore without the rebuild would produce: no lead */
    Lastmile__V1__FollowUpEvent *bare = lastmile__v1__follow_up_event__unpack(
        NULL, c.len, (const uint8_t *)c.data);
    cr_assert_not_null(bare);
    cr_assert_not_null(bare->decision);
    cr_expect_null(bare->decision->lead, "the compacted decision has no lead");
    cr_expect_str_eq(bare->decision->owner, "olivia");
    lastmile__v1__follow_up_event__free_unpacked(bare, NULL);
    cr_assert_eq(qual_outbox_expand(NULL, &in, "followup",
                                    (const uint8_t *)c.data, c.len, &back),
                 0);
    cr_assert_eq(back.len, ev_len);
    cr_expect(memcmp(back.data, ev, ev_len) == 0, "byte for byte");
    lm_buf_free(&c);
    lm_buf_free(&back);
    free(raw);
    free(ev);
}

Test(qual_outbox, an_outcome_or_a_lead_not_the_input_is_kept_whole) {
    Lastmile__V1__LeadAccepted l = accepted("Ada Byron");
    Lastmile__V1__LeadAccepted other = accepted("Ada Lovelace");
    size_t raw_len, ev_len;
    uint8_t *raw = pack(&l.base, &raw_len);
    uint8_t *ev = decision_event(&other, &ev_len);
    lm_outbox_input in = input_of(&l.base, NULL, raw, raw_len);
    lm_buf c = {0};
    cr_expect_eq(qual_outbox_compact(NULL, &in, "followup", ev, ev_len, &c), 0);
    cr_expect_eq(qual_outbox_compact(NULL, &in, "outcomes", ev, ev_len, &c), 0);
    cr_expect_eq(c.len, 0);
    lm_buf_free(&c);
    free(raw);
    free(ev);
}

/* ------------------------------------------------------ intake's hooks */

static lm_recorder *rec;

static void intake_setup(void) {
    rec = worker_test_start(&lm_intake_worker);
}

static void intake_teardown(void) {
    worker_test_stop(&lm_intake_worker, rec);
}

TestSuite(intake_outbox, .init = intake_setup, .fini = intake_teardown);

static Lastmile__V1__LeadSubmitted submitted(const char *name) {
    Lastmile__V1__LeadSubmitted in = LASTMILE__V1__LEAD_SUBMITTED__INIT;
    in.event_id = "ev-1";
    in.source = "web";
    in.email = " Ada@Example.COM ";
    in.full_name = (char *)name;
    in.company = "Analytical";
    in.title = "VP Engineering";
    in.country = "GB";
    in.phone = "020 7946 0018";
    in.company_size = 60;
    in.submitted_at_ms = NOW_MS - 1000;
    in.n_attributes = 1;
    in.attributes = (Lastmile__V1__LeadSubmitted__AttributesEntry **)attrs;
    return in;
}

/* Decides `in` as a person's first lead; its LeadAccepted's bytes (a
 * malloc'd copy) and its ident with its scratch (a copy: the recorder's
 * goes with its next message) for the hooks. */
static uint8_t *intake_output(const Lastmile__V1__LeadSubmitted *in,
                              lm_ident_room *room, size_t *len) {
    lm_recorder_reset(rec);
    lm_recorder_reply_nil(rec);
    cr_assert_eq(lm_recorder_handle(rec, &lm_intake_worker, &in->base, NOW_MS),
                 0);
    cr_assert_eq(lm_recorder_n_emits(rec), 1);
    const lm_recorded_emit *e = lm_recorder_emit(rec, 0);
    const lm_ident *id = lm_recorder_ident(rec);
    lm_ident_room_init(room);
    memcpy(room->ident.id, id->id, sizeof(id->id));
    memcpy(room->ident.tag, id->tag, sizeof(id->tag));
    memcpy(room->scratch, id->scratch, sizeof(lm_intake_norm));
    *len = e->len;
    uint8_t *b = malloc(e->len);
    cr_assert_not_null(b);
    memcpy(b, e->data, e->len);
    return b;
}

/* its time and intake's wait kept, every other byte rebuilt: a wait of
 * 0 ms (an empty Millis, 2 bytes) and one of 1234567 ms (its varint too) */
Test(intake_outbox, a_lead_accepted_is_kept_as_its_time_and_rebuilt) {
    static const int64_t waits[] = {0, 1234567};
    static const size_t most[] = {10, 14}; /* 7 + 3 (+ 4: the ms) */
    for (size_t w = 0; w < 2; w++) {
        lm_recorder_set_times(rec, -1, waits[w]);
        Lastmile__V1__LeadSubmitted in = submitted("Ada Byron");
        lm_ident_room room;
        size_t len, raw_len;
        uint8_t *out = intake_output(&in, &room, &len);
        uint8_t *raw = pack(&in.base, &raw_len);
        lm_outbox_input oi = input_of(&in.base, &room.ident, raw, raw_len);
        lm_buf c = {0}, back = {0};
        cr_assert_eq(
            intake_outbox_compact(NULL, &oi, "qualification", out, len, &c), 1);
        cr_expect_leq(c.len, most[w],
                      "accepted_at_ms and intake_wait alone: %zu bytes of %zu",
                      c.len, len);
        cr_assert_eq(intake_outbox_expand(NULL, &oi, "qualification",
                                          (const uint8_t *)c.data, c.len,
                                          &back),
                     0);
        cr_assert_eq(back.len, len, "wait %lld", (long long)waits[w]);
        cr_expect(memcmp(back.data, out, len) == 0, "byte for byte");
        Lastmile__V1__LeadAccepted *a = lastmile__v1__lead_accepted__unpack(
            NULL, back.len, (const uint8_t *)back.data);
        cr_assert(a && a->intake_wait);
        cr_expect_eq(a->intake_wait->ms, waits[w]);
        lastmile__v1__lead_accepted__free_unpacked(a, NULL);
        lm_buf_free(&c);
        lm_buf_free(&back);
        free(out);
        free(raw);
    }
}

Test(intake_outbox, a_lead_accepted_is_named_by_its_input) {
    Lastmile__V1__LeadSubmitted in = submitted("Ada Byron");
    lm_ident_room room;
    size_t len;
    uint8_t *out = intake_output(&in, &room, &len);
    lm_outbox_input oi = input_of(&in.base, &room.ident, NULL, 0);
    char key[LM_ID_MAX], id[LM_ID_MAX];
    cr_assert_eq(intake_outbox_names(NULL, &oi, "qualification", key, id), 0);
    const lm_recorded_emit *e = lm_recorder_emit(rec, 0);
    cr_expect_str_eq(key, e->key, "the lead id");
    cr_expect_str_eq(id, e->id);
    cr_expect_eq(intake_outbox_names(NULL, &oi, "dlq", key, id), -1);
    free(out);
}

Test(intake_outbox, a_repeat_with_other_bytes_rebuilds_another_output) {
    Lastmile__V1__LeadSubmitted in = submitted("Ada Byron");
    Lastmile__V1__LeadSubmitted again = submitted("Ada Lovelace");
    lm_ident_room room, room2;
    size_t len, len2;
    uint8_t *out = intake_output(&in, &room, &len);
    uint8_t *out2 = intake_output(&again, &room2, &len2);
    cr_assert_str_eq(room.ident.id, room2.ident.id, "the same event id");
    lm_outbox_input oi = input_of(&in.base, &room.ident, NULL, 0);
    lm_outbox_input oi2 = input_of(&again.base, &room2.ident, NULL, 0);
    lm_buf c = {0}, back = {0};
    cr_assert_eq(
        intake_outbox_compact(NULL, &oi, "qualification", out, len, &c), 1);
    cr_assert_eq(intake_outbox_expand(NULL, &oi2, "qualification",
                                      (const uint8_t *)c.data, c.len, &back),
                 0);
    cr_expect(back.len != len || memcmp(back.data, out, len) != 0,
              "another input rebuilds another output (the runtime's hash "
              "catches it)");
    lm_buf_free(&c);
    lm_buf_free(&back);
    free(out);
    free(out2);
}

/* --------------------------------------- the runtime's outbox, restored */

static lm_runtime rt;
static rt_item items[1];
static rd_kafka_message_t rkm;
static int64_t known_end[1];
static lm_worker worker;

static void rt_setup(void) {
    memset(&rt, 0, sizeof(rt));
    memset(items, 0, sizeof(items));
    memset(&rkm, 0, sizeof(rkm));
    worker = lm_qualification_worker;
    rt.w = &worker;
    rt.items = items;
    rt.n_items = 1;
    rt.metrics = lm_metrics_new();
    cr_assert_not_null(rt.metrics);
    rt.n_topics = 2;
    snprintf(rt.topics[0].suffix, sizeof(rt.topics[0].suffix), "followup");
    snprintf(rt.topics[0].name, sizeof(rt.topics[0].name), "lastmile.followup");
    snprintf(rt.topics[1].suffix, sizeof(rt.topics[1].suffix), "dlq");
    snprintf(rt.topics[1].name, sizeof(rt.topics[1].name), "lastmile.dlq");
    for (int t = 0; t < 2; t++) {
        rt.topics[t].partitions = 1;
        rt.topics[t].known_end = known_end;
    }
    rt.dlq_topic = 1;
}

static void rt_teardown(void) {
    free(rt.recs);
    lm_buf_free(&rt.recbuf);
    lm_buf_free(&rt.obbuf);
    lm_metrics_destroy(rt.metrics);
}

TestSuite(rt_outbox, .init = rt_setup, .fini = rt_teardown);

/* Item 0 is the input `l` (its bytes in *raw, malloc'd) with one output,
 * the decision `ev`. */
static void item_with_decision(Lastmile__V1__LeadAccepted *l, uint8_t **raw,
                               size_t *raw_len, const uint8_t *ev,
                               size_t ev_len) {
    *raw = pack(&l->base, raw_len);
    rkm.payload = *raw;
    rkm.len = *raw_len;
    rkm.offset = 7;
    items[0].rkm = &rkm;
    items[0].event = &l->base;
    items[0].rec_first = rt.n_recs;
    cr_assert_eq(
        rt_rec_add(&rt, 0, 0, "p1", 2, ev, ev_len, "p1:decision", 11, 0, 3), 0);
    items[0].rec_n = 1;
}

/* Packs item 0's outbox, forgets the batch, restores item 0 from it. */
static void pack_and_restore(lm_buf *ob) {
    cr_assert_eq(rt_outbox_pack(&rt, &items[0], ob, NOW_MS), 0);
    lm_buf copy = {0};
    cr_assert_geq(lm_buf_append(&copy, ob->data, ob->len), 0);
    rt.n_recs = 0;
    lm_buf_reset(&rt.recbuf);
    cr_assert_eq(rt_outbox_restore(&rt, &items[0], copy.data, copy.len), 0);
    lm_buf_free(&copy);
}

static uint64_t not_rebuilt(void) {
    return lm_counter_value(
        lm_metrics_counter(rt.metrics, "lastmile_outbox_not_rebuilt_total",
                           "lastmile_outbox_not_rebuilt_total", NULL));
}

Test(rt_outbox, a_fenced_decision_is_restored_byte_for_byte) {
    Lastmile__V1__LeadAccepted l = accepted("Ada Byron");
    size_t raw_len, ev_len;
    uint8_t *raw;
    uint8_t *ev = decision_event(&l, &ev_len);
    item_with_decision(&l, &raw, &raw_len, ev, ev_len);
    lm_buf ob = {0};
    cr_assert_eq(rt_outbox_pack(&rt, &items[0], &ob, NOW_MS), 0);
    Lastmile__V1__Internal__Outbox *o = lastmile__v1__internal__outbox__unpack(
        NULL, ob.len, (const uint8_t *)ob.data);
    cr_assert_not_null(o);
    cr_assert_eq(o->n_records, 1);
    cr_expect_neq(o->records[0]->compacted, 0, "kept compacted");
    cr_expect_lt(o->records[0]->value.len, ev_len - raw_len);
    lastmile__v1__internal__outbox__free_unpacked(o, NULL);

    pack_and_restore(&ob);
    cr_assert_eq(items[0].rec_n, 1, "the output is restored");
    const rt_rec *r = &rt.recs[items[0].rec_first];
    cr_assert_eq(r->val_len, ev_len, "the decision with its lead again");
    cr_expect(memcmp(rt.recbuf.data + r->val_off, ev, ev_len) == 0,
              "byte for byte");
    cr_expect_eq(r->state, RT_REC_TO_PRODUCE);
    cr_expect_eq(not_rebuilt(), 0);
    lm_buf_free(&ob);
    free(raw);
    free(ev);
}

Test(rt_outbox, an_output_another_input_would_rebuild_is_not_produced) {
    Lastmile__V1__LeadAccepted l = accepted("Ada Byron");
    size_t raw_len, ev_len;
    uint8_t *raw;
    uint8_t *ev = decision_event(&l, &ev_len);
    item_with_decision(&l, &raw, &raw_len, ev, ev_len);
    lm_buf ob = {0};
    cr_assert_eq(rt_outbox_pack(&rt, &items[0], &ob, NOW_MS), 0);
    /* the same offset redelivered with other bytes */
    Lastmile__V1__LeadAccepted other = accepted("Ada Lovelace");
    size_t other_len;
    uint8_t *oraw = pack(&other.base, &other_len);
    rkm.payload = oraw;
    rkm.len = other_len;
    items[0].event = &other.base;
    rt.n_recs = 0;
    cr_assert_eq(rt_outbox_restore(&rt, &items[0], ob.data, ob.len), 0);
    cr_expect_eq(items[0].rec_n, 0, "no output rather than a wrong one");
    cr_expect_eq(not_rebuilt(), 1, "counted");
    lm_buf_free(&ob);
    free(raw);
    free(oraw);
    free(ev);
}

Test(rt_outbox, a_worker_without_hooks_keeps_outputs_whole) {
    worker.outbox_compact = NULL;
    worker.outbox_expand = NULL;
    Lastmile__V1__LeadAccepted l = accepted("Ada Byron");
    size_t raw_len, ev_len;
    uint8_t *raw;
    uint8_t *ev = decision_event(&l, &ev_len);
    item_with_decision(&l, &raw, &raw_len, ev, ev_len);
    lm_buf ob = {0};
    pack_and_restore(&ob);
    cr_assert_eq(items[0].rec_n, 1);
    const rt_rec *r = &rt.recs[items[0].rec_first];
    cr_assert_eq(r->val_len, ev_len);
    cr_expect(memcmp(rt.recbuf.data + r->val_off, ev, ev_len) == 0);
    lm_buf_free(&ob);
    free(raw);
    free(ev);
}

Test(rt_outbox, a_compacted_outbox_without_expand_is_not_produced) {
    Lastmile__V1__LeadAccepted l = accepted("Ada Byron");
    size_t raw_len, ev_len;
    uint8_t *raw;
    uint8_t *ev = decision_event(&l, &ev_len);
    item_with_decision(&l, &raw, &raw_len, ev, ev_len);
    lm_buf ob = {0};
    cr_assert_eq(rt_outbox_pack(&rt, &items[0], &ob, NOW_MS), 0);
    worker.outbox_expand = NULL; /* a version that cannot read it */
    rt.n_recs = 0;
    cr_assert_eq(rt_outbox_restore(&rt, &items[0], ob.data, ob.len), 0);
    cr_expect_eq(items[0].rec_n, 0, "not a decision without its lead");
    cr_expect_eq(not_rebuilt(), 1);
    lm_buf_free(&ob);
    free(raw);
    free(ev);
}

/* ------------------------------ names the input gives (outbox_names) */

/* What test_names gives: item_with_decision's names, or others. */
static const char *names_key = "p1", *names_id = "p1:decision";

static int test_names(void *ctx, const lm_outbox_input *in,
                      const char *topic_suffix, char *key, char *id) {
    (void)ctx;
    (void)in;
    if (strcmp(topic_suffix, "followup") != 0)
        return -1;
    snprintf(key, LM_ID_MAX, "%s", names_key);
    snprintf(id, LM_ID_MAX, "%s", names_id);
    return 0;
}

/* The packed outbox's only record (the caller frees the Outbox). */
static Lastmile__V1__Internal__Outbox *packed_outbox(lm_buf *ob) {
    cr_assert_eq(rt_outbox_pack(&rt, &items[0], ob, NOW_MS), 0);
    Lastmile__V1__Internal__Outbox *o = lastmile__v1__internal__outbox__unpack(
        NULL, ob->len, (const uint8_t *)ob->data);
    cr_assert(o && o->n_records == 1);
    return o;
}

/* Item 0 with a decision named "p1" / "p1:decision", and a worker whose
 * outbox_names gives key and id (test_names) when packing. */
typedef struct named_case {
    Lastmile__V1__LeadAccepted l;
    uint8_t *raw, *ev;
    size_t raw_len, ev_len;
} named_case;

static void named_case_start(named_case *c, const char *key, const char *id) {
    worker.outbox_names = test_names;
    names_key = key;
    names_id = id;
    c->l = accepted("Ada Byron");
    c->ev = decision_event(&c->l, &c->ev_len);
    item_with_decision(&c->l, &c->raw, &c->raw_len, c->ev, c->ev_len);
}

static void named_case_end(named_case *c) {
    free(c->raw);
    free(c->ev);
}

Test(rt_outbox, an_output_the_input_names_is_kept_without_key_and_id) {
    named_case c;
    named_case_start(&c, "p1", "p1:decision");
    lm_buf ob = {0};
    Lastmile__V1__Internal__Outbox *o = packed_outbox(&ob);
    cr_expect(o->records[0]->named);
    cr_expect_eq(o->records[0]->key.len, 0, "no key kept");
    cr_expect_str_empty(o->records[0]->id, "no id kept");
    lastmile__v1__internal__outbox__free_unpacked(o, NULL);

    pack_and_restore(&ob);
    cr_assert_eq(items[0].rec_n, 1, "the output is restored");
    const rt_rec *r = &rt.recs[items[0].rec_first];
    cr_expect_eq(r->key_len, 2);
    cr_expect(memcmp(rt.recbuf.data + r->key_off, "p1", 2) == 0);
    cr_expect_str_eq(rt.recbuf.data + r->id_off, "p1:decision");
    cr_assert_eq(r->val_len, c.ev_len);
    cr_expect(memcmp(rt.recbuf.data + r->val_off, c.ev, c.ev_len) == 0);
    cr_expect_eq(not_rebuilt(), 0);
    lm_buf_free(&ob);
    named_case_end(&c);
}

Test(rt_outbox, other_names_from_the_input_are_not_produced) {
    named_case c;
    named_case_start(&c, "p1", "p1:decision");
    lm_buf ob = {0};
    cr_assert_eq(rt_outbox_pack(&rt, &items[0], &ob, NOW_MS), 0);
    names_id = "p1:another"; /* the redelivered input names it otherwise */
    rt.n_recs = 0;
    lm_buf_reset(&rt.recbuf);
    cr_assert_eq(rt_outbox_restore(&rt, &items[0], ob.data, ob.len), 0);
    cr_expect_eq(items[0].rec_n, 0, "no output under another id");
    cr_expect_eq(not_rebuilt(), 1, "counted");
    lm_buf_free(&ob);
    named_case_end(&c);
}

Test(rt_outbox, an_output_named_otherwise_keeps_its_key_and_id) {
    named_case c;
    named_case_start(&c, "p2", "p1:decision"); /* another key: kept */
    lm_buf ob = {0};
    Lastmile__V1__Internal__Outbox *o = packed_outbox(&ob);
    cr_expect_not(o->records[0]->named);
    cr_expect_eq(o->records[0]->key.len, 2);
    cr_expect_str_eq(o->records[0]->id, "p1:decision");
    cr_expect_neq(o->records[0]->compacted, 0, "still compacted");
    lastmile__v1__internal__outbox__free_unpacked(o, NULL);
    lm_buf_free(&ob);
    named_case_end(&c);
}
