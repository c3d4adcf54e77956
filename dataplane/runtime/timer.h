/* timer.h - one hierarchical timer wheel per worker, in milliseconds.
 *
 * Everything that waits on a worker (visibility timeouts, message delays,
 * long polls, HTTP timeouts, retention checks) arms a struct sl_timer
 * embedded in its own object. The wheel has SL_TIMER_LEVELS levels of
 * SL_TIMER_SLOTS slots (dataplane/limits.h); level l holds the timers that
 * are 64^l to 64^(l+1) ms ahead, in the slot of the 64^l ms block they fall
 * in. When the clock reaches a block, its slot is cascaded: each timer moves
 * to a lower level, or, on level 0, where every slot is one exact
 * millisecond, onto the due list. A timer therefore cascades at most
 * SL_TIMER_LEVELS - 1 times (plus once per ~2^36 ms beyond the range)
 * before it fires, and never fires early.
 *
 * Add, re-arm and cancel are O(1): the lists are intrusive and nothing is
 * allocated. Finding the next busy slot is a rotate and a ctz per level on
 * an occupancy bitmap, so sl_timer_next_ms() and catching up after a long
 * stall never scan slots or step through idle milliseconds.
 *
 * A wheel belongs to one thread: nothing here is atomic. It must not be
 * copied or moved once initialised (timers point into it), and a timer is
 * pending on one wheel at a time: re-initialising a wheel forgets its
 * timers without touching them, so zero them before arming them again.
 */
#ifndef SL_TIMER_H
#define SL_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/limits.h"

struct sl_timer;

/* Runs from sl_timer_advance() on the wheel's thread. The timer is no longer
 * pending when this runs: the callback may re-arm it, free the object that
 * embeds it, or add and cancel any other timer of the same wheel. */
typedef void (*sl_timer_fn)(struct sl_timer *t, void *arg);

/* Embedded by the caller and zero-initialised; the wheel owns the fields
 * while the timer is pending. */
struct sl_timer {
	struct sl_timer *next;   /* next timer in the same list */
	struct sl_timer **pprev; /* what points at this timer; NULL: not pending */
	uint64_t expires_ms;     /* absolute, in the wheel's clock */
	sl_timer_fn fn;
	void *arg;
	uint8_t level; /* SL_TIMER_LEVELS: on the due list */
	uint8_t slot;
};

struct sl_timer_wheel {
	struct sl_timer *slot[SL_TIMER_LEVELS][SL_TIMER_SLOTS];
	uint64_t occupied[SL_TIMER_LEVELS]; /* bit s: slot s is not empty */
	/* Timers whose time has come, in the order they became due. */
	struct sl_timer *due;
	struct sl_timer **due_tail;
	uint64_t now_ms;  /* the latest clock reading passed in */
	uint64_t done_ms; /* every slot due at or before this has been emptied */
	uint32_t count;   /* pending timers, due list included */
};

/* Start an empty wheel at now_ms (monotonic milliseconds, below 2^62). */
void sl_timer_wheel_init(struct sl_timer_wheel *w, uint64_t now_ms);

/* Arm t to run fn(t, arg) at expires_ms, an absolute time in the wheel's
 * clock. A time already past fires on the next advance (or on the current
 * one, when called from a callback and budget remains). Re-arming a
 * pending timer moves it. O(1). */
void sl_timer_add(struct sl_timer_wheel *w, struct sl_timer *t, uint64_t expires_ms,
		  sl_timer_fn fn, void *arg);

/* Disarm t; a no-op when it is not pending. O(1). */
void sl_timer_cancel(struct sl_timer_wheel *w, struct sl_timer *t);

/* Whether t is armed and has not fired yet. */
bool sl_timer_pending(const struct sl_timer *t);

/* Fire every timer with expires_ms <= now_ms, at most budget (>= 1) of them,
 * and never one early. now_ms never goes backwards. Work per call is bounded
 * by budget callbacks plus SL_TIMER_MOVES_MAX timer moves, however long
 * since the last call. Returns the number fired. When it returns less than
 * budget and sl_timer_next_ms(now_ms) is not 0, nothing due is left; else
 * the rest fires on the next calls. */
unsigned sl_timer_advance(struct sl_timer_wheel *w, uint64_t now_ms, unsigned budget);

/* Milliseconds from now_ms until sl_timer_advance() next has work: 0 when
 * something is due already, -1 when no timer is pending. Never later than
 * the earliest expiry; earlier by less than one slot of the level whose
 * cascade is next (the loop wakes, cascades and sleeps again), or, for a
 * timer beyond SL_TIMER_RANGE_MS, by as much as its next re-cascade. */
int64_t sl_timer_next_ms(const struct sl_timer_wheel *w, uint64_t now_ms);

/* Pending timers. */
unsigned sl_timer_count(const struct sl_timer_wheel *w);

#endif
