/* catalog.h - every service's metadata: streams, queues, topics, alarms...
 *
 * The catalog holds objects of registered types (catalog_types.c). Each
 * object has a uid that is never reused, a key that its type orders (region,
 * then name, for most), and a body only its type reads. Two persistent trees
 * index them: one per type by key, one for all by uid (ctree.h).
 *
 * Writer: the control thread. Handlers change the master through
 * sl_catalog_insert / sl_catalog_edit / sl_catalog_remove; the changes of
 * one control loop iteration form a batch. sl_catalog_flush() appends the
 * batch to the catalog log (one write and one fdatasync for the whole
 * batch: group commit) and then publishes it: a new version whose trees
 * share every unchanged node with the last one. The runtime holds the
 * replies of the iteration's control requests until that flush returns
 * (sl_control_set_commit), so nothing is acknowledged before it is durable.
 * A failed flush undoes the whole batch, and those replies become errors.
 *
 * The log is replaced by a snapshot, written on a helper thread from a
 * published version, once it has grown past the size of the last snapshot:
 * each object is rewritten a bounded number of times on average, so a
 * change costs O(log n) in memory and O(1) amortised on disk whatever the
 * number of objects.
 *
 * Readers (any thread): sl_catalog_get() with an acquire load, then
 * lookups; never locked. A worker must not keep a version or an object past
 * the loop iteration that loaded it: what a batch replaced is freed once
 * every worker has passed through its loop since (QSBR).
 */
#ifndef SL_CATALOG_H
#define SL_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/ctree.h"
#include "dataplane/codec/bin.h"
#include "dataplane/limits.h"

/* Object types. The numbers are stored in the log: never reuse one. */
enum sl_cobj_type_id {
	SL_COBJ_BLOB = 1,   /* a generic named resource (tests, benchmarks) */
	SL_COBJ_STREAM = 2, /* a Kinesis stream */
	SL_COBJ_QUEUE = 3,  /* an SQS queue */
	SL_COBJ_TOPIC = 4,  /* an SNS topic */
	SL_COBJ_SUB = 5,    /* an SNS subscription */
	SL_COBJ_PLATFORM = 6, /* an SNS platform application or endpoint */
	SL_COBJ_TYPES,
};

/* The head of every catalog object. */
struct sl_cobj {
	uint64_t uid;
	uint64_t gen; /* the batch that made this version */
	uint16_t type;
	bool editing; /* catalog-private: changed since the last sl_catalog_commit() */
};

struct sl_cobj_type {
	const char *name;
	/* Key order. key is a probe of the same type. */
	int (*cmp)(const struct sl_cobj *key, const struct sl_cobj *o);
	/* A deep copy, or NULL. */
	struct sl_cobj *(*clone)(const struct sl_cobj *o);
	void (*free)(struct sl_cobj *o);
	void (*encode)(const struct sl_cobj *o, struct sl_bw *w);
	/* NULL: malformed or out of memory. */
	struct sl_cobj *(*decode)(const uint8_t *p, size_t n);
	/* Optional, control thread: an object enters (+1) or leaves (-1) the
	 * master, for counters the type keeps (shards per region...). */
	void (*account)(const struct sl_cobj *o, int sign);
	/* Optional: forget those counters (the catalog recounts after). */
	void (*reset)(void);
	/* Optional: load an older on-disk format when the catalog is empty. */
	int (*migrate)(const char *data_dir, bool *found);
};

/* Defined in catalog_types.c: index = type id. */
extern const struct sl_cobj_type *const sl_cobj_types[SL_COBJ_TYPES];

struct sl_catalog {
	uint64_t gen;
	uint64_t next_uid;
	struct sl_ctree_node *by_key[SL_COBJ_TYPES];
	struct sl_ctree_node *by_uid;
	uint64_t count[SL_COBJ_TYPES];
};

/* ---- Readers (any thread) ----------------------------------------------- */

/* The current version (acquire). Never NULL after sl_catalog_init(). */
const struct sl_catalog *sl_catalog_get(void);
/* The object of probe's type with probe's key, or NULL. */
const struct sl_cobj *sl_catalog_lookup(const struct sl_catalog *c, const struct sl_cobj *probe);
const struct sl_cobj *sl_catalog_lookup_uid(const struct sl_catalog *c, uint64_t uid);
/* Objects of probe->type in key order from probe (NULL: the first). */
void sl_catalog_walk(const struct sl_catalog *c, uint16_t type, const struct sl_cobj *from,
		     bool exclusive, bool (*visit)(void *obj, void *arg), void *arg);

/* ---- Writer (control thread) --------------------------------------------- */

/* Recover from <data_dir>: the snapshot, then the logs after it. */
int sl_catalog_init(const char *data_dir);
/* Free everything (after the workers stopped). init may follow again. */
void sl_catalog_fini(void);
/* The master: the published version plus the open batch's changes. */
const struct sl_catalog *sl_catalog_master(void);

/* Add o (type set, key filled; uid and gen are assigned). o belongs to the
 * catalog from here on, even on failure. -EEXIST (key taken), -ENOMEM. */
int sl_catalog_insert(struct sl_cobj *o);
/* A version of o that this batch may change in place (o itself or a copy
 * that replaced it), or NULL (out of memory: the batch will fail). */
struct sl_cobj *sl_catalog_edit(const struct sl_cobj *o);
void sl_catalog_remove(const struct sl_cobj *o);
/* Migrations only: give o, inserted by this batch, the uid an older format
 * stored for it (-EEXIST if taken), and keep later uids above n. */
int sl_catalog_rekey_uid(struct sl_cobj *o, uint64_t uid);
int sl_catalog_raise_next_uid(uint64_t n);
/* A handler is done changing objects: fold them into the types' counters.
 * Cheap; the flush does it too. */
void sl_catalog_commit(void);
/* A savepoint in the open batch: what one handler changes after it can be
 * undone alone (sl_catalog_rollback), leaving the earlier handlers' changes
 * of the same batch in place, so that a request answered with an error
 * changes nothing even when it failed halfway. Objects of the batch made
 * before the savepoint are copied on their next change instead of changed
 * in place. One savepoint at a time; release ends it (the changes stay). */
void sl_catalog_savepoint(void);
void sl_catalog_rollback(void);
void sl_catalog_release(void);

/* Make the batch durable and publish it. 0, or -errno with the batch
 * undone. With no change pending: 0 at once. */
int sl_catalog_flush(void);
/* Run fn(arg) once the batch open now is durable (after the flush that
 * carries it; dropped if that flush fails). */
int sl_catalog_on_durable(void (*fn)(void *arg), void *arg);
/* Run the callbacks of flushed batches. Control loop, outside any flush. */
void sl_catalog_run_durable(void);
/* Free what no reader can still see; finish a snapshot. Each loop. */
void sl_catalog_reclaim(void);

struct sl_catalog_stats {
	uint64_t flushes;       /* batches made durable */
	uint64_t log_bytes;     /* in the current log */
	uint64_t snapshots;     /* written since init */
	uint64_t snapshot_bytes;
	bool snapshot_running;
};
void sl_catalog_stats(struct sl_catalog_stats *st);
/* Wait for a snapshot in progress (tests, shutdown). */
void sl_catalog_snapshot_wait(void);
/* Start a snapshot now (tests). -EBUSY if one runs. */
int sl_catalog_snapshot_start(void);

/* ---- The generic resource type -------------------------------------------- */

struct sl_blob {
	struct sl_cobj hdr;
	char region[SL_REGION_MAX + 1];
	char name[SL_BLOB_NAME_MAX + 1];
	uint32_t len;
	uint8_t data[]; /* len bytes */
};

extern const struct sl_cobj_type sl_blob_type;
/* A blob for sl_catalog_insert(), or NULL. */
struct sl_blob *sl_blob_new(const char *region, const char *name, const void *data, uint32_t len);
const struct sl_blob *sl_blob_find(const struct sl_catalog *c, const char *region,
				   const char *name);

#endif
