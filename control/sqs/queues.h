/* queues.h - SQS queues in the catalog: what a queue is, how it is found,
 * and its record codec.
 *
 * A queue is keyed by region and name, like a Kinesis stream: the region
 * comes from the request's credential scope, and the account is the
 * server's. Its body holds every attribute a client can set, the times it
 * was made and changed, and its tags. Messages are not here: they live in
 * the queue's partitions, on the workers.
 */
#ifndef SL_QUEUES_H
#define SL_QUEUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/catalog.h"
#include "dataplane/limits.h"

enum sl_sqs_dedup_scope { SL_SQS_DEDUP_QUEUE = 0, SL_SQS_DEDUP_GROUP };
enum sl_sqs_throughput { SL_SQS_PER_QUEUE = 0, SL_SQS_PER_GROUP };

struct sl_sqs_tag {
	char *key;
	char *value;
};

struct sl_queue {
	struct sl_cobj hdr;
	char region[SL_REGION_MAX + 1];
	char name[SL_SQS_NAME_MAX + 1];
	bool fifo;
	bool content_dedup;  /* FIFO: ContentBasedDeduplication */
	bool sse;            /* SqsManagedSseEnabled */
	uint8_t dedup_scope; /* FIFO: enum sl_sqs_dedup_scope */
	uint8_t throughput;  /* FIFO: enum sl_sqs_throughput */
	uint8_t nparts;      /* partitions, fixed at creation (FIFO: 1) */
	uint32_t delay_s;
	uint32_t max_size;
	uint32_t retention_s;
	uint32_t visibility_s;
	uint32_t wait_s;
	uint32_t kms_reuse_s;
	int64_t created_ms;
	int64_t modified_ms;
	/* Set as given (validated), NULL when unset. */
	char *policy;
	char *redrive;       /* RedrivePolicy */
	char *redrive_allow; /* RedriveAllowPolicy */
	char *kms_key;       /* KmsMasterKeyId */
	uint32_t ntags;
	struct sl_sqs_tag *tags; /* sorted by key */
};

extern const struct sl_cobj_type sl_queue_type;

/* ---- Readers (any thread, within one loop iteration) --------------------- */

const struct sl_queue *sl_queue_find(const struct sl_catalog *c, const char *region,
				     const char *name);
const struct sl_queue *sl_queue_find_uid(const struct sl_catalog *c, uint64_t uid);
/* Queues of region in name order, starting after `after` (NULL: from the
 * first); visit returns false to stop. */
void sl_queue_walk(const struct sl_catalog *c, const char *region, const char *after,
		   bool (*visit)(const struct sl_queue *q, void *arg), void *arg);
#define SL_QUEUE_ARN_MAX (SL_REGION_MAX + SL_SQS_NAME_MAX + 64)
void sl_queue_arn(const struct sl_queue *q, char out[SL_QUEUE_ARN_MAX]);
/* The region and name of an SQS queue ARN of this server's account
 * (`arn:aws:sqs:<region>:<account>:<name>`, a valid name; *fifo tells a
 * .fifo name). false when it is not one. */
bool sl_queue_arn_parse(const char *arn, char region[SL_REGION_MAX + 1],
			char name[SL_SQS_NAME_MAX + 1], bool *fifo);
/* Queues in the catalog, every region. */
uint64_t sl_queues_count(void);
/* Whether dlq's RedriveAllowPolicy lets the queue of ARN src_arn use it as
 * its dead-letter queue (no policy, or allowAll: every queue; denyAll:
 * none; byQueue: those listed). */
bool sl_queue_redrive_allows(const struct sl_queue *dlq, const char *src_arn);

/* ---- Writer (control thread) ----------------------------------------------- */

/* A new queue with AWS's defaults and --sqs-partitions partitions (a FIFO
 * queue: one), inserted into the open batch, or NULL
 * (out of memory, or the name is taken). */
struct sl_queue *sl_queue_add(const char *region, const char *name, bool fifo);
struct sl_queue *sl_queue_edit(const struct sl_queue *q);
void sl_queue_remove(const struct sl_queue *q);
/* Replace *slot with a copy of s (NULL: unset). 0 or -ENOMEM. */
int sl_queue_set_str(char **slot, const char *s);
/* Set or replace tag key (sorted insert); -E2BIG past SL_SQS_TAGS_MAX.
 * Remove a tag (absent: nothing). */
int sl_queue_tag(struct sl_queue *q, const char *key, const char *value);
void sl_queue_untag(struct sl_queue *q, const char *key);

/* ---- Codec (queue_codec.c; stands alone for fuzzing) ---------------------- */

/* A queue name: 1 to 80 of [A-Za-z0-9_-], the last five ".fifo" for a FIFO
 * queue (*fifo tells). */
bool sl_queue_name_ok(const char *name, size_t n, bool *fifo);

int sl_queue_cmp(const struct sl_cobj *key, const struct sl_cobj *o);
struct sl_cobj *sl_queue_clone(const struct sl_cobj *o);
void sl_queue_free(struct sl_cobj *o);
void sl_queue_encode(const struct sl_cobj *o, struct sl_bw *w);
/* NULL when malformed: a value out of AWS's range, tags unsorted or
 * duplicated, a string too long. */
struct sl_cobj *sl_queue_decode(const uint8_t *p, size_t n);

#endif
