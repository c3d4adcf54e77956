/* metrics.h - counters and latency histograms, one set per worker.
 *
 * Each worker writes only its own set (single writer: relaxed load + store,
 * no locked instructions on the data path); GET /metrics sums every set
 * with relaxed loads, so a scrape sees each counter as of some recent
 * moment. Histogram buckets are fixed, in seconds, Prometheus-style.
 */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/limits.h"

/* Upper bounds of the latency buckets, in microseconds (+Inf is implied). */
#define SL_METRIC_BUCKETS 14

enum sl_status_class { SL_ST_2XX = 0, SL_ST_4XX, SL_ST_5XX, SL_ST_CLASSES };

struct sl_hist {
	_Atomic uint64_t bucket[SL_METRIC_BUCKETS + 1]; /* last: +Inf */
	_Atomic uint64_t sum_us;
};

/* One operation's series: requests by status class and their latency. */
struct sl_op_stats {
	_Atomic uint64_t requests[SL_ST_CLASSES];
	struct sl_hist latency;
};

struct sl_metrics {
	struct sl_op_stats *ops; /* one per registered series, from sl_metrics_init() */
	_Atomic uint64_t records_in;
	_Atomic uint64_t bytes_in;
	_Atomic uint64_t records_out;
	_Atomic uint64_t bytes_out;
	_Atomic uint64_t flushes;
	_Atomic uint64_t flush_errors;
	struct sl_hist flush_latency;
	_Atomic uint64_t ring_full; /* messages that waited in an outbox */
	_Atomic uint64_t conns_opened;
	_Atomic uint64_t conns_closed;
} __attribute__((aligned(64)));

/* The set of worker idx (or of the control thread for SL_WORKERS_MAX). */
struct sl_metrics *sl_metrics_of(uint16_t idx);

/* Single-writer increment: only the owning thread calls these. */
static inline void sl_metric_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}
void sl_hist_observe(struct sl_hist *h, uint64_t us);
/* The sum of hs[0..n) as a Prometheus histogram `name` with labels ("" or
 * `k="v",...`) into buf: bytes written, or -ENOSPC. */
long sl_hist_render(char *buf, size_t cap, const char *name, const char *labels,
		    const struct sl_hist *const *hs, unsigned n);

/* Operation series, registered at start-up before sl_metrics_init(): a
 * service ("kinesis", or "sluice" for the server's own endpoints) and an
 * operation name, both kept by pointer. Id 0 is "other". Returns the id
 * (the same one for a name registered twice), or 0 when out of memory. */
uint16_t sl_metric_op(const char *service, const char *name);
/* The id of a registered series, or 0. */
uint16_t sl_metric_op_find(const char *service, const char *name, size_t len);
/* Allocate every set's per-operation series once registration is done
 * (control thread, before the workers start). 0 or -ENOMEM. */
int sl_metrics_init(void);

/* Write the Prometheus text exposition of every set into buf (sl_enc raw
 * text). Returns bytes written, or -ENOSPC when cap is too small. */
long sl_metrics_render(char *buf, size_t cap, uint16_t nworkers);

#endif
