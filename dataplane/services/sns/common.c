/* common.c - SNS's protocol helpers: errors, a form's members, maps and
 * lists, ARNs, and maps in replies. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/sns/topics.h"
#include "dataplane/codec/enc.h"
#include "dataplane/net/server.h"
#include "dataplane/runtime/config.h"
#include "dataplane/services/sns/sns.h"

struct sns_err_row {
	const char *code;
	int status;
};

/* From the model: each exception's error code and HTTP status. */
static const struct sns_err_row errs[SL_SNS_E_COUNT] = {
	[SL_SNS_E_INVALID_PARAMETER] = { "InvalidParameter", 400 },
	[SL_SNS_E_INVALID_PARAMETER_VALUE] = { "ParameterValueInvalid", 400 },
	[SL_SNS_E_NOT_FOUND] = { "NotFound", 404 },
	[SL_SNS_E_AUTHORIZATION] = { "AuthorizationError", 403 },
	[SL_SNS_E_TOPIC_LIMIT] = { "TopicLimitExceeded", 403 },
	[SL_SNS_E_SUB_LIMIT] = { "SubscriptionLimitExceeded", 403 },
	[SL_SNS_E_TAG_LIMIT] = { "TagLimitExceeded", 400 },
	[SL_SNS_E_THROTTLED] = { "Throttled", 429 },
	[SL_SNS_E_BATCH_IDS_NOT_DISTINCT] = { "BatchEntryIdsNotDistinct", 400 },
	[SL_SNS_E_EMPTY_BATCH] = { "EmptyBatchRequest", 400 },
	[SL_SNS_E_TOO_MANY_ENTRIES] = { "TooManyEntriesInBatchRequest", 400 },
	[SL_SNS_E_BATCH_TOO_LONG] = { "BatchRequestTooLong", 400 },
	[SL_SNS_E_INVALID_BATCH_ID] = { "InvalidBatchEntryId", 400 },
	[SL_SNS_E_FILTER_POLICY_LIMIT] = { "FilterPolicyLimitExceeded", 403 },
	[SL_SNS_E_RESOURCE_NOT_FOUND] = { "ResourceNotFound", 404 },
	[SL_SNS_E_ENDPOINT_DISABLED] = { "EndpointDisabled", 400 },
	[SL_SNS_E_INTERNAL] = { "InternalError", 500 },
};

static __thread struct sl_sns_errcap *capture;

void sl_sns_capture(struct sl_sns_errcap *cap)
{
	capture = cap;
	if (cap)
		cap->set = false;
}

const char *sl_sns_err_code(enum sl_sns_err err)
{
	assert(err < SL_SNS_E_COUNT);
	return errs[err].code;
}

bool sl_sns_err_sender(enum sl_sns_err err)
{
	assert(err < SL_SNS_E_COUNT);
	return errs[err].status < 500;
}

void sl_sns_error(struct sl_req *req, enum sl_sns_err err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	assert(err < SL_SNS_E_COUNT);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (capture) {
		if (!capture->set) {
			capture->set = true;
			capture->err = err;
			size_t n = strnlen(msg, sizeof(capture->msg) - 1); /* cut, on purpose */
			memcpy(capture->msg, msg, n);
			capture->msg[n] = '\0';
		}
		return;
	}
	sl_req_error(req, errs[err].status, errs[err].code, "%s", msg);
}

int sl_sns_parse(struct sl_req *req, struct sl_doc_tok *toks, uint32_t max, struct sl_fields *f)
{
	return sl_fields_parse(req, toks, max, f) < 0 ? SL_FIELD_ERR : 0;
}

/* Token i as a string into out[cap], at most max bytes: its length, or
 * SL_FIELD_ERR with InvalidParameter set. */
static int tok_str(struct sl_fields *f, int i, const char *what, char *out, size_t cap,
		   size_t max)
{
	int len = f->t[i].type == SL_DOC_STR ? sl_doc_str(&f->t[i], out, cap) : -1;

	if (len == -1 || len == -2 || (size_t)len > max) {
		sl_sns_error(f->req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: %s%s", what,
			     len == -1 ? "" : " Reason: too long");
		return SL_FIELD_ERR;
	}
	return len;
}

int sl_sns_str(struct sl_fields *f, int obj, const char *name, char *out, size_t cap, size_t max,
	       bool required)
{
	int i = sl_doc_get(f->t, (uint32_t)obj, name);

	assert(cap > 0);
	out[0] = '\0';
	if (i < 0) {
		if (required)
			sl_sns_error(f->req, SL_SNS_E_INVALID_PARAMETER,
				     "Invalid parameter: %s Reason: missing", name);
		return required ? SL_FIELD_ERR : 0;
	}
	return tok_str(f, i, name, out, cap, max) < 0 ? SL_FIELD_ERR : 1;
}

int sl_sns_map(struct sl_fields *f, int obj, const char *name, size_t val_max, sl_sns_kv_fn fn,
	       void *arg)
{
	const struct sl_doc_tok *t = f->t;
	int m = sl_doc_get(t, (uint32_t)obj, name);
	char key[SL_SNS_KEY_MAX + 1];

	if (m < 0)
		return 0;
	int e = t[m].type == SL_DOC_OBJ ? sl_doc_get(t, (uint32_t)m, "entry") : -1;
	if (e < 0 || t[e].type != SL_DOC_ARR) {
		sl_sns_error(f->req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: %s", name);
		return SL_FIELD_ERR;
	}
	char *val = malloc(val_max + 1);
	if (!val) {
		sl_sns_error(f->req, SL_SNS_E_INTERNAL, "out of memory");
		return SL_FIELD_ERR;
	}
	uint32_t c = sl_doc_first((uint32_t)e);
	int rc = 0, seen = 0;
	for (uint32_t k = 0; k < t[e].count && rc == 0; k++, c = sl_doc_next(t, c)) {
		int ki = t[c].type == SL_DOC_OBJ ? sl_doc_get(t, c, "key") : -1;
		int vi = t[c].type == SL_DOC_OBJ ? sl_doc_get(t, c, "value") : -1;
		if (ki < 0 || vi < 0) {
			sl_sns_error(f->req, SL_SNS_E_INVALID_PARAMETER,
				     "Invalid parameter: %s.entry.%u.%s", name, k + 1,
				     ki < 0 ? "key" : "value");
			rc = SL_FIELD_ERR;
			break;
		}
		int kl = tok_str(f, ki, name, key, sizeof(key), SL_SNS_KEY_MAX);
		int vl = kl < 0 ? kl : tok_str(f, vi, key, val, val_max + 1, val_max);
		rc = vl < 0 ? SL_FIELD_ERR : fn(arg, key, val, (size_t)vl);
		seen++;
	}
	free(val);
	return rc < 0 ? rc : seen;
}

int sl_sns_list(struct sl_fields *f, int obj, const char *name)
{
	const struct sl_doc_tok *t = f->t;
	int l = sl_doc_get(t, (uint32_t)obj, name);

	if (l < 0)
		return 0;
	/* The query protocol writes an empty list as `<name>=`. */
	if (t[l].type == SL_DOC_STR && t[l].len == 0)
		return 0;
	int m = t[l].type == SL_DOC_OBJ ? sl_doc_get(t, (uint32_t)l, "member") : -1;
	if (m < 0 || t[m].type != SL_DOC_ARR) {
		sl_sns_error(f->req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: %s", name);
		return SL_FIELD_ERR;
	}
	return m;
}

/* The fields of `arn:aws:sns:<region>:<account>:<rest>`: region and rest. */
static const char *arn_rest(const char *arn, char region[SL_REGION_MAX + 1])
{
	static const char pre[] = "arn:aws:sns:";
	size_t acct = strlen(sl_cfg->account_id);

	if (strncmp(arn, pre, sizeof(pre) - 1) != 0)
		return NULL;
	const char *r = arn + sizeof(pre) - 1, *colon = strchr(r, ':');
	if (!colon || colon == r || (size_t)(colon - r) > SL_REGION_MAX)
		return NULL;
	memcpy(region, r, (size_t)(colon - r));
	region[colon - r] = '\0';
	const char *a = colon + 1;
	if (strncmp(a, sl_cfg->account_id, acct) != 0 || a[acct] != ':')
		return NULL;
	return a + acct + 1;
}

int sl_sns_topic_arn_parse(const char *arn, char region[SL_REGION_MAX + 1],
			   char name[SL_SNS_TOPIC_NAME_MAX + 1])
{
	const char *rest = arn_rest(arn, region);
	bool fifo;

	if (!rest || !sl_topic_name_ok(rest, strlen(rest), &fifo))
		return -1;
	memcpy(name, rest, strlen(rest) + 1);
	return 0;
}

int sl_sns_sub_arn_parse(const char *arn, char region[SL_REGION_MAX + 1],
			 char name[SL_SNS_TOPIC_NAME_MAX + 1], char id[37])
{
	const char *rest = arn_rest(arn, region), *colon = rest ? strrchr(rest, ':') : NULL;
	bool fifo;

	if (!colon || strlen(colon + 1) != SL_SNS_SUB_ID_LEN ||
	    !sl_topic_name_ok(rest, (size_t)(colon - rest), &fifo))
		return -1;
	memcpy(name, rest, (size_t)(colon - rest));
	name[colon - rest] = '\0';
	memcpy(id, colon + 1, SL_SNS_SUB_ID_LEN + 1);
	return 0;
}

void sl_sns_map_begin(struct sl_req *req, const char *name)
{
	sl_enc_key(&req->out, name);
	sl_enc_obj_begin(&req->out);
	sl_enc_key(&req->out, "entry");
	sl_enc_arr_begin_flat(&req->out);
}

void sl_sns_map_put(struct sl_req *req, const char *k, const char *v)
{
	struct sl_enc *e = &req->out;

	sl_enc_obj_begin(e);
	sl_enc_key(e, "key");
	sl_enc_cstr(e, k);
	sl_enc_key(e, "value");
	sl_enc_cstr(e, v);
	sl_enc_obj_end(e);
}

void sl_sns_map_end(struct sl_req *req)
{
	sl_enc_arr_end(&req->out);
	sl_enc_obj_end(&req->out);
}

void sl_sns_base_url(const struct sl_req *req, char out[SL_SNS_BASE_URL_MAX])
{
	if (sl_cfg->public_url[0]) {
		snprintf(out, SL_SNS_BASE_URL_MAX, "%s", sl_cfg->public_url);
		return;
	}
	const struct sl_http_header *h = sl_req_header(req, "host");
	int hl = h ? (int)(h->value_len > 255 ? 255 : h->value_len) : 9;
	snprintf(out, SL_SNS_BASE_URL_MAX, "http://%.*s", hl, h ? h->value : "localhost");
}

bool sl_sns_phone_ok(const char *s)
{
	size_t n = strlen(s), i = s[0] == '+';

	if (n - i < 7 || n - i > 15)
		return false;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}
