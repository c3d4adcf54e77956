/* cbor.c - one RFC 8949 CBOR data item to the flat token model of doc.h.
 *
 * The parser is iterative, with a fixed stack of open arrays and maps, and
 * checks well-formedness only: every length read from the input is compared
 * with the bytes that remain before it is used, so a 64-bit length can never
 * walk a pointer off the buffer. Text strings are not checked for UTF-8.
 */
#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "dataplane/codec/doc.h"

#define CBOR_UINT 0
#define CBOR_NINT 1
#define CBOR_BYTES 2
#define CBOR_TEXT 3
#define CBOR_ARRAY 4
#define CBOR_MAP 5
#define CBOR_TAG 6
#define CBOR_SIMPLE 7

#define CBOR_AI_INDEF 31
#define CBOR_BREAK 0xff

struct cbor_frame {
	uint32_t tok;   /* container token index */
	uint32_t items; /* child items started so far (keys and values for maps) */
	uint64_t left;  /* definite length: child items still to come */
	bool indef;
};

struct cbor_parser {
	const uint8_t *buf;
	uint32_t len;
	uint32_t pos;
	struct sl_doc_tok *toks;
	uint32_t max_toks;
	uint32_t ntoks;
	uint32_t depth;
	struct cbor_frame stack[SL_DOC_DEPTH_MAX];
};

/* An item head: initial byte split in major type and additional info, and
 * the argument that follows it. */
struct cbor_head {
	uint32_t start; /* offset of the initial byte */
	uint8_t major;
	uint8_t ai;
	uint64_t arg;
};

/* Read the head at p->pos. Returns 0, or SL_DOC_INVALID when the input ends
 * inside it or the additional information is reserved (28-30). For ai 31
 * (indefinite length or break) the argument is 0 and the caller decides. */
static int cbor_head(struct cbor_parser *p, struct cbor_head *h)
{
	uint32_t n;

	if (p->pos == p->len)
		return SL_DOC_INVALID;
	h->start = p->pos;
	h->major = p->buf[p->pos] >> 5;
	h->ai = p->buf[p->pos] & 0x1f;
	p->pos++;
	h->arg = h->ai;
	if (h->ai < 24)
		return 0;
	if (h->ai == CBOR_AI_INDEF) {
		h->arg = 0;
		return 0;
	}
	if (h->ai > 27)
		return SL_DOC_INVALID;
	n = 1u << (h->ai - 24);
	if (p->len - p->pos < n)
		return SL_DOC_INVALID;
	h->arg = 0;
	for (uint32_t i = 0; i < n; i++)
		h->arg = h->arg << 8 | p->buf[p->pos++];
	return 0;
}

/* Half precision to double without libm: rebuild the bits as a binary32. */
static double half_to_double(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
	float f;

	if (e == 0) {
		/* Zero and subnormals: m * 2^-24 is exact in a double. */
		double v = (double)m / 16777216.0;

		return sign ? -v : v;
	}
	if (e == 31)
		bits = sign | 0x7f800000u | m << 13;
	else
		bits = sign | (e - 15 + 127) << 23 | m << 13;
	memcpy(&f, &bits, sizeof(f));
	return f;
}

/* Fill t from a major type 7 head: false, true, null, undefined, floats.
 * Other simple values are well-formed but have no token type, so they are
 * refused; ai 24 with a value below 32 would be ill-formed anyway. */
static int cbor_simple(const struct cbor_head *h, struct sl_doc_tok *t)
{
	float f;
	uint32_t u32 = (uint32_t)h->arg;

	switch (h->ai) {
	case 20:
	case 21:
		t->type = SL_DOC_BOOL;
		t->i = h->ai == 21;
		return 0;
	case 22:
	case 23:
		t->type = SL_DOC_NULL;
		return 0;
	case 25:
		t->type = SL_DOC_FLOAT;
		t->d = half_to_double((uint16_t)h->arg);
		return 0;
	case 26:
		memcpy(&f, &u32, sizeof(f));
		t->type = SL_DOC_FLOAT;
		t->d = f;
		return 0;
	case 27:
		t->type = SL_DOC_FLOAT;
		memcpy(&t->d, &h->arg, sizeof(t->d));
		return 0;
	default:
		return SL_DOC_INVALID;
	}
}

/* Fill t from a major type 0 or 1 head. -1-n below INT64_MIN and n above
 * INT64_MAX cannot be an int64_t and become SL_DOC_FLOAT. */
static void cbor_int(const struct cbor_head *h, struct sl_doc_tok *t)
{
	if (h->arg <= (uint64_t)INT64_MAX) {
		t->type = SL_DOC_INT;
		t->i = h->major == CBOR_UINT ? (int64_t)h->arg : -1 - (int64_t)h->arg;
	} else {
		t->type = SL_DOC_FLOAT;
		t->d = h->major == CBOR_UINT ? (double)h->arg : -1.0 - (double)h->arg;
	}
}

/* Fill t with the string whose head is h: a view of the content for a
 * definite length, or of the raw chunks (heads included) for an indefinite
 * one, which must be definite strings of the same major type up to a break. */
static int cbor_string(struct cbor_parser *p, const struct cbor_head *h, struct sl_doc_tok *t)
{
	struct cbor_head c;
	uint32_t start = p->pos;

	t->type = h->major == CBOR_TEXT ? SL_DOC_STR : SL_DOC_BLOB;
	t->ptr = p->buf + p->pos;
	if (h->ai != CBOR_AI_INDEF) {
		if (h->arg > p->len - p->pos)
			return SL_DOC_INVALID;
		t->len = (uint32_t)h->arg;
		p->pos += t->len;
		return 0;
	}
	t->flags |= SL_DOC_F_CHUNKED;
	/* Every chunk consumes at least its one-byte head. */
	while (p->pos < p->len) {
		if (p->buf[p->pos] == CBOR_BREAK) {
			t->len = p->pos - start;
			p->pos++;
			return 0;
		}
		if (cbor_head(p, &c) < 0 || c.major != h->major || c.ai == CBOR_AI_INDEF)
			return SL_DOC_INVALID;
		if (c.arg > p->len - p->pos)
			return SL_DOC_INVALID;
		p->pos += (uint32_t)c.arg;
	}
	return SL_DOC_INVALID;
}

/* Open an array or map for token t. A definite length is checked against
 * the remaining input (every item takes at least one byte) before use. */
static int cbor_open(struct cbor_parser *p, const struct cbor_head *h, struct sl_doc_tok *t)
{
	struct cbor_frame *f;
	uint64_t items = h->arg;

	t->type = h->major == CBOR_MAP ? SL_DOC_OBJ : SL_DOC_ARR;
	if (p->depth == SL_DOC_DEPTH_MAX)
		return SL_DOC_TOO_BIG;
	if (h->ai != CBOR_AI_INDEF) {
		if (items > p->len - p->pos)
			return SL_DOC_INVALID;
		if (h->major == CBOR_MAP)
			items *= 2;
		if (items > p->len - p->pos)
			return SL_DOC_INVALID;
	}
	f = &p->stack[p->depth++];
	f->tok = (uint32_t)(t - p->toks);
	f->items = 0;
	f->left = items;
	f->indef = h->ai == CBOR_AI_INDEF;
	return 0;
}

/* Close the innermost container: its subtree ends at the next token. */
static void cbor_close(struct cbor_parser *p)
{
	struct cbor_frame *f;
	struct sl_doc_tok *t;

	assert(p->depth > 0);
	f = &p->stack[p->depth - 1];
	t = &p->toks[f->tok];
	assert(f->indef || f->left == 0);
	t->end = p->ntoks;
	t->count = t->type == SL_DOC_OBJ ? f->items / 2 : f->items;
	t->len = (uint32_t)(p->buf + p->pos - t->ptr);
	p->depth--;
}

/* Close every definite container whose last item just ended. */
static void cbor_settle(struct cbor_parser *p)
{
	while (p->depth > 0) {
		const struct cbor_frame *f = &p->stack[p->depth - 1];

		if (f->indef || f->left != 0)
			return;
		cbor_close(p);
	}
}

/* A break byte: legal only where an indefinite array or map could take its
 * next item, and for maps only in key position. */
static int cbor_break(struct cbor_parser *p)
{
	const struct cbor_frame *f;

	if (p->depth == 0)
		return SL_DOC_INVALID;
	f = &p->stack[p->depth - 1];
	if (!f->indef)
		return SL_DOC_INVALID;
	if (p->toks[f->tok].type == SL_DOC_OBJ && f->items % 2 != 0)
		return SL_DOC_INVALID;
	cbor_close(p);
	return 0;
}

/* Count a new child in the innermost container. Map keys (even positions)
 * must be text strings. */
static int cbor_child(struct cbor_parser *p, uint8_t major)
{
	struct cbor_frame *f;

	if (p->depth == 0)
		return 0;
	f = &p->stack[p->depth - 1];
	if (p->toks[f->tok].type == SL_DOC_OBJ && f->items % 2 == 0 && major != CBOR_TEXT)
		return SL_DOC_INVALID;
	assert(f->indef || f->left > 0);
	f->items++;
	if (!f->indef)
		f->left--;
	return 0;
}

/* Fill token t from head h (tags already consumed). */
static int cbor_value(struct cbor_parser *p, const struct cbor_head *h, struct sl_doc_tok *t)
{
	switch (h->major) {
	case CBOR_UINT:
	case CBOR_NINT:
		if (h->ai == CBOR_AI_INDEF)
			return SL_DOC_INVALID;
		cbor_int(h, t);
		return 0;
	case CBOR_BYTES:
	case CBOR_TEXT:
		return cbor_string(p, h, t);
	case CBOR_ARRAY:
	case CBOR_MAP:
		return cbor_open(p, h, t);
	default:
		assert(h->major == CBOR_SIMPLE);
		return cbor_simple(h, t);
	}
}

/* Parse one item at p->pos: any tags, then a scalar, a string, the head of
 * an array or map, or a break that closes the innermost container. */
static int cbor_item(struct cbor_parser *p)
{
	struct cbor_head h;
	struct sl_doc_tok *t;
	bool tagged = false, time = false;
	int r;

	/* Each head consumes at least one byte and cbor_head() fails at the
	 * end of the input, so the tag loop is bounded by the input length. */
	while ((r = cbor_head(p, &h)) == 0 && h.major == CBOR_TAG) {
		if (h.ai == CBOR_AI_INDEF)
			return SL_DOC_INVALID;
		tagged = true;
		time |= h.arg == 1;
	}
	if (r < 0)
		return r;
	if (h.major == CBOR_SIMPLE && h.ai == CBOR_AI_INDEF)
		return tagged ? SL_DOC_INVALID : cbor_break(p);
	r = cbor_child(p, h.major);
	if (r < 0)
		return r;
	if (p->ntoks >= p->max_toks)
		return SL_DOC_TOO_BIG;
	t = &p->toks[p->ntoks++];
	memset(t, 0, sizeof(*t));
	t->ptr = p->buf + h.start;
	t->end = p->ntoks;
	r = cbor_value(p, &h, t);
	if (r < 0)
		return r;
	if (t->type != SL_DOC_STR && t->type != SL_DOC_BLOB &&
	    t->type != SL_DOC_ARR && t->type != SL_DOC_OBJ)
		t->len = p->pos - h.start;
	if (time && t->type != SL_DOC_INT && t->type != SL_DOC_FLOAT)
		return SL_DOC_INVALID;
	if (time)
		t->flags |= SL_DOC_F_TIME;
	return 0;
}

/* Returns the token count (> 0), SL_DOC_INVALID for input that is not one
 * well-formed item (or uses a simple value other than false, true, null,
 * undefined), or SL_DOC_TOO_BIG for a full token array, nesting deeper than
 * SL_DOC_DEPTH_MAX, or input over 4 GiB. */
int sl_cbor_parse(const uint8_t *buf, size_t len, struct sl_doc_tok *toks, uint32_t max_toks)
{
	struct cbor_parser p = {
		.buf = buf,
		.len = (uint32_t)len,
		.toks = toks,
		.max_toks = max_toks > INT_MAX ? INT_MAX : max_toks,
	};

	assert(buf != NULL || len == 0);
	assert(toks != NULL || max_toks == 0);
	if (len > UINT32_MAX)
		return SL_DOC_TOO_BIG;
	/* Each item or break consumes at least one byte. */
	for (uint32_t guard = 0; guard <= p.len; guard++) {
		int r = cbor_item(&p);

		if (r < 0)
			return r;
		cbor_settle(&p);
		if (p.depth == 0)
			return p.pos == p.len ? (int)p.ntoks : SL_DOC_INVALID;
	}
	return SL_DOC_INVALID;
}
