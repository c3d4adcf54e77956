/* bench_timer - throughput of the per-worker timer wheel with 1M timers.
 *
 * Prints ns per operation for add (fresh and re-arm), cancel, next_ms,
 * advance with nothing due, and advance with fire (a millisecond at a time,
 * and one jump over everything).
 * Expiries are spread over every level, up to 12 h ahead, the way SQS
 * visibility timeouts and HTTP timeouts mix on one worker.
 *
 *   bench_timer [timers]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/runtime/timer.h"

#define TIMERS_DEFAULT (1u << 20)
#define SPREAD_MS (12ull * 3600 * 1000)
#define BUDGET_ALL (1u << 30)

static struct sl_timer_wheel wheel;
static uint64_t fired;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_fire(struct sl_timer *t, void *arg)
{
	fired++;
}

/* An expiry whose distance is log-uniform up to SPREAD_MS: every level is
 * busy, as on a worker with both short and long waits. */
static uint64_t random_delta_ms(void)
{
	unsigned bits = 1 + (unsigned)(rnd() % 35);

	return 1 + rnd() % ((1ull << bits) < SPREAD_MS ? (1ull << bits) : SPREAD_MS);
}

/* A new wheel, and timers that were never armed: a timer still pending on
 * the old wheel must not be handed to the new one. */
static void fresh(struct sl_timer *t, unsigned n)
{
	memset(t, 0, (size_t)n * sizeof(*t));
	sl_timer_wheel_init(&wheel, 0);
}

static void report(const char *what, uint64_t start_ns, uint64_t ops)
{
	double ns = (double)(clock_ns() - start_ns) / (double)ops;

	printf("%-28s %8.1f ns/op  (%llu ops)\n", what, ns, (unsigned long long)ops);
}

static void bench_add_cancel(struct sl_timer *t, uint64_t *at_ms, unsigned n)
{
	uint64_t start_ns;

	for (unsigned i = 0; i < n; i++)
		at_ms[i] = random_delta_ms();
	fresh(t, n);
	start_ns = clock_ns();
	for (unsigned i = 0; i < n; i++)
		sl_timer_add(&wheel, &t[i], at_ms[i], on_fire, NULL);
	report("add", start_ns, n);

	start_ns = clock_ns();
	for (unsigned i = 0; i < n; i++)
		sl_timer_add(&wheel, &t[i], at_ms[n - 1 - i], on_fire, NULL);
	report("re-arm (pending)", start_ns, n);

	start_ns = clock_ns();
	for (unsigned i = 0; i < n; i++)
		sl_timer_cancel(&wheel, &t[i]);
	report("cancel", start_ns, n);
}

static void bench_next_ms(struct sl_timer *t, const uint64_t *at_ms, unsigned n)
{
	uint64_t start_ns;
	int64_t sum_ms = 0;
	unsigned calls = 10 * 1000 * 1000;

	fresh(t, n);
	for (unsigned i = 0; i < n; i++)
		sl_timer_add(&wheel, &t[i], at_ms[i], on_fire, NULL);
	start_ns = clock_ns();
	for (unsigned i = 0; i < calls; i++)
		sum_ms += sl_timer_next_ms(&wheel, i / 1024);
	report("next_ms (all pending)", start_ns, calls);
	if (sum_ms < 0)
		printf("unexpected: %lld\n", (long long)sum_ms);
}

/* The loop's common case: a millisecond passes and nothing is due, with
 * every timer parked on the top level. */
static void bench_advance_idle(struct sl_timer *t, const uint64_t *at_ms, unsigned n)
{
	uint64_t start_ns;
	unsigned calls = 10 * 1000 * 1000;

	fresh(t, n);
	for (unsigned i = 0; i < n; i++)
		sl_timer_add(&wheel, &t[i], (1ull << 31) + at_ms[i], on_fire, NULL);
	start_ns = clock_ns();
	for (unsigned i = 1; i <= calls; i++)
		sl_timer_advance(&wheel, i, BUDGET_ALL);
	report("advance, nothing due", start_ns, calls);
}

/* Fire everything one millisecond at a time, the way a busy worker's loop
 * does: the cost per timer includes its cascades and the advances that
 * found nothing due. */
static void bench_advance_steps(struct sl_timer *t, const uint64_t *at_ms, unsigned n)
{
	uint64_t start_ns;
	uint64_t advances = 0;

	fresh(t, n);
	for (unsigned i = 0; i < n; i++)
		sl_timer_add(&wheel, &t[i], at_ms[i] % (1u << 20), on_fire, NULL);
	fired = 0;
	start_ns = clock_ns();
	for (uint64_t now_ms = 1; sl_timer_count(&wheel) > 0; now_ms++, advances++)
		sl_timer_advance(&wheel, now_ms, BUDGET_ALL);
	report("advance+fire, 1 ms steps", start_ns, fired);
	printf("%-28s %8.1f timers per advance\n", "", (double)fired / (double)advances);
}

/* Fire everything in one jump over 12 h (the process was stopped). */
static void bench_advance_jump(struct sl_timer *t, const uint64_t *at_ms, unsigned n)
{
	uint64_t start_ns;
	unsigned calls = 0;

	fresh(t, n);
	for (unsigned i = 0; i < n; i++)
		sl_timer_add(&wheel, &t[i], at_ms[i], on_fire, NULL);
	fired = 0;
	start_ns = clock_ns();
	while (sl_timer_count(&wheel) > 0) {
		sl_timer_advance(&wheel, SPREAD_MS + 1, BUDGET_ALL);
		calls++;
	}
	report("advance+fire, 12 h jump", start_ns, fired);
	printf("%-28s %8u advance calls (move cap %u)\n", "", calls, SL_TIMER_MOVES_MAX);
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : TIMERS_DEFAULT;
	struct sl_timer *t = calloc(n, sizeof(*t));
	uint64_t *at_ms = calloc(n, sizeof(*at_ms));

	if (!t || !at_ms || n == 0) {
		fprintf(stderr, "bench_timer: cannot allocate %u timers\n", n);
		return 1;
	}
	printf("timers: %u, sizeof(struct sl_timer) %zu, sizeof(struct sl_timer_wheel) %zu\n",
	       n, sizeof(struct sl_timer), sizeof(struct sl_timer_wheel));
	bench_add_cancel(t, at_ms, n);
	bench_next_ms(t, at_ms, n);
	bench_advance_idle(t, at_ms, n);
	bench_advance_steps(t, at_ms, n);
	bench_advance_jump(t, at_ms, n);
	free(at_ms);
	free(t);
	return 0;
}
