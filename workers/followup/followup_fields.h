/* followup_fields.h — the fields of the lead hash followup reads, in ONE
 * HMGET per message (reply 0 of its plan): the cadence's (followup.c)
 * and the owner deadlines' (followup_owner.c) together, each field once.
 *
 * followup_fields is a constant table defined in followup.c;
 * followup_field returns a string inside the message's reads (valid as
 * long as the message), or NULL for a missing field. Pure; the worker's
 * thread. */
#ifndef FOLLOWUP_FIELDS_H
#define FOLLOWUP_FIELDS_H

#include "lm_runtime.h"

/* HMGET order */
enum {
    R_STATUS,
    R_CADENCE,
    R_TZ,
    R_OWNER,
    R_SEGMENT,
    R_ADAPTIVE,
    R_SUBMITTED,
    R_TOUCHES,
    R_RESPONDED,
    R_RETURNS,
    R_TEAM,
    R_ROLE,       /* learned timing: the title's role (lm_learn.h) */
    R_HOLDOUT,    /* the lead is in the global holdout */
    R_PAUSED,     /* accounts: the colleague whose deal pauses it */
    R_SLA_ACTION, /* owner deadlines (followup_owner.c): the pending step */
    R_SLA_STEP,
    R_SLA_LEVEL,
    R_REASSIGN,    /* how many times the lead was reassigned */
    R_FIRST_TOUCH, /* set by the lead's first automatic touch */
    R_SLA_OWNER,   /* who must act on the pending step (followup_owner.c) */
    R_N
};

extern const char *const followup_fields[R_N];

/* Field i (R_*) of the message's HMGET, or NULL. */
static inline const char *followup_field(const lm_msg *m, int i) {
    return lm_read_elem_str(&m->reads, 0, (size_t)i, NULL);
}

#endif
