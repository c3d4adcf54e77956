/* part.c - an SQS partition's message index (see part.h). */
#include "dataplane/services/sqs/part.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IDX_INIT 64

int sqs_idx_init(struct sqs_idx *x)
{
	memset(x, 0, sizeof(*x));
	x->tab = calloc(IDX_INIT, sizeof(*x->tab));
	x->cap = x->tab ? IDX_INIT : 0;
	return x->tab ? 0 : -ENOMEM;
}

void sqs_idx_fini(struct sqs_idx *x)
{
	free(x->tab);
	free(x->ring);
	free(x->heap);
	memset(x, 0, sizeof(*x));
}

static uint64_t slot_of(const struct sqs_idx *x, uint64_t n)
{
	return (n * 0x9e3779b97f4a7c15ull) >> 7 & (x->cap - 1);
}

struct sqs_m *sqs_idx_find(const struct sqs_idx *x, uint64_t n)
{
	/* Bounded: the table is never full (load at most 1/2). */
	for (uint64_t i = slot_of(x, n);; i = (i + 1) & (x->cap - 1)) {
		struct sqs_m *m = &x->tab[i];
		if (m->n == 0)
			return NULL;
		if (m->n == n + 1)
			return m;
	}
}

static void put_slot(struct sqs_idx *x, const struct sqs_m *m)
{
	uint64_t i = slot_of(x, m->n - 1);

	while (x->tab[i].n != 0)
		i = (i + 1) & (x->cap - 1);
	x->tab[i] = *m;
}

static int grow_tab(struct sqs_idx *x)
{
	struct sqs_m *old = x->tab;
	uint64_t old_cap = x->cap;

	x->tab = calloc(old_cap * 2, sizeof(*x->tab));
	if (!x->tab) {
		x->tab = old;
		return -ENOMEM;
	}
	x->cap = old_cap * 2;
	for (uint64_t i = 0; i < old_cap; i++) {
		if (old[i].n)
			put_slot(x, &old[i]);
	}
	free(old);
	return 0;
}

static int ring_push(struct sqs_idx *x, uint64_t n)
{
	if (x->ring_len == x->ring_cap) {
		uint64_t cap = x->ring_cap ? x->ring_cap * 2 : IDX_INIT;
		uint64_t *r = malloc(cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		for (uint64_t i = 0; i < x->ring_len; i++)
			r[i] = x->ring[(x->ring_head + i) % x->ring_cap];
		free(x->ring);
		x->ring = r;
		x->ring_cap = cap;
		x->ring_head = 0;
	}
	x->ring[(x->ring_head + x->ring_len) % x->ring_cap] = n;
	x->ring_len++;
	return 0;
}

static int heap_push(struct sqs_idx *x, int64_t ms, uint64_t n)
{
	if (x->heap_len == x->heap_cap) {
		uint64_t cap = x->heap_cap ? x->heap_cap * 2 : IDX_INIT;
		struct sqs_due *h = realloc(x->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		x->heap = h;
		x->heap_cap = cap;
	}
	uint64_t i = x->heap_len++;
	/* Sift up: O(log n). */
	while (i > 0 && x->heap[(i - 1) / 2].ms > ms) {
		x->heap[i] = x->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	x->heap[i] = (struct sqs_due){ ms, n };
	return 0;
}

static void heap_pop(struct sqs_idx *x)
{
	assert(x->heap_len > 0);
	struct sqs_due last = x->heap[--x->heap_len];
	uint64_t i = 0;

	/* Sift down: O(log n). */
	for (;;) {
		uint64_t c = 2 * i + 1;
		if (c >= x->heap_len)
			break;
		if (c + 1 < x->heap_len && x->heap[c + 1].ms < x->heap[c].ms)
			c++;
		if (x->heap[c].ms >= last.ms)
			break;
		x->heap[i] = x->heap[c];
		i = c;
	}
	if (x->heap_len > 0)
		x->heap[i] = last;
}

/* Stale heap entries (a deadline moved again, a message deleted in flight)
 * are dropped only when they reach the top, which may be hours away: a
 * client that changes one message's visibility over and over would grow
 * the heap without bound. Once stale entries outnumber the live ones, the
 * heap is rebuilt from the live deadlines alone: O(n), at most once per n
 * pushes, so amortised O(1). */
static void heap_compact(struct sqs_idx *x)
{
	uint64_t live = x->n_state[SQS_DELAYED] + x->n_state[SQS_INFLIGHT];
	uint64_t k = 0;

	if (x->heap_len < 2 * live + IDX_INIT)
		return;
	for (uint64_t i = 0; i < x->heap_len; i++) {
		struct sqs_due d = x->heap[i];
		struct sqs_m *m = sqs_idx_find(x, d.n);
		if (m && (m->state == SQS_DELAYED || m->state == SQS_INFLIGHT) &&
		    m->visible_ms == d.ms)
			x->heap[k++] = d;
	}
	x->heap_len = k;
	/* Floyd's heap construction over what is left. */
	for (uint64_t i = k / 2; i-- > 0;) {
		struct sqs_due v = x->heap[i];
		uint64_t j = i;
		for (;;) {
			uint64_t c = 2 * j + 1;
			if (c >= k)
				break;
			if (c + 1 < k && x->heap[c + 1].ms < x->heap[c].ms)
				c++;
			if (x->heap[c].ms >= v.ms)
				break;
			x->heap[j] = x->heap[c];
			j = c;
		}
		x->heap[j] = v;
	}
}

int sqs_idx_add(struct sqs_idx *x, uint64_t n, int64_t sent_ms, int64_t visible_ms,
		enum sqs_state state)
{
	assert(state == SQS_PENDING || state == SQS_READY || state == SQS_DELAYED);
	if (sqs_idx_find(x, n))
		return -EEXIST;
	if ((x->count + 1) * 2 > x->cap && grow_tab(x) < 0)
		return -ENOMEM;
	struct sqs_m m = { .n = n + 1, .sent_ms = sent_ms, .visible_ms = visible_ms,
			   .state = SQS_PENDING };
	put_slot(x, &m);
	x->count++;
	x->n_state[SQS_PENDING]++;
	if (state == SQS_PENDING)
		return 0;
	struct sqs_m *p = sqs_idx_find(x, n);
	int rc = sqs_idx_set(x, p, state, visible_ms);
	if (rc < 0)
		sqs_idx_remove(x, n);
	return rc;
}

int sqs_idx_set(struct sqs_idx *x, struct sqs_m *m, enum sqs_state state, int64_t visible_ms)
{
	uint64_t n = m->n - 1;
	int rc = 0;

	assert(m->n != 0 && state >= SQS_PENDING && state <= SQS_INFLIGHT);
	if (state == SQS_READY)
		rc = ring_push(x, n);
	else if (state != SQS_PENDING)
		rc = heap_push(x, visible_ms, n);
	if (rc < 0)
		return rc;
	assert(x->n_state[m->state] > 0);
	x->n_state[m->state]--;
	x->n_state[state]++;
	m->state = (uint8_t)state;
	m->visible_ms = state == SQS_READY ? 0 : visible_ms;
	if (state == SQS_DELAYED || state == SQS_INFLIGHT)
		heap_compact(x); /* m's own entry is live by now */
	return 0;
}

void sqs_idx_remove(struct sqs_idx *x, uint64_t n)
{
	struct sqs_m *m = sqs_idx_find(x, n);

	if (!m)
		return;
	assert(x->n_state[m->state] > 0);
	x->n_state[m->state]--;
	x->count--;
	/* Backward-shift deletion: move later entries of the probe run into
	 * the hole, so lookups never need tombstones. Bounded by the run. */
	uint64_t hole = (uint64_t)(m - x->tab);
	for (uint64_t i = (hole + 1) & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
		if (x->tab[i].n == 0)
			break;
		uint64_t home = slot_of(x, x->tab[i].n - 1);
		/* Entry i may fill the hole when its home is not within
		 * (hole, i] on the circle. */
		bool between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
		if (!between) {
			x->tab[hole] = x->tab[i];
			hole = i;
		}
	}
	x->tab[hole] = (struct sqs_m){ 0 };
}

void sqs_idx_promote(struct sqs_idx *x, int64_t now_ms)
{
	/* Each round pops one heap entry. */
	while (x->heap_len > 0 && x->heap[0].ms <= now_ms) {
		struct sqs_due d = x->heap[0];
		struct sqs_m *m = sqs_idx_find(x, d.n);
		if (m && (m->state == SQS_DELAYED || m->state == SQS_INFLIGHT) &&
		    m->visible_ms == d.ms) {
			if (sqs_idx_set(x, m, SQS_READY, 0) < 0)
				return; /* out of memory: it stays due, the next call retries */
		}
		heap_pop(x);
	}
}

struct sqs_m *sqs_idx_pop_ready(struct sqs_idx *x)
{
	/* Each round consumes one ring entry; stale ones are dropped. */
	while (x->ring_len > 0) {
		uint64_t n = x->ring[x->ring_head];
		x->ring_head = (x->ring_head + 1) % x->ring_cap;
		x->ring_len--;
		struct sqs_m *m = sqs_idx_find(x, n);
		if (m && m->state == SQS_READY)
			return m;
	}
	return NULL;
}

int64_t sqs_idx_next_ms(struct sqs_idx *x)
{
	/* Drop stale tops so the answer is a live deadline. */
	while (x->heap_len > 0) {
		struct sqs_due d = x->heap[0];
		struct sqs_m *m = sqs_idx_find(x, d.n);
		if (m && (m->state == SQS_DELAYED || m->state == SQS_INFLIGHT) &&
		    m->visible_ms == d.ms)
			return d.ms;
		heap_pop(x);
	}
	return -1;
}
