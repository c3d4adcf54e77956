/* fuzz_catalog.c - the catalog's record frames (catrec.c) and the stream
 * record decoder (control/kinesis/stream_codec.c), as recovery reads them
 * from a log or snapshot it did not write.
 * Invariants: the scan never reads past the input and reports a prefix of
 * it; a frame it passes re-frames to the same bytes; a stream that decodes
 * is well formed (parents before children, open shards sorted and open) and
 * encodes to bytes that decode and encode again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/catrec.h"
#include "control/kinesis/streams.h"

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

static void round_trip(const uint8_t *p, size_t n)
{
	struct sl_cobj *o = sl_stream_decode(p, n);

	if (!o)
		return;
	check_stream((const struct sl_stream_meta *)o);
	struct sl_bw a = { 0 }, b = { 0 };
	sl_stream_encode(o, &a);
	struct sl_cobj *c = sl_stream_clone(o);
	sl_stream_free(o);
	if (a.err || !c) {
		sl_bw_free(&a);
		sl_stream_free(c);
		return;
	}
	struct sl_cobj *d = sl_stream_decode(a.p, a.len);
	if (!d)
		abort(); /* what we encode, we must read back */
	sl_stream_encode(d, &b);
	if (!b.err && (a.len != b.len || memcmp(a.p, b.p, a.len) != 0))
		abort();
	struct sl_bw e = { 0 };
	sl_stream_encode(c, &e);
	if (!e.err && (e.len != a.len || memcmp(e.p, a.p, a.len) != 0))
		abort(); /* a clone encodes as its original */
	sl_bw_free(&a);
	sl_bw_free(&b);
	sl_bw_free(&e);
	sl_stream_free(c);
	sl_stream_free(d);
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
