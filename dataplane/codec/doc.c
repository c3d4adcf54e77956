/* doc.c - accessors over parsed tokens, common to the JSON, CBOR and form
 * parsers.
 *
 * A JSON string token may hold escapes, a CBOR string token may be a run
 * of chunks and a form value may be percent-encoded; all are views into the
 * request, so the accessors decode them straight into the caller's buffer
 * without allocating. Plain tokens, the
 * overwhelming majority, take a single memcpy or base64 pass.
 */
#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "dataplane/codec/doc.h"
#include "dataplane/codec/text.h"
#include "dataplane/codec/enc.h"
#include "dataplane/codec/form.h"

/* Flags that mean a string token's bytes are not its text. */
#define DOC_F_ENCODED (SL_DOC_F_ESCAPED | SL_DOC_F_CHUNKED | SL_DOC_F_PCT)

/* Collects base64 text that arrives in pieces (escaped JSON, CBOR chunks)
 * and decodes it with the same strict rules as one contiguous string. */
struct b64_acc {
	uint8_t *out;
	size_t cap;
	size_t len;   /* bytes decoded so far */
	char q[4];    /* a partial quad */
	uint32_t nq;
	bool padded;  /* a quad with '=' was seen: nothing may follow */
};

/* Returns the index of the first value whose key matches, or -1 when none
 * does or toks[obj] is not an object. */
int sl_doc_get(const struct sl_doc_tok *toks, uint32_t obj, const char *key)
{
	size_t klen = strlen(key);
	uint32_t k = sl_doc_first(obj);

	if (toks[obj].type != SL_DOC_OBJ)
		return -1;
	/* Keys sit at k, their values at k + 1; the value's end is the next key. */
	for (uint32_t i = 0; i < toks[obj].count; i++) {
		const struct sl_doc_tok *kt = &toks[k];

		assert(kt->type == SL_DOC_STR);
		assert(kt->end == k + 1);
		if ((kt->flags & DOC_F_ENCODED) == 0 &&
		    kt->len == klen && memcmp(kt->ptr, key, klen) == 0)
			return (int)(k + 1);
		k = sl_doc_next(toks, k + 1);
		assert(k <= toks[obj].end);
	}
	return -1;
}

/* Decode \uXXXX (or a \uD8xx\uDCxx pair) at *sp into UTF-8. Returns the
 * byte count and advances *sp, or -1 for bad hex and lone surrogates. */
static int unescape_u(const uint8_t **sp, const uint8_t *end, uint8_t u[4])
{
	const uint8_t *s = *sp;
	int cp, lo;

	if (end - s < 6 || (cp = sl_hex4(s + 2)) < 0 || (cp >= 0xdc00 && cp <= 0xdfff))
		return -1;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (end - s < 12 || s[6] != '\\' || s[7] != 'u')
			return -1;
		lo = sl_hex4(s + 8);
		if (lo < 0xdc00 || lo > 0xdfff)
			return -1;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		s += 6;
	}
	*sp = s + 6;
	return sl_utf8_put((uint32_t)cp, u);
}

/* Decode the escape sequence at *sp (a backslash) into u. Returns the byte
 * count and advances *sp, or -1. */
static int unescape_one(const uint8_t **sp, const uint8_t *end, uint8_t u[4])
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const uint8_t *s = *sp;
	const char *hit;

	assert(s < end);
	assert(*s == '\\');
	if (end - s < 2)
		return -1;
	if (s[1] == 'u')
		return unescape_u(sp, end, u);
	hit = memchr(from, s[1], sizeof(from) - 1);
	if (hit == NULL)
		return -1;
	u[0] = (uint8_t)to[hit - from];
	*sp = s + 2;
	return 1;
}

/* Unescape JSON string t into out with a NUL. Runs without a backslash are
 * copied whole; unescaping never makes a string longer. */
static int str_unescape(const struct sl_doc_tok *t, char *out, size_t cap)
{
	const uint8_t *s = t->ptr, *end = t->ptr + t->len;
	size_t n = 0;

	if (cap == 0)
		return -2;
	/* Each pass consumes a run and/or one escape, at least one byte. */
	while (s < end) {
		const uint8_t *bs = memchr(s, '\\', (size_t)(end - s));
		size_t run = (bs != NULL ? bs : end) - s;
		uint8_t u[4];
		int k;

		if (run > cap - 1 - n)
			return -2;
		memcpy(out + n, s, run);
		n += run;
		s += run;
		if (s == end)
			break;
		k = unescape_one(&s, end, u);
		if (k < 0)
			return -1;
		if ((size_t)k > cap - 1 - n)
			return -2;
		memcpy(out + n, u, (size_t)k);
		n += (size_t)k;
	}
	out[n] = '\0';
	return (int)n;
}

/* Step to the next chunk in the raw span [*sp, end) of an indefinite-length
 * CBOR string. Returns 1 with the chunk's content, 0 at the end of the span,
 * or -1 when the span is not a run of definite chunk heads and contents. */
static int chunk_next(const uint8_t **sp, const uint8_t *end, const uint8_t **chunk, size_t *clen)
{
	const uint8_t *s = *sp;
	uint64_t n;
	uint8_t ai;

	if (s == end)
		return 0;
	ai = *s++ & 0x1f;
	n = ai;
	if (ai >= 24 && ai <= 27) {
		size_t k = (size_t)1 << (ai - 24);

		if ((size_t)(end - s) < k)
			return -1;
		n = 0;
		for (size_t i = 0; i < k; i++)
			n = n << 8 | *s++;
	} else if (ai > 27) {
		return -1;
	}
	if (n > (uint64_t)(end - s))
		return -1;
	*chunk = s;
	*clen = (size_t)n;
	*sp = s + n;
	return 1;
}

/* Concatenate the chunks of t into out, which holds cap bytes; with nul,
 * one of them is kept for a terminating NUL. Returns the content length,
 * -1 for a malformed span, -2 when out is too small. */
static long join_chunks(const struct sl_doc_tok *t, uint8_t *out, size_t cap, bool nul)
{
	const uint8_t *s = t->ptr, *end = t->ptr + t->len, *c;
	size_t n, total = 0, room;
	int r;

	if (nul && cap == 0)
		return -2;
	room = nul ? cap - 1 : cap;
	/* Each chunk consumes at least its head byte. */
	while ((r = chunk_next(&s, end, &c, &n)) > 0) {
		if (n > room - total)
			return -2;
		if (n > 0)
			memcpy(out + total, c, n);
		total += n;
	}
	if (r < 0)
		return -1;
	if (nul)
		out[total] = '\0';
	return (long)total;
}

/* Returns the text length, -1 when t is not a string (or, for a token not
 * made by the parsers, holds a bad escape or chunk), -2 when out is short. */
int sl_doc_str(const struct sl_doc_tok *t, char *out, size_t cap)
{
	if (t->type != SL_DOC_STR)
		return -1;
	/* Unescaping and joining never grow the text, so this bounds the result. */
	if (t->len >= INT_MAX)
		return -2;
	if (t->flags & SL_DOC_F_CHUNKED)
		return (int)join_chunks(t, (uint8_t *)out, cap, true);
	if (t->flags & SL_DOC_F_ESCAPED)
		return str_unescape(t, out, cap);
	if (t->flags & SL_DOC_F_PCT)
		return (int)sl_form_decode((const char *)t->ptr, t->len, out, cap);
	if (t->len >= cap)
		return -2;
	memcpy(out, t->ptr, t->len);
	out[t->len] = '\0';
	return (int)t->len;
}

/* Add n base64 characters to a. Returns 0, -1 for invalid base64 (also data
 * after padding), -2 when the output does not fit. */
static int b64_feed(struct b64_acc *a, const uint8_t *s, size_t n)
{
	/* Each pass consumes at least one character. */
	while (n > 0) {
		size_t bulk = n & ~(size_t)3;
		uint8_t tmp[3];
		long r;

		if (a->padded)
			return -1;
		if (a->nq == 0 && bulk > 0) {
			size_t want = bulk / 4 * 3 - (s[bulk - 1] == '=') - (s[bulk - 2] == '=');

			if (want > a->cap - a->len)
				return -2;
			r = sl_base64_dec(a->out + a->len, (const char *)s, bulk);
			if (r < 0)
				return -1;
			a->padded = (size_t)r < bulk / 4 * 3;
			a->len += (size_t)r;
			s += bulk;
			n -= bulk;
			continue;
		}
		a->q[a->nq++] = (char)*s++;
		n--;
		if (a->nq < 4)
			continue;
		a->nq = 0;
		r = sl_base64_dec(tmp, a->q, 4);
		if (r < 0)
			return -1;
		if ((size_t)r > a->cap - a->len)
			return -2;
		memcpy(a->out + a->len, tmp, (size_t)r);
		a->len += (size_t)r;
		a->padded = r < 3;
	}
	return 0;
}

/* Feed the percent-encoded form value [s, end) to a: runs without '%' as
 * they are, each %XX as its byte. '+' means a space, which base64 never
 * holds, so a client must send a base64 '+' as %2B. Returns as b64_feed(). */
static int b64_feed_pct(struct b64_acc *a, const uint8_t *s, const uint8_t *end)
{
	int r = 0;

	/* Each pass consumes a run and/or one escape. */
	while (r == 0 && s < end) {
		const uint8_t *pct = memchr(s, '%', (size_t)(end - s));
		const uint8_t *stop = pct != NULL ? pct : end;
		char dec[2];

		if (memchr(s, '+', (size_t)(stop - s)) != NULL)
			return -1;
		r = b64_feed(a, s, (size_t)(stop - s));
		s = stop;
		if (r != 0 || s == end)
			break;
		if (end - s < 3)
			return -1;
		if (sl_form_decode((const char *)s, 3, dec, sizeof(dec)) != 1)
			return -1;
		r = b64_feed(a, (const uint8_t *)dec, 1);
		s += 3;
	}
	return r;
}

/* Base64 decode string t, which has escapes, chunks or percent-encoding,
 * through b64_acc. */
static long blob_pieces(const struct sl_doc_tok *t, uint8_t *out, size_t cap)
{
	struct b64_acc a = { .out = out, .cap = cap };
	const uint8_t *s = t->ptr, *end = t->ptr + t->len, *c;
	size_t n;
	uint8_t u[4];
	int r = 0, k;

	if (t->flags & SL_DOC_F_PCT) {
		r = b64_feed_pct(&a, s, end);
	} else if (t->flags & SL_DOC_F_CHUNKED) {
		/* Each chunk consumes at least its head byte. */
		while (r == 0 && (k = chunk_next(&s, end, &c, &n)) != 0)
			r = k < 0 ? -1 : b64_feed(&a, c, n);
	} else {
		/* Each pass consumes a run and/or one escape. */
		while (r == 0 && s < end) {
			const uint8_t *bs = memchr(s, '\\', (size_t)(end - s));

			r = b64_feed(&a, s, (size_t)((bs != NULL ? bs : end) - s));
			s = bs != NULL ? bs : end;
			if (r == 0 && s < end) {
				k = unescape_one(&s, end, u);
				r = k < 0 ? -1 : b64_feed(&a, u, (size_t)k);
			}
		}
	}
	if (r < 0)
		return r;
	return a.nq == 0 ? (long)a.len : -1;
}

/* Returns the byte count, -1 when t is neither a string nor a byte string
 * or its base64 is invalid, -2 when out is too small. */
long sl_doc_blob(const struct sl_doc_tok *t, uint8_t *out, size_t cap)
{
	size_t want;

	if (t->type == SL_DOC_BLOB) {
		if (t->flags & SL_DOC_F_CHUNKED)
			return join_chunks(t, out, cap, false);
		if (t->len > cap)
			return -2;
		if (t->len > 0)
			memcpy(out, t->ptr, t->len);
		return (long)t->len;
	}
	if (t->type != SL_DOC_STR)
		return -1;
	if (t->flags & DOC_F_ENCODED)
		return blob_pieces(t, out, cap);
	if (t->len % 4 != 0)
		return -1;
	want = t->len / 4 * 3;
	if (t->len > 0)
		want -= (t->ptr[t->len - 1] == '=') + (t->ptr[t->len - 2] == '=');
	if (want > cap)
		return -2;
	return sl_base64_dec(out, (const char *)t->ptr, t->len);
}

/* Returns an upper bound of sl_doc_blob()'s result, 0 for other types. */
size_t sl_doc_blob_max(const struct sl_doc_tok *t)
{
	/* Unescaping or dropping chunk heads only shrinks a string, so the raw
	 * length bounds the base64 text and the bytes it decodes to. */
	if (t->type == SL_DOC_STR)
		return t->len / 4 * 3;
	if (t->type == SL_DOC_BLOB)
		return t->len;
	return 0;
}
