/* Tests for control/sns/http.c's retry policies: what a subscription's or
 * topic's DeliveryPolicy makes of the delays between attempts, AWS's
 * default when there is none, and which policy wins. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/sns/http.h"
#include "dataplane/codec/bin.h"

static int delays(const struct sl_sns_retry *r, int *out, int max)
{
	int n = 0;
	for (int i = 1; i <= max; i++) {
		int d = sl_sns_retry_delay(r, i);
		if (d < 0)
			break;
		out[n++] = d;
	}
	return n;
}

Test(sns_http_policy, aws_default_is_three_retries_twenty_seconds_apart)
{
	struct sl_sns_retry r;
	int d[8];

	sl_sns_http_policy(NULL, NULL, &r, NULL);
	cr_assert_eq(delays(&r, d, 8), 3);
	cr_assert(d[0] == 20 && d[1] == 20 && d[2] == 20);
	cr_assert_eq(sl_sns_retry_delay(&r, 0), -1);
}

Test(sns_http_policy, phases_run_in_order)
{
	struct sl_sns_retry r;
	char *ct;
	int d[16];

	sl_sns_http_policy(NULL, "{\"healthyRetryPolicy\":{\"numRetries\":10,\"numNoDelayRetries\":2,"
			   "\"numMinDelayRetries\":2,\"numMaxDelayRetries\":2,\"minDelayTarget\":1,"
			   "\"maxDelayTarget\":9,\"backoffFunction\":\"linear\"},"
			   "\"requestPolicy\":{\"headerContentType\":\"application/json\"}}", &r, &ct);
	cr_assert_str_eq(ct, "application/json");
	free(ct);
	cr_assert_eq(delays(&r, d, 16), 10);
	/* 2 immediate, 2 at the minimum, 4 of backoff 1..9, 2 at the maximum. */
	int want[10] = { 0, 0, 1, 1, 1, 4, 6, 9, 9, 9 };
	for (int i = 0; i < 10; i++)
		cr_expect_eq(d[i], want[i], "retry %d: %d, not %d", i + 1, d[i], want[i]);
}

Test(sns_http_policy, jitter_shortens_a_delay_by_at_most_a_tenth)
{
	uint64_t x = 88172645463325252ull;
	int64_t lo = INT64_MAX, hi = 0;

	cr_assert_eq(sl_sns_retry_wait_ms(0, 12345), 0, "an immediate retry stays immediate");
	cr_assert_eq(sl_sns_retry_wait_ms(20, 0), 20000);
	for (int i = 0; i < 1000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int64_t ms = sl_sns_retry_wait_ms(20, (uint32_t)(x >> 32));
		cr_assert(ms >= 18000 && ms <= 20000, "20 s waited %lld ms", (long long)ms);
		lo = ms < lo ? ms : lo;
		hi = ms > hi ? ms : hi;
	}
	/* Spread over the tenth, not stuck at one value. */
	cr_expect(lo < 18200 && hi > 19800, "waits from %lld to %lld ms", (long long)lo,
		  (long long)hi);
	cr_assert_eq(sl_sns_retry_wait_ms(3600, UINT32_MAX) <= 3600000, true);
}

Test(sns_http_policy, exponential_backoff_grows_to_the_maximum)
{
	struct sl_sns_retry r;
	int d[8];

	sl_sns_http_policy(NULL, "{\"healthyRetryPolicy\":{\"numRetries\":4,\"minDelayTarget\":2,"
			   "\"maxDelayTarget\":16,\"backoffFunction\":\"exponential\"}}", &r, NULL);
	cr_assert_eq(delays(&r, d, 8), 4);
	cr_expect(d[0] == 2 && d[1] == 4 && d[2] == 8 && d[3] == 16, "%d %d %d %d", d[0], d[1], d[2],
		  d[3]);
}

Test(sns_http_policy, the_topic_may_forbid_overrides)
{
	struct sl_sns_retry r;
	const char *topic = "{\"http\":{\"defaultHealthyRetryPolicy\":{\"numRetries\":1,"
			    "\"minDelayTarget\":5,\"maxDelayTarget\":5},"
			    "\"disableSubscriptionOverrides\":%s}}";
	const char *sub = "{\"healthyRetryPolicy\":{\"numRetries\":7,\"minDelayTarget\":1,"
			  "\"maxDelayTarget\":1}}";
	char t[512];

	snprintf(t, sizeof(t), topic, "false");
	sl_sns_http_policy(t, sub, &r, NULL);
	cr_assert_eq(r.num_retries, 7);
	snprintf(t, sizeof(t), topic, "true");
	sl_sns_http_policy(t, sub, &r, NULL);
	cr_assert_eq(r.num_retries, 1);
	cr_assert_eq(sl_sns_retry_delay(&r, 1), 5);
	sl_sns_http_policy(t, NULL, &r, NULL);
	cr_assert_eq(r.num_retries, 1);
	/* Not JSON: AWS's default. */
	sl_sns_http_policy("nope", "{", &r, NULL);
	cr_assert_eq(r.num_retries, 3);
}

Test(sns_http_policy, policies_are_bounded_as_aws_bounds_them)
{
	char why[160];
	static const char *const good_sub[] = {
		"{}",
		"{\"healthyRetryPolicy\":{\"numRetries\":100,\"minDelayTarget\":1,\"maxDelayTarget\":20,"
		"\"numNoDelayRetries\":50,\"backoffFunction\":\"exponential\"},"
		"\"throttlePolicy\":{\"maxReceivesPerSecond\":10}}",
	};
	static const char *const bad_sub[] = {
		"[]",
		"{\"healthyRetryPolicy\":{\"numRetries\":101}}",
		"{\"healthyRetryPolicy\":{\"minDelayTarget\":30,\"maxDelayTarget\":10}}",
		"{\"healthyRetryPolicy\":{\"numRetries\":2,\"numNoDelayRetries\":3}}",
		"{\"healthyRetryPolicy\":{\"backoffFunction\":\"cubic\"}}",
		"{\"healthyRetryPolicy\":{\"numRetries\":100,\"minDelayTarget\":60,"
		"\"maxDelayTarget\":60}}",
		"{\"healthyRetryPolicy\":{\"numRetries\":\"3\"}}",
		"{\"throttlePolicy\":{\"maxReceivesPerSecond\":0}}",
	};

	for (size_t i = 0; i < sizeof(good_sub) / sizeof(good_sub[0]); i++)
		cr_expect(sl_sns_delivery_policy_ok(good_sub[i], false, why, sizeof(why)), "%s: %s",
			  good_sub[i], why);
	for (size_t i = 0; i < sizeof(bad_sub) / sizeof(bad_sub[0]); i++)
		cr_expect(!sl_sns_delivery_policy_ok(bad_sub[i], false, why, sizeof(why)), "%s",
			  bad_sub[i]);
	cr_expect(sl_sns_delivery_policy_ok("{\"http\":{\"defaultHealthyRetryPolicy\":"
					    "{\"numRetries\":5}}}", true, why, sizeof(why)), "%s", why);
	cr_expect(!sl_sns_delivery_policy_ok("{\"http\":{\"defaultHealthyRetryPolicy\":"
					     "{\"numRetries\":-1}}}", true, why, sizeof(why)));
	cr_expect(strstr(why, "numRetries") != NULL, "%s", why);
}

Test(sns_http_url, schemes_hosts_ports_and_paths)
{
	char host[256], port[6];
	const char *path;
	bool tls;

	cr_assert(sl_sns_http_url_parse("http://example.com/hook?x=1", host, sizeof(host), port,
					&path, &tls));
	cr_assert_str_eq(host, "example.com");
	cr_assert_str_eq(port, "80");
	cr_assert_str_eq(path, "/hook?x=1");
	cr_assert_not(tls);
	cr_assert(sl_sns_http_url_parse("HTTPS://127.0.0.1", host, sizeof(host), port, &path, &tls));
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_str_eq(port, "443");
	cr_assert_str_eq(path, "/");
	cr_assert(tls);
	cr_assert(sl_sns_http_url_parse("https://[::1]:8443/p", host, sizeof(host), port, &path,
					&tls));
	cr_assert_str_eq(host, "::1");
	cr_assert_str_eq(port, "8443");
	cr_assert_str_eq(path, "/p");
	cr_assert(tls);
	static const char *const bad[] = { "ftp://h/", "http://", "https://:80/", "http://h:/",
					   "http://h:123456/", "http://h:8x/", "http://[::1/",
					   "http://[::1]x/", "httpsx://h/" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(sl_sns_http_url_parse(bad[i], host, sizeof(host), port, &path, &tls),
			      "%s", bad[i]);
}

Test(sns_http_policy, throttle_from_the_subscription_or_the_topic)
{
	struct sl_sns_retry r;

	sl_sns_http_policy(NULL, NULL, &r, NULL);
	cr_assert_eq(r.max_per_second, 0, "no limit by default");
	sl_sns_http_policy("{\"http\":{\"defaultThrottlePolicy\":{\"maxReceivesPerSecond\":5}}}",
			   NULL, &r, NULL);
	cr_assert_eq(r.max_per_second, 5);
	sl_sns_http_policy("{\"http\":{\"defaultThrottlePolicy\":{\"maxReceivesPerSecond\":5}}}",
			   "{\"throttlePolicy\":{\"maxReceivesPerSecond\":2},"
			   "\"healthyRetryPolicy\":{\"numRetries\":1}}", &r, NULL);
	cr_assert_eq(r.max_per_second, 2, "the subscription's wins");
	cr_assert_eq(r.num_retries, 1);
	sl_sns_http_policy("{\"http\":{\"defaultThrottlePolicy\":{\"maxReceivesPerSecond\":5},"
			   "\"disableSubscriptionOverrides\":true}}",
			   "{\"throttlePolicy\":{\"maxReceivesPerSecond\":2}}", &r, NULL);
	cr_assert_eq(r.max_per_second, 5, "unless the topic forbids overrides");
	sl_sns_http_policy("{\"http\":{\"defaultThrottlePolicy\":{\"maxReceivesPerSecond\":5}}}",
			   "{\"healthyRetryPolicy\":{\"numRetries\":1}}", &r, NULL);
	cr_assert_eq(r.max_per_second, 5, "a subscription without one keeps the topic's");
}

static bool got_put(void *arg, uint64_t id, const struct sl_sns_http_req *r)
{
	struct { int puts; int32_t rate; uint64_t id; } *g = arg;

	g->puts++;
	g->rate = r->retry.max_per_second;
	g->id = id;
	return true;
}

Test(sns_http_outbox, puts_round_trip_with_their_throttle)
{
	struct sl_bw w = { 0 };
	struct sl_sns_http_req r = { .kind = SL_SNS_NOTIFICATION, .url = "http://h/", .message_id = "m",
				     .topic_arn = "t", .sub_arn = "s", .body = (const uint8_t *)"b",
				     .body_len = 1 };

	sl_sns_http_policy(NULL, "{\"throttlePolicy\":{\"maxReceivesPerSecond\":7}}", &r.retry, NULL);
	sl_sns_outbox_put(&w, 42, &r);
	cr_assert_eq(w.err, 0);
	struct got { int puts; int32_t rate; uint64_t id; } g = { 0 };
	cr_assert_eq(sl_sns_outbox_scan(w.p, w.len, got_put, NULL, &g), w.len);
	cr_assert_eq(g.puts, 1);
	cr_assert_eq(g.id, 42);
	cr_assert_eq(g.rate, 7);
	sl_bw_free(&w);
}
