/* Tests for dataplane/runtime/metrics.c: series are named by service and
 * operation with no fixed cap, a scrape sums every worker's set and the
 * control thread's, and the text is valid Prometheus exposition. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/runtime/metrics.h"

static char text[1 << 20];

/* The value of the sample line that starts with `series `, or -1. */
static long long sample(const char *series)
{
	char pat[512];

	snprintf(pat, sizeof(pat), "\n%s ", series);
	const char *p = strstr(text, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

Test(metrics, series_sum_workers_and_the_control_thread)
{
	/* More operations than the old fixed table held (48), over two
	 * services that share operation names. */
	static char names[100][16];
	uint16_t first = 0, tag_kinesis, tag_sns;

	for (int i = 0; i < 100; i++) {
		snprintf(names[i], sizeof(names[i]), "Op%03d", i);
		uint16_t id = sl_metric_op("kinesis", names[i]);
		cr_assert_neq(id, 0);
		if (i == 0)
			first = id;
		cr_expect_eq(id, first + i, "ids are dense");
	}
	tag_kinesis = sl_metric_op("kinesis", "TagResource");
	tag_sns = sl_metric_op("sns", "TagResource");
	cr_expect_neq(tag_kinesis, tag_sns, "one name in two services is two series");
	cr_expect_eq(sl_metric_op("sns", "TagResource"), tag_sns, "registering again finds it");
	cr_expect_eq(sl_metric_op_find("sns", "TagResource", 11), tag_sns);
	cr_assert_eq(sl_metrics_init(), 0);

	/* Two workers and the control thread (index SL_WORKERS_MAX). */
	sl_metric_add(&sl_metrics_of(0)->ops[tag_sns].requests[SL_ST_2XX], 3);
	sl_metric_add(&sl_metrics_of(1)->ops[tag_sns].requests[SL_ST_2XX], 4);
	sl_metric_add(&sl_metrics_of(SL_WORKERS_MAX)->ops[tag_sns].requests[SL_ST_2XX], 5);
	sl_metric_add(&sl_metrics_of(0)->ring_full, 1);
	sl_metric_add(&sl_metrics_of(SL_WORKERS_MAX)->ring_full, 10);
	/* A set past the worker count is not part of the scrape. */
	sl_metric_add(&sl_metrics_of(2)->ring_full, 1000);
	sl_hist_observe(&sl_metrics_of(1)->ops[tag_sns].latency, 300);

	long n = sl_metrics_render(text, sizeof(text), 2);
	cr_assert_gt(n, 0);
	text[n] = '\0';
	cr_expect_eq(sample("sluice_requests_total{service=\"sns\",op=\"TagResource\",code=\"2xx\"}"),
		     12, "%s", text);
	cr_expect_eq(sample("sluice_requests_total{service=\"kinesis\",op=\"TagResource\",code=\"2xx\"}"),
		     -1, "a series with no requests is not printed");
	cr_expect_eq(sample("sluice_ring_full_total"), 11, "the control thread's counters count");
	cr_expect_eq(sample("sluice_request_duration_seconds_count{service=\"sns\",op=\"TagResource\"}"),
		     1);
	cr_expect_eq(sample("sluice_request_duration_seconds_bucket{service=\"sns\",op=\"TagResource\","
			    "le=\"0.00025\"}"), 0);
	cr_expect_eq(sample("sluice_request_duration_seconds_bucket{service=\"sns\",op=\"TagResource\","
			    "le=\"0.0005\"}"), 1);
	cr_expect_eq(sl_metrics_render(text, 64, 2), -ENOSPC, "a small buffer is reported, not cut");
}
