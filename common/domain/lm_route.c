/* lm_route.c — the routing choice and the free-mail table (lm_route.h).
 * Pure: no I/O, no globals but constant tables. */
#include "lm_route.h"
#include "lm_worktime.h"

#include <string.h>
#include <strings.h>

/* Free-mail providers: a lead from one of these is a person, not an
 * account. Exact domains, then provider prefixes that cover the
 * country variants (yahoo.co.uk, hotmail.fr, gmx.de ...). */
static const char *const free_mail[] = {
    "gmail.com",      "googlemail.com", "outlook.com",    "live.com",
    "msn.com",        "aol.com",        "icloud.com",     "me.com",
    "mac.com",        "proton.me",      "protonmail.com", "pm.me",
    "zoho.com",       "mail.com",       "email.com",      "web.de",
    "t-online.de",    "freenet.de",     "mail.ru",        "bk.ru",
    "list.ru",        "inbox.ru",       "yandex.ru",      "yandex.com",
    "ya.ru",          "qq.com",         "163.com",        "126.com",
    "sina.com",       "naver.com",      "daum.net",       "hanmail.net",
    "orange.fr",      "wanadoo.fr",     "free.fr",        "laposte.net",
    "libero.it",      "virgilio.it",    "tiscali.it",     "seznam.cz",
    "wp.pl",          "o2.pl",          "interia.pl",     "onet.pl",
    "bol.com.br",     "uol.com.br",     "terra.com.br",   "rediffmail.com",
    "fastmail.com",   "hey.com",        "tutanota.com",   "gmx.net",
    "comcast.net",    "verizon.net",    "att.net",        "sbcglobal.net",
    "btinternet.com", "sky.com",
};
static const char *const free_mail_prefix[] = {"yahoo.", "ymail.", "hotmail.",
                                               "gmx.",   "live.",  "outlook."};

/* A domain lower-cased into this much room is compared fast; a longer
 * one (none is a provider's) the slow way. */
#define FREE_MAIL_LOW_MAX 64

/* ASCII lower case, as strcasecmp in the C locale (the workers never call
 * setlocale). */
static char ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The tables compared without case, entry by entry. */
static int free_mail_slow(const char *domain) {
    for (size_t i = 0; i < sizeof free_mail / sizeof *free_mail; i++)
        if (strcasecmp(domain, free_mail[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof free_mail_prefix / sizeof *free_mail_prefix;
         i++)
        if (strncasecmp(domain, free_mail_prefix[i],
                        strlen(free_mail_prefix[i])) == 0)
            return 1;
    return 0;
}

/* Lower-cases the domain once, then compares the first byte before the
 * rest: the tables are walked in a few hundred instructions rather than
 * sixty calls of strcasecmp (issue 16). Same answers as free_mail_slow. */
int lm_route_company_domain(const char *domain) {
    if (domain == NULL || domain[0] == '\0' || strchr(domain, '.') == NULL)
        return 0;
    char low[FREE_MAIL_LOW_MAX];
    size_t len = 0;
    while (len < FREE_MAIL_LOW_MAX - 1 && domain[len])
        low[len] = ascii_lower(domain[len]), len++;
    low[len] = '\0';
    if (domain[len] != '\0') /* longer than low */
        return !free_mail_slow(domain);
    for (size_t i = 0; i < sizeof free_mail / sizeof *free_mail; i++)
        if (free_mail[i][0] == low[0] && strcmp(low, free_mail[i]) == 0)
            return 0;
    for (size_t i = 0; i < sizeof free_mail_prefix / sizeof *free_mail_prefix;
         i++) {
        const char *pre = free_mail_prefix[i];
        if (pre[0] == low[0] && strncmp(low, pre, strlen(pre)) == 0)
            return 0;
    }
    return 1;
}

const char *lm_route_why_name(lm_route_why why) {
    switch (why) {
    case LM_ROUTE_ACCOUNT:
        return "account";
    case LM_ROUTE_OVERFLOW:
        return "overflow";
    case LM_ROUTE_UNASSIGNED:
        return "unassigned";
    default:
        return "round_robin";
    }
}

int lm_route_owner_away(const lm_owner *o, const char *status, int64_t until_ms,
                        int64_t now_ms) {
    if (status && strcmp(status, "AWAY") == 0 &&
        (until_ms == 0 || until_ms > now_ms))
        return 1;
    for (size_t i = 0; o && o->work && i < o->work->n_away; i++)
        if (o->work->away[i].start_ms <= now_ms &&
            now_ms < o->work->away[i].end_ms)
            return 1;
    return 0;
}

static int avail_ok(lm_route_avail_fn avail, void *arg, const lm_team *t,
                    size_t i) {
    return avail == NULL || avail(arg, t, i);
}

int64_t lm_route_pick(const lm_team *t, const int64_t *loads, uint64_t rr,
                      int ignore_capacity, lm_route_avail_fn avail, void *arg) {
    size_t n = t->n_owners, start = 0;
    uint64_t total = 0, at;
    for (size_t i = 0; i < n; i++)
        total += (uint64_t)(t->owners[i].weight > 0 ? t->owners[i].weight : 1);
    /* the owner whose share of [0, total) holds rr % total */
    at = rr % (total ? total : 1);
    for (start = 0; start < n; start++) {
        uint64_t w =
            (uint64_t)(t->owners[start].weight > 0 ? t->owners[start].weight
                                                   : 1);
        if (at < w)
            break;
        at -= w;
    }
    if (start >= n)
        start = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k) % n;
        if (!avail_ok(avail, arg, t, i))
            continue;
        if (ignore_capacity || loads[i] < t->owners[i].capacity)
            return (int64_t)i;
    }
    return ignore_capacity ? (int64_t)start : -1;
}

void lm_route_choose(const lm_route_in *in, lm_route_choice *out) {
    const lm_policy *p = in->policy;
    const lm_team *t = in->team;
    int takes =
        !in->nurture || lm_policy_routing_options(p)->nurture_takes_capacity;
    out->team = t;
    out->owner = 0;
    out->takes_slot = takes;
    out->why = LM_ROUTE_ROUND_ROBIN;

    /* the account's owner, while available and with room */
    if (in->acct_team != NULL &&
        lm_policy_routing_options(p)->accounts_same_owner) {
        size_t ti = lm_policy_team_index(p, in->acct_team);
        size_t o = in->acct_owner;
        if (ti != (size_t)-1 && o < in->acct_team->n_owners &&
            avail_ok(in->avail, in->avail_arg, in->acct_team, o) &&
            (!takes || in->loads[ti][o] < in->acct_team->owners[o].capacity)) {
            out->team = in->acct_team;
            out->owner = o;
            out->why = LM_ROUTE_ACCOUNT;
            return;
        }
    }
    /* the rules' team, then its overflow chain, each team once */
    for (size_t hop = 0; t != NULL && hop < lm_policy_team_count(p); hop++) {
        size_t ti = lm_policy_team_index(p, t);
        if (ti == (size_t)-1)
            break;
        int64_t o = lm_route_pick(t, in->loads[ti], in->rr[ti] + 1, !takes,
                                  in->avail, in->avail_arg);
        if (o >= 0) {
            in->rr[ti]++;
            out->team = t;
            out->owner = (size_t)o;
            out->why = hop == 0 ? LM_ROUTE_ROUND_ROBIN : LM_ROUTE_OVERFLOW;
            return;
        }
        t = t->overflow;
        if (t == in->team)
            break;
    }
    out->team = in->team;
    out->owner = 0;
    out->takes_slot = 0;
    out->why = LM_ROUTE_UNASSIGNED;
}
