/* qual_shadow.c — the candidate model in shadow (see qual_shadow.h).
 * Scoring allocates nothing (lm_model_features/score on the stack). */
#include "qual_shadow.h"

#include "lm_env.h"
#include "lm_fmt.h"
#include "lm_log.h"

#include <stdlib.h>

int qual_shadow_init(qual_shadow *s, char *err, size_t errsz) {
    char *path = NULL, why[2048];
    s->model = NULL;
    int got = lm_env_get("LASTMILE_MODEL_SHADOW", &path, err, errsz);
    if (got <= 0)
        return got;
    s->model = lm_model_load(path, why, sizeof(why));
    if (!s->model) {
        lm_errf(err, errsz,
                "LASTMILE_MODEL_SHADOW: %s (or unset LASTMILE_MODEL_SHADOW to "
                "run without a shadow model)",
                why);
        free(path);
        return -1;
    }
    lm_log(LM_LOG_INFO, "shadow_model_loaded",
           "shadow model %s from %s (scored beside the live model, decides "
           "nothing)",
           lm_model_version(s->model), path);
    free(path);
    return 0;
}

int qual_shadow_score(const qual_shadow *s,
                      const Lastmile__V1__LeadAccepted *lead,
                      const char *region, double *score, char **version) {
    if (!s->model)
        return -1;
    lm_features f;
    lm_model_features(s->model, lead, region, &f);
    lm_model_score(s->model, &f, score, NULL, 0);
    *version = (char *)lm_model_version(s->model);
    return 0;
}

void qual_shadow_free(qual_shadow *s) {
    lm_model_free(s->model);
    s->model = NULL;
}
