/* Tests for control/catalog.c: persistence round trip, snapshots, routing,
 * and refusing a damaged catalog file. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/catalog.h"
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

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(catalog, .init = setup, .fini = teardown);

static const sl_u128 HALF = (sl_u128)1 << 127;

/* A stream with a closed parent and two children, tags and settings. */
static void build(void)
{
	struct sl_catalog *m = sl_catalog_master();
	struct sl_stream_meta *s = sl_catalog_add_stream(m, "eu-west-1", "orders");

	cr_assert_not_null(s);
	s->retention_hours = 48;
	s->encrypted = true;
	strcpy(s->key_id, "alias/k");
	s->created_ms = 1700000000123;
	cr_assert_not_null(sl_stream_add_shard(s, 0, ~(sl_u128)0, -1, -1, 1));
	s->shards[0].closed = true;
	s->shards[0].end_n = 77;
	cr_assert_not_null(sl_stream_add_shard(s, 0, HALF - 1, 0, -1, 2));
	cr_assert_not_null(sl_stream_add_shard(s, HALF, ~(sl_u128)0, 0, -1, 2));
	sl_stream_reindex(s);
	s->tags = calloc(1, sizeof(*s->tags));
	strcpy(s->tags[0].key, "team");
	strcpy(s->tags[0].value, "data \"quoted\"");
	s->ntags = 1;
	cr_assert_not_null(sl_catalog_add_stream(m, "us-east-1", "orders"));
	cr_assert_eq(sl_catalog_commit(), 0);
}

Test(catalog, empty_directory_gives_an_empty_catalog)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	cr_assert_eq(sl_catalog_get()->nstreams, 0);
}

Test(catalog, commit_persists_and_init_reloads)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	build();
	uint64_t uid = sl_catalog_find(sl_catalog_get(), "eu-west-1", "orders")->uid;
	sl_catalog_fini();

	cr_assert_eq(sl_catalog_init(dir), 0);
	const struct sl_catalog *c = sl_catalog_get();
	cr_assert_eq(c->nstreams, 2);
	const struct sl_stream_meta *s = sl_catalog_find(c, "eu-west-1", "orders");
	cr_assert_not_null(s);
	cr_assert_eq(s->uid, uid);
	cr_assert_eq(sl_catalog_find_uid(c, uid), s);
	cr_assert_str_eq(s->arn, "arn:aws:kinesis:eu-west-1:123456789012:stream/orders");
	cr_assert_eq(s->retention_hours, 48);
	cr_assert(s->encrypted);
	cr_assert_str_eq(s->key_id, "alias/k");
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
	/* New streams never reuse a uid, across restarts too. */
	struct sl_stream_meta *n = sl_catalog_add_stream(sl_catalog_master(), "eu-west-1", "new");
	cr_assert_gt(n->uid, uid);
	cr_assert_gt(n->uid, sl_catalog_find(c, "us-east-1", "orders")->uid);
}

Test(catalog, routing_uses_open_shards_only)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	build();
	const struct sl_stream_meta *s = sl_catalog_find(sl_catalog_get(), "eu-west-1", "orders");
	cr_assert_eq(sl_stream_route(s, 0)->ordinal, 1);
	cr_assert_eq(sl_stream_route(s, HALF - 1)->ordinal, 1);
	cr_assert_eq(sl_stream_route(s, HALF)->ordinal, 2);
	cr_assert_eq(sl_stream_route(s, ~(sl_u128)0)->ordinal, 2);
	cr_assert_null(sl_catalog_find(sl_catalog_get(), "eu-west-2", "orders"));
}

Test(catalog, snapshots_are_copies)
{
	cr_assert_eq(sl_catalog_init(dir), 0);
	build();
	const struct sl_catalog *before = sl_catalog_get();
	struct sl_stream_meta *m = (struct sl_stream_meta *)sl_catalog_find(sl_catalog_master(),
									     "eu-west-1", "orders");
	m->retention_hours = 100;
	/* Changing the master does not change what readers see until commit. */
	cr_assert_eq(sl_catalog_find(before, "eu-west-1", "orders")->retention_hours, 48);
	cr_assert_eq(sl_catalog_commit(), 0);
	cr_assert_neq(sl_catalog_get(), before);
	cr_assert_eq(sl_catalog_find(sl_catalog_get(), "eu-west-1", "orders")->retention_hours, 100);
	cr_assert_gt(sl_catalog_get()->gen, before->gen);
}

Test(catalog, damaged_file_is_refused)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/catalog.json", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "{\"version\":1,\"streams\":[{\"name\":", 32), 32);
	close(fd);
	cr_assert_lt(sl_catalog_init(dir), 0);
}
