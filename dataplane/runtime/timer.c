/* timer.c - the hierarchical timer wheel (see timer.h for the shape).
 *
 * The wheel's position is done_ms + 1, the first millisecond whose slots
 * have not been processed. A timer delta ms ahead of it goes to level
 * l = floor(log64(delta)) (0 for delta < 64), in slot (expires_ms >> 6l) & 63:
 * the 64^l ms block it falls in. On level 0 that is its very millisecond;
 * above, the block starts 1 to 64 blocks after the position's own. The
 * slot's time is the start of that block, which is the first time at or
 * after the position whose level-l block has that index: a slot never holds
 * timers of two laps, and the timers of a slot all expire at or after its
 * time. Processing a slot at its time moves each timer, now less than 64^l
 * ms away, to a lower level; a level-0 slot's timers expire exactly then and
 * move to the due list, from which they fire. The next slot time is found
 * from the bitmaps, and the wheel jumps straight to it, however far.
 */
#include "dataplane/runtime/timer.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

_Static_assert(SL_TIMER_SLOTS == 64, "the bitmap rotate below is 64 bits wide");
_Static_assert(SL_TIMER_LEVELS < UINT8_MAX, "t->level holds a level or LEVEL_DUE");

/* t->level of a timer on the due list. */
#define LEVEL_DUE SL_TIMER_LEVELS
#define SLOT_MASK (SL_TIMER_SLOTS - 1u)
/* The clock stays far below 2^64 so that position + range cannot wrap. */
#define CLOCK_MS_MAX (1ull << 62)

static unsigned level_shift(unsigned level)
{
	assert(level < SL_TIMER_LEVELS);
	return level * SL_TIMER_SLOT_BITS;
}

static uint64_t rotate_right(uint64_t x, unsigned r)
{
	assert(r < 64);
	return (x >> r) | (x << ((64 - r) & 63));
}

static void due_append(struct sl_timer_wheel *w, struct sl_timer *t)
{
	assert(!t->pprev);
	assert(!*w->due_tail);
	t->level = LEVEL_DUE;
	t->slot = 0;
	t->next = NULL;
	t->pprev = w->due_tail;
	*w->due_tail = t;
	w->due_tail = &t->next;
}

/* Put t where the position done_ms + 1 says it belongs (see the top of the
 * file); a timer beyond the range goes where the range ends and is placed
 * again when that slot comes up, which is still before it expires. */
static void wheel_insert(struct sl_timer_wheel *w, struct sl_timer *t)
{
	uint64_t clk_ms = w->done_ms + 1;
	uint64_t at_ms = t->expires_ms;
	uint64_t delta_ms;
	unsigned level = 0;
	unsigned slot;

	if (at_ms < clk_ms) {
		due_append(w, t);
		return;
	}
	delta_ms = at_ms - clk_ms;
	if (delta_ms >= SL_TIMER_RANGE_MS) {
		delta_ms = SL_TIMER_RANGE_MS - 1;
		at_ms = clk_ms + delta_ms;
	}
	if (delta_ms >= SL_TIMER_SLOTS)
		level = (63u - (unsigned)__builtin_clzll(delta_ms)) / SL_TIMER_SLOT_BITS;
	assert(level < SL_TIMER_LEVELS);
	slot = (unsigned)(at_ms >> level_shift(level)) & SLOT_MASK;

	t->level = (uint8_t)level;
	t->slot = (uint8_t)slot;
	t->next = w->slot[level][slot];
	if (t->next)
		t->next->pprev = &t->next;
	t->pprev = &w->slot[level][slot];
	w->slot[level][slot] = t;
	w->occupied[level] |= 1ull << slot;
}

/* Take t off its list, keeping the bitmap and the due list's tail exact. */
static void timer_unlink(struct sl_timer_wheel *w, struct sl_timer *t)
{
	assert(t->pprev);
	assert(*t->pprev == t);
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	else if (t->level == LEVEL_DUE)
		w->due_tail = t->pprev;
	if (t->level != LEVEL_DUE && !w->slot[t->level][t->slot])
		w->occupied[t->level] &= ~(1ull << t->slot);
	t->next = NULL;
	t->pprev = NULL;
}

/* The earliest time at or after the position at which a slot must be
 * processed: a level-0 slot's time is its timers' expiry, a higher slot's
 * is the start of its block, no later than any of its timers' expiry.
 * Returns UINT64_MAX when no slot is busy. */
static uint64_t next_slot_ms(const struct sl_timer_wheel *w)
{
	uint64_t clk_ms = w->done_ms + 1;
	uint64_t best_ms = UINT64_MAX;

	assert(clk_ms < CLOCK_MS_MAX);
	for (unsigned level = 0; level < SL_TIMER_LEVELS; level++) {
		unsigned shift = level_shift(level);
		/* The first block of this level that starts at or after clk_ms. */
		uint64_t block = (clk_ms + (1ull << shift) - 1) >> shift;
		uint64_t busy;
		uint64_t at_ms;

		if (!w->occupied[level])
			continue;
		busy = rotate_right(w->occupied[level], (unsigned)(block & SLOT_MASK));
		at_ms = (block + (uint64_t)__builtin_ctzll(busy)) << shift;
		if (at_ms < best_ms)
			best_ms = at_ms;
	}
	assert(best_ms == UINT64_MAX || best_ms >= clk_ms);
	return best_ms;
}

/* Process every slot whose time is at_ms, the earliest busy slot time:
 * higher levels first, since their timers may land in the level-0 slot of
 * at_ms. Moves at most moves_max timers; when that cuts it short, done_ms
 * stays before at_ms and the next call resumes here. Returns timers moved. */
static unsigned wheel_process(struct sl_timer_wheel *w, uint64_t at_ms, unsigned moves_max)
{
	unsigned moves = 0;

	assert(at_ms > w->done_ms);
	assert(moves_max > 0);
	/* Nothing is busy before at_ms, so the wheel may stand just before it;
	 * timers moved now are placed relative to at_ms. */
	w->done_ms = at_ms - 1;
	for (unsigned level = SL_TIMER_LEVELS; level-- > 0;) {
		unsigned shift = level_shift(level);
		unsigned slot = (unsigned)(at_ms >> shift) & SLOT_MASK;
		struct sl_timer **head = &w->slot[level][slot];

		if (at_ms & ((1ull << shift) - 1))
			continue;
		while (*head && moves < moves_max) {
			struct sl_timer *t = *head;

			assert(t->expires_ms >= at_ms);
			timer_unlink(w, t);
			moves++;
			if (level == 0) {
				due_append(w, t);
				continue;
			}
			wheel_insert(w, t);
			/* A slot never refills itself: a timer comes back to this
			 * level only beyond the range, in the slot before this one. */
			assert(t->level < level || (t->level == level && t->slot != slot));
		}
		if (*head)
			return moves;
	}
	w->done_ms = at_ms;
	return moves;
}

/* Take the first due timer off the due list and run it. */
static void fire_first(struct sl_timer_wheel *w)
{
	struct sl_timer *t = w->due;

	assert(t->level == LEVEL_DUE);
	assert(t->expires_ms <= w->now_ms);
	timer_unlink(w, t);
	w->count--;
	t->fn(t, t->arg);
}

void sl_timer_wheel_init(struct sl_timer_wheel *w, uint64_t now_ms)
{
	assert(w);
	assert(now_ms < CLOCK_MS_MAX);
	memset(w, 0, sizeof(*w));
	w->due_tail = &w->due;
	w->now_ms = now_ms;
	w->done_ms = now_ms;
}

void sl_timer_add(struct sl_timer_wheel *w, struct sl_timer *t, uint64_t expires_ms,
		  sl_timer_fn fn, void *arg)
{
	assert(w->due_tail);
	assert(fn);
	if (t->pprev)
		timer_unlink(w, t);
	else
		w->count++;
	assert(w->count > 0);
	t->expires_ms = expires_ms;
	t->fn = fn;
	t->arg = arg;
	wheel_insert(w, t);
}

void sl_timer_cancel(struct sl_timer_wheel *w, struct sl_timer *t)
{
	assert(w->due_tail);
	if (!t->pprev)
		return;
	assert(w->count > 0);
	timer_unlink(w, t);
	w->count--;
}

bool sl_timer_pending(const struct sl_timer *t)
{
	return t->pprev != NULL;
}

unsigned sl_timer_advance(struct sl_timer_wheel *w, uint64_t now_ms, unsigned budget)
{
	/* Each pass fires a timer, moves at least one, or is the last. */
	const uint64_t passes_max = (uint64_t)budget + SL_TIMER_MOVES_MAX + 1;
	unsigned fired = 0;
	unsigned moves = 0;

	assert(now_ms >= w->now_ms);
	assert(now_ms < CLOCK_MS_MAX);
	assert(budget > 0);
	w->now_ms = now_ms;
	for (uint64_t pass = 0;; pass++) {
		uint64_t at_ms;
		unsigned moved;

		assert(pass < passes_max);
		if (w->due) {
			fire_first(w);
			if (++fired == budget)
				break;
			continue;
		}
		if (moves == SL_TIMER_MOVES_MAX)
			break;
		at_ms = next_slot_ms(w);
		if (at_ms > now_ms) {
			/* No slot is busy up to now_ms: jump there. */
			w->done_ms = now_ms;
			break;
		}
		moved = wheel_process(w, at_ms, SL_TIMER_MOVES_MAX - moves);
		assert(moved > 0);
		moves += moved;
	}
	assert(w->done_ms <= w->now_ms);
	return fired;
}

int64_t sl_timer_next_ms(const struct sl_timer_wheel *w, uint64_t now_ms)
{
	uint64_t at_ms;

	assert(now_ms >= w->now_ms);
	assert(now_ms < CLOCK_MS_MAX);
	if (w->due)
		return 0;
	if (w->count == 0)
		return -1;
	at_ms = next_slot_ms(w);
	assert(at_ms != UINT64_MAX);
	return at_ms <= now_ms ? 0 : (int64_t)(at_ms - now_ms);
}

unsigned sl_timer_count(const struct sl_timer_wheel *w)
{
	return w->count;
}
