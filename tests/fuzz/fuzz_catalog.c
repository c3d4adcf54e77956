/* fuzz_catalog.c - the catalog's record frames (catrec.c) and the object
 * decoders (Kinesis streams, control/kinesis/stream_codec.c; SQS queues,
 * control/sqs/queue_codec.c; SNS topics and subscriptions,
 * control/sns/topic_codec.c, with the filter policies it compiles), as
 * recovery reads them from a log or snapshot it did not write.
 * Invariants: the scan never reads past the input and reports a prefix of
 * it; a frame it passes re-frames to the same bytes; a stream that decodes
 * is well formed (parents before children, open shards sorted and open) and
 * encodes to bytes that decode and encode again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/catrec.h"
#include "control/kinesis/streams.h"
#include "control/sns/platform.h"
#include "control/sns/topics.h"
#include "control/sqs/queues.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_stream(const struct sl_stream_meta *s)
{
	if (!s->name[0] || !s->region[0] || s->nopen > s->nshards)
		abort();
	for (uint32_t i = 0; i < s->nshards; i++) {
		const struct sl_shard_meta *sh = &s->shards[i];
		if (sh->ordinal != i || sh->parent >= (int32_t)i || sh->adjacent_parent >= (int32_t)i ||
		    sh->hash_start > sh->hash_end)
			abort();
	}
	for (uint32_t i = 0; i < s->nopen; i++) {
		if (s->open[i] >= s->nshards || s->shards[s->open[i]].closed)
			abort();
		if (i && s->shards[s->open[i - 1]].hash_start > s->shards[s->open[i]].hash_start)
			abort();
	}
}

/* A queue that decodes holds what a request could have set. */
static void check_queue(const struct sl_cobj *o)
{
	const struct sl_queue *q = (const void *)o;

	if (!q->name[0] || !q->region[0] || q->ntags > SL_SQS_TAGS_MAX ||
	    q->max_size < SL_SQS_MSG_SIZE_MIN || q->max_size > SL_SQS_MSG_SIZE_MAX ||
	    q->retention_s < SL_SQS_RETENTION_MIN_S || q->delay_s > SL_SQS_DELAY_MAX_S)
		abort();
	for (uint32_t i = 1; i < q->ntags; i++) {
		if (strcmp(q->tags[i - 1].key, q->tags[i].key) >= 0)
			abort();
	}
}

/* Attribute and tag lists that decode are sorted, within their caps. */
static void check_kvs(const struct sl_sns_kvs *kv, uint32_t max)
{
	if (kv->n > max)
		abort();
	for (uint32_t i = 1; i < kv->n; i++) {
		if (strcmp(kv->v[i - 1].key, kv->v[i].key) >= 0)
			abort();
	}
}

static void check_topic(const struct sl_cobj *o)
{
	const struct sl_topic *t = (const void *)o;
	bool fifo;

	if (!t->region[0] || !sl_topic_name_ok(t->name, strlen(t->name), &fifo) || fifo != t->fifo ||
	    (t->content_dedup && !t->fifo))
		abort();
	check_kvs(&t->attrs, 64);
	check_kvs(&t->tags, SL_SNS_TAGS_MAX);
}

static void check_sub(const struct sl_cobj *o)
{
	const struct sl_sub *s = (const void *)o;

	if (!s->topic_uid || strlen(s->id) != SL_SNS_SUB_ID_LEN || s->protocol >= SL_SNS_PROTOS ||
	    !s->endpoint || !s->endpoint[0])
		abort();
	check_kvs(&s->attrs, 64);
	/* A subscription with a filter policy has it compiled. */
	if ((sl_sns_kv_get(&s->attrs, "FilterPolicy") != NULL) != (s->filter != NULL))
		abort();
}

static void check_platform(const struct sl_cobj *o)
{
	const struct sl_platform *p = (const void *)o;

	if (!p->region[0] || !sl_platform_kind_ok(p->platform) || !sl_platform_name_ok(p->app) ||
	    (p->id[0] && strlen(p->id) != SL_SNS_SUB_ID_LEN))
		abort();
	check_kvs(&p->attrs, 64);
}

static void check_stream_obj(const struct sl_cobj *o)
{
	check_stream((const struct sl_stream_meta *)o);
}

struct codec {
	struct sl_cobj *(*decode)(const uint8_t *p, size_t n);
	void (*encode)(const struct sl_cobj *o, struct sl_bw *w);
	struct sl_cobj *(*clone)(const struct sl_cobj *o);
	void (*free)(struct sl_cobj *o);
	void (*check)(const struct sl_cobj *o);
};

static const struct codec codecs[] = {
	{ sl_stream_decode, sl_stream_encode, sl_stream_clone, sl_stream_free, check_stream_obj },
	{ sl_queue_decode, sl_queue_encode, sl_queue_clone, sl_queue_free, check_queue },
	{ sl_topic_decode, sl_topic_encode, sl_topic_clone, sl_topic_free, check_topic },
	{ sl_sub_decode, sl_sub_encode, sl_sub_clone, sl_sub_free, check_sub },
	{ sl_platform_decode, sl_platform_encode, sl_platform_clone, sl_platform_free,
	  check_platform },
};

static void round_trip_with(const struct codec *k, const uint8_t *p, size_t n)
{
	struct sl_cobj *o = k->decode(p, n);

	if (!o)
		return;
	k->check(o);
	struct sl_bw a = { 0 }, b = { 0 };
	k->encode(o, &a);
	struct sl_cobj *c = k->clone(o);
	k->free(o);
	if (a.err || !c) {
		sl_bw_free(&a);
		k->free(c);
		return;
	}
	struct sl_cobj *d = k->decode(a.p, a.len);
	if (!d)
		abort(); /* what we encode, we must read back */
	k->encode(d, &b);
	if (!b.err && (a.len != b.len || memcmp(a.p, b.p, a.len) != 0))
		abort();
	struct sl_bw e = { 0 };
	k->encode(c, &e);
	if (!e.err && (e.len != a.len || memcmp(e.p, a.p, a.len) != 0))
		abort(); /* a clone encodes as its original */
	sl_bw_free(&a);
	sl_bw_free(&b);
	sl_bw_free(&e);
	k->free(c);
	k->free(d);
}

static void round_trip(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		round_trip_with(&codecs[i], p, n);
}

struct scan_state {
	const uint8_t *base;
	size_t size;
	size_t off;
};

static int on_frame(const struct sl_crec *r, void *arg)
{
	struct scan_state *st = arg;

	if (r->body < st->base || r->body + r->len > st->base + st->size)
		abort();
	/* The frame re-framed from its fields is the same bytes. */
	struct sl_bw w = { 0 };
	size_t off = sl_crec_begin(&w, r->op, r->type, r->uid);
	sl_bw_bytes(&w, r->body, r->len);
	sl_crec_end(&w, off);
	if (!w.err && (w.len > st->size - st->off || memcmp(w.p, st->base + st->off, w.len) != 0))
		abort();
	st->off += w.len;
	sl_bw_free(&w);
	if (r->op == SL_CREC_PUT)
		round_trip(r->body, r->len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_state st = { data, size, 0 };

	/* Raw bytes as one stream record, then as a run of frames. */
	round_trip(data, size);
	size_t used = sl_crec_scan(data, size, 1u << 20, on_frame, &st);
	if (used > size || used != st.off)
		abort();
	return 0;
}
