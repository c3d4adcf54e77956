/* worker.h - the per-core runtime: one event loop, one io_uring, one owner.
 *
 * Every worker is a DPDK lcore pinned to one core. It accepts and serves its
 * own HTTP connections (the listening port is shared with SO_REUSEPORT),
 * owns a slice of the Kinesis shards and is the only thread that touches
 * their logs. Work for a shard owned by another worker crosses a bounded
 * rte_ring as a struct sl_msg; the reply comes back on the sender's ring in
 * the same message. The control thread has a ring too.
 *
 * The loop: reap io_uring completions, drain the inbound ring, run queued
 * local work, start one group-commit flush per dirty shard log, then sleep in
 * io_uring_submit_and_wait(). Other threads wake a sleeping worker through
 * an eventfd that the worker always has a read pending on.
 */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/limits.h"
#include "dataplane/runtime/timer.h"

struct sl_worker;
struct sl_shardlog;
struct sl_config;
struct sl_doc_tok;

/* Recipient index of the control thread in sl_msg_send(). */
#define SL_TO_CONTROL 0xffffu

enum sl_msg_type {
	SL_MSG_NONE = 0,
	SL_MSG_CALL,       /* run msg->fn on the recipient thread, then reply */
	SL_MSG_REPLY,      /* the call came back: run msg->done on the sender */
};

/* A message is owned by its sender, lent to the recipient for the call, and
 * handed back in the reply: the recipient never allocates or frees one. */
struct sl_msg {
	uint16_t type;
	uint16_t from; /* sender: worker index or SL_TO_CONTROL */
	uint16_t to;   /* recipient of the message as it travels */
	uint16_t anytime; /* a call the control thread runs even inside
			   * sl_control_call_wait (file work for a worker,
			   * touching no catalog): set by sl_msg_send_anytime */
	/* Runs on the recipient. It must eventually call sl_msg_reply(msg)
	 * (now, or later from a completion on the same thread). */
	void (*fn)(struct sl_worker *self, struct sl_msg *msg);
	/* Runs on the sender when the reply arrives. */
	void (*done)(struct sl_worker *self, struct sl_msg *msg);
	void *arg;
	struct sl_msg *next; /* local queues only */
};

/* Run on any thread: deliver msg to worker `to` (or SL_TO_CONTROL). Never
 * fails: a full ring leaves the message in the sender's outbox, retried
 * every loop iteration (back-pressure, not loss). The outbox has no cap of
 * its own: each message in it belongs to a request in flight, and those are
 * capped (connections per worker x pipeline depth or HTTP/2 streams). `self` is the sending
 * worker, or NULL on the control thread. */
void sl_msg_send(struct sl_worker *self, uint16_t to, struct sl_msg *msg);
/* The same, for a call to the control thread that it may run at once even
 * while it waits for workers (segment files, removals): a worker waiting
 * for it could otherwise hold up a control call that waits for that
 * worker. */
void sl_msg_send_anytime(struct sl_worker *self, struct sl_msg *msg);
/* A call this thread received goes on to worker `to` (msg->fn may have
 * changed): the reply still goes to the original sender. */
void sl_msg_forward(struct sl_worker *self, uint16_t to, struct sl_msg *msg);
/* Send msg back to msg->from as a reply. */
void sl_msg_reply(struct sl_worker *self, struct sl_msg *msg);
/* Calls to a helper thread (neither a worker nor the control thread) that
 * takes them through a queue of its own: the worker prepares msg as its
 * call (msg->done set by the caller), and the helper hands it back with
 * sl_msg_reply_helper, from its own thread; false when the worker's ring
 * is full (the helper keeps msg and tries again later). */
void sl_msg_prepare(struct sl_worker *self, struct sl_msg *msg);
bool sl_msg_reply_helper(struct sl_msg *msg);
/* A helper thread's call to worker `to`: msg->fn runs there and never
 * replies (it hands its result back through the helper's own queue).
 * false when the worker's ring is full (try again later). */
bool sl_msg_call_helper(struct sl_msg *msg, uint16_t to);

/* Index of this worker, and how many there are. */
uint16_t sl_worker_index(const struct sl_worker *w);
uint16_t sl_worker_count(void);
struct sl_worker *sl_worker_get(uint16_t idx);

/* Journal batches this worker has written and fdatasynced (sync mode). */
uint64_t sl_worker_journal_syncs(const struct sl_worker *w);
/* The io_uring of this worker, for modules that queue their own SQEs. */
struct io_uring *sl_worker_ring(struct sl_worker *w);
/* A submission entry of this worker's ring: a full queue is submitted
 * first. NULL only when the kernel refuses new work for now; the caller
 * then retries from a later loop iteration (sl_worker_defer). */
struct io_uring_sqe *sl_worker_sqe(struct sl_worker *w);

/* ---- io_uring operation tags ------------------------------------------ */

/* user_data of every SQE: an 8-byte-aligned object pointer with the kind of
 * operation in the low 3 bits. */
enum sl_op_kind {
	SL_OP_EVENTFD = 0,
	SL_OP_ACCEPT = 1,
	SL_OP_JOURNAL = 2, /* object: struct sl_journal, a batch write or its fdatasync */
	SL_OP_LOG = 3,     /* object: struct sl_wlog, a flush completion */
	SL_OP_FSYNC = 4,   /* object: struct sl_wlog, a batch-mode fsync */
	SL_OP_RECV = 5,    /* object: a connection (control/http/server.c) */
	SL_OP_SEND = 6,
	SL_OP_AIO = 7,     /* object: struct sl_aio, a module's own operation */
};

/* An io_uring operation a module queues itself (sl_worker_read): the
 * worker calls done(w, aio, cqe->res) on completion. Embed it. */
struct sl_aio {
	void (*done)(struct sl_worker *w, struct sl_aio *aio, int res);
};
static inline uint64_t sl_op_tag(const void *p, enum sl_op_kind k)
{
	return (uint64_t)(uintptr_t)p | (uint64_t)k;
}

/* ---- Shard logs owned by this worker ---------------------------------- */

struct sl_waiter;
typedef void (*sl_waiter_fn)(struct sl_worker *w, struct sl_waiter *wt);

/* Caller-owned: fires once the log's durable_n reaches target_n, or when
 * the log goes away first (dropped, or shutdown gave up on it): `reached`
 * tells which, and a callback must not report records durable without it. */
struct sl_waiter {
	uint64_t target_n;
	sl_waiter_fn cb;
	void *arg;
	uint32_t user;   /* the caller's own tag */
	bool reached;    /* set before cb runs: durable_n >= target_n */
	struct sl_waiter *next;
};

/* A shard log as its owner worker holds it. */
struct sl_wlog {
	struct sl_shardlog *log;
	uint64_t stream_uid;
	uint32_t ordinal;
	bool dirty;    /* on the worker's dirty list */
	uint32_t seg_jobs; /* segment creates and growth steps at the control thread */
	struct sl_worker *owner;
	bool closed;   /* closed by resharding: appends are refused */
	uint32_t fsyncs_due; /* batch mode: fdatasyncs in flight */
	uint32_t idle_ticks; /* housekeeping ticks with nothing staged or in flight */
	int64_t retry_at_ms; /* a failed flush is retried from then on (0: none) */
	int64_t flush_start_ns; /* for the flush latency histogram */
	uint64_t batch_stamp;   /* for the appender: which call last touched it */
	uint32_t batch_slot;    /* and at which of that call's waiters */
	struct sl_wlog *dirty_next;
	/* Sync mode: flushes waiting for the journal. The one in flight has
	 * entry jseq (0 until added); written ones wait in marks[] for their
	 * batch to become durable, oldest at mhead. */
	bool held_on;           /* on the worker's held list */
	bool flight_held;       /* a held flush is in flight */
	uint64_t jseq;
	uint8_t mhead;
	uint8_t mcount;
	struct sl_held_mark {
		uint64_t jseq;
		uint64_t end_n;
		int64_t last_arrival_ms;
		int64_t start_ns;
	} marks[SL_HELD_FLUSHES_MAX];
	struct sl_wlog *held_next;
	struct sl_waiter *wait_head;
	struct sl_waiter *wait_tail;
	/* The owning service's own state for this log (zeroed at open; Kinesis
	 * keeps its --shard-limits windows here). The runtime never reads it. */
	_Alignas(8) uint8_t svc[SL_WLOG_SVC_BYTES];
	/* Set by the service when svc holds memory of its own: runs once, on
	 * the owner (or the control thread before the worker started), when
	 * the log goes (dropped, or closed at exit), after its durable waiters
	 * fired. NULL: nothing to release. */
	void (*release)(struct sl_worker *w, struct sl_wlog *wl);
};

/* Where the logs of catalog object `uid` live: <data>/logs/<uid as 16 hex
 * digits>, one subdirectory per log ordinal. Uids are unique across every
 * object type, so logs of every service share the one tree. */
void sl_log_dir(uint64_t uid, char *out, size_t cap);

/* The log of shard (stream_uid, ordinal), opened (and recovered) on first
 * use. Returns NULL and sets *err (-errno) when it cannot be opened. On the
 * worker itself a log start-up did not open is new: it is returned at once
 * and its directories and first segment are made by the control thread
 * (appends stage until then), unless start-up failed to open one of this
 * worker's logs, which is then opened here. */
struct sl_wlog *sl_worker_log(struct sl_worker *w, uint64_t stream_uid, uint32_t ordinal,
			      int *err);
/* The same, but only when the log exists on disk (NULL and -ENOENT when
 * not): start-up opens what is there without creating what never was. */
/* Control thread, at start-up: fn(uid, ordinal, arg) for every log
 * directory on disk (logs/<uid>/<ordinal>), so that a service opens what
 * exists rather than probing for everything its catalog names. 0, or -errno
 * when the tree cannot be listed (then no worker makes a log anew on first
 * touch: sl_worker_log opens it). */
int sl_worker_foreach_log_dir(void (*fn)(uint64_t uid, uint32_t ordinal, void *arg), void *arg);
struct sl_wlog *sl_worker_log_existing(struct sl_worker *w, uint64_t stream_uid, uint32_t ordinal,
				       int *err);
/* Control thread, when an object that will write log (uid, ordinal) is
 * created: make its directories and empty first segment now, so that its
 * owner's first write finds them made and named durably instead of waiting
 * for a create, an allocation and three directory syncs (a topic's first
 * publish to a hundred new queues). Best effort and bounded
 * (SL_LOGS_PREMADE_MAX): a log not made here is made at its first write.
 * sl_worker_logs_premade_sync() then syncs the names of every log made
 * since its last call, once per directory: call it before the object is
 * committed. 0 or -errno (those logs are then made at their first write). */
void sl_worker_log_premake(uint64_t uid, uint32_t ordinal);
int sl_worker_logs_premade_sync(void);
/* Control thread: the object is gone; forget what was made ahead for it
 * (its files go with its logs, by sl_worker_drop_log). */
void sl_worker_logs_premade_forget(uint64_t uid);
/* The log if this worker has it open now, else NULL: no file is touched. */
struct sl_wlog *sl_worker_log_if_open(struct sl_worker *w, uint64_t stream_uid, uint32_t ordinal);
/* Close the log and have its files deleted by the control thread (the
 * worker never waits on the filesystem). Waiters still queued are fired
 * with wt->reached false. 0, -EBUSY while I/O still holds it, or -ENOMEM. */
int sl_worker_drop_log(struct sl_worker *w, uint64_t stream_uid, uint32_t ordinal);
/* Retention: forget the log's segments older than cutoff_ms and have the
 * control thread delete them. Returns segments dropped, or -errno. */
int sl_worker_trim_log(struct sl_worker *w, struct sl_wlog *wl, int64_t cutoff_ms);
/* Forget the leading segments whose every record is dead (killed by the
 * engine) and have the control thread delete them. Segments dropped, or
 * -errno. */
int sl_worker_drop_dead(struct sl_worker *w, struct sl_wlog *wl);

/* After appends to wl: flush it this iteration and fire wt (may be NULL)
 * when durable_n >= wt->target_n. */
void sl_worker_commit(struct sl_worker *w, struct sl_wlog *wl, struct sl_waiter *wt);

/* Queue a read of len bytes at off of fd into buf through io_uring;
 * aio->done runs with the byte count or -errno. Returns 0, or -EBUSY when
 * no submission entry is free (retry later). */
int sl_worker_read(struct sl_worker *w, struct sl_aio *aio, int fd, void *buf, size_t len,
		   uint64_t off);

/* Read len bytes at off into buf without waiting on the disk: from the
 * page cache at once when they are all there (returns 1), otherwise
 * through io_uring, aio->done running with the byte count or -errno
 * (returns 0). -errno when the read fails at once. */
int sl_worker_read_nowait(struct sl_worker *w, struct sl_aio *aio, int fd, void *buf, size_t len,
			  uint64_t off);

/* Open path read-only through io_uring (a file's inode may have to come
 * from the disk); aio->done runs with the fd or -errno. path must stay
 * valid until then. Returns 0, or -EBUSY when no submission entry is free. */
int sl_worker_open_rdonly(struct sl_worker *w, struct sl_aio *aio, const char *path);

/* Visit every log this worker has open. */
void sl_worker_foreach_log(struct sl_worker *w, void (*fn)(struct sl_worker *, struct sl_wlog *, void *),
			   void *arg);

/* What the layers above plug into the loop (set before sl_workers_start). */
struct sl_worker_hooks {
	void (*start)(struct sl_worker *w);             /* on the worker, before serving */
	void (*accepted)(struct sl_worker *w, int fd);  /* a new TCP connection */
	void (*io)(struct sl_worker *w, void *obj, enum sl_op_kind kind, int res, uint32_t flags);
	void (*tick)(struct sl_worker *w);              /* about once a second (a timer) */
	/* On the control thread, before the worker runs: open (and recover)
	 * what it owns, so that no request waits for a recovery. */
	void (*preload)(struct sl_worker *w);
	void (*stop)(struct sl_worker *w);              /* on the worker, at shutdown */
	bool (*busy)(struct sl_worker *w);              /* after stop: work still draining */
};
extern struct sl_worker_hooks sl_hooks;

/* A pointer slot for the HTTP layer's per-worker state. */
void **sl_worker_http(struct sl_worker *w);
/* True once shutdown has begun. */
bool sl_worker_stopping(const struct sl_worker *w);

/* ---- Timers ------------------------------------------------------------ */

/* Monotonic milliseconds, the clock of every worker's timer wheel. */
uint64_t sl_mono_ms(void);
/* Arm t (caller-owned, zeroed once) to run fn(t, arg) on this worker's
 * loop about delay_ms from now; re-arming a pending timer moves it. The
 * loop sleeps in io_uring_enter until the earliest timer is due, so a
 * worker with nothing to wait for sleeps without waking. O(1). */
void sl_worker_timer(struct sl_worker *w, struct sl_timer *t, uint64_t delay_ms, sl_timer_fn fn,
		     void *arg);
/* Disarm t; a no-op when it is not pending. O(1). */
void sl_worker_timer_cancel(struct sl_worker *w, struct sl_timer *t);

/* Queue msg->fn to run on this worker's next loop iteration (never
 * recursively from the caller). The node is caller-owned. */
void sl_worker_defer(struct sl_worker *w, struct sl_msg *node);

/* Per-worker scratch for request parsing: SL_DOC_TOKS_MAX tokens. */
struct sl_doc_tok *sl_worker_toks(struct sl_worker *w);

/* ---- Quiescent-state reclamation ---------------------------------------- */

/* Shared read-mostly data (the catalog) is replaced by pointer swap; the old
 * copy may be freed once no worker can still hold it. Workers are "inside"
 * from the start of a loop iteration until they go to sleep. After swapping,
 * the writer takes sl_qsbr_retire() and frees when sl_qsbr_safe() says so. */
uint64_t sl_qsbr_retire(void);
bool sl_qsbr_safe(uint64_t epoch);

/* ---- Server-wide ------------------------------------------------------ */

/* Milliseconds since the epoch, plus the debug clock offset. */
int64_t sl_now_ms(void);
/* Move the clock forward (debug builds of tests only: --debug-clock). */
void sl_clock_advance(int64_t ms);

/* Control thread, at start-up before sl_workers_start(): replay every
 * worker journal into the shard logs, sync them, and retire the journals
 * (sync durability's crash recovery). 0 or -errno. */
int sl_workers_recover(const struct sl_config *cfg);
/* Start the workers on every EAL worker lcore, then return. 0 or -errno. */
int sl_workers_start(const struct sl_config *cfg);
/* Ask every worker to stop, flush, and join them. */
void sl_workers_stop(void);
/* Wake the control thread (used by sl_msg_send). */
void sl_control_wake(void);
/* Drain the control thread's ring: runs calls and replies, then commits
 * (sl_control_commit). Returns the number of messages run. */
unsigned sl_control_poll(void);
/* The control thread's commit point: fn makes the effects of the calls run
 * so far durable (the catalog's group commit). 0 or -errno. */
void sl_control_set_commit(int (*fn)(void));
/* Around each request a control call runs: begin() before it, end(failed)
 * after it, failed when it answered with an error, so that what it
 * changed can be undone (the catalog's savepoints). Either may be NULL. */
void sl_control_set_guard(void (*begin)(void), void (*end)(bool failed));
void sl_control_guard_begin(void);
void sl_control_guard_end(bool failed);
/* Control thread, from a call: send msg's reply after the next commit. If
 * that commit fails, failed(msg, rc) runs first (to turn the reply into an
 * error). */
void sl_control_reply_committed(struct sl_msg *msg, void (*failed)(struct sl_msg *msg, int rc));
/* Run the commit and send the replies it held. Not reentrant: a call made
 * from inside a commit returns 0 and leaves the replies for the outer one. */
int sl_control_commit(void);
/* The control thread's eventfd, for its poll loop. */
int sl_control_eventfd(void);
/* Control thread sleep handshake: returns false when work is already queued
 * (do not sleep); otherwise sleep on the eventfd, then call sl_control_woke(). */
bool sl_control_prepare_sleep(void);
void sl_control_woke(void);
/* Control thread: send msgs[i] to workers to[i] and wait for every reply.
 * Calls that reach the control thread meanwhile are held for its next
 * sl_control_poll(). msgs[i]->done is replaced. Workers never wait on the
 * control thread, so this cannot deadlock. */
void sl_control_call_wait(struct sl_msg **msgs, const uint16_t *to, unsigned n);

#endif
