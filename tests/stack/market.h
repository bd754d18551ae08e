/* market.h — a small market for pipeline tests: submits leads, plays the
 * connector (answers some leads' first touch with a reply) and the CRM
 * (reports the deal of a share of the leads it answered, once they are
 * handed off: won with a value, or lost), and keeps a ledger of
 * everything on the topics, read with the test's own consumers. */
#ifndef LM_TEST_MARKET_H
#define LM_TEST_MARKET_H

#include "ledger.h"
#include "stack_fixture.h"

typedef struct market {
    fixture *fx;
    topic_reader *r_accepted, *r_followup, *r_actions, *r_outcomes, *r_dlq,
        *r_timing;
    strset accepted;   /* lead ids on lastmile.qualification */
    strset decisions;  /* lead ids with a decision (followup or DQ) */
    strset actions;    /* action ids on lastmile.actions */
    strset outcomes;   /* lead ids with a terminal outcome */
    strset responders; /* lead ids the market answered */
    strset deals;      /* lead ids whose deal the CRM reported */
    /* decision ids of the other decisions on lastmile.followup that
       decide a lead again (reason sla_breach: timing's reassignments) */
    strset redecided;
    /* every record on every topic by its bytes ("<topic>:<hash of key and
       value>"): copies.dups counts records written twice byte for byte,
       dup_topics names their topics */
    strset copies, dup_topics;
    /* the decision ids of the "slot_freed" decisions (a waiting lead
       given a freed slot): each once, on one Redis and on a cluster (one
       timing replica at a time gives a team's slots away since
       2026-12-05: workers/timing/timing_slot.h) */
    strset handed_out;
    /* where each record (by its bytes) and each id of the ledgers above
       was first seen (partition << 40 | offset): a record seen twice is
       printed with both places, its key, lm-id header and value */
    lm_strmap *first_at;
    size_t dlq, late, touches, off_hours, n_responded_outcomes;
    size_t cancels;       /* touches taken back (CANCEL actions) */
    size_t n_won, n_lost; /* deals the CRM reported won / lost */
    long long won_cents;  /* their value */
    size_t n_converted_outcomes, n_lost_outcomes;
    /* decisions that left a lead unassigned (a full team); the later
       "slot_freed" decisions that gave it an owner are handed_out */
    size_t unassigned;
    size_t holding; /* decisions that gave a QUALIFIED lead an owner: the
                       ones that take a slot (nurture takes none) */
    double respond_share;
    /* share of the leads it answered whose deal the CRM reports when they
       are handed off (1 after market_init): the rest close when their
       deal window passes */
    double crm_share;
} market;

void market_init(market *m, fixture *fx, double respond_share);
void market_free(market *m);
/* Submits n distinct people (seeded), plus dup re-submissions of the first
 * `dups` people and `invalid` bad ones. */
void market_submit(market *m, int n, int dups, int invalid, int seed);
/* Reads every topic once and answers touches. */
void market_pump(market *m, int wait_ms);
/* Pumps until pred(m) holds or timeout; 1 if it held. */
int market_until(market *m, int (*pred)(const market *m), int64_t timeout_ms);

#endif
