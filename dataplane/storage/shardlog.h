/* shardlog.h - the generic segment log: an append-only log of typed frames.
 *
 * Every engine's durable state is one of these: a Kinesis shard today, an
 * SQS partition, a metric series or a log stream next. A log is a directory
 * of preallocated segment files named by the first record number they hold.
 * Each record is one frame: a 40-byte header (magic, frame length, CRC32C,
 * key length, the engine's frame type, record number, arrival time, data
 * length) followed by the key and the data, padded to 8 bytes. What the type,
 * key and data mean is the engine's business (Kinesis: type 0, the partition
 * key, the blob). Exactly one worker owns a log, so nothing here locks.
 *
 * Engines that delete records (an SQS message once deleted) mark them dead
 * (sl_shardlog_kill); each segment counts its live records, and leading
 * segments with none left can be dropped (sl_shardlog_drop_dead). On
 * recovery an engine rebuilds its memory from sl_shardlog_scan().
 *
 * Writes are group commits: sl_shardlog_append() copies a frame into a
 * staging buffer and assigns the record its number; the owner's loop then
 * calls sl_shardlog_prep_flush() once per iteration, which queues the staged
 * bytes as io_uring writes (each linked to an fdatasync in sync mode). When
 * every queued completion has come back through sl_shardlog_complete(), the
 * staged records are durable and become visible to readers. One flush is in
 * flight at a time; appends made meanwhile ride the next one.
 *
 * Record numbers (n) count from 0 per shard and never repeat: the newest
 * segment is never deleted, and its name carries the counter across restarts.
 */
#ifndef SL_SHARDLOG_H
#define SL_SHARDLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io_uring;
struct sl_shardlog;

#define SL_FRAME_MAGIC 0x31524c53u /* "SLR1" little-endian */
#define SL_FRAME_HDR_BYTES 40u

struct sl_frame_hdr {
	uint32_t magic;
	uint32_t frame_len; /* whole frame, header and padding included; multiple of 8 */
	uint32_t crc;       /* CRC32C of the frame from byte 12 to the end of the data */
	uint16_t key_len;
	uint16_t type;      /* the engine's frame type */
	uint64_t n;
	int64_t arrival_ms;
	uint32_t data_len;
	uint32_t reserved;
};
_Static_assert(sizeof(struct sl_frame_hdr) == SL_FRAME_HDR_BYTES, "frame header layout");

/* A record as a reader sees it: views valid only during the callback. */
struct sl_rec_view {
	uint64_t n;
	int64_t arrival_ms;
	const uint8_t *key;
	const uint8_t *data;
	uint32_t key_len;
	uint32_t data_len;
	uint16_t type;
};

/* Called per record by sl_shardlog_read(); return false to stop early
 * (the record passed is then not counted as consumed). */
typedef bool (*sl_rec_fn)(void *arg, const struct sl_rec_view *rec);

/* Open (creating when absent) the log in `dir`, recovering what is there:
 * frames are verified by CRC, a torn tail is cut and zeroed, and the index
 * and counter are rebuilt. Returns 0 and *out, or -errno. */
int sl_shardlog_open(const char *dir, uint64_t segment_bytes, struct sl_shardlog **out);

/* How segment files are made when the log rolls to a new segment. Without
 * ops (the default: start-up, tests) a roll creates the file in place,
 * blocking. A worker gives ops instead, so that it never waits on the
 * filesystem:
 *   create: make the file at path (exclusive), allocate its first bytes,
 *           make its name durable, then, on the log's owner, answer with
 *           sl_shardlog_adopt_segment(). 0 if asked, or -errno.
 *   grow:   allocate fd's bytes [from, to) ahead of the writes (fd is
 *           segment first_n's); best effort (a write past the allocation
 *           is still a write). When done, on the log's owner, call
 *           sl_shardlog_grow_done(): until then fd stays open.
 * Records staged for a segment that has no file yet wait in the stage; a
 * second roll before the first is answered is -ENOBUFS (back-pressure). */
struct sl_seg_ops {
	int (*create)(void *arg, struct sl_shardlog *log, uint64_t first_n, const char *path);
	void (*grow)(void *arg, int fd, uint64_t first_n, uint64_t from, uint64_t to);
	/* Write buf[0..len) to path (a sealed segment's index footer,
	 * footer.h), then free(buf). Best effort: a footer that never lands
	 * only means a scan at the next start-up. NULL: no footers. */
	void (*seal)(void *arg, const char *path, uint8_t *buf, size_t len);
	void *arg;
};
void sl_shardlog_set_seg_ops(struct sl_shardlog *log, const struct sl_seg_ops *ops);
/* The answer to ops.create: the new file's fd and how far it is allocated,
 * or fd = -errno (the segment stays without a file; retry_create asks
 * again). */
void sl_shardlog_adopt_segment(struct sl_shardlog *log, uint64_t first_n, int fd,
			       uint64_t prealloc);
/* The answer to ops.grow for segment first_n (no-op if it is gone). */
void sl_shardlog_grow_done(struct sl_shardlog *log, uint64_t first_n);
/* Ask ops.create again after a failed answer. 1 if asked, 0 if nothing to
 * ask, or -errno. */
int sl_shardlog_retry_create(struct sl_shardlog *log);
/* The error of the last failed create (0: none). */
int sl_shardlog_create_error(const struct sl_shardlog *log);

/* A log that does not exist yet, made without touching the filesystem: its
 * first segment is asked of ops.create at once (whose creator must make the
 * directories too: sl_shardlog_mkdir). Appends stage meanwhile. For a
 * worker's first touch of a new shard. 0 and *out, or -errno. */
int sl_shardlog_open_new(const char *dir, uint64_t segment_bytes, const struct sl_seg_ops *ops,
			 struct sl_shardlog **out);
/* mkdir -p, syncing the parent of every directory it makes. 0 or -errno. */
int sl_shardlog_mkdir(const char *dir);
/* mkdir -p without the syncs, for a caller that then fsyncs every level
 * itself (many new logs at once: one filesystem commit for all). */
int sl_shardlog_mkdir_unsynced(const char *dir);
/* fsync directory dir, so that the names made in it survive a crash.
 * 0 or -errno. Blocks: not on a worker. */
int sl_shardlog_fsync_dir(const char *dir);
/* The file name of the segment of dir whose first record is first_n. */
void sl_shardlog_seg_path(const char *dir, uint64_t first_n, char *out, size_t cap);

/* Close files and free memory. Staged, unflushed records are dropped (they
 * were never acknowledged). Never while a create is unanswered (busy). */
void sl_shardlog_close(struct sl_shardlog *log);

/* Delete every file of the log at `dir`, then the directory. 0 or -errno. */
int sl_shardlog_remove(const char *dir);

/* Next record number to be assigned / first not yet durable. */
uint64_t sl_shardlog_next_n(const struct sl_shardlog *log);
uint64_t sl_shardlog_durable_n(const struct sl_shardlog *log);
/* First record number still on disk (older segments may have been deleted). */
uint64_t sl_shardlog_first_n(const struct sl_shardlog *log);

/* Stage one record. arrival_ms is raised to the previous record's arrival
 * when the clock went backwards, so arrival times never decrease in a shard.
 * Returns 0 and *n_out, -ENOBUFS when the staging buffer is full (back-
 * pressure: retry after the in-flight flush completes), -EFBIG for a record
 * that cannot fit a segment, or -errno from rolling to a new segment. */
int sl_shardlog_append_typed(struct sl_shardlog *log, uint16_t type, const void *key,
			     uint32_t key_len, const void *data, uint32_t data_len,
			     int64_t arrival_ms, uint64_t *n_out);
/* A frame of type 0 (a Kinesis record). */
static inline int sl_shardlog_append(struct sl_shardlog *log, const void *key, uint32_t key_len,
				     const void *data, uint32_t data_len, int64_t arrival_ms,
				     uint64_t *n_out)
{
	return sl_shardlog_append_typed(log, 0, key, key_len, data, data_len, arrival_ms, n_out);
}

/* ---- Live counts and replay ---------------------------------------------- */

/* Mark record n dead: the engine no longer needs it. Each record may be
 * killed once (a second kill of the same record is the engine's bug and
 * miscounts). 0, or -ENOENT when n is not in the log. */
int sl_shardlog_kill(struct sl_shardlog *log, uint64_t n);
/* Live records in the log, and per segment (i from 0, oldest first;
 * -ENOENT past the last): what an engine needs to decide on compaction. */
uint64_t sl_shardlog_live(const struct sl_shardlog *log);
int sl_shardlog_segment(const struct sl_shardlog *log, uint32_t i, uint64_t *first_n,
			uint64_t *end_n, uint64_t *live);
/* Delete leading segments with no live record and every record durable,
 * never the newest segment and never while a read is open; del as in
 * sl_shardlog_trim_with(). Returns the segments deleted, or -errno. */
int sl_shardlog_drop_dead(struct sl_shardlog *log, int (*del)(void *arg, const char *path),
			  void *arg);
/* Replay: fn for every durable record from the first on, in order. Reads
 * with pread: at start-up (the control thread's preload) and in tests, never
 * on a worker serving requests. Returns the records passed, or -errno. */
int64_t sl_shardlog_scan(struct sl_shardlog *log, sl_rec_fn fn, void *arg);

/* Queue the staged bytes on `ring`: one write per contiguous run, and in
 * sync mode an fdatasync linked after each segment's last write. Every SQE
 * carries user_data `tag`. Returns the number of SQEs queued (0 when there
 * is nothing staged or a flush is already in flight), or -EBUSY when the
 * ring has no room (call again next iteration). */
/* How a flush makes its records durable: with a linked fdatasync per file
 * (SYNC), not at all (WRITE: batch and memory modes), or through the
 * worker's journal (HELD: the flush completes as written, and the records
 * become durable and visible only at sl_shardlog_publish()). */
enum { SL_FLUSH_WRITE = 0, SL_FLUSH_SYNC = 1, SL_FLUSH_HELD = 2 };
int sl_shardlog_prep_flush(struct sl_shardlog *log, struct io_uring *ring, int mode,
			   uint64_t tag);

/* Batch durability: queue an fdatasync (user_data `tag`) for every segment
 * holding records written since the previous call. Returns the number of
 * SQEs queued (0 when everything written is synced), or -EBUSY. */
int sl_shardlog_prep_sync(struct sl_shardlog *log, struct io_uring *ring, uint64_t tag);
/* Feed one completion of those syncs. Returns 1 when the last one came
 * back and all succeeded (synced_n advanced), 0 while more are due, or the
 * first -errno when the last came back and one failed: synced_n stays, so
 * the next prep_sync syncs the same records again. */
int sl_shardlog_sync_complete(struct sl_shardlog *log, int res);
/* HELD flushes: the frames of the flush in flight (for the journal); once
 * it completed as written, detach it (the log may start its next flush at
 * once) and later, when its journal batch is durable, publish its mark.
 * Marks are published in the order they were detached. publish() is
 * detach and publish at once. */
struct sl_flush_mark {
	uint64_t end_n;
	int64_t last_arrival_ms;
};
const uint8_t *sl_shardlog_flight(const struct sl_shardlog *log, uint32_t *len);
bool sl_shardlog_written(const struct sl_shardlog *log);
void sl_shardlog_detach(struct sl_shardlog *log, struct sl_flush_mark *m);
void sl_shardlog_publish_mark(struct sl_shardlog *log, const struct sl_flush_mark *m);
void sl_shardlog_publish(struct sl_shardlog *log);

/* Recovery from a journal: stage the frames of frames[0..len) whose record
 * numbers continue this log (those it already has are skipped, so a replay
 * is idempotent). Returns the frames staged, -EBADMSG for a damaged frame,
 * -EILSEQ when a frame would leave a gap, or append's errors. */
int sl_shardlog_replay(struct sl_shardlog *log, const uint8_t *frames, size_t len);

/* Batch durability: records below this are known to be on stable storage. */
uint64_t sl_shardlog_synced_n(const struct sl_shardlog *log);
/* Give an idle log's staging buffers back down to their first size (they
 * grow to SL_STAGE_MAX under load). Returns the bytes freed. */
size_t sl_shardlog_trim_memory(struct sl_shardlog *log);

/* fdatasyncs of sync-mode flushes that completed successfully, ever: what a
 * test checks to see that a flush reported durable was really synced. */
uint64_t sl_shardlog_fsyncs(const struct sl_shardlog *log);

/* Feed one completion of this log's flush. Returns 1 when the flush is now
 * complete and durable (durable_n advanced), 0 when more completions are
 * due, or -errno when the flush completed with an error (the same bytes are
 * rewritten by the next prep_flush; durable_n did not move). */
int sl_shardlog_complete(struct sl_shardlog *log, int res);

/* True while a flush is in flight, records are staged, or a segment
 * create is unanswered. */
bool sl_shardlog_busy(const struct sl_shardlog *log);

/* Call fn for durable records from number `from_n` on, skipping records that
 * arrived before min_arrival_ms, stopping after max_records records or before
 * a record that would take the data passed over max_bytes (at least one
 * record is always passed when available). Returns the number of the first record not passed
 * (the caller's next position), or -errno on a read error. */
int64_t sl_shardlog_read(struct sl_shardlog *log, uint64_t from_n, int64_t min_arrival_ms,
			 uint32_t max_records, uint64_t max_bytes, sl_rec_fn fn, void *arg);

/* A read that can stop and go on later (for reads through io_uring): start
 * it, then repeatedly ask where to read (want), read those bytes however
 * suits, and feed them. While a cursor is open its segments are never
 * trimmed and the log is never dropped (sl_shardlog_readers() > 0).
 *   cursor_start: 0, or 1 when there is nothing to read (cursor closed).
 *   cursor_want:  0 with fd/off/len, 1 when the read is over (closed), -errno,
 *                 or 2 when the segment's file is closed (a sealed segment's
 *                 fd is given back while nobody reads it, so that a log
 *                 holds a bounded number of fds): open the path
 *                 cursor_path gives read-only, however suits, pass the fd
 *                 or -errno to cursor_opened (0 or that -errno), and ask
 *                 again.
 *   cursor_feed:  0 to read more, 1 when the read is over (closed), -errno.
 * After -errno, call sl_shardlog_cursor_end(). c->n is the next position. */
struct sl_read_cursor {
	uint64_t n;           /* next record number wanted */
	uint64_t end_n;       /* durable_n when the read started: no reads past it */
	uint64_t seg_first_n; /* the segment being read */
	uint64_t off;         /* offset in it of the next byte wanted */
	size_t want;          /* bytes to ask for next */
	int64_t min_arrival_ms;
	uint64_t max_bytes;
	uint64_t bytes;
	uint32_t max_records;
	uint32_t count;
	bool holds; /* counted in the log's readers */
	bool done;
};
int sl_shardlog_cursor_start(struct sl_shardlog *log, struct sl_read_cursor *c, uint64_t from_n,
			     int64_t min_arrival_ms, uint32_t max_records, uint64_t max_bytes);
int sl_shardlog_cursor_want(struct sl_shardlog *log, struct sl_read_cursor *c, int *fd,
			    uint64_t *off, size_t *len);
int sl_shardlog_cursor_feed(struct sl_shardlog *log, struct sl_read_cursor *c, const uint8_t *buf,
			    size_t got, sl_rec_fn fn, void *arg);
void sl_shardlog_cursor_end(struct sl_shardlog *log, struct sl_read_cursor *c);
void sl_shardlog_cursor_path(const struct sl_shardlog *log, const struct sl_read_cursor *c,
			     char *out, size_t cap);
int sl_shardlog_cursor_opened(struct sl_shardlog *log, struct sl_read_cursor *c, int fd);
uint32_t sl_shardlog_readers(const struct sl_shardlog *log);
/* Sealed segments whose fd is closed now (tests, metrics). */
uint32_t sl_shardlog_fds_parked(const struct sl_shardlog *log);

/* Where to start looking for the first record that arrived at or after
 * ts_ms, from the index alone (no I/O): a record number at or before the
 * answer, or durable_n when there is nothing durable to look at. A cursor
 * from there with min_arrival_ms = ts_ms finds the answer. */
uint64_t sl_shardlog_time_hint(const struct sl_shardlog *log, int64_t ts_ms);
/* First durable record number whose arrival is at or after ts_ms, or
 * durable_n when there is none. Reads with pread: for tests and start-up,
 * never on a worker serving requests (it may block on the disk). */
uint64_t sl_shardlog_find_time(struct sl_shardlog *log, int64_t ts_ms);

/* Arrival time of the newest durable record, or -1 when there is none. */
int64_t sl_shardlog_last_arrival_ms(const struct sl_shardlog *log);

/* Delete whole segments whose every record arrived before cutoff_ms. The
 * newest segment is kept. Returns segments deleted, or -errno. trim_with
 * hands each file to del instead of unlinking it here: a worker passes it
 * to a thread that may block (the log forgets the segment either way). */
typedef int (*sl_unlink_fn)(void *arg, const char *path);
int sl_shardlog_trim(struct sl_shardlog *log, int64_t cutoff_ms);
int sl_shardlog_trim_with(struct sl_shardlog *log, int64_t cutoff_ms, sl_unlink_fn del, void *arg);

/* CRC32C over a frame as stored (exposed for tests and recovery tools). */
uint32_t sl_frame_crc(const struct sl_frame_hdr *h, const uint8_t *payload);

#endif
