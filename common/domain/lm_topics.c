/* lm_topics.c — the topic table (see lm_topics.h): one row a topic, as in
 * the header table of proto/lastmile/v1/lastmile.proto. */
#include "lm_topics.h"

#include <string.h>

static const char *const by_intake[] = {"intake", NULL};
static const char *const by_qual_timing[] = {"qualification", "timing", NULL};
static const char *const by_followup_timing[] = {"followup", "timing", NULL};
static const char *const by_timing[] = {"timing", NULL}; /* TimerFired */
static const char *const by_none[] = {NULL};

const lm_topic lm_topics[LM_TOPICS_COUNT] = {
    {"intake", LM_TOPIC_INTAKE_TYPE, LM_TOPICS_BY_OUTSIDE, by_none, "intake"},
    {"qualification", LM_TOPIC_QUALIFICATION_TYPE, LM_TOPICS_BY_WORKERS,
     by_intake, "qualification"},
    {"followup", LM_TOPIC_FOLLOWUP_TYPE, LM_TOPICS_BY_WORKERS, by_qual_timing,
     "followup"},
    {"actions", LM_TOPIC_ACTIONS_TYPE, LM_TOPICS_BY_WORKERS, by_followup_timing,
     "webhook"},
    /* LeadResponse from connectors, TimerFired from the timer sweep */
    {"timing", LM_TOPIC_TIMING_TYPE,
     LM_TOPICS_BY_OUTSIDE | LM_TOPICS_BY_WORKERS, by_timing, "timing"},
    {"outcomes", LM_TOPIC_OUTCOMES_TYPE, LM_TOPICS_BY_WORKERS, by_qual_timing,
     NULL},
    {"dlq", LM_TOPIC_DLQ_TYPE, LM_TOPICS_BY_RUNTIME, by_none, NULL},
};

const lm_topic *lm_topics_find(const char *suffix) {
    if (suffix == NULL)
        return NULL;
    for (size_t i = 0; i < LM_TOPICS_COUNT; i++)
        if (strcmp(lm_topics[i].suffix, suffix) == 0)
            return &lm_topics[i];
    return NULL;
}

const ProtobufCMessageDescriptor *lm_topics_type(const char *suffix) {
    const lm_topic *t = lm_topics_find(suffix);
    return t != NULL ? t->type : NULL;
}
