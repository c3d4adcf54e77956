/* meta.c - SNS topics and subscriptions: create, find, list, attributes,
 * tags, delete. Control thread: every change goes into the catalog's open
 * batch, the reply is held until that batch is durable, and a request
 * answered with an error leaves no change behind (the control loop's
 * savepoint).
 *
 * Attributes are checked the way AWS checks them: a name SNS does not know
 * for the object, or a value of the wrong form, is InvalidParameter;
 * FIFO-only attributes on a standard topic are unknown there.
 */
#include "control/sns/meta.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "control/policy.h"
#include "control/sns/http.h"
#include "control/sns/keys.h"
#include "control/sns/outbox.h"
#include "control/sns/platform.h"
#include "control/sns/sms.h"
#include "control/sns/topics.h"
#include "control/sqs/queues.h"
#include "dataplane/codec/bin.h"
#include "dataplane/codec/doc.h"
#include "dataplane/codec/enc.h"
#include "dataplane/net/server.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/log.h"
#include "dataplane/runtime/worker.h"
#include "dataplane/services/sns/envelope.h"
#include "dataplane/services/sns/filter.h"
#include "dataplane/services/sns/mail.h"
#include "dataplane/services/sns/sign.h"
#include "dataplane/services/sns/stats.h"
#include "dataplane/services/sns/sns.h"
#include "dataplane/services/sqs/msg.h"

static struct sl_doc_tok *ctl_toks;
static struct sl_doc_tok *json_toks; /* for the JSON inside attribute values */
#define JSON_TOKS_MAX (SL_SNS_ATTR_VALUE_MAX / 2 + 2)

int sl_sns_ctl_install(void)
{
	ctl_toks = malloc(sizeof(*ctl_toks) * SL_DOC_TOKS_MAX);
	json_toks = malloc(sizeof(*json_toks) * JSON_TOKS_MAX);
	if (!ctl_toks || !json_toks)
		return -ENOMEM;
	int rc = sl_sns_keys_load(sl_cfg->data_dir);
	if (rc == 0)
		rc = sl_sns_outbox_open(sl_cfg->data_dir);
	return rc < 0 ? rc : sl_sns_http_start(sl_cfg->data_dir);
}

void sl_sns_ctl_stop(void)
{
	sl_sns_http_stop();
	sl_sns_outbox_close();
	sl_sns_sms_fini();
	sl_sns_platform_fini();
	sl_sns_stats_free();
	sl_sns_sign_thread_end();
	sl_sns_sign_uninstall();
}

static int parse(struct sl_req *req, struct sl_fields *f)
{
	return sl_sns_parse(req, ctl_toks, SL_DOC_TOKS_MAX, f);
}

static int bad_param(struct sl_req *req, const char *what)
{
	sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: %s", what);
	return SL_FIELD_ERR;
}

/* ---- Attribute checks --------------------------------------------------------- */

enum vkind { V_ANY, V_JSON, V_BOOL, V_SIGV, V_TRACING, V_SCOPE, V_RATE, V_POLICY_SCOPE,
	     V_FIFO_SCOPE, V_FILTER, V_REDRIVE, V_TOPIC_DELIVERY, V_SUB_DELIVERY };

struct attr_def {
	const char *name;
	uint8_t kind;
	bool fifo_only;
	bool create_only;
};

/* Topic attributes a client may set (CreateTopic, SetTopicAttributes). */
static const struct attr_def topic_attrs[] = {
	{ "ApplicationFailureFeedbackRoleArn", V_ANY, false, false },
	{ "ApplicationSuccessFeedbackRoleArn", V_ANY, false, false },
	{ "ApplicationSuccessFeedbackSampleRate", V_RATE, false, false },
	{ "ArchivePolicy", V_JSON, true, false },
	{ "ContentBasedDeduplication", V_BOOL, true, false },
	{ "DeliveryPolicy", V_TOPIC_DELIVERY, false, false },
	{ "DisplayName", V_ANY, false, false },
	{ "FifoThroughputScope", V_FIFO_SCOPE, true, false },
	{ "FifoTopic", V_BOOL, false, true },
	{ "FirehoseFailureFeedbackRoleArn", V_ANY, false, false },
	{ "FirehoseSuccessFeedbackRoleArn", V_ANY, false, false },
	{ "FirehoseSuccessFeedbackSampleRate", V_RATE, false, false },
	{ "HTTPFailureFeedbackRoleArn", V_ANY, false, false },
	{ "HTTPSuccessFeedbackRoleArn", V_ANY, false, false },
	{ "HTTPSuccessFeedbackSampleRate", V_RATE, false, false },
	{ "KmsMasterKeyId", V_ANY, false, false },
	{ "LambdaFailureFeedbackRoleArn", V_ANY, false, false },
	{ "LambdaSuccessFeedbackRoleArn", V_ANY, false, false },
	{ "LambdaSuccessFeedbackSampleRate", V_RATE, false, false },
	{ "Policy", V_JSON, false, false },
	{ "SQSFailureFeedbackRoleArn", V_ANY, false, false },
	{ "SQSSuccessFeedbackRoleArn", V_ANY, false, false },
	{ "SQSSuccessFeedbackSampleRate", V_RATE, false, false },
	{ "SignatureVersion", V_SIGV, false, false },
	{ "TracingConfig", V_TRACING, false, false },
};

/* Subscription attributes (Subscribe, SetSubscriptionAttributes). */
static const struct attr_def sub_attrs[] = {
	{ "DeliveryPolicy", V_SUB_DELIVERY, false, false },
	{ "FilterPolicy", V_FILTER, false, false }, /* compiled in sub_attrs_ok */
	{ "FilterPolicyScope", V_POLICY_SCOPE, false, false },
	{ "RawMessageDelivery", V_BOOL, false, false },
	{ "RedrivePolicy", V_REDRIVE, false, false },
	{ "ReplayPolicy", V_JSON, false, false },
	{ "SubscriptionRoleArn", V_ANY, false, false },
};

static const struct attr_def *attr_def(const struct attr_def *defs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(defs[i].name, name) == 0)
			return &defs[i];
	}
	return NULL;
}

static bool json_obj(const char *v, size_t len)
{
	int n = sl_json_parse((const uint8_t *)v, len, json_toks, JSON_TOKS_MAX);

	return n > 0 && json_toks[0].type == SL_DOC_OBJ;
}

/* A value for def: 0, or SL_FIELD_ERR with AWS's error. */
static int value_ok(struct sl_req *req, const struct attr_def *def, const char *v, size_t len)
{
	bool ok = true;

	if (len > (def->kind == V_FILTER ? SL_SNS_FILTER_POLICY_MAX : SL_SNS_ATTR_VALUE_MAX)) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Attributes Reason: "
			     "%s: the value is longer than %d bytes", def->name,
			     def->kind == V_FILTER ? SL_SNS_FILTER_POLICY_MAX : SL_SNS_ATTR_VALUE_MAX);
		return SL_FIELD_ERR;
	}
	switch (def->kind) {
	case V_JSON:
		ok = len == 0 || json_obj(v, len);
		break;
	case V_TOPIC_DELIVERY:
	case V_SUB_DELIVERY: {
		char why[160];
		if (len && !sl_sns_delivery_policy_ok(v, def->kind == V_TOPIC_DELIVERY, why,
						      sizeof(why))) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: "
				     "DeliveryPolicy: %s", why);
			return SL_FIELD_ERR;
		}
		break;
	}
	case V_REDRIVE: {
		/* {"deadLetterTargetArn": an SQS queue of this account}. */
		char arn[SL_SNS_ARN_MAX + 1], region[SL_REGION_MAX + 1], name[SL_SQS_NAME_MAX + 1];
		bool fifo;
		if (len && (!json_obj(v, len) || !sl_sns_redrive_target(v, arn, sizeof(arn)) ||
			    !sl_queue_arn_parse(arn, region, name, &fifo))) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: "
				     "RedrivePolicy: deadLetterTargetArn is an invalid arn");
			return SL_FIELD_ERR;
		}
		break;
	}
	case V_BOOL:
		ok = strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0;
		break;
	case V_SIGV:
		ok = strcmp(v, "1") == 0 || strcmp(v, "2") == 0;
		break;
	case V_TRACING:
		ok = strcmp(v, "PassThrough") == 0 || strcmp(v, "Active") == 0;
		break;
	case V_POLICY_SCOPE:
		ok = strcmp(v, "MessageAttributes") == 0 || strcmp(v, "MessageBody") == 0;
		break;
	case V_FIFO_SCOPE:
		ok = strcmp(v, "Topic") == 0 || strcmp(v, "MessageGroup") == 0;
		break;
	case V_RATE: {
		char *end;
		long r = strtol(v, &end, 10);
		ok = *v && !*end && r >= 0 && r <= 100;
		break;
	}
	default:
		break;
	}
	if (!ok) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Attributes Reason: "
			     "%s: Invalid value [%.*s]", def->name, (int)(len > 200 ? 200 : len), v);
		return SL_FIELD_ERR;
	}
	return 0;
}

/* Attributes as a request gives them, checked, in a sorted list. */
struct attrs_in {
	struct sl_req *req;
	const struct attr_def *defs;
	size_t ndefs;
	bool fifo;      /* the object is a FIFO topic (topic attributes) */
	bool creating;
	struct sl_sns_kvs kv;
};

static int attr_in(void *arg, const char *key, const char *val, size_t len)
{
	struct attrs_in *a = arg;
	const struct attr_def *def = attr_def(a->defs, a->ndefs, key);

	if (!def || (def->fifo_only && !a->fifo) || (def->create_only && !a->creating))
		return bad_param(a->req, "AttributeName");
	if (value_ok(a->req, def, val, len) < 0)
		return SL_FIELD_ERR;
	if (sl_sns_kv_set(&a->kv, key, val, SL_SNS_OBJ_ATTRS_MAX) < 0) {
		sl_sns_error(a->req, SL_SNS_E_INTERNAL, "out of memory");
		return SL_FIELD_ERR;
	}
	return 0;
}

static void kvs_clear(struct sl_sns_kvs *kv)
{
	while (kv->n)
		sl_sns_kv_set(kv, kv->v[kv->n - 1].key, NULL, 0);
	free(kv->v);
	kv->v = NULL;
}

/* ---- Tags ----------------------------------------------------------------------- */

struct tags_in {
	uint32_t n;
	char key[SL_SNS_TAGS_MAX][SL_SNS_TAG_KEY_MAX + 1];
	char value[SL_SNS_TAGS_MAX][SL_SNS_TAG_VALUE_MAX + 1];
};

/* Tags.member.N.Key/Value under the root: NULL with the error set. */
static struct tags_in *tags_read(struct sl_fields *f, bool required)
{
	int m = sl_sns_list(f, (int)f->obj, "Tags");

	if (m == SL_FIELD_ERR)
		return NULL;
	if (m == 0 && required) {
		bad_param(f->req, "Tags");
		return NULL;
	}
	struct tags_in *t = calloc(1, sizeof(*t));
	if (!t) {
		sl_sns_error(f->req, SL_SNS_E_INTERNAL, "out of memory");
		return NULL;
	}
	if (m == 0)
		return t;
	const struct sl_doc_tok *tk = f->t;
	if (tk[m].count > SL_SNS_TAGS_MAX) {
		free(t);
		sl_sns_error(f->req, SL_SNS_E_TAG_LIMIT,
			     "Could not complete request: tag quota of per resource exceeded");
		return NULL;
	}
	uint32_t c = sl_doc_first((uint32_t)m);
	for (uint32_t i = 0; i < tk[m].count; i++, c = sl_doc_next(tk, c)) {
		if (tk[c].type != SL_DOC_OBJ ||
		    sl_sns_str(f, (int)c, "Key", t->key[i], sizeof(t->key[i]), SL_SNS_TAG_KEY_MAX,
			       true) < 0 ||
		    sl_sns_str(f, (int)c, "Value", t->value[i], sizeof(t->value[i]),
			       SL_SNS_TAG_VALUE_MAX, true) < 0) {
			if (tk[c].type != SL_DOC_OBJ)
				bad_param(f->req, "Tags");
			free(t);
			return NULL;
		}
		if (!t->key[i][0]) {
			free(t);
			bad_param(f->req, "Tags Reason: a tag key is empty");
			return NULL;
		}
		t->n = i + 1;
	}
	return t;
}

/* Apply t to a tag list: the result may hold at most SL_SNS_TAGS_MAX. */
static int tags_apply(struct sl_req *req, struct sl_sns_kvs *kv, const struct tags_in *t)
{
	for (uint32_t i = 0; i < t->n; i++) {
		int rc = sl_sns_kv_set(kv, t->key[i], t->value[i], SL_SNS_TAGS_MAX);
		if (rc == -E2BIG) {
			sl_sns_error(req, SL_SNS_E_TAG_LIMIT,
				     "Could not complete request: tag quota of per resource exceeded");
			return -1;
		}
		if (rc < 0) {
			sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* ---- Finding topics and subscriptions ----------------------------------------------- */

static const struct sl_topic *topic_by_arn(struct sl_req *req, const char *arn)
{
	char region[SL_REGION_MAX + 1], name[SL_SNS_TOPIC_NAME_MAX + 1];

	if (sl_sns_topic_arn_parse(arn, region, name) < 0) {
		bad_param(req, "TopicArn");
		return NULL;
	}
	const struct sl_topic *t = sl_topic_find(sl_catalog_master(), region, name);
	if (!t)
		sl_sns_error(req, SL_SNS_E_NOT_FOUND, "Topic does not exist");
	return t;
}

static const struct sl_topic *named_topic(struct sl_req *req, struct sl_fields *f)
{
	char arn[SL_SNS_ARN_MAX + 1];

	if (parse(req, f) < 0 ||
	    sl_sns_str(f, (int)f->obj, "TopicArn", arn, sizeof(arn), SL_SNS_ARN_MAX, true) < 0)
		return NULL;
	return topic_by_arn(req, arn);
}

/* The subscription an ARN names; *bad tells a malformed ARN. */
static const struct sl_sub *sub_by_arn(const char *arn, bool *bad)
{
	char region[SL_REGION_MAX + 1], name[SL_SNS_TOPIC_NAME_MAX + 1], id[37];

	*bad = sl_sns_sub_arn_parse(arn, region, name, id) < 0;
	if (*bad)
		return NULL;
	const struct sl_topic *t = sl_topic_find(sl_catalog_master(), region, name);
	return t ? sl_sub_find(sl_catalog_master(), t->hdr.uid, id) : NULL;
}

static const struct sl_sub *named_sub(struct sl_req *req, struct sl_fields *f)
{
	char arn[SL_SNS_ARN_MAX + 1];
	bool bad;

	if (parse(req, f) < 0 ||
	    sl_sns_str(f, (int)f->obj, "SubscriptionArn", arn, sizeof(arn), SL_SNS_ARN_MAX,
		       true) < 0)
		return NULL;
	const struct sl_sub *s = sub_by_arn(arn, &bad);
	if (bad)
		bad_param(req, "SubscriptionArn");
	else if (!s)
		sl_sns_error(req, SL_SNS_E_NOT_FOUND, "Subscription does not exist");
	return s;
}

/* ---- Topics ------------------------------------------------------------------------- */

static void reply_topic_arn(struct sl_req *req, const struct sl_topic *t)
{
	char arn[SL_TOPIC_ARN_MAX];

	sl_topic_arn(t, arn);
	sl_reply_begin(req);
	sl_enc_key(&req->out, "TopicArn");
	sl_enc_cstr(&req->out, arn);
	sl_reply_end(req);
}

/* Whether the attributes a CreateTopic gives match an existing topic's. */
static bool attrs_same(const struct sl_sns_kvs *given, const struct sl_topic *t)
{
	for (uint32_t i = 0; i < given->n; i++) {
		const char *k = given->v[i].key, *v = given->v[i].value;
		if (strcmp(k, "FifoTopic") == 0)
			continue; /* the name says it */
		if (strcmp(k, "ContentBasedDeduplication") == 0) {
			if ((strcasecmp(v, "true") == 0) != t->content_dedup)
				return false;
			continue;
		}
		const char *have = sl_sns_kv_get(&t->attrs, k);
		if (!have || strcmp(have, v) != 0)
			return false;
	}
	return true;
}

/* Store checked attributes on a topic (FifoTopic and ContentBasedDeduplication
 * become its flags). */
static int topic_attrs_apply(struct sl_req *req, struct sl_topic *t, const struct sl_sns_kvs *kv)
{
	for (uint32_t i = 0; i < kv->n; i++) {
		const char *k = kv->v[i].key, *v = kv->v[i].value;
		if (strcmp(k, "FifoTopic") == 0)
			continue;
		if (strcmp(k, "ContentBasedDeduplication") == 0) {
			t->content_dedup = strcasecmp(v, "true") == 0;
			continue;
		}
		if (sl_sns_kv_set(&t->attrs, k, v[0] ? v : NULL, SL_SNS_OBJ_ATTRS_MAX) < 0) {
			sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
			return -1;
		}
	}
	return 0;
}

void sl_sns_create_topic(struct sl_req *req)
{
	struct sl_fields f;
	char name[SL_SNS_TOPIC_NAME_MAX + 1];
	bool fifo;

	if (parse(req, &f) < 0 ||
	    sl_sns_str(&f, (int)f.obj, "Name", name, sizeof(name), SL_SNS_TOPIC_NAME_MAX, true) < 0)
		return;
	bool name_ok = sl_topic_name_ok(name, strlen(name), &fifo);
	struct attrs_in a = { .req = req, .defs = topic_attrs,
			      .ndefs = sizeof(topic_attrs) / sizeof(topic_attrs[0]),
			      .fifo = true, .creating = true };
	if (sl_sns_map(&f, (int)f.obj, "Attributes", SL_SNS_ATTR_VALUE_MAX, attr_in, &a) < 0) {
		kvs_clear(&a.kv);
		return;
	}
	const char *ft = sl_sns_kv_get(&a.kv, "FifoTopic");
	bool want_fifo = ft && strcasecmp(ft, "true") == 0;
	if (!name_ok || fifo != want_fifo) {
		kvs_clear(&a.kv);
		if (want_fifo || fifo)
			bad_param(req, "Fifo Topic names must end with .fifo and must be made up of "
				       "only uppercase and lowercase ASCII letters, numbers, "
				       "underscores, and hyphens, and must be between 1 and 256 "
				       "characters long.");
		else
			bad_param(req, "Topic Name");
		return;
	}
	/* FIFO-only attributes on a standard topic are unknown names there. */
	for (uint32_t i = 0; !fifo && i < a.kv.n; i++) {
		const struct attr_def *d = attr_def(topic_attrs, a.ndefs, a.kv.v[i].key);
		if (d->fifo_only) {
			kvs_clear(&a.kv);
			bad_param(req, "AttributeName");
			return;
		}
	}
	const struct sl_topic *old = sl_topic_find(sl_catalog_master(), req->region, name);
	if (old) {
		bool same = attrs_same(&a.kv, old);
		kvs_clear(&a.kv);
		if (same)
			reply_topic_arn(req, old);
		else
			bad_param(req, "Attributes Reason: Topic already exists with different "
				       "attributes");
		return;
	}
	if (sl_topics_count() >= SL_SNS_TOPICS_MAX) {
		kvs_clear(&a.kv);
		sl_sns_error(req, SL_SNS_E_TOPIC_LIMIT, "Topic limit exceeded");
		return;
	}
	struct tags_in *tags = tags_read(&f, false);
	if (!tags) {
		kvs_clear(&a.kv);
		return;
	}
	struct sl_topic *t = sl_topic_add(req->region, name, fifo);
	if (!t) {
		kvs_clear(&a.kv);
		free(tags);
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		return;
	}
	t->created_ms = sl_now_ms();
	int rc = topic_attrs_apply(req, t, &a.kv);
	kvs_clear(&a.kv);
	if (rc == 0)
		rc = tags_apply(req, &t->tags, tags);
	free(tags);
	if (rc < 0)
		return; /* the savepoint undoes the insert */
	sl_catalog_commit();
	reply_topic_arn(req, t);
}

/* A topic's subscriptions, collected before they are removed: removing
 * while walking would change the tree under the walk. */
struct sub_list {
	uint32_t n;
	const struct sl_sub *s[SL_SNS_SUBS_PER_TOPIC_MAX];
};

static bool collect_sub(const struct sl_sub *s, void *arg)
{
	struct sub_list *l = arg;

	if (l->n == SL_SNS_SUBS_PER_TOPIC_MAX)
		return false; /* Subscribe keeps a topic within it */
	l->s[l->n++] = s;
	return true;
}

void sl_sns_delete_topic(struct sl_req *req)
{
	struct sl_fields f;
	char arn[SL_SNS_ARN_MAX + 1], region[SL_REGION_MAX + 1], name[SL_SNS_TOPIC_NAME_MAX + 1];

	if (parse(req, &f) < 0 ||
	    sl_sns_str(&f, (int)f.obj, "TopicArn", arn, sizeof(arn), SL_SNS_ARN_MAX, true) < 0)
		return;
	if (sl_sns_topic_arn_parse(arn, region, name) < 0) {
		bad_param(req, "TopicArn");
		return;
	}
	/* Deleting a topic that does not exist is no error (AWS). Its
	 * subscriptions go with it. */
	const struct sl_topic *t = sl_topic_find(sl_catalog_master(), region, name);
	if (t) {
		struct sub_list *l = malloc(sizeof(*l));
		if (!l) {
			sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
			return;
		}
		l->n = 0;
		sl_sub_walk(sl_catalog_master(), t->hdr.uid, NULL, collect_sub, l);
		for (uint32_t i = 0; i < l->n; i++)
			sl_catalog_remove(&l->s[i]->hdr);
		free(l);
		sl_catalog_remove(&t->hdr);
		sl_catalog_commit();
	}
	sl_reply_begin(req);
	sl_reply_end(req);
}

struct list_topics {
	struct sl_req *req;
	uint32_t n;
	bool more;
	char last[SL_SNS_TOPIC_NAME_MAX + 1];
};

static bool list_topic_one(const struct sl_topic *t, void *arg)
{
	struct list_topics *lt = arg;
	char arn[SL_TOPIC_ARN_MAX];

	if (lt->n == SL_SNS_LIST_PAGE) {
		lt->more = true;
		return false;
	}
	sl_topic_arn(t, arn);
	sl_enc_obj_begin(&lt->req->out);
	sl_enc_key(&lt->req->out, "TopicArn");
	sl_enc_cstr(&lt->req->out, arn);
	sl_enc_obj_end(&lt->req->out);
	memcpy(lt->last, t->name, sizeof(lt->last));
	lt->n++;
	return true;
}

void sl_sns_list_topics(struct sl_req *req)
{
	struct sl_fields f;
	char token[SL_SNS_TOPIC_NAME_MAX + 1];
	bool fifo;

	if (parse(req, &f) < 0 ||
	    sl_sns_str(&f, (int)f.obj, "NextToken", token, sizeof(token), SL_SNS_TOPIC_NAME_MAX,
		       false) < 0)
		return;
	if (token[0] && !sl_topic_name_ok(token, strlen(token), &fifo)) {
		bad_param(req, "NextToken");
		return;
	}
	struct list_topics lt = { .req = req };
	sl_reply_begin(req);
	sl_enc_key(&req->out, "Topics");
	sl_enc_arr_begin(&req->out);
	sl_topic_walk(sl_catalog_master(), req->region, token, list_topic_one, &lt);
	sl_enc_arr_end(&req->out);
	if (lt.more) {
		sl_enc_key(&req->out, "NextToken");
		sl_enc_cstr(&req->out, lt.last);
	}
	sl_reply_end(req);
}

struct sub_counts {
	uint64_t confirmed, pending;
};

static bool count_sub(const struct sl_sub *s, void *arg)
{
	struct sub_counts *c = arg;

	if (s->confirmed)
		c->confirmed++;
	else
		c->pending++;
	return true;
}

static const char default_delivery[] =
	"{\"http\":{\"defaultHealthyRetryPolicy\":{\"minDelayTarget\":20,\"maxDelayTarget\":20,"
	"\"numRetries\":3,\"numMaxDelayRetries\":0,\"numNoDelayRetries\":0,"
	"\"numMinDelayRetries\":0,\"backoffFunction\":\"linear\"},"
	"\"disableSubscriptionOverrides\":false,"
	"\"defaultRequestPolicy\":{\"headerContentType\":\"text/plain; charset=UTF-8\"}}}";

static void put_num(struct sl_req *req, const char *k, uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	sl_sns_map_put(req, k, b);
}

#define DEFAULT_POLICY_MAX (2 * SL_TOPIC_ARN_MAX + 640)

/* The Policy a topic has until one is set: AWS's default statement, the
 * owner's account allowed the topic's actions. */
static void default_policy(const struct sl_topic *t, char out[DEFAULT_POLICY_MAX])
{
	char arn[SL_TOPIC_ARN_MAX];

	sl_topic_arn(t, arn);
	snprintf(out, DEFAULT_POLICY_MAX,
		 "{\"Version\":\"2008-10-17\",\"Id\":\"__default_policy_ID\",\"Statement\":"
		 "[{\"Sid\":\"__default_statement_ID\",\"Effect\":\"Allow\",\"Principal\":"
		 "{\"AWS\":\"*\"},\"Action\":[\"SNS:GetTopicAttributes\","
		 "\"SNS:SetTopicAttributes\",\"SNS:AddPermission\",\"SNS:RemovePermission\","
		 "\"SNS:DeleteTopic\",\"SNS:Subscribe\",\"SNS:ListSubscriptionsByTopic\","
		 "\"SNS:Publish\"],\"Resource\":\"%s\",\"Condition\":{\"StringEquals\":"
		 "{\"AWS:SourceOwner\":\"%s\"}}}]}", arn, sl_cfg->account_id);
}

void sl_sns_get_topic_attributes(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_topic *t = named_topic(req, &f);
	char arn[SL_TOPIC_ARN_MAX], policy[DEFAULT_POLICY_MAX];

	if (!t)
		return;
	sl_topic_arn(t, arn);
	struct sub_counts c = { 0 };
	sl_sub_walk(sl_catalog_master(), t->hdr.uid, NULL, count_sub, &c);
	sl_reply_begin(req);
	sl_sns_map_begin(req, "Attributes");
	sl_sns_map_put(req, "TopicArn", arn);
	sl_sns_map_put(req, "Owner", sl_cfg->account_id);
	if (!sl_sns_kv_get(&t->attrs, "Policy")) {
		default_policy(t, policy);
		sl_sns_map_put(req, "Policy", policy);
	}
	if (!sl_sns_kv_get(&t->attrs, "DisplayName"))
		sl_sns_map_put(req, "DisplayName", "");
	put_num(req, "SubscriptionsConfirmed", c.confirmed);
	put_num(req, "SubscriptionsPending", c.pending);
	put_num(req, "SubscriptionsDeleted", 0);
	const char *dp = sl_sns_kv_get(&t->attrs, "DeliveryPolicy");
	sl_sns_map_put(req, "EffectiveDeliveryPolicy", dp ? dp : default_delivery);
	if (t->fifo) {
		sl_sns_map_put(req, "FifoTopic", "true");
		sl_sns_map_put(req, "ContentBasedDeduplication", t->content_dedup ? "true" : "false");
	}
	for (uint32_t i = 0; i < t->attrs.n; i++)
		sl_sns_map_put(req, t->attrs.v[i].key, t->attrs.v[i].value);
	sl_sns_map_end(req);
	sl_reply_end(req);
}

/* AttributeName and AttributeValue of a Set*Attributes request, checked
 * against defs: the one-entry list of what to set. */
static int set_one(struct sl_req *req, struct sl_fields *f, struct attrs_in *a)
{
	char name[SL_SNS_KEY_MAX + 1];
	char *val = malloc(SL_SNS_FILTER_POLICY_MAX + 1); /* the longest attribute */
	int rc = -1;

	if (!val) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		return -1;
	}
	if (sl_sns_str(f, (int)f->obj, "AttributeName", name, sizeof(name), SL_SNS_KEY_MAX,
		       true) >= 0 &&
	    sl_sns_str(f, (int)f->obj, "AttributeValue", val, SL_SNS_FILTER_POLICY_MAX + 1,
		       SL_SNS_FILTER_POLICY_MAX, false) >= 0)
		rc = attr_in(a, name, val, strlen(val));
	free(val);
	return rc < 0 ? -1 : 0;
}

void sl_sns_set_topic_attributes(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_topic *t = named_topic(req, &f);

	if (!t)
		return;
	struct attrs_in a = { .req = req, .defs = topic_attrs,
			      .ndefs = sizeof(topic_attrs) / sizeof(topic_attrs[0]),
			      .fifo = t->fifo };
	if (set_one(req, &f, &a) < 0) {
		kvs_clear(&a.kv);
		return;
	}
	struct sl_topic *e = sl_topic_edit(t);
	int rc = e ? topic_attrs_apply(req, e, &a.kv) : -1;
	kvs_clear(&a.kv);
	if (!e)
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
	if (!e || rc < 0)
		return;
	sl_catalog_commit();
	sl_reply_begin(req);
	sl_reply_end(req);
}

/* ---- Subscriptions ------------------------------------------------------------------- */

static int proto_of(const char *s)
{
	for (int p = 0; p < SL_SNS_PROTOS; p++) {
		if (strcmp(sl_sns_proto_names[p], s) == 0)
			return p;
	}
	return -1;
}

/* arn:aws:lambda:<region>:<account>:function:<name>[:<version or alias>]. */
static bool lambda_arn_ok(const char *ep)
{
	const char *p = ep + 15;

	if (strncmp(ep, "arn:aws:lambda:", 15) != 0)
		return false;
	size_t region = strcspn(p, ":");
	p += region;
	if (!region || *p++ != ':' || strspn(p, "0123456789") != 12 || p[12] != ':')
		return false;
	p += 13;
	if (strncmp(p, "function:", 9) != 0)
		return false;
	p += 9;
	size_t name = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
	if (!name || name > SL_LAMBDA_NAME_MAX)
		return false;
	p += name;
	return !*p || (*p == ':' && p[1] && strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
				       "OPQRSTUVWXYZ0123456789-_$") == strlen(p + 1));
}

/* The endpoint's form for its protocol: 0, or SL_FIELD_ERR. */
static int endpoint_ok(struct sl_req *req, const struct sl_topic *t, int proto, const char *ep)
{
	char region[SL_REGION_MAX + 1], qname[SL_SQS_NAME_MAX + 1];
	bool fifo = false, ok;

	switch (proto) {
	case SL_SNS_HTTP:
		ok = strncasecmp(ep, "http://", 7) == 0 && ep[7];
		break;
	case SL_SNS_HTTPS:
		ok = strncasecmp(ep, "https://", 8) == 0 && ep[8];
		break;
	case SL_SNS_EMAIL:
	case SL_SNS_EMAIL_JSON: {
		const char *at = strchr(ep, '@');
		ok = at && at != ep && at[1] && !strchr(at + 1, '@');
		break;
	}
	case SL_SNS_SMS:
		ok = sl_sns_phone_ok(ep);
		break;
	case SL_SNS_SQS:
		ok = sl_queue_arn_parse(ep, region, qname, &fifo);
		if (ok && fifo && !t->fifo) {
			bad_param(req, "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not "
				       "be subscribed to standard SNS topics");
			return SL_FIELD_ERR;
		}
		break;
	case SL_SNS_APPLICATION:
		ok = strncmp(ep, "arn:aws:sns:", 12) == 0 && strstr(ep, ":endpoint/");
		break;
	case SL_SNS_LAMBDA:
		ok = lambda_arn_ok(ep);
		break;
	case SL_SNS_FIREHOSE:
		ok = strncmp(ep, "arn:aws:firehose:", 17) == 0;
		break;
	default:
		ok = false;
	}
	if (!ok)
		return bad_param(req, proto == SL_SNS_SQS ? "SQS endpoint ARN" :
				 proto == SL_SNS_SMS ? "SMS endpoint, got \"invalid phone number\"" :
						       "Endpoint");
	if (t->fifo && proto != SL_SNS_SQS && proto != SL_SNS_FIREHOSE)
		return bad_param(req, "Invalid protocol type: the protocol for a FIFO topic must "
				      "be sqs or firehose");
	return 0;
}

/* Checks that depend on the subscription: raw delivery only where AWS has
 * it. */
struct filter_count {
	const struct sl_sub *except;
	uint32_t n;
};

static bool count_filtered(const struct sl_sub *s, void *arg)
{
	struct filter_count *c = arg;

	c->n += s->filter && s != c->except;
	return true;
}

/* The filter policy a change leaves on a subscription (kv over what the
 * subscription `was` has) compiles under the scope it leaves, and the
 * topic keeps within its count of filtered subscriptions. */
static int filter_ok(struct sl_req *req, uint64_t topic_uid, const struct sl_sns_kvs *kv,
		     const struct sl_sub *was)
{
	const char *policy = sl_sns_kv_get(kv, "FilterPolicy");
	const char *scope = sl_sns_kv_get(kv, "FilterPolicyScope");
	char err[256];

	if (!policy && was)
		policy = sl_sns_kv_get(&was->attrs, "FilterPolicy");
	if (!scope && was)
		scope = sl_sns_kv_get(&was->attrs, "FilterPolicyScope");
	if (!policy || !policy[0])
		return 0;
	struct sl_filter *fp = sl_filter_compile(policy, strlen(policy),
						 scope && strcmp(scope, "MessageBody") == 0 ?
						 SL_FILTER_BODY : SL_FILTER_ATTRIBUTES,
						 err, sizeof(err));
	if (!fp) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: FilterPolicy: %s",
			     err);
		return -1;
	}
	sl_filter_free(fp);
	if (was && was->filter)
		return 0;
	struct filter_count c = { was, 0 };
	sl_sub_walk(sl_catalog_master(), topic_uid, NULL, count_filtered, &c);
	if (c.n >= SL_SNS_FILTER_POLICIES_PER_TOPIC) {
		sl_sns_error(req, SL_SNS_E_FILTER_POLICY_LIMIT, "Filter policy limit exceeded: a "
			     "topic can have %d subscriptions with a filter policy",
			     SL_SNS_FILTER_POLICIES_PER_TOPIC);
		return -1;
	}
	return 0;
}

static int sub_attrs_ok(struct sl_req *req, uint64_t topic_uid, int proto,
			const struct sl_sns_kvs *kv, const struct sl_sub *was)
{
	const char *raw = sl_sns_kv_get(kv, "RawMessageDelivery");

	if (raw && strcasecmp(raw, "true") == 0 && proto != SL_SNS_SQS && proto != SL_SNS_HTTP &&
	    proto != SL_SNS_HTTPS && proto != SL_SNS_FIREHOSE) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Delivery protocol "
			     "[%s] does not support raw message delivery.", sl_sns_proto_names[proto]);
		return -1;
	}
	if (proto == SL_SNS_FIREHOSE && !sl_sns_kv_get(kv, "SubscriptionRoleArn")) {
		bad_param(req, "Attributes Reason: SubscriptionRoleArn is "
			       "required for firehose subscriptions");
		return -1;
	}
	return filter_ok(req, topic_uid, kv, was);
}

static int sub_attrs_apply(struct sl_req *req, struct sl_sub *s, const struct sl_sns_kvs *kv)
{
	for (uint32_t i = 0; i < kv->n; i++) {
		const char *k = kv->v[i].key, *v = kv->v[i].value;
		if (strcmp(k, "RawMessageDelivery") == 0) {
			s->raw = strcasecmp(v, "true") == 0;
			continue;
		}
		if (sl_sns_kv_set(&s->attrs, k, v[0] ? v : NULL, SL_SNS_OBJ_ATTRS_MAX) < 0) {
			sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
			return -1;
		}
	}
	/* Checked by filter_ok: only memory can fail here. */
	if (sl_sub_filter_load(s) < 0) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		return -1;
	}
	return 0;
}

struct sub_match {
	int proto;
	const char *endpoint;
	const struct sl_sub *found;
	uint32_t n;
};

static bool match_sub(const struct sl_sub *s, void *arg)
{
	struct sub_match *m = arg;

	m->n++;
	if (s->protocol == m->proto && strcmp(s->endpoint, m->endpoint) == 0) {
		m->found = s;
		return false;
	}
	return true;
}

static bool sub_same(const struct sl_sub *s, const struct sl_sns_kvs *kv)
{
	for (uint32_t i = 0; i < kv->n; i++) {
		const char *k = kv->v[i].key, *v = kv->v[i].value;
		if (strcmp(k, "RawMessageDelivery") == 0) {
			if ((strcasecmp(v, "true") == 0) != s->raw)
				return false;
			continue;
		}
		const char *have = sl_sns_kv_get(&s->attrs, k);
		if (!have || strcmp(have, v) != 0)
			return false;
	}
	return true;
}

static int token_make(char out[SL_SNS_TOKEN_LEN + 1])
{
	uint8_t b[SL_SNS_TOKEN_LEN / 2];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* The SubscriptionConfirmation of a pending http or email subscription,
 * or the UnsubscribeConfirmation of an http one that Unsubscribe ended
 * (unsub), into the deliverer's outbox: the token, and the SubscribeURL (on
 * the Host the request came to) whose GET confirms the subscription, or
 * restores it. */
static void send_control(struct sl_req *req, const struct sl_topic *t, const struct sl_sub *s,
			 const char *token, bool unsub)
{
	char arn[SL_TOPIC_ARN_MAX], url[SL_TOPIC_ARN_MAX + SL_SNS_TOKEN_LEN + SL_SNS_BASE_URL_MAX + 64];
	char text[SL_SUB_ARN_MAX + 200], *ctype = NULL, id[37], base[SL_SNS_BASE_URL_MAX];
	char cert_url[SL_SNS_BASE_URL_MAX + SL_SNS_CERT_NAME_MAX], sig[SL_SNS_SIG_MAX];
	const char *sv = sl_sns_kv_get(&t->attrs, "SignatureVersion");
	uint8_t raw_id[16];
	struct sl_enc env;

	sl_topic_arn(t, arn);
	sl_sns_base_url(req, base);
	snprintf(url, sizeof(url), "%s/?Action=ConfirmSubscription&Version=" SL_SNS_VERSION
		 "&TopicArn=%s&Token=%s", base, arn, token);
	snprintf(cert_url, sizeof(cert_url), "%s/%s", base,
		 sl_sns_cert_name() ? sl_sns_cert_name() : "");
	if (unsub) {
		char sub_arn[SL_SUB_ARN_MAX];
		sl_sub_arn(s, sub_arn);
		snprintf(text, sizeof(text), "You have chosen to deactivate subscription %s.\nTo "
			 "cancel this operation and restore the subscription, visit the "
			 "SubscribeURL included in this message.", sub_arn);
	} else {
		snprintf(text, sizeof(text), "You have chosen to subscribe to the topic %s.\nTo "
			 "confirm the subscription, visit the SubscribeURL included in this "
			 "message.", arn);
	}
	sl_sqs_msg_id_new(raw_id);
	sl_sqs_uuid_fmt(raw_id, id);
	struct sl_sns_note n = {
		.type = unsub ? "UnsubscribeConfirmation" : "SubscriptionConfirmation",
		.message_id = id, .token = token,
		.topic_arn = arn, .message = text, .message_len = strlen(text),
		.subscribe_url = url, .timestamp_ms = sl_now_ms(),
		.signature_version = sv && strcmp(sv, "2") == 0 ? 2 : 1, .signature = sig,
		.signing_cert_url = cert_url,
	};
	if (sl_sns_sign(&n, n.signature_version, sig) < 0) {
		sl_warn("sns: the %s of a subscription to %s could not be signed", n.type,
			s->endpoint);
		return;
	}
	if (sl_enc_init(&env, SL_ENC_JSON, 1024) < 0)
		return;
	struct sl_sns_http_req r = { .kind = unsub ? SL_SNS_UNSUBSCRIBE_CONFIRMATION :
					 SL_SNS_SUBSCRIPTION_CONFIRMATION,
				     .url = s->endpoint, .message_id = id, .topic_arn = arn,
				     .sub_arn = "" };
	bool mail = !unsub && (s->protocol == SL_SNS_EMAIL || s->protocol == SL_SNS_EMAIL_JSON);
	if (mail) {
		r.kind = SL_SNS_MAIL;
		r.retry = sl_sns_mail_retry;
	} else {
		sl_sns_http_policy(sl_sns_kv_get(&t->attrs, "DeliveryPolicy"),
				   sl_sns_kv_get(&s->attrs, "DeliveryPolicy"), &r.retry, &ctype);
	}
	r.content_type = ctype;
	struct sl_bw w = { 0 };
	if (sl_sns_envelope(&env, &n) == 0) {
		r.body = env.buf;
		r.body_len = env.len;
		if (mail) {
			/* email: the link to follow; email-json: the envelope. */
			char body[sizeof(url) + SL_TOPIC_ARN_MAX + 200];
			int bl = snprintf(body, sizeof(body), "You have chosen to subscribe to the "
					  "topic: \n%s\n\nTo confirm this subscription, click or visit "
					  "the link below (If this was in error no action is "
					  "necessary): \n%s\n", arn, url);
			struct sl_sns_mail m = {
				.to = s->endpoint, .subject = "AWS Notification - Subscription "
				"Confirmation", .message_id = id, .topic_arn = arn,
				.display_name = sl_sns_kv_get(&t->attrs, "DisplayName"),
				.timestamp_ms = n.timestamp_ms,
				.body = s->protocol == SL_SNS_EMAIL ? body : (const char *)env.buf,
				.body_len = s->protocol == SL_SNS_EMAIL ? (size_t)bl : env.len,
			};
			sl_sns_mail_build(&w, &m);
			r.body = w.p;
			r.body_len = w.len;
		}
		if (w.err || sl_sns_http_put(&r, NULL, NULL) < 0)
			sl_warn("sns: the %s of a subscription to %s could not be queued", n.type,
				s->endpoint);
	}
	sl_bw_free(&w);
	free(ctype);
	sl_enc_free(&env);
}

static void reply_sub_arn(struct sl_req *req, const struct sl_sub *s, bool show)
{
	char arn[SL_SUB_ARN_MAX];

	sl_sub_arn(s, arn);
	sl_reply_begin(req);
	sl_enc_key(&req->out, "SubscriptionArn");
	sl_enc_cstr(&req->out, show || s->confirmed ? arn : "pending confirmation");
	sl_reply_end(req);
}

void sl_sns_subscribe(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_topic *t = named_topic(req, &f);
	char proto_s[32], ret[8];
	char *ep = malloc(SL_SNS_ENDPOINT_MAX + 1);

	if (!t || !ep) {
		if (t)
			sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		free(ep);
		return;
	}
	struct attrs_in a = { .req = req, .defs = sub_attrs,
			      .ndefs = sizeof(sub_attrs) / sizeof(sub_attrs[0]) };
	int proto = -1;
	if (sl_sns_str(&f, (int)f.obj, "Protocol", proto_s, sizeof(proto_s), sizeof(proto_s) - 1,
		       true) < 0 ||
	    sl_sns_str(&f, (int)f.obj, "Endpoint", ep, SL_SNS_ENDPOINT_MAX + 1, SL_SNS_ENDPOINT_MAX,
		       false) < 0 ||
	    sl_sns_str(&f, (int)f.obj, "ReturnSubscriptionArn", ret, sizeof(ret), sizeof(ret) - 1,
		       false) < 0)
		goto out;
	proto = proto_of(proto_s);
	if (proto < 0) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Amazon SNS does "
			     "not support this protocol string: %s", proto_s);
		goto out;
	}
	if (!ep[0]) {
		bad_param(req, "Endpoint");
		goto out;
	}
	if (proto == SL_SNS_FIREHOSE) {
		/* It would be confirmed at once and then receive nothing:
		 * refused until Firehose is served. */
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Protocol Reason: "
			     "firehose delivery needs Amazon Data Firehose, which this server does "
			     "not serve yet");
		goto out;
	}
	if (endpoint_ok(req, t, proto, ep) < 0 ||
	    sl_sns_map(&f, (int)f.obj, "Attributes", SL_SNS_FILTER_POLICY_MAX, attr_in, &a) < 0 ||
	    sub_attrs_ok(req, t->hdr.uid, proto, &a.kv, NULL) < 0)
		goto out;
	bool show = strcasecmp(ret, "true") == 0;
	struct sub_match m = { proto, ep, NULL, 0 };
	sl_sub_walk(sl_catalog_master(), t->hdr.uid, NULL, match_sub, &m);
	if (m.found) {
		/* The same endpoint again: its subscription, when nothing
		 * differs (a pending http one gets its confirmation again). */
		if (sub_same(m.found, &a.kv)) {
			if (!m.found->confirmed && m.found->token)
				send_control(req, t, m.found, m.found->token, false);
			reply_sub_arn(req, m.found, show);
		} else {
			bad_param(req, "Attributes Reason: Subscription already exists with "
				       "different attributes");
		}
		goto out;
	}
	if (m.n >= SL_SNS_SUBS_PER_TOPIC_MAX || sl_subs_count() >= SL_SNS_SUBS_MAX) {
		sl_sns_error(req, SL_SNS_E_SUB_LIMIT, "Subscription limit exceeded");
		goto out;
	}
	struct sl_sub *s = sl_sub_add(t, (uint8_t)proto, ep, NULL);
	if (!s) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		goto out;
	}
	s->created_ms = sl_now_ms();
	/* Endpoints that cannot answer a confirmation are confirmed at once
	 * (AWS: SQS queues and Lambda functions of the account, phones and
	 * platform endpoints); http, https and email wait for
	 * ConfirmSubscription with the token. */
	s->confirmed = proto != SL_SNS_HTTP && proto != SL_SNS_HTTPS && proto != SL_SNS_EMAIL &&
		       proto != SL_SNS_EMAIL_JSON;
	if (!s->confirmed) {
		char tok[SL_SNS_TOKEN_LEN + 1];
		if (token_make(tok) < 0 || !(s->token = strdup(tok))) {
			sl_sns_error(req, SL_SNS_E_INTERNAL, "no confirmation token");
			goto out;
		}
	}
	if (sub_attrs_apply(req, s, &a.kv) < 0)
		goto out;
	sl_catalog_commit();
	if (!s->confirmed)
		send_control(req, t, s, s->token, false);
	reply_sub_arn(req, s, show);
out:
	kvs_clear(&a.kv);
	free(ep);
}

/* ---- Restoring what Unsubscribe ended --------------------------------------------- */

/* An http(s) subscription that Unsubscribe ended, which the token of its
 * UnsubscribeConfirmation brings back ("To cancel this operation and
 * restore the subscription, visit the SubscribeURL"): with its id, its
 * attributes and confirmed. Held in memory on the control thread (so not
 * across a restart), SL_SNS_RESTORES_MAX of them in a ring whose oldest
 * lapses first, each for SL_SNS_RESTORE_TTL_MS. */
struct restore {
	char token[SL_SNS_TOKEN_LEN + 1];
	uint64_t topic_uid;
	char id[SL_SNS_SUB_ID_LEN + 1];
	uint8_t protocol;
	bool raw;
	int64_t until_ms;
	char *endpoint; /* NULL: the slot is free */
	struct sl_sns_kvs attrs;
};

static struct {
	struct restore r[SL_SNS_RESTORES_MAX];
	unsigned next;
} restores;

static void restore_free(struct restore *r)
{
	free(r->endpoint);
	r->endpoint = NULL;
	kvs_clear(&r->attrs);
}

/* Keep s for restoring under a new token, into tok; -1: out of memory or
 * randomness (the subscription just ends). */
static int restore_keep(const struct sl_sub *s, char tok[SL_SNS_TOKEN_LEN + 1])
{
	struct restore *r = &restores.r[restores.next];

	if (token_make(tok) < 0)
		return -1;
	restore_free(r);
	*r = (struct restore){ .topic_uid = s->topic_uid, .protocol = s->protocol, .raw = s->raw,
			       .until_ms = sl_now_ms() + SL_SNS_RESTORE_TTL_MS };
	memcpy(r->token, tok, sizeof(r->token));
	memcpy(r->id, s->id, sizeof(r->id));
	for (uint32_t i = 0; i < s->attrs.n; i++)
		if (sl_sns_kv_set(&r->attrs, s->attrs.v[i].key, s->attrs.v[i].value,
				  SL_SNS_OBJ_ATTRS_MAX) < 0)
			goto fail;
	if (!(r->endpoint = strdup(s->endpoint)))
		goto fail;
	restores.next = (restores.next + 1) % SL_SNS_RESTORES_MAX;
	return 0;
fail:
	restore_free(r);
	return -1;
}

/* ConfirmSubscription with a restore token of topic t: the subscription
 * again, confirmed, into *out; 0 when the token is none of these, -1 when
 * the reply has been made (an error). */
static int restore_take(struct sl_req *req, const struct sl_topic *t, const char *token,
			const struct sl_sub **out)
{
	struct restore *r = NULL;

	for (unsigned i = 0; i < SL_SNS_RESTORES_MAX && !r; i++)
		if (restores.r[i].endpoint && restores.r[i].topic_uid == t->hdr.uid &&
		    strcmp(restores.r[i].token, token) == 0)
			r = &restores.r[i];
	if (!r)
		return 0;
	if (sl_now_ms() > r->until_ms) {
		restore_free(r);
		return 0;
	}
	/* Subscribed again meanwhile: that subscription stands. */
	const struct sl_sub *have = sl_sub_find(sl_catalog_master(), t->hdr.uid, r->id);
	struct sub_match m = { r->protocol, r->endpoint, NULL, 0 };
	sl_sub_walk(sl_catalog_master(), t->hdr.uid, NULL, match_sub, &m);
	if (have || m.found) {
		*out = have ? have : m.found;
		restore_free(r);
		return 1;
	}
	if (m.n >= SL_SNS_SUBS_PER_TOPIC_MAX || sl_subs_count() >= SL_SNS_SUBS_MAX) {
		sl_sns_error(req, SL_SNS_E_SUB_LIMIT, "Subscription limit exceeded");
		return -1;
	}
	struct sl_sub *s = sl_sub_add(t, r->protocol, r->endpoint, r->id);
	if (!s) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		return -1;
	}
	s->created_ms = sl_now_ms();
	s->confirmed = true;
	s->raw = r->raw;
	if (sub_attrs_apply(req, s, &r->attrs) < 0)
		return -1;
	sl_catalog_commit();
	restore_free(r);
	*out = s;
	return 1;
}

struct token_match {
	const char *token;
	const struct sl_sub *found;
};

static bool match_token(const struct sl_sub *s, void *arg)
{
	struct token_match *m = arg;

	if (s->token && strcmp(s->token, m->token) == 0) {
		m->found = s;
		return false;
	}
	return true;
}

void sl_sns_confirm_subscription(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_topic *t = named_topic(req, &f);
	char token[SL_SNS_TOKEN_LEN * 4 + 1];

	if (!t || sl_sns_str(&f, (int)f.obj, "Token", token, sizeof(token), sizeof(token) - 1,
			     true) < 0)
		return;
	struct token_match m = { token, NULL };
	sl_sub_walk(sl_catalog_master(), t->hdr.uid, NULL, match_token, &m);
	if (!m.found) {
		int rc = restore_take(req, t, token, &m.found);
		if (rc == 0)
			bad_param(req, "Token");
		if (rc <= 0)
			return;
	}
	if (!m.found->confirmed) {
		struct sl_sub *e = sl_sub_edit(m.found);
		if (!e) {
			sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
			return;
		}
		e->confirmed = true;
		sl_catalog_commit();
		m.found = e;
	}
	reply_sub_arn(req, m.found, true);
}

void sl_sns_unsubscribe(struct sl_req *req)
{
	struct sl_fields f;
	char arn[SL_SNS_ARN_MAX + 1];
	bool bad;

	if (parse(req, &f) < 0 ||
	    sl_sns_str(&f, (int)f.obj, "SubscriptionArn", arn, sizeof(arn), SL_SNS_ARN_MAX,
		       true) < 0)
		return;
	const struct sl_sub *s = sub_by_arn(arn, &bad);
	if (bad) {
		bad_param(req, "SubscriptionArn");
		return;
	}
	if (s) {
		/* A confirmed http(s) endpoint is told, and may take it back. */
		const struct sl_topic *t = sl_topic_find_uid(sl_catalog_master(), s->topic_uid);
		char tok[SL_SNS_TOKEN_LEN + 1];
		if (t && s->confirmed && (s->protocol == SL_SNS_HTTP || s->protocol == SL_SNS_HTTPS) &&
		    restore_keep(s, tok) == 0)
			send_control(req, t, s, tok, true);
		sl_catalog_remove(&s->hdr);
		sl_catalog_commit();
	}
	sl_reply_begin(req);
	sl_reply_end(req);
}

/* ListSubscriptions(ByTopic) pages: NextToken is "<topic uid hex>/<id>",
 * the last subscription of the page. */
struct list_subs {
	struct sl_req *req;
	uint32_t n;
	bool more;
	uint64_t last_uid;
	char last[SL_SNS_SUB_ID_LEN + 1];
};

static bool list_sub_one(const struct sl_sub *s, void *arg)
{
	struct list_subs *ls = arg;
	struct sl_enc *e = &ls->req->out;
	char arn[SL_SUB_ARN_MAX], tarn[SL_TOPIC_ARN_MAX];

	if (ls->n == SL_SNS_LIST_PAGE) {
		ls->more = true;
		return false;
	}
	sl_sub_arn(s, arn);
	sl_sub_topic_arn(s, tarn);
	sl_enc_obj_begin(e);
	sl_enc_key(e, "SubscriptionArn");
	sl_enc_cstr(e, s->confirmed ? arn : "PendingConfirmation");
	sl_enc_key(e, "Owner");
	sl_enc_cstr(e, sl_cfg->account_id);
	sl_enc_key(e, "Protocol");
	sl_enc_cstr(e, sl_sns_proto_names[s->protocol]);
	sl_enc_key(e, "Endpoint");
	sl_enc_cstr(e, s->endpoint);
	sl_enc_key(e, "TopicArn");
	sl_enc_cstr(e, tarn);
	sl_enc_obj_end(e);
	ls->last_uid = s->topic_uid;
	memcpy(ls->last, s->id, sizeof(ls->last));
	ls->n++;
	return true;
}

static int token_read(struct sl_req *req, struct sl_fields *f, uint64_t *uid, char id[37])
{
	char token[64];
	char *end;

	*uid = 0;
	id[0] = '\0';
	if (sl_sns_str(f, (int)f->obj, "NextToken", token, sizeof(token), sizeof(token) - 1,
		       false) < 0)
		return -1;
	if (!token[0])
		return 0;
	*uid = strtoull(token, &end, 16);
	if (*end != '/' || strlen(end + 1) != SL_SNS_SUB_ID_LEN) {
		bad_param(req, "NextToken");
		return -1;
	}
	memcpy(id, end + 1, SL_SNS_SUB_ID_LEN + 1);
	return 0;
}

static void list_subs_end(struct sl_req *req, const struct list_subs *ls)
{
	char token[64];

	sl_enc_arr_end(&req->out);
	if (ls->more) {
		snprintf(token, sizeof(token), "%llx/%s", (unsigned long long)ls->last_uid, ls->last);
		sl_enc_key(&req->out, "NextToken");
		sl_enc_cstr(&req->out, token);
	}
	sl_reply_end(req);
}

/* Every topic's subscriptions, limited to the request's region. */
struct region_filter {
	const char *region;
	struct list_subs *ls;
};

static bool list_sub_region(const struct sl_sub *s, void *arg)
{
	struct region_filter *rf = arg;

	return strcmp(s->region, rf->region) != 0 || list_sub_one(s, rf->ls);
}

void sl_sns_list_subscriptions(struct sl_req *req)
{
	struct sl_fields f;
	uint64_t uid;
	char id[37];

	if (parse(req, &f) < 0 || token_read(req, &f, &uid, id) < 0)
		return;
	struct list_subs ls = { .req = req };
	struct region_filter rf = { req->region, &ls };
	sl_reply_begin(req);
	sl_enc_key(&req->out, "Subscriptions");
	sl_enc_arr_begin(&req->out);
	sl_sub_walk_all(sl_catalog_master(), uid, id, list_sub_region, &rf);
	list_subs_end(req, &ls);
}

void sl_sns_list_subscriptions_by_topic(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_topic *t = named_topic(req, &f);
	uint64_t uid;
	char id[37];

	if (!t || token_read(req, &f, &uid, id) < 0)
		return;
	if (id[0] && uid != t->hdr.uid) {
		bad_param(req, "NextToken");
		return;
	}
	struct list_subs ls = { .req = req };
	sl_reply_begin(req);
	sl_enc_key(&req->out, "Subscriptions");
	sl_enc_arr_begin(&req->out);
	sl_sub_walk(sl_catalog_master(), t->hdr.uid, id, list_sub_one, &ls);
	list_subs_end(req, &ls);
}

void sl_sns_get_subscription_attributes(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_sub *s = named_sub(req, &f);
	char arn[SL_SUB_ARN_MAX], tarn[SL_TOPIC_ARN_MAX];

	if (!s)
		return;
	sl_sub_arn(s, arn);
	sl_sub_topic_arn(s, tarn);
	sl_reply_begin(req);
	sl_sns_map_begin(req, "Attributes");
	sl_sns_map_put(req, "SubscriptionArn", arn);
	sl_sns_map_put(req, "TopicArn", tarn);
	sl_sns_map_put(req, "Owner", sl_cfg->account_id);
	sl_sns_map_put(req, "Protocol", sl_sns_proto_names[s->protocol]);
	sl_sns_map_put(req, "Endpoint", s->endpoint);
	sl_sns_map_put(req, "PendingConfirmation", s->confirmed ? "false" : "true");
	sl_sns_map_put(req, "ConfirmationWasAuthenticated", s->confirmed ? "true" : "false");
	sl_sns_map_put(req, "RawMessageDelivery", s->raw ? "true" : "false");
	if (s->protocol == SL_SNS_HTTP || s->protocol == SL_SNS_HTTPS) {
		const char *dp = sl_sns_kv_get(&s->attrs, "DeliveryPolicy");
		sl_sns_map_put(req, "EffectiveDeliveryPolicy", dp ? dp : default_delivery);
	}
	for (uint32_t i = 0; i < s->attrs.n; i++)
		sl_sns_map_put(req, s->attrs.v[i].key, s->attrs.v[i].value);
	sl_sns_map_end(req);
	sl_reply_end(req);
}

void sl_sns_set_subscription_attributes(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_sub *s = named_sub(req, &f);

	if (!s)
		return;
	struct attrs_in a = { .req = req, .defs = sub_attrs,
			      .ndefs = sizeof(sub_attrs) / sizeof(sub_attrs[0]) };
	if (set_one(req, &f, &a) < 0 || sub_attrs_ok(req, s->topic_uid, s->protocol, &a.kv, s) < 0) {
		kvs_clear(&a.kv);
		return;
	}
	struct sl_sub *e = sl_sub_edit(s);
	int rc = e ? sub_attrs_apply(req, e, &a.kv) : -1;
	kvs_clear(&a.kv);
	if (!e)
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
	if (!e || rc < 0)
		return;
	sl_catalog_commit();
	sl_reply_begin(req);
	sl_reply_end(req);
}

/* ---- Tags ---------------------------------------------------------------------------- */

/* The topic a ResourceArn names (SNS tags topics only). */
static const struct sl_topic *tagged_topic(struct sl_req *req, struct sl_fields *f)
{
	char arn[SL_SNS_ARN_MAX + 1], region[SL_REGION_MAX + 1], name[SL_SNS_TOPIC_NAME_MAX + 1];

	if (parse(req, f) < 0 ||
	    sl_sns_str(f, (int)f->obj, "ResourceArn", arn, sizeof(arn), SL_SNS_ARN_MAX, true) < 0)
		return NULL;
	const struct sl_topic *t = sl_sns_topic_arn_parse(arn, region, name) == 0 ?
		sl_topic_find(sl_catalog_master(), region, name) : NULL;
	if (!t)
		sl_sns_error(req, SL_SNS_E_RESOURCE_NOT_FOUND, "Resource does not exist");
	return t;
}

void sl_sns_tag_resource(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_topic *t = tagged_topic(req, &f);

	if (!t)
		return;
	struct tags_in *in = tags_read(&f, true);
	if (!in)
		return;
	struct sl_topic *e = sl_topic_edit(t);
	int rc = e ? tags_apply(req, &e->tags, in) : -1;
	free(in);
	if (!e)
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
	if (rc < 0)
		return;
	sl_catalog_commit();
	sl_reply_begin(req);
	sl_reply_end(req);
}

void sl_sns_untag_resource(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_topic *t = tagged_topic(req, &f);
	char key[SL_SNS_TAG_KEY_MAX + 1];

	if (!t)
		return;
	int m = sl_sns_list(&f, (int)f.obj, "TagKeys");
	if (m == SL_FIELD_ERR)
		return;
	if (m == 0) {
		bad_param(req, "TagKeys");
		return;
	}
	struct sl_topic *e = sl_topic_edit(t);
	if (!e) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		return;
	}
	uint32_t c = sl_doc_first((uint32_t)m);
	for (uint32_t i = 0; i < f.t[m].count; i++, c = sl_doc_next(f.t, c)) {
		int len = f.t[c].type == SL_DOC_STR ? sl_doc_str(&f.t[c], key, sizeof(key)) : -1;
		if (len < 0) {
			bad_param(req, "TagKeys");
			return;
		}
		sl_sns_kv_set(&e->tags, key, NULL, SL_SNS_TAGS_MAX);
	}
	sl_catalog_commit();
	sl_reply_begin(req);
	sl_reply_end(req);
}

void sl_sns_list_tags_for_resource(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_topic *t = tagged_topic(req, &f);

	if (!t)
		return;
	sl_reply_begin(req);
	sl_enc_key(&req->out, "Tags");
	sl_enc_arr_begin(&req->out);
	for (uint32_t i = 0; i < t->tags.n; i++) {
		sl_enc_obj_begin(&req->out);
		sl_enc_key(&req->out, "Key");
		sl_enc_cstr(&req->out, t->tags.v[i].key);
		sl_enc_key(&req->out, "Value");
		sl_enc_cstr(&req->out, t->tags.v[i].value);
		sl_enc_obj_end(&req->out);
	}
	sl_enc_arr_end(&req->out);
	sl_reply_end(req);
}

/* ---- Permissions ------------------------------------------------------------------ */

static const char *const sns_actions[] = {
	"AddPermission", "DeleteTopic", "GetTopicAttributes", "ListSubscriptionsByTopic",
	"Publish", "Receive", "RemovePermission", "SetTopicAttributes", "Subscribe",
};

/* A label: 1 to 80 of [A-Za-z0-9_-]. */
static bool label_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 80 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

/* The topic's policy (set, or the default) with `drop`'s statement
 * removed and `add` appended (control/policy.c). */
static char *topic_policy_rebuild(const struct sl_topic *t, const char *drop, const char *add,
				  bool *found)
{
	char def[DEFAULT_POLICY_MAX];
	const char *old = sl_sns_kv_get(&t->attrs, "Policy");

	if (!old) {
		default_policy(t, def);
		old = def;
	}
	return sl_policy_rebuild(old, "2008-10-17", "__default_policy_ID", drop, add,
				 SL_SNS_ATTR_VALUE_MAX, found);
}

/* Store a rebuilt policy ("" : none left, which AWS shows as an empty
 * statement list). */
static void topic_policy_set(struct sl_req *req, const struct sl_topic *t, const char *pol)
{
	struct sl_topic *e = sl_topic_edit(t);
	char empty[128];

	if (!pol[0]) {
		snprintf(empty, sizeof(empty), "{\"Version\":\"2008-10-17\",\"Id\":"
			 "\"__default_policy_ID\",\"Statement\":[]}");
		pol = empty;
	}
	if (!e || sl_sns_kv_set(&e->attrs, "Policy", pol, SL_SNS_OBJ_ATTRS_MAX) < 0) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		return;
	}
	sl_catalog_commit();
	sl_reply_begin(req);
	sl_reply_end(req);
}

static bool account_ok(const char *s)
{
	return strlen(s) == 12 && strspn(s, "0123456789") == 12;
}

static bool action_ok(const char *s)
{
	for (size_t i = 0; i < sizeof(sns_actions) / sizeof(sns_actions[0]); i++) {
		if (strcmp(s, sns_actions[i]) == 0)
			return true;
	}
	return false;
}

/* A list parameter's strings (Name.member.N), each checked by ok. The
 * count, or -1 with the error set. */
static int read_members(struct sl_fields *f, const char *name, char (*out)[64], int max,
			bool (*ok)(const char *s))
{
	int m = sl_sns_list(f, (int)f->obj, name);

	if (m == SL_FIELD_ERR)
		return -1;
	if (m == 0) {
		bad_param(f->req, name);
		return -1;
	}
	if ((int)f->t[m].count > max) {
		sl_sns_error(f->req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: %s Reason: "
			     "more than %d values", name, max);
		return -1;
	}
	uint32_t c = sl_doc_first((uint32_t)m);
	for (uint32_t i = 0; i < f->t[m].count; i++, c = sl_doc_next(f->t, c)) {
		if (f->t[c].type != SL_DOC_STR || sl_doc_str(&f->t[c], out[i], 64) <= 0 ||
		    !ok(out[i])) {
			if (ok == action_ok)
				sl_sns_error(f->req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: "
					     "Policy statement action out of service scope!");
			else
				bad_param(f->req, name);
			return -1;
		}
	}
	return (int)f->t[m].count;
}

void sl_sns_add_permission(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_topic *t = named_topic(req, &f);
	char label[256], arn[SL_TOPIC_ARN_MAX];
	char accounts[SL_SNS_PERMISSION_VALUES_MAX][64], actions[SL_SNS_PERMISSION_VALUES_MAX][64];

	if (!t || sl_sns_str(&f, (int)f.obj, "Label", label, sizeof(label), sizeof(label) - 1,
			     true) < 0)
		return;
	if (!label_ok(label)) {
		bad_param(req, "Label");
		return;
	}
	int na = read_members(&f, "AWSAccountId", accounts, SL_SNS_PERMISSION_VALUES_MAX,
			      account_ok);
	int nc = na < 0 ? -1 : read_members(&f, "ActionName", actions,
					      SL_SNS_PERMISSION_VALUES_MAX, action_ok);
	if (nc < 0)
		return;
	const char *acc[SL_SNS_PERMISSION_VALUES_MAX], *act[SL_SNS_PERMISSION_VALUES_MAX];
	for (int i = 0; i < na; i++)
		acc[i] = accounts[i];
	for (int i = 0; i < nc; i++)
		act[i] = actions[i];
	sl_topic_arn(t, arn);
	bool found;
	char *pol = topic_policy_rebuild(t, label, NULL, &found);
	free(pol);
	if (found) {
		bad_param(req, "Statement already exists");
		return;
	}
	char *st = sl_policy_statement(label, acc, (size_t)na, "SNS:", act, (size_t)nc, arn);
	pol = st ? topic_policy_rebuild(t, NULL, st, &found) : NULL;
	free(st);
	if (!pol) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Policy Reason: the "
			     "policy would be longer than %d bytes", SL_SNS_ATTR_VALUE_MAX);
		return;
	}
	topic_policy_set(req, t, pol);
	free(pol);
}

/* An unknown label is no error (AWS answers success). */
void sl_sns_remove_permission(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_topic *t = named_topic(req, &f);
	char label[256];
	bool found;

	if (!t || sl_sns_str(&f, (int)f.obj, "Label", label, sizeof(label), sizeof(label) - 1,
			     true) < 0)
		return;
	char *pol = topic_policy_rebuild(t, label, NULL, &found);
	if (!pol) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		return;
	}
	if (found) {
		topic_policy_set(req, t, pol);
	} else {
		sl_reply_begin(req);
		sl_reply_end(req);
	}
	free(pol);
}
