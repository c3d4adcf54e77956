/* metrics.c - per-worker metric sets and their Prometheus rendering. */
#include "dataplane/runtime/metrics.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One set per worker and one for the control thread. */
static struct sl_metrics sets[SL_WORKERS_MAX + 1];

static const uint64_t bucket_us[SL_METRIC_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 5000000,
};

struct op_name {
	const char *service;
	const char *name;
};

/* Registered series; grown at start-up only, read-only once workers run. */
static struct op_name *op_names;
static uint16_t nops;
static uint16_t ops_cap;
static bool ops_frozen;

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

static int ops_reserve(void)
{
	if (nops < ops_cap)
		return 0;
	uint16_t cap = ops_cap ? (uint16_t)(ops_cap * 2) : 64;
	struct op_name *p = realloc(op_names, cap * sizeof(*p));
	if (!p || cap <= ops_cap)
		return -ENOMEM;
	op_names = p;
	ops_cap = cap;
	if (nops == 0)
		op_names[nops++] = (struct op_name){ "sluice", "other" };
	return 0;
}

uint16_t sl_metric_op(const char *service, const char *name)
{
	assert(!ops_frozen); /* every set was sized when registration ended */
	uint16_t id = sl_metric_op_find(service, name, strlen(name));

	if (id || ops_reserve() < 0)
		return id;
	op_names[nops] = (struct op_name){ service, name };
	return nops++;
}

uint16_t sl_metric_op_find(const char *service, const char *name, size_t len)
{
	for (uint16_t i = 1; i < nops; i++) {
		if (strcmp(op_names[i].service, service) == 0 && strlen(op_names[i].name) == len &&
		    memcmp(op_names[i].name, name, len) == 0)
			return i;
	}
	return 0;
}

int sl_metrics_init(void)
{
	if (ops_reserve() < 0)
		return -ENOMEM;
	ops_frozen = true;
	for (unsigned i = 0; i <= SL_WORKERS_MAX; i++) {
		if (sets[i].ops)
			continue; /* a second init (tests) keeps what was counted */
		sets[i].ops = calloc(nops, sizeof(*sets[i].ops));
		if (!sets[i].ops)
			return -ENOMEM;
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

/* Set i of a scrape over nworkers workers: the workers' sets, then (at
 * i == nworkers) the control thread's. */
static struct sl_metrics *set_at(uint16_t i, uint16_t nworkers)
{
	return &sets[i < nworkers ? i : SL_WORKERS_MAX];
}

#define SUM(field)                                                                      \
	({                                                                              \
		uint64_t s_ = 0;                                                        \
		for (uint16_t w_ = 0; w_ <= nworkers; w_++)                             \
			s_ += atomic_load_explicit(&set_at(w_, nworkers)->field,        \
						   memory_order_relaxed);               \
		s_;                                                                     \
	})

/* Render the sum of hs[0..n): one histogram per metric set. */
static void render_hist(struct out *o, const char *name, const char *labels,
			const struct sl_hist *const *hs, unsigned n)
{
	uint64_t cum = 0, sum = 0;

	for (unsigned b = 0; b <= SL_METRIC_BUCKETS; b++) {
		uint64_t v = 0;
		for (unsigned w = 0; w < n; w++) {
			v += atomic_load_explicit(&hs[w]->bucket[b], memory_order_relaxed);
			if (b == 0)
				sum += atomic_load_explicit(&hs[w]->sum_us, memory_order_relaxed);
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

long sl_hist_render(char *buf, size_t cap, const char *name, const char *labels,
		    const struct sl_hist *const *hs, unsigned n)
{
	struct out o = { .buf = buf, .cap = cap };

	render_hist(&o, name, labels, hs, n);
	return o.full ? -ENOSPC : (long)o.len;
}

static void render_op_hist(struct out *o, const char *labels, uint16_t nworkers, uint16_t op)
{
	const struct sl_hist *hs[SL_WORKERS_MAX + 1];

	assert(nworkers <= SL_WORKERS_MAX);
	for (uint16_t w = 0; w <= nworkers; w++)
		hs[w] = &set_at(w, nworkers)->ops[op].latency;
	render_hist(o, "sluice_request_duration_seconds", labels, hs, nworkers + 1u);
}

static void render_requests(struct out *o, uint16_t nworkers)
{
	static const char *const classes[] = { "2xx", "4xx", "5xx" };
	char labels[160];

	put(o, "# HELP sluice_requests_total Requests answered, by operation and status class.\n"
	       "# TYPE sluice_requests_total counter\n");
	if (!sets[0].ops)
		return; /* nothing registered */
	for (uint16_t op = 0; op < nops; op++) {
		for (int c = 0; c < SL_ST_CLASSES; c++) {
			uint64_t v = SUM(ops[op].requests[c]);
			if (v)
				put(o, "sluice_requests_total{service=\"%s\",op=\"%s\",code=\"%s\"} "
				    "%llu\n", op_names[op].service, op_names[op].name, classes[c],
				    (unsigned long long)v);
		}
	}
	put(o, "# HELP sluice_request_duration_seconds Time from a request's last byte to its "
	       "reply, by operation.\n# TYPE sluice_request_duration_seconds histogram\n");
	for (uint16_t op = 0; op < nops; op++) {
		uint64_t n = 0;
		for (int c = 0; c < SL_ST_CLASSES; c++)
			n += SUM(ops[op].requests[c]);
		if (n == 0)
			continue;
		snprintf(labels, sizeof(labels), "service=\"%s\",op=\"%s\"", op_names[op].service,
			 op_names[op].name);
		render_op_hist(o, labels, nworkers, op);
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
	const struct sl_hist *hs[SL_WORKERS_MAX + 1];
	for (uint16_t w = 0; w <= nworkers; w++)
		hs[w] = &set_at(w, nworkers)->flush_latency;
	render_hist(&o, "sluice_flush_duration_seconds", "", hs, nworkers + 1u);
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
