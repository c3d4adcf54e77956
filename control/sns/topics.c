/* topics.c - finding and changing SNS topics and subscriptions in the
 * catalog. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "control/sns/topics.h"
#include "dataplane/runtime/config.h"

const struct sl_cobj_type sl_topic_type = {
	.name = "sns-topic",
	.cmp = sl_topic_cmp,
	.clone = sl_topic_clone,
	.free = sl_topic_free,
	.encode = sl_topic_encode,
	.decode = sl_topic_decode,
};

const struct sl_cobj_type sl_sub_type = {
	.name = "sns-subscription",
	.cmp = sl_sub_cmp,
	.clone = sl_sub_clone,
	.free = sl_sub_free,
	.encode = sl_sub_encode,
	.decode = sl_sub_decode,
};

static bool topic_probe(struct sl_topic *p, const char *region, const char *name)
{
	size_t rl = strlen(region), nl = strlen(name);

	if (rl > SL_REGION_MAX || nl > SL_SNS_TOPIC_NAME_MAX)
		return false;
	p->hdr.type = SL_COBJ_TOPIC;
	memcpy(p->region, region, rl + 1);
	memcpy(p->name, name, nl + 1);
	return true;
}

static bool sub_probe(struct sl_sub *p, uint64_t topic_uid, const char *id)
{
	size_t n = strlen(id);

	if (n > SL_SNS_SUB_ID_LEN)
		return false;
	p->hdr.type = SL_COBJ_SUB;
	p->topic_uid = topic_uid;
	memcpy(p->id, id, n + 1);
	return true;
}

const struct sl_topic *sl_topic_find(const struct sl_catalog *c, const char *region,
				     const char *name)
{
	struct sl_topic probe;

	if (!topic_probe(&probe, region, name))
		return NULL;
	return (const struct sl_topic *)sl_catalog_lookup(c, &probe.hdr);
}

const struct sl_topic *sl_topic_find_uid(const struct sl_catalog *c, uint64_t uid)
{
	const struct sl_cobj *o = sl_catalog_lookup_uid(c, uid);

	return o && o->type == SL_COBJ_TOPIC ? (const struct sl_topic *)o : NULL;
}

struct topic_walk {
	const char *region;
	bool (*visit)(const struct sl_topic *t, void *arg);
	void *arg;
};

static bool topic_walk_one(void *obj, void *arg)
{
	struct topic_walk *wa = arg;
	const struct sl_topic *t = obj;

	return strcmp(t->region, wa->region) == 0 && wa->visit(t, wa->arg);
}

void sl_topic_walk(const struct sl_catalog *c, const char *region, const char *after,
		   bool (*visit)(const struct sl_topic *t, void *arg), void *arg)
{
	struct sl_topic probe;
	struct topic_walk wa = { region, visit, arg };

	if (!topic_probe(&probe, region, after ? after : ""))
		return;
	sl_catalog_walk(c, SL_COBJ_TOPIC, &probe.hdr, after && after[0], topic_walk_one, &wa);
}

const struct sl_sub *sl_sub_find(const struct sl_catalog *c, uint64_t topic_uid, const char *id)
{
	struct sl_sub probe;

	if (!sub_probe(&probe, topic_uid, id))
		return NULL;
	return (const struct sl_sub *)sl_catalog_lookup(c, &probe.hdr);
}

struct sub_walk {
	uint64_t topic_uid; /* 0: every topic */
	bool (*visit)(const struct sl_sub *s, void *arg);
	void *arg;
};

static bool sub_walk_one(void *obj, void *arg)
{
	struct sub_walk *wa = arg;
	const struct sl_sub *s = obj;

	return (!wa->topic_uid || s->topic_uid == wa->topic_uid) && wa->visit(s, wa->arg);
}

static void sub_walk(const struct sl_catalog *c, uint64_t topic_uid, const char *after,
		     bool one_topic, bool (*visit)(const struct sl_sub *s, void *arg), void *arg)
{
	struct sl_sub probe;
	struct sub_walk wa = { one_topic ? topic_uid : 0, visit, arg };

	if (!sub_probe(&probe, topic_uid, after ? after : ""))
		return;
	sl_catalog_walk(c, SL_COBJ_SUB, &probe.hdr, after && after[0], sub_walk_one, &wa);
}

void sl_sub_walk(const struct sl_catalog *c, uint64_t topic_uid, const char *after,
		 bool (*visit)(const struct sl_sub *s, void *arg), void *arg)
{
	sub_walk(c, topic_uid, after, true, visit, arg);
}

void sl_sub_walk_all(const struct sl_catalog *c, uint64_t topic_uid, const char *after,
		     bool (*visit)(const struct sl_sub *s, void *arg), void *arg)
{
	sub_walk(c, topic_uid, after, false, visit, arg);
}

void sl_topic_arn(const struct sl_topic *t, char out[SL_TOPIC_ARN_MAX])
{
	snprintf(out, SL_TOPIC_ARN_MAX, "arn:aws:sns:%s:%s:%s", t->region, sl_cfg->account_id,
		 t->name);
}

void sl_sub_topic_arn(const struct sl_sub *s, char out[SL_TOPIC_ARN_MAX])
{
	snprintf(out, SL_TOPIC_ARN_MAX, "arn:aws:sns:%s:%s:%s", s->region, sl_cfg->account_id,
		 s->topic);
}

void sl_sub_arn(const struct sl_sub *s, char out[SL_SUB_ARN_MAX])
{
	snprintf(out, SL_SUB_ARN_MAX, "arn:aws:sns:%s:%s:%s:%s", s->region, sl_cfg->account_id,
		 s->topic, s->id);
}

int sl_sns_kv_set(struct sl_sns_kvs *kv, const char *key, const char *value, uint32_t max)
{
	uint32_t lo = 0, hi = kv->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(kv->v[mid].key, key);
		if (c == 0) {
			if (!value) {
				free(kv->v[mid].key);
				free(kv->v[mid].value);
				memmove(&kv->v[mid], &kv->v[mid + 1],
					(kv->n - mid - 1) * sizeof(*kv->v));
				kv->n--;
				return 0;
			}
			char *v = strdup(value);
			if (!v)
				return -ENOMEM;
			free(kv->v[mid].value);
			kv->v[mid].value = v;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!value)
		return 0;
	if (kv->n >= max)
		return -E2BIG;
	struct sl_sns_kv *t = realloc(kv->v, (kv->n + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	kv->v = t;
	char *k = strdup(key), *v = strdup(value);
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	memmove(&t[lo + 1], &t[lo], (kv->n - lo) * sizeof(*t));
	t[lo] = (struct sl_sns_kv){ k, v };
	kv->n++;
	return 0;
}

struct sl_topic *sl_topic_add(const char *region, const char *name, bool fifo)
{
	struct sl_topic *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (!topic_probe(t, region, name)) {
		free(t);
		return NULL;
	}
	t->fifo = fifo;
	return sl_catalog_insert(&t->hdr) == 0 ? t : NULL;
}

struct sl_topic *sl_topic_edit(const struct sl_topic *t)
{
	return (struct sl_topic *)sl_catalog_edit(&t->hdr);
}

/* A version 4 UUID, in text, from the kernel's random bytes. */
static int uuid_make(char out[SL_SNS_SUB_ID_LEN + 1])
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, SL_SNS_SUB_ID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
	return 0;
}

struct sl_sub *sl_sub_add(const struct sl_topic *t, uint8_t protocol, const char *endpoint,
			  const char *id)
{
	struct sl_sub *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->hdr.type = SL_COBJ_SUB;
	s->topic_uid = t->hdr.uid;
	memcpy(s->region, t->region, sizeof(s->region));
	memcpy(s->topic, t->name, sizeof(s->topic));
	s->protocol = protocol;
	if (id)
		snprintf(s->id, sizeof(s->id), "%s", id);
	if ((!id && uuid_make(s->id) < 0) || !(s->endpoint = strdup(endpoint))) {
		sl_sub_free(&s->hdr);
		return NULL;
	}
	return sl_catalog_insert(&s->hdr) == 0 ? s : NULL;
}

struct sl_sub *sl_sub_edit(const struct sl_sub *s)
{
	return (struct sl_sub *)sl_catalog_edit(&s->hdr);
}

uint64_t sl_topics_count(void)
{
	return sl_catalog_master()->count[SL_COBJ_TOPIC];
}

uint64_t sl_subs_count(void)
{
	return sl_catalog_master()->count[SL_COBJ_SUB];
}
