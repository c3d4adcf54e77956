/* ctree.c - the persistent treap behind the catalog (see ctree.h). */
#include "control/ctree.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

/* Priorities only need to be independent of the keys: a xorshift sequence
 * (control thread only) does. */
static uint64_t prio_state = 0x9e3779b97f4a7c15ull;

static uint32_t next_prio(void)
{
	prio_state ^= prio_state << 13;
	prio_state ^= prio_state >> 7;
	prio_state ^= prio_state << 17;
	return (uint32_t)(prio_state >> 32);
}

int sl_ptrvec_push(struct sl_ptrvec *pv, uintptr_t p)
{
	if (pv->n == pv->cap) {
		size_t cap = pv->cap ? pv->cap * 2 : 64;
		uintptr_t *v = realloc(pv->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		pv->v = v;
		pv->cap = cap;
	}
	pv->v[pv->n++] = p;
	return 0;
}

static void track(struct sl_cbatch *b, struct sl_ptrvec *pv, struct sl_ctree_node *n)
{
	assert(((uintptr_t)n & 1) == 0);
	if (sl_ptrvec_push(pv, (uintptr_t)n) < 0)
		b->err = -ENOMEM;
}

static struct sl_ctree_node *node_new(struct sl_cbatch *b, void *obj, uint32_t prio)
{
	struct sl_ctree_node *n = malloc(sizeof(*n));

	if (!n) {
		b->err = -ENOMEM;
		return NULL;
	}
	*n = (struct sl_ctree_node){ .obj = obj, .gen = b->gen, .prio = prio };
	track(b, &b->fresh, n);
	if (b->err) {
		/* Not on the fresh list: nobody else would free it. */
		free(n);
		return NULL;
	}
	return n;
}

/* A node the batch may change in place: n itself if the batch made it,
 * else a copy (n is retired). */
static struct sl_ctree_node *own(struct sl_ctree_node *n, struct sl_cbatch *b)
{
	if (n->gen == b->gen)
		return n;
	assert(n->gen < b->gen);
	struct sl_ctree_node *m = node_new(b, n->obj, n->prio);
	if (!m)
		return NULL;
	m->l = n->l;
	m->r = n->r;
	track(b, &b->retired, n);
	return m;
}

const struct sl_ctree_node *sl_ctree_find(const struct sl_ctree_node *n, const void *key,
					  sl_ctree_cmp cmp)
{
	while (n) {
		int c = cmp(key, n->obj);
		if (c == 0)
			return n;
		n = c < 0 ? n->l : n->r;
	}
	return NULL;
}

static struct sl_ctree_node *put(struct sl_ctree_node *n, void *obj, sl_ctree_cmp cmp,
				 struct sl_cbatch *b, void **old)
{
	if (!n)
		return node_new(b, obj, next_prio());
	int c = cmp(obj, n->obj);
	struct sl_ctree_node *m = own(n, b);
	if (!m)
		return n;
	if (c == 0) {
		*old = m->obj;
		m->obj = obj;
		return m;
	}
	if (c < 0) {
		struct sl_ctree_node *ch = put(m->l, obj, cmp, b, old);
		if (b->err)
			return m;
		m->l = ch;
		if (ch->prio > m->prio) {
			/* Rotate right; ch is fresh (put returned it). */
			assert(ch->gen == b->gen);
			m->l = ch->r;
			ch->r = m;
			return ch;
		}
		return m;
	}
	struct sl_ctree_node *ch = put(m->r, obj, cmp, b, old);
	if (b->err)
		return m;
	m->r = ch;
	if (ch->prio > m->prio) {
		assert(ch->gen == b->gen);
		m->r = ch->l;
		ch->l = m;
		return ch;
	}
	return m;
}

struct sl_ctree_node *sl_ctree_put(struct sl_ctree_node *root, void *obj, sl_ctree_cmp cmp,
				   struct sl_cbatch *b, void **old)
{
	*old = NULL;
	return put(root, obj, cmp, b, old);
}

/* Join two treaps, every key of a below every key of c. */
static struct sl_ctree_node *merge(struct sl_ctree_node *a, struct sl_ctree_node *c,
				   struct sl_cbatch *b)
{
	if (!a)
		return c;
	if (!c)
		return a;
	if (a->prio >= c->prio) {
		struct sl_ctree_node *m = own(a, b);
		if (!m)
			return a;
		m->r = merge(m->r, c, b);
		return m;
	}
	struct sl_ctree_node *m = own(c, b);
	if (!m)
		return c;
	m->l = merge(a, m->l, b);
	return m;
}

static struct sl_ctree_node *del(struct sl_ctree_node *n, const void *key, sl_ctree_cmp cmp,
				 struct sl_cbatch *b, void **removed)
{
	if (!n)
		return NULL;
	int c = cmp(key, n->obj);
	if (c == 0) {
		*removed = n->obj;
		/* A node of this batch is on the fresh list too: an undo frees
		 * it from there and forgets the retired list, a publish frees it
		 * from here and forgets the fresh list. */
		track(b, &b->retired, n);
		return merge(n->l, n->r, b);
	}
	struct sl_ctree_node *m = own(n, b);
	if (!m)
		return n;
	if (c < 0)
		m->l = del(m->l, key, cmp, b, removed);
	else
		m->r = del(m->r, key, cmp, b, removed);
	return m;
}

struct sl_ctree_node *sl_ctree_del(struct sl_ctree_node *root, const void *key, sl_ctree_cmp cmp,
				   struct sl_cbatch *b, void **removed)
{
	*removed = NULL;
	if (!sl_ctree_find(root, key, cmp))
		return root; /* absent: copy nothing */
	return del(root, key, cmp, b, removed);
}

bool sl_ctree_walk(const struct sl_ctree_node *n, const void *from, bool exclusive,
		   sl_ctree_cmp cmp, sl_ctree_visit visit, void *arg)
{
	while (n) {
		int c = from ? cmp(from, n->obj) : -1;
		if (c < 0 || (c == 0 && !exclusive)) {
			/* n is in range, and so may be its left subtree. */
			if (c < 0 && !sl_ctree_walk(n->l, from, exclusive, cmp, visit, arg))
				return false;
			if (!visit(n->obj, arg))
				return false;
			/* Everything to the right is above from: no bound needed. */
			from = NULL;
		}
		n = n->r;
	}
	return true;
}

unsigned sl_ctree_height(const struct sl_ctree_node *n)
{
	if (!n)
		return 0;
	unsigned l = sl_ctree_height(n->l), r = sl_ctree_height(n->r);

	return 1 + (l > r ? l : r);
}
