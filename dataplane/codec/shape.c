/* shape.c - check a parsed request against its botocore input shape.
 *
 * One recursive walk over the tokens, in document order, does both of AWS's
 * steps: each value is first type-checked (the first mismatch ends the walk
 * with a SerializationException, whatever was found before it), then its
 * constraints are checked and each violation is recorded. AWS lists
 * violations in model order, not document order, and stops at ten; the walk
 * keeps the ten smallest by a sort key (the path as member ordinals and
 * element indices, then the constraint), which gives the same list as a walk
 * in model order would, without looking a member up more than once.
 *
 * Nothing is allocated. Strings are read through a cursor that undoes JSON
 * escapes and joins CBOR chunks on the fly; the common plain token takes a
 * word-at-a-time fast path for lengths and base64. The message is rendered
 * at the end, once the violations are known, so that long values can be
 * shortened to let every listed violation fit the caller's buffer.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "dataplane/codec/regex.h"
#include "dataplane/codec/text.h"
#include "dataplane/codec/shape.h"

/* What failed, in the order violations of one value are listed. Path steps
 * sort after these (STEP_SORT_BASE + ordinal), so a list's own violations
 * come before its elements'. */
enum {
	W_NULL = 0,
	W_RANGE_MIN,
	W_RANGE_MAX,
	W_PATTERN,
	W_LEN_MIN,
	W_LEN_MAX,
	W_ENUM,
	W_LIST_MEMBER,
	W_MAP_KEYS,
	W_MAP_VALUES,
	W_COUNT,
};
#define STEP_SORT_BASE 16u
_Static_assert(W_COUNT <= STEP_SORT_BASE, "constraints sort before path steps");

/* A bit per W_* in a value's failure mask. */
#define WBIT(w) (1u << (w))

/* Longest enum value compared; scripts/gen-shapes keeps values shorter. */
#define ENUM_TEXT_MAX 256
/* A value's echo shortened to fit is cut here and marked with this. */
#define ELLIPSIS "..."
#define ELLIPSIS_LEN 3
/* Token flags that make the bytes of a string differ from its text. A form
 * value (the query protocol's parser) may be percent-encoded. */
#ifdef SL_DOC_F_PCT
#define TOK_CODED (SL_DOC_F_ESCAPED | SL_DOC_F_CHUNKED | SL_DOC_F_PCT)
#else
#define TOK_CODED (SL_DOC_F_ESCAPED | SL_DOC_F_CHUNKED)
#endif
/* A token index meaning "absent" in a violation. */
#define TOK_NONE UINT32_MAX

enum { STEP_MEMBER = 1, STEP_INDEX, STEP_KEY };

/* One step of a member path. sort orders violations; ref names the step:
 * a member index, a 0-based element index, or the map key's token. */
struct step {
	uint32_t sort;
	uint32_t ref;
	uint8_t kind;
};

struct violation {
	uint8_t what;   /* W_* */
	uint8_t depth;  /* steps in path */
	uint32_t shape; /* the shape whose constraint failed */
	uint32_t tok;   /* the value, or TOK_NONE when absent */
	struct step path[SL_SHAPE_DEPTH_MAX];
};

struct checker {
	const struct sl_shape_model *m;
	const struct sl_doc_tok *t;
	bool cbor;
	char *msg;
	size_t cap;
	uint32_t depth;
	struct step path[SL_SHAPE_DEPTH_MAX];
	uint32_t total; /* violations found */
	uint32_t kept;  /* of them in v[], the smallest by sort key */
	struct violation v[SL_SHAPE_ERRORS_MAX];
};

/* ---- Reading strings ------------------------------------------------------ */

enum { CUR_PLAIN = 0, CUR_JSON, CUR_CHUNKS, CUR_PCT };

/* The decoded bytes of a string token, one at a time. */
struct cursor {
	const uint8_t *p, *end;
	const uint8_t *chunk_end; /* CUR_CHUNKS: end of the current chunk */
	uint8_t mode;
	uint8_t npend, ipend;
	uint8_t pend[4];          /* bytes of a decoded escape still to hand out */
};

static void cur_init(struct cursor *c, const struct sl_doc_tok *t)
{
	memset(c, 0, sizeof(*c));
	c->p = t->ptr;
	c->end = t->ptr + t->len;
	c->chunk_end = c->p;
	if (t->flags & SL_DOC_F_CHUNKED)
		c->mode = CUR_CHUNKS;
	else if (t->flags & SL_DOC_F_ESCAPED)
		c->mode = CUR_JSON;
#ifdef SL_DOC_F_PCT
	else if (t->flags & SL_DOC_F_PCT)
		c->mode = CUR_PCT;
#endif
	else
		c->mode = CUR_PLAIN;
}

static int32_t hex4(const uint8_t *s, const uint8_t *end)
{
	return end - s < 4 ? -1 : sl_hex4(s);
}

/* Decode the JSON escape at c->p (a backslash) into c->pend. The parser
 * validated it; anything else ends the string. */
static int cur_escape(struct cursor *c)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	int32_t cp, lo;

	if (c->end - c->p < 2)
		return -1;
	if (c->p[1] != 'u') {
		hit = memchr(from, c->p[1], sizeof(from) - 1);
		if (hit == NULL)
			return -1;
		c->p += 2;
		return (uint8_t)to[hit - from];
	}
	cp = hex4(c->p + 2, c->end);
	if (cp < 0)
		return -1;
	c->p += 6;
	if (cp >= 0xd800 && cp <= 0xdbff && c->end - c->p >= 6 && c->p[0] == '\\' &&
	    c->p[1] == 'u' && (lo = hex4(c->p + 2, c->end)) >= 0xdc00 && lo <= 0xdfff) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		c->p += 6;
	}
	c->npend = (uint8_t)sl_utf8_put((uint32_t)cp, c->pend);
	c->ipend = 1;
	return c->pend[0];
}

/* Step into the next CBOR chunk; false at the end or on a malformed head. */
static bool cur_chunk(struct cursor *c)
{
	uint64_t n;
	uint8_t ai;

	/* Empty chunks are skipped; each pass consumes a head. */
	while (c->p == c->chunk_end && c->p < c->end) {
		ai = *c->p++ & 0x1f;
		n = ai;
		if (ai >= 24 && ai <= 27) {
			size_t k = (size_t)1 << (ai - 24);

			if ((size_t)(c->end - c->p) < k)
				return false;
			n = 0;
			for (size_t i = 0; i < k; i++)
				n = n << 8 | *c->p++;
		} else if (ai > 27) {
			return false;
		}
		if (n > (uint64_t)(c->end - c->p))
			return false;
		c->chunk_end = c->p + n;
	}
	return c->p < c->chunk_end;
}

/* The next decoded byte, or -1 at the end. */
static int cur_byte(struct cursor *c)
{
	if (c->ipend < c->npend)
		return c->pend[c->ipend++];
	c->npend = 0;
	c->ipend = 0;
	if (c->mode == CUR_CHUNKS && !cur_chunk(c))
		return -1;
	if (c->p >= c->end)
		return -1;
	if (c->mode == CUR_JSON && *c->p == '\\')
		return cur_escape(c);
	if (c->mode == CUR_PCT && *c->p == '+') {
		c->p++;
		return ' ';
	}
	if (c->mode == CUR_PCT && *c->p == '%' && c->end - c->p >= 3 &&
	    sl_hex_val(c->p[1]) >= 0 && sl_hex_val(c->p[2]) >= 0) {
		c->p += 3;
		return sl_hex_val(c->p[-2]) << 4 | sl_hex_val(c->p[-1]);
	}
	return *c->p++;
}

/* The next code point, or -1 at the end. A byte that starts no valid UTF-8
 * sequence (possible in CBOR, which the parser does not check) counts as
 * one U+FFFD; a sequence cut short consumes what it read. */
static int32_t cur_cp(struct cursor *c)
{
	int b = cur_byte(c), k;
	uint32_t v;

	if (b < 0x80)
		return b;
	if (b >= 0xc2 && b <= 0xdf)
		k = 1, v = (uint32_t)b & 0x1f;
	else if (b >= 0xe0 && b <= 0xef)
		k = 2, v = (uint32_t)b & 0x0f;
	else if (b >= 0xf0 && b <= 0xf4)
		k = 3, v = (uint32_t)b & 0x07;
	else
		return 0xfffd;
	for (int i = 0; i < k; i++) {
		int n = cur_byte(c);

		if (n < 0 || (n & 0xc0) != 0x80)
			return 0xfffd;
		v = v << 6 | ((uint32_t)n & 0x3f);
	}
	return (int32_t)v;
}

#define ONES 0x0101010101010101ull
#define HIGH 0x8080808080808080ull

/* Code points in a plain (unescaped, unchunked) UTF-8 token: the bytes that
 * are not continuation bytes, eight at a time. */
static uint64_t plain_cps(const uint8_t *s, size_t n)
{
	uint64_t cps = 0;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w, cont;

		memcpy(&w, s + i, sizeof(w));
		if ((w & HIGH) == 0) {
			cps += 8;
			continue;
		}
		/* Bit 7 set and bit 6 clear: 10xxxxxx. */
		cont = w & ~(w << 1) & HIGH;
		cps += 8 - (uint64_t)__builtin_popcountll(cont);
	}
	for (; i < n; i++)
		cps += (s[i] & 0xc0) != 0x80;
	return cps;
}

/* Code points of string token t. */
static uint64_t str_cps(const struct sl_doc_tok *t)
{
	struct cursor c;
	uint64_t n = 0;

	if ((t->flags & TOK_CODED) == 0)
		return plain_cps(t->ptr, t->len);
	cur_init(&c, t);
	/* Decoding never grows the text: at most t->len code points. */
	while (n <= t->len && cur_cp(&c) >= 0)
		n++;
	return n;
}

/* Decoded bytes of string token t (escapes undone, chunks joined). */
static uint64_t str_bytes(const struct sl_doc_tok *t)
{
	struct cursor c;
	uint64_t n = 0;

	if ((t->flags & TOK_CODED) == 0)
		return t->len;
	cur_init(&c, t);
	while (n <= t->len && cur_byte(&c) >= 0)
		n++;
	return n;
}

/* Compare the decoded text of t with s[0..n) by bytes: <0, 0 or >0. */
static int str_cmp(const struct sl_doc_tok *t, const char *s, size_t n)
{
	uint8_t buf[ENUM_TEXT_MAX];
	struct cursor c;
	size_t k = 0, m;
	int b, r;

	if ((t->flags & TOK_CODED) == 0) {
		m = t->len < n ? t->len : n;
		r = m > 0 ? memcmp(t->ptr, s, m) : 0;
		return r != 0 ? r : (t->len > n) - (t->len < n);
	}
	cur_init(&c, t);
	while (k < sizeof(buf) && (b = cur_byte(&c)) >= 0)
		buf[k++] = (uint8_t)b;
	m = k < n ? k : n;
	r = m > 0 ? memcmp(buf, s, m) : 0;
	return r != 0 ? r : (k > n) - (k < n);
}

/* ---- Violations ------------------------------------------------------------ */

/* Compare the sort keys (path sorts, then the constraint) of a and of the
 * violation the checker is about to record. */
static int key_cmp(const struct step *pa, uint32_t da, uint32_t wa, const struct step *pb,
		   uint32_t db, uint32_t wb)
{
	uint32_t n = (da < db ? da : db) + 1;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t x = i < da ? pa[i].sort : wa, y = i < db ? pb[i].sort : wb;

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

/* Record a violation of constraint what of shape at the current path.
 * Among equal keys (a duplicated JSON key) the first found stays first. */
static void violate(struct checker *c, uint32_t what, uint32_t shape, uint32_t tok)
{
	uint32_t at = c->kept;
	struct violation *v;

	assert(what < W_COUNT);
	assert(c->depth <= SL_SHAPE_DEPTH_MAX);
	c->total++;
	while (at > 0 && key_cmp(c->path, c->depth, what, c->v[at - 1].path, c->v[at - 1].depth,
				 c->v[at - 1].what) < 0)
		at--;
	if (at >= SL_SHAPE_ERRORS_MAX)
		return;
	if (c->kept < SL_SHAPE_ERRORS_MAX)
		c->kept++;
	memmove(&c->v[at + 1], &c->v[at], (c->kept - 1 - at) * sizeof(c->v[0]));
	v = &c->v[at];
	v->what = (uint8_t)what;
	v->depth = (uint8_t)c->depth;
	v->shape = shape;
	v->tok = tok;
	memcpy(v->path, c->path, c->depth * sizeof(c->path[0]));
}

static void push(struct checker *c, uint8_t kind, uint32_t sort, uint32_t ref)
{
	assert(c->depth < SL_SHAPE_DEPTH_MAX);
	c->path[c->depth].kind = kind;
	c->path[c->depth].sort = STEP_SORT_BASE + sort;
	c->path[c->depth].ref = ref;
	c->depth++;
}

static void pop(struct checker *c)
{
	assert(c->depth > 0);
	c->depth--;
}

/* ---- Message text ------------------------------------------------------------ */

/* Appends to buf[0..cap), always leaving room for the NUL; len counts what
 * was offered, so len >= cap means the text was cut. */
struct sink {
	char *buf;
	size_t cap;
	size_t len;
};

static void sink_put(struct sink *k, const void *p, size_t n)
{
	if (k->buf != NULL && k->len + 1 < k->cap) {
		size_t room = k->cap - 1 - k->len;

		memcpy(k->buf + k->len, p, n < room ? n : room);
	}
	k->len += n;
}

static void sink_str(struct sink *k, const char *s)
{
	sink_put(k, s, strlen(s));
}

static void sink_u64(struct sink *k, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);

	sink_put(k, tmp, (size_t)n);
}

static void sink_i64(struct sink *k, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);

	sink_put(k, tmp, (size_t)n);
}

/* Bytes of buf[0..n) up to the last whole UTF-8 sequence. */
static size_t utf8_whole(const char *buf, size_t n)
{
	size_t k = n, back = 0;

	/* A sequence is at most four bytes: look back at most three. */
	while (k > 0 && back < 3 && ((uint8_t)buf[k - 1] & 0xc0) == 0x80)
		k--, back++;
	if (k == 0)
		return n;
	{
		uint8_t lead = (uint8_t)buf[k - 1];
		size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;

		return n - (k - 1) >= want ? n : k - 1;
	}
}

/* NUL-terminate; text that was cut ends at a character boundary. */
static void sink_end(struct sink *k)
{
	size_t n;

	if (k->buf == NULL || k->cap == 0)
		return;
	n = k->len < k->cap ? k->len : k->cap - 1;
	if (k->len >= k->cap)
		n = utf8_whole(k->buf, n);
	k->buf[n] = '\0';
}

/* A SerializationException: the message, then the walk stops. */
static int serialization(struct checker *c, const char *a, const char *b)
{
	struct sink k = { c->msg, c->cap, 0 };

	sink_str(&k, a);
	sink_str(&k, b);
	sink_end(&k);
	return SL_SHAPE_SERIALIZATION;
}

/* ---- Type checks ------------------------------------------------------------ */

/* How AWS names the target type in "... can not be converted to <name>". */
static const char *type_name(uint8_t type)
{
	switch (type) {
	case SL_SHAPE_STRING: return "a String";
	case SL_SHAPE_BLOB: return "a Blob";
	case SL_SHAPE_BOOL: return "a Boolean";
	case SL_SHAPE_BYTE: return "a Byte";
	case SL_SHAPE_SHORT: return "a Short";
	case SL_SHAPE_INT: return "an Integer";
	case SL_SHAPE_LONG: return "a Long";
	case SL_SHAPE_FLOAT: return "a Float";
	case SL_SHAPE_DOUBLE: return "a Double";
	default: return "milliseconds since epoch";
	}
}

static bool is_int_type(uint8_t type)
{
	return type >= SL_SHAPE_BYTE && type <= SL_SHAPE_LONG;
}

static bool is_float_type(uint8_t type)
{
	return type == SL_SHAPE_FLOAT || type == SL_SHAPE_DOUBLE;
}

/* A container where a different kind of value was expected. */
static int wrong_container(struct checker *c, uint8_t want, uint8_t got)
{
	if (got == SL_DOC_ARR)
		return serialization(c, "Start of list found where not expected", "");
	if (got == SL_DOC_OBJ)
		return serialization(c, "Start of structure or map found where not expected.", "");
	if (want == SL_SHAPE_LIST)
		return serialization(c, "Expected list or null", "");
	if (want == SL_SHAPE_MAP)
		return serialization(c, "Expected map or null", "");
	return serialization(c, "Expected null", "");
}

/* A JSON string AWS reads as a boolean: Coral accepts these spellings, in
 * any case. */
static bool bool_text(const struct sl_doc_tok *t)
{
	static const char *const words[] = { "true", "false", "yes", "no", "y", "n", "t", "f",
					     "1", "0" };
	char buf[8];
	struct cursor cur;
	size_t k = 0;
	int b;

	cur_init(&cur, t);
	while (k < sizeof(buf) - 1 && (b = cur_byte(&cur)) >= 0)
		buf[k++] = (char)(b >= 'A' && b <= 'Z' ? b | 0x20 : b);
	if (k == sizeof(buf) - 1 && cur_byte(&cur) >= 0)
		return false;
	buf[k] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(buf, words[i]) == 0)
			return true;
	return false;
}

/* The Smithy JSON spellings of non-finite floats. */
static bool float_text(const struct sl_doc_tok *t, double *d)
{
	if (str_cmp(t, "NaN", 3) == 0)
		*d = NAN;
	else if (str_cmp(t, "Infinity", 8) == 0)
		*d = INFINITY;
	else if (str_cmp(t, "-Infinity", 9) == 0)
		*d = -INFINITY;
	else
		return false;
	return true;
}

/* A string where a scalar of another type was expected (JSON). */
static int str_as(struct checker *c, const struct sl_shape *s, const struct sl_doc_tok *t)
{
	double d;

	if (s->type == SL_SHAPE_BOOL)
		return bool_text(t) ? 0 : serialization(c, "STRING_VALUE can not be converted to an Boolean", "");
	if (is_float_type(s->type) && float_text(t, &d))
		return 0;
	if (s->type == SL_SHAPE_TIME && (s->flags & SL_SHAPE_F_TIME_TEXT))
		return 0;
	return serialization(c, "STRING_VALUE can not be converted to ", type_name(s->type));
}

/* Clamp v into the range of integer type type, as Coral's truncating
 * numbers do. */
static int64_t clamp_int(uint8_t type, int64_t v)
{
	int64_t lo = INT64_MIN, hi = INT64_MAX;

	if (type == SL_SHAPE_BYTE)
		lo = INT8_MIN, hi = INT8_MAX;
	else if (type == SL_SHAPE_SHORT)
		lo = INT16_MIN, hi = INT16_MAX;
	else if (type == SL_SHAPE_INT)
		lo = INT32_MIN, hi = INT32_MAX;
	return v < lo ? lo : v > hi ? hi : v;
}

/* Largest double magnitude that converts to int64_t (2^63 is not). */
#define INT64_AS_DOUBLE_MAX 9223372036854774784.0

/* The value of a number token as integer type type: a fraction is cut off
 * toward zero and the result clamped. False when it is beyond int64_t. */
static bool int_value(uint8_t type, const struct sl_doc_tok *t, int64_t *v)
{
	if (t->type == SL_DOC_INT) {
		*v = clamp_int(type, t->i);
		return true;
	}
	assert(t->type == SL_DOC_FLOAT);
	if (!(fabs(t->d) <= INT64_AS_DOUBLE_MAX))
		return false;
	*v = clamp_int(type, (int64_t)t->d);
	return true;
}

/* A number where a scalar was expected. */
static int num_as(struct checker *c, const struct sl_shape *s, const struct sl_doc_tok *t)
{
	int64_t v;

	if (is_int_type(s->type)) {
		/* Beyond 64 bits AWS answers with no message at all. */
		return int_value(s->type, t, &v) ? 0 : serialization(c, "", "");
	}
	if (is_float_type(s->type) || s->type == SL_SHAPE_TIME)
		return 0;
	return serialization(c, "NUMBER_VALUE can not be converted to ", type_name(s->type));
}

/* The type check of a non-null scalar token t against scalar shape s (blobs
 * are checked by blob_check()). Returns 0 or SL_SHAPE_SERIALIZATION. */
static int scalar_check(struct checker *c, const struct sl_shape *s, const struct sl_doc_tok *t)
{
	switch (t->type) {
	case SL_DOC_STR:
		if (s->type == SL_SHAPE_STRING)
			return 0;
		return str_as(c, s, t);
	case SL_DOC_INT:
	case SL_DOC_FLOAT:
		return num_as(c, s, t);
	case SL_DOC_BOOL:
		if (s->type == SL_SHAPE_BOOL)
			return 0;
		return serialization(c, t->i ? "TRUE_VALUE can not be converted to "
					     : "FALSE_VALUE can not be converted to ", type_name(s->type));
	case SL_DOC_BLOB:
		return serialization(c, "BLOB_VALUE can not be converted to ", type_name(s->type));
	default:
		return wrong_container(c, s->type, t->type);
	}
}

/* ---- Blobs ------------------------------------------------------------------ */

/* Per-byte masks of 8 bytes below 0x80: high bit set where lo <= x <= hi. */
static uint64_t in_range(uint64_t x, uint8_t lo, uint8_t hi)
{
	uint64_t ge = x + ONES * (uint64_t)(0x80 - lo);
	uint64_t gt = x + ONES * (uint64_t)(0x7f - hi);

	return ge & ~gt & HIGH;
}

#ifdef __x86_64__
/* Base64 text is almost all of a PutRecords body, so its check is the one
 * loop here that was made fast: 64 bytes per pass with AVX2 where the CPU
 * has it (chosen at run time, the build targets baseline x86-64), else 32
 * with SSE2. Signed compares put bytes >= 0x80 below every range, so they
 * fail too. Both return how many leading bytes are known good, a multiple
 * of their stride; the word loop finds the first bad byte. */
__attribute__((target("avx2"))) static size_t b64_scan_avx2(const uint8_t *s, size_t n)
{
	const __m256i lo_a = _mm256_set1_epi8('a' - 1), hi_z = _mm256_set1_epi8('z' + 1);
	const __m256i lo_d = _mm256_set1_epi8('/' - 1), hi_d = _mm256_set1_epi8('9' + 1);
	const __m256i plus = _mm256_set1_epi8('+'), lower = _mm256_set1_epi8(0x20);
	size_t i = 0;

	for (; i + 64 <= n; i += 64) {
		__m256i ok = _mm256_set1_epi8(-1);

		for (int h = 0; h < 2; h++) {
			__m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(s + i + 32 * h));
			__m256i l = _mm256_or_si256(x, lower);
			__m256i a = _mm256_and_si256(_mm256_cmpgt_epi8(l, lo_a), _mm256_cmpgt_epi8(hi_z, l));
			__m256i d = _mm256_and_si256(_mm256_cmpgt_epi8(x, lo_d), _mm256_cmpgt_epi8(hi_d, x));

			ok = _mm256_and_si256(ok, _mm256_or_si256(_mm256_or_si256(a, d),
								  _mm256_cmpeq_epi8(x, plus)));
		}
		if (_mm256_movemask_epi8(ok) != -1)
			break;
	}
	return i;
}

static size_t b64_scan_sse2(const uint8_t *s, size_t n)
{
	const __m128i lo_a = _mm_set1_epi8('a' - 1), hi_z = _mm_set1_epi8('z' + 1);
	const __m128i lo_d = _mm_set1_epi8('/' - 1), hi_d = _mm_set1_epi8('9' + 1);
	const __m128i plus = _mm_set1_epi8('+'), lower = _mm_set1_epi8(0x20);
	size_t i = 0;

	for (; i + 32 <= n; i += 32) {
		__m128i ok = _mm_set1_epi8(-1);

		for (int h = 0; h < 2; h++) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16 * h));
			__m128i l = _mm_or_si128(x, lower);
			__m128i a = _mm_and_si128(_mm_cmpgt_epi8(l, lo_a), _mm_cmpgt_epi8(hi_z, l));
			__m128i d = _mm_and_si128(_mm_cmpgt_epi8(x, lo_d), _mm_cmpgt_epi8(hi_d, x));

			ok = _mm_and_si128(ok, _mm_or_si128(_mm_or_si128(a, d), _mm_cmpeq_epi8(x, plus)));
		}
		if (_mm_movemask_epi8(ok) != 0xffff)
			break;
	}
	return i;
}
#endif

/* Index of the first byte of s[0..n) outside the base64 alphabet, or n. */
static size_t b64_scan(const uint8_t *s, size_t n)
{
	size_t i = 0;

#ifdef __x86_64__
	if (n >= 64 && __builtin_cpu_supports("avx2"))
		i = b64_scan_avx2(s, n);
	i += b64_scan_sse2(s + i, n - i);
#endif
	/* Then words, the last one overlapping; only a bad word is searched
	 * byte by byte. */
	for (; n >= 8 && i < n; i += 8) {
		uint64_t w, ok;

		if (i + 8 > n)
			i = n - 8;
		memcpy(&w, s + i, sizeof(w));
		ok = in_range(w | ONES * 0x20, 'a', 'z') | in_range(w, '/', '9') |
		     in_range(w, '+', '+');
		if ((w & HIGH) != 0 || ok != HIGH)
			break;
	}
	for (; i < n; i++) {
		uint8_t b = s[i];

		if (!((b | 0x20) >= 'a' && (b | 0x20) <= 'z') && !(b >= '/' && b <= '9') && b != '+')
			return i;
	}
	return n;
}

static int b64_value(int b)
{
	if (b >= 'A' && b <= 'Z')
		return b - 'A';
	if (b >= 'a' && b <= 'z')
		return b - 'a' + 26;
	if (b >= '0' && b <= '9')
		return b - '0' + 52;
	return b == '+' ? 62 : b == '/' ? 63 : -1;
}

/* "'<value>' can not be converted to a Blob: <why><detail>". A value too
 * long for the buffer is shortened (at a character, ending in "...") so
 * that the reason still fits, if the buffer can hold the reason at all. */
static int blob_error(struct checker *c, const struct sl_doc_tok *t, const char *why,
		      const char *detail)
{
	static const char mid[] = "' can not be converted to a Blob: ";
	struct sink k = { c->msg, c->cap, 0 };
	size_t tail = sizeof(mid) + strlen(why) + strlen(detail) + ELLIPSIS_LEN + 1;
	uint64_t vlen = str_bytes(t), room = UINT64_MAX;
	struct cursor cur;
	int b;

	if (1 + vlen + tail - ELLIPSIS_LEN - 1 >= c->cap && c->cap > tail)
		room = 1 + c->cap - tail;
	sink_str(&k, "'");
	cur_init(&cur, t);
	/* One pass per byte of the value, at most `room` of them. */
	while (k.len < room && (b = cur_byte(&cur)) >= 0) {
		uint8_t ch = (uint8_t)b;

		sink_put(&k, &ch, 1);
	}
	if (room != UINT64_MAX) {
		k.len = utf8_whole(k.buf, k.len);
		sink_str(&k, ELLIPSIS);
	}
	sink_str(&k, mid);
	sink_str(&k, why);
	sink_str(&k, detail);
	sink_end(&k);
	return SL_SHAPE_SERIALIZATION;
}

/* The Coral verdict on base64 text of n characters of which the trailing
 * `pad` are '=': the first character outside the alphabet before them is
 * bad (at bad_at, or none when bad_at is n - pad), and last is the last
 * character before the padding. On success *bytes is the decoded length. */
static int b64_verdict(struct checker *c, const struct sl_doc_tok *t, uint64_t n, uint64_t pad,
		       uint64_t bad_at, uint32_t bad, int last, uint64_t *bytes)
{
	char detail[24];
	uint8_t u[5];
	int v = b64_value(last);

	if (n % 4 != 0) {
		snprintf(detail, sizeof(detail), "%llu", (unsigned long long)n);
		return blob_error(c, t, "Base64 encoded length is expected a multiple of 4 bytes "
					"but found: ", detail);
	}
	if (bad_at < n - pad) {
		u[sl_utf8_put(bad, u)] = '\0';
		snprintf(detail, sizeof(detail), "%s'", (const char *)u);
		return blob_error(c, t, "Invalid Base64 character: '", detail);
	}
	/* The spelling of "detected" is AWS's. */
	if (pad > 2 || (pad == 1 && (v & 3) != 0) || (pad == 2 && (v & 15) != 0))
		return blob_error(c, t, "Invalid last non-pad Base64 character dectected", "");
	*bytes = n / 4 * 3 - pad;
	return 0;
}

/* Type-check a JSON blob (base64 text) and measure it. Text with an escape
 * (some encoders write "\/"), a chunk or a bad character takes the slow
 * path, which counts characters as code points. */
static int b64_check(struct checker *c, const struct sl_doc_tok *t, uint64_t *bytes)
{
	uint64_t n = 0, pad = 0, bad_at = UINT64_MAX;
	int32_t cp;
	int prev = 'A';
	uint32_t bad = 0;
	struct cursor cur;

	if ((t->flags & TOK_CODED) == 0) {
		const uint8_t *s = t->ptr;

		n = t->len;
		while (pad < n && s[n - 1 - pad] == '=')
			pad++;
		if (b64_scan(s, n - pad) == n - pad)
			return b64_verdict(c, t, n, pad, n - pad, 0, n > pad ? s[n - 1 - pad] : 'A',
					   bytes);
		n = 0;
		pad = 0;
	}
	cur_init(&cur, t);
	/* Decoding never grows the text: at most t->len passes. */
	while (n <= t->len && (cp = cur_cp(&cur)) >= 0) {
		if (cp == '=') {
			pad++;
		} else {
			if (pad > 0 && bad_at == UINT64_MAX)
				bad_at = n - pad, bad = '=';
			pad = 0;
			prev = cp < 0x80 ? cp : '!';
			if (b64_value(cp) < 0 && bad_at == UINT64_MAX)
				bad_at = n, bad = (uint32_t)cp;
		}
		n++;
	}
	return b64_verdict(c, t, n, pad, bad_at == UINT64_MAX ? n - pad : bad_at, bad, prev, bytes);
}

/* Type-check a blob value and measure it in decoded bytes. */
static int blob_check(struct checker *c, const struct sl_shape *s, const struct sl_doc_tok *t,
		      uint64_t *bytes)
{
	if (t->type == SL_DOC_BLOB) {
		*bytes = str_bytes(t);
		return 0;
	}
	if (t->type == SL_DOC_STR && !c->cbor)
		return b64_check(c, t, bytes);
	return scalar_check(c, s, t);
}

/* ---- Constraints -------------------------------------------------------------- */

/* Whether the decoded text of t matches pattern re as a whole. */
static bool str_matches(const struct sl_re *re, const struct sl_doc_tok *t)
{
	struct sl_re_run run;
	struct cursor cur;
	int32_t cp;
	uint64_t guard = 0;

	cur_init(&cur, t);
	sl_re_start(re, &run);
	/* One pass per code point, at most t->len; a dead run stops early. */
	while (guard++ <= t->len && (cp = cur_cp(&cur)) >= 0) {
		sl_re_step(re, &run, (uint32_t)cp);
		if (sl_re_dead(&run))
			return false;
	}
	return sl_re_done(re, &run);
}

/* The order of the sorted[] index: by length, then bytes. Member names are
 * short, so an inline loop beats a call to memcmp(). */
static int name_cmp(const uint8_t *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0;

	if (alen != blen)
		return alen < blen ? -1 : 1;
	/* Eight bytes at a time, the last word overlapping the one before; in
	 * big-endian order a word compares as its bytes do. */
	for (; alen >= 8 && i < alen; i += 8) {
		uint64_t x, y;

		if (i + 8 > alen)
			i = alen - 8;
		memcpy(&x, a + i, sizeof(x));
		memcpy(&y, b + i, sizeof(y));
		if (x != y)
			return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
	}
	for (; i < alen; i++)
		if (a[i] != (uint8_t)b[i])
			return a[i] < (uint8_t)b[i] ? -1 : 1;
	return 0;
}

/* Whether the text of t is one of string shape s's enum values. */
static bool enum_has(const struct sl_shape_model *m, const struct sl_shape *s,
		     const struct sl_doc_tok *t)
{
	uint32_t lo = 0, hi = s->b;
	uint64_t str_len = str_bytes(t);

	assert(s->a + s->b <= m->nenums);
	/* Binary search over the values sorted by bytes. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct sl_shape_str *e = &m->enums[m->sorted[s->c + mid]];
		int r;

		/* The index is by length, then bytes. */
		if (str_len != e->len)
			r = str_len < e->len ? -1 : 1;
		else
			r = str_cmp(t, e->s, e->len);

		if (r == 0)
			return true;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

/* W_LEN_* bits for a length n against s's bounds. */
static uint32_t len_fails(const struct sl_shape *s, uint64_t n)
{
	uint32_t mask = 0;

	if ((s->flags & SL_SHAPE_F_MIN) && s->min.i > 0 && n < (uint64_t)s->min.i)
		mask |= WBIT(W_LEN_MIN);
	if ((s->flags & SL_SHAPE_F_MAX) && (s->max.i < 0 || n > (uint64_t)s->max.i))
		mask |= WBIT(W_LEN_MAX);
	return mask;
}

static uint32_t str_fails(const struct sl_shape_model *m, const struct sl_shape *s,
			  const struct sl_doc_tok *t)
{
	uint32_t mask = 0;

	if (s->flags & (SL_SHAPE_F_MIN | SL_SHAPE_F_MAX))
		mask |= len_fails(s, str_cps(t));
	if (s->re != 0) {
		const struct sl_re *re = &m->re[s->re - 1];

		/* sl_shape_model_init() must have run; a pattern that did not
		 * compile is not checked. */
		assert(re->state != 0);
		if (re->state == SL_RE_READY && !str_matches(re, t))
			mask |= WBIT(W_PATTERN);
	}
	if (s->b > 0 && !enum_has(m, s, t))
		mask |= WBIT(W_ENUM);
	return mask;
}

/* The value of a type-checked float token (a number or NaN/Infinity text). */
static double float_of(const struct sl_doc_tok *t)
{
	double d = 0;

	if (t->type == SL_DOC_INT)
		return (double)t->i;
	if (t->type == SL_DOC_FLOAT)
		return t->d;
	(void)float_text(t, &d);
	return d;
}

static uint32_t num_fails(const struct sl_shape *s, const struct sl_doc_tok *t)
{
	uint32_t mask = 0;

	if (is_float_type(s->type)) {
		double d = float_of(t);

		if ((s->flags & SL_SHAPE_F_MIN) && d < s->min.d)
			mask |= WBIT(W_RANGE_MIN);
		if ((s->flags & SL_SHAPE_F_MAX) && d > s->max.d)
			mask |= WBIT(W_RANGE_MAX);
		return mask;
	}
	int64_t v = 0;

	(void)int_value(s->type, t, &v);
	if ((s->flags & SL_SHAPE_F_MIN) && v < s->min.i)
		mask |= WBIT(W_RANGE_MIN);
	if ((s->flags & SL_SHAPE_F_MAX) && v > s->max.i)
		mask |= WBIT(W_RANGE_MAX);
	return mask;
}

/* Type-check non-null token tok against scalar shape sidx and set *mask to
 * the constraints it fails. Returns 0 or SL_SHAPE_SERIALIZATION. */
static int scalar_fails(struct checker *c, uint32_t sidx, uint32_t tok, uint32_t *mask)
{
	const struct sl_shape *s = &c->m->shapes[sidx];
	const struct sl_doc_tok *t = &c->t[tok];
	uint64_t bytes = 0;
	int r;

	assert(t->type != SL_DOC_NULL);
	*mask = 0;
	if (s->type == SL_SHAPE_ANY)
		return 0;
	if (s->type == SL_SHAPE_BLOB) {
		r = blob_check(c, s, t, &bytes);
		if (r == 0)
			*mask = len_fails(s, bytes);
		return r;
	}
	r = scalar_check(c, s, t);
	if (r != 0)
		return r;
	if (s->type == SL_SHAPE_STRING)
		*mask = str_fails(c->m, s, t);
	else if (is_int_type(s->type) || is_float_type(s->type))
		*mask = num_fails(s, t);
	return 0;
}

static bool is_scalar(uint8_t type)
{
	return type != SL_SHAPE_STRUCT && type != SL_SHAPE_LIST && type != SL_SHAPE_MAP;
}

/* ---- The walk ------------------------------------------------------------------ */

static int check_value(struct checker *c, uint32_t sidx, uint32_t tok, uint32_t level);

/* The ordinal in structure s of the member whose wire name is key token k,
 * or -1. Keys with escapes or chunks never match, as with sl_doc_get(). */
static int64_t member_find(const struct sl_shape_model *m, const struct sl_shape *s,
			   const struct sl_doc_tok *k)
{
	uint32_t lo = 0, hi = s->b;

	if (k->flags & (SL_DOC_F_ESCAPED | SL_DOC_F_CHUNKED))
		return -1;
	/* Binary search over the members sorted by wire name. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t idx = m->sorted[s->c + mid];
		const struct sl_shape_member *mb = &m->members[idx];
		int r = name_cmp(k->ptr, k->len, mb->name, mb->name_len);

		if (r == 0)
			return idx - s->a;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Required members of s that the object did not carry are null. */
static void missing_required(struct checker *c, const struct sl_shape *s, uint64_t seen)
{
	assert(s->nreq <= 64);
	if (s->nreq == 0 || seen == (~0ull >> (64 - s->nreq)))
		return;
	for (uint32_t j = 0; j < s->b; j++) {
		const struct sl_shape_member *mb = &c->m->members[s->a + j];

		if (mb->req_bit == SL_SHAPE_OPTIONAL || (seen >> mb->req_bit & 1u))
			continue;
		push(c, STEP_MEMBER, j, s->a + j);
		violate(c, W_NULL, mb->shape, TOK_NONE);
		pop(c);
	}
}

/* Record every constraint in mask that the value at the current path failed. */
static void violate_mask(struct checker *c, uint32_t mask, uint32_t sidx, uint32_t tok)
{
	for (uint32_t w = 0; mask != 0 && w < W_COUNT; w++)
		if (mask & WBIT(w))
			violate(c, w, sidx, tok);
}

/* Member value val (not null) at ordinal ord of structure s. A scalar is
 * checked in place, its path step pushed only to record a violation: most
 * values are fine, and PutRecords has a thousand of them. */
static int check_member(struct checker *c, const struct sl_shape *s, uint32_t ord, uint32_t val,
			uint32_t level)
{
	const struct sl_shape_member *mb = &c->m->members[s->a + ord];
	uint32_t mask;
	int r;

	if (!is_scalar(c->m->shapes[mb->shape].type)) {
		push(c, STEP_MEMBER, ord, s->a + ord);
		r = check_value(c, mb->shape, val, level + 1);
		pop(c);
		return r;
	}
	r = scalar_fails(c, mb->shape, val, &mask);
	if (r == 0 && mask != 0) {
		push(c, STEP_MEMBER, ord, s->a + ord);
		violate_mask(c, mask, mb->shape, val);
		pop(c);
	}
	return r;
}

/* Object tok against structure sidx: each known member in document order
 * (unknown ones are skipped whole), then the required ones not seen. */
static int check_struct(struct checker *c, uint32_t sidx, uint32_t tok, uint32_t level)
{
	const struct sl_shape *s = &c->m->shapes[sidx];
	uint32_t k = sl_doc_first(tok);
	uint64_t seen = 0;

	assert(c->t[tok].type == SL_DOC_OBJ);
	assert(s->type == SL_SHAPE_STRUCT);
	for (uint32_t i = 0; i < c->t[tok].count; i++) {
		int64_t ord = member_find(c->m, s, &c->t[k]);
		uint32_t val = k + 1;
		uint8_t bit;
		int r;

		k = sl_doc_next(c->t, val);
		if (ord < 0)
			continue;
		bit = c->m->members[s->a + ord].req_bit;
		if (bit != SL_SHAPE_OPTIONAL)
			seen |= 1ull << bit;
		if (c->t[val].type != SL_DOC_NULL) {
			r = check_member(c, s, (uint32_t)ord, val, level);
			if (r != 0)
				return r;
		} else if (bit != SL_SHAPE_OPTIONAL) {
			/* Present but null counts as absent. */
			push(c, STEP_MEMBER, (uint32_t)ord, s->a + (uint32_t)ord);
			violate(c, W_NULL, c->m->members[s->a + ord].shape, val);
			pop(c);
		}
	}
	missing_required(c, s, seen);
	return 0;
}

/* Own length of list or map sidx with n entries. */
static void check_count(struct checker *c, uint32_t sidx, uint32_t tok)
{
	uint32_t mask = len_fails(&c->m->shapes[sidx], c->t[tok].count);

	if (mask & WBIT(W_LEN_MIN))
		violate(c, W_LEN_MIN, sidx, tok);
	if (mask & WBIT(W_LEN_MAX))
		violate(c, W_LEN_MAX, sidx, tok);
}

/* Array tok against list sidx. Elements of a scalar shape are reported
 * together, once, on the list; others each at list.N.member. A null
 * element is skipped. */
static int check_list(struct checker *c, uint32_t sidx, uint32_t tok, uint32_t level)
{
	const struct sl_shape *s = &c->m->shapes[sidx];
	bool scalar = is_scalar(c->m->shapes[s->a].type), reported = false;
	uint32_t e = sl_doc_first(tok);

	assert(c->t[tok].type == SL_DOC_ARR);
	check_count(c, sidx, tok);
	for (uint32_t i = 0; i < c->t[tok].count; i++, e = sl_doc_next(c->t, e)) {
		uint32_t mask;
		int r;

		if (c->t[e].type == SL_DOC_NULL)
			continue;
		if (scalar) {
			r = scalar_fails(c, s->a, e, &mask);
			if (r == 0 && mask != 0 && !reported) {
				violate(c, W_LIST_MEMBER, sidx, tok);
				reported = true;
			}
		} else {
			push(c, STEP_INDEX, i, i);
			r = check_value(c, s->a, e, level + 1);
			pop(c);
		}
		if (r != 0)
			return r;
	}
	return 0;
}

/* Object tok against map sidx: keys and scalar values are reported
 * together on the map, other values at map.KEY.member. */
static int check_map(struct checker *c, uint32_t sidx, uint32_t tok, uint32_t level)
{
	const struct sl_shape *s = &c->m->shapes[sidx];
	bool scalar = is_scalar(c->m->shapes[s->b].type), bad_key = false, bad_val = false;
	uint32_t k = sl_doc_first(tok);

	assert(c->t[tok].type == SL_DOC_OBJ);
	check_count(c, sidx, tok);
	for (uint32_t i = 0; i < c->t[tok].count; i++) {
		uint32_t val = k + 1, mask;
		int r = scalar_fails(c, s->a, k, &mask);

		if (r != 0)
			return r;
		bad_key |= mask != 0;
		if (c->t[val].type != SL_DOC_NULL && scalar) {
			r = scalar_fails(c, s->b, val, &mask);
			bad_val |= mask != 0;
		} else if (c->t[val].type != SL_DOC_NULL) {
			push(c, STEP_KEY, i, k);
			r = check_value(c, s->b, val, level + 1);
			pop(c);
		}
		if (r != 0)
			return r;
		k = sl_doc_next(c->t, val);
	}
	if (bad_key)
		violate(c, W_MAP_KEYS, sidx, tok);
	if (bad_val)
		violate(c, W_MAP_VALUES, sidx, tok);
	return 0;
}

/* Non-null or null token tok against shape sidx. Returns 0 or
 * SL_SHAPE_SERIALIZATION; violations are recorded in c. */
static int check_value(struct checker *c, uint32_t sidx, uint32_t tok, uint32_t level)
{
	const struct sl_shape *s = &c->m->shapes[sidx];
	const struct sl_doc_tok *t = &c->t[tok];
	uint32_t mask;
	int r;

	/* A level per nesting level of the document, which the parser bounds. */
	assert(level <= SL_SHAPE_DEPTH_MAX);
	assert(sidx < c->m->nshapes);
	if (t->type == SL_DOC_NULL || s->type == SL_SHAPE_ANY)
		return 0;
	switch (s->type) {
	case SL_SHAPE_STRUCT:
		if (t->type != SL_DOC_OBJ)
			return wrong_container(c, s->type, t->type);
		return check_struct(c, sidx, tok, level);
	case SL_SHAPE_LIST:
		if (t->type != SL_DOC_ARR)
			return wrong_container(c, s->type, t->type);
		return check_list(c, sidx, tok, level);
	case SL_SHAPE_MAP:
		if (t->type != SL_DOC_OBJ)
			return wrong_container(c, s->type, t->type);
		return check_map(c, sidx, tok, level);
	default:
		break;
	}
	r = scalar_fails(c, sidx, tok, &mask);
	if (r == 0)
		violate_mask(c, mask, sidx, tok);
	return r;
}

/* ---- Rendering ------------------------------------------------------------------ */

/* A double as Java's Double.toString() writes it: the shortest digits that
 * read back the same, plain from 10^-3 up to 10^7 (at least one digit
 * after the point), else d.dddE<n>. */
static void sink_double(struct sink *k, double d)
{
	char e[40], digits[24];
	int prec, exp, nd = 0;

	if (isnan(d) || isinf(d)) {
		sink_str(k, isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
		return;
	}
	if (d == 0) {
		sink_str(k, signbit(d) ? "-0.0" : "0.0");
		return;
	}
	/* At most 17 significant digits round-trip any double. */
	for (prec = 1; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, d);
		if (strtod(e, NULL) == d)
			break;
	}
	snprintf(e, sizeof(e), "%.*e", prec - 1, d);
	/* e is [-]D[.DDD]e[+-]X: collect the digits, then place the point. */
	for (const char *p = e; *p != 'e' && nd < (int)sizeof(digits) - 1; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	exp = atoi(strchr(e, 'e') + 1);
	if (d < 0)
		sink_str(k, "-");
	if (fabs(d) < 1e-3 || fabs(d) >= 1e7) {
		sink_put(k, digits, 1);
		sink_str(k, ".");
		sink_put(k, nd > 1 ? digits + 1 : "0", nd > 1 ? (size_t)nd - 1 : 1);
		sink_str(k, "E");
		sink_i64(k, exp);
	} else if (exp < 0) {
		sink_str(k, "0.");
		for (int z = 0; z < -exp - 1; z++)
			sink_str(k, "0");
		sink_put(k, digits, (size_t)nd);
	} else {
		for (int i = 0; i <= exp; i++)
			sink_put(k, i < nd ? &digits[i] : "0", 1);
		sink_str(k, ".");
		sink_put(k, nd > exp + 1 ? digits + exp + 1 : "0", nd > exp + 1 ? (size_t)(nd - exp - 1) : 1);
	}
}

/* The decoded bytes of string token t. */
static void sink_tok(struct sink *k, const struct sl_doc_tok *t)
{
	struct cursor cur;
	int b;

	if ((t->flags & TOK_CODED) == 0) {
		sink_put(k, t->ptr, t->len);
		return;
	}
	cur_init(&cur, t);
	/* One pass per decoded byte, at most t->len. */
	while ((b = cur_byte(&cur)) >= 0) {
		uint8_t ch = (uint8_t)b;

		sink_put(k, &ch, 1);
	}
}

/* Decoded bytes of a type-checked blob: a CBOR byte string or base64. */
static uint64_t blob_bytes(const struct sl_doc_tok *t)
{
	uint64_t n, pad = 0;
	struct cursor cur;
	int b;

	if (t->type == SL_DOC_BLOB)
		return str_bytes(t);
	if ((t->flags & TOK_CODED) == 0) {
		n = t->len;
		while (pad < 2 && pad < n && t->ptr[n - 1 - pad] == '=')
			pad++;
		return n / 4 * 3 - pad;
	}
	n = 0;
	cur_init(&cur, t);
	while (n <= t->len && (b = cur_byte(&cur)) >= 0) {
		pad = b == '=' ? pad + 1 : 0;
		n++;
	}
	return n / 4 * 3 - (pad < n / 4 * 3 ? pad : 0);
}

static void echo(struct sink *k, const struct checker *c, uint32_t sidx, uint32_t tok,
		 uint32_t level);

/* A structure as Java's Object.toString() prints it: class@hash. The hash
 * is arbitrary in Java too; this one is stable per position. */
static void echo_struct(struct sink *k, const struct checker *c, const struct sl_shape *s,
			uint32_t tok)
{
	char h[16];

	sink_str(k, c->m->java_pkg);
	sink_str(k, ".");
	sink_str(k, s->name);
	snprintf(h, sizeof(h), "@%x", (unsigned)((tok + 1) * 2654435761u));
	sink_str(k, h);
}

/* [a, b] and {k=v, k2=v2}, as Java's collections print themselves. */
static void echo_container(struct sink *k, const struct checker *c, const struct sl_shape *s,
			   uint32_t tok, uint32_t level)
{
	const struct sl_doc_tok *t = &c->t[tok];
	uint32_t e = sl_doc_first(tok);
	bool map = s->type == SL_SHAPE_MAP;

	sink_str(k, map ? "{" : "[");
	for (uint32_t i = 0; i < t->count; i++) {
		if (i > 0)
			sink_str(k, ", ");
		if (map) {
			sink_tok(k, &c->t[e]);
			sink_str(k, "=");
			e++;
		}
		echo(k, c, map ? s->b : s->a, e, level + 1);
		e = sl_doc_next(c->t, e);
	}
	sink_str(k, map ? "}" : "]");
}

/* The value of token tok, read as shape sidx, as AWS echoes it. */
static void echo(struct sink *k, const struct checker *c, uint32_t sidx, uint32_t tok,
		 uint32_t level)
{
	const struct sl_shape *s = &c->m->shapes[sidx];
	const struct sl_doc_tok *t = &c->t[tok];
	char tmp[64];
	int64_t v;

	assert(level <= SL_SHAPE_DEPTH_MAX);
	if (t->type == SL_DOC_NULL) {
		sink_str(k, "null");
	} else if (s->type == SL_SHAPE_STRUCT) {
		echo_struct(k, c, s, tok);
	} else if ((s->type == SL_SHAPE_LIST && t->type == SL_DOC_ARR) ||
		   (s->type == SL_SHAPE_MAP && t->type == SL_DOC_OBJ)) {
		echo_container(k, c, s, tok, level);
	} else if (s->type == SL_SHAPE_BLOB) {
		snprintf(tmp, sizeof(tmp), "java.nio.HeapByteBuffer[pos=0 lim=%llu cap=%llu]",
			 (unsigned long long)blob_bytes(t), (unsigned long long)blob_bytes(t));
		sink_str(k, tmp);
	} else if (is_float_type(s->type)) {
		sink_double(k, float_of(t));
	} else if (t->type == SL_DOC_STR) {
		sink_tok(k, t);
	} else if (t->type == SL_DOC_BOOL) {
		sink_str(k, t->i ? "true" : "false");
	} else if (is_int_type(s->type) && int_value(s->type, t, &v)) {
		sink_i64(k, v);
	} else if (t->type == SL_DOC_INT) {
		sink_i64(k, t->i);
	} else if (t->type == SL_DOC_FLOAT) {
		sink_double(k, t->d);
	} else {
		sink_str(k, "?");
	}
}

static void sink_bound(struct sink *k, const struct sl_shape *s, const union sl_shape_bound *b)
{
	if (is_float_type(s->type))
		sink_double(k, b->d);
	else
		sink_i64(k, b->i);
}

/* Enum values in the order the model (or AWS) lists them. */
static void sink_enum(struct sink *k, const struct sl_shape_model *m, const struct sl_shape *s)
{
	sink_str(k, "Member must satisfy enum value set: [");
	for (uint32_t i = 0; i < s->b; i++) {
		if (i > 0)
			sink_str(k, ", ");
		sink_put(k, m->enums[s->a + i].s, m->enums[s->a + i].len);
	}
	sink_str(k, "]");
}

/* One constraint of shape s, in AWS's words. */
static void sink_rule(struct sink *k, const struct sl_shape_model *m, const struct sl_shape *s,
		      uint32_t what)
{
	switch (what) {
	case W_NULL:
		sink_str(k, "Member must not be null");
		break;
	case W_RANGE_MIN:
	case W_RANGE_MAX:
		sink_str(k, what == W_RANGE_MIN ? "Member must have value greater than or equal to "
						: "Member must have value less than or equal to ");
		sink_bound(k, s, what == W_RANGE_MIN ? &s->min : &s->max);
		break;
	case W_LEN_MIN:
	case W_LEN_MAX:
		sink_str(k, what == W_LEN_MIN ? "Member must have length greater than or equal to "
					      : "Member must have length less than or equal to ");
		sink_i64(k, what == W_LEN_MIN ? s->min.i : s->max.i);
		break;
	case W_PATTERN:
		sink_str(k, "Member must satisfy regular expression pattern: ");
		sink_str(k, m->patterns[s->re - 1]);
		break;
	default:
		assert(what == W_ENUM);
		sink_enum(k, m, s);
		break;
	}
}

/* Every constraint of element shape s, as the list or map one names:
 * upper bounds before lower ones, as AWS prints them. */
static void sink_rules(struct sink *k, const struct sl_shape_model *m, const struct sl_shape *s)
{
	bool len = s->type == SL_SHAPE_STRING || s->type == SL_SHAPE_BLOB;
	uint32_t order[6], n = 0;

	if (s->flags & SL_SHAPE_F_MAX)
		order[n++] = len ? W_LEN_MAX : W_RANGE_MAX;
	if (s->flags & SL_SHAPE_F_MIN)
		order[n++] = len ? W_LEN_MIN : W_RANGE_MIN;
	if (s->re != 0)
		order[n++] = W_PATTERN;
	if (s->type == SL_SHAPE_STRING && s->b > 0)
		order[n++] = W_ENUM;
	sink_str(k, "[");
	for (uint32_t i = 0; i < n; i++) {
		if (i > 0)
			sink_str(k, ", ");
		sink_rule(k, m, s, order[i]);
	}
	sink_str(k, "]");
}

static void sink_constraint(struct sink *k, const struct checker *c, const struct violation *v)
{
	const struct sl_shape *s = &c->m->shapes[v->shape];

	switch (v->what) {
	case W_LIST_MEMBER:
		sink_str(k, "Member must satisfy constraint: ");
		sink_rules(k, c->m, &c->m->shapes[s->a]);
		break;
	case W_MAP_KEYS:
		sink_str(k, "Map keys must satisfy constraint: ");
		sink_rules(k, c->m, &c->m->shapes[s->a]);
		break;
	case W_MAP_VALUES:
		sink_str(k, "Map value must satisfy constraint: ");
		sink_rules(k, c->m, &c->m->shapes[s->b]);
		break;
	default:
		sink_rule(k, c->m, s, v->what);
		break;
	}
}

static void sink_path(struct sink *k, const struct checker *c, const struct violation *v)
{
	for (uint32_t i = 0; i < v->depth; i++) {
		const struct step *st = &v->path[i];

		if (st->kind == STEP_MEMBER) {
			if (i > 0)
				sink_str(k, ".");
			sink_str(k, c->m->members[st->ref].path);
		} else if (st->kind == STEP_INDEX) {
			sink_str(k, ".");
			sink_u64(k, (uint64_t)st->ref + 1);
			sink_str(k, ".member");
		} else {
			sink_str(k, ".");
			sink_tok(k, &c->t[st->ref]);
			sink_str(k, ".member");
		}
	}
}

/* Whether v's value is echoed: not when null or absent (then "null"),
 * never when sensitive (then nothing at all). */
static bool has_value(const struct checker *c, const struct violation *v)
{
	return v->tok != TOK_NONE && c->t[v->tok].type != SL_DOC_NULL;
}

static bool is_sensitive(const struct checker *c, const struct violation *v)
{
	const struct sl_shape *s = &c->m->shapes[v->shape];
	bool elem = s->type == SL_SHAPE_LIST || s->type == SL_SHAPE_MAP;

	if (s->flags & SL_SHAPE_F_SENSITIVE)
		return true;
	if (elem && (c->m->shapes[s->a].flags & SL_SHAPE_F_SENSITIVE))
		return true;
	return s->type == SL_SHAPE_MAP && (c->m->shapes[s->b].flags & SL_SHAPE_F_SENSITIVE);
}

/* One violation; its value (when echoed) gets at most `allot` bytes, and a
 * longer one is cut at a character and ends in "...". */
static void sink_violation(struct sink *k, const struct checker *c, const struct violation *v,
			   uint64_t full, uint64_t allot)
{
	sink_str(k, "Value");
	if (!has_value(c, v)) {
		sink_str(k, " null");
	} else if (!is_sensitive(c, v)) {
		sink_str(k, " '");
		if (full <= allot) {
			echo(k, c, v->shape, v->tok, 0);
		} else {
			struct sink part = { NULL, 0, 0 };
			uint64_t keep = allot > ELLIPSIS_LEN ? allot - ELLIPSIS_LEN : 0;

			if (k->buf != NULL && k->len + 1 < k->cap) {
				part.buf = k->buf + k->len;
				part.cap = (size_t)(keep + 1 < k->cap - k->len ? keep + 1 : k->cap - k->len);
			}
			echo(&part, c, v->shape, v->tok, 0);
			k->len += part.buf != NULL ? utf8_whole(part.buf, part.len < part.cap ? part.len
								      : part.cap - 1) : 0;
			sink_put(k, ELLIPSIS, ELLIPSIS_LEN);
		}
		sink_str(k, "'");
	}
	sink_str(k, " at '");
	sink_path(k, c, v);
	sink_str(k, "' failed to satisfy constraint: ");
	sink_constraint(k, c, v);
}

/* Share `room` bytes among the values: each gets what it needs if that is
 * at most an equal share of what is left, the rest split it evenly. */
static void allot_values(const uint64_t *full, uint64_t *allot, uint32_t n, uint64_t room)
{
	bool done[SL_SHAPE_ERRORS_MAX] = { false };
	uint32_t left = n;

	/* Each pass settles at least one value or ends. */
	for (uint32_t pass = 0; pass < n && left > 0; pass++) {
		uint64_t share = room / left;
		bool settled = false;

		for (uint32_t i = 0; i < n; i++) {
			if (done[i] || full[i] > share)
				continue;
			allot[i] = full[i];
			room -= full[i];
			done[i] = true;
			left--;
			settled = true;
		}
		if (!settled)
			break;
	}
	for (uint32_t i = 0; i < n; i++)
		if (!done[i])
			allot[i] = room / (left > 0 ? left : 1);
}

/* "N validation error(s) detected: a; b; ..." into the caller's buffer,
 * values shortened as needed for every violation to fit. */
static void render(struct checker *c)
{
	uint64_t full[SL_SHAPE_ERRORS_MAX], allot[SL_SHAPE_ERRORS_MAX], fixed = 0, values = 0;
	struct sink k = { NULL, 0, 0 };
	char head[64];
	uint32_t n = c->kept;

	assert(n > 0 && n <= SL_SHAPE_ERRORS_MAX);
	snprintf(head, sizeof(head), "%u validation error%s detected: ", n, n > 1 ? "s" : "");
	for (uint32_t i = 0; i < n; i++) {
		k.len = 0;
		if (has_value(c, &c->v[i]) && !is_sensitive(c, &c->v[i]))
			echo(&k, c, c->v[i].shape, c->v[i].tok, 0);
		full[i] = k.len;
		/* The violation with its whole value, less the value. */
		k.len = 0;
		sink_violation(&k, c, &c->v[i], full[i], full[i]);
		fixed += k.len - full[i] + (i > 0 ? 2 : 0);
		values += full[i];
	}
	fixed += strlen(head);
	for (uint32_t i = 0; i < n; i++)
		allot[i] = full[i];
	if (fixed + values >= c->cap)
		allot_values(full, allot, n, c->cap > fixed + 1 ? c->cap - fixed - 1 : 0);
	k = (struct sink){ c->msg, c->cap, 0 };
	sink_str(&k, head);
	for (uint32_t i = 0; i < n; i++) {
		if (i > 0)
			sink_str(&k, "; ");
		sink_violation(&k, c, &c->v[i], full[i], allot[i]);
	}
	sink_end(&k);
}

/* ---- Public -------------------------------------------------------------------- */

/* Returns 0, or -EINVAL when a pattern did not compile (it is then skipped). */
int sl_shape_model_init(const struct sl_shape_model *m)
{
	int rc = 0;

	assert(m != NULL);
	assert(m->npatterns == 0 || m->re != NULL);
	for (uint32_t i = 0; i < m->npatterns; i++) {
		const char *p = m->patterns[i];

		if (sl_re_compile(&m->re[i], p, strlen(p)) < 0)
			rc = -EINVAL;
	}
	return rc;
}

/* Returns the operation, or NULL. */
const struct sl_shape_op *sl_shape_op_find(const struct sl_shape_model *m, const char *name,
					   size_t len)
{
	uint32_t lo = 0, hi = m->nops;

	assert(name != NULL || len == 0);
	/* Binary search over the operations sorted by bytes. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct sl_shape_op *op = &m->ops[mid];
		size_t n = len < op->name_len ? len : op->name_len;
		int r = n > 0 ? memcmp(name, op->name, n) : 0;

		if (r == 0)
			r = (len > op->name_len) - (len < op->name_len);
		if (r == 0)
			return op;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Returns SL_SHAPE_OK, SL_SHAPE_SERIALIZATION or SL_SHAPE_VALIDATION, with
 * msg set for the last two. */
int sl_shape_check(const struct sl_shape_model *m, const struct sl_shape_op *op,
		   const struct sl_doc_tok *toks, uint32_t root, unsigned flags, char *msg,
		   size_t cap)
{
	struct checker c;
	uint8_t root_type = toks[root].type;
	int r;

	assert(m != NULL && op != NULL);
	assert(msg != NULL || cap == 0);
	if (cap > 0)
		msg[0] = '\0';
	if (op->input == SL_SHAPE_NONE)
		return SL_SHAPE_OK;
	/* Only the head of the checker needs clearing; violations are written
	 * before they are read. */
	memset(&c, 0, offsetof(struct checker, v));
	c.m = m;
	c.t = toks;
	c.cbor = (flags & SL_SHAPE_CBOR) != 0;
	c.msg = msg;
	c.cap = cap;
	if (root_type == SL_DOC_ARR)
		return serialization(&c, "Start of list found where not expected", "");
	/* A body that is not an object (a bare scalar, null) gets no message. */
	if (root_type != SL_DOC_OBJ)
		return serialization(&c, "", "");
	r = check_value(&c, op->input, root, 0);
	if (r != 0)
		return r;
	if (c.total == 0)
		return SL_SHAPE_OK;
	render(&c);
	return SL_SHAPE_VALIDATION;
}
