/* lm_metrics.h — Prometheus metrics and the health endpoints of a worker.
 *
 * What it is: a registry of counter, gauge and histogram series, rendered in
 * the Prometheus text exposition format 0.0.4, and its HTTP side: GET
 * /metrics, /healthz and /readyz on the one HTTP server (lm_http.h, one
 * internal thread).
 *
 * Threads:
 *   - The worker thread registers series (lm_metrics_counter/_gauge/
 *     _histogram), before or after the server starts, and updates them.
 *   - Updates (lm_counter_add, lm_gauge_set/_add, lm_histogram_observe) are
 *     lock-free C11 atomics and may be called from any thread at any time.
 *   - The server thread renders (taking the registry mutex), runs the scrape
 *     hook and the readiness callback.
 *
 * Ownership: the registry owns every series it hands out; handles stay valid
 * until lm_metrics_destroy. The registry must outlive any server started on
 * it (stop the server first). Strings passed in are copied.
 *
 * Identity: a series is (family name, label set). Registering the same pair
 * again returns the same handle; the first HELP text wins. Families are
 * rendered in registration order, and series within a family likewise.
 *
 * Labels are given in exposition syntax without braces:
 *     name="value"[,name="value"]...
 * Label names match [a-zA-Z_][a-zA-Z0-9_]* (and not "__" prefixed); values
 * are double-quoted with \\, \" and \n as the only escapes (a raw newline is
 * accepted and escaped on output). Use lm_metrics_label_escape to quote a
 * runtime value. Duplicate label names are malformed; so is "le" on a
 * histogram. */
#ifndef LM_METRICS_H
#define LM_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* ---- limits -------------------------------------------------------------- */

/* A longer name or label set is malformed; longer HELP text is cut. */
#define LM_METRICS_NAME_MAX    200  /* bytes in a family name */
#define LM_METRICS_LABELS_MAX  1024 /* bytes in a label set as given */
#define LM_METRICS_HELP_MAX    1024 /* bytes of HELP text kept */
#define LM_METRICS_BUCKETS_MAX 64   /* finite bounds in a histogram */
#define LM_METRICS_WHY_MAX     256  /* readiness reason buffer */
/* A render larger than this fails as if out of memory. */
#define LM_METRICS_RENDER_MAX (16u * 1024u * 1024u)
/* The environment variable that normally holds the server address; errors
 * from lm_metrics_server_start name it. */
#define LM_METRICS_ADDR_ENV "LASTMILE_METRICS_ADDR"

/* ---- types (opaque) ------------------------------------------------------ */

typedef struct lm_metrics lm_metrics;     /* a registry */
typedef struct lm_counter lm_counter;     /* monotonic uint64 */
typedef struct lm_gauge lm_gauge;         /* double, set/add */
typedef struct lm_histogram lm_histogram; /* fixed buckets */
typedef struct lm_metrics_server lm_metrics_server;

/* ---- registry ------------------------------------------------------------ */

/* A new, empty registry; NULL on OOM. Caller owns it: lm_metrics_destroy. */
lm_metrics *lm_metrics_new(void);
/* Frees the registry and every series in it (all handles become invalid).
 * NULL ok. Stop any server on it first. */
void lm_metrics_destroy(lm_metrics *m);

/* Series. `name` is the family (e.g. "lastmile_consumed_total", matching
 * [a-zA-Z_:][a-zA-Z0-9_:]*), `help` its HELP text (NULL = ""), `labels` the
 * label set without braces (e.g. "worker=\"intake\"") or NULL/"" for none.
 * Same name+labels returns the same series. The registry owns the result;
 * it stays valid until lm_metrics_destroy. NULL on OOM, on a malformed name
 * or label set, or when the family exists with a different type (or, for a
 * histogram, different bounds). Worker thread (any thread; serialised by the
 * registry mutex). */
lm_counter *lm_metrics_counter(lm_metrics *m, const char *name,
                               const char *help, const char *labels);
lm_gauge *lm_metrics_gauge(lm_metrics *m, const char *name, const char *help,
                           const char *labels);
/* `upper_bounds`: n_bounds finite values, strictly ascending (+Inf is
 * implied; n_bounds may be 0), at most LM_METRICS_BUCKETS_MAX. Copied. Every
 * series of one histogram family has the same bounds. */
lm_histogram *lm_metrics_histogram(lm_metrics *m, const char *name,
                                   const char *help, const char *labels,
                                   const double *upper_bounds, size_t n_bounds);

/* ---- updates: lock-free, any thread, NULL handle = no-op ----------------- */

void lm_counter_add(lm_counter *c, uint64_t n);
uint64_t lm_counter_value(const lm_counter *c); /* 0 for NULL */
void lm_gauge_set(lm_gauge *g, double v);
void lm_gauge_add(lm_gauge *g, double v);
double lm_gauge_value(const lm_gauge *g); /* 0.0 for NULL */
/* A NaN observation is dropped (it would poison _sum forever). */
void lm_histogram_observe(lm_histogram *h, double v);

/* ---- standard bucket sets (seconds unless said) -------------------------- */

extern const double lm_metrics_latency_buckets[]; /* 0.0005 .. 10 s, 14 */
extern const size_t lm_metrics_latency_buckets_n;
/* 1 s .. 30 days: speed-to-lead, cycle time */
extern const double lm_metrics_business_buckets[];
extern const size_t lm_metrics_business_buckets_n;
extern const double lm_metrics_size_buckets[]; /* 1 .. 10000: batch sizes */
extern const size_t lm_metrics_size_buckets_n;

/* ---- rendering ----------------------------------------------------------- */

/* Called at the start of every render (scrape), on the thread rendering
 * (the server thread), outside the registry lock, to refresh computed gauges
 * (e.g. consumer lag); it may register series. One hook per registry: a new
 * call replaces the old hook; fn NULL removes it. `opaque` stays the
 * caller's and must outlive the hook. */
void lm_metrics_on_scrape(lm_metrics *m, void (*fn)(void *opaque),
                          void *opaque);

/* Prometheus text exposition format 0.0.4: # HELP and # TYPE once per
 * family, histograms as cumulative _bucket{le="..."}, _sum, _count. On 0,
 * *out is a malloc'd NUL-terminated string (caller frees) of *len bytes
 * (NUL not counted; len may be NULL). -1 on OOM, output above
 * LM_METRICS_RENDER_MAX, or m/out NULL; *out is then NULL. Any thread; runs
 * the scrape hook first. */
int lm_metrics_render(lm_metrics *m, char **out, size_t *len);

/* Writes `in` escaped as a label value (\\, \", \n; no surrounding quotes)
 * into out[outsz], NUL-terminated. 0 ok, -1 if it does not fit (out then
 * holds ""). For building label sets from runtime values. Pure. */
int lm_metrics_label_escape(const char *in, char *out, size_t outsz);

/* ---- HTTP server --------------------------------------------------------- */

/* Readiness: return 1 if ready, 0 if not and write why into `why` (whysz is
 * LM_METRICS_WHY_MAX). Runs on the server thread: it must only read state
 * published with atomics. */
typedef int (*lm_ready_fn)(void *opaque, char *why, size_t whysz);

/* Serves, on `addr` "HOST:PORT" (IPv4 or [IPv6]:port; port 0 = pick a free
 * one; lm_http_parse_addr), with lm_http's one internal thread:
 *   GET /metrics  200, text/plain; version=0.0.4 (500 if rendering fails)
 *   GET /healthz  200 "ok"
 *   GET /readyz   200 "ready", or 503 with the reason (ready NULL = ready)
 *   other paths 404; methods other than GET 405.
 * Idle connections do not keep these out: up to LM_HTTP_CONN_MAX are
 * held, each closed after LM_HTTP_IDLE_S idle seconds.
 * `m` and `opaque` are borrowed and must outlive the server. Returns the
 * server (caller owns it: lm_metrics_server_stop), or NULL with err filled,
 * naming the address and what failed, e.g.
 *   "LASTMILE_METRICS_ADDR=0.0.0.0:80: bind: permission denied". */
lm_metrics_server *lm_metrics_server_start(lm_metrics *m, const char *addr,
                                           lm_ready_fn ready, void *opaque,
                                           char *err, size_t errsz);
/* The bound port (the real one when 0 was asked for). */
int lm_metrics_server_port(const lm_metrics_server *s);
/* Stops serving, joins the thread, closes the socket, frees s. NULL ok. */
void lm_metrics_server_stop(lm_metrics_server *s);

#endif /* LM_METRICS_H */
