/* queues.c - finding and changing SQS queues in the catalog. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/sqs/queues.h"
#include "dataplane/codec/doc.h"
#include "dataplane/runtime/config.h"

const struct sl_cobj_type sl_queue_type = {
	.name = "sqs-queue",
	.cmp = sl_queue_cmp,
	.clone = sl_queue_clone,
	.free = sl_queue_free,
	.encode = sl_queue_encode,
	.decode = sl_queue_decode,
};

/* A probe carries only the key: region and name. */
static bool probe_make(struct sl_queue *p, const char *region, const char *name)
{
	size_t rl = strlen(region), nl = strlen(name);

	if (rl > SL_REGION_MAX || nl > SL_SQS_NAME_MAX)
		return false;
	p->hdr.type = SL_COBJ_QUEUE;
	memcpy(p->region, region, rl + 1);
	memcpy(p->name, name, nl + 1);
	return true;
}

const struct sl_queue *sl_queue_find(const struct sl_catalog *c, const char *region,
				     const char *name)
{
	struct sl_queue probe;

	if (!probe_make(&probe, region, name))
		return NULL;
	return (const struct sl_queue *)sl_catalog_lookup(c, &probe.hdr);
}

const struct sl_queue *sl_queue_find_uid(const struct sl_catalog *c, uint64_t uid)
{
	const struct sl_cobj *o = sl_catalog_lookup_uid(c, uid);

	return o && o->type == SL_COBJ_QUEUE ? (const struct sl_queue *)o : NULL;
}

struct walk_arg {
	const char *region;
	bool (*visit)(const struct sl_queue *q, void *arg);
	void *arg;
};

static bool walk_one(void *obj, void *arg)
{
	struct walk_arg *wa = arg;
	const struct sl_queue *q = obj;

	/* Keys sort by region first: the first queue of another region ends
	 * the walk. */
	return strcmp(q->region, wa->region) == 0 && wa->visit(q, wa->arg);
}

void sl_queue_walk(const struct sl_catalog *c, const char *region, const char *after,
		   bool (*visit)(const struct sl_queue *q, void *arg), void *arg)
{
	struct sl_queue probe;
	struct walk_arg wa = { region, visit, arg };

	if (!probe_make(&probe, region, after ? after : ""))
		return;
	sl_catalog_walk(c, SL_COBJ_QUEUE, &probe.hdr, after && after[0], walk_one, &wa);
}

void sl_queue_arn(const struct sl_queue *q, char out[SL_QUEUE_ARN_MAX])
{
	snprintf(out, SL_QUEUE_ARN_MAX, "arn:aws:sqs:%s:%s:%s", q->region, sl_cfg->account_id,
		 q->name);
}

bool sl_queue_arn_parse(const char *arn, char region[SL_REGION_MAX + 1],
			char name[SL_SQS_NAME_MAX + 1], bool *fifo)
{
	static const char pre[] = "arn:aws:sqs:";
	size_t acct = strlen(sl_cfg->account_id);

	if (strncmp(arn, pre, sizeof(pre) - 1) != 0)
		return false;
	const char *r = arn + sizeof(pre) - 1, *c1 = strchr(r, ':');
	if (!c1 || c1 == r || (size_t)(c1 - r) > SL_REGION_MAX ||
	    strncmp(c1 + 1, sl_cfg->account_id, acct) != 0 || c1[1 + acct] != ':')
		return false;
	const char *n = c1 + 2 + acct;
	if (!sl_queue_name_ok(n, strlen(n), fifo))
		return false;
	memcpy(region, r, (size_t)(c1 - r));
	region[c1 - r] = '\0';
	memcpy(name, n, strlen(n) + 1);
	return true;
}

uint64_t sl_queues_count(void)
{
	return sl_catalog_master()->count[SL_COBJ_QUEUE];
}

struct sl_queue *sl_queue_add(const char *region, const char *name, bool fifo)
{
	struct sl_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	if (!probe_make(q, region, name)) {
		free(q);
		return NULL;
	}
	q->fifo = fifo;
	q->nparts = fifo ? 1 : (uint8_t)sl_cfg->sqs_partitions;
	q->sse = true; /* SSE-SQS is on for new queues, as AWS makes them */
	q->max_size = SL_SQS_MSG_SIZE_MAX;
	q->retention_s = SL_SQS_RETENTION_DEFAULT_S;
	q->visibility_s = SL_SQS_VISIBILITY_DEFAULT_S;
	q->kms_reuse_s = SL_SQS_KMS_REUSE_DEFAULT_S;
	return sl_catalog_insert(&q->hdr) == 0 ? q : NULL;
}

struct sl_queue *sl_queue_edit(const struct sl_queue *q)
{
	return (struct sl_queue *)sl_catalog_edit(&q->hdr);
}

void sl_queue_remove(const struct sl_queue *q)
{
	sl_catalog_remove(&q->hdr);
}

int sl_queue_set_str(char **slot, const char *s)
{
	char *c = s ? strdup(s) : NULL;

	if (s && !c)
		return -ENOMEM;
	free(*slot);
	*slot = c;
	return 0;
}

int sl_queue_tag(struct sl_queue *q, const char *key, const char *value)
{
	uint32_t lo = 0, hi = q->ntags;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(q->tags[mid].key, key);
		if (c == 0)
			return sl_queue_set_str(&q->tags[mid].value, value);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (q->ntags == SL_SQS_TAGS_MAX)
		return -E2BIG;
	struct sl_sqs_tag *t = realloc(q->tags, (q->ntags + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	q->tags = t;
	char *k = strdup(key), *v = strdup(value);
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	memmove(&t[lo + 1], &t[lo], (q->ntags - lo) * sizeof(*t));
	t[lo] = (struct sl_sqs_tag){ k, v };
	q->ntags++;
	return 0;
}

void sl_queue_untag(struct sl_queue *q, const char *key)
{
	for (uint32_t i = 0; i < q->ntags; i++) {
		if (strcmp(q->tags[i].key, key) == 0) {
			free(q->tags[i].key);
			free(q->tags[i].value);
			memmove(&q->tags[i], &q->tags[i + 1], (q->ntags - i - 1) * sizeof(*q->tags));
			q->ntags--;
			return;
		}
	}
}

bool sl_queue_redrive_allows(const struct sl_queue *dlq, const char *src_arn)
{
	struct sl_doc_tok t[SL_SQS_REDRIVE_SOURCES_MAX + 8];
	char perm[16], arn[SL_QUEUE_ARN_MAX + 1];

	if (!dlq->redrive_allow || !dlq->redrive_allow[0])
		return true;
	/* Checked when it was set: a map with a known permission. */
	if (sl_json_parse((const uint8_t *)dlq->redrive_allow, strlen(dlq->redrive_allow), t,
			  sizeof(t) / sizeof(t[0])) <= 0 || t[0].type != SL_DOC_OBJ)
		return true;
	int pi = sl_doc_get(t, 0, "redrivePermission"), si = sl_doc_get(t, 0, "sourceQueueArns");
	if (pi < 0 || sl_doc_str(&t[pi], perm, sizeof(perm)) <= 0 || strcmp(perm, "allowAll") == 0)
		return true;
	if (strcmp(perm, "denyAll") == 0 || si < 0 || t[si].type != SL_DOC_ARR)
		return false;
	uint32_t c = sl_doc_first((uint32_t)si);
	for (uint32_t k = 0; k < t[si].count; k++, c = sl_doc_next(t, c)) {
		if (sl_doc_str(&t[c], arn, sizeof(arn)) > 0 && strcmp(arn, src_arn) == 0)
			return true;
	}
	return false;
}
