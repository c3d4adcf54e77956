/* load_common.c - the helpers sluice-load and rabbit-load share (see
 * load_common.h): clock, histogram quantiles and report lines, message
 * bodies, flag values.
 *
 * No state of its own besides constants: each function works on what its
 * caller passes, in the caller's thread.
 */

#include "load_common.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- time and randomness ---- */

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / NS_PER_S), .tv_nsec = (long)(t % NS_PER_S) };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

double elapsed_between(uint64_t start_ns, uint64_t stop_ns, uint64_t last_done_ns)
{
	uint64_t end = last_done_ns > stop_ns ? last_done_ns : stop_ns;

	return end > start_ns ? (double)(end - start_ns) / 1e9 : 1e-9;
}

uint64_t rng_seed(void)
{
	return now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ull;
}

/* ---- histogram ---- */

/* Highest value that lands in bucket idx, as HdrHistogram reports it. */
static uint64_t hist_high(uint32_t idx)
{
	uint32_t shift, sub;

	if (idx < 2 * HIST_SUB)
		return idx;
	shift = (idx - 2 * HIST_SUB) / HIST_SUB + 1;
	sub = (idx - 2 * HIST_SUB) % HIST_SUB + HIST_SUB;
	return (((uint64_t)sub + 1) << shift) - 1;
}

void hist_merge(struct load_hist *into, const struct load_hist *h)
{
	if (h->total == 0)
		return;
	for (uint32_t i = 0; i < HIST_BUCKETS; i++)
		into->count[i] += h->count[i];
	into->total += h->total;
	into->sum_us += h->sum_us;
	if (h->max_us > into->max_us)
		into->max_us = h->max_us;
}

uint64_t hist_quantile(const struct load_hist *h, double q)
{
	uint64_t want, seen = 0;

	if (h->total == 0)
		return 0;
	want = (uint64_t)(q * (double)h->total + 0.999999);
	if (want < 1)
		want = 1;
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= want)
			return hist_high(i) < h->max_us ? hist_high(i) : h->max_us;
	}
	return h->max_us;
}

void print_ms(char *out, size_t cap, const struct load_hist *h, double q)
{
	if (h->total)
		snprintf(out, cap, "%8.3f", us_to_ms(hist_quantile(h, q)));
	else
		snprintf(out, cap, "%8s", "-");
}

void print_hist_line(const char *what, const struct load_hist *h, const char *per)
{
	printf("  %-11s p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (%s)\n", what,
	       us_to_ms(hist_quantile(h, 0.5)), us_to_ms(hist_quantile(h, 0.99)),
	       us_to_ms(hist_quantile(h, 0.999)), us_to_ms(h->max_us), per);
}

void json_hist(FILE *f, const char *key, const struct load_hist *h, const char *tail)
{
	fprintf(f, "  \"%s\": {\"p50\": %.3f, \"p99\": %.3f, \"p999\": %.3f, \"max\": %.3f, "
		"\"mean\": %.3f}%s\n", key,
		us_to_ms(hist_quantile(h, 0.5)), us_to_ms(hist_quantile(h, 0.99)),
		us_to_ms(hist_quantile(h, 0.999)), us_to_ms(h->max_us),
		h->total ? us_to_ms(h->sum_us) / (double)h->total : 0.0, tail);
}

void report_fill_line(double at_s, double sends, uint64_t stored, uint64_t depth,
		      uint64_t errors)
{
	printf("%6.1fs fill %9.0f msg/s  %" PRIu64 " of %" PRIu64 " stored  err %" PRIu64 "\n",
	       at_s, sends, stored, depth, errors);
}

void report_e2e_line(double at_s, double sends, double e2e, const struct load_hist *h,
		     uint64_t errors)
{
	char p50[32], p99[32], p999[32];

	print_ms(p50, sizeof(p50), h, 0.50);
	print_ms(p99, sizeof(p99), h, 0.99);
	print_ms(p999, sizeof(p999), h, 0.999);
	printf("%6.1fs send %9.0f msg/s  e2e %9.0f msg/s  p50 %s  p99 %s  p99.9 %s ms  "
	       "err %" PRIu64 "\n", at_s, sends, e2e, p50, p99, p999, errors);
}
FILE *summary_open(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		fprintf(stderr, "%s: cannot write %s: %s\n", load_prog, path, strerror(errno));
	return f;
}

int summary_close(FILE *f, const char *path)
{
	if (fclose(f) == 0)
		return 0;
	fprintf(stderr, "%s: cannot write %s: %s\n", load_prog, path, strerror(errno));
	return -1;
}

void print_fill_summary(uint64_t sent, uint64_t failed, double fill_s, long long depth_seen)
{
	printf("  pre-fill    %" PRIu64 " messages stored (%" PRIu64 " failed) in %.2f s, "
	       "%.1f msg/s; the queue reports %lld\n", sent, failed, fill_s,
	       fill_s > 0 ? (double)sent / fill_s : 0.0, depth_seen);
}

void json_fill(FILE *f, uint64_t sent, uint64_t failed, double fill_s, long long depth_seen)
{
	fprintf(f, "  \"fill\": {\"messages\": %" PRIu64 ", \"failed\": %" PRIu64
		", \"elapsed_s\": %.3f, \"messages_per_s\": %.1f, \"depth_reported\": %lld}\n",
		sent, failed, fill_s, fill_s > 0 ? (double)sent / fill_s : 0.0, depth_seen);
}

/* ---- fan-out ---- */

uint64_t fanout_errors(const struct load_fanout *s)
{
	return s->publish_errors + s->publish_failed + s->recv_errors + s->delete_failed;
}

void report_fanout_line(double at_s, double pubs, double deliveries, const struct load_hist *h,
			uint64_t errors)
{
	char p50[32], p99[32], p999[32];

	print_ms(p50, sizeof(p50), h, 0.50);
	print_ms(p99, sizeof(p99), h, 0.99);
	print_ms(p999, sizeof(p999), h, 0.999);
	printf("%6.1fs publish %9.0f msg/s  deliver %9.0f msg/s  p50 %s  p99 %s  p99.9 %s ms  "
	       "err %" PRIu64 "\n", at_s, pubs, deliveries, p50, p99, p999, errors);
}

/* Deliveries per publish: K when the consumers kept up, less when a
 * backlog was left in the queues. */
static double fanout_per_publish(const struct load_fanout *s)
{
	return s->published ? (double)s->deleted / (double)s->published : 0.0;
}

void print_fanout_summary(const struct load_fanout *s, const struct load_hist *e2e,
			  const struct load_hist *pub)
{
	double el = s->elapsed_s;
	char per[64];

	printf("  published   %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64 " errors, %" PRIu64
	       " requests in %.2f s\n", s->published, s->publish_failed, s->publish_errors,
	       s->publish_requests, el);
	printf("  delivered   %" PRIu64 " received, %" PRIu64 " deleted, %" PRIu64 " delete failures, %"
	       PRIu64 " empty receives, %" PRIu64 " errors, %" PRIu64 " without a send time\n",
	       s->received, s->deleted, s->delete_failed, s->empty_receives, s->recv_errors,
	       s->bad_bodies);
	printf("  throughput  publishes %.1f msg/s, deliveries %.1f msg/s over %u queue%s "
	       "(%.2f per publish)\n", (double)s->published / el, (double)s->deleted / el, s->queues,
	       s->queues == 1 ? "" : "s", fanout_per_publish(s));
	print_hist_line("e2e ms", e2e, "per delivery, publish to receive");
	snprintf(per, sizeof(per), "per publish round trip of %u message%s", s->batch,
		 s->batch == 1 ? "" : "s");
	if (s->publish_requests)
		print_hist_line("publish ms", pub, per);
	if (s->rate > 0)
		printf("  unsent      %" PRIu64 " messages the schedule wanted published\n", s->unsent);
	if (s->backlog_end >= 0)
		printf("  backlog     %lld messages left ready in the queues\n", s->backlog_end);
	fflush(stdout);
}

void json_fanout(FILE *f, const struct load_fanout *s, const struct load_hist *e2e,
		 const struct load_hist *pub)
{
	double el = s->elapsed_s;

	fprintf(f, "  \"published\": %" PRIu64 ",\n  \"publish_failed\": %" PRIu64 ",\n"
		"  \"publish_requests\": %" PRIu64 ",\n  \"publish_errors\": %" PRIu64 ",\n"
		"  \"unsent\": %" PRIu64 ",\n  \"received\": %" PRIu64 ",\n  \"deleted\": %" PRIu64
		",\n  \"delete_failed\": %" PRIu64 ",\n  \"consumer_requests\": %" PRIu64 ",\n"
		"  \"empty_receives\": %" PRIu64 ",\n  \"recv_errors\": %" PRIu64 ",\n"
		"  \"bad_bodies\": %" PRIu64 ",\n  \"errors\": %" PRIu64 ",\n"
		"  \"backlog_end\": %lld,\n",
		s->published, s->publish_failed, s->publish_requests, s->publish_errors, s->unsent,
		s->received, s->deleted, s->delete_failed, s->consumer_requests, s->empty_receives,
		s->recv_errors, s->bad_bodies, fanout_errors(s), s->backlog_end);
	fprintf(f, "  \"publishes_per_s\": %.1f,\n  \"deliveries_per_s\": %.1f,\n"
		"  \"deliveries_per_publish\": %.3f,\n",
		(double)s->published / el, (double)s->deleted / el, fanout_per_publish(s));
	json_hist(f, "latency_ms", e2e, ",");
	json_hist(f, "publish_latency_ms", pub, "");
	fputs("}\n", f);
}

/* ---- message bodies ---- */

uint8_t *pool_new(uint64_t *rng)
{
	uint8_t *p = malloc(LOAD_POOL_LEN);

	if (!p)
		return NULL;
	for (size_t i = 0; i < LOAD_POOL_LEN; i++)
		p[i] = (uint8_t)b64_alphabet[rng_next(rng) >> 58];
	return p;
}

uint8_t *body_put(uint8_t *q, size_t len, uint64_t stamp, const uint8_t *pool, uint64_t *rng)
{
	size_t fill = len - LOAD_STAMP_LEN;
	size_t k = rng_next(rng) % (LOAD_POOL_LEN - fill + 1);

	assert(len >= LOAD_STAMP_LEN && fill <= LOAD_POOL_LEN);
	for (int i = LOAD_STAMP_LEN - 1; i >= 0; i--) {
		q[i] = (uint8_t)('0' + stamp % 10);
		stamp /= 10;
	}
	memcpy(q + LOAD_STAMP_LEN, pool + k, fill);
	return q + len;
}

int64_t stamp_parse(const uint8_t *p, size_t len)
{
	uint64_t v = 0;

	if (len < LOAD_STAMP_LEN)
		return -1;
	for (int i = 0; i < LOAD_STAMP_LEN; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	return v > INT64_MAX ? -1 : (int64_t)v;
}

int run_queue_name(char *out, size_t cap, const char *base)
{
	return snprintf(out, cap, "%s-%lld-%ld", base, (long long)time(NULL) % 10000000000ll,
			(long)getpid() % 10000000000l);
}

/* ---- flags ---- */

int bad_flag(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", load_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see %s --help)\n", load_prog);
	return -1;
}

int parse_u64(const char *flag, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
		return bad_flag("--%s wants an integer in %" PRIu64 "..%" PRIu64 ", got '%s'", flag,
				lo, hi, s);
	*out = v;
	return 0;
}

int parse_u32(const char *flag, const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint64_t v = 0;

	if (parse_u64(flag, s, lo, hi, &v))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int parse_f64(const char *flag, const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return bad_flag("--%s wants a number in %g..%g, got '%s'", flag, lo, hi, s);
	*out = v;
	return 0;
}

void signals_init(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}
