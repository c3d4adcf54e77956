/* ingest_window.h - the UDP ingest protocol's idempotence windows
 * (docs/ingest-protocol.md, Idempotence). Worker: each worker keeps the
 * windows of the producers whose flows it receives, without locks.
 *
 * A producer's window covers the SL_INGEST_WINDOW newest datagram numbers
 * (seq) it has sent: each is in flight (being stored) or done, with its
 * acknowledgement kept so that a retransmission gets the same answer and
 * stores nothing. A window's ring grows with the span of numbers it holds,
 * so a producer with one datagram in flight at a time costs a few slots.
 * Bounded by producers and by bytes (limits.h): past either, the producer
 * heard from least recently is forgotten. */
#ifndef SL_NET_INGEST_WINDOW_H
#define SL_NET_INGEST_WINDOW_H

#include <stddef.h>
#include <stdint.h>

enum sl_iwin_verdict {
	SL_IWIN_NEW,       /* never seen: now in flight; store it, then done or forget */
	SL_IWIN_IN_FLIGHT, /* being stored: answer nothing now */
	SL_IWIN_DONE,      /* stored: send its kept acknowledgement again */
	SL_IWIN_STALE,     /* older than the window: store nothing, answer STALE */
};

struct sl_iwin;

/* Windows for at most producers_max producers and bytes_max bytes (the
 * windows' rings and the kept acknowledgements). NULL: out of memory. */
struct sl_iwin *sl_iwin_new(uint32_t producers_max, size_t bytes_max);
void sl_iwin_free(struct sl_iwin *w);

/* What datagram seq of producer is. With SL_IWIN_DONE, *ack and *len are
 * its acknowledgement (valid until the next call). When memory runs out for
 * a new producer or a larger ring, SL_IWIN_NEW with nothing recorded: the
 * datagram is stored unprotected (a retransmission would be stored again). */
int sl_iwin_check(struct sl_iwin *w, uint64_t producer, uint64_t seq, const uint8_t **ack,
		  size_t *len);
/* Datagram seq of producer is stored: keep its acknowledgement (copied).
 * Nothing happens when the window no longer holds it. */
void sl_iwin_done(struct sl_iwin *w, uint64_t producer, uint64_t seq, const uint8_t *ack,
		  size_t len);
/* Datagram seq was not stored (an error): a retransmission may try again. */
void sl_iwin_forget(struct sl_iwin *w, uint64_t producer, uint64_t seq);

struct sl_iwin_stats {
	uint32_t producers;
	size_t bytes;
	uint64_t evicted; /* producers forgotten for the bounds */
};
void sl_iwin_stats(const struct sl_iwin *w, struct sl_iwin_stats *st);

#endif
