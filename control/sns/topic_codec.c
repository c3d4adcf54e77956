/* topic_codec.c - the catalog records of SNS topics and subscriptions:
 * encode, decode, clone, free.
 *
 * Topic (little-endian, bin.h): region, name, a flags byte (fifo,
 * content_dedup), created_ms, then the attributes and the tags, each as a
 * count and key/value strings in key order. Subscription: topic uid, id,
 * region, topic name, protocol, a flags byte (confirmed, raw), created_ms,
 * endpoint, token (empty: none), attributes. A decoded record is checked
 * against what a handler could have made (names, lengths, order, counts),
 * so that recovery never loads an object no request could have made.
 */
#include <stdlib.h>
#include <string.h>

#include "control/sns/platform.h"
#include "control/sns/topics.h"
#include "dataplane/services/sns/filter.h"

const char *const sl_sns_proto_names[SL_SNS_PROTOS] = {
	[SL_SNS_HTTP] = "http",
	[SL_SNS_HTTPS] = "https",
	[SL_SNS_EMAIL] = "email",
	[SL_SNS_EMAIL_JSON] = "email-json",
	[SL_SNS_SMS] = "sms",
	[SL_SNS_SQS] = "sqs",
	[SL_SNS_APPLICATION] = "application",
	[SL_SNS_LAMBDA] = "lambda",
	[SL_SNS_FIREHOSE] = "firehose",
};

bool sl_topic_name_ok(const char *name, size_t n, bool *fifo)
{
	*fifo = n > 5 && memcmp(name + n - 5, ".fifo", 5) == 0;
	size_t base = *fifo ? n - 5 : n;

	if (n == 0 || n > SL_SNS_TOPIC_NAME_MAX || base == 0)
		return false;
	for (size_t i = 0; i < base; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

int sl_topic_cmp(const struct sl_cobj *key, const struct sl_cobj *o)
{
	const struct sl_topic *a = (const void *)key, *b = (const void *)o;
	int c = strcmp(a->region, b->region);

	return c ? c : strcmp(a->name, b->name);
}

int sl_sub_cmp(const struct sl_cobj *key, const struct sl_cobj *o)
{
	const struct sl_sub *a = (const void *)key, *b = (const void *)o;

	if (a->topic_uid != b->topic_uid)
		return a->topic_uid < b->topic_uid ? -1 : 1;
	return strcmp(a->id, b->id);
}

static void kvs_free(struct sl_sns_kvs *kv)
{
	for (uint32_t i = 0; i < kv->n; i++) {
		free(kv->v[i].key);
		free(kv->v[i].value);
	}
	free(kv->v);
	kv->v = NULL;
	kv->n = 0;
}

static bool dup_str(char **slot, const char *s)
{
	*slot = s ? strdup(s) : NULL;
	return !s || *slot;
}

static bool kvs_clone(struct sl_sns_kvs *to, const struct sl_sns_kvs *from)
{
	to->n = 0;
	to->v = NULL;
	if (!from->n)
		return true;
	to->v = calloc(from->n, sizeof(*to->v));
	if (!to->v)
		return false;
	for (uint32_t i = 0; i < from->n; i++) {
		to->n = i + 1;
		if (!dup_str(&to->v[i].key, from->v[i].key) ||
		    !dup_str(&to->v[i].value, from->v[i].value))
			return false;
	}
	return true;
}

void sl_topic_free(struct sl_cobj *o)
{
	struct sl_topic *t = (void *)o;

	if (!t)
		return;
	kvs_free(&t->attrs);
	kvs_free(&t->tags);
	free(t);
}

void sl_sub_free(struct sl_cobj *o)
{
	struct sl_sub *s = (void *)o;

	if (!s)
		return;
	free(s->endpoint);
	free(s->token);
	kvs_free(&s->attrs);
	sl_filter_free(s->filter);
	free(s);
}

struct sl_cobj *sl_topic_clone(const struct sl_cobj *o)
{
	const struct sl_topic *t = (const void *)o;
	struct sl_topic *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	*c = *t;
	c->attrs = c->tags = (struct sl_sns_kvs){ 0 };
	if (!kvs_clone(&c->attrs, &t->attrs) || !kvs_clone(&c->tags, &t->tags)) {
		sl_topic_free(&c->hdr);
		return NULL;
	}
	return &c->hdr;
}

struct sl_cobj *sl_sub_clone(const struct sl_cobj *o)
{
	const struct sl_sub *s = (const void *)o;
	struct sl_sub *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	*c = *s;
	c->endpoint = c->token = NULL;
	c->attrs = (struct sl_sns_kvs){ 0 };
	c->filter = NULL;
	if (!dup_str(&c->endpoint, s->endpoint) || !dup_str(&c->token, s->token) ||
	    !kvs_clone(&c->attrs, &s->attrs) || sl_sub_filter_load(c) < 0) {
		sl_sub_free(&c->hdr);
		return NULL;
	}
	return &c->hdr;
}

const char *sl_sns_kv_get(const struct sl_sns_kvs *kv, const char *key)
{
	uint32_t lo = 0, hi = kv->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(kv->v[mid].key, key);
		if (c == 0)
			return kv->v[mid].value;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int sl_sub_filter_load(struct sl_sub *s)
{
	const char *policy = sl_sns_kv_get(&s->attrs, "FilterPolicy");
	const char *scope = sl_sns_kv_get(&s->attrs, "FilterPolicyScope");
	char err[256];

	sl_filter_free(s->filter);
	s->filter = NULL;
	if (!policy)
		return 0;
	s->filter = sl_filter_compile(policy, strlen(policy),
				      scope && strcmp(scope, "MessageBody") == 0 ? SL_FILTER_BODY :
				      SL_FILTER_ATTRIBUTES, err, sizeof(err));
	return s->filter ? 0 : -1;
}

static void kvs_encode(struct sl_bw *w, const struct sl_sns_kvs *kv)
{
	sl_bw_u32(w, kv->n);
	for (uint32_t i = 0; i < kv->n; i++) {
		sl_bw_str(w, kv->v[i].key);
		sl_bw_str(w, kv->v[i].value);
	}
}

void sl_topic_encode(const struct sl_cobj *o, struct sl_bw *w)
{
	const struct sl_topic *t = (const void *)o;

	sl_bw_str(w, t->region);
	sl_bw_str(w, t->name);
	sl_bw_u8(w, (uint8_t)(t->fifo | t->content_dedup << 1));
	sl_bw_u64(w, (uint64_t)t->created_ms);
	kvs_encode(w, &t->attrs);
	kvs_encode(w, &t->tags);
}

void sl_sub_encode(const struct sl_cobj *o, struct sl_bw *w)
{
	const struct sl_sub *s = (const void *)o;

	sl_bw_u64(w, s->topic_uid);
	sl_bw_str(w, s->id);
	sl_bw_str(w, s->region);
	sl_bw_str(w, s->topic);
	sl_bw_u8(w, s->protocol);
	sl_bw_u8(w, (uint8_t)(s->confirmed | s->raw << 1));
	sl_bw_u64(w, (uint64_t)s->created_ms);
	sl_bw_str(w, s->endpoint);
	sl_bw_str(w, s->token);
	kvs_encode(w, &s->attrs);
}

static bool kvs_decode(struct sl_br *r, struct sl_sns_kvs *kv, uint32_t max, size_t key_max,
		       size_t value_max)
{
	uint32_t n = sl_br_u32(r);

	if (r->bad || n > max)
		return false;
	if (n) {
		kv->v = calloc(n, sizeof(*kv->v));
		if (!kv->v)
			return false;
	}
	for (uint32_t i = 0; i < n; i++) {
		kv->n = i + 1;
		if (!sl_br_dup_str(r, 1, key_max, false, &kv->v[i].key) ||
		    !sl_br_dup_str(r, 0, value_max, false, &kv->v[i].value) ||
		    (i && strcmp(kv->v[i - 1].key, kv->v[i].key) >= 0))
			return false;
	}
	return true;
}

struct sl_cobj *sl_topic_decode(const uint8_t *p, size_t n)
{
	struct sl_br r = sl_br_make(p, n);
	struct sl_topic *t = calloc(1, sizeof(*t));
	bool fifo;

	if (!t)
		return NULL;
	t->hdr.type = SL_COBJ_TOPIC;
	sl_br_str(&r, t->region, sizeof(t->region));
	sl_br_str(&r, t->name, sizeof(t->name));
	uint8_t flags = sl_br_u8(&r);
	t->fifo = flags & 1;
	t->content_dedup = flags >> 1 & 1;
	t->created_ms = (int64_t)sl_br_u64(&r);
	bool ok = !r.bad && (flags & ~3u) == 0 && t->region[0] &&
		  sl_topic_name_ok(t->name, strlen(t->name), &fifo) && fifo == t->fifo &&
		  (t->fifo || !t->content_dedup) &&
		  kvs_decode(&r, &t->attrs, SL_SNS_OBJ_ATTRS_MAX, 64, SL_SNS_ATTR_VALUE_MAX) &&
		  kvs_decode(&r, &t->tags, SL_SNS_TAGS_MAX, SL_SNS_TAG_KEY_MAX, SL_SNS_TAG_VALUE_MAX);
	if (!ok || r.bad || sl_br_left(&r) != 0) {
		sl_topic_free(&t->hdr);
		return NULL;
	}
	return &t->hdr;
}

static bool id_ok(const char *s)
{
	if (strlen(s) != SL_SNS_SUB_ID_LEN)
		return false;
	for (int i = 0; i < SL_SNS_SUB_ID_LEN; i++) {
		char c = s[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

struct sl_cobj *sl_sub_decode(const uint8_t *p, size_t n)
{
	struct sl_br r = sl_br_make(p, n);
	struct sl_sub *s = calloc(1, sizeof(*s));
	bool fifo;

	if (!s)
		return NULL;
	s->hdr.type = SL_COBJ_SUB;
	s->topic_uid = sl_br_u64(&r);
	sl_br_str(&r, s->id, sizeof(s->id));
	sl_br_str(&r, s->region, sizeof(s->region));
	sl_br_str(&r, s->topic, sizeof(s->topic));
	s->protocol = sl_br_u8(&r);
	uint8_t flags = sl_br_u8(&r);
	s->confirmed = flags & 1;
	s->raw = flags >> 1 & 1;
	s->created_ms = (int64_t)sl_br_u64(&r);
	bool ok = !r.bad && (flags & ~3u) == 0 && s->topic_uid && id_ok(s->id) && s->region[0] &&
		  sl_topic_name_ok(s->topic, strlen(s->topic), &fifo) &&
		  s->protocol < SL_SNS_PROTOS &&
		  sl_br_dup_str(&r, 1, SL_SNS_ENDPOINT_MAX, false, &s->endpoint) &&
		  sl_br_dup_str(&r, 0, SL_SNS_TOKEN_LEN, true, &s->token) &&
		  kvs_decode(&r, &s->attrs, SL_SNS_OBJ_ATTRS_MAX, 64, SL_SNS_FILTER_POLICY_MAX);
	if (!ok || r.bad || sl_br_left(&r) != 0 || sl_sub_filter_load(s) < 0) {
		sl_sub_free(&s->hdr);
		return NULL;
	}
	return &s->hdr;
}

/* ---- Platform applications and endpoints (platform.h) ----------------------- */

int sl_platform_cmp(const struct sl_cobj *key, const struct sl_cobj *o)
{
	const struct sl_platform *a = (const void *)key, *b = (const void *)o;
	int c = strcmp(a->region, b->region);

	if (!c)
		c = strcmp(a->platform, b->platform);
	if (!c)
		c = strcmp(a->app, b->app);
	return c ? c : strcmp(a->id, b->id);
}

void sl_platform_free(struct sl_cobj *o)
{
	struct sl_platform *p = (void *)o;

	if (!p)
		return;
	kvs_free(&p->attrs);
	free(p);
}

struct sl_cobj *sl_platform_clone(const struct sl_cobj *o)
{
	const struct sl_platform *p = (const void *)o;
	struct sl_platform *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	*c = *p;
	c->attrs = (struct sl_sns_kvs){ 0 };
	if (!kvs_clone(&c->attrs, &p->attrs)) {
		sl_platform_free(&c->hdr);
		return NULL;
	}
	return &c->hdr;
}

void sl_platform_encode(const struct sl_cobj *o, struct sl_bw *w)
{
	const struct sl_platform *p = (const void *)o;

	sl_bw_str(w, p->region);
	sl_bw_str(w, p->platform);
	sl_bw_str(w, p->app);
	sl_bw_str(w, p->id);
	sl_bw_u64(w, (uint64_t)p->created_ms);
	kvs_encode(w, &p->attrs);
}

bool sl_platform_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SL_SNS_PLATFORM_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

const char *const sl_sns_platforms[] = { "ADM", "APNS", "APNS_SANDBOX", "APNS_VOIP",
					 "APNS_VOIP_SANDBOX", "BAIDU", "GCM", "MACOS",
					 "MACOS_SANDBOX", "MPNS", "WNS", NULL };

bool sl_platform_kind_ok(const char *s)
{
	for (int i = 0; sl_sns_platforms[i]; i++)
		if (strcmp(s, sl_sns_platforms[i]) == 0)
			return true;
	return false;
}

struct sl_cobj *sl_platform_decode(const uint8_t *p, size_t n)
{
	struct sl_br r = sl_br_make(p, n);
	struct sl_platform *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->hdr.type = SL_COBJ_PLATFORM;
	sl_br_str(&r, o->region, sizeof(o->region));
	sl_br_str(&r, o->platform, sizeof(o->platform));
	sl_br_str(&r, o->app, sizeof(o->app));
	sl_br_str(&r, o->id, sizeof(o->id));
	o->created_ms = (int64_t)sl_br_u64(&r);
	bool ok = !r.bad && o->region[0] && sl_platform_kind_ok(o->platform) &&
		  sl_platform_name_ok(o->app) && (!o->id[0] || id_ok(o->id)) &&
		  kvs_decode(&r, &o->attrs, SL_SNS_OBJ_ATTRS_MAX, 64, SL_SNS_ATTR_VALUE_MAX);
	if (!ok || r.bad || sl_br_left(&r) != 0) {
		sl_platform_free(&o->hdr);
		return NULL;
	}
	return &o->hdr;
}

const struct sl_cobj_type sl_platform_type = {
	.name = "sns-platform",
	.cmp = sl_platform_cmp,
	.clone = sl_platform_clone,
	.free = sl_platform_free,
	.encode = sl_platform_encode,
	.decode = sl_platform_decode,
};
