/* filter.c - SNS filter policies: the compiler (control thread) and the
 * matcher (the publishing worker).
 *
 * A policy is a JSON object. Each key names a message attribute (scope
 * MessageAttributes) or a property of the JSON body (scope MessageBody,
 * where an object value nests: {"a": {"b": [...]}} is the property a.b).
 * Its value is an array of conditions, of which one must hold ("OR"); every
 * key must hold ("AND"); "$or": [{...}, {...}] holds when one of its
 * policies does. A condition is
 *   "text", 12.5, true, false, null      the value, exactly (numbers by value)
 *   {"prefix": s} {"suffix": s} {"equals-ignore-case": s}
 *   {"anything-but": s | n | [s...] | [n...] | {"prefix"|"suffix"|
 *                    "equals-ignore-case": s}}
 *   {"numeric": ["=", n]}  or one bound (">", ">=", "<", "<=") or a lower
 *                    then an upper bound
 *   {"exists": true | false}
 *   {"cidr": "10.0.0.0/24"}               IPv4 or IPv6
 *
 * The values a key takes: a String attribute's text, a Number attribute's
 * value, each element of a String.Array attribute; in a body, the scalar at
 * the path, each scalar of an array there, and through arrays of objects
 * on the way. A Binary attribute, an object in the body, an absent key:
 * no value. A condition holds when some value meets it; anything-but holds
 * when there is a value and none is excluded (AWS's rule for String.Array:
 * no element listed); exists:false holds when there is no value.
 *
 * Numbers compare to five decimal places, within -1e9..1e9 in a policy
 * (AWS's limits); equals-ignore-case folds ASCII letters. Limits, checked
 * when compiling, with AWS's reasons: at most five keys (distinct paths),
 * at most 150 combinations (the product of each key's conditions, a "$or"
 * adding its branches), arrays not empty, no key twice in one object, no
 * nesting in scope MessageAttributes.
 *
 * The compiled policy lives in one arena owned by the struct sl_filter; a
 * match allocates nothing but, for escaped JSON text, one buffer per
 * thread made once.
 */
#include "dataplane/services/sns/filter.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataplane/limits.h"

/* ---- The compiled form ----------------------------------------------------------- */

struct str {
	const char *p;
	uint32_t len;
};

enum cop {
	C_STR, C_NUM, C_BOOL, C_NULL,          /* exact */
	C_PREFIX, C_SUFFIX, C_ICASE, C_CIDR,   /* strings */
	C_RANGE,                               /* numeric bounds */
	C_EXISTS,
	C_NOT_STRS, C_NOT_NUMS,                /* anything-but a list */
	C_NOT_PREFIX, C_NOT_SUFFIX, C_NOT_ICASE,
};

struct cond {
	uint8_t op;
	bool flag;             /* C_BOOL: the value; C_EXISTS: exists */
	bool has_lo, has_hi, lo_incl, hi_incl;
	bool v6;               /* C_CIDR */
	uint8_t bits;
	uint32_t n;            /* C_NOT_STRS, C_NOT_NUMS */
	struct str s;          /* C_STR and the string operators */
	const struct str *strs;
	const double *nums;
	double lo, hi;         /* C_NUM: lo; C_RANGE: the bounds (scaled) */
	uint8_t addr[16];
};

enum nkind { N_AND, N_OR, N_KEY };

struct node {
	uint8_t kind;
	uint32_t n;               /* AND/OR: kids; KEY: conds */
	struct node **kids;
	uint32_t depth;           /* KEY: the path's length */
	const struct str *path;
	struct cond *conds;
};

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct sl_filter {
	enum sl_filter_scope scope;
	struct node *root;
	struct chunk *mem;
};

static void *arena(struct sl_filter *f, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct chunk *c = f->mem;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 4096 ? n : 4096;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = f->mem;
		f->mem = c;
	}
	void *p = (uint8_t *)c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

void sl_filter_free(struct sl_filter *f)
{
	if (!f)
		return;
	for (struct chunk *c = f->mem, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(f);
}

enum sl_filter_scope sl_filter_scope(const struct sl_filter *f)
{
	return f->scope;
}

/* Numbers compare at five decimal places. */
static double scaled(double x)
{
	return nearbyint(x * 1e5);
}

/* ---- Compiling -------------------------------------------------------------------- */

struct cc {
	struct sl_filter *f;
	const struct sl_doc_tok *t;
	char *err;
	size_t errcap;
	bool failed;
	struct str path[SL_DOC_DEPTH_MAX];
	uint32_t depth;
	uint32_t nkeys;                             /* distinct paths so far */
	const struct node *keys[SL_SNS_FILTER_KEYS_MAX];
};

__attribute__((format(printf, 2, 3))) static void *fail(struct cc *c, const char *fmt, ...)
{
	if (!c->failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err, c->errcap, fmt, ap);
		va_end(ap);
		c->failed = true;
	}
	return NULL;
}

static void *oom(struct cc *c)
{
	return fail(c, "out of memory");
}

/* String token i, unescaped, in the arena. */
static bool text(struct cc *c, uint32_t i, struct str *out)
{
	const struct sl_doc_tok *t = &c->t[i];
	char *p = arena(c->f, (size_t)t->len + 1);

	if (!p)
		return oom(c), false;
	int n = sl_doc_str(t, p, (size_t)t->len + 1);
	if (n < 0)
		return fail(c, "failed to parse JSON"), false;
	*out = (struct str){ p, (uint32_t)n };
	return true;
}

static bool is_num(const struct sl_doc_tok *t)
{
	return t->type == SL_DOC_INT || t->type == SL_DOC_FLOAT;
}

static double num_of(const struct sl_doc_tok *t)
{
	return t->type == SL_DOC_INT ? (double)t->i : t->d;
}

/* A number a policy may hold, scaled. */
static bool policy_num(struct cc *c, uint32_t i, const char *what, double *out)
{
	const struct sl_doc_tok *t = &c->t[i];

	if (!is_num(t))
		return fail(c, "Value of %s must be numeric", what), false;
	double x = num_of(t);
	if (!(x >= -1e9 && x <= 1e9))
		return fail(c, "Numeric values must be between -1.0E9 and 1.0E9, inclusive"), false;
	*out = scaled(x);
	return true;
}

static bool str_is(const struct str *s, const char *lit)
{
	return s->len == strlen(lit) && memcmp(s->p, lit, s->len) == 0;
}

static bool cidr_parse(const char *s, uint32_t len, struct cond *k)
{
	char buf[64];
	const char *slash = memchr(s, '/', len);

	if (!slash || (size_t)(slash - s) >= sizeof(buf) || memchr(slash + 1, '/', len - (uint32_t)(slash - s) - 1))
		return false;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	k->v6 = strchr(buf, ':') != NULL;
	if (inet_pton(k->v6 ? AF_INET6 : AF_INET, buf, k->addr) != 1)
		return false;
	const char *b = slash + 1, *end = s + len;
	unsigned bits = 0;
	if (b == end || end - b > 3)
		return false;
	for (; b < end; b++) {
		if (*b < '0' || *b > '9')
			return false;
		bits = bits * 10 + (unsigned)(*b - '0');
	}
	if (bits > (k->v6 ? 128u : 32u))
		return false;
	k->bits = (uint8_t)bits;
	return true;
}

/* {"numeric": [op, n (, op, n)]} into k. */
static bool numeric(struct cc *c, uint32_t arr, struct cond *k)
{
	const struct sl_doc_tok *t = c->t;

	if (t[arr].type != SL_DOC_ARR || t[arr].count == 0)
		return fail(c, "Value of numeric must be an array."), false;
	if (t[arr].count != 2 && t[arr].count != 4)
		return fail(c, "Too many elements in numeric expression"), false;
	uint32_t i = sl_doc_first(arr);
	k->op = C_RANGE;
	for (uint32_t pair = 0; pair < t[arr].count / 2; pair++) {
		struct str op;
		if (t[i].type != SL_DOC_STR || !text(c, i, &op))
			return fail(c, "Value of numeric must be a string operator followed by a "
				    "number"), false;
		uint32_t v = sl_doc_next(t, i);
		i = sl_doc_next(t, v);
		bool lower = str_is(&op, ">") || str_is(&op, ">=");
		bool upper = str_is(&op, "<") || str_is(&op, "<=");
		bool eq = str_is(&op, "=");
		if (!lower && !upper && !eq)
			return fail(c, "Unrecognized numeric range operator: %.*s",
				    (int)(op.len > 32 ? 32 : op.len), op.p), false;
		double x;
		if (!policy_num(c, v, "numeric", &x))
			return false;
		if (eq) {
			if (t[arr].count != 2)
				return fail(c, "Bad numeric range operator: ="), false;
			k->op = C_NUM;
			k->lo = x;
			return true;
		}
		if ((pair == 1 && !upper) || (pair == 1 && !k->has_lo) || (lower && k->has_lo) ||
		    (upper && k->has_hi))
			return fail(c, "Bad numeric range operator: %.*s", (int)op.len, op.p), false;
		if (lower) {
			k->has_lo = true;
			k->lo = x;
			k->lo_incl = op.len == 2;
		} else {
			k->has_hi = true;
			k->hi = x;
			k->hi_incl = op.len == 2;
		}
	}
	if (k->has_lo && k->has_hi && k->lo >= k->hi)
		return fail(c, "Bottom must be less than top"), false;
	return true;
}

/* {"anything-but": ...} into k. */
static bool anything_but(struct cc *c, uint32_t v, struct cond *k)
{
	const struct sl_doc_tok *t = c->t;

	if (t[v].type == SL_DOC_OBJ) {
		struct str key;
		if (t[v].count != 1)
			return fail(c, "Value of anything-but must be an array or single string/number "
				    "value."), false;
		if (!text(c, sl_doc_first(v), &key))
			return false;
		uint32_t s = sl_doc_next(t, sl_doc_first(v));
		k->op = str_is(&key, "prefix") ? C_NOT_PREFIX : str_is(&key, "suffix") ? C_NOT_SUFFIX :
			str_is(&key, "equals-ignore-case") ? C_NOT_ICASE : 0xff;
		if (k->op == 0xff)
			return fail(c, "Unsupported anything-but pattern: %.*s",
				    (int)(key.len > 64 ? 64 : key.len), key.p), false;
		if (t[s].type != SL_DOC_STR)
			return fail(c, "%.*s match pattern must be a string", (int)key.len, key.p), false;
		return text(c, s, &k->s);
	}
	uint32_t n = t[v].type == SL_DOC_ARR ? t[v].count : 1;
	uint32_t i = t[v].type == SL_DOC_ARR ? sl_doc_first(v) : v;
	if (n == 0)
		return fail(c, "Empty arrays are not allowed"), false;
	bool strs = t[i].type == SL_DOC_STR;
	if (!strs && !is_num(&t[i]))
		return fail(c, "Value of anything-but must be an array or single string/number "
			    "value."), false;
	struct str *sv = strs ? arena(c->f, n * sizeof(*sv)) : NULL;
	double *nv = strs ? NULL : arena(c->f, n * sizeof(*nv));
	if (!sv && !nv)
		return oom(c), false;
	for (uint32_t j = 0; j < n; j++, i = sl_doc_next(t, i)) {
		if (strs ? t[i].type != SL_DOC_STR : !is_num(&t[i]))
			return fail(c, "Inside anything but list, %s is not supported.",
				    strs ? "a value that is not a string" :
				    "a value that is not a number"), false;
		if (strs ? !text(c, i, &sv[j]) : !policy_num(c, i, "anything-but", &nv[j]))
			return false;
	}
	k->op = strs ? C_NOT_STRS : C_NOT_NUMS;
	k->n = n;
	k->strs = sv;
	k->nums = nv;
	return true;
}

/* One condition: element i of a key's array. */
static bool condition(struct cc *c, uint32_t i, struct cond *k)
{
	const struct sl_doc_tok *t = c->t;

	switch (t[i].type) {
	case SL_DOC_STR:
		k->op = C_STR;
		return text(c, i, &k->s);
	case SL_DOC_INT:
	case SL_DOC_FLOAT:
		k->op = C_NUM;
		return policy_num(c, i, "a match value", &k->lo);
	case SL_DOC_BOOL:
		k->op = C_BOOL;
		k->flag = t[i].i != 0;
		return true;
	case SL_DOC_NULL:
		k->op = C_NULL;
		return true;
	case SL_DOC_OBJ:
		break;
	default:
		return fail(c, "Match value must be String, number, true, false, or null"), false;
	}
	struct str op;
	if (t[i].count != 1)
		return fail(c, "Only one key allowed in match expression"), false;
	if (!text(c, sl_doc_first(i), &op))
		return false;
	uint32_t v = sl_doc_next(t, sl_doc_first(i));
	int len = (int)(op.len > 64 ? 64 : op.len);
	if (str_is(&op, "prefix") || str_is(&op, "suffix") || str_is(&op, "equals-ignore-case")) {
		if (t[v].type != SL_DOC_STR)
			return fail(c, "%.*s match pattern must be a string", len, op.p), false;
		k->op = op.p[0] == 'p' ? C_PREFIX : op.p[0] == 's' ? C_SUFFIX : C_ICASE;
		return text(c, v, &k->s);
	}
	if (str_is(&op, "anything-but"))
		return anything_but(c, v, k);
	if (str_is(&op, "numeric"))
		return numeric(c, v, k);
	if (str_is(&op, "exists")) {
		if (t[v].type != SL_DOC_BOOL)
			return fail(c, "exists match pattern must be either true or false."), false;
		k->op = C_EXISTS;
		k->flag = t[v].i != 0;
		return true;
	}
	if (str_is(&op, "cidr")) {
		struct str s;
		if (t[v].type != SL_DOC_STR)
			return fail(c, "cidr match pattern must be a string"), false;
		if (!text(c, v, &s))
			return false;
		k->op = C_CIDR;
		if (!cidr_parse(s.p, s.len, k))
			return fail(c, "Malformed CIDR, one '/' required"), false;
		return true;
	}
	return fail(c, "Unrecognized match type %.*s", len, op.p), false;
}

static bool same_path(const struct node *a, const struct node *b)
{
	if (a->depth != b->depth)
		return false;
	for (uint32_t i = 0; i < a->depth; i++) {
		if (a->path[i].len != b->path[i].len ||
		    memcmp(a->path[i].p, b->path[i].p, a->path[i].len) != 0)
			return false;
	}
	return true;
}

static uint64_t combos_mul(uint64_t a, uint64_t b)
{
	uint64_t m = a * b;
	return m > SL_SNS_FILTER_COMBOS_MAX ? SL_SNS_FILTER_COMBOS_MAX + 1 : m;
}

/* A key whose value is an array: its conditions, at the current path. */
static struct node *key_node(struct cc *c, uint32_t arr, uint64_t *combos)
{
	const struct sl_doc_tok *t = c->t;
	struct node *k = arena(c->f, sizeof(*k));
	struct str *path = arena(c->f, c->depth * sizeof(*path));

	if (!k || !path)
		return oom(c);
	if (t[arr].count == 0)
		return fail(c, "Empty arrays are not allowed");
	if (t[arr].count > SL_SNS_FILTER_COMBOS_MAX)
		return fail(c, "Filter policy is too complex");
	memcpy(path, c->path, c->depth * sizeof(*path));
	k->kind = N_KEY;
	k->depth = c->depth;
	k->path = path;
	k->n = t[arr].count;
	k->conds = arena(c->f, k->n * sizeof(*k->conds));
	if (!k->conds)
		return oom(c);
	uint32_t i = sl_doc_first(arr);
	for (uint32_t j = 0; j < k->n; j++, i = sl_doc_next(t, i)) {
		if (!condition(c, i, &k->conds[j]))
			return NULL;
	}
	bool seen = false;
	for (uint32_t j = 0; j < c->nkeys && !seen; j++)
		seen = same_path(c->keys[j], k);
	if (!seen) {
		if (c->nkeys == SL_SNS_FILTER_KEYS_MAX)
			return fail(c, "Filter policy can not have more than %d keys",
				    SL_SNS_FILTER_KEYS_MAX);
		c->keys[c->nkeys++] = k;
	}
	*combos = k->n;
	return k;
}

static struct node *object(struct cc *c, uint32_t obj, bool top, uint64_t *combos);

/* "$or": [{...}, ...]: the sum of its branches' combinations. */
static struct node *or_node(struct cc *c, uint32_t arr, uint64_t *combos)
{
	const struct sl_doc_tok *t = c->t;

	if (t[arr].type != SL_DOC_ARR || t[arr].count == 0)
		return fail(c, "Value of $or must be a non-empty array of objects");
	struct node *o = arena(c->f, sizeof(*o));
	struct node **kids = arena(c->f, t[arr].count * sizeof(*kids));
	if (!o || !kids)
		return oom(c);
	o->kind = N_OR;
	o->n = t[arr].count;
	o->kids = kids;
	*combos = 0;
	uint32_t i = sl_doc_first(arr);
	for (uint32_t j = 0; j < o->n; j++, i = sl_doc_next(t, i)) {
		uint64_t sub;
		if (t[i].type != SL_DOC_OBJ)
			return fail(c, "Value of $or must be a non-empty array of objects");
		if (!(kids[j] = object(c, i, false, &sub)))
			return NULL;
		*combos += sub;
		if (*combos > SL_SNS_FILTER_COMBOS_MAX)
			*combos = SL_SNS_FILTER_COMBOS_MAX + 1;
	}
	return o;
}

/* An object of the policy: every key holds. */
static struct node *object(struct cc *c, uint32_t obj, bool top, uint64_t *combos)
{
	const struct sl_doc_tok *t = c->t;
	uint32_t n = t[obj].count;

	if (n == 0 && !top)
		return fail(c, "Empty objects are not allowed");
	struct node *a = arena(c->f, sizeof(*a));
	struct node **kids = arena(c->f, (n ? n : 1) * sizeof(*kids));
	struct str *names = arena(c->f, (n ? n : 1) * sizeof(*names));
	if (!a || !kids || !names)
		return oom(c);
	a->kind = N_AND;
	a->n = n;
	a->kids = kids;
	*combos = 1;
	uint32_t k = sl_doc_first(obj);
	for (uint32_t j = 0; j < n; j++) {
		uint32_t v = sl_doc_next(t, k);
		struct str *name = &names[j];
		if (!text(c, k, name))
			return NULL;
		for (uint32_t m = 0; m < j; m++) {
			if (names[m].len == name->len && memcmp(names[m].p, name->p, name->len) == 0)
				return fail(c, "Duplicate key %.*s",
					    (int)(name->len > 64 ? 64 : name->len), name->p);
		}
		uint64_t sub = 1;
		if (str_is(name, "$or")) {
			kids[j] = or_node(c, v, &sub);
		} else if (t[v].type == SL_DOC_ARR) {
			if (c->depth == SL_DOC_DEPTH_MAX)
				return fail(c, "Filter policy is nested too deep");
			c->path[c->depth++] = *name;
			kids[j] = key_node(c, v, &sub);
			c->depth--;
		} else if (t[v].type == SL_DOC_OBJ) {
			if (c->f->scope == SL_FILTER_ATTRIBUTES)
				return fail(c, "Filter policy scope MessageAttributes does not support "
					    "nested filter policy");
			if (c->depth == SL_DOC_DEPTH_MAX)
				return fail(c, "Filter policy is nested too deep");
			c->path[c->depth++] = *name;
			kids[j] = object(c, v, false, &sub);
			c->depth--;
		} else {
			return fail(c, "\"%.*s\" must be an object or an array",
				    (int)(name->len > 64 ? 64 : name->len), name->p);
		}
		if (!kids[j])
			return NULL;
		*combos = combos_mul(*combos, sub);
		k = sl_doc_next(t, v);
	}
	return a;
}

struct sl_filter *sl_filter_compile(const char *text_, size_t len, enum sl_filter_scope scope,
				    char *err, size_t errcap)
{
	struct sl_filter *f = calloc(1, sizeof(*f));
	size_t ntoks = len / 2 + 2;
	struct sl_doc_tok *toks = len <= SL_SNS_FILTER_POLICY_MAX ? malloc(ntoks * sizeof(*toks)) :
		NULL;
	struct cc c = { .f = f, .t = toks, .err = err, .errcap = errcap };

	if (errcap)
		err[0] = '\0';
	if (len > SL_SNS_FILTER_POLICY_MAX) {
		fail(&c, "Filter policy is too long");
	} else if (!f || !toks) {
		oom(&c);
	} else {
		f->scope = scope;
		int n = sl_json_parse((const uint8_t *)text_, len, toks, (uint32_t)ntoks);
		uint64_t combos = 0;
		if (n <= 0)
			fail(&c, "failed to parse JSON");
		else if (toks[0].type != SL_DOC_OBJ)
			fail(&c, "Filter policy must be a JSON object");
		else if ((f->root = object(&c, 0, true, &combos)) && combos > SL_SNS_FILTER_COMBOS_MAX)
			fail(&c, "Filter policy is too complex");
	}
	free(toks);
	if (c.failed) {
		sl_filter_free(f);
		return NULL;
	}
	return f;
}

/* ---- Matching --------------------------------------------------------------------- */

enum vkind { V_STR, V_NUM, V_BOOL, V_NULL };

struct val {
	uint8_t kind;
	bool b;
	const char *s;
	size_t len;
	double num;       /* scaled */
	bool ip_ok, ip6;  /* V_STR: whether s is an IP address (parsed on demand) */
	bool ip_tried;
	uint8_t ip[16];
};

/* Text of escaped JSON strings, decoded one at a time. */
static __thread char *scratch;

static const char *unescape(const struct sl_doc_tok *t, size_t *len)
{
	if (!(t->flags & SL_DOC_F_ESCAPED)) {
		*len = t->len;
		return (const char *)t->ptr;
	}
	if (!scratch && !(scratch = malloc(SL_SNS_MSG_MAX + 1)))
		return NULL;
	int n = sl_doc_str(t, scratch, SL_SNS_MSG_MAX + 1);
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return scratch;
}

static bool ip_of(struct val *v)
{
	if (!v->ip_tried) {
		char buf[64];
		v->ip_tried = true;
		if (v->len < sizeof(buf)) {
			memcpy(buf, v->s, v->len);
			buf[v->len] = '\0';
			v->ip6 = memchr(v->s, ':', v->len) != NULL;
			v->ip_ok = inet_pton(v->ip6 ? AF_INET6 : AF_INET, buf, v->ip) == 1;
		}
	}
	return v->ip_ok;
}

static bool in_cidr(const struct cond *k, struct val *v)
{
	if (!ip_of(v) || v->ip6 != k->v6)
		return false;
	unsigned full = k->bits / 8, rest = k->bits % 8;
	if (memcmp(v->ip, k->addr, full) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (v->ip[full] & mask) == (k->addr[full] & mask);
}

static bool has_prefix(const struct val *v, const struct str *s)
{
	return v->len >= s->len && memcmp(v->s, s->p, s->len) == 0;
}

static bool has_suffix(const struct val *v, const struct str *s)
{
	return v->len >= s->len && memcmp(v->s + v->len - s->len, s->p, s->len) == 0;
}

static bool same_icase(const struct val *v, const struct str *s)
{
	return v->len == s->len && strncasecmp(v->s, s->p, s->len) == 0;
}

/* A positive condition holds for v. */
static bool meets(const struct cond *k, struct val *v)
{
	switch (k->op) {
	case C_STR:
		return v->kind == V_STR && v->len == k->s.len && memcmp(v->s, k->s.p, v->len) == 0;
	case C_NUM:
		return v->kind == V_NUM && v->num == k->lo;
	case C_BOOL:
		return v->kind == V_BOOL && v->b == k->flag;
	case C_NULL:
		return v->kind == V_NULL;
	case C_PREFIX:
		return v->kind == V_STR && has_prefix(v, &k->s);
	case C_SUFFIX:
		return v->kind == V_STR && has_suffix(v, &k->s);
	case C_ICASE:
		return v->kind == V_STR && same_icase(v, &k->s);
	case C_CIDR:
		return v->kind == V_STR && in_cidr(k, v);
	case C_RANGE:
		return v->kind == V_NUM &&
		       (!k->has_lo || (k->lo_incl ? v->num >= k->lo : v->num > k->lo)) &&
		       (!k->has_hi || (k->hi_incl ? v->num <= k->hi : v->num < k->hi));
	default:
		return false;
	}
}

/* An anything-but condition excludes v. */
static bool excludes(const struct cond *k, const struct val *v)
{
	switch (k->op) {
	case C_NOT_STRS:
		for (uint32_t i = 0; v->kind == V_STR && i < k->n; i++) {
			if (k->strs[i].len == v->len && memcmp(k->strs[i].p, v->s, v->len) == 0)
				return true;
		}
		return false;
	case C_NOT_NUMS:
		for (uint32_t i = 0; v->kind == V_NUM && i < k->n; i++) {
			if (k->nums[i] == v->num)
				return true;
		}
		return false;
	case C_NOT_PREFIX:
		return v->kind == V_STR && has_prefix(v, &k->s);
	case C_NOT_SUFFIX:
		return v->kind == V_STR && has_suffix(v, &k->s);
	case C_NOT_ICASE:
		return v->kind == V_STR && same_icase(v, &k->s);
	default:
		return false;
	}
}

static bool negative(uint8_t op)
{
	return op >= C_NOT_STRS;
}

/* The values one key takes, against its conditions. */
struct keyeval {
	const struct node *k;
	uint32_t nvals;
	bool hit[SL_SNS_FILTER_COMBOS_MAX];       /* positive: some value meets it */
	bool excluded[SL_SNS_FILTER_COMBOS_MAX];  /* anything-but: some value is excluded */
};

static void see(struct keyeval *e, struct val *v)
{
	const struct node *k = e->k;

	e->nvals++;
	for (uint32_t i = 0; i < k->n; i++) {
		const struct cond *c = &k->conds[i];
		if (negative(c->op)) {
			if (!e->excluded[i] && excludes(c, v))
				e->excluded[i] = true;
		} else if (c->op != C_EXISTS && !e->hit[i] && meets(c, v)) {
			e->hit[i] = true;
		}
	}
}

static bool verdict(const struct keyeval *e)
{
	const struct node *k = e->k;

	for (uint32_t i = 0; i < k->n; i++) {
		const struct cond *c = &k->conds[i];
		bool ok = c->op == C_EXISTS ? (c->flag ? e->nvals > 0 : e->nvals == 0) :
			  negative(c->op) ? e->nvals > 0 && !e->excluded[i] : e->hit[i];
		if (ok)
			return true;
	}
	return false;
}

/* A JSON scalar token as a value; false for arrays, objects and text that
 * cannot be decoded. */
static bool json_val(const struct sl_doc_tok *t, struct val *v)
{
	*v = (struct val){ 0 };
	switch (t->type) {
	case SL_DOC_STR:
		v->kind = V_STR;
		return (v->s = unescape(t, &v->len)) != NULL;
	case SL_DOC_INT:
	case SL_DOC_FLOAT:
		v->kind = V_NUM;
		v->num = scaled(num_of(t));
		return true;
	case SL_DOC_BOOL:
		v->kind = V_BOOL;
		v->b = t->i != 0;
		return true;
	case SL_DOC_NULL:
		v->kind = V_NULL;
		return true;
	default:
		return false;
	}
}

/* Every scalar of the array (and of arrays in it) at i. */
static void see_array(struct keyeval *e, const struct sl_doc_tok *t, uint32_t i)
{
	uint32_t c = sl_doc_first(i);

	for (uint32_t j = 0; j < t[i].count; j++, c = sl_doc_next(t, c)) {
		struct val v;
		if (t[c].type == SL_DOC_ARR)
			see_array(e, t, c);
		else if (t[c].type != SL_DOC_OBJ && json_val(&t[c], &v))
			see(e, &v);
	}
}

static bool key_is(const struct sl_doc_tok *t, const struct str *s)
{
	if (!(t->flags & SL_DOC_F_ESCAPED))
		return t->len == s->len && memcmp(t->ptr, s->p, s->len) == 0;
	size_t n;
	const char *k = unescape(t, &n);
	return k && n == s->len && memcmp(k, s->p, n) == 0;
}

/* The values at the key's path below token i (at path step d). */
static void body_values(struct keyeval *e, const struct sl_doc_tok *t, uint32_t i, uint32_t d)
{
	const struct node *k = e->k;

	if (d == k->depth) {
		struct val v;
		if (t[i].type == SL_DOC_ARR)
			see_array(e, t, i);
		else if (t[i].type != SL_DOC_OBJ && json_val(&t[i], &v))
			see(e, &v);
		return;
	}
	uint32_t c = sl_doc_first(i);
	if (t[i].type == SL_DOC_ARR) {
		for (uint32_t j = 0; j < t[i].count; j++, c = sl_doc_next(t, c)) {
			if (t[c].type == SL_DOC_OBJ || t[c].type == SL_DOC_ARR)
				body_values(e, t, c, d);
		}
		return;
	}
	if (t[i].type != SL_DOC_OBJ)
		return;
	for (uint32_t j = 0; j < t[i].count; j++) {
		uint32_t v = sl_doc_next(t, c);
		if (key_is(&t[c], &k->path[d])) {
			body_values(e, t, v, d + 1);
			return;
		}
		c = sl_doc_next(t, v);
	}
}

static bool starts(const struct sl_sqs_attr *a, const char *p)
{
	size_t n = strlen(p);
	return a->type_len >= n && memcmp(a->type, p, n) == 0 &&
	       (a->type_len == n || a->type[n] == '.');
}

/* The values of the attribute the key names. */
static void attr_values(struct keyeval *e, const struct sl_filter_msg *m)
{
	const struct str *name = &e->k->path[0];
	const struct sl_sqs_attr *a = NULL;

	for (unsigned i = 0; i < m->nattrs && !a; i++) {
		if (m->attrs[i].name_len == name->len &&
		    memcmp(m->attrs[i].name, name->p, name->len) == 0)
			a = &m->attrs[i];
	}
	if (!a || a->binary)
		return;
	struct val v = { .kind = V_STR, .s = (const char *)a->value, .len = a->value_len };
	if (a->type_len == 12 && memcmp(a->type, "String.Array", 12) == 0) {
		struct sl_doc_tok t[SL_SNS_ARRAY_TOKS];
		int n = sl_json_parse(a->value, a->value_len, t, SL_SNS_ARRAY_TOKS);
		if (n > 0 && t[0].type == SL_DOC_ARR)
			see_array(e, t, 0);
		return;
	}
	if (starts(a, "Number")) {
		char buf[128];
		char *end;
		if (a->value_len >= sizeof(buf))
			return;
		memcpy(buf, a->value, a->value_len);
		buf[a->value_len] = '\0';
		double x = strtod(buf, &end);
		if (end == buf || *end || !isfinite(x))
			return;
		v = (struct val){ .kind = V_NUM, .num = scaled(x) };
	}
	see(e, &v);
}

static bool eval(const struct sl_filter *f, const struct node *n, const struct sl_filter_msg *m)
{
	switch (n->kind) {
	case N_AND:
		for (uint32_t i = 0; i < n->n; i++) {
			if (!eval(f, n->kids[i], m))
				return false;
		}
		return true;
	case N_OR:
		for (uint32_t i = 0; i < n->n; i++) {
			if (eval(f, n->kids[i], m))
				return true;
		}
		return false;
	default: {
		struct keyeval e;
		e.k = n;
		e.nvals = 0;
		memset(e.hit, 0, n->n * sizeof(e.hit[0]));
		memset(e.excluded, 0, n->n * sizeof(e.excluded[0]));
		if (f->scope == SL_FILTER_BODY)
			body_values(&e, m->body, 0, 0);
		else
			attr_values(&e, m);
		return verdict(&e);
	}
	}
}

bool sl_filter_match(const struct sl_filter *f, const struct sl_filter_msg *m)
{
	if (f->scope == SL_FILTER_BODY && (m->body_n <= 0 || m->body[0].type != SL_DOC_OBJ))
		return false;
	return eval(f, f->root, m);
}
