/* lm_nodelay.h — TCP_NODELAY on the embedded broker's connections.
 *
 * librdkafka's mock cluster accepts client connections without setting
 * TCP_NODELAY, so a small response (a produce acknowledgement) can sit in
 * the kernel until the client's delayed ACK, ~40 ms on Linux: every batch
 * of every worker paid it (produce phase 45 ms instead of 4 ms). Real Kafka
 * brokers set TCP_NODELAY on every connection.
 *
 * lm_nodelay.c defines accept(), which the mock cluster's own calls
 * resolve to when the executable links this file (ELF symbol
 * interposition: the executable's definition comes first). It accepts as
 * libc would and, once lm_nodelay_enable() was called in this process
 * (`lastmile dev broker` does), sets TCP_NODELAY on the new connection.
 * Elsewhere it is a plain accept(). */
#ifndef LM_NODELAY_H
#define LM_NODELAY_H

/* From now on, connections this process accepts get TCP_NODELAY. */
void lm_nodelay_enable(void);

#endif
