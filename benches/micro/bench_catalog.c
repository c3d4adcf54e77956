/* bench_catalog.c - catalog creates per second as the catalog grows to a
 * million objects.
 *
 * Creates --count objects (every other one a Kinesis stream with one shard,
 * the rest generic blobs) through the catalog's own API, flushing every
 * --batch creates as the control thread's group commit would (one write and
 * one fdatasync per batch, on the real disk under --dir). Prints creates/s
 * over a window of --window creates starting at 0, 100k and 500k and ending
 * at --count, then how long recovery of the whole catalog takes.
 *
 *   bench_catalog [--count 1000000] [--batch 64] [--window 20000] [--dir /var/tmp]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/catalog.h"
#include "control/kinesis/streams.h"
#include "dataplane/runtime/config.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	}
	if (f)
		fclose(f);
	return kib;
}

static int create_one(long i)
{
	char name[64];

	snprintf(name, sizeof(name), "obj-%09ld", i * 7919 % 1000000007);
	if (i % 2 == 0) {
		struct sl_stream_meta *s = sl_stream_add("us-east-1", name);
		if (!s || !sl_stream_add_shard(s, 0, ~(sl_u128)0, -1, -1, 1) ||
		    sl_stream_reindex(s) < 0)
			return -ENOMEM;
		s->status = SL_STREAM_ACTIVE;
		s->retention_hours = 24;
		return 0;
	}
	struct sl_blob *b = sl_blob_new("us-east-1", name, name, 16);
	return b ? sl_catalog_insert(&b->hdr) : -ENOMEM;
}

int main(int argc, char **argv)
{
	static struct sl_config cfg;
	long count = 1000000, batch = 64, window = 20000;
	const char *base = "/var/tmp";
	char dir[512];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--count") == 0)
			count = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--batch") == 0)
			batch = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--window") == 0)
			window = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--dir") == 0)
			base = argv[i + 1];
	}
	strcpy(cfg.account_id, "000000000000");
	sl_cfg = &cfg;
	snprintf(dir, sizeof(dir), "%s/sl-bench-catalog-%d", base, getpid());
	if (mkdir(dir, 0755) < 0 || sl_catalog_init(dir) < 0) {
		perror("bench_catalog: data directory");
		return 1;
	}
	long starts[] = { 0, 100000, 500000, count - window };
	double t0 = 0;
	int w = 0;
	printf("creates, batch %ld, window %ld, in %s\n", batch, window, dir);
	for (long i = 0; i < count; i++) {
		if (w < 4 && i == starts[w])
			t0 = now_s();
		if (create_one(i) < 0) {
			fprintf(stderr, "bench_catalog: create %ld failed\n", i);
			return 1;
		}
		sl_catalog_commit();
		if ((i + 1) % batch == 0 || i + 1 == count) {
			if (sl_catalog_flush() < 0) {
				fprintf(stderr, "bench_catalog: flush failed\n");
				return 1;
			}
			sl_catalog_reclaim();
		}
		if (w < 4 && i + 1 == starts[w] + window) {
			double dt = now_s() - t0;
			printf("objects %8ld..%8ld: %9.0f creates/s\n", starts[w], i + 1, window / dt);
			fflush(stdout);
			w++;
			while (w < 4 && starts[w] <= i)
				w++;
		}
	}
	sl_catalog_snapshot_wait();
	struct sl_catalog_stats st;
	sl_catalog_stats(&st);
	const struct sl_catalog *c = sl_catalog_get();
	printf("objects: %llu streams + %llu blobs; tree height %u; RSS %ld MiB; %llu snapshots "
	       "(last %.1f MiB); log %.1f MiB\n",
	       (unsigned long long)c->count[SL_COBJ_STREAM],
	       (unsigned long long)c->count[SL_COBJ_BLOB], sl_ctree_height(c->by_uid),
	       rss_kib() / 1024, (unsigned long long)st.snapshots, st.snapshot_bytes / 1048576.0,
	       st.log_bytes / 1048576.0);
	sl_catalog_fini();
	double r0 = now_s();
	if (sl_catalog_init(dir) < 0) {
		fprintf(stderr, "bench_catalog: recovery failed\n");
		return 1;
	}
	double r1 = now_s();
	c = sl_catalog_get();
	printf("recovery: %.2f s for %llu objects\n", r1 - r0,
	       (unsigned long long)(c->count[SL_COBJ_STREAM] + c->count[SL_COBJ_BLOB]));
	sl_catalog_fini();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
