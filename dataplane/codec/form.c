/* form.c - application/x-www-form-urlencoded pairs, and the query-protocol
 * key paths they carry, into the doc.h token model.
 *
 * The tree is built by sorting, not by a trie. Each pair gets a 16-byte
 * record in the caller's scratch (its decoded key and pair index), and the
 * records are heapsorted by key path: segment by segment, list indexes
 * numerically and before member names, member names as bytes. In that
 * order every subtree is a contiguous run, list elements are in index
 * order, and each kind of bad key shows up between two neighbours: a
 * duplicate is equal to the key before it, a key that is also a parent is
 * a whole-segment prefix of the key after it, and a parent whose children
 * mix indexes and names sees its first name child after an index child.
 * One pass over the sorted records then emits the tokens with a stack of
 * open containers, the way a streaming parser would. Heapsort because it
 * is O(n log n) in the worst case, in place and without recursion.
 */
#include <assert.h>
#include <limits.h>
#include <stdalign.h>
#include <stdbool.h>
#include <string.h>

#include "dataplane/codec/form.h"
#include "dataplane/codec/text.h"

/* Indexes sort before names, so a parent whose children mix the two shows
 * the mix where the last index child meets the first name child. */
enum seg_kind { SEG_INDEX = 0, SEG_NAME = 1 };

/* Decimal digits of SL_FORM_INDEX_MAX: longer index segments are out of
 * range without being converted, and in range ones compare by length first. */
#define FORM_INDEX_DIGITS 4
_Static_assert(SL_FORM_INDEX_MAX >= 1000 && SL_FORM_INDEX_MAX <= 9999,
	       "FORM_INDEX_DIGITS is the digit count of SL_FORM_INDEX_MAX");
_Static_assert(SL_FORM_INVALID == SL_DOC_INVALID && SL_FORM_TOO_BIG == SL_DOC_TOO_BIG,
	       "form results share the doc parsers' values");

/* One pair in sort order: its key decoded (viewing the input when decoding
 * changes nothing, else a copy in scratch). */
struct form_rec {
	const char *key;
	uint32_t key_len;
	uint32_t pair; /* index into the caller's pairs */
};
_Static_assert(sizeof(struct form_rec) <= SL_FORM_SCRATCH_PER_PAIR,
	       "SL_FORM_SCRATCH_PER_PAIR covers a record");
_Static_assert(alignof(struct form_rec) <= 16, "SL_FORM_SCRATCH_BYTES covers the padding");

/* Token emission state: the open container at each level of the key path
 * being emitted (level 0 is the root object). */
struct form_build {
	const struct sl_form_pair *pairs;
	struct sl_doc_tok *toks;
	uint32_t max_toks;
	uint32_t ntoks;
	uint32_t top; /* level of the innermost open container */
	uint32_t open[SL_DOC_DEPTH_MAX];
};

/* True when every '%' in s[0..n) starts a %XX escape. */
static bool pct_valid(const char *s, size_t n)
{
	const char *end = s + n, *p = s;

	/* Each pass steps past one '%', so n passes at most. */
	while ((p = memchr(p, '%', (size_t)(end - p))) != NULL) {
		if (end - p < 3 || sl_hex_val(p[1]) < 0 || sl_hex_val(p[2]) < 0)
			return false;
		p += 3;
	}
	return true;
}

static bool needs_decoding(const char *s, size_t n)
{
	return memchr(s, '%', n) != NULL || memchr(s, '+', n) != NULL;
}

/* Decode in[0..n) into out[0..cap) without a NUL. Returns the length, -1
 * for a bad escape, -2 when out is too small. */
static long pct_decode(const char *in, size_t n, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	/* Each pass consumes one byte or one escape and writes one byte. */
	while (i < n) {
		char c = in[i];

		if (c == '%') {
			if (n - i < 3 || sl_hex_val(in[i + 1]) < 0 || sl_hex_val(in[i + 2]) < 0)
				return -1;
			c = (char)(sl_hex_val(in[i + 1]) << 4 | sl_hex_val(in[i + 2]));
			i += 3;
		} else {
			c = c == '+' ? ' ' : c;
			i++;
		}
		if (o == cap)
			return -2;
		out[o++] = c;
	}
	assert(o <= n);
	return (long)o;
}

/* Returns the decoded length, -1 for a bad escape, -2 when it does not fit. */
long sl_form_decode(const char *in, size_t n, char *out, size_t cap)
{
	long r;

	assert(in != NULL || n == 0);
	if (cap == 0)
		return -2;
	r = pct_decode(in, n, out, cap - 1);
	if (r >= 0)
		out[r] = '\0';
	return r;
}

/* Returns the pair count, SL_FORM_INVALID or SL_FORM_TOO_BIG. */
int sl_form_parse(const char *buf, size_t len, struct sl_form_pair *pairs, uint32_t max)
{
	size_t pos = 0;
	uint32_t n = 0;

	assert(buf != NULL || len == 0);
	assert(pairs != NULL || max == 0);
	if (len > UINT32_MAX)
		return SL_FORM_TOO_BIG;
	if (max > INT_MAX)
		max = INT_MAX;
	/* Each pass consumes one segment and the '&' after it, at least one byte. */
	while (pos < len) {
		const char *seg = buf + pos, *amp = memchr(seg, '&', len - pos);
		size_t seg_len = (size_t)((amp != NULL ? amp : buf + len) - seg);
		const char *eq = memchr(seg, '=', seg_len);
		size_t key_len = eq != NULL ? (size_t)(eq - seg) : seg_len;

		pos += seg_len + 1;
		if (seg_len == 0)
			continue;
		if (key_len == 0 || !pct_valid(seg, seg_len))
			return SL_FORM_INVALID;
		if (n == max)
			return SL_FORM_TOO_BIG;
		pairs[n].key = seg;
		pairs[n].key_len = (uint32_t)key_len;
		pairs[n].val = eq != NULL ? eq + 1 : seg + seg_len;
		pairs[n].val_len = eq != NULL ? (uint32_t)(seg_len - key_len - 1) : 0;
		n++;
	}
	return (int)n;
}

/* Length of the segment of key[0..n) starting at off: up to '.' or the end. */
static uint32_t seg_len(const char *key, uint32_t n, uint32_t off)
{
	const char *dot;

	assert(off <= n);
	dot = memchr(key + off, '.', n - off);
	return dot != NULL ? (uint32_t)(dot - (key + off)) : n - off;
}

/* The first segment always names a root member: the root is an object. */
static enum seg_kind seg_kind(const char *s, uint32_t n, uint32_t level)
{
	if (level == 0 || n == 0 || s[0] < '1' || s[0] > '9')
		return SEG_NAME;
	for (uint32_t i = 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return SEG_NAME;
	return SEG_INDEX;
}

/* Check the decoded key of r: no empty segment, indexes in range, at most
 * SL_DOC_DEPTH_MAX segments. Returns 0, SL_FORM_INVALID or SL_FORM_TOO_BIG. */
static int check_key(const struct form_rec *r)
{
	uint32_t off = 0;

	if (r->key_len == 0)
		return SL_FORM_INVALID;
	for (uint32_t level = 0; level < SL_DOC_DEPTH_MAX; level++) {
		uint32_t len = seg_len(r->key, r->key_len, off);
		const char *s = r->key + off;

		if (len == 0)
			return SL_FORM_INVALID;
		if (seg_kind(s, len, level) == SEG_INDEX) {
			uint32_t v = 0;

			if (len > FORM_INDEX_DIGITS)
				return SL_FORM_INVALID;
			for (uint32_t i = 0; i < len; i++)
				v = v * 10 + (uint32_t)(s[i] - '0');
			if (v > SL_FORM_INDEX_MAX)
				return SL_FORM_INVALID;
		}
		off += len;
		if (off == r->key_len)
			return 0;
		off++; /* the '.'; a trailing one leaves an empty last segment */
	}
	return SL_FORM_TOO_BIG;
}

/* Order two segments at the same level (see the top of the file). Index
 * segments have no leading zeros, so the longer one is the larger. */
static int seg_cmp(const char *a, uint32_t an, const char *b, uint32_t bn, uint32_t level)
{
	enum seg_kind ka = seg_kind(a, an, level), kb = seg_kind(b, bn, level);
	int r;

	if (ka != kb)
		return ka < kb ? -1 : 1;
	if (ka == SEG_INDEX && an != bn)
		return an < bn ? -1 : 1;
	r = memcmp(a, b, an < bn ? an : bn);
	if (r != 0)
		return r;
	return an < bn ? -1 : an > bn;
}

/* Compare the key paths of checked records a and b; *common is set to the
 * number of leading segments they share. A path sorts before its
 * extensions. */
static int key_diff(const struct form_rec *a, const struct form_rec *b, uint32_t *common)
{
	uint32_t ia = 0, ib = 0;

	for (uint32_t level = 0; level < SL_DOC_DEPTH_MAX; level++) {
		uint32_t la = seg_len(a->key, a->key_len, ia);
		uint32_t lb = seg_len(b->key, b->key_len, ib);
		int r = seg_cmp(a->key + ia, la, b->key + ib, lb, level);

		*common = level;
		if (r != 0)
			return r;
		*common = level + 1;
		ia += la;
		ib += lb;
		if (ia == a->key_len || ib == b->key_len)
			return (ia != a->key_len) - (ib != b->key_len);
		ia++;
		ib++;
	}
	/* Checked keys have at most SL_DOC_DEPTH_MAX segments. */
	assert(0);
	return 0;
}

static int key_cmp(const struct form_rec *a, const struct form_rec *b)
{
	uint32_t common;

	return key_diff(a, b, &common);
}

static void rec_swap(struct form_rec *a, struct form_rec *b)
{
	struct form_rec t = *a;

	*a = *b;
	*b = t;
}

/* Restore the max-heap below root in r[0..n). */
static void sift_down(struct form_rec *r, size_t root, size_t n)
{
	/* Each pass moves one level down: at most log2(n) passes. */
	while (root < n / 2) {
		size_t child = 2 * root + 1;

		if (child + 1 < n && key_cmp(&r[child], &r[child + 1]) < 0)
			child++;
		if (key_cmp(&r[root], &r[child]) >= 0)
			return;
		rec_swap(&r[root], &r[child]);
		root = child;
	}
}

static void heap_sort(struct form_rec *r, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(r, i, n);
	for (size_t i = n; i-- > 1;) {
		rec_swap(&r[0], &r[i]);
		sift_down(r, 0, i);
	}
}

/* Fill the records from the pairs, decoding keys that need it into text.
 * Returns 0, SL_FORM_INVALID or SL_FORM_TOO_BIG. */
static int make_recs(const struct sl_form_pair *pairs, uint32_t n, struct form_rec *recs,
		     char *text, size_t text_cap)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct sl_form_pair *p = &pairs[i];
		long len = p->key_len;
		int r;

		recs[i].key = p->key;
		recs[i].pair = i;
		if (!pct_valid(p->val, p->val_len))
			return SL_FORM_INVALID;
		if (needs_decoding(p->key, p->key_len)) {
			len = pct_decode(p->key, p->key_len, text, text_cap);
			if (len < 0)
				return len == -2 ? SL_FORM_TOO_BIG : SL_FORM_INVALID;
			recs[i].key = text;
			text += len;
			text_cap -= (size_t)len;
		}
		recs[i].key_len = (uint32_t)len;
		r = check_key(&recs[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Append a token of type; NULL when the caller's array is full. */
static struct sl_doc_tok *tok_add(struct form_build *b, uint8_t type, const char *ptr)
{
	struct sl_doc_tok *t;

	if (b->ntoks == b->max_toks)
		return NULL;
	t = &b->toks[b->ntoks++];
	memset(t, 0, sizeof(*t));
	t->type = type;
	t->ptr = (const uint8_t *)ptr;
	t->end = b->ntoks;
	return t;
}

/* Close the open containers above level, ending them before the next token. */
static void close_to(struct form_build *b, uint32_t level)
{
	assert(level <= b->top);
	for (; b->top > level; b->top--)
		b->toks[b->open[b->top]].end = b->ntoks;
}

/* Emit the segments of cur's key from level c on: under each parent a key
 * token (objects only), then a container for the next segment or the leaf.
 * Returns 0, SL_FORM_INVALID when a segment's kind does not fit its
 * parent, or SL_FORM_TOO_BIG. */
static int emit_from(struct form_build *b, const struct form_rec *cur, uint32_t c, uint32_t off)
{
	const struct sl_form_pair *p = &b->pairs[cur->pair];

	for (uint32_t level = c; level < SL_DOC_DEPTH_MAX; level++) {
		uint32_t len = seg_len(cur->key, cur->key_len, off), next;
		struct sl_doc_tok *parent = &b->toks[b->open[level]], *t;
		bool in_list = parent->type == SL_DOC_ARR;

		assert(level == b->top);
		if (in_list != (seg_kind(cur->key + off, len, level) == SEG_INDEX))
			return SL_FORM_INVALID;
		parent->count++;
		if (!in_list) {
			t = tok_add(b, SL_DOC_STR, cur->key + off);
			if (t == NULL)
				return SL_FORM_TOO_BIG;
			t->len = len;
		}
		off += len;
		if (off == cur->key_len) {
			t = tok_add(b, SL_DOC_STR, p->val);
			if (t == NULL)
				return SL_FORM_TOO_BIG;
			t->len = p->val_len;
			t->flags = needs_decoding(p->val, p->val_len) ? SL_DOC_F_PCT : 0;
			return 0;
		}
		off++;
		next = seg_len(cur->key, cur->key_len, off);
		t = tok_add(b, seg_kind(cur->key + off, next, level + 1) == SEG_INDEX ?
			    SL_DOC_ARR : SL_DOC_OBJ, p->key);
		if (t == NULL)
			return SL_FORM_TOO_BIG;
		assert(level + 1 < SL_DOC_DEPTH_MAX);
		b->open[++b->top] = b->ntoks - 1;
	}
	/* Checked keys have at most SL_DOC_DEPTH_MAX segments. */
	assert(0);
	return SL_FORM_TOO_BIG;
}

/* Emit the key after prev (NULL for the first) in sorted order. */
static int emit_one(struct form_build *b, const struct form_rec *prev, const struct form_rec *cur)
{
	uint32_t c = 0, off = 0;

	if (prev != NULL) {
		int r = key_diff(prev, cur, &c);

		assert(r <= 0);
		/* Equal keys, or prev is a whole-segment prefix of cur: prev's
		 * last segment is at level top, so sharing top + 1 segments
		 * means prev's leaf would also be cur's parent. */
		if (r == 0 || c > b->top)
			return SL_FORM_INVALID;
	}
	close_to(b, c);
	for (uint32_t i = 0; i < c; i++)
		off += seg_len(cur->key, cur->key_len, off) + 1;
	return emit_from(b, cur, c, off);
}

/* Returns the token count, SL_FORM_INVALID or SL_FORM_TOO_BIG. */
int sl_form_to_doc(const struct sl_form_pair *pairs, uint32_t n, struct sl_doc_tok *toks,
		   uint32_t max_toks, char *scratch, size_t scratch_cap)
{
	size_t pad = (size_t)(-(uintptr_t)scratch & (alignof(struct form_rec) - 1));
	struct form_build b = {
		.pairs = pairs,
		.toks = toks,
		.max_toks = max_toks > INT_MAX ? INT_MAX : max_toks,
	};
	struct form_rec *recs;
	size_t text_off;
	int r;

	assert(pairs != NULL || n == 0);
	assert(toks != NULL || max_toks == 0);
	if (scratch_cap < pad || (scratch_cap - pad) / sizeof(*recs) < n)
		return SL_FORM_TOO_BIG;
	if (tok_add(&b, SL_DOC_OBJ, n > 0 ? pairs[0].key : NULL) == NULL)
		return SL_FORM_TOO_BIG;
	if (n == 0)
		return 1;
	recs = (struct form_rec *)(void *)(scratch + pad);
	text_off = pad + (size_t)n * sizeof(*recs);
	r = make_recs(pairs, n, recs, scratch + text_off, scratch_cap - text_off);
	if (r < 0)
		return r;
	heap_sort(recs, n);
	for (uint32_t i = 0; i < n; i++) {
		r = emit_one(&b, i > 0 ? &recs[i - 1] : NULL, &recs[i]);
		if (r < 0)
			return r;
	}
	close_to(&b, 0);
	toks[0].end = b.ntoks;
	return (int)b.ntoks;
}
