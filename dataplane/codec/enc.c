/* enc.c - response writer (JSON text or CBOR) and RFC 4648 base64.
 *
 * Writers never fail individually: the first allocation failure latches
 * e->err and turns every later call into a no-op, so a handler builds its
 * whole reply and checks once. JSON separators are derived from need_comma
 * (a value was already written at this depth) and after_key (the next value
 * completes a key/value pair), so callers never emit punctuation by hand.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/enc.h"

#define ENC_MIN_CAP 64

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decoding tables, built by the preprocessor: for each byte, its sextet
 * already shifted into place for each of the four positions of a quad, so
 * a quad decodes as four loads and three ORs. Bytes outside the alphabet
 * (including '=', handled separately in the final quad) map to bit 24,
 * which no valid sextet reaches, so one test checks the whole quad. */
#define B64_BAD 0x1000000u
#define B64_SEXTET(c) ((c) >= 'A' && (c) <= 'Z' ? (c) - 'A' :			\
		       (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26 :		\
		       (c) >= '0' && (c) <= '9' ? (c) - '0' + 52 :		\
		       (c) == '+' ? 62 : (c) == '/' ? 63 : -1)
#define B64_E(c, sh) (B64_SEXTET(c) < 0 ? B64_BAD : (uint32_t)B64_SEXTET(c) << (sh))
#define B64_R4(c, sh) B64_E(c, sh), B64_E((c) + 1, sh), B64_E((c) + 2, sh), B64_E((c) + 3, sh)
#define B64_R16(c, sh) B64_R4(c, sh), B64_R4((c) + 4, sh), B64_R4((c) + 8, sh), B64_R4((c) + 12, sh)
#define B64_R64(c, sh) B64_R16(c, sh), B64_R16((c) + 16, sh), B64_R16((c) + 32, sh), B64_R16((c) + 48, sh)
#define B64_TABLE(sh) { B64_R64(0, sh), B64_R64(64, sh), B64_R64(128, sh), B64_R64(192, sh) }

static const uint32_t b64_d0[256] = B64_TABLE(18);
static const uint32_t b64_d1[256] = B64_TABLE(12);
static const uint32_t b64_d2[256] = B64_TABLE(6);
static const uint32_t b64_d3[256] = B64_TABLE(0);

/* Returns the characters written, always sl_base64_enc_len(n). */
size_t sl_base64_enc(char *out, const uint8_t *in, size_t n)
{
	size_t o = 0, i = 0;

	for (; n - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64_chars[v >> 18];
		out[o++] = b64_chars[v >> 12 & 0x3f];
		out[o++] = b64_chars[v >> 6 & 0x3f];
		out[o++] = b64_chars[v & 0x3f];
	}
	if (n - i == 1) {
		out[o++] = b64_chars[in[i] >> 2];
		out[o++] = b64_chars[(in[i] & 0x03) << 4];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		out[o++] = b64_chars[in[i] >> 2];
		out[o++] = b64_chars[(in[i] & 0x03) << 4 | in[i + 1] >> 4];
		out[o++] = b64_chars[(in[i + 1] & 0x0f) << 2];
		out[o++] = '=';
	}
	assert(o == sl_base64_enc_len(n));
	return o;
}

/* Decode the last quad, which may end in "=" or "==". The bits the padding
 * leaves unused must be zero: that keeps the encoding canonical, so every
 * accepted string re-encodes to itself. Returns the byte count or -1. */
static long b64_last(uint8_t *out, const uint8_t *q)
{
	uint32_t a = b64_d3[q[0]], b = b64_d3[q[1]];
	uint32_t c = b64_d3[q[2]], d = b64_d3[q[3]];

	if ((a | b) & B64_BAD)
		return -1;
	if (q[2] == '=' && q[3] == '=') {
		if (b & 0x0f)
			return -1;
		out[0] = (uint8_t)(a << 2 | b >> 4);
		return 1;
	}
	if (c & B64_BAD)
		return -1;
	if (q[3] == '=') {
		if (c & 0x03)
			return -1;
		out[0] = (uint8_t)(a << 2 | b >> 4);
		out[1] = (uint8_t)(b << 4 | c >> 2);
		return 2;
	}
	if (d & B64_BAD)
		return -1;
	out[0] = (uint8_t)(a << 2 | b >> 4);
	out[1] = (uint8_t)(b << 4 | c >> 2);
	out[2] = (uint8_t)(c << 6 | d);
	return 3;
}

/* Returns the bytes written to out (at most n / 4 * 3), or -1 when n is not
 * a multiple of 4, a byte is outside the alphabet, padding is anywhere but
 * the end, or the bits the padding leaves over are not zero. */
long sl_base64_dec(uint8_t *out, const char *in, size_t n)
{
	const uint8_t *s = (const uint8_t *)in;
	size_t o = 0, i = 0;
	long r;

	if (n % 4 != 0)
		return -1;
	if (n == 0)
		return 0;
	/* All quads but the last have no padding. */
	for (; i < n - 4; i += 4) {
		uint32_t v = b64_d0[s[i]] | b64_d1[s[i + 1]] | b64_d2[s[i + 2]] | b64_d3[s[i + 3]];

		if (v & B64_BAD)
			return -1;
		out[o] = (uint8_t)(v >> 16);
		out[o + 1] = (uint8_t)(v >> 8);
		out[o + 2] = (uint8_t)v;
		o += 3;
	}
	r = b64_last(out + o, s + i);
	return r < 0 ? -1 : (long)o + r;
}

/* Make room for n more bytes, doubling the buffer. Returns false (with
 * err latched) when a previous call failed or realloc fails now. */
static bool enc_room(struct sl_enc *e, size_t n)
{
	size_t cap = e->cap ? e->cap : ENC_MIN_CAP;
	uint8_t *nb;

	if (e->err)
		return false;
	if (n <= e->cap - e->len)
		return true;
	/* The overflow check ends this loop within 64 doublings. */
	while (cap - e->len < n) {
		if (cap > SIZE_MAX / 2) {
			e->err = -ENOMEM;
			return false;
		}
		cap *= 2;
	}
	nb = realloc(e->buf, cap);
	if (nb == NULL) {
		e->err = -ENOMEM;
		return false;
	}
	e->buf = nb;
	e->cap = cap;
	return true;
}

static void enc_put(struct sl_enc *e, const void *p, size_t n)
{
	if (!enc_room(e, n))
		return;
	if (n > 0)
		memcpy(e->buf + e->len, p, n);
	e->len += n;
}

static void enc_byte(struct sl_enc *e, uint8_t c)
{
	if (!enc_room(e, 1))
		return;
	e->buf[e->len++] = c;
}

/* Returns 0, or -ENOMEM with err latched (later writes then do nothing). */
int sl_enc_init(struct sl_enc *e, enum sl_enc_fmt fmt, size_t cap_hint)
{
	memset(e, 0, sizeof(*e));
	e->fmt = (uint8_t)fmt;
	e->cap = cap_hint < ENC_MIN_CAP ? ENC_MIN_CAP : cap_hint;
	e->buf = malloc(e->cap);
	if (e->buf == NULL) {
		e->cap = 0;
		e->err = -ENOMEM;
		return -ENOMEM;
	}
	return 0;
}

/* Releases the buffer; the encoder is left empty and may be written again. */
void sl_enc_free(struct sl_enc *e)
{
	free(e->buf);
	e->buf = NULL;
	e->cap = 0;
	sl_enc_reset(e);
}

/* Empties the encoder and clears a latched error, keeping the buffer. */
void sl_enc_reset(struct sl_enc *e)
{
	e->len = 0;
	e->depth = 0;
	e->after_key = 0;
	e->err = 0;
	memset(e->need_comma, 0, sizeof(e->need_comma));
}

/* Returns the buffer and its length, or NULL (length 0) when a write failed
 * (the partial buffer is freed) or no buffer exists, as after a previous
 * take with no write since. Either way e is left empty. */
uint8_t *sl_enc_take(struct sl_enc *e, size_t *len)
{
	uint8_t *buf = e->buf;

	*len = e->len;
	if (e->err) {
		free(buf);
		buf = NULL;
		*len = 0;
	}
	e->buf = NULL;
	e->cap = 0;
	sl_enc_reset(e);
	return buf;
}

/* JSON: the separator before a value (or key) at the current depth. Top
 * level values get none: a document has one root. */
static void json_sep(struct sl_enc *e)
{
	if (e->after_key) {
		e->after_key = 0;
		return;
	}
	if (e->depth > 0 && e->need_comma[e->depth])
		enc_byte(e, ',');
	e->need_comma[e->depth] = 1;
}

/* CBOR: a head with the shortest argument encoding (RFC 8949 4.2.1). */
static void cbor_head(struct sl_enc *e, uint8_t major, uint64_t arg)
{
	uint8_t h[9];
	size_t n;

	if (arg < 24) {
		h[0] = (uint8_t)(major << 5 | arg);
		n = 1;
	} else {
		uint8_t ai = arg <= 0xff ? 24 : arg <= 0xffff ? 25 : arg <= 0xffffffffu ? 26 : 27;

		n = (size_t)1 << (ai - 24);
		h[0] = (uint8_t)(major << 5 | ai);
		for (size_t i = 0; i < n; i++)
			h[1 + i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
		n++;
	}
	enc_put(e, h, n);
}

/* Open a container; JSON writes `open`, CBOR the indefinite-length head. */
static void enc_open(struct sl_enc *e, char open, uint8_t cbor_ib)
{
	assert(e->depth + 1 < SL_ENC_DEPTH_MAX);
	if (e->depth + 1 >= SL_ENC_DEPTH_MAX) {
		e->err = e->err ? e->err : -EOVERFLOW;
		return;
	}
	if (e->fmt == SL_ENC_JSON) {
		json_sep(e);
		enc_byte(e, (uint8_t)open);
	} else {
		enc_byte(e, cbor_ib);
	}
	e->depth++;
	e->need_comma[e->depth] = 0;
}

static void enc_close(struct sl_enc *e, char close)
{
	assert(e->depth > 0 || e->err);
	assert(!e->after_key);
	if (e->depth == 0)
		return;
	enc_byte(e, e->fmt == SL_ENC_JSON ? (uint8_t)close : 0xff);
	e->depth--;
}

void sl_enc_obj_begin(struct sl_enc *e)
{
	enc_open(e, '{', 0xbf);
}

void sl_enc_obj_end(struct sl_enc *e)
{
	enc_close(e, '}');
}

void sl_enc_arr_begin(struct sl_enc *e)
{
	enc_open(e, '[', 0x9f);
}

void sl_enc_arr_end(struct sl_enc *e)
{
	enc_close(e, ']');
}

/* Characters that must be escaped in a JSON string: 0 for none, else the
 * letter of the short escape, or 'u' for \u00XX. */
static uint8_t json_esc(uint8_t c)
{
	static const char shorts[32] = {
		['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
	};

	if (c == '"' || c == '\\')
		return c;
	if (c >= 0x20)
		return 0;
	return shorts[c] ? (uint8_t)shorts[c] : 'u';
}

/* Write s as a JSON string literal: plain runs in one copy each. Bytes from
 * 0x80 up are copied as they are (the caller supplies UTF-8). */
static void json_quoted(struct sl_enc *e, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	enc_byte(e, '"');
	/* Each pass writes a plain run and at most one escape. */
	while (i < n) {
		size_t run = i;
		uint8_t x;

		while (run < n && json_esc(s[run]) == 0)
			run++;
		enc_put(e, s + i, run - i);
		if (run == n)
			break;
		x = json_esc(s[run]);
		if (x == 'u') {
			uint8_t u[6] = { '\\', 'u', '0', '0', (uint8_t)hex[s[run] >> 4],
					 (uint8_t)hex[s[run] & 0xf] };

			enc_put(e, u, sizeof(u));
		} else {
			uint8_t u[2] = { '\\', x };

			enc_put(e, u, sizeof(u));
		}
		i = run + 1;
	}
	enc_byte(e, '"');
}

void sl_enc_key(struct sl_enc *e, const char *key)
{
	size_t n = strlen(key);

	assert(e->depth > 0 || e->err);
	if (e->fmt == SL_ENC_JSON) {
		assert(!e->after_key);
		json_sep(e);
		json_quoted(e, (const uint8_t *)key, n);
		enc_byte(e, ':');
		e->after_key = 1;
	} else {
		cbor_head(e, 3, n);
		enc_put(e, key, n);
	}
}

void sl_enc_str(struct sl_enc *e, const char *s, size_t len)
{
	if (e->fmt == SL_ENC_JSON) {
		json_sep(e);
		json_quoted(e, (const uint8_t *)s, len);
	} else {
		cbor_head(e, 3, len);
		enc_put(e, s, len);
	}
}

void sl_enc_cstr(struct sl_enc *e, const char *s)
{
	sl_enc_str(e, s, strlen(s));
}

void sl_enc_blob(struct sl_enc *e, const void *p, size_t len)
{
	size_t n;

	if (e->fmt == SL_ENC_CBOR) {
		cbor_head(e, 2, len);
		enc_put(e, p, len);
		return;
	}
	json_sep(e);
	if (len > SIZE_MAX / 2) {
		e->err = e->err ? e->err : -ENOMEM;
		return;
	}
	n = sl_base64_enc_len(len);
	if (!enc_room(e, n + 2))
		return;
	e->buf[e->len++] = '"';
	e->len += sl_base64_enc((char *)e->buf + e->len, p, len);
	e->buf[e->len++] = '"';
}

/* Write the decimal digits of v; returns how many. */
static size_t u64_dec(char out[20], uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

void sl_enc_int(struct sl_enc *e, int64_t v)
{
	/* The magnitude in unsigned arithmetic, so INT64_MIN is no special case. */
	uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	char d[21];
	size_t n = 0;

	if (e->fmt == SL_ENC_CBOR) {
		/* Major 1 carries -1 - v, i.e. mag - 1. */
		cbor_head(e, v < 0 ? 1 : 0, v < 0 ? mag - 1 : mag);
		return;
	}
	json_sep(e);
	if (v < 0)
		d[n++] = '-';
	n += u64_dec(d + n, mag);
	enc_put(e, d, n);
}

void sl_enc_bool(struct sl_enc *e, int v)
{
	if (e->fmt == SL_ENC_CBOR) {
		enc_byte(e, v ? 0xf5 : 0xf4);
		return;
	}
	json_sep(e);
	if (v)
		enc_put(e, "true", 4);
	else
		enc_put(e, "false", 5);
}

void sl_enc_null(struct sl_enc *e)
{
	if (e->fmt == SL_ENC_CBOR) {
		enc_byte(e, 0xf6);
		return;
	}
	json_sep(e);
	enc_put(e, "null", 4);
}

void sl_enc_time_ms(struct sl_enc *e, int64_t ms)
{
	uint64_t mag = ms < 0 ? 0 - (uint64_t)ms : (uint64_t)ms;
	char d[32];
	size_t n = 0;

	if (e->fmt == SL_ENC_CBOR) {
		/* AWS CBOR 1.1 (the Java SDK's SdkCborGenerator and its v2
		 * AwsCborProtocolFactory): tag 1 around epoch milliseconds. */
		uint8_t tag = 0xc1;
		enc_put(e, &tag, 1);
		sl_enc_int(e, ms);
		return;
	}
	json_sep(e);
	if (ms < 0)
		d[n++] = '-';
	n += u64_dec(d + n, mag / 1000);
	d[n++] = '.';
	d[n++] = (char)('0' + mag % 1000 / 100);
	d[n++] = (char)('0' + mag % 100 / 10);
	d[n++] = (char)('0' + mag % 10);
	enc_put(e, d, n);
}

/* Appends p as one complete value: in JSON it gets the comma any value
 * would get, so a cached fragment can follow a key or sit in an array. */
void sl_enc_raw(struct sl_enc *e, const void *p, size_t len)
{
	if (e->fmt == SL_ENC_JSON)
		json_sep(e);
	enc_put(e, p, len);
}
