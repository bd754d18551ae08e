/* board.h — the live flow board: one web page and its JSON, served by
 * lastmile itself (`lastmile board`, `lastmile demo --board`).
 *
 * What it shows, refreshed every LM_BOARD_REFRESH_MS:
 *   - the funnel and the business figures of lm_report (speed-to-lead and
 *     cycle time percentiles, cost per outcome, revenue per lead, the
 *     adaptive-vs-fixed timing lift with its always-valid interval and
 *     whether it is proven), from the lead rows
 *     in Redis and the intake dead letters on Kafka, exactly as
 *     `lastmile report --json` computes them;
 *   - the four stages (intake, qualification, followup, timing): throughput
 *     (messages/s: the change of the consumer group's committed offsets
 *     between two refreshes, over real seconds), lag (high watermark minus
 *     committed offset, summed over partitions, asked of Kafka directly)
 *     and the age of the oldest lead waiting there (simulated seconds);
 *   - the LM_BOARD_WAITING_TOP leads waiting longest, with owner, stage,
 *     age and next step.
 *
 * HTTP (the one server, lm_http: a thread per connection, at most
 * LM_BOARD_HTTP_CONN_MAX):
 *   GET /            the page (cli/board/: index.html with board.css and
 *                    board.js put inline at start), nothing fetched from
 *                    elsewhere (a Content-Security-Policy says so); it
 *                    fetches /api/board every LM_BOARD_REFRESH_MS and renders
 *                    each figure in an element with data-metric="<path>"
 *                    and data-value="<raw number>" (paths below)
 *   GET /api/board   the latest snapshot as JSON (see below); waits at most
 *                    LM_BOARD_FIRST_WAIT_MS for the first one, else 503
 *   GET /metrics     the timing lift's gauges (lm_report_lift_metrics:
 *                    the lift, its always-valid interval, its state as
 *                    1 / 0 / -1, the sample still needed), in the
 *                    Prometheus text format, as of the last report read
 *                    (no series before the first)
 *   anything else    404; methods other than GET and HEAD 405.
 *
 * /api/board: {"version": 1, "generated_at_ms": real epoch ms,
 *   "now_ms": simulated epoch ms, "refresh_ms", "time_scale",
 *   "errors": [strings: what could not be read in this refresh],
 *   "report": lm_report_json() (null until Redis was read once; the last
 *             good one, with "report_stale": true, while Redis is away),
 *   "stages": [{"name", "topic", "group", "partitions", "committed", "end",
 *              "lag", "throughput_per_s" (null on the first refresh),
 *              "waiting" (leads waiting there; intake and
 *              qualification: the lag),
 *              "oldest_waiting_s" (null when none waits)}],
 *   "waiting_longest": [{"lead_id", "owner", "stage", "age_s",
 *                        "since_ms", "next_step"}]}
 * data-metric paths: report figures by their path in the report JSON
 * ("funnel.accepted", "speed_to_lead_s.p90", "timing_arms.lift.ci95.0"),
 * stage figures as "stages.<name>.<field>".
 *
 * Where a stage's oldest lead comes from (the lead hash, lm_lead.h):
 *   intake         not in Redis yet: the first uncommitted message of
 *                  each lagging partition, since its submitted_at_ms
 *                  (simulated, as every age here: board_age.h; Kafka's
 *                  real timestamp only for one without, at a fixed
 *                  scale);
 *   qualification  not in Redis either (qualification writes the lead's
 *                  record with its decision): every uncommitted message
 *                  (read each refresh, also for the report's undecided
 *                  leads), since the oldest accepted_at_ms. Its leads are
 *                  not in "waiting longest", which lists leads with a
 *                  record;
 *   followup       stage "followup" (decided, or a timer fired: the next
 *                  touch is pending), since decided_at, or next_due_at of
 *                  the touch before;
 *   timing         stage "waiting" past next_due_at (the response window
 *                  closed and no timer has moved it on), since next_due_at.
 *
 * Kafka: one consumer handle per consumer group (`<prefix><stage>`), made
 * with lm_kafka_conf(LM_KAFKA_CONSUMER) and never subscribed: it only asks
 * for the group's committed offsets (OffsetFetch), so it never joins the
 * group, never triggers a rebalance and commits nothing. Two group-less
 * readers: one follows the dead-letter topic (invalid submissions), one
 * peeks at the oldest uncommitted intake messages and reads the
 * uncommitted qualification messages.
 *
 * Threads: lm_board_start starts a collector thread, which alone owns the
 * Kafka handles and the Redis connection, and the HTTP server, whose
 * threads only copy the latest snapshot (a string under a mutex).
 * Time: lead rows hold simulated ms; the board reads lm_clock, so the
 * caller calls lm_clock_init with the settings' time scale and origin
 * before lm_board_start (`lastmile board` and `lastmile demo` do). */
#ifndef LM_BOARD_H
#define LM_BOARD_H

#include "lm_env.h"

#include <stddef.h>

/* ---- limits ------------------------------------------------------------ */

#define LM_BOARD_ADDR_DEFAULT      "127.0.0.1:8080"
#define LM_BOARD_REFRESH_MS        2000 /* collector period; the page's too */
#define LM_BOARD_FIRST_WAIT_MS     8000 /* /api/board awaits a first refresh */
#define LM_BOARD_KAFKA_TIMEOUT_MS  3000 /* each metadata/offset query */
#define LM_BOARD_PEEK_TIMEOUT_MS   1000 /* reading the oldest intake messages */
#define LM_BOARD_PENDING_BUDGET_MS 2000 /* reading the undecided leads */
#define LM_BOARD_DLQ_BUDGET_MS     2000 /* catching up on dead letters */
#define LM_BOARD_REDIS_TIMEOUT_MS  5000 /* each Redis command */
#define LM_BOARD_WAITING_TOP       10   /* leads in "waiting longest" */
#define LM_BOARD_PARTITIONS_MAX    1024 /* per topic */
#define LM_BOARD_HTTP_CONN_MAX     32
#define LM_BOARD_HTTP_TIMEOUT_S    30

/* ---- the board ----------------------------------------------------------- */

typedef struct lm_board lm_board; /* opaque */

/* Starts the board on `addr` ("HOST:PORT", IPv4 or [IPv6]; port 0 picks a
 * free one; NULL = LM_BOARD_ADDR_DEFAULT) for the fleet that `s` describes
 * (brokers, Redis URL, topic prefix; both must be set). `s` is only read
 * during the call. Returns the board (caller owns it: lm_board_stop), or
 * NULL with err saying what failed (bad address, port taken, bad Redis
 * URL, Kafka configuration). Brokers or Redis being unreachable is not a
 * failure: the board shows it and keeps trying. */
lm_board *lm_board_start(const lm_settings *s, const char *addr, char *err,
                         size_t errsz);
/* The bound port (the real one when 0 was asked for); 0 for NULL. */
int lm_board_port(const lm_board *b);
/* Stops serving, joins the collector, closes every connection, frees b.
 * NULL ok. */
void lm_board_stop(lm_board *b);

#endif
