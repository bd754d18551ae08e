/* lm_topics.h — the topic table: every lastmile topic, the one protobuf
 * message type on it, who writes it and which worker reads it.
 *
 * This is the contract of proto/lastmile/v1/lastmile.proto's header table
 * in code, and the single place that pairs a topic suffix with its type:
 * the workers' lm_worker declarations take their input_type from the
 * LM_TOPIC_<X>_TYPE macros below, lm_pbjson looks types up here, and
 * tests/unit/test_topics.c checks the table against the proto file, the
 * workers' declarations and the runtime's suffix strings (LM_TOPIC_<X> and
 * lm_topic_suffixes in lm_kafka.h: the runtime, below the domain, needs
 * the names only).
 *
 * A topic's full name is the configured prefix + its suffix
 * ("lastmile." + "intake"). To add a topic: a message in the proto file
 * and its row there, a suffix in lm_kafka.h, a row in lm_topics.c and a
 * type macro here.
 *
 * Static, immutable data: any thread; nothing to free. */
#ifndef LM_TOPICS_H
#define LM_TOPICS_H

#include <stddef.h>

#include "lastmile/v1/lastmile.pb-c.h"

/* The message type of each topic, usable in static initialisers. */
#define LM_TOPIC_INTAKE_TYPE        (&lastmile__v1__lead_submitted__descriptor)
#define LM_TOPIC_QUALIFICATION_TYPE (&lastmile__v1__lead_accepted__descriptor)
#define LM_TOPIC_FOLLOWUP_TYPE      (&lastmile__v1__follow_up_event__descriptor)
#define LM_TOPIC_ACTIONS_TYPE       (&lastmile__v1__follow_up_action__descriptor)
#define LM_TOPIC_TIMING_TYPE        (&lastmile__v1__timing_event__descriptor)
#define LM_TOPIC_OUTCOMES_TYPE      (&lastmile__v1__outcome__descriptor)
#define LM_TOPIC_DLQ_TYPE           (&lastmile__v1__dead_letter__descriptor)

/* Who writes a topic (flags). */
#define LM_TOPICS_BY_OUTSIDE 1u /* producers, connectors outside lastmile */
#define LM_TOPICS_BY_WORKERS 2u /* the lastmile workers named in `writers` */
#define LM_TOPICS_BY_RUNTIME 4u /* the runtime, for any worker (DLQ) */

typedef struct lm_topic {
    const char *suffix; /* "intake" */
    const ProtobufCMessageDescriptor *type;
    unsigned written_by;        /* LM_TOPICS_BY_* */
    const char *const *writers; /* worker names, NULL-ended (maybe empty) */
    const char *reader; /* the worker that consumes it; NULL: none (read by
                           connectors or the CLI) */
} lm_topic;

#define LM_TOPICS_COUNT 7

/* The table, in the order of lm_topic_suffixes (lm_kafka.h). */
extern const lm_topic lm_topics[LM_TOPICS_COUNT];

/* The row of a suffix ("intake", not "lastmile.intake"); NULL when
 * suffix is NULL or no topic's. */
const lm_topic *lm_topics_find(const char *suffix);
/* The message type of a suffix; NULL as for lm_topics_find. */
const ProtobufCMessageDescriptor *lm_topics_type(const char *suffix);

#endif
