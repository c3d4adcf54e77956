/* Tests for dataplane/net/ingest_window.c: what a UDP producer sees of
 * the idempotence window (docs/ingest-protocol.md): a retransmission is
 * stored once and answered with the first answer, the window's edge,
 * numbers out of order, and the bounds past which producers are forgotten. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "dataplane/limits.h"
#include "dataplane/net/ingest_window.h"

static int check(struct sl_iwin *w, uint64_t p, uint64_t seq, const char **ack)
{
	const uint8_t *a;
	size_t len;
	int v = sl_iwin_check(w, p, seq, &a, &len);

	if (ack)
		*ack = v == SL_IWIN_DONE ? (const char *)a : NULL;
	if (v == SL_IWIN_DONE)
		cr_assert_eq(len, strlen((const char *)a) + 1);
	return v;
}

static void done(struct sl_iwin *w, uint64_t p, uint64_t seq)
{
	char ack[32];

	snprintf(ack, sizeof(ack), "ack %llu/%llu", (unsigned long long)p, (unsigned long long)seq);
	sl_iwin_done(w, p, seq, (const uint8_t *)ack, strlen(ack) + 1);
}

Test(ingest_window, a_retransmission_is_not_stored_again_and_gets_the_first_answer)
{
	struct sl_iwin *w = sl_iwin_new(16, 1 << 20);
	const char *ack;

	cr_assert_eq(check(w, 7, 1, NULL), SL_IWIN_NEW);
	cr_assert_eq(check(w, 7, 1, NULL), SL_IWIN_IN_FLIGHT, "still being stored");
	done(w, 7, 1);
	cr_assert_eq(check(w, 7, 1, &ack), SL_IWIN_DONE);
	cr_assert_str_eq(ack, "ack 7/1");
	/* Another producer's number 1 is its own. */
	cr_assert_eq(check(w, 8, 1, NULL), SL_IWIN_NEW);
	/* A datagram that failed to store may be tried again. */
	cr_assert_eq(check(w, 7, 2, NULL), SL_IWIN_NEW);
	sl_iwin_forget(w, 7, 2);
	cr_assert_eq(check(w, 7, 2, NULL), SL_IWIN_NEW);
	sl_iwin_free(w);
}

Test(ingest_window, the_window_holds_the_newest_numbers_and_older_ones_are_stale)
{
	struct sl_iwin *w = sl_iwin_new(16, 64 << 20);
	const char *ack;

	for (uint64_t s = 1; s <= 3000; s++) {
		cr_assert_eq(check(w, 1, s, NULL), SL_IWIN_NEW);
		done(w, 1, s);
	}
	/* 3000 is the newest: 1977..3000 are the window. */
	cr_assert_eq(check(w, 1, 3000 - SL_INGEST_WINDOW, NULL), SL_IWIN_STALE);
	cr_assert_eq(check(w, 1, 1, NULL), SL_IWIN_STALE);
	cr_assert_eq(check(w, 1, 3001 - SL_INGEST_WINDOW, &ack), SL_IWIN_DONE);
	cr_assert_str_eq(ack, "ack 1/1977");
	cr_assert_eq(check(w, 1, 2500, &ack), SL_IWIN_DONE);
	cr_assert_str_eq(ack, "ack 1/2500");
	/* A number past a gap is new; the gap's numbers are new too, once. */
	cr_assert_eq(check(w, 1, 3010, NULL), SL_IWIN_NEW);
	cr_assert_eq(check(w, 1, 3005, NULL), SL_IWIN_NEW);
	cr_assert_eq(check(w, 1, 3005, NULL), SL_IWIN_IN_FLIGHT);
	/* A done that comes after its number left the window keeps nothing. */
	cr_assert_eq(check(w, 1, 5000, NULL), SL_IWIN_NEW);
	done(w, 1, 3005);
	cr_assert_eq(check(w, 1, 3005, NULL), SL_IWIN_STALE);
	sl_iwin_free(w);
}

Test(ingest_window, numbers_out_of_order_grow_a_small_ring_without_losing_any)
{
	struct sl_iwin *w = sl_iwin_new(16, 64 << 20);
	const char *ack;
	struct sl_iwin_stats st;

	sl_iwin_stats(w, &st);
	cr_assert_eq(st.bytes, 0);
	/* One in flight at a time: a small ring. */
	for (uint64_t s = 1; s <= 100; s++) {
		cr_assert_eq(check(w, 2, s, NULL), SL_IWIN_NEW);
		done(w, 2, s);
	}
	sl_iwin_stats(w, &st);
	size_t small = st.bytes;
	/* A window's worth, descending and interleaved: every one is kept. */
	for (uint64_t s = 1100; s > 100; s -= 2)
		cr_assert_eq(check(w, 2, s, NULL), SL_IWIN_NEW, "%llu", (unsigned long long)s);
	for (uint64_t s = 101; s < 1100; s += 2)
		cr_assert_eq(check(w, 2, s, NULL), SL_IWIN_NEW, "%llu", (unsigned long long)s);
	for (uint64_t s = 101; s <= 1100; s++)
		done(w, 2, s);
	for (uint64_t s = 101; s <= 1100; s++) {
		cr_assert_eq(check(w, 2, s, &ack), SL_IWIN_DONE, "%llu", (unsigned long long)s);
		char want[32];
		snprintf(want, sizeof(want), "ack 2/%llu", (unsigned long long)s);
		cr_assert_str_eq(ack, want);
	}
	sl_iwin_stats(w, &st);
	cr_assert_gt(st.bytes, small, "the ring grew with the span");
	sl_iwin_free(w);
}

Test(ingest_window, past_the_producer_cap_the_least_recent_is_forgotten)
{
	struct sl_iwin *w = sl_iwin_new(4, 64 << 20);
	const char *ack;
	struct sl_iwin_stats st;

	for (uint64_t p = 1; p <= 4; p++) {
		cr_assert_eq(check(w, p, 1, NULL), SL_IWIN_NEW);
		done(w, p, 1);
	}
	/* Producer 1 is heard from again: 2 is now the least recent. */
	cr_assert_eq(check(w, 1, 1, &ack), SL_IWIN_DONE);
	cr_assert_eq(check(w, 5, 1, NULL), SL_IWIN_NEW);
	sl_iwin_stats(w, &st);
	cr_assert_eq(st.producers, 4);
	cr_assert_eq(st.evicted, 1);
	cr_assert_eq(check(w, 2, 1, NULL), SL_IWIN_NEW, "forgotten: its retransmission is new");
	cr_assert_eq(check(w, 1, 1, &ack), SL_IWIN_DONE);
	cr_assert_str_eq(ack, "ack 1/1");
	sl_iwin_free(w);
}

Test(ingest_window, past_the_byte_cap_producers_are_forgotten_too)
{
	static uint8_t big[8192];
	struct sl_iwin *w = sl_iwin_new(1000, 64 * 1024);
	struct sl_iwin_stats st;

	memset(big, 'a', sizeof(big) - 1);
	for (uint64_t p = 1; p <= 40; p++) {
		cr_assert_eq(check(w, p, 1, NULL), SL_IWIN_NEW);
		sl_iwin_done(w, p, 1, big, sizeof(big));
		sl_iwin_stats(w, &st);
		/* Within the cap, but for the one being answered. */
		cr_assert_leq(st.bytes, 64 * 1024 + sizeof(big) + 4096);
	}
	sl_iwin_stats(w, &st);
	cr_assert_lt(st.producers, 40);
	cr_assert_gt(st.evicted, 0);
	cr_assert_eq(check(w, 40, 1, NULL), SL_IWIN_DONE, "the most recent stays");
	cr_assert_eq(check(w, 1, 1, NULL), SL_IWIN_NEW, "the oldest went");
	sl_iwin_free(w);
}
