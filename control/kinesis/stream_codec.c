/* stream_codec.c - a stream's catalog record, copies, and shard lists.
 *
 * Pure functions (no runtime, no configuration): the catalog calls them on
 * the control thread and on its snapshot thread, and fuzz_catalog feeds the
 * decoder arbitrary bytes. A record is:
 *
 *   str name, str region, u8 status, u8 mode, u8 encrypted, u32 retention,
 *   u64 created_ms, u64 status_until_ms, u32 shard_metrics, str key_id,
 *   u32 nshards, nshards x { u32 parent+1, u32 adjacent+1, u8 closed,
 *     u64 start_lo, u64 start_hi, u64 end_lo, u64 end_hi, u64 end_n,
 *     u64 created_ms, u64 closed_ms },
 *   u32 ntags, ntags x { str key, str value }
 *
 * (str: u32 length and bytes, bin.h.)
 */
#include "control/kinesis/streams.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define SHARD_BYTES (4 + 4 + 1 + 8 * 7)
#define TAG_BYTES_MIN 8

int sl_u128_parse(const char *s, size_t len, sl_u128 *out)
{
	sl_u128 v = 0;
	const sl_u128 max_div10 = (~(sl_u128)0) / 10;

	if (len == 0 || len > 39)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > max_div10 || (v == max_div10 && d > (unsigned)(~(sl_u128)0 % 10)))
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

void sl_u128_fmt(sl_u128 v, char out[40])
{
	char tmp[40];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + (unsigned)(v % 10));
		v /= 10;
	} while (v && n < 39);
	assert(v == 0); /* 2^128 - 1 has 39 digits: none was cut off */
	for (int i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

int sl_stream_cmp(const struct sl_cobj *key, const struct sl_cobj *o)
{
	const struct sl_stream_meta *a = (const void *)key, *b = (const void *)o;

	/* The catalog keeps one key tree per type. */
	assert(key->type == SL_COBJ_STREAM);
	assert(o->type == SL_COBJ_STREAM);
	int c = strcmp(a->region, b->region);

	return c ? c : strcmp(a->name, b->name);
}

struct sl_shard_meta *sl_stream_add_shard(struct sl_stream_meta *s, sl_u128 start, sl_u128 end,
					  int32_t parent, int32_t adjacent, int64_t now_ms)
{
	assert(s->nshards < UINT32_MAX); /* ordinals are uint32_t */
	struct sl_shard_meta *p = realloc(s->shards, (s->nshards + 1) * sizeof(*p));

	if (!p)
		return NULL;
	s->shards = p;
	struct sl_shard_meta *sh = &p[s->nshards];
	memset(sh, 0, sizeof(*sh));
	sh->ordinal = s->nshards++;
	sh->parent = parent;
	sh->adjacent_parent = adjacent;
	sh->hash_start = start;
	sh->hash_end = end;
	sh->created_ms = now_ms;
	return sh;
}

int sl_stream_reindex(struct sl_stream_meta *s)
{
	uint32_t *open = malloc((s->nshards ? s->nshards : 1) * sizeof(*open));
	uint32_t n = 0;

	if (!open)
		return -1;
	for (uint32_t i = 0; i < s->nshards; i++) {
		if (s->shards[i].closed)
			continue;
		/* Insertion sort by hash_start: a stream has few open shards,
		 * and they are created in order, so this is near linear. */
		uint32_t j = n++;
		while (j > 0 && s->shards[open[j - 1]].hash_start > s->shards[i].hash_start) {
			open[j] = open[j - 1];
			j--;
		}
		open[j] = i;
		/* Sorted by hash_start so far: sl_stream_route() bisects it. */
		assert(j == 0 || s->shards[open[j - 1]].hash_start <= s->shards[i].hash_start);
	}
	assert(n <= s->nshards);
	free(s->open);
	s->open = open;
	s->nopen = n;
	return 0;
}

void sl_stream_free(struct sl_cobj *o)
{
	struct sl_stream_meta *s = (void *)o;

	if (!s)
		return;
	assert(s->hdr.type == SL_COBJ_STREAM);
	free(s->shards);
	free(s->open);
	free(s->tags);
	free(s->key_id);
	free(s);
}

static void *dup_mem(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);

	assert(p || n == 0);
	if (q && n)
		memcpy(q, p, n);
	return q;
}

struct sl_cobj *sl_stream_clone(const struct sl_cobj *o)
{
	const struct sl_stream_meta *s = (const void *)o;
	struct sl_stream_meta *c = malloc(sizeof(*c));

	assert(o->type == SL_COBJ_STREAM);
	assert(s->nopen <= s->nshards);
	if (!c)
		return NULL;
	*c = *s;
	c->shards = dup_mem(s->shards, s->nshards * sizeof(*s->shards));
	c->open = dup_mem(s->open, s->nopen * sizeof(*s->open));
	c->tags = dup_mem(s->tags, s->ntags * sizeof(*s->tags));
	c->key_id = s->key_id ? strdup(s->key_id) : NULL;
	if (!c->shards || !c->open || !c->tags || (s->key_id && !c->key_id)) {
		sl_stream_free(&c->hdr);
		return NULL;
	}
	return &c->hdr;
}

static void put_u128(struct sl_bw *w, sl_u128 v)
{
	sl_bw_u64(w, (uint64_t)v);
	sl_bw_u64(w, (uint64_t)(v >> 64));
}

static sl_u128 get_u128(struct sl_br *r)
{
	uint64_t lo = sl_br_u64(r), hi = sl_br_u64(r);

	return (sl_u128)hi << 64 | lo;
}

void sl_stream_encode(const struct sl_cobj *o, struct sl_bw *w)
{
	const struct sl_stream_meta *s = (const void *)o;

	assert(o->type == SL_COBJ_STREAM);
	sl_bw_str(w, s->name);
	sl_bw_str(w, s->region);
	sl_bw_u8(w, s->status);
	sl_bw_u8(w, s->mode);
	sl_bw_u8(w, s->encrypted);
	sl_bw_u32(w, s->retention_hours);
	sl_bw_u64(w, (uint64_t)s->created_ms);
	sl_bw_u64(w, (uint64_t)s->status_until_ms);
	sl_bw_u32(w, s->shard_metrics);
	sl_bw_str(w, s->key_id);
	sl_bw_u32(w, s->nshards);
	for (uint32_t i = 0; i < s->nshards; i++) {
		const struct sl_shard_meta *sh = &s->shards[i];
		assert(sh->ordinal == i); /* decode_shards() numbers them by position */
		sl_bw_u32(w, (uint32_t)(sh->parent + 1));
		sl_bw_u32(w, (uint32_t)(sh->adjacent_parent + 1));
		sl_bw_u8(w, sh->closed);
		put_u128(w, sh->hash_start);
		put_u128(w, sh->hash_end);
		sl_bw_u64(w, sh->end_n);
		sl_bw_u64(w, (uint64_t)sh->created_ms);
		sl_bw_u64(w, (uint64_t)sh->closed_ms);
	}
	sl_bw_u32(w, s->ntags);
	for (uint32_t i = 0; i < s->ntags; i++) {
		sl_bw_str(w, s->tags[i].key);
		sl_bw_str(w, s->tags[i].value);
	}
}

static bool decode_shards(struct sl_br *r, struct sl_stream_meta *s)
{
	uint32_t n = sl_br_u32(r);

	if (r->bad || n > sl_br_left(r) / SHARD_BYTES)
		return false;
	s->shards = malloc((n ? n : 1) * sizeof(*s->shards));
	if (!s->shards)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		struct sl_shard_meta *sh = &s->shards[i];
		int64_t parent = (int64_t)sl_br_u32(r) - 1, adj = (int64_t)sl_br_u32(r) - 1;
		uint8_t closed = sl_br_u8(r);
		memset(sh, 0, sizeof(*sh));
		sh->ordinal = i;
		sh->parent = (int32_t)parent;
		sh->adjacent_parent = (int32_t)adj;
		sh->closed = closed != 0;
		sh->hash_start = get_u128(r);
		sh->hash_end = get_u128(r);
		sh->end_n = sl_br_u64(r);
		sh->created_ms = (int64_t)sl_br_u64(r);
		sh->closed_ms = (int64_t)sl_br_u64(r);
		/* Parents come before their children. */
		if (parent < -1 || parent >= i || adj < -1 || adj >= i || closed > 1 ||
		    sh->hash_start > sh->hash_end)
			return false;
		s->nshards = i + 1;
	}
	assert(s->nshards == n);
	return !r->bad;
}

static bool decode_tags(struct sl_br *r, struct sl_stream_meta *s)
{
	uint32_t n = sl_br_u32(r);

	if (r->bad || n > SL_KIN_TAGS_MAX || n > sl_br_left(r) / TAG_BYTES_MIN)
		return false;
	s->tags = calloc(n ? n : 1, sizeof(*s->tags));
	if (!s->tags)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		sl_br_str(r, s->tags[i].key, sizeof(s->tags[i].key));
		sl_br_str(r, s->tags[i].value, sizeof(s->tags[i].value));
		if (r->bad || (i > 0 && strcmp(s->tags[i - 1].key, s->tags[i].key) >= 0))
			return false; /* sorted, no duplicates */
		s->ntags = i + 1;
	}
	assert(s->ntags == n);
	return true;
}

struct sl_cobj *sl_stream_decode(const uint8_t *p, size_t n)
{
	struct sl_br r = sl_br_make(p, n);
	struct sl_stream_meta *s = calloc(1, sizeof(*s));
	char key[SL_KIN_KEY_ID_MAX + 1];

	if (!s)
		return NULL;
	s->hdr.type = SL_COBJ_STREAM;
	sl_br_str(&r, s->name, sizeof(s->name));
	sl_br_str(&r, s->region, sizeof(s->region));
	s->status = sl_br_u8(&r);
	s->mode = sl_br_u8(&r);
	uint8_t enc = sl_br_u8(&r);
	s->encrypted = enc != 0;
	s->retention_hours = sl_br_u32(&r);
	s->created_ms = (int64_t)sl_br_u64(&r);
	s->status_until_ms = (int64_t)sl_br_u64(&r);
	s->shard_metrics = sl_br_u32(&r);
	sl_br_str(&r, key, sizeof(key));
	bool ok = !r.bad && s->name[0] && s->region[0] && s->status <= SL_STREAM_UPDATING &&
		  s->mode <= SL_MODE_ON_DEMAND && enc <= 1;
	if (ok && key[0]) {
		s->key_id = strdup(key);
		ok = s->key_id != NULL;
	}
	ok = ok && decode_shards(&r, s) && decode_tags(&r, s) && !r.bad && sl_br_left(&r) == 0 &&
	     sl_stream_reindex(s) == 0;
	if (!ok) {
		sl_stream_free(&s->hdr);
		return NULL;
	}
	/* What the fuzzer checks, stated here for every decode. */
	assert(s->nopen <= s->nshards);
	assert(s->name[0] != '\0');
	return &s->hdr;
}
