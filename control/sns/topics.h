/* topics.h - SNS topics and subscriptions in the catalog: what they are,
 * how they are found, and their record codec.
 *
 * A topic is keyed by region and name, like a queue (the account is the
 * server's). A subscription is keyed by its topic's uid and its own id (a
 * UUID, the last part of its ARN), so that a topic's subscriptions are one
 * run of the tree: Publish walks it on the publishing worker.
 *
 * Attributes a client sets are kept as text, as given (after the checks
 * control/sns/meta.c makes), in a list sorted by name; the few that
 * delivery reads on every message (FIFO, content-based deduplication, raw
 * delivery, the protocol) are typed fields as well.
 */
#ifndef SL_SNS_TOPICS_H
#define SL_SNS_TOPICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/catalog.h"
#include "dataplane/limits.h"

struct sl_filter;

/* A name and its value (attributes, tags). */
struct sl_sns_kv {
	char *key;
	char *value;
};
/* Sorted by key, keys distinct. */
struct sl_sns_kvs {
	uint32_t n;
	struct sl_sns_kv *v;
};

struct sl_topic {
	struct sl_cobj hdr;
	char region[SL_REGION_MAX + 1];
	char name[SL_SNS_TOPIC_NAME_MAX + 1];
	bool fifo;
	bool content_dedup; /* FIFO: ContentBasedDeduplication */
	int64_t created_ms;
	struct sl_sns_kvs attrs;
	struct sl_sns_kvs tags;
};

/* Subscription protocols; the numbers are stored in records. */
enum sl_sns_proto {
	SL_SNS_HTTP = 0,
	SL_SNS_HTTPS,
	SL_SNS_EMAIL,
	SL_SNS_EMAIL_JSON,
	SL_SNS_SMS,
	SL_SNS_SQS,
	SL_SNS_APPLICATION,
	SL_SNS_LAMBDA,
	SL_SNS_FIREHOSE,
	SL_SNS_PROTOS,
};
extern const char *const sl_sns_proto_names[SL_SNS_PROTOS];

/* A subscription id: a UUID in text. */
#define SL_SNS_SUB_ID_LEN 36
#define SL_SNS_TOKEN_LEN 64

struct sl_sub {
	struct sl_cobj hdr;
	uint64_t topic_uid;
	char id[SL_SNS_SUB_ID_LEN + 1];
	char region[SL_REGION_MAX + 1];
	char topic[SL_SNS_TOPIC_NAME_MAX + 1]; /* its topic's name, for ARNs */
	uint8_t protocol;                      /* enum sl_sns_proto */
	bool confirmed;
	bool raw;                              /* RawMessageDelivery */
	int64_t created_ms;
	char *endpoint;
	char *token;                           /* while pending: the confirmation token */
	struct sl_sns_kvs attrs;
	/* FilterPolicy compiled under FilterPolicyScope (NULL: none), made
	 * from attrs whenever they change and when the record is read. */
	struct sl_filter *filter;
};

extern const struct sl_cobj_type sl_topic_type;
extern const struct sl_cobj_type sl_sub_type;

/* ---- Readers (any thread, within one loop iteration) --------------------- */

const struct sl_topic *sl_topic_find(const struct sl_catalog *c, const char *region,
				     const char *name);
const struct sl_topic *sl_topic_find_uid(const struct sl_catalog *c, uint64_t uid);
/* Topics of region in name order after `after` (NULL or "": from the
 * first); visit returns false to stop. */
void sl_topic_walk(const struct sl_catalog *c, const char *region, const char *after,
		   bool (*visit)(const struct sl_topic *t, void *arg), void *arg);
const struct sl_sub *sl_sub_find(const struct sl_catalog *c, uint64_t topic_uid, const char *id);
/* Subscriptions of the topic in id order after `after` (NULL or "": from
 * the first). */
void sl_sub_walk(const struct sl_catalog *c, uint64_t topic_uid, const char *after,
		 bool (*visit)(const struct sl_sub *s, void *arg), void *arg);
/* Every subscription in (topic uid, id) order after (topic_uid, after). */
void sl_sub_walk_all(const struct sl_catalog *c, uint64_t topic_uid, const char *after,
		     bool (*visit)(const struct sl_sub *s, void *arg), void *arg);
#define SL_TOPIC_ARN_MAX (SL_REGION_MAX + SL_SNS_TOPIC_NAME_MAX + 48)
#define SL_SUB_ARN_MAX (SL_TOPIC_ARN_MAX + SL_SNS_SUB_ID_LEN + 2)
void sl_topic_arn(const struct sl_topic *t, char out[SL_TOPIC_ARN_MAX]);
void sl_sub_arn(const struct sl_sub *s, char out[SL_SUB_ARN_MAX]);
void sl_sub_topic_arn(const struct sl_sub *s, char out[SL_TOPIC_ARN_MAX]);
/* An attribute's value, or NULL when unset. */
const char *sl_sns_kv_get(const struct sl_sns_kvs *kv, const char *key);

/* ---- Writer (control thread) ----------------------------------------------- */

/* New objects inserted into the open batch, or NULL (out of memory, key
 * taken). */
struct sl_topic *sl_topic_add(const char *region, const char *name, bool fifo);
struct sl_topic *sl_topic_edit(const struct sl_topic *t);
/* id: the subscription's id (a restored one keeps its own), NULL: a new one. */
struct sl_sub *sl_sub_add(const struct sl_topic *t, uint8_t protocol, const char *endpoint,
			  const char *id);
struct sl_sub *sl_sub_edit(const struct sl_sub *s);
uint64_t sl_topics_count(void);
uint64_t sl_subs_count(void);
/* Set key to value (sorted insert or replace; value NULL removes it).
 * 0, -E2BIG (the list already holds max), -ENOMEM. */
int sl_sns_kv_set(struct sl_sns_kvs *kv, const char *key, const char *value, uint32_t max);

/* ---- Codec (topic_codec.c; stands alone for fuzzing) ---------------------- */

/* A topic name: 1 to 256 of [A-Za-z0-9_-], the last five ".fifo" for a
 * FIFO topic (*fifo tells). */
bool sl_topic_name_ok(const char *name, size_t n, bool *fifo);

int sl_topic_cmp(const struct sl_cobj *key, const struct sl_cobj *o);
struct sl_cobj *sl_topic_clone(const struct sl_cobj *o);
void sl_topic_free(struct sl_cobj *o);
void sl_topic_encode(const struct sl_cobj *o, struct sl_bw *w);
struct sl_cobj *sl_topic_decode(const uint8_t *p, size_t n);

/* (Re)compile s->filter from its FilterPolicy and FilterPolicyScope
 * attributes. 0, or -1 (the policy does not compile, or out of memory). */
int sl_sub_filter_load(struct sl_sub *s);

int sl_sub_cmp(const struct sl_cobj *key, const struct sl_cobj *o);
struct sl_cobj *sl_sub_clone(const struct sl_cobj *o);
void sl_sub_free(struct sl_cobj *o);
void sl_sub_encode(const struct sl_cobj *o, struct sl_bw *w);
struct sl_cobj *sl_sub_decode(const uint8_t *p, size_t n);

#endif
