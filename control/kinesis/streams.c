/* streams.c - Kinesis streams in the catalog: lookups, edits, counters, and
 * the migration of the old catalog.json. */
#include "control/kinesis/streams.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataplane/codec/doc.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/log.h"

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

/* A probe carries only the key: region and name. */
static bool probe_make(struct sl_stream_meta *p, const char *region, const char *name)
{
	size_t rl = strlen(region), nl = strlen(name);

	if (rl > SL_REGION_MAX || nl > SL_KIN_NAME_MAX)
		return false;
	p->hdr.type = SL_COBJ_STREAM;
	memcpy(p->region, region, rl + 1);
	memcpy(p->name, name, nl + 1);
	return true;
}

const struct sl_stream_meta *sl_stream_find(const struct sl_catalog *c, const char *region,
					    const char *name)
{
	struct sl_stream_meta probe;

	if (!probe_make(&probe, region, name))
		return NULL;
	return (const struct sl_stream_meta *)sl_catalog_lookup(c, &probe.hdr);
}

const struct sl_stream_meta *sl_stream_find_uid(const struct sl_catalog *c, uint64_t uid)
{
	const struct sl_cobj *o = sl_catalog_lookup_uid(c, uid);

	return o && o->type == SL_COBJ_STREAM ? (const struct sl_stream_meta *)o : NULL;
}

const struct sl_shard_meta *sl_stream_route(const struct sl_stream_meta *s, sl_u128 h)
{
	uint32_t lo = 0, hi = s->nopen;

	assert(s->nopen <= s->nshards);
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
	assert(lo < s->nopen);
	assert(s->open[lo] < s->nshards);
	const struct sl_shard_meta *sh = &s->shards[s->open[lo]];
	return h >= sh->hash_start && h <= sh->hash_end ? sh : NULL;
}

void sl_stream_arn(const struct sl_stream_meta *s, char out[SL_STREAM_ARN_MAX])
{
	snprintf(out, SL_STREAM_ARN_MAX, "arn:aws:kinesis:%s:%s:stream/%s", s->region,
		 sl_cfg->account_id, s->name);
}

struct walk_arg {
	const char *region;
	bool (*visit)(const struct sl_stream_meta *s, void *arg);
	void *arg;
};

static bool walk_one(void *obj, void *arg)
{
	struct walk_arg *wa = arg;
	const struct sl_stream_meta *s = obj;

	assert(s->hdr.type == SL_COBJ_STREAM); /* the walk is of the stream tree */
	return strcmp(s->region, wa->region) == 0 && wa->visit(s, wa->arg);
}

void sl_stream_walk(const struct sl_catalog *c, const char *region, const char *after,
		    bool (*visit)(const struct sl_stream_meta *s, void *arg), void *arg)
{
	struct sl_stream_meta probe;
	struct walk_arg wa = { region, visit, arg };

	/* The empty name sorts before every name of the region. */
	if (!probe_make(&probe, region, after ? after : ""))
		return;
	sl_catalog_walk(c, SL_COBJ_STREAM, &probe.hdr, after && after[0], walk_one, &wa);
}

/* ---- Counters ------------------------------------------------------------ */

struct region_count {
	char region[SL_REGION_MAX + 1];
	uint32_t open_shards;
	uint32_t on_demand;
};

/* One entry per region that has held a stream: at most as many as streams. */
static struct region_count *regions;
static uint32_t nregions;

static struct region_count *region_get(const char *region, bool add)
{
	for (uint32_t i = 0; i < nregions; i++) {
		if (strcmp(regions[i].region, region) == 0)
			return &regions[i];
	}
	assert(nregions <= SL_REGIONS_MAX);
	if (!add || nregions == SL_REGIONS_MAX)
		return NULL;
	struct region_count *p = realloc(regions, (nregions + 1) * sizeof(*p));
	if (!p)
		return NULL;
	regions = p;
	p = &regions[nregions++];
	memset(p, 0, sizeof(*p));
	snprintf(p->region, sizeof(p->region), "%s", region);
	return p;
}

static void stream_account(const struct sl_cobj *o, int sign)
{
	const struct sl_stream_meta *s = (const void *)o;
	struct region_count *rc = region_get(s->region, true);

	assert(sign == 1 || sign == -1);
	assert(s->nopen <= s->nshards);
	if (!rc)
		return; /* out of memory: the counts are low until a recount */
	rc->open_shards += (uint32_t)(sign * (int32_t)s->nopen);
	rc->on_demand += (uint32_t)(sign * (s->mode == SL_MODE_ON_DEMAND));
}

static void stream_reset(void)
{
	free(regions);
	regions = NULL;
	nregions = 0;
}

bool sl_streams_region_room(const char *region)
{
	return nregions < SL_REGIONS_MAX || region_get(region, false) != NULL;
}

uint32_t sl_streams_open_shards(const char *region)
{
	const struct region_count *rc = region_get(region, false);

	return rc ? rc->open_shards : 0;
}

uint32_t sl_streams_on_demand(const char *region)
{
	const struct region_count *rc = region_get(region, false);

	return rc ? rc->on_demand : 0;
}

/* ---- Writer -------------------------------------------------------------- */

struct sl_stream_meta *sl_stream_add(const char *region, const char *name)
{
	struct sl_stream_meta *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (!probe_make(s, region, name)) {
		free(s);
		return NULL;
	}
	return sl_catalog_insert(&s->hdr) == 0 ? s : NULL;
}

struct sl_stream_meta *sl_stream_edit(const struct sl_stream_meta *s)
{
	assert(s->hdr.type == SL_COBJ_STREAM);
	return (struct sl_stream_meta *)sl_catalog_edit(&s->hdr);
}

void sl_stream_remove(const struct sl_stream_meta *s)
{
	assert(s->hdr.type == SL_COBJ_STREAM);
	sl_catalog_remove(&s->hdr);
}

int sl_stream_set_key_id(struct sl_stream_meta *s, const char *key_id)
{
	char *k = key_id && key_id[0] ? strdup(key_id) : NULL;

	if (key_id && key_id[0] && !k)
		return -ENOMEM;
	free(s->key_id);
	s->key_id = k;
	return 0;
}

const struct sl_cobj_type sl_stream_type = {
	.name = "kinesis-stream",
	.cmp = sl_stream_cmp,
	.clone = sl_stream_clone,
	.free = sl_stream_free,
	.encode = sl_stream_encode,
	.decode = sl_stream_decode,
	.account = stream_account,
	.reset = stream_reset,
	.migrate = sl_stream_migrate,
};

/* ---- The old catalog.json -------------------------------------------------- */

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
	assert(sh->ordinal + 1 == s->nshards);
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
		assert(s->ntags < t[arr].count); /* the array was sized for every tag */
		struct sl_tag *tag = &s->tags[s->ntags++];
		if (sl_doc_str(&t[c + 1], tag->key, sizeof(tag->key)) < 0 ||
		    sl_doc_str(&t[c + 2], tag->value, sizeof(tag->value)) < 0)
			return -EINVAL;
	}
	return 0;
}

/* One stream of the old file, with its old uid (the directory name). */
static int load_stream(const struct sl_doc_tok *t, uint32_t o, uint64_t *max_uid)
{
	char name[SL_KIN_NAME_MAX + 1], region[SL_REGION_MAX + 1], key[SL_KIN_KEY_ID_MAX + 1];
	uint64_t uid = (uint64_t)get_int(t, o, "uid", 0);

	get_str(t, o, "name", name, sizeof(name));
	get_str(t, o, "region", region, sizeof(region));
	if (!name[0] || !region[0] || uid == 0)
		return -EINVAL;
	struct sl_stream_meta *s = sl_stream_add(region, name);
	if (!s)
		return -EINVAL;
	/* The uid names the stream's shard directory: keep it. Uids are only
	 * assigned in order here, so the old ones cannot collide once
	 * next_uid is raised past them (the caller does). */
	s->status = (uint8_t)get_int(t, o, "status", SL_STREAM_ACTIVE);
	s->mode = (uint8_t)get_int(t, o, "mode", 0);
	s->encrypted = get_int(t, o, "encrypted", 0) != 0;
	get_str(t, o, "key_id", key, sizeof(key));
	if (sl_stream_set_key_id(s, key) < 0)
		return -ENOMEM;
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
	if (sl_stream_reindex(s) < 0)
		return -ENOMEM;
	int rc = load_tags(t, sl_doc_get(t, o, "tags"), s);
	if (rc == 0)
		rc = sl_catalog_rekey_uid(&s->hdr, uid);
	if (*max_uid < uid)
		*max_uid = uid;
	return rc;
}

static void drop_old_file(void *arg)
{
	char *path = arg;

	if (unlink(path) < 0)
		sl_warn("catalog: cannot remove %s: %s", path, strerror(errno));
	free(path);
}

int sl_stream_migrate(const char *data_dir, bool *found)
{
	char path[PATH_MAX];
	struct stat st;

	*found = false;
	snprintf(path, sizeof(path), "%s/catalog.json", data_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > SL_CATALOG_FILE_MAX) {
		close(fd);
		return -EFBIG;
	}
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	ssize_t got = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	int rc = got == st.st_size ? 0 : -EIO;
	uint32_t max = (uint32_t)((size_t)st.st_size / 2 + 16);
	struct sl_doc_tok *t = rc == 0 ? malloc(max * sizeof(*t)) : NULL;
	if (rc == 0 && !t)
		rc = -ENOMEM;
	int n = rc == 0 ? sl_json_parse(buf, (size_t)got, t, max) : 0;
	if (rc == 0 && (n <= 0 || t[0].type != SL_DOC_OBJ))
		rc = -EINVAL;
	int arr = rc == 0 ? sl_doc_get(t, 0, "streams") : -1;
	if (rc == 0 && (arr < 0 || t[arr].type != SL_DOC_ARR))
		rc = -EINVAL;
	uint64_t max_uid = 0;
	uint32_t c = arr >= 0 ? sl_doc_first((uint32_t)arr) : 0;
	/* rc == 0 only with a parsed document whose "streams" is an array. */
	assert(rc != 0 || (t && arr > 0));
	for (uint32_t i = 0; rc == 0 && i < t[arr].count; i++, c = sl_doc_next(t, c))
		rc = load_stream(t, c, &max_uid);
	if (rc == 0) {
		uint64_t next = (uint64_t)get_int(t, 0, "next_uid", 1);
		rc = sl_catalog_raise_next_uid(next > max_uid ? next : max_uid + 1);
	}
	free(t);
	free(buf);
	if (rc < 0) {
		sl_error("catalog: %s is damaged (%s)", path, strerror(-rc));
		return rc;
	}
	char *copy = strdup(path);
	if (copy && sl_catalog_on_durable(drop_old_file, copy) < 0)
		free(copy);
	*found = true;
	sl_info("catalog: migrating %s to the catalog log", path);
	return 0;
}
