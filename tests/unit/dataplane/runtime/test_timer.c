/* Tests for dataplane/runtime/timer.c: exact firing at the boundary, timers
 * on every level and beyond the range, cancel before and after a cascade,
 * callbacks that re-arm or cancel, the budget, catching up after days and
 * the per-call move cap, next_ms against a brute-force minimum, and a
 * randomized model checked against an array of expiries. */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "dataplane/limits.h"
#include "dataplane/runtime/timer.h"

#define MS_PER_HOUR (3600ull * 1000)
#define MS_PER_DAY (24 * MS_PER_HOUR)
#define BUDGET_ALL (1u << 30)

/* The clock the test passes to advance; callbacks check against it. */
static uint64_t clock_ms;
static struct sl_timer_wheel wheel;

struct probe {
	struct sl_timer t;
	unsigned fires;
	uint64_t fired_ms;
};

static void on_fire(struct sl_timer *t, void *arg)
{
	struct probe *p = arg;

	cr_assert_eq(&p->t, t);
	cr_assert_leq(t->expires_ms, clock_ms, "fired early: %llu at %llu",
		      (unsigned long long)t->expires_ms, (unsigned long long)clock_ms);
	cr_assert(!sl_timer_pending(t));
	p->fires++;
	p->fired_ms = clock_ms;
}

static unsigned advance(uint64_t now_ms, unsigned budget)
{
	clock_ms = now_ms;
	return sl_timer_advance(&wheel, now_ms, budget);
}

/* The worker's loop: sleep exactly as long as next_ms says, then advance.
 * Runs until the wheel is empty or the clock passes until_ms; returns the
 * number of wake-ups. */
static unsigned run_loop(uint64_t until_ms, unsigned wakeups_max)
{
	unsigned wakeups = 0;

	for (;;) {
		int64_t sleep_ms = sl_timer_next_ms(&wheel, clock_ms);

		if (sleep_ms < 0 || clock_ms + (uint64_t)sleep_ms > until_ms)
			return wakeups;
		cr_assert_lt(wakeups, wakeups_max, "too many wake-ups");
		wakeups++;
		advance(clock_ms + (uint64_t)sleep_ms, BUDGET_ALL);
	}
}

static const uint64_t deltas_ms[] = {
	1, 2, 63, 64, 65, 127, 128, 4095, 4096, 4097, 262143, 262144, 262145,
	(1ull << 24) - 1, 1ull << 24, (1ull << 30) - 1, 1ull << 30, 12 * MS_PER_HOUR,
	14 * MS_PER_DAY, 365 * MS_PER_DAY, SL_TIMER_RANGE_MS - 1, SL_TIMER_RANGE_MS,
	SL_TIMER_RANGE_MS + 1, 3 * SL_TIMER_RANGE_MS + 12345,
};
#define DELTAS (sizeof(deltas_ms) / sizeof(deltas_ms[0]))

/* Start positions: aligned to every level, just before and just after. */
static const uint64_t bases_ms[] = {
	0, 1, 63, 64, 4095, 4096, 123456789, SL_TIMER_RANGE_MS - 1, SL_TIMER_RANGE_MS,
	5 * SL_TIMER_RANGE_MS + 777,
};
#define BASES (sizeof(bases_ms) / sizeof(bases_ms[0]))

Test(timer, fires_at_the_boundary)
{
	struct probe a = { 0 };

	sl_timer_wheel_init(&wheel, 1000);
	clock_ms = 1000;
	cr_assert_eq(sl_timer_next_ms(&wheel, 1000), -1);
	sl_timer_add(&wheel, &a.t, 1010, on_fire, &a);
	cr_assert(sl_timer_pending(&a.t));
	cr_assert_eq(sl_timer_count(&wheel), 1);
	cr_assert_eq(sl_timer_next_ms(&wheel, 1000), 10);
	cr_assert_eq(advance(1009, 8), 0);
	cr_assert_eq(sl_timer_next_ms(&wheel, 1009), 1);
	cr_assert_eq(advance(1010, 8), 1);
	cr_assert_eq(a.fired_ms, 1010);
	cr_assert_eq(sl_timer_count(&wheel), 0);

	/* Armed for now, and for a time already past: the next advance, even
	 * at the same millisecond, fires them. */
	sl_timer_add(&wheel, &a.t, 1010, on_fire, &a);
	cr_assert_eq(sl_timer_next_ms(&wheel, 1010), 0);
	cr_assert_eq(advance(1010, 8), 1);
	sl_timer_add(&wheel, &a.t, 3, on_fire, &a);
	cr_assert_eq(sl_timer_next_ms(&wheel, 1010), 0);
	cr_assert_eq(advance(1010, 8), 1);
	/* One millisecond after now: not yet at now, at once at now + 1. */
	sl_timer_add(&wheel, &a.t, 1011, on_fire, &a);
	cr_assert_eq(advance(1010, 8), 0);
	cr_assert_eq(advance(1011, 8), 1);
	cr_assert_eq(a.fires, 4);
	cr_assert_eq(sl_timer_next_ms(&wheel, 1011), -1);
}

/* One timer at every delta from every base: a jump to one millisecond
 * before fires nothing, the millisecond itself fires it. */
Test(timer, every_level_by_jumps)
{
	for (unsigned b = 0; b < BASES; b++) {
		for (unsigned d = 0; d < DELTAS; d++) {
			struct probe p = { 0 };
			uint64_t at_ms = bases_ms[b] + deltas_ms[d];

			sl_timer_wheel_init(&wheel, bases_ms[b]);
			sl_timer_add(&wheel, &p.t, at_ms, on_fire, &p);
			cr_assert_eq(advance(at_ms - 1, BUDGET_ALL), 0);
			cr_assert(sl_timer_pending(&p.t));
			cr_assert_eq(sl_timer_next_ms(&wheel, at_ms - 1), 1);
			cr_assert_eq(advance(at_ms, BUDGET_ALL), 1);
			cr_assert_eq(p.fired_ms, at_ms);
			cr_assert_eq(sl_timer_next_ms(&wheel, at_ms), -1);
		}
	}
}

/* The same, driven the way the worker drives it: each timer fires at its
 * exact millisecond, after a few wake-ups per level (more only for timers
 * beyond the range, one per re-cascade). */
Test(timer, every_level_by_the_loop)
{
	for (unsigned b = 0; b < BASES; b++) {
		for (unsigned d = 0; d < DELTAS; d++) {
			struct probe p = { 0 };
			uint64_t at_ms = bases_ms[b] + deltas_ms[d];
			unsigned wakeups_max = 2 * SL_TIMER_LEVELS + 2 +
					       (unsigned)(deltas_ms[d] / (SL_TIMER_RANGE_MS / 2));

			sl_timer_wheel_init(&wheel, bases_ms[b]);
			clock_ms = bases_ms[b];
			sl_timer_add(&wheel, &p.t, at_ms, on_fire, &p);
			run_loop(UINT64_MAX / 4, wakeups_max);
			cr_assert_eq(p.fires, 1);
			cr_assert_eq(p.fired_ms, at_ms);
		}
	}
}

/* Timers on every level at once, several per millisecond. */
Test(timer, every_level_together)
{
	static struct probe p[DELTAS * 3];
	uint64_t base_ms = 987654321;

	sl_timer_wheel_init(&wheel, base_ms);
	clock_ms = base_ms;
	for (unsigned i = 0; i < DELTAS * 3; i++)
		sl_timer_add(&wheel, &p[i].t, base_ms + deltas_ms[i % DELTAS], on_fire, &p[i]);
	cr_assert_eq(sl_timer_count(&wheel), DELTAS * 3);
	run_loop(UINT64_MAX / 4, 1000);
	for (unsigned i = 0; i < DELTAS * 3; i++) {
		cr_assert_eq(p[i].fires, 1);
		cr_assert_eq(p[i].fired_ms, base_ms + deltas_ms[i % DELTAS]);
	}
	cr_assert_eq(sl_timer_count(&wheel), 0);
}

Test(timer, cancel_before_cascade)
{
	struct probe p = { 0 };
	struct probe q = { 0 };

	sl_timer_wheel_init(&wheel, 0);
	sl_timer_cancel(&wheel, &p.t); /* never armed: a no-op */
	sl_timer_add(&wheel, &p.t, 300000, on_fire, &p); /* level 3 */
	sl_timer_add(&wheel, &q.t, 300001, on_fire, &q);
	sl_timer_cancel(&wheel, &p.t);
	cr_assert(!sl_timer_pending(&p.t));
	cr_assert_eq(sl_timer_count(&wheel), 1);
	sl_timer_cancel(&wheel, &p.t); /* twice: still a no-op */
	cr_assert_eq(sl_timer_count(&wheel), 1);
	sl_timer_cancel(&wheel, &q.t);
	cr_assert_eq(sl_timer_next_ms(&wheel, 0), -1, "an emptied slot left its bit set");
	cr_assert_eq(advance(400000, BUDGET_ALL), 0);
	cr_assert_eq(p.fires + q.fires, 0);
}

Test(timer, cancel_after_cascade)
{
	struct probe p = { 0 };
	struct probe q = { 0 };

	sl_timer_wheel_init(&wheel, 0);
	sl_timer_add(&wheel, &p.t, 300000, on_fire, &p);
	sl_timer_add(&wheel, &q.t, 300000, on_fire, &q);
	/* By 299990 both have cascaded from level 3 down to level 0. */
	cr_assert_eq(advance(299990, BUDGET_ALL), 0);
	cr_assert_eq(sl_timer_next_ms(&wheel, 299990), 10);
	sl_timer_cancel(&wheel, &p.t);
	cr_assert_eq(sl_timer_count(&wheel), 1);
	cr_assert_eq(advance(400000, BUDGET_ALL), 1);
	cr_assert_eq(p.fires, 0);
	cr_assert_eq(q.fires, 1);
	sl_timer_cancel(&wheel, &q.t); /* after it fired: a no-op */
	cr_assert_eq(sl_timer_count(&wheel), 0);
	cr_assert_eq(sl_timer_next_ms(&wheel, 400000), -1);
}

/* Re-arming a pending timer moves it, nearer or further. */
Test(timer, rearm_moves)
{
	struct probe p = { 0 };

	sl_timer_wheel_init(&wheel, 0);
	sl_timer_add(&wheel, &p.t, 14 * MS_PER_DAY, on_fire, &p);
	sl_timer_add(&wheel, &p.t, 50, on_fire, &p);
	cr_assert_eq(sl_timer_count(&wheel), 1);
	cr_assert_eq(sl_timer_next_ms(&wheel, 0), 50);
	sl_timer_add(&wheel, &p.t, 70, on_fire, &p);
	cr_assert_eq(advance(69, BUDGET_ALL), 0);
	cr_assert_eq(advance(70, BUDGET_ALL), 1);
	cr_assert_eq(sl_timer_next_ms(&wheel, 70), -1);
}

static void on_fire_periodic(struct sl_timer *t, void *arg)
{
	struct probe *p = arg;

	on_fire(t, arg);
	if (p->fires < 10)
		sl_timer_add(&wheel, t, t->expires_ms + 10, on_fire_periodic, p);
}

static void on_fire_again_past(struct sl_timer *t, void *arg)
{
	struct probe *p = arg;

	on_fire(t, arg);
	if (p->fires == 1)
		sl_timer_add(&wheel, t, t->expires_ms - 5, on_fire_again_past, p);
}

Test(timer, rearm_from_callback)
{
	struct probe p = { 0 };

	sl_timer_wheel_init(&wheel, 0);
	sl_timer_add(&wheel, &p.t, 10, on_fire_periodic, &p);
	/* Every re-armed time is within the jump: one call fires all ten. */
	cr_assert_eq(advance(1000, BUDGET_ALL), 10);
	cr_assert_eq(p.fired_ms, 1000);
	cr_assert_eq(sl_timer_count(&wheel), 0);

	/* Driven a millisecond at a time, each fires on its own millisecond. */
	memset(&p, 0, sizeof(p));
	sl_timer_add(&wheel, &p.t, 1010, on_fire_periodic, &p);
	for (uint64_t now_ms = 1001; now_ms <= 1200; now_ms++) {
		unsigned fired = advance(now_ms, BUDGET_ALL);

		cr_assert_eq(fired, now_ms % 10 == 0 && now_ms <= 1100 ? 1u : 0u);
	}
	cr_assert_eq(p.fires, 10);

	/* Re-armed into the past: it fires again before advance returns. */
	memset(&p, 0, sizeof(p));
	sl_timer_add(&wheel, &p.t, 1300, on_fire_again_past, &p);
	cr_assert_eq(advance(1300, BUDGET_ALL), 2);
	cr_assert_eq(sl_timer_count(&wheel), 0);
}

static struct probe group[10];

static void on_fire_cancel_others(struct sl_timer *t, void *arg)
{
	on_fire(t, arg);
	for (unsigned i = 0; i < 10; i++)
		sl_timer_cancel(&wheel, &group[i].t);
}

static void on_fire_push_others(struct sl_timer *t, void *arg)
{
	on_fire(t, arg);
	for (unsigned i = 0; i < 10; i++)
		if (sl_timer_pending(&group[i].t))
			sl_timer_add(&wheel, &group[i].t, clock_ms + 1000, on_fire, &group[i]);
}

/* Due timers in the same slot, in other slots and on the due list are
 * cancelled (or pushed back) by the first one to fire. */
Test(timer, callback_cancels_due_timers)
{
	unsigned fires = 0;

	sl_timer_wheel_init(&wheel, 0);
	for (unsigned i = 0; i < 10; i++)
		sl_timer_add(&wheel, &group[i].t, 10 + i % 3, on_fire_cancel_others, &group[i]);
	cr_assert_eq(advance(5000, BUDGET_ALL), 1);
	for (unsigned i = 0; i < 10; i++)
		fires += group[i].fires;
	cr_assert_eq(fires, 1);
	cr_assert_eq(sl_timer_count(&wheel), 0);
	cr_assert_eq(sl_timer_next_ms(&wheel, 5000), -1);

	/* Already on the due list (budget 1 leaves them there). */
	memset(group, 0, sizeof(group));
	for (unsigned i = 0; i < 10; i++)
		sl_timer_add(&wheel, &group[i].t, 6000, on_fire_cancel_others, &group[i]);
	cr_assert_eq(advance(6000, 1), 1);
	cr_assert_eq(sl_timer_count(&wheel), 0);
	cr_assert_eq(advance(6000, 1), 0);
	cr_assert_eq(sl_timer_count(&wheel), 0);

	memset(group, 0, sizeof(group));
	for (unsigned i = 0; i < 10; i++)
		sl_timer_add(&wheel, &group[i].t, 7000 + i, on_fire_push_others, &group[i]);
	cr_assert_eq(advance(7100, BUDGET_ALL), 1);
	cr_assert_eq(sl_timer_count(&wheel), 9);
	cr_assert_eq(advance(8099, BUDGET_ALL), 0);
	cr_assert_eq(advance(8100, BUDGET_ALL), 9);
}

Test(timer, budget)
{
	static struct probe p[100];
	unsigned total = 0;
	unsigned calls = 0;

	sl_timer_wheel_init(&wheel, 0);
	for (unsigned i = 0; i < 100; i++)
		sl_timer_add(&wheel, &p[i].t, 1 + i % 50, on_fire, &p[i]);
	while (total < 100) {
		unsigned fired = advance(60, 7);

		cr_assert_eq(fired, total + 7 <= 100 ? 7u : 100 - total);
		total += fired;
		calls++;
		cr_assert_eq(sl_timer_count(&wheel), 100 - total);
		if (total < 100)
			cr_assert_eq(sl_timer_next_ms(&wheel, 60), 0);
	}
	cr_assert_eq(calls, 15);
	for (unsigned i = 0; i < 100; i++)
		cr_assert_eq(p[i].fires, 1);
	cr_assert_eq(advance(60, 7), 0);
	cr_assert_eq(sl_timer_next_ms(&wheel, 60), -1);
}

/* The process stopped for days: a few calls catch up, each stepping only
 * through busy slots and moving at most SL_TIMER_MOVES_MAX timers. An
 * empty wheel jumps in one step. */
Test(timer, catch_up_after_days)
{
	static struct probe p[2000];
	uint64_t state = 0x9e3779b97f4a7c15ull;
	uint64_t base_ms = 5 * MS_PER_DAY + 17;

	sl_timer_wheel_init(&wheel, base_ms);
	clock_ms = base_ms;
	for (unsigned i = 0; i < 2000; i++) {
		state ^= state << 13, state ^= state >> 7, state ^= state << 17;
		sl_timer_add(&wheel, &p[i].t, base_ms + 1 + state % (10 * MS_PER_DAY), on_fire, &p[i]);
	}
	for (unsigned calls = 0, total = 0; total < 2000; calls++) {
		/* Each timer moves at most once per level before it fires. */
		cr_assert_leq(calls, 2000 * SL_TIMER_LEVELS / SL_TIMER_MOVES_MAX);
		total += advance(base_ms + 10 * MS_PER_DAY, BUDGET_ALL);
		cr_assert_eq(sl_timer_next_ms(&wheel, clock_ms) == 0, total < 2000);
	}
	for (unsigned i = 0; i < 2000; i++)
		cr_assert_eq(p[i].fires, 1);
	cr_assert_eq(sl_timer_next_ms(&wheel, clock_ms), -1);

	cr_assert_eq(advance(clock_ms + 30 * MS_PER_DAY, BUDGET_ALL), 0);
	sl_timer_add(&wheel, &p[0].t, clock_ms + 1, on_fire, &p[0]);
	cr_assert_eq(sl_timer_next_ms(&wheel, clock_ms), 1);
	cr_assert_eq(advance(clock_ms + 1, BUDGET_ALL), 1);
}

/* More timers in one slot than one call may move: several calls, next_ms
 * says 0 until the wheel has caught up, and nothing fires early. */
Test(timer, move_cap_spreads_a_big_cascade)
{
	enum { N = 3 * SL_TIMER_MOVES_MAX + 5 };
	static struct probe p[N];
	unsigned total = 0;
	unsigned calls = 0;

	sl_timer_wheel_init(&wheel, 0);
	for (unsigned i = 0; i < N; i++)
		sl_timer_add(&wheel, &p[i].t, 20 * MS_PER_DAY + i % 1000, on_fire, &p[i]);
	cr_assert_eq(advance(20 * MS_PER_DAY - 1, BUDGET_ALL), 0);
	for (;;) {
		unsigned fired = advance(20 * MS_PER_DAY + 2000, BUDGET_ALL);

		total += fired;
		calls++;
		if (sl_timer_next_ms(&wheel, clock_ms) != 0)
			break;
		cr_assert_lt(calls, 50);
	}
	cr_assert_eq(total, N);
	cr_assert_gt(calls, 3);
	for (unsigned i = 0; i < N; i++)
		cr_assert_eq(p[i].fires, 1);
}

/* ---- Randomized model --------------------------------------------------- */

#define MODEL_TIMERS 1024

struct model {
	struct sl_timer t[MODEL_TIMERS];
	bool armed[MODEL_TIMERS];
	uint64_t at_ms[MODEL_TIMERS];
	uint64_t fires;
	uint64_t rng;
	bool callbacks_meddle; /* callbacks re-arm and cancel others */
};

static struct model m;

static uint64_t rnd(void)
{
	m.rng ^= m.rng << 13;
	m.rng ^= m.rng >> 7;
	m.rng ^= m.rng << 17;
	return m.rng;
}

/* Expiries on every level, some past, some beyond the range. */
static uint64_t random_expiry(void)
{
	static const unsigned bits[] = { 6, 12, 18, 24, 30, 36, 40 };
	unsigned class = (unsigned)(rnd() % 9);

	if (class == 0)
		return clock_ms - rnd() % (clock_ms < 100 ? clock_ms + 1 : 100);
	if (class == 8)
		return clock_ms + rnd() % 3; /* now, and the next two ms */
	return clock_ms + rnd() % (1ull << bits[class - 1]);
}

static void model_fire(struct sl_timer *t, void *arg);

static void model_arm(unsigned i, uint64_t at_ms)
{
	sl_timer_add(&wheel, &m.t[i], at_ms, model_fire, (void *)(uintptr_t)i);
	m.armed[i] = true;
	m.at_ms[i] = at_ms;
}

static void model_cancel(unsigned i)
{
	sl_timer_cancel(&wheel, &m.t[i]);
	m.armed[i] = false;
}

static void model_fire(struct sl_timer *t, void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg;
	unsigned r;

	cr_assert_eq(t, &m.t[i]);
	cr_assert(m.armed[i], "timer %u fired twice or after cancel", i);
	cr_assert_eq(t->expires_ms, m.at_ms[i]);
	cr_assert_leq(m.at_ms[i], clock_ms, "timer %u fired early", i);
	m.armed[i] = false;
	m.fires++;
	if (!m.callbacks_meddle)
		return;
	r = (unsigned)(rnd() % 8);
	if (r == 0)
		model_arm(i, random_expiry());
	else if (r == 1)
		model_cancel((unsigned)(rnd() % MODEL_TIMERS));
	else if (r == 2)
		model_arm((unsigned)(rnd() % MODEL_TIMERS), random_expiry());
}

/* The brute-force checks after an advance: counts agree, and next_ms
 * neither overestimates nor, when it says nothing is due, hides an overdue
 * timer. */
static void model_check(unsigned fired, unsigned budget)
{
	uint64_t min_ms = UINT64_MAX;
	unsigned armed = 0;
	int64_t next_ms = sl_timer_next_ms(&wheel, clock_ms);

	for (unsigned i = 0; i < MODEL_TIMERS; i++) {
		cr_assert_eq(sl_timer_pending(&m.t[i]), m.armed[i]);
		if (!m.armed[i])
			continue;
		armed++;
		if (m.at_ms[i] < min_ms)
			min_ms = m.at_ms[i];
	}
	cr_assert_eq(sl_timer_count(&wheel), armed);
	if (armed == 0) {
		cr_assert_eq(next_ms, -1);
		return;
	}
	cr_assert_geq(next_ms, 0);
	cr_assert_leq(clock_ms + (uint64_t)next_ms, min_ms > clock_ms ? min_ms : clock_ms,
		      "next_ms %lld overestimates: earliest is %llu ms away", (long long)next_ms,
		      (unsigned long long)(min_ms - clock_ms));
	if (fired < budget && next_ms != 0)
		cr_assert_gt(min_ms, clock_ms, "advance left a due timer behind");
}

/* A clock step: mostly short, sometimes none, now and then days or years. */
static uint64_t random_step_ms(void)
{
	unsigned r = (unsigned)(rnd() % 100);

	if (r < 20)
		return 0;
	if (r < 80)
		return rnd() % 70;
	if (r < 95)
		return rnd() % 5000;
	if (r < 99)
		return rnd() % (1ull << 26);
	return rnd() % (1ull << 38);
}

static void model_run(uint64_t seed, uint64_t base_ms, unsigned ops, bool meddle)
{
	memset(&m, 0, sizeof(m));
	m.rng = seed;
	m.callbacks_meddle = meddle;
	sl_timer_wheel_init(&wheel, base_ms);
	clock_ms = base_ms;
	for (unsigned op = 0; op < ops; op++) {
		unsigned r = (unsigned)(rnd() % 10);
		unsigned i = (unsigned)(rnd() % MODEL_TIMERS);

		if (r < 5) {
			model_arm(i, random_expiry());
		} else if (r < 7) {
			model_cancel(i);
		} else {
			/* Sometimes the worker's own sleep, sometimes a random one. */
			int64_t sleep_ms = sl_timer_next_ms(&wheel, clock_ms);
			uint64_t step_ms = (r == 7 && sleep_ms >= 0) ? (uint64_t)sleep_ms : random_step_ms();
			unsigned budget = rnd() % 4 == 0 ? 1 + (unsigned)(rnd() % 8) : BUDGET_ALL;
			unsigned fired = advance(clock_ms + step_ms, budget);

			cr_assert_leq(fired, budget);
			model_check(fired, budget);
		}
	}
	/* Drain: every timer still armed fires exactly once, on time. */
	m.callbacks_meddle = false;
	for (unsigned wakeups = 0;; wakeups++) {
		int64_t sleep_ms = sl_timer_next_ms(&wheel, clock_ms);

		if (sleep_ms < 0)
			break;
		cr_assert_lt(wakeups, 100000);
		advance(clock_ms + (uint64_t)sleep_ms, BUDGET_ALL);
		model_check(0, 1);
	}
	for (unsigned i = 0; i < MODEL_TIMERS; i++)
		cr_assert(!m.armed[i]);
	cr_assert_gt(m.fires, ops / 20);
}

Test(timer, model_plain)
{
	model_run(0x1234567887654321ull, 0, 200000, false);
	model_run(0xdeadbeefcafef00dull, SL_TIMER_RANGE_MS - 3000, 200000, false);
}

Test(timer, model_callbacks_meddle)
{
	model_run(0x0123456789abcdefull, 4095, 200000, true);
	model_run(0x5555aaaa5555aaaaull, 123456789012ull, 200000, true);
}

/* next_ms against the brute-force minimum, with the clock driven only by
 * the worker's own sleeps, and with the earliest timer tracked exactly. */
Test(timer, next_ms_never_overestimates)
{
	memset(&m, 0, sizeof(m));
	m.rng = 42;
	sl_timer_wheel_init(&wheel, 77);
	clock_ms = 77;
	for (unsigned op = 0; op < 100000; op++) {
		unsigned i = (unsigned)(rnd() % MODEL_TIMERS);

		if (rnd() % 3 == 0) {
			model_arm(i, random_expiry());
			model_check(0, 1);
		} else {
			int64_t sleep_ms = sl_timer_next_ms(&wheel, clock_ms);
			unsigned fired;

			if (sleep_ms < 0)
				continue;
			fired = advance(clock_ms + (uint64_t)sleep_ms, BUDGET_ALL);
			model_check(fired, BUDGET_ALL);
		}
	}
}
