/* ingest_window.c - idempotence windows of UDP producers (ingest_window.h).
 *
 * Producers are found through a chained hash table of fixed size (a power
 * of two at least producers_max) and kept in LRU order in a doubly linked
 * list. A producer's ring of slots is indexed by seq modulo its size; two
 * numbers of the window that meet in one slot double the ring, up to
 * SL_INGEST_WINDOW slots, where two numbers in one slot are a window apart
 * and the older has left it. */
#include "dataplane/net/ingest_window.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/limits.h"

enum { S_EMPTY = 0, S_FLIGHT, S_DONE };

struct slot {
	uint64_t seq;
	uint8_t *ack;
	uint32_t len;
	uint8_t state;
};

struct producer {
	uint64_t id;
	uint64_t top;          /* the newest seq seen */
	struct slot *slots;
	uint32_t cap;          /* slots: a power of two, at most SL_INGEST_WINDOW */
	size_t bytes;          /* this producer's share of w->bytes */
	struct producer *hnext;
	struct producer *prev, *next; /* LRU: head is the most recent */
};

struct sl_iwin {
	struct producer **table;
	uint32_t mask;
	uint32_t n, max;
	size_t bytes, bytes_max;
	uint64_t evicted;
	struct producer *head, *tail;
};

#define RING_MIN 4u

static uint32_t hash(uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdull;
	id ^= id >> 33;
	return (uint32_t)id;
}

struct sl_iwin *sl_iwin_new(uint32_t producers_max, size_t bytes_max)
{
	struct sl_iwin *w = calloc(1, sizeof(*w));
	uint32_t size = 16;

	if (!w)
		return NULL;
	while (size < producers_max && size < (1u << 30))
		size <<= 1;
	w->table = calloc(size, sizeof(*w->table));
	if (!w->table) {
		free(w);
		return NULL;
	}
	w->mask = size - 1;
	w->max = producers_max ? producers_max : 1;
	w->bytes_max = bytes_max;
	return w;
}

static void lru_unlink(struct sl_iwin *w, struct producer *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		w->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		w->tail = p->prev;
	p->prev = p->next = NULL;
}

static void lru_front(struct sl_iwin *w, struct producer *p)
{
	p->next = w->head;
	p->prev = NULL;
	if (w->head)
		w->head->prev = p;
	w->head = p;
	if (!w->tail)
		w->tail = p;
}

static void slot_clear(struct sl_iwin *w, struct producer *p, struct slot *s)
{
	if (s->ack) {
		free(s->ack);
		p->bytes -= s->len;
		w->bytes -= s->len;
	}
	memset(s, 0, sizeof(*s));
}

static void producer_drop(struct sl_iwin *w, struct producer *p)
{
	struct producer **pp = &w->table[hash(p->id) & w->mask];

	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
	lru_unlink(w, p);
	for (uint32_t i = 0; i < p->cap; i++)
		slot_clear(w, p, &p->slots[i]);
	w->bytes -= p->bytes;
	w->n--;
	free(p->slots);
	free(p);
}

void sl_iwin_free(struct sl_iwin *w)
{
	if (!w)
		return;
	while (w->head)
		producer_drop(w, w->head);
	free(w->table);
	free(w);
}

/* Forget the least recent producers (never keep) while over a bound. */
static void evict(struct sl_iwin *w, const struct producer *keep)
{
	while (w->tail && w->tail != keep && (w->n > w->max || w->bytes > w->bytes_max)) {
		producer_drop(w, w->tail);
		w->evicted++;
	}
}

static struct producer *find(struct sl_iwin *w, uint64_t id)
{
	for (struct producer *p = w->table[hash(id) & w->mask]; p; p = p->hnext)
		if (p->id == id)
			return p;
	return NULL;
}

static struct producer *add(struct sl_iwin *w, uint64_t id, uint64_t seq)
{
	struct producer *p = calloc(1, sizeof(*p));

	if (!p || !(p->slots = calloc(RING_MIN, sizeof(*p->slots)))) {
		free(p);
		return NULL;
	}
	p->id = id;
	p->top = seq;
	p->cap = RING_MIN;
	p->bytes = sizeof(*p) + RING_MIN * sizeof(*p->slots);
	uint32_t b = hash(id) & w->mask;
	p->hnext = w->table[b];
	w->table[b] = p;
	lru_front(w, p);
	w->n++;
	w->bytes += p->bytes;
	return p;
}

static bool in_window(const struct producer *p, uint64_t seq)
{
	return seq <= p->top && p->top - seq < SL_INGEST_WINDOW;
}

/* Double p's ring; false when out of memory or at its largest. */
static bool grow(struct sl_iwin *w, struct producer *p)
{
	if (p->cap >= SL_INGEST_WINDOW)
		return false;
	uint32_t cap = p->cap * 2;
	struct slot *s = calloc(cap, sizeof(*s));
	if (!s)
		return false;
	for (uint32_t i = 0; i < p->cap; i++) {
		struct slot *o = &p->slots[i];
		if (o->state == S_EMPTY)
			continue;
		if (!in_window(p, o->seq)) {
			slot_clear(w, p, o);
			continue;
		}
		/* Two of the window shared no slot in the smaller ring, so none
		 * share one in the larger. */
		s[o->seq & (cap - 1)] = *o;
	}
	free(p->slots);
	p->slots = s;
	size_t more = (cap - p->cap) * sizeof(*s);
	p->bytes += more;
	w->bytes += more;
	p->cap = cap;
	return true;
}

/* The slot for seq, emptied of anything that left the window, growing the
 * ring while another number of the window holds it. NULL: out of memory. */
static struct slot *slot_for(struct sl_iwin *w, struct producer *p, uint64_t seq)
{
	for (;;) {
		struct slot *s = &p->slots[seq & (p->cap - 1)];
		if (s->state == S_EMPTY || s->seq == seq)
			return s;
		if (!in_window(p, s->seq)) {
			slot_clear(w, p, s);
			return s;
		}
		if (!grow(w, p))
			return NULL;
	}
}

int sl_iwin_check(struct sl_iwin *w, uint64_t producer, uint64_t seq, const uint8_t **ack,
		  size_t *len)
{
	struct producer *p = find(w, producer);

	*ack = NULL;
	*len = 0;
	if (!p) {
		p = add(w, producer, seq);
		if (!p)
			return SL_IWIN_NEW;
		evict(w, p);
	} else {
		lru_unlink(w, p);
		lru_front(w, p);
	}
	if (seq > p->top)
		p->top = seq;
	else if (p->top - seq >= SL_INGEST_WINDOW)
		return SL_IWIN_STALE;
	struct slot *s = slot_for(w, p, seq);
	if (!s)
		return SL_IWIN_NEW;
	if (s->state != S_EMPTY && s->seq == seq) {
		if (s->state == S_FLIGHT)
			return SL_IWIN_IN_FLIGHT;
		*ack = s->ack;
		*len = s->len;
		return SL_IWIN_DONE;
	}
	*s = (struct slot){ .seq = seq, .state = S_FLIGHT };
	evict(w, p);
	return SL_IWIN_NEW;
}

/* The slot that holds seq of producer, if its window still does. */
static struct slot *held(struct sl_iwin *w, uint64_t producer, uint64_t seq,
			 struct producer **pp)
{
	struct producer *p = find(w, producer);

	if (!p || !in_window(p, seq))
		return NULL;
	struct slot *s = &p->slots[seq & (p->cap - 1)];
	*pp = p;
	return s->state != S_EMPTY && s->seq == seq ? s : NULL;
}

void sl_iwin_done(struct sl_iwin *w, uint64_t producer, uint64_t seq, const uint8_t *ack,
		  size_t len)
{
	struct producer *p;
	struct slot *s = held(w, producer, seq, &p);

	if (!s || len > UINT32_MAX)
		return;
	slot_clear(w, p, s);
	s->seq = seq;
	s->ack = len ? malloc(len) : NULL;
	if (len && !s->ack)
		return; /* forgotten: a retransmission is stored again */
	memcpy(s->ack, ack, len);
	s->len = (uint32_t)len;
	s->state = S_DONE;
	p->bytes += len;
	w->bytes += len;
	evict(w, p);
}

void sl_iwin_forget(struct sl_iwin *w, uint64_t producer, uint64_t seq)
{
	struct producer *p;
	struct slot *s = held(w, producer, seq, &p);

	if (s)
		slot_clear(w, p, s);
}

void sl_iwin_stats(const struct sl_iwin *w, struct sl_iwin_stats *st)
{
	st->producers = w->n;
	st->bytes = w->bytes;
	st->evicted = w->evicted;
}
