/* streams.h - Kinesis streams as catalog objects: shards, placement, tags.
 *
 * A stream is an object of type SL_COBJ_STREAM, keyed by (region, name).
 * Readers (workers, the control thread) look streams up in a catalog
 * version; the control thread changes them through sl_stream_edit(), which
 * hands back a version that the open batch may change in place.
 */
#ifndef SL_STREAMS_H
#define SL_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/catalog.h"
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
	struct sl_cobj hdr; /* hdr.uid names the stream's directory */
	char name[SL_KIN_NAME_MAX + 1];
	char region[SL_REGION_MAX + 1];
	uint8_t status;
	uint8_t mode;
	bool encrypted;
	uint32_t retention_hours;
	int64_t created_ms;
	int64_t status_until_ms; /* CREATING/UPDATING/DELETING ends at this time */
	uint32_t shard_metrics;  /* enhanced monitoring bit set */
	char *key_id;            /* KMS key of an encrypted stream, or NULL */
	uint32_t nshards;
	struct sl_shard_meta *shards; /* index = ordinal */
	uint32_t nopen;
	uint32_t *open; /* ordinals of open shards, sorted by hash_start */
	uint32_t ntags;
	struct sl_tag *tags; /* sorted by key */
};

extern const struct sl_cobj_type sl_stream_type;

/* ---- Readers (any thread) ----------------------------------------------- */

const struct sl_stream_meta *sl_stream_find(const struct sl_catalog *c, const char *region,
					    const char *name);
const struct sl_stream_meta *sl_stream_find_uid(const struct sl_catalog *c, uint64_t uid);
/* The open shard whose hash range holds h, or NULL. */
const struct sl_shard_meta *sl_stream_route(const struct sl_stream_meta *s, sl_u128 h);
/* arn:aws:kinesis:<region>:<account>:stream/<name> */
#define SL_STREAM_ARN_MAX (SL_REGION_MAX + SL_KIN_NAME_MAX + 64)
void sl_stream_arn(const struct sl_stream_meta *s, char out[SL_STREAM_ARN_MAX]);
/* Streams of region in name order after `after` (NULL or "": from the
 * first), until visit returns false. */
void sl_stream_walk(const struct sl_catalog *c, const char *region, const char *after,
		    bool (*visit)(const struct sl_stream_meta *s, void *arg), void *arg);
/* Worker that owns a shard: spread by stream and ordinal. */
uint16_t sl_shard_owner(uint64_t stream_uid, uint32_t ordinal, uint16_t nworkers);
/* The key id, "" when none. */
static inline const char *sl_stream_key_id(const struct sl_stream_meta *s)
{
	return s->key_id ? s->key_id : "";
}

/* ---- Writer (control thread, on the master) -------------------------------- */

/* A new stream in the open batch (NULL: exists, too long, or no memory). */
struct sl_stream_meta *sl_stream_add(const char *region, const char *name);
/* A version of s the open batch may change, or NULL (out of memory). */
struct sl_stream_meta *sl_stream_edit(const struct sl_stream_meta *s);
void sl_stream_remove(const struct sl_stream_meta *s);
struct sl_shard_meta *sl_stream_add_shard(struct sl_stream_meta *s, sl_u128 start, sl_u128 end,
					  int32_t parent, int32_t adjacent, int64_t now_ms);
/* Rebuild s->open from the shards' closed flags. 0 or -ENOMEM. */
int sl_stream_reindex(struct sl_stream_meta *s);
int sl_stream_set_key_id(struct sl_stream_meta *s, const char *key_id);
/* Counters of the master, kept as streams change (O(1) to read). */
uint32_t sl_streams_open_shards(const char *region);
/* False when region would be one more than SL_REGIONS_MAX holding streams. */
bool sl_streams_region_room(const char *region);
uint32_t sl_streams_on_demand(const char *region);

/* ---- The record codec (stream_codec.c; no runtime, fuzzed) -------------------- */

void sl_stream_encode(const struct sl_cobj *o, struct sl_bw *w);
struct sl_cobj *sl_stream_decode(const uint8_t *p, size_t n);
struct sl_cobj *sl_stream_clone(const struct sl_cobj *o);
void sl_stream_free(struct sl_cobj *o);
int sl_stream_cmp(const struct sl_cobj *key, const struct sl_cobj *o);
/* The catalog.json of sluice before the catalog log (read once, then
 * replaced by the log). */
int sl_stream_migrate(const char *data_dir, bool *found);

/* 128-bit decimal text <-> value. parse: 0 or -1 (not 1..39 digits / over 2^128-1). */
int sl_u128_parse(const char *s, size_t len, sl_u128 *out);
void sl_u128_fmt(sl_u128 v, char out[40]);

#endif
