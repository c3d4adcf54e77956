/* logbuf.h - a worker's log buffer (log.c), for worker.c alone. */
#ifndef SL_LOGBUF_H
#define SL_LOGBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/limits.h"
#include "dataplane/runtime/worker.h"

/* A worker's log buffer: two halves, one collecting while the other is
 * written. Embedded in the worker. */
struct sl_logbuf {
	struct sl_aio aio;
	char buf[2][SL_LOG_BUF_BYTES];
	size_t len[2];
	size_t off;      /* bytes of the half being written that went out */
	uint64_t dropped; /* lines that found both halves full */
	uint8_t cur;     /* the half collecting */
	bool inflight;
};

/* This thread's lines go to lb from now on (a worker, at its start). */
void sl_log_attach(struct sl_logbuf *lb);
/* Once per loop iteration: hand what was collected to io_uring. */
void sl_log_pump(struct sl_worker *w, struct sl_logbuf *lb);
/* At exit, after the loop: write what is left directly. */
void sl_log_drain(struct sl_logbuf *lb);

#endif
