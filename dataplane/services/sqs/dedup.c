/* dedup.c - a FIFO partition's deduplication window (see dedup.h). */
#include "dataplane/services/sqs/dedup.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/limits.h"

#define DEDUP_INIT 64

void sqs_dedup_init(struct sqs_dedup *d)
{
	memset(d, 0, sizeof(*d));
}

void sqs_dedup_fini(struct sqs_dedup *d)
{
	free(d->ring);
	free(d->tab);
	memset(d, 0, sizeof(*d));
}

static struct sqs_dedup_e *at(const struct sqs_dedup *d, uint64_t s)
{
	return &d->ring[s & (d->cap - 1)];
}

static uint64_t home_of(const struct sqs_dedup *d, const uint8_t *key)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return (h * 0x9e3779b97f4a7c15ull) >> 11 & (d->tab_cap - 1);
}

/* The table slot holding key, or the empty slot where it would go. */
static uint64_t tab_slot(const struct sqs_dedup *d, const uint8_t *key)
{
	uint64_t i = home_of(d, key);

	/* Bounded: the table is never more than half full. */
	while (d->tab[i] != 0 && memcmp(at(d, d->tab[i] - 1)->key, key, 16) != 0)
		i = (i + 1) & (d->tab_cap - 1);
	return i;
}

struct sqs_dedup_e *sqs_dedup_find(const struct sqs_dedup *d, const uint8_t *key,
				   int64_t now_ms)
{
	if (d->tab_cap == 0)
		return NULL;
	uint64_t i = tab_slot(d, key);
	if (d->tab[i] == 0)
		return NULL;
	struct sqs_dedup_e *e = at(d, d->tab[i] - 1);
	return e->until_ms > now_ms ? e : NULL;
}

static int tab_grow(struct sqs_dedup *d)
{
	uint64_t cap = d->tab_cap ? d->tab_cap * 2 : DEDUP_INIT * 2;
	uint64_t *t = calloc(cap, sizeof(*t));

	if (!t)
		return -ENOMEM;
	free(d->tab);
	d->tab = t;
	d->tab_cap = cap;
	/* In sequence order, so a later entry of a key replaces an earlier. */
	for (uint64_t s = d->head; s < d->tail; s++)
		d->tab[tab_slot(d, at(d, s)->key)] = s + 1;
	return 0;
}

static int ring_grow(struct sqs_dedup *d)
{
	uint64_t cap = d->cap ? d->cap * 2 : DEDUP_INIT;
	struct sqs_dedup_e *r;

	if (cap > SL_SQS_DEDUP_MAX)
		return -ENOSPC;
	r = malloc(cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (uint64_t s = d->head; s < d->tail; s++)
		r[s & (cap - 1)] = *at(d, s);
	free(d->ring);
	d->ring = r;
	d->cap = cap;
	return 0;
}

int sqs_dedup_add(struct sqs_dedup *d, const uint8_t *key, const uint8_t *msg_id, uint64_t n,
		  int64_t until_ms)
{
	uint64_t count = d->tail - d->head;
	int rc;

	assert(count == 0 || at(d, d->tail - 1)->n < n);
	if (count == d->cap && (rc = ring_grow(d)) < 0)
		return rc;
	if ((count + 1) * 2 > d->tab_cap && (rc = tab_grow(d)) < 0)
		return rc;
	struct sqs_dedup_e *e = at(d, d->tail);
	memcpy(e->key, key, 16);
	memcpy(e->msg_id, msg_id, 16);
	e->n = n;
	e->until_ms = until_ms;
	e->gone = false;
	d->tab[tab_slot(d, key)] = d->tail + 1;
	d->tail++;
	return 0;
}

struct sqs_dedup_e *sqs_dedup_by_n(const struct sqs_dedup *d, uint64_t n)
{
	uint64_t lo = d->head, hi = d->tail;

	/* Binary search: record numbers increase along the ring. */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		struct sqs_dedup_e *e = at(d, mid);
		if (e->n == n)
			return e;
		if (e->n < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Take sequence s's key out of the table, if the table still maps it to
 * s (a later send of the same key may have replaced it). */
static void tab_del(struct sqs_dedup *d, uint64_t s)
{
	uint64_t hole = tab_slot(d, at(d, s)->key);

	if (d->tab[hole] != s + 1)
		return;
	/* Backward-shift deletion: no tombstones. Bounded by the run. */
	for (uint64_t i = (hole + 1) & (d->tab_cap - 1); d->tab[i] != 0;
	     i = (i + 1) & (d->tab_cap - 1)) {
		uint64_t home = home_of(d, at(d, d->tab[i] - 1)->key);
		bool between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
		if (!between) {
			d->tab[hole] = d->tab[i];
			hole = i;
		}
	}
	d->tab[hole] = 0;
}

uint64_t sqs_dedup_expire(struct sqs_dedup *d, int64_t now_ms, uint64_t max,
			  void (*gone)(void *arg, uint64_t n), void *arg)
{
	uint64_t k = 0;

	/* Bounded by max. */
	while (k < max && d->head < d->tail && at(d, d->head)->until_ms <= now_ms) {
		struct sqs_dedup_e *e = at(d, d->head);
		tab_del(d, d->head);
		if (e->gone && gone)
			gone(arg, e->n);
		d->head++;
		k++;
	}
	return k;
}
