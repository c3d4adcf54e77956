/* Tests for dataplane/services/sqs/part.c: the partition index against a
 * plain model under random operations (states, counts, the order ready
 * messages come out in, deadlines), and the cases a receive relies on. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/services/sqs/part.h"

Test(sqs_part, ready_messages_come_out_oldest_first_and_deadlines_promote)
{
	struct sqs_idx x;

	cr_assert_eq(sqs_idx_init(&x), 0);
	for (uint64_t n = 0; n < 5; n++)
		cr_assert_eq(sqs_idx_add(&x, n * 3, 1000, 0, SQS_PENDING, NULL), 0);
	cr_assert_null(sqs_idx_pop_ready(&x), "pending messages are not receivable");
	cr_assert_eq(sqs_idx_add(&x, 3, 1000, 0, SQS_PENDING, NULL), -EEXIST);
	/* Durable out of order: they become ready in that order. */
	uint64_t order[] = { 6, 0, 12, 3 };
	for (int i = 0; i < 4; i++)
		cr_assert_eq(sqs_idx_set(&x, sqs_idx_find(&x, order[i]), SQS_READY, 0), 0);
	cr_assert_eq(sqs_idx_set(&x, sqs_idx_find(&x, 9), SQS_DELAYED, 5000), 0);
	cr_assert_eq(x.n_state[SQS_READY], 4);
	cr_assert_eq(x.n_state[SQS_DELAYED], 1);
	struct sqs_m *m = sqs_idx_pop_ready(&x);
	cr_assert_eq(m->n - 1, 6);
	cr_assert_eq(sqs_idx_set(&x, m, SQS_INFLIGHT, 3000), 0);
	m = sqs_idx_pop_ready(&x);
	cr_assert_eq(m->n - 1, 0);
	cr_assert_eq(sqs_idx_set(&x, m, SQS_INFLIGHT, 4000), 0);
	cr_assert_eq(sqs_idx_next_ms(&x), 3000);
	sqs_idx_promote(&x, 2999);
	cr_assert_eq(x.n_state[SQS_INFLIGHT], 2, "nothing early");
	sqs_idx_promote(&x, 4000);
	cr_assert_eq(x.n_state[SQS_INFLIGHT], 0);
	cr_assert_eq(sqs_idx_next_ms(&x), 5000);
	/* 12 and 3 were ready before 6 and 0 came back. */
	uint64_t want[] = { 12, 3, 6, 0 };
	for (int i = 0; i < 4; i++) {
		m = sqs_idx_pop_ready(&x);
		cr_assert_not_null(m);
		cr_assert_eq(m->n - 1, want[i], "pop %d", i);
		cr_assert_eq(sqs_idx_set(&x, m, SQS_INFLIGHT, 100000), 0);
	}
	cr_assert_null(sqs_idx_pop_ready(&x));
	/* A visibility change moves the deadline; the old one is stale. */
	m = sqs_idx_find(&x, 12);
	cr_assert_eq(sqs_idx_set(&x, m, SQS_INFLIGHT, 6000), 0);
	sqs_idx_promote(&x, 6000);
	m = sqs_idx_pop_ready(&x);
	cr_assert_eq(m->n - 1, 9, "the delayed message came first (due at 5000)");
	sqs_idx_remove(&x, 9);
	m = sqs_idx_pop_ready(&x);
	cr_assert_eq(m->n - 1, 12);
	cr_assert_eq(sqs_idx_set(&x, m, SQS_INFLIGHT, 7000), 0);
	sqs_idx_remove(&x, 12);
	sqs_idx_promote(&x, 1000000);
	cr_assert_eq(x.n_state[SQS_READY], 3, "the removed one's stale deadline did nothing");
	cr_assert_eq(x.count, 3);
	sqs_idx_fini(&x);
}

/* The model: one entry per record number. */
struct model {
	bool live;
	bool used; /* record numbers are never reused, as in a log */
	uint8_t state;
	int64_t vis;
	uint64_t ready_seq; /* when it last became ready */
	uint64_t tie;       /* equal for messages whose order among them is free */
};

Test(sqs_part, random_operations_agree_with_a_plain_model)
{
	enum { N = 5000 };
	struct sqs_idx x;
	struct model *md = calloc(N, sizeof(*md));
	uint64_t seq = 0;
	int64_t now = 0;

	srand(2026);
	cr_assert_eq(sqs_idx_init(&x), 0);
	for (int step = 0; step < 40000; step++) {
		/* Sends take new numbers; the other operations pick any. */
		uint64_t n = (uint64_t)(rand() % N);
		int op = rand() % 6;
		if (op == 0 && !md[n].used) {
			cr_assert_eq(sqs_idx_add(&x, n, now, 0, SQS_PENDING, NULL), 0);
			md[n] = (struct model){ true, true, SQS_PENDING, 0, 0, 0 };
		} else if (op == 1 && md[n].live && md[n].state == SQS_PENDING) {
			bool delay = rand() % 3 == 0;
			int64_t vis = now + rand() % 50;
			cr_assert_eq(sqs_idx_set(&x, sqs_idx_find(&x, n), delay ? SQS_DELAYED : SQS_READY,
						 vis), 0);
			md[n].state = delay ? SQS_DELAYED : SQS_READY;
			md[n].vis = vis;
			md[n].ready_seq = delay ? 0 : ++seq;
			md[n].tie = seq << 20 | 1;
		} else if (op == 2 && md[n].live) {
			sqs_idx_remove(&x, n);
			md[n].live = false;
		} else if (op == 3) {
			static uint64_t promotions;
			promotions++;
			now += rand() % 20;
			sqs_idx_promote(&x, now);
			/* The model promotes in deadline order, then by number. */
			for (;;) {
				int64_t best = INT64_MAX;
				uint64_t bi = 0;
				for (uint64_t i = 0; i < N; i++) {
					if (md[i].live && (md[i].state == SQS_DELAYED ||
							   md[i].state == SQS_INFLIGHT) &&
					    md[i].vis <= now && md[i].vis < best) {
						best = md[i].vis;
						bi = i;
					}
				}
				if (best == INT64_MAX)
					break;
				md[bi].state = SQS_READY;
				md[bi].ready_seq = ++seq;
				/* Same call, same deadline: the heap may order them
				 * either way. */
				md[bi].tie = promotions << 40 | (uint64_t)best << 1;
			}
		} else if (op == 4) {
			struct sqs_m *m = sqs_idx_pop_ready(&x);
			uint64_t best = UINT64_MAX, bi = 0;
			for (uint64_t i = 0; i < N; i++) {
				if (md[i].live && md[i].state == SQS_READY && md[i].ready_seq < best) {
					best = md[i].ready_seq;
					bi = i;
				}
			}
			if (best == UINT64_MAX) {
				cr_assert_null(m, "step %d", step);
				continue;
			}
			cr_assert_not_null(m, "step %d", step);
			/* Same-millisecond promotions may come out in any order
			 * among themselves: compare states, not identities, then. */
			uint64_t got = m->n - 1;
			cr_assert(md[got].live && md[got].state == SQS_READY, "step %d", step);
			if (got != bi)
				cr_assert_eq(md[got].tie, md[bi].tie, "step %d: %lu before %lu", step,
					     (unsigned long)got, (unsigned long)bi);
			int64_t vis = now + 1 + rand() % 100;
			cr_assert_eq(sqs_idx_set(&x, m, SQS_INFLIGHT, vis), 0);
			md[got].state = SQS_INFLIGHT;
			md[got].vis = vis;
		} else if (op == 5 && md[n].live && md[n].state == SQS_INFLIGHT) {
			int64_t vis = now + rand() % 100;
			cr_assert_eq(sqs_idx_set(&x, sqs_idx_find(&x, n), SQS_INFLIGHT, vis), 0);
			md[n].vis = vis;
		}
		if (step % 1000 == 0) {
			uint64_t counts[SQS_INFLIGHT + 1] = { 0 }, live = 0;
			for (uint64_t i = 0; i < N; i++) {
				struct sqs_m *m = sqs_idx_find(&x, i);
				cr_assert_eq(m != NULL, md[i].live, "step %d n %lu", step,
					     (unsigned long)i);
				if (!m)
					continue;
				cr_assert_eq(m->state, md[i].state, "step %d n %lu", step,
					     (unsigned long)i);
				counts[m->state]++;
				live++;
			}
			cr_assert_eq(x.count, live);
			for (int s = SQS_PENDING; s <= SQS_INFLIGHT; s++)
				cr_assert_eq(x.n_state[s], counts[s], "state %d", s);
		}
	}
	sqs_idx_fini(&x);
	free(md);
}

Test(sqs_part, repeated_deadline_changes_do_not_grow_the_heap)
{
	struct sqs_idx x;

	cr_assert_eq(sqs_idx_init(&x), 0);
	for (uint64_t n = 0; n < 3; n++) {
		cr_assert_eq(sqs_idx_add(&x, n, 0, 0, SQS_READY, NULL), 0);
		cr_assert_eq(sqs_idx_set(&x, sqs_idx_pop_ready(&x), SQS_INFLIGHT, 1000), 0);
	}
	/* One client moving one message's visibility a million times. */
	for (int64_t i = 0; i < 1000000; i++)
		cr_assert_eq(sqs_idx_set(&x, sqs_idx_find(&x, 1), SQS_INFLIGHT, 2000 + i), 0);
	cr_assert_lt(x.heap_len, 2 * 3 + 64 + 1, "%lu heap entries for 3 messages",
		     (unsigned long)x.heap_len);
	/* Order survives the rebuilds. */
	cr_assert_eq(sqs_idx_next_ms(&x), 1000);
	sqs_idx_promote(&x, 1000);
	cr_assert_eq(x.n_state[SQS_READY], 2);
	cr_assert_eq(sqs_idx_next_ms(&x), 2000 + 999999);
	sqs_idx_fini(&x);
}
