/* sqs.h - Amazon SQS over JSON 1.0 and the query protocol.
 *
 * Current SDKs speak JSON 1.0 (X-Amz-Target: AmazonSQS.<Op>) with the
 * awsQueryCompatible trait: an error carries its shape in __type and its
 * query-protocol code in the x-amzn-query-error header, which is what
 * clients show. Older SDKs speak query (Action=, XML replies in the
 * 2012-11-05 namespace). One handler serves both: the helpers here read a
 * request's maps and lists under either protocol's names, write replies in
 * either form, and raise each error the way its protocol carries it.
 *
 * Queue metadata operations run on the control thread (control/sqs/meta.c).
 */
#ifndef SL_SQS_H
#define SL_SQS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/limits.h"
#include "dataplane/net/fields.h"

struct sl_req;
struct sl_service;

#define SL_SQS_TARGET_PREFIX "AmazonSQS."
#define SL_SQS_VERSION "2012-11-05"
#define SL_SQS_XMLNS "http://queue.amazonaws.com/doc/2012-11-05/"

extern struct sl_service sl_sqs_service;

/* ---- Errors ------------------------------------------------------------ */

/* SQS's errors: the model's shape (JSON __type), its query code and HTTP
 * status (from the query-protocol model, which still lists them). */
enum sl_sqs_err {
	SL_SQS_E_NONEXISTENT_QUEUE = 0,
	SL_SQS_E_QUEUE_EXISTS,
	SL_SQS_E_DELETED_RECENTLY,
	SL_SQS_E_INVALID_ATTRIBUTE_NAME,
	SL_SQS_E_INVALID_ATTRIBUTE_VALUE,
	SL_SQS_E_INVALID_PARAMETER_VALUE,
	SL_SQS_E_MISSING_PARAMETER,
	SL_SQS_E_OVER_LIMIT,
	SL_SQS_E_UNSUPPORTED,
	SL_SQS_E_RECEIPT_INVALID,
	SL_SQS_E_MESSAGE_NOT_INFLIGHT,
	SL_SQS_E_INVALID_MESSAGE_CONTENTS,
	SL_SQS_E_PURGE_IN_PROGRESS,
	SL_SQS_E_EMPTY_BATCH,
	SL_SQS_E_TOO_MANY_ENTRIES,
	SL_SQS_E_BATCH_IDS_NOT_DISTINCT,
	SL_SQS_E_INVALID_BATCH_ID,
	SL_SQS_E_BATCH_TOO_LONG,
	SL_SQS_E_THROTTLED,
	SL_SQS_E_RESOURCE_NOT_FOUND,
	SL_SQS_E_INTERNAL,
	SL_SQS_E_COUNT,
};
/* Set err as req's reply, in the request's protocol; or, while this
 * thread captures errors, record it there instead (a batch entry's
 * failure). */
void sl_sqs_error(struct sl_req *req, enum sl_sqs_err err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
struct sl_sqs_errcap {
	bool set;
	enum sl_sqs_err err;
	char msg[512];
};
/* Capture this thread's SQS errors into cap (NULL: stop capturing). */
void sl_sqs_capture(struct sl_sqs_errcap *cap);
/* The query code and sender fault of err (a batch entry's Code). */
const char *sl_sqs_err_code(enum sl_sqs_err err);
bool sl_sqs_err_sender(enum sl_sqs_err err);

/* ---- Reading requests under either protocol ------------------------------ */

/* Parse the body (JSON) or form (query) once. 0 or SL_FIELD_ERR. */
int sl_sqs_parse(struct sl_req *req, struct sl_doc_tok *toks, uint32_t max, struct sl_fields *f);
/* A string member, len in [min, max]: 1 present, 0 absent, SL_FIELD_ERR.
 * Absent and required is MissingParameter; too long, InvalidParameterValue. */
int sl_sqs_str(struct sl_fields *f, const char *name, char *out, size_t cap, size_t min,
	       size_t max, bool required);
/* An integer member in [min, max] (query sends it as text). */
int sl_sqs_int(struct sl_fields *f, const char *name, int64_t min, int64_t max, bool required,
	       int64_t *out);

/* A map member: JSON {"k": "v"} under json_name, query
 * `<query_name>.N.<key_name>=k&<query_name>.N.Value=v`. fn sees each
 * entry decoded (key NUL-terminated in a buffer of SL_SQS_MAP_KEY_MAX + 1
 * bytes, value in one of val_cap) and returns 0 or SL_FIELD_ERR with the
 * error set. Returns entries seen, 0 when absent, or SL_FIELD_ERR. */
#define SL_SQS_MAP_KEY_MAX 256
typedef int (*sl_sqs_kv_fn)(void *arg, const char *key, const char *val, size_t val_len);
int sl_sqs_map(struct sl_fields *f, const char *json_name, const char *query_name,
	       const char *key_name, size_t val_cap, sl_sqs_kv_fn fn, void *arg);
/* A list of strings: JSON [..] under json_name, query `<query_name>.N=s`. */
typedef int (*sl_sqs_item_fn)(void *arg, const char *s, size_t len);
int sl_sqs_list(struct sl_fields *f, const char *json_name, const char *query_name,
		size_t item_cap, sl_sqs_item_fn fn, void *arg);

/* The queue a request names: QueueUrl (`<scheme>://<host>/<account>/<name>`),
 * or for query without one, the request path `/<account>/<name>`. Writes
 * the name; a URL of another account or of no queue shape is
 * NonExistentQueue (the caller still looks the name up). 0 or SL_FIELD_ERR. */
int sl_sqs_queue_name(struct sl_fields *f, char out[SL_SQS_NAME_MAX + 1]);

/* ---- Writing replies ------------------------------------------------------- */

/* A queue's URL as this request reaches the server: http://<Host>/<account>/<name>. */
#define SL_SQS_URL_LEN (SL_SQS_URL_MAX + SL_SQS_NAME_MAX + 32)
void sl_sqs_url(const struct sl_req *req, const char *name, char out[SL_SQS_URL_LEN]);
/* A map in the reply: JSON "json_name": {k: v...}, query flattened
 * <query_name><key_name>k</key_name><Value>v</Value></query_name>... */
void sl_sqs_map_begin(struct sl_req *req, const char *json_name, const char *query_name);
void sl_sqs_map_put(struct sl_req *req, const char *key_name, const char *k, const char *v);
void sl_sqs_map_put_n(struct sl_req *req, const char *key_name, const char *k, const char *v,
		      size_t vlen);
void sl_sqs_map_end(struct sl_req *req);
/* A list of strings: JSON "json_name": [..], query flattened <query_name>s. */
void sl_sqs_list_begin(struct sl_req *req, const char *json_name, const char *query_name);
void sl_sqs_list_end(struct sl_req *req);

#endif
