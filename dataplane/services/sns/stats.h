/* stats.h - SNS's per-topic counters and delivery latency histograms for
 * /metrics.
 *
 * Each writer (a worker, by its index, or the http deliverer, as
 * SL_SNS_STATS_DELIVERER) has a table of its own: single writer, relaxed
 * stores, no lock; GET /metrics, on any worker, sums the tables with
 * relaxed loads. A topic is keyed by region and name (the deliverer knows
 * a delivery's topic by its ARN only), and shown while it exists.
 */
#ifndef SL_SNS_STATS_H
#define SL_SNS_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/limits.h"

/* Protocols as /metrics groups them. */
enum sl_sns_pgroup { SL_SNS_PG_SQS = 0, SL_SNS_PG_HTTP, SL_SNS_PG_LAMBDA, SL_SNS_PG_EMAIL,
		     SL_SNS_PG_SMS, SL_SNS_PG_APPLICATION, SL_SNS_PGROUPS };
/* The group of an enum sl_sns_proto. */
int sl_sns_pgroup(int protocol);

#define SL_SNS_STATS_DELIVERER SL_WORKERS_MAX

struct sl_sns_tstats {
	_Atomic uint64_t hash; /* 0: free; set last, once the names are */
	char region[SL_REGION_MAX + 1];
	char topic[SL_SNS_TOPIC_NAME_MAX + 1];
	_Atomic uint64_t publishes, filtered, retries;
	_Atomic uint64_t deliveries[SL_SNS_PGROUPS], failures[SL_SNS_PGROUPS],
		dead[SL_SNS_PGROUPS];
};

/* Writer w's counters of the topic (region, name), made on first use; NULL
 * when its table is full or cannot be made. */
struct sl_sns_tstats *sl_sns_tstats(unsigned w, const char *region, const char *topic);
/* The same, for a topic ARN arn:aws:sns:<region>:<account>:<name>. */
struct sl_sns_tstats *sl_sns_tstats_arn(unsigned w, const char *arn);
void sl_sns_stat_add(_Atomic uint64_t *c, uint64_t v);
/* Writer w: a delivery of group g made ms after its publish. */
void sl_sns_latency(unsigned w, int g, int64_t ms);

/* The per-topic series and the latency histograms, of the topics
 * exists(region, name) says still exist. Bytes written, or -ENOSPC. */
long sl_sns_stats_render(char *buf, size_t cap, unsigned nworkers,
			 int (*exists)(const char *region, const char *topic));
void sl_sns_stats_free(void);

#endif
