/* Tests for control/sns/topics.c and topic_codec.c: topics and
 * subscriptions survive the catalog (flush, reopen) byte for byte with
 * their attributes and tags, a topic's subscriptions are one run in id
 * order, attribute lists stay sorted and capped, and the decoders refuse
 * records no request could have made, in every prefix. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/catalog.h"
#include "control/sns/topics.h"
#include "dataplane/runtime/config.h"

static struct sl_config cfg;
static char dir[256];

static void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.account_id, "123456789012");
	sl_cfg = &cfg;
	snprintf(dir, sizeof(dir), "/tmp/sl-test-topics-%d-XXXXXX", getpid());
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[300];

	sl_catalog_fini();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(topics, .init = setup, .fini = teardown);

static struct sl_topic *full_topic(const char *name)
{
	struct sl_topic *t = sl_topic_add("eu-west-1", name, true);

	cr_assert_not_null(t);
	t->content_dedup = true;
	t->created_ms = 1700000000123;
	cr_assert_eq(sl_sns_kv_set(&t->attrs, "DisplayName", "Orders", 64), 0);
	cr_assert_eq(sl_sns_kv_set(&t->attrs, "ArchivePolicy", "{\"MessageRetentionPeriod\":\"7\"}",
				   64), 0);
	cr_assert_eq(sl_sns_kv_set(&t->tags, "team", "core", SL_SNS_TAGS_MAX), 0);
	cr_assert_eq(sl_sns_kv_set(&t->tags, "env", "dev", SL_SNS_TAGS_MAX), 0);
	return t;
}

static bool collect(const struct sl_sub *s, void *arg)
{
	char *out = arg;

	strcat(out, s->endpoint);
	strcat(out, ",");
	return true;
}

Test(topics, topics_and_subscriptions_survive_the_catalog)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	struct sl_topic *t = full_topic("orders.fifo");
	struct sl_topic *other = sl_topic_add("eu-west-1", "other", false);
	cr_assert_not_null(other);
	struct sl_sub *s = sl_sub_add(t, SL_SNS_SQS, "arn:aws:sqs:eu-west-1:123456789012:q.fifo", NULL);
	cr_assert_not_null(s);
	s->confirmed = true;
	s->raw = true;
	cr_assert_eq(sl_sns_kv_set(&s->attrs, "RedrivePolicy", "{\"deadLetterTargetArn\":\"x\"}",
				   64), 0);
	cr_assert_not_null(sl_sub_add(t, SL_SNS_HTTP, "http://127.0.0.1:9/a", NULL));
	cr_assert_not_null(sl_sub_add(other, SL_SNS_SQS, "arn:aws:sqs:eu-west-1:123456789012:o", NULL));
	struct sl_bw tb = { 0 }, sb = { 0 }, after = { 0 };
	sl_topic_encode(&t->hdr, &tb);
	sl_sub_encode(&s->hdr, &sb);
	uint64_t tuid = t->hdr.uid;
	char sid[SL_SNS_SUB_ID_LEN + 1];
	memcpy(sid, s->id, sizeof(sid));
	cr_assert_eq(sl_catalog_flush(), 0);
	sl_catalog_fini();

	cr_assert_eq(sl_catalog_init(dir), 0);
	const struct sl_topic *r = sl_topic_find(sl_catalog_get(), "eu-west-1", "orders.fifo");
	cr_assert_not_null(r);
	cr_assert_eq(r->hdr.uid, tuid);
	cr_assert_null(sl_topic_find(sl_catalog_get(), "us-east-1", "orders.fifo"),
		       "topics are scoped by region");
	sl_topic_encode(&r->hdr, &after);
	cr_assert_eq(after.len, tb.len);
	cr_assert_eq(memcmp(after.p, tb.p, tb.len), 0);
	cr_assert_str_eq(sl_sns_kv_get(&r->attrs, "DisplayName"), "Orders");
	cr_assert_str_eq(r->tags.v[0].key, "env", "tags sorted");
	const struct sl_sub *rs = sl_sub_find(sl_catalog_get(), tuid, sid);
	cr_assert_not_null(rs);
	sl_bw_free(&after);
	sl_sub_encode(&rs->hdr, &after);
	cr_assert_eq(after.len, sb.len);
	cr_assert_eq(memcmp(after.p, sb.p, sb.len), 0);
	char arn[SL_SUB_ARN_MAX];
	sl_sub_arn(rs, arn);
	cr_assert_eq(strncmp(arn, "arn:aws:sns:eu-west-1:123456789012:orders.fifo:", 47), 0);
	cr_assert_str_eq(arn + 47, sid);
	/* The topic's subscriptions and no other's. */
	char seen[512] = "";
	sl_sub_walk(sl_catalog_get(), tuid, NULL, collect, seen);
	cr_assert(strstr(seen, "q.fifo") && strstr(seen, "http://127.0.0.1:9/a"), "%s", seen);
	cr_assert_null(strstr(seen, ":o,"), "%s", seen);
	cr_assert_eq(sl_subs_count(), 3);
	cr_assert_eq(sl_topics_count(), 2);
	sl_bw_free(&tb);
	sl_bw_free(&sb);
	sl_bw_free(&after);
}

Test(topics, attribute_lists_are_sorted_replaced_removed_and_capped)
{
	struct sl_sns_kvs kv = { 0 };
	char k[16];

	for (int i = 9; i >= 0; i--) {
		snprintf(k, sizeof(k), "k%d", i);
		cr_assert_eq(sl_sns_kv_set(&kv, k, "v", 10), 0);
	}
	cr_assert_eq(sl_sns_kv_set(&kv, "more", "v", 10), -E2BIG);
	cr_assert_eq(sl_sns_kv_set(&kv, "k3", "new", 10), 0, "replacing needs no room");
	cr_assert_str_eq(sl_sns_kv_get(&kv, "k3"), "new");
	cr_assert_eq(sl_sns_kv_set(&kv, "k4", NULL, 10), 0);
	cr_assert_null(sl_sns_kv_get(&kv, "k4"));
	cr_assert_eq(sl_sns_kv_set(&kv, "absent", NULL, 10), 0);
	cr_assert_eq(kv.n, 9);
	for (uint32_t i = 1; i < kv.n; i++)
		cr_assert_lt(strcmp(kv.v[i - 1].key, kv.v[i].key), 0);
	while (kv.n)
		sl_sns_kv_set(&kv, kv.v[0].key, NULL, 10);
	free(kv.v);
}

Test(topics, names_follow_aws_rules)
{
	bool fifo;
	char longest[SL_SNS_TOPIC_NAME_MAX + 2];

	cr_assert(sl_topic_name_ok("a-b_C9", 6, &fifo));
	cr_assert_not(fifo);
	cr_assert(sl_topic_name_ok("a.fifo", 6, &fifo));
	cr_assert(fifo);
	cr_assert_not(sl_topic_name_ok(".fifo", 5, &fifo), "a suffix alone");
	cr_assert_not(sl_topic_name_ok("a b", 3, &fifo));
	cr_assert_not(sl_topic_name_ok("a.b", 3, &fifo));
	memset(longest, 'x', sizeof(longest));
	cr_assert(sl_topic_name_ok(longest, SL_SNS_TOPIC_NAME_MAX, &fifo));
	cr_assert_not(sl_topic_name_ok(longest, SL_SNS_TOPIC_NAME_MAX + 1, &fifo));
}

Test(topics, the_decoders_refuse_what_no_request_could_make)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	struct sl_topic *t = full_topic("refused.fifo");
	struct sl_sub *s = sl_sub_add(t, SL_SNS_SQS, "arn:aws:sqs:eu-west-1:123456789012:q", NULL);
	cr_assert_not_null(s);
	struct sl_bw w = { 0 };
	sl_topic_encode(&t->hdr, &w);
	for (size_t n = 0; n < w.len; n++)
		cr_assert_null(sl_topic_decode(w.p, n), "a %zu-byte topic prefix decoded", n);
	struct sl_cobj *o = sl_topic_decode(w.p, w.len);
	cr_assert_not_null(o);
	sl_topic_free(o);
	sl_bw_free(&w);
	sl_sub_encode(&s->hdr, &w);
	for (size_t n = 0; n < w.len; n++)
		cr_assert_null(sl_sub_decode(w.p, n), "a %zu-byte subscription prefix decoded", n);
	o = sl_sub_decode(w.p, w.len);
	cr_assert_not_null(o);
	sl_sub_free(o);
	sl_bw_free(&w);
	/* A FIFO name on a standard topic, a bad protocol, a bad id. */
	t->fifo = false;
	t->content_dedup = false;
	sl_topic_encode(&t->hdr, &w);
	cr_assert_null(sl_topic_decode(w.p, w.len), "a .fifo name on a standard topic");
	sl_bw_free(&w);
	s->protocol = SL_SNS_PROTOS;
	sl_sub_encode(&s->hdr, &w);
	cr_assert_null(sl_sub_decode(w.p, w.len), "an unknown protocol");
	sl_bw_free(&w);
	s->protocol = SL_SNS_SQS;
	s->id[3] = 'Z';
	sl_sub_encode(&s->hdr, &w);
	cr_assert_null(sl_sub_decode(w.p, w.len), "an id that is no UUID");
	sl_bw_free(&w);
}
