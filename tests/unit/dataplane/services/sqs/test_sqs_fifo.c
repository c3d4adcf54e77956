/* Tests for FIFO scheduling in dataplane/services/sqs/part.c (message
 * groups) and for the deduplication window (dedup.c): against a plain
 * model under random operations, and the cases AWS documents. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/limits.h"
#include "dataplane/services/sqs/dedup.h"
#include "dataplane/services/sqs/part.h"

static void key_of(unsigned g, uint8_t key[16])
{
	memset(key, 0, 16);
	memcpy(key, &g, sizeof(g));
	key[15] = 0x5a;
}

/* Take what one receive of up to max messages would: groups in turn, each
 * from its oldest on, set in flight until deadline. Returns how many. */
static uint32_t receive(struct sqs_idx *x, uint32_t max, int64_t deadline, uint64_t *out)
{
	uint32_t k = 0;

	while (k < max) {
		uint32_t g = sqs_idx_pop_group(x);
		if (!g)
			break;
		uint64_t ns[SL_SQS_RECV_MAX];
		uint32_t got = sqs_idx_group_ready(x, g, ns, max - k);
		cr_assert_gt(got, 0, "a popped group has a ready message");
		for (uint32_t i = 0; i < got; i++) {
			cr_assert_eq(sqs_idx_set(x, sqs_idx_find(x, ns[i]), SQS_INFLIGHT, deadline), 0);
			out[k++] = ns[i];
		}
	}
	return k;
}

Test(sqs_fifo, a_group_is_blocked_while_one_of_its_messages_is_in_flight)
{
	struct sqs_idx x;
	uint8_t a[16], b[16];
	uint64_t got[10];

	key_of(1, a);
	key_of(2, b);
	cr_assert_eq(sqs_idx_init(&x), 0);
	/* a: 0 1 2, b: 3 4 */
	for (uint64_t n = 0; n < 5; n++)
		cr_assert_eq(sqs_idx_add(&x, n, 0, 0, SQS_READY, n < 3 ? a : b), 0);
	cr_assert(sqs_idx_any_ready(&x));
	cr_assert_eq(receive(&x, 2, 1000, got), 2);
	cr_assert_eq(got[0], 0);
	cr_assert_eq(got[1], 1, "the oldest two of the first group, in order");
	/* Group a is blocked: the next receive gets group b only. */
	cr_assert_eq(receive(&x, 10, 5000, got), 2);
	cr_assert_eq(got[0], 3);
	cr_assert_eq(got[1], 4);
	cr_assert_not(sqs_idx_any_ready(&x), "message 2 waits behind 0 and 1 in flight");
	cr_assert_eq(receive(&x, 10, 1000, got), 0);
	/* Deleting 1 is not enough while 0 is in flight. */
	sqs_idx_remove(&x, 1);
	cr_assert_not(sqs_idx_any_ready(&x));
	/* 0's visibility ends: it comes back first, before 2. */
	sqs_idx_promote(&x, 1000);
	cr_assert(sqs_idx_any_ready(&x));
	cr_assert_eq(receive(&x, 10, 2000, got), 2, "0 and 2; group b is still in flight");
	cr_assert_eq(got[0], 0);
	cr_assert_eq(got[1], 2);
	/* Another visibility change ends 0's timeout first: 0 is visible, but
	 * 2 is still in flight, so the group stays blocked. */
	cr_assert_eq(sqs_idx_set(&x, sqs_idx_find(&x, 0), SQS_INFLIGHT, 2500), 0);
	cr_assert_eq(sqs_idx_set(&x, sqs_idx_find(&x, 2), SQS_INFLIGHT, 9000), 0);
	sqs_idx_promote(&x, 2500);
	cr_assert_eq(sqs_idx_find(&x, 0)->state, SQS_READY);
	cr_assert_not(sqs_idx_any_ready(&x), "2 of the same group is in flight");
	cr_assert_eq(receive(&x, 10, 3000, got), 0);
	cr_assert_eq(x.ngroups, 2);
	sqs_idx_remove(&x, 0);
	sqs_idx_remove(&x, 2);
	sqs_idx_remove(&x, 3);
	sqs_idx_remove(&x, 4);
	cr_assert_eq(x.ngroups, 0, "a group goes with its last message");
	cr_assert_not(sqs_idx_any_ready(&x));
	sqs_idx_fini(&x);
}

Test(sqs_fifo, a_delayed_or_pending_head_holds_back_its_group)
{
	struct sqs_idx x;
	uint8_t a[16];
	uint64_t got[10];

	key_of(7, a);
	cr_assert_eq(sqs_idx_init(&x), 0);
	cr_assert_eq(sqs_idx_add(&x, 10, 0, 0, SQS_PENDING, a), 0);
	cr_assert_eq(sqs_idx_add(&x, 11, 0, 0, SQS_PENDING, a), 0);
	/* 11 durable first: still behind 10. */
	cr_assert_eq(sqs_idx_set(&x, sqs_idx_find(&x, 11), SQS_READY, 0), 0);
	cr_assert_not(sqs_idx_any_ready(&x));
	cr_assert_eq(sqs_idx_set(&x, sqs_idx_find(&x, 10), SQS_DELAYED, 500), 0);
	cr_assert_not(sqs_idx_any_ready(&x));
	sqs_idx_promote(&x, 500);
	cr_assert_eq(receive(&x, 10, 900, got), 2);
	cr_assert_eq(got[0], 10);
	cr_assert_eq(got[1], 11);
	sqs_idx_fini(&x);
}

/* The model: per message its group, state and deadline. */
struct mm {
	bool live;
	unsigned group;
	enum sqs_state st;
	int64_t until;
};

#define MODEL_N 4000
#define MODEL_GROUPS 7

static bool model_receivable(const struct mm *mm, uint64_t nn, unsigned g, uint64_t *head)
{
	bool first = true;

	for (uint64_t n = 0; n < nn; n++) {
		if (!mm[n].live || mm[n].group != g)
			continue;
		if (mm[n].st == SQS_INFLIGHT)
			return false;
		if (first) {
			*head = n;
			first = false;
		}
	}
	return !first && mm[*head].st == SQS_READY;
}

Test(sqs_fifo, random_operations_keep_every_group_in_order)
{
	struct sqs_idx x;
	static struct mm mm[MODEL_N];
	uint64_t nn = 0, got[10];
	int64_t now = 0;
	uint64_t seed = 42;

	memset(mm, 0, sizeof(mm));
	cr_assert_eq(sqs_idx_init(&x), 0);
	for (int step = 0; step < 60000 && nn < MODEL_N; step++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		unsigned r = (unsigned)(seed >> 33);
		switch (r % 7) {
		case 0: { /* send, durable at once */
			uint8_t key[16];
			unsigned g = 1 + (r >> 8) % MODEL_GROUPS;
			key_of(g, key);
			cr_assert_eq(sqs_idx_add(&x, nn, now, 0, SQS_READY, key), 0);
			mm[nn] = (struct mm){ true, g, SQS_READY, 0 };
			nn++;
			break;
		}
		case 1: case 2: { /* receive */
			uint32_t max = 1 + (r >> 8) % 10;
			uint32_t k = receive(&x, max, now + 1 + (r >> 12) % 50, got);
			/* Each group's messages came out oldest first, only
			 * from groups that were receivable. */
			for (uint32_t i = 0; i < k; i++) {
				unsigned g = mm[got[i]].group;
				uint64_t head = 0;
				cr_assert(mm[got[i]].live && mm[got[i]].st == SQS_READY);
				bool first_of_group = true;
				for (uint32_t j = 0; j < i; j++)
					first_of_group &= mm[got[j]].group != g;
				if (first_of_group) {
					cr_assert(model_receivable(mm, nn, g, &head),
						  "group %u was not receivable", g);
					cr_assert_eq(got[i], head, "group %u out of order", g);
				} else {
					cr_assert_gt(got[i], got[i - 1]);
				}
			}
			for (uint32_t i = 0; i < k; i++) {
				mm[got[i]].st = SQS_INFLIGHT;
				mm[got[i]].until = sqs_idx_find(&x, got[i])->visible_ms;
			}
			if (k < max) {
				/* Nothing else was receivable. */
				for (unsigned g = 1; g <= MODEL_GROUPS; g++) {
					uint64_t head = 0;
					cr_assert_not(model_receivable(mm, nn, g, &head),
						      "group %u was left out", g);
				}
			}
			break;
		}
		case 3: { /* delete an in-flight message */
			for (uint64_t n = 0; n < nn; n++) {
				if (mm[n].live && mm[n].st == SQS_INFLIGHT && (r >> 8) % 3 == 0) {
					sqs_idx_remove(&x, n);
					mm[n].live = false;
					break;
				}
			}
			break;
		}
		case 4: /* time passes */
			now += (r >> 8) % 20;
			sqs_idx_promote(&x, now);
			for (uint64_t n = 0; n < nn; n++) {
				if (mm[n].live && mm[n].st == SQS_INFLIGHT && mm[n].until <= now)
					mm[n].st = SQS_READY;
			}
			break;
		case 6: { /* ChangeMessageVisibility of one in-flight message */
			for (uint64_t n = 0; n < nn; n++) {
				if (mm[n].live && mm[n].st == SQS_INFLIGHT && (r >> 8) % 2 == 0) {
					int64_t t = now + (int64_t)((r >> 10) % 40);
					cr_assert_eq(sqs_idx_set(&x, sqs_idx_find(&x, n), SQS_INFLIGHT, t), 0);
					mm[n].until = t;
					break;
				}
			}
			break;
		}
		case 5: { /* a ready message expires (not necessarily a head) */
			uint64_t n = nn ? (r >> 8) % nn : 0;
			if (nn && mm[n].live && mm[n].st == SQS_READY && (r >> 20) % 4 == 0) {
				sqs_idx_remove(&x, n);
				mm[n].live = false;
			}
			break;
		}
		}
		bool any = false;
		for (unsigned g = 1; g <= MODEL_GROUPS; g++) {
			uint64_t head = 0;
			any |= model_receivable(mm, nn, g, &head);
		}
		cr_assert_eq(sqs_idx_any_ready(&x), any, "step %d", step);
	}
	sqs_idx_fini(&x);
}

Test(sqs_fifo, many_groups_come_and_go_without_growing)
{
	struct sqs_idx x;
	uint64_t got[10];

	cr_assert_eq(sqs_idx_init(&x), 0);
	for (uint64_t n = 0; n < 200000; n++) {
		uint8_t key[16];
		key_of((unsigned)n, key); /* a new group per message */
		cr_assert_eq(sqs_idx_add(&x, n, 0, 0, SQS_READY, key), 0);
		if (n % 2)
			continue;
		/* Half are removed unreceived, leaving ring entries behind. */
		sqs_idx_remove(&x, n);
	}
	cr_assert_eq(x.ngroups, 100000);
	cr_assert_leq(x.gring_len, 2 * x.ngroups + 64, "the ring of groups stays bounded");
	uint64_t seen = 0;
	for (uint32_t k; (k = receive(&x, 10, 1, got)) > 0; seen += k) {
		for (uint32_t i = 0; i < k; i++)
			sqs_idx_remove(&x, got[i]);
	}
	cr_assert_eq(seen, 100000, "every group was received once");
	cr_assert_eq(x.ngroups, 0);
	sqs_idx_fini(&x);
}

/* ---- The deduplication window ------------------------------------------------ */

static void dkey(unsigned v, uint8_t key[16])
{
	memset(key, 0xab, 16);
	memcpy(key, &v, sizeof(v));
}

static uint64_t gone_seen[64];
static unsigned gone_count;

static void on_gone(void *arg, uint64_t n)
{
	(void)arg;
	if (gone_count < 64)
		gone_seen[gone_count] = n;
	gone_count++;
}

Test(sqs_dedup, a_key_is_a_duplicate_until_its_window_ends)
{
	struct sqs_dedup d;
	uint8_t k1[16], k2[16], id[16] = { 1, 2, 3 };

	dkey(1, k1);
	dkey(2, k2);
	sqs_dedup_init(&d);
	cr_assert_null(sqs_dedup_find(&d, k1, 0));
	cr_assert_eq(sqs_dedup_add(&d, k1, id, 5, 300000), 0);
	cr_assert_eq(sqs_dedup_add(&d, k2, id, 9, 300010), 0);
	struct sqs_dedup_e *e = sqs_dedup_find(&d, k1, 299999);
	cr_assert_not_null(e);
	cr_assert_eq(e->n, 5);
	cr_assert_eq(memcmp(e->msg_id, id, 16), 0);
	cr_assert_null(sqs_dedup_find(&d, k1, 300000), "the window is 5 minutes, not more");
	cr_assert_not_null(sqs_dedup_find(&d, k2, 300000));
	cr_assert_eq(sqs_dedup_by_n(&d, 9)->until_ms, 300010);
	cr_assert_null(sqs_dedup_by_n(&d, 7));
	/* Deleted messages: their records die when the window ends. */
	sqs_dedup_by_n(&d, 9)->gone = true;
	gone_count = 0;
	cr_assert_eq(sqs_dedup_expire(&d, 300005, 100, on_gone, NULL), 1);
	cr_assert_eq(gone_count, 0, "5 was not deleted: nothing to kill");
	cr_assert_eq(sqs_dedup_expire(&d, 300010, 100, on_gone, NULL), 1);
	cr_assert_eq(gone_count, 1);
	cr_assert_eq(gone_seen[0], 9);
	cr_assert_eq(sqs_dedup_count(&d), 0);
	/* The same key again after its window: a new send. */
	cr_assert_eq(sqs_dedup_add(&d, k1, id, 20, 700000), 0);
	cr_assert_eq(sqs_dedup_find(&d, k1, 400000)->n, 20);
	sqs_dedup_fini(&d);
}

Test(sqs_dedup, random_keys_match_a_model_through_growth_and_expiry)
{
	struct sqs_dedup d;
	enum { N = 100000, KEYS = 3000 };
	static int64_t until[KEYS];
	static uint64_t last_n[KEYS];
	uint8_t key[16], id[16] = { 0 };
	int64_t now = 0;
	uint64_t seed = 7;

	sqs_dedup_init(&d);
	for (unsigned k = 0; k < KEYS; k++)
		until[k] = INT64_MIN;
	for (uint64_t n = 1; n <= N; n++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		unsigned k = (unsigned)(seed >> 33) % KEYS;
		now += (int64_t)(seed >> 60);
		sqs_dedup_expire(&d, now, 4, NULL, NULL);
		dkey(k, key);
		struct sqs_dedup_e *e = sqs_dedup_find(&d, key, now);
		if (until[k] > now) {
			cr_assert_not_null(e, "key %u within its window at %lld", k, (long long)now);
			cr_assert_eq(e->n, last_n[k]);
			continue;
		}
		cr_assert_null(e, "key %u past its window", k);
		cr_assert_eq(sqs_dedup_add(&d, key, id, n, now + 5000), 0);
		until[k] = now + 5000;
		last_n[k] = n;
		cr_assert_eq(sqs_dedup_by_n(&d, n)->n, n);
	}
	sqs_dedup_expire(&d, INT64_MAX, UINT64_MAX, NULL, NULL);
	cr_assert_eq(sqs_dedup_count(&d), 0);
	sqs_dedup_fini(&d);
}
