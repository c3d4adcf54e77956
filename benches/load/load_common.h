/* load_common.h - what sluice-load and rabbit-load share: the monotonic
 * clock, the payload PRNG, the latency histogram, the report lines both
 * print alike, the message body (send time, then base64 filler) and the
 * flag value parsers.
 *
 * Both programs print the same report for the same data, so what they must
 * agree on lives here once. Nothing here locks: sluice-load calls it from
 * its one thread, rabbit-load from each connection's thread on its own
 * data (under that thread's mutex) and from the reporting thread; the flag
 * parsers and pool_new run on the main thread before any other starts.
 */
#ifndef SL_BENCH_LOAD_COMMON_H
#define SL_BENCH_LOAD_COMMON_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull
#define NS_PER_US 1000ull

/* Latency histogram: log-linear, like HdrHistogram with 2 significant digits.
 * Values below 2 * HIST_SUB us are exact; above, each power of two is split
 * into HIST_SUB buckets, so a bucket is at most 1/128 (0.8%) wide. One
 * definition for both tools, so they report the same quantiles for the
 * same data. */
#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_US (60ull * 1000 * 1000)
#define HIST_BUCKETS 2560

/* A message body starts with its send time in ns as LOAD_STAMP_LEN decimal
 * digits (a uint64_t has at most 20), so a body is never shorter than that;
 * the rest is cut from a pool of LOAD_POOL_LEN bytes of random base64 text. */
#define LOAD_STAMP_LEN 20
#define LOAD_POOL_LEN (4u << 20)

struct load_hist {
	uint64_t count[HIST_BUCKETS];
	uint64_t total;
	uint64_t sum_us;
	uint64_t max_us;
};

/* The program's name, as its messages start ("sluice-load"); each program
 * defines it. */
extern const char load_prog[];

/* The base64 alphabet of RFC 4648. */
extern const char b64_alphabet[];

/* ---- time and randomness ---- */

/* CLOCK_MONOTONIC in ns. */
uint64_t now_ns(void);
/* Sleep until CLOCK_MONOTONIC reaches t (or a signal arrives). */
void sleep_until(uint64_t t);
/* Seconds from start to the last completion or the stop, whichever is
 * later; never 0, since it divides. */
double elapsed_between(uint64_t start_ns, uint64_t stop_ns, uint64_t last_done_ns);

/* xorshift64*: cheap, and random enough to make payloads incompressible.
 * Inline: it runs once or twice per record. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* A seed that differs from run to run and from process to process. */
uint64_t rng_seed(void);

/* ---- histogram ---- */

/* The bucket of a value in us; values over HIST_MAX_US share the last. */
static inline uint32_t hist_index(uint64_t us)
{
	unsigned int shift;

	if (us > HIST_MAX_US)
		us = HIST_MAX_US;
	if (us < 2 * HIST_SUB)
		return (uint32_t)us;
	shift = (unsigned int)(63 - __builtin_clzll(us)) - HIST_SUB_BITS;
	return 2 * HIST_SUB + (shift - 1) * HIST_SUB + (uint32_t)((us >> shift) - HIST_SUB);
}

/* Inline, like rng_next: once or twice per message or request. */
static inline void hist_record(struct load_hist *h, uint64_t us)
{
	uint32_t i = hist_index(us);

	assert(i < HIST_BUCKETS);
	h->count[i]++;
	h->total++;
	h->sum_us += us;
	if (us > h->max_us)
		h->max_us = us;
}

static inline double us_to_ms(uint64_t us)
{
	return (double)us / 1000.0;
}

void hist_merge(struct load_hist *into, const struct load_hist *h);
/* Value at quantile q in us; 0 for an empty histogram. */
uint64_t hist_quantile(const struct load_hist *h, double q);

/* Quantile q in ms as 8 columns, or "-" when h is empty. */
void print_ms(char *out, size_t cap, const struct load_hist *h, double q);
/* A summary line "  WHAT        p50 .. max ..  (PER)" on stdout. */
void print_hist_line(const char *what, const struct load_hist *h, const char *per);
/* A JSON summary member `"key": {"p50": .., "mean": ..}` and tail, one line. */
void json_hist(FILE *f, const char *key, const struct load_hist *h, const char *tail);

/* ---- reports ---- */

/* The SQS-style per-second lines of sluice-load sqs and rabbit-load, to the
 * character, so one script reads both: the pre-fill's (messages stored so
 * far of depth) and the run's (send and end-to-end rates, h's quantiles).
 * at_s is the time into the phase, errors the new errors of the second. */
void report_fill_line(double at_s, double sends, uint64_t stored, uint64_t depth,
		      uint64_t errors);
void report_e2e_line(double at_s, double sends, double e2e, const struct load_hist *h,
		     uint64_t errors);

/* The --json-summary file, opened for writing, and closed; on failure
 * NULL or -1, with the reason on stderr. */
FILE *summary_open(const char *path);
int summary_close(FILE *f, const char *path);

/* The pre-fill of a --depth run in the summary: its line, and its JSON
 * member (the last one, so without a comma). */
void print_fill_summary(uint64_t sent, uint64_t failed, double fill_s, long long depth_seen);
void json_fill(FILE *f, uint64_t sent, uint64_t failed, double fill_s, long long depth_seen);

/* ---- fan-out (sluice-load sns, rabbit-load fanout) ---- */

/* A fan-out run's counts, as both tools' summaries name them. One
 * publish (a message acknowledged by the server once every queue holds
 * it) makes `queues` deliveries: a delivery is a message received from one
 * of the queues and then deleted (SQS) or acked (AMQP). */
struct load_fanout {
	uint32_t queues;
	uint32_t batch;             /* messages per publish round trip */
	uint64_t published;         /* messages acknowledged */
	uint64_t publish_failed;    /* messages refused, or lost with a connection */
	uint64_t publish_requests;  /* acknowledged round trips */
	uint64_t publish_errors;    /* failed round trips and connections */
	uint64_t unsent;            /* --rate: messages the schedule wanted out by the end */
	uint64_t received;
	uint64_t deleted;           /* deliveries */
	uint64_t delete_failed;
	uint64_t consumer_requests;
	uint64_t empty_receives;
	uint64_t recv_errors;
	uint64_t bad_bodies;        /* no send time at the start */
	long long backlog_end;      /* messages still ready in the queues after the run; -1 unknown */
	double elapsed_s;
	double rate;                /* --rate (publishes/s), 0 for a closed loop */
};

/* Every kind of error of the run, as the per-second line counts them. */
uint64_t fanout_errors(const struct load_fanout *s);
/* The per-second line: publishes and deliveries per second, h's
 * quantiles (publish to receive), the new errors of the second. */
void report_fanout_line(double at_s, double pubs, double deliveries, const struct load_hist *h,
			uint64_t errors);
/* The summary lines after the run's first line, on stdout. */
void print_fanout_summary(const struct load_fanout *s, const struct load_hist *e2e,
			  const struct load_hist *pub);
/* The JSON summary's members from "published" to the end (the caller
 * wrote "{" and the members naming the run), and the closing brace. One
 * key a line, "latency_ms" (per delivery) before "publish_latency_ms". */
void json_fanout(FILE *f, const struct load_fanout *s, const struct load_hist *e2e,
		 const struct load_hist *pub);

/* Which queues consumer `idx` of `consumers` takes, of `queues`: with at
 * least one consumer per queue, queue idx % queues alone; with fewer,
 * queues idx, idx + consumers, ... in turn. fanout_queue_first gives the
 * first, fanout_queue_next the one after q (q itself when it has one). */
static inline uint32_t fanout_queue_first(uint32_t idx, uint32_t consumers, uint32_t queues)
{
	assert(consumers > 0 && queues > 0);
	return idx % queues;
}

static inline uint32_t fanout_queue_next(uint32_t q, uint32_t idx, uint32_t consumers,
					 uint32_t queues)
{
	assert(q < queues);
	if (consumers >= queues)
		return q;
	return q + consumers < queues ? q + consumers : idx;
}

/* ---- message bodies ---- */

/* LOAD_POOL_LEN bytes of random base64 text; NULL without memory.
 * (sluice-load makes its pool by encoding random bytes instead: its
 * Kinesis and Redis records want those raw bytes too.) */
uint8_t *pool_new(uint64_t *rng);
/* A body of len (>= LOAD_STAMP_LEN) bytes at q: stamp as LOAD_STAMP_LEN
 * zero-padded digits, then filler from a random offset of pool (which is
 * LOAD_POOL_LEN bytes). Base64 needs no JSON escape, so the body may go
 * into a JSON request as is. Returns q + len. */
uint8_t *body_put(uint8_t *q, size_t len, uint64_t stamp, const uint8_t *pool, uint64_t *rng);
/* The send time at the start of a received body, or -1 when it has none. */
int64_t stamp_parse(const uint8_t *p, size_t len);

/* A message's send-to-receive latency in us: now (the receive) less its
 * stamp, 0 for a stamp from the future. */
static inline uint64_t stamp_age_us(uint64_t stamp, uint64_t now)
{
	return stamp < now ? (now - stamp) / NS_PER_US : 0;
}

/* NAME-<seconds>-<pid>: a queue name no earlier run used. Returns what
 * snprintf returns. */
int run_queue_name(char *out, size_t cap, const char *base);

/* ---- flags ---- */

/* "<prog>: <message> (see <prog> --help)" on stderr. Returns -1. */
__attribute__((format(printf, 1, 2)))
int bad_flag(const char *fmt, ...);
/* The value of --flag as an integer in lo..hi, or -1 (with bad_flag). */
int parse_u64(const char *flag, const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
int parse_u32(const char *flag, const char *s, uint32_t lo, uint32_t hi, uint32_t *out);
int parse_f64(const char *flag, const char *s, double lo, double hi, double *out);

/* SIGINT and SIGTERM go to handler; SIGPIPE is ignored (a broken
 * connection shows as a write error). */
void signals_init(void (*handler)(int));

#endif
