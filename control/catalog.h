/* catalog.h - streams, shards and placement: metadata only.
 *
 * The control thread owns the master copy and is the only writer. After each
 * change it persists the catalog (write, fsync, rename) and publishes an
 * immutable deep copy with a release store; workers read the current copy
 * with an acquire load and never lock. A worker must not keep a catalog
 * pointer past the loop iteration that loaded it: old copies are freed once
 * every worker has been seen between iterations (or asleep) since they were
 * replaced.
 */
#ifndef SL_CATALOG_H
#define SL_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/limits.h"

typedef unsigned __int128 sl_u128;

enum sl_stream_status {
	SL_STREAM_CREATING = 0,
	SL_STREAM_DELETING,
	SL_STREAM_ACTIVE,
	SL_STREAM_UPDATING,
};

enum sl_stream_mode { SL_MODE_PROVISIONED = 0, SL_MODE_ON_DEMAND };

struct sl_shard_meta {
	uint32_t ordinal;         /* shardId-%012u */
	int32_t parent;           /* ordinal, or -1 */
	int32_t adjacent_parent;  /* ordinal, or -1 */
	bool closed;
	sl_u128 hash_start;
	sl_u128 hash_end;
	uint64_t end_n;           /* closed: one past the last record number */
	int64_t created_ms;
	int64_t closed_ms;
};

struct sl_tag {
	char key[SL_KIN_TAG_KEY_MAX + 1];
	char value[SL_KIN_TAG_VALUE_MAX + 1];
};

struct sl_stream_meta {
	uint64_t uid; /* never reused; names the stream's directory */
	char name[SL_KIN_NAME_MAX + 1];
	char region[32];
	char arn[256];
	uint8_t status;
	uint8_t mode;
	bool encrypted;
	char key_id[SL_KIN_KEY_ID_MAX + 1];
	uint32_t retention_hours;
	int64_t created_ms;
	int64_t status_until_ms; /* CREATING/UPDATING/DELETING ends at this time */
	uint32_t shard_metrics;  /* enhanced monitoring bit set */
	uint32_t nshards;
	struct sl_shard_meta *shards; /* index = ordinal */
	uint32_t nopen;
	uint32_t *open; /* ordinals of open shards, sorted by hash_start */
	uint32_t ntags;
	struct sl_tag *tags; /* sorted by key */
};

struct sl_catalog {
	uint64_t gen;
	uint64_t next_uid;
	uint32_t nstreams;
	struct sl_stream_meta *streams; /* sorted by (region, name) */
	uint32_t *by_uid; /* snapshots only: stream indices sorted by uid */
};

/* ---- Readers (any thread) ----------------------------------------------- */

/* The current snapshot (acquire). Never NULL after sl_catalog_init(). */
const struct sl_catalog *sl_catalog_get(void);
const struct sl_stream_meta *sl_catalog_find(const struct sl_catalog *c, const char *region,
					     const char *name);
const struct sl_stream_meta *sl_catalog_find_uid(const struct sl_catalog *c, uint64_t uid);
/* The open shard whose hash range holds h, or NULL. */
const struct sl_shard_meta *sl_stream_route(const struct sl_stream_meta *s, sl_u128 h);

/* ---- Writer (control thread) --------------------------------------------- */

/* Load <data_dir>/catalog.json (absent: empty). 0 or -errno. */
int sl_catalog_init(const char *data_dir);
/* Free the master copy and every snapshot (at shutdown, after the workers
 * stopped). sl_catalog_init() may be called again afterwards. */
void sl_catalog_fini(void);
/* The master copy, for the control thread to change in place. */
struct sl_catalog *sl_catalog_master(void);
/* Persist the master copy and publish a snapshot of it. 0 or -errno (the
 * change is then not durable; the caller reports an internal failure). */
int sl_catalog_commit(void);
/* Free snapshots no worker can still see. Control thread, each loop. */
void sl_catalog_reclaim(void);

/* Master-copy edits. */
struct sl_stream_meta *sl_catalog_add_stream(struct sl_catalog *c, const char *region,
					     const char *name);
void sl_catalog_remove_stream(struct sl_catalog *c, struct sl_stream_meta *s);
struct sl_shard_meta *sl_stream_add_shard(struct sl_stream_meta *s, sl_u128 start, sl_u128 end,
					  int32_t parent, int32_t adjacent, int64_t now_ms);
/* Rebuild s->open from the shards' closed flags. */
void sl_stream_reindex(struct sl_stream_meta *s);

/* Worker that owns a shard: spread by stream and ordinal. */
uint16_t sl_shard_owner(uint64_t stream_uid, uint32_t ordinal, uint16_t nworkers);

/* 128-bit decimal text <-> value. parse: 0 or -1 (not 1..39 digits / over 2^128-1). */
int sl_u128_parse(const char *s, size_t len, sl_u128 *out);
void sl_u128_fmt(sl_u128 v, char out[40]);

#endif
