/* board_age.c — ages on the board in the clock domain of the times they
 * compare (board_age.h). */
#include "board_age.h"

#include "lm_clock.h"

#include "lastmile/v1/lastmile.pb-c.h"

/* A message's Kafka timestamp (real ms) as simulated ms: only with a
 * fixed scale (1 in production), which maps real ms to simulated ms
 * exactly; a shared clock's scale changes as it runs. -1 when unknown. */
static int64_t since_of_kafka_ts(int64_t kafka_ts_ms) {
    if (kafka_ts_ms <= 0 || lm_clock_shared())
        return -1;
    return lm_clock_now_ms() -
           (int64_t)((double)(lm_clock_real_ms() - kafka_ts_ms) *
                     lm_clock_scale());
}

int64_t board_intake_since_ms(const void *payload, size_t len,
                              int64_t kafka_ts_ms) {
    int64_t since = -1;
    Lastmile__V1__LeadSubmitted *s =
        payload ? lastmile__v1__lead_submitted__unpack(NULL, len, payload)
                : NULL;
    if (s && s->submitted_at_ms > 0)
        since = s->submitted_at_ms;
    if (s)
        lastmile__v1__lead_submitted__free_unpacked(s, NULL);
    return since < 0 ? since_of_kafka_ts(kafka_ts_ms) : since;
}

double board_age_s(int64_t now_ms, int64_t since_ms) {
    double age = (double)(now_ms - since_ms) / 1000.0;
    return age > 0 ? age : 0;
}
