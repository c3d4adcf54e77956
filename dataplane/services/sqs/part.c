/* part.c - an SQS partition's message index (see part.h). */
#include "dataplane/services/sqs/part.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IDX_INIT 64

_Static_assert(sizeof(struct sqs_m) == 40, "an index entry stays 40 bytes");

int sqs_idx_init(struct sqs_idx *x)
{
	memset(x, 0, sizeof(*x));
	x->tab = calloc(IDX_INIT, sizeof(*x->tab));
	x->cap = x->tab ? IDX_INIT : 0;
	return x->tab ? 0 : -ENOMEM;
}

void sqs_idx_fini(struct sqs_idx *x)
{
	for (uint32_t g = 1; g < x->groups_cap; g++)
		free(x->groups[g].ring);
	free(x->groups);
	free(x->gtab);
	free(x->gring);
	free(x->tab);
	free(x->ring);
	free(x->heap);
	memset(x, 0, sizeof(*x));
}

int64_t sqs_m_first_recv(const struct sqs_m *m)
{
	return m->first_recv_d ? m->sent_ms + (int64_t)m->first_recv_d - 1 : 0;
}

void sqs_m_set_first_recv(struct sqs_m *m, int64_t ms)
{
	int64_t d = ms - m->sent_ms;

	/* A clock stepped back counts as the send's own millisecond; the
	 * retention (14 days at most) keeps d far below 2^32. */
	if (d < 0)
		d = 0;
	if (d > (int64_t)UINT32_MAX - 1)
		d = (int64_t)UINT32_MAX - 1;
	m->first_recv_d = (uint32_t)d + 1;
}

int64_t sqs_m_last_recv(const struct sqs_m *m)
{
	return m->recv_d ? m->sent_ms + ((int64_t)m->recv_d - 1) * 1000 : 0;
}

void sqs_m_set_last_recv(struct sqs_m *m, int64_t ms)
{
	/* Rounded up: a limit counted from it errs by under a second, on the
	 * side of the client. 24 bits of seconds: 194 days, past any
	 * retention plus 12 hours. */
	int64_t d = (ms - m->sent_ms + 999) / 1000;

	if (d < 0)
		d = 0;
	if (d > (1 << 24) - 2)
		d = (1 << 24) - 2;
	m->recv_d = (uint32_t)d + 1;
}

/* ---- FIFO groups ------------------------------------------------------------- */

static uint32_t gslot_of(const struct sqs_idx *x, const uint8_t *key)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return (uint32_t)(h * 0x9e3779b97f4a7c15ull >> 32) & (x->gtab_cap - 1);
}

uint32_t sqs_idx_group_find(const struct sqs_idx *x, const uint8_t *gkey)
{
	if (!x->gtab_cap)
		return 0;
	/* Bounded: the table is never more than half full. */
	for (uint32_t i = gslot_of(x, gkey);; i = (i + 1) & (x->gtab_cap - 1)) {
		uint32_t g = x->gtab[i];
		if (g == 0)
			return 0;
		if (memcmp(x->groups[g].key, gkey, 16) == 0)
			return g;
	}
}

static void gtab_put(struct sqs_idx *x, uint32_t g)
{
	uint32_t i = gslot_of(x, x->groups[g].key);

	while (x->gtab[i] != 0)
		i = (i + 1) & (x->gtab_cap - 1);
	x->gtab[i] = g;
}

static int gtab_grow(struct sqs_idx *x)
{
	uint32_t old_cap = x->gtab_cap, *old = x->gtab;
	uint32_t cap = old_cap ? old_cap * 2 : IDX_INIT;

	if (cap == 0)
		return -ENOMEM;
	x->gtab = calloc(cap, sizeof(*x->gtab));
	if (!x->gtab) {
		x->gtab = old;
		return -ENOMEM;
	}
	x->gtab_cap = cap;
	for (uint32_t i = 0; i < old_cap; i++) {
		if (old[i])
			gtab_put(x, old[i]);
	}
	free(old);
	return 0;
}

static void gtab_del(struct sqs_idx *x, uint32_t g)
{
	uint32_t hole = gslot_of(x, x->groups[g].key);

	while (x->gtab[hole] != g)
		hole = (hole + 1) & (x->gtab_cap - 1);
	/* Backward-shift deletion, as for the message table. */
	for (uint32_t i = (hole + 1) & (x->gtab_cap - 1); x->gtab[i] != 0;
	     i = (i + 1) & (x->gtab_cap - 1)) {
		uint32_t home = gslot_of(x, x->groups[x->gtab[i]].key);
		bool between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
		if (!between) {
			x->gtab[hole] = x->gtab[i];
			hole = i;
		}
	}
	x->gtab[hole] = 0;
}

/* The group of key gkey, created when missing; 0 when out of memory. */
static uint32_t group_get(struct sqs_idx *x, const uint8_t *gkey)
{
	uint32_t g = sqs_idx_group_find(x, gkey);

	if (g)
		return g;
	if ((x->ngroups + 1) * 2 > x->gtab_cap && gtab_grow(x) < 0)
		return 0;
	if (!x->groups_free) {
		uint32_t cap = x->groups_cap ? x->groups_cap * 2 : 16;
		struct sqs_group *ng = cap > x->groups_cap ?
			realloc(x->groups, (size_t)cap * sizeof(*ng)) : NULL;
		if (!ng)
			return 0;
		memset(ng + x->groups_cap, 0, (size_t)(cap - x->groups_cap) * sizeof(*ng));
		/* Slot 0 is never a group: it means none. */
		for (uint32_t i = cap; i-- > (x->groups_cap ? x->groups_cap : 1);) {
			ng[i].next_free = x->groups_free;
			x->groups_free = i;
		}
		x->groups = ng;
		x->groups_cap = cap;
	}
	g = x->groups_free;
	struct sqs_group *gr = &x->groups[g];
	x->groups_free = gr->next_free;
	*gr = (struct sqs_group){ 0 };
	memcpy(gr->key, gkey, 16);
	gtab_put(x, g);
	x->ngroups++;
	return g;
}

static void group_free(struct sqs_idx *x, uint32_t g)
{
	struct sqs_group *gr = &x->groups[g];

	assert(gr->live == 0 && gr->inflight == 0);
	gtab_del(x, g);
	free(gr->ring);
	*gr = (struct sqs_group){ .next_free = x->groups_free };
	x->groups_free = g;
	x->ngroups--;
	/* A ring entry for g may remain: sqs_idx_pop_group skips free
	 * groups, and one reused meanwhile is checked afresh. */
}

static int group_push(struct sqs_group *gr, uint64_t n)
{
	if (gr->ring_len == gr->ring_cap) {
		uint32_t cap = gr->ring_cap ? gr->ring_cap * 2 : 4;
		uint64_t *r = cap > gr->ring_cap ? malloc((size_t)cap * sizeof(*r)) : NULL;
		if (!r)
			return -ENOMEM;
		for (uint32_t i = 0; i < gr->ring_len; i++)
			r[i] = gr->ring[(gr->ring_head + i) % gr->ring_cap];
		free(gr->ring);
		gr->ring = r;
		gr->ring_cap = cap;
		gr->ring_head = 0;
	}
	gr->ring[(gr->ring_head + gr->ring_len) % gr->ring_cap] = n;
	gr->ring_len++;
	return 0;
}

/* g's oldest message in the index; ring entries of messages gone before
 * it are dropped. Bounded by the ring. */
static struct sqs_m *group_head(struct sqs_idx *x, uint32_t g)
{
	struct sqs_group *gr = &x->groups[g];

	while (gr->ring_len > 0) {
		struct sqs_m *m = sqs_idx_find(x, gr->ring[gr->ring_head]);
		if (m && m->group == g)
			return m;
		gr->ring_head = (gr->ring_head + 1) % gr->ring_cap;
		gr->ring_len--;
	}
	return NULL;
}

static bool group_receivable(struct sqs_idx *x, uint32_t g)
{
	struct sqs_group *gr = &x->groups[g];
	struct sqs_m *h;

	if (gr->live == 0 || gr->inflight > 0)
		return false;
	h = group_head(x, g);
	return h && h->state == SQS_READY;
}

/* A freed group's slot may be reused while the ring still holds its old
 * entry, so the ring can hold a group twice. Once it holds more entries
 * than twice the groups, keep only the first entry of each listed group:
 * O(ring), at most once per that many pushes. */
static void gring_compact(struct sqs_idx *x)
{
	uint32_t k = 0, *r;

	if (x->gring_len < 2 * x->ngroups + IDX_INIT)
		return;
	r = malloc((size_t)x->gring_cap * sizeof(*r));
	if (!r)
		return; /* the next push tries again */
	for (uint32_t i = 0; i < x->gring_len; i++) {
		uint32_t g = x->gring[(x->gring_head + i) % x->gring_cap];
		if (!x->groups[g].listed)
			continue;
		x->groups[g].listed = false; /* marks it kept */
		r[k++] = g;
	}
	for (uint32_t i = 0; i < k; i++)
		x->groups[r[i]].listed = true;
	free(x->gring);
	x->gring = r;
	x->gring_head = 0;
	x->gring_len = k;
}

void sqs_idx_group_check(struct sqs_idx *x, uint32_t g)
{
	if (g == 0 || x->groups[g].listed || !group_receivable(x, g))
		return;
	gring_compact(x);
	if (x->gring_len == x->gring_cap) {
		uint32_t cap = x->gring_cap ? x->gring_cap * 2 : 16;
		uint32_t *r = cap > x->gring_cap ? malloc((size_t)cap * sizeof(*r)) : NULL;
		/* Out of memory: the group is offered again by its next change. */
		if (!r)
			return;
		for (uint32_t i = 0; i < x->gring_len; i++)
			r[i] = x->gring[(x->gring_head + i) % x->gring_cap];
		free(x->gring);
		x->gring = r;
		x->gring_cap = cap;
		x->gring_head = 0;
	}
	x->gring[(x->gring_head + x->gring_len) % x->gring_cap] = g;
	x->gring_len++;
	x->groups[g].listed = true;
}

uint32_t sqs_idx_pop_group(struct sqs_idx *x)
{
	/* Each round consumes one ring entry; stale ones are dropped. A
	 * group is listed at most once, so the ring never outgrows the
	 * groups. */
	while (x->gring_len > 0) {
		uint32_t g = x->gring[x->gring_head];
		x->gring_head = (x->gring_head + 1) % x->gring_cap;
		x->gring_len--;
		if (g >= x->groups_cap || !x->groups[g].listed)
			continue;
		x->groups[g].listed = false;
		if (group_receivable(x, g))
			return g;
	}
	return 0;
}

uint32_t sqs_idx_group_ready(struct sqs_idx *x, uint32_t g, uint64_t *out, uint32_t max)
{
	struct sqs_group *gr = &x->groups[g];
	uint32_t k = 0;

	if (g == 0 || g >= x->groups_cap || gr->live == 0 || !group_head(x, g))
		return 0;
	/* Bounded by the ring and by max. */
	for (uint32_t i = 0; i < gr->ring_len && k < max; i++) {
		uint64_t n = gr->ring[(gr->ring_head + i) % gr->ring_cap];
		struct sqs_m *m = sqs_idx_find(x, n);
		if (!m || m->group != g)
			continue; /* gone: a hint left behind */
		if (m->state != SQS_READY)
			break;
		out[k++] = n;
	}
	return k;
}

bool sqs_idx_any_ready(struct sqs_idx *x)
{
	if (x->ngroups == 0)
		return x->n_state[SQS_READY] > 0;
	/* Drop stale entries at the head, so the answer is a live group. */
	while (x->gring_len > 0) {
		uint32_t g = x->gring[x->gring_head];
		if (g < x->groups_cap && x->groups[g].listed && group_receivable(x, g))
			return true;
		if (g < x->groups_cap)
			x->groups[g].listed = false;
		x->gring_head = (x->gring_head + 1) % x->gring_cap;
		x->gring_len--;
		/* The group may still be receivable later: its next change
		 * lists it again. */
	}
	return false;
}

static uint64_t slot_of(const struct sqs_idx *x, uint64_t n)
{
	return (n * 0x9e3779b97f4a7c15ull) >> 7 & (x->cap - 1);
}

struct sqs_m *sqs_idx_find(const struct sqs_idx *x, uint64_t n)
{
	/* Bounded: the table is never full (load at most 3/4). */
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
		enum sqs_state state, const uint8_t *gkey)
{
	uint32_t g = 0;

	assert(state == SQS_PENDING || state == SQS_READY || state == SQS_DELAYED);
	if (sqs_idx_find(x, n))
		return -EEXIST;
	/* Load at most 3/4: linear probing stays short (about 2.5 probes per
	 * hit, 8.5 per miss), and at depth the table costs 53-107 bytes per
	 * message instead of 80-160 at 1/2. */
	if ((x->count + 1) * 4 > x->cap * 3 && grow_tab(x) < 0)
		return -ENOMEM;
	if (gkey) {
		g = group_get(x, gkey);
		if (!g || group_push(&x->groups[g], n) < 0) {
			if (g && x->groups[g].live == 0)
				group_free(x, g);
			return -ENOMEM;
		}
		x->groups[g].live++;
	}
	struct sqs_m m = { .n = n + 1, .sent_ms = sent_ms, .visible_ms = visible_ms,
			   .group = g, .state = SQS_PENDING };
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
	if (state == SQS_READY && !m->group)
		rc = ring_push(x, n);
	else if (state != SQS_PENDING)
		rc = heap_push(x, visible_ms, n);
	if (rc < 0)
		return rc;
	assert(x->n_state[m->state] > 0);
	x->n_state[m->state]--;
	x->n_state[state]++;
	if (m->group) {
		struct sqs_group *gr = &x->groups[m->group];
		gr->inflight += (state == SQS_INFLIGHT) - (m->state == SQS_INFLIGHT);
	}
	uint32_t g = m->group;
	m->state = (uint8_t)state;
	m->visible_ms = state == SQS_READY ? 0 : visible_ms;
	if (state == SQS_DELAYED || state == SQS_INFLIGHT)
		heap_compact(x); /* m's own entry is live by now */
	sqs_idx_group_check(x, g);
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
	uint32_t g = m->group;
	if (g) {
		struct sqs_group *gr = &x->groups[g];
		assert(gr->live > 0);
		gr->live--;
		gr->inflight -= m->state == SQS_INFLIGHT;
	}
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
	if (g && x->groups[g].live == 0)
		group_free(x, g);
	else if (g)
		sqs_idx_group_check(x, g);
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
