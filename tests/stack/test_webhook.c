/* test_webhook.c — lastmile-webhook on the embedded stack, against real
 * HTTP: examples/receiver.py, started by the test on a free loopback port
 * (stopped in the fini, even after a failed assertion), verifying each
 * signature and logging each request.
 *   webhook.retries_then_delivers_once_signed: a receiver that fails
 *     (503), times out, then answers gets each action once with a 2xx,
 *     after the retries, at or after its scheduled time, every request
 *     signed; a CANCEL of an action still held drops it (never posted);
 *     a CANCEL of a posted action is posted as "<action_id>:cancel";
 *   webhook.never_answers_dead_letter_then_replay_once: a receiver that
 *     always fails yields one dead letter with the last status and body
 *     excerpt after LASTMILE_WEBHOOK_MAX_ATTEMPTS; `lastmile dlq list` and
 *     `show` see it; with the receiver fixed, `lastmile dlq replay` twice
 *     (and once more with --force) posts the action once;
 *   webhook.killed_mid_delivery_loses_nothing: a webhook killed -9 while
 *     a POST waits for its answer, then one that dies after a POST and
 *     before settling it (LASTMILE_TEST_CRASH_AT=deliver-after-effect:
 *     _exit, as kill -9), lose nothing: after each lease (30 s) the next
 *     webhook posts again; every action is answered 2xx, a repeat carries
 *     the same Idempotency-Key, and a 2xx is repeated only for the
 *     delivery that was cut before it settled;
 *   webhook.stopped_mid_sweep_puts_claims_back: SIGTERM while a POST
 *     waits: the POST ends (its timeout), its retry is armed, the claim not
 *     reached is put back in the timer set (not left to a lease), and the
 *     webhook exits 0 with no claim left. */
#include "stack_fixture.h"

#include "lm_clock.h"
#include "lm_env.h"
#include "lm_lead.h"
#include "lm_timers.h"

#include "lastmile/v1/lastmile.pb-c.h"

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCALE 60.0 /* a simulated minute per real second */

static fixture fx;
static pid_t receiver_pid;
static char dir[512], rlog[600], secret[600];
static int receiver_port;

static void receiver_stop(void) {
    if (receiver_pid > 0) {
        kill(receiver_pid, SIGTERM);
        waitpid(receiver_pid, NULL, 0);
    }
    receiver_pid = 0;
}

static void teardown(void) {
    receiver_stop();
    fixture_down(&fx);
}

/* Starts examples/receiver.py on `port` (0: a free one) answering as
 * `answer`; sets receiver_port. */
static void receiver_start(const char *answer, int port) {
    char out[600], script[512], p[16];
    snprintf(out, sizeof(out), "%s/receiver.out", fx.dir);
    snprintf(script, sizeof(script), "%s/examples/receiver.py", LM_SOURCE_DIR);
    snprintf(p, sizeof(p), "%d", port);
    unlink(out);
    receiver_pid = fork();
    cr_assert_geq(receiver_pid, 0);
    if (receiver_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        FILE *f = freopen(out, "w", stdout);
        (void)f;
        execlp("python3", "python3", "-u", script, "--port", p, "--secret-file",
               secret, "--answer", answer, "--hang-s", "3", "--log", rlog,
               (char *)NULL);
        _exit(127);
    }
    receiver_port = 0;
    for (int64_t t0 = fixture_mono_ms();
         !receiver_port && fixture_mono_ms() - t0 < fixture_ms(10000);
         usleep(50000)) {
        FILE *f = fopen(out, "r");
        char line[256];
        if (f && fgets(line, sizeof(line), f))
            sscanf(line, "listening on http://127.0.0.1:%d/", &receiver_port);
        if (f)
            fclose(f);
    }
    cr_assert_gt(receiver_port, 0, "the receiver did not start");
}

/* The stack, the secret and the receiver; the webhook's settings. */
static void setup(const char *answer, const char *max_attempts) {
    cr_assert_eq(fixture_up(&fx, 2, SCALE), 0);
    snprintf(secret, sizeof(secret), "%s/webhook.secret", fx.dir);
    snprintf(rlog, sizeof(rlog), "%s/receiver.jsonl", fx.dir);
    FILE *f = fopen(secret, "w");
    cr_assert(f);
    fputs("test-secret-0123456789abcdef\n", f);
    fclose(f);
    receiver_start(answer, 0);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hooks", receiver_port);
    setenv("LASTMILE_WEBHOOK_URL", url, 1);
    setenv("LASTMILE_WEBHOOK_SECRET_FILE", secret, 1);
    setenv("LASTMILE_WEBHOOK_TIMEOUT_MS", "1000", 1);
    setenv("LASTMILE_WEBHOOK_BACKOFF_MS", "200", 1);
    setenv("LASTMILE_WEBHOOK_BACKOFF_MAX_MS", "800", 1);
    setenv("LASTMILE_WEBHOOK_MAX_ATTEMPTS", max_attempts, 1);
    int64_t origin = 0;
    const char *o = getenv("LASTMILE_TIME_ORIGIN_MS");
    cr_assert(o && lm_parse_int64(o, 1, INT64_MAX, &origin) == 0);
    lm_clock_init(SCALE, origin, 0);
    (void)dir;
}

/* A lead id of lead number n. */
static void lead_of(int n, char lead[LM_LEAD_ID_MAX]) {
    char person[LM_PERSON_MAX], email[64], ev[32];
    snprintf(email, sizeof(email), "webhook%d@example.com", n);
    snprintf(ev, sizeof(ev), "ev-%d", n);
    lm_lead_person(email, person);
    lm_lead_id(person, ev, lead);
}

/* Produces an action of lead n (kind, channel, scheduled at sched_ms);
 * its action_id into id. */
static void action(int n, Lastmile__V1__ActionKind kind, const char *channel,
                   int64_t sched_ms, char *id, size_t idsz) {
    char lead[LM_LEAD_ID_MAX];
    lead_of(n, lead);
    snprintf(id, idsz, "%s:action:0", lead);
    Lastmile__V1__FollowUpAction a = LASTMILE__V1__FOLLOW_UP_ACTION__INIT;
    a.action_id = id;
    a.lead_id = lead;
    a.channel = (char *)channel;
    a.kind = kind;
    a.scheduled_for_ms = sched_ms;
    a.owner = "ana";
    a.reason = kind == LASTMILE__V1__ACTION_KIND__CANCEL ? "responded" : "";
    cr_assert_eq(fixture_produce(&fx, "actions", lead, &a.base), 0);
}

/* The receiver's log: for key, how many requests, how many answered 2xx,
 * the real ms of the first 2xx; *unverified counts requests (any key)
 * whose signature failed. */
typedef struct key_log {
    int requests, ok;
    int64_t ok_at_ms;
    char answers[128];
} key_log;

static void read_log(const char *key, key_log *k, int *unverified) {
    memset(k, 0, sizeof(*k));
    *unverified = 0;
    FILE *f = fopen(rlog, "r");
    char line[8192];
    while (f && fgets(line, sizeof(line), f)) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j)
            continue;
        *unverified += !json_is_true(json_object_get(j, "verified"));
        const char *kk = json_string_value(json_object_get(j, "key"));
        const char *ans = json_string_value(json_object_get(j, "answer"));
        if (kk && ans && strcmp(kk, key) == 0) {
            k->requests++;
            size_t n = strlen(k->answers);
            snprintf(k->answers + n, sizeof(k->answers) - n, "%s%s",
                     n ? "," : "", ans);
            if (ans[0] == '2' && k->ok++ == 0)
                k->ok_at_ms = json_integer_value(json_object_get(j, "at_ms"));
        }
        json_decref(j);
    }
    if (f)
        fclose(f);
}

/* Waits until key was answered 2xx. */
static int wait_ok(const char *key, int64_t ms) {
    key_log k;
    int unv;
    for (int64_t t0 = fixture_mono_ms();
         fixture_mono_ms() - t0 < fixture_ms(ms); usleep(100000)) {
        read_log(key, &k, &unv);
        if (k.ok)
            return 1;
    }
    return 0;
}

/* The real epoch ms at which simulated time sim_ms comes. */
static int64_t real_of(int64_t sim_ms) {
    return lm_clock_real_ms() +
           lm_clock_real_delay_ms(sim_ms - lm_clock_now_ms());
}

Test(webhook, retries_then_delivers_once_signed, .fini = teardown,
     .timeout = 180) {
    setup("503,hang,200", "6");
    cr_assert_geq(fixture_start_worker(&fx, "webhook"), 0);
    int64_t now = lm_clock_now_ms();
    char a[128], b[128], c[128], d[128], dc[160];
    int64_t sched_a = now + 120000; /* 2 real s ahead */
    action(1, LASTMILE__V1__ACTION_KIND__TOUCH, "email", sched_a, a, sizeof(a));
    action(2, LASTMILE__V1__ACTION_KIND__TOUCH, "call", now - 3600000, b,
           sizeof(b)); /* past: at once */
    action(3, LASTMILE__V1__ACTION_KIND__TOUCH, "email", now + 86400000, c,
           sizeof(c)); /* a day ahead: cancelled while held */
    action(3, LASTMILE__V1__ACTION_KIND__CANCEL, "email", now, c, sizeof(c));
    action(4, LASTMILE__V1__ACTION_KIND__TOUCH, "sms", now, d, sizeof(d));
    int64_t a_real = real_of(sched_a);
    cr_assert(wait_ok(d, 30000), "the action on sms was not delivered");
    action(4, LASTMILE__V1__ACTION_KIND__CANCEL, "sms", now, d, sizeof(d));
    snprintf(dc, sizeof(dc), "%s:cancel", d);
    cr_assert(wait_ok(a, 30000) && wait_ok(b, 30000) && wait_ok(dc, 30000),
              "not every action was delivered");
    const char *keys[] = {a, b, d, dc};
    for (size_t i = 0; i < 4; i++) {
        key_log k;
        int unverified;
        read_log(keys[i], &k, &unverified);
        cr_expect_eq(unverified, 0, "%d requests were not signed right",
                     unverified);
        cr_expect_str_eq(k.answers, "503,hang,200", "%s: answers %s", keys[i],
                         k.answers);
        cr_expect_eq(k.ok, 1, "%s answered 2xx %d times", keys[i], k.ok);
    }
    key_log ka;
    int unv;
    read_log(a, &ka, &unv);
    cr_expect_geq(ka.ok_at_ms, a_real, "delivered %lld ms before its time",
                  (long long)(a_real - ka.ok_at_ms));
    read_log(c, &ka, &unv);
    cr_expect_eq(ka.requests, 0, "the cancelled action was posted");
    char cc[160];
    snprintf(cc, sizeof(cc), "%s:cancel", c);
    read_log(cc, &ka, &unv);
    cr_expect_eq(ka.requests, 0, "the cancel of a held action was posted");
}

/* Runs `lastmile dlq ARGS...` and returns its exit code; its stdout in
 * out. */
static int dlq(char *out, size_t outsz, const char *a1, const char *a2,
               const char *a3, const char *a4) {
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s/cli/lastmile dlq %s %s %s %s 2>&1",
             LM_BINARY_DIR, a1, a2 ? a2 : "", a3 ? a3 : "", a4 ? a4 : "");
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t n = fread(out, 1, outsz - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void on_dead(void *opaque, const rd_kafka_message_t *rkm) {
    Lastmile__V1__DeadLetter **out = opaque;
    Lastmile__V1__DeadLetter *dl =
        lastmile__v1__dead_letter__unpack(NULL, rkm->len, rkm->payload);
    if (dl && !*out && strcmp(dl->worker, "webhook") == 0)
        *out = dl;
    else if (dl)
        lastmile__v1__dead_letter__free_unpacked(dl, NULL);
}

Test(webhook, never_answers_dead_letter_then_replay_once, .fini = teardown,
     .timeout = 180) {
    setup("503", "3");
    cr_assert_geq(fixture_start_worker(&fx, "webhook"), 0);
    char e[128], out[8192], id[256];
    action(5, LASTMILE__V1__ACTION_KIND__TOUCH, "email", lm_clock_now_ms(), e,
           sizeof(e));
    topic_reader *r = reader_new(&fx, "dlq");
    Lastmile__V1__DeadLetter *dl = NULL;
    for (int64_t t0 = fixture_mono_ms();
         !dl && fixture_mono_ms() - t0 < fixture_ms(30000);)
        reader_drain(r, 500, on_dead, &dl);
    reader_free(r);
    cr_assert(dl, "no dead letter");
    cr_expect(strstr(dl->reason, "HTTP 503 after 3 attempts: not now"),
              "reason: %s", dl->reason);
    snprintf(id, sizeof(id), "%s", dl->dead_letter_id);
    lastmile__v1__dead_letter__free_unpacked(dl, NULL);
    key_log k;
    int unv;
    read_log(e, &k, &unv);
    cr_expect_str_eq(k.answers, "503,503,503");

    cr_assert_eq(dlq(out, sizeof(out), "list", "--worker", "webhook", NULL), 0,
                 "%s", out);
    cr_expect(strstr(out, id) && strstr(out, "1 dead letter"), "%s", out);
    cr_assert_eq(dlq(out, sizeof(out), "show", id, NULL, NULL), 0, "%s", out);
    cr_expect(strstr(out, "\"original_decoded\":{") && strstr(out, e), "%s",
              out);
    cr_assert_eq(
        dlq(out, sizeof(out), "replay", "--worker", "webhook", "--dry-run"), 0,
        "%s", out);
    cr_expect(strstr(out, "1 to replay"), "%s", out);

    /* the receiver fixed, on the same port */
    int port = receiver_port;
    receiver_stop();
    unlink(rlog);
    receiver_start("200", port);
    cr_assert_eq(dlq(out, sizeof(out), "replay", "--worker", "webhook", NULL),
                 0, "%s", out);
    cr_expect(strstr(out, "1 replayed, 0 skipped"), "%s", out);
    cr_assert_eq(dlq(out, sizeof(out), "replay", "--worker", "webhook", NULL),
                 0, "%s", out);
    cr_expect(strstr(out, "0 replayed, 1 skipped"), "%s", out);
    cr_assert(wait_ok(e, 30000), "the replayed action was not delivered");
    cr_assert_eq(dlq(out, sizeof(out), "replay", "--force", "--id", id), 0,
                 "%s", out);
    cr_expect(strstr(out, "1 replayed"), "%s", out);
    sleep(3); /* the forced replay reached the webhook, which posted it */
    read_log(e, &k, &unv);
    cr_expect_eq(k.requests, 1, "replays posted it %d times", k.requests);
    cr_expect_eq(unv, 0);
}

/* Lines in the receiver's log: requests it has taken. */
static int requests_seen(void) {
    FILE *f = fopen(rlog, "r");
    int n = 0, c;
    while (f && (c = fgetc(f)) != EOF)
        n += c == '\n';
    if (f)
        fclose(f);
    return n;
}

/* Waits for the webhook in slot to exit by itself; its status. */
static int wait_exit(int slot) {
    int st = 0;
    pid_t w = 0;
    for (int64_t t0 = fixture_mono_ms();
         w == 0 && fixture_mono_ms() - t0 < fixture_ms(60000); usleep(50000))
        w = waitpid(fx.procs[slot], &st, WNOHANG);
    cr_assert_eq(w, fx.procs[slot], "the webhook did not stop");
    fx.procs[slot] = 0;
    return st;
}

Test(webhook, killed_mid_delivery_loses_nothing, .fini = teardown,
     .timeout = 300) {
    setup("hang,200", "6");
    int slot = fixture_start_worker(&fx, "webhook");
    cr_assert_geq(slot, 0);
    char f[128], g[128];
    int64_t now = lm_clock_now_ms();
    action(6, LASTMILE__V1__ACTION_KIND__TOUCH, "email", now, f, sizeof(f));
    action(7, LASTMILE__V1__ACTION_KIND__TOUCH, "call", now, g, sizeof(g));
    /* 1. kill -9 while the first POST waits for its answer */
    for (int64_t t0 = fixture_mono_ms();
         requests_seen() == 0 && fixture_mono_ms() - t0 < fixture_ms(20000);)
        usleep(20000);
    cr_assert_eq(requests_seen(), 1, "no POST in flight to kill");
    int st = fixture_stop_worker(&fx, slot, SIGKILL);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* 2. after the lease, delivered again; this one dies after a POST,
       before it settled what the receiver answered */
    setenv("LASTMILE_TEST_CRASH_AT", "deliver-after-effect", 1);
    slot = fixture_start_worker(&fx, "webhook");
    unsetenv("LASTMILE_TEST_CRASH_AT");
    cr_assert_geq(slot, 0);
    st = wait_exit(slot);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 137);
    /* 3. and again after that lease: nothing is lost */
    cr_assert_geq(fixture_start_worker(&fx, "webhook"), 0);
    cr_assert(wait_ok(f, 90000) && wait_ok(g, 90000), "an action was lost");
    sleep(1);
    key_log kf, kg;
    int unv;
    read_log(f, &kf, &unv);
    read_log(g, &kg, &unv);
    cr_expect_eq(unv, 0, "%d requests were not signed right", unv);
    /* a success is repeated only when its delivery was cut before it
       settled (step 2), and then with the same key */
    cr_expect(kf.ok >= 1 && kf.ok <= 2 && kg.ok >= 1 && kg.ok <= 2,
              "2xx answers: %d and %d", kf.ok, kg.ok);
    cr_expect_leq(kf.ok + kg.ok, 3, "answers %s and %s", kf.answers,
                  kg.answers);
}

/* Timers of the webhook's namespace: pending and claimed. */
static void webhook_timers(long long *pending, long long *claimed) {
    redisContext *c = redisConnect("127.0.0.1", fx.st.redis_port);
    cr_assert(c && !c->err, "redis connect");
    *pending = *claimed = 0;
    for (int b = 0; b < LM_TIMERS_BUCKETS; b++) {
        char set[LM_TIMERS_KEY_MAX], cl[LM_TIMERS_KEY_MAX];
        lm_timers_key_ns("webhook", b, "", set);
        lm_timers_key_ns("webhook", b, ":claimed", cl);
        redisReply *r = redisCommand(c, "ZCARD %s", set);
        *pending += r ? r->integer : 0;
        freeReplyObject(r);
        r = redisCommand(c, "ZCARD %s", cl);
        *claimed += r ? r->integer : 0;
        freeReplyObject(r);
    }
    redisFree(c);
}

Test(webhook, stopped_mid_sweep_puts_claims_back, .fini = teardown,
     .timeout = 120) {
    setup("hang", "6");
    setenv("LASTMILE_WEBHOOK_TIMEOUT_MS", "2000", 1);
    int slot = fixture_start_worker(&fx, "webhook");
    cr_assert_geq(slot, 0);
    char f[128], g[128];
    int64_t now = lm_clock_now_ms();
    action(8, LASTMILE__V1__ACTION_KIND__TOUCH, "email", now, f, sizeof(f));
    action(9, LASTMILE__V1__ACTION_KIND__TOUCH, "email", now, g, sizeof(g));
    for (int64_t t0 = fixture_mono_ms();
         requests_seen() == 0 && fixture_mono_ms() - t0 < fixture_ms(20000);)
        usleep(20000);
    cr_assert_eq(requests_seen(), 1, "no POST in flight");
    int st = fixture_stop_worker(&fx, slot, SIGTERM);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    long long pending, claimed;
    webhook_timers(&pending, &claimed);
    cr_expect_eq(claimed, 0, "%lld claims left to their lease", claimed);
    cr_expect_eq(pending, 2, "%lld timers pending (a retry and one put back)",
                 pending);
    cr_expect_eq(requests_seen(), 1);
}
