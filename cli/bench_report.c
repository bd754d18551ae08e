/* bench_report.c — what `lastmile bench` prints: one JSON object (--json)
 * or a table, from a run's bench_results. The fleet is given as a ratio of
 * the state floor (the limit that keeps the mission's Redis work) and of
 * the passthrough (the limit of the broker alone). Figures that could not
 * be read are -1 (an AOF size across a rewrite, a floor worker's log).
 * Borrows the results; single-threaded. */
#include "bench.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static double ratio(double a, double b) {
    return b > 0 ? a / b : 0;
}

/* The fleet's AOF bytes per lead over the floor's: what the fleet writes
 * beyond the mission's record, claim and timer (issue 16's byte target,
 * docs/PERFORMANCE.md, "Targets"); -1 when either could not be read. */
static double aof_floor_ratio(const bench_results *r) {
    double a = r->redis.aof_bytes_per_lead,
           b = r->floor.redis.aof_bytes_per_lead;
    return a > 0 && b > 0 ? a / b : -1;
}

/* {"p50_ms": v[0], "p99_ms": v[1]} */
static json_t *p50_p99_json(const double v[2]) {
    json_t *o = json_object();
    json_object_set_new(o, "p50_ms", json_real(v[0]));
    json_object_set_new(o, "p99_ms", json_real(v[1]));
    return o;
}

static json_t *redis_json(const bench_redis_fig *f, double n_leads) {
    json_t *o = json_object();
    json_object_set_new(o, "commands_per_lead",
                        json_real(f->commands_per_lead));
    json_object_set_new(o, "aof_bytes_per_lead",
                        json_real(f->aof_bytes_per_lead));
    json_object_set_new(o, "roundtrips_per_lead",
                        json_real(f->roundtrips_per_lead));
    json_object_set_new(o, "roundtrips_per_batch",
                        json_real(f->roundtrips_per_batch));
    json_object_set_new(o, "cpu_s_per_1000_leads",
                        json_real(f->cpu_s_per_1000_leads));
    json_object_set_new(o, "aof_rewrite_cpu_s_per_1000_leads",
                        json_real(f->rewrite_cpu_s_per_1000_leads));
    json_t *by = json_object();
    for (size_t i = 0; f->by_name && i < lm_strmap_count(f->by_name); i++)
        json_object_set_new(
            by, lm_strmap_key(f->by_name, i, NULL),
            json_real((double)*lm_strmap_value(f->by_name, i) / n_leads));
    json_object_set_new(o, "commands_by_name_per_lead", by);
    return o;
}

static json_t *proc_json(const proc *p, double n_leads) {
    json_t *o = json_object();
    json_object_set_new(o, "cpu_s_per_1000_leads",
                        json_real((p->cpu1 - p->cpu0) * 1000.0 / n_leads));
    json_object_set_new(o, "peak_rss_mb",
                        json_real((double)p->rss_kb / 1024.0));
    return o;
}

static json_t *chain_json(const bench_chain *c, double n_leads, int floor) {
    json_t *o = json_object();
    json_object_set_new(o, "leads_per_s", json_real(c->rate));
    json_t *jw = json_object();
    for (int h = 0; h < BENCH_HOPS; h++) {
        json_t *w = proc_json(&c->procs[h], n_leads);
        if (floor) {
            const bench_floor_counts *k = &c->counts[h];
            json_object_set_new(w, "batches", json_integer(k->batches));
            json_object_set_new(
                w, "redis_roundtrips_per_batch",
                json_real(k->batches > 0
                              ? (double)k->roundtrips / (double)k->batches
                              : -1));
        }
        json_object_set_new(jw, c->procs[h].name, w);
    }
    json_object_set_new(o, "workers", jw);
    if (floor)
        json_object_set_new(o, "redis", redis_json(&c->redis, n_leads));
    return o;
}

static void print_json(const bench_results *r) {
    double n = (double)r->leads;
    json_t *j = json_object();
    json_object_set_new(j, "leads", json_integer(r->leads));
    json_object_set_new(j, "redis_cluster", json_boolean(r->redis_cluster));
    json_object_set_new(j, "throughput_leads_per_s", json_real(r->rate));
    json_object_set_new(j, "floor_leads_per_s", json_real(r->floor.rate));
    json_object_set_new(j, "floor_ratio",
                        json_real(ratio(r->rate, r->floor.rate)));
    json_object_set_new(j, "aof_floor_ratio", json_real(aof_floor_ratio(r)));
    json_object_set_new(j, "passthrough_leads_per_s", json_real(r->pt.rate));
    json_object_set_new(j, "passthrough_ratio",
                        json_real(ratio(r->rate, r->pt.rate)));
    json_object_set_new(j, "floor", chain_json(&r->floor, n, 1));
    json_object_set_new(j, "passthrough", chain_json(&r->pt, n, 0));
    json_t *jl = json_object();
    json_object_set_new(jl, "offered_leads_per_s", json_real(r->offered));
    json_object_set_new(jl, "leads", json_integer((json_int_t)r->n_lat));
    json_object_set_new(jl, "p50_ms", json_real(r->lat[0]));
    json_object_set_new(jl, "p99_ms", json_real(r->lat[1]));
    json_object_set_new(jl, "p999_ms", json_real(r->lat[2]));
    json_object_set_new(jl, "first_half", p50_p99_json(r->lat_halves[0]));
    json_object_set_new(jl, "second_half", p50_p99_json(r->lat_halves[1]));
    json_object_set_new(jl, "submit_to_decision",
                        p50_p99_json(r->lat_to_decision));
    json_object_set_new(jl, "decision_to_first_action",
                        p50_p99_json(r->lat_decision_to_action));
    json_object_set_new(jl, "aof_rewrites_during",
                        json_integer(r->lat_rewrites));
    json_object_set_new(jl, "aof_rewrite_started_by_bench",
                        json_boolean(r->lat_rewrite_started));
    json_object_set_new(j, "latency_submit_to_first_action", jl);
    json_t *jw = json_object();
    for (int w = 0; w < BENCH_WORKERS; w++) {
        const proc *p = &r->workers[w];
        json_t *o = proc_json(p, n);
        double rt = p->rt1 - p->rt0, b = p->batches1 - p->batches0;
        json_object_set_new(o, "mean_kafka_wait_ms",
                            json_real(r->wait_mean_ms[w]));
        json_object_set_new(o, "mean_batch_size", json_real(r->batch_mean[w]));
        json_object_set_new(o, "batches", json_real(b));
        json_object_set_new(o, "redis_roundtrips_per_lead", json_real(rt / n));
        json_object_set_new(o, "redis_roundtrips_per_batch",
                            json_real(b > 0 ? rt / b : 0));
        json_object_set_new(jw, p->name, o);
    }
    json_object_set_new(j, "workers", jw);
    json_t *jr = redis_json(&r->redis, n);
    json_object_set_new(jr, "busy_share_at_max", json_real(r->redis_busy));
    json_object_set_new(j, "redis", jr);
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    puts(s);
    free(s);
    json_decref(j);
}

static void print_text(const bench_results *r) {
    double n = (double)r->leads;
    printf("lastmile bench — %lld leads, embedded stack%s, this machine\n\n",
           r->leads, r->redis_cluster ? " on a Redis Cluster" : "");
    printf("  throughput, submitted → first action   %10.0f leads/s\n",
           r->rate);
    printf("  state floor (the mission's Redis work)  %10.0f leads/s\n",
           r->floor.rate);
    printf("  passthrough (same hops, no work)        %10.0f leads/s\n",
           r->pt.rate);
    printf("  fleet / floor %.2f, fleet / passthrough %.2f\n",
           ratio(r->rate, r->floor.rate), ratio(r->rate, r->pt.rate));
    printf("  latency at %.0f leads/s (%zu leads)     p50 %.1f ms  p99 "
           "%.1f ms  p99.9 %.1f ms\n",
           r->offered, r->n_lat, r->lat[0], r->lat[1], r->lat[2]);
    if (r->lat_rewrites > 0)
        printf("    (Redis rewrote its AOF during this run%s: the rewrite "
               "takes one of the machine's cores while it runs)\n",
               r->lat_rewrite_started ? ", started by the bench" : "");
    printf("    p50 / p99 ms: first half %.1f / %.1f, second half %.1f / "
           "%.1f; submit → decision %.1f / %.1f, decision → first action "
           "%.1f / %.1f\n",
           r->lat_halves[0][0], r->lat_halves[0][1], r->lat_halves[1][0],
           r->lat_halves[1][1], r->lat_to_decision[0], r->lat_to_decision[1],
           r->lat_decision_to_action[0], r->lat_decision_to_action[1]);
    const bench_redis_fig *f = &r->redis, *fl = &r->floor.redis;
    printf("  redis per lead, fleet: %.2f commands, %.0f AOF bytes, %.3f "
           "round trips; %.2f round trips per batch\n",
           f->commands_per_lead, f->aof_bytes_per_lead, f->roundtrips_per_lead,
           f->roundtrips_per_batch);
    printf("  redis per lead, floor: %.2f commands, %.0f AOF bytes (the "
           "fleet's: %.2f times)\n",
           fl->commands_per_lead, fl->aof_bytes_per_lead, aof_floor_ratio(r));
    printf("  redis cpu s / 1000 leads: fleet %.3f (+ %.3f in AOF rewrites), "
           "floor %.3f; busy %.0f%% of a core at the fleet's maximum\n\n",
           f->cpu_s_per_1000_leads, f->rewrite_cpu_s_per_1000_leads,
           fl->cpu_s_per_1000_leads, r->redis_busy * 100);
    printf("  %-20s %18s %12s %16s %11s %13s\n", "worker", "cpu s / 1000 leads",
           "peak RSS MB", "mean wait (ms)", "mean batch", "redis rt/batch");
    for (int w = 0; w < BENCH_WORKERS; w++) {
        const proc *p = &r->workers[w];
        double b = p->batches1 - p->batches0;
        printf("  %-20s %18.3f %12.1f %16.1f %11.1f %13.2f\n", p->name,
               (p->cpu1 - p->cpu0) * 1000.0 / n, (double)p->rss_kb / 1024.0,
               r->wait_mean_ms[w], r->batch_mean[w],
               b > 0 ? (p->rt1 - p->rt0) / b : 0);
    }
    for (int h = 0; h < BENCH_HOPS; h++) {
        const proc *p = &r->floor.procs[h];
        const bench_floor_counts *k = &r->floor.counts[h];
        printf("  %-20s %18.3f %12.1f %16s %11s %13.2f\n", p->name,
               (p->cpu1 - p->cpu0) * 1000.0 / n, (double)p->rss_kb / 1024.0, "",
               "",
               k->batches > 0 ? (double)k->roundtrips / (double)k->batches
                              : -1);
    }
}

void bench_report_print(const bench_results *r, int json) {
    if (json)
        print_json(r);
    else
        print_text(r);
}
