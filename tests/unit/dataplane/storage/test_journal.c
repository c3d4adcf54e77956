/* Tests for dataplane/storage/journal.c: a batch is durable only after its
 * write and fdatasync complete; recovery sees every intact entry in order,
 * across a switch of files and a reuse of the first one, and never a torn
 * or stale one; a failed write is retried with the same bytes; a full
 * journal waits for its checkpoint instead of overwriting. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "dataplane/limits.h"
#include "dataplane/storage/journal.h"

#define FILE_BYTES (64 * 1024)

static char dir[256];
static struct io_uring ring;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sl-test-journal-%d-XXXXXX", getpid());
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(io_uring_queue_init(64, &ring, 0), 0);
}

static void teardown(void)
{
	char cmd[300];

	io_uring_queue_exit(&ring);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(journal, .init = setup, .fini = teardown);

/* Write what is staged (and what failed before); `fail_first` reports the
 * first completion as failed. Returns 1 when durable_seq moved, 0 when it
 * did not, or the error. */
static int commit(struct sl_journal *j, bool fail_first)
{
	int queued = sl_journal_prep(j, &ring, 1);
	int rc = 0;

	cr_assert_geq(queued, 0);
	if (queued == 0)
		return 0;
	cr_assert_eq(io_uring_submit_and_wait(&ring, (unsigned)queued), queued);
	for (int i = 0; i < queued; i++) {
		struct io_uring_cqe *cqe;
		cr_assert_eq(io_uring_wait_cqe(&ring, &cqe), 0);
		cr_assert_eq(cqe->user_data & 7, 1, "the kind rides in the low bits");
		void *batch = (void *)(uintptr_t)(cqe->user_data & ~7ull);
		int c = sl_journal_complete(j, batch, fail_first && i == 0 ? -EIO : cqe->res);
		io_uring_cqe_seen(&ring, cqe);
		if (c < 0 || (c > rc && rc >= 0))
			rc = c;
	}
	return rc;
}

/* What a scan saw: the data entries, and every sequence number (padding
 * entries of direct I/O included) to check that they are consecutive. */
struct seen {
	uint64_t seq[4096];
	uint64_t key[4096];
	unsigned n;
	uint64_t all[8192];
	unsigned nall;
	bool payload_ok;
};

static int collect(void *arg, const struct sl_journal_hdr *h, const uint8_t *payload)
{
	struct seen *s = arg;
	char want[64];

	cr_assert_lt(s->nall, 8192);
	s->all[s->nall++] = h->seq;
	if (h->kind == SL_JOURNAL_KIND_PAD)
		return 0;
	cr_assert_lt(s->n, 4096);
	snprintf(want, sizeof(want), "entry-%llu", (unsigned long long)h->key_a);
	if (h->payload_len != strlen(want) || memcmp(payload, want, h->payload_len) != 0)
		s->payload_ok = false;
	s->seq[s->n] = h->seq;
	s->key[s->n++] = h->key_a;
	return 0;
}

static int64_t add(struct sl_journal *j, uint64_t key)
{
	char p[64];
	int n = snprintf(p, sizeof(p), "entry-%llu", (unsigned long long)key);

	return sl_journal_add(j, SL_JOURNAL_KIND_SEGLOG, key, 7, p, (uint32_t)n);
}

static void scan(struct seen *s, int64_t *next)
{
	memset(s, 0, sizeof(*s));
	s->payload_ok = true;
	*next = sl_journal_scan(dir, collect, s);
	cr_assert_gt(*next, 0);
}

Test(journal, batches_are_durable_after_their_sync_and_scanned_in_order)
{
	struct sl_journal *j;
	struct seen s;
	int64_t next;

	cr_assert_eq(sl_journal_open(dir, 0, FILE_BYTES, 1, 0, &j), 0);
	for (uint64_t k = 1; k <= 5; k++)
		cr_assert_eq(add(j, k), (int64_t)k);
	cr_expect_eq(sl_journal_durable_seq(j), 0, "nothing is durable before the batch");
	cr_assert(sl_journal_busy(j));
	cr_assert_eq(commit(j, false), 1);
	cr_expect_geq(sl_journal_durable_seq(j), 5);
	cr_expect_eq(sl_journal_syncs(j), 1, "one durable write for the five entries");
	cr_assert(!sl_journal_busy(j));
	sl_journal_close(j);
	scan(&s, &next);
	cr_assert_eq(s.n, 5);
	cr_expect(s.payload_ok);
	for (unsigned i = 0; i < 5; i++)
		cr_expect_eq(s.seq[i], i + 1);
	cr_expect_eq(next, (int64_t)s.all[s.nall - 1] + 1, "numbering goes on after the last entry");
	/* After a reset nothing is replayed again, and numbering goes on. */
	cr_assert_eq(sl_journal_reset(dir), 0);
	scan(&s, &next);
	cr_expect_eq(s.n, 0);
}

Test(journal, a_failed_write_is_retried_with_the_same_bytes)
{
	struct sl_journal *j;
	struct seen s;
	int64_t next;

	cr_assert_eq(sl_journal_open(dir, 0, FILE_BYTES, 1, 0, &j), 0);
	add(j, 1);
	add(j, 2);
	cr_assert_eq(commit(j, true), -EIO);
	cr_expect_eq(sl_journal_durable_seq(j), 0, "a failed batch is not durable");
	add(j, 3); /* a second batch, in flight with the retry of the first */
	cr_assert_eq(commit(j, false), 1);
	cr_expect_geq(sl_journal_durable_seq(j), 3, "both, in order");
	cr_expect_eq(commit(j, false), 0, "nothing left");
	sl_journal_close(j);
	scan(&s, &next);
	cr_assert_eq(s.n, 3);
	cr_expect(s.payload_ok);
}

Test(journal, files_switch_wait_for_the_checkpoint_and_stale_entries_stay_out)
{
	struct sl_journal *j;
	struct seen s;
	int64_t next, seq = 0;
	uint64_t key = 0;

	cr_assert_eq(sl_journal_open(dir, 0, FILE_BYTES, 100, 0, &j), 0);
	/* Fill the first file; the entry that does not fit moves to the second. */
	while (sl_journal_ckpt_seq(j) == 0) {
		seq = add(j, ++key);
		if (seq == -ENOSPC) {
			cr_assert_eq(commit(j, false), 1);
			continue;
		}
		cr_assert_gt(seq, 0);
	}
	uint64_t first_file_last = sl_journal_ckpt_seq(j);
	cr_assert_eq(commit(j, false), 1);
	/* Fill the second file: the switch back must wait for the checkpoint. */
	for (;;) {
		seq = add(j, ++key);
		if (seq == -ENOSPC) {
			cr_assert_eq(commit(j, false), 0, "the staged entries");
			if (add(j, key) == -ENOSPC)
				break; /* full, and the first file is not checkpointed */
		}
		cr_assert_eq(commit(j, false) >= 0, 1);
	}
	key--;
	cr_expect_eq(add(j, ++key), -ENOSPC, "no overwrite before the checkpoint");
	sl_journal_ckpt_done(j);
	/* Now a few entries go to the reused first file, over stale ones. */
	for (int i = 0; i < 3; i++)
		cr_assert_gt(add(j, i == 0 ? key : ++key), 0);
	cr_assert_eq(commit(j, false), 1);
	uint64_t last = sl_journal_durable_seq(j);
	sl_journal_close(j);
	scan(&s, &next);
	cr_expect(s.payload_ok);
	cr_expect_eq(next, (int64_t)last + 1);
	/* The second file's entries, then the three new ones: consecutive,
	 * none of the first file's old ones after them. */
	cr_assert_gt(s.n, 3);
	cr_expect_eq(s.all[0], first_file_last + 1);
	for (unsigned i = 1; i < s.nall; i++)
		cr_expect_eq(s.all[i], s.all[i - 1] + 1, "entry %u out of order", i);
	cr_expect_eq(s.all[s.nall - 1], last);
	for (unsigned i = 1; i < s.n; i++)
		cr_expect_gt(s.key[i], s.key[i - 1], "data entries in the order they were added");
}

Test(journal, a_torn_tail_ends_the_scan)
{
	struct sl_journal *j;
	struct seen s;
	int64_t next;
	char path[300];

	cr_assert_eq(sl_journal_open(dir, 3, FILE_BYTES, 1, 0, &j), 0);
	for (uint64_t k = 1; k <= 4; k++)
		add(j, k);
	cr_assert_eq(commit(j, false), 1);
	sl_journal_close(j);
	/* Damage the last entry's payload: a write that never completed. */
	snprintf(path, sizeof(path), "%s/w3.0", dir);
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	off_t last_payload = 3 * (SL_JOURNAL_HDR_BYTES + 8) + SL_JOURNAL_HDR_BYTES;
	cr_assert_eq(pwrite(fd, "X", 1, last_payload), 1);
	close(fd);
	scan(&s, &next);
	cr_expect_eq(s.n, 3, "the torn entry and nothing after it");
	cr_expect(s.payload_ok);
}

/* Every batch in flight may finish before the first one, but nothing is
 * durable until every batch before it is. */
Test(journal, batches_become_durable_in_issue_order)
{
	enum { N = SL_JOURNAL_INFLIGHT_MAX };
	struct sl_journal *j;
	struct io_uring_cqe *cqe;
	uint64_t ud[2 * N] = { 0 };
	int res[2 * N] = { 0 };
	int total = 0;

	cr_assert_eq(sl_journal_open(dir, 0, FILE_BYTES, 1, 0, &j), 0);
	for (int b = 0; b < N; b++) {
		add(j, (uint64_t)b + 1);
		int q = sl_journal_prep(j, &ring, 1);
		cr_assert_gt(q, 0, "batch %d while the ones before are in flight", b + 1);
		total += q;
	}
	add(j, N + 1);
	cr_expect_eq(sl_journal_prep(j, &ring, 1), 0, "no more than %d in flight", N);
	cr_assert_leq(total, 2 * N);
	cr_assert_eq(io_uring_submit_and_wait(&ring, (unsigned)total), total);
	for (int i = 0; i < total; i++) {
		cr_assert_eq(io_uring_wait_cqe(&ring, &cqe), 0);
		ud[i] = cqe->user_data;
		res[i] = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	/* Feed every later batch's completions first. A fresh journal issues
	 * its first batch from the lowest of its slots. */
	void *first = (void *)(uintptr_t)(ud[0] & ~7ull);
	for (int i = 1; i < total; i++) {
		void *b = (void *)(uintptr_t)(ud[i] & ~7ull);
		if ((uintptr_t)b < (uintptr_t)first)
			first = b;
	}
	for (int i = 0; i < total; i++) {
		void *b = (void *)(uintptr_t)(ud[i] & ~7ull);
		if (b != first)
			cr_expect_eq(sl_journal_complete(j, b, res[i]), 0);
	}
	cr_expect_eq(sl_journal_durable_seq(j), 0, "the later batches alone are not durable");
	int rc = 0;
	for (int i = 0; i < total; i++) {
		void *b = (void *)(uintptr_t)(ud[i] & ~7ull);
		if (b == first)
			rc = sl_journal_complete(j, b, res[i]);
	}
	cr_expect_eq(rc, 1);
	uint64_t all = sl_journal_durable_seq(j);
	cr_expect_geq(all, N, "all at once, in order");
	cr_assert_eq(commit(j, false), 1);
	cr_expect_gt(sl_journal_durable_seq(j), all);
	sl_journal_close(j);
	struct seen s;
	int64_t next;
	scan(&s, &next);
	cr_expect_eq(s.n, N + 1);
	cr_expect(s.payload_ok);
}

/* A batch filled to its cap still goes out: entries that would leave no
 * room for the padding wait for the next batch instead. */
Test(journal, a_full_batch_is_still_issued)
{
	struct sl_journal *j;
	static uint8_t big[1u << 20];
	int64_t seq;
	unsigned added = 0;

	cr_assert_eq(sl_journal_open(dir, 0, SL_JOURNAL_FILE_BYTES_MIN, 1, 0, &j), 0);
	/* Entries of about 1 MiB until the batch refuses one: a batch filled
	 * to its cap, padding room kept. */
	while ((seq = sl_journal_add(j, SL_JOURNAL_KIND_SEGLOG, 1, 1, big, 1016745)) > 0)
		added++;
	cr_assert_eq(seq, -ENOSPC);
	cr_assert_gt(added, SL_JOURNAL_BATCH_MAX / (2u << 20));
	cr_assert_eq(commit(j, false), 1, "the full batch was padded and written");
	cr_expect_geq(sl_journal_durable_seq(j), added);
	cr_expect_gt(sl_journal_trim_memory(j), (size_t)SL_JOURNAL_BATCH_MAX / 2,
		     "an idle journal gives the burst back");
	cr_expect_eq(sl_journal_trim_memory(j), 0, "and only once");
	cr_expect_gt(sl_journal_add(j, SL_JOURNAL_KIND_SEGLOG, 1, 1, big, 100), 0,
		     "room again once it is out");
	cr_expect_eq(sl_journal_trim_memory(j), 0, "a journal with staged entries keeps its buffers");
	cr_assert_eq(commit(j, false), 1, "and still writes after giving them back");
	sl_journal_close(j);
}
