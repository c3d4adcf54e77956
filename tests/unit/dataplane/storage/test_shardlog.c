/* Tests for dataplane/shardlog.c on a real disk with a real io_uring. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liburing.h>

#include "dataplane/limits.h"
#include "dataplane/storage/footer.h"
#include "dataplane/storage/shardlog.h"

static char dir[256];
static struct io_uring ring;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sl-test-shardlog-%d-XXXXXX", getpid());
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(io_uring_queue_init(256, &ring, 0), 0);
}

static void teardown(void)
{
	char cmd[300];

	io_uring_queue_exit(&ring);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(shardlog, .init = setup, .fini = teardown);

/* Flush everything staged and wait for it to be durable. */
static void flush(struct sl_shardlog *log, bool sync)
{
	int queued = sl_shardlog_prep_flush(log, &ring, sync, 42);
	cr_assert_geq(queued, 0);
	if (queued == 0)
		return;
	cr_assert_eq(io_uring_submit_and_wait(&ring, (unsigned)queued), queued);
	for (int i = 0; i < queued; i++) {
		struct io_uring_cqe *cqe;
		cr_assert_eq(io_uring_wait_cqe(&ring, &cqe), 0);
		cr_assert_eq(cqe->user_data, 42);
		int rc = sl_shardlog_complete(log, cqe->res);
		io_uring_cqe_seen(&ring, cqe);
		cr_assert_eq(rc, i + 1 == queued ? 1 : 0);
	}
}

static void append(struct sl_shardlog *log, uint32_t i, uint32_t len, int64_t ms, uint64_t want_n)
{
	char pk[32];
	uint8_t *data = malloc(len ? len : 1);
	uint64_t n;

	for (uint32_t k = 0; k < len; k++)
		data[k] = (uint8_t)(i * 31 + k);
	snprintf(pk, sizeof(pk), "key-%u", i);
	cr_assert_eq(sl_shardlog_append(log, pk, (uint32_t)strlen(pk), data, len, ms, &n), 0);
	cr_assert_eq(n, want_n);
	free(data);
}

struct seen {
	uint64_t first_n;
	uint32_t count;
	uint32_t len_each;
	bool ok;
};

static bool check_rec(void *arg, const struct sl_rec_view *r)
{
	struct seen *s = arg;
	uint32_t i = (uint32_t)(r->n); /* records were written with i == n */
	char pk[32];

	snprintf(pk, sizeof(pk), "key-%u", i);
	if (r->n != s->first_n + s->count || r->key_len != strlen(pk) ||
	    memcmp(r->key, pk, r->key_len) != 0 || r->data_len != s->len_each)
		s->ok = false;
	for (uint32_t k = 0; k < r->data_len && s->ok; k++)
		s->ok = r->data[k] == (uint8_t)(i * 31 + k);
	s->count++;
	return true;
}

Test(shardlog, append_is_invisible_until_flushed_then_reads_back)
{
	struct sl_shardlog *log;
	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	for (uint32_t i = 0; i < 100; i++)
		append(log, i, 300, 1000 + i, i);
	cr_assert_eq(sl_shardlog_durable_n(log), 0);
	struct seen s = { 0, 0, 300, true };
	cr_assert_eq(sl_shardlog_read(log, 0, 0, 1000, UINT64_MAX, check_rec, &s), 0);
	cr_assert_eq(s.count, 0);
	flush(log, true);
	cr_assert_eq(sl_shardlog_durable_n(log), 100);
	cr_assert_eq(sl_shardlog_read(log, 0, 0, 1000, UINT64_MAX, check_rec, &s), 100);
	cr_assert_eq(s.count, 100);
	cr_assert(s.ok);
	/* A read from the middle and a bounded read. */
	s = (struct seen){ 37, 0, 300, true };
	cr_assert_eq(sl_shardlog_read(log, 37, 0, 10, UINT64_MAX, check_rec, &s), 47);
	cr_assert_eq(s.count, 10);
	cr_assert(s.ok);
	sl_shardlog_close(log);
}

Test(shardlog, reopen_recovers_records_and_counter)
{
	struct sl_shardlog *log;
	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	for (uint32_t i = 0; i < 500; i++)
		append(log, i, 64, 5000 + i, i);
	flush(log, true);
	/* Staged but never flushed: not acknowledged, so gone after reopen. */
	append(log, 500, 64, 6000, 500);
	sl_shardlog_close(log);
	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	cr_assert_eq(sl_shardlog_next_n(log), 500);
	cr_assert_eq(sl_shardlog_durable_n(log), 500);
	cr_assert_eq(sl_shardlog_last_arrival_ms(log), 5499);
	struct seen s = { 0, 0, 64, true };
	cr_assert_eq(sl_shardlog_read(log, 0, 0, 10000, UINT64_MAX, check_rec, &s), 500);
	cr_assert(s.ok);
	append(log, 500, 64, 7000, 500);
	flush(log, false);
	cr_assert_eq(sl_shardlog_durable_n(log), 501);
	sl_shardlog_close(log);
}

static void corrupt_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &b, 1, off), 1);
	b ^= 0x5a;
	cr_assert_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

Test(shardlog, torn_tail_is_cut_and_numbering_continues)
{
	struct sl_shardlog *log;
	char seg[400];
	uint32_t fl = (SL_FRAME_HDR_BYTES + 6 + 100 + 7) & ~7u; /* "key-NN" + 100 bytes */

	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	for (uint32_t i = 0; i < 20; i++)
		append(log, i, 100, 10 + i, i);
	flush(log, true);
	sl_shardlog_close(log);
	/* Damage the data of record 19, as a torn write would. */
	snprintf(seg, sizeof(seg), "%s/%020d.seg", dir, 0);
	corrupt_byte(seg, (off_t)fl * 19 + SL_FRAME_HDR_BYTES + 20);
	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	cr_assert_eq(sl_shardlog_next_n(log), 19);
	append(log, 19, 100, 50, 19);
	append(log, 20, 100, 51, 20);
	flush(log, true);
	sl_shardlog_close(log);
	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	cr_assert_eq(sl_shardlog_next_n(log), 21);
	struct seen s = { 0, 0, 100, true };
	cr_assert_eq(sl_shardlog_read(log, 0, 0, 100, UINT64_MAX, check_rec, &s), 21);
	cr_assert(s.ok);
	sl_shardlog_close(log);
}

Test(shardlog, segments_roll_read_across_and_trim)
{
	struct sl_shardlog *log;
	const uint32_t len = 256 * 1024;

	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	/* 64 records of 256 KiB over 4 MiB segments: at least 4 segments. */
	for (uint32_t i = 0; i < 64; i++) {
		append(log, i, len, 1000 * (int64_t)i, i);
		if (i % 8 == 7)
			flush(log, true);
	}
	struct seen s = { 0, 0, len, true };
	cr_assert_eq(sl_shardlog_read(log, 0, 0, 1000, UINT64_MAX, check_rec, &s), 64);
	cr_assert(s.ok);
	/* The byte limit is never passed: 2.5 records' worth gives 2 records;
	 * a limit below one record still gives that one record. */
	s = (struct seen){ 10, 0, len, true };
	cr_assert_eq(sl_shardlog_read(log, 10, 0, 1000, 5 * len / 2, check_rec, &s), 12);
	cr_assert_eq(s.count, 2);
	s = (struct seen){ 10, 0, len, true };
	cr_assert_eq(sl_shardlog_read(log, 10, 0, 1000, len / 2, check_rec, &s), 11);
	cr_assert_eq(s.count, 1);
	cr_assert_eq(sl_shardlog_find_time(log, 20500), 21);
	/* Everything before t=30 s is past retention: whole old segments go. */
	int deleted = sl_shardlog_trim(log, 30000);
	cr_assert_geq(deleted, 1);
	uint64_t first = sl_shardlog_first_n(log);
	cr_assert_gt(first, 0);
	cr_assert_leq(first, 30);
	s = (struct seen){ first, 0, len, true };
	cr_assert_eq(sl_shardlog_read(log, 0, 0, 1000, UINT64_MAX, check_rec, &s), 64);
	cr_assert_eq(s.count, 64 - first);
	cr_assert(s.ok);
	/* Records before the cut-off are skipped, not returned. */
	s = (struct seen){ 30, 0, len, true };
	cr_assert_eq(sl_shardlog_read(log, first, 30000, 1000, UINT64_MAX, check_rec, &s), 64);
	cr_assert_eq(s.count, 34);
	sl_shardlog_close(log);
	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	cr_assert_eq(sl_shardlog_first_n(log), first);
	cr_assert_eq(sl_shardlog_next_n(log), 64);
	sl_shardlog_close(log);
}

Test(shardlog, arrival_time_never_goes_backwards)
{
	struct sl_shardlog *log;
	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	append(log, 0, 10, 5000, 0);
	append(log, 1, 10, 4000, 1); /* the clock stepped back */
	flush(log, true);
	cr_assert_eq(sl_shardlog_last_arrival_ms(log), 5000);
	cr_assert_eq(sl_shardlog_find_time(log, 5000), 0);
	cr_assert_eq(sl_shardlog_find_time(log, 5001), 2);
	sl_shardlog_close(log);
}

Test(shardlog, oversized_record_is_refused)
{
	struct sl_shardlog *log;
	uint64_t n;
	static uint8_t big[SL_KIN_DATA_MAX + 1];

	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	cr_assert_eq(sl_shardlog_append(log, "k", 1, big, sizeof(big), 1, &n), -EFBIG);
	cr_assert_eq(sl_shardlog_next_n(log), 0);
	sl_shardlog_close(log);
}

/* A flush that fails (EIO from the disk) leaves nothing durable; the next
 * prep_flush writes the same bytes again, and only then are they durable. */
Test(shardlog, failed_flush_is_retried_with_the_same_bytes)
{
	struct sl_shardlog *log;
	struct io_uring_cqe *cqe;

	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	for (uint32_t i = 0; i < 10; i++)
		append(log, i, 50, 100 + i, i);
	int queued = sl_shardlog_prep_flush(log, &ring, true, 42);
	cr_assert_gt(queued, 0);
	/* Let the real I/O finish, then report its first completion as failed. */
	cr_assert_eq(io_uring_submit_and_wait(&ring, (unsigned)queued), queued);
	for (int i = 0; i < queued; i++) {
		cr_assert_eq(io_uring_wait_cqe(&ring, &cqe), 0);
		int rc = sl_shardlog_complete(log, i == 0 ? -EIO : cqe->res);
		io_uring_cqe_seen(&ring, cqe);
		cr_assert_eq(rc, i + 1 == queued ? -EIO : 0);
	}
	cr_assert_eq(sl_shardlog_durable_n(log), 0);
	cr_assert(sl_shardlog_busy(log));
	/* Appends meanwhile go to the other staging buffer. */
	append(log, 10, 50, 200, 10);
	flush(log, true); /* the retry of records 0..9 */
	cr_assert_eq(sl_shardlog_durable_n(log), 10);
	flush(log, true); /* then record 10 */
	cr_assert_eq(sl_shardlog_durable_n(log), 11);
	struct seen s = { 0, 0, 50, true };
	cr_assert_eq(sl_shardlog_read(log, 0, 0, 100, UINT64_MAX, check_rec, &s), 11);
	cr_assert(s.ok);
	sl_shardlog_close(log);
}

static off_t seg_size(uint64_t first_n)
{
	char path[400];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%020llu.seg", dir, (unsigned long long)first_n);
	cr_assert_eq(stat(path, &st), 0);
	return st.st_size;
}

/* Segments are allocated a step at a time, not whole: an idle shard costs
 * one step of disk, and the file grows ahead of the writes. */
Test(shardlog, segments_grow_by_steps_ahead_of_the_writes)
{
	struct sl_shardlog *log;
	const uint64_t seg = 64ull << 20;

	cr_assert_eq(sl_shardlog_open(dir, seg, &log), 0);
	cr_assert_eq(seg_size(0), (off_t)SL_PREALLOC_STEP);
	for (uint32_t i = 0; i < 24; i++) /* 24 x 256 KiB = 6 MiB */
		append(log, i, 256 * 1024, i, i);
	flush(log, true);
	off_t size = seg_size(0);
	cr_assert_geq(size, (off_t)(6u << 20) + (off_t)SL_PREALLOC_STEP / 2);
	cr_assert_lt(size, (off_t)seg);
	cr_assert_eq(size % (off_t)SL_PREALLOC_STEP, 0);
	sl_shardlog_close(log);
	/* Reopened, it carries on from where it was, and keeps growing. */
	cr_assert_eq(sl_shardlog_open(dir, seg, &log), 0);
	cr_assert_eq(sl_shardlog_next_n(log), 24);
	for (uint32_t i = 24; i < 40; i++)
		append(log, i, 256 * 1024, i, i);
	flush(log, true);
	cr_assert_gt(seg_size(0), size);
	struct seen s = { 0, 0, 256 * 1024, true };
	cr_assert_eq(sl_shardlog_read(log, 0, 0, 100, UINT64_MAX, check_rec, &s), 40);
	cr_assert(s.ok);
	sl_shardlog_close(log);
}

/* Batch durability: records count as synced only once every fdatasync of
 * the round succeeded; a failed one leaves them to be synced again. */
Test(shardlog, failed_batch_sync_is_not_counted_and_is_retried)
{
	struct sl_shardlog *log;
	struct io_uring_cqe *cqe;

	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	for (uint32_t i = 0; i < 5; i++)
		append(log, i, 50, 100 + i, i);
	flush(log, false);
	cr_assert_eq(sl_shardlog_durable_n(log), 5);
	cr_assert_eq(sl_shardlog_synced_n(log), 0);
	int queued = sl_shardlog_prep_sync(log, &ring, 7);
	cr_assert_gt(queued, 0);
	cr_expect_eq(sl_shardlog_prep_sync(log, &ring, 7), -EBUSY, "one round at a time");
	cr_expect_eq(sl_shardlog_synced_n(log), 0, "nothing is synced before it completes");
	cr_assert_eq(io_uring_submit_and_wait(&ring, (unsigned)queued), queued);
	for (int i = 0; i < queued; i++) {
		cr_assert_eq(io_uring_wait_cqe(&ring, &cqe), 0);
		int rc = sl_shardlog_sync_complete(log, i == 0 ? -EIO : cqe->res);
		io_uring_cqe_seen(&ring, cqe);
		cr_assert_eq(rc, i + 1 == queued ? -EIO : 0);
	}
	cr_expect_eq(sl_shardlog_synced_n(log), 0, "a failed sync is remembered as a failure");
	/* The next round syncs the same records again, and this time it holds. */
	queued = sl_shardlog_prep_sync(log, &ring, 7);
	cr_assert_gt(queued, 0);
	cr_assert_eq(io_uring_submit_and_wait(&ring, (unsigned)queued), queued);
	for (int i = 0; i < queued; i++) {
		cr_assert_eq(io_uring_wait_cqe(&ring, &cqe), 0);
		int rc = sl_shardlog_sync_complete(log, cqe->res);
		io_uring_cqe_seen(&ring, cqe);
		cr_assert_eq(rc, i + 1 == queued ? 1 : 0);
	}
	cr_expect_eq(sl_shardlog_synced_n(log), 5);
	cr_expect_eq(sl_shardlog_prep_sync(log, &ring, 7), 0, "nothing left to sync");
	sl_shardlog_close(log);
}

/* A held flush (sync mode with the journal) is written but invisible and
 * not durable until published; its frames replay into another log once,
 * however often they are replayed, and never across a gap. */
Test(shardlog, held_flush_publishes_and_its_frames_replay_idempotently)
{
	struct sl_shardlog *log, *copy;
	struct io_uring_cqe *cqe;
	char dir2[300];

	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	for (uint32_t i = 0; i < 5; i++)
		append(log, i, 30, 100 + i, i);
	int queued = sl_shardlog_prep_flush(log, &ring, SL_FLUSH_HELD, 42);
	cr_assert_gt(queued, 0);
	uint32_t len;
	const uint8_t *frames = sl_shardlog_flight(log, &len);
	uint8_t *saved = malloc(len);
	memcpy(saved, frames, len);
	cr_assert_eq(io_uring_submit_and_wait(&ring, (unsigned)queued), queued);
	for (int i = 0; i < queued; i++) {
		cr_assert_eq(io_uring_wait_cqe(&ring, &cqe), 0);
		sl_shardlog_complete(log, cqe->res);
		io_uring_cqe_seen(&ring, cqe);
	}
	cr_assert(sl_shardlog_written(log));
	cr_expect_eq(sl_shardlog_durable_n(log), 0, "written is not yet durable");
	sl_shardlog_publish(log);
	cr_expect_eq(sl_shardlog_durable_n(log), 5);
	sl_shardlog_close(log);

	snprintf(dir2, sizeof(dir2), "%s/copy", dir);
	cr_assert_eq(sl_shardlog_open(dir2, SL_SEGMENT_BYTES_MIN, &copy), 0);
	cr_expect_eq(sl_shardlog_replay(copy, saved, len), 5);
	cr_expect_eq(sl_shardlog_replay(copy, saved, len), 0, "a second replay adds nothing");
	flush(copy, true);
	struct seen s = { 0, 0, 30, true };
	cr_assert_eq(sl_shardlog_read(copy, 0, 0, 100, UINT64_MAX, check_rec, &s), 5);
	cr_assert(s.ok);
	sl_shardlog_close(copy);

	/* Frames 3 and 4 alone cannot go into an empty log: 0..2 are missing. */
	snprintf(dir2, sizeof(dir2), "%s/gap", dir);
	cr_assert_eq(sl_shardlog_open(dir2, SL_SEGMENT_BYTES_MIN, &copy), 0);
	size_t off = 0;
	for (int k = 0; k < 3; k++) {
		struct sl_frame_hdr h;
		memcpy(&h, saved + off, sizeof(h));
		off += h.frame_len;
	}
	cr_expect_eq(sl_shardlog_replay(copy, saved + off, len - off), -EILSEQ);
	saved[off + 20] ^= 1; /* and a damaged frame is refused */
	cr_expect_eq(sl_shardlog_replay(copy, saved + off, len - off), -EBADMSG);
	sl_shardlog_close(copy);
	free(saved);
}

/* A segment roll never writes over a file that is already there (one that
 * recovery did not account for): the append fails, the file stays. */
Test(shardlog, a_roll_never_overwrites_an_existing_file)
{
	struct sl_shardlog *log;
	char stray[400];
	static uint8_t big[1 << 20];
	uint64_t n;
	int rc = 0;

	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	/* A 4 MiB segment holds four records of just under 1 MiB; the fifth
	 * rolls to a segment named after record 4. */
	snprintf(stray, sizeof(stray), "%s/%020llu.seg", dir, 4ull);
	FILE *f = fopen(stray, "w");
	cr_assert_not_null(f);
	fputs("not sluice's", f);
	fclose(f);
	for (int i = 0; i < 5 && rc == 0; i++)
		rc = sl_shardlog_append(log, "k", 1, big, sizeof(big) - 64, 1000, &n);
	cr_expect_eq(rc, -EEXIST);
	cr_expect_eq(sl_shardlog_next_n(log), 4, "the four that fit are staged, no more");
	f = fopen(stray, "r");
	char text[32] = { 0 };
	cr_assert_not_null(f);
	cr_expect_not_null(fgets(text, sizeof(text), f));
	fclose(f);
	cr_expect_str_eq(text, "not sluice's");
	sl_shardlog_close(log);
}

/* Staging buffers grow under a burst and shrink back once the log is idle. */
Test(shardlog, staging_memory_is_given_back_when_idle)
{
	struct sl_shardlog *log;
	static uint8_t big[512 * 1024];
	uint64_t n;

	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(sl_shardlog_append(log, "k", 1, big, sizeof(big), 1000, &n), 0);
	cr_expect_eq(sl_shardlog_trim_memory(log), 0, "a busy log keeps its buffers");
	flush(log, true);
	size_t freed = sl_shardlog_trim_memory(log);
	cr_expect_gt(freed, sizeof(big), "the grown stage goes back");
	cr_expect_eq(sl_shardlog_trim_memory(log), 0, "and only once");
	/* It still works afterwards. */
	cr_assert_eq(sl_shardlog_append(log, "k", 1, big, 100, 1000, &n), 0);
	flush(log, true);
	cr_expect_eq(sl_shardlog_durable_n(log), 5);
	sl_shardlog_close(log);
}

/* An engine of the kind SQS will be: type 1 frames are messages, type 2
 * frames record that a message was deleted (data: its record number). */
enum { T_MSG = 1, T_DEL = 2 };

struct replay {
	struct sl_shardlog *log;
	uint32_t msgs, dels, gone;
	bool ok;
};

static bool replay_one(void *arg, const struct sl_rec_view *r)
{
	struct replay *rp = arg;

	if (r->type == T_MSG) {
		rp->msgs++;
		rp->ok &= r->key_len > 0 && r->data_len == 256 * 1024;
	} else if (r->type == T_DEL) {
		uint64_t victim;
		rp->ok &= r->data_len == sizeof(victim);
		memcpy(&victim, r->data, sizeof(victim));
		rp->dels++;
		/* The deleted message may be in a segment already dropped. */
		int rc = sl_shardlog_kill(rp->log, victim);
		if (rc == -ENOENT)
			rp->gone++;
		else
			rp->ok &= rc == 0;
	} else {
		rp->ok = false;
	}
	return true;
}

Test(shardlog, typed_frames_live_counts_drop_dead_segments_and_replay)
{
	struct sl_shardlog *log;
	const uint32_t len = 256 * 1024;
	uint8_t *data = calloc(1, len);
	uint64_t n;

	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	for (uint32_t i = 0; i < 64; i++) {
		cr_assert_eq(sl_shardlog_append_typed(log, T_MSG, "m", 1, data, len, 1000, &n), 0);
		cr_assert_eq(n, i);
		if (i % 8 == 7)
			flush(log, true);
	}
	cr_assert_eq(sl_shardlog_live(log), 64);
	/* Delete messages 0..39: a delete frame each, and the message dies. */
	for (uint64_t v = 0; v < 40; v++) {
		cr_assert_eq(sl_shardlog_append_typed(log, T_DEL, "d", 1, &v, sizeof(v), 2000, &n), 0);
		cr_assert_eq(sl_shardlog_kill(log, v), 0);
	}
	cr_assert_eq(sl_shardlog_kill(log, 5000), -ENOENT);
	/* Not durable yet: nothing may go. */
	uint64_t first, end, live;
	cr_assert_eq(sl_shardlog_segment(log, 0, &first, &end, &live), 0);
	cr_assert_eq(first, 0);
	cr_assert_eq(live, 0, "the first segment holds only deleted messages");
	flush(log, true);
	cr_assert_eq(sl_shardlog_live(log), 24 + 40);
	int dropped = sl_shardlog_drop_dead(log, NULL, NULL);
	cr_assert_geq(dropped, 1);
	uint64_t first_n = sl_shardlog_first_n(log);
	cr_assert_gt(first_n, 0);
	cr_assert_leq(first_n, 40, "a segment with a live message was dropped");
	/* Every dead leading segment went: the first one left is live (or the
	 * newest, which always stays). */
	cr_assert_eq(sl_shardlog_segment(log, 0, &first, &end, &live), 0);
	cr_assert_eq(first, first_n);
	cr_assert(live > 0 || sl_shardlog_segment(log, 1, &first, &end, &live) == -ENOENT);
	cr_assert_eq(sl_shardlog_live(log), 24 + 40);
	sl_shardlog_close(log);

	/* Recovery: every record starts live; the engine's replay kills the
	 * deleted ones again and gets the same counts. */
	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	cr_assert_eq(sl_shardlog_first_n(log), first_n);
	cr_assert_eq(sl_shardlog_live(log), 104 - first_n);
	struct replay rp = { log, 0, 0, 0, true };
	cr_assert_eq(sl_shardlog_scan(log, replay_one, &rp), (int64_t)(104 - first_n));
	cr_assert(rp.ok);
	cr_assert_eq(rp.msgs, 64 - first_n);
	cr_assert_eq(rp.dels, 40);
	cr_assert_eq(rp.gone, first_n, "deletes of dropped messages find nothing");
	cr_assert_eq(sl_shardlog_live(log), 24 + 40);
	cr_assert_eq(sl_shardlog_drop_dead(log, NULL, NULL), 0, "what is left has live records");
	sl_shardlog_close(log);
	free(data);
}

static bool stop_none(void *arg, const struct sl_rec_view *r)
{
	(void)arg;
	(void)r;
	return true;
}

/* Segment files made elsewhere (as a worker's control thread does): the
 * test plays the helper, answering each create when it chooses. */
struct helper {
	uint32_t creates, grows;
	uint64_t first_n;
	char path[512];
	bool fail_next;
};

static int helper_create(void *arg, struct sl_shardlog *log, uint64_t first_n, const char *path)
{
	struct helper *h = arg;

	(void)log;
	h->creates++;
	h->first_n = first_n;
	snprintf(h->path, sizeof(h->path), "%s", path);
	return 0;
}

static void helper_grow(void *arg, int fd, uint64_t first_n, uint64_t from, uint64_t to)
{
	struct helper *h = arg;

	(void)first_n;
	cr_assert_geq(fd, 0);
	cr_assert_lt(from, to);
	h->grows++;
}

static void helper_answer(struct helper *h, struct sl_shardlog *log, int err)
{
	if (err) {
		sl_shardlog_adopt_segment(log, h->first_n, err, 0);
		return;
	}
	int fd = open(h->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0);
	sl_shardlog_adopt_segment(log, h->first_n, fd, 0);
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

Test(shardlog, rolls_and_growth_through_ops_never_touch_the_filesystem_inline)
{
	struct sl_shardlog *log;
	struct helper h = { 0 };
	struct sl_seg_ops ops = { helper_create, helper_grow, NULL, &h };
	const uint32_t len = 256 * 1024;
	uint64_t n = 0;

	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	sl_shardlog_set_seg_ops(log, &ops);
	/* Fill the first 4 MiB segment: growth is asked for, not done. */
	uint32_t i = 0;
	for (; h.creates == 0; i++) {
		append(log, i, len, 1000, i);
		flush(log, true);
	}
	cr_assert_eq(h.creates, 1, "the roll asked the helper for the next segment");
	cr_assert_gt(h.first_n, 0);
	cr_assert_not(file_exists(h.path), "the roll made the file itself");
	cr_assert(sl_shardlog_busy(log), "an unanswered create keeps the log busy");
	/* The record that rolled waits in the stage; a flush queues nothing. */
	cr_assert_eq(sl_shardlog_prep_flush(log, &ring, true, 42), 0);
	cr_assert_eq(sl_shardlog_durable_n(log), h.first_n);
	/* More records fill the pending segment; the next roll is refused
	 * until the first is answered (back-pressure, nothing lost). */
	int rc = 0;
	uint8_t *data = calloc(1, len);
	for (int k = 0; k < 40 && rc == 0; k++) {
		rc = sl_shardlog_append(log, "k", 1, data, len, 1000, &n);
		if (rc == 0)
			i++;
	}
	cr_assert_eq(rc, -ENOBUFS);
	cr_assert_eq(h.creates, 1);
	/* A failed create: the records still wait; a retry asks again. */
	helper_answer(&h, log, -EIO);
	cr_assert_eq(sl_shardlog_create_error(log), -EIO);
	cr_assert_eq(sl_shardlog_prep_flush(log, &ring, true, 42), 0);
	cr_assert_eq(sl_shardlog_retry_create(log), 1);
	cr_assert_eq(h.creates, 2);
	helper_answer(&h, log, 0);
	flush(log, true);
	cr_assert_eq(sl_shardlog_durable_n(log), i, "everything staged was written once adopted");
	sl_shardlog_close(log);
	/* Recovery sees one log, every record in order. */
	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	cr_assert_eq(sl_shardlog_next_n(log), i);
	cr_assert_eq(sl_shardlog_scan(log, stop_none, NULL), (int64_t)i);
	sl_shardlog_close(log);
	free(data);
}

static void fill_segments(struct sl_shardlog **log)
{
	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, log), 0);
	for (uint32_t i = 0; i < 64; i++) {
		append(*log, i, 256 * 1024, 1000 * (int64_t)i, i);
		if (i % 8 == 7)
			flush(*log, true);
	}
}

static void idx_path(uint64_t first_n, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%020llu.idx", dir, (unsigned long long)first_n);
}

Test(shardlog, sealed_segments_get_footers_and_recovery_reads_them_instead_of_the_data)
{
	struct sl_shardlog *log;
	uint64_t first, end, live, seg1_first = 0;
	char path[512];
	uint32_t nsegs = 0;

	fill_segments(&log);
	for (uint32_t i = 0; sl_shardlog_segment(log, i, &first, &end, &live) == 0; i++)
		nsegs++;
	cr_assert_geq(nsegs, 4);
	for (uint32_t i = 0; i < nsegs; i++) {
		cr_assert_eq(sl_shardlog_segment(log, i, &first, &end, &live), 0);
		idx_path(first, path, sizeof(path));
		cr_assert_eq(file_exists(path), i + 1 < nsegs, "segment %u: footer %s", i,
			     i + 1 < nsegs ? "missing" : "on the newest segment");
		if (i == 1)
			seg1_first = first;
	}
	sl_shardlog_close(log);
	/* Damage the data of a record inside sealed segment 1: a scan would
	 * stop there; with its footer the segment is not read at start-up. */
	char seg[512];
	snprintf(seg, sizeof(seg), "%s/%020llu.seg", dir, (unsigned long long)seg1_first);
	corrupt_byte(seg, 256 * 1024 + 4096);
	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	cr_assert_eq(sl_shardlog_next_n(log), 64, "the footers gave every segment's end");
	struct seen s = { 40, 0, 256 * 1024, true };
	cr_assert_eq(sl_shardlog_read(log, 40, 0, 1000, UINT64_MAX, check_rec, &s), 64);
	cr_assert(s.ok);
	sl_shardlog_close(log);
	/* Without the footers the same directory is scanned, and the damage
	 * is found (the segment is cut there). */
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -f '%s'/*.idx", dir);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	cr_assert_lt(sl_shardlog_next_n(log), 64);
	sl_shardlog_close(log);
}

Test(shardlog, a_damaged_footer_is_ignored_and_written_again)
{
	struct sl_shardlog *log;
	uint64_t first, end, live;
	char path[512];

	fill_segments(&log);
	cr_assert_eq(sl_shardlog_segment(log, 0, &first, &end, &live), 0);
	sl_shardlog_close(log);
	idx_path(first, path, sizeof(path));
	corrupt_byte(path, 20);
	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	cr_assert_eq(sl_shardlog_next_n(log), 64);
	struct seen s = { 0, 0, 256 * 1024, true };
	cr_assert_eq(sl_shardlog_read(log, 0, 0, 1000, UINT64_MAX, check_rec, &s), 64);
	cr_assert(s.ok);
	cr_assert_eq(s.count, 64);
	sl_shardlog_close(log);
	/* The scan wrote a good footer back. */
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	static uint8_t buf[1 << 16];
	ssize_t got = read(fd, buf, sizeof(buf));
	close(fd);
	struct sl_footer f;
	cr_assert_eq(sl_footer_parse(buf, (size_t)got, first, SL_SEGMENT_BYTES_MIN, &f), 0);
	cr_assert_eq(f.end_n, end);
}

Test(shardlog, retention_removes_a_segment_with_its_footer)
{
	struct sl_shardlog *log;
	uint64_t first, end, live;
	char path[512];

	fill_segments(&log);
	cr_assert_eq(sl_shardlog_segment(log, 0, &first, &end, &live), 0);
	idx_path(first, path, sizeof(path));
	cr_assert(file_exists(path));
	cr_assert_geq(sl_shardlog_trim(log, 30000), 1);
	cr_assert_not(file_exists(path));
	sl_shardlog_close(log);
}

Test(shardlog, a_new_log_is_made_by_its_helper_while_appends_wait)
{
	struct sl_shardlog *log;
	struct helper h = { 0 };
	struct sl_seg_ops ops = { helper_create, helper_grow, NULL, &h };
	char sub[400];

	snprintf(sub, sizeof(sub), "%s/logs/00000000000000aa/00000003", dir);
	cr_assert_eq(sl_shardlog_open_new(sub, SL_SEGMENT_BYTES_MIN, &ops, &log), 0);
	cr_assert_eq(h.creates, 1);
	cr_assert_eq(h.first_n, 0);
	cr_assert_not(file_exists(sub), "open_new touched the filesystem");
	for (uint32_t i = 0; i < 5; i++)
		append(log, i, 100, 1000, i);
	cr_assert_eq(sl_shardlog_prep_flush(log, &ring, true, 42), 0, "no file to write yet");
	cr_assert_eq(sl_shardlog_durable_n(log), 0);
	/* The helper's part: the directories, then the segment. */
	cr_assert_eq(sl_shardlog_mkdir(sub), 0);
	helper_answer(&h, log, 0);
	flush(log, true);
	cr_assert_eq(sl_shardlog_durable_n(log), 5);
	sl_shardlog_close(log);
	cr_assert_eq(sl_shardlog_open(sub, SL_SEGMENT_BYTES_MIN, &log), 0);
	cr_assert_eq(sl_shardlog_next_n(log), 5);
	struct seen s = { 0, 0, 100, true };
	cr_assert_eq(sl_shardlog_read(log, 0, 0, 1000, UINT64_MAX, check_rec, &s), 5);
	cr_assert(s.ok);
	sl_shardlog_close(log);
}

/* Open file descriptors of this process whose target is under dir. */
static uint32_t fds_under_dir(void)
{
	char link[64], target[512];
	uint32_t count = 0;

	for (int fd = 0; fd < 4096; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		count += strncmp(target, dir, strlen(dir)) == 0;
	}
	return count;
}

struct fd_reader {
	uint64_t next_n;
	uint32_t bad;
};

static bool read_in_order(void *arg, const struct sl_rec_view *r)
{
	struct fd_reader *rd = arg;

	rd->bad += r->n != rd->next_n || r->data_len != 256 * 1024 ||
		   r->data[0] != (uint8_t)(r->n * 31);
	rd->next_n = r->n + 1;
	return true;
}

Test(shardlog, a_log_that_retains_many_segments_holds_a_bounded_number_of_fds)
{
	struct sl_shardlog *log;
	const uint32_t records = 240; /* 60 MiB: 15 segments of 4 MiB */
	uint64_t first, end, live;
	uint32_t nsegs = 0;

	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	for (uint32_t i = 0; i < records; i++) {
		append(log, i, 256 * 1024, 1000, i);
		if (i % 8 == 7)
			flush(log, true);
	}
	while (sl_shardlog_segment(log, nsegs, &first, &end, &live) == 0)
		nsegs++;
	cr_assert_geq(nsegs, 12);
	/* The newest segment and the newest sealed ones stay open; every
	 * other sealed segment gave its fd back. */
	uint32_t bound = 1 + SL_LOG_SEALED_FDS_KEEP;
	cr_assert_leq(fds_under_dir(), bound, "%u fds open for %u segments", fds_under_dir(), nsegs);
	cr_assert_eq(sl_shardlog_fds_parked(log), nsegs - bound);

	/* A cursor in a parked segment is told to open it, and reads on. */
	struct sl_read_cursor c;
	int fd;
	uint64_t off;
	size_t len;
	cr_assert_eq(sl_shardlog_cursor_start(log, &c, 0, INT64_MIN, 1, UINT64_MAX), 0);
	cr_assert_eq(sl_shardlog_cursor_want(log, &c, &fd, &off, &len), 2);
	char path[512];
	sl_shardlog_cursor_path(log, &c, path, sizeof(path));
	int ofd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(ofd, 0, "%s", path);
	cr_assert_eq(sl_shardlog_cursor_opened(log, &c, ofd), 0);
	cr_assert_eq(sl_shardlog_fds_parked(log), nsegs - bound - 1);
	cr_assert_eq(sl_shardlog_cursor_want(log, &c, &fd, &off, &len), 0);
	cr_assert_eq(fd, ofd);
	sl_shardlog_cursor_end(log, &c);
	cr_assert_eq(sl_shardlog_fds_parked(log), nsegs - bound, "the cursor's end parks it again");
	/* An open that failed is the read's error. */
	cr_assert_eq(sl_shardlog_cursor_start(log, &c, 0, INT64_MIN, 1, UINT64_MAX), 0);
	cr_assert_eq(sl_shardlog_cursor_want(log, &c, &fd, &off, &len), 2);
	cr_assert_eq(sl_shardlog_cursor_opened(log, &c, -EMFILE), -EMFILE);
	sl_shardlog_cursor_end(log, &c);

	/* Every record reads back across the parked segments, and the
	 * reading leaves no more fds open than before. */
	struct fd_reader rd = { 0, 0 };
	cr_assert_eq(sl_shardlog_scan(log, read_in_order, &rd), (int64_t)records);
	cr_assert_eq(rd.bad, 0);
	cr_assert_leq(fds_under_dir(), bound);
	sl_shardlog_close(log);
	cr_assert_eq(fds_under_dir(), 0);

	/* Recovery opens each segment to check it, then parks the sealed. */
	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	cr_assert_leq(fds_under_dir(), bound);
	rd = (struct fd_reader){ 0, 0 };
	cr_assert_eq(sl_shardlog_scan(log, read_in_order, &rd), (int64_t)records);
	cr_assert_eq(rd.bad, 0);
	sl_shardlog_close(log);
}

/* Read with a cursor the way a worker does (pread for io_uring): until it is
 * done (1) or fails (-errno). *asked: the largest single read it wanted. */
static int cursor_read(struct sl_shardlog *log, uint64_t from, uint32_t max, struct seen *s,
		       size_t *asked)
{
	struct sl_read_cursor c;
	int rc = sl_shardlog_cursor_start(log, &c, from, INT64_MIN, max, UINT64_MAX);

	*asked = 0;
	while (rc == 0) {
		int fd;
		uint64_t off;
		size_t len;
		rc = sl_shardlog_cursor_want(log, &c, &fd, &off, &len);
		if (rc != 0)
			break;
		uint8_t *buf = malloc(len);
		cr_assert_not_null(buf);
		ssize_t got = pread(fd, buf, len, (off_t)off);
		cr_assert_geq(got, 0);
		*asked = len > *asked ? len : *asked;
		rc = sl_shardlog_cursor_feed(log, &c, buf, (size_t)got, check_rec, s);
		free(buf);
	}
	sl_shardlog_cursor_end(log, &c);
	return rc;
}

Test(shardlog, a_cursor_for_a_few_records_reads_their_stride_and_checks_what_it_delivers)
{
	struct sl_shardlog *log;
	size_t asked;

	cr_assert_eq(sl_shardlog_open(dir, SL_SEGMENT_BYTES_MIN, &log), 0);
	for (uint32_t i = 0; i < 100; i++)
		append(log, i, 100, 1000, i);
	append(log, 100, 300 * 1024, 1000, 100); /* a frame larger than a read chunk */
	for (uint32_t i = 101; i < 121; i++)
		append(log, i, 100, 1000, i);
	flush(log, true);

	/* One record: the read covers its index stride, not a whole chunk. */
	struct seen s = { 40, 0, 100, true };
	cr_assert_eq(cursor_read(log, 40, 1, &s, &asked), 1);
	cr_assert(s.ok && s.count == 1);
	cr_assert_lt(asked, (size_t)SL_INDEX_STRIDE * 200, "asked for %zu bytes", asked);
	/* A record bigger than the stride is read whole. */
	s = (struct seen){ 100, 0, 300 * 1024, true };
	cr_assert_eq(cursor_read(log, 100, 1, &s, &asked), 1);
	cr_assert(s.ok && s.count == 1);

	/* Damage record 37's data on disk: a read of 38 steps over it (its
	 * checksum is not its business), a read of 37 fails, and so does a
	 * long read through it. */
	char path[512];
	snprintf(path, sizeof(path), "%s/%020d.seg", dir, 0);
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0, "%s", path);
	static uint8_t file[64 * 1024];
	ssize_t n = pread(fd, file, sizeof(file), 0);
	cr_assert_gt(n, 0);
	uint8_t *k = memmem(file, (size_t)n, "key-37", 6);
	cr_assert_not_null(k);
	uint8_t flip = k[6 + 10] ^ 0xff;
	cr_assert_eq(pwrite(fd, &flip, 1, (off_t)(k - file) + 6 + 10), 1);
	close(fd);
	s = (struct seen){ 38, 0, 100, true };
	cr_assert_eq(cursor_read(log, 38, 1, &s, &asked), 1);
	cr_assert(s.ok && s.count == 1);
	s = (struct seen){ 37, 0, 100, true };
	cr_assert_eq(cursor_read(log, 37, 1, &s, &asked), -EIO);
	s = (struct seen){ 32, 0, 100, true };
	cr_assert_eq(cursor_read(log, 32, 64, &s, &asked), -EIO);
	cr_assert_eq(s.count, 5, "the records before the damaged one were delivered");
	sl_shardlog_close(log);
}
