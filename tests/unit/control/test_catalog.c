/* Tests for control/catalog.c, control/ctree.c and control/kinesis/streams.c:
 * the log and its replay, snapshots, versions that share structure, a failed
 * flush that undoes its batch, torn tails, the migration of catalog.json,
 * and the counters streams keep. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/catalog.h"
#include "control/kinesis/streams.h"
#include "dataplane/runtime/config.h"

static struct sl_config cfg;
static char dir[256];

static void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.account_id, "123456789012");
	sl_cfg = &cfg;
	snprintf(dir, sizeof(dir), "/tmp/sl-test-catalog-%d-XXXXXX", getpid());
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[300];

	sl_catalog_fini();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(catalog, .init = setup, .fini = teardown);

static const sl_u128 HALF = (sl_u128)1 << 127;

/* A stream with a closed parent and two children, tags and settings, and a
 * second stream of the same name in another region. */
static void build(void)
{
	struct sl_stream_meta *s = sl_stream_add("eu-west-1", "orders");

	cr_assert_not_null(s);
	s->retention_hours = 48;
	s->encrypted = true;
	cr_assert_eq(sl_stream_set_key_id(s, "alias/k"), 0);
	s->created_ms = 1700000000123;
	cr_assert_not_null(sl_stream_add_shard(s, 0, ~(sl_u128)0, -1, -1, 1));
	s->shards[0].closed = true;
	s->shards[0].end_n = 77;
	cr_assert_not_null(sl_stream_add_shard(s, 0, HALF - 1, 0, -1, 2));
	cr_assert_not_null(sl_stream_add_shard(s, HALF, ~(sl_u128)0, 0, -1, 2));
	cr_assert_eq(sl_stream_reindex(s), 0);
	s->tags = calloc(1, sizeof(*s->tags));
	strcpy(s->tags[0].key, "team");
	strcpy(s->tags[0].value, "data \"quoted\"");
	s->ntags = 1;
	cr_assert_not_null(sl_stream_add("us-east-1", "orders"));
	cr_assert_eq(sl_catalog_flush(), 0);
}

static int count_files(const char *prefix)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "exit $(ls '%s' | grep -c '^%s')", dir, prefix);
	int rc = system(cmd);
	return WEXITSTATUS(rc);
}

static void add_blobs(const char *prefix, int from, int to)
{
	char name[64];

	for (int i = from; i < to; i++) {
		snprintf(name, sizeof(name), "%s-%06d", prefix, i);
		struct sl_blob *b = sl_blob_new("r1", name, name, (uint32_t)strlen(name));
		cr_assert_not_null(b);
		cr_assert_eq(sl_catalog_insert(&b->hdr), 0);
	}
}

/* Files this process writes may grow to `bytes` from now on (old keeps
 * what to restore): past it write(2) fails with EFBIG. */
static void limit_file_size(rlim_t bytes, struct rlimit *old)
{
	struct rlimit lim;

	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, old), 0);
	lim = *old;
	lim.rlim_cur = bytes;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
}

Test(catalog, empty_directory_gives_an_empty_catalog)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	cr_assert_eq(sl_catalog_get()->count[SL_COBJ_STREAM], 0);
	cr_assert_eq(sl_catalog_get()->by_uid, NULL);
}

Test(catalog, flush_persists_and_init_replays_the_log)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	build();
	uint64_t uid = sl_stream_find(sl_catalog_get(), "eu-west-1", "orders")->hdr.uid;
	sl_catalog_fini();

	cr_assert_eq(sl_catalog_init(dir), 0);
	const struct sl_catalog *c = sl_catalog_get();
	cr_assert_eq(c->count[SL_COBJ_STREAM], 2);
	const struct sl_stream_meta *s = sl_stream_find(c, "eu-west-1", "orders");
	cr_assert_not_null(s);
	cr_assert_eq(s->hdr.uid, uid);
	cr_assert_eq(sl_stream_find_uid(c, uid), s);
	char arn[SL_STREAM_ARN_MAX];
	sl_stream_arn(s, arn);
	cr_assert_str_eq(arn, "arn:aws:kinesis:eu-west-1:123456789012:stream/orders");
	cr_assert_eq(s->retention_hours, 48);
	cr_assert(s->encrypted);
	cr_assert_str_eq(sl_stream_key_id(s), "alias/k");
	cr_assert_eq(s->created_ms, 1700000000123);
	cr_assert_eq(s->nshards, 3);
	cr_assert(s->shards[0].closed);
	cr_assert_eq(s->shards[0].end_n, 77);
	cr_assert_eq(s->shards[2].parent, 0);
	cr_assert(s->shards[2].hash_start == HALF);
	cr_assert(s->shards[2].hash_end == ~(sl_u128)0);
	cr_assert_eq(s->nopen, 2);
	cr_assert_eq(s->ntags, 1);
	cr_assert_str_eq(s->tags[0].value, "data \"quoted\"");
	/* The counters are rebuilt: two open shards in eu-west-1, one (none
	 * added) in us-east-1. */
	cr_assert_eq(sl_streams_open_shards("eu-west-1"), 2);
	cr_assert_eq(sl_streams_open_shards("us-east-1"), 0);
	/* New objects never reuse a uid, across restarts too. */
	struct sl_stream_meta *n = sl_stream_add("eu-west-1", "new");
	cr_assert_gt(n->hdr.uid, uid);
	cr_assert_gt(n->hdr.uid, sl_stream_find(c, "us-east-1", "orders")->hdr.uid);
}

Test(catalog, routing_uses_open_shards_only)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	build();
	const struct sl_stream_meta *s = sl_stream_find(sl_catalog_get(), "eu-west-1", "orders");
	cr_assert_eq(sl_stream_route(s, 0)->ordinal, 1);
	cr_assert_eq(sl_stream_route(s, HALF - 1)->ordinal, 1);
	cr_assert_eq(sl_stream_route(s, HALF)->ordinal, 2);
	cr_assert_eq(sl_stream_route(s, ~(sl_u128)0)->ordinal, 2);
	cr_assert_null(sl_stream_find(sl_catalog_get(), "eu-west-2", "orders"));
}

Test(catalog, readers_see_a_change_only_after_its_flush_and_old_versions_stay_intact)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	build();
	add_blobs("b", 0, 1000);
	cr_assert_eq(sl_catalog_flush(), 0);
	const struct sl_catalog *before = sl_catalog_get();
	const struct sl_stream_meta *old = sl_stream_find(before, "eu-west-1", "orders");
	struct sl_stream_meta *m = sl_stream_edit(old);
	cr_assert_not_null(m);
	cr_assert_neq(m, old, "a published stream is copied before it changes");
	m->retention_hours = 100;
	sl_catalog_remove(&sl_blob_find(sl_catalog_master(), "r1", "b-000500")->hdr);
	/* Readers still see the published version. */
	cr_assert_eq(sl_catalog_get(), before);
	cr_assert_eq(sl_stream_find(before, "eu-west-1", "orders")->retention_hours, 48);
	cr_assert_not_null(sl_blob_find(before, "r1", "b-000500"));
	cr_assert_eq(sl_catalog_flush(), 0);
	const struct sl_catalog *after = sl_catalog_get();
	cr_assert_neq(after, before);
	cr_assert_gt(after->gen, before->gen);
	cr_assert_eq(sl_stream_find(after, "eu-west-1", "orders")->retention_hours, 100);
	cr_assert_null(sl_blob_find(after, "r1", "b-000500"));
	cr_assert_eq(after->count[SL_COBJ_BLOB], 999);
	/* The old version is untouched (nothing reclaimed it: no QSBR pass),
	 * and the two share the nodes off the changed paths. */
	cr_assert_eq(old->retention_hours, 48);
	cr_assert_not_null(sl_blob_find(before, "r1", "b-000500"));
	cr_assert_eq(before->count[SL_COBJ_BLOB], 1000);
	cr_assert_eq(sl_blob_find(before, "r1", "b-000123"), sl_blob_find(after, "r1", "b-000123"));
}

/* A model of 3000 random inserts, edits and removes, flushed in batches:
 * lookups, key order and the tree height match. */
Test(catalog, random_changes_match_a_model)
{
	enum { N = 3000 };
	static bool present[N];
	static uint32_t value[N];
	char name[32];
	unsigned seed = 12345;

	cr_assert_eq(sl_catalog_init(dir), 0);
	for (int round = 0; round < 20000; round++) {
		int k = (int)(rand_r(&seed) % N);
		snprintf(name, sizeof(name), "k%05d", k);
		const struct sl_blob *b = sl_blob_find(sl_catalog_master(), "r", name);
		cr_assert_eq(b != NULL, present[k]);
		unsigned op = (unsigned)rand_r(&seed) % 3;
		if (!present[k]) {
			uint32_t v = (uint32_t)round;
			struct sl_blob *n = sl_blob_new("r", name, &v, sizeof(v));
			cr_assert_eq(sl_catalog_insert(&n->hdr), 0);
			present[k] = true;
			value[k] = v;
		} else if (op == 0) {
			sl_catalog_remove(&b->hdr);
			present[k] = false;
		} else {
			struct sl_blob *e = (struct sl_blob *)sl_catalog_edit(&b->hdr);
			cr_assert_not_null(e);
			value[k] = (uint32_t)round;
			memcpy(e->data, &value[k], sizeof(value[k]));
		}
		if (round % 97 == 0)
			cr_assert_eq(sl_catalog_flush(), 0);
	}
	cr_assert_eq(sl_catalog_flush(), 0);
	sl_catalog_fini();
	cr_assert_eq(sl_catalog_init(dir), 0);
	const struct sl_catalog *c = sl_catalog_get();
	uint64_t live = 0;
	for (int k = 0; k < N; k++) {
		snprintf(name, sizeof(name), "k%05d", k);
		const struct sl_blob *b = sl_blob_find(c, "r", name);
		cr_assert_eq(b != NULL, present[k], "key %d", k);
		if (b) {
			uint32_t v;
			memcpy(&v, b->data, sizeof(v));
			cr_assert_eq(v, value[k], "key %d", k);
			live++;
		}
	}
	cr_assert_eq(c->count[SL_COBJ_BLOB], live);
	double bound = 4.0 * log2((double)live + 1) + 4;
	cr_assert_lt(sl_ctree_height(c->by_uid), bound, "height %u for %llu objects",
		     sl_ctree_height(c->by_uid), (unsigned long long)live);
}

static bool collect(void *obj, void *arg)
{
	const struct sl_stream_meta *s = obj;
	char *out = arg;

	strcat(out, s->name);
	strcat(out, " ");
	return strlen(out) < 40;
}

static bool collect_region(const struct sl_stream_meta *s, void *arg)
{
	return collect((void *)s, arg);
}

Test(catalog, walks_go_in_key_order_from_a_bound)
{
	char out[256] = "";
	const char *names[] = { "delta", "alpha", "echo", "charlie", "bravo" };

	cr_assert_eq(sl_catalog_init(dir), 0);
	for (int i = 0; i < 5; i++)
		cr_assert_not_null(sl_stream_add("us-east-1", names[i]));
	cr_assert_not_null(sl_stream_add("eu-west-1", "zulu"));
	cr_assert_not_null(sl_stream_add("us-west-2", "aaa"));
	sl_stream_walk(sl_catalog_master(), "us-east-1", NULL, collect_region, out);
	cr_assert_str_eq(out, "alpha bravo charlie delta echo ");
	out[0] = '\0';
	sl_stream_walk(sl_catalog_master(), "us-east-1", "bravo", collect_region, out);
	cr_assert_str_eq(out, "charlie delta echo ");
	out[0] = '\0';
	sl_stream_walk(sl_catalog_master(), "us-east-1", "bz", collect_region, out);
	cr_assert_str_eq(out, "charlie delta echo ");
	out[0] = '\0';
	sl_catalog_walk(sl_catalog_master(), SL_COBJ_STREAM, NULL, false, collect, out);
	cr_assert_str_eq(out, "zulu alpha bravo charlie delta echo aaa ");
}

Test(catalog, a_snapshot_replaces_the_logs_and_recovery_reads_both)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	build();
	add_blobs("s", 0, 2000);
	cr_assert_eq(sl_catalog_flush(), 0);
	cr_assert_eq(sl_catalog_snapshot_start(), 0);
	/* Changes while the snapshot is written go to the next log. */
	add_blobs("t", 0, 10);
	sl_catalog_remove(&sl_blob_find(sl_catalog_master(), "r1", "s-000007")->hdr);
	cr_assert_eq(sl_catalog_flush(), 0);
	sl_catalog_snapshot_wait();
	struct sl_catalog_stats st;
	sl_catalog_stats(&st);
	cr_assert_eq(st.snapshots, 1);
	cr_assert_gt(st.snapshot_bytes, 2000 * 20);
	cr_assert_eq(count_files("catalog.snap$"), 1);
	cr_assert_eq(count_files("catalog.log."), 1, "the folded log is gone");
	sl_catalog_fini();

	cr_assert_eq(sl_catalog_init(dir), 0);
	const struct sl_catalog *c = sl_catalog_get();
	cr_assert_eq(c->count[SL_COBJ_BLOB], 2000 + 10 - 1);
	cr_assert_null(sl_blob_find(c, "r1", "s-000007"));
	cr_assert_not_null(sl_blob_find(c, "r1", "t-000009"));
	cr_assert_eq(sl_stream_find(c, "eu-west-1", "orders")->nshards, 3);
	const struct sl_blob *b = sl_blob_find(c, "r1", "s-001999");
	cr_assert_not_null(b);
	cr_assert_eq(b->len, 8);
	cr_assert_eq(memcmp(b->data, "s-001999", 8), 0);
}

Test(catalog, the_log_is_snapshotted_once_it_outgrows_the_threshold)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	/* Each blob record is about 4 KiB: 8 MiB of log in ~2100 creates. */
	static uint8_t data[SL_BLOB_DATA_MAX];
	char name[32];
	for (int i = 0; i < 2500; i++) {
		snprintf(name, sizeof(name), "big-%d", i);
		struct sl_blob *b = sl_blob_new("r", name, data, sizeof(data));
		cr_assert_eq(sl_catalog_insert(&b->hdr), 0);
		if (i % 50 == 49)
			cr_assert_eq(sl_catalog_flush(), 0);
	}
	sl_catalog_snapshot_wait();
	struct sl_catalog_stats st;
	sl_catalog_stats(&st);
	cr_assert_geq(st.snapshots, 1);
	cr_assert_lt(st.log_bytes, SL_CATALOG_SNAP_MIN_BYTES);
}

Test(catalog, a_failed_flush_undoes_its_batch_and_later_batches_survive)
{
	struct rlimit old;

	cr_assert_eq(sl_catalog_init(dir), 0);
	build();
	uint32_t open_before = sl_streams_open_shards("eu-west-1");
	/* The next write would pass the file-size limit: write(2) fails with
	 * EFBIG, a real I/O failure of the log. */
	limit_file_size(4096, &old);
	static uint8_t data[SL_BLOB_DATA_MAX];
	struct sl_blob *b = sl_blob_new("r", "too-big", data, sizeof(data));
	cr_assert_eq(sl_catalog_insert(&b->hdr), 0);
	struct sl_stream_meta *s = sl_stream_edit(sl_stream_find(sl_catalog_master(), "eu-west-1",
								 "orders"));
	s->shards[1].closed = true;
	cr_assert_eq(sl_stream_reindex(s), 0);
	sl_catalog_commit();
	cr_assert_eq(sl_streams_open_shards("eu-west-1"), open_before - 1);
	int rc = sl_catalog_flush();
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	cr_assert_eq(rc, -EFBIG);
	/* Undone: the master is the published version again. */
	cr_assert_null(sl_blob_find(sl_catalog_master(), "r", "too-big"));
	cr_assert_eq(sl_stream_find(sl_catalog_master(), "eu-west-1", "orders")->nopen, 2);
	cr_assert_eq(sl_streams_open_shards("eu-west-1"), open_before);
	/* The next batch lands in a new log, after the torn one. */
	b = sl_blob_new("r", "after", "x", 1);
	cr_assert_eq(sl_catalog_insert(&b->hdr), 0);
	cr_assert_eq(sl_catalog_flush(), 0);
	sl_catalog_fini();
	cr_assert_eq(sl_catalog_init(dir), 0);
	cr_assert_null(sl_blob_find(sl_catalog_get(), "r", "too-big"));
	cr_assert_not_null(sl_blob_find(sl_catalog_get(), "r", "after"));
	cr_assert_not_null(sl_stream_find(sl_catalog_get(), "us-east-1", "orders"));
}

/* A crash in the middle of a batch's write: recovery keeps every whole
 * batch before it and drops the torn one. */
Test(catalog, a_torn_batch_is_dropped_whole)
{
	char path[400];
	struct stat st;

	cr_assert_eq(sl_catalog_init(dir), 0);
	add_blobs("a", 0, 5);
	cr_assert_eq(sl_catalog_flush(), 0);
	snprintf(path, sizeof(path), "%s/catalog.log.%016x", dir, 1);
	cr_assert_eq(stat(path, &st), 0);
	off_t good = st.st_size;
	add_blobs("b", 0, 5);
	cr_assert_eq(sl_catalog_flush(), 0);
	sl_catalog_fini();
	/* Cut the second batch anywhere before its COMMIT ends. */
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(truncate(path, good + (st.st_size - good) - 3), 0);
	cr_assert_eq(sl_catalog_init(dir), 0);
	cr_assert_eq(sl_catalog_get()->count[SL_COBJ_BLOB], 5);
	cr_assert_not_null(sl_blob_find(sl_catalog_get(), "r1", "a-000004"));
	cr_assert_null(sl_blob_find(sl_catalog_get(), "r1", "b-000000"));
}

Test(catalog, a_damaged_snapshot_is_refused)
{
	char path[400];

	cr_assert_eq(sl_catalog_init(dir), 0);
	add_blobs("a", 0, 5);
	cr_assert_eq(sl_catalog_flush(), 0);
	cr_assert_eq(sl_catalog_snapshot_start(), 0);
	sl_catalog_snapshot_wait();
	sl_catalog_fini();
	snprintf(path, sizeof(path), "%s/catalog.snap", dir);
	int fd = open(path, O_WRONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, "X", 1, 30), 1);
	close(fd);
	cr_assert_lt(sl_catalog_init(dir), 0);
}

Test(catalog, insert_refuses_a_taken_key)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	add_blobs("a", 0, 1);
	struct sl_blob *b = sl_blob_new("r1", "a-000000", "", 0);
	cr_assert_eq(sl_catalog_insert(&b->hdr), -EEXIST);
	/* Removed and added again in one batch: one object, a new uid. */
	const struct sl_blob *old = sl_blob_find(sl_catalog_master(), "r1", "a-000000");
	uint64_t uid = old->hdr.uid;
	sl_catalog_remove(&old->hdr);
	add_blobs("a", 0, 1);
	cr_assert_eq(sl_catalog_flush(), 0);
	cr_assert_eq(sl_catalog_get()->count[SL_COBJ_BLOB], 1);
	cr_assert_gt(sl_blob_find(sl_catalog_get(), "r1", "a-000000")->hdr.uid, uid);
	cr_assert_null(sl_catalog_lookup_uid(sl_catalog_get(), uid));
}

static int ran_count;

static void bump(void *arg)
{
	(void)arg;
	ran_count++;
}

Test(catalog, durable_callbacks_run_after_their_flush_and_never_after_a_failed_one)
{
	struct rlimit old;

	cr_assert_eq(sl_catalog_init(dir), 0);
	add_blobs("a", 0, 1);
	cr_assert_eq(sl_catalog_on_durable(bump, NULL), 0);
	sl_catalog_run_durable();
	cr_assert_eq(ran_count, 0, "not before the flush");
	cr_assert_eq(sl_catalog_flush(), 0);
	cr_assert_eq(ran_count, 0, "not inside the flush");
	sl_catalog_run_durable();
	cr_assert_eq(ran_count, 1);
	limit_file_size(1024, &old);
	static uint8_t data[SL_BLOB_DATA_MAX];
	struct sl_blob *b = sl_blob_new("r", "big", data, sizeof(data));
	cr_assert_eq(sl_catalog_insert(&b->hdr), 0);
	cr_assert_eq(sl_catalog_on_durable(bump, NULL), 0);
	int rc = sl_catalog_flush();
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	cr_assert_lt(rc, 0);
	sl_catalog_run_durable();
	cr_assert_eq(ran_count, 1, "the failed batch's callback is dropped");
}

Test(catalog, counters_follow_creates_edits_and_removes)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	build();
	cr_assert_eq(sl_streams_open_shards("eu-west-1"), 2);
	struct sl_stream_meta *s = sl_stream_add("eu-west-1", "od");
	s->mode = SL_MODE_ON_DEMAND;
	for (int i = 0; i < 4; i++)
		cr_assert_not_null(sl_stream_add_shard(s, (sl_u128)i, (sl_u128)i, -1, -1, 0));
	cr_assert_eq(sl_stream_reindex(s), 0);
	sl_catalog_commit();
	cr_assert_eq(sl_streams_open_shards("eu-west-1"), 6);
	cr_assert_eq(sl_streams_on_demand("eu-west-1"), 1);
	/* Edited twice in one batch, then removed. */
	s = sl_stream_edit(s);
	s->mode = SL_MODE_PROVISIONED;
	sl_catalog_commit();
	cr_assert_eq(sl_streams_on_demand("eu-west-1"), 0);
	s = sl_stream_edit(s);
	sl_stream_remove(s);
	sl_catalog_commit();
	cr_assert_eq(sl_streams_open_shards("eu-west-1"), 2);
	cr_assert_eq(sl_catalog_flush(), 0);
	sl_stream_remove(sl_stream_find(sl_catalog_master(), "eu-west-1", "orders"));
	cr_assert_eq(sl_streams_open_shards("eu-west-1"), 0);
	cr_assert_eq(sl_catalog_flush(), 0);
}

Test(catalog, the_old_catalog_json_is_migrated_once)
{
	char path[400];
	const char *old =
		"{\"version\":1,\"next_uid\":9,\"streams\":[{\"uid\":7,\"name\":\"legacy\","
		"\"region\":\"us-east-1\",\"status\":2,\"mode\":0,\"encrypted\":false,"
		"\"key_id\":\"\",\"retention_hours\":24,\"created_ms\":5,\"status_until_ms\":0,"
		"\"shard_metrics\":0,\"shards\":[{\"ordinal\":0,\"parent\":-1,\"adjacent\":-1,"
		"\"closed\":false,\"start\":\"0\",\"end\":\"340282366920938463463374607431768211455\","
		"\"end_n\":0,\"created_ms\":5,\"closed_ms\":0}],\"tags\":[[\"k\",\"v\"]]},"
		"{\"uid\":3,\"name\":\"older\",\"region\":\"us-east-1\",\"shards\":[]}]}";

	snprintf(path, sizeof(path), "%s/catalog.json", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(old, f);
	fclose(f);
	cr_assert_eq(sl_catalog_init(dir), 0);
	cr_assert_eq(access(path, F_OK), -1, "catalog.json is removed once migrated");
	sl_catalog_fini();
	cr_assert_eq(sl_catalog_init(dir), 0);
	const struct sl_stream_meta *s = sl_stream_find(sl_catalog_get(), "us-east-1", "legacy");
	cr_assert_not_null(s);
	cr_assert_eq(s->hdr.uid, 7, "the uid names the shard directory: kept");
	cr_assert_eq(sl_stream_find(sl_catalog_get(), "us-east-1", "older")->hdr.uid, 3);
	cr_assert_eq(s->nopen, 1);
	cr_assert_str_eq(s->tags[0].key, "k");
	cr_assert_geq(sl_stream_add("us-east-1", "next")->hdr.uid, 9);
}

Test(catalog, a_damaged_catalog_json_is_refused)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/catalog.json", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "{\"version\":1,\"streams\":[{\"name\":", 32), 32);
	close(fd);
	cr_assert_lt(sl_catalog_init(dir), 0);
}

Test(catalog, regions_holding_streams_are_capped)
{
	char region[32];

	cr_assert_eq(sl_catalog_init(dir), 0);
	for (int i = 0; i < SL_REGIONS_MAX; i++) {
		snprintf(region, sizeof(region), "r-%02d", i);
		cr_assert(sl_streams_region_room(region));
		cr_assert_not_null(sl_stream_add(region, "s"));
		sl_catalog_commit();
	}
	cr_assert_not(sl_streams_region_room("one-too-many"));
	cr_assert(sl_streams_region_room("r-07"), "a region that has streams has room");
}

static struct sl_blob *blob_edit(const char *name, char first_byte)
{
	struct sl_blob *b = (struct sl_blob *)sl_catalog_edit(
		&sl_blob_find(sl_catalog_master(), "r1", name)->hdr);

	cr_assert_not_null(b);
	b->data[0] = (uint8_t)first_byte;
	return b;
}

Test(catalog, a_rollback_undoes_one_handler_and_keeps_the_rest_of_its_batch)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	build();
	add_blobs("kept", 0, 3);
	cr_assert_eq(sl_catalog_flush(), 0);
	/* An earlier handler of the same batch: its changes stay. */
	add_blobs("early", 0, 2);
	blob_edit("kept-000000", 'E');
	sl_catalog_commit();
	uint64_t shards = sl_streams_open_shards("eu-west-1");

	/* A handler that changes every kind of thing, then fails. */
	sl_catalog_savepoint();
	add_blobs("late", 0, 5);
	blob_edit("kept-000000", 'L');  /* edited by the earlier handler too */
	blob_edit("early-000000", 'L'); /* made by the earlier handler */
	blob_edit("kept-000001", 'L');
	sl_catalog_remove(&sl_blob_find(sl_catalog_master(), "r1", "kept-000002")->hdr);
	struct sl_stream_meta *s = sl_stream_add("eu-west-1", "more");
	cr_assert_not_null(sl_stream_add_shard(s, 0, ~(sl_u128)0, -1, -1, 0));
	cr_assert_eq(sl_stream_reindex(s), 0);
	sl_catalog_commit();
	s = sl_stream_edit(sl_stream_find(sl_catalog_master(), "eu-west-1", "orders"));
	sl_stream_remove(s);
	cr_assert_neq(sl_streams_open_shards("eu-west-1"), shards);
	sl_catalog_rollback();

	const struct sl_catalog *m = sl_catalog_master();
	cr_assert_null(sl_blob_find(m, "r1", "late-000000"));
	cr_assert_eq(sl_blob_find(m, "r1", "kept-000000")->data[0], 'E', "the earlier edit stays");
	cr_assert_eq(sl_blob_find(m, "r1", "early-000000")->data[0], 'e');
	cr_assert_eq(sl_blob_find(m, "r1", "kept-000001")->data[0], 'k');
	cr_assert_not_null(sl_blob_find(m, "r1", "kept-000002"), "the removal is undone");
	cr_assert_null(sl_stream_find(m, "eu-west-1", "more"));
	cr_assert_not_null(sl_stream_find(m, "eu-west-1", "orders"));
	cr_assert_eq(sl_streams_open_shards("eu-west-1"), shards, "counters are as before");

	/* A handler that succeeds after it: kept. Then the batch is durable
	 * with exactly the surviving changes. */
	sl_catalog_savepoint();
	add_blobs("after", 0, 1);
	sl_catalog_commit();
	sl_catalog_release();
	cr_assert_eq(sl_catalog_flush(), 0);
	sl_catalog_fini();
	cr_assert_eq(sl_catalog_init(dir), 0);
	m = sl_catalog_get();
	cr_assert_null(sl_blob_find(m, "r1", "late-000001"));
	cr_assert_not_null(sl_blob_find(m, "r1", "after-000000"));
	cr_assert_not_null(sl_blob_find(m, "r1", "early-000001"));
	cr_assert_eq(sl_blob_find(m, "r1", "kept-000000")->data[0], 'E');
	cr_assert_eq(sl_blob_find(m, "r1", "kept-000001")->data[0], 'k');
	cr_assert_not_null(sl_blob_find(m, "r1", "kept-000002"));
	cr_assert_eq(sl_streams_open_shards("eu-west-1"), shards);
	cr_assert_eq(sl_catalog_master()->count[SL_COBJ_BLOB], 6);
}

Test(catalog, a_rollback_with_nothing_after_its_savepoint_changes_nothing)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	add_blobs("a", 0, 2);
	sl_catalog_savepoint();
	sl_catalog_rollback();
	cr_assert_eq(sl_catalog_flush(), 0);
	sl_catalog_fini();
	cr_assert_eq(sl_catalog_init(dir), 0);
	cr_assert_eq(sl_catalog_get()->count[SL_COBJ_BLOB], 2);
}
