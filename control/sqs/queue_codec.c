/* queue_codec.c - an SQS queue's catalog record: encode, decode, clone.
 *
 * Layout (little-endian, bin.h): region, name, a flags byte (fifo,
 * content_dedup, sse), dedup_scope, throughput, the six u32 times and
 * sizes, created_ms, modified_ms, policy, redrive, redrive_allow, kms_key
 * (empty: unset), then the tags (count, key, value...). A decoded record is
 * checked against the ranges a handler accepts, so that recovery never
 * loads a queue no request could have made.
 */
#include <stdlib.h>
#include <string.h>

#include "control/sqs/queues.h"

int sl_queue_cmp(const struct sl_cobj *key, const struct sl_cobj *o)
{
	const struct sl_queue *a = (const void *)key, *b = (const void *)o;
	int c = strcmp(a->region, b->region);

	return c ? c : strcmp(a->name, b->name);
}

static void free_body(struct sl_queue *q)
{
	free(q->policy);
	free(q->redrive);
	free(q->redrive_allow);
	free(q->kms_key);
	for (uint32_t i = 0; i < q->ntags; i++) {
		free(q->tags[i].key);
		free(q->tags[i].value);
	}
	free(q->tags);
}

void sl_queue_free(struct sl_cobj *o)
{
	if (!o)
		return;
	free_body((struct sl_queue *)o);
	free(o);
}

static bool dup_str(char **slot, const char *s)
{
	*slot = s ? strdup(s) : NULL;
	return !s || *slot;
}

struct sl_cobj *sl_queue_clone(const struct sl_cobj *o)
{
	const struct sl_queue *q = (const void *)o;
	struct sl_queue *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	*c = *q;
	c->policy = c->redrive = c->redrive_allow = c->kms_key = NULL;
	c->tags = NULL;
	c->ntags = 0;
	bool ok = dup_str(&c->policy, q->policy) && dup_str(&c->redrive, q->redrive) &&
		  dup_str(&c->redrive_allow, q->redrive_allow) && dup_str(&c->kms_key, q->kms_key);
	if (ok && q->ntags) {
		c->tags = calloc(q->ntags, sizeof(*c->tags));
		ok = c->tags != NULL;
		for (uint32_t i = 0; ok && i < q->ntags; i++) {
			ok = dup_str(&c->tags[i].key, q->tags[i].key) &&
			     dup_str(&c->tags[i].value, q->tags[i].value);
			c->ntags = i + 1;
		}
	}
	if (!ok) {
		sl_queue_free(&c->hdr);
		return NULL;
	}
	return &c->hdr;
}

void sl_queue_encode(const struct sl_cobj *o, struct sl_bw *w)
{
	const struct sl_queue *q = (const void *)o;

	sl_bw_str(w, q->region);
	sl_bw_str(w, q->name);
	sl_bw_u8(w, (uint8_t)(q->fifo | q->content_dedup << 1 | q->sse << 2));
	sl_bw_u8(w, q->dedup_scope);
	sl_bw_u8(w, q->throughput);
	sl_bw_u32(w, q->delay_s);
	sl_bw_u32(w, q->max_size);
	sl_bw_u32(w, q->retention_s);
	sl_bw_u32(w, q->visibility_s);
	sl_bw_u32(w, q->wait_s);
	sl_bw_u32(w, q->kms_reuse_s);
	sl_bw_u64(w, (uint64_t)q->created_ms);
	sl_bw_u64(w, (uint64_t)q->modified_ms);
	sl_bw_str(w, q->policy);
	sl_bw_str(w, q->redrive);
	sl_bw_str(w, q->redrive_allow);
	sl_bw_str(w, q->kms_key);
	sl_bw_u32(w, q->ntags);
	for (uint32_t i = 0; i < q->ntags; i++) {
		sl_bw_str(w, q->tags[i].key);
		sl_bw_str(w, q->tags[i].value);
	}
	sl_bw_u8(w, q->nparts ? q->nparts : 1); /* absent in records from before partitions: 1 */
}

bool sl_queue_name_ok(const char *name, size_t n, bool *fifo)
{
	*fifo = n > 5 && memcmp(name + n - 5, ".fifo", 5) == 0;
	size_t base = *fifo ? n - 5 : n;

	if (n == 0 || n > SL_SQS_NAME_MAX || base == 0)
		return false;
	for (size_t i = 0; i < base; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* A stored name: valid, and a FIFO name exactly on a FIFO queue. */
static bool name_ok(const char *name, bool fifo)
{
	bool is_fifo;

	return sl_queue_name_ok(name, strlen(name), &is_fifo) && is_fifo == fifo;
}

static bool ranges_ok(const struct sl_queue *q)
{
	return q->delay_s <= SL_SQS_DELAY_MAX_S && q->max_size >= SL_SQS_MSG_SIZE_MIN &&
	       q->max_size <= SL_SQS_MSG_SIZE_MAX && q->retention_s >= SL_SQS_RETENTION_MIN_S &&
	       q->retention_s <= SL_SQS_RETENTION_MAX_S && q->visibility_s <= SL_SQS_VISIBILITY_MAX_S &&
	       q->wait_s <= SL_SQS_WAIT_MAX_S && q->kms_reuse_s >= SL_SQS_KMS_REUSE_MIN_S &&
	       q->kms_reuse_s <= SL_SQS_KMS_REUSE_MAX_S && q->dedup_scope <= SL_SQS_DEDUP_GROUP &&
	       q->throughput <= SL_SQS_PER_GROUP && (q->fifo || (!q->content_dedup &&
	       q->dedup_scope == 0 && q->throughput == 0));
}

struct sl_cobj *sl_queue_decode(const uint8_t *p, size_t n)
{
	struct sl_br r = sl_br_make(p, n);
	struct sl_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->hdr.type = SL_COBJ_QUEUE;
	sl_br_str(&r, q->region, sizeof(q->region));
	sl_br_str(&r, q->name, sizeof(q->name));
	uint8_t flags = sl_br_u8(&r);
	q->fifo = flags & 1;
	q->content_dedup = flags >> 1 & 1;
	q->sse = flags >> 2 & 1;
	q->dedup_scope = sl_br_u8(&r);
	q->throughput = sl_br_u8(&r);
	q->delay_s = sl_br_u32(&r);
	q->max_size = sl_br_u32(&r);
	q->retention_s = sl_br_u32(&r);
	q->visibility_s = sl_br_u32(&r);
	q->wait_s = sl_br_u32(&r);
	q->kms_reuse_s = sl_br_u32(&r);
	q->created_ms = (int64_t)sl_br_u64(&r);
	q->modified_ms = (int64_t)sl_br_u64(&r);
	bool ok = !r.bad && (flags & ~7u) == 0 && q->region[0] && name_ok(q->name, q->fifo) &&
		  ranges_ok(q) && sl_br_dup_str(&r, 0, SL_SQS_POLICY_MAX, true, &q->policy) &&
		  sl_br_dup_str(&r, 0, SL_SQS_REDRIVE_MAX, true, &q->redrive) &&
		  sl_br_dup_str(&r, 0, SL_SQS_REDRIVE_MAX, true, &q->redrive_allow) &&
		  sl_br_dup_str(&r, 0, SL_SQS_KMS_KEY_MAX, true, &q->kms_key);
	uint32_t nt = ok ? sl_br_u32(&r) : 0;
	ok = ok && !r.bad && nt <= SL_SQS_TAGS_MAX;
	if (ok && nt) {
		q->tags = calloc(nt, sizeof(*q->tags));
		ok = q->tags != NULL;
	}
	for (uint32_t i = 0; ok && i < nt; i++) {
		q->ntags = i + 1;
		ok = sl_br_dup_str(&r, 1, SL_SQS_TAG_KEY_MAX, false, &q->tags[i].key) &&
		     sl_br_dup_str(&r, 0, SL_SQS_TAG_VALUE_MAX, false, &q->tags[i].value) &&
		     (i == 0 || strcmp(q->tags[i - 1].key, q->tags[i].key) < 0);
	}
	q->nparts = 1;
	if (ok && !r.bad && sl_br_left(&r) > 0)
		q->nparts = sl_br_u8(&r);
	ok = ok && q->nparts >= 1 && q->nparts <= SL_SQS_PARTS_MAX && (!q->fifo || q->nparts == 1);
	if (!ok || r.bad || sl_br_left(&r) != 0) {
		sl_queue_free(&q->hdr);
		return NULL;
	}
	return &q->hdr;
}
