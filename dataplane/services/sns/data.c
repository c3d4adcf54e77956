/* data.c - Publish and PublishBatch, on the worker that received them.
 *
 * A publish is checked whole (AWS's limits and errors, nothing delivered
 * when it fails), then fanned out to the topic's subscriptions as this
 * iteration's catalog lists them. An SQS subscription gets the message as
 * an SQS send of its own (the SNS envelope, or with RawMessageDelivery the
 * bare message with its attributes as SQS message attributes), stored
 * through sl_sqs_deliver: into a partition of the queue this worker owns
 * when the queue has one, so that fan-out to standard queues crosses no
 * ring and K deliveries share this worker's one group commit. The publish
 * is answered once every delivery is durable: an acknowledged publish is in
 * every subscribed queue, across kill -9. A delivery that cannot be
 * stored for a reason of the queue's (gone, message larger than it takes)
 * is lost as AWS loses it after its retries, and counted; one that fails
 * for the server's own reason (storage) fails the publish, so that the
 * client retries it.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/sns/http.h"
#include "control/sns/outbox.h"
#include "control/sns/platform.h"
#include "control/sns/sms.h"
#include "control/sns/topics.h"
#include "control/sqs/queues.h"
#include "dataplane/codec/bin.h"
#include "dataplane/codec/doc.h"
#include "dataplane/codec/enc.h"
#include "dataplane/net/server.h"
#include "dataplane/net/service.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/worker.h"
#include "dataplane/services/sns/data.h"
#include "dataplane/services/sns/envelope.h"
#include "dataplane/services/sns/filter.h"
#include "dataplane/services/sns/mail.h"
#include "dataplane/services/sns/sign.h"
#include "dataplane/services/sns/stats.h"
#include "dataplane/services/sns/sns.h"
#include "dataplane/services/sqs/data.h"
#include "dataplane/services/sqs/msg.h"
#include "dataplane/services/sqs/sqs.h"

/* Per-topic counters for /metrics are a later step; these are the
 * server's. */
static _Atomic uint64_t n_publishes, n_deliveries, n_failures, n_filtered, n_dead_sqs;
/* Lambda deliveries to functions the config does not map. */
static _Atomic uint64_t n_failures_lambda, n_dead_lambda;

/* Deliveries this worker has on the way (SL_SNS_DELIVERIES_MAX). */
static __thread uint32_t deliveries_out;

/* One message of a publish (PublishBatch: one per entry). */
struct sns_entry {
	struct sns_pub *pub;
	char id[SL_SNS_BATCH_ID_MAX + 1];
	uint8_t msg_id[16];
	uint64_t seq;            /* FIFO topics: its SequenceNumber */
	bool failed;
	enum sl_sns_err err;
	char msg[256];
	/* The message as checked; views into the request or the arena. */
	const char *message;     /* the text delivered (default, or per protocol) */
	uint32_t message_len;
	/* The text each protocol gets: MessageStructure=json's entry for it
	 * ("sqs", "http", "lambda"...), else "default"; else the message. Texts
	 * that are the same entry share one pointer. */
	const char *text[SL_SNS_PROTOS];
	uint32_t text_len[SL_SNS_PROTOS];
	const char *subject;
	const char *group, *dedup;
	uint32_t group_len, dedup_len;
	unsigned nattrs;
	struct sl_sqs_attr attrs[SL_SNS_ATTRS_MAX];
	/* The message SQS gets, parsed as JSON for MessageBody filter
	 * policies: once, when the first such policy asks (fan-out only). */
	bool structured;         /* MessageStructure=json: message is the document */
	bool body_parsed;
	int body_n;
	struct sl_doc_tok *body;
	/* The signature of each text (by protocol, as text[]): made by the
	 * first envelope that needs one, freed once fan-out is done; texts
	 * that share a pointer share it. */
	char *sig[SL_SNS_PROTOS];
};

struct sns_pub {
	struct sl_req *req;
	bool batch;
	bool fifo;
	uint32_t n;
	uint32_t pending;        /* deliveries not back yet */
	uint64_t topic_uid;
	char topic_arn[SL_TOPIC_ARN_MAX];
	int64_t now_ms;
	struct sl_sns_tstats *st; /* the topic's /metrics counters, this worker's; or NULL */
	struct sns_entry e[SL_SNS_BATCH_MAX];
};

/* Count one in the publish's topic counters (its worker's table). */
#define TSTAT(p, field) do {                                                   \
		if ((p)->st)                                                    \
			sl_sns_stat_add(&(p)->st->field, 1);                    \
	} while (0)

/* ---- Reading a message ------------------------------------------------------------ */

static long arena_str(const struct sl_doc_tok *t, int i, uint8_t **arena, uint8_t *end)
{
	if (t[i].type != SL_DOC_STR)
		return -1;
	int len = sl_doc_str(&t[i], (char *)*arena, (size_t)(end - *arena));
	if (len < 0)
		return -1;
	*arena += len + 1;
	return len;
}

/* A String.Array value: a JSON array of strings, numbers, booleans and
 * nulls. */
static bool string_array_ok(const uint8_t *v, size_t len)
{
	/* The request's tokens are in use: parse into a small local set. */
	struct sl_doc_tok local[SL_SNS_ARRAY_TOKS];
	int n = sl_json_parse(v, len, local, SL_SNS_ARRAY_TOKS);

	if (n <= 0 || local[0].type != SL_DOC_ARR)
		return false;
	for (int i = 1; i < n; i++) {
		if (local[i].type == SL_DOC_ARR || local[i].type == SL_DOC_OBJ)
			return false;
	}
	return true;
}

/* The names AWS keeps for SNS's own delivery options (SMS sender id and
 * type, mobile push settings): a client may set them, SQS queues do not
 * get them. */
static bool reserved_attr(const char *name, size_t n)
{
	static const char *const prefixes[] = { "AWS.SNS.SMS.", "AWS.MM.SMS.", "AWS.SNS.MOBILE." };

	for (unsigned i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t pl = strlen(prefixes[i]);
		/* The rest as any name (the prefix is what SQS would refuse). */
		if (n > pl && memcmp(name, prefixes[i], pl) == 0 &&
		    sl_sqs_attr_name_ok(name + 4, n - 4))
			return true;
	}
	return false;
}

/* MessageAttributes.entry.N.Name / .Value.DataType / .Value.StringValue |
 * .Value.BinaryValue under obj into e->attrs. 0, or -1 with the error set. */
static int read_attrs(struct sl_fields *f, int obj, struct sns_entry *e,
		      uint8_t **arena, uint8_t *end)
{
	const struct sl_doc_tok *t = f->t;
	struct sl_req *req = f->req;
	int m = sl_doc_get(t, (uint32_t)obj, "MessageAttributes");

	e->nattrs = 0;
	if (m < 0)
		return 0;
	int en = t[m].type == SL_DOC_OBJ ? sl_doc_get(t, (uint32_t)m, "entry") : -1;
	if (en < 0 || t[en].type != SL_DOC_ARR) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: MessageAttributes");
		return -1;
	}
	if (t[en].count > SL_SNS_ATTRS_MAX) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER_VALUE,
			     "Number of message attributes [%u] exceeds the allowed maximum [%d].",
			     t[en].count, SL_SNS_ATTRS_MAX);
		return -1;
	}
	uint32_t c = sl_doc_first((uint32_t)en);
	for (uint32_t k = 0; k < t[en].count; k++, c = sl_doc_next(t, c)) {
		int ni = t[c].type == SL_DOC_OBJ ? sl_doc_get(t, c, "Name") : -1;
		int vi = t[c].type == SL_DOC_OBJ ? sl_doc_get(t, c, "Value") : -1;
		struct sl_sqs_attr *a = &e->attrs[k];
		const char *name = (const char *)*arena;
		long nl = ni < 0 ? -1 : arena_str(t, ni, arena, end);
		if (nl <= 0 || vi < 0 || t[vi].type != SL_DOC_OBJ) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER_VALUE,
				     "The message attribute %u must have a name and a value.", k + 1);
			return -1;
		}
		if (!sl_sqs_attr_name_ok(name, (size_t)nl) && !reserved_attr(name, (size_t)nl)) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER_VALUE,
				     "The message attribute name '%s' is invalid.", name);
			return -1;
		}
		for (unsigned j = 0; j < k; j++) {
			if (e->attrs[j].name_len == (uint32_t)nl &&
			    memcmp(e->attrs[j].name, name, (size_t)nl) == 0) {
				sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER_VALUE,
					     "The message attribute '%s' is given twice.", name);
				return -1;
			}
		}
		int ti = sl_doc_get(t, (uint32_t)vi, "DataType");
		int si = sl_doc_get(t, (uint32_t)vi, "StringValue");
		int bi = sl_doc_get(t, (uint32_t)vi, "BinaryValue");
		const char *type = (const char *)*arena;
		long tl = ti < 0 ? -1 : arena_str(t, ti, arena, end);
		bool bin = false, num = false;
		bool arr = tl == 12 && memcmp(type, "String.Array", 12) == 0;
		if (tl <= 0 || !sl_sqs_attr_type_ok(type, (size_t)tl, &bin, &num)) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER_VALUE,
				     "The message attribute '%s' has an invalid message attribute "
				     "type, the set of supported type prefixes is Binary, Number, "
				     "and String.", name);
			return -1;
		}
		if (bin ? bi < 0 : si < 0) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER_VALUE,
				     "The message attribute '%s' with type '%s' must use field '%s'.",
				     name, type, bin ? "Binary" : "String");
			return -1;
		}
		uint8_t *val = *arena;
		long vl = arena_str(t, bin ? bi : si, arena, end);
		if (vl >= 0 && bin)
			vl = sl_base64_dec(val, (const char *)val, (size_t)vl);
		int32_t bad;
		if (vl < 0 || (vl == 0 && !bin) ||
		    (!bin && !sl_sqs_chars_ok(val, (size_t)vl, &bad)) ||
		    (num && !sl_sqs_number_ok((const char *)val, (size_t)vl)) ||
		    (arr && !string_array_ok(val, (size_t)vl))) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER_VALUE,
				     "The message attribute '%s' has an invalid value for message "
				     "attribute type '%s'.", name, type);
			return -1;
		}
		*a = (struct sl_sqs_attr){ .name = name, .type = type, .value = val,
					   .name_len = (uint32_t)nl, .type_len = (uint32_t)tl,
					   .value_len = (uint32_t)vl, .binary = bin };
		e->nattrs = k + 1;
	}
	return 0;
}

/* Subject: 1..100 characters of printable ASCII, no line breaks. */
static bool subject_ok(const char *s, size_t n)
{
	if (n == 0 || n > SL_SNS_SUBJECT_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	}
	return true;
}

/* MessageStructure=json: the message is a JSON object of strings with a
 * "default"; each protocol may have its own. Sets the text SQS gets. */
static int structure_json(struct sl_req *req, struct sns_entry *e, uint8_t **arena, uint8_t *end)
{
	struct sl_doc_tok t[SL_SNS_STRUCTURE_TOKS];
	int n = sl_json_parse((const uint8_t *)e->message, e->message_len, t, SL_SNS_STRUCTURE_TOKS);

	if (n <= 0 || t[0].type != SL_DOC_OBJ) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Message "
			     "Structure - JSON message body failed to parse");
		return -1;
	}
	int d = sl_doc_get(t, 0, "default");
	if (d < 0 || t[d].type != SL_DOC_STR) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Message "
			     "Structure - No default entry in JSON message body");
		return -1;
	}
	/* Each entry used is copied once: together they are no longer than
	 * the message, and the arena has room for two texts its size. */
	int used[SL_SNS_PROTOS];
	for (int k = 0; k < SL_SNS_PROTOS; k++) {
		int pick = sl_doc_get(t, 0, sl_sns_proto_names[k]);
		used[k] = pick >= 0 && t[pick].type == SL_DOC_STR ? pick : d;
		int same = -1;
		for (int j = 0; j < k && same < 0; j++)
			if (used[j] == used[k])
				same = j;
		if (same >= 0) {
			e->text[k] = e->text[same];
			e->text_len[k] = e->text_len[same];
			continue;
		}
		const char *str = (const char *)*arena;
		long len = arena_str(t, used[k], arena, end);
		if (len < 0) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Message "
				     "Structure - JSON message body failed to parse");
			return -1;
		}
		e->text[k] = str;
		e->text_len[k] = (uint32_t)len;
	}
	return 0;
}

/* FIFO topics' sequence numbers: increasing across the server, and across
 * restarts (they start from the clock). */
static _Atomic uint64_t fifo_seq;

static uint64_t seq_next(void)
{
	uint64_t s = atomic_load(&fifo_seq);

	if (!s) {
		uint64_t base = (uint64_t)sl_now_ms() << 20;
		atomic_compare_exchange_strong(&fifo_seq, &s, base);
	}
	return atomic_fetch_add(&fifo_seq, 1) + 1;
}

/* One message's members under obj into e. 0, or -1 with the error set. */
static int read_entry(struct sl_fields *f, int obj, const struct sl_topic *t,
		      struct sns_entry *e, uint8_t **arena, uint8_t *end)
{
	const struct sl_doc_tok *tk = f->t;
	struct sl_req *req = f->req;
	int mi = sl_doc_get(tk, (uint32_t)obj, "Message");

	if (mi < 0) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Message Reason: "
			     "missing");
		return -1;
	}
	const char *msg = (const char *)*arena;
	long ml = arena_str(tk, mi, arena, end);
	int32_t bad;
	if (ml <= 0) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Empty message");
		return -1;
	}
	if (!sl_sqs_chars_ok((const uint8_t *)msg, (size_t)ml, &bad)) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Message Reason: "
			     "invalid characters");
		return -1;
	}
	e->message = msg;
	e->message_len = (uint32_t)ml;
	for (int k = 0; k < SL_SNS_PROTOS; k++) {
		e->text[k] = msg;
		e->text_len[k] = (uint32_t)ml;
	}
	int si = sl_doc_get(tk, (uint32_t)obj, "Subject");
	if (si >= 0) {
		const char *s = (const char *)*arena;
		long sl = arena_str(tk, si, arena, end);
		if (sl < 0 || !subject_ok(s, (size_t)sl)) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Subject");
			return -1;
		}
		e->subject = s;
	}
	if (read_attrs(f, obj, e, arena, end) < 0)
		return -1;
	size_t size = (size_t)ml + sl_sqs_attrs_size(e->attrs, e->nattrs);
	if (size > SL_SNS_MSG_MAX) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Message too long");
		return -1;
	}
	int st = sl_doc_get(tk, (uint32_t)obj, "MessageStructure");
	if (st >= 0) {
		char s[16];
		if (tk[st].type != SL_DOC_STR || sl_doc_str(&tk[st], s, sizeof(s)) < 0 ||
		    strcmp(s, "json") != 0) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER,
				     "Invalid parameter: MessageStructure");
			return -1;
		}
		if (structure_json(req, e, arena, end) < 0)
			return -1;
		e->structured = true;
	}
	static const char *const names[2] = { "MessageGroupId", "MessageDeduplicationId" };
	for (int k = 0; k < 2; k++) {
		int i = sl_doc_get(tk, (uint32_t)obj, names[k]);
		const char *v = (const char *)*arena;
		long vl = i < 0 ? -1 : arena_str(tk, i, arena, end);
		if (i >= 0 && (vl < 0 || !sl_sqs_fifo_id_ok(v, (size_t)vl))) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: %s",
				     names[k]);
			return -1;
		}
		if (i >= 0 && k == 1 && !t->fifo) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: "
				     "MessageDeduplicationId Reason: The request includes "
				     "MessageDeduplicationId parameter that is not valid for this "
				     "topic type");
			return -1;
		}
		if (i < 0)
			continue;
		if (k == 0) {
			e->group = v;
			e->group_len = (uint32_t)vl;
		} else {
			e->dedup = v;
			e->dedup_len = (uint32_t)vl;
		}
	}
	if (t->fifo && !e->group) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: The "
			     "MessageGroupId parameter is required for FIFO topics");
		return -1;
	}
	if (t->fifo && !e->dedup) {
		if (!t->content_dedup) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: The topic "
				     "should either have ContentBasedDeduplication enabled or "
				     "MessageDeduplicationId provided explicitly");
			return -1;
		}
		/* The SHA-256 of the message, in hex, as its deduplication id. */
		uint8_t d[EVP_MAX_MD_SIZE];
		unsigned dl = 0;
		if ((size_t)(end - *arena) < 65) {
			sl_sns_error(req, SL_SNS_E_INTERNAL, "no room for the message");
			return -1;
		}
		EVP_Digest(msg, (size_t)ml, d, &dl, EVP_sha256(), NULL);
		char *hex = (char *)*arena;
		for (unsigned i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", d[i]);
		*arena += 65;
		e->dedup = hex;
		e->dedup_len = 64;
	}
	if (!t->fifo) {
		e->group = NULL; /* standard topics keep no order */
		e->group_len = 0;
	}
	return 0;
}

/* ---- Delivering ------------------------------------------------------------------- */

struct fanout {
	struct sl_worker *w;
	struct sns_pub *p;
	const struct sl_catalog *c;
	const struct sl_topic *topic;
	struct sl_enc env;
	char base[SL_SNS_BASE_URL_MAX];
	char cert_url[SL_SNS_BASE_URL_MAX + SL_SNS_CERT_NAME_MAX];
	int sigv; /* the topic's SignatureVersion */
	struct sl_bw mail; /* email deliveries' text */
	const struct sl_platform *push_ep; /* an application subscription's endpoint */
	int err;
};

/* The SNS envelope of e for s (text: the message its protocol gets),
 * signed. The signature covers no subscription's own key, so each of the
 * message's texts is signed once per publish, however many subscribe. */
static int encode(struct fanout *fo, struct sns_entry *e, const struct sl_sub *s, bool lambda)
{
	int variant = s->protocol;
	const char *text = e->text[variant];
	uint32_t text_len = e->text_len[variant];
	char id[37], arn[SL_SUB_ARN_MAX], url[SL_SUB_ARN_MAX + SL_SNS_BASE_URL_MAX + 64];

	sl_sqs_uuid_fmt(e->msg_id, id);
	sl_sub_arn(s, arn);
	snprintf(url, sizeof(url), "%s/?Action=Unsubscribe&Version=" SL_SNS_VERSION
		 "&SubscriptionArn=%s", fo->base, arn);
	struct sl_sns_note n = {
		.type = "Notification", .message_id = id, .topic_arn = fo->p->topic_arn,
		.subject = e->subject, .message = text, .message_len = text_len,
		.timestamp_ms = fo->p->now_ms, .has_seq = fo->p->fifo, .seq = e->seq,
		.signature_version = fo->sigv, .signing_cert_url = fo->cert_url,
		.unsubscribe_url = url, .attrs = e->attrs, .nattrs = e->nattrs,
	};
	/* Protocols that get the same text share its signature. */
	for (int k = 0; k < variant && !e->sig[variant]; k++) {
		if (e->sig[k] && e->text[k] == text) {
			variant = k;
			break;
		}
	}
	if (!e->sig[variant]) {
		e->sig[variant] = malloc(SL_SNS_SIG_MAX);
		if (!e->sig[variant] || sl_sns_sign(&n, fo->sigv, e->sig[variant]) < 0) {
			free(e->sig[variant]);
			e->sig[variant] = NULL;
			return -ENOMEM;
		}
	}
	n.signature = e->sig[variant];
	return lambda ? sl_sns_lambda_event(&fo->env, &n, arn) : sl_sns_envelope(&fo->env, &n);
}

static int envelope(struct fanout *fo, struct sns_entry *e, const struct sl_sub *s)
{
	return encode(fo, e, s, false);
}

static void pub_reply(struct sl_worker *w, struct sns_pub *p);

/* A delivery of e came back: stored (err 0), or not (err: an SQS error
 * + 1). `counted`: a stored one is a delivery made (SQS); an http one is
 * counted by the deliverer once the endpoint has it. */
static void delivery_back(struct sl_worker *w, struct sns_entry *e, int err, const char *msg,
			  bool counted)
{
	struct sns_pub *p = e->pub;

	deliveries_out--;
	if (err) {
		enum sl_sqs_err se = (enum sl_sqs_err)(err - 1);
		atomic_fetch_add_explicit(&n_failures, 1, memory_order_relaxed);
		/* The server's own failure: the publish fails, and the client
		 * retries it. */
		if ((se == SL_SQS_E_INTERNAL || se == SL_SQS_E_THROTTLED) && !e->failed) {
			e->failed = true;
			e->err = se == SL_SQS_E_THROTTLED ? SL_SNS_E_THROTTLED : SL_SNS_E_INTERNAL;
			snprintf(e->msg, sizeof(e->msg), "a delivery could not be stored: %s",
				 msg ? msg : "");
		}
	} else if (counted) {
		atomic_fetch_add_explicit(&n_deliveries, 1, memory_order_relaxed);
	}
	if (--p->pending == 0)
		pub_reply(w, p);
}

static void delivered(struct sl_worker *w, void *arg, int err, const char *msg)
{
	struct sns_entry *e = arg;
	struct sns_pub *p = e->pub;

	if (err) {
		TSTAT(p, failures[SL_SNS_PG_SQS]);
	} else {
		TSTAT(p, deliveries[SL_SNS_PG_SQS]);
		sl_sns_latency(sl_worker_index(w), SL_SNS_PG_SQS, sl_now_ms() - p->now_ms);
	}
	delivery_back(w, arg, err, msg, true);
}

/* An http delivery's put into the deliverer's outbox (control/sns/http.c). */
struct http_put {
	struct sl_msg msg;
	struct sns_entry *e;
	int result;
};

static void http_durable(struct sl_worker *w, struct sl_msg *m)
{
	struct http_put *hp = m->arg;

	delivery_back(w, hp->e, hp->result ? (int)SL_SQS_E_INTERNAL + 1 : 0,
		      hp->result ? "the http outbox could not store it" : NULL, false);
	free(hp);
}


static void delivered_dead(struct sl_worker *w, void *arg, int err, const char *msg)
{
	if (!err) {
		atomic_fetch_add_explicit(&n_dead_sqs, 1, memory_order_relaxed);
		TSTAT(((struct sns_entry *)arg)->pub, dead[SL_SNS_PG_SQS]);
	}
	delivery_back(w, arg, err, msg, false);
}

static void delivered_dead_lambda(struct sl_worker *w, void *arg, int err, const char *msg)
{
	if (!err) {
		atomic_fetch_add_explicit(&n_dead_lambda, 1, memory_order_relaxed);
		TSTAT(((struct sns_entry *)arg)->pub, dead[SL_SNS_PG_LAMBDA]);
	}
	delivery_back(w, arg, err, msg, false);
}

static const struct sl_queue *dead_letter_queue(struct fanout *fo, const struct sl_sub *s);

/* e into queue q for s; dead: q is s's dead-letter queue (the queue it
 * subscribed is gone, or takes no message this large). */
static void deliver_one(struct fanout *fo, struct sns_entry *e, const struct sl_sub *s,
			const struct sl_queue *q, bool dead)
{
	struct sl_sqs_stored m = { .sent_ms = fo->p->now_ms };

	if (s->raw) {
		m.body = (const uint8_t *)e->text[SL_SNS_SQS];
		m.body_len = e->text_len[SL_SNS_SQS];
		m.nattrs = 0;
		for (unsigned i = 0; i < e->nattrs; i++)
			if (!reserved_attr(e->attrs[i].name, e->attrs[i].name_len))
				m.attrs[m.nattrs++] = e->attrs[i];
	} else {
		if (envelope(fo, e, s) < 0) {
			fo->err = -ENOMEM;
			return;
		}
		m.body = fo->env.buf;
		m.body_len = (uint32_t)fo->env.len;
	}
	m.group = e->group;
	m.group_len = e->group_len;
	m.dedup = e->dedup;
	m.dedup_len = e->dedup_len;
	sl_sqs_delivered_fn back = !dead ? delivered : s->protocol == SL_SNS_LAMBDA ?
		delivered_dead_lambda : delivered_dead;
	int rc = sl_sqs_deliver(fo->w, q, &m, back, e);
	if (rc == -ENOMEM) {
		fo->err = rc;
		return;
	}
	if (rc < 0) {
		/* Larger than the queue takes: to the dead-letter queue, or
		 * lost, as AWS loses it. */
		atomic_fetch_add_explicit(&n_failures, 1, memory_order_relaxed);
		TSTAT(fo->p, failures[sl_sns_pgroup(s->protocol)]);
		const struct sl_queue *dlq = dead ? NULL : dead_letter_queue(fo, s);
		if (dlq)
			deliver_one(fo, e, s, dlq, true);
		return;
	}
	deliveries_out++;
	fo->p->pending++;
}

/* Whether e passes s's filter policy. A body that cannot be parsed for
 * want of memory fails the entry (InternalError) rather than read as a
 * body that is not JSON, which the filter would hold back. */
static bool passes(const struct sl_sub *s, struct sns_entry *e)
{
	if (!s->filter)
		return true;
	if (sl_filter_scope(s->filter) == SL_FILTER_BODY && !e->body_parsed) {
		size_t n = e->text_len[SL_SNS_SQS] / 2 + 2;
		e->body = malloc(n * sizeof(*e->body));
		if (!e->body) {
			e->failed = true;
			e->err = SL_SNS_E_INTERNAL;
			snprintf(e->msg, sizeof(e->msg), "out of memory");
			return false;
		}
		e->body_parsed = true;
		e->body_n = sl_json_parse((const uint8_t *)e->text[SL_SNS_SQS],
					  e->text_len[SL_SNS_SQS], e->body, (uint32_t)n);
	}
	struct sl_filter_msg m = { .attrs = e->attrs, .nattrs = e->nattrs, .body = e->body,
				   .body_n = e->body_n };
	if (sl_filter_match(s->filter, &m))
		return true;
	atomic_fetch_add_explicit(&n_filtered, 1, memory_order_relaxed);
	TSTAT(e->pub, filtered);
	return false;
}


/* The Lambda function of arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]:
 * its name's bytes, or 0. */
static size_t lambda_name(const char *arn, const char **name)
{
	const char *p = arn;

	for (int colons = 0; colons < 6; colons++) {
		p = strchr(p, ':');
		if (!p)
			return 0;
		p++;
	}
	*name = p;
	return strcspn(p, ":");
}

/* The members an outbox record ends with: the text, the topic and the
 * subscription when there are, the time. */
static void record_tail(struct fanout *fo, const char *text, uint32_t text_len,
			const char *sub_arn)
{
	char ts[SL_SNS_TIME_BUF];
	struct sl_enc *o = &fo->env;

	sl_sns_timestamp(fo->p->now_ms, ts);
	sl_enc_key(o, "message");
	sl_enc_str(o, text, text_len);
	if (fo->p->topic_arn[0]) {
		sl_enc_key(o, "topicArn");
		sl_enc_cstr(o, fo->p->topic_arn);
	}
	if (sub_arn) {
		sl_enc_key(o, "subscriptionArn");
		sl_enc_cstr(o, sub_arn);
	}
	sl_enc_key(o, "timestamp");
	sl_enc_cstr(o, ts);
}

/* The SMS of e to phone (the outbox record, control/sns/outbox.h) into
 * fo->env: its text, the sender id and type its attributes ask for. */
static int sms_record(struct fanout *fo, const struct sns_entry *e, const char *phone,
		      const char *sub_arn, const char *text, uint32_t text_len)
{
	char id[37], v[256];
	struct sl_enc *o = &fo->env;

	sl_sqs_uuid_fmt(e->msg_id, id);
	sl_enc_reset(o);
	sl_enc_obj_begin(o);
	sl_enc_key(o, "protocol");
	sl_enc_cstr(o, "sms");
	sl_enc_key(o, "messageId");
	sl_enc_cstr(o, id);
	sl_enc_key(o, "phoneNumber");
	sl_enc_cstr(o, phone);
	record_tail(fo, text, text_len, sub_arn);
	/* The account's defaults, where the message names none. */
	const struct sl_catalog *c = sl_catalog_get();
	const char *sender = sl_sns_sms_setting(c, fo->p->req->region, "DefaultSenderID");
	const char *type = sl_sns_sms_setting(c, fo->p->req->region, "DefaultSMSType");
	bool has_sender = false, has_type = false;
	for (unsigned i = 0; i < e->nattrs; i++) {
		has_sender |= e->attrs[i].name_len == 20 &&
			      memcmp(e->attrs[i].name, "AWS.SNS.SMS.SenderID", 20) == 0;
		has_type |= e->attrs[i].name_len == 19 &&
			    memcmp(e->attrs[i].name, "AWS.SNS.SMS.SMSType", 19) == 0;
	}
	if (sender && !has_sender) {
		sl_enc_key(o, "senderId");
		sl_enc_cstr(o, sender);
	}
	if (!has_type) {
		sl_enc_key(o, "smsType");
		sl_enc_cstr(o, type ? type : "Promotional");
	}
	static const char *const known[][2] = { { "AWS.SNS.SMS.SenderID", "senderId" },
						{ "AWS.SNS.SMS.SMSType", "smsType" },
						{ "AWS.MM.SMS.OriginationNumber", "originationNumber" },
						{ "AWS.SNS.SMS.MaxPrice", "maxPrice" } };
	for (unsigned i = 0; i < e->nattrs; i++) {
		const struct sl_sqs_attr *a = &e->attrs[i];
		for (unsigned k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
			if (a->name_len == strlen(known[k][0]) &&
			    memcmp(a->name, known[k][0], a->name_len) == 0 && !a->binary &&
			    a->value_len < sizeof(v)) {
				memcpy(v, a->value, a->value_len);
				v[a->value_len] = '\0';
				sl_enc_key(o, known[k][1]);
				sl_enc_cstr(o, v);
			}
		}
	}
	sl_enc_obj_end(o);
	return o->err;
}

/* The push of e to endpoint ep (the outbox record, control/sns/outbox.h)
 * into fo->env: the platform's entry of MessageStructure=json (APNS,
 * GCM...), else its default, else the message; and the endpoint's token
 * and CustomUserData. */
static int push_record(struct fanout *fo, const struct sns_entry *e, const struct sl_platform *ep,
		       const char *sub_arn)
{
	char id[37], arn[SL_PLATFORM_ARN_MAX];
	struct sl_enc *o = &fo->env;
	const char *text = e->text[SL_SNS_APPLICATION];
	uint32_t text_len = e->text_len[SL_SNS_APPLICATION];
	char *own = NULL;

	if (e->structured) {
		struct sl_doc_tok t[SL_SNS_STRUCTURE_TOKS];
		int n = sl_json_parse((const uint8_t *)e->message, e->message_len, t,
				      SL_SNS_STRUCTURE_TOKS);
		int k = n > 0 ? sl_doc_get(t, 0, ep->platform) : -1;
		if (k >= 0 && t[k].type == SL_DOC_STR && (own = malloc(e->message_len + 1))) {
			int len = sl_doc_str(&t[k], own, e->message_len + 1);
			if (len >= 0) {
				text = own;
				text_len = (uint32_t)len;
			}
		}
	}
	sl_sqs_uuid_fmt(e->msg_id, id);
	sl_platform_arn(ep, arn);
	sl_enc_reset(o);
	sl_enc_obj_begin(o);
	sl_enc_key(o, "protocol");
	sl_enc_cstr(o, "application");
	sl_enc_key(o, "messageId");
	sl_enc_cstr(o, id);
	sl_enc_key(o, "endpointArn");
	sl_enc_cstr(o, arn);
	sl_enc_key(o, "platform");
	sl_enc_cstr(o, ep->platform);
	sl_enc_key(o, "token");
	sl_enc_cstr(o, sl_sns_kv_get(&ep->attrs, "Token") ? sl_sns_kv_get(&ep->attrs, "Token") : "");
	const char *cud = sl_sns_kv_get(&ep->attrs, "CustomUserData");
	if (cud) {
		sl_enc_key(o, "customUserData");
		sl_enc_cstr(o, cud);
	}
	record_tail(fo, text, text_len, sub_arn);
	sl_enc_obj_end(o);
	free(own);
	return o->err;
}

/* The mail of e for s (email: the text and an unsubscribe footer;
 * email-json: the envelope) into fo->mail. */
static int mail_of(struct fanout *fo, struct sns_entry *e, const struct sl_sub *s,
		   const char *id, const char *arn)
{
	char unsub[SL_SUB_ARN_MAX + SL_SNS_BASE_URL_MAX + 64];
	struct sl_sns_mail m = {
		.to = s->endpoint, .subject = e->subject, .message_id = id,
		.topic_arn = fo->p->topic_arn, .sub_arn = arn, .timestamp_ms = fo->p->now_ms,
		.display_name = fo->topic ? sl_sns_kv_get(&fo->topic->attrs, "DisplayName") : NULL,
	};

	if (s->protocol == SL_SNS_EMAIL_JSON) {
		if (encode(fo, e, s, false) < 0)
			return -ENOMEM;
		m.body = (const char *)fo->env.buf;
		m.body_len = fo->env.len;
	} else {
		snprintf(unsub, sizeof(unsub), "%s/?Action=Unsubscribe&Version=" SL_SNS_VERSION
			 "&SubscriptionArn=%s", fo->base, arn);
		m.body = e->text[s->protocol];
		m.body_len = e->text_len[s->protocol];
		m.unsubscribe_url = unsub;
	}
	fo->mail.len = 0;
	sl_sns_mail_build(&fo->mail, &m);
	return fo->mail.err;
}

/* What r delivers of e to s: the envelope, the raw text, a Lambda event,
 * a mail, or an SMS record. */
static int body_of(struct fanout *fo, struct sns_entry *e, const struct sl_sub *s,
		   struct sl_sns_http_req *r)
{
	int rc;

	switch (s->protocol) {
	case SL_SNS_EMAIL:
	case SL_SNS_EMAIL_JSON:
		rc = mail_of(fo, e, s, r->message_id, r->sub_arn);
		r->body = fo->mail.p;
		r->body_len = fo->mail.len;
		return rc;
	case SL_SNS_SMS:
		rc = sms_record(fo, e, s->endpoint, r->sub_arn, e->text[SL_SNS_SMS],
				e->text_len[SL_SNS_SMS]);
		break;
	case SL_SNS_APPLICATION:
		rc = push_record(fo, e, fo->push_ep, r->sub_arn);
		break;
	default:
		if (s->raw && s->protocol != SL_SNS_LAMBDA) {
			r->body = (const uint8_t *)e->text[s->protocol];
			r->body_len = e->text_len[s->protocol];
			return 0;
		}
		rc = encode(fo, e, s, s->protocol == SL_SNS_LAMBDA);
		break;
	}
	r->body = fo->env.buf;
	r->body_len = fo->env.len;
	return rc;
}

static uint8_t kind_of(int protocol)
{
	switch (protocol) {
	case SL_SNS_LAMBDA:
		return SL_SNS_LAMBDA_EVENT;
	case SL_SNS_EMAIL:
	case SL_SNS_EMAIL_JSON:
		return SL_SNS_MAIL;
	case SL_SNS_SMS:
		return SL_SNS_SMS_RECORD;
	case SL_SNS_APPLICATION:
		return SL_SNS_PUSH_RECORD;
	default:
		return SL_SNS_NOTIFICATION;
	}
}

/* The messages of the publish that s's filter passes, into the http
 * deliverer's outbox (http and https endpoints; Lambda functions, as
 * their event, to the URL the config maps them to; mail; SMS); each
 * answers once it is durable there. A function the config does not map
 * fails as AWS's delivery to a missing function fails, at once: to the
 * subscription's dead-letter queue, or lost. */
static void fan_http(struct fanout *fo, const struct sl_sub *s)
{
	char id[37], arn[SL_SUB_ARN_MAX], *ctype = NULL;
	bool lambda = s->protocol == SL_SNS_LAMBDA;
	struct sl_sns_http_req r = { .kind = kind_of(s->protocol),
				     .raw = s->raw && !lambda, .url = s->endpoint,
				     .message_id = id, .topic_arn = fo->p->topic_arn, .sub_arn = arn,
				     .made_ms = fo->p->now_ms };

	char dlq[SL_SNS_ARN_MAX + 1];
	sl_sub_arn(s, arn);
	if (sl_sns_redrive_target(sl_sns_kv_get(&s->attrs, "RedrivePolicy"), dlq, sizeof(dlq)))
		r.dlq_arn = dlq;
	if (lambda) {
		const char *name = NULL;
		size_t nl = lambda_name(s->endpoint, &name);
		r.url = nl ? sl_config_lambda_url(sl_cfg, name, nl) : NULL;
		r.retry = sl_sns_lambda_retry;
		if (!r.url) {
			const struct sl_queue *q = dead_letter_queue(fo, s);
			for (uint32_t i = 0; i < fo->p->n && !fo->err; i++) {
				struct sns_entry *e = &fo->p->e[i];
				if (e->failed || !passes(s, e))
					continue;
				atomic_fetch_add_explicit(&n_failures_lambda, 1, memory_order_relaxed);
				TSTAT(fo->p, failures[SL_SNS_PG_LAMBDA]);
				if (q)
					deliver_one(fo, e, s, q, true);
			}
			return;
		}
	} else if (r.kind != SL_SNS_NOTIFICATION) {
		/* A number that opted out gets no SMS. */
		if (r.kind == SL_SNS_SMS_RECORD &&
		    sl_sns_sms_opted_out(fo->c, fo->p->req->region, s->endpoint))
			return;
		/* An endpoint that is gone or disabled gets nothing. */
		if (r.kind == SL_SNS_PUSH_RECORD) {
			fo->push_ep = sl_platform_endpoint_find(fo->c, s->endpoint);
			if (!fo->push_ep || !sl_platform_enabled(fo->push_ep))
				return;
		}
		r.retry = sl_sns_mail_retry;
	} else {
		sl_sns_http_policy(fo->topic ? sl_sns_kv_get(&fo->topic->attrs, "DeliveryPolicy") :
				   NULL, sl_sns_kv_get(&s->attrs, "DeliveryPolicy"), &r.retry, &ctype);
	}
	r.content_type = ctype;
	for (uint32_t i = 0; i < fo->p->n && !fo->err; i++) {
		struct sns_entry *e = &fo->p->e[i];
		if (e->failed || !passes(s, e))
			continue;
		sl_sqs_uuid_fmt(e->msg_id, id);
		if (body_of(fo, e, s, &r) < 0) {
			fo->err = -ENOMEM;
			break;
		}
		struct http_put *hp = malloc(sizeof(*hp));
		if (!hp) {
			fo->err = -ENOMEM;
			break;
		}
		sl_msg_prepare(fo->w, &hp->msg);
		hp->msg.done = http_durable;
		hp->msg.arg = hp;
		hp->e = e;
		hp->result = 0;
		int rc = sl_sns_http_put(&r, &hp->msg, &hp->result);
		if (rc < 0) {
			free(hp);
			e->failed = true;
			e->err = rc == -EAGAIN ? SL_SNS_E_THROTTLED : SL_SNS_E_INTERNAL;
			snprintf(e->msg, sizeof(e->msg), "%s", rc == -EAGAIN ?
				 "Rate exceeded: the http outbox is full" : "out of memory");
			continue;
		}
		deliveries_out++;
		fo->p->pending++;
	}
	free(ctype);
}

/* The queue of s's RedrivePolicy, when it has one and it exists. */
static const struct sl_queue *dead_letter_queue(struct fanout *fo, const struct sl_sub *s)
{
	char arn[SL_SNS_ARN_MAX + 1], region[SL_REGION_MAX + 1], name[SL_SQS_NAME_MAX + 1];
	bool fifo;

	if (!sl_sns_redrive_target(sl_sns_kv_get(&s->attrs, "RedrivePolicy"), arn, sizeof(arn)) ||
	    !sl_queue_arn_parse(arn, region, name, &fifo))
		return NULL;
	return sl_queue_find(fo->c, region, name);
}

static bool fan_one(const struct sl_sub *s, void *arg)
{
	struct fanout *fo = arg;
	char region[SL_REGION_MAX + 1], name[SL_SQS_NAME_MAX + 1];

	if (!s->confirmed)
		return true;
	if (s->protocol == SL_SNS_HTTP || s->protocol == SL_SNS_HTTPS ||
	    s->protocol == SL_SNS_LAMBDA || s->protocol == SL_SNS_EMAIL ||
	    s->protocol == SL_SNS_EMAIL_JSON || s->protocol == SL_SNS_SMS ||
	    s->protocol == SL_SNS_APPLICATION) {
		fan_http(fo, s);
		return !fo->err;
	}
	if (s->protocol != SL_SNS_SQS)
		return true;
	bool fifo;
	const struct sl_queue *q = sl_queue_arn_parse(s->endpoint, region, name, &fifo) ?
		sl_queue_find(fo->c, region, name) : NULL;
	const struct sl_queue *dlq = q ? NULL : dead_letter_queue(fo, s);
	for (uint32_t i = 0; i < fo->p->n && !fo->err; i++) {
		if (fo->p->e[i].failed || !passes(s, &fo->p->e[i]))
			continue;
		if (q) {
			deliver_one(fo, &fo->p->e[i], s, q, false);
			continue;
		}
		/* The queue is gone: the message goes to the dead-letter
		 * queue, or is lost for this subscription. */
		atomic_fetch_add_explicit(&n_failures, 1, memory_order_relaxed);
		TSTAT(fo->p, failures[SL_SNS_PG_SQS]);
		if (dlq)
			deliver_one(fo, &fo->p->e[i], s, dlq, true);
	}
	return !fo->err;
}

static void pub_reply(struct sl_worker *w, struct sns_pub *p)
{
	struct sl_req *req = p->req;
	struct sl_enc *e = &req->out;
	char id[37], seq[24];

	if (!p->batch) {
		struct sns_entry *en = &p->e[0];
		if (en->failed) {
			sl_sns_error(req, en->err, "%s", en->msg);
		} else {
			atomic_fetch_add_explicit(&n_publishes, 1, memory_order_relaxed);
			TSTAT(p, publishes);
			sl_sqs_uuid_fmt(en->msg_id, id);
			sl_reply_begin(req);
			sl_enc_key(e, "MessageId");
			sl_enc_cstr(e, id);
			if (p->fifo) {
				sl_sns_seq_fmt(en->seq, seq);
				sl_enc_key(e, "SequenceNumber");
				sl_enc_cstr(e, seq);
			}
			sl_reply_end(req);
		}
		sl_req_finish(w, req);
		return;
	}
	sl_reply_begin(req);
	sl_enc_key(e, "Successful");
	sl_enc_arr_begin(e);
	for (uint32_t i = 0; i < p->n; i++) {
		struct sns_entry *en = &p->e[i];
		if (en->failed)
			continue;
		atomic_fetch_add_explicit(&n_publishes, 1, memory_order_relaxed);
		TSTAT(p, publishes);
		sl_sqs_uuid_fmt(en->msg_id, id);
		sl_enc_obj_begin(e);
		sl_enc_key(e, "Id");
		sl_enc_cstr(e, en->id);
		sl_enc_key(e, "MessageId");
		sl_enc_cstr(e, id);
		if (p->fifo) {
			sl_sns_seq_fmt(en->seq, seq);
			sl_enc_key(e, "SequenceNumber");
			sl_enc_cstr(e, seq);
		}
		sl_enc_obj_end(e);
	}
	sl_enc_arr_end(e);
	sl_enc_key(e, "Failed");
	sl_enc_arr_begin(e);
	for (uint32_t i = 0; i < p->n; i++) {
		struct sns_entry *en = &p->e[i];
		if (!en->failed)
			continue;
		sl_enc_obj_begin(e);
		sl_enc_key(e, "Id");
		sl_enc_cstr(e, en->id);
		sl_enc_key(e, "Code");
		sl_enc_cstr(e, sl_sns_err_code(en->err));
		sl_enc_key(e, "Message");
		sl_enc_cstr(e, en->msg);
		sl_enc_key(e, "SenderFault");
		sl_enc_bool(e, sl_sns_err_sender(en->err));
		sl_enc_obj_end(e);
	}
	sl_enc_arr_end(e);
	sl_reply_end(req);
	sl_req_finish(w, req);
}

/* ---- Dead-letter queues of http deliveries ---------------------------------------- */

static void dlq_stored(struct sl_worker *w, void *arg, int err, const char *msg)
{
	struct sl_sns_dlq *dq = arg;

	(void)w;
	(void)msg;
	dq->result = err ? -EIO : 0;
	dq->back(dq);
}

void sl_sns_dlq_store(struct sl_worker *w, struct sl_msg *msg)
{
	struct sl_sns_dlq *dq = msg->arg;
	char region[SL_REGION_MAX + 1], name[SL_SQS_NAME_MAX + 1];
	bool fifo;
	const struct sl_queue *q = sl_queue_arn_parse(dq->arn, region, name, &fifo) ?
		sl_queue_find(sl_catalog_get(), region, name) : NULL;

	if (!q) {
		dq->result = -ENOENT;
		dq->back(dq);
		return;
	}
	struct sl_sqs_stored m = { .sent_ms = sl_now_ms(), .body = dq->body,
				   .body_len = (uint32_t)dq->body_len };
	int rc = sl_sqs_deliver(w, q, &m, dlq_stored, dq);
	if (rc < 0) {
		dq->result = rc;
		dq->back(dq);
	}
}

/* ---- The operations ---------------------------------------------------------------- */

struct sub_count {
	uint32_t n;
};

static bool count_sqs(const struct sl_sub *s, void *arg)
{
	struct sub_count *c = arg;

	c->n += s->confirmed && s->protocol != SL_SNS_FIREHOSE;
	return true;
}

/* Start the deliveries of p's messages (those not failed already). */
static void fan_out(struct sl_worker *w, struct sns_pub *p, const struct sl_catalog *c)
{
	struct sl_req *req = p->req;
	struct sub_count sc = { 0 };

	sl_sub_walk(c, p->topic_uid, NULL, count_sqs, &sc);
	if ((uint64_t)deliveries_out + (uint64_t)sc.n * p->n > SL_SNS_DELIVERIES_MAX) {
		sl_sns_error(req, SL_SNS_E_THROTTLED, "Rate exceeded");
		sl_req_finish(w, req);
		return;
	}
	struct fanout fo = { .w = w, .p = p, .c = c, .topic = sl_topic_find_uid(c, p->topic_uid) };
	if (fo.topic)
		p->st = sl_sns_tstats(sl_worker_index(w), fo.topic->region, fo.topic->name);
	const char *sv = fo.topic ? sl_sns_kv_get(&fo.topic->attrs, "SignatureVersion") : NULL;
	fo.sigv = sv && strcmp(sv, "2") == 0 ? 2 : 1;
	sl_sns_base_url(req, fo.base);
	snprintf(fo.cert_url, sizeof(fo.cert_url), "%s/%s", fo.base,
		 sl_sns_cert_name() ? sl_sns_cert_name() : "");
	if (sl_enc_init(&fo.env, SL_ENC_JSON, 1024) < 0) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		sl_req_finish(w, req);
		return;
	}
	for (uint32_t i = 0; i < p->n; i++) {
		struct sns_entry *e = &p->e[i];
		sl_sqs_msg_id_new(e->msg_id);
		if (p->fifo)
			e->seq = seq_next();
	}
	/* The reply waits for the last delivery: hold one count while they
	 * start, so that one finishing at once cannot answer early. */
	p->pending = 1;
	sl_sub_walk(c, p->topic_uid, NULL, fan_one, &fo);
	sl_enc_free(&fo.env);
	sl_bw_free(&fo.mail);
	for (uint32_t i = 0; i < p->n; i++) {
		struct sns_entry *e = &p->e[i];
		free(e->body);
		e->body = NULL;
		for (int k = 0; k < SL_SNS_PROTOS; k++) {
			free(e->sig[k]);
			e->sig[k] = NULL;
		}
	}
	if (fo.err) {
		/* Out of memory part way: the publish fails (what was stored
		 * is delivered; the client's retry may deliver it again). */
		for (uint32_t i = 0; i < p->n; i++) {
			if (!p->e[i].failed) {
				p->e[i].failed = true;
				p->e[i].err = SL_SNS_E_INTERNAL;
				snprintf(p->e[i].msg, sizeof(p->e[i].msg), "out of memory");
			}
		}
	}
	if (--p->pending == 0)
		pub_reply(w, p);
}

static size_t arena_need(const struct sl_req *req)
{
	return 2 * (req->body_len + req->query.n) + SL_SNS_BATCH_MAX * 128 + 64;
}

/* The topic of TopicArn or TargetArn (PhoneNumber: not served yet). */
static const struct sl_topic *pub_topic(struct sl_req *req, struct sl_fields *f,
					const struct sl_catalog *c, bool batch)
{
	char arn[SL_SNS_ARN_MAX + 1], region[SL_REGION_MAX + 1], name[SL_SNS_TOPIC_NAME_MAX + 1];
	int rc = sl_sns_str(f, (int)f->obj, "TopicArn", arn, sizeof(arn), SL_SNS_ARN_MAX, batch);

	if (rc < 0)
		return NULL;
	if (rc == 0) {
		rc = sl_sns_str(f, (int)f->obj, "TargetArn", arn, sizeof(arn), SL_SNS_ARN_MAX, false);
		if (rc <= 0) {
			if (rc == 0)
				sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: "
					     "TopicArn or TargetArn Reason: no value for required "
					     "parameter");
			return NULL;
		}
	}
	if (sl_sns_topic_arn_parse(arn, region, name) < 0) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: TopicArn");
		return NULL;
	}
	const struct sl_topic *t = sl_topic_find(c, region, name);
	if (!t)
		sl_sns_error(req, SL_SNS_E_NOT_FOUND, "Topic does not exist");
	return t;
}

static struct sns_pub *pub_new(struct sl_req *req, const struct sl_topic *t, bool batch,
			       uint8_t **arena, uint8_t **end)
{
	size_t cap = arena_need(req);
	struct sns_pub *p = sl_req_scratch(req, sizeof(*p) + cap);

	if (!p) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	p->req = req;
	p->batch = batch;
	p->fifo = t->fifo;
	p->topic_uid = t->hdr.uid;
	p->now_ms = sl_now_ms();
	sl_topic_arn(t, p->topic_arn);
	*arena = (uint8_t *)(p + 1);
	*end = *arena + cap;
	return p;
}

/* Publish to a PhoneNumber (one SMS) or to a platform endpoint's
 * TargetArn (one push): into the outbox, answered once it is durable
 * there. */
static void publish_direct(struct sl_worker *w, struct sl_req *req, struct sl_fields *f, bool push)
{
	/* What read_entry asks of a topic: a standard one. */
	static const struct sl_topic no_topic;
	char to[SL_PLATFORM_ARN_MAX];
	uint8_t *arena, *end;
	size_t cap = arena_need(req);
	struct sns_pub *p = NULL;
	const struct sl_platform *ep = NULL;

	if (sl_sns_str(f, (int)f->obj, push ? "TargetArn" : "PhoneNumber", to, sizeof(to),
		       push ? sizeof(to) - 1 : 31, true) <= 0)
		goto out;
	if (push) {
		ep = sl_platform_endpoint_find(sl_catalog_get(), to);
		if (!ep) {
			sl_sns_error(req, SL_SNS_E_NOT_FOUND, "Endpoint does not exist");
			goto out;
		}
		if (!sl_platform_enabled(ep)) {
			sl_sns_error(req, SL_SNS_E_ENDPOINT_DISABLED, "Endpoint is disabled");
			goto out;
		}
	} else if (!sl_sns_phone_ok(to)) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: PhoneNumber "
			     "Reason: %s is not valid to publish to", to);
		goto out;
	}
	p = sl_req_scratch(req, sizeof(*p) + cap);
	if (!p) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		goto out;
	}
	memset(p, 0, sizeof(*p));
	p->req = req;
	p->now_ms = sl_now_ms();
	p->n = 1;
	p->e[0].pub = p;
	arena = (uint8_t *)(p + 1);
	end = arena + cap;
	struct sns_entry *e = &p->e[0];
	if (read_entry(f, (int)f->obj, &no_topic, e, &arena, end) < 0)
		goto out;
	if ((uint64_t)deliveries_out + 1 > SL_SNS_DELIVERIES_MAX) {
		sl_sns_error(req, SL_SNS_E_THROTTLED, "Rate exceeded");
		goto out;
	}
	sl_sqs_msg_id_new(e->msg_id);
	if (!push && sl_sns_sms_opted_out(sl_catalog_get(), req->region, to)) {
		/* Accepted, and not sent, as AWS does. */
		pub_reply(w, p);
		return;
	}
	struct fanout fo = { .w = w, .p = p };
	char id[37];
	struct http_put *hp = NULL;
	int rc = sl_enc_init(&fo.env, SL_ENC_JSON, 512);
	if (rc == 0)
		rc = push ? push_record(&fo, e, ep, NULL) :
			sms_record(&fo, e, to, NULL, e->text[SL_SNS_SMS], e->text_len[SL_SNS_SMS]);
	if (rc == 0 && !(hp = malloc(sizeof(*hp))))
		rc = -ENOMEM;
	if (rc == 0) {
		sl_sqs_uuid_fmt(e->msg_id, id);
		struct sl_sns_http_req r = { .kind = push ? SL_SNS_PUSH_RECORD : SL_SNS_SMS_RECORD,
					     .url = to, .message_id = id, .topic_arn = "",
					     .sub_arn = "", .body = fo.env.buf,
					     .body_len = fo.env.len, .retry = sl_sns_mail_retry };
		sl_msg_prepare(w, &hp->msg);
		hp->msg.done = http_durable;
		hp->msg.arg = hp;
		hp->e = e;
		hp->result = 0;
		rc = sl_sns_http_put(&r, &hp->msg, &hp->result);
	}
	sl_enc_free(&fo.env);
	if (rc < 0) {
		free(hp);
		sl_sns_error(req, rc == -EAGAIN ? SL_SNS_E_THROTTLED : SL_SNS_E_INTERNAL, "%s",
			     rc == -EAGAIN ? "Rate exceeded: the outbox is full" : "out of memory");
		goto out;
	}
	deliveries_out++;
	p->pending = 1;
	return;
out:
	sl_req_finish(w, req);
}

void sl_sns_publish(struct sl_worker *w, struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_catalog *c = sl_catalog_get();
	uint8_t *arena, *end;

	if (sl_sns_parse(req, sl_worker_toks(w), SL_DOC_TOKS_MAX, &f) < 0) {
		sl_req_finish(w, req);
		return;
	}
	int ti = sl_doc_get(f.t, f.obj, "TargetArn");
	char target[SL_PLATFORM_ARN_MAX];
	if (sl_doc_get(f.t, f.obj, "TopicArn") < 0 && ti < 0 &&
	    sl_doc_get(f.t, f.obj, "PhoneNumber") >= 0) {
		publish_direct(w, req, &f, false);
		return;
	}
	/* arn:aws:sns:<region>:<account>:endpoint/...: a platform endpoint. */
	if (sl_doc_get(f.t, f.obj, "TopicArn") < 0 && ti >= 0 && f.t[ti].type == SL_DOC_STR &&
	    sl_doc_str(&f.t[ti], target, sizeof(target)) >= 0 && strstr(target, ":endpoint/")) {
		publish_direct(w, req, &f, true);
		return;
	}
	const struct sl_topic *t = pub_topic(req, &f, c, false);
	struct sns_pub *p = t ? pub_new(req, t, false, &arena, &end) : NULL;
	if (!p) {
		sl_req_finish(w, req);
		return;
	}
	p->n = 1;
	p->e[0].pub = p;
	if (read_entry(&f, (int)f.obj, t, &p->e[0], &arena, end) < 0) {
		sl_req_finish(w, req);
		return;
	}
	fan_out(w, p, c);
}

void sl_sns_publish_batch(struct sl_worker *w, struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_catalog *c = sl_catalog_get();
	uint8_t *arena, *end;

	if (sl_sns_parse(req, sl_worker_toks(w), SL_DOC_TOKS_MAX, &f) < 0) {
		sl_req_finish(w, req);
		return;
	}
	const struct sl_topic *t = pub_topic(req, &f, c, true);
	int m = t ? sl_sns_list(&f, (int)f.obj, "PublishBatchRequestEntries") : SL_FIELD_ERR;
	if (m == 0) {
		sl_sns_error(req, SL_SNS_E_EMPTY_BATCH, "The batch request doesn't contain any "
			     "entries");
		m = SL_FIELD_ERR;
	}
	if (m > 0 && f.t[m].count > SL_SNS_BATCH_MAX) {
		sl_sns_error(req, SL_SNS_E_TOO_MANY_ENTRIES, "The batch request contains more "
			     "entries than permissible");
		m = SL_FIELD_ERR;
	}
	struct sns_pub *p = m > 0 ? pub_new(req, t, true, &arena, &end) : NULL;
	if (!p) {
		sl_req_finish(w, req);
		return;
	}
	const struct sl_doc_tok *tk = f.t;
	uint32_t ci = sl_doc_first((uint32_t)m);
	size_t total = 0;
	p->n = tk[m].count;
	for (uint32_t i = 0; i < p->n; i++, ci = sl_doc_next(tk, ci)) {
		struct sns_entry *e = &p->e[i];
		e->pub = p;
		int ii = tk[ci].type == SL_DOC_OBJ ? sl_doc_get(tk, ci, "Id") : -1;
		if (ii < 0 || tk[ii].type != SL_DOC_STR ||
		    sl_doc_str(&tk[ii], e->id, sizeof(e->id)) < 0 || !sl_sqs_batch_id_ok(e->id)) {
			sl_sns_error(req, SL_SNS_E_INVALID_BATCH_ID, "The Id of a batch entry in a "
				     "batch request doesn't abide by the specification.");
			sl_req_finish(w, req);
			return;
		}
		for (uint32_t j = 0; j < i; j++) {
			if (strcmp(p->e[j].id, e->id) == 0) {
				sl_sns_error(req, SL_SNS_E_BATCH_IDS_NOT_DISTINCT, "Two or more batch "
					     "entries in the request have the same Id.");
				sl_req_finish(w, req);
				return;
			}
		}
		/* An entry's own errors make it fail alone. */
		struct sl_sns_errcap cap;
		sl_sns_capture(&cap);
		int rc = read_entry(&f, (int)ci, t, e, &arena, end);
		sl_sns_capture(NULL);
		if (rc < 0) {
			e->failed = true;
			e->err = cap.set ? cap.err : SL_SNS_E_INTERNAL;
			snprintf(e->msg, sizeof(e->msg), "%.255s", cap.set ? cap.msg : "invalid entry");
			continue;
		}
		total += e->message_len + sl_sqs_attrs_size(e->attrs, e->nattrs);
	}
	if (total > SL_SNS_MSG_MAX) {
		sl_sns_error(req, SL_SNS_E_BATCH_TOO_LONG, "The length of all the messages put "
			     "together is more than the limit.");
		sl_req_finish(w, req);
		return;
	}
	fan_out(w, p, c);
}

static const struct sl_op outbox_op = { .name = "outbox", .control = sl_sns_outbox_get };
static const struct sl_op opt_out_op = { .name = "opt-out",
					 .control = sl_sns_opt_out_phone_number };

bool sl_sns_serve_get(struct sl_worker *w, struct sl_req *req)
{
	size_t len;
	const char *name = sl_sns_cert_name(), *pem = sl_sns_cert_pem(&len);

	if (sl_view_eq(req->path, "/_sluice/sns/outbox")) {
		sl_req_run_on_control(w, req, &outbox_op);
		return true;
	}
	if (sl_cfg->debug_clock && sl_view_eq(req->path, "/_sluice/sns/opt-out")) {
		sl_req_run_on_control(w, req, &opt_out_op);
		return true;
	}
	if (!name || req->path.n != strlen(name) + 1 || req->path.p[0] != '/' ||
	    memcmp(req->path.p + 1, name, req->path.n - 1) != 0)
		return false;
	req->content_type = "application/x-x509-ca-cert";
	sl_enc_reset(&req->out);
	sl_enc_raw(&req->out, pem, len);
	sl_req_finish(w, req);
	return true;
}

void sl_sns_worker_stop(struct sl_worker *w)
{
	(void)w;
	sl_sns_sign_thread_end();
}

static int topic_exists(const char *region, const char *name)
{
	return sl_topic_find(sl_catalog_get(), region, name) != NULL;
}

long sl_sns_metrics(char *buf, size_t cap)
{
	static const char *const groups[SL_SNS_PGROUPS] = { "sqs", "http", "lambda", "email", "sms",
							    "application" };
	struct sl_sns_http_counts h;
	uint64_t d[SL_SNS_PGROUPS], f[SL_SNS_PGROUPS], x[SL_SNS_PGROUPS];
	size_t n = 0;

	/* SQS deliveries are the workers'; the others the deliverer's. */
	sl_sns_http_counts(&h);
	for (int g = 0; g < SL_SNS_PGROUPS; g++) {
		d[g] = h.delivered[g];
		f[g] = h.failed[g];
		x[g] = h.dead_lettered[g];
	}
	d[SL_SNS_PG_SQS] = atomic_load(&n_deliveries);
	f[SL_SNS_PG_SQS] = atomic_load(&n_failures);
	x[SL_SNS_PG_SQS] = atomic_load(&n_dead_sqs);
	f[SL_SNS_PG_LAMBDA] += atomic_load(&n_failures_lambda);
	x[SL_SNS_PG_LAMBDA] += atomic_load(&n_dead_lambda);
	static const struct {
		const char *name, *help;
	} series[3] = {
		{ "sluice_sns_deliveries_total", "Deliveries made: stored in subscribed queues, "
		  "accepted (2xx) by http endpoints and Lambda functions' URLs, accepted by the SMTP "
		  "relay or written to the outbox." },
		{ "sluice_sns_delivery_failures_total", "Deliveries that could not be made (queue "
		  "gone, message too large for it, storage; others: refused, or retries exhausted; "
		  "lambda: no URL mapped)." },
		{ "sluice_sns_dead_lettered_total", "Deliveries that went to the subscription's "
		  "dead-letter queue instead." },
	};
	int r = snprintf(buf, cap,
			 "# HELP sluice_sns_publishes_total Messages accepted by Publish(Batch).\n"
			 "# TYPE sluice_sns_publishes_total counter\n"
			 "sluice_sns_publishes_total %llu\n",
			 (unsigned long long)atomic_load(&n_publishes));
	for (int k = 0; k < 3 && r >= 0 && (size_t)r < cap - n; k++) {
		n += (size_t)r;
		r = snprintf(buf + n, cap - n, "# HELP %s %s\n# TYPE %s counter\n", series[k].name,
			     series[k].help, series[k].name);
		const uint64_t *v = k == 0 ? d : k == 1 ? f : x;
		for (int g = 0; g < SL_SNS_PGROUPS && r >= 0 && (size_t)r < cap - n; g++) {
			n += (size_t)r;
			r = snprintf(buf + n, cap - n, "%s{protocol=\"%s\"} %llu\n", series[k].name,
				     groups[g], (unsigned long long)v[g]);
		}
	}
	if (r < 0 || (size_t)r >= cap - n)
		return -ENOSPC;
	n += (size_t)r;
	r = snprintf(buf + n, cap - n,
		     "# HELP sluice_sns_http_retries_total Delivery attempts retried (every protocol "
		     "but sqs).\n"
		     "# TYPE sluice_sns_http_retries_total counter\n"
		     "sluice_sns_http_retries_total %llu\n"
		     "# HELP sluice_sns_http_pending Deliveries in the deliverer's outbox, not yet "
		     "made.\n"
		     "# TYPE sluice_sns_http_pending gauge\n"
		     "sluice_sns_http_pending %llu\n"
		     "# HELP sluice_sns_filtered_total Deliveries a subscription's filter "
		     "policy held back (AWS: NumberOfNotificationsFilteredOut).\n"
		     "# TYPE sluice_sns_filtered_total counter\n"
		     "sluice_sns_filtered_total %llu\n",
		     (unsigned long long)h.retries, (unsigned long long)h.pending,
		     (unsigned long long)atomic_load(&n_filtered));
	if (r < 0 || (size_t)r >= cap - n)
		return -ENOSPC;
	r += (int)n;
	long t = sl_sns_stats_render(buf + r, cap - (size_t)r, sl_worker_count(), topic_exists);
	return t < 0 ? t : r + t;
}
