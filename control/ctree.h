/* ctree.h - a persistent ordered map: a treap with path copying.
 *
 * The catalog keeps its objects in these trees. A change copies only the
 * nodes on the path from the root to the change (O(log n) expected), so a
 * published version and the next one share every other node: publishing is
 * a pointer store, not a copy of the catalog.
 *
 * Changes happen in batches. A node made by the open batch is private to
 * the writer (no published version reaches it) and changes in place; a node
 * of an older batch is copied first, and the original goes on the batch's
 * retired list, to be freed once no reader can still see it. Every node the
 * batch allocates goes on its fresh list, so a failed batch can be undone:
 * free the fresh list, forget the retired list, and go back to the last
 * published roots.
 *
 * Readers (any thread) only walk nodes; the writer (control thread) is the
 * only one to call the functions that take a batch.
 */
#ifndef SL_CTREE_H
#define SL_CTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_ctree_node {
	struct sl_ctree_node *l, *r;
	void *obj;
	uint64_t gen;  /* the batch that made this node */
	uint32_t prio; /* heap order: a parent's prio >= its children's */
};

/* Pointers that a batch made or replaced. Bit 0 set: an object of the
 * tree's user (the catalog frees it); clear: a node. */
struct sl_ptrvec {
	uintptr_t *v;
	size_t n, cap;
};

struct sl_cbatch {
	uint64_t gen;
	struct sl_ptrvec fresh;
	struct sl_ptrvec retired;
	int err; /* -ENOMEM once an allocation failed: the batch must be undone */
};

/* key < obj: negative; equal: 0; key > obj: positive. */
typedef int (*sl_ctree_cmp)(const void *key, const void *obj);
/* Return false to stop a walk. */
typedef bool (*sl_ctree_visit)(void *obj, void *arg);

int sl_ptrvec_push(struct sl_ptrvec *pv, uintptr_t p);

const struct sl_ctree_node *sl_ctree_find(const struct sl_ctree_node *root, const void *key,
					  sl_ctree_cmp cmp);

/* Insert obj, or replace the object with an equal key (*old receives it,
 * else NULL). Returns the new root; on allocation failure b->err is set and
 * the batch must be undone. */
struct sl_ctree_node *sl_ctree_put(struct sl_ctree_node *root, void *obj, sl_ctree_cmp cmp,
				   struct sl_cbatch *b, void **old);

/* Remove the object with key (*removed receives it, or NULL). */
struct sl_ctree_node *sl_ctree_del(struct sl_ctree_node *root, const void *key, sl_ctree_cmp cmp,
				   struct sl_cbatch *b, void **removed);

/* Visit objects in key order from `from` (NULL: the first; exclusive: the
 * first key above it) until visit returns false. Returns false if stopped. */
bool sl_ctree_walk(const struct sl_ctree_node *root, const void *from, bool exclusive,
		   sl_ctree_cmp cmp, sl_ctree_visit visit, void *arg);

/* Height of the tree (tests and the benchmark check it stays logarithmic). */
unsigned sl_ctree_height(const struct sl_ctree_node *root);

#endif
