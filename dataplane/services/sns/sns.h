/* sns.h - Amazon SNS over the query protocol (Action=, XML replies in the
 * 2010-03-31 namespace), the only protocol every botocore generation
 * speaks for it.
 *
 * The helpers here read a form's members, maps (`Name.entry.N.key` /
 * `.value`) and lists (`Name.member.N`), write maps and lists the way SNS
 * replies carry them, and raise SNS's errors with the model's codes and
 * statuses. Topic and subscription operations run on the control thread
 * (control/sns/meta.c); Publish and PublishBatch on the workers (data.c).
 */
#ifndef SL_SNS_H
#define SL_SNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/limits.h"
#include "dataplane/net/fields.h"

struct sl_req;
struct sl_service;

#define SL_SNS_VERSION "2010-03-31"
#define SL_SNS_XMLNS "http://sns.amazonaws.com/doc/2010-03-31/"

extern struct sl_service sl_sns_service;

/* SNS's errors: the model's code and HTTP status. */
enum sl_sns_err {
	SL_SNS_E_INVALID_PARAMETER = 0,
	SL_SNS_E_INVALID_PARAMETER_VALUE,
	SL_SNS_E_NOT_FOUND,
	SL_SNS_E_AUTHORIZATION,
	SL_SNS_E_TOPIC_LIMIT,
	SL_SNS_E_SUB_LIMIT,
	SL_SNS_E_TAG_LIMIT,
	SL_SNS_E_THROTTLED,
	SL_SNS_E_BATCH_IDS_NOT_DISTINCT,
	SL_SNS_E_EMPTY_BATCH,
	SL_SNS_E_TOO_MANY_ENTRIES,
	SL_SNS_E_BATCH_TOO_LONG,
	SL_SNS_E_INVALID_BATCH_ID,
	SL_SNS_E_FILTER_POLICY_LIMIT,
	SL_SNS_E_RESOURCE_NOT_FOUND,
	SL_SNS_E_ENDPOINT_DISABLED,
	SL_SNS_E_INTERNAL,
	SL_SNS_E_COUNT,
};
/* Set err as req's reply; or, while this thread captures errors, record
 * the first one there instead (a batch entry's failure). */
void sl_sns_error(struct sl_req *req, enum sl_sns_err err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
struct sl_sns_errcap {
	bool set;
	enum sl_sns_err err;
	char msg[512];
};
void sl_sns_capture(struct sl_sns_errcap *cap);
const char *sl_sns_err_code(enum sl_sns_err err);
bool sl_sns_err_sender(enum sl_sns_err err);

/* ---- Reading requests ----------------------------------------------------- */

/* Parse the form once. 0 or SL_FIELD_ERR. */
int sl_sns_parse(struct sl_req *req, struct sl_doc_tok *toks, uint32_t max, struct sl_fields *f);
/* A string member of at most max bytes (decoded): 1 present, 0 absent,
 * SL_FIELD_ERR. Absent and required, or too long: InvalidParameter. */
int sl_sns_str(struct sl_fields *f, int obj, const char *name, char *out, size_t cap, size_t max,
	       bool required);
/* A map `<name>.entry.N.key=k&<name>.entry.N.value=v` under obj: fn sees
 * each entry (key NUL-terminated, at most SL_SNS_KEY_MAX bytes; value of at
 * most val_max bytes) and returns 0 or SL_FIELD_ERR with the error set.
 * Entries seen, 0 when absent, or SL_FIELD_ERR. */
#define SL_SNS_KEY_MAX 256
typedef int (*sl_sns_kv_fn)(void *arg, const char *key, const char *val, size_t len);
int sl_sns_map(struct sl_fields *f, int obj, const char *name, size_t val_max, sl_sns_kv_fn fn,
	       void *arg);
/* The array of a list `<name>.member.N` under obj: its token index, 0 when
 * absent or empty (`<name>=`), or SL_FIELD_ERR (not a list). */
int sl_sns_list(struct sl_fields *f, int obj, const char *name);

/* A topic ARN `arn:aws:sns:<region>:<account>:<name>`: its region and
 * name. 0, or -1 when it is not one of this account. */
int sl_sns_topic_arn_parse(const char *arn, char region[SL_REGION_MAX + 1],
			   char name[SL_SNS_TOPIC_NAME_MAX + 1]);
/* A subscription ARN: the topic's region and name, and the id. */
int sl_sns_sub_arn_parse(const char *arn, char region[SL_REGION_MAX + 1],
			 char name[SL_SNS_TOPIC_NAME_MAX + 1], char id[37]);

/* The base of the URLs SNS writes into messages (SubscribeURL,
 * UnsubscribeURL, SigningCertURL), without a trailing slash: --public-url
 * when set, else http://<the request's Host header>. */
#define SL_SNS_BASE_URL_MAX 320
void sl_sns_base_url(const struct sl_req *req, char out[SL_SNS_BASE_URL_MAX]);

/* A phone number as SNS takes it: E.164, 7 to 15 digits after an optional
 * '+'. */
bool sl_sns_phone_ok(const char *s);

/* ---- Writing replies -------------------------------------------------------- */

/* <name><entry><key>k</key><value>v</value></entry>...</name> */
void sl_sns_map_begin(struct sl_req *req, const char *name);
void sl_sns_map_put(struct sl_req *req, const char *k, const char *v);
void sl_sns_map_end(struct sl_req *req);

#endif
