/* simrun.c — the simulated market's I/O loop (see simrun.h).
 *
 * One thread: publish due leads, take actions, release due answers, draw
 * progress. Answers wait in a min-heap ordered by when they occur. With a
 * shared clock it owns, the same thread runs bullet time
 * (simrun_bullet.h): it also reads lastmile.followup and .outcomes then. */
#include "simrun.h"
#include "sim_owners.h"

#include "lm_clock.h"
#include "lm_hash.h"
#include "lm_kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIMRUN_POLL_MS 10
#define SIMRUN_BATCH   2000
#define SIMRUN_WARM_MS 5000 /* the intake topic's metadata, first */

typedef struct pending {
    int64_t at;
    char lead_id[40];
    char action_id[96];
    Lastmile__V1__ResponseKind kind;
    int64_t deal;
    int deal_result; /* the CRM's, after a hand-off */
} pending;

typedef struct heap {
    pending *v;
    size_t n, cap;
} heap;

static int heap_push(heap *h, const pending *p) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        pending *v = realloc(h->v, cap * sizeof(*v));
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    h->v[i] = *p;
    while (i > 0 && h->v[(i - 1) / 2].at > h->v[i].at) {
        pending t = h->v[i];
        h->v[i] = h->v[(i - 1) / 2];
        h->v[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    return 0;
}

static void heap_pop(heap *h) {
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->v[l].at < h->v[m].at)
            m = l;
        if (r < h->n && h->v[r].at < h->v[m].at)
            m = r;
        if (m == i)
            break;
        pending t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
}

/* A set of lead ids (the ones already answered: one answer per lead;
 * the ones that replied: their hand-off gets a deal result). */
typedef struct idset {
    char (*k)[40];
    size_t n, cap;
} idset;

static int idset_add(idset *s, const char *id) {
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        char(*k)[40] = calloc(cap, 40);
        if (!k)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->k[i][0]) {
                size_t j = (size_t)lm_hash64_str(s->k[i], 5) & (cap - 1);
                while (k[j][0])
                    j = (j + 1) & (cap - 1);
                memcpy(k[j], s->k[i], 40);
            }
        free(s->k);
        s->k = k;
        s->cap = cap;
    }
    size_t j = (size_t)lm_hash64_str(id, 5) & (s->cap - 1);
    while (s->k[j][0]) {
        if (strcmp(s->k[j], id) == 0)
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    snprintf(s->k[j], 40, "%s", id);
    s->n++;
    return 1;
}

static int idset_has(const idset *s, const char *id) {
    if (s->cap == 0)
        return 0;
    size_t j = (size_t)lm_hash64_str(id, 5) & (s->cap - 1);
    while (s->k[j][0]) {
        if (strcmp(s->k[j], id) == 0)
            return 1;
        j = (j + 1) & (s->cap - 1);
    }
    return 0;
}

/* The CRM: a lead that replied and was handed off gets its deal's
 * result when it happens (lm_sim_answer_handoff). */
static void simrun_deal(const lm_sim *sim,
                        const Lastmile__V1__FollowUpAction *a,
                        const idset *replied, heap *answers) {
    lm_sim_answer ans;
    if (!idset_has(replied, a->lead_id) || !lm_sim_answer_handoff(sim, a, &ans))
        return;
    pending p = {.at = ans.occurred_at_ms,
                 .kind = ans.kind,
                 .deal = ans.deal_value_cents,
                 .deal_result = 1};
    snprintf(p.lead_id, sizeof(p.lead_id), "%s", a->lead_id);
    snprintf(p.action_id, sizeof(p.action_id), "%s", a->action_id);
    heap_push(answers, &p);
}

static int produce(rd_kafka_t *rk, const char *topic, const char *key,
                   const ProtobufCMessage *m) {
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t stackbuf[2048];
    uint8_t *buf = len <= sizeof(stackbuf) ? stackbuf : malloc(len);
    if (!buf)
        return -1;
    protobuf_c_message_pack(m, buf);
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                RD_KAFKA_V_VALUE(buf, len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(rk, 20);
    if (buf != stackbuf)
        free(buf);
    return e ? -1 : 0;
}

typedef struct send_ctx {
    rd_kafka_t *rk;
    const char *topic;
} send_ctx;

static int send_timing(void *opaque, const char *key,
                       const ProtobufCMessage *m) {
    const send_ctx *c = opaque;
    return produce(c->rk, c->topic, key, m);
}

static void progress(const lm_simrun_opts *o, const lm_simrun_stats *st,
                     int64_t now, int64_t t0_real, int final) {
    double day = (double)(now - o->sim.start_ms) / 86400000.0;
    double days = (double)(o->end_ms - o->sim.start_ms) / 86400000.0;
    double secs = (double)(lm_clock_mono_ms() - t0_real) / 1000.0;
    double rate = secs > 0 ? (double)st->published / secs : 0;
    if (o->progress_tty) {
        int width = 30, fill = (int)(width * (day / (days > 0 ? days : 1)));
        if (fill > width)
            fill = width;
        if (fill < 0)
            fill = 0;
        fprintf(stderr,
                "\r[%.*s%.*s] day %5.1f/%.0f  %6zu/%zu leads  %6.0f leads/s  "
                "%6zu touches  %5zu answers%s",
                fill, "##############################", width - fill,
                "..............................", day, days, st->published,
                o->sim.n_leads, rate, st->touches, st->answers,
                final ? "\n" : "");
    } else {
        fprintf(stderr,
                "sim: day %.1f/%.0f, %zu/%zu leads (%.0f leads/s), %zu "
                "touches, %zu answers\n",
                day, days, st->published, o->sim.n_leads, rate, st->touches,
                st->answers);
    }
}

/* Learns the intake topic's partitions before the market opens. Without
 * it the first produce waits for the producer's own metadata lookup, and
 * on the demo's clock the leads of that first second wait ~15 simulated
 * hours (measured: speed-to-lead p99 54,000 s against 2,800 s with it).
 * Best effort: on failure the produce path looks the topic up itself. */
static void warm_producer(rd_kafka_t *prod, const char *topic) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(prod, topic, NULL);
    if (!rkt)
        return;
    if (rd_kafka_metadata(prod, 0, rkt, &md, SIMRUN_WARM_MS) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
}

/* One run of the market: its topics, its Kafka clients, what waits
 * (answers in a heap, the owners' acts) and what it saw. Owns the
 * clients, the heap, the sets and the people index (simrun_close). */
typedef struct simrun {
    const lm_simrun_opts *o;
    lm_simrun_stats *st;
    char t_intake[LM_TOPIC_MAX], t_actions[LM_TOPIC_MAX],
        t_timing[LM_TOPIC_MAX], t_followup[LM_TOPIC_MAX],
        t_outcomes[LM_TOPIC_MAX];
    lm_bullet_topics bt_topics;
    rd_kafka_t *prod, *cons;
    lm_bullet bt;
    heap answers;
    lm_sim_owner_acts acts; /* the owners' side (sim_owners.h) */
    send_ctx to_timing;
    idset answered, replied;
    lm_sim sim; /* o->sim with the people index */
    lm_sim_people *people;
    size_t next; /* the next lead to publish */
} simrun;

/* The producer (warmed on the intake topic) and the connector's consumer
 * (actions; with bullet time followup and outcomes too). 0, or -1 with
 * err set and nothing left open. */
static int simrun_kafka(simrun *r, const lm_settings *s, int bullet, char *err,
                        size_t errsz) {
    char group[LM_TOPIC_MAX + 16], why[512] = "";
    snprintf(group, sizeof(group), "%ssim-connector", s->topic_prefix);
    rd_kafka_conf_t *pc = lm_kafka_conf(s, LM_KAFKA_PRODUCER, NULL, err, errsz);
    if (!pc)
        return -1;
    /* the market's submissions leave at once: a watched lead's time to
       first touch is the fleet's, not this producer's batching */
    if (bullet)
        rd_kafka_conf_set(pc, "linger.ms", "0", NULL, 0);
    rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, why, sizeof(why));
    rd_kafka_conf_t *cc =
        lm_kafka_conf(s, LM_KAFKA_CONSUMER, group, err, errsz);
    if (!prod || !cc) {
        snprintf(err, errsz, "kafka: %s", why);
        if (prod)
            rd_kafka_destroy(prod);
        if (cc)
            rd_kafka_conf_destroy(cc);
        return -1;
    }
    rd_kafka_conf_set(cc, "enable.auto.commit", "true", NULL, 0);
    rd_kafka_conf_set(cc, "enable.auto.offset.store", "true", NULL, 0);
    rd_kafka_t *cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, why, sizeof(why));
    if (!cons) {
        snprintf(err, errsz, "kafka consumer: %s", why);
        rd_kafka_destroy(prod);
        return -1;
    }
    rd_kafka_poll_set_consumer(cons);
    warm_producer(prod, r->t_intake);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(3);
    rd_kafka_topic_partition_list_add(sub, r->t_actions, RD_KAFKA_PARTITION_UA);
    if (bullet) {
        rd_kafka_topic_partition_list_add(sub, r->t_followup,
                                          RD_KAFKA_PARTITION_UA);
        rd_kafka_topic_partition_list_add(sub, r->t_outcomes,
                                          RD_KAFKA_PARTITION_UA);
    }
    rd_kafka_subscribe(cons, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    r->prod = prod;
    r->cons = cons;
    return 0;
}

/* Publishes the leads whose time has come (bullet time wakes for the
 * next one). 0, or -1 with err set when a produce fails. */
static int publish_due(simrun *r, int64_t now, char *err, size_t errsz) {
    r->bt.wake_ms = -1;
    while (r->next < r->o->sim.n_leads) {
        lm_sim_lead l;
        lm_sim_lead_make(&r->o->sim, r->next, &l);
        if (l.submitted_at_ms > now) {
            lm_bullet_next(&r->bt, &l, now); /* wake up for it */
            break;
        }
        lm_bullet_publishing(&r->bt, &l);
        if (produce(r->prod, r->t_intake, l.email, &l.msg.base) != 0) {
            snprintf(err, errsz, "produce to %s failed", r->t_intake);
            return -1;
        }
        r->st->published++;
        r->st->invalid += l.invalid;
        r->st->repeats += l.repeat;
        r->next++;
    }
    return 0;
}

/* One action, as a connector takes it: a touch may get an answer (one per
 * lead), a hand-off of a lead that replied its deal's result; the owners
 * act on theirs. */
static void take_action(simrun *r, const Lastmile__V1__FollowUpAction *a) {
    lm_simrun_stats *st = r->st;
    if (a->kind == LASTMILE__V1__ACTION_KIND__TOUCH) {
        st->touches++;
        lm_bullet_done(&r->bt, a->lead_id);
        lm_sim_answer ans;
        if (lm_sim_answer_touch(&r->sim, a, &ans) &&
            idset_add(&r->answered, a->lead_id) == 1) {
            pending p = {.at = ans.occurred_at_ms,
                         .kind = ans.kind,
                         .deal = ans.deal_value_cents};
            snprintf(p.lead_id, sizeof(p.lead_id), "%s", a->lead_id);
            snprintf(p.action_id, sizeof(p.action_id), "%s", a->action_id);
            heap_push(&r->answers, &p);
            if (ans.kind == LASTMILE__V1__RESPONSE_KIND__REPLIED ||
                ans.kind == LASTMILE__V1__RESPONSE_KIND__MEETING_BOOKED)
                idset_add(&r->replied, a->lead_id);
        }
    } else if (a->kind == LASTMILE__V1__ACTION_KIND__HANDOFF) {
        st->handoffs++;
        simrun_deal(&r->o->sim, a, &r->replied, &r->answers);
    }
    st->reminders += a->kind == LASTMILE__V1__ACTION_KIND__REMINDER;
    st->escalations += a->kind == LASTMILE__V1__ACTION_KIND__ESCALATION;
    lm_sim_owner_take(&r->o->sim, a, &r->acts);
}

/* Up to SIMRUN_BATCH records: bullet time's own (followup, outcomes), or
 * actions. */
static void take_actions(simrun *r) {
    for (int k = 0; k < SIMRUN_BATCH; k++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(
            r->cons, k == 0 ? lm_bullet_poll_ms(&r->bt, SIMRUN_POLL_MS) : 0);
        if (!m)
            break;
        if (!m->err && !lm_bullet_message(&r->bt, &r->bt_topics,
                                          rd_kafka_topic_name(m->rkt),
                                          m->payload, m->len)) {
            Lastmile__V1__FollowUpAction *a =
                lastmile__v1__follow_up_action__unpack(NULL, m->len,
                                                       m->payload);
            if (a) {
                take_action(r, a);
                lastmile__v1__follow_up_action__free_unpacked(a, NULL);
            }
        }
        rd_kafka_message_destroy(m);
    }
}

/* The answers whose time has come, to lastmile.timing as responses. */
static void send_answers(simrun *r, int64_t now) {
    lm_simrun_stats *st = r->st;
    while (r->answers.n > 0 && r->answers.v[0].at <= now) {
        pending *p = &r->answers.v[0];
        char ev[128];
        snprintf(ev, sizeof(ev), "simresp-%s", p->action_id);
        Lastmile__V1__LeadResponse resp = LASTMILE__V1__LEAD_RESPONSE__INIT;
        resp.event_id = ev;
        resp.lead_id = p->lead_id;
        resp.kind = p->kind;
        resp.occurred_at_ms = p->at;
        resp.deal_value_cents = p->deal;
        resp.action_id = p->action_id;
        Lastmile__V1__TimingEvent t = LASTMILE__V1__TIMING_EVENT__INIT;
        t.event_case = LASTMILE__V1__TIMING_EVENT__EVENT_RESPONSE;
        t.response = &resp;
        produce(r->prod, r->t_timing, p->lead_id, &t.base);
        st->answers += !p->deal_result;
        st->conversions += p->kind == LASTMILE__V1__RESPONSE_KIND__CONVERTED;
        st->deals_won +=
            p->deal_result && p->kind == LASTMILE__V1__RESPONSE_KIND__CONVERTED;
        st->deals_lost += p->kind == LASTMILE__V1__RESPONSE_KIND__LOST;
        heap_pop(&r->answers);
    }
}

/* Bullet time's last tick and figures, the producer flushed, and
 * everything the run owns freed. */
static void simrun_close(simrun *r) {
    lm_bullet_tick(&r->bt, 1);
    r->st->bullet = r->bt.st;
    lm_bullet_free(&r->bt);
    rd_kafka_flush(r->prod, 10000);
    rd_kafka_consumer_close(r->cons);
    rd_kafka_destroy(r->cons);
    rd_kafka_destroy(r->prod);
    free(r->answers.v);
    lm_sim_owner_free(&r->acts);
    free(r->answered.k);
    free(r->replied.k);
    lm_sim_people_free(r->people);
}

/* Publish, take actions, send answers, release the owners' acts, draw
 * progress; until stopped, or every lead is out and the end has come.
 * 0, or -1 with err set when a produce fails. */
static int simrun_loop(simrun *r, char *err, size_t errsz) {
    const lm_simrun_opts *o = r->o;
    int64_t t0 = lm_clock_mono_ms(), last_progress = 0;
    while (!(o->stop && *o->stop)) {
        int64_t now = lm_clock_now_ms();
        if (publish_due(r, now, err, errsz) != 0)
            return -1;
        take_actions(r);
        now = lm_clock_now_ms();
        send_answers(r, now);
        r->st->owner_done +=
            lm_sim_owner_release(&r->acts, now, send_timing, &r->to_timing);
        rd_kafka_poll(r->prod, 0);
        lm_bullet_tick(&r->bt, 0);
        int64_t mono = lm_clock_mono_ms();
        if (!o->quiet &&
            mono - last_progress >= (o->progress_tty ? 250 : 5000)) {
            progress(o, r->st, now, t0, 0);
            last_progress = mono;
        }
        if (r->next >= o->sim.n_leads && now >= o->end_ms)
            break;
    }
    if (!o->quiet)
        progress(o, r->st, lm_clock_now_ms(), t0, 1);
    return 0;
}

int lm_simrun(const lm_settings *s, const lm_simrun_opts *o,
              lm_simrun_stats *st, char *err, size_t errsz) {
    memset(st, 0, sizeof(*st));
    simrun *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    r->o = o;
    r->st = st;
    lm_topic_name(s, LM_TOPIC_INTAKE, r->t_intake, sizeof(r->t_intake));
    lm_topic_name(s, LM_TOPIC_ACTIONS, r->t_actions, sizeof(r->t_actions));
    lm_topic_name(s, LM_TOPIC_TIMING, r->t_timing, sizeof(r->t_timing));
    lm_topic_name(s, LM_TOPIC_FOLLOWUP, r->t_followup, sizeof(r->t_followup));
    lm_topic_name(s, LM_TOPIC_OUTCOMES, r->t_outcomes, sizeof(r->t_outcomes));
    r->bt_topics = (lm_bullet_topics){r->t_followup, r->t_outcomes};
    int bullet = o->bullet_fast > 1; /* bullet time: see simrun_bullet.h */
    int rc = -1;
    if (simrun_kafka(r, s, bullet, err, errsz) != 0)
        goto done;
    if (lm_bullet_init(&r->bt, bullet ? o->bullet_fast : 0, LM_BULLET_CAP_MS) !=
        0) {
        snprintf(err, errsz, "out of memory");
        rd_kafka_consumer_close(r->cons);
        rd_kafka_destroy(r->cons);
        rd_kafka_destroy(r->prod);
        goto done;
    }
    r->to_timing = (send_ctx){r->prod, r->t_timing};
    /* the market knows who is behind each lead id (the answer follows the
       person's role); without the index a role is drawn per lead */
    r->sim = o->sim;
    r->people = lm_sim_people_build(&r->sim);
    r->sim.people = r->people;
    rc = simrun_loop(r, err, errsz);
    simrun_close(r);
done:
    free(r);
    return rc;
}
