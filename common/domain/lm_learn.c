/* lm_learn.c — learned timing's estimates and choice (lm_learn.h). */
#include "lm_learn.h"

#include "lm_fmt.h"
#include "lm_hash.h"
#include "lm_lead.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

#define LEARN_SEED_HOLDOUT 0x686f6c646f7574ULL /* "holdout" */
/* Thompson's slot probability: how often the chosen slot wins this many
 * redraws (an estimate; the value rule's is exact) */
#define LEARN_THOMPSON_REDRAWS 16

void lm_learn_cfg_default(lm_learn_cfg *c) {
    c->features = LM_LEARN_F_ROLE | LM_LEARN_F_CHANNEL | LM_LEARN_F_CADENCE |
                  LM_LEARN_F_DAY;
    c->rule = LM_LEARN_RULE_VALUE;
    c->pool_strength = 150;
    c->explore = 0.03;
    c->half_life_ms = 7LL * 86400 * 1000;
    c->holdout = 0;
}

/* ============================================================ contexts */

/* 1 when word (lower case) occurs in t as a whole word, any case. */
static int has_word(const char *t, const char *word) {
    size_t n = strlen(word);
    for (const char *p = t; *p; p++) {
        if (p != t && isalnum((unsigned char)p[-1]))
            continue;
        size_t i = 0;
        while (i < n && p[i] && tolower((unsigned char)p[i]) == word[i])
            i++;
        if (i == n && !isalnum((unsigned char)p[n]))
            return 1;
    }
    return 0;
}

const char *lm_learn_role(const char *title) {
    static const char *const execs[] = {
        "ceo", "cfo",   "cto",     "coo",      "cmo",       "cio",
        "cro", "chief", "founder", "owner",    "president", "vp",
        "svp", "evp",   "partner", "cofounder"};
    static const char *const managers[] = {"head", "director", "manager",
                                           "lead", "managing", "supervisor"};
    if (!title)
        return "none";
    int any = 0;
    for (const char *p = title; *p; p++)
        any |= isalnum((unsigned char)*p) != 0;
    if (!any)
        return "none";
    for (size_t i = 0; i < sizeof(execs) / sizeof(execs[0]); i++)
        if (has_word(title, execs[i]))
            return "exec";
    if (has_word(title, "vice"))
        return "exec";
    for (size_t i = 0; i < sizeof(managers) / sizeof(managers[0]); i++)
        if (has_word(title, managers[i]))
            return "manager";
    return "ic";
}

/* parts joined by '.' into buf; 0, -1 when it does not fit */
static int join(const char *const *parts, size_t n, char *buf, size_t bufsz) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t pl = strlen(parts[i]);
        if (len + pl + 1 >= bufsz)
            return -1;
        if (i)
            buf[len++] = '.';
        memcpy(buf + len, parts[i], pl);
        len += pl;
    }
    buf[len] = '\0';
    return 0;
}

int lm_learn_keys(const lm_learn_cfg *c, const char *segment, const char *role,
                  const char *cadence, const char *channel, int step,
                  char keys[LM_LEARN_LEVELS][LM_LEARN_KEY_MAX]) {
    char stepb[LM_FMT_I64_MAX + 1] = "s", base[LM_LEARN_KEY_MAX],
                                full[LM_LEARN_KEY_MAX],
                                where[LM_POLICY_SEGMENT_MAX];
    lm_fmt_i64(stepb + 1, step);
    const char *parts[4];
    size_t n = 0;
    parts[n++] = c->features & LM_LEARN_F_ROLE ? (role ? role : "-") : "all";
    if (join(parts, n, base, sizeof(base)) != 0)
        return -1;
    if (c->features & LM_LEARN_F_CADENCE)
        parts[n++] = cadence ? cadence : "-";
    if (c->features & LM_LEARN_F_CHANNEL)
        parts[n++] = channel ? channel : "-";
    if (c->features & LM_LEARN_F_STEP)
        parts[n++] = stepb;
    if (join(parts, n, full, sizeof(full)) != 0)
        return -1;
    size_t sl = strlen(segment ? segment : "");
    if (sl >= sizeof(where))
        return -1;
    memcpy(where, segment ? segment : "", sl + 1);
    char *slash = strchr(where, '/');
    if (slash)
        *slash = '\0';
    const char *seg = segment ? segment : "";
    size_t lens[LM_LEARN_LEVELS] = {
        lm_fmt_cat(keys[0], LM_LEARN_KEY_MAX, LM_LEARN_KEY_PREFIX "*|", base,
                   LM_LEARN_KEY_SUFFIX, NULL),
        lm_fmt_cat(keys[1], LM_LEARN_KEY_MAX, LM_LEARN_KEY_PREFIX, where, "|",
                   base, LM_LEARN_KEY_SUFFIX, NULL),
        lm_fmt_cat(keys[2], LM_LEARN_KEY_MAX, LM_LEARN_KEY_PREFIX, seg, "|",
                   base, LM_LEARN_KEY_SUFFIX, NULL),
        n > 1 ? lm_fmt_cat(keys[3], LM_LEARN_KEY_MAX, LM_LEARN_KEY_PREFIX, seg,
                           "|", full, LM_LEARN_KEY_SUFFIX, NULL)
              : 0};
    if (n <= 1)
        keys[3][0] = '\0';
    for (int L = 0; L < LM_LEARN_LEVELS; L++)
        if (lens[L] >= LM_LEARN_KEY_MAX)
            return -1;
    return 0;
}

/* ============================================================ estimates */

/* One level's hour-of-day curve, shrunk toward the level above's. */
static void level_hod(const lm_learn_counts *x, double m, const double *up,
                      double *hod) {
    for (int h = 0; h < 24; h++) {
        double s = 0, n = 0;
        for (int d = 0; d < 7; d++) {
            s += x->s[d * 24 + h];
            n += (double)x->s[d * 24 + h] + x->f[d * 24 + h];
        }
        hod[h] = (s + m * up[h]) / (n + m);
    }
}

/* One level's day-of-week factor: the answers a day got over those its
 * hours' curve expects, shrunk toward the level above's factor with the
 * weight of k expected answers. */
static void level_dow(const lm_learn_counts *x, const double *hod, double k,
                      const double *up, double *dow) {
    for (int d = 0; d < 7; d++) {
        double o = 0, e = 0;
        for (int h = 0; h < 24; h++) {
            o += x->s[d * 24 + h];
            e += ((double)x->s[d * 24 + h] + x->f[d * 24 + h]) * hod[h];
        }
        dow[d] = (o + k * up[d]) / (e + k);
    }
}

void lm_learn_estimate(const lm_learn_cfg *c, const lm_learn_counts *lv,
                       double est[LM_LEARN_SLOTS]) {
    double m = c->pool_strength > 0 ? c->pool_strength : 1;
    int by_day = (c->features & LM_LEARN_F_DAY) != 0;
    /* the overall rate, from the market level, with a weak prior of 5% */
    double s_all = 0, n_all = 0;
    for (int k = 0; k < LM_LEARN_SLOTS; k++) {
        s_all += lv[LM_LEARN_GLOBAL].s[k];
        n_all += (double)lv[LM_LEARN_GLOBAL].s[k] + lv[LM_LEARN_GLOBAL].f[k];
    }
    double base = (s_all + 0.05 * m) / (n_all + m);
    double hod_up[24], dow_up[7], up[LM_LEARN_SLOTS];
    for (int h = 0; h < 24; h++)
        hod_up[h] = base;
    for (int d = 0; d < 7; d++)
        dow_up[d] = 1;
    for (int k = 0; k < LM_LEARN_SLOTS; k++)
        up[k] = base;
    for (int L = 0; L < LM_LEARN_LEVELS; L++) {
        const lm_learn_counts *x = &lv[L];
        double hod[24], dow[7] = {1, 1, 1, 1, 1, 1, 1};
        level_hod(x, m, hod_up, hod);
        if (by_day)
            level_dow(x, hod, m * base, dow_up, dow);
        for (int k = 0; k < LM_LEARN_SLOTS; k++) {
            int h = k % 24, d = k / 24;
            if (!by_day) {
                up[k] = hod[h];
                continue;
            }
            /* the slot's own counts move it from the level above's
               estimate, rescaled by how this level's hours and days
               differ from the level above's */
            double sep = hod[h] * dow[d], sep_up = hod_up[h] * dow_up[d];
            double prior = sep_up > 0 ? up[k] * sep / sep_up : sep;
            double n = (double)x->s[k] + x->f[k];
            up[k] = (x->s[k] + m * prior) / (n + m);
        }
        memcpy(hod_up, hod, sizeof(hod));
        memcpy(dow_up, dow, sizeof(dow));
    }
    memcpy(est, up, sizeof(up));
}

/* ============================================================== choice */

static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s) {
    return ((double)(next_u64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double normal(uint64_t *s) {
    double u1 = unit(s), u2 = unit(s);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Marsaglia–Tsang, shape >= 1. */
static double gamma_draw(double shape, uint64_t *s) {
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = normal(s), v = 1.0 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = unit(s);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return d * v;
    }
}

double lm_learn_beta(double a, double b, uint64_t *rng) {
    double x = gamma_draw(a, rng), y = gamma_draw(b, rng);
    return x / (x + y);
}

int lm_learn_holdout(const char *lead_id, double share) {
    return share > 0 && lm_hash_unit(lm_hash64_str(lead_id ? lead_id : "",
                                                   LEARN_SEED_HOLDOUT)) < share;
}

/* Thompson over the segment level's Beta(1+s, 1+f): the candidate with
 * the highest draw. */
static size_t thompson(const lm_slot *cand, size_t n, const lm_learn_counts *x,
                       uint64_t rng) {
    size_t best = 0;
    double top = -1;
    for (size_t i = 0; i < n; i++) {
        int32_t k = cand[i].slot;
        if (k < 0 || k >= LM_LEARN_SLOTS)
            continue;
        double d = lm_learn_beta(1.0 + x->s[k], 1.0 + x->f[k], &rng);
        if (d > top) {
            top = d;
            best = i;
        }
    }
    return best;
}

int lm_learn_choose(const lm_learn_cfg *c, const lm_slot *cand, size_t n,
                    int64_t earliest_ms, const double est[LM_LEARN_SLOTS],
                    const lm_learn_counts *lv, uint64_t seed,
                    lm_learn_choice *out) {
    if (n == 0)
        return -1;
    size_t pick;
    double prob;
    if (c->rule == LM_LEARN_RULE_THOMPSON) {
        pick = thompson(cand, n, &lv[LM_LEARN_SEGMENT], seed);
        size_t wins = 0;
        for (int r = 0; r < LEARN_THOMPSON_REDRAWS; r++)
            wins += thompson(cand, n, &lv[LM_LEARN_SEGMENT],
                             lm_hash64(&r, sizeof(r), seed)) == pick;
        prob = (double)wins / LEARN_THOMPSON_REDRAWS;
    } else {
        size_t greedy = 0;
        double top = -1;
        for (size_t i = 0; i < n; i++) {
            int32_t k = cand[i].slot;
            if (k < 0 || k >= LM_LEARN_SLOTS)
                continue;
            double wait = (double)(cand[i].start_ms - earliest_ms);
            double v = est[k];
            if (c->half_life_ms > 0 && wait > 0)
                v *= exp2(-wait / (double)c->half_life_ms);
            if (v > top) {
                top = v;
                greedy = i;
            }
        }
        uint64_t rng = seed;
        double e = c->explore < 0 ? 0 : c->explore > 1 ? 1 : c->explore;
        pick = greedy;
        if (unit(&rng) < e) {
            pick = (size_t)(unit(&rng) * (double)n);
            if (pick >= n)
                pick = n - 1;
        }
        prob = e / (double)n + (pick == greedy ? 1 - e : 0);
    }
    out->when_ms = cand[pick].start_ms;
    out->slot = cand[pick].slot;
    out->probability = prob;
    return 0;
}

/* ===================================================== arms and timers */

int lm_learn_arm(const lm_policy *p, const char *lead_id, int *holdout) {
    *holdout = lm_learn_holdout(lead_id, lm_policy_learning(p)->holdout);
    return !*holdout && lm_lead_adaptive(lead_id, lm_policy_control_share(p));
}

int lm_learn_timer_segment(const char *segment, const char *role,
                           const char *cadence, char *buf, size_t bufsz) {
    size_t n = role && *role
                   ? lm_fmt_cat(buf, bufsz, segment ? segment : "", "|", role,
                                "|", cadence ? cadence : "", NULL)
                   : lm_fmt_cat(buf, bufsz, segment ? segment : "", NULL);
    return n < bufsz ? 0 : -1;
}

int lm_learn_timer_segment_parse(const char *s, char *segment, char *role,
                                 char *cadence) {
    const char *b1 = strchr(s, '|'), *b2 = b1 ? strchr(b1 + 1, '|') : NULL;
    size_t n1 = b1 ? (size_t)(b1 - s) : strlen(s);
    size_t n2 = b2 ? (size_t)(b2 - b1 - 1) : 0;
    size_t n3 = b2 ? strlen(b2 + 1) : 0;
    if (n1 >= LM_POLICY_SEGMENT_MAX || n2 >= LM_LEARN_ROLE_MAX ||
        n3 >= LM_POLICY_NAME_MAX || (b1 && !b2))
        return -1;
    memcpy(segment, s, n1);
    segment[n1] = '\0';
    memcpy(role, b2 ? b1 + 1 : "", n2);
    role[n2] = '\0';
    memcpy(cadence, b2 ? b2 + 1 : "", n3);
    cadence[n3] = '\0';
    return 0;
}
