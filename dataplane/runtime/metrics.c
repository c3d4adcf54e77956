/* metrics.c - per-worker metric sets and their Prometheus rendering. */
#include "dataplane/runtime/metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* One set per worker and one for the control thread. */
static struct sl_metrics sets[SL_WORKERS_MAX + 1];

static const uint64_t bucket_us[SL_METRIC_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 5000000,
};

static const char *op_names[SL_METRIC_OPS_MAX] = { "other" };
static uint8_t nops = 1;

struct sl_metrics *sl_metrics_of(uint16_t idx)
{
	return &sets[idx < SL_WORKERS_MAX ? idx : SL_WORKERS_MAX];
}

void sl_hist_observe(struct sl_hist *h, uint64_t us)
{
	unsigned b = 0;

	while (b < SL_METRIC_BUCKETS && us > bucket_us[b])
		b++;
	sl_metric_add(&h->bucket[b], 1);
	sl_metric_add(&h->sum_us, us);
}

uint8_t sl_metric_op(const char *name)
{
	uint8_t id = sl_metric_op_find(name, strlen(name));

	if (id || nops == SL_METRIC_OPS_MAX)
		return id;
	op_names[nops] = name;
	return nops++;
}

uint8_t sl_metric_op_find(const char *name, size_t len)
{
	for (uint8_t i = 1; i < nops; i++) {
		if (strlen(op_names[i]) == len && memcmp(op_names[i], name, len) == 0)
			return i;
	}
	return 0;
}

struct out {
	char *buf;
	size_t cap;
	size_t len;
	bool full;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->full)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->full = true;
	else
		o->len += (size_t)n;
}

#define SUM(field)                                                                      \
	({                                                                              \
		uint64_t s_ = 0;                                                        \
		for (uint16_t w_ = 0; w_ <= nworkers; w_++)                             \
			s_ += atomic_load_explicit(&sl_metrics_of(w_)->field,           \
						   memory_order_relaxed);               \
		s_;                                                                     \
	})

static void render_hist(struct out *o, const char *name, const char *labels, uint16_t nworkers,
			size_t offset)
{
	uint64_t cum = 0, sum = 0;

	for (unsigned b = 0; b <= SL_METRIC_BUCKETS; b++) {
		uint64_t v = 0;
		for (uint16_t w = 0; w <= nworkers; w++) {
			const struct sl_hist *h = (const void *)((const char *)sl_metrics_of(w) + offset);
			v += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
			if (b == 0)
				sum += atomic_load_explicit(&h->sum_us, memory_order_relaxed);
		}
		cum += v;
		if (b < SL_METRIC_BUCKETS)
			put(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, labels[0] ? "," : "",
			    (double)bucket_us[b] / 1e6, (unsigned long long)cum);
		else
			put(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, labels[0] ? "," : "",
			    (unsigned long long)cum);
	}
	const char *lb = labels[0] ? "{" : "", *rb = labels[0] ? "}" : "";
	put(o, "%s_sum%s%s%s %.6f\n%s_count%s%s%s %llu\n", name, lb, labels, rb, (double)sum / 1e6,
	    name, lb, labels, rb, (unsigned long long)cum);
}

static void render_requests(struct out *o, uint16_t nworkers)
{
	static const char *const classes[] = { "2xx", "4xx", "5xx" };
	char labels[96];

	put(o, "# HELP sluice_requests_total Requests answered, by operation and status class.\n"
	       "# TYPE sluice_requests_total counter\n");
	for (uint8_t op = 0; op < nops; op++) {
		for (int c = 0; c < SL_ST_CLASSES; c++) {
			uint64_t v = SUM(requests[op][c]);
			if (v)
				put(o, "sluice_requests_total{op=\"%s\",code=\"%s\"} %llu\n",
				    op_names[op], classes[c], (unsigned long long)v);
		}
	}
	put(o, "# HELP sluice_request_duration_seconds Time from a request's last byte to its "
	       "reply, by operation.\n# TYPE sluice_request_duration_seconds histogram\n");
	for (uint8_t op = 0; op < nops; op++) {
		if (SUM(latency[op].sum_us) == 0 && SUM(requests[op][0]) == 0)
			continue;
		snprintf(labels, sizeof(labels), "op=\"%s\"", op_names[op]);
		render_hist(o, "sluice_request_duration_seconds", labels, nworkers,
			    offsetof(struct sl_metrics, latency) + op * sizeof(struct sl_hist));
	}
}

long sl_metrics_render(char *buf, size_t cap, uint16_t nworkers)
{
	struct out o = { buf, cap, 0, false };

	render_requests(&o, nworkers);
	put(&o, "# HELP sluice_records_in_total Records appended to shards.\n"
		"# TYPE sluice_records_in_total counter\nsluice_records_in_total %llu\n"
		"# HELP sluice_bytes_in_total Data bytes appended to shards.\n"
		"# TYPE sluice_bytes_in_total counter\nsluice_bytes_in_total %llu\n",
	    (unsigned long long)SUM(records_in), (unsigned long long)SUM(bytes_in));
	put(&o, "# HELP sluice_records_out_total Records returned by GetRecords.\n"
		"# TYPE sluice_records_out_total counter\nsluice_records_out_total %llu\n"
		"# HELP sluice_bytes_out_total Data bytes returned by GetRecords.\n"
		"# TYPE sluice_bytes_out_total counter\nsluice_bytes_out_total %llu\n",
	    (unsigned long long)SUM(records_out), (unsigned long long)SUM(bytes_out));
	put(&o, "# HELP sluice_flushes_total Group-commit flushes completed.\n"
		"# TYPE sluice_flushes_total counter\nsluice_flushes_total %llu\n"
		"# HELP sluice_flush_errors_total Group-commit flushes that failed (retried).\n"
		"# TYPE sluice_flush_errors_total counter\nsluice_flush_errors_total %llu\n",
	    (unsigned long long)SUM(flushes), (unsigned long long)SUM(flush_errors));
	put(&o, "# HELP sluice_flush_duration_seconds Group commit: writes and fdatasync.\n"
		"# TYPE sluice_flush_duration_seconds histogram\n");
	render_hist(&o, "sluice_flush_duration_seconds", "", nworkers,
		    offsetof(struct sl_metrics, flush_latency));
	put(&o, "# HELP sluice_ring_full_total Cross-core messages that found the recipient's "
		"ring full and waited in the sender's outbox (back-pressure).\n"
		"# TYPE sluice_ring_full_total counter\nsluice_ring_full_total %llu\n",
	    (unsigned long long)SUM(ring_full));
	uint64_t opened = SUM(conns_opened), closed = SUM(conns_closed);
	put(&o, "# HELP sluice_connections Open client connections.\n"
		"# TYPE sluice_connections gauge\nsluice_connections %llu\n"
		"# HELP sluice_connections_total Client connections accepted.\n"
		"# TYPE sluice_connections_total counter\nsluice_connections_total %llu\n",
	    (unsigned long long)(opened - closed), (unsigned long long)opened);
	return o.full ? -ENOSPC : (long)o.len;
}
