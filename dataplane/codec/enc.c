/* enc.c - response writer (JSON text, CBOR or XML) and RFC 4648 base64.
 *
 * Writers never fail individually: the first allocation failure latches
 * e->err and turns every later call into a no-op, so a handler builds its
 * whole reply and checks once. JSON separators are derived from need_comma
 * (a value was already written at this depth) and after_key (the next value
 * completes a key/value pair), so callers never emit punctuation by hand.
 * XML element names come the same way from per-depth state: the pending
 * key, else what the enclosing list calls its elements (xml_kind, xml_name).
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/enc.h"

#define ENC_MIN_CAP 64

/* How the XML container at a depth writes itself and names its elements. */
enum xml_kind {
	XML_OBJ = 0,  /* <Name>members</Name>, or no tags without a name */
	XML_LIST = 1, /* <Name><member>..</member>...</Name> */
	XML_FLAT = 2, /* <Name>..</Name><Name>..</Name>: no wrapper */
};

/* The element name of list entries in the query protocol's XML. */
#define XML_MEMBER "member"
#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"

/* Milliseconds per day, and days from 0000-03-01 to 1970-01-01 in the
 * proleptic Gregorian calendar (Howard Hinnant's days_from_civil). */
#define MS_PER_DAY 86400000
#define DAYS_0000_03_01_TO_EPOCH 719468
#define DAYS_PER_ERA 146097 /* 400 Gregorian years */

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
	e->xml_key = NULL;
	e->err = 0;
	memset(e->need_comma, 0, sizeof(e->need_comma));
	memset(e->xml_kind, 0, sizeof(e->xml_kind));
	memset(e->xml_name, 0, sizeof(e->xml_name));
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

/* XML: write <name> or </name>. */
static void xml_tag(struct sl_enc *e, const char *name, bool close)
{
	enc_put(e, close ? "</" : "<", close ? 2 : 1);
	enc_put(e, name, strlen(name));
	enc_byte(e, '>');
}

/* XML: the element name of the next value, which consumes the pending key:
 * the key itself, else what the enclosing list names its elements, else
 * NULL (no element: a value in an object without a key, or at top level). */
static const char *xml_take_name(struct sl_enc *e)
{
	const char *name = e->xml_key;

	e->xml_key = NULL;
	if (name != NULL || e->depth == 0)
		return name;
	if (e->xml_kind[e->depth] == XML_LIST)
		return XML_MEMBER;
	if (e->xml_kind[e->depth] == XML_FLAT)
		return e->xml_name[e->depth];
	return NULL;
}

/* Enter a container at depth + 1. Returns false, with -EOVERFLOW latched,
 * when that is SL_ENC_DEPTH_MAX. */
static bool enc_push(struct sl_enc *e, uint8_t xml_kind, const char *xml_name)
{
	assert(e->depth + 1 < SL_ENC_DEPTH_MAX);
	if (e->depth + 1 >= SL_ENC_DEPTH_MAX) {
		e->err = e->err ? e->err : -EOVERFLOW;
		return false;
	}
	e->depth++;
	e->need_comma[e->depth] = 0;
	e->xml_kind[e->depth] = xml_kind;
	e->xml_name[e->depth] = xml_name;
	return true;
}

/* Open a container; JSON writes `open`, CBOR the indefinite-length head,
 * XML the start tag of its name (none for a flat list, whose elements
 * carry the name, nor for an object without one). */
static void enc_open(struct sl_enc *e, char open, uint8_t cbor_ib, uint8_t xml_kind)
{
	const char *name = NULL;

	if (e->depth + 1 >= SL_ENC_DEPTH_MAX) {
		enc_push(e, xml_kind, NULL);
		return;
	}
	if (e->fmt == SL_ENC_JSON) {
		json_sep(e);
		enc_byte(e, (uint8_t)open);
	} else if (e->fmt == SL_ENC_XML) {
		name = xml_take_name(e);
		if (xml_kind == XML_FLAT && name == NULL)
			name = XML_MEMBER;
		if (xml_kind != XML_FLAT && name != NULL)
			xml_tag(e, name, false);
	} else {
		enc_byte(e, cbor_ib);
	}
	enc_push(e, xml_kind, name);
}

static void enc_close(struct sl_enc *e, char close)
{
	assert(e->depth > 0 || e->err);
	assert(!e->after_key);
	assert(e->xml_key == NULL);
	if (e->depth == 0)
		return;
	if (e->fmt != SL_ENC_XML)
		enc_byte(e, e->fmt == SL_ENC_JSON ? (uint8_t)close : 0xff);
	else if (e->xml_kind[e->depth] != XML_FLAT && e->xml_name[e->depth] != NULL)
		xml_tag(e, e->xml_name[e->depth], true);
	e->depth--;
}

void sl_enc_obj_begin(struct sl_enc *e)
{
	enc_open(e, '{', 0xbf, XML_OBJ);
}

void sl_enc_obj_end(struct sl_enc *e)
{
	enc_close(e, '}');
}

void sl_enc_arr_begin(struct sl_enc *e)
{
	enc_open(e, '[', 0x9f, XML_LIST);
}

void sl_enc_arr_begin_flat(struct sl_enc *e)
{
	enc_open(e, '[', 0x9f, XML_FLAT);
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

/* XML: the replacement for byte c in text (attr false) or in an attribute
 * value (attr true); "" for a byte written as it is, NULL for one XML 1.0
 * cannot carry. Tab and LF survive in text but an attribute value would
 * turn them into spaces, and a literal CR is always read back as LF. */
static const char *xml_esc(uint8_t c, bool attr)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&apos;";
	case '\r':
		return "&#xD;";
	case '\t':
		return attr ? "&#x9;" : "";
	case '\n':
		return attr ? "&#xA;" : "";
	default:
		return c < 0x20 ? NULL : "";
	}
}

/* XML: write s escaped, plain runs in one copy each. A byte XML cannot
 * carry latches -EILSEQ, which stops all later writes. */
static void xml_text(struct sl_enc *e, const uint8_t *s, size_t n, bool attr)
{
	size_t i = 0;

	/* Each pass writes a plain run and at most one escape. */
	while (i < n) {
		size_t run = i;
		const char *x = "";

		while (run < n && (x = xml_esc(s[run], attr)) != NULL && x[0] == '\0')
			run++;
		enc_put(e, s + i, run - i);
		if (run == n)
			break;
		if (x == NULL) {
			e->err = e->err ? e->err : -EILSEQ;
			return;
		}
		enc_put(e, x, strlen(x));
		i = run + 1;
	}
}

/* Start a scalar: JSON its separator, XML the start tag of its element.
 * Returns the element name for val_end() (NULL: no element). */
static const char *val_begin(struct sl_enc *e)
{
	const char *name;

	assert(e->fmt != SL_ENC_CBOR);
	if (e->fmt == SL_ENC_JSON) {
		json_sep(e);
		return NULL;
	}
	name = xml_take_name(e);
	if (name != NULL)
		xml_tag(e, name, false);
	return name;
}

static void val_end(struct sl_enc *e, const char *name)
{
	if (name != NULL)
		xml_tag(e, name, true);
}

void sl_enc_xml_begin(struct sl_enc *e, const char *root, const char *xmlns)
{
	assert(root != NULL);
	if (e->fmt != SL_ENC_XML)
		return;
	assert(e->xml_key == NULL);
	if (e->depth + 1 >= SL_ENC_DEPTH_MAX) {
		enc_push(e, XML_OBJ, root);
		return;
	}
	enc_put(e, XML_DECL, sizeof(XML_DECL) - 1);
	enc_byte(e, '<');
	enc_put(e, root, strlen(root));
	if (xmlns != NULL) {
		enc_put(e, " xmlns=\"", 8);
		xml_text(e, (const uint8_t *)xmlns, strlen(xmlns), true);
		enc_byte(e, '"');
	}
	enc_byte(e, '>');
	enc_push(e, XML_OBJ, root);
}

void sl_enc_xml_end(struct sl_enc *e)
{
	if (e->fmt != SL_ENC_XML)
		return;
	assert(e->depth == 0 || e->xml_name[e->depth] != NULL);
	enc_close(e, 0);
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
	} else if (e->fmt == SL_ENC_XML) {
		/* Keys name members; list elements are named by their list. */
		assert(e->xml_key == NULL);
		assert(e->xml_kind[e->depth] == XML_OBJ);
		e->xml_key = key;
	} else {
		cbor_head(e, 3, n);
		enc_put(e, key, n);
	}
}

void sl_enc_str(struct sl_enc *e, const char *s, size_t len)
{
	const char *name;

	if (e->fmt == SL_ENC_CBOR) {
		cbor_head(e, 3, len);
		enc_put(e, s, len);
		return;
	}
	if (e->fmt == SL_ENC_JSON) {
		json_sep(e);
		json_quoted(e, (const uint8_t *)s, len);
		return;
	}
	name = val_begin(e);
	xml_text(e, (const uint8_t *)s, len, false);
	val_end(e, name);
}

void sl_enc_cstr(struct sl_enc *e, const char *s)
{
	sl_enc_str(e, s, strlen(s));
}

void sl_enc_blob(struct sl_enc *e, const void *p, size_t len)
{
	size_t n, quotes = e->fmt == SL_ENC_JSON ? 1 : 0;
	const char *name;

	if (e->fmt == SL_ENC_CBOR) {
		cbor_head(e, 2, len);
		enc_put(e, p, len);
		return;
	}
	name = val_begin(e);
	if (len > SIZE_MAX / 2) {
		e->err = e->err ? e->err : -ENOMEM;
		return;
	}
	n = sl_base64_enc_len(len);
	if (!enc_room(e, n + 2 * quotes))
		return;
	if (quotes)
		e->buf[e->len++] = '"';
	e->len += sl_base64_enc((char *)e->buf + e->len, p, len);
	if (quotes)
		e->buf[e->len++] = '"';
	val_end(e, name);
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
	const char *name;
	char d[21];
	size_t n = 0;

	if (e->fmt == SL_ENC_CBOR) {
		/* Major 1 carries -1 - v, i.e. mag - 1. */
		cbor_head(e, v < 0 ? 1 : 0, v < 0 ? mag - 1 : mag);
		return;
	}
	name = val_begin(e);
	if (v < 0)
		d[n++] = '-';
	n += u64_dec(d + n, mag);
	enc_put(e, d, n);
	val_end(e, name);
}

void sl_enc_bool(struct sl_enc *e, int v)
{
	const char *name;

	if (e->fmt == SL_ENC_CBOR) {
		enc_byte(e, v ? 0xf5 : 0xf4);
		return;
	}
	name = val_begin(e);
	if (v)
		enc_put(e, "true", 4);
	else
		enc_put(e, "false", 5);
	val_end(e, name);
}

/* XML has no null: the member is left out, as the query protocol does. */
void sl_enc_null(struct sl_enc *e)
{
	if (e->fmt == SL_ENC_CBOR) {
		enc_byte(e, 0xf6);
		return;
	}
	if (e->fmt == SL_ENC_XML) {
		xml_take_name(e);
		return;
	}
	json_sep(e);
	enc_put(e, "null", 4);
}

/* Write n as at least `width` decimal digits; returns how many. */
static size_t dec_pad(char *out, uint64_t n, size_t width)
{
	char d[20];
	size_t k = u64_dec(d, n), pad = k < width ? width - k : 0;

	memset(out, '0', pad);
	memcpy(out + pad, d, k);
	return pad + k;
}

/* Write epoch milliseconds as ISO 8601 UTC (2026-12-02T05:37:30.123Z) into
 * out, which holds 40 bytes; returns the length. The calendar arithmetic
 * is Howard Hinnant's civil_from_days, exact over all of int64_t. */
static size_t iso8601_ms(char out[40], int64_t ms)
{
	int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY, era, year;
	uint32_t doe, yoe, doy, mp, month, day;
	size_t n = 0;

	if (rem < 0) {
		days--;
		rem += MS_PER_DAY;
	}
	assert(rem >= 0 && rem < MS_PER_DAY);
	days += DAYS_0000_03_01_TO_EPOCH;
	era = (days >= 0 ? days : days - (DAYS_PER_ERA - 1)) / DAYS_PER_ERA;
	doe = (uint32_t)(days - era * DAYS_PER_ERA);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	day = doy - (153 * mp + 2) / 5 + 1;
	month = mp < 10 ? mp + 3 : mp - 9;
	year = (int64_t)yoe + era * 400 + (month <= 2);
	if (year < 0)
		out[n++] = '-';
	n += dec_pad(out + n, year < 0 ? 0 - (uint64_t)year : (uint64_t)year, 4);
	out[n++] = '-';
	n += dec_pad(out + n, month, 2);
	out[n++] = '-';
	n += dec_pad(out + n, day, 2);
	out[n++] = 'T';
	n += dec_pad(out + n, (uint64_t)(rem / 3600000), 2);
	out[n++] = ':';
	n += dec_pad(out + n, (uint64_t)(rem / 60000 % 60), 2);
	out[n++] = ':';
	n += dec_pad(out + n, (uint64_t)(rem / 1000 % 60), 2);
	out[n++] = '.';
	n += dec_pad(out + n, (uint64_t)(rem % 1000), 3);
	out[n++] = 'Z';
	assert(n < 40);
	return n;
}

void sl_enc_time_ms(struct sl_enc *e, int64_t ms)
{
	uint64_t mag = ms < 0 ? 0 - (uint64_t)ms : (uint64_t)ms;
	const char *name;
	char d[40];
	size_t n = 0;

	if (e->fmt == SL_ENC_CBOR) {
		/* AWS CBOR 1.1 (the Java SDK's SdkCborGenerator and its v2
		 * AwsCborProtocolFactory): tag 1 around epoch milliseconds. */
		uint8_t tag = 0xc1;
		enc_put(e, &tag, 1);
		sl_enc_int(e, ms);
		return;
	}
	name = val_begin(e);
	if (e->fmt == SL_ENC_XML) {
		n = iso8601_ms(d, ms);
	} else {
		if (ms < 0)
			d[n++] = '-';
		n += u64_dec(d + n, mag / 1000);
		d[n++] = '.';
		d[n++] = (char)('0' + mag % 1000 / 100);
		d[n++] = (char)('0' + mag % 100 / 10);
		d[n++] = (char)('0' + mag % 10);
	}
	enc_put(e, d, n);
	val_end(e, name);
}

/* Appends p as one complete value: in JSON it gets the comma any value
 * would get, so a cached fragment can follow a key or sit in an array; in
 * XML it goes inside the element the pending key (or list) names. */
void sl_enc_raw(struct sl_enc *e, const void *p, size_t len)
{
	const char *name = NULL;

	if (e->fmt != SL_ENC_CBOR)
		name = val_begin(e);
	enc_put(e, p, len);
	val_end(e, name);
}
