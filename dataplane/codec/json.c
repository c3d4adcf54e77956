/* json.c - RFC 8259 JSON text to the flat token model of doc.h.
 *
 * The parser is iterative: open containers live on a fixed stack of token
 * indices bounded by SL_DOC_DEPTH_MAX, so hostile nesting cannot exhaust the
 * C stack. It allocates nothing; string tokens are views into the input and
 * are validated here (escapes, surrogate pairs, UTF-8) so that sl_doc_str()
 * only has to copy.
 */
#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/doc.h"
#include "dataplane/codec/text.h"

/* Longest number text converted with strtod(). Longer numbers are refused
 * with SL_DOC_TOO_BIG rather than silently rounded on a truncated copy. */
#define JSON_NUM_MAX 1024

struct json_parser {
	const uint8_t *buf;
	uint32_t len;
	uint32_t pos;
	struct sl_doc_tok *toks;
	uint32_t max_toks;
	uint32_t ntoks;
	uint32_t depth;
	uint32_t stack[SL_DOC_DEPTH_MAX]; /* token index of each open container */
};

static bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static void skip_ws(struct json_parser *p)
{
	while (p->pos < p->len && is_ws(p->buf[p->pos]))
		p->pos++;
}

/* Append a token at the current position; NULL when the caller's array is full. */
static struct sl_doc_tok *json_tok(struct json_parser *p, uint8_t type)
{
	struct sl_doc_tok *t;

	if (p->ntoks >= p->max_toks)
		return NULL;
	t = &p->toks[p->ntoks];
	memset(t, 0, sizeof(*t));
	t->ptr = p->buf + p->pos;
	t->type = type;
	p->ntoks++;
	t->end = p->ntoks;
	return t;
}

/* Validate one escape sequence starting at the backslash s. Returns its
 * length in bytes (2, 6, or 12 for a surrogate pair), or -1. A high
 * surrogate must be followed by an escaped low surrogate, and a low
 * surrogate may not stand alone, because neither can be written as UTF-8. */
static int json_escape_len(const uint8_t *s, const uint8_t *end)
{
	int u, lo;

	assert(s < end);
	assert(*s == '\\');
	if (end - s < 2)
		return -1;
	if (memchr("\"\\/bfnrt", s[1], 8) != NULL)
		return 2;
	if (s[1] != 'u' || end - s < 6)
		return -1;
	u = sl_hex4(s + 2);
	if (u < 0 || (u >= 0xdc00 && u <= 0xdfff))
		return -1;
	if (u < 0xd800 || u > 0xdbff)
		return 6;
	if (end - s < 12 || s[6] != '\\' || s[7] != 'u')
		return -1;
	lo = sl_hex4(s + 8);
	if (lo < 0xdc00 || lo > 0xdfff)
		return -1;
	return 12;
}

/* Validate one UTF-8 sequence at s (lead byte >= 0x80). Returns its length,
 * or -1 for overlong forms, surrogates, values above U+10FFFF, stray
 * continuation bytes and truncation (RFC 3629 section 4). */
static int utf8_len(const uint8_t *s, const uint8_t *end)
{
	uint8_t c = s[0], lo = 0x80, hi = 0xbf;
	int n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return -1;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (end - s < n || s[1] < lo || s[1] > hi)
		return -1;
	for (int i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return -1;
	return n;
}

/* Nonzero when one of the 8 bytes of w is a quote, a backslash, a control
 * character or a non-ASCII byte: the only bytes a string scan must stop at.
 * These are the exact "has zero byte" / "has byte less than" word tricks. */
static uint64_t word_special(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');

	return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w) & high;
}

/* Skip plain ASCII string bytes eight at a time; returns the first byte that
 * needs a closer look, or end. Base64 payloads spend nearly all their time here. */
static const uint8_t *skip_plain(const uint8_t *s, const uint8_t *end)
{
	while (end - s >= 8) {
		uint64_t w;

		memcpy(&w, s, sizeof(w));
		if (word_special(w) != 0)
			break;
		s += 8;
	}
	while (s < end && *s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\')
		s++;
	return s;
}

/* Parse a string whose opening quote is at p->pos into token t. On success
 * p->pos is past the closing quote. */
static int json_string(struct json_parser *p, struct sl_doc_tok *t)
{
	const uint8_t *start = p->buf + p->pos + 1;
	const uint8_t *end = p->buf + p->len;
	const uint8_t *s = start;

	t->ptr = start;
	/* Every pass advances s by at least one byte. */
	while (s < end) {
		int n = 1;

		s = skip_plain(s, end);
		if (s == end)
			break;
		if (*s == '"') {
			t->len = (uint32_t)(s - start);
			p->pos = (uint32_t)(s + 1 - p->buf);
			return 0;
		}
		if (*s == '\\') {
			n = json_escape_len(s, end);
			t->flags |= SL_DOC_F_ESCAPED;
		} else if (*s < 0x20) {
			n = -1;
		} else {
			n = utf8_len(s, end);
		}
		if (n < 0)
			return SL_DOC_INVALID;
		s += n;
	}
	return SL_DOC_INVALID;
}

/* Skip a run of digits; returns how many there were. */
static uint32_t skip_digits(struct json_parser *p)
{
	uint32_t start = p->pos;

	while (p->pos < p->len && is_digit(p->buf[p->pos]))
		p->pos++;
	return p->pos - start;
}

/* Convert the checked number text of t with strtod on a NUL-terminated copy.
 * strtod reads the decimal point from LC_NUMERIC; the server never calls
 * setlocale(), so that is the "C" locale's '.'. */
static int json_float(struct sl_doc_tok *t)
{
	char tmp[JSON_NUM_MAX + 1];

	if (t->len > JSON_NUM_MAX)
		return SL_DOC_TOO_BIG;
	memcpy(tmp, t->ptr, t->len);
	tmp[t->len] = '\0';
	t->type = SL_DOC_FLOAT;
	t->d = strtod(tmp, NULL);
	return 0;
}

/* Parse -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at p->pos into t. */
static int json_number(struct json_parser *p, struct sl_doc_tok *t)
{
	const uint8_t *b = p->buf;
	uint32_t start = p->pos;
	bool neg = false, frac = false, big = false;
	uint64_t mag = 0;

	if (b[p->pos] == '-') {
		neg = true;
		p->pos++;
	}
	if (p->pos == p->len || !is_digit(b[p->pos]))
		return SL_DOC_INVALID;
	if (b[p->pos] == '0') {
		p->pos++;
	} else {
		for (; p->pos < p->len && is_digit(b[p->pos]); p->pos++) {
			uint64_t d = b[p->pos] - '0';

			if (mag > (UINT64_MAX - d) / 10)
				big = true;
			mag = mag * 10 + d;
		}
	}
	if (p->pos < p->len && b[p->pos] == '.') {
		p->pos++;
		if (skip_digits(p) == 0)
			return SL_DOC_INVALID;
		frac = true;
	}
	if (p->pos < p->len && (b[p->pos] == 'e' || b[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (b[p->pos] == '+' || b[p->pos] == '-'))
			p->pos++;
		if (skip_digits(p) == 0)
			return SL_DOC_INVALID;
		frac = true;
	}
	t->len = p->pos - start;
	if (frac || big || mag > (uint64_t)INT64_MAX + neg)
		return json_float(t);
	t->type = SL_DOC_INT;
	t->i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

/* Parse true, false or null at p->pos into t. */
static int json_literal(struct json_parser *p, struct sl_doc_tok *t)
{
	static const struct {
		const char *word;
		uint8_t len, type, val;
	} lits[] = {
		{ "true", 4, SL_DOC_BOOL, 1 },
		{ "false", 5, SL_DOC_BOOL, 0 },
		{ "null", 4, SL_DOC_NULL, 0 },
	};

	for (size_t k = 0; k < sizeof(lits) / sizeof(lits[0]); k++) {
		if (p->len - p->pos < lits[k].len ||
		    memcmp(p->buf + p->pos, lits[k].word, lits[k].len) != 0)
			continue;
		t->type = lits[k].type;
		t->i = lits[k].val;
		t->len = lits[k].len;
		p->pos += lits[k].len;
		return 0;
	}
	return SL_DOC_INVALID;
}

/* Parse an object key and its colon; p->pos is at the first non-blank byte. */
static int json_key(struct json_parser *p)
{
	struct sl_doc_tok *t;
	int r;

	assert(p->depth > 0);
	if (p->pos == p->len || p->buf[p->pos] != '"')
		return SL_DOC_INVALID;
	t = json_tok(p, SL_DOC_STR);
	if (t == NULL)
		return SL_DOC_TOO_BIG;
	r = json_string(p, t);
	if (r < 0)
		return r;
	p->toks[p->stack[p->depth - 1]].count++;
	skip_ws(p);
	if (p->pos == p->len || p->buf[p->pos] != ':')
		return SL_DOC_INVALID;
	p->pos++;
	return 0;
}

/* Open a container at p->pos. Returns 1 when it is empty and already
 * closed, 0 when a value (after a key, for objects) must follow, or an error. */
static int json_open(struct json_parser *p, struct sl_doc_tok *t)
{
	uint8_t close = t->type == SL_DOC_OBJ ? '}' : ']';

	if (p->depth == SL_DOC_DEPTH_MAX)
		return SL_DOC_TOO_BIG;
	p->stack[p->depth++] = (uint32_t)(t - p->toks);
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->buf[p->pos] == close) {
		p->depth--;
		p->pos++;
		t->len = (uint32_t)(p->buf + p->pos - t->ptr);
		return 1;
	}
	return t->type == SL_DOC_OBJ ? json_key(p) : 0;
}

/* Parse one value at p->pos (after blanks). Returns 1 when the value is
 * complete, 0 when a container was opened and its first value follows. */
static int json_value(struct json_parser *p)
{
	struct sl_doc_tok *t;
	uint8_t c = p->buf[p->pos];

	assert(p->pos < p->len);
	t = json_tok(p, SL_DOC_NULL);
	if (t == NULL)
		return SL_DOC_TOO_BIG;
	if (p->depth > 0 && p->toks[p->stack[p->depth - 1]].type == SL_DOC_ARR)
		p->toks[p->stack[p->depth - 1]].count++;
	switch (c) {
	case '{':
	case '[':
		t->type = c == '{' ? SL_DOC_OBJ : SL_DOC_ARR;
		return json_open(p, t);
	case '"':
		t->type = SL_DOC_STR;
		return json_string(p, t) < 0 ? SL_DOC_INVALID : 1;
	case '-':
	case '0' ... '9': {
		int r = json_number(p, t);

		return r < 0 ? r : 1;
	}
	default:
		return json_literal(p, t) < 0 ? SL_DOC_INVALID : 1;
	}
}

/* After a complete value: consume a comma (returns 0, another value
 * follows) or close the innermost container (returns 1, still after a
 * value). At top level returns 2 when only blanks remain. */
static int json_after(struct json_parser *p)
{
	struct sl_doc_tok *top;
	uint8_t c;

	skip_ws(p);
	if (p->depth == 0)
		return p->pos == p->len ? 2 : SL_DOC_INVALID;
	if (p->pos == p->len)
		return SL_DOC_INVALID;
	top = &p->toks[p->stack[p->depth - 1]];
	c = p->buf[p->pos++];
	if (c == ',') {
		skip_ws(p);
		return top->type == SL_DOC_OBJ ? json_key(p) : 0;
	}
	if (c != (top->type == SL_DOC_OBJ ? '}' : ']'))
		return SL_DOC_INVALID;
	top->end = p->ntoks;
	top->len = (uint32_t)(p->buf + p->pos - top->ptr);
	p->depth--;
	return 1;
}

/* Returns the token count (> 0), SL_DOC_INVALID for anything RFC 8259 does
 * not allow (including invalid UTF-8 inside strings and a byte order mark),
 * or SL_DOC_TOO_BIG for a full token array, nesting deeper than
 * SL_DOC_DEPTH_MAX, a number longer than JSON_NUM_MAX, or input over 4 GiB. */
int sl_json_parse(const uint8_t *buf, size_t len, struct sl_doc_tok *toks, uint32_t max_toks)
{
	struct json_parser p = {
		.buf = buf,
		.len = (uint32_t)len,
		.toks = toks,
		.max_toks = max_toks > INT_MAX ? INT_MAX : max_toks,
	};
	int r = 0;

	assert(buf != NULL || len == 0);
	assert(toks != NULL || max_toks == 0);
	if (len > UINT32_MAX)
		return SL_DOC_TOO_BIG;
	/* Each pass consumes at least one byte (a value's first byte, a comma
	 * or a closing bracket), so len + 1 passes always suffice. */
	for (uint32_t guard = 0; guard <= p.len; guard++) {
		if (r == 0) {
			skip_ws(&p);
			if (p.pos == p.len)
				return SL_DOC_INVALID;
			r = json_value(&p);
		} else {
			r = json_after(&p);
		}
		if (r < 0)
			return r;
		if (r == 2)
			return (int)p.ntoks;
	}
	return SL_DOC_INVALID;
}
