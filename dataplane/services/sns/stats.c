/* stats.c - SNS's per-topic /metrics (stats.h). */
#include "dataplane/services/sns/stats.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/sns/topics.h"
#include "dataplane/runtime/metrics.h"

struct table {
	struct sl_sns_tstats t[SL_SNS_METRIC_TOPICS];
	struct sl_hist latency[SL_SNS_PGROUPS];
};

static struct table *_Atomic tables[SL_WORKERS_MAX + 1];

static const char *const group_names[SL_SNS_PGROUPS] = { "sqs", "http", "lambda", "email",
							 "sms", "application" };

int sl_sns_pgroup(int protocol)
{
	switch (protocol) {
	case SL_SNS_SQS:
		return SL_SNS_PG_SQS;
	case SL_SNS_LAMBDA:
		return SL_SNS_PG_LAMBDA;
	case SL_SNS_EMAIL:
	case SL_SNS_EMAIL_JSON:
		return SL_SNS_PG_EMAIL;
	case SL_SNS_SMS:
		return SL_SNS_PG_SMS;
	case SL_SNS_APPLICATION:
		return SL_SNS_PG_APPLICATION;
	default:
		return SL_SNS_PG_HTTP;
	}
}

void sl_sns_stat_add(_Atomic uint64_t *c, uint64_t v)
{
	sl_metric_add(c, v);
}

static struct table *table_of(unsigned w)
{
	struct table *t = atomic_load_explicit(&tables[w], memory_order_acquire);

	if (!t) {
		/* Only writer w makes its own table. */
		t = calloc(1, sizeof(*t));
		if (t)
			atomic_store_explicit(&tables[w], t, memory_order_release);
	}
	return t;
}

static uint64_t key_hash(const char *region, const char *topic, size_t topic_len)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *c = region; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	h = (h ^ ':') * 1099511628211ull;
	for (size_t i = 0; i < topic_len; i++)
		h = (h ^ (uint8_t)topic[i]) * 1099511628211ull;
	return h | 1;
}

static struct sl_sns_tstats *find(unsigned w, const char *region, size_t rl, const char *topic,
				  size_t tl)
{
	if (w > SL_WORKERS_MAX || rl > SL_REGION_MAX || tl > SL_SNS_TOPIC_NAME_MAX)
		return NULL;
	char reg[SL_REGION_MAX + 1];
	memcpy(reg, region, rl);
	reg[rl] = '\0';
	struct table *tb = table_of(w);
	if (!tb)
		return NULL;
	uint64_t h = key_hash(reg, topic, tl);
	for (uint32_t k = 0; k < SL_SNS_METRIC_TOPICS; k++) {
		struct sl_sns_tstats *s = &tb->t[(h + k) % SL_SNS_METRIC_TOPICS];
		uint64_t sh = atomic_load_explicit(&s->hash, memory_order_relaxed);
		if (sh == h && strcmp(s->region, reg) == 0 && strlen(s->topic) == tl &&
		    memcmp(s->topic, topic, tl) == 0)
			return s;
		if (sh == 0) {
			memcpy(s->region, reg, rl + 1);
			memcpy(s->topic, topic, tl);
			s->topic[tl] = '\0';
			atomic_store_explicit(&s->hash, h, memory_order_release);
			return s;
		}
	}
	return NULL;
}

struct sl_sns_tstats *sl_sns_tstats(unsigned w, const char *region, const char *topic)
{
	return find(w, region, strlen(region), topic, strlen(topic));
}

struct sl_sns_tstats *sl_sns_tstats_arn(unsigned w, const char *arn)
{
	/* arn:aws:sns:<region>:<account>:<name> */
	if (strncmp(arn, "arn:aws:sns:", 12) != 0)
		return NULL;
	const char *region = arn + 12, *acct = strchr(region, ':');
	const char *name = acct ? strchr(acct + 1, ':') : NULL;
	if (!name || !name[1] || strchr(name + 1, ':'))
		return NULL;
	return find(w, region, (size_t)(acct - region), name + 1, strlen(name + 1));
}

void sl_sns_latency(unsigned w, int g, int64_t ms)
{
	struct table *tb = w <= SL_WORKERS_MAX ? table_of(w) : NULL;

	if (tb && g >= 0 && g < SL_SNS_PGROUPS)
		sl_hist_observe(&tb->latency[g], ms > 0 ? (uint64_t)ms * 1000 : 0);
}

/* One topic's sums. */
struct sum {
	const struct sl_sns_tstats *key;
	uint64_t publishes, filtered, retries;
	uint64_t d[SL_SNS_PGROUPS], f[SL_SNS_PGROUPS], x[SL_SNS_PGROUPS];
};

static int sum_cmp(const void *a, const void *b)
{
	const struct sl_sns_tstats *x = ((const struct sum *)a)->key, *y = ((const struct sum *)b)->key;
	int c = strcmp(x->region, y->region);

	return c ? c : strcmp(x->topic, y->topic);
}

#define LOAD(p) atomic_load_explicit(&(p), memory_order_relaxed)

static long put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static long put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int r = vsnprintf(buf + *n, cap - *n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= cap - *n)
		return -ENOSPC;
	*n += (size_t)r;
	return 0;
}

long sl_sns_stats_render(char *buf, size_t cap, unsigned nworkers,
			 int (*exists)(const char *region, const char *topic))
{
	size_t used = 0, ns = 0, n = 0;
	unsigned writers[SL_WORKERS_MAX + 1], nw = 0;

	for (unsigned w = 0; w < nworkers && w < SL_WORKERS_MAX; w++)
		writers[nw++] = w;
	writers[nw++] = SL_SNS_STATS_DELIVERER;
	for (unsigned i = 0; i < nw; i++) {
		struct table *tb = atomic_load_explicit(&tables[writers[i]], memory_order_acquire);
		for (uint32_t k = 0; tb && k < SL_SNS_METRIC_TOPICS; k++)
			used += LOAD(tb->t[k].hash) != 0;
	}
	struct sum *sums = used ? calloc(used, sizeof(*sums)) : NULL;
	if (used && !sums)
		return -ENOMEM;
	for (unsigned i = 0; i < nw; i++) {
		struct table *tb = atomic_load_explicit(&tables[writers[i]], memory_order_acquire);
		for (uint32_t k = 0; tb && k < SL_SNS_METRIC_TOPICS && ns < used; k++) {
			const struct sl_sns_tstats *t = &tb->t[k];
			if (atomic_load_explicit(&t->hash, memory_order_acquire) == 0 ||
			    !exists(t->region, t->topic))
				continue;
			struct sum *s = &sums[ns++];
			s->key = t;
			s->publishes = LOAD(t->publishes);
			s->filtered = LOAD(t->filtered);
			s->retries = LOAD(t->retries);
			for (int g = 0; g < SL_SNS_PGROUPS; g++) {
				s->d[g] = LOAD(t->deliveries[g]);
				s->f[g] = LOAD(t->failures[g]);
				s->x[g] = LOAD(t->dead[g]);
			}
		}
	}
	if (ns)
		qsort(sums, ns, sizeof(*sums), sum_cmp);
	size_t nt = 0;
	for (size_t i = 0; i < ns; i++) {
		struct sum *s = &sums[i];
		if (nt && sum_cmp(&sums[nt - 1], s) == 0) {
			struct sum *o = &sums[nt - 1];
			o->publishes += s->publishes;
			o->filtered += s->filtered;
			o->retries += s->retries;
			for (int g = 0; g < SL_SNS_PGROUPS; g++) {
				o->d[g] += s->d[g];
				o->f[g] += s->f[g];
				o->x[g] += s->x[g];
			}
		} else {
			sums[nt++] = *s;
		}
	}
	static const struct {
		const char *name, *help;
		int field; /* 0 publishes, 1 filtered, 2 retries, 3 deliveries, 4 failures, 5 dead */
	} series[] = {
		{ "sluice_sns_topic_publishes_total", "Messages the topic accepted.", 0 },
		{ "sluice_sns_topic_filtered_total", "Deliveries the topic's filter policies held back.", 1 },
		{ "sluice_sns_topic_retries_total", "Delivery attempts retried.", 2 },
		{ "sluice_sns_topic_deliveries_total", "Deliveries made, by protocol.", 3 },
		{ "sluice_sns_topic_delivery_failures_total", "Deliveries that failed, by protocol.", 4 },
		{ "sluice_sns_topic_dead_lettered_total", "Deliveries moved to a dead-letter queue, by "
		  "protocol.", 5 },
	};
	long rc = 0;
	for (size_t k = 0; k < sizeof(series) / sizeof(series[0]) && rc == 0; k++) {
		const char *type = "counter";
		rc = put(buf, cap, &n, "# HELP %s %s\n# TYPE %s %s\n", series[k].name, series[k].help,
			 series[k].name, type);
		for (size_t i = 0; i < nt && rc == 0; i++) {
			const struct sum *s = &sums[i];
			int f = series[k].field;
			if (f < 3) {
				uint64_t v = f == 0 ? s->publishes : f == 1 ? s->filtered : s->retries;
				rc = put(buf, cap, &n, "%s{region=\"%s\",topic=\"%s\"} %llu\n",
					 series[k].name, s->key->region, s->key->topic,
					 (unsigned long long)v);
				continue;
			}
			const uint64_t *v = f == 3 ? s->d : f == 4 ? s->f : s->x;
			for (int g = 0; g < SL_SNS_PGROUPS && rc == 0; g++) {
				if (!v[g])
					continue;
				rc = put(buf, cap, &n, "%s{region=\"%s\",topic=\"%s\",protocol=\"%s\"} "
					 "%llu\n", series[k].name, s->key->region, s->key->topic,
					 group_names[g], (unsigned long long)v[g]);
			}
		}
	}
	free(sums);
	if (rc < 0)
		return rc;
	if (put(buf, cap, &n, "# HELP sluice_sns_delivery_latency_seconds From a publish to its "
		"delivery made (stored in the queue; the endpoint's 2xx), by protocol.\n"
		"# TYPE sluice_sns_delivery_latency_seconds histogram\n") < 0)
		return -ENOSPC;
	for (int g = 0; g < SL_SNS_PGROUPS; g++) {
		const struct sl_hist *hs[SL_WORKERS_MAX + 1];
		unsigned nh = 0;
		for (unsigned i = 0; i < nw; i++) {
			struct table *tb = atomic_load_explicit(&tables[writers[i]], memory_order_acquire);
			if (tb)
				hs[nh++] = &tb->latency[g];
		}
		char labels[32];
		snprintf(labels, sizeof(labels), "protocol=\"%s\"", group_names[g]);
		long r = sl_hist_render(buf + n, cap - n, "sluice_sns_delivery_latency_seconds", labels,
					hs, nh);
		if (r < 0)
			return r;
		n += (size_t)r;
	}
	return (long)n;
}

void sl_sns_stats_free(void)
{
	for (unsigned w = 0; w <= SL_WORKERS_MAX; w++) {
		free(atomic_load(&tables[w]));
		atomic_store(&tables[w], NULL);
	}
}
