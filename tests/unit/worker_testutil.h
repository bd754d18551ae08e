/* worker_testutil.h — what every tests/unit/test_worker_*.c does around
 * its cases: start the worker as the runtime would (init with default
 * settings: the built-in decisions and model) with a fresh recorder, and
 * stop it. Header-only, for the unit tests. */
#ifndef LM_WORKER_TESTUTIL_H
#define LM_WORKER_TESTUTIL_H

#include "lm_recorder.h"

#include <criterion/criterion.h>
#include <string.h>

/* Inits w with zeroed settings; returns a new recorder (asserts on
 * failure). Pair with worker_test_stop. */
static inline lm_recorder *worker_test_start(const lm_worker *w) {
    lm_settings s;
    char err[1024] = "";
    memset(&s, 0, sizeof(s));
    cr_assert_eq(w->init(w->ctx, &s, err, sizeof(err)), 0, "%s init: %s",
                 w->name, err);
    lm_recorder *rec = lm_recorder_new();
    cr_assert_not_null(rec);
    return rec;
}

static inline void worker_test_stop(const lm_worker *w, lm_recorder *rec) {
    lm_recorder_free(rec);
    w->fini(w->ctx);
}

#endif
