/* data.c - PutRecord(s), GetShardIterator, GetRecords: the Kinesis data path.
 *
 * The worker that received the request parses it, routes every record to its
 * shard by MD5 of the partition key (or the explicit hash key), and sends one
 * message per owning worker. Owners append and answer after group commit;
 * when every part is back, the receiver writes the reply.
 */
#include "dataplane/services/kinesis/kinesis.h"

#include <assert.h>
#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MD5() is deprecated in OpenSSL 3 in favour of EVP (see md5_u128). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>

#include "dataplane/codec/enc.h"
#include "dataplane/net/server.h"
#include "dataplane/services/kinesis/tokens.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/log.h"
#include "dataplane/runtime/metrics.h"
#include "dataplane/storage/shardlog.h"
#include "dataplane/runtime/worker.h"

/* KIN_REROUTE: the shard closed (resharding) between routing and append;
 * the receiver routes the record again once the catalog shows the children.
 * KIN_PENDING: to be sent to its owner in the current round. */
enum kin_err { KIN_OK = 0, KIN_THROTTLED, KIN_INTERNAL, KIN_REROUTE, KIN_PENDING };


struct kin_entry {
	sl_u128 hash;
	const char *pk;
	const uint8_t *data;
	uint32_t pk_len;
	uint32_t data_len;
	uint32_t ordinal;
	uint16_t owner;
	uint8_t err;
	uint64_t n;
};

struct kin_put;

struct kin_part {
	struct sl_msg msg;
	struct kin_put *put;
	uint32_t count;
	uint32_t pending;
	uint32_t *idx;
	struct sl_waiter *wt;
};

struct kin_put {
	struct sl_req *req;
	uint64_t stream_uid;
	char stream_name[SL_KIN_NAME_MAX + 1];
	bool single;
	bool encrypted;
	uint32_t count;
	uint32_t parts_pending;
	int64_t reroute_deadline_ms;
	uint32_t reroute_rounds;
	struct kin_entry *e;
	uint32_t *idx_pool;
	struct sl_waiter *wt_pool;
	struct sl_msg retry; /* re-runs put_settle from the loop */
	/* A put that did not come over HTTP (sl_kin_put_raw): req is NULL,
	 * and raw_done gets the results. */
	sl_kin_raw_done raw_done;
	void *raw_arg;
	struct sl_kin_raw_result *raw_res;
	void *raw_block;
	struct kin_part parts[SL_WORKERS_MAX];
};

/* MD5 of a partition key as the 128-bit hash key. OpenSSL's one-shot MD5()
 * (deprecated in 3.0, still shipped): the EVP interface allocates a
 * provider context on every init, which a debugger showed as one
 * allocation per record on the PutRecords path. */
static sl_u128 md5_u128(const char *s, size_t n)
{
	uint8_t d[MD5_DIGEST_LENGTH];
	sl_u128 v = 0;

	MD5((const unsigned char *)s, n, d);
	for (int i = 0; i < MD5_DIGEST_LENGTH; i++)
		v = v << 8 | d[i];
	return v;
}

static bool stream_writable(struct sl_req *req, const struct sl_stream_meta *s)
{
	if (sl_kin_stream_writable(s))
		return true;
	if (s->status == SL_STREAM_DELETING)
		sl_req_error(req, 400, "ResourceNotFoundException",
			     "Stream %s under account %s not found.", s->name, sl_cfg->account_id);
	else
		sl_req_error(req, 400, "ResourceInUseException",
			     "Stream %s under account %s is not ACTIVE.", s->name, sl_cfg->account_id);
	return false;
}

/* ---- PutRecord / PutRecords ----------------------------------------------- */

/* The PartitionKey of an entry, unescaped into pk: 1 to 256 characters.
 * Returns its length in bytes, or -1 with the error set. */
static int put_key(struct sl_fields *f, char *pk, bool single)
{
	bool present;
	int pl = sl_field_str(f, "PartitionKey", pk, SL_KIN_PK_MAX * 4 + 1, 1, SL_KIN_PK_MAX * 4,
			      true, &present);
	size_t chars = 0;

	if (pl < 0)
		return -1;
	/* AWS counts characters; the byte bound above is a guard only. */
	for (int k = 0; k < pl; k++)
		chars += ((uint8_t)pk[k] & 0xc0) != 0x80;
	if (chars > SL_KIN_PK_MAX) {
		sl_err_validation(f->req, "1 validation error detected: Value at '%spartitionKey' "
					  "failed to satisfy constraint: Member must have length less "
					  "than or equal to %d", single ? "" : "records.member.",
				  SL_KIN_PK_MAX);
		return -1;
	}
	return pl;
}

/* Read one record entry at object token o into e, decoding into *arena. */
static int put_entry(struct sl_req *req, const struct sl_doc_tok *t, uint32_t o,
		     const struct sl_stream_meta *s, struct kin_entry *e, uint8_t **arena,
		     uint32_t i, bool single)
{
	struct sl_fields f = { req, t, o };
	char ehk[48];
	bool has_ehk;
	/* The root (PutRecord) or a Records entry kin_put checked. */
	assert(t[o].type == SL_DOC_OBJ);
	int d = sl_doc_get(t, o, "Data");
	if (d < 0 || t[d].type == SL_DOC_NULL) {
		sl_err_validation(req, "1 validation error detected: Value null at '%sdata' failed "
				       "to satisfy constraint: Member must not be null",
				  single ? "" : "records.member.");
		return -1;
	}
	if (t[d].type != SL_DOC_STR && t[d].type != SL_DOC_BLOB) {
		sl_err_serialization(req, "Unexpected value type for 'Data': expected a blob");
		return -1;
	}
	long dl = sl_doc_blob(&t[d], *arena, sl_doc_blob_max(&t[d]) + 4);
	if (dl < 0) {
		sl_err_serialization(req, "Data of record %u is not valid base64", i);
		return -1;
	}
	if (dl > SL_KIN_DATA_MAX) {
		sl_err_validation(req, "1 validation error detected: Value at '%sdata' failed to "
				       "satisfy constraint: Member must have length less than or "
				       "equal to %d", single ? "" : "records.member.", SL_KIN_DATA_MAX);
		return -1;
	}
	e->data = *arena;
	e->data_len = (uint32_t)dl;
	*arena += dl;
	char *pk = (char *)*arena;
	int pl = put_key(&f, pk, single);
	if (pl < 0)
		return -1;
	if ((uint64_t)e->data_len + (uint64_t)pl > SL_KIN_DATA_MAX) {
		sl_err_validation(req, "1 validation error detected: the record size (data of %u "
				       "bytes plus a partition key of %d bytes) exceeds the maximum "
				       "record size of %d bytes", e->data_len, pl, SL_KIN_DATA_MAX);
		return -1;
	}
	e->pk = pk;
	e->pk_len = (uint32_t)pl;
	*arena += pl + 1;
	if (sl_field_str(&f, "ExplicitHashKey", ehk, sizeof(ehk), 0, 39, false, &has_ehk) < 0)
		return -1;
	sl_u128 h;
	if (has_ehk) {
		if (sl_u128_parse(ehk, strlen(ehk), &h) < 0) {
			sl_req_error(req, 400, "InvalidArgumentException",
				     "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: "
				     "[0, 2^128-1]. Specified value was %s", ehk);
			return -1;
		}
	} else {
		h = md5_u128(pk, (size_t)pl);
	}
	const struct sl_shard_meta *sh = sl_stream_route(s, h);
	if (!sh) {
		sl_req_error(req, 500, "InternalFailure", "no open shard covers the hash key");
		return -1;
	}
	assert(sh->ordinal < s->nshards);
	e->hash = h;
	e->ordinal = sh->ordinal;
	e->owner = sl_shard_owner(s->hdr.uid, sh->ordinal, sl_worker_count());
	e->err = KIN_PENDING;
	return 0;
}

static void raw_finish(struct sl_worker *w, struct kin_put *p);

static void put_reply(struct sl_worker *w, struct kin_put *p)
{
	struct sl_req *req = p->req;

	if (!req) {
		raw_finish(w, p);
		return;
	}
	struct sl_enc *e = &req->out;
	char seq[SL_SEQ_LEN + 1], id[32];
	uint32_t failed = 0;

	assert(p->count >= 1);
	assert(!p->single || p->count == 1);
	for (uint32_t i = 0; i < p->count; i++) {
		/* Every entry was settled: none still waits for an owner. */
		assert(p->e[i].err != KIN_PENDING);
		assert(p->e[i].err != KIN_REROUTE);
		failed += p->e[i].err != KIN_OK;
	}
	if (p->single && failed) {
		sl_kin_shard_id(p->e[0].ordinal, id);
		if (p->e[0].err == KIN_THROTTLED)
			sl_req_error(req, 400, "ProvisionedThroughputExceededException",
				     "Rate exceeded for shard %s in stream %s under account %s.", id,
				     p->stream_name, sl_cfg->account_id);
		else
			sl_req_error(req, 500, "InternalFailure", "Internal service failure.");
		sl_req_finish(w, req);
		return;
	}
	sl_enc_obj_begin(e);
	if (!p->single) {
		sl_enc_key(e, "FailedRecordCount");
		sl_enc_int(e, failed);
		sl_enc_key(e, "Records");
		sl_enc_arr_begin(e);
	}
	for (uint32_t i = 0; i < p->count; i++) {
		const struct kin_entry *en = &p->e[i];
		sl_kin_shard_id(en->ordinal, id);
		if (!p->single)
			sl_enc_obj_begin(e);
		if (en->err == KIN_OK) {
			sl_kin_seq_fmt(en->ordinal, en->n + 1, seq);
			sl_enc_key(e, "SequenceNumber");
			sl_enc_str(e, seq, SL_SEQ_LEN);
			sl_enc_key(e, "ShardId");
			sl_enc_cstr(e, id);
		} else {
			char msg[300];
			bool thr = en->err == KIN_THROTTLED;
			snprintf(msg, sizeof(msg), thr ? "Rate exceeded for shard %s in stream %s under "
							 "account %s." : "Internal service failure.",
				 id, p->stream_name, sl_cfg->account_id);
			sl_enc_key(e, "ErrorCode");
			sl_enc_cstr(e, thr ? "ProvisionedThroughputExceededException" : "InternalFailure");
			sl_enc_key(e, "ErrorMessage");
			sl_enc_cstr(e, msg);
		}
		if (!p->single)
			sl_enc_obj_end(e);
	}
	if (!p->single)
		sl_enc_arr_end(e);
	if (p->encrypted) {
		sl_enc_key(e, "EncryptionType");
		sl_enc_cstr(e, "KMS");
	}
	sl_enc_obj_end(e);
	sl_req_finish(w, req);
}

static void put_dispatch(struct sl_worker *w, struct kin_put *p);
static void put_settle(struct sl_worker *w, struct kin_put *p);

static void put_retry_fn(struct sl_worker *w, struct sl_msg *msg)
{
	put_settle(w, msg->arg);
}

/* Records that met a shard closed by a reshard: route them again with the
 * catalog that has the children. Returns true when all were re-routed (and
 * marked KIN_PENDING), false when the reshard is not published yet. */
static bool put_reroute(struct kin_put *p, const struct sl_stream_meta *s)
{
	assert(!s || s->hdr.uid == p->stream_uid);
	for (uint32_t i = 0; i < p->count; i++) {
		struct kin_entry *e = &p->e[i];
		if (e->err != KIN_REROUTE)
			continue;
		const struct sl_shard_meta *sh = s ? sl_stream_route(s, e->hash) : NULL;
		if (sh && sh->ordinal == e->ordinal)
			return false;
	}
	for (uint32_t i = 0; i < p->count; i++) {
		struct kin_entry *e = &p->e[i];
		if (e->err != KIN_REROUTE)
			continue;
		const struct sl_shard_meta *sh = s ? sl_stream_route(s, e->hash) : NULL;
		e->err = sh ? KIN_PENDING : KIN_INTERNAL;
		if (sh) {
			e->ordinal = sh->ordinal;
			e->owner = sl_shard_owner(s->hdr.uid, sh->ordinal, sl_worker_count());
		}
	}
	return true;
}

/* Every part is back: reply, or send the records a reshard bounced. */
static void put_settle(struct sl_worker *w, struct kin_put *p)
{
	uint32_t bounced = 0;

	assert(p->parts_pending == 0); /* every part is back */
	for (uint32_t i = 0; i < p->count; i++)
		bounced += p->e[i].err == KIN_REROUTE;
	if (bounced == 0) {
		put_reply(w, p);
		return;
	}
	const struct sl_stream_meta *s = sl_stream_find_uid(sl_catalog_get(), p->stream_uid);
	int64_t now = sl_now_ms();
	if (p->reroute_deadline_ms == 0)
		p->reroute_deadline_ms = now + SL_REROUTE_WAIT_MS;
	if (p->reroute_rounds < SL_REROUTE_ROUNDS_MAX && !put_reroute(p, s) &&
	    now < p->reroute_deadline_ms) {
		/* The control thread has not published the reshard yet. */
		p->retry.type = SL_MSG_CALL;
		p->retry.fn = put_retry_fn;
		p->retry.arg = p;
		sl_worker_defer(w, &p->retry);
		return;
	}
	for (uint32_t i = 0; i < p->count; i++) {
		if (p->e[i].err == KIN_REROUTE)
			p->e[i].err = KIN_INTERNAL; /* gave up waiting: clients retry */
	}
	p->reroute_rounds++;
	p->reroute_deadline_ms = 0;
	put_dispatch(w, p);
}

static void append_done(struct sl_worker *w, struct sl_msg *msg)
{
	struct kin_part *part = msg->arg;
	struct kin_put *p = part->put;

	assert(p->parts_pending > 0);
	if (--p->parts_pending == 0)
		put_settle(w, p);
}

static void part_durable(struct sl_worker *w, struct sl_waiter *wt)
{
	struct kin_part *part = wt->arg;

	/* The log went away before these records were durable (a dropped
	 * log, or a shutdown that gave up): they fail, never acknowledged. */
	for (uint32_t k = 0; k < part->count && !wt->reached; k++) {
		struct kin_entry *e = &part->put->e[part->idx[k]];
		if (e->ordinal == wt->user && e->err == KIN_OK)
			e->err = KIN_INTERNAL;
	}
	assert(part->pending > 0);
	if (--part->pending == 0)
		sl_msg_reply(w, &part->msg);
}

/* A shard's throughput accounting for --shard-limits (one-second windows),
 * kept in its log's service-private bytes. */
struct kin_windows {
	int64_t win_in_s;
	uint64_t win_in_bytes;
	uint64_t win_in_records;
	int64_t win_out_s;
	uint64_t win_out_bytes;
	uint32_t win_out_calls;
};
_Static_assert(sizeof(struct kin_windows) <= SL_WLOG_SVC_BYTES, "fits sl_wlog's svc bytes");

static struct kin_windows *windows(struct sl_wlog *log)
{
	return (struct kin_windows *)(void *)log->svc;
}

/* Per-shard input limits (--shard-limits): one-second windows. */
static bool in_throttled(struct sl_wlog *log, int64_t now_ms, uint32_t bytes)
{
	int64_t sec = now_ms / 1000;
	struct kin_windows *wl = windows(log);

	assert(bytes <= SL_KIN_DATA_MAX); /* data plus key, put_entry bounded it */
	if (!sl_cfg->shard_limits)
		return false;
	if (wl->win_in_s != sec) {
		wl->win_in_s = sec;
		wl->win_in_bytes = 0;
		wl->win_in_records = 0;
	}
	if (wl->win_in_records + 1 > SL_KIN_SHARD_IN_RECORDS_PER_S ||
	    wl->win_in_bytes + bytes > SL_KIN_SHARD_IN_BYTES_PER_S)
		return true;
	wl->win_in_records++;
	wl->win_in_bytes += bytes;
	return false;
}

/* On the owner: append this part's records, then wait for group commit. */
static void append_call(struct sl_worker *w, struct sl_msg *msg)
{
	struct kin_part *part = msg->arg;
	struct kin_put *p = part->put;
	int64_t now = sl_now_ms();
	uint32_t nwt = 0;
	struct sl_wlog *wls[SL_KIN_PUT_RECORDS_MAX];
	uint64_t in_records = 0, in_bytes = 0;
	/* Marks the logs this call touched, so finding a log's waiter is O(1). */
	static __thread uint64_t stamp;
	stamp++;
	/* The stream may have been deleted since the receiver routed this
	 * part: then nothing may be written (or its directory re-created). */
	bool gone = !sl_stream_find_uid(sl_catalog_get(), p->stream_uid);

	/* put_dispatch sends only parts with entries; wls[] holds one per entry. */
	assert(part->count > 0);
	assert(part->count <= SL_KIN_PUT_RECORDS_MAX);
	for (uint32_t k = 0; k < part->count && gone; k++)
		p->e[part->idx[k]].err = KIN_INTERNAL;
	for (uint32_t k = 0; k < part->count && !gone; k++) {
		struct kin_entry *e = &p->e[part->idx[k]];
		int err = 0;
		assert(e->err == KIN_PENDING);
		assert(e->owner == sl_worker_index(w)); /* only the owner appends */
		struct sl_wlog *wl = sl_worker_log(w, p->stream_uid, e->ordinal, &err);
		if (!wl || wl->closed) {
			e->err = wl ? KIN_REROUTE : KIN_INTERNAL;
			continue;
		}
		if (in_throttled(wl, now, e->data_len + e->pk_len)) {
			e->err = KIN_THROTTLED;
			continue;
		}
		int rc = sl_shardlog_append(wl->log, e->pk, e->pk_len, e->data, e->data_len, now, &e->n);
		if (rc < 0) {
			e->err = rc == -ENOBUFS ? KIN_THROTTLED : KIN_INTERNAL;
			continue;
		}
		e->err = KIN_OK;
		in_records++;
		in_bytes += e->data_len;
		/* part_durable() matches waiters to entries by ordinal. */
		assert(wl->ordinal == e->ordinal);
		/* One waiter per distinct log, targeting its newest record. */
		if (wl->batch_stamp != stamp) {
			assert(nwt < part->count);
			wl->batch_stamp = stamp;
			wl->batch_slot = nwt;
			wls[nwt] = wl;
			part->wt[nwt] = (struct sl_waiter){ .cb = part_durable, .arg = part,
							     .user = e->ordinal };
			nwt++;
		}
		part->wt[wl->batch_slot].target_n = e->n + 1;
	}
	part->pending = nwt;
	struct sl_metrics *m = sl_metrics_of(sl_worker_index(w));
	sl_metric_add(&m->records_in, in_records);
	sl_metric_add(&m->bytes_in, in_bytes);
	if (nwt == 0) {
		sl_msg_reply(w, msg);
		return;
	}
	for (uint32_t j = 0; j < nwt; j++)
		sl_worker_commit(w, wls[j], &part->wt[j]);
}

/* Lay out parts so each owner gets one message with the indices of its
 * KIN_PENDING entries (all of them at first; re-routed ones later). When
 * nothing is pending the request is settled at once. */
static void put_dispatch(struct sl_worker *w, struct kin_put *p)
{
	uint32_t counts[SL_WORKERS_MAX] = { 0 };
	uint32_t off = 0;

	assert(sl_worker_count() <= SL_WORKERS_MAX);
	for (uint32_t i = 0; i < p->count; i++) {
		assert(p->e[i].owner < sl_worker_count());
		counts[p->e[i].owner] += p->e[i].err == KIN_PENDING;
	}
	for (uint16_t o = 0; o < sl_worker_count(); o++) {
		p->parts[o].put = p;
		p->parts[o].idx = p->idx_pool + off;
		p->parts[o].wt = p->wt_pool + off;
		p->parts[o].count = 0;
		off += counts[o];
	}
	assert(off <= p->count); /* the index and waiter pools hold count each */
	for (uint32_t i = 0; i < p->count; i++) {
		if (p->e[i].err != KIN_PENDING)
			continue;
		struct kin_part *part = &p->parts[p->e[i].owner];
		part->idx[part->count++] = i;
	}
	p->parts_pending = 0;
	for (uint16_t o = 0; o < sl_worker_count(); o++)
		p->parts_pending += p->parts[o].count > 0;
	if (p->parts_pending == 0) {
		put_reply(w, p);
		return;
	}
	for (uint16_t o = 0; o < sl_worker_count(); o++) {
		struct kin_part *part = &p->parts[o];
		if (part->count == 0)
			continue;
		part->msg.fn = append_call;
		part->msg.done = append_done;
		part->msg.arg = part;
		sl_msg_send(w, o, &part->msg);
	}
}

/* One block from the request's scratch: the put, its entries, waiters,
 * index arrays and an arena for decoded data (never larger than the body). */
static struct kin_put *put_alloc(struct sl_req *req, uint32_t count, uint32_t **idx,
				 struct sl_waiter **wt, uint8_t **arena)
{
	size_t sz = sizeof(struct kin_put) + count * (sizeof(struct kin_entry) + sizeof(uint32_t) +
						      sizeof(struct sl_waiter)) +
		    req->body_len + count * 8 + 64 + _Alignof(struct kin_entry);
	struct kin_put *p = sl_req_scratch(req, sz);

	assert(count >= 1);
	assert(count <= SL_KIN_PUT_RECORDS_MAX);
	if (!p)
		return NULL;
	memset(p, 0, sizeof(*p));
	/* Entries hold a 128-bit hash: 16-byte alignment, or aligned SSE loads fault. */
	uintptr_t at = (uintptr_t)(p + 1);
	at = (at + _Alignof(struct kin_entry) - 1) & ~(uintptr_t)(_Alignof(struct kin_entry) - 1);
	p->e = (struct kin_entry *)at;
	*wt = (struct sl_waiter *)(p->e + count);
	*idx = (uint32_t *)(*wt + count);
	*arena = (uint8_t *)(*idx + count);
	/* The arena holds the decoded body (never larger than the body) and
	 * one NUL per partition key. */
	assert(*arena + req->body_len + count * 8 <= (uint8_t *)p + sz);
	memset(p->e, 0, count * sizeof(*p->e));
	p->req = req;
	p->count = count;
	p->idx_pool = *idx;
	p->wt_pool = *wt;
	return p;
}

static void kin_put(struct sl_worker *w, struct sl_req *req, bool single)
{
	struct sl_doc_tok *t = sl_worker_toks(w);
	struct sl_fields f;
	uint32_t count = 1, first = 0;

	if (sl_fields_parse(req, t, SL_DOC_TOKS_MAX, &f) < 0)
		goto out;
	const struct sl_stream_meta *s = sl_kin_stream(&f, sl_catalog_get());
	if (!s)
		goto out;
	if (!single) {
		int arr = sl_field_arr(&f, "Records", true);
		if (arr < 0)
			goto out;
		count = t[arr].count;
		if (count < 1 || count > SL_KIN_PUT_RECORDS_MAX) {
			sl_err_validation(req, "1 validation error detected: Value '%u' at 'records' "
					       "failed to satisfy constraint: Member must have length %s",
					  count, count < 1 ? "greater than or equal to 1" :
							     "less than or equal to 500");
			goto out;
		}
		first = sl_doc_first((uint32_t)arr);
	}
	if (!stream_writable(req, s))
		goto out;
	uint32_t *idx;
	struct sl_waiter *wt;
	uint8_t *arena;
	struct kin_put *p = put_alloc(req, count, &idx, &wt, &arena);
	if (!p) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		goto out;
	}
	p->single = single;
	p->stream_uid = s->hdr.uid;
	p->encrypted = s->encrypted;
	snprintf(p->stream_name, sizeof(p->stream_name), "%s", s->name);
	uint64_t total = 0;
	for (uint32_t i = 0, o = first; i < count; i++, o = sl_doc_next(t, o)) {
		if (!single && t[o].type != SL_DOC_OBJ) {
			sl_err_serialization(req, "Records member %u is not a structure", i);
			goto out;
		}
		if (put_entry(req, t, single ? 0 : o, s, &p->e[i], &arena, i, single) < 0)
			goto out;
		total += p->e[i].data_len + p->e[i].pk_len;
	}
	if (total > SL_KIN_PUT_RECORDS_BYTES_MAX) {
		sl_req_error(req, 400, "InvalidArgumentException",
			     "Records size exceeds 5 MB limit");
		goto out;
	}
	put_dispatch(w, p);
	return;
out:
	sl_req_finish(w, req);
}

/* ---- Puts from UDP ingest ---------------------------------------------- */

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

static void raw_finish(struct sl_worker *w, struct kin_put *p)
{
	struct sl_kin_raw_result *res = p->raw_res;

	for (uint32_t i = 0; i < p->count; i++) {
		const struct kin_entry *e = &p->e[i];
		res[i] = (struct sl_kin_raw_result){
			.err = e->err == KIN_OK ? SL_KIN_RAW_OK :
			       e->err == KIN_THROTTLED ? SL_KIN_RAW_THROTTLED : SL_KIN_RAW_INTERNAL,
			.ordinal = e->ordinal,
			.n = e->n + 1, /* as the sequence number prints it */
		};
	}
	p->raw_done(w, p->raw_arg, res, p->count);
	free(p->raw_block);
}

int sl_kin_put_raw(struct sl_worker *w, const struct sl_stream_meta *s,
		   const struct sl_kin_raw *recs, uint32_t n, sl_kin_raw_done done, void *arg)
{
	assert(n >= 1 && n <= SL_KIN_PUT_RECORDS_MAX);
	assert(arg != NULL);
	/* One block: the put, then its entries (16-byte aligned: a u128),
	 * waiters, indices and results. */
	size_t o_e = align_up(sizeof(struct kin_put), 16);
	size_t o_wt = align_up(o_e + n * sizeof(struct kin_entry), _Alignof(struct sl_waiter));
	size_t o_idx = o_wt + n * sizeof(struct sl_waiter);
	size_t o_res = align_up(o_idx + n * sizeof(uint32_t), _Alignof(struct sl_kin_raw_result));
	size_t sz = align_up(o_res + n * sizeof(struct sl_kin_raw_result), 16);
	uint8_t *block = aligned_alloc(16, sz);
	if (!block)
		return -ENOMEM;
	struct kin_put *p = (struct kin_put *)(void *)block;
	memset(p, 0, sizeof(*p));
	p->e = (struct kin_entry *)(void *)(block + o_e);
	p->wt_pool = (struct sl_waiter *)(void *)(block + o_wt);
	p->idx_pool = (uint32_t *)(void *)(block + o_idx);
	p->raw_res = (struct sl_kin_raw_result *)(void *)(block + o_res);
	p->raw_block = block;
	memset(p->e, 0, n * sizeof(*p->e));
	p->count = n;
	p->stream_uid = s->hdr.uid;
	p->encrypted = s->encrypted;
	snprintf(p->stream_name, sizeof(p->stream_name), "%s", s->name);
	p->raw_done = done;
	p->raw_arg = arg;
	for (uint32_t i = 0; i < n; i++) {
		struct kin_entry *e = &p->e[i];
		sl_u128 h = recs[i].has_hash ? recs[i].hash :
			    md5_u128((const char *)recs[i].key, recs[i].key_len);
		const struct sl_shard_meta *sh = sl_stream_route(s, h);
		e->pk = (const char *)recs[i].key;
		e->pk_len = recs[i].key_len;
		e->data = recs[i].data;
		e->data_len = recs[i].data_len;
		e->hash = h;
		if (!sh) {
			e->err = KIN_INTERNAL;
			continue;
		}
		e->ordinal = sh->ordinal;
		e->owner = sl_shard_owner(s->hdr.uid, sh->ordinal, sl_worker_count());
		e->err = KIN_PENDING;
	}
	put_dispatch(w, p);
	return 0;
}

bool sl_kin_stream_writable(const struct sl_stream_meta *s)
{
	return s->status == SL_STREAM_ACTIVE || s->status == SL_STREAM_UPDATING;
}

/* ---- Shard iterators ---------------------------------------------------- */

static void iter_encode(struct sl_enc *e, uint64_t uid, uint32_t ordinal, uint64_t n)
{
	struct sl_kin_iter it = { uid, ordinal, n, sl_now_ms() };
	char text[SL_KIN_ITER_TEXT];

	sl_enc_str(e, text, sl_kin_iter_pack(&it, text));
}

enum iter_type { IT_AT_SEQ = 0, IT_AFTER_SEQ, IT_TRIM_HORIZON, IT_LATEST, IT_AT_TIME };

struct kin_iter {
	struct sl_aio aio; /* first: the completion finds the iterator */
	struct sl_req *req;
	uint64_t uid;
	uint32_t ordinal;
	uint8_t type;
	uint64_t n;
	int64_t ts_ms;
	uint32_t retention_h;
	int err;
	/* Finding a time (TRIM_HORIZON, AT_TIMESTAMP) reads the shard on its
	 * owner without blocking it: from the page cache when the bytes are
	 * there, through io_uring when not. */
	struct sl_msg *msg;
	struct sl_wlog *wl;
	struct sl_read_cursor cur;
	uint8_t *buf;
	size_t buf_cap;
	char *path; /* a parked segment being opened (io_uring reads it) */
	bool found;
};

static int64_t retention_cutoff(uint32_t hours)
{
	return sl_now_ms() - (int64_t)hours * 3600 * 1000;
}

static bool iter_first(void *arg, const struct sl_rec_view *rec)
{
	struct kin_iter *it = arg;

	assert(!it->found); /* returning false ends the read at the first record */
	it->n = rec->n;
	it->found = true;
	return false; /* the first record at or after the time is the answer */
}

static void iter_finish(struct sl_worker *w, struct kin_iter *it, int rc)
{
	/* Only a read that iter_call started finishes here. */
	assert(it->wl);
	if (!it->found)
		it->n = sl_shardlog_durable_n(it->wl->log);
	if (rc < 0)
		it->err = rc;
	sl_shardlog_cursor_end(it->wl->log, &it->cur);
	free(it->buf);
	it->buf = NULL;
	free(it->path);
	it->path = NULL;
	sl_msg_reply(w, it->msg);
}

static void iter_pump(struct sl_worker *w, struct kin_iter *it);

/* A sealed segment whose fd was given back: open it through io_uring into
 * *path (allocated once per read), then go on with done. 0 or -errno. */
static int open_segment(struct sl_worker *w, struct sl_aio *aio, struct sl_shardlog *log,
			struct sl_read_cursor *cur, char **path,
			void (*done)(struct sl_worker *, struct sl_aio *, int))
{
	assert(cur->holds); /* the cursor pins the segment being opened */
	if (!*path && !(*path = malloc(PATH_MAX)))
		return -ENOMEM;
	sl_shardlog_cursor_path(log, cur, *path, PATH_MAX);
	aio->done = done;
	return sl_worker_open_rdonly(w, aio, *path);
}

static void iter_open_done(struct sl_worker *w, struct sl_aio *aio, int res)
{
	struct kin_iter *it = (struct kin_iter *)aio;
	int rc = sl_shardlog_cursor_opened(it->wl->log, &it->cur, res);

	if (rc < 0)
		iter_finish(w, it, rc);
	else
		iter_pump(w, it);
}

static void iter_read_done(struct sl_worker *w, struct sl_aio *aio, int res)
{
	struct kin_iter *it = (struct kin_iter *)aio;

	if (res < 0) {
		iter_finish(w, it, res);
		return;
	}
	assert((size_t)res <= it->buf_cap); /* a read never returns more than asked */
	int rc = sl_shardlog_cursor_feed(it->wl->log, &it->cur, it->buf, (size_t)res, iter_first, it);
	if (rc != 0 || it->found)
		iter_finish(w, it, rc < 0 ? rc : 0);
	else
		iter_pump(w, it);
}

/* Bounded: every round passes records or moves the cursor forward. */
static void iter_pump(struct sl_worker *w, struct kin_iter *it)
{
	for (;;) {
		int fd;
		uint64_t off;
		size_t len;
		/* An open cursor holds its log: it cannot be dropped under us. */
		assert(it->cur.holds);
		assert(sl_shardlog_readers(it->wl->log) > 0);
		int rc = sl_shardlog_cursor_want(it->wl->log, &it->cur, &fd, &off, &len);
		if (rc == 2 && !it->found) {
			rc = open_segment(w, &it->aio, it->wl->log, &it->cur, &it->path,
					  iter_open_done);
			if (rc < 0)
				iter_finish(w, it, rc);
			return; /* iter_open_done goes on */
		}
		if (rc != 0 || it->found) {
			iter_finish(w, it, rc < 0 ? rc : 0);
			return;
		}
		if (len > it->buf_cap) {
			free(it->buf);
			it->buf = malloc(len);
			it->buf_cap = it->buf ? len : 0;
			if (!it->buf) {
				iter_finish(w, it, -ENOMEM);
				return;
			}
		}
		it->aio.done = iter_read_done;
		rc = sl_worker_read_nowait(w, &it->aio, fd, it->buf, len, off);
		if (rc <= 0) {
			if (rc < 0)
				iter_finish(w, it, rc);
			return; /* iter_read_done goes on */
		}
		rc = sl_shardlog_cursor_feed(it->wl->log, &it->cur, it->buf, len, iter_first, it);
		if (rc != 0) {
			iter_finish(w, it, rc < 0 ? rc : 0);
			return;
		}
	}
}

/* On the owner: position the iterator. LATEST and the sequence-number
 * types need no I/O; a time is found by reading from the index's hint. */
static void iter_call(struct sl_worker *w, struct sl_msg *msg)
{
	struct kin_iter *it = msg->arg;

	assert(it->type <= IT_AT_TIME);
	assert(sl_shard_owner(it->uid, it->ordinal, sl_worker_count()) == sl_worker_index(w));
	it->wl = NULL;
	if (!sl_stream_find_uid(sl_catalog_get(), it->uid))
		it->err = -ENOENT; /* deleted meanwhile */
	else
		it->wl = sl_worker_log(w, it->uid, it->ordinal, &it->err);
	if (!it->wl || (it->type != IT_TRIM_HORIZON && it->type != IT_AT_TIME)) {
		if (it->wl && it->type == IT_LATEST)
			it->n = sl_shardlog_durable_n(it->wl->log);
		sl_msg_reply(w, msg);
		return;
	}
	/* TRIM_HORIZON is the first record still within the retention. */
	int64_t ts = it->type == IT_AT_TIME ? it->ts_ms : retention_cutoff(it->retention_h);
	it->msg = msg;
	it->found = false;
	it->buf = NULL;
	it->buf_cap = 0;
	it->path = NULL;
	uint64_t from = sl_shardlog_time_hint(it->wl->log, ts);
	int rc = sl_shardlog_cursor_start(it->wl->log, &it->cur, from, ts, 1, UINT64_MAX);
	if (rc != 0) {
		it->n = sl_shardlog_durable_n(it->wl->log);
		sl_shardlog_cursor_end(it->wl->log, &it->cur);
		if (rc < 0)
			it->err = rc;
		sl_msg_reply(w, msg);
		return;
	}
	iter_pump(w, it);
}

static void iter_done(struct sl_worker *w, struct sl_msg *msg)
{
	struct kin_iter *it = msg->arg;
	struct sl_req *req = it->req;

	if (it->err < 0) {
		sl_req_error(req, 500, "InternalFailure", "shard log unavailable: %s", strerror(-it->err));
	} else {
		sl_enc_obj_begin(&req->out);
		sl_enc_key(&req->out, "ShardIterator");
		iter_encode(&req->out, it->uid, it->ordinal, it->n);
		sl_enc_obj_end(&req->out);
	}
	sl_req_finish(w, req);
}

static int iter_type_parse(const char *s)
{
	static const char *const names[] = { "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER",
					     "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP" };

	_Static_assert(sizeof(names) / sizeof(names[0]) == IT_AT_TIME + 1, "a name per type");
	for (int i = 0; i < 5; i++) {
		if (strcmp(s, names[i]) == 0)
			return i;
	}
	return -1;
}

/* Validate the iterator request fields into it. 0 or -1 (error set). */
static int iter_fields(struct sl_fields *f, const struct sl_stream_meta *s, struct kin_iter *it)
{
	struct sl_req *req = f->req;
	char shard[130], type[32], seq[130];
	bool present;

	if (sl_field_str(f, "ShardId", shard, sizeof(shard), 1, 128, true, &present) < 0 ||
	    sl_field_str(f, "ShardIteratorType", type, sizeof(type), 0, 31, true, &present) < 0 ||
	    sl_field_str(f, "StartingSequenceNumber", seq, sizeof(seq), 0, 128, false, &present) < 0 ||
	    sl_field_time(f, "Timestamp", false, &it->ts_ms) < 0)
		return -1;
	int ty = iter_type_parse(type);
	if (ty < 0) {
		sl_err_validation(req, "1 validation error detected: Value '%s' at 'shardIteratorType' "
				       "failed to satisfy constraint: Member must satisfy enum value set: "
				       "[AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, TRIM_HORIZON, "
				       "AT_TIMESTAMP, LATEST]", type);
		return -1;
	}
	int64_t ord = sl_kin_shard_parse(shard);
	if (ord < 0 || ord >= s->nshards || sl_kin_shard_expired(s, &s->shards[ord], sl_now_ms())) {
		sl_req_error(req, 400, "ResourceNotFoundException",
			     "Shard %s in stream %s under account %s does not exist", shard, s->name,
			     sl_cfg->account_id);
		return -1;
	}
	assert(ord < s->nshards); /* checked just above */
	it->type = (uint8_t)ty;
	it->ordinal = (uint32_t)ord;
	if (ty == IT_AT_SEQ || ty == IT_AFTER_SEQ) {
		uint32_t sord;
		if (!present) {
			sl_req_error(req, 400, "InvalidArgumentException",
				     "You must specify a starting sequence number to get an iterator "
				     "of type %s.", type);
			return -1;
		}
		if (sl_kin_seq_parse(seq, strlen(seq), &sord, &it->n) < 0 || sord != it->ordinal) {
			char id[32];
			sl_kin_shard_id(it->ordinal, id);
			sl_req_error(req, 400, "InvalidArgumentException",
				     "Invalid StartingSequenceNumber. It encodes a different shard, or "
				     "is not a sequence number of shard %s in stream %s under account %s.",
				     id, s->name, sl_cfg->account_id);
			return -1;
		}
		/* Record n prints as n + 1 (see kinesis.h). */
		if (ty == IT_AT_SEQ && it->n > 0)
			it->n--;
	}
	if (ty == IT_AT_TIME && it->ts_ms > sl_now_ms()) {
		sl_req_error(req, 400, "InvalidArgumentException",
			     "The timestampInMillis parameter cannot be greater than the "
			     "currentTimestampInMillis. timestampInMillis: %lld, "
			     "currentTimestampInMillis: %lld", (long long)it->ts_ms,
			     (long long)sl_now_ms());
		return -1;
	}
	if (ty == IT_AT_TIME && sl_doc_get(f->t, f->obj, "Timestamp") < 0) {
		sl_req_error(req, 400, "InvalidArgumentException",
			     "Must specify timestampInMillis parameter for iterator of type "
			     "AT_TIMESTAMP. Current request has no timestamp parameter.");
		return -1;
	}
	return 0;
}

static void kin_get_iterator(struct sl_worker *w, struct sl_req *req)
{
	struct sl_doc_tok *t = sl_worker_toks(w);
	struct sl_fields f;

	if (sl_fields_parse(req, t, SL_DOC_TOKS_MAX, &f) < 0)
		goto out;
	const struct sl_stream_meta *s = sl_kin_stream(&f, sl_catalog_get());
	if (!s)
		goto out;
	struct kin_iter *it = sl_req_scratch(req, sizeof(*it));
	if (!it) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		goto out;
	}
	memset(it, 0, sizeof(*it));
	it->req = req;
	it->uid = s->hdr.uid;
	it->retention_h = s->retention_hours;
	if (iter_fields(&f, s, it) < 0)
		goto out;
	req->msg.fn = iter_call;
	req->msg.done = iter_done;
	req->msg.arg = it;
	sl_msg_send(w, sl_shard_owner(s->hdr.uid, it->ordinal, sl_worker_count()), &req->msg);
	return;
out:
	sl_req_finish(w, req);
}

/* ---- GetRecords ------------------------------------------------------------- */

/* A GetRecords on the owner. Reads go through a shard-log cursor: first
 * from the page cache without blocking (RWF_NOWAIT), and through io_uring
 * when the bytes are not cached, so a cold read never stalls the worker. */
struct kin_get {
	struct sl_aio aio; /* first: io_uring tags need 8-byte alignment */
	struct sl_req *req;
	struct sl_msg *msg;
	struct sl_wlog *wl;
	struct sl_read_cursor cur;
	uint64_t uid;
	uint64_t end_n;     /* closed shard: one past its last record; else UINT64_MAX */
	uint64_t n;
	uint32_t ordinal;
	uint32_t limit;
	bool encrypted;
	bool closed;
	int err;
	int64_t last_arrival_ms;
	uint64_t bytes;
	uint8_t *big; /* for a frame larger than the scratch chunk */
	size_t big_cap;
	char *path; /* a parked segment being opened */
	uint8_t chunk[]; /* SL_READ_CHUNK bytes follow in the request scratch */
};

static bool get_one(void *arg, const struct sl_rec_view *r)
{
	struct kin_get *g = arg;
	struct sl_enc *e = &g->req->out;
	char seq[SL_SEQ_LEN + 1];

	assert(r->n >= g->n); /* the cursor reads forward from the iterator */
	sl_kin_seq_fmt(g->ordinal, r->n + 1, seq);
	sl_enc_obj_begin(e);
	sl_enc_key(e, "SequenceNumber");
	sl_enc_str(e, seq, SL_SEQ_LEN);
	sl_enc_key(e, "ApproximateArrivalTimestamp");
	sl_enc_time_ms(e, r->arrival_ms);
	sl_enc_key(e, "Data");
	sl_enc_blob(e, r->data, r->data_len);
	sl_enc_key(e, "PartitionKey");
	sl_enc_str(e, (const char *)r->key, r->key_len);
	if (g->encrypted) {
		sl_enc_key(e, "EncryptionType");
		sl_enc_cstr(e, "KMS");
	}
	sl_enc_obj_end(e);
	g->last_arrival_ms = r->arrival_ms;
	g->bytes += r->data_len;
	return true;
}

static void encode_children(struct sl_enc *e, const struct sl_stream_meta *s, uint32_t ordinal)
{
	char id[32];

	/* get_call checked the ordinal, and a stream never loses shards. */
	assert(ordinal < s->nshards);
	sl_enc_key(e, "ChildShards");
	sl_enc_arr_begin(e);
	for (uint32_t i = 0; i < s->nshards; i++) {
		const struct sl_shard_meta *c = &s->shards[i];
		if (c->parent != (int32_t)ordinal && c->adjacent_parent != (int32_t)ordinal)
			continue;
		sl_enc_obj_begin(e);
		sl_kin_shard_id(c->ordinal, id);
		sl_enc_key(e, "ShardId");
		sl_enc_cstr(e, id);
		sl_enc_key(e, "ParentShards");
		sl_enc_arr_begin(e);
		sl_kin_shard_id((uint32_t)c->parent, id);
		sl_enc_cstr(e, id);
		if (c->adjacent_parent >= 0) {
			sl_kin_shard_id((uint32_t)c->adjacent_parent, id);
			sl_enc_cstr(e, id);
		}
		sl_enc_arr_end(e);
		sl_kin_encode_hash_range(e, c);
		sl_enc_obj_end(e);
	}
	sl_enc_arr_end(e);
}

/* Per-shard output limits (--shard-limits): 5 calls and 2 MiB a second. */
static bool out_throttled(struct sl_wlog *log, int64_t now_ms)
{
	int64_t sec = now_ms / 1000;
	struct kin_windows *wl = windows(log);

	if (!sl_cfg->shard_limits)
		return false;
	if (wl->win_out_s != sec) {
		wl->win_out_s = sec;
		wl->win_out_calls = 0;
		wl->win_out_bytes = 0;
	}
	if (wl->win_out_calls + 1 > SL_KIN_SHARD_OUT_CALLS_PER_S ||
	    wl->win_out_bytes >= SL_KIN_SHARD_OUT_BYTES_PER_S)
		return true;
	wl->win_out_calls++;
	return false;
}

static void get_finish(struct sl_worker *w, struct kin_get *g, int rc)
{
	struct sl_req *req = g->req;
	struct sl_enc *e = &req->out;
	int64_t now = sl_now_ms();
	uint64_t next = g->cur.n;

	assert(g->wl); /* set by get_call before the read started */
	sl_shardlog_cursor_end(g->wl->log, &g->cur);
	free(g->big);
	g->big = NULL;
	free(g->path);
	g->path = NULL;
	if (rc < 0) {
		sl_req_error(req, 500, "InternalFailure", "shard log read failed: %s", strerror(-rc));
		sl_msg_reply(w, g->msg);
		return;
	}
	if (next < g->n)
		next = g->n;
	assert(g->cur.count <= g->limit); /* the cursor stops at the limit */
	windows(g->wl)->win_out_bytes += g->bytes;
	sl_metric_add(&sl_metrics_of(sl_worker_index(w))->records_out, g->cur.count);
	sl_metric_add(&sl_metrics_of(sl_worker_index(w))->bytes_out, g->bytes);
	sl_enc_arr_end(e);
	sl_enc_key(e, "MillisBehindLatest");
	sl_enc_int(e, next >= sl_shardlog_durable_n(g->wl->log) || g->last_arrival_ms == 0 ? 0 :
		      now - g->last_arrival_ms);
	const struct sl_stream_meta *s = sl_stream_find_uid(sl_catalog_get(), g->uid);
	if (g->closed && next >= g->end_n) {
		if (s)
			encode_children(e, s, g->ordinal);
	} else {
		sl_enc_key(e, "NextShardIterator");
		iter_encode(e, g->uid, g->ordinal, next);
	}
	sl_enc_obj_end(e);
	sl_msg_reply(w, g->msg);
}

static uint8_t *get_buf(struct kin_get *g, size_t len)
{
	if (len <= SL_READ_CHUNK)
		return g->chunk;
	if (len > g->big_cap) {
		free(g->big);
		g->big = malloc(len);
		g->big_cap = g->big ? len : 0;
	}
	return g->big;
}

static void get_pump(struct sl_worker *w, struct kin_get *g);

static void get_read_done(struct sl_worker *w, struct sl_aio *aio, int res)
{
	struct kin_get *g = (struct kin_get *)aio;
	size_t len = g->cur.want;

	if (res < 0) {
		get_finish(w, g, res);
		return;
	}
	assert((size_t)res <= len); /* a read never returns more than asked */
	int rc = sl_shardlog_cursor_feed(g->wl->log, &g->cur, get_buf(g, len), (size_t)res,
					 get_one, g);
	if (rc != 0)
		get_finish(w, g, rc < 0 ? rc : 0);
	else
		get_pump(w, g);
}

static void get_open_done(struct sl_worker *w, struct sl_aio *aio, int res)
{
	struct kin_get *g = (struct kin_get *)aio;
	int rc = sl_shardlog_cursor_opened(g->wl->log, &g->cur, res);

	if (rc < 0)
		get_finish(w, g, rc);
	else
		get_pump(w, g);
}

/* Read until the cursor is done, or until a read must wait for the disk.
 * Bounded: every round passes records or moves the cursor forward. */
static void get_pump(struct sl_worker *w, struct kin_get *g)
{
	for (;;) {
		int fd;
		uint64_t off;
		size_t len;
		/* An open cursor holds its log: it cannot be dropped under us. */
		assert(g->cur.holds);
		assert(sl_shardlog_readers(g->wl->log) > 0);
		int rc = sl_shardlog_cursor_want(g->wl->log, &g->cur, &fd, &off, &len);
		if (rc == 2) {
			rc = open_segment(w, &g->aio, g->wl->log, &g->cur, &g->path, get_open_done);
			if (rc < 0)
				get_finish(w, g, rc);
			return; /* get_open_done goes on */
		}
		if (rc != 0) {
			get_finish(w, g, rc < 0 ? rc : 0);
			return;
		}
		uint8_t *buf = get_buf(g, len);
		if (!buf) {
			get_finish(w, g, -ENOMEM);
			return;
		}
		g->aio.done = get_read_done;
		rc = sl_worker_read_nowait(w, &g->aio, fd, buf, len, off);
		if (rc <= 0) {
			if (rc < 0)
				get_finish(w, g, rc);
			return; /* get_read_done goes on */
		}
		rc = sl_shardlog_cursor_feed(g->wl->log, &g->cur, buf, len, get_one, g);
		if (rc != 0) {
			get_finish(w, g, rc < 0 ? rc : 0);
			return;
		}
	}
}

/* On the owner: check the shard and the limits, open the reply, then read.
 * The catalog is read here, within this loop iteration. */
static void get_call(struct sl_worker *w, struct sl_msg *msg)
{
	struct kin_get *g = msg->arg;
	struct sl_req *req = g->req;
	struct sl_enc *e = &req->out;
	const struct sl_stream_meta *s = sl_stream_find_uid(sl_catalog_get(), g->uid);

	assert(sl_shard_owner(g->uid, g->ordinal, sl_worker_count()) == sl_worker_index(w));
	assert(g->limit >= 1); /* validated by kin_get_records */
	assert(g->limit <= SL_KIN_GET_LIMIT_MAX);
	g->msg = msg;
	if (!s || g->ordinal >= s->nshards) {
		sl_req_error(req, 400, "ResourceNotFoundException",
			     "Stream under account %s not found.", sl_cfg->account_id);
		sl_msg_reply(w, msg);
		return;
	}
	const struct sl_shard_meta *sh = &s->shards[g->ordinal];
	if (sl_kin_shard_expired(s, sh, sl_now_ms())) {
		sl_req_error(req, 400, "ResourceNotFoundException",
			     "Shard shardId-%012u in stream %s under account %s does not exist",
			     g->ordinal, s->name, sl_cfg->account_id);
		sl_msg_reply(w, msg);
		return;
	}
	g->wl = sl_worker_log(w, g->uid, g->ordinal, &g->err);
	if (!g->wl) {
		sl_req_error(req, 500, "InternalFailure", "shard log unavailable");
		sl_msg_reply(w, msg);
		return;
	}
	if (out_throttled(g->wl, sl_now_ms())) {
		char id[32];
		sl_kin_shard_id(g->ordinal, id);
		sl_req_error(req, 400, "ProvisionedThroughputExceededException",
			     "Rate exceeded for shard %s in stream %s under account %s.", id, s->name,
			     sl_cfg->account_id);
		sl_msg_reply(w, msg);
		return;
	}
	g->encrypted = s->encrypted;
	g->closed = sh->closed;
	g->end_n = sh->closed ? sh->end_n : UINT64_MAX;
	uint32_t limit = g->limit;
	if (g->n < g->end_n && g->end_n - g->n < limit)
		limit = (uint32_t)(g->end_n - g->n);
	if (g->n >= g->end_n)
		limit = 0;
	sl_enc_obj_begin(e);
	sl_enc_key(e, "Records");
	sl_enc_arr_begin(e);
	if (sl_shardlog_cursor_start(g->wl->log, &g->cur, g->n, retention_cutoff(s->retention_hours),
				     limit, SL_KIN_GET_BYTES_MAX) != 0) {
		get_finish(w, g, 0);
		return;
	}
	get_pump(w, g);
}

static void get_done(struct sl_worker *w, struct sl_msg *msg)
{
	struct kin_get *g = msg->arg;

	sl_req_finish(w, g->req);
}

static void kin_get_records(struct sl_worker *w, struct sl_req *req)
{
	struct sl_doc_tok *t = sl_worker_toks(w);
	struct sl_fields f;
	char text[600];
	bool present;
	int64_t limit = SL_KIN_GET_LIMIT_MAX;
	struct sl_kin_iter b;

	if (sl_fields_parse(req, t, SL_DOC_TOKS_MAX, &f) < 0)
		goto out;
	int len = sl_field_str(&f, "ShardIterator", text, sizeof(text), 1, 512, true, &present);
	if (len < 0 || sl_field_int(&f, "Limit", 1, SL_KIN_GET_LIMIT_MAX, false, &limit) < 0)
		goto out;
	if (sl_kin_iter_unpack(text, (size_t)len, &b) < 0) {
		sl_req_error(req, 400, "InvalidArgumentException", "Invalid ShardIterator.");
		goto out;
	}
	int64_t now = sl_now_ms();
	if (now - b.issued_ms > SL_KIN_ITERATOR_TTL_MS) {
		sl_req_error(req, 400, "ExpiredIteratorException",
			     "Iterator expired. The iterator was created at time %lld while right now "
			     "it is %lld which is further in the future than the tolerated delay of "
			     "%d milliseconds.", (long long)b.issued_ms, (long long)now,
			     SL_KIN_ITERATOR_TTL_MS);
		goto out;
	}
	const struct sl_stream_meta *s = sl_stream_find_uid(sl_catalog_get(), b.uid);
	if (!s || b.ordinal >= s->nshards) {
		sl_req_error(req, 400, "ResourceNotFoundException",
			     "Shard in stream under account %s does not exist", sl_cfg->account_id);
		goto out;
	}
	struct kin_get *g = sl_req_scratch(req, sizeof(*g) + SL_READ_CHUNK);
	if (!g) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		goto out;
	}
	memset(g, 0, sizeof(*g));
	g->req = req;
	g->uid = b.uid;
	g->ordinal = b.ordinal;
	g->n = b.n;
	g->limit = (uint32_t)limit;
	req->msg.fn = get_call;
	req->msg.done = get_done;
	req->msg.arg = g;
	sl_msg_send(w, sl_shard_owner(b.uid, b.ordinal, sl_worker_count()), &req->msg);
	return;
out:
	sl_req_finish(w, req);
}

/* ---- The data operations, and retention ---------------------------------- */

void sl_kin_put_record(struct sl_worker *w, struct sl_req *req)
{
	kin_put(w, req, true);
}

void sl_kin_put_records(struct sl_worker *w, struct sl_req *req)
{
	kin_put(w, req, false);
}

void sl_kin_get_records(struct sl_worker *w, struct sl_req *req)
{
	kin_get_records(w, req);
}

void sl_kin_get_shard_iterator(struct sl_worker *w, struct sl_req *req)
{
	kin_get_iterator(w, req);
}

static void trim_one(struct sl_worker *w, struct sl_wlog *wl, void *arg)
{
	const struct sl_catalog *c = arg;
	const struct sl_stream_meta *s = sl_stream_find_uid(c, wl->stream_uid);

	if (!s)
		return;
	if (wl->ordinal < s->nshards && sl_kin_shard_expired(s, &s->shards[wl->ordinal], sl_now_ms())) {
		/* A closed shard past retention: its whole log goes (retried next
		 * tick while a flush or read still holds it). */
		uint32_t ordinal = wl->ordinal;
		if (sl_worker_drop_log(w, wl->stream_uid, ordinal) == 0)
			sl_info("retention: deleted closed shard %u of stream %s", ordinal, s->name);
		return;
	}
	int rc = sl_worker_trim_log(w, wl, retention_cutoff(s->retention_hours));
	if (rc > 0)
		sl_info("retention: deleted %d segment(s) of stream %s shard %u", rc, s->name,
			wl->ordinal);
}

struct preload {
	struct sl_worker *w;
	const struct sl_catalog *c;
	int64_t now;
};

/* One log directory on disk: open it if it is a live shard this worker owns. */
static void preload_one(uint64_t uid, uint32_t ordinal, void *arg)
{
	struct preload *pl = arg;
	const struct sl_stream_meta *s = sl_stream_find_uid(pl->c, uid);
	int err = 0;

	if (!s || ordinal >= s->nshards ||
	    sl_shard_owner(uid, ordinal, sl_worker_count()) != sl_worker_index(pl->w) ||
	    sl_kin_shard_expired(s, &s->shards[ordinal], pl->now))
		return;
	if (!sl_worker_log_existing(pl->w, uid, ordinal, &err) && err != -ENOENT)
		sl_error("stream %s shard %u: %s (opened on first use instead)", s->name, ordinal,
			 strerror(-err));
}

void sl_kin_preload(struct sl_worker *w)
{
	struct preload pl = { w, sl_catalog_get(), sl_now_ms() };

	/* What exists on disk, not every shard the catalog names: a start-up
	 * with a million streams never written costs nothing here. */
	int rc = sl_worker_foreach_log_dir(preload_one, &pl);
	if (rc < 0)
		sl_error("cannot list the shard logs: %s (they are opened on first use)",
			 strerror(-rc));
}

void sl_kin_tick(struct sl_worker *w)
{
	sl_kin_udp_tick(w);
	sl_worker_foreach_log(w, trim_one, (void *)sl_catalog_get());
}
