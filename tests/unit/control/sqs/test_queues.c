/* Tests for control/sqs/queues.c and queue_codec.c: a queue's record
 * survives the catalog (flush, reopen) byte for byte with every attribute
 * and tag, tags stay sorted and capped, a standard queue keeps its
 * partition count, and the decoder refuses records no request could have
 * made. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/catalog.h"
#include "control/sqs/queues.h"
#include "dataplane/runtime/config.h"

static struct sl_config cfg;
static char dir[256];

static void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.account_id, "123456789012");
	sl_cfg = &cfg;
	snprintf(dir, sizeof(dir), "/tmp/sl-test-queues-%d-XXXXXX", getpid());
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[300];

	sl_catalog_fini();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(queues, .init = setup, .fini = teardown);

/* A queue with every attribute and two tags; each call a new name
 * (orders.fifo, then orders-1.fifo...). */
static struct sl_queue *full_queue(void)
{
	static int calls;
	char name[32];

	if (calls == 0)
		snprintf(name, sizeof(name), "orders.fifo");
	else
		snprintf(name, sizeof(name), "orders-%d.fifo", calls);
	calls++;
	struct sl_queue *q = sl_queue_add("eu-west-1", name, true);

	cr_assert_not_null(q);
	q->content_dedup = true;
	q->dedup_scope = SL_SQS_DEDUP_GROUP;
	q->throughput = SL_SQS_PER_GROUP;
	q->delay_s = 900;
	q->max_size = 2048;
	q->retention_s = 60;
	q->visibility_s = 43200;
	q->wait_s = 20;
	q->kms_reuse_s = 86400;
	q->created_ms = 1700000000123;
	q->modified_ms = 1700000000456;
	cr_assert_eq(sl_queue_set_str(&q->policy, "{\"Version\":\"2012-10-17\"}"), 0);
	cr_assert_eq(sl_queue_set_str(&q->redrive, "{\"maxReceiveCount\":3}"), 0);
	cr_assert_eq(sl_queue_set_str(&q->kms_key, "alias/aws/sqs"), 0);
	cr_assert_eq(sl_queue_tag(q, "team", "core"), 0);
	cr_assert_eq(sl_queue_tag(q, "env", "dev"), 0);
	cr_assert_eq(sl_queue_tag(q, "env", "prod"), 0, "a second value replaces the first");
	return q;
}

Test(queues, a_queue_survives_the_catalog_with_every_attribute_and_tag)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	struct sl_queue *q = full_queue();
	struct sl_bw before = { 0 }, after = { 0 };
	sl_queue_encode(&q->hdr, &before);
	uint64_t uid = q->hdr.uid;
	cr_assert_eq(sl_catalog_flush(), 0);
	sl_catalog_fini();

	cr_assert_eq(sl_catalog_init(dir), 0);
	const struct sl_queue *r = sl_queue_find(sl_catalog_get(), "eu-west-1", "orders.fifo");
	cr_assert_not_null(r);
	cr_assert_eq(r->hdr.uid, uid);
	cr_assert_eq(sl_queue_find_uid(sl_catalog_get(), uid), r);
	cr_assert_null(sl_queue_find(sl_catalog_get(), "us-east-1", "orders.fifo"),
		       "queues are scoped by region");
	sl_queue_encode(&r->hdr, &after);
	cr_assert_eq(after.len, before.len);
	cr_assert_eq(memcmp(after.p, before.p, before.len), 0);
	cr_assert_eq(r->ntags, 2);
	cr_assert_str_eq(r->tags[0].key, "env");
	cr_assert_str_eq(r->tags[0].value, "prod");
	cr_assert_str_eq(r->tags[1].key, "team");
	cr_assert_null(r->redrive_allow);
	char arn[SL_QUEUE_ARN_MAX];
	sl_queue_arn(r, arn);
	cr_assert_str_eq(arn, "arn:aws:sqs:eu-west-1:123456789012:orders.fifo");
	sl_bw_free(&before);
	sl_bw_free(&after);
}

static bool collect(const struct sl_queue *q, void *arg)
{
	char *out = arg;

	strcat(out, q->name);
	strcat(out, ",");
	return true;
}

Test(queues, walk_visits_one_region_in_name_order_from_a_point)
{
	char seen[256] = "";

	cr_assert_eq(sl_catalog_init(dir), 0);
	const char *names[] = { "b", "a", "c", "a-1" };
	for (int i = 0; i < 4; i++)
		cr_assert_not_null(sl_queue_add("us-east-1", names[i], false));
	cr_assert_not_null(sl_queue_add("us-east-2", "a", false));
	cr_assert_not_null(sl_queue_add("ap-south-1", "z", false));
	cr_assert_null(sl_queue_add("us-east-1", "a", false), "a taken name is refused");
	cr_assert_eq(sl_catalog_flush(), 0);
	sl_queue_walk(sl_catalog_get(), "us-east-1", NULL, collect, seen);
	cr_assert_str_eq(seen, "a,a-1,b,c,");
	seen[0] = '\0';
	sl_queue_walk(sl_catalog_get(), "us-east-1", "a-1", collect, seen);
	cr_assert_str_eq(seen, "b,c,", "the walk starts after its point");
	cr_assert_eq(sl_queues_count(), 6);
}

Test(queues, tags_are_sorted_replaced_and_capped)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	struct sl_queue *q = sl_queue_add("us-east-1", "t", false);
	char k[16];
	for (int i = SL_SQS_TAGS_MAX - 1; i >= 0; i--) {
		snprintf(k, sizeof(k), "k%03d", i);
		cr_assert_eq(sl_queue_tag(q, k, "v"), 0);
	}
	cr_assert_eq(sl_queue_tag(q, "one-more", "v"), -E2BIG);
	cr_assert_eq(sl_queue_tag(q, "k007", "new"), 0, "replacing needs no room");
	for (uint32_t i = 1; i < q->ntags; i++)
		cr_assert_lt(strcmp(q->tags[i - 1].key, q->tags[i].key), 0);
	sl_queue_untag(q, "k007");
	sl_queue_untag(q, "absent");
	cr_assert_eq(q->ntags, SL_SQS_TAGS_MAX - 1);
}

/* Encode a queue after fn changed it; the decoder must refuse it. */
static void refused(void (*fn)(struct sl_queue *q), const char *what)
{
	struct sl_queue *q = full_queue();
	struct sl_bw w = { 0 };

	fn(q);
	sl_queue_encode(&q->hdr, &w);
	cr_assert_null(sl_queue_decode(w.p, w.len), "%s was accepted", what);
	sl_bw_free(&w);
}

static void big_delay(struct sl_queue *q) { q->delay_s = SL_SQS_DELAY_MAX_S + 1; }
static void small_size(struct sl_queue *q) { q->max_size = SL_SQS_MSG_SIZE_MIN - 1; }
static void long_visibility(struct sl_queue *q) { q->visibility_s = SL_SQS_VISIBILITY_MAX_S + 1; }
static void fifo_name_on_standard(struct sl_queue *q) { q->fifo = false; q->content_dedup = false;
	q->dedup_scope = 0; q->throughput = 0; }
static void bad_name(struct sl_queue *q) { strcpy(q->name, "has space.fifo"); }
static void fifo_partitions(struct sl_queue *q) { q->nparts = 2; }
static void tags_unsorted(struct sl_queue *q)
{
	struct sl_sqs_tag t = q->tags[0];
	q->tags[0] = q->tags[1];
	q->tags[1] = t;
}

Test(queues, the_decoder_refuses_what_no_request_could_make)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	refused(big_delay, "DelaySeconds 901");
	refused(small_size, "MaximumMessageSize 1023");
	refused(long_visibility, "VisibilityTimeout past 12 h");
	refused(fifo_name_on_standard, "a .fifo name on a standard queue");
	refused(bad_name, "a name with a space");
	refused(tags_unsorted, "unsorted tags");
	refused(fifo_partitions, "a FIFO queue of two partitions");
	/* Every prefix of a good record is refused too (never a crash), but
	 * the one without the partition count: a record written before queues
	 * had partitions, which has one. */
	struct sl_queue *q = full_queue();
	struct sl_bw w = { 0 };
	sl_queue_encode(&q->hdr, &w);
	for (size_t n = 0; n < w.len - 1; n++)
		cr_assert_null(sl_queue_decode(w.p, n), "a %zu-byte prefix decoded", n);
	struct sl_cobj *o = sl_queue_decode(w.p, w.len - 1);
	cr_assert_not_null(o, "a record of before partitions is refused");
	cr_assert_eq(((struct sl_queue *)o)->nparts, 1);
	sl_queue_free(o);
	o = sl_queue_decode(w.p, w.len);
	cr_assert_not_null(o);
	sl_queue_free(o);
	sl_bw_free(&w);
}

Test(queues, a_standard_queue_keeps_its_partitions_and_the_decoder_checks_them)
{
	cfg.sqs_partitions = 7;
	cr_assert_eq(sl_catalog_init(dir), 0);
	struct sl_queue *q = sl_queue_add("us-east-1", "jobs", false);
	struct sl_queue *f = sl_queue_add("us-east-1", "jobs.fifo", true);
	cr_assert_not_null(q);
	cr_assert_not_null(f);
	cr_assert_eq(q->nparts, 7, "--sqs-partitions");
	cr_assert_eq(f->nparts, 1, "a FIFO queue has one");
	struct sl_bw w = { 0 };
	sl_queue_encode(&q->hdr, &w);
	struct sl_cobj *o = sl_queue_decode(w.p, w.len);
	cr_assert_not_null(o);
	cr_assert_eq(((struct sl_queue *)o)->nparts, 7);
	sl_queue_free(o);
	/* Zero and past the cap are refused. */
	w.p[w.len - 1] = 0;
	cr_assert_null(sl_queue_decode(w.p, w.len));
	w.p[w.len - 1] = SL_SQS_PARTS_MAX + 1;
	cr_assert_null(sl_queue_decode(w.p, w.len));
	w.p[w.len - 1] = SL_SQS_PARTS_MAX;
	o = sl_queue_decode(w.p, w.len);
	cr_assert_not_null(o);
	sl_queue_free(o);
	sl_bw_free(&w);
}
