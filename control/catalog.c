/* catalog.c - the master catalog, its JSON file, and published snapshots. */
#include "control/catalog.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataplane/codec/doc.h"
#include "dataplane/codec/enc.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/log.h"
#include "dataplane/runtime/worker.h"


static struct sl_catalog master;
static _Atomic(const struct sl_catalog *) current;
static char catalog_path[PATH_MAX];
static char catalog_dir[PATH_MAX];

static struct {
	struct sl_catalog *snap;
	uint64_t epoch;
} retired[SL_RETIRED_MAX];
static uint32_t nretired;

/* ---- 128-bit numbers --------------------------------------------------- */

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
	for (int i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

uint16_t sl_shard_owner(uint64_t stream_uid, uint32_t ordinal, uint16_t nworkers)
{
	uint64_t h = (stream_uid * 0x9e3779b97f4a7c15ull) + ordinal;

	assert(nworkers > 0);
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return (uint16_t)(h % nworkers);
}

/* ---- Readers ----------------------------------------------------------- */

const struct sl_catalog *sl_catalog_get(void)
{
	return atomic_load_explicit(&current, memory_order_acquire);
}

static int stream_cmp(const char *region, const char *name, const struct sl_stream_meta *s)
{
	int c = strcmp(region, s->region);

	return c ? c : strcmp(name, s->name);
}

/* Index where (region, name) is or would be inserted. */
static uint32_t stream_lower_bound(const struct sl_catalog *c, const char *region, const char *name)
{
	uint32_t lo = 0, hi = c->nstreams;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (stream_cmp(region, name, &c->streams[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct sl_stream_meta *sl_catalog_find(const struct sl_catalog *c, const char *region,
					     const char *name)
{
	uint32_t i = stream_lower_bound(c, region, name);

	if (i < c->nstreams && stream_cmp(region, name, &c->streams[i]) == 0)
		return &c->streams[i];
	return NULL;
}

const struct sl_stream_meta *sl_catalog_find_uid(const struct sl_catalog *c, uint64_t uid)
{
	if (!c->by_uid) {
		/* The master copy (control thread) has no index. */
		for (uint32_t i = 0; i < c->nstreams; i++) {
			if (c->streams[i].uid == uid)
				return &c->streams[i];
		}
		return NULL;
	}
	uint32_t lo = 0, hi = c->nstreams;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (c->streams[c->by_uid[mid]].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->nstreams && c->streams[c->by_uid[lo]].uid == uid ? &c->streams[c->by_uid[lo]] :
									   NULL;
}

const struct sl_shard_meta *sl_stream_route(const struct sl_stream_meta *s, sl_u128 h)
{
	uint32_t lo = 0, hi = s->nopen;

	/* Last open shard starting at or below h; open ranges tile the space. */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (s->shards[s->open[mid]].hash_start <= h)
			lo = mid;
		else
			hi = mid;
	}
	if (s->nopen == 0)
		return NULL;
	const struct sl_shard_meta *sh = &s->shards[s->open[lo]];
	return h >= sh->hash_start && h <= sh->hash_end ? sh : NULL;
}

/* ---- Master edits ---------------------------------------------------------- */

struct sl_catalog *sl_catalog_master(void)
{
	return &master;
}

struct sl_stream_meta *sl_catalog_add_stream(struct sl_catalog *c, const char *region,
					     const char *name)
{
	uint32_t i = stream_lower_bound(c, region, name);
	struct sl_stream_meta *p = realloc(c->streams, (c->nstreams + 1) * sizeof(*p));

	if (!p)
		return NULL;
	c->streams = p;
	memmove(&p[i + 1], &p[i], (c->nstreams - i) * sizeof(*p));
	c->nstreams++;
	struct sl_stream_meta *s = &p[i];
	memset(s, 0, sizeof(*s));
	s->uid = c->next_uid++;
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->region, sizeof(s->region), "%s", region);
	snprintf(s->arn, sizeof(s->arn), "arn:aws:kinesis:%s:%s:stream/%s", region,
		 sl_cfg->account_id, name);
	return s;
}

static void stream_free(struct sl_stream_meta *s)
{
	free(s->shards);
	free(s->open);
	free(s->tags);
}

void sl_catalog_remove_stream(struct sl_catalog *c, struct sl_stream_meta *s)
{
	uint32_t i = (uint32_t)(s - c->streams);

	assert(i < c->nstreams);
	stream_free(s);
	memmove(&c->streams[i], &c->streams[i + 1], (c->nstreams - i - 1) * sizeof(*s));
	c->nstreams--;
}

struct sl_shard_meta *sl_stream_add_shard(struct sl_stream_meta *s, sl_u128 start, sl_u128 end,
					  int32_t parent, int32_t adjacent, int64_t now_ms)
{
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

static const struct sl_stream_meta *sort_stream;

static int open_cmp(const void *a, const void *b)
{
	sl_u128 x = sort_stream->shards[*(const uint32_t *)a].hash_start;
	sl_u128 y = sort_stream->shards[*(const uint32_t *)b].hash_start;

	return x < y ? -1 : x > y;
}

void sl_stream_reindex(struct sl_stream_meta *s)
{
	uint32_t n = 0;

	free(s->open);
	s->open = malloc((s->nshards ? s->nshards : 1) * sizeof(*s->open));
	if (!s->open) {
		s->nopen = 0;
		return;
	}
	for (uint32_t i = 0; i < s->nshards; i++) {
		if (!s->shards[i].closed)
			s->open[n++] = i;
	}
	s->nopen = n;
	sort_stream = s;
	qsort(s->open, n, sizeof(*s->open), open_cmp);
}

/* ---- Snapshots ------------------------------------------------------------ */

static void *dup_mem(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);

	if (q && n)
		memcpy(q, p, n);
	return q;
}

static void catalog_free(struct sl_catalog *c)
{
	for (uint32_t i = 0; i < c->nstreams; i++)
		stream_free(&c->streams[i]);
	free(c->streams);
	free(c->by_uid);
	free(c);
}

static const struct sl_catalog *sort_catalog;

static int uid_cmp(const void *a, const void *b)
{
	uint64_t x = sort_catalog->streams[*(const uint32_t *)a].uid;
	uint64_t y = sort_catalog->streams[*(const uint32_t *)b].uid;

	return x < y ? -1 : x > y;
}

/* Index the snapshot's streams by uid (GetRecords finds streams by uid). */
static int index_by_uid(struct sl_catalog *c)
{
	c->by_uid = malloc((c->nstreams ? c->nstreams : 1) * sizeof(*c->by_uid));
	if (!c->by_uid)
		return -ENOMEM;
	for (uint32_t i = 0; i < c->nstreams; i++)
		c->by_uid[i] = i;
	sort_catalog = c;
	qsort(c->by_uid, c->nstreams, sizeof(*c->by_uid), uid_cmp);
	return 0;
}

static struct sl_catalog *catalog_clone(const struct sl_catalog *m)
{
	struct sl_catalog *c = calloc(1, sizeof(*c));
	bool ok = c != NULL;

	if (!ok)
		return NULL;
	c->gen = m->gen;
	c->next_uid = m->next_uid;
	c->streams = dup_mem(m->streams, m->nstreams * sizeof(*m->streams));
	ok = c->streams != NULL;
	c->nstreams = ok ? m->nstreams : 0;
	for (uint32_t i = 0; ok && i < c->nstreams; i++) {
		struct sl_stream_meta *s = &c->streams[i];
		const struct sl_stream_meta *o = &m->streams[i];
		s->shards = dup_mem(o->shards, o->nshards * sizeof(*o->shards));
		s->open = dup_mem(o->open, o->nopen * sizeof(*o->open));
		s->tags = dup_mem(o->tags, o->ntags * sizeof(*o->tags));
		if (!s->shards || !s->open || !s->tags) {
			c->nstreams = i + 1;
			ok = false;
		}
	}
	if (!ok || index_by_uid(c) < 0) {
		catalog_free(c);
		return NULL;
	}
	return c;
}

void sl_catalog_reclaim(void)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < nretired; i++) {
		if (sl_qsbr_safe(retired[i].epoch))
			catalog_free(retired[i].snap);
		else
			retired[kept++] = retired[i];
	}
	nretired = kept;
}

static int publish(void)
{
	struct sl_catalog *snap = catalog_clone(&master);
	const struct sl_catalog *old;

	if (!snap)
		return -ENOMEM;
	old = atomic_exchange(&current, snap);
	if (!old)
		return 0;
	if (nretired == SL_RETIRED_MAX)
		sl_catalog_reclaim();
	if (nretired == SL_RETIRED_MAX) {
		/* Every slot is waiting on a worker stuck in one iteration:
		 * leak this one rather than free what may be in use. */
		sl_warn("catalog: retired-snapshot list full; leaking one snapshot");
		return 0;
	}
	retired[nretired].snap = (struct sl_catalog *)old;
	retired[nretired].epoch = sl_qsbr_retire();
	nretired++;
	return 0;
}

/* ---- Persistence ------------------------------------------------------------ */

static void encode_shard(struct sl_enc *e, const struct sl_shard_meta *sh)
{
	char num[40];

	sl_enc_obj_begin(e);
	sl_enc_key(e, "ordinal");
	sl_enc_int(e, sh->ordinal);
	sl_enc_key(e, "parent");
	sl_enc_int(e, sh->parent);
	sl_enc_key(e, "adjacent");
	sl_enc_int(e, sh->adjacent_parent);
	sl_enc_key(e, "closed");
	sl_enc_bool(e, sh->closed);
	sl_enc_key(e, "start");
	sl_u128_fmt(sh->hash_start, num);
	sl_enc_cstr(e, num);
	sl_enc_key(e, "end");
	sl_u128_fmt(sh->hash_end, num);
	sl_enc_cstr(e, num);
	sl_enc_key(e, "end_n");
	sl_enc_int(e, (int64_t)sh->end_n);
	sl_enc_key(e, "created_ms");
	sl_enc_int(e, sh->created_ms);
	sl_enc_key(e, "closed_ms");
	sl_enc_int(e, sh->closed_ms);
	sl_enc_obj_end(e);
}

static void encode_stream(struct sl_enc *e, const struct sl_stream_meta *s)
{
	sl_enc_obj_begin(e);
	sl_enc_key(e, "uid");
	sl_enc_int(e, (int64_t)s->uid);
	sl_enc_key(e, "name");
	sl_enc_cstr(e, s->name);
	sl_enc_key(e, "region");
	sl_enc_cstr(e, s->region);
	sl_enc_key(e, "status");
	sl_enc_int(e, s->status);
	sl_enc_key(e, "mode");
	sl_enc_int(e, s->mode);
	sl_enc_key(e, "encrypted");
	sl_enc_bool(e, s->encrypted);
	sl_enc_key(e, "key_id");
	sl_enc_cstr(e, s->key_id);
	sl_enc_key(e, "retention_hours");
	sl_enc_int(e, s->retention_hours);
	sl_enc_key(e, "created_ms");
	sl_enc_int(e, s->created_ms);
	sl_enc_key(e, "status_until_ms");
	sl_enc_int(e, s->status_until_ms);
	sl_enc_key(e, "shard_metrics");
	sl_enc_int(e, s->shard_metrics);
	sl_enc_key(e, "shards");
	sl_enc_arr_begin(e);
	for (uint32_t i = 0; i < s->nshards; i++)
		encode_shard(e, &s->shards[i]);
	sl_enc_arr_end(e);
	sl_enc_key(e, "tags");
	sl_enc_arr_begin(e);
	for (uint32_t i = 0; i < s->ntags; i++) {
		sl_enc_arr_begin(e);
		sl_enc_cstr(e, s->tags[i].key);
		sl_enc_cstr(e, s->tags[i].value);
		sl_enc_arr_end(e);
	}
	sl_enc_arr_end(e);
	sl_enc_obj_end(e);
}

static int write_file_durable(const char *path, const char *dir, const uint8_t *buf, size_t len)
{
	char tmp[PATH_MAX + 8];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int rc = n < 0 ? -errno : -EIO;
			close(fd);
			return rc;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		return -errno;
	if (rename(tmp, path) < 0)
		return -errno;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int rc = fsync(dfd) < 0 ? -errno : 0;
	close(dfd);
	return rc;
}

int sl_catalog_commit(void)
{
	struct sl_enc e;
	int rc = sl_enc_init(&e, SL_ENC_JSON, 4096);

	if (rc < 0)
		return rc;
	master.gen++;
	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "version");
	sl_enc_int(&e, 1);
	sl_enc_key(&e, "next_uid");
	sl_enc_int(&e, (int64_t)master.next_uid);
	sl_enc_key(&e, "streams");
	sl_enc_arr_begin(&e);
	for (uint32_t i = 0; i < master.nstreams; i++)
		encode_stream(&e, &master.streams[i]);
	sl_enc_arr_end(&e);
	sl_enc_obj_end(&e);
	rc = e.err ? e.err : write_file_durable(catalog_path, catalog_dir, e.buf, e.len);
	sl_enc_free(&e);
	if (rc < 0) {
		sl_error("catalog: cannot persist %s: %s", catalog_path, strerror(-rc));
		return rc;
	}
	return publish();
}

/* ---- Loading ------------------------------------------------------------ */

static int64_t get_int(const struct sl_doc_tok *t, uint32_t obj, const char *key, int64_t dflt)
{
	int i = sl_doc_get(t, obj, key);

	return i >= 0 && (t[i].type == SL_DOC_INT || t[i].type == SL_DOC_BOOL) ? t[i].i : dflt;
}

static void get_str(const struct sl_doc_tok *t, uint32_t obj, const char *key, char *out,
		    size_t cap)
{
	int i = sl_doc_get(t, obj, key);

	out[0] = '\0';
	if (i >= 0 && sl_doc_str(&t[i], out, cap) < 0)
		out[0] = '\0';
}

static int load_shard(const struct sl_doc_tok *t, uint32_t o, struct sl_stream_meta *s)
{
	char num[48];
	sl_u128 start, end;

	get_str(t, o, "start", num, sizeof(num));
	if (sl_u128_parse(num, strlen(num), &start) < 0)
		return -EINVAL;
	get_str(t, o, "end", num, sizeof(num));
	if (sl_u128_parse(num, strlen(num), &end) < 0)
		return -EINVAL;
	struct sl_shard_meta *sh = sl_stream_add_shard(s, start, end,
						       (int32_t)get_int(t, o, "parent", -1),
						       (int32_t)get_int(t, o, "adjacent", -1),
						       get_int(t, o, "created_ms", 0));
	if (!sh)
		return -ENOMEM;
	if ((int64_t)sh->ordinal != get_int(t, o, "ordinal", -1))
		return -EINVAL;
	sh->closed = get_int(t, o, "closed", 0) != 0;
	sh->end_n = (uint64_t)get_int(t, o, "end_n", 0);
	sh->closed_ms = get_int(t, o, "closed_ms", 0);
	return 0;
}

static int load_tags(const struct sl_doc_tok *t, int arr, struct sl_stream_meta *s)
{
	if (arr < 0 || t[arr].type != SL_DOC_ARR)
		return 0;
	s->tags = calloc(t[arr].count ? t[arr].count : 1, sizeof(*s->tags));
	if (!s->tags)
		return -ENOMEM;
	uint32_t c = sl_doc_first((uint32_t)arr);
	for (uint32_t i = 0; i < t[arr].count; i++, c = sl_doc_next(t, c)) {
		if (t[c].type != SL_DOC_ARR || t[c].count != 2)
			return -EINVAL;
		struct sl_tag *tag = &s->tags[s->ntags++];
		if (sl_doc_str(&t[c + 1], tag->key, sizeof(tag->key)) < 0 ||
		    sl_doc_str(&t[c + 2], tag->value, sizeof(tag->value)) < 0)
			return -EINVAL;
	}
	return 0;
}

static int load_stream(const struct sl_doc_tok *t, uint32_t o)
{
	char name[SL_KIN_NAME_MAX + 1], region[32];

	get_str(t, o, "name", name, sizeof(name));
	get_str(t, o, "region", region, sizeof(region));
	if (!name[0] || !region[0])
		return -EINVAL;
	uint64_t saved_next = master.next_uid;
	struct sl_stream_meta *s = sl_catalog_add_stream(&master, region, name);
	if (!s)
		return -ENOMEM;
	master.next_uid = saved_next;
	s->uid = (uint64_t)get_int(t, o, "uid", 0);
	s->status = (uint8_t)get_int(t, o, "status", SL_STREAM_ACTIVE);
	s->mode = (uint8_t)get_int(t, o, "mode", 0);
	s->encrypted = get_int(t, o, "encrypted", 0) != 0;
	get_str(t, o, "key_id", s->key_id, sizeof(s->key_id));
	s->retention_hours = (uint32_t)get_int(t, o, "retention_hours", SL_KIN_RETENTION_MIN_H);
	s->created_ms = get_int(t, o, "created_ms", 0);
	s->status_until_ms = get_int(t, o, "status_until_ms", 0);
	s->shard_metrics = (uint32_t)get_int(t, o, "shard_metrics", 0);
	int arr = sl_doc_get(t, o, "shards");
	if (arr < 0 || t[arr].type != SL_DOC_ARR)
		return -EINVAL;
	uint32_t c = sl_doc_first((uint32_t)arr);
	for (uint32_t i = 0; i < t[arr].count; i++, c = sl_doc_next(t, c)) {
		int rc = load_shard(t, c, s);
		if (rc < 0)
			return rc;
	}
	sl_stream_reindex(s);
	return load_tags(t, sl_doc_get(t, o, "tags"), s);
}

static int load_doc(const uint8_t *buf, size_t len)
{
	uint32_t max = (uint32_t)(len / 2 + 16);
	struct sl_doc_tok *t = malloc(max * sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	int n = sl_json_parse(buf, len, t, max);
	if (n <= 0 || t[0].type != SL_DOC_OBJ) {
		free(t);
		return -EINVAL;
	}
	master.next_uid = (uint64_t)get_int(t, 0, "next_uid", 1);
	int arr = sl_doc_get(t, 0, "streams");
	rc = arr >= 0 && t[arr].type == SL_DOC_ARR ? 0 : -EINVAL;
	uint32_t c = arr >= 0 ? sl_doc_first((uint32_t)arr) : 0;
	for (uint32_t i = 0; rc == 0 && i < t[arr].count; i++, c = sl_doc_next(t, c))
		rc = load_stream(t, c);
	free(t);
	return rc;
}

int sl_catalog_init(const char *data_dir)
{
	struct stat st;

	snprintf(catalog_dir, sizeof(catalog_dir), "%s", data_dir);
	snprintf(catalog_path, sizeof(catalog_path), "%s/catalog.json", data_dir);
	master.next_uid = 1;
	int fd = open(catalog_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return -errno;
	if (fd >= 0) {
		if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > SL_CATALOG_FILE_MAX) {
			close(fd);
			return -EFBIG;
		}
		uint8_t *buf = malloc((size_t)st.st_size + 1);
		ssize_t got = buf ? read(fd, buf, (size_t)st.st_size) : -1;
		close(fd);
		int rc = got == st.st_size ? load_doc(buf, (size_t)got) : -EIO;
		free(buf);
		if (rc < 0) {
			sl_error("catalog: %s is damaged (%s)", catalog_path, strerror(-rc));
			return rc;
		}
	}
	return publish();
}

void sl_catalog_fini(void)
{
	const struct sl_catalog *cur = atomic_exchange(&current, NULL);

	for (uint32_t i = 0; i < nretired; i++)
		catalog_free(retired[i].snap);
	nretired = 0;
	if (cur)
		catalog_free((struct sl_catalog *)cur);
	for (uint32_t i = 0; i < master.nstreams; i++)
		stream_free(&master.streams[i]);
	free(master.streams);
	memset(&master, 0, sizeof(master));
}
