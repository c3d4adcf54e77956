/* fuzz_shape_regex.c - the model-pattern matcher (regex.h) against glibc.
 * The first byte gives the pattern length, the pattern follows, the rest
 * is the subject. Any pattern must compile or be refused cleanly and any
 * subject must match or not without a fault. When the pattern is within a
 * subset this file translates exactly into a POSIX extended regex, and the
 * subject is ASCII without NUL, glibc's regexec() on "^(...)$" must agree
 * with sl_re_match(): a disagreement aborts.
 *
 * The translation is written independently of regex.c (its own parse of the
 * Java syntax), so it checks the parser as well as the NFA. Every class and
 * literal becomes a bracket expression over the 127 ASCII code points, which
 * sidesteps the differences between Java and POSIX bracket syntax. */
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/regex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAT_MAX 64
#define SUBJ_MAX 64
#define ERE_MAX 8192
#define GLIBC_INSTS_MAX 160

/* A set of ASCII code points 1..127. */
struct set {
	uint64_t w[2];
};

struct tr {
	const uint8_t *p;
	size_t n, i;
	char out[ERE_MAX];
	size_t len;
	bool exact;
	bool dotall;
	bool anchor; /* the pattern holds '^' or '$' */
};

static void set_add(struct set *s, unsigned c)
{
	if (c >= 1 && c < 128)
		s->w[c / 64] |= 1ull << (c % 64);
}

static bool set_has(const struct set *s, unsigned c)
{
	return c < 128 && ((s->w[c / 64] >> (c % 64)) & 1);
}

static void emit(struct tr *t, const char *s, size_t n)
{
	if (t->len + n >= sizeof(t->out)) {
		t->exact = false;
		return;
	}
	memcpy(t->out + t->len, s, n);
	t->len += n;
}

static void emit_c(struct tr *t, char c)
{
	emit(t, &c, 1);
}

/* A bracket expression for s: ']' first, plain characters (as ranges where
 * long runs allow), then '[', '^' (never first) and '-' last. */
static void emit_set(struct tr *t, const struct set *s)
{
	bool any = false, caret = set_has(s, '^'), dash = set_has(s, '-');

	for (unsigned c = 1; c < 128; c++)
		any |= set_has(s, c);
	if (!any) {
		t->exact = false;
		return;
	}
	if (caret && !dash) {
		bool other = false;

		for (unsigned c = 1; c < 128; c++)
			other |= set_has(s, c) && c != '^';
		if (!other) {
			emit(t, "\\^", 2);
			return;
		}
	}
	emit_c(t, '[');
	if (set_has(s, ']'))
		emit_c(t, ']');
	if (caret && dash && !set_has(s, ']')) {
		/* "[-^...]": a leading '-' is literal and keeps '^' off the front. */
		emit_c(t, '-');
		dash = false;
	}
	for (unsigned c = 1; c < 128; c++) {
		unsigned e = c;

		if (!set_has(s, c) || c == ']' || c == '^' || c == '-' || c == '[')
			continue;
		while (e + 1 < 128 && set_has(s, e + 1) && e + 1 != ']' && e + 1 != '^' &&
		       e + 1 != '-' && e + 1 != '[')
			e++;
		if (e - c >= 2) {
			emit_c(t, (char)c);
			emit_c(t, '-');
			emit_c(t, (char)e);
			c = e;
		} else {
			emit_c(t, (char)c);
		}
	}
	if (set_has(s, '['))
		emit_c(t, '[');
	if (caret)
		emit_c(t, '^');
	if (dash)
		emit_c(t, '-');
	emit_c(t, ']');
}

static int peek(const struct tr *t)
{
	return t->i < t->n ? t->p[t->i] : -1;
}

static void shorthand(struct set *s, int c)
{
	struct set x = { { 0, 0 } };
	int k = c | 0x20;

	for (unsigned ch = 1; ch < 128; ch++) {
		bool in = k == 'd' ? (ch >= '0' && ch <= '9')
			: k == 'w' ? ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'
			: ch == ' ' || (ch >= 9 && ch <= 13);

		if (in != (c != k))
			set_add(&x, ch);
	}
	s->w[0] |= x.w[0];
	s->w[1] |= x.w[1];
}

static int hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* An escape after the backslash: a code point (>= 0), or -2 for a
 * shorthand added to *s, or -1 when outside the translated subset. */
static int escape(struct tr *t, struct set *s)
{
	static const char from[] = "tnrfae", to[] = "\t\n\r\f\a\033";
	int c = peek(t);
	const char *hit;

	if (c <= 0)
		return -1;
	t->i++;
	if (strchr("dDwWsS", c) != NULL) {
		shorthand(s, c);
		return -2;
	}
	hit = strchr(from, c);
	if (hit != NULL)
		return to[hit - from];
	if (c == 'x' && t->n - t->i >= 2 && hexv(t->p[t->i]) >= 0 && hexv(t->p[t->i + 1]) >= 0) {
		int v = hexv(t->p[t->i]) * 16 + hexv(t->p[t->i + 1]);

		t->i += 2;
		return v >= 1 && v < 128 ? v : -1;
	}
	if (c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
		return -1;
	return c;
}

/* [...] after the '[', into a bracket expression. */
static void tr_class(struct tr *t)
{
	struct set s = { { 0, 0 } };
	bool neg = false, have = false;
	int lo = 0;

	if (peek(t) == '^') {
		neg = true;
		t->i++;
	}
	if (peek(t) == ']') {
		t->exact = false;
		return;
	}
	for (;;) {
		int c = peek(t);

		if (c < 0 || c == '[' || (c == '&' && t->i + 1 < t->n && t->p[t->i + 1] == '&')) {
			t->exact = false;
			return;
		}
		t->i++;
		if (c == ']')
			break;
		if (c == '-' && have && peek(t) >= 0 && peek(t) != ']') {
			int hi = peek(t);

			t->i++;
			if (hi == '[') {
				t->exact = false;
				return;
			}
			if (hi == '\\')
				hi = escape(t, &s);
			if (hi < lo || hi >= 128) {
				t->exact = false;
				return;
			}
			for (int ch = lo; ch <= hi; ch++)
				set_add(&s, (unsigned)ch);
			have = false;
			continue;
		}
		if (c == '\\')
			c = escape(t, &s);
		if (c == -1 || c >= 128) {
			t->exact = false;
			return;
		}
		have = c >= 0;
		if (c >= 0) {
			set_add(&s, (unsigned)c);
			lo = c;
		}
	}
	if (neg) {
		s.w[0] = ~s.w[0] & ~1ull;
		s.w[1] = ~s.w[1];
	}
	emit_set(t, &s);
}

static void tr_alt(struct tr *t, int depth);

/* One atom; returns whether a quantifier may follow. */
static bool tr_atom(struct tr *t, int depth)
{
	struct set s = { { 0, 0 } };
	int c = peek(t);

	t->i++;
	switch (c) {
	case '(':
		if (peek(t) == '?') {
			if (t->n - t->i < 2 || t->p[t->i + 1] != ':') {
				t->exact = false;
				return false;
			}
			t->i += 2;
		}
		emit_c(t, '(');
		tr_alt(t, depth + 1);
		if (peek(t) != ')') {
			t->exact = false;
			return false;
		}
		t->i++;
		emit_c(t, ')');
		return true;
	case '^':
	case '$':
		t->anchor = true;
		emit_c(t, (char)c);
		return false;
	case '.':
		for (unsigned ch = 1; ch < 128; ch++)
			if (t->dotall || (ch != '\n' && ch != '\r'))
				set_add(&s, ch);
		emit_set(t, &s);
		return true;
	case '[':
		tr_class(t);
		return true;
	case '\\':
		c = escape(t, &s);
		if (c == -1 || c == 0) {
			t->exact = false;
			return false;
		}
		if (c >= 0)
			set_add(&s, (unsigned)c);
		emit_set(t, &s);
		return true;
	default:
		if (c <= 0 || c >= 128 || strchr("*+?{)|", c) != NULL) {
			t->exact = false;
			return false;
		}
		set_add(&s, (unsigned)c);
		emit_set(t, &s);
		return true;
	}
}

/* A quantifier, with lazy and exact-possessive suffixes dropped. */
static void tr_quant(struct tr *t)
{
	int c = peek(t);
	size_t start = t->i;

	if (c == '*' || c == '+' || c == '?') {
		t->i++;
		emit_c(t, (char)c);
	} else if (c == '{') {
		while (t->i < t->n && t->p[t->i] != '}')
			t->i++;
		if (t->i == t->n) {
			t->exact = false;
			return;
		}
		t->i++;
		emit(t, (const char *)t->p + start, t->i - start);
	} else {
		return;
	}
	if (peek(t) == '?' || (c == '{' && peek(t) == '+'))
		t->i++;
}

static void tr_seq(struct tr *t, int depth)
{
	while (t->exact && peek(t) >= 0 && peek(t) != '|' && peek(t) != ')') {
		bool q = tr_atom(t, depth);

		if (q)
			tr_quant(t);
	}
}

static void tr_alt(struct tr *t, int depth)
{
	if (depth > 8) {
		t->exact = false;
		return;
	}
	tr_seq(t, depth);
	while (t->exact && peek(t) == '|') {
		t->i++;
		emit_c(t, '|');
		tr_seq(t, depth);
	}
}

/* The ERE of p[0..n), wrapped as ^(...)$; false when not exact. */
static bool translate(struct tr *t, const uint8_t *p, size_t n)
{
	memset(t, 0, sizeof(*t));
	t->p = p;
	t->n = n;
	t->exact = true;
	if (n >= 4 && memcmp(p, "(?s)", 4) == 0) {
		t->dotall = true;
		t->i = 4;
	}
	emit(t, "^(", 2);
	tr_alt(t, 0);
	if (t->i != t->n)
		t->exact = false;
	emit(t, ")$", 3);
	return t->exact;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sl_re re;
	static struct tr t;
	char subject[SUBJ_MAX + 1];
	size_t plen, slen;
	bool ascii = true, ours;
	regex_t posix;

	if (size == 0)
		return 0;
	plen = data[0] % (PAT_MAX + 1);
	if (plen > size - 1)
		plen = size - 1;
	slen = size - 1 - plen;
	if (slen > SUBJ_MAX)
		slen = SUBJ_MAX;
	if (sl_re_compile(&re, (const char *)data + 1, plen) != 0) {
		if (re.state != SL_RE_FAILED)
			abort();
		return 0;
	}
	ours = sl_re_match(&re, data + 1 + plen, slen);
	for (size_t i = 0; i < slen; i++) {
		uint8_t c = data[1 + plen + i];

		ascii &= c >= 1 && c < 128;
		subject[i] = (char)c;
	}
	subject[slen] = '\0';
	/* glibc unrolls bounded repetitions too, and nests of them make its
	 * regcomp() slow and huge: compare small programs only. */
	if (!ascii || re.ninst > GLIBC_INSTS_MAX || !translate(&t, data + 1, plen))
		return 0;
	/* glibc lets an inner '^' match after a newline that a bracket
	 * consumed, even without REG_NEWLINE ("^(^[\x01-\x7f]*^)$" matches
	 * "a\n"), where Java's '^' is only the start of the input: anchors are
	 * compared on subjects without line breaks. */
	if (t.anchor && (memchr(subject, '\n', slen) || memchr(subject, '\r', slen)))
		return 0;
	t.out[t.len] = '\0';
	if (regcomp(&posix, t.out, REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	if ((regexec(&posix, subject, 0, NULL, 0) == 0) != ours)
		abort();
	regfree(&posix);
	return 0;
}
