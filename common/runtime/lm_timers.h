/* lm_timers.h — durable timers, a runtime service.
 *
 * A timer is (lead, kind, due time, payload): "lead L has not answered
 * its touch by T" (kind "response", payload "<step>|<segment>"), later an
 * owner's deadline (payload e.g. an action id). A timer is identified by
 * (lead, kind, payload): arming the same one again moves its due time,
 * cancelling it needs all three. A lead may hold several timers of a kind
 * with different payloads; to replace one with a timer of another payload,
 * cancel the old one in the same message's outputs, then arm the new one.
 *
 * Workers arm and cancel timers through a message's outputs
 * (lm_timers_arm, lm_timers_cancel): one index command each (ZADD, ZREM),
 * applied in the message's transaction, so a timer is armed exactly when
 * the decision that armed it is applied. One worker of the fleet fires
 * them (timing today): it declares lm_worker.fire_timer, and its runtime
 * runs the sweep between batches, at least every 200 ms:
 *   1. claim: per bucket, one Lua script moves expired claims to a new
 *      lease and due timers into the claimed set with a lease, atomically,
 *      so one replica claims a due timer;
 *   2. fire: fire_timer builds each claimed timer's message (lm_timers_emit);
 *      where each message goes (partition, and an offset at or before
 *      where it lands) is kept with its claim, then all are produced; the
 *      sweep waits for the broker's acknowledgement;
 *   3. acknowledge: the claims and their places are removed.
 * A sweeper that dies between 1 and 3 leaves its claims to expire
 * (LM_TIMERS_LEASE_MS real time); the next sweep fires them again, with the
 * same content and id: one whose places were kept is read back from them
 * first and produces only the messages not on their topic yet, so a
 * timer's message is written once. A consumer must still tolerate a timer
 * fired after it was cancelled (a claimed timer is already firing).
 *
 * Redis layout, LM_TIMERS_BUCKETS buckets by hash of the lead id, each
 * bucket's keys under one hash tag (one Cluster slot, one script):
 *   lm:{timers:<b>}          sorted set of members "<lead>|<kind>|<payload>"
 *                            (the payload is every byte after the second
 *                            '|'), score = due ms
 *   lm:{timers:<b>}:claimed  sorted set of claims "<due ms>|<member>" (all
 *                            a re-fire needs), score = lease end ms
 *   lm:{timers:<b>}:placed   hash claim -> where its messages went,
 *                            "<partition>:<scan from>" each, ','-separated
 *                            (kept before they are produced)
 * lm_timers_encode writes a member, lm_timers_decode reads one and
 * lm_timers_decode_claim a claim: the one codec of the layout (the sweep
 * script only prefixes a member with its score).
 *
 * Namespaces and delivered timers. The timers above are the fleet's shared
 * ones: armed by any worker, fired as messages by the one that declares
 * fire_timer. A worker whose timers are its own business (the webhook
 * connector holds each action until it is due, then retries its POST)
 * declares lm_worker.timer_ns, e.g. "webhook", and arms with
 * lm_timers_arm_in(o, "webhook", ...): its timers live under their own
 * keys, lm:{timers:<ns>:<b>} (and :claimed, :placed), apart from the
 * shared ones, and its runtime sweeps only those. It declares
 * deliver_timer instead of fire_timer: the sweep (lm_timers_deliver_sweep,
 * lm_timers_deliver.c) claims due timers with the same script and lease,
 * then for each claim in turn
 *   1. reads what the worker's plan_timer asks (one round trip);
 *   2. calls deliver_timer, which performs the effect (the POST) and says,
 *      through an lm_out, what follows from it: Redis writes and index
 *      commands (a timer re-armed for the next attempt, a state written),
 *      and dead letters (lm_out_emit on "dlq", the only topic it may use);
 *   3. produces the dead letters and waits for the broker;
 *   4. applies the writes and acknowledges the claim in one MULTI/EXEC.
 * A deliverer that dies between 2 and 4 leaves the claim to its lease: it
 * is delivered again (the effect happens twice, with the same timer). A
 * deliver_timer that returns -1 (cannot tell now) leaves the claim to its
 * lease too; one that rejects (lm_out_reject) drops the timer, logged.
 * Claims not reached within half a lease (slow effects) or before a stop
 * are put back in the timer set, due as before: not held by a dead lease.
 *
 * Times are simulated epoch ms (lm_clock). Threads: the worker's one
 * thread; the module keeps no state of its own. */
#ifndef LM_TIMERS_H
#define LM_TIMERS_H

#include "lm_fmt.h"
#include "lm_runtime.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define LM_TIMERS_BUCKETS     16
#define LM_TIMERS_LEAD_MAX    64   /* bytes of a lead, with its NUL */
#define LM_TIMERS_KIND_MAX    32   /* bytes of a kind, with its NUL */
#define LM_TIMERS_PAYLOAD_MAX 1024 /* bytes of a payload */
#define LM_TIMERS_KEY_MAX     48   /* a bucket's key, with its NUL */
#define LM_TIMERS_NS_MAX      16   /* a namespace, [a-z0-9], with its NUL */
#define LM_TIMERS_DELIVER_MAX                                                  \
    8 /* timers claimed per bucket per                                         \
         delivering sweep */
/* a member: lead '|' kind '|' payload, with a NUL after it */
#define LM_TIMERS_MEMBER_MAX                                                   \
    (LM_TIMERS_LEAD_MAX + LM_TIMERS_KIND_MAX + LM_TIMERS_PAYLOAD_MAX + 1)
/* a claim: due '|' member (LM_FMT_I64_MAX counts a sign and a NUL) */
#define LM_TIMERS_CLAIM_MAX (LM_FMT_I64_MAX + LM_TIMERS_MEMBER_MAX)
#define LM_TIMERS_LEASE_MS  30000 /* real ms a claim is held */
#define LM_TIMERS_SWEEP_MAX 500   /* timers claimed per bucket per sweep */

/* One timer. lead: 1 to LM_TIMERS_LEAD_MAX - 1 printable ASCII bytes, no
 * '|' or space; kind: 1 to LM_TIMERS_KIND_MAX - 1 of [a-z0-9_-]; due_ms
 * >= 0 (stored as a sorted set's score: exact up to 2^53 ms); payload: up
 * to LM_TIMERS_PAYLOAD_MAX bytes, any, '|' included (what the worker that
 * fires the timer needs to build its message), NUL-terminated here for
 * convenience. (lm_timer and lm_timers_fired are typedef'd in
 * lm_runtime.h, whose lm_worker.fire_timer takes them.) */
struct lm_timer {
    char lead[LM_TIMERS_LEAD_MAX];
    char kind[LM_TIMERS_KIND_MAX];
    int64_t due_ms;
    size_t payload_len;
    char payload[LM_TIMERS_PAYLOAD_MAX + 1];
};

/* --- arming and cancelling (decision code) -------------------------------- */

/* Arms the timer (lead, kind, payload) for due_ms: one index command of
 * the message (lm_out_index: ZADD), applied with its decision. Arming a
 * timer already armed moves its due time; a timer of the same lead and
 * kind with another payload is another timer (cancel it first to replace
 * it). The strings and payload are copied. 0, or -1 when a field is out of
 * its bounds above (the message's input is then rejected with the reason,
 * as lm_out_reject). */
int lm_timers_arm(lm_out *o, const char *lead, const char *kind, int64_t due_ms,
                  const void *payload, size_t len);
/* Cancels the timer (lead, kind, payload), if it is armed (idempotent):
 * one index command (ZREM). The caller names the payload the timer was
 * armed with. A timer already claimed fires anyway. 0 / -1 as
 * lm_timers_arm. */
int lm_timers_cancel(lm_out *o, const char *lead, const char *kind,
                     const void *payload, size_t len);

/* lm_timers_arm and lm_timers_cancel in namespace ns (see the top; NULL
 * or "": the shared timers). A namespace is 1 to LM_TIMERS_NS_MAX - 1 of
 * [a-z0-9]; another is rejected like a field out of bounds. */
int lm_timers_arm_in(lm_out *o, const char *ns, const char *lead,
                     const char *kind, int64_t due_ms, const void *payload,
                     size_t len);
int lm_timers_cancel_in(lm_out *o, const char *ns, const char *lead,
                        const char *kind, const void *payload, size_t len);

/* --- the codec (pure) ----------------------------------------------------- */

/* The bucket of a lead, in [0, LM_TIMERS_BUCKETS). Part of the stored
 * layout: it never changes. */
int lm_timers_bucket(const char *lead);
/* A bucket's key: suffix "" (the timer set) or ":claimed". */
void lm_timers_key(int bucket, const char *suffix, char out[LM_TIMERS_KEY_MAX]);
/* The same in namespace ns (NULL or "": the shared timers, as above). */
void lm_timers_key_ns(const char *ns, int bucket, const char *suffix,
                      char out[LM_TIMERS_KEY_MAX]);
/* 1 when ns is a namespace (1 to LM_TIMERS_NS_MAX - 1 of [a-z0-9]). */
int lm_timers_ns_ok(const char *ns);
/* Writes t's member ("<lead>|<kind>|<payload>", binary, NUL-terminated;
 * its length in *len). t->due_ms is not part of it (it is the score). 0,
 * or -1 when t's lead, kind or payload is out of bounds (nothing usable
 * written). */
int lm_timers_encode(const lm_timer *t, char member[LM_TIMERS_MEMBER_MAX],
                     size_t *len);
/* Reads a member (`len` bytes, need not be NUL-terminated) into *t, with
 * t->due_ms = due_ms. 0, or -1 when it is malformed or due_ms < 0 (*t
 * undefined). */
int lm_timers_decode(const char *member, size_t len, int64_t due_ms,
                     lm_timer *t);
/* Reads a claim ("<due ms>|<member>", `len` bytes) into *t. 0 / -1 as
 * lm_timers_decode. */
int lm_timers_decode_claim(const char *claim, size_t len, lm_timer *t);

/* --- firing (the runtime and the fire_timer callback) ----------------------
 */

/* lm_timers_fired (opaque): what one sweep fires; fire_timer emits into
 * it. The sweep makes one; a unit test makes its own to run a worker's
 * fire_timer without a server and read what it emitted. */
lm_timers_fired *lm_timers_fired_new(const lm_worker *w); /* NULL: OOM */
void lm_timers_fired_free(lm_timers_fired *f);            /* NULL ok */
/* How many messages were emitted, and the i-th (owned by f; its msg is a
 * copy of what was emitted). */
size_t lm_timers_fired_count(const lm_timers_fired *f);
const lm_emit_req *lm_timers_fired_get(const lm_timers_fired *f, size_t i);

/* Emits the message a firing timer produces, on the topic with this suffix
 * (one of the worker's outputs), keyed by `key`, with idempotency id `id`
 * (the same each time the timer fires). Copied at once: msg may be freed
 * after. 0, or -1: out of memory or an undeclared topic (the timer is not
 * acknowledged and fires again after its lease, whatever fire_timer
 * returns), or a message over LM_OUTPUT_MAX_BYTES (logged; fire_timer
 * returning -1 then drops the timer). */
int lm_timers_emit(lm_timers_fired *f, const char *topic_suffix,
                   const char *key, const char *id,
                   const ProtobufCMessage *msg);

/* The sweep script, for the runtime to load on every Redis connect. */
lm_script *lm_timers_script(void);
/* One sweep (claim, fire, acknowledge; above) for worker w, which
 * declares fire_timer. Redis trouble is left for the batch loop to
 * report; a timer w cannot fire (fire_timer -1) or a malformed claim is
 * logged and dropped. Also sets the gauges lastmile_timers_pending and
 * lastmile_timers_oldest_overdue_seconds and counts
 * lastmile_timers_fired_total and lastmile_timers_dropped_total. */
void lm_timers_sweep(lm_runtime *rt, const lm_worker *w);
/* One delivering sweep (the top) for worker w, which declares timer_ns,
 * plan_timer (may be NULL) and deliver_timer. Redis trouble is left for
 * the batch loop to report. Sets the same gauges as lm_timers_sweep and
 * counts lastmile_timers_delivered_total and lastmile_timers_dropped_total.
 * Crash point "deliver-after-effect" (LASTMILE_TEST_CRASH_AT): exits
 * after the first effect, before anything of it is settled. */
void lm_timers_deliver_sweep(lm_runtime *rt, const lm_worker *w);

#endif
