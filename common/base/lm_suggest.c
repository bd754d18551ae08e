/* lm_suggest.c — "did you mean" (see lm_suggest.h). */
#include "lm_suggest.h"

#include <ctype.h>
#include <string.h>

size_t lm_edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b), i, j;
    size_t r0[LM_SUGGEST_MAX + 1], r1[LM_SUGGEST_MAX + 1],
        r2[LM_SUGGEST_MAX + 1];
    size_t *pp = r0, *prev = r1, *cur = r2, *tmp;

    if (la > LM_SUGGEST_MAX || lb > LM_SUGGEST_MAX)
        return (size_t)-1;
    for (j = 0; j <= lb; j++)
        prev[j] = j;
    for (i = 1; i <= la; i++) {
        int ai = tolower((unsigned char)a[i - 1]);
        cur[0] = i;
        for (j = 1; j <= lb; j++) {
            int bj = tolower((unsigned char)b[j - 1]);
            size_t best = prev[j - 1] + (ai == bj ? 0 : 1);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            cur[j] = best;
        }
        tmp = pp;
        pp = prev;
        prev = cur;
        cur = tmp;
    }
    return prev[lb];
}

const char *lm_suggest(const char *s, const char *const *cands, size_t n) {
    const char *best = NULL;
    size_t bestd = (size_t)-1, limit = strlen(s) >= 6 ? 2 : 1;

    for (size_t i = 0; i < n; i++) {
        size_t d = lm_edit_distance(s, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    return bestd <= limit ? best : NULL;
}
