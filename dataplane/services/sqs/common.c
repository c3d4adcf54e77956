/* common.c - SQS's protocol helpers: errors, reading maps and lists under
 * JSON and query names, queue URLs, and maps in replies. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/sqs/queues.h"
#include "dataplane/codec/enc.h"
#include "dataplane/net/server.h"
#include "dataplane/net/service.h"
#include "dataplane/runtime/config.h"
#include "dataplane/services/sqs/sqs.h"

struct sqs_err_row {
	const char *json_type; /* __type: the model's shape, namespaced */
	const char *code;      /* the query <Code> */
	const char *header;    /* x-amzn-query-error: code;fault */
	int status;
};

#define ERR(shape, code, fault, status) \
	{ "com.amazonaws.sqs#" shape, code, code ";" fault, status }

/* From the query-protocol model (Debian's botocore), which still carries
 * the codes; the errors it does not model carry their code as shape. */
static const struct sqs_err_row errs[SL_SQS_E_COUNT] = {
	[SL_SQS_E_NONEXISTENT_QUEUE] = ERR("QueueDoesNotExist",
					   "AWS.SimpleQueueService.NonExistentQueue", "Sender", 400),
	[SL_SQS_E_QUEUE_EXISTS] = ERR("QueueNameExists", "QueueAlreadyExists", "Sender", 400),
	[SL_SQS_E_DELETED_RECENTLY] = ERR("QueueDeletedRecently",
					  "AWS.SimpleQueueService.QueueDeletedRecently", "Sender",
					  400),
	[SL_SQS_E_INVALID_ATTRIBUTE_NAME] = ERR("InvalidAttributeName", "InvalidAttributeName",
						"Sender", 400),
	[SL_SQS_E_INVALID_ATTRIBUTE_VALUE] = ERR("InvalidAttributeValue", "InvalidAttributeValue",
						 "Sender", 400),
	[SL_SQS_E_INVALID_PARAMETER_VALUE] = ERR("InvalidParameterValue", "InvalidParameterValue",
						 "Sender", 400),
	[SL_SQS_E_MISSING_PARAMETER] = ERR("MissingParameter", "MissingParameter", "Sender", 400),
	[SL_SQS_E_OVER_LIMIT] = ERR("OverLimit", "OverLimit", "Sender", 403),
	[SL_SQS_E_UNSUPPORTED] = ERR("UnsupportedOperation",
				     "AWS.SimpleQueueService.UnsupportedOperation", "Sender", 400),
	[SL_SQS_E_RECEIPT_INVALID] = ERR("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid",
					 "Sender", 400),
	[SL_SQS_E_MESSAGE_NOT_INFLIGHT] = ERR("MessageNotInflight",
					      "AWS.SimpleQueueService.MessageNotInflight", "Sender",
					      400),
	[SL_SQS_E_INVALID_MESSAGE_CONTENTS] = ERR("InvalidMessageContents",
						  "InvalidMessageContents", "Sender", 400),
	[SL_SQS_E_PURGE_IN_PROGRESS] = ERR("PurgeQueueInProgress",
					   "AWS.SimpleQueueService.PurgeQueueInProgress", "Sender", 403),
	[SL_SQS_E_EMPTY_BATCH] = ERR("EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest",
				     "Sender", 400),
	[SL_SQS_E_TOO_MANY_ENTRIES] = ERR("TooManyEntriesInBatchRequest",
					  "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
					  "Sender", 400),
	[SL_SQS_E_BATCH_IDS_NOT_DISTINCT] = ERR("BatchEntryIdsNotDistinct",
						"AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
						"Sender", 400),
	[SL_SQS_E_INVALID_BATCH_ID] = ERR("InvalidBatchEntryId",
					  "AWS.SimpleQueueService.InvalidBatchEntryId", "Sender", 400),
	[SL_SQS_E_BATCH_TOO_LONG] = ERR("BatchRequestTooLong",
					"AWS.SimpleQueueService.BatchRequestTooLong", "Sender", 400),
	[SL_SQS_E_THROTTLED] = ERR("RequestThrottled", "RequestThrottled", "Sender", 400),
	[SL_SQS_E_RESOURCE_NOT_FOUND] = ERR("ResourceNotFoundException", "ResourceNotFoundException",
					    "Sender", 400),
	[SL_SQS_E_INTERNAL] = ERR("InternalError", "InternalError", "Receiver", 500),
};

static __thread struct sl_sqs_errcap *capture;

void sl_sqs_capture(struct sl_sqs_errcap *cap)
{
	capture = cap;
	if (cap)
		cap->set = false;
}

const char *sl_sqs_err_code(enum sl_sqs_err err)
{
	assert(err < SL_SQS_E_COUNT);
	return errs[err].code;
}

bool sl_sqs_err_sender(enum sl_sqs_err err)
{
	assert(err < SL_SQS_E_COUNT);
	return errs[err].status < 500;
}

void sl_sqs_error(struct sl_req *req, enum sl_sqs_err err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	assert(err < SL_SQS_E_COUNT);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (capture) {
		/* The first error of an entry is its failure. */
		if (!capture->set) {
			capture->set = true;
			capture->err = err;
			size_t n = strnlen(msg, sizeof(capture->msg) - 1); /* cut, on purpose */
			memcpy(capture->msg, msg, n);
			capture->msg[n] = '\0';
		}
		return;
	}
	if (req->proto == SL_PROTO_QUERY) {
		sl_req_error(req, errs[err].status, errs[err].code, "%s", msg);
		return;
	}
	sl_req_error(req, errs[err].status, errs[err].json_type, "%s", msg);
	req->query_error = errs[err].header;
}

int sl_sqs_parse(struct sl_req *req, struct sl_doc_tok *toks, uint32_t max, struct sl_fields *f)
{
	return sl_fields_parse(req, toks, max, f) < 0 ? SL_FIELD_ERR : 0;
}

/* A string token into out[cap]: its length, or SL_FIELD_ERR with the
 * error set (what = the member's name for the message). */
static int tok_str(struct sl_fields *f, int i, const char *what, char *out, size_t cap,
		   size_t max)
{
	if (f->t[i].type != SL_DOC_STR) {
		sl_sqs_error(f->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value for parameter %s is invalid. Reason: must be a string.", what);
		return SL_FIELD_ERR;
	}
	int len = sl_doc_str(&f->t[i], out, cap);
	if (len == -1) {
		sl_sqs_error(f->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value for parameter %s is invalid. Reason: bad encoding.", what);
		return SL_FIELD_ERR;
	}
	if (len == -2 || (size_t)len > max) {
		sl_sqs_error(f->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value for parameter %s is invalid. Reason: longer than %zu.", what, max);
		return SL_FIELD_ERR;
	}
	return len;
}

int sl_sqs_str(struct sl_fields *f, const char *name, char *out, size_t cap, size_t min,
	       size_t max, bool required)
{
	int i = sl_doc_get(f->t, f->obj, name);

	assert(cap > 0);
	out[0] = '\0';
	if (i < 0) {
		if (!required)
			return 0;
		sl_sqs_error(f->req, SL_SQS_E_MISSING_PARAMETER,
			     "The request must contain the parameter %s.", name);
		return SL_FIELD_ERR;
	}
	int len = tok_str(f, i, name, out, cap, max);
	if (len == SL_FIELD_ERR)
		return len;
	if ((size_t)len < min) {
		sl_sqs_error(f->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value %s for parameter %s is invalid. Reason: shorter than %zu.", out,
			     name, min);
		return SL_FIELD_ERR;
	}
	return 1;
}

int sl_sqs_int(struct sl_fields *f, const char *name, int64_t min, int64_t max, bool required,
	       int64_t *out)
{
	int i = sl_doc_get(f->t, f->obj, name);
	char v[32], *end;

	if (i < 0) {
		if (!required)
			return 0;
		sl_sqs_error(f->req, SL_SQS_E_MISSING_PARAMETER,
			     "The request must contain the parameter %s.", name);
		return SL_FIELD_ERR;
	}
	const struct sl_doc_tok *t = &f->t[i];
	bool ok = true;
	if (t->type == SL_DOC_INT) {
		*out = t->i;
	} else if (t->type == SL_DOC_STR && f->req->proto == SL_PROTO_QUERY &&
		   sl_doc_str(t, v, sizeof(v)) > 0) {
		errno = 0;
		long long x = strtoll(v, &end, 10);
		ok = errno == 0 && *end == '\0';
		*out = x;
	} else {
		ok = false;
	}
	if (!ok || *out < min || *out > max) {
		sl_sqs_error(f->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value for parameter %s is invalid. Reason: must be between %lld and "
			     "%lld.", name, (long long)min, (long long)max);
		return SL_FIELD_ERR;
	}
	return 1;
}

int sl_sqs_map(struct sl_fields *f, const char *json_name, const char *query_name,
	       const char *key_name, size_t val_cap, sl_sqs_kv_fn fn, void *arg)
{
	bool query = f->req->proto == SL_PROTO_QUERY;
	int m = sl_doc_get(f->t, f->obj, query ? query_name : json_name);
	char key[SL_SQS_MAP_KEY_MAX + 1];
	int seen = 0;

	if (m < 0)
		return 0;
	const struct sl_doc_tok *t = f->t;
	if (t[m].type != (query ? SL_DOC_ARR : SL_DOC_OBJ)) {
		sl_sqs_error(f->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value for parameter %s is invalid. Reason: must be a map.", json_name);
		return SL_FIELD_ERR;
	}
	char *val = malloc(val_cap);
	if (!val) {
		sl_sqs_error(f->req, SL_SQS_E_INTERNAL, "out of memory");
		return SL_FIELD_ERR;
	}
	uint32_t c = sl_doc_first((uint32_t)m);
	int rc = 0;
	/* Bounded by the map's entry count. */
	for (uint32_t k = 0; k < t[m].count && rc == 0; k++) {
		int ki, vi;
		if (query) {
			/* Entry N: an object {<key_name>, Value}. */
			ki = t[c].type == SL_DOC_OBJ ? sl_doc_get(t, c, key_name) : -1;
			vi = t[c].type == SL_DOC_OBJ ? sl_doc_get(t, c, "Value") : -1;
			if (ki < 0 || vi < 0) {
				sl_sqs_error(f->req, SL_SQS_E_MISSING_PARAMETER,
					     "The request must contain the parameter %s.%u.%s.",
					     query_name, k + 1, ki < 0 ? key_name : "Value");
				rc = SL_FIELD_ERR;
				break;
			}
			c = sl_doc_next(t, c);
		} else {
			ki = (int)c;
			vi = (int)c + 1;
			c = sl_doc_next(t, (uint32_t)vi);
		}
		int kl = tok_str(f, ki, json_name, key, sizeof(key), SL_SQS_MAP_KEY_MAX);
		int vl = kl < 0 ? kl : tok_str(f, vi, key, val, val_cap, val_cap - 1);
		if (kl < 0 || vl < 0) {
			rc = SL_FIELD_ERR;
			break;
		}
		rc = fn(arg, key, val, (size_t)vl);
		seen++;
	}
	free(val);
	return rc < 0 ? rc : seen;
}

int sl_sqs_list(struct sl_fields *f, const char *json_name, const char *query_name,
		size_t item_cap, sl_sqs_item_fn fn, void *arg)
{
	bool query = f->req->proto == SL_PROTO_QUERY;
	int l = sl_doc_get(f->t, f->obj, query ? query_name : json_name);
	int rc = 0, seen = 0;

	if (l < 0)
		return 0;
	if (f->t[l].type != SL_DOC_ARR) {
		sl_sqs_error(f->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value for parameter %s is invalid. Reason: must be a list.", json_name);
		return SL_FIELD_ERR;
	}
	char *item = malloc(item_cap);
	if (!item) {
		sl_sqs_error(f->req, SL_SQS_E_INTERNAL, "out of memory");
		return SL_FIELD_ERR;
	}
	uint32_t c = sl_doc_first((uint32_t)l);
	for (uint32_t k = 0; k < f->t[l].count && rc == 0; k++, c = sl_doc_next(f->t, c)) {
		int len = tok_str(f, (int)c, json_name, item, item_cap, item_cap - 1);
		rc = len < 0 ? len : fn(arg, item, (size_t)len);
		seen++;
	}
	free(item);
	return rc < 0 ? rc : seen;
}

int sl_sqs_queue_name(struct sl_fields *f, char out[SL_SQS_NAME_MAX + 1])
{
	char url[SL_SQS_URL_MAX + 1];
	int rc = sl_sqs_str(f, "QueueUrl", url, sizeof(url), 0, SL_SQS_URL_MAX,
			    f->req->proto != SL_PROTO_QUERY);
	struct sl_req *req = f->req;

	if (rc == SL_FIELD_ERR)
		return rc;
	if (rc == 0) {
		/* Query: the queue's path stands for its URL. */
		size_t n = req->path.n < sizeof(url) ? req->path.n : 0;
		memcpy(url, req->path.p, n);
		url[n] = '\0';
		if (n <= 1) {
			sl_sqs_error(req, SL_SQS_E_MISSING_PARAMETER,
				     "The request must contain the parameter QueueUrl.");
			return SL_FIELD_ERR;
		}
	}
	/* The last two segments: the account and the name. */
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
	char *slash = strrchr(url, '/');
	const char *name = slash ? slash + 1 : url;
	size_t nl = strlen(name);
	bool ours = false;
	if (slash && slash > url) {
		*slash = '\0';
		char *acct = strrchr(url, '/');
		ours = acct && strcmp(acct + 1, sl_cfg->account_id) == 0;
	}
	bool fifo;
	if (!ours || !sl_queue_name_ok(name, nl, &fifo)) {
		sl_sqs_error(req, SL_SQS_E_NONEXISTENT_QUEUE, "The specified queue does not exist.");
		return SL_FIELD_ERR;
	}
	memcpy(out, name, nl + 1);
	return 0;
}

void sl_sqs_url(const struct sl_req *req, const char *name, char out[SL_SQS_URL_LEN])
{
	const struct sl_http_header *h = sl_req_header(req, "host");
	int hl = h && h->value_len <= SL_SQS_URL_MAX / 2 ? (int)h->value_len : 0;

	if (hl)
		snprintf(out, SL_SQS_URL_LEN, "http://%.*s/%s/%s", hl, h->value,
			 sl_cfg->account_id, name);
	else
		snprintf(out, SL_SQS_URL_LEN, "http://%s:%u/%s/%s", sl_cfg->listen_host,
			 sl_cfg->listen_port, sl_cfg->account_id, name);
}

void sl_sqs_map_begin(struct sl_req *req, const char *json_name, const char *query_name)
{
	struct sl_enc *e = &req->out;

	if (e->fmt == SL_ENC_XML) {
		sl_enc_key(e, query_name);
		sl_enc_arr_begin_flat(e);
	} else {
		sl_enc_key(e, json_name);
		sl_enc_obj_begin(e);
	}
}

void sl_sqs_map_put_n(struct sl_req *req, const char *key_name, const char *k, const char *v,
		      size_t vlen)
{
	struct sl_enc *e = &req->out;

	if (e->fmt == SL_ENC_XML) {
		sl_enc_obj_begin(e);
		sl_enc_key(e, key_name);
		sl_enc_cstr(e, k);
		sl_enc_key(e, "Value");
		sl_enc_str(e, v, vlen);
		sl_enc_obj_end(e);
	} else {
		sl_enc_key(e, k);
		sl_enc_str(e, v, vlen);
	}
}

void sl_sqs_map_put(struct sl_req *req, const char *key_name, const char *k, const char *v)
{
	sl_sqs_map_put_n(req, key_name, k, v, strlen(v));
}

void sl_sqs_map_end(struct sl_req *req)
{
	if (req->out.fmt == SL_ENC_XML)
		sl_enc_arr_end(&req->out);
	else
		sl_enc_obj_end(&req->out);
}

void sl_sqs_list_begin(struct sl_req *req, const char *json_name, const char *query_name)
{
	struct sl_enc *e = &req->out;

	sl_enc_key(e, e->fmt == SL_ENC_XML ? query_name : json_name);
	sl_enc_arr_begin_flat(e);
}

void sl_sqs_list_end(struct sl_req *req)
{
	sl_enc_arr_end(&req->out);
}
