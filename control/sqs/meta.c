/* meta.c - SQS queue metadata: create, find, list, attributes, tags,
 * delete. Control thread: every change goes into the catalog's open batch,
 * and the reply is held until that batch is durable.
 *
 * Attributes arrive as text under either protocol (sqs.h reads both). Each
 * is checked the way AWS checks it: a name it does not know, or one that
 * cannot be set, is InvalidAttributeName; a value out of range or of the
 * wrong form is InvalidAttributeValue; FIFO-only attributes on a standard
 * queue are unknown names there.
 */
#include "control/sqs/meta.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control/policy.h"
#include "control/sqs/queues.h"
#include "dataplane/codec/doc.h"
#include "dataplane/codec/enc.h"
#include "dataplane/net/server.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/worker.h"
#include "dataplane/services/sqs/data.h"
#include "dataplane/services/sqs/sqs.h"

static struct sl_doc_tok *ctl_toks;
static struct sl_doc_tok *policy_toks; /* for the JSON inside attribute values */
#define POLICY_TOKS_MAX (SL_SQS_POLICY_MAX / 2 + 2)

/* ---- Attribute names -------------------------------------------------------- */

enum attr {
	A_DELAY, A_MAX_SIZE, A_RETENTION, A_POLICY, A_WAIT, A_VISIBILITY, A_REDRIVE,
	A_REDRIVE_ALLOW, A_KMS_KEY, A_KMS_REUSE, A_SSE, A_FIFO, A_CBD, A_DEDUP_SCOPE,
	A_THROUGHPUT,
	A_SETTABLE, /* the rest are read-only */
	A_ARN = A_SETTABLE, A_MESSAGES, A_NOT_VISIBLE, A_DELAYED, A_CREATED, A_MODIFIED,
	A_ALL, A_COUNT,
};

static const char *const attr_names[A_COUNT] = {
	[A_DELAY] = "DelaySeconds",
	[A_MAX_SIZE] = "MaximumMessageSize",
	[A_RETENTION] = "MessageRetentionPeriod",
	[A_POLICY] = "Policy",
	[A_WAIT] = "ReceiveMessageWaitTimeSeconds",
	[A_VISIBILITY] = "VisibilityTimeout",
	[A_REDRIVE] = "RedrivePolicy",
	[A_REDRIVE_ALLOW] = "RedriveAllowPolicy",
	[A_KMS_KEY] = "KmsMasterKeyId",
	[A_KMS_REUSE] = "KmsDataKeyReusePeriodSeconds",
	[A_SSE] = "SqsManagedSseEnabled",
	[A_FIFO] = "FifoQueue",
	[A_CBD] = "ContentBasedDeduplication",
	[A_DEDUP_SCOPE] = "DeduplicationScope",
	[A_THROUGHPUT] = "FifoThroughputLimit",
	[A_ARN] = "QueueArn",
	[A_MESSAGES] = "ApproximateNumberOfMessages",
	[A_NOT_VISIBLE] = "ApproximateNumberOfMessagesNotVisible",
	[A_DELAYED] = "ApproximateNumberOfMessagesDelayed",
	[A_CREATED] = "CreatedTimestamp",
	[A_MODIFIED] = "LastModifiedTimestamp",
	[A_ALL] = "All",
};

static bool fifo_only(enum attr a)
{
	return a == A_FIFO || a == A_CBD || a == A_DEDUP_SCOPE || a == A_THROUGHPUT;
}

static int attr_find(const char *name)
{
	for (int a = 0; a < A_COUNT; a++) {
		if (strcmp(attr_names[a], name) == 0)
			return a;
	}
	return -1;
}

/* Attributes as a request gives them, parsed and checked. */
struct attrs {
	bool set[A_SETTABLE];
	bool fifo, cbd, sse;
	uint8_t dedup_scope, throughput;
	uint32_t num[A_SETTABLE]; /* the numeric ones */
	char *str[A_SETTABLE];    /* policy, redrive, redrive_allow, kms key: "" unsets */
	bool fifo_queue;          /* the queue they are for is (or will be) FIFO */
	bool creating;            /* CreateQueue: FifoQueue may be given */
	const char *region;
	const char *qname;        /* the queue they are for */
	struct sl_req *req;
};

static void attrs_free(struct attrs *a)
{
	for (int i = 0; i < A_SETTABLE; i++)
		free(a->str[i]);
}

static int bad_value(struct attrs *a, const char *name)
{
	sl_sqs_error(a->req, SL_SQS_E_INVALID_ATTRIBUTE_VALUE, "Invalid value for the parameter %s.",
		     name);
	return SL_FIELD_ERR;
}

static bool parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t x = 0;

	if (!*v || strlen(v) > 10)
		return false;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	if (x < min || x > max)
		return false;
	*out = (uint32_t)x;
	return true;
}

static bool parse_bool(const char *v, bool *out)
{
	if (strcasecmp(v, "true") == 0)
		*out = true;
	else if (strcasecmp(v, "false") == 0)
		*out = false;
	else
		return false;
	return true;
}

/* Parse a JSON object held in an attribute value. Returns the token count
 * or -1. */
static int json_value(const char *v, size_t len)
{
	int n = sl_json_parse((const uint8_t *)v, len, policy_toks, POLICY_TOKS_MAX);

	return n > 0 && policy_toks[0].type == SL_DOC_OBJ ? n : -1;
}

/* RedrivePolicy: {"deadLetterTargetArn": "<arn of an existing queue of the
 * same account, region and type>", "maxReceiveCount": 1..1000}. */
static int check_redrive(struct attrs *a, const char *v, size_t len)
{
	char arn[SL_QUEUE_ARN_MAX + 1], prefix[SL_QUEUE_ARN_MAX], cnt[16];
	int64_t max_rc = 0;

	if (json_value(v, len) < 0)
		return bad_value(a, "RedrivePolicy");
	int ai = sl_doc_get(policy_toks, 0, "deadLetterTargetArn");
	int mi = sl_doc_get(policy_toks, 0, "maxReceiveCount");
	if (ai < 0 || mi < 0 || sl_doc_str(&policy_toks[ai], arn, sizeof(arn)) <= 0) {
		sl_sqs_error(a->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy "
			     "is not a valid JSON map with deadLetterTargetArn and maxReceiveCount.",
			     v);
		return SL_FIELD_ERR;
	}
	if (policy_toks[mi].type == SL_DOC_INT)
		max_rc = policy_toks[mi].i;
	else if (policy_toks[mi].type == SL_DOC_STR && sl_doc_str(&policy_toks[mi], cnt, sizeof(cnt)) > 0)
		max_rc = strtoll(cnt, NULL, 10);
	if (max_rc < 1 || max_rc > SL_SQS_MAX_RECEIVE_MAX) {
		sl_sqs_error(a->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value %s for parameter RedrivePolicy is invalid. Reason: Invalid value "
			     "for maxReceiveCount: %lld, valid values are from 1 to %d both inclusive.",
			     v, (long long)max_rc, SL_SQS_MAX_RECEIVE_MAX);
		return SL_FIELD_ERR;
	}
	int pl = snprintf(prefix, sizeof(prefix), "arn:aws:sqs:%s:%s:", a->region, sl_cfg->account_id);
	const struct sl_queue *dlq = strncmp(arn, prefix, (size_t)pl) == 0 ?
		sl_queue_find(sl_catalog_master(), a->region, arn + pl) : NULL;
	if (!dlq) {
		sl_sqs_error(a->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value %s for parameter RedrivePolicy is invalid. Reason: Dead-letter "
			     "target does not exist.", v);
		return SL_FIELD_ERR;
	}
	if (dlq->fifo != a->fifo_queue) {
		sl_sqs_error(a->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value %s for parameter RedrivePolicy is invalid. Reason: Dead-letter "
			     "queue must be same type of queue as the source.", v);
		return SL_FIELD_ERR;
	}
	char src[SL_QUEUE_ARN_MAX + 1];
	snprintf(src, sizeof(src), "%s%s", prefix, a->qname);
	if (!sl_queue_redrive_allows(dlq, src)) {
		sl_sqs_error(a->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value %s for parameter RedrivePolicy is invalid. Reason: The "
			     "RedriveAllowPolicy of %s does not allow %s to use it as its "
			     "dead-letter queue.", v, arn, src);
		return SL_FIELD_ERR;
	}
	return 0;
}

/* RedriveAllowPolicy: {"redrivePermission": allowAll|denyAll|byQueue,
 * "sourceQueueArns": [1..10 ARNs] only and always with byQueue}. */
static int check_redrive_allow(struct attrs *a, const char *v, size_t len)
{
	char perm[16];

	if (json_value(v, len) < 0)
		return bad_value(a, "RedriveAllowPolicy");
	int pi = sl_doc_get(policy_toks, 0, "redrivePermission");
	int si = sl_doc_get(policy_toks, 0, "sourceQueueArns");
	if (pi < 0 || sl_doc_str(&policy_toks[pi], perm, sizeof(perm)) <= 0)
		return bad_value(a, "RedriveAllowPolicy");
	bool by_queue = strcmp(perm, "byQueue") == 0;
	if (!by_queue && strcmp(perm, "allowAll") != 0 && strcmp(perm, "denyAll") != 0)
		return bad_value(a, "RedriveAllowPolicy");
	if (by_queue != (si >= 0))
		return bad_value(a, "RedriveAllowPolicy");
	if (si >= 0 && (policy_toks[si].type != SL_DOC_ARR || policy_toks[si].count == 0 ||
			policy_toks[si].count > SL_SQS_REDRIVE_SOURCES_MAX))
		return bad_value(a, "RedriveAllowPolicy");
	return 0;
}

static int keep_str(struct attrs *a, enum attr id, const char *v)
{
	free(a->str[id]);
	a->str[id] = strdup(v);
	if (!a->str[id]) {
		sl_sqs_error(a->req, SL_SQS_E_INTERNAL, "out of memory");
		return SL_FIELD_ERR;
	}
	return 0;
}

static int attr_one(void *arg, const char *name, const char *v, size_t len)
{
	struct attrs *a = arg;
	int id = attr_find(name);

	/* FifoQueue itself is known to both types: its value decides. */
	if (id < 0 || id >= A_SETTABLE || (id == A_FIFO && !a->creating) ||
	    (fifo_only((enum attr)id) && id != A_FIFO && !a->fifo_queue)) {
		sl_sqs_error(a->req, SL_SQS_E_INVALID_ATTRIBUTE_NAME, "Unknown Attribute %s.", name);
		return SL_FIELD_ERR;
	}
	static const uint32_t lo[A_SETTABLE] = { [A_MAX_SIZE] = SL_SQS_MSG_SIZE_MIN,
						 [A_RETENTION] = SL_SQS_RETENTION_MIN_S,
						 [A_KMS_REUSE] = SL_SQS_KMS_REUSE_MIN_S };
	static const uint32_t hi[A_SETTABLE] = { [A_DELAY] = SL_SQS_DELAY_MAX_S,
						 [A_MAX_SIZE] = SL_SQS_MSG_SIZE_MAX,
						 [A_RETENTION] = SL_SQS_RETENTION_MAX_S,
						 [A_WAIT] = SL_SQS_WAIT_MAX_S,
						 [A_VISIBILITY] = SL_SQS_VISIBILITY_MAX_S,
						 [A_KMS_REUSE] = SL_SQS_KMS_REUSE_MAX_S };
	a->set[id] = true;
	switch ((enum attr)id) {
	case A_DELAY:
	case A_MAX_SIZE:
	case A_RETENTION:
	case A_WAIT:
	case A_VISIBILITY:
	case A_KMS_REUSE:
		return parse_u32(v, lo[id], hi[id], &a->num[id]) ? 0 : bad_value(a, name);
	case A_SSE:
		return parse_bool(v, &a->sse) ? 0 : bad_value(a, name);
	case A_FIFO:
		return parse_bool(v, &a->fifo) ? 0 : bad_value(a, name);
	case A_CBD:
		return parse_bool(v, &a->cbd) ? 0 : bad_value(a, name);
	case A_DEDUP_SCOPE:
		if (strcmp(v, "queue") != 0 && strcmp(v, "messageGroup") != 0)
			return bad_value(a, name);
		a->dedup_scope = v[0] == 'm' ? SL_SQS_DEDUP_GROUP : SL_SQS_DEDUP_QUEUE;
		return 0;
	case A_THROUGHPUT:
		if (strcmp(v, "perQueue") != 0 && strcmp(v, "perMessageGroupId") != 0)
			return bad_value(a, name);
		a->throughput = v[3] == 'M' ? SL_SQS_PER_GROUP : SL_SQS_PER_QUEUE;
		return 0;
	case A_POLICY:
		if (len > SL_SQS_POLICY_MAX || (len && json_value(v, len) < 0))
			return bad_value(a, name);
		return keep_str(a, (enum attr)id, v);
	case A_REDRIVE:
		if (len > SL_SQS_REDRIVE_MAX || (len && check_redrive(a, v, len) < 0))
			return len > SL_SQS_REDRIVE_MAX ? bad_value(a, name) : SL_FIELD_ERR;
		return keep_str(a, (enum attr)id, v);
	case A_REDRIVE_ALLOW:
		if (len > SL_SQS_REDRIVE_MAX || (len && check_redrive_allow(a, v, len) < 0))
			return len > SL_SQS_REDRIVE_MAX ? bad_value(a, name) : SL_FIELD_ERR;
		return keep_str(a, (enum attr)id, v);
	case A_KMS_KEY:
		if (len > SL_SQS_KMS_KEY_MAX)
			return bad_value(a, name);
		return keep_str(a, (enum attr)id, v);
	default:
		assert(0 && "read-only attributes were refused above");
		return SL_FIELD_ERR;
	}
}

/* Read and check the request's attributes for a queue of the given type. */
static int attrs_read(struct sl_fields *f, struct attrs *a, bool fifo_queue, bool creating,
		      const char *qname)
{
	memset(a, 0, sizeof(*a));
	a->qname = qname;
	a->req = f->req;
	a->creating = creating;
	a->region = f->req->region;
	a->fifo_queue = fifo_queue;
	int n = sl_sqs_map(f, "Attributes", "Attribute", "Name", SL_SQS_POLICY_MAX + 1, attr_one, a);
	if (n < 0)
		return n;
	if (a->set[A_THROUGHPUT] && a->throughput == SL_SQS_PER_GROUP && a->set[A_DEDUP_SCOPE] &&
	    a->dedup_scope != SL_SQS_DEDUP_GROUP) {
		sl_sqs_error(f->req, SL_SQS_E_INVALID_ATTRIBUTE_VALUE,
			     "Invalid value for the parameter FifoThroughputLimit. Reason: "
			     "perMessageGroupId requires DeduplicationScope messageGroup.");
		return SL_FIELD_ERR;
	}
	if (a->set[A_SSE] && a->sse && a->str[A_KMS_KEY] && a->str[A_KMS_KEY][0]) {
		sl_sqs_error(f->req, SL_SQS_E_INVALID_ATTRIBUTE_VALUE,
			     "Invalid value for the parameter SqsManagedSseEnabled. Reason: a queue "
			     "is encrypted with SSE-SQS or with a KMS key, not both.");
		return SL_FIELD_ERR;
	}
	return n;
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* Would applying a change q? (CreateQueue of an existing queue.) The name
 * of the first attribute that differs, or NULL. */
static const char *attrs_differ(const struct attrs *a, const struct sl_queue *q)
{
	const uint32_t cur[A_SETTABLE] = { [A_DELAY] = q->delay_s, [A_MAX_SIZE] = q->max_size,
					   [A_RETENTION] = q->retention_s, [A_WAIT] = q->wait_s,
					   [A_VISIBILITY] = q->visibility_s,
					   [A_KMS_REUSE] = q->kms_reuse_s };
	const char *curs[A_SETTABLE] = { [A_POLICY] = q->policy, [A_REDRIVE] = q->redrive,
					 [A_REDRIVE_ALLOW] = q->redrive_allow,
					 [A_KMS_KEY] = q->kms_key };

	for (int i = 0; i < A_SETTABLE; i++) {
		if (!a->set[i])
			continue;
		bool same;
		switch ((enum attr)i) {
		case A_SSE: same = a->sse == q->sse; break;
		case A_FIFO: same = a->fifo == q->fifo; break;
		case A_CBD: same = a->cbd == q->content_dedup; break;
		case A_DEDUP_SCOPE: same = a->dedup_scope == q->dedup_scope; break;
		case A_THROUGHPUT: same = a->throughput == q->throughput; break;
		case A_POLICY:
		case A_REDRIVE:
		case A_REDRIVE_ALLOW:
		case A_KMS_KEY: same = strcmp(a->str[i], str_or_empty(curs[i])) == 0; break;
		default: same = a->num[i] == cur[i]; break;
		}
		if (!same)
			return attr_names[i];
	}
	return NULL;
}

/* Apply checked attributes to q (a version this batch may change). */
static int attrs_apply(const struct attrs *a, struct sl_queue *q)
{
	uint32_t *nums[A_SETTABLE] = { [A_DELAY] = &q->delay_s, [A_MAX_SIZE] = &q->max_size,
				       [A_RETENTION] = &q->retention_s, [A_WAIT] = &q->wait_s,
				       [A_VISIBILITY] = &q->visibility_s,
				       [A_KMS_REUSE] = &q->kms_reuse_s };
	char **strs[A_SETTABLE] = { [A_POLICY] = &q->policy, [A_REDRIVE] = &q->redrive,
				    [A_REDRIVE_ALLOW] = &q->redrive_allow,
				    [A_KMS_KEY] = &q->kms_key };

	for (int i = 0; i < A_SETTABLE; i++) {
		if (!a->set[i])
			continue;
		if (nums[i]) {
			*nums[i] = a->num[i];
		} else if (strs[i]) {
			/* An empty value removes the attribute. */
			if (sl_queue_set_str(strs[i], a->str[i][0] ? a->str[i] : NULL) < 0)
				return -ENOMEM;
		}
	}
	if (a->set[A_CBD])
		q->content_dedup = a->cbd;
	if (a->set[A_DEDUP_SCOPE])
		q->dedup_scope = a->dedup_scope;
	if (a->set[A_THROUGHPUT])
		q->throughput = a->throughput;
	if (a->set[A_SSE])
		q->sse = a->sse;
	/* A KMS key replaces SSE-SQS; removing it leaves the queue as set. */
	if (a->set[A_KMS_KEY] && q->kms_key)
		q->sse = false;
	return 0;
}

/* ---- Deleted names ----------------------------------------------------------- */

/* Names deleted within the last SL_SQS_DELETED_RECENTLY_MS, oldest first
 * (a ring; past its size the oldest are forgotten early). In memory only:
 * after a restart the wait is forgotten. */
static struct deleted {
	char region[SL_REGION_MAX + 1];
	char name[SL_SQS_NAME_MAX + 1];
	int64_t at_ms;
} deleted[SL_SQS_DELETED_TRACK_MAX];
static uint32_t deleted_head, deleted_n;

static void deleted_add(const char *region, const char *name)
{
	struct deleted *d = &deleted[(deleted_head + deleted_n) % SL_SQS_DELETED_TRACK_MAX];

	if (deleted_n == SL_SQS_DELETED_TRACK_MAX) {
		deleted_head = (deleted_head + 1) % SL_SQS_DELETED_TRACK_MAX;
		deleted_n--;
	}
	snprintf(d->region, sizeof(d->region), "%s", region);
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->at_ms = sl_now_ms();
	deleted_n++;
}

static bool deleted_recently(const char *region, const char *name)
{
	int64_t now = sl_now_ms();

	/* Expired entries at the head go first. */
	while (deleted_n && now - deleted[deleted_head].at_ms >= SL_SQS_DELETED_RECENTLY_MS) {
		deleted_head = (deleted_head + 1) % SL_SQS_DELETED_TRACK_MAX;
		deleted_n--;
	}
	for (uint32_t i = 0; i < deleted_n; i++) {
		const struct deleted *d = &deleted[(deleted_head + i) % SL_SQS_DELETED_TRACK_MAX];
		if (strcmp(d->name, name) == 0 && strcmp(d->region, region) == 0)
			return true;
	}
	return false;
}

/* ---- Tags ---------------------------------------------------------------------- */

struct tags_in {
	struct sl_req *req;
	uint32_t n;
	char keys[SL_SQS_TAGS_MAX + 1][SL_SQS_TAG_KEY_MAX + 1];
	char *values[SL_SQS_TAGS_MAX + 1];
};

static int tag_one(void *arg, const char *key, const char *v, size_t len)
{
	struct tags_in *t = arg;
	size_t kl = strlen(key);

	if (kl == 0 || kl > SL_SQS_TAG_KEY_MAX || len > SL_SQS_TAG_VALUE_MAX) {
		sl_sqs_error(t->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Tag keys must be 1 to %d characters and values at most %d.",
			     SL_SQS_TAG_KEY_MAX, SL_SQS_TAG_VALUE_MAX);
		return SL_FIELD_ERR;
	}
	if (t->n == SL_SQS_TAGS_MAX + 1) {
		sl_sqs_error(t->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Too many tags added for queue. A queue can have at most %d tags.",
			     SL_SQS_TAGS_MAX);
		return SL_FIELD_ERR;
	}
	memcpy(t->keys[t->n], key, kl + 1);
	t->values[t->n] = strdup(v);
	if (!t->values[t->n]) {
		sl_sqs_error(t->req, SL_SQS_E_INTERNAL, "out of memory");
		return SL_FIELD_ERR;
	}
	t->n++;
	return 0;
}

static void tags_free(struct tags_in *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		free(t->values[i]);
	free(t);
}

static struct tags_in *tags_read(struct sl_fields *f, const char *json_name, bool required)
{
	struct tags_in *t = calloc(1, sizeof(*t));

	if (!t) {
		sl_sqs_error(f->req, SL_SQS_E_INTERNAL, "out of memory");
		return NULL;
	}
	t->req = f->req;
	int n = sl_sqs_map(f, json_name, "Tag", "Key", SL_SQS_TAG_VALUE_MAX + 1, tag_one, t);
	if (n == 0 && required) {
		sl_sqs_error(f->req, SL_SQS_E_MISSING_PARAMETER,
			     "The request must contain the parameter Tags.");
		n = SL_FIELD_ERR;
	}
	if (n < 0) {
		tags_free(t);
		return NULL;
	}
	return t;
}

/* Would q hold at most SL_SQS_TAGS_MAX tags with t applied? Checked
 * before any change, so that an error leaves the queue as it was. */
static bool tags_fit(const struct tags_in *t, const struct sl_queue *q)
{
	uint32_t n = q ? q->ntags : 0;

	for (uint32_t i = 0; i < t->n; i++) {
		bool have = false;
		for (uint32_t k = 0; q && k < q->ntags && !have; k++)
			have = strcmp(q->tags[k].key, t->keys[i]) == 0;
		for (uint32_t k = 0; k < i && !have; k++)
			have = strcmp(t->keys[k], t->keys[i]) == 0;
		n += !have;
	}
	return n <= SL_SQS_TAGS_MAX;
}

/* Apply tags to q; InvalidParameterValue when the queue would hold more
 * than SL_SQS_TAGS_MAX. */
static int tags_apply(struct sl_req *req, const struct tags_in *t, struct sl_queue *q)
{
	for (uint32_t i = 0; i < t->n; i++) {
		int rc = sl_queue_tag(q, t->keys[i], t->values[i]);
		if (rc == -E2BIG) {
			sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
				     "Too many tags added for queue %s.", q->name);
			return SL_FIELD_ERR;
		}
		if (rc < 0) {
			sl_sqs_error(req, SL_SQS_E_INTERNAL, "out of memory");
			return SL_FIELD_ERR;
		}
	}
	return 0;
}

/* ---- Operations ------------------------------------------------------------------ */

static int parse(struct sl_req *req, struct sl_fields *f)
{
	return sl_sqs_parse(req, ctl_toks, SL_DOC_TOKS_MAX, f);
}

static void reply_url(struct sl_req *req, const char *name)
{
	char url[SL_SQS_URL_LEN];

	sl_sqs_url(req, name, url);
	sl_reply_begin(req);
	sl_enc_key(&req->out, "QueueUrl");
	sl_enc_cstr(&req->out, url);
	sl_reply_end(req);
}

/* The queue the request names (QueueUrl), in the master catalog, or NULL
 * with NonExistentQueue set. */
static const struct sl_queue *named_queue(struct sl_req *req, struct sl_fields *f)
{
	char name[SL_SQS_NAME_MAX + 1];

	if (parse(req, f) < 0 || sl_sqs_queue_name(f, name) < 0)
		return NULL;
	const struct sl_queue *q = sl_queue_find(sl_catalog_master(), req->region, name);
	if (!q)
		sl_sqs_error(req, SL_SQS_E_NONEXISTENT_QUEUE, "The specified queue does not exist.");
	return q;
}

static struct sl_queue *edit(struct sl_req *req, const struct sl_queue *q)
{
	struct sl_queue *m = sl_queue_edit(q);

	if (!m)
		sl_sqs_error(req, SL_SQS_E_INTERNAL, "out of memory");
	return m;
}

/* The end of an edit of queue m: an error for rc < 0 (none more when m
 * is NULL: edit() reported it), or the change stamped, committed and
 * answered. */
static void edit_done(struct sl_req *req, struct sl_queue *m, int rc)
{
	if (rc < 0) {
		if (m)
			sl_sqs_error(req, SL_SQS_E_INTERNAL, "out of memory");
		return;
	}
	m->modified_ms = sl_now_ms();
	sl_catalog_commit();
	sl_reply_begin(req);
	sl_reply_end(req);
}

static bool name_valid(const char *name, bool *fifo)
{
	return sl_queue_name_ok(name, strlen(name), fifo);
}

void sl_sqs_create_queue(struct sl_req *req)
{
	struct sl_fields f;
	char name[SL_SQS_NAME_MAX + 1];
	struct attrs a;
	bool fifo;

	if (parse(req, &f) < 0 ||
	    sl_sqs_str(&f, "QueueName", name, sizeof(name), 0, SL_SQS_NAME_MAX * 4, true) < 0)
		return;
	if (!name_valid(name, &fifo)) {
		sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Can only include alphanumeric characters, hyphens, or underscores. 1 "
			     "to 80 in length");
		return;
	}
	if (attrs_read(&f, &a, fifo, true, name) < 0) {
		attrs_free(&a);
		return;
	}
	if (fifo != (a.set[A_FIFO] && a.fifo)) {
		attrs_free(&a);
		sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     fifo ? "The name of a FIFO queue can only include alphanumeric "
				    "characters, hyphens, or underscores, must end with .fifo suffix "
				    "and be 1 to 80 in length." :
				    "Can only include alphanumeric characters, hyphens, or "
				    "underscores. 1 to 80 in length");
		return;
	}
	const struct sl_queue *old = sl_queue_find(sl_catalog_master(), req->region, name);
	if (old) {
		/* Idempotent with the same attributes; tags are not compared. */
		const char *diff = attrs_differ(&a, old);
		attrs_free(&a);
		if (diff)
			sl_sqs_error(req, SL_SQS_E_QUEUE_EXISTS,
				     "A queue already exists with the same name and a different "
				     "value for attribute %s", diff);
		else
			reply_url(req, name);
		return;
	}
	if (deleted_recently(req->region, name)) {
		attrs_free(&a);
		sl_sqs_error(req, SL_SQS_E_DELETED_RECENTLY,
			     "You must wait %d seconds after deleting a queue before you can create "
			     "another with the same name.", SL_SQS_DELETED_RECENTLY_MS / 1000);
		return;
	}
	if (sl_queues_count() >= SL_SQS_QUEUES_MAX) {
		attrs_free(&a);
		sl_sqs_error(req, SL_SQS_E_OVER_LIMIT,
			     "This server holds %d queues, the most it keeps.", SL_SQS_QUEUES_MAX);
		return;
	}
	struct tags_in *t = tags_read(&f, "tags", false);
	if (!t) {
		attrs_free(&a);
		return;
	}
	if (!tags_fit(t, NULL)) {
		attrs_free(&a);
		tags_free(t);
		sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Too many tags added for queue %s.", name);
		return;
	}
	struct sl_queue *q = sl_queue_add(req->region, name, fifo);
	int rc = q ? attrs_apply(&a, q) : -ENOMEM;
	attrs_free(&a);
	if (rc == 0) {
		q->created_ms = q->modified_ms = sl_now_ms();
		rc = tags_apply(req, t, q);
	} else {
		sl_sqs_error(req, SL_SQS_E_INTERNAL, "out of memory");
	}
	tags_free(t);
	if (rc < 0) {
		if (q)
			sl_queue_remove(q);
		return;
	}
	/* Its partitions' logs, made ahead (and named durably with this pass's
	 * commit): a first send, or a topic's first publish to a hundred new
	 * queues, then waits for no file to be made. */
	for (uint32_t p = 0; p < (q->nparts ? q->nparts : 1u); p++)
		sl_worker_log_premake(q->hdr.uid, p);
	sl_catalog_commit();
	reply_url(req, name);
}

void sl_sqs_get_queue_url(struct sl_req *req)
{
	struct sl_fields f;
	char name[SL_SQS_NAME_MAX + 1], owner[32];

	if (parse(req, &f) < 0 ||
	    sl_sqs_str(&f, "QueueName", name, sizeof(name), 0, SL_SQS_NAME_MAX * 4, true) < 0 ||
	    sl_sqs_str(&f, "QueueOwnerAWSAccountId", owner, sizeof(owner), 0, 24, false) < 0)
		return;
	if ((owner[0] && strcmp(owner, sl_cfg->account_id) != 0) ||
	    !sl_queue_find(sl_catalog_master(), req->region, name)) {
		sl_sqs_error(req, SL_SQS_E_NONEXISTENT_QUEUE, "The specified queue does not exist.");
		return;
	}
	reply_url(req, name);
}

struct dropped {
	uint64_t uid;
	uint32_t nparts;
};

static void drop_durable(void *arg)
{
	struct dropped *d = arg;

	sl_worker_logs_premade_forget(d->uid);
	sl_sqs_drop_partitions(d->uid, d->nparts);
	free(d);
}

void sl_sqs_delete_queue(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_queue *q = named_queue(req, &f);

	if (!q)
		return;
	/* The partitions go once the removal is durable: a crash before keeps
	 * both, one after leaves orphans that start-up removes. */
	struct dropped *d = malloc(sizeof(*d));
	if (!d || sl_catalog_on_durable(drop_durable, d) < 0) {
		free(d);
		sl_sqs_error(req, SL_SQS_E_INTERNAL, "out of memory");
		return;
	}
	d->uid = q->hdr.uid;
	d->nparts = q->nparts ? q->nparts : 1;
	deleted_add(q->region, q->name);
	sl_queue_remove(q);
	sl_catalog_commit();
	sl_reply_begin(req);
	sl_reply_end(req);
}

/* MaxResults (1..1000, default 1000 into *max) and NextToken (the base64
 * of the last queue name of the page before, into after; "" without one)
 * of a paged list. 1 or 0: MaxResults given or not; -1 with the error
 * set. */
static int paging_read(struct sl_req *req, struct sl_fields *f, int64_t *max, char *after)
{
	char token[2 * SL_SQS_NAME_MAX + 8];
	bool fifo;

	*max = SL_SQS_LIST_MAX;
	after[0] = '\0';
	int has_max = sl_sqs_int(f, "MaxResults", 1, SL_SQS_LIST_MAX, false, max);
	int has_token = has_max < 0 ? has_max :
		sl_sqs_str(f, "NextToken", token, sizeof(token), 0, sizeof(token) - 1, false);
	if (has_max < 0 || has_token < 0)
		return -1;
	if (has_token > 0 && token[0]) {
		long n = sl_base64_dec((uint8_t *)after, token, strlen(token));
		if (n <= 0 || (size_t)n > SL_SQS_NAME_MAX || memchr(after, 0, (size_t)n) ||
		    (after[n] = '\0', !name_valid(after, &fifo))) {
			sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE, "Invalid NextToken value.");
			return -1;
		}
	}
	return has_max;
}

/* The NextToken of a page that ends at queue name last. */
static void paging_write(struct sl_req *req, const char *last)
{
	char tok[2 * SL_SQS_NAME_MAX + 8];
	size_t tl = sl_base64_enc(tok, (const uint8_t *)last, strlen(last));

	tok[tl] = '\0';
	sl_enc_key(&req->out, "NextToken");
	sl_enc_cstr(&req->out, tok);
}

struct list_walk {
	struct sl_req *req;
	const char *prefix;
	size_t prefix_len;
	uint32_t max;
	uint32_t n;
	bool more;
	char last[SL_SQS_NAME_MAX + 1];
};

static bool list_one(const struct sl_queue *q, void *arg)
{
	struct list_walk *lw = arg;
	char url[SL_SQS_URL_LEN];

	if (strncmp(q->name, lw->prefix, lw->prefix_len) != 0)
		return strcmp(q->name, lw->prefix) < 0; /* names past the prefix end it */
	if (lw->n == lw->max) {
		lw->more = true;
		return false;
	}
	if (lw->n == 0)
		sl_sqs_list_begin(lw->req, "QueueUrls", "QueueUrl");
	sl_sqs_url(lw->req, q->name, url);
	sl_enc_cstr(&lw->req->out, url);
	snprintf(lw->last, sizeof(lw->last), "%s", q->name);
	lw->n++;
	return true;
}

void sl_sqs_list_queues(struct sl_req *req)
{
	struct sl_fields f;
	char prefix[SL_SQS_NAME_MAX + 1], after[SL_SQS_NAME_MAX + 1];
	int64_t max;

	if (parse(req, &f) < 0 ||
	    sl_sqs_str(&f, "QueueNamePrefix", prefix, sizeof(prefix), 0, SL_SQS_NAME_MAX, false) < 0)
		return;
	int has_max = paging_read(req, &f, &max, after);
	if (has_max < 0)
		return;
	/* Start at the prefix or past the token's name, whichever is later. */
	const char *from = strcmp(after, prefix) > 0 ? after : prefix;
	struct list_walk lw = { req, prefix, strlen(prefix), (uint32_t)max, 0, false, "" };
	sl_reply_begin(req);
	if (from[0]) {
		/* The walk is exclusive of `from`: a queue named exactly the
		 * prefix is visited first, by hand. */
		const struct sl_queue *q = from == prefix ?
			sl_queue_find(sl_catalog_master(), req->region, prefix) : NULL;
		if (q)
			list_one(q, &lw);
	}
	if (!lw.more)
		sl_queue_walk(sl_catalog_master(), req->region, from[0] ? from : NULL, list_one, &lw);
	if (lw.n)
		sl_sqs_list_end(req);
	if (lw.more && has_max > 0)
		paging_write(req, lw.last);
	sl_reply_end(req);
}

/* ---- Attributes out ----------------------------------------------------------- */

struct get_want {
	struct sl_req *req;
	bool want[A_COUNT];
};

static int want_one(void *arg, const char *s, size_t len)
{
	struct get_want *g = arg;
	int id = attr_find(s);

	(void)len;
	if (id < 0) {
		sl_sqs_error(g->req, SL_SQS_E_INVALID_ATTRIBUTE_NAME, "Unknown Attribute %s.", s);
		return SL_FIELD_ERR;
	}
	g->want[id] = true;
	return 0;
}

static void put_num(struct sl_req *req, enum attr id, uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	sl_sqs_map_put(req, "Name", attr_names[id], b);
}

static void put_attrs(struct sl_req *req, const struct sl_queue *q, const bool *want)
{
	char arn[SL_QUEUE_ARN_MAX];
	bool all = want[A_ALL];
	bool any = false;
	uint64_t counts[3] = { 0, 0, 0 };

	for (int i = 0; i < A_COUNT && !any; i++)
		any = want[i];
	if (!any)
		return; /* no names: no Attributes at all, as AWS answers */
	if (all || want[A_MESSAGES] || want[A_NOT_VISIBLE] || want[A_DELAYED])
		sl_sqs_counts(q->hdr.uid, counts); /* from the partitions' owners */
	sl_sqs_map_begin(req, "Attributes", "Attribute");
#define W(id) (all || want[id])
	if (W(A_ARN)) {
		sl_queue_arn(q, arn);
		sl_sqs_map_put(req, "Name", attr_names[A_ARN], arn);
	}
	if (W(A_MESSAGES))
		put_num(req, A_MESSAGES, counts[0]);
	if (W(A_NOT_VISIBLE))
		put_num(req, A_NOT_VISIBLE, counts[1]);
	if (W(A_DELAYED))
		put_num(req, A_DELAYED, counts[2]);
	if (W(A_CREATED))
		put_num(req, A_CREATED, (uint64_t)(q->created_ms / 1000));
	if (W(A_MODIFIED))
		put_num(req, A_MODIFIED, (uint64_t)(q->modified_ms / 1000));
	if (W(A_VISIBILITY))
		put_num(req, A_VISIBILITY, q->visibility_s);
	if (W(A_MAX_SIZE))
		put_num(req, A_MAX_SIZE, q->max_size);
	if (W(A_RETENTION))
		put_num(req, A_RETENTION, q->retention_s);
	if (W(A_DELAY))
		put_num(req, A_DELAY, q->delay_s);
	if (W(A_WAIT))
		put_num(req, A_WAIT, q->wait_s);
	if (W(A_POLICY) && q->policy)
		sl_sqs_map_put(req, "Name", attr_names[A_POLICY], q->policy);
	if (W(A_REDRIVE) && q->redrive)
		sl_sqs_map_put(req, "Name", attr_names[A_REDRIVE], q->redrive);
	if (W(A_REDRIVE_ALLOW) && q->redrive_allow)
		sl_sqs_map_put(req, "Name", attr_names[A_REDRIVE_ALLOW], q->redrive_allow);
	if (W(A_KMS_KEY) && q->kms_key) {
		sl_sqs_map_put(req, "Name", attr_names[A_KMS_KEY], q->kms_key);
		put_num(req, A_KMS_REUSE, q->kms_reuse_s);
	} else if (W(A_KMS_REUSE) && q->kms_key) {
		put_num(req, A_KMS_REUSE, q->kms_reuse_s);
	}
	if (W(A_SSE))
		sl_sqs_map_put(req, "Name", attr_names[A_SSE], q->sse ? "true" : "false");
	if (q->fifo) {
		if (W(A_FIFO))
			sl_sqs_map_put(req, "Name", attr_names[A_FIFO], "true");
		if (W(A_CBD))
			sl_sqs_map_put(req, "Name", attr_names[A_CBD],
				       q->content_dedup ? "true" : "false");
		if (W(A_DEDUP_SCOPE))
			sl_sqs_map_put(req, "Name", attr_names[A_DEDUP_SCOPE],
				       q->dedup_scope == SL_SQS_DEDUP_GROUP ? "messageGroup" : "queue");
		if (W(A_THROUGHPUT))
			sl_sqs_map_put(req, "Name", attr_names[A_THROUGHPUT],
				       q->throughput == SL_SQS_PER_GROUP ? "perMessageGroupId" :
									   "perQueue");
	}
#undef W
	sl_sqs_map_end(req);
}

void sl_sqs_get_queue_attributes(struct sl_req *req)
{
	struct sl_fields f;
	struct get_want g = { .req = req };
	const struct sl_queue *q = named_queue(req, &f);

	if (!q || sl_sqs_list(&f, "AttributeNames", "AttributeName", SL_SQS_MAP_KEY_MAX + 1,
			      want_one, &g) < 0)
		return;
	sl_reply_begin(req);
	put_attrs(req, q, g.want);
	sl_reply_end(req);
}

void sl_sqs_set_queue_attributes(struct sl_req *req)
{
	struct sl_fields f;
	struct attrs a;
	const struct sl_queue *q = named_queue(req, &f);

	if (!q)
		return;
	int n = attrs_read(&f, &a, q->fifo, false, q->name);
	if (n == 0)
		sl_sqs_error(req, SL_SQS_E_MISSING_PARAMETER,
			     "The request must contain the parameter Attribute.Name.");
	if (n <= 0) {
		attrs_free(&a);
		return;
	}
	struct sl_queue *m = edit(req, q);
	int rc = m ? attrs_apply(&a, m) : -ENOMEM;
	attrs_free(&a);
	edit_done(req, m, rc);
}

/* When each queue was last purged (uid, ms), for PurgeQueueInProgress; in
 * memory, as AWS's 60-second window is a rate limit, not state. */
static struct purged_at {
	uint64_t uid;
	int64_t at_ms;
} purges[SL_SQS_DELETED_TRACK_MAX];
static uint32_t npurges;

void sl_sqs_purge_queue(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_queue *q = named_queue(req, &f);
	int64_t now = sl_now_ms();
	uint32_t slot = npurges;

	if (!q)
		return;
	/* Bounded by the table; expired entries are reused. */
	for (uint32_t i = 0; i < npurges; i++) {
		if (purges[i].uid == q->hdr.uid && now - purges[i].at_ms < SL_SQS_PURGE_INTERVAL_MS) {
			sl_sqs_error(req, SL_SQS_E_PURGE_IN_PROGRESS,
				     "Only one PurgeQueue operation on %s is allowed every 60 seconds.",
				     q->name);
			return;
		}
		if (purges[i].uid == q->hdr.uid || now - purges[i].at_ms >= SL_SQS_PURGE_INTERVAL_MS)
			slot = i;
	}
	if (slot == SL_SQS_DELETED_TRACK_MAX)
		slot = 0; /* full of recent purges: forget the oldest slot's */
	int rc = sl_sqs_purge(q->hdr.uid);
	if (rc < 0) {
		sl_sqs_error(req, SL_SQS_E_INTERNAL, "the purge could not be recorded: %s",
			     strerror(-rc));
		return;
	}
	purges[slot] = (struct purged_at){ q->hdr.uid, now };
	if (slot == npurges)
		npurges++;
	sl_reply_begin(req);
	sl_reply_end(req);
}

void sl_sqs_tag_queue(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_queue *q = named_queue(req, &f);

	if (!q)
		return;
	struct tags_in *t = tags_read(&f, "Tags", true);
	if (!t)
		return;
	if (!tags_fit(t, q)) {
		sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Too many tags added for queue %s.", q->name);
		tags_free(t);
		return;
	}
	struct sl_queue *m = edit(req, q);
	int rc = m ? tags_apply(req, t, m) : SL_FIELD_ERR;
	tags_free(t);
	if (rc < 0)
		return; /* the batch holds a partly tagged copy: the error undoes it */
	sl_catalog_commit();
	sl_reply_begin(req);
	sl_reply_end(req);
}

struct untag {
	struct sl_req *req;
	uint32_t n;
	char keys[SL_SQS_TAGS_MAX][SL_SQS_TAG_KEY_MAX + 1];
};

static int untag_one(void *arg, const char *s, size_t len)
{
	struct untag *u = arg;

	if (len == 0 || u->n == SL_SQS_TAGS_MAX) {
		sl_sqs_error(u->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "TagKeys must hold 1 to %d keys of 1 to %d characters.",
			     SL_SQS_TAGS_MAX, SL_SQS_TAG_KEY_MAX);
		return SL_FIELD_ERR;
	}
	memcpy(u->keys[u->n++], s, len + 1);
	return 0;
}

void sl_sqs_untag_queue(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_queue *q = named_queue(req, &f);

	if (!q)
		return;
	int keys = sl_doc_get(f.t, f.obj, req->proto == SL_PROTO_QUERY ? "TagKey" : "TagKeys");
	if (keys < 0) {
		sl_sqs_error(req, SL_SQS_E_MISSING_PARAMETER,
			     "The request must contain the parameter TagKeys.");
		return;
	}
	struct untag *u = calloc(1, sizeof(*u));
	if (!u) {
		sl_sqs_error(req, SL_SQS_E_INTERNAL, "out of memory");
		return;
	}
	u->req = req;
	struct sl_queue *m = NULL;
	if (sl_sqs_list(&f, "TagKeys", "TagKey", SL_SQS_TAG_KEY_MAX + 1, untag_one, u) < 0 ||
	    !(m = edit(req, q))) {
		free(u);
		return;
	}
	for (uint32_t i = 0; i < u->n; i++)
		sl_queue_untag(m, u->keys[i]);
	free(u);
	sl_catalog_commit();
	sl_reply_begin(req);
	sl_reply_end(req);
}

void sl_sqs_list_queue_tags(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_queue *q = named_queue(req, &f);

	if (!q)
		return;
	sl_reply_begin(req);
	if (q->ntags) {
		sl_sqs_map_begin(req, "Tags", "Tag");
		for (uint32_t i = 0; i < q->ntags; i++)
			sl_sqs_map_put(req, "Key", q->tags[i].key, q->tags[i].value);
		sl_sqs_map_end(req);
	}
	sl_reply_end(req);
}

int sl_sqs_ctl_install(void)
{
	ctl_toks = malloc(sizeof(*ctl_toks) * SL_DOC_TOKS_MAX);
	policy_toks = malloc(sizeof(*policy_toks) * POLICY_TOKS_MAX);
	return ctl_toks && policy_toks ? 0 : -ENOMEM;
}

/* ---- ListDeadLetterSourceQueues ------------------------------------------------ */

/* Whether q's RedrivePolicy names the queue of ARN arn. */
static bool redrive_targets(const struct sl_queue *q, const char *arn)
{
	struct sl_doc_tok t[16];
	char target[SL_QUEUE_ARN_MAX + 1];

	if (!q->redrive || sl_json_parse((const uint8_t *)q->redrive, strlen(q->redrive), t, 16) <= 0 ||
	    t[0].type != SL_DOC_OBJ)
		return false;
	int ai = sl_doc_get(t, 0, "deadLetterTargetArn");
	return ai >= 0 && sl_doc_str(&t[ai], target, sizeof(target)) > 0 && strcmp(target, arn) == 0;
}

struct dlq_walk {
	struct sl_req *req;
	char arn[SL_QUEUE_ARN_MAX];
	uint32_t max, n;
	bool more;
	char last[SL_SQS_NAME_MAX + 1];
};

static bool dlq_source_one(const struct sl_queue *q, void *arg)
{
	struct dlq_walk *dw = arg;
	char url[SL_SQS_URL_LEN];

	if (!redrive_targets(q, dw->arn))
		return true;
	if (dw->n == dw->max) {
		dw->more = true;
		return false;
	}
	sl_sqs_url(dw->req, q->name, url);
	sl_enc_cstr(&dw->req->out, url);
	snprintf(dw->last, sizeof(dw->last), "%s", q->name);
	dw->n++;
	return true;
}

void sl_sqs_list_dead_letter_source_queues(struct sl_req *req)
{
	struct sl_fields f;
	char after[SL_SQS_NAME_MAX + 1];
	int64_t max;
	const struct sl_queue *q = named_queue(req, &f);
	int has_max = q ? paging_read(req, &f, &max, after) : -1;

	if (has_max < 0)
		return;
	struct dlq_walk dw = { .req = req, .max = (uint32_t)max };
	sl_queue_arn(q, dw.arn);
	sl_reply_begin(req);
	/* Required in the reply, even empty. */
	sl_sqs_list_begin(req, "queueUrls", "QueueUrl");
	sl_queue_walk(sl_catalog_master(), req->region, after[0] ? after : NULL, dlq_source_one, &dw);
	sl_sqs_list_end(req);
	if (dw.more && has_max > 0)
		paging_write(req, dw.last);
	sl_reply_end(req);
}

/* ---- AddPermission and RemovePermission --------------------------------------- */

struct perm_list {
	struct sl_req *req;
	char (*items)[SL_QUEUE_ARN_MAX];
	uint32_t n, max;
	bool accounts;
};

static const char *const sqs_actions[] = {
	"*", "AddPermission", "CancelMessageMoveTask", "ChangeMessageVisibility",
	"ChangeMessageVisibilityBatch", "CreateQueue", "DeleteMessage", "DeleteMessageBatch",
	"DeleteQueue", "GetQueueAttributes", "GetQueueUrl", "ListDeadLetterSourceQueues",
	"ListMessageMoveTasks", "ListQueueTags", "ListQueues", "PurgeQueue", "ReceiveMessage",
	"RemovePermission", "SendMessage", "SendMessageBatch", "SetQueueAttributes",
	"StartMessageMoveTask", "TagQueue", "UntagQueue",
};

static int perm_item(void *arg, const char *s, size_t len)
{
	struct perm_list *pl = arg;
	bool ok = false;

	if (pl->accounts) {
		ok = len == 12 && strspn(s, "0123456789") == 12;
	} else {
		for (size_t i = 0; i < sizeof(sqs_actions) / sizeof(sqs_actions[0]) && !ok; i++)
			ok = strcmp(s, sqs_actions[i]) == 0;
	}
	if (!ok || pl->n == pl->max) {
		sl_sqs_error(pl->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value %s for parameter %s is invalid. Reason: %s.", s,
			     pl->accounts ? "AWSAccountId" : "ActionName",
			     pl->n == pl->max ? "too many values" :
			     pl->accounts ? "it must be a 12-digit account id" :
					    "it must be an Amazon SQS action or *");
		return SL_FIELD_ERR;
	}
	snprintf(pl->items[pl->n++], SL_QUEUE_ARN_MAX, "%s", s);
	return 0;
}

static bool label_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= SL_SQS_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

/* The queue's policy rebuilt (control/policy.c), under AWS's default
 * Version and Id for a queue. */
static char *policy_rebuild(const struct sl_queue *q, const char *drop, const char *add,
			    bool *found)
{
	char arn[SL_QUEUE_ARN_MAX], id[SL_QUEUE_ARN_MAX + 32];

	sl_queue_arn(q, arn);
	snprintf(id, sizeof(id), "%s/SQSDefaultPolicy", arn);
	return sl_policy_rebuild(q->policy, "2012-10-17", id, drop, add, SL_SQS_POLICY_MAX, found);
}

void sl_sqs_add_permission(struct sl_req *req)
{
	struct sl_fields f;
	char label[SL_SQS_NAME_MAX * 4 + 1], arn[SL_QUEUE_ARN_MAX];
	char accounts[SL_SQS_LIST_MAX / 10][SL_QUEUE_ARN_MAX];
	char actions[sizeof(sqs_actions) / sizeof(sqs_actions[0])][SL_QUEUE_ARN_MAX];
	struct perm_list pa = { req, accounts, 0, sizeof(accounts) / sizeof(accounts[0]), true };
	struct perm_list pc = { req, actions, 0, sizeof(actions) / sizeof(actions[0]), false };
	const struct sl_queue *q = named_queue(req, &f);

	if (!q || sl_sqs_str(&f, "Label", label, sizeof(label), 0, sizeof(label) - 1, true) < 0 ||
	    sl_sqs_list(&f, "AWSAccountIds", "AWSAccountId", 64, perm_item, &pa) < 0 ||
	    sl_sqs_list(&f, "Actions", "ActionName", 64, perm_item, &pc) < 0)
		return;
	if (!label_ok(label)) {
		sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value %s for parameter Label is invalid. Reason: it must be 1 to 80 "
			     "alphanumeric characters, hyphens or underscores.", label);
		return;
	}
	if (pa.n == 0 || pc.n == 0) {
		sl_sqs_error(req, SL_SQS_E_MISSING_PARAMETER, "The request must contain the parameter "
			     "%s.", pa.n == 0 ? "AWSAccountIds" : "Actions");
		return;
	}
	/* The statement AWS writes: principals as account roots, actions
	 * with the SQS: prefix, a single one as a string. */
	const char *acc[sizeof(accounts) / sizeof(accounts[0])];
	const char *act[sizeof(actions) / sizeof(actions[0])];
	for (uint32_t i = 0; i < pa.n; i++)
		acc[i] = accounts[i];
	for (uint32_t i = 0; i < pc.n; i++)
		act[i] = actions[i];
	sl_queue_arn(q, arn);
	char *st = sl_policy_statement(label, acc, pa.n, "SQS:", act, pc.n, arn);
	if (!st) {
		sl_sqs_error(req, SL_SQS_E_INTERNAL, "out of memory");
		return;
	}
	bool found;
	char *pol = policy_rebuild(q, label, NULL, &found);
	free(pol);
	if (found) {
		free(st);
		sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value %s for parameter Label is invalid. Reason: Already exists.", label);
		return;
	}
	pol = policy_rebuild(q, NULL, st, &found);
	free(st);
	if (!pol) {
		sl_sqs_error(req, SL_SQS_E_OVER_LIMIT, "The queue's policy would exceed %d bytes.",
			     SL_SQS_POLICY_MAX);
		return;
	}
	struct sl_queue *m = edit(req, q);
	int rc = m ? sl_queue_set_str(&m->policy, pol) : -ENOMEM;
	free(pol);
	edit_done(req, m, rc);
}

void sl_sqs_remove_permission(struct sl_req *req)
{
	struct sl_fields f;
	char label[SL_SQS_NAME_MAX * 4 + 1];
	const struct sl_queue *q = named_queue(req, &f);
	bool found;

	if (!q || sl_sqs_str(&f, "Label", label, sizeof(label), 0, sizeof(label) - 1, true) < 0)
		return;
	char *pol = policy_rebuild(q, label, NULL, &found);
	if (!found) {
		free(pol);
		sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value %s for parameter Label is invalid. Reason: can't find label on "
			     "existing policy.", label);
		return;
	}
	if (!pol) {
		sl_sqs_error(req, SL_SQS_E_INTERNAL, "out of memory");
		return;
	}
	struct sl_queue *m = edit(req, q);
	int rc = m ? sl_queue_set_str(&m->policy, pol[0] ? pol : NULL) : -ENOMEM;
	free(pol);
	edit_done(req, m, rc);
}

/* ---- Message move tasks --------------------------------------------------------- */

/* Every task the server remembers, running or ended; a slot is reused, the
 * oldest ended first, only once its task has ended (the owner worker
 * holds a running one). In memory: a restart forgets them, and a task
 * running then stops. */
static struct move_task {
	struct sl_sqs_task t;
	bool used;
	bool has_dest;
	uint32_t gen;            /* makes each handle of a slot distinct */
	int64_t started_ms;
	uint64_t seq;            /* start order */
	uint64_t to_move;
	char src_arn[SL_QUEUE_ARN_MAX + 1];
	char dest_arn[SL_QUEUE_ARN_MAX + 1];
} tasks[SL_SQS_TASKS_MAX];
static uint64_t task_seq;

static bool task_over(const struct move_task *mt)
{
	uint32_t st = atomic_load(&mt->t.status);

	return st != SL_SQS_TASK_RUNNING && st != SL_SQS_TASK_CANCELLING;
}

/* The queue of an ARN `arn:aws:sqs:<region>:<account>:<name>`, or NULL. */
static const struct sl_queue *queue_by_arn(const char *arn)
{
	char region[SL_REGION_MAX + 1];
	const char *p = arn, *name;
	size_t rl;

	if (strncmp(p, "arn:aws:sqs:", 12) != 0)
		return NULL;
	p += 12;
	name = strchr(p, ':');
	rl = name ? (size_t)(name - p) : 0;
	if (!name || rl == 0 || rl > SL_REGION_MAX)
		return NULL;
	memcpy(region, p, rl);
	region[rl] = '\0';
	name++;
	size_t al = strlen(sl_cfg->account_id);
	if (strncmp(name, sl_cfg->account_id, al) != 0 || name[al] != ':')
		return NULL;
	return sl_queue_find(sl_catalog_master(), region, name + al + 1);
}

struct source_seek {
	const char *arn;
	bool found;
};

static bool source_seek_one(const struct sl_queue *q, void *arg)
{
	struct source_seek *ss = arg;

	ss->found = redrive_targets(q, ss->arn);
	return !ss->found;
}

static void task_handle(const struct move_task *mt, char out[64])
{
	uint8_t raw[8];
	uint32_t slot = (uint32_t)(mt - tasks);

	memcpy(raw, &slot, 4);
	memcpy(raw + 4, &mt->gen, 4);
	size_t n = sl_base64_enc(out, raw, sizeof(raw));
	out[n] = '\0';
}

static struct move_task *task_by_handle(const char *h)
{
	uint8_t raw[16];
	uint32_t slot, gen;
	long n = strlen(h) <= 16 ? sl_base64_dec(raw, h, strlen(h)) : -1;

	if (n != 8)
		return NULL;
	memcpy(&slot, raw, 4);
	memcpy(&gen, raw + 4, 4);
	return slot < SL_SQS_TASKS_MAX && tasks[slot].used && tasks[slot].gen == gen ? &tasks[slot] :
										     NULL;
}

void sl_sqs_start_message_move_task(struct sl_req *req)
{
	struct sl_fields f;
	char src[SL_QUEUE_ARN_MAX + 1], dest[SL_QUEUE_ARN_MAX + 1] = "", handle[64];
	int64_t rate = 0;

	if (parse(req, &f) < 0 ||
	    sl_sqs_str(&f, "SourceArn", src, sizeof(src), 0, SL_QUEUE_ARN_MAX, true) < 0)
		return;
	int has_dest = sl_sqs_str(&f, "DestinationArn", dest, sizeof(dest), 0, SL_QUEUE_ARN_MAX, false);
	int has_rate = has_dest < 0 ? -1 :
		sl_sqs_int(&f, "MaxNumberOfMessagesPerSecond", 1, SL_SQS_TASK_RATE_MAX, false, &rate);
	if (has_dest < 0 || has_rate < 0)
		return;
	const struct sl_queue *sq = queue_by_arn(src);
	if (!sq) {
		sl_sqs_error(req, SL_SQS_E_RESOURCE_NOT_FOUND,
			     "The resource that you specified for the SourceArn parameter doesn't "
			     "exist.");
		return;
	}
	struct source_seek ss = { src, false };
	sl_queue_walk(sl_catalog_master(), sq->region, NULL, source_seek_one, &ss);
	if (!ss.found) {
		sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Source queue must be configured as a Dead Letter Queue.");
		return;
	}
	const struct sl_queue *dq = NULL;
	if (has_dest > 0 && dest[0]) {
		dq = queue_by_arn(dest);
		if (!dq) {
			sl_sqs_error(req, SL_SQS_E_RESOURCE_NOT_FOUND,
				     "The resource that you specified for the DestinationArn "
				     "parameter doesn't exist.");
			return;
		}
		if (dq == sq || dq->fifo != sq->fifo) {
			sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
				     "The destination must be another queue of the source's type.");
			return;
		}
	}
	/* A free slot, or the oldest one whose task ended. */
	struct move_task *mt = NULL;
	for (uint32_t i = 0; i < SL_SQS_TASKS_MAX; i++) {
		struct move_task *c = &tasks[i];
		if (c->used && !task_over(c) && c->t.src_uid == sq->hdr.uid) {
			sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
				     "There is already a task running. Only one active task is "
				     "allowed for a source queue arn at a given time.");
			return;
		}
		if (!c->used)
			mt = mt && !mt->used ? mt : c;
		else if (task_over(c) && (!mt || (mt->used && c->seq < mt->seq)))
			mt = c;
	}
	if (!mt) {
		sl_sqs_error(req, SL_SQS_E_OVER_LIMIT, "%d message move tasks are running, the most "
			     "this server runs at once.", SL_SQS_TASKS_MAX);
		return;
	}
	uint32_t gen = mt->gen + 1;
	memset(mt, 0, sizeof(*mt));
	mt->gen = gen;
	mt->t.src_uid = sq->hdr.uid;
	mt->t.dest_uid = dq ? dq->hdr.uid : 0;
	mt->t.rate = (uint32_t)rate;
	mt->has_dest = dq != NULL;
	snprintf(mt->src_arn, sizeof(mt->src_arn), "%s", src);
	snprintf(mt->dest_arn, sizeof(mt->dest_arn), "%s", dest);
	int rc = sl_sqs_task_start(&mt->t, &mt->to_move);
	if (rc < 0) {
		sl_sqs_error(req, rc == -EBUSY ? SL_SQS_E_INVALID_PARAMETER_VALUE : SL_SQS_E_INTERNAL,
			     rc == -EBUSY ? "There is already a task running." :
					    "the task could not be started");
		return;
	}
	mt->used = true;
	mt->seq = ++task_seq;
	mt->started_ms = sl_now_ms();
	task_handle(mt, handle);
	sl_reply_begin(req);
	sl_enc_key(&req->out, "TaskHandle");
	sl_enc_cstr(&req->out, handle);
	sl_reply_end(req);
}

static const char *const task_status_names[] = {
	[SL_SQS_TASK_RUNNING] = "RUNNING",
	[SL_SQS_TASK_COMPLETED] = "COMPLETED",
	[SL_SQS_TASK_CANCELLING] = "CANCELLING",
	[SL_SQS_TASK_CANCELLED] = "CANCELLED",
	[SL_SQS_TASK_FAILED] = "FAILED",
};

static const char *const task_failures[] = {
	[SL_SQS_TASK_NO_SOURCE] = "A message has no source queue to go back to: give "
				  "DestinationArn.",
	[SL_SQS_TASK_DEST_GONE] = "The destination queue does not exist.",
	[SL_SQS_TASK_QUEUE_GONE] = "The source queue was deleted.",
};

void sl_sqs_list_message_move_tasks(struct sl_req *req)
{
	struct sl_fields f;
	char src[SL_QUEUE_ARN_MAX + 1], handle[64], num[24];
	int64_t max = 1;

	if (parse(req, &f) < 0 ||
	    sl_sqs_str(&f, "SourceArn", src, sizeof(src), 0, SL_QUEUE_ARN_MAX, true) < 0 ||
	    sl_sqs_int(&f, "MaxResults", 1, 10, false, &max) < 0)
		return;
	const struct sl_queue *sq = queue_by_arn(src);
	if (!sq) {
		sl_sqs_error(req, SL_SQS_E_RESOURCE_NOT_FOUND,
			     "The resource that you specified for the SourceArn parameter doesn't "
			     "exist.");
		return;
	}
	sl_reply_begin(req);
	sl_sqs_list_begin(req, "Results", "ListMessageMoveTasksResultEntry");
	uint64_t below = UINT64_MAX;
	/* Newest first: each round finds the next older task of the queue. */
	for (int64_t k = 0; k < max; k++) {
		struct move_task *mt = NULL;
		for (uint32_t i = 0; i < SL_SQS_TASKS_MAX; i++) {
			struct move_task *c = &tasks[i];
			if (c->used && c->t.src_uid == sq->hdr.uid && c->seq < below &&
			    (!mt || c->seq > mt->seq))
				mt = c;
		}
		if (!mt)
			break;
		below = mt->seq;
		struct sl_enc *e = &req->out;
		uint32_t st = atomic_load(&mt->t.status);
		sl_enc_obj_begin(e);
		if (st == SL_SQS_TASK_RUNNING) {
			task_handle(mt, handle);
			sl_enc_key(e, "TaskHandle");
			sl_enc_cstr(e, handle);
		}
		sl_enc_key(e, "Status");
		sl_enc_cstr(e, st <= SL_SQS_TASK_FAILED && task_status_names[st] ?
				       task_status_names[st] : "RUNNING");
		sl_enc_key(e, "SourceArn");
		sl_enc_cstr(e, mt->src_arn);
		if (mt->has_dest) {
			sl_enc_key(e, "DestinationArn");
			sl_enc_cstr(e, mt->dest_arn);
		}
		if (mt->t.rate) {
			sl_enc_key(e, "MaxNumberOfMessagesPerSecond");
			sl_enc_int(e, mt->t.rate);
		}
		sl_enc_key(e, "ApproximateNumberOfMessagesMoved");
		sl_enc_int(e, (int64_t)atomic_load(&mt->t.moved));
		sl_enc_key(e, "ApproximateNumberOfMessagesToMove");
		sl_enc_int(e, (int64_t)mt->to_move);
		uint32_t fail = atomic_load(&mt->t.failure);
		if (st == SL_SQS_TASK_FAILED && fail < sizeof(task_failures) / sizeof(task_failures[0]) &&
		    task_failures[fail]) {
			sl_enc_key(e, "FailureReason");
			sl_enc_cstr(e, task_failures[fail]);
		}
		sl_enc_key(e, "StartedTimestamp");
		sl_enc_int(e, mt->started_ms);
		sl_enc_obj_end(e);
		(void)num;
	}
	sl_sqs_list_end(req);
	sl_reply_end(req);
}

void sl_sqs_cancel_message_move_task(struct sl_req *req)
{
	struct sl_fields f;
	char handle[128];

	if (parse(req, &f) < 0 ||
	    sl_sqs_str(&f, "TaskHandle", handle, sizeof(handle), 0, sizeof(handle) - 1, true) < 0)
		return;
	struct move_task *mt = task_by_handle(handle);
	if (!mt || atomic_load(&mt->t.status) != SL_SQS_TASK_RUNNING) {
		sl_sqs_error(req, SL_SQS_E_RESOURCE_NOT_FOUND,
			     "Task does not exist, or is not running.");
		return;
	}
	/* The owner sees the flag on its next round, and ends the task once
	 * the moves in flight are back. */
	uint32_t running = SL_SQS_TASK_RUNNING;
	atomic_store(&mt->t.cancel, true);
	atomic_compare_exchange_strong(&mt->t.status, &running, SL_SQS_TASK_CANCELLING);
	sl_reply_begin(req);
	sl_enc_key(&req->out, "ApproximateNumberOfMessagesMoved");
	sl_enc_int(&req->out, (int64_t)atomic_load(&mt->t.moved));
	sl_reply_end(req);
}
