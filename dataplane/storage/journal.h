/* journal.h - one commit journal per worker: one fdatasync per group commit.
 *
 * In sync durability a worker's shard logs write their frames without
 * syncing them, and the same bytes go into the worker's journal as one
 * entry per flushed log. Once per loop iteration the journal writes every
 * entry staged since the last batch and fdatasyncs once: that single sync
 * makes the whole iteration's appends durable, whatever number of logs
 * they touched. A log's records are acknowledged when both its own write
 * and the journal batch holding its entry have completed.
 *
 * An entry is typed (`kind`, an engine's choice) and names the log it
 * belongs to by two keys; its payload is the engine's (Kinesis: the shard's
 * frames, which carry their record numbers, so replaying is idempotent).
 *
 * The journal is two preallocated files used in turn, written with
 * O_DIRECT | O_DSYNC where the filesystem allows (a batch is then one
 * write the block layer makes durable, padded to whole blocks), else
 * buffered with a linked fdatasync. Entries
 * carry a sequence number that never repeats across restarts; a file is
 * read from its start while entries are intact and consecutive. When the
 * current file has no room for an entry the journal moves to the other
 * one, which must first be checkpointed: every log written while it was
 * current is fdatasynced in its own files (sl_journal_ckpt_*). Until then
 * new entries wait: back-pressure, never an overwrite of what recovery
 * might need.
 *
 * At start-up, before any worker runs, the control thread replays every
 * journal (sl_journal_scan) into the logs, then invalidates them
 * (sl_journal_reset). Nothing here blocks a worker: files are opened,
 * allocated and zeroed by the control thread; the worker only writes and
 * syncs through its io_uring.
 */
#ifndef SL_JOURNAL_H
#define SL_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io_uring;
struct sl_journal;

#define SL_JOURNAL_MAGIC 0x314a4c53u /* "SLJ1" little-endian */
/* Entry kinds. A segment log's frames: key_a and key_b name the log (for
 * Kinesis, the stream uid and the shard ordinal). */
#define SL_JOURNAL_KIND_SEGLOG 1u
/* Padding to a block boundary (direct I/O): carries nothing. */
#define SL_JOURNAL_KIND_PAD 0u
/* Block size batches are aligned to with direct I/O. */
#define SL_JOURNAL_ALIGN 4096u
#define SL_JOURNAL_HDR_BYTES 48u

struct sl_journal_hdr {
	uint32_t magic;
	uint32_t len;   /* whole entry with padding, a multiple of 8 */
	uint32_t crc;   /* CRC32C from byte 12 to the end of the payload */
	uint32_t kind;  /* the engine's entry type */
	uint64_t seq;   /* consecutive within a file, never reused */
	uint64_t key_a; /* which log: the engine's names for it */
	uint64_t key_b;
	uint32_t payload_len;
	uint32_t reserved;
};
_Static_assert(sizeof(struct sl_journal_hdr) == SL_JOURNAL_HDR_BYTES, "journal entry header");

/* Control thread, at start-up: make sure worker `idx`'s two files exist at
 * their full size (allocated once, then reused), and open
 * them. first_seq is the sequence number the journal starts at (one past
 * everything sl_journal_scan saw). Returns 0 and *out, or -errno. */
#define SL_JOURNAL_F_BUFFERED 0x1u /* never O_DIRECT (tests of the fallback) */
int sl_journal_open(const char *dir, unsigned idx, uint64_t file_bytes, uint64_t first_seq,
		    unsigned flags, struct sl_journal **out);
void sl_journal_close(struct sl_journal *j);

/* Stage an entry for the next batch. Returns its sequence number (> 0),
 * -ENOSPC when it must wait (the staging buffer is full, or the next file
 * is not checkpointed yet: retry next iteration), or -E2BIG when it could
 * never fit a file. */
int64_t sl_journal_add(struct sl_journal *j, uint32_t kind, uint64_t key_a, uint64_t key_b,
		       const void *payload, uint32_t len);

/* Once per loop iteration: queue the staged entries as one batch, a write
 * and a linked fdatasync, when fewer than SL_JOURNAL_INFLIGHT_MAX batches
 * are in flight; failed batches are queued again first. Each SQE's
 * user_data is a pointer to the batch (8-byte aligned) with `kind` in its
 * low 3 bits: hand that pointer to sl_journal_complete(). Returns the SQEs
 * queued (0: nothing to do), or -EBUSY when the queue is full. */
int sl_journal_prep(struct sl_journal *j, struct io_uring *ring, uint8_t kind);

/* Feed a completion of `batch`. Returns 1 when sl_journal_durable_seq()
 * moved (batches become durable in the order they were issued, whatever
 * order their syncs finish in), 0 when it did not, or -errno when this
 * batch failed: its bytes are written again by the next prep. */
int sl_journal_complete(struct sl_journal *j, void *batch, int res);

/* Every entry with a sequence number up to this one is durable. */
uint64_t sl_journal_durable_seq(const struct sl_journal *j);
/* Batches written and fdatasynced successfully, ever (for tests). */
uint64_t sl_journal_syncs(const struct sl_journal *j);

/* Checkpoints. After a switch of files the old one holds entries up to
 * sl_journal_ckpt_seq(); once every log they belong to has synced its own
 * files past them, the worker calls sl_journal_ckpt_done() and the old
 * file may be reused. ckpt_seq is 0 when no checkpoint is pending. */
uint64_t sl_journal_ckpt_seq(const struct sl_journal *j);
void sl_journal_ckpt_done(struct sl_journal *j);

/* Entries staged or in flight. */
bool sl_journal_busy(const struct sl_journal *j);
/* An idle journal gives its grown batch buffers back (a burst grows them
 * to SL_JOURNAL_BATCH_MAX each). Returns the bytes freed. */
size_t sl_journal_trim_memory(struct sl_journal *j);

/* Recovery (control thread, before the workers start). Call fn on every
 * intact entry of every journal file in dir, in sequence order across
 * files of one worker. Returns one past the largest sequence number seen
 * (1 for none), or -errno. fn returns 0, or -errno to stop the scan. */
typedef int (*sl_journal_entry_fn)(void *arg, const struct sl_journal_hdr *h, const uint8_t *payload);
int64_t sl_journal_scan(const char *dir, sl_journal_entry_fn fn, void *arg);
/* After a successful replay: make every entry in dir unreachable (the
 * start of each file is zeroed and synced). 0 or -errno. */
int sl_journal_reset(const char *dir);

#endif
