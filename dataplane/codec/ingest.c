/* ingest.c - the UDP ingest protocol's codec (ingest.h,
 * docs/ingest-protocol.md). Reads check every length against what is left
 * before they look; writes check against the buffer's capacity. */
#include "dataplane/codec/ingest.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "dataplane/codec/text.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

static bool name_ok(const uint8_t *s, size_t n)
{
	if (n == 0 || n > SL_INGEST_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* The bytes of the record at p (at most left): its length, or 0 when it
 * does not fit what is left. */
static size_t rec_len(const uint8_t *p, size_t left)
{
	if (left < SL_INGEST_REC_HDR_BYTES)
		return 0;
	size_t len = SL_INGEST_REC_HDR_BYTES + ((p[0] & 1) ? 16 : 0);
	uint64_t body = (uint64_t)rd16(p + 2) + rd32(p + 4);
	if (len > left || body > left - len)
		return 0;
	return len + (size_t)body;
}

int sl_ingest_parse(const uint8_t *p, size_t n, struct sl_ingest_view *v)
{
	memset(v, 0, sizeof(*v));
	if (n < SL_INGEST_HDR_BYTES || rd32(p) != SL_INGEST_MAGIC)
		return -1;
	struct sl_ingest_hdr *h = &v->h;
	h->version = p[4];
	h->type = p[5];
	h->flags = rd16(p + 6);
	h->producer_id = rd64(p + 8);
	h->seq = rd64(p + 16);
	h->stream_id = rd64(p + 24);
	h->count = rd16(p + 32);
	h->status = p[34];
	h->name_len = p[35];
	if (h->version != SL_INGEST_VERSION)
		return SL_INGEST_UNSUPPORTED_VERSION;
	if (h->type < SL_INGEST_PUT || h->type > SL_INGEST_LOOKUP_ACK ||
	    (h->flags & ~SL_INGEST_F_KNOWN) != 0)
		return SL_INGEST_MALFORMED;
	bool request = h->type == SL_INGEST_PUT || h->type == SL_INGEST_LOOKUP;
	size_t end = n;
	if (h->flags & SL_INGEST_F_AUTH) {
		if (n - SL_INGEST_HDR_BYTES < SL_INGEST_TAG_BYTES)
			return SL_INGEST_MALFORMED;
		end = n - SL_INGEST_TAG_BYTES;
		v->tag = p + end;
		v->signed_len = end;
	}
	if (end - SL_INGEST_HDR_BYTES < h->name_len)
		return SL_INGEST_MALFORMED;
	if (h->name_len)
		v->name = p + SL_INGEST_HDR_BYTES;
	v->body = p + SL_INGEST_HDR_BYTES + h->name_len;
	v->body_len = end - SL_INGEST_HDR_BYTES - h->name_len;
	if (request) {
		/* By name or by id, never both; a lookup is by name. */
		if (h->status != 0 || (h->flags & SL_INGEST_F_DUPLICATE) ||
		    (h->name_len ? !name_ok(v->name, h->name_len) || h->stream_id != 0 :
				   h->stream_id == 0 || h->type == SL_INGEST_LOOKUP))
			return SL_INGEST_MALFORMED;
	} else if (h->name_len) {
		return SL_INGEST_MALFORMED;
	}
	switch (h->type) {
	case SL_INGEST_PUT: {
		if (h->count == 0 || h->count > SL_INGEST_RECORDS_MAX)
			return SL_INGEST_MALFORMED;
		const uint8_t *q = v->body, *qend = v->body + v->body_len;
		for (uint32_t i = 0; i < h->count; i++) {
			size_t len = rec_len(q, (size_t)(qend - q));
			if (len == 0)
				return SL_INGEST_MALFORMED;
			q += len;
		}
		return q == qend ? SL_INGEST_OK : SL_INGEST_MALFORMED;
	}
	case SL_INGEST_PUT_ACK:
		if ((h->status == SL_INGEST_OK) != (h->count > 0) ||
		    v->body_len != (size_t)h->count * SL_INGEST_RUN_BYTES)
			return SL_INGEST_MALFORMED;
		return SL_INGEST_OK;
	default: /* the lookups carry nothing after the header and name */
		if ((h->type == SL_INGEST_LOOKUP && h->count != 0) || v->body_len != 0)
			return SL_INGEST_MALFORMED;
		return SL_INGEST_OK;
	}
}

void sl_ingest_iter_init(struct sl_ingest_iter *it, const struct sl_ingest_view *v)
{
	it->p = v->body;
	it->end = v->body + v->body_len;
}

int sl_ingest_next(struct sl_ingest_iter *it, struct sl_ingest_rec *r)
{
	size_t len = it->p < it->end ? rec_len(it->p, (size_t)(it->end - it->p)) : 0;

	if (len == 0)
		return 0;
	const uint8_t *p = it->p, *start = it->p;
	memset(r, 0, sizeof(*r));
	r->has_hash = p[0] & 1;
	r->key_len = rd16(p + 2);
	r->data_len = rd32(p + 4);
	p += SL_INGEST_REC_HDR_BYTES;
	if (r->has_hash) {
		memcpy(r->hash, p, 16);
		p += 16;
	}
	r->key = p;
	r->data = p + r->key_len;
	it->p += len;
	/* Kinesis's rules, record by record. */
	long chars = sl_utf8_count(r->key, r->key_len);
	if ((start[0] & ~1) != 0 || start[1] != 0 || r->key_len == 0 ||
	    r->key_len > SL_INGEST_KEY_BYTES_MAX || chars < 0 || chars > SL_INGEST_KEY_CHARS_MAX)
		r->status = SL_INGEST_INVALID;
	else if ((uint64_t)r->key_len + r->data_len > SL_INGEST_RECORD_MAX)
		r->status = SL_INGEST_RECORD_TOO_LARGE;
	return 1;
}

int sl_ingest_next_run(struct sl_ingest_iter *it, struct sl_ingest_run *run)
{
	if (it->end - it->p < SL_INGEST_RUN_BYTES)
		return 0;
	const uint8_t *p = it->p;
	run->status = p[0];
	run->run = rd16(p + 2);
	run->shard = rd32(p + 4);
	run->first_n = rd64(p + 8);
	it->p += SL_INGEST_RUN_BYTES;
	return 1;
}

void sl_ingest_begin(struct sl_ingest_writer *w, uint8_t *buf, size_t cap,
		     const struct sl_ingest_hdr *h, const char *name)
{
	size_t nl = name ? strlen(name) : 0;

	*w = (struct sl_ingest_writer){ .buf = buf, .cap = cap, .type = h->type };
	if (cap < SL_INGEST_HDR_BYTES + nl || nl > SL_INGEST_NAME_MAX) {
		w->err = true;
		return;
	}
	wr32(buf, SL_INGEST_MAGIC);
	buf[4] = h->version ? h->version : SL_INGEST_VERSION;
	buf[5] = h->type;
	wr16(buf + 6, h->flags);
	wr64(buf + 8, h->producer_id);
	wr64(buf + 16, h->seq);
	wr64(buf + 24, h->stream_id);
	wr16(buf + 32, h->count);
	buf[34] = h->status;
	buf[35] = (uint8_t)nl;
	memcpy(buf + SL_INGEST_HDR_BYTES, name ? name : "", nl);
	w->len = SL_INGEST_HDR_BYTES + nl;
}

void sl_ingest_add_record(struct sl_ingest_writer *w, const void *key, size_t key_len,
			  const void *data, size_t data_len, const uint8_t *hash)
{
	size_t need = SL_INGEST_REC_HDR_BYTES + (hash ? 16 : 0) + key_len + data_len;

	if (w->err || w->type != SL_INGEST_PUT || key_len > UINT16_MAX || data_len > UINT32_MAX ||
	    w->count >= SL_INGEST_RECORDS_MAX || need > w->cap - w->len) {
		w->err = true;
		return;
	}
	uint8_t *p = w->buf + w->len;
	p[0] = hash ? 1 : 0;
	p[1] = 0;
	wr16(p + 2, (uint16_t)key_len);
	wr32(p + 4, (uint32_t)data_len);
	p += SL_INGEST_REC_HDR_BYTES;
	if (hash) {
		memcpy(p, hash, 16);
		p += 16;
	}
	memcpy(p, key, key_len);
	memcpy(p + key_len, data, data_len);
	w->len += need;
	w->count++;
}

void sl_ingest_add_run(struct sl_ingest_writer *w, uint8_t status, uint32_t shard, uint64_t n)
{
	if (w->err || w->type != SL_INGEST_PUT_ACK) {
		w->err = true;
		return;
	}
	if (w->count) {
		uint8_t *last = w->buf + w->len - SL_INGEST_RUN_BYTES;
		uint16_t run = rd16(last + 2);
		bool ok = status == SL_INGEST_OK;
		if (last[0] == status && run < UINT16_MAX &&
		    (!ok || (rd32(last + 4) == shard && rd64(last + 8) + run == n))) {
			wr16(last + 2, (uint16_t)(run + 1));
			return;
		}
	}
	if (w->cap - w->len < SL_INGEST_RUN_BYTES || w->count >= UINT16_MAX) {
		w->err = true;
		return;
	}
	uint8_t *p = w->buf + w->len;
	memset(p, 0, SL_INGEST_RUN_BYTES);
	p[0] = status;
	wr16(p + 2, 1);
	if (status == SL_INGEST_OK) {
		wr32(p + 4, shard);
		wr64(p + 8, n);
	}
	w->len += SL_INGEST_RUN_BYTES;
	w->count++;
}

static void tag_of(const uint8_t *p, size_t n, const uint8_t *key, size_t key_len,
		   uint8_t out[SL_INGEST_TAG_BYTES])
{
	unsigned int len = SL_INGEST_TAG_BYTES;

	if (!HMAC(EVP_sha256(), key, (int)key_len, p, n, out, &len))
		memset(out, 0, SL_INGEST_TAG_BYTES);
}

size_t sl_ingest_end(struct sl_ingest_writer *w, const uint8_t *key, size_t key_len)
{
	if (w->err || w->count > UINT16_MAX)
		return 0;
	/* PUT and PUT_ACK count what was added; a LOOKUP_ACK keeps the
	 * header's (the stream's open shards). */
	if (w->type == SL_INGEST_PUT || w->type == SL_INGEST_PUT_ACK)
		wr16(w->buf + 32, (uint16_t)w->count);
	if (rd16(w->buf + 6) & SL_INGEST_F_AUTH) {
		if (w->cap - w->len < SL_INGEST_TAG_BYTES) {
			w->err = true;
			return 0;
		}
		tag_of(w->buf, w->len, key, key_len, w->buf + w->len);
		w->len += SL_INGEST_TAG_BYTES;
	}
	return w->len;
}

void sl_ingest_sign(uint8_t *buf, size_t len, const uint8_t *key, size_t key_len)
{
	if (len >= SL_INGEST_HDR_BYTES + SL_INGEST_TAG_BYTES)
		tag_of(buf, len - SL_INGEST_TAG_BYTES, key, key_len, buf + len - SL_INGEST_TAG_BYTES);
}

bool sl_ingest_verify(const struct sl_ingest_view *v, const uint8_t *key, size_t key_len)
{
	uint8_t want[SL_INGEST_TAG_BYTES];

	if (!v->tag)
		return false;
	/* The signed bytes start at the header, which the view points past. */
	const uint8_t *start = v->tag - v->signed_len;
	tag_of(start, v->signed_len, key, key_len, want);
	return CRYPTO_memcmp(want, v->tag, SL_INGEST_TAG_BYTES) == 0;
}
