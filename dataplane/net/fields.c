/* fields.c - validated member access for request handlers. */
#include "dataplane/net/fields.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/form.h"
#include "dataplane/limits.h"
#include "dataplane/net/server.h"

static void verr(struct sl_req *req, const char *type, const char *fmt, va_list ap)
{
	char msg[768];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	sl_req_error(req, 400, type, "%s", msg);
}

void sl_err_validation(struct sl_req *req, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(req, "ValidationException", fmt, ap);
	va_end(ap);
}

void sl_err_serialization(struct sl_req *req, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(req, "SerializationException", fmt, ap);
	va_end(ap);
}

/* AWS names members lowerCamelCase in validation messages. */
static void member_name(const char *key, char *out, size_t cap)
{
	assert(cap > 0);
	snprintf(out, cap, "%s", key);
	out[0] = (char)tolower((unsigned char)out[0]);
}

/* Query requests: the form (body, or the query string of a GET) as a
 * document. The pairs and the decoded keys live in per-thread buffers, as
 * the tokens do in the caller's: both are reused by the next parse on the
 * same thread. */
static int query_parse(struct sl_req *req, struct sl_doc_tok *toks, uint32_t max)
{
	static __thread struct sl_form_pair *pairs;
	static __thread char *scratch;
	static __thread size_t scratch_cap;
	const char *p = (const char *)req->body;
	size_t n = req->body_len;

	if (req->method == SL_GET || n == 0) {
		p = req->query.p;
		n = req->query.n;
	}
	if (!pairs && !(pairs = malloc(sizeof(*pairs) * SL_QUERY_PAIRS_MAX)))
		return SL_DOC_TOO_BIG;
	int np = sl_form_parse(p, n, pairs, SL_QUERY_PAIRS_MAX);
	if (np < 0)
		return np;
	assert(np <= SL_QUERY_PAIRS_MAX);
	/* Grown to the largest form seen, then kept: no allocation per request
	 * once warm, and a small form never pins a big buffer it never needed. */
	size_t need = SL_FORM_SCRATCH_BYTES((size_t)np, n);
	if (need > scratch_cap) {
		size_t cap = scratch_cap ? scratch_cap : 4096;
		while (cap < need)
			cap *= 2;
		char *q = realloc(scratch, cap);
		if (!q)
			return SL_DOC_TOO_BIG;
		scratch = q;
		scratch_cap = cap;
	}
	assert(scratch_cap >= need);
	return sl_form_to_doc(pairs, (uint32_t)np, toks, max, scratch, scratch_cap);
}

int sl_fields_parse(struct sl_req *req, struct sl_doc_tok *toks, uint32_t max,
		    struct sl_fields *out)
{
	static const uint8_t empty[] = "{}";
	const uint8_t *b = req->body;
	size_t n = req->body_len;
	int rc;

	assert(max > 0);
	/* The router parsed the body into these tokens already: reuse them. */
	if (req->doc == toks && req->doc_n > 0) {
		rc = req->doc_n;
		goto parsed;
	}
	if (req->proto == SL_PROTO_QUERY) {
		rc = query_parse(req, toks, max);
	} else if (n == 0) {
		b = empty;
		n = 2;
		rc = sl_json_parse(b, n, toks, max);
	} else {
		rc = req->fmt == SL_ENC_CBOR ? sl_cbor_parse(b, n, toks, max) :
					       sl_json_parse(b, n, toks, max);
	}
	if (rc == SL_DOC_TOO_BIG) {
		sl_err_serialization(req, "Request document is too large or too deeply nested");
		return SL_FIELD_ERR;
	}
	if (rc <= 0) {
		sl_err_serialization(req, "Start of structure or map found where not expected, or "
					  "the request body is malformed");
		return SL_FIELD_ERR;
	}
	if (toks[0].type != SL_DOC_OBJ) {
		sl_err_serialization(req, "Request body must be a structure");
		return SL_FIELD_ERR;
	}
	assert((uint32_t)rc <= max);
	req->doc = toks;
	req->doc_n = rc;
parsed:
	/* Either path: the root is an object, which every accessor reads from. */
	assert(rc > 0);
	assert(toks[0].type == SL_DOC_OBJ);
	if (out) {
		out->req = req;
		out->t = toks;
		out->obj = 0;
	}
	return rc;
}

static int find(struct sl_fields *f, const char *key, bool required)
{
	int i = sl_doc_get(f->t, f->obj, key);
	char m[64];

	/* f->obj is the root or an object member (sl_field_obj, a Records
	 * entry checked by its caller): never a scalar. */
	assert(f->t[f->obj].type == SL_DOC_OBJ);
	if (i >= 0 && f->t[i].type == SL_DOC_NULL)
		i = -1;
	if (i < 0 && required) {
		member_name(key, m, sizeof(m));
		sl_err_validation(f->req, "1 validation error detected: Value null at '%s' failed to "
					  "satisfy constraint: Member must not be null", m);
		return SL_FIELD_ERR;
	}
	return i < 0 ? -2 : i;
}

static int wrong_type(struct sl_fields *f, const char *key, const char *want)
{
	sl_err_serialization(f->req, "Unexpected value type for '%s': expected %s", key, want);
	return SL_FIELD_ERR;
}

int sl_field_str(struct sl_fields *f, const char *key, char *out, size_t cap, size_t min,
		 size_t max, bool required, bool *present)
{
	int i = find(f, key, required);
	char m[64];

	assert(cap > 0);
	assert(min <= max);
	*present = false;
	out[0] = '\0';
	if (i == SL_FIELD_ERR)
		return i;
	if (i == -2)
		return SL_FIELD_ABSENT;
	if (f->t[i].type != SL_DOC_STR)
		return wrong_type(f, key, "a string");
	int len = sl_doc_str(&f->t[i], out, cap);
	member_name(key, m, sizeof(m));
	if (len == -1) {
		sl_err_serialization(f->req, "Invalid string encoding for '%s'", key);
		return SL_FIELD_ERR;
	}
	if (len == -2 || (size_t)len > max) {
		sl_err_validation(f->req, "1 validation error detected: Value at '%s' failed to satisfy "
					  "constraint: Member must have length less than or equal to %zu", m, max);
		return SL_FIELD_ERR;
	}
	if ((size_t)len < min) {
		sl_err_validation(f->req, "1 validation error detected: Value '%s' at '%s' failed to "
					  "satisfy constraint: Member must have length greater than or "
					  "equal to %zu", out, m, min);
		return SL_FIELD_ERR;
	}
	assert((size_t)len < cap); /* sl_doc_str() left room for the NUL */
	*present = true;
	return len;
}

/* A query-protocol integer: decimal text with an optional sign, within
 * int64. 0 or -1. */
static int query_int(const struct sl_doc_tok *t, int64_t *out)
{
	char v[24], *end;

	if (sl_doc_str(t, v, sizeof(v)) <= 0)
		return -1;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || *end || end == v)
		return -1;
	*out = x;
	return 0;
}

int sl_field_int(struct sl_fields *f, const char *key, int64_t min, int64_t max, bool required,
		 int64_t *out)
{
	int i = find(f, key, required);
	char m[64];

	assert(min <= max);
	if (i == SL_FIELD_ERR)
		return i;
	if (i == -2)
		return SL_FIELD_ABSENT;
	if (f->t[i].type == SL_DOC_FLOAT && f->t[i].d == floor(f->t[i].d) && fabs(f->t[i].d) < 9e18)
		*out = (int64_t)f->t[i].d;
	else if (f->t[i].type == SL_DOC_INT)
		*out = f->t[i].i;
	else if (f->t[i].type != SL_DOC_STR || f->req->proto != SL_PROTO_QUERY ||
		 query_int(&f->t[i], out) < 0)
		return wrong_type(f, key, "an integer");
	member_name(key, m, sizeof(m));
	if (*out < min) {
		sl_err_validation(f->req, "1 validation error detected: Value '%lld' at '%s' failed to "
					  "satisfy constraint: Member must have value greater than or "
					  "equal to %lld", (long long)*out, m, (long long)min);
		return SL_FIELD_ERR;
	}
	if (*out > max) {
		sl_err_validation(f->req, "1 validation error detected: Value '%lld' at '%s' failed to "
					  "satisfy constraint: Member must have value less than or "
					  "equal to %lld", (long long)*out, m, (long long)max);
		return SL_FIELD_ERR;
	}
	return 1;
}

int sl_field_bool(struct sl_fields *f, const char *key, bool *out)
{
	int i = find(f, key, false);

	assert(i != SL_FIELD_ERR); /* an optional member is never an error */
	if (i == -2)
		return SL_FIELD_ABSENT;
	if (f->t[i].type == SL_DOC_STR && f->req->proto == SL_PROTO_QUERY) {
		/* The query protocol sends every scalar as text. */
		char v[8];
		int n = sl_doc_str(&f->t[i], v, sizeof(v));
		if (n < 0 || (strcmp(v, "true") != 0 && strcmp(v, "false") != 0))
			return wrong_type(f, key, "a boolean");
		*out = v[0] == 't';
		return 1;
	}
	if (f->t[i].type != SL_DOC_BOOL)
		return wrong_type(f, key, "a boolean");
	*out = f->t[i].i != 0;
	return 1;
}

int sl_field_time(struct sl_fields *f, const char *key, bool required, int64_t *out_ms)
{
	int i = find(f, key, required);

	if (i == SL_FIELD_ERR)
		return i;
	if (i == -2)
		return SL_FIELD_ABSENT;
	/* JSON 1.1 sends epoch seconds; CBOR 1.1 epoch milliseconds (tag 1). */
	double scale = f->req->fmt == SL_ENC_CBOR ? 1.0 : 1000.0;
	if (f->t[i].type == SL_DOC_INT && llabs(f->t[i].i) < (int64_t)1 << 52)
		*out_ms = (int64_t)llround((double)f->t[i].i * scale);
	else if (f->t[i].type == SL_DOC_FLOAT && isfinite(f->t[i].d) && fabs(f->t[i].d) < 1e15)
		*out_ms = (int64_t)llround(f->t[i].d * scale);
	else
		return wrong_type(f, key, "a timestamp");
	return 1;
}

static int field_of_type(struct sl_fields *f, const char *key, bool required, uint8_t type,
			 const char *want)
{
	int i = find(f, key, required);

	assert(type == SL_DOC_ARR || type == SL_DOC_OBJ);
	if (i == SL_FIELD_ERR)
		return i;
	if (i == -2)
		return SL_FIELD_ABSENT;
	if (f->t[i].type != type)
		return wrong_type(f, key, want);
	/* A member never is the root: callers read 0 as SL_FIELD_ABSENT. */
	assert(i > 0);
	return i;
}

int sl_field_arr(struct sl_fields *f, const char *key, bool required)
{
	return field_of_type(f, key, required, SL_DOC_ARR, "a list");
}

int sl_field_obj(struct sl_fields *f, const char *key, bool required)
{
	return field_of_type(f, key, required, SL_DOC_OBJ, "a structure");
}
