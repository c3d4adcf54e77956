/* meta.c - Kinesis metadata operations, run on the control thread.
 *
 * Each handler validates, changes the master catalog and writes the reply.
 * The runtime sends the reply once the catalog batch holding the change is
 * durable (catalog.h); a stream is changed only through sl_stream_edit(). Resharding first asks the owner of every
 * parent shard to close its log, so the parent's last sequence number is
 * exact before the children become routable.
 */
#include "control/kinesis/meta.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataplane/codec/enc.h"
#include "dataplane/net/server.h"
#include "dataplane/services/kinesis/tokens.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/log.h"
#include "dataplane/storage/shardlog.h"
#include "dataplane/runtime/worker.h"
#include "dataplane/services/kinesis/kinesis.h"

#define SL_DESCRIBE_LIMIT_DEFAULT 100
#define SL_LIST_STREAMS_DEFAULT 100
#define SL_LIST_SHARDS_DEFAULT 1000
#define SL_TAGS_LIST_DEFAULT 50

static const sl_u128 HASH_MAX = ~(sl_u128)0;

static struct sl_doc_tok *ctl_toks;

static int64_t now_ms(void)
{
	return sl_now_ms();
}

/* Parse and resolve the stream against the master catalog. The result is
 * for reading: edit_stream() gives the version to change. */
static struct sl_stream_meta *meta_stream(struct sl_req *req, struct sl_fields *f)
{
	assert(ctl_toks); /* sl_kinesis_ctl_install() ran before any request */
	if (sl_fields_parse(req, ctl_toks, SL_DOC_TOKS_MAX, f) < 0)
		return NULL;
	return (struct sl_stream_meta *)sl_kin_stream(f, sl_catalog_master());
}

/* The version of s this batch may change, or NULL with the error set. */
static struct sl_stream_meta *edit_stream(struct sl_req *req, const struct sl_stream_meta *s)
{
	struct sl_stream_meta *m = sl_stream_edit(s);

	if (!m)
		sl_req_error(req, 500, "InternalFailure", "out of memory");
	assert(!m || m->hdr.uid == s->hdr.uid); /* a version of the same stream */
	return m;
}

static void enc_arn(struct sl_enc *e, const struct sl_stream_meta *s)
{
	char arn[SL_STREAM_ARN_MAX];

	sl_stream_arn(s, arn);
	sl_enc_cstr(e, arn);
}

/* Streams in CREATING, UPDATING or DELETING, by uid: the control tick ends
 * their transitions without visiting every stream. Entries whose stream is
 * gone or ACTIVE are dropped there. */
static struct {
	uint64_t *uid;
	uint32_t n, cap;
} transit;

static void transit_add(uint64_t uid)
{
	if (transit.n == transit.cap) {
		uint32_t cap = transit.cap ? transit.cap * 2 : 64;
		uint64_t *p = realloc(transit.uid, cap * sizeof(*p));
		if (!p)
			return; /* the stream stays in its state until a restart */
		transit.uid = p;
		transit.cap = cap;
	}
	assert(transit.n < transit.cap);
	transit.uid[transit.n++] = uid;
}

static void in_use(struct sl_req *req, const struct sl_stream_meta *s)
{
	assert(s->status != SL_STREAM_ACTIVE); /* callers checked */
	sl_req_error(req, 400, "ResourceInUseException",
		     "Stream %s under account %s not ACTIVE, instead in state %s", s->name,
		     sl_cfg->account_id, sl_kin_status_name(s->status));
}

static void set_transition(struct sl_stream_meta *s, uint8_t status)
{
	assert(status != SL_STREAM_ACTIVE); /* a transition ends in ACTIVE (or removal) */
	assert(status <= SL_STREAM_UPDATING);
	if (sl_cfg->create_delay_ms == 0) {
		s->status = status == SL_STREAM_DELETING ? status : SL_STREAM_ACTIVE;
		return;
	}
	s->status = status;
	s->status_until_ms = now_ms() + sl_cfg->create_delay_ms;
	transit_add(s->hdr.uid);
}

/* floor(i * 2^128 / n) without 256-bit arithmetic. */
static sl_u128 split_point(uint32_t i, uint32_t n)
{
	/* Callers ask for the start of shard i of n; the last one ends at
	 * HASH_MAX without asking for split_point(n, n). */
	assert(n > 0);
	assert(i < n);
	sl_u128 q = HASH_MAX / n, r1 = HASH_MAX % n + 1;

	return q * i + r1 * i / n;
}

/* ---- Tags ------------------------------------------------------------------ */

static int tag_find(const struct sl_stream_meta *s, const char *key)
{
	for (uint32_t i = 0; i < s->ntags; i++) {
		if (strcmp(s->tags[i].key, key) == 0)
			return (int)i;
	}
	return -1;
}

static int tag_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sl_tag *)a)->key, ((const struct sl_tag *)b)->key);
}

/* Merge a TagMap object (token m) into s. 0, or -1 with the error set. */
static int tags_merge(struct sl_req *req, const struct sl_doc_tok *t, int m,
		      struct sl_stream_meta *s)
{
	uint32_t c = sl_doc_first((uint32_t)m);
	struct sl_tag tag;

	assert(m > 0); /* from sl_field_obj(): a member, never the root */
	assert(t[m].type == SL_DOC_OBJ);
	if (t[m].count < 1) {
		sl_err_validation(req, "1 validation error detected: Value '{}' at 'tags' failed to "
				       "satisfy constraint: Member must have length greater than or "
				       "equal to 1");
		return -1;
	}
	for (uint32_t i = 0; i < t[m].count; i++, c = sl_doc_next(t, t[c].end)) {
		int kl = sl_doc_str(&t[c], tag.key, sizeof(tag.key));
		int vl = t[t[c].end].type == SL_DOC_STR ?
				 sl_doc_str(&t[t[c].end], tag.value, sizeof(tag.value)) : -3;
		if (kl < 1 || vl < 0) {
			sl_err_validation(req, "1 validation error detected: Value at 'tags' failed to "
					       "satisfy constraint: Map keys must have length 1-128 and "
					       "values 0-256");
			return -1;
		}
		int at = tag_find(s, tag.key);
		if (at >= 0) {
			s->tags[at] = tag;
			continue;
		}
		if (s->ntags >= SL_KIN_TAGS_MAX) {
			sl_req_error(req, 400, "InvalidArgumentException",
				     "Failed to add tags to stream %s under account %s because a "
				     "given stream cannot have more than %d tags.", s->name,
				     sl_cfg->account_id, SL_KIN_TAGS_MAX);
			return -1;
		}
		struct sl_tag *p = realloc(s->tags, (s->ntags + 1) * sizeof(*p));
		if (!p) {
			sl_req_error(req, 500, "InternalFailure", "out of memory");
			return -1;
		}
		s->tags = p;
		s->tags[s->ntags++] = tag;
	}
	qsort(s->tags, s->ntags, sizeof(*s->tags), tag_cmp);
	return 0;
}

/* ---- CreateStream / DeleteStream ---------------------------------------------- */

static int create_args(struct sl_req *req, struct sl_fields *f, char *name, int64_t *shards,
		       uint8_t *mode)
{
	bool present;
	char region[32];

	if (sl_field_str(f, "StreamName", name, SL_KIN_NAME_MAX + 1, 1, SL_KIN_NAME_MAX, true,
			 &present) < 0 ||
	    sl_kin_stream_ref(f, name, region) < 0)
		return -1;
	int r = sl_field_int(f, "ShardCount", 1, INT32_MAX, false, shards);
	if (r < 0)
		return -1;
	int md = sl_field_obj(f, "StreamModeDetails", false);
	if (md < 0)
		return -1;
	*mode = SL_MODE_PROVISIONED;
	if (md > 0) {
		struct sl_fields mf = { req, f->t, (uint32_t)md };
		char m[32];
		if (sl_field_str(&mf, "StreamMode", m, sizeof(m), 1, 31, true, &present) < 0)
			return -1;
		if (strcmp(m, "ON_DEMAND") == 0) {
			*mode = SL_MODE_ON_DEMAND;
		} else if (strcmp(m, "PROVISIONED") != 0) {
			sl_err_validation(req, "1 validation error detected: Value '%s' at "
					       "'streamModeDetails.streamMode' failed to satisfy "
					       "constraint: Member must satisfy enum value set: "
					       "[PROVISIONED, ON_DEMAND]", m);
			return -1;
		}
	}
	if (r == SL_FIELD_ABSENT) {
		if (*mode == SL_MODE_PROVISIONED) {
			sl_req_error(req, 400, "ValidationException",
				     "1 validation error detected: Value null at 'shardCount' failed "
				     "to satisfy constraint: Member must not be null for PROVISIONED "
				     "streams");
			return -1;
		}
		*shards = SL_KIN_ON_DEMAND_SHARDS;
	}
	assert(*shards >= 1);
	assert(*mode == SL_MODE_PROVISIONED || *mode == SL_MODE_ON_DEMAND);
	return 0;
}

void sl_kin_create_stream(struct sl_req *req)
{
	struct sl_fields f;
	char name[SL_KIN_NAME_MAX + 1];
	int64_t shards = 0;
	uint8_t mode;

	if (sl_fields_parse(req, ctl_toks, SL_DOC_TOKS_MAX, &f) < 0 ||
	    create_args(req, &f, name, &shards, &mode) < 0)
		return;
	if (sl_stream_find(sl_catalog_master(), req->region, name)) {
		sl_req_error(req, 400, "ResourceInUseException",
			     "Stream %s under account %s already exists.", name, sl_cfg->account_id);
		return;
	}
	if (!sl_streams_region_room(req->region)) {
		sl_req_error(req, 400, "LimitExceededException",
			     "Streams exist in %d regions already, the most this server keeps; "
			     "region %s is not one of them.", SL_REGIONS_MAX, req->region);
		return;
	}
	if (shards > SL_KIN_SHARDS_PER_STREAM_MAX ||
	    sl_streams_open_shards(req->region) + shards > SL_KIN_SHARD_LIMIT) {
		sl_req_error(req, 400, "LimitExceededException",
			     "This request would exceed the shard limit for the account %s in %s. "
			     "Current shard count for the account: %u. Limit: %d. Number of "
			     "additional shards that would have resulted from this request: %lld.",
			     sl_cfg->account_id, req->region, sl_streams_open_shards(req->region),
			     SL_KIN_SHARD_LIMIT, (long long)shards);
		return;
	}
	int tags = sl_field_obj(&f, "Tags", false);
	if (tags < 0)
		return;
	struct sl_stream_meta *s = sl_stream_add(req->region, name);
	if (!s) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		return;
	}
	/* Validated above: the uint32_t casts below rely on it. */
	assert(shards <= SL_KIN_SHARDS_PER_STREAM_MAX);
	s->mode = mode;
	s->retention_hours = SL_KIN_RETENTION_MIN_H;
	s->created_ms = now_ms();
	for (uint32_t i = 0; i < (uint32_t)shards; i++) {
		sl_u128 end = i + 1 == shards ? HASH_MAX : split_point(i + 1, (uint32_t)shards) - 1;
		if (!sl_stream_add_shard(s, split_point(i, (uint32_t)shards), end, -1, -1,
					 s->created_ms)) {
			sl_stream_remove(s);
			sl_req_error(req, 500, "InternalFailure", "out of memory");
			return;
		}
	}
	if (sl_stream_reindex(s) < 0) {
		sl_stream_remove(s);
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		return;
	}
	/* A new stream's shards are all open and tile the hash space. */
	assert(s->nopen == (uint32_t)shards);
	assert(s->shards[s->open[s->nopen - 1]].hash_end == HASH_MAX);
	if (tags > 0 && tags_merge(req, f.t, tags, s) < 0) {
		sl_stream_remove(s);
		return;
	}
	set_transition(s, SL_STREAM_CREATING);
	/* Its shards' logs, made ahead (named durably with this pass's commit):
	 * the first PutRecords then waits for no file to be made. */
	for (uint32_t i = 0; i < (uint32_t)shards; i++)
		sl_worker_log_premake(s->hdr.uid, i);
	sl_catalog_commit();
}

struct drop_call {
	struct sl_msg msg;
	uint64_t uid;
	uint32_t ordinal;
	int rc;
};

static void drop_call_fn(struct sl_worker *w, struct sl_msg *msg)
{
	struct drop_call *d = msg->arg;

	assert(sl_shard_owner(d->uid, d->ordinal, sl_worker_count()) == sl_worker_index(w));
	d->rc = sl_worker_drop_log(w, d->uid, d->ordinal);
	if (d->rc == -EBUSY) {
		/* A flush is in flight: try again next iteration. */
		msg->type = SL_MSG_CALL;
		sl_worker_defer(w, msg);
		return;
	}
	sl_msg_reply(w, msg);
}

/* Delete every shard log of a stream (by asking each owner). */
static void drop_logs(uint64_t uid, uint32_t n)
{
	struct drop_call *d = calloc(n ? n : 1, sizeof(*d));
	struct sl_msg **msgs = calloc(n ? n : 1, sizeof(*msgs));
	uint16_t *to = calloc(n ? n : 1, sizeof(*to));
	char dir[PATH_MAX];

	sl_worker_logs_premade_forget(uid);
	if (d && msgs && to) {
		for (uint32_t i = 0; i < n; i++) {
			d[i].uid = uid;
			d[i].ordinal = i;
			d[i].msg.fn = drop_call_fn;
			d[i].msg.arg = &d[i];
			msgs[i] = &d[i].msg;
			to[i] = sl_shard_owner(uid, i, sl_worker_count());
		}
		sl_control_call_wait(msgs, to, n);
		/* The owners handed their directories back for deletion; those
		 * calls wait for this thread: run them before the stream's own
		 * directory goes. */
		sl_control_poll();
	}
	sl_log_dir(uid, dir, sizeof(dir));
	sl_shardlog_remove(dir);
	free(d);
	free(msgs);
	free(to);
}

struct drop_later {
	uint64_t uid;
	uint32_t nshards;
};

static void drop_durable(void *arg)
{
	struct drop_later *dl = arg;

	drop_logs(dl->uid, dl->nshards);
	free(dl);
}

/* Remove s; its shard logs go once the removal is durable (a crash before
 * that keeps both; one after it leaves orphans that start-up removes). */
static int remove_stream(const struct sl_stream_meta *s)
{
	struct drop_later *dl = malloc(sizeof(*dl));

	if (!dl)
		return -ENOMEM;
	dl->uid = s->hdr.uid;
	dl->nshards = s->nshards;
	if (sl_catalog_on_durable(drop_durable, dl) < 0) {
		free(dl);
		return -ENOMEM;
	}
	sl_stream_remove(s);
	sl_catalog_commit();
	return 0;
}

void sl_kin_delete_stream(struct sl_req *req)
{
	struct sl_fields f;
	struct sl_stream_meta *s = meta_stream(req, &f);
	bool enforce = false;

	if (!s || sl_field_bool(&f, "EnforceConsumerDeletion", &enforce) < 0)
		return;
	if (sl_cfg->create_delay_ms) {
		if (!(s = edit_stream(req, s)))
			return;
		set_transition(s, SL_STREAM_DELETING);
		sl_catalog_commit();
		return;
	}
	if (remove_stream(s) < 0)
		sl_req_error(req, 500, "InternalFailure", "out of memory");
}

/* ---- Describe / List ----------------------------------------------------------- */

static void encode_mode(struct sl_enc *e, const struct sl_stream_meta *s)
{
	sl_enc_key(e, "StreamModeDetails");
	sl_enc_obj_begin(e);
	sl_enc_key(e, "StreamMode");
	sl_enc_cstr(e, s->mode == SL_MODE_ON_DEMAND ? "ON_DEMAND" : "PROVISIONED");
	sl_enc_obj_end(e);
}

static const char *const metric_names[] = {
	"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
	"WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
	"IteratorAgeMilliseconds",
};
#define SL_METRICS_N 7
_Static_assert(sizeof(metric_names) / sizeof(metric_names[0]) == SL_METRICS_N, "a name per bit");

static void encode_metric_list(struct sl_enc *e, uint32_t bits)
{
	sl_enc_arr_begin(e);
	for (int i = 0; i < SL_METRICS_N; i++) {
		if (bits & (1u << i))
			sl_enc_cstr(e, metric_names[i]);
	}
	sl_enc_arr_end(e);
}

/* Fields common to StreamDescription and StreamDescriptionSummary. */
static void encode_stream_common(struct sl_enc *e, const struct sl_stream_meta *s)
{
	sl_enc_key(e, "StreamName");
	sl_enc_cstr(e, s->name);
	sl_enc_key(e, "StreamARN");
	enc_arn(e, s);
	sl_enc_key(e, "StreamStatus");
	sl_enc_cstr(e, sl_kin_status_name(s->status));
	encode_mode(e, s);
	sl_enc_key(e, "RetentionPeriodHours");
	sl_enc_int(e, s->retention_hours);
	sl_enc_key(e, "StreamCreationTimestamp");
	sl_enc_time_ms(e, s->created_ms);
	sl_enc_key(e, "EnhancedMonitoring");
	sl_enc_arr_begin(e);
	sl_enc_obj_begin(e);
	sl_enc_key(e, "ShardLevelMetrics");
	encode_metric_list(e, s->shard_metrics);
	sl_enc_obj_end(e);
	sl_enc_arr_end(e);
	sl_enc_key(e, "EncryptionType");
	sl_enc_cstr(e, s->encrypted ? "KMS" : "NONE");
	if (s->encrypted) {
		sl_enc_key(e, "KeyId");
		sl_enc_cstr(e, sl_stream_key_id(s));
	}
}

void sl_kin_describe_stream(struct sl_req *req)
{
	struct sl_fields f;
	struct sl_stream_meta *s = meta_stream(req, &f);
	int64_t limit = SL_DESCRIBE_LIMIT_DEFAULT;
	char start[130];
	bool has_start;
	struct sl_enc *e = &req->out;

	if (!s || sl_field_int(&f, "Limit", 1, 10000, false, &limit) < 0 ||
	    sl_field_str(&f, "ExclusiveStartShardId", start, sizeof(start), 1, 128, false,
			 &has_start) < 0)
		return;
	int64_t after = has_start ? sl_kin_shard_parse(start) : -1;
	if (has_start && after < 0)
		after = -1;
	sl_enc_obj_begin(e);
	sl_enc_key(e, "StreamDescription");
	sl_enc_obj_begin(e);
	encode_stream_common(e, s);
	sl_enc_key(e, "Shards");
	sl_enc_arr_begin(e);
	int64_t listed = 0;
	/* Past the last shard (shardId-004294967295 included): nothing. */
	uint32_t i = after + 1 >= (int64_t)s->nshards ? s->nshards : (uint32_t)(after + 1);
	for (; i < s->nshards && listed < limit; i++) {
		if (sl_kin_shard_expired(s, &s->shards[i], now_ms()))
			continue;
		sl_kin_encode_shard(e, &s->shards[i]);
		listed++;
	}
	sl_enc_arr_end(e);
	sl_enc_key(e, "HasMoreShards");
	sl_enc_bool(e, i < s->nshards);
	sl_enc_obj_end(e);
	sl_enc_obj_end(e);
}

void sl_kin_describe_stream_summary(struct sl_req *req)
{
	struct sl_fields f;
	struct sl_stream_meta *s = meta_stream(req, &f);
	struct sl_enc *e = &req->out;

	if (!s)
		return;
	sl_enc_obj_begin(e);
	sl_enc_key(e, "StreamDescriptionSummary");
	sl_enc_obj_begin(e);
	encode_stream_common(e, s);
	sl_enc_key(e, "OpenShardCount");
	sl_enc_int(e, s->nopen);
	sl_enc_key(e, "ConsumerCount");
	sl_enc_int(e, 0);
	sl_enc_obj_end(e);
	sl_enc_obj_end(e);
}

/* NextToken for ListStreams / ListShards (control/kinesis/tokens.c). */
static void token_write(struct sl_enc *e, uint64_t uid, const char *pos)
{
	char text[512];
	size_t len = sl_kin_token_pack(uid, pos, now_ms(), text, sizeof(text));

	sl_enc_str(e, text, len);
}

static int token_read(const char *tok, uint64_t *uid, char *pos, size_t cap, int64_t *ms)
{
	return sl_kin_token_unpack(tok, strlen(tok), uid, pos, cap, ms);
}

struct list_page {
	const struct sl_stream_meta **s;
	uint32_t n, want;
};

static bool list_one(const struct sl_stream_meta *s, void *arg)
{
	struct list_page *pg = arg;

	/* The walk stops once the page is full (the false below). */
	assert(pg->n < pg->want);
	pg->s[pg->n++] = s;
	return pg->n < pg->want;
}

void sl_kin_list_streams(struct sl_req *req)
{
	struct sl_fields f;
	int64_t limit = SL_LIST_STREAMS_DEFAULT, ms;
	char start[SL_KIN_NAME_MAX + 1], token[1024];
	bool has_start, has_token;
	uint64_t uid;
	struct sl_enc *e = &req->out;

	if (sl_fields_parse(req, ctl_toks, SL_DOC_TOKS_MAX, &f) < 0 ||
	    sl_field_int(&f, "Limit", 1, 10000, false, &limit) < 0 ||
	    sl_field_str(&f, "ExclusiveStartStreamName", start, sizeof(start), 1, SL_KIN_NAME_MAX,
			 false, &has_start) < 0 ||
	    sl_field_str(&f, "NextToken", token, sizeof(token), 1, sizeof(token) - 1, false,
			 &has_token) < 0)
		return;
	if (has_token && token_read(token, &uid, start, sizeof(start), &ms) < 0) {
		sl_req_error(req, 400, "InvalidArgumentException", "Invalid NextToken.");
		return;
	}
	has_start = has_start || has_token;
	struct list_page pg = { .want = (uint32_t)limit + 1 };
	pg.s = malloc(pg.want * sizeof(*pg.s));
	if (!pg.s) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		return;
	}
	sl_stream_walk(sl_catalog_master(), req->region, has_start ? start : NULL, list_one, &pg);
	assert(pg.n <= pg.want);
	bool more = pg.n > (uint32_t)limit;
	uint32_t listed = more ? (uint32_t)limit : pg.n;
	assert(!more || listed > 0); /* the token names the last stream listed */
	sl_enc_obj_begin(e);
	sl_enc_key(e, "StreamNames");
	sl_enc_arr_begin(e);
	for (uint32_t k = 0; k < listed; k++)
		sl_enc_cstr(e, pg.s[k]->name);
	sl_enc_arr_end(e);
	sl_enc_key(e, "HasMoreStreams");
	sl_enc_bool(e, more);
	if (more) {
		sl_enc_key(e, "NextToken");
		token_write(e, 0, pg.s[listed - 1]->name);
	}
	sl_enc_key(e, "StreamSummaries");
	sl_enc_arr_begin(e);
	for (uint32_t k = 0; k < listed; k++) {
		const struct sl_stream_meta *s = pg.s[k];
		sl_enc_obj_begin(e);
		sl_enc_key(e, "StreamName");
		sl_enc_cstr(e, s->name);
		sl_enc_key(e, "StreamARN");
		enc_arn(e, s);
		sl_enc_key(e, "StreamStatus");
		sl_enc_cstr(e, sl_kin_status_name(s->status));
		encode_mode(e, s);
		sl_enc_key(e, "StreamCreationTimestamp");
		sl_enc_time_ms(e, s->created_ms);
		sl_enc_obj_end(e);
	}
	sl_enc_arr_end(e);
	sl_enc_obj_end(e);
	free(pg.s);
}

enum shard_filter { SF_NONE = -1, SF_AFTER_ID = 0, SF_AT_TRIM, SF_FROM_TRIM, SF_AT_LATEST,
		    SF_AT_TIME, SF_FROM_TIME };

static bool shard_passes(const struct sl_stream_meta *s, const struct sl_shard_meta *sh, int type,
			 int64_t after, int64_t ts)
{
	int64_t horizon = now_ms() - (int64_t)s->retention_hours * 3600 * 1000;

	assert(type >= SF_NONE);
	assert(type <= SF_FROM_TIME);

	/* AT_TRIM_HORIZON: the shards open at the trim horizon (or at the
	 * stream's creation, when that is later); FROM_TRIM_HORIZON: every shard
	 * with data still within retention. */
	int64_t at = horizon > s->created_ms ? horizon : s->created_ms;

	switch (type) {
	case SF_AFTER_ID: return (int64_t)sh->ordinal > after;
	case SF_AT_TRIM: return sh->created_ms <= at && (!sh->closed || sh->closed_ms > at);
	case SF_FROM_TRIM: return !sh->closed || sh->closed_ms >= horizon;
	case SF_AT_LATEST: return !sh->closed;
	case SF_AT_TIME: return sh->created_ms <= ts && (!sh->closed || sh->closed_ms > ts);
	case SF_FROM_TIME: return !sh->closed || sh->closed_ms >= ts;
	default: return !sl_kin_shard_expired(s, sh, now_ms());
	}
}

static int shard_filter_args(struct sl_req *req, struct sl_fields *f, int *type, int64_t *after,
			     int64_t *ts)
{
	static const char *const names[] = { "AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON",
					     "AT_LATEST", "AT_TIMESTAMP", "FROM_TIMESTAMP" };
	int o = sl_field_obj(f, "ShardFilter", false);
	char ty[32], id[130];
	bool present, has_id;

	*type = SF_NONE;
	if (o <= 0)
		return o;
	struct sl_fields ff = { req, f->t, (uint32_t)o };
	if (sl_field_str(&ff, "Type", ty, sizeof(ty), 1, 31, true, &present) < 0 ||
	    sl_field_str(&ff, "ShardId", id, sizeof(id), 1, 128, false, &has_id) < 0)
		return -1;
	int tr = sl_field_time(&ff, "Timestamp", false, ts);
	if (tr < 0)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (strcmp(ty, names[i]) == 0)
			*type = i;
	}
	if (*type == SF_NONE) {
		sl_err_validation(req, "1 validation error detected: Value '%s' at 'shardFilter.type' "
				       "failed to satisfy constraint: Member must satisfy enum value "
				       "set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, "
				       "AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]", ty);
		return -1;
	}
	if (*type == SF_AFTER_ID && (!has_id || (*after = sl_kin_shard_parse(id)) < 0)) {
		sl_req_error(req, 400, "InvalidArgumentException",
			     "ShardId must be specified for AFTER_SHARD_ID ShardFilter type.");
		return -1;
	}
	if ((*type == SF_AT_TIME || *type == SF_FROM_TIME) && tr == SL_FIELD_ABSENT) {
		sl_req_error(req, 400, "InvalidArgumentException",
			     "Timestamp must be specified for %s ShardFilter type.", ty);
		return -1;
	}
	assert(*type != SF_NONE);
	assert(*type != SF_AFTER_ID || *after >= 0);
	return 1;
}

void sl_kin_list_shards(struct sl_req *req)
{
	struct sl_fields f;
	int64_t limit = SL_LIST_SHARDS_DEFAULT, after = -1, ts = 0, ms;
	char token[1024], start[130], pos[64];
	bool has_token, has_start;
	int type;
	struct sl_enc *e = &req->out;
	struct sl_stream_meta *s = NULL;

	if (sl_fields_parse(req, ctl_toks, SL_DOC_TOKS_MAX, &f) < 0 ||
	    sl_field_str(&f, "NextToken", token, sizeof(token), 1, sizeof(token) - 1, false,
			 &has_token) < 0 ||
	    sl_field_int(&f, "MaxResults", 1, 10000, false, &limit) < 0 ||
	    sl_field_str(&f, "ExclusiveStartShardId", start, sizeof(start), 1, 128, false,
			 &has_start) < 0 ||
	    shard_filter_args(req, &f, &type, &after, &ts) < 0)
		return;
	if (has_token) {
		uint64_t uid;
		if (sl_doc_get(f.t, 0, "StreamName") >= 0 || sl_doc_get(f.t, 0, "StreamARN") >= 0) {
			sl_req_error(req, 400, "InvalidArgumentException",
				     "NextToken and StreamName cannot be provided together.");
			return;
		}
		if (token_read(token, &uid, pos, sizeof(pos), &ms) < 0 ||
		    !(s = (struct sl_stream_meta *)sl_stream_find_uid(sl_catalog_master(), uid))) {
			sl_req_error(req, 400, "InvalidArgumentException", "Invalid NextToken.");
			return;
		}
		if (now_ms() - ms > SL_KIN_NEXT_TOKEN_TTL_MS) {
			sl_req_error(req, 400, "ExpiredNextTokenException", "Expired NextToken.");
			return;
		}
		after = strtoll(pos, NULL, 10);
		if (type == SF_AFTER_ID)
			type = SF_NONE;
	} else {
		s = (struct sl_stream_meta *)sl_kin_stream(&f, sl_catalog_master());
		if (!s)
			return;
		if (has_start && type != SF_AFTER_ID)
			after = sl_kin_shard_parse(start);
	}
	int64_t listed = 0;
	uint32_t i = after + 1 >= (int64_t)s->nshards ? s->nshards :
		     (uint32_t)(after + 1 > 0 ? after + 1 : 0);
	uint32_t last = 0;
	sl_enc_obj_begin(e);
	sl_enc_key(e, "Shards");
	sl_enc_arr_begin(e);
	for (; i < s->nshards && listed < limit; i++) {
		if (!shard_passes(s, &s->shards[i], type, after, ts))
			continue;
		sl_kin_encode_shard(e, &s->shards[i]);
		listed++;
		last = i;
	}
	sl_enc_arr_end(e);
	bool more = false;
	for (uint32_t k = i; k < s->nshards && !more; k++)
		more = shard_passes(s, &s->shards[k], type, after, ts);
	if (more) {
		/* The page filled up: last names its final shard. */
		assert(listed == limit);
		snprintf(pos, sizeof(pos), "%u", last);
		sl_enc_key(e, "NextToken");
		token_write(e, s->hdr.uid, pos);
	}
	sl_enc_obj_end(e);
}

/* ---- Resharding ----------------------------------------------------------------- */

struct close_call {
	struct sl_msg msg;
	struct sl_waiter wt;
	uint64_t uid;
	uint32_t ordinal;
	int rc;
	uint64_t end_n;
};

static void close_durable(struct sl_worker *w, struct sl_waiter *wt)
{
	struct close_call *cc = wt->arg;

	if (!wt->reached)
		cc->rc = -EIO;
	sl_msg_reply(w, &cc->msg);
}

/* On the owner: refuse further appends; every number handed out so far
 * (staged or durable) belongs to the parent, so end_n is next_n. The reply
 * waits until all of them are durable: the catalog then records an
 * EndingSequenceNumber that a power loss cannot take back, and consumers
 * reading to it reach the children. */
static void close_call_fn(struct sl_worker *w, struct sl_msg *msg)
{
	struct close_call *cc = msg->arg;

	assert(sl_shard_owner(cc->uid, cc->ordinal, sl_worker_count()) == sl_worker_index(w));
	struct sl_wlog *wl = sl_worker_log(w, cc->uid, cc->ordinal, &cc->rc);

	if (!wl) {
		sl_msg_reply(w, msg);
		return;
	}
	wl->closed = true;
	cc->end_n = sl_shardlog_next_n(wl->log);
	cc->rc = 0;
	cc->wt = (struct sl_waiter){ .target_n = cc->end_n, .cb = close_durable, .arg = cc };
	sl_worker_commit(w, wl, &cc->wt);
}

/* Close parents[0..n) of s through their owners and mark them closed. */
static int close_shards(struct sl_req *req, struct sl_stream_meta *s, const uint32_t *parents,
			uint32_t n)
{
	struct close_call cc[2];
	struct sl_msg *msgs[2];
	uint16_t to[2];
	int64_t now = now_ms();

	assert(n >= 1); /* a split closes one parent, a merge two */
	assert(n <= 2);
	for (uint32_t i = 0; i < n; i++) {
		assert(parents[i] < s->nshards);
		memset(&cc[i], 0, sizeof(cc[i]));
		cc[i].uid = s->hdr.uid;
		cc[i].ordinal = parents[i];
		cc[i].msg.fn = close_call_fn;
		cc[i].msg.arg = &cc[i];
		msgs[i] = &cc[i].msg;
		to[i] = sl_shard_owner(s->hdr.uid, parents[i], sl_worker_count());
	}
	sl_control_call_wait(msgs, to, n);
	for (uint32_t i = 0; i < n; i++) {
		if (cc[i].rc < 0) {
			sl_req_error(req, 500, "InternalFailure", "cannot close shard log: %s",
				     strerror(-cc[i].rc));
			return -1;
		}
		struct sl_shard_meta *sh = &s->shards[parents[i]];
		sh->closed = true;
		sh->end_n = cc[i].end_n;
		sh->closed_ms = now;
	}
	return 0;
}

/* Common checks: stream ACTIVE, shard id valid and open. Returns the ordinal
 * or -1 with the error set. */
static int64_t open_shard_arg(struct sl_req *req, struct sl_fields *f, struct sl_stream_meta *s,
			      const char *key)
{
	char id[130];
	bool present;

	if (sl_field_str(f, key, id, sizeof(id), 1, 128, true, &present) < 0)
		return -1;
	int64_t o = sl_kin_shard_parse(id);
	if (o < 0 || o >= s->nshards) {
		sl_req_error(req, 400, "ResourceNotFoundException",
			     "Could not find shard %s in stream %s under account %s.", id, s->name,
			     sl_cfg->account_id);
		return -1;
	}
	if (s->shards[o].closed) {
		sl_req_error(req, 400, "InvalidArgumentException",
			     "Shard %s in stream %s under account %s has already been merged or "
			     "split, and thus is not eligible for merging or splitting.", id,
			     s->name, sl_cfg->account_id);
		return -1;
	}
	assert(o < s->nshards);
	return o;
}

static bool shard_budget(struct sl_req *req, struct sl_stream_meta *s, uint32_t extra)
{
	if (sl_streams_open_shards(s->region) + extra <= SL_KIN_SHARD_LIMIT)
		return true;
	sl_req_error(req, 400, "LimitExceededException",
		     "This request would exceed the shard limit for the account %s in %s.",
		     sl_cfg->account_id, s->region);
	return false;
}

void sl_kin_split_shard(struct sl_req *req)
{
	struct sl_fields f;
	struct sl_stream_meta *s = meta_stream(req, &f);
	char key[48];
	bool present;
	sl_u128 h;

	if (!s)
		return;
	if (s->status != SL_STREAM_ACTIVE) {
		in_use(req, s);
		return;
	}
	int64_t o = open_shard_arg(req, &f, s, "ShardToSplit");
	if (o < 0 || sl_field_str(&f, "NewStartingHashKey", key, sizeof(key), 1, 39, true,
				  &present) < 0)
		return;
	struct sl_shard_meta sh = s->shards[o];
	if (sl_u128_parse(key, strlen(key), &h) < 0 || h <= sh.hash_start || h > sh.hash_end) {
		char a[40], b[40];
		sl_u128_fmt(sh.hash_start, a);
		sl_u128_fmt(sh.hash_end, b);
		sl_req_error(req, 400, "InvalidArgumentException",
			     "NewStartingHashKey %s used in SplitShard() on shard shardId-%012u in "
			     "stream %s under account %s is not both greater than one plus the "
			     "shard's StartingHashKey %s and less than the shard's EndingHashKey %s.",
			     key, (unsigned)o, s->name, sl_cfg->account_id, a, b);
		return;
	}
	if (!shard_budget(req, s, 1))
		return;
	/* Validated above: the first child, up to h - 1, is not empty. */
	assert(h > sh.hash_start);
	uint32_t parent = (uint32_t)o;
	if (!(s = edit_stream(req, s)) || close_shards(req, s, &parent, 1) < 0)
		return;
	int64_t now = now_ms();
	if (!sl_stream_add_shard(s, sh.hash_start, h - 1, (int32_t)o, -1, now) ||
	    !sl_stream_add_shard(s, h, sh.hash_end, (int32_t)o, -1, now)) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		return;
	}
	if (sl_stream_reindex(s) < 0) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		return;
	}
	assert(s->nopen >= 2); /* both children are open and routable */
	set_transition(s, SL_STREAM_UPDATING);
	sl_catalog_commit();
}

void sl_kin_merge_shards(struct sl_req *req)
{
	struct sl_fields f;
	struct sl_stream_meta *s = meta_stream(req, &f);

	if (!s)
		return;
	if (s->status != SL_STREAM_ACTIVE) {
		in_use(req, s);
		return;
	}
	int64_t a = open_shard_arg(req, &f, s, "ShardToMerge");
	if (a < 0)
		return;
	int64_t b = open_shard_arg(req, &f, s, "AdjacentShardToMerge");
	if (b < 0)
		return;
	struct sl_shard_meta sa = s->shards[a], sb = s->shards[b];
	bool adjacent = (sa.hash_end != HASH_MAX && sa.hash_end + 1 == sb.hash_start) ||
			(sb.hash_end != HASH_MAX && sb.hash_end + 1 == sa.hash_start);
	if (!adjacent || a == b) {
		sl_req_error(req, 400, "InvalidArgumentException",
			     "Shards shardId-%012u and shardId-%012u in stream %s under account %s "
			     "are not an adjacent pair of shards eligible for merging",
			     (unsigned)a, (unsigned)b, s->name, sl_cfg->account_id);
		return;
	}
	uint32_t parents[2] = { (uint32_t)a, (uint32_t)b };
	if (!(s = edit_stream(req, s)) || close_shards(req, s, parents, 2) < 0)
		return;
	sl_u128 lo = sa.hash_start < sb.hash_start ? sa.hash_start : sb.hash_start;
	sl_u128 hi = sa.hash_end > sb.hash_end ? sa.hash_end : sb.hash_end;
	if (!sl_stream_add_shard(s, lo, hi, (int32_t)a, (int32_t)b, now_ms())) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		return;
	}
	if (sl_stream_reindex(s) < 0) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		return;
	}
	assert(s->nopen >= 1); /* the child is open and routable */
	set_transition(s, SL_STREAM_UPDATING);
	sl_catalog_commit();
}

/* The open shard holding hash h (from the open list before resharding). */
static int32_t holder(const struct sl_stream_meta *s, const uint32_t *open, uint32_t nopen,
		      sl_u128 h)
{
	for (uint32_t i = 0; i < nopen; i++) {
		const struct sl_shard_meta *sh = &s->shards[open[i]];
		if (h >= sh->hash_start && h <= sh->hash_end)
			return (int32_t)open[i];
	}
	return -1;
}

static int update_args(struct sl_req *req, struct sl_fields *f, struct sl_stream_meta *s,
		       int64_t *target)
{
	char ty[32];
	bool present;

	if (sl_field_int(f, "TargetShardCount", 1, INT32_MAX, true, target) < 0 ||
	    sl_field_str(f, "ScalingType", ty, sizeof(ty), 1, 31, true, &present) < 0)
		return -1;
	if (strcmp(ty, "UNIFORM_SCALING") != 0) {
		sl_err_validation(req, "1 validation error detected: Value '%s' at 'scalingType' "
				       "failed to satisfy constraint: Member must satisfy enum value "
				       "set: [UNIFORM_SCALING]", ty);
		return -1;
	}
	if (s->status != SL_STREAM_ACTIVE) {
		in_use(req, s);
		return -1;
	}
	if (*target > 2 * (int64_t)s->nopen || *target * 2 < (int64_t)s->nopen ||
	    *target > SL_KIN_SHARDS_PER_STREAM_MAX) {
		sl_req_error(req, 400, "LimitExceededException",
			     "UpdateShardCount to %lld shards is not allowed: the target must be "
			     "between half and double the current open shard count (%u).",
			     (long long)*target, s->nopen);
		return -1;
	}
	assert(*target >= 1);
	assert(*target <= SL_KIN_SHARDS_PER_STREAM_MAX);
	return shard_budget(req, s, (uint32_t)*target) ? 0 : -1;
}

void sl_kin_update_shard_count(struct sl_req *req)
{
	struct sl_fields f;
	struct sl_stream_meta *s = meta_stream(req, &f);
	int64_t target;

	if (!s || update_args(req, &f, s, &target) < 0 || !(s = edit_stream(req, s)))
		return;
	uint32_t current = s->nopen;
	/* update_args: a target of at least 1 within double the open count. */
	assert(current > 0);
	uint32_t *old = malloc(current * sizeof(*old));
	if (!old) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		return;
	}
	memcpy(old, s->open, current * sizeof(*old));
	/* Close every open shard, then lay the new ones out uniformly; each
	 * child names the old shards holding its first and last hash key. */
	for (uint32_t i = 0; i < current; i += 2) {
		if (close_shards(req, s, old + i, current - i >= 2 ? 2 : 1) < 0) {
			free(old);
			return;
		}
	}
	int64_t now = now_ms();
	for (uint32_t i = 0; i < (uint32_t)target; i++) {
		sl_u128 lo = split_point(i, (uint32_t)target);
		sl_u128 hi = i + 1 == target ? HASH_MAX : split_point(i + 1, (uint32_t)target) - 1;
		int32_t p = holder(s, old, current, lo), q = holder(s, old, current, hi);
		if (!sl_stream_add_shard(s, lo, hi, p, q == p ? -1 : q, now)) {
			free(old);
			sl_req_error(req, 500, "InternalFailure", "out of memory");
			return;
		}
	}
	free(old);
	if (sl_stream_reindex(s) < 0) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		return;
	}
	assert(s->nopen >= (uint32_t)target); /* every new shard is open and routable */
	set_transition(s, SL_STREAM_UPDATING);
	sl_catalog_commit();
	struct sl_enc *e = &req->out;
	sl_enc_obj_begin(e);
	sl_enc_key(e, "StreamName");
	sl_enc_cstr(e, s->name);
	sl_enc_key(e, "CurrentShardCount");
	sl_enc_int(e, current);
	sl_enc_key(e, "TargetShardCount");
	sl_enc_int(e, target);
	sl_enc_key(e, "StreamARN");
	enc_arn(e, s);
	sl_enc_obj_end(e);
}

/* ---- Retention, tags, limits, encryption, monitoring ------------------------------ */

static void kin_retention(struct sl_req *req, bool increase)
{
	struct sl_fields f;
	struct sl_stream_meta *s = meta_stream(req, &f);
	int64_t h;

	if (!s || sl_field_int(&f, "RetentionPeriodHours", INT32_MIN, INT32_MAX, true, &h) < 0)
		return;
	if (h < SL_KIN_RETENTION_MIN_H || h > SL_KIN_RETENTION_MAX_H) {
		sl_req_error(req, 400, "InvalidArgumentException",
			     "%s allowed retention period is %d hours. Requested retention period "
			     "(%lld hours) is too %s.", h < SL_KIN_RETENTION_MIN_H ? "Minimum" : "Maximum",
			     h < SL_KIN_RETENTION_MIN_H ? SL_KIN_RETENTION_MIN_H : SL_KIN_RETENTION_MAX_H,
			     (long long)h, h < SL_KIN_RETENTION_MIN_H ? "short" : "long");
		return;
	}
	if (increase && h < s->retention_hours) {
		sl_req_error(req, 400, "InvalidArgumentException",
			     "Requested retention period (%lld hours) for stream %s can not be "
			     "shorter than existing retention period (%u hours). Use "
			     "DecreaseRetentionPeriod API.", (long long)h, s->name, s->retention_hours);
		return;
	}
	if (!increase && h > s->retention_hours) {
		sl_req_error(req, 400, "InvalidArgumentException",
			     "Requested retention period (%lld hours) for stream %s can not be "
			     "longer than existing retention period (%u hours). Use "
			     "IncreaseRetentionPeriod API.", (long long)h, s->name, s->retention_hours);
		return;
	}
	if (!(s = edit_stream(req, s)))
		return;
	s->retention_hours = (uint32_t)h;
	sl_catalog_commit();
}

void sl_kin_add_tags_to_stream(struct sl_req *req)
{
	struct sl_fields f;
	struct sl_stream_meta *s = meta_stream(req, &f);

	if (!s)
		return;
	int m = sl_field_obj(&f, "Tags", true);
	if (m < 0)
		return;
	/* Validate on a copy so a failure changes nothing. */
	struct sl_stream_meta tmp = *s;
	tmp.tags = malloc((s->ntags ? s->ntags : 1) * sizeof(*tmp.tags));
	if (!tmp.tags) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		return;
	}
	if (s->ntags)
		memcpy(tmp.tags, s->tags, s->ntags * sizeof(*tmp.tags));
	if (tags_merge(req, f.t, m, &tmp) < 0 || !(s = edit_stream(req, s))) {
		free(tmp.tags);
		return;
	}
	assert(tmp.ntags >= s->ntags); /* a merge only adds or replaces */
	free(s->tags);
	s->tags = tmp.tags;
	s->ntags = tmp.ntags;
	sl_catalog_commit();
}

void sl_kin_remove_tags_from_stream(struct sl_req *req)
{
	struct sl_fields f;
	struct sl_stream_meta *s = meta_stream(req, &f);
	char key[SL_KIN_TAG_KEY_MAX + 1];

	if (!s)
		return;
	int a = sl_field_arr(&f, "TagKeys", true);
	if (a < 0)
		return;
	if (f.t[a].count < 1 || f.t[a].count > 50) {
		sl_err_validation(req, "1 validation error detected: Value at 'tagKeys' failed to "
				       "satisfy constraint: Member must have length between 1 and 50");
		return;
	}
	uint32_t c = sl_doc_first((uint32_t)a);
	for (uint32_t i = 0; i < f.t[a].count; i++, c = sl_doc_next(f.t, c)) {
		if (f.t[c].type != SL_DOC_STR || sl_doc_str(&f.t[c], key, sizeof(key)) < 1) {
			sl_err_validation(req, "1 validation error detected: Value at 'tagKeys' failed "
					       "to satisfy constraint: Member must have length 1-128");
			return;
		}
		int at = tag_find(s, key);
		if (at >= 0 && !(s = edit_stream(req, s)))
			return;
		if (at >= 0) {
			assert((uint32_t)at < s->ntags); /* the edit copied the same tags */
			memmove(&s->tags[at], &s->tags[at + 1], (s->ntags - (uint32_t)at - 1) * sizeof(*s->tags));
			s->ntags--;
		}
	}
	sl_catalog_commit();
}

void sl_kin_list_tags_for_stream(struct sl_req *req)
{
	struct sl_fields f;
	struct sl_stream_meta *s = meta_stream(req, &f);
	int64_t limit = SL_TAGS_LIST_DEFAULT;
	char start[SL_KIN_TAG_KEY_MAX + 1];
	bool has_start;
	struct sl_enc *e = &req->out;

	if (!s || sl_field_int(&f, "Limit", 1, 50, false, &limit) < 0 ||
	    sl_field_str(&f, "ExclusiveStartTagKey", start, sizeof(start), 1, SL_KIN_TAG_KEY_MAX,
			 false, &has_start) < 0)
		return;
	uint32_t i = 0;
	while (has_start && i < s->ntags && strcmp(s->tags[i].key, start) <= 0)
		i++;
	sl_enc_obj_begin(e);
	sl_enc_key(e, "Tags");
	sl_enc_arr_begin(e);
	for (int64_t n = 0; i < s->ntags && n < limit; i++, n++) {
		sl_enc_obj_begin(e);
		sl_enc_key(e, "Key");
		sl_enc_cstr(e, s->tags[i].key);
		sl_enc_key(e, "Value");
		sl_enc_cstr(e, s->tags[i].value);
		sl_enc_obj_end(e);
	}
	sl_enc_arr_end(e);
	sl_enc_key(e, "HasMoreTags");
	sl_enc_bool(e, i < s->ntags);
	sl_enc_obj_end(e);
}

void sl_kin_describe_limits(struct sl_req *req)
{
	struct sl_enc *e = &req->out;
	uint32_t on_demand = sl_streams_on_demand(req->region);
	sl_enc_obj_begin(e);
	sl_enc_key(e, "ShardLimit");
	sl_enc_int(e, SL_KIN_SHARD_LIMIT);
	sl_enc_key(e, "OpenShardCount");
	sl_enc_int(e, sl_streams_open_shards(req->region));
	sl_enc_key(e, "OnDemandStreamCount");
	sl_enc_int(e, on_demand);
	sl_enc_key(e, "OnDemandStreamCountLimit");
	sl_enc_int(e, SL_KIN_ON_DEMAND_STREAMS_MAX);
	sl_enc_obj_end(e);
}

static void kin_encryption(struct sl_req *req, bool start)
{
	struct sl_fields f;
	struct sl_stream_meta *s = meta_stream(req, &f);
	char ty[16], key[SL_KIN_KEY_ID_MAX + 1];
	bool present;

	if (!s || sl_field_str(&f, "EncryptionType", ty, sizeof(ty), 1, 15, true, &present) < 0 ||
	    sl_field_str(&f, "KeyId", key, sizeof(key), 1, SL_KIN_KEY_ID_MAX, true, &present) < 0)
		return;
	if (strcmp(ty, "KMS") != 0 && strcmp(ty, "NONE") != 0) {
		sl_err_validation(req, "1 validation error detected: Value '%s' at 'encryptionType' "
				       "failed to satisfy constraint: Member must satisfy enum value "
				       "set: [KMS, NONE]", ty);
		return;
	}
	if (s->status != SL_STREAM_ACTIVE) {
		in_use(req, s);
		return;
	}
	if (start && strcmp(ty, "KMS") != 0) {
		sl_req_error(req, 400, "InvalidArgumentException",
			     "Encryption type NONE is not a valid encryption type to start.");
		return;
	}
	/* KeyId is required with a minimum length of 1. */
	assert(key[0] != '\0');
	if (!(s = edit_stream(req, s)))
		return;
	if (sl_stream_set_key_id(s, start ? key : NULL) < 0) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		return;
	}
	s->encrypted = start;
	set_transition(s, SL_STREAM_UPDATING);
	sl_catalog_commit();
}

static void kin_monitoring(struct sl_req *req, bool enable)
{
	struct sl_fields f;
	struct sl_stream_meta *s = meta_stream(req, &f);
	char m[64];
	uint32_t bits = 0;
	struct sl_enc *e = &req->out;

	if (!s)
		return;
	int a = sl_field_arr(&f, "ShardLevelMetrics", true);
	if (a < 0)
		return;
	uint32_t c = sl_doc_first((uint32_t)a);
	for (uint32_t i = 0; i < f.t[a].count; i++, c = sl_doc_next(f.t, c)) {
		int k = -1;
		if (f.t[c].type == SL_DOC_STR && sl_doc_str(&f.t[c], m, sizeof(m)) > 0) {
			for (int j = 0; j < SL_METRICS_N; j++)
				k = strcmp(m, metric_names[j]) == 0 ? j : k;
			if (strcmp(m, "ALL") == 0)
				k = 99;
		}
		if (k < 0) {
			sl_err_validation(req, "1 validation error detected: Value at "
					       "'shardLevelMetrics' failed to satisfy constraint: "
					       "Member must satisfy enum value set");
			return;
		}
		bits |= k == 99 ? (1u << SL_METRICS_N) - 1 : 1u << k;
	}
	assert(bits < (1u << SL_METRICS_N)); /* only names metric_names[] knows */
	uint32_t before = s->shard_metrics;
	if (!(s = edit_stream(req, s)))
		return;
	s->shard_metrics = enable ? before | bits : before & ~bits;
	sl_catalog_commit();
	sl_enc_obj_begin(e);
	sl_enc_key(e, "StreamName");
	sl_enc_cstr(e, s->name);
	sl_enc_key(e, "CurrentShardLevelMetrics");
	encode_metric_list(e, before);
	sl_enc_key(e, "DesiredShardLevelMetrics");
	encode_metric_list(e, s->shard_metrics);
	sl_enc_key(e, "StreamARN");
	enc_arn(e, s);
	sl_enc_obj_end(e);
}

void sl_kin_update_stream_mode(struct sl_req *req)
{
	struct sl_fields f;
	struct sl_stream_meta *s = meta_stream(req, &f);
	char m[32];
	bool present;

	if (!s)
		return;
	int md = sl_field_obj(&f, "StreamModeDetails", true);
	if (md < 0)
		return;
	struct sl_fields mf = { req, f.t, (uint32_t)md };
	if (sl_field_str(&mf, "StreamMode", m, sizeof(m), 1, 31, true, &present) < 0)
		return;
	if (strcmp(m, "ON_DEMAND") != 0 && strcmp(m, "PROVISIONED") != 0) {
		sl_err_validation(req, "1 validation error detected: Value '%s' at "
				       "'streamModeDetails.streamMode' failed to satisfy constraint: "
				       "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]", m);
		return;
	}
	if (s->status != SL_STREAM_ACTIVE) {
		in_use(req, s);
		return;
	}
	if (!(s = edit_stream(req, s)))
		return;
	s->mode = strcmp(m, "ON_DEMAND") == 0 ? SL_MODE_ON_DEMAND : SL_MODE_PROVISIONED;
	set_transition(s, SL_STREAM_UPDATING);
	sl_catalog_commit();
}

/* ---- Dispatch and transitions ------------------------------------------------------ */

void sl_kin_increase_stream_retention_period(struct sl_req *r) { kin_retention(r, true); }
void sl_kin_decrease_stream_retention_period(struct sl_req *r) { kin_retention(r, false); }
void sl_kin_start_stream_encryption(struct sl_req *r) { kin_encryption(r, true); }
void sl_kin_stop_stream_encryption(struct sl_req *r) { kin_encryption(r, false); }
void sl_kin_enable_enhanced_monitoring(struct sl_req *r) { kin_monitoring(r, true); }
void sl_kin_disable_enhanced_monitoring(struct sl_req *r) { kin_monitoring(r, false); }

static bool transit_scan(void *obj, void *arg)
{
	const struct sl_stream_meta *s = obj;

	(void)arg;
	assert(s->hdr.type == SL_COBJ_STREAM);
	if (s->status != SL_STREAM_ACTIVE)
		transit_add(s->hdr.uid);
	return true;
}

int sl_kinesis_ctl_install(void)
{
	assert(!ctl_toks); /* installed once */
	sl_catalog_walk(sl_catalog_master(), SL_COBJ_STREAM, NULL, false, transit_scan, NULL);
	ctl_toks = malloc(sizeof(*ctl_toks) * SL_DOC_TOKS_MAX);
	return ctl_toks ? 0 : -ENOMEM;
}

void sl_kinesis_control_tick(void)
{
	int64_t now = now_ms();
	uint32_t kept = 0;

	for (uint32_t i = 0; i < transit.n; i++) {
		const struct sl_stream_meta *s = sl_stream_find_uid(sl_catalog_master(),
								    transit.uid[i]);
		if (!s || s->status == SL_STREAM_ACTIVE)
			continue;
		if (s->status_until_ms > now) {
			transit.uid[kept++] = transit.uid[i];
			continue;
		}
		if (s->status == SL_STREAM_DELETING) {
			if (remove_stream(s) < 0)
				transit.uid[kept++] = transit.uid[i]; /* next tick */
			continue;
		}
		struct sl_stream_meta *m = sl_stream_edit(s);
		if (!m) {
			transit.uid[kept++] = transit.uid[i];
			continue;
		}
		m->status = SL_STREAM_ACTIVE;
	}
	assert(kept <= transit.n);
	transit.n = kept;
	sl_catalog_commit();
}
