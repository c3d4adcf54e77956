/* data.c - SQS messages on the workers: SendMessage, ReceiveMessage (long
 * polls included), DeleteMessage, ChangeMessageVisibility.
 *
 * A queue's messages live in partitions; each partition is one segment log
 * (logs/<queue uid>/<partition>) and one in-memory index (part.h) on the
 * worker that owns it. The worker that received a request parses and
 * checks it, then hands it to the owner as a call; the owner changes the
 * index, appends what changed to the log, and answers once that is durable
 * (group commit: one fdatasync per loop iteration for everything the
 * worker wrote). The log holds typed frames:
 *   SEND  key = message id, data = the stored message (msg.h);
 *   COPY  key = message id, data = {orig n, receives, first_receive_ms}
 *         and the stored message: compaction moved message orig n here;
 *   RECV  {n, receives, visible_ms, first_receive_ms} of a receive;
 *   VIS   {n, visible_ms} of a visibility change;
 *   DEL   {n} of a delete or an expiry.
 * Only SENDs of messages still in the queue are live; the others are
 * killed as soon as they are written, which is safe because segments are
 * only ever dropped from the front: a live SEND keeps every later segment.
 * On start-up the control thread replays each partition's log into its
 * index before the owner serves anything.
 *
 * A message becomes receivable once its SEND is durable; a receive marks
 * what it takes in flight at once (nobody else gets it) and answers once
 * its RECV records are durable, so receive counts survive a crash. Bodies
 * are read back from the log, from the page cache when there, through
 * io_uring when not.
 *
 * A FIFO partition schedules by message group (part.h) and keeps a
 * deduplication window (dedup.h). A FIFO send's record stays live while
 * its window lasts, even once its message is deleted, so that the window
 * is rebuilt by replay after a restart.
 *
 * A standard queue has several partitions (--sqs-partitions), spread over
 * the workers. A send goes to a partition the receiving worker owns when
 * there is one, so it crosses no ring. A receive tries the partitions one
 * after another, starting at a local one, and answers from the first that
 * has messages: a receive is only ever at one partition, so nothing it
 * takes can be stranded by an answer given elsewhere. A long poll that
 * found nothing waits at the last partition it tried, and that partition
 * tells the others (a WATCH note). A partition that then has ready
 * messages and no poll of its own sends a POKE to one that has polls
 * waiting, which hands its oldest polls over (one per ready message); a
 * poll takes from there, or waits there. While polls wait at a partition, every other partition
 * holds its watch, has one on the way, or has poked it (and is watched
 * again once the poke is handled while polls remain).
 */
#include "dataplane/services/sqs/data.h"

#include <assert.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/sqs/queues.h"
#include "dataplane/codec/enc.h"
#include "dataplane/net/server.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/log.h"
#include "dataplane/runtime/worker.h"
#include "dataplane/services/sqs/dedup.h"
#include "dataplane/services/sqs/msg.h"
#include "dataplane/services/sqs/part.h"
#include "dataplane/services/sqs/sqs.h"
#include "dataplane/storage/shardlog.h"

enum { F_SEND = 1, F_RECV = 2, F_VIS = 3, F_DEL = 4, F_PURGE = 5, F_COPY = 6 };

/* A COPY record: a message moved forward by compaction (its key is the
 * message id; this header, then its stored send record as it was). */
struct rec_copy {
	uint64_t orig_n;
	uint32_t receives;
	uint32_t pad;
	int64_t first_recv_ms;
};

/* The stored send of a SEND or COPY record. */
static bool stored_of(const struct sl_rec_view *r, const uint8_t **data, size_t *len)
{
	if (r->key_len != 16)
		return false;
	if (r->type == F_SEND) {
		*data = r->data;
		*len = r->data_len;
		return true;
	}
	if (r->type == F_COPY && r->data_len > sizeof(struct rec_copy)) {
		*data = r->data + sizeof(struct rec_copy);
		*len = r->data_len - sizeof(struct rec_copy);
		return true;
	}
	return false;
}

struct rec_recv {
	uint64_t n;
	uint32_t receives;
	uint32_t pad;
	int64_t visible_ms;
	int64_t first_recv_ms;
};
struct rec_vis {
	uint64_t n;
	int64_t visible_ms;
};

struct sqs_op;

/* A partition's counters for /metrics: written by its owner only (relaxed
 * stores), read by whichever worker serves the scrape. A slot is free
 * while uid is 0. Each worker has SL_SQS_METRIC_QUEUES of them. */
struct sqs_qstats {
	_Atomic uint64_t uid;
	_Atomic uint64_t sends, receives, deletes, empty;
	_Atomic uint64_t depth, inflight, delayed;
	_Atomic uint64_t compacted;
};
static struct sqs_qstats *_Atomic qstats[SL_WORKERS_MAX];

static void stat_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* A partition on its owner; wl->svc holds the pointer. */
struct sqs_wpart {
	struct sqs_idx idx;
	struct sl_wlog *wl;
	uint64_t uid;
	uint32_t part;
	struct sqs_op *polls;       /* long polls waiting, oldest first */
	struct sqs_op **polls_tail;
	struct sl_timer due;        /* the next deadline, while polls wait */
	/* PurgeQueue: every message sent before this record number is gone;
	 * a sweep removes them from the index a chunk per loop iteration, and
	 * until it has, they are skipped wherever they come up. */
	uint64_t purge_below;
	uint64_t sweep_slot;        /* the sweep's next table slot */
	uint64_t sweep_cap;         /* the table's size when it started */
	bool sweeping;
	bool purge_live;            /* purge_rn is a live record (until its sweep ends) */
	uint64_t purge_rn;
	struct sl_msg sweep;
	/* FIFO: the deduplication window, and the receive attempts a retry
	 * with the same ReceiveRequestAttemptId gets again (a ring, oldest
	 * overwritten first). */
	bool fifo;
	/* The queue's partitions, and the WATCH/POKE bookkeeping (bit i:
	 * partition i): who has polls waiting and asked to be poked, the
	 * watches and pokes this partition has on the way, and the watches to
	 * send again once the one on the way is back. */
	uint32_t nparts;
	uint32_t watchers;
	uint32_t watch_out, watch_again, poke_out;
	uint32_t poke_next;         /* where the next poke round starts */
	/* Compaction (standard queues): the next record of the front segment
	 * to look at, and the copies under way (their original messages are
	 * hidden until the copy is durable). */
	uint64_t compact_n;
	uint32_t ncopies;
	struct sqs_op *copies[SL_SQS_COMPACT_INFLIGHT];
	bool compacting;            /* compact_msg is deferred: a step runs next iteration */
	struct sl_msg compact_msg;
	struct sqs_qstats *st;      /* its /metrics slot, or NULL (none free) */
	struct sl_sqs_task *task;   /* a message move task from this partition */
	struct sqs_dedup dd;
	struct sqs_attempt *attempts;
	uint32_t attempts_next;
};

/* A FIFO receive, kept for its ReceiveRequestAttemptId. */
struct sqs_attempt {
	uint8_t key[16];
	int64_t until_ms; /* 0: a free slot */
	uint32_t count;
	struct { uint64_t n; uint32_t receives; } m[SL_SQS_RECV_MAX];
};

enum op_kind { OP_SEND, OP_RECV, OP_DEL, OP_VIS, OP_MOVE, OP_COPY };

struct sqs_taken {
	uint64_t n;
	uint32_t receives;
	int64_t first_recv_ms;
};

/* One request's state, in its scratch memory. */
struct sqs_op {
	struct sl_aio aio; /* first: io_uring tags need 8-byte alignment */
	struct sl_msg msg;
	struct sl_req *req;
	void *parent;        /* a batch entry: its struct sqs_batch */
	struct sqs_wpart *wp;
	uint64_t uid;
	uint32_t part;
	uint8_t kind;
	uint8_t nparts;      /* of the queue */
	uint8_t scan_left;   /* ReceiveMessage: partitions still to try */
	bool over;           /* ReceiveMessage: a partition tried held its in-flight share */
	int err;             /* enum sl_sqs_err + 1, or 0 */
	const char *err_msg;
	uint32_t vis_s;
	uint32_t retention_s;
	struct sl_waiter wt;
	/* SendMessage */
	uint8_t id[16];
	uint8_t *rec;
	uint32_t rec_len;
	uint32_t delay_s;
	char md5_body[33], md5_attrs[33], md5_sys[33];
	bool has_attrs, has_sys;
	bool fifo;
	bool has_group;
	uint8_t gkey[16];    /* FIFO: digest of the MessageGroupId */
	uint8_t dkey[16];    /* FIFO: the deduplication key */
	uint64_t seq_n;      /* FIFO: the record whose SequenceNumber it answers */
	/* ReceiveMessage */
	uint32_t max;
	uint32_t wait_s;
	int64_t poll_until_ms; /* a long poll's end, once it began */
	uint32_t sys_want;   /* bit per system attribute */
	uint32_t nnames;     /* message attribute names asked for */
	bool all_names;
	char (*names)[SL_SQS_ATTR_NAME_MAX + 1];
	struct sqs_taken taken[SL_SQS_RECV_MAX];
	uint32_t ntaken, nread;
	bool began, polling;
	bool has_attempt;    /* FIFO: ReceiveRequestAttemptId */
	uint8_t attempt[16];
	struct sl_timer wait_timer;
	struct sqs_op *poll_next;
	struct sl_read_cursor cur;
	uint8_t *buf;
	size_t buf_cap;
	/* What buf holds: bytes [buf_off, buf_off + buf_len) of segment
	 * buf_seg, read by this request (a receive's messages often share an
	 * index stride: the later ones are found there with no read). */
	uint64_t buf_seg, buf_off;
	size_t buf_len;
	char *path;
	/* DeleteMessage, ChangeMessageVisibility */
	struct sl_sqs_receipt rh;
	int64_t new_vis_s;
	/* Dead-letter queue (ReceiveMessage: from the RedrivePolicy; a move:
	 * where the message goes), and the receives after which it goes. */
	uint64_t dlq_uid;
	uint32_t dlq_part;
	uint32_t max_receives;
	struct sl_sqs_task *task; /* a move of a move task */
	/* A compaction copy: the record it wrote, whether its message was
	 * deleted while it was under way, the message's state and deadline
	 * before (restored if the copy fails), and the deadline that marks it
	 * hidden by this copy (beyond any visibility timeout). */
	uint64_t copy_n;
	bool copy_deleted;
	uint8_t copy_state;
	int64_t copy_vis_ms;
	int64_t copy_hide_ms;
};

/* Dead-letter moves in flight on this worker (each holds a copy of one
 * message): past the cap a message due to move waits for a later receive. */
static __thread uint32_t moves_in_flight;

static void move_start(struct sl_worker *w, struct sqs_wpart *wp, uint64_t n, uint64_t dlq_uid,
		       struct sl_sqs_task *task);

/* A queue's partitions go to consecutive workers from one its uid picks
 * (partition 0 where a queue of one partition always was). */
static uint32_t part_base(uint64_t uid)
{
	return (uint32_t)((uid * 0x9e3779b97f4a7c15ull) >> 32);
}

static uint16_t part_owner(uint64_t uid, uint32_t part)
{
	return (uint16_t)(((uint64_t)part_base(uid) + part) % sl_worker_count());
}

static uint32_t qparts(const struct sl_queue *q)
{
	return q && q->nparts ? q->nparts : 1;
}

/* The partition of q that a request on worker w goes to first: one w owns
 * when there is one (no ring to cross), in turn among them, else any, in
 * turn. */
static uint32_t part_local(struct sl_worker *w, const struct sl_queue *q)
{
	static __thread uint32_t turn;
	uint32_t np = qparts(q), nw = sl_worker_count();

	if (np == 1)
		return 0;
	turn++;
	/* part_owner(k) == w exactly for k = first, first + nw, ... */
	uint32_t first = (sl_worker_index(w) + nw - part_base(q->hdr.uid) % nw) % nw;
	if (first >= np)
		return turn % np;
	uint32_t mine = (np - 1 - first) / nw + 1;
	return first + (turn % mine) * nw;
}

static void op_fail(struct sqs_op *op, enum sl_sqs_err e, const char *msg)
{
	op->err = (int)e + 1;
	op->err_msg = msg;
}

/* ---- Partitions --------------------------------------------------------------- */

static struct sqs_wpart **wpart_slot(struct sl_wlog *wl)
{
	_Static_assert(sizeof(struct sqs_wpart *) <= SL_WLOG_SVC_BYTES, "fits sl_wlog's svc bytes");
	return (struct sqs_wpart **)(void *)wl->svc;
}

static void poll_answer(struct sl_worker *w, struct sqs_op *op);

static void wpart_release(struct sl_worker *w, struct sl_wlog *wl)
{
	struct sqs_wpart *wp = *wpart_slot(wl);

	if (!wp)
		return;
	/* Long polls still waiting get an empty answer: their queue is gone
	 * or the worker is stopping. */
	while (wp->polls) {
		struct sqs_op *op = wp->polls;
		wp->polls = op->poll_next;
		op->polling = false;
		if (w)
			sl_worker_timer_cancel(w, &op->wait_timer);
		poll_answer(w, op);
	}
	if (w)
		sl_worker_timer_cancel(w, &wp->due);
	if (wp->task) {
		/* Its queue is gone: the task fails once its moves are back. */
		struct sl_sqs_task *t = wp->task;
		if (w)
			sl_worker_timer_cancel(w, &t->timer);
		t->wp = NULL;
		atomic_store(&t->failure, SL_SQS_TASK_QUEUE_GONE);
		if (t->inflight == 0)
			atomic_store(&t->status, SL_SQS_TASK_FAILED);
	}
	if (wp->st)
		atomic_store(&wp->st->uid, 0);
	sqs_idx_fini(&wp->idx);
	sqs_dedup_fini(&wp->dd);
	free(wp->attempts);
	free(wp);
	*wpart_slot(wl) = NULL;
}

/* A free /metrics slot of worker w's table, taken for queue uid; NULL
 * when the table is full or cannot be made. */
static struct sqs_qstats *stats_slot(struct sl_worker *w, uint64_t uid)
{
	uint16_t wi = w ? sl_worker_index(w) : 0;
	struct sqs_qstats *t = atomic_load(&qstats[wi]);

	if (!w)
		return NULL;
	if (!t) {
		t = calloc(SL_SQS_METRIC_QUEUES, sizeof(*t));
		if (!t)
			return NULL;
		atomic_store(&qstats[wi], t);
	}
	for (uint32_t i = 0; i < SL_SQS_METRIC_QUEUES; i++) {
		if (atomic_load_explicit(&t[i].uid, memory_order_relaxed) == 0) {
			struct sqs_qstats *q = &t[i];
			atomic_store(&q->sends, 0);
			atomic_store(&q->receives, 0);
			atomic_store(&q->deletes, 0);
			atomic_store(&q->empty, 0);
			atomic_store(&q->depth, 0);
			atomic_store(&q->inflight, 0);
			atomic_store(&q->delayed, 0);
			atomic_store(&q->compacted, 0);
			atomic_store(&q->uid, uid);
			return q;
		}
	}
	return NULL;
}

static struct sqs_wpart *wpart_attach(struct sl_wlog *wl, uint64_t uid, uint32_t part,
				      const struct sl_queue *q)
{
	struct sqs_wpart *wp = calloc(1, sizeof(*wp));

	if (!wp)
		return NULL;
	if (sqs_idx_init(&wp->idx) < 0) {
		free(wp);
		return NULL;
	}
	sqs_dedup_init(&wp->dd);
	wp->fifo = q && q->fifo;
	wp->nparts = qparts(q);
	wp->st = stats_slot(wl->owner, uid);
	wp->wl = wl;
	wp->uid = uid;
	wp->part = part;
	wp->polls_tail = &wp->polls;
	*wpart_slot(wl) = wp;
	wl->release = wpart_release;
	return wp;
}

/* A message leaves the partition (deleted, expired, purged or moved): out
 * of the index, and its record dead, unless its deduplication window
 * still needs it (then it dies when the window ends). */
static void msg_drop(struct sqs_wpart *wp, uint64_t n)
{
	struct sqs_dedup_e *e = wp->fifo ? sqs_dedup_by_n(&wp->dd, n) : NULL;

	sqs_idx_remove(&wp->idx, n);
	if (e)
		e->gone = true;
	else
		sl_shardlog_kill(wp->wl->log, n);
}

static void dedup_gone(void *arg, uint64_t n)
{
	struct sqs_wpart *wp = arg;

	sl_shardlog_kill(wp->wl->log, n);
}

/* A FIFO message's keys: its group's digest, and its deduplication key
 * (the id, with the group under DeduplicationScope messageGroup). */
static void group_key(const char *group, size_t len, uint8_t out[16])
{
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;

	EVP_Digest(group, len, d, &dl, EVP_md5(), NULL);
	memcpy(out, d, 16);
}

static void dedup_key(bool by_group, const char *group, size_t glen, const char *id, size_t idlen,
		      uint8_t out[16])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t d[EVP_MAX_MD_SIZE], sep = 0;
	unsigned dl = 0;

	memset(out, 0, 16);
	if (!c)
		return;
	EVP_DigestInit_ex(c, EVP_md5(), NULL);
	if (by_group) {
		EVP_DigestUpdate(c, group, glen);
		EVP_DigestUpdate(c, &sep, 1); /* ids never hold a NUL */
	}
	EVP_DigestUpdate(c, id, idlen);
	EVP_DigestFinal_ex(c, d, &dl);
	EVP_MD_CTX_free(c);
	memcpy(out, d, 16);
}

struct replay {
	struct sqs_wpart *wp;
	const struct sl_queue *q;
	int64_t now;
	int err;
};

/* One record of a partition log, in order: rebuild the index. */
static bool replay_one(void *arg, const struct sl_rec_view *r)
{
	struct replay *rp = arg;
	struct sqs_idx *x = &rp->wp->idx;
	struct sl_shardlog *log = rp->wp->wl->log;
	struct sl_sqs_stored m;

	if (r->type == F_SEND) {
		if (r->key_len != 16 || sl_sqs_stored_decode(r->data, r->data_len, &m) < 0) {
			sl_shardlog_kill(log, r->n); /* not a send this server wrote */
			return true;
		}
		int64_t vis = m.sent_ms + (int64_t)m.delay_s * 1000;
		uint8_t gk[16];
		bool grouped = rp->wp->fifo && m.group;
		if (grouped)
			group_key(m.group, m.group_len, gk);
		if (sqs_idx_add(x, r->n, m.sent_ms, vis, vis > rp->now ? SQS_DELAYED : SQS_READY,
				grouped ? gk : NULL) < 0)
			rp->err = -ENOMEM;
		/* A FIFO send still inside its window: remember it again, so a
		 * duplicate after the restart is still caught. */
		if (rp->wp->fifo && m.dedup && m.sent_ms + SL_SQS_DEDUP_WINDOW_MS > rp->now) {
			uint8_t dk[16];
			dedup_key(rp->q && rp->q->dedup_scope == SL_SQS_DEDUP_GROUP, m.group,
				  m.group_len, m.dedup, m.dedup_len, dk);
			int rc = sqs_dedup_add(&rp->wp->dd, dk, r->key, r->n,
					       m.sent_ms + SL_SQS_DEDUP_WINDOW_MS);
			if (rc == -ENOMEM)
				rp->err = rc;
		}
		return rp->err == 0;
	}
	if (r->type == F_COPY) {
		/* The message moves from its original record to this one: the
		 * original goes (its record dies) if its segment is still
		 * there, and the copy takes its place with its receive count.
		 * A copy is only ever written of a message in the queue, and a
		 * delete after it deletes the copy too. */
		struct rec_copy h;
		const uint8_t *data;
		size_t len;
		if (!stored_of(r, &data, &len) || rp->wp->fifo ||
		    sl_sqs_stored_decode(data, len, &m) < 0) {
			sl_shardlog_kill(log, r->n);
			return true;
		}
		memcpy(&h, r->data, sizeof(h));
		if (sqs_idx_find(x, h.orig_n))
			msg_drop(rp->wp, h.orig_n);
		int64_t vis = m.sent_ms + (int64_t)m.delay_s * 1000;
		if (sqs_idx_add(x, r->n, m.sent_ms, vis, vis > rp->now ? SQS_DELAYED : SQS_READY,
				NULL) < 0) {
			rp->err = -ENOMEM;
			return false;
		}
		struct sqs_m *c = sqs_idx_find(x, r->n);
		c->receives = h.receives;
		if (h.first_recv_ms)
			sqs_m_set_first_recv(c, h.first_recv_ms);
		return true;
	}
	/* Receives, changes and deletes are never live; a purge, applied here
	 * in full, is not needed any more either. */
	sl_shardlog_kill(log, r->n);
	if (r->type == F_RECV && r->data_len == sizeof(struct rec_recv)) {
		struct rec_recv v;
		memcpy(&v, r->data, sizeof(v));
		struct sqs_m *sm = sqs_idx_find(x, v.n);
		if (sm) {
			sm->receives = v.receives;
			sqs_m_set_last_recv(sm, r->arrival_ms);
			if (v.first_recv_ms && !sm->first_recv_d)
				sqs_m_set_first_recv(sm, v.first_recv_ms);
			if (sqs_idx_set(x, sm, SQS_INFLIGHT, v.visible_ms) < 0)
				rp->err = -ENOMEM;
		}
	} else if (r->type == F_VIS && r->data_len == sizeof(struct rec_vis)) {
		struct rec_vis v;
		memcpy(&v, r->data, sizeof(v));
		struct sqs_m *sm = sqs_idx_find(x, v.n);
		if (sm && sqs_idx_set(x, sm, SQS_INFLIGHT, v.visible_ms) < 0)
			rp->err = -ENOMEM;
	} else if (r->type == F_DEL && r->data_len == sizeof(uint64_t)) {
		uint64_t n;
		memcpy(&n, r->data, sizeof(n));
		if (sqs_idx_find(x, n))
			msg_drop(rp->wp, n);
	} else if (r->type == F_PURGE && r->data_len == sizeof(uint64_t)) {
		uint64_t below;
		memcpy(&below, r->data, sizeof(below));
		/* Start-up, on the control thread: the whole table at once. */
		for (uint64_t i = 0; i < x->cap; i++) {
			/* A removal shifts a later entry into slot i: look again. */
			while (x->tab[i].n != 0 && x->tab[i].n - 1 < below)
				msg_drop(rp->wp, x->tab[i].n - 1);
		}
	}
	return rp->err == 0;
}

/* Whether message m was purged (its sweep has not reached it yet). */
static bool purged(const struct sqs_wpart *wp, const struct sqs_m *m)
{
	return m->n - 1 < wp->purge_below;
}

/* Remove up to SL_SQS_PURGE_CHUNK slots' worth of purged messages; again
 * next iteration until the table is swept. */
static void sweep_fn(struct sl_worker *w, struct sl_msg *msg)
{
	struct sqs_wpart *wp = msg->arg;
	struct sqs_idx *x = &wp->idx;

	if (x->cap != wp->sweep_cap) {
		/* The table grew (rehashed): sweep it from the start. */
		wp->sweep_slot = 0;
		wp->sweep_cap = x->cap;
	}
	uint64_t stop = wp->sweep_slot + SL_SQS_PURGE_CHUNK;
	for (; wp->sweep_slot < x->cap && wp->sweep_slot < stop; wp->sweep_slot++) {
		uint64_t i = wp->sweep_slot;
		/* Bounded by the chunk: each round removes one entry. */
		for (uint32_t k = 0; k < SL_SQS_PURGE_CHUNK && x->tab[i].n != 0 &&
				     x->tab[i].n - 1 < wp->purge_below; k++)
			msg_drop(wp, x->tab[i].n - 1);
	}
	if (wp->sweep_slot < x->cap) {
		msg->type = SL_MSG_CALL;
		sl_worker_defer(w, msg);
		return;
	}
	wp->sweeping = false;
	/* Every purged send is dead now: so is the purge record (a segment is
	 * only dropped after every earlier one, so it never outlives what it
	 * purged on disk). */
	if (wp->purge_live) {
		sl_shardlog_kill(wp->wl->log, wp->purge_rn);
		wp->purge_live = false;
	}
}

/* Rebuild a partition from its log: at start-up on the control thread, or
 * on the owner when start-up could not (then it reads with pread, once). */
static int wpart_replay(struct sqs_wpart *wp, const struct sl_queue *q)
{
	struct replay rp = { wp, q, sl_now_ms(), 0 };
	int64_t rc = sl_shardlog_scan(wp->wl->log, replay_one, &rp);

	sqs_idx_promote(&wp->idx, rp.now);
	return rc < 0 ? (int)rc : rp.err;
}

/* The partition on its owner, opened (and rebuilt) on first use. */
static struct sqs_wpart *wpart_get(struct sl_worker *w, uint64_t uid, uint32_t part, int *err)
{
	struct sl_wlog *wl = sl_worker_log(w, uid, part, err);

	if (!wl)
		return NULL;
	struct sqs_wpart *wp = *wpart_slot(wl);
	if (wp)
		return wp;
	const struct sl_queue *q = sl_queue_find_uid(sl_catalog_get(), uid);
	wp = wpart_attach(wl, uid, part, q);
	if (!wp) {
		*err = -ENOMEM;
		return NULL;
	}
	if (sl_shardlog_durable_n(wl->log) > sl_shardlog_first_n(wl->log)) {
		*err = wpart_replay(wp, q);
		if (*err < 0) {
			wpart_release(w, wl);
			return NULL;
		}
	}
	return wp;
}

/* The partition if this worker has it open now (never opens a file), or
 * NULL. */
static struct sqs_wpart *wpart_if_open(struct sl_worker *w, uint64_t uid, uint32_t part)
{
	struct sl_wlog *wl = sl_worker_log_if_open(w, uid, part);

	return wl && wl->release == wpart_release ? *wpart_slot(wl) : NULL;
}

/* ---- Long polls ----------------------------------------------------------------- */

static void recv_take(struct sl_worker *w, struct sqs_op *op);
static void op_reply(struct sl_worker *w, struct sqs_op *op);

static void due_fire(struct sl_timer *t, void *arg);
static void notify_watchers(struct sl_worker *w, struct sqs_wpart *wp);

/* While polls wait here or at another partition that watches this one,
 * wake at the next deadline (a delay or a visibility timeout ending makes
 * a message receivable). */
static void arm_due(struct sl_worker *w, struct sqs_wpart *wp)
{
	int64_t next = wp->polls || wp->watchers ? sqs_idx_next_ms(&wp->idx) : -1;

	if (next < 0) {
		sl_worker_timer_cancel(w, &wp->due);
		return;
	}
	int64_t now = sl_now_ms();
	sl_worker_timer(w, &wp->due, next > now ? (uint64_t)(next - now) : 0, due_fire, wp);
}

/* Hand ready messages to the polls that wait, oldest poll first. */
static void serve_polls(struct sl_worker *w, struct sqs_wpart *wp)
{
	struct sqs_op *todo = wp->polls;

	sqs_idx_promote(&wp->idx, sl_now_ms());
	/* The polls waiting now get one turn each: one that finds nothing after
	 * all (its message expired, or the log is full) waits again, on a new
	 * list, so that this loop ends. */
	wp->polls = NULL;
	wp->polls_tail = &wp->polls;
	while (todo && sqs_idx_any_ready(&wp->idx)) {
		struct sqs_op *op = todo;
		todo = op->poll_next;
		op->polling = false;
		sl_worker_timer_cancel(w, &op->wait_timer);
		recv_take(w, op);
	}
	if (todo) {
		/* Those without a turn keep their place, before the new ones. */
		struct sqs_op *last = todo;
		while (last->poll_next)
			last = last->poll_next;
		last->poll_next = wp->polls;
		if (!wp->polls)
			wp->polls_tail = &last->poll_next;
		wp->polls = todo;
	}
	notify_watchers(w, wp);
	arm_due(w, wp);
}

static void due_fire(struct sl_timer *t, void *arg)
{
	struct sqs_wpart *wp = arg;
	struct sl_worker *w = wp->wl->owner;

	(void)t;
	serve_polls(w, wp);
}

static void poll_unlink(struct sqs_wpart *wp, struct sqs_op *op)
{
	struct sqs_op **pp = &wp->polls;

	/* Bounded by the polls waiting on this partition. */
	while (*pp && *pp != op)
		pp = &(*pp)->poll_next;
	if (*pp)
		*pp = op->poll_next;
	wp->polls_tail = &wp->polls;
	while (*wp->polls_tail)
		wp->polls_tail = &(*wp->polls_tail)->poll_next;
	op->polling = false;
}

/* An empty answer to a receive (its wait ran out, or its partition went). */
static void poll_answer(struct sl_worker *w, struct sqs_op *op)
{
	if (op->wp->st)
		stat_add(&op->wp->st->empty, 1);
	sl_reply_begin(op->req);
	sl_reply_end(op->req);
	(void)w;
	sl_msg_reply(op->wp->wl->owner, &op->msg);
}

static void poll_timeout(struct sl_timer *t, void *arg)
{
	struct sqs_op *op = arg;
	struct sl_worker *w = op->wp->wl->owner;

	(void)t;
	poll_unlink(op->wp, op);
	arm_due(w, op->wp);
	poll_answer(w, op);
}

static bool queue_alive(uint64_t uid)
{
	return sl_queue_find_uid(sl_catalog_get(), uid) != NULL;
}

/* ---- Long polls over several partitions ---------------------------------------- */

/* A WATCH (from, which has polls waiting, asks to be poked) or a POKE
 * (from has ready messages for one of them), between two partitions of a
 * queue. The sender owns it and frees it when the reply is back. */
struct sqs_note {
	struct sl_msg msg;
	uint64_t uid;
	uint32_t from, to;
	uint32_t count;  /* POKE: the polls `from` has messages for */
};

static void watch_fn(struct sl_worker *w, struct sl_msg *msg);
static void poke_fn(struct sl_worker *w, struct sl_msg *msg);
static void recv_call(struct sl_worker *w, struct sl_msg *msg);

static bool note_send(struct sl_worker *w, struct sqs_wpart *wp, uint32_t to, bool poke,
		      uint32_t count);

static void note_back(struct sl_worker *w, struct sl_msg *msg)
{
	struct sqs_note *nt = msg->arg;
	struct sqs_wpart *wp = wpart_if_open(w, nt->uid, nt->from);
	uint32_t bit = 1u << nt->to;
	bool poke = msg->fn == poke_fn;
	uint32_t to = nt->to;

	free(nt);
	if (!wp)
		return; /* the partition went meanwhile */
	if (poke) {
		wp->poke_out &= ~bit;
		notify_watchers(w, wp); /* watched again meanwhile, and still ready */
	} else {
		wp->watch_out &= ~bit;
		bool again = wp->watch_again & bit;
		wp->watch_again &= ~bit;
		if (again && wp->polls)
			note_send(w, wp, to, false, 0);
	}
}

/* Send a note from wp to partition `to` (a POKE for `count` polls); false
 * when it could not be made. A watch while one is on the way is sent again
 * once that one is back. */
static bool note_send(struct sl_worker *w, struct sqs_wpart *wp, uint32_t to, bool poke,
		      uint32_t count)
{
	uint32_t bit = 1u << to;
	uint32_t *out = poke ? &wp->poke_out : &wp->watch_out;

	if (*out & bit) {
		if (!poke)
			wp->watch_again |= bit;
		return true;
	}
	struct sqs_note *nt = malloc(sizeof(*nt));
	if (!nt)
		return false;
	*nt = (struct sqs_note){ .uid = wp->uid, .from = wp->part, .to = to, .count = count };
	nt->msg.fn = poke ? poke_fn : watch_fn;
	nt->msg.done = note_back;
	nt->msg.arg = nt;
	*out |= bit;
	sl_msg_send(w, part_owner(wp->uid, to), &nt->msg);
	return true;
}

/* Polls began to wait at wp: every other partition pokes it when it has
 * messages. Out of memory, a poll waits for its own partition or its
 * deadline. */
static void watch_all(struct sl_worker *w, struct sqs_wpart *wp)
{
	for (uint32_t p = 0; p < wp->nparts; p++)
		if (p != wp->part)
			note_send(w, wp, p, false, 0);
}

/* Ready messages here and no poll of this partition's to take them: poke
 * watching partitions in turn, each for a poll per ready message (up to
 * SL_SQS_POKE_POLLS), until the ready messages are spoken for. */
static void notify_watchers(struct sl_worker *w, struct sqs_wpart *wp)
{
	if (!wp->watchers || wp->polls)
		return;
	sqs_idx_promote(&wp->idx, sl_now_ms());
	uint64_t ready = wp->idx.n_state[SQS_READY];
	/* Bounded by the partitions. */
	for (uint32_t i = 0; i < wp->nparts && ready > 0; i++) {
		uint32_t p = (wp->poke_next + i) % wp->nparts, bit = 1u << p;
		if (!(wp->watchers & bit) || (wp->poke_out & bit))
			continue; /* a poke on the way: looked at again when it is back */
		uint32_t k = ready < SL_SQS_POKE_POLLS ? (uint32_t)ready : SL_SQS_POKE_POLLS;
		if (!note_send(w, wp, p, true, k))
			break;
		wp->watchers &= ~bit;
		ready -= k;
	}
	wp->poke_next = (wp->poke_next + 1) % wp->nparts;
}

/* On the partition watched: nt->from has polls waiting and asks to be
 * poked when this one has messages. */
static void watch_fn(struct sl_worker *w, struct sl_msg *msg)
{
	struct sqs_note *nt = msg->arg;
	uint64_t uid = nt->uid;
	uint32_t from = nt->from, to = nt->to;
	int err = 0;

	sl_msg_reply(w, msg); /* nt is the sender's from here */
	struct sqs_wpart *wp = queue_alive(uid) ? wpart_get(w, uid, to, &err) : NULL;
	if (!wp)
		return;
	wp->watchers |= 1u << from;
	notify_watchers(w, wp);
	arm_due(w, wp);
}

/* On a partition with polls waiting, poked by nt->from: its oldest polls
 * (as many as nt->count) go there to take what is ready, or to wait there. */
static void poke_fn(struct sl_worker *w, struct sl_msg *msg)
{
	struct sqs_note *nt = msg->arg;
	uint64_t uid = nt->uid;
	uint32_t from = nt->from, to = nt->to, count = nt->count;
	struct sqs_wpart *wp = wpart_if_open(w, uid, to);

	sl_msg_reply(w, msg);
	if (!wp)
		return;
	/* Bounded by count (at most SL_SQS_POKE_POLLS). */
	for (uint32_t i = 0; i < count && wp->polls; i++) {
		struct sqs_op *op = wp->polls;
		poll_unlink(wp, op);
		sl_worker_timer_cancel(w, &op->wait_timer);
		op->wp = NULL;
		op->part = from;
		op->scan_left = 0;
		op->msg.fn = recv_call;
		sl_msg_forward(w, part_owner(uid, from), &op->msg);
	}
	if (wp->polls)
		note_send(w, wp, from, false, 0); /* the others still wait here */
	arm_due(w, wp);
}

/* ---- SendMessage on the owner -------------------------------------------------- */

static void send_durable(struct sl_worker *w, struct sl_waiter *wt)
{
	struct sqs_op *op = wt->arg;
	struct sqs_wpart *wp = op->wp;
	struct sqs_m *m = sqs_idx_find(&wp->idx, op->wt.target_n - 1);

	assert(m && m->state == SQS_PENDING);
	if (!wt->reached) {
		/* Never durable: never received, never acknowledged, and no
		 * duplicate of it either (its window entry is void). */
		struct sqs_dedup_e *e = wp->fifo ? sqs_dedup_by_n(&wp->dd, op->wt.target_n - 1) : NULL;
		if (e)
			e->until_ms = INT64_MIN;
		sqs_idx_remove(&wp->idx, op->wt.target_n - 1);
		op_fail(op, SL_SQS_E_INTERNAL, "the message could not be stored");
		sl_msg_reply(w, &op->msg);
		return;
	}
	int64_t vis = m->sent_ms + (int64_t)op->delay_s * 1000;
	int rc = sqs_idx_set(&wp->idx, m, op->delay_s ? SQS_DELAYED : SQS_READY, vis);
	/* Out of memory: the message stays stored, and becomes receivable
	 * when a restart rebuilds the index. The send itself succeeded. */
	if (wp->st)
		stat_add(&wp->st->sends, 1);
	if (rc < 0)
		sl_warn("sqs: message %llu of queue %016llx is stored but not receivable until restart",
			(unsigned long long)(op->wt.target_n - 1), (unsigned long long)wp->uid);
	/* The reply hands op back to its sender (maybe another worker, which
	 * may free it at once): nothing of op is read after it. */
	bool delayed = op->delay_s != 0;
	sl_msg_reply(w, &op->msg);
	if (delayed)
		arm_due(w, wp);
	else
		serve_polls(w, wp);
}

/* A duplicate FIFO send: answered once the send it repeats is durable. */
static void dup_durable(struct sl_worker *w, struct sl_waiter *wt)
{
	struct sqs_op *op = wt->arg;

	if (!wt->reached)
		op_fail(op, SL_SQS_E_INTERNAL, "the message could not be stored");
	else if (op->wp->st)
		stat_add(&op->wp->st->sends, 1); /* accepted, as AWS counts it */
	sl_msg_reply(w, &op->msg);
}

/* FIFO: a send within the window of an earlier one with the same key is
 * accepted and stores nothing; it answers with the earlier message's id
 * and sequence number. Returns true when op was such a duplicate. */
static bool send_dedup(struct sl_worker *w, struct sqs_wpart *wp, struct sqs_op *op,
		       int64_t now)
{
	sqs_dedup_expire(&wp->dd, now, SL_SQS_DEDUP_EXPIRE_PER_SEND, dedup_gone, wp);
	struct sqs_dedup_e *e = sqs_dedup_find(&wp->dd, op->dkey, now);
	if (!e)
		return false;
	memcpy(op->id, e->msg_id, sizeof(op->id));
	op->seq_n = e->n;
	op->wt = (struct sl_waiter){ .target_n = e->n + 1, .cb = dup_durable, .arg = op };
	sl_worker_commit(w, wp->wl, &op->wt);
	return true;
}

static void send_call(struct sl_worker *w, struct sl_msg *msg)
{
	struct sqs_op *op = msg->arg;
	int err = 0;
	uint64_t n;

	assert(op->kind == OP_SEND);
	if (!queue_alive(op->uid)) {
		op_fail(op, SL_SQS_E_NONEXISTENT_QUEUE, "The specified queue does not exist.");
		sl_msg_reply(w, msg);
		return;
	}
	struct sqs_wpart *wp = wpart_get(w, op->uid, op->part, &err);
	if (!wp) {
		op_fail(op, SL_SQS_E_INTERNAL, "the queue's partition cannot be opened");
		sl_msg_reply(w, msg);
		return;
	}
	op->wp = wp;
	int64_t now = sl_now_ms();
	if (wp->fifo && send_dedup(w, wp, op, now))
		return;
	if (wp->fifo && sqs_dedup_count(&wp->dd) >= SL_SQS_DEDUP_MAX) {
		op_fail(op, SL_SQS_E_THROTTLED, "The deduplication window of this queue is full; "
						"retry later.");
		sl_msg_reply(w, msg);
		return;
	}
	int rc = sl_shardlog_append_typed(wp->wl->log, F_SEND, op->id, sizeof(op->id), op->rec,
					  op->rec_len, now, &n);
	if (rc == 0 && sqs_idx_add(&wp->idx, n, now, 0, SQS_PENDING,
				   wp->fifo && op->has_group ? op->gkey : NULL) < 0) {
		sl_shardlog_kill(wp->wl->log, n); /* staged, but never receivable */
		rc = -ENOMEM;
	}
	if (rc == 0 && wp->fifo &&
	    sqs_dedup_add(&wp->dd, op->dkey, op->id, n, now + SL_SQS_DEDUP_WINDOW_MS) < 0) {
		sqs_idx_remove(&wp->idx, n);
		sl_shardlog_kill(wp->wl->log, n);
		rc = -ENOMEM;
	}
	op->seq_n = n;
	if (rc < 0) {
		op_fail(op, SL_SQS_E_INTERNAL, rc == -ENOBUFS ? "the partition is busy, retry" :
							       "the message could not be stored");
		sl_msg_reply(w, msg);
		return;
	}
	op->wt = (struct sl_waiter){ .target_n = n + 1, .cb = send_durable, .arg = op };
	sl_worker_commit(w, wp->wl, &op->wt);
}

/* ---- ReceiveMessage on the owner ------------------------------------------------- */

enum {
	SYS_SENDER = 1u << 0,
	SYS_SENT = 1u << 1,
	SYS_RECEIVES = 1u << 2,
	SYS_FIRST_RECV = 1u << 3,
	SYS_TRACE = 1u << 4,
	SYS_GROUP = 1u << 5,
	SYS_DEDUP = 1u << 6,
	SYS_SEQ = 1u << 7,
	SYS_DLQ_SOURCE = 1u << 8,
	SYS_ALL = 0x1ff,
};

static void recv_read_next(struct sl_worker *w, struct sqs_op *op);

static void recv_durable(struct sl_worker *w, struct sl_waiter *wt)
{
	struct sqs_op *op = wt->arg;

	if (!wt->reached) {
		/* The receives were not recorded: the messages stay in flight
		 * and come back when their visibility timeout ends. */
		op_fail(op, SL_SQS_E_INTERNAL, "the receive could not be recorded");
		sl_msg_reply(w, &op->msg);
		return;
	}
	if (op->wp->st)
		stat_add(&op->wp->st->receives, op->ntaken);
	op->nread = 0;
	recv_read_next(w, op);
}

enum take_res { TAKE_OK, TAKE_GONE, TAKE_MOVING, TAKE_STOP };

/* One READY message m (record n) for receive op: taken (in flight, its
 * RECV staged), gone (purged, or expired and its delete staged), moving
 * to the dead-letter queue (hidden), or stop (the log is full: it stays
 * READY). *last becomes 1 + the newest record staged. */
static enum take_res take_one(struct sl_worker *w, struct sqs_op *op, struct sqs_m *m,
			      int64_t now, uint64_t *last)
{
	struct sqs_wpart *wp = op->wp;
	struct sl_shardlog *log = wp->wl->log;
	uint64_t n = m->n - 1, rn;

	if (purged(wp, m)) {
		/* The purge record covers it: no delete of its own. */
		msg_drop(wp, n);
		return TAKE_GONE;
	}
	if (now - m->sent_ms >= (int64_t)op->retention_s * 1000) {
		/* Past the queue's retention: deleted, and the delete is written
		 * so that a longer retention later cannot bring it back. */
		if (sl_shardlog_append_typed(log, F_DEL, NULL, 0, &n, sizeof(n), now, &rn) < 0) {
			sqs_idx_set(&wp->idx, m, SQS_READY, 0); /* next time */
			return TAKE_STOP;
		}
		sl_shardlog_kill(log, rn);
		msg_drop(wp, n);
		*last = rn + 1;
		return TAKE_GONE;
	}
	if (op->max_receives && m->receives >= op->max_receives) {
		/* Received maxReceiveCount times already: this receive moves it
		 * to the dead-letter queue instead. It is hidden meanwhile; no
		 * record is written, so a crash before the move lands only
		 * means it moves on a later receive. */
		if (sqs_idx_set(&wp->idx, m, SQS_INFLIGHT, now + SL_SQS_MOVE_RETRY_MS) < 0)
			sqs_idx_set(&wp->idx, m, SQS_READY, 0);
		else if (moves_in_flight < SL_SQS_MOVES_MAX)
			move_start(w, wp, n, op->dlq_uid, NULL);
		return TAKE_MOVING;
	}
	int64_t first = sqs_m_first_recv(m);
	struct rec_recv r = { n, m->receives + 1, 0, now + (int64_t)op->vis_s * 1000,
			      first ? first : now };
	if (sl_shardlog_append_typed(log, F_RECV, NULL, 0, &r, sizeof(r), now, &rn) < 0) {
		sqs_idx_set(&wp->idx, m, SQS_READY, 0);
		return TAKE_STOP;
	}
	sl_shardlog_kill(log, rn);
	m->receives = r.receives;
	sqs_m_set_last_recv(m, now);
	if (!first)
		sqs_m_set_first_recv(m, now);
	if (sqs_idx_set(&wp->idx, m, SQS_INFLIGHT, r.visible_ms) < 0) {
		/* The heap could not grow: visible again at once. */
		sqs_idx_set(&wp->idx, m, SQS_READY, 0);
	}
	op->taken[op->ntaken++] = (struct sqs_taken){ n, r.receives, r.first_recv_ms };
	*last = rn + 1;
	return TAKE_OK;
}

/* FIFO: take whole groups, each from its oldest message on, in the order
 * the groups became receivable. A group left with messages it could not
 * take goes back in line. */
static bool take_groups(struct sl_worker *w, struct sqs_op *op, int64_t now, uint64_t *last)
{
	struct sqs_idx *x = &op->wp->idx;
	bool stop = false;

	/* Each round empties one receivable group's turn or stops. */
	while (op->ntaken < op->max && !stop) {
		uint32_t g = sqs_idx_pop_group(x);
		if (!g)
			break;
		uint64_t ns[SL_SQS_RECV_MAX];
		uint32_t k = sqs_idx_group_ready(x, g, ns, op->max - op->ntaken);
		for (uint32_t i = 0; i < k; i++) {
			struct sqs_m *m = sqs_idx_find(x, ns[i]);
			enum take_res tr = m ? take_one(w, op, m, now, last) : TAKE_GONE;
			if (tr == TAKE_STOP)
				stop = true;
			if (tr == TAKE_STOP || tr == TAKE_MOVING)
				break; /* a hidden message blocks the rest of its group */
		}
		/* Every message of it gone (expired): its next ones may be due. */
		if (x->groups_cap > g && x->groups[g].live)
			sqs_idx_group_check(x, g);
	}
	return *last != 0;
}

static bool take_ready(struct sl_worker *w, struct sqs_op *op, int64_t now, uint64_t *last)
{
	/* Each round takes or drops one message, at most max taken. */
	while (op->ntaken < op->max) {
		struct sqs_m *m = sqs_idx_pop_ready(&op->wp->idx);
		if (!m || take_one(w, op, m, now, last) == TAKE_STOP)
			break;
	}
	return *last != 0;
}

static struct sqs_attempt *attempt_find(struct sqs_wpart *wp, const uint8_t *key, int64_t now)
{
	/* Bounded by the ring: a scan of at most SL_SQS_ATTEMPTS_MAX keys. */
	for (uint32_t i = 0; wp->attempts && i < SL_SQS_ATTEMPTS_MAX; i++) {
		struct sqs_attempt *a = &wp->attempts[i];
		if (a->until_ms > now && memcmp(a->key, key, 16) == 0)
			return a;
	}
	return NULL;
}

/* A retried FIFO receive (same ReceiveRequestAttemptId within 5 minutes):
 * when every message it returned is still in flight from that receive,
 * the same messages and handles again, with their visibility timeout
 * started anew. Returns true when op took them. */
static bool attempt_retry(struct sqs_op *op, int64_t now, uint64_t *last)
{
	struct sqs_wpart *wp = op->wp;
	struct sqs_attempt *a = attempt_find(wp, op->attempt, now);
	uint64_t rn;

	if (!a || a->count == 0)
		return false;
	for (uint32_t i = 0; i < a->count; i++) {
		struct sqs_m *m = sqs_idx_find(&wp->idx, a->m[i].n);
		if (!m || m->state != SQS_INFLIGHT || m->receives != a->m[i].receives ||
		    purged(wp, m))
			return false; /* changed since: a new receive */
	}
	for (uint32_t i = 0; i < a->count && i < op->max; i++) {
		struct sqs_m *m = sqs_idx_find(&wp->idx, a->m[i].n);
		struct rec_vis v = { a->m[i].n, now + (int64_t)op->vis_s * 1000 };
		if (sl_shardlog_append_typed(wp->wl->log, F_VIS, NULL, 0, &v, sizeof(v), now, &rn) < 0)
			break;
		sl_shardlog_kill(wp->wl->log, rn);
		int64_t first = sqs_m_first_recv(m);
		sqs_idx_set(&wp->idx, m, SQS_INFLIGHT, v.visible_ms);
		op->taken[op->ntaken++] = (struct sqs_taken){ a->m[i].n, a->m[i].receives, first };
		*last = rn + 1;
	}
	return op->ntaken > 0;
}

static void attempt_keep(struct sqs_op *op, int64_t now)
{
	struct sqs_wpart *wp = op->wp;

	if (!wp->attempts && !(wp->attempts = calloc(SL_SQS_ATTEMPTS_MAX, sizeof(*wp->attempts))))
		return; /* a retry then receives anew, as after the window */
	struct sqs_attempt *a = attempt_find(wp, op->attempt, now);
	if (!a) {
		a = &wp->attempts[wp->attempts_next];
		wp->attempts_next = (wp->attempts_next + 1) % SL_SQS_ATTEMPTS_MAX;
	}
	memcpy(a->key, op->attempt, 16);
	a->until_ms = now + SL_SQS_ATTEMPT_WINDOW_MS;
	a->count = op->ntaken;
	for (uint32_t i = 0; i < op->ntaken; i++) {
		a->m[i].n = op->taken[i].n;
		a->m[i].receives = op->taken[i].receives;
	}
}

/* Nothing at this partition: the receive goes on to the queue's next. */
static void recv_scan_on(struct sl_worker *w, struct sqs_op *op)
{
	op->scan_left--;
	op->part = (op->part + 1) % op->nparts;
	op->wp = NULL;
	op->msg.fn = recv_call;
	sl_msg_forward(w, part_owner(op->uid, op->part), &op->msg);
}

/* Take up to op->max ready messages; answer, try the next partition, or
 * wait when none is ready. */
static void recv_take(struct sl_worker *w, struct sqs_op *op)
{
	struct sqs_wpart *wp = op->wp;
	int64_t now = sl_now_ms();
	uint64_t last = 0;
	bool wrote = false;

	sqs_idx_promote(&wp->idx, now);
	if (wp->idx.n_state[SQS_INFLIGHT] >= SL_SQS_INFLIGHT_MAX / wp->nparts)
		op->over = true; /* this partition's share of AWS's 120,000 per queue */
	else if (wp->fifo && op->has_attempt && attempt_retry(op, now, &last))
		wrote = true;
	else
		wrote = wp->fifo ? take_groups(w, op, now, &last) : take_ready(w, op, now, &last);
	if (op->ntaken > 0) {
		if (wp->fifo && op->has_attempt)
			attempt_keep(op, now);
		op->wt = (struct sl_waiter){ .target_n = last, .cb = recv_durable, .arg = op };
		sl_worker_commit(w, wp->wl, &op->wt);
		return;
	}
	if (wrote) {
		/* Only expiries: make them durable, without waiting for them. */
		sl_worker_commit(w, wp->wl, NULL);
	}
	if (op->wait_s && !op->poll_until_ms)
		op->poll_until_ms = now + (int64_t)op->wait_s * 1000;
	if (op->scan_left > 0 && !sl_worker_stopping(w)) {
		recv_scan_on(w, op);
		return;
	}
	if (op->over) {
		op_fail(op, SL_SQS_E_OVER_LIMIT, "The maximum number of in flight messages is "
						 "reached.");
		sl_msg_reply(w, &op->msg);
		return;
	}
	if (op->poll_until_ms <= now || sl_worker_stopping(w)) {
		poll_answer(w, op);
		return;
	}
	/* Long poll: wait, costing nothing, until a send or a deadline. A
	 * wake-up that found nothing after all (the message expired, or went
	 * to its dead-letter queue) waits on for the rest of the time. */
	bool first = !wp->polls;
	op->polling = true;
	op->poll_next = NULL;
	*wp->polls_tail = op;
	wp->polls_tail = &op->poll_next;
	sl_worker_timer(w, &op->wait_timer, (uint64_t)(op->poll_until_ms - now), poll_timeout, op);
	arm_due(w, wp);
	if (first && wp->nparts > 1)
		watch_all(w, wp);
}

static void recv_call(struct sl_worker *w, struct sl_msg *msg)
{
	struct sqs_op *op = msg->arg;
	int err = 0;

	assert(op->kind == OP_RECV);
	if (!queue_alive(op->uid)) {
		op_fail(op, SL_SQS_E_NONEXISTENT_QUEUE, "The specified queue does not exist.");
		sl_msg_reply(w, msg);
		return;
	}
	op->wp = wpart_get(w, op->uid, op->part, &err);
	if (!op->wp) {
		op_fail(op, SL_SQS_E_INTERNAL, "the queue's partition cannot be opened");
		sl_msg_reply(w, msg);
		return;
	}
	recv_take(w, op);
}

/* A FIFO message's SequenceNumber: from its record number, so it grows
 * along the partition (and so along each group), 20 digits as AWS's. */
static void seq_fmt(uint64_t n, char out[24])
{
	snprintf(out, 24, "1%019llu", (unsigned long long)(n % 10000000000000000000ull));
}

static void put_seq(struct sl_enc *e, uint64_t n)
{
	char b[24];

	seq_fmt(n, b);
	sl_enc_key(e, "SequenceNumber");
	sl_enc_cstr(e, b);
}

static bool name_wanted(const struct sqs_op *op, const struct sl_sqs_attr *a)
{
	if (op->all_names)
		return true;
	for (uint32_t i = 0; i < op->nnames; i++) {
		const char *want = op->names[i];
		size_t wl = strlen(want);
		/* "prefix.*" takes every name under the prefix. */
		if (wl >= 2 && strcmp(want + wl - 2, ".*") == 0) {
			if (a->name_len >= wl - 1 && memcmp(a->name, want, wl - 1) == 0)
				return true;
		} else if (wl == a->name_len && memcmp(a->name, want, wl) == 0) {
			return true;
		}
	}
	return false;
}

static void put_u64(struct sl_req *req, const char *name, uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	sl_sqs_map_put(req, "Name", name, b);
}

/* Encode one received message (its SEND record) into the reply. */
static bool recv_one(void *arg, const struct sl_rec_view *r)
{
	struct sqs_op *op = arg;
	struct sl_req *req = op->req;
	struct sl_enc *e = &req->out;
	const struct sqs_taken *tk = &op->taken[op->nread];
	struct sl_sqs_stored m;
	char text[64], md5[33];

	const uint8_t *data;
	size_t len;
	if (!stored_of(r, &data, &len) || r->n != tk->n || sl_sqs_stored_decode(data, len, &m) < 0)
		return false; /* not this message: it is left out of the answer */
	if (!op->began) {
		sl_reply_begin(req);
		sl_sqs_list_begin(req, "Messages", "Message");
		op->began = true;
	}
	sl_enc_obj_begin(e);
	sl_sqs_uuid_fmt(r->key, text);
	sl_enc_key(e, "MessageId");
	sl_enc_cstr(e, text);
	struct sl_sqs_receipt rh = { op->uid, tk->n, op->part, tk->receives };
	char handle[SL_SQS_RECEIPT_LEN + 1];
	sl_sqs_receipt_fmt(&rh, handle);
	sl_enc_key(e, "ReceiptHandle");
	sl_enc_cstr(e, handle);
	sl_sqs_md5_hex(m.body, m.body_len, md5);
	sl_enc_key(e, "MD5OfBody");
	sl_enc_cstr(e, md5);
	sl_enc_key(e, "Body");
	sl_enc_str(e, (const char *)m.body, m.body_len);
	/* Only what this message has: a trace header, a group (FIFO, or a
	 * fair queue's), a deduplication id and sequence number (FIFO). */
	uint32_t sys = op->sys_want;
	if (!m.trace_len)
		sys &= ~SYS_TRACE;
	if (!m.group)
		sys &= ~SYS_GROUP;
	if (!m.dedup || !op->wp->fifo)
		sys &= ~SYS_DEDUP;
	if (!op->wp->fifo)
		sys &= ~SYS_SEQ;
	const struct sl_queue *src = m.source_uid ? sl_queue_find_uid(sl_catalog_get(), m.source_uid) :
						    NULL;
	if (!src)
		sys &= ~SYS_DLQ_SOURCE;
	if (sys) {
		sl_sqs_map_begin(req, "Attributes", "Attribute");
		if (sys & SYS_SENDER)
			sl_sqs_map_put(req, "Name", "SenderId", sl_cfg->account_id);
		if (sys & SYS_SENT)
			put_u64(req, "SentTimestamp", (uint64_t)m.sent_ms);
		if (sys & SYS_RECEIVES)
			put_u64(req, "ApproximateReceiveCount", tk->receives);
		if (sys & SYS_FIRST_RECV)
			put_u64(req, "ApproximateFirstReceiveTimestamp", (uint64_t)tk->first_recv_ms);
		if (sys & SYS_TRACE) {
			/* Whole, however long: never cut to a buffer. */
			sl_sqs_map_put_n(req, "Name", "AWSTraceHeader", (const char *)m.trace,
					 m.trace_len);
		}
		if (sys & SYS_GROUP)
			sl_sqs_map_put_n(req, "Name", "MessageGroupId", m.group, m.group_len);
		if (sys & SYS_DEDUP)
			sl_sqs_map_put_n(req, "Name", "MessageDeduplicationId", m.dedup, m.dedup_len);
		if (sys & SYS_SEQ) {
			char seq[24];
			seq_fmt(tk->n, seq);
			sl_sqs_map_put(req, "Name", "SequenceNumber", seq);
		}
		if (sys & SYS_DLQ_SOURCE) {
			char arn[SL_QUEUE_ARN_MAX];
			sl_queue_arn(src, arn);
			sl_sqs_map_put(req, "Name", "DeadLetterQueueSourceArn", arn);
		}
		sl_sqs_map_end(req);
	}
	struct sl_sqs_attr out[SL_SQS_ATTRS_MAX];
	unsigned nout = 0;
	for (unsigned i = 0; i < m.nattrs; i++) {
		if (name_wanted(op, &m.attrs[i]))
			out[nout++] = m.attrs[i];
	}
	if (nout) {
		sl_sqs_attrs_md5(out, nout, md5);
		sl_enc_key(e, "MD5OfMessageAttributes");
		sl_enc_cstr(e, md5);
		bool xml = e->fmt == SL_ENC_XML;
		if (xml) {
			sl_enc_key(e, "MessageAttribute");
			sl_enc_arr_begin_flat(e);
		} else {
			sl_enc_key(e, "MessageAttributes");
			sl_enc_obj_begin(e);
		}
		for (unsigned i = 0; i < nout; i++) {
			const struct sl_sqs_attr *a = &out[i];
			char name[SL_SQS_ATTR_NAME_MAX + 1], type[SL_SQS_ATTR_TYPE_MAX + 1];
			memcpy(name, a->name, a->name_len);
			name[a->name_len] = '\0';
			memcpy(type, a->type, a->type_len);
			type[a->type_len] = '\0';
			if (xml) {
				sl_enc_obj_begin(e);
				sl_enc_key(e, "Name");
				sl_enc_cstr(e, name);
				sl_enc_key(e, "Value");
			} else {
				sl_enc_key(e, name);
			}
			sl_enc_obj_begin(e);
			if (a->binary) {
				sl_enc_key(e, "BinaryValue");
				sl_enc_blob(e, a->value, a->value_len);
			} else {
				sl_enc_key(e, "StringValue");
				sl_enc_str(e, (const char *)a->value, a->value_len);
			}
			sl_enc_key(e, "DataType");
			sl_enc_cstr(e, type);
			sl_enc_obj_end(e);
			if (xml)
				sl_enc_obj_end(e);
		}
		if (xml)
			sl_enc_arr_end(e);
		else
			sl_enc_obj_end(e);
	}
	sl_enc_obj_end(e);
	return false; /* one record per cursor */
}

static void recv_pump(struct sl_worker *w, struct sqs_op *op);

/* A move or a compaction copy: keep a copy of the message's record. */
static bool move_one(void *arg, const struct sl_rec_view *r)
{
	struct sqs_op *op = arg;

	const uint8_t *data;
	size_t dlen;
	if (!stored_of(r, &data, &dlen) || r->n != op->taken[0].n)
		return false;
	if (op->kind == OP_COPY) {
		/* Compaction: the record as it is, behind the copy's header. */
		struct rec_copy h = { op->taken[0].n, op->taken[0].receives, 0,
				      op->taken[0].first_recv_ms };
		if (!(op->rec = malloc(sizeof(h) + dlen)))
			return false;
		memcpy(op->rec, &h, sizeof(h));
		memcpy(op->rec + sizeof(h), data, dlen);
		op->rec_len = (uint32_t)(sizeof(h) + dlen);
		memcpy(op->id, r->key, 16);
		return false;
	}
	/* No second delay where it goes. Into a dead-letter queue it takes
	 * its source along; a move task takes it back out without one. */
	long len = sl_sqs_stored_moved(data, dlen, op->task ? 0 : op->uid, &op->rec);
	if (len < 0) {
		op->rec = NULL;
		return false;
	}
	op->rec_len = (uint32_t)len;
	memcpy(op->id, r->key, 16);
	if (op->task && op->task->dest_uid == 0) {
		struct sl_sqs_stored m;
		if (sl_sqs_stored_decode(r->data, r->data_len, &m) == 0 && m.source_uid)
			op->dlq_uid = m.source_uid;
		if (!op->dlq_uid) {
			atomic_store(&op->task->failure, SL_SQS_TASK_NO_SOURCE);
			free(op->rec);
			op->rec = NULL;
		}
	}
	return false;
}

static void move_forward(struct sl_worker *w, struct sqs_op *op);
static void copy_append(struct sl_worker *w, struct sqs_op *op);

static void recv_cursor_done(struct sl_worker *w, struct sqs_op *op, int rc)
{
	sl_shardlog_cursor_end(op->wp->wl->log, &op->cur);
	if (rc < 0)
		sl_warn("sqs: reading message %llu: %s", (unsigned long long)op->taken[op->nread].n,
			strerror(-rc));
	op->nread++;
	recv_read_next(w, op);
}

static void recv_read_done(struct sl_worker *w, struct sl_aio *aio, int res)
{
	struct sqs_op *op = (struct sqs_op *)aio;

	if (res < 0) {
		recv_cursor_done(w, op, res);
		return;
	}
	op->buf_seg = op->cur.seg_first_n;
	op->buf_off = op->cur.off;
	op->buf_len = (size_t)res;
	int rc = sl_shardlog_cursor_feed(op->wp->wl->log, &op->cur, op->buf, (size_t)res,
					 op->kind >= OP_MOVE ? move_one : recv_one, op);
	if (rc != 0)
		recv_cursor_done(w, op, rc < 0 ? rc : 0);
	else
		recv_pump(w, op);
}

static void recv_open_done(struct sl_worker *w, struct sl_aio *aio, int res)
{
	struct sqs_op *op = (struct sqs_op *)aio;
	int rc = sl_shardlog_cursor_opened(op->wp->wl->log, &op->cur, res);

	if (rc < 0)
		recv_cursor_done(w, op, rc);
	else
		recv_pump(w, op);
}

/* Read the current message's record without blocking the worker. Bounded:
 * every round feeds bytes or ends. */
static void recv_pump(struct sl_worker *w, struct sqs_op *op)
{
	struct sl_shardlog *log = op->wp->wl->log;

	for (;;) {
		int fd;
		uint64_t off;
		size_t len;
		int rc = sl_shardlog_cursor_want(log, &op->cur, &fd, &off, &len);
		if (rc == 2) {
			if (!op->path && !(op->path = malloc(PATH_MAX))) {
				recv_cursor_done(w, op, -ENOMEM);
				return;
			}
			sl_shardlog_cursor_path(log, &op->cur, op->path, PATH_MAX);
			op->aio.done = recv_open_done;
			rc = sl_worker_open_rdonly(w, &op->aio, op->path);
			if (rc < 0)
				recv_cursor_done(w, op, rc);
			return;
		}
		if (rc != 0) {
			recv_cursor_done(w, op, rc < 0 ? rc : 0);
			return;
		}
		if (op->buf_len && op->buf_seg == op->cur.seg_first_n && off >= op->buf_off &&
		    off + len <= op->buf_off + op->buf_len) {
			/* Already read: every message this request took was
			 * written before it read, so these bytes are final. */
			rc = sl_shardlog_cursor_feed(log, &op->cur, op->buf + (off - op->buf_off), len,
						     op->kind >= OP_MOVE ? move_one : recv_one, op);
			if (rc != 0) {
				recv_cursor_done(w, op, rc < 0 ? rc : 0);
				return;
			}
			continue;
		}
		if (len > op->buf_cap) {
			free(op->buf);
			op->buf = malloc(len);
			op->buf_cap = op->buf ? len : 0;
			if (!op->buf) {
				recv_cursor_done(w, op, -ENOMEM);
				return;
			}
		}
		op->aio.done = recv_read_done;
		op->buf_len = 0;
		rc = sl_worker_read_nowait(w, &op->aio, fd, op->buf, len, off);
		if (rc <= 0) {
			if (rc < 0)
				recv_cursor_done(w, op, rc);
			return; /* recv_read_done goes on */
		}
		op->buf_seg = op->cur.seg_first_n;
		op->buf_off = off;
		op->buf_len = len;
		rc = sl_shardlog_cursor_feed(log, &op->cur, op->buf, len,
					     op->kind >= OP_MOVE ? move_one : recv_one, op);
		if (rc != 0) {
			recv_cursor_done(w, op, rc < 0 ? rc : 0);
			return;
		}
	}
}

static void recv_read_next(struct sl_worker *w, struct sqs_op *op)
{
	struct sl_shardlog *log = op->wp->wl->log;

	if (op->nread == op->ntaken && op->kind == OP_MOVE) {
		move_forward(w, op);
		return;
	}
	if (op->nread == op->ntaken && op->kind == OP_COPY) {
		copy_append(w, op);
		return;
	}
	if (op->nread == op->ntaken) {
		if (!op->began)
			sl_reply_begin(op->req);
		else
			sl_sqs_list_end(op->req);
		sl_reply_end(op->req);
		free(op->buf);
		free(op->path);
		op->buf = NULL;
		op->path = NULL;
		sl_msg_reply(w, &op->msg);
		return;
	}
	int rc = sl_shardlog_cursor_start(log, &op->cur, op->taken[op->nread].n, INT64_MIN, 1,
					  UINT64_MAX);
	if (rc != 0) {
		recv_cursor_done(w, op, rc > 0 ? -EIO : rc);
		return;
	}
	recv_pump(w, op);
}

/* ---- Dead-letter moves ------------------------------------------------------------ */

static void task_move_back(struct sl_sqs_task *t, bool moved);

static void move_free(struct sqs_op *op)
{
	assert(moves_in_flight > 0);
	moves_in_flight--;
	if (op->task)
		task_move_back(op->task, false);
	free(op->buf);
	free(op->path);
	free(op->rec);
	free(op);
}

/* Read message n of wp, then send it to the dead-letter queue's owner. */
static void move_start(struct sl_worker *w, struct sqs_wpart *wp, uint64_t n, uint64_t dlq_uid,
		       struct sl_sqs_task *task)
{
	struct sqs_op *op = calloc(1, sizeof(*op));

	if (!op)
		return; /* it stays hidden and moves on a later receive */
	moves_in_flight++;
	op->task = task;
	if (task)
		task->inflight++;
	op->kind = OP_MOVE;
	op->wp = wp;
	op->uid = wp->uid;
	op->part = wp->part;
	op->dlq_uid = dlq_uid;
	op->taken[0].n = n;
	op->ntaken = 1;
	recv_read_next(w, op);
}

static void move_durable(struct sl_worker *w, struct sl_waiter *wt)
{
	struct sqs_op *op = wt->arg;
	struct sqs_wpart *dq = op->wp;
	struct sqs_m *m = sqs_idx_find(&dq->idx, op->wt.target_n - 1);

	assert(m && m->state == SQS_PENDING);
	if (!wt->reached) {
		sqs_idx_remove(&dq->idx, op->wt.target_n - 1);
		op->err = SL_SQS_E_INTERNAL + 1;
	} else if (sqs_idx_set(&dq->idx, m, SQS_READY, 0) == 0) {
		serve_polls(w, dq);
	}
	sl_msg_reply(w, &op->msg);
}

/* On the dead-letter queue's owner: store the message there. */
static void move_call(struct sl_worker *w, struct sl_msg *msg)
{
	struct sqs_op *op = msg->arg;
	int err = 0;
	uint64_t n;

	op->err = SL_SQS_E_INTERNAL + 1;
	struct sqs_wpart *dq = queue_alive(op->dlq_uid) ? wpart_get(w, op->dlq_uid, op->dlq_part,
								    &err) : NULL;
	if (!dq) {
		sl_msg_reply(w, msg);
		return;
	}
	int64_t now = sl_now_ms();
	if (sl_shardlog_append_typed(dq->wl->log, F_SEND, op->id, sizeof(op->id), op->rec,
				     op->rec_len, now, &n) < 0) {
		sl_msg_reply(w, msg);
		return;
	}
	/* Into a FIFO dead-letter queue it keeps its group, at the end. */
	struct sl_sqs_stored m;
	uint8_t gk[16];
	bool grouped = dq->fifo && sl_sqs_stored_decode(op->rec, op->rec_len, &m) == 0 && m.group;
	if (grouped)
		group_key(m.group, m.group_len, gk);
	if (sqs_idx_add(&dq->idx, n, now, 0, SQS_PENDING, grouped ? gk : NULL) < 0) {
		sl_shardlog_kill(dq->wl->log, n);
		sl_msg_reply(w, msg);
		return;
	}
	op->err = 0;
	op->wp = dq; /* on this thread from here until the reply */
	op->wt = (struct sl_waiter){ .target_n = n + 1, .cb = move_durable, .arg = op };
	sl_worker_commit(w, dq->wl, &op->wt);
}

/* Back on the source: the copy is durable in the dead-letter queue, so the
 * original goes. A crash in between leaves it in both (at least once). */
static void move_done(struct sl_worker *w, struct sl_msg *msg)
{
	struct sqs_op *op = msg->arg;
	struct sqs_wpart *wp = wpart_if_open(w, op->uid, op->part);
	uint64_t n = op->taken[0].n, rn;

	if (op->task) {
		struct sl_sqs_task *t = op->task;
		if (op->err)
			atomic_store(&t->failure, SL_SQS_TASK_DEST_GONE);
		else
			atomic_store(&t->moved, atomic_load(&t->moved) + 1);
	}
	if (!op->err && wp) {
		struct sl_wlog *wl = wp->wl;
		struct sqs_m *m = sqs_idx_find(&wp->idx, n);
		if (m && sl_shardlog_append_typed(wl->log, F_DEL, NULL, 0, &n, sizeof(n), sl_now_ms(),
						  &rn) == 0) {
			sl_shardlog_kill(wl->log, rn);
			msg_drop(wp, n);
			sl_worker_commit(w, wl, NULL);
		}
	}
	move_free(op);
}

static void move_forward(struct sl_worker *w, struct sqs_op *op)
{
	if (!op->rec) {
		move_free(op); /* unreadable: it stays hidden, a later receive retries */
		return;
	}
	/* Into a partition of the destination this worker owns, if any. */
	const struct sl_queue *dq = sl_queue_find_uid(sl_catalog_get(), op->dlq_uid);
	op->dlq_part = dq ? part_local(w, dq) : 0;
	op->msg.fn = move_call;
	op->msg.done = move_done;
	op->msg.arg = op;
	sl_msg_send(w, part_owner(op->dlq_uid, op->dlq_part), &op->msg);
}

/* ---- Compaction --------------------------------------------------------------------- */

/* A standard queue's log loses its front segment once every record in it
 * is dead; one old message would keep it, and every later one, on disk.
 * So when the front segment (with two more behind it) holds few live
 * records (at most 1 in SL_SQS_COMPACT_RATIO), its ready and delayed
 * messages are copied to the end of the log, a COPY record each, a few per
 * second: the segment dies and goes. A message under copy is hidden (in
 * flight, as far as receives go) and listed in wp->copies; a delete of it
 * deletes both records, a visibility change is refused as for a message
 * not in flight. Once the copy is durable the message lives at its new
 * record with its id, send time and receive count, and its old record
 * dies; a crash before leaves it where it was. Messages in flight stay
 * (their receipt handles name the record). FIFO queues are not compacted:
 * a copy would change a message's place in its group. */

static struct sqs_op *copy_of(const struct sqs_wpart *wp, uint64_t n)
{
	for (uint32_t i = 0; i < wp->ncopies; i++)
		if (wp->copies[i]->taken[0].n == n)
			return wp->copies[i];
	return NULL;
}

static void compact_kick(struct sl_worker *w, struct sqs_wpart *wp);

/* kick: look for the next copy (not while the partition is going). */
static void copy_end(struct sl_worker *w, struct sqs_wpart *wp, struct sqs_op *op, bool kick)
{
	for (uint32_t i = 0; i < wp->ncopies; i++) {
		if (wp->copies[i] == op) {
			wp->copies[i] = wp->copies[--wp->ncopies];
			break;
		}
	}
	move_free(op);
	if (kick)
		compact_kick(w, wp); /* room for the next copy */
}

/* The message of op, when it is still the one op hid. */
static struct sqs_m *copy_target(struct sqs_wpart *wp, struct sqs_op *op)
{
	struct sqs_m *m = sqs_idx_find(&wp->idx, op->taken[0].n);

	return m && !op->copy_deleted && m->state == SQS_INFLIGHT && m->visible_ms == op->copy_hide_ms &&
	       !purged(wp, m) ? m : NULL;
}

/* The copy did not happen: the message is as it was. */
static void copy_undo(struct sl_worker *w, struct sqs_op *op, bool serve)
{
	struct sqs_wpart *wp = op->wp;
	struct sqs_m *m = copy_target(wp, op);

	if (m && sqs_idx_set(&wp->idx, m, (enum sqs_state)op->copy_state, op->copy_vis_ms) == 0 &&
	    serve)
		serve_polls(w, wp);
	copy_end(w, wp, op, serve);
}

static void copy_durable(struct sl_worker *w, struct sl_waiter *wt)
{
	struct sqs_op *op = wt->arg;
	struct sqs_wpart *wp = op->wp;
	uint64_t n = op->taken[0].n;

	if (!wt->reached) {
		copy_undo(w, op, false); /* the log failed, or the queue is going */
		return;
	}
	struct sqs_m *m = copy_target(wp, op);
	if (!m) {
		/* Deleted or purged meanwhile (the delete wrote one for the
		 * copy too): the copy dies. */
		sl_shardlog_kill(wp->wl->log, op->copy_n);
		copy_end(w, wp, op, true);
		return;
	}
	int64_t sent = m->sent_ms, first = sqs_m_first_recv(m);
	uint32_t receives = m->receives;
	enum sqs_state st = (enum sqs_state)op->copy_state;
	msg_drop(wp, n);
	if (sqs_idx_add(&wp->idx, op->copy_n, sent, op->copy_vis_ms, st, NULL) < 0) {
		sl_warn("sqs: message %llu of queue %016llx is stored but not receivable until restart",
			(unsigned long long)op->copy_n, (unsigned long long)wp->uid);
	} else {
		struct sqs_m *c = sqs_idx_find(&wp->idx, op->copy_n);
		c->receives = receives;
		if (first)
			sqs_m_set_first_recv(c, first);
		if (wp->st)
			stat_add(&wp->st->compacted, 1);
	}
	copy_end(w, wp, op, true);
	if (st == SQS_READY)
		serve_polls(w, wp);
	else
		arm_due(w, wp);
}

/* The message's record is read (op->rec): append its copy. */
static void copy_append(struct sl_worker *w, struct sqs_op *op)
{
	struct sqs_wpart *wp = op->wp;
	uint64_t n1;

	if (!op->rec || !copy_target(wp, op) ||
	    sl_shardlog_append_typed(wp->wl->log, F_COPY, op->id, sizeof(op->id), op->rec,
				     op->rec_len, sl_now_ms(), &n1) < 0) {
		copy_undo(w, op, true);
		return;
	}
	op->copy_n = n1;
	op->wt = (struct sl_waiter){ .target_n = n1 + 1, .cb = copy_durable, .arg = op };
	sl_worker_commit(w, wp->wl, &op->wt);
}

/* Hide m and start reading its record for a copy. false: nothing started. */
static bool copy_start(struct sl_worker *w, struct sqs_wpart *wp, struct sqs_m *m, int64_t now)
{
	struct sqs_op *op = calloc(1, sizeof(*op));

	if (!op)
		return false;
	op->kind = OP_COPY;
	op->wp = wp;
	op->uid = wp->uid;
	op->part = wp->part;
	op->taken[0] = (struct sqs_taken){ m->n - 1, m->receives, sqs_m_first_recv(m) };
	op->ntaken = 1;
	op->copy_state = (uint8_t)m->state;
	op->copy_vis_ms = m->visible_ms;
	op->copy_hide_ms = now + (int64_t)SL_SQS_VISIBILITY_MAX_S * 1000 + 1;
	if (sqs_idx_set(&wp->idx, m, SQS_INFLIGHT, op->copy_hide_ms) < 0) {
		free(op);
		return false;
	}
	moves_in_flight++;
	wp->copies[wp->ncopies++] = op;
	recv_read_next(w, op);
	return true;
}

/* Whether the front segment is worth compacting now: two more behind it,
 * some live records, at most 1 in SL_SQS_COMPACT_RATIO of them. */
static bool compact_due(struct sqs_wpart *wp, uint64_t *first, uint64_t *end)
{
	struct sl_shardlog *log = wp->wl->log;
	uint64_t live, f2, e2, l2;

	return !wp->fifo && !wp->sweeping && sl_shardlog_segment(log, 2, &f2, &e2, &l2) == 0 &&
	       sl_shardlog_segment(log, 0, first, end, &live) == 0 && live > 0 &&
	       live * SL_SQS_COMPACT_RATIO <= *end - *first;
}

/* One step, once per loop iteration while there is work: looks at
 * SL_SQS_COMPACT_CHUNK records of the front segment and starts copies of
 * those that are ready or delayed, at most SL_SQS_COMPACT_INFLIGHT at once.
 * Bounded, so the worker never stalls on a segment of a million records. */
static void compact_step(struct sl_worker *w, struct sl_msg *msg)
{
	struct sqs_wpart *wp = msg->arg;
	uint64_t first, end;

	wp->compacting = false;
	if (sl_worker_stopping(w) || !compact_due(wp, &first, &end))
		return;
	if (wp->compact_n < first || wp->compact_n >= end)
		wp->compact_n = first;
	int64_t now = sl_now_ms();
	for (uint32_t looked = 0; wp->compact_n < end && looked < SL_SQS_COMPACT_CHUNK &&
				  wp->ncopies < SL_SQS_COMPACT_INFLIGHT &&
				  moves_in_flight < SL_SQS_MOVES_MAX;
	     looked++, wp->compact_n++) {
		struct sqs_m *m = sqs_idx_find(&wp->idx, wp->compact_n);
		if (!m || (m->state != SQS_READY && m->state != SQS_DELAYED) || purged(wp, m))
			continue;
		if (!copy_start(w, wp, m, now))
			return; /* out of memory: the next tick tries again */
	}
	/* More of the segment to look at, and room for copies: go on next
	 * iteration. Without room, the end of a copy kicks it again; at the
	 * segment's end, the next tick starts over (messages that were in
	 * flight may be ready by then). */
	if (wp->compact_n < end && wp->ncopies < SL_SQS_COMPACT_INFLIGHT &&
	    moves_in_flight < SL_SQS_MOVES_MAX)
		compact_kick(w, wp);
}

static void compact_kick(struct sl_worker *w, struct sqs_wpart *wp)
{
	if (wp->compacting || wp->fifo)
		return;
	wp->compacting = true;
	wp->compact_msg = (struct sl_msg){ .type = SL_MSG_CALL, .fn = compact_step, .arg = wp };
	sl_worker_defer(w, &wp->compact_msg);
}

/* Once a second: compaction starts (again) if the front segment is due. */
static void compact_tick(struct sl_worker *w, struct sqs_wpart *wp)
{
	uint64_t first, end;

	if (compact_due(wp, &first, &end))
		compact_kick(w, wp);
}

/* ---- Message move tasks ------------------------------------------------------------ */

static void task_end(struct sl_sqs_task *t, enum sl_sqs_task_status st)
{
	struct sqs_wpart *wp = t->wp;

	if (wp && wp->task == t)
		wp->task = NULL;
	t->wp = NULL;
	atomic_store(&t->status, st);
}

/* A move of task t came back (moved or not). */
static void task_move_back(struct sl_sqs_task *t, bool moved)
{
	(void)moved;
	assert(t->inflight > 0);
	t->inflight--;
	/* Its queue went meanwhile: the task ends with the last move. */
	if (!t->wp && t->inflight == 0 && atomic_load(&t->status) == SL_SQS_TASK_RUNNING)
		atomic_store(&t->status, SL_SQS_TASK_FAILED);
}

/* The next message a task moves: the oldest ready one (FIFO: a group's
 * oldest, which blocks the group until its move is done), or NULL. */
static struct sqs_m *task_next(struct sqs_wpart *wp)
{
	if (!wp->fifo)
		return sqs_idx_pop_ready(&wp->idx);
	uint32_t g = sqs_idx_pop_group(&wp->idx);
	uint64_t n;
	return g && sqs_idx_group_ready(&wp->idx, g, &n, 1) == 1 ? sqs_idx_find(&wp->idx, n) : NULL;
}

static bool task_hand_on(struct sl_worker *w, struct sl_sqs_task *t);

static void task_tick(struct sl_timer *tm, void *arg)
{
	struct sl_sqs_task *t = arg;
	struct sqs_wpart *wp = t->wp;
	struct sl_worker *w = wp->wl->owner;
	int64_t now = sl_now_ms();
	uint32_t failure = atomic_load(&t->failure);

	(void)tm;
	if (atomic_load(&t->cancel) || failure != SL_SQS_TASK_OK) {
		/* No new moves; the task ends once those in flight are back. */
		if (t->inflight == 0) {
			task_end(t, failure != SL_SQS_TASK_OK ? SL_SQS_TASK_FAILED :
								SL_SQS_TASK_CANCELLED);
			return;
		}
		sl_worker_timer(w, &t->timer, SL_SQS_TASK_TICK_MS, task_tick, t);
		return;
	}
	if (t->rate) {
		/* A token bucket of one second's worth. */
		t->tokens += (double)t->rate * (double)(now - t->last_ms) / 1000.0;
		if (t->tokens > t->rate)
			t->tokens = t->rate;
	} else {
		t->tokens = SL_SQS_TASK_CHUNK;
	}
	t->last_ms = now;
	sqs_idx_promote(&wp->idx, now);
	/* Each round starts one move or stops. */
	while (t->tokens >= 1.0 && t->inflight < SL_SQS_TASK_INFLIGHT &&
	       moves_in_flight < SL_SQS_MOVES_MAX) {
		struct sqs_m *m = task_next(wp);
		if (!m)
			break;
		uint64_t n = m->n - 1;
		if (purged(wp, m)) {
			msg_drop(wp, n);
			continue;
		}
		if (sqs_idx_set(&wp->idx, m, SQS_INFLIGHT, now + SL_SQS_MOVE_RETRY_MS) < 0)
			break;
		t->tokens -= 1.0;
		move_start(w, wp, n, t->dest_uid, t);
	}
	if (t->inflight == 0 && atomic_load(&t->failure) != SL_SQS_TASK_OK) {
		task_end(t, SL_SQS_TASK_FAILED); /* a move that failed came back at once */
		return;
	}
	if (t->inflight == 0 && !sqs_idx_any_ready(&wp->idx)) {
		if (t->part + 1 >= wp->nparts) {
			task_end(t, SL_SQS_TASK_COMPLETED);
			return;
		}
		if (task_hand_on(w, t))
			return; /* on to the next partition */
		/* Out of memory: again next round. */
	}
	sl_worker_timer(w, &t->timer, SL_SQS_TASK_TICK_MS, task_tick, t);
}

/* A task goes from partition to partition of its source queue, one after
 * another: the rate and the one task per queue stay as they are. The
 * hand-over message is the sender's (a task may end, and be reused by the
 * control thread, before the reply is back). */
struct task_hand {
	struct sl_msg msg;
	struct sl_sqs_task *t;
};

static void task_leg_fn(struct sl_worker *w, struct sl_msg *msg)
{
	struct task_hand *h = msg->arg;
	struct sl_sqs_task *t = h->t;
	int err = 0;

	sl_msg_reply(w, msg);
	struct sqs_wpart *wp = queue_alive(t->src_uid) ? wpart_get(w, t->src_uid, t->part, &err) :
							 NULL;
	if (!wp) {
		atomic_store(&t->failure, SL_SQS_TASK_QUEUE_GONE);
		atomic_store(&t->status, SL_SQS_TASK_FAILED);
		return;
	}
	wp->task = t;
	t->wp = wp;
	t->last_ms = sl_now_ms();
	sl_worker_timer(w, &t->timer, 0, task_tick, t);
}

static void task_hand_back(struct sl_worker *w, struct sl_msg *msg)
{
	(void)w;
	free(msg->arg);
}

static bool task_hand_on(struct sl_worker *w, struct sl_sqs_task *t)
{
	struct task_hand *h = malloc(sizeof(*h));

	if (!h)
		return false;
	((struct sqs_wpart *)t->wp)->task = NULL;
	t->wp = NULL;
	t->part++;
	h->t = t;
	h->msg.fn = task_leg_fn;
	h->msg.done = task_hand_back;
	h->msg.arg = h;
	sl_msg_send(w, part_owner(t->src_uid, t->part), &h->msg);
	return true;
}

struct task_call {
	struct sl_msg msg;
	struct sl_sqs_task *t;
	int rc;
};

static void task_start_fn(struct sl_worker *w, struct sl_msg *msg)
{
	struct task_call *tc = msg->arg;
	struct sl_sqs_task *t = tc->t;
	int err = 0;
	struct sqs_wpart *wp = queue_alive(t->src_uid) ? wpart_get(w, t->src_uid, 0, &err) : NULL;

	tc->rc = wp ? 0 : err ? err : -ENOENT;
	if (wp && wp->task)
		tc->rc = -EBUSY;
	if (tc->rc == 0) {
		wp->task = t;
		t->wp = wp;
		t->last_ms = sl_now_ms();
		t->tokens = t->rate ? 1.0 : 0.0;
		atomic_store(&t->status, SL_SQS_TASK_RUNNING);
		sl_worker_timer(w, &t->timer, 0, task_tick, t);
	}
	sl_msg_reply(w, msg);
}

int sl_sqs_task_start(struct sl_sqs_task *t, uint64_t *to_move)
{
	struct task_call tc = { .t = t };
	struct sl_msg *msgs[1] = { &tc.msg };
	uint16_t to[1] = { part_owner(t->src_uid, 0) };
	uint64_t counts[3];

	/* What the queue holds as the task starts, on every partition. */
	sl_sqs_counts(t->src_uid, counts);
	*to_move = counts[0] + counts[1] + counts[2];
	t->part = 0;
	tc.msg.fn = task_start_fn;
	tc.msg.arg = &tc;
	sl_control_call_wait(msgs, to, 1);
	return tc.rc;
}

/* ---- DeleteMessage and ChangeMessageVisibility on the owner ---------------------- */

static void change_durable(struct sl_worker *w, struct sl_waiter *wt)
{
	struct sqs_op *op = wt->arg;

	if (!wt->reached)
		op_fail(op, SL_SQS_E_INTERNAL, "the change could not be recorded");
	sl_msg_reply(w, &op->msg);
}

static void change_call(struct sl_worker *w, struct sl_msg *msg)
{
	struct sqs_op *op = msg->arg;
	int err = 0;
	uint64_t rn = 0;

	if (!queue_alive(op->uid)) {
		op_fail(op, SL_SQS_E_NONEXISTENT_QUEUE, "The specified queue does not exist.");
		sl_msg_reply(w, msg);
		return;
	}
	struct sqs_wpart *wp = op->wp = wpart_get(w, op->uid, op->part, &err);
	if (!wp) {
		op_fail(op, SL_SQS_E_INTERNAL, "the queue's partition cannot be opened");
		sl_msg_reply(w, msg);
		return;
	}
	struct sl_shardlog *log = wp->wl->log;
	struct sqs_m *m = sqs_idx_find(&wp->idx, op->rh.n);
	if (m && purged(wp, m))
		m = NULL; /* purged: as if deleted */
	int64_t now = sl_now_ms();
	/* A handle of an earlier receive names a message that was received
	 * again since: as AWS does, a delete with it succeeds and deletes
	 * nothing, a visibility change with it fails. */
	bool current = m && m->receives == op->rh.rseq;
	/* Under a compaction copy: to the client it is a message not in
	 * flight (its visibility timeout ended). */
	struct sqs_op *copy = m && wp->ncopies ? copy_of(wp, op->rh.n) : NULL;
	if (op->kind == OP_DEL) {
		if (!current) {
			sl_msg_reply(w, msg);
			return;
		}
		uint64_t n = op->rh.n;
		if (sl_shardlog_append_typed(log, F_DEL, NULL, 0, &n, sizeof(n), now, &rn) < 0) {
			op_fail(op, SL_SQS_E_INTERNAL, "the delete could not be recorded");
			sl_msg_reply(w, msg);
			return;
		}
		sl_shardlog_kill(log, rn);
		if (copy) {
			/* Its copy, once written, is deleted too, so that a replay
			 * that moves the message to it deletes it there. */
			uint64_t cn = copy->copy_n, rn2;
			copy->copy_deleted = true;
			if (cn && sl_shardlog_append_typed(log, F_DEL, NULL, 0, &cn, sizeof(cn), now,
							   &rn2) == 0) {
				sl_shardlog_kill(log, rn2);
				rn = rn2;
			} else if (cn) {
				op_fail(op, SL_SQS_E_INTERNAL, "the delete could not be recorded");
				sl_msg_reply(w, msg);
				return;
			}
		}
		msg_drop(wp, n);
		if (wp->st)
			stat_add(&wp->st->deletes, 1);
	} else {
		if (!current || m->state != SQS_INFLIGHT || copy) {
			op_fail(op, SL_SQS_E_MESSAGE_NOT_INFLIGHT, "Message does not exist or is not "
								   "available for visibility timeout "
								   "change.");
			sl_msg_reply(w, msg);
			return;
		}
		/* AWS: at most 12 hours in flight from the receive, in all. */
		int64_t since = sqs_m_last_recv(m);
		if (since && now + op->new_vis_s * 1000 > since + SL_SQS_VISIBILITY_MAX_S * 1000LL) {
			op_fail(op, SL_SQS_E_INVALID_PARAMETER_VALUE,
				"Value for parameter VisibilityTimeout is invalid. Reason: Total "
				"VisibilityTimeout for the message is beyond the limit [43200 seconds]");
			sl_msg_reply(w, msg);
			return;
		}
		struct rec_vis v = { op->rh.n, now + op->new_vis_s * 1000 };
		if (sl_shardlog_append_typed(log, F_VIS, NULL, 0, &v, sizeof(v), now, &rn) < 0) {
			op_fail(op, SL_SQS_E_INTERNAL, "the change could not be recorded");
			sl_msg_reply(w, msg);
			return;
		}
		sl_shardlog_kill(log, rn);
		if (sqs_idx_set(&wp->idx, m, SQS_INFLIGHT, v.visible_ms) < 0) {
			op_fail(op, SL_SQS_E_INTERNAL, "out of memory");
			sl_msg_reply(w, msg);
			return;
		}
		if (op->new_vis_s == 0)
			serve_polls(w, wp);
		else
			arm_due(w, wp);
	}
	op->wt = (struct sl_waiter){ .target_n = rn + 1, .cb = change_durable, .arg = op };
	sl_worker_commit(w, wp->wl, &op->wt);
}

/* ---- On the receiving worker ------------------------------------------------------ */

static void op_reply(struct sl_worker *w, struct sqs_op *op)
{
	struct sl_req *req = op->req;

	if (op->err) {
		sl_sqs_error(req, (enum sl_sqs_err)(op->err - 1), "%s", op->err_msg);
		sl_req_finish(w, req);
		return;
	}
	if (op->kind == OP_SEND) {
		char id[37];
		sl_sqs_uuid_fmt(op->id, id);
		sl_reply_begin(req);
		sl_enc_key(&req->out, "MessageId");
		sl_enc_cstr(&req->out, id);
		sl_enc_key(&req->out, "MD5OfMessageBody");
		sl_enc_cstr(&req->out, op->md5_body);
		if (op->has_attrs) {
			sl_enc_key(&req->out, "MD5OfMessageAttributes");
			sl_enc_cstr(&req->out, op->md5_attrs);
		}
		if (op->has_sys) {
			sl_enc_key(&req->out, "MD5OfMessageSystemAttributes");
			sl_enc_cstr(&req->out, op->md5_sys);
		}
		if (op->fifo)
			put_seq(&req->out, op->seq_n);
		sl_reply_end(req);
	} else if (op->kind == OP_DEL || op->kind == OP_VIS) {
		sl_reply_begin(req);
		sl_reply_end(req);
	}
	/* OP_RECV: the owner wrote the reply. */
	sl_req_finish(w, req);
}

static void op_done(struct sl_worker *w, struct sl_msg *msg)
{
	op_reply(w, msg->arg);
}

static void op_dispatch(struct sl_worker *w, struct sqs_op *op, void (*fn)(struct sl_worker *,
									   struct sl_msg *))
{
	op->msg.fn = fn;
	op->msg.done = op_done;
	op->msg.arg = op;
	sl_msg_send(w, part_owner(op->uid, op->part), &op->msg);
}

/* The queue a request names, from this iteration's catalog; NULL with the
 * error set. */
static const struct sl_queue *op_queue(struct sl_worker *w, struct sl_req *req,
				       struct sl_fields *f)
{
	char name[SL_SQS_NAME_MAX + 1];

	if (sl_sqs_parse(req, sl_worker_toks(w), SL_DOC_TOKS_MAX, f) < 0 ||
	    sl_sqs_queue_name(f, name) < 0)
		return NULL;
	const struct sl_queue *q = sl_queue_find(sl_catalog_get(), req->region, name);
	if (!q) {
		sl_sqs_error(req, SL_SQS_E_NONEXISTENT_QUEUE, "The specified queue does not exist.");
		return NULL;
	}
	return q;
}

static struct sqs_op *op_new(struct sl_req *req, const struct sl_queue *q, uint8_t kind,
			     size_t extra)
{
	struct sqs_op *op = sl_req_scratch(req, sizeof(*op) + extra);

	if (!op) {
		sl_sqs_error(req, SL_SQS_E_INTERNAL, "out of memory");
		return NULL;
	}
	memset(op, 0, sizeof(*op));
	op->req = req;
	op->kind = kind;
	op->uid = q->hdr.uid;
	op->nparts = (uint8_t)qparts(q);
	op->part = 0;
	op->vis_s = q->visibility_s;
	op->retention_s = q->retention_s;
	return op;
}

/* A string member's token, or -1 (absent). */
static int member(struct sl_fields *f, int obj, const char *name)
{
	return sl_doc_get(f->t, (uint32_t)obj, name);
}

/* Decode string token i into the arena; its length, or -1 (bad). */
static long arena_str(const struct sl_doc_tok *t, int i, uint8_t **arena, uint8_t *end)
{
	if (t[i].type != SL_DOC_STR)
		return -1;
	int len = sl_doc_str(&t[i], (char *)*arena, (size_t)(end - *arena));
	if (len < 0)
		return -1;
	*arena += len + 1;
	return len;
}

/* MessageAttributes (JSON: a map of name to {DataType, StringValue |
 * BinaryValue}; query: MessageAttribute.N.Name and .Value.*). */
static int read_attrs(struct sl_fields *f, struct sl_sqs_attr *attrs, unsigned *nattrs,
		      uint8_t **arena, uint8_t *end, const char *json_name, const char *query_name)
{
	struct sl_req *req = f->req;
	bool query = req->proto == SL_PROTO_QUERY;
	int m = member(f, (int)f->obj, query ? query_name : json_name);
	const struct sl_doc_tok *t = f->t;

	*nattrs = 0;
	if (m < 0)
		return 0;
	if (t[m].type != (query ? SL_DOC_ARR : SL_DOC_OBJ)) {
		sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value for parameter %s is invalid. Reason: must be a map.", json_name);
		return -1;
	}
	if (t[m].count > SL_SQS_ATTRS_MAX) {
		sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Number of message attributes [%u] exceeds the allowed maximum [%d].",
			     t[m].count, SL_SQS_ATTRS_MAX);
		return -1;
	}
	uint32_t c = sl_doc_first((uint32_t)m);
	for (uint32_t k = 0; k < t[m].count; k++) {
		int ni, vi;
		if (query) {
			ni = t[c].type == SL_DOC_OBJ ? member(f, (int)c, "Name") : -1;
			vi = t[c].type == SL_DOC_OBJ ? member(f, (int)c, "Value") : -1;
			c = sl_doc_next(t, c);
		} else {
			ni = (int)c;
			vi = (int)c + 1;
			c = sl_doc_next(t, (uint32_t)vi);
		}
		struct sl_sqs_attr *a = &attrs[k];
		const char *name = (const char *)*arena;
		long nl = ni < 0 ? -1 : arena_str(t, ni, arena, end);
		if (nl <= 0 || vi < 0 || t[vi].type != SL_DOC_OBJ) {
			sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
				     "Message attribute %u must have a name and a value.", k + 1);
			return -1;
		}
		a->name = name;
		a->name_len = (uint32_t)nl;
		if (!sl_sqs_attr_name_ok(a->name, a->name_len)) {
			sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
				     "Message attribute name '%s' is invalid.", name);
			return -1;
		}
		for (unsigned j = 0; j < k; j++) {
			if (attrs[j].name_len == a->name_len &&
			    memcmp(attrs[j].name, a->name, a->name_len) == 0) {
				sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
					     "Message attribute name '%s' already exists.", name);
				return -1;
			}
		}
		int ti = member(f, vi, "DataType");
		int si = member(f, vi, "StringValue");
		int bi = member(f, vi, "BinaryValue");
		const char *type = (const char *)*arena;
		long tl = ti < 0 ? -1 : arena_str(t, ti, arena, end);
		bool bin = false, num = false;
		if (tl <= 0 || !sl_sqs_attr_type_ok(type, (size_t)tl, &bin, &num)) {
			sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
				     "The message attribute '%s' has an invalid message attribute "
				     "type, the set of supported type prefixes is Binary, Number, "
				     "and String.", name);
			return -1;
		}
		a->type = type;
		a->type_len = (uint32_t)tl;
		a->binary = bin;
		if (bin ? (bi < 0 || si >= 0) : (si < 0 || bi >= 0)) {
			sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
				     "The message attribute '%s' with type '%s' must use field '%s'.",
				     name, type, bin ? "Binary" : "String");
			return -1;
		}
		uint8_t *val = *arena;
		long vl = arena_str(t, bin ? bi : si, arena, end);
		if (vl >= 0 && bin) {
			long dl = sl_base64_dec(val, (const char *)val, (size_t)vl);
			vl = dl;
		}
		int32_t bad;
		if (vl <= 0 || (!bin && !sl_sqs_chars_ok(val, (size_t)vl, &bad)) ||
		    (num && !sl_sqs_number_ok((const char *)val, (size_t)vl))) {
			sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
				     "The message attribute '%s' must contain a non-empty, valid "
				     "message attribute value for message attribute type '%s'.",
				     name, type);
			return -1;
		}
		a->value = val;
		a->value_len = (uint32_t)vl;
		*nattrs = k + 1;
	}
	return 0;
}

/* MessageGroupId (FIFO: required; standard: kept, for fair queues) and
 * MessageDeduplicationId (FIFO only; required without
 * ContentBasedDeduplication) into m, decoded into the arena. 0, or -1
 * with the error set. */
static int fifo_ids(struct sl_req *req, const struct sl_queue *q, struct sl_fields *f,
		    struct sl_sqs_stored *m, uint8_t **arena, uint8_t *end)
{
	static const char *const names[2] = { "MessageGroupId", "MessageDeduplicationId" };

	for (int k = 0; k < 2; k++) {
		int i = member(f, (int)f->obj, names[k]);
		if (i < 0) {
			if (k == 0 && q->fifo) {
				sl_sqs_error(req, SL_SQS_E_MISSING_PARAMETER,
					     "The request must contain the parameter MessageGroupId.");
				return -1;
			}
			if (k == 1 && q->fifo && !q->content_dedup) {
				sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
					     "The queue should either have ContentBasedDeduplication "
					     "enabled or MessageDeduplicationId provided explicitly");
				return -1;
			}
			continue;
		}
		if (k == 1 && !q->fifo) {
			sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
				     "The request include parameter that is not valid for this queue "
				     "type");
			return -1;
		}
		const char *v = (const char *)*arena;
		long len = arena_str(f->t, i, arena, end);
		if (len < 0 || !sl_sqs_fifo_id_ok(v, (size_t)len)) {
			sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
				     "Value %.*s for parameter %s is invalid. Reason: It must be 1 to "
				     "%d characters long and contain only alphanumeric characters "
				     "and punctuation.", len > 0 ? (int)(len > 200 ? 200 : len) : 0,
				     len > 0 ? v : "", names[k], SL_SQS_FIFO_ID_MAX);
			return -1;
		}
		if (k == 0) {
			m->group = v;
			m->group_len = (uint32_t)len;
		} else {
			m->dedup = v;
			m->dedup_len = (uint32_t)len;
		}
	}
	return 0;
}

/* Check and encode one message to send (the request's root, or a batch
 * entry: f->obj) into op, with its strings and stored record in
 * [*arena, end). 0, or -1 with the error set (or captured). */
static int send_prepare(struct sl_req *req, const struct sl_queue *q, struct sl_fields *f,
			struct sqs_op *op, uint8_t **arena, uint8_t *end)
{
	const struct sl_doc_tok *t = f->t;
	int obj = (int)f->obj;
	int bi = member(f, obj, "MessageBody");

	if (bi < 0) {
		sl_sqs_error(req, SL_SQS_E_MISSING_PARAMETER,
			     "The request must contain the parameter MessageBody.");
		return -1;
	}
	struct sl_sqs_stored m = { .sent_ms = 0 };
	int64_t delay = q->delay_s;
	if (fifo_ids(req, q, f, &m, arena, end) < 0)
		return -1;
	uint8_t *body = *arena;
	long blen = arena_str(t, bi, arena, end);
	int32_t bad = 0;
	if (blen < 0 || blen == 0) {
		sl_sqs_error(req, blen < 0 ? SL_SQS_E_INVALID_PARAMETER_VALUE :
					     SL_SQS_E_MISSING_PARAMETER,
			     blen < 0 ? "The message body is not a valid string." :
					"The request must contain the parameter MessageBody.");
		return -1;
	}
	if (!sl_sqs_chars_ok(body, (size_t)blen, &bad)) {
		if (bad < 0)
			sl_sqs_error(req, SL_SQS_E_INVALID_MESSAGE_CONTENTS,
				     "The message body is not valid UTF-8.");
		else
			sl_sqs_error(req, SL_SQS_E_INVALID_MESSAGE_CONTENTS,
				     "Invalid binary character '#x%X' was found in the message body, "
				     "the set of allowed characters is #x9 | #xA | #xD | #x20 to "
				     "#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF", bad);
		return -1;
	}
	if (q->fifo && member(f, obj, "DelaySeconds") >= 0) {
		/* FIFO queues delay by queue only. */
		sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value for parameter DelaySeconds is invalid. Reason: The request "
			     "include parameter that is not valid for this queue type.");
		return -1;
	}
	if (sl_sqs_int(f, "DelaySeconds", 0, SL_SQS_DELAY_MAX_S, false, &delay) < 0)
		return -1;
	if (read_attrs(f, m.attrs, &m.nattrs, arena, end, "MessageAttributes",
		       "MessageAttribute") < 0)
		return -1;
	struct sl_sqs_attr sys[SL_SQS_ATTRS_MAX];
	unsigned nsys = 0;
	if (read_attrs(f, sys, &nsys, arena, end, "MessageSystemAttributes",
		       "MessageSystemAttribute") < 0)
		return -1;
	for (unsigned i = 0; i < nsys; i++) {
		if (sys[i].name_len != 14 || memcmp(sys[i].name, "AWSTraceHeader", 14) != 0 ||
		    sys[i].type_len != 6 || memcmp(sys[i].type, "String", 6) != 0) {
			sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
				     "Message system attribute name '%.*s' is invalid.",
				     (int)sys[i].name_len, sys[i].name);
			return -1;
		}
		m.trace = sys[i].value;
		m.trace_len = sys[i].value_len;
	}
	size_t size = (size_t)blen + sl_sqs_attrs_size(m.attrs, m.nattrs);
	if (size > q->max_size) {
		sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "One or more parameters are invalid. Reason: Message must be shorter "
			     "than %u bytes.", q->max_size);
		return -1;
	}
	m.body = body;
	m.body_len = (uint32_t)blen;
	m.delay_s = (uint32_t)delay;
	m.sent_ms = sl_now_ms();
	op->delay_s = (uint32_t)delay;
	op->fifo = q->fifo;
	op->has_group = q->fifo;
	if (q->fifo) {
		char hex[65];
		if (!m.dedup) {
			/* ContentBasedDeduplication: the SHA-256 of the body, in
			 * hex, and kept as the message's deduplication id. */
			uint8_t d[EVP_MAX_MD_SIZE];
			unsigned dl = 0;
			EVP_Digest(body, (size_t)blen, d, &dl, EVP_sha256(), NULL);
			for (unsigned i = 0; i < 32; i++)
				snprintf(hex + 2 * i, 3, "%02x", d[i]);
			if ((size_t)(end - *arena) < 64) {
				sl_sqs_error(req, SL_SQS_E_INTERNAL, "no room for the message");
				return -1;
			}
			memcpy(*arena, hex, 64);
			m.dedup = (const char *)*arena;
			m.dedup_len = 64;
			*arena += 64;
		}
		group_key(m.group, m.group_len, op->gkey);
		dedup_key(q->dedup_scope == SL_SQS_DEDUP_GROUP, m.group, m.group_len, m.dedup,
			  m.dedup_len, op->dkey);
	}
	sl_sqs_md5_hex(body, (size_t)blen, op->md5_body);
	op->has_attrs = m.nattrs > 0;
	if (op->has_attrs)
		sl_sqs_attrs_md5(m.attrs, m.nattrs, op->md5_attrs);
	op->has_sys = nsys > 0;
	if (op->has_sys)
		sl_sqs_attrs_md5(sys, nsys, op->md5_sys);
	op->rec_len = (uint32_t)sl_sqs_stored_size(&m);
	if ((size_t)(end - *arena) < op->rec_len) {
		sl_sqs_error(req, SL_SQS_E_INTERNAL, "no room for the message");
		return -1;
	}
	op->rec = *arena;
	*arena += op->rec_len;
	sl_sqs_stored_encode(&m, op->rec);
	sl_sqs_msg_id_new(op->id);
	return 0;
}

/* ---- Deliveries from other services --------------------------------------------- */

/* A delivery's op, the caller's callback, and the stored record. */
struct sqs_delivery {
	struct sqs_op op; /* first: the op's aio alignment is the block's */
	sl_sqs_delivered_fn done;
	void *arg;
	uint8_t rec[];
};

static void deliver_done(struct sl_worker *w, struct sl_msg *msg)
{
	struct sqs_delivery *d = (struct sqs_delivery *)msg->arg;

	d->done(w, d->arg, d->op.err, d->op.err ? d->op.err_msg : NULL);
	free(d);
}

int sl_sqs_deliver(struct sl_worker *w, const struct sl_queue *q, const struct sl_sqs_stored *m,
		   sl_sqs_delivered_fn done, void *arg)
{
	struct sl_sqs_stored s = *m;

	if ((size_t)s.body_len + sl_sqs_attrs_size(s.attrs, s.nattrs) > q->max_size)
		return -EMSGSIZE;
	if (!q->fifo) {
		s.group = s.dedup = NULL;
		s.group_len = s.dedup_len = 0;
		s.delay_s = q->delay_s;
	} else {
		if (!s.group || !s.dedup)
			return -EINVAL;
		s.delay_s = 0;
	}
	size_t len = sl_sqs_stored_size(&s);
	struct sqs_delivery *d = malloc(sizeof(*d) + len);
	if (!d)
		return -ENOMEM;
	struct sqs_op *op = &d->op;
	memset(op, 0, sizeof(*op));
	op->kind = OP_SEND;
	op->uid = q->hdr.uid;
	op->nparts = (uint8_t)qparts(q);
	op->vis_s = q->visibility_s;
	op->retention_s = q->retention_s;
	op->delay_s = s.delay_s;
	op->fifo = q->fifo;
	op->has_group = q->fifo;
	if (q->fifo) {
		group_key(s.group, s.group_len, op->gkey);
		dedup_key(q->dedup_scope == SL_SQS_DEDUP_GROUP, s.group, s.group_len, s.dedup,
			  s.dedup_len, op->dkey);
	}
	op->rec = d->rec;
	op->rec_len = (uint32_t)len;
	sl_sqs_stored_encode(&s, d->rec);
	sl_sqs_msg_id_new(op->id);
	d->done = done;
	d->arg = arg;
	op->part = part_local(w, q);
	op->msg.fn = send_call;
	op->msg.done = deliver_done;
	op->msg.arg = d;
	sl_msg_send(w, part_owner(op->uid, op->part), &op->msg);
	return 0;
}

/* Bytes of scratch a request's decoded strings and stored records need:
 * decoded text is never longer than the request, and a record adds a
 * bounded header per message and attribute. */
static size_t arena_need(const struct sl_req *req, unsigned messages)
{
	return 2 * (req->body_len + req->query.n) + messages * 256 + 64;
}

void sl_sqs_send_message(struct sl_worker *w, struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_queue *q = op_queue(w, req, &f);

	if (!q) {
		sl_req_finish(w, req);
		return;
	}
	size_t cap = arena_need(req, 1);
	struct sqs_op *op = op_new(req, q, OP_SEND, cap);
	if (!op) {
		sl_req_finish(w, req);
		return;
	}
	uint8_t *arena = (uint8_t *)(op + 1);
	if (send_prepare(req, q, &f, op, &arena, arena + cap) < 0) {
		sl_req_finish(w, req);
		return;
	}
	op->part = part_local(w, q);
	op_dispatch(w, op, send_call);
}

/* ---- Batches ------------------------------------------------------------------------ */

struct sqs_batch_entry {
	char id[SL_SQS_BATCH_ID_MAX + 1];
	bool failed;
	enum sl_sqs_err err;
	char msg[256];
};

/* A batch: one op per entry, each sent to the owner like a single request;
 * the reply lists each entry's success or failure once all are back. */
struct sqs_batch {
	struct sl_req *req;
	struct sl_worker *home;
	uint8_t kind;
	uint32_t n;
	uint32_t pending;
	struct sqs_batch_entry e[SL_SQS_BATCH_MAX];
	struct sqs_op ops[SL_SQS_BATCH_MAX];
};

static const char *const batch_names[][4] = {
	/* JSON list, query list of requests, query and JSON result entry */
	[OP_SEND] = { "Entries", "SendMessageBatchRequestEntry", "SendMessageBatchResultEntry" },
	[OP_DEL] = { "Entries", "DeleteMessageBatchRequestEntry", "DeleteMessageBatchResultEntry" },
	[OP_VIS] = { "Entries", "ChangeMessageVisibilityBatchRequestEntry",
		     "ChangeMessageVisibilityBatchResultEntry" },
};

static void batch_reply(struct sl_worker *w, struct sqs_batch *b)
{
	struct sl_req *req = b->req;
	struct sl_enc *e = &req->out;
	char id[37];

	sl_reply_begin(req);
	sl_sqs_list_begin(req, "Successful", batch_names[b->kind][2]);
	for (uint32_t i = 0; i < b->n; i++) {
		struct sqs_op *op = &b->ops[i];
		if (b->e[i].failed)
			continue;
		sl_enc_obj_begin(e);
		sl_enc_key(e, "Id");
		sl_enc_cstr(e, b->e[i].id);
		if (b->kind == OP_SEND) {
			sl_sqs_uuid_fmt(op->id, id);
			sl_enc_key(e, "MessageId");
			sl_enc_cstr(e, id);
			sl_enc_key(e, "MD5OfMessageBody");
			sl_enc_cstr(e, op->md5_body);
			if (op->has_attrs) {
				sl_enc_key(e, "MD5OfMessageAttributes");
				sl_enc_cstr(e, op->md5_attrs);
			}
			if (op->has_sys) {
				sl_enc_key(e, "MD5OfMessageSystemAttributes");
				sl_enc_cstr(e, op->md5_sys);
			}
			if (op->fifo)
				put_seq(e, op->seq_n);
		}
		sl_enc_obj_end(e);
	}
	sl_sqs_list_end(req);
	sl_sqs_list_begin(req, "Failed", "BatchResultErrorEntry");
	for (uint32_t i = 0; i < b->n; i++) {
		if (!b->e[i].failed)
			continue;
		sl_enc_obj_begin(e);
		sl_enc_key(e, "Id");
		sl_enc_cstr(e, b->e[i].id);
		sl_enc_key(e, "SenderFault");
		sl_enc_bool(e, sl_sqs_err_sender(b->e[i].err));
		sl_enc_key(e, "Code");
		sl_enc_cstr(e, sl_sqs_err_code(b->e[i].err));
		sl_enc_key(e, "Message");
		sl_enc_cstr(e, b->e[i].msg);
		sl_enc_obj_end(e);
	}
	sl_sqs_list_end(req);
	sl_reply_end(req);
	sl_req_finish(w, req);
}

static void batch_op_done(struct sl_worker *w, struct sl_msg *msg)
{
	struct sqs_op *op = msg->arg;
	struct sqs_batch *b = (struct sqs_batch *)op->parent;
	uint32_t i = (uint32_t)(op - b->ops);

	assert(i < b->n && b->pending > 0);
	if (op->err) {
		b->e[i].failed = true;
		b->e[i].err = (enum sl_sqs_err)(op->err - 1);
		snprintf(b->e[i].msg, sizeof(b->e[i].msg), "%s", op->err_msg);
	}
	if (--b->pending == 0)
		batch_reply(w, b);
}

static int change_prepare(struct sl_req *req, const struct sl_queue *q, struct sl_fields *f,
			  struct sqs_op *op);

static void batch(struct sl_worker *w, struct sl_req *req, uint8_t kind)
{
	struct sl_fields f;
	const struct sl_queue *q = op_queue(w, req, &f);
	bool query = req->proto == SL_PROTO_QUERY;

	if (!q)
		goto fail;
	int list = member(&f, 0, query ? batch_names[kind][1] : batch_names[kind][0]);
	uint32_t n = list >= 0 && f.t[list].type == SL_DOC_ARR ? f.t[list].count : 0;
	if (list >= 0 && f.t[list].type != SL_DOC_ARR) {
		sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "Value for parameter Entries is invalid. Reason: must be a list.");
		goto fail;
	}
	if (n == 0) {
		sl_sqs_error(req, SL_SQS_E_EMPTY_BATCH,
			     "There should be at least one %s in the request.", batch_names[kind][1]);
		goto fail;
	}
	if (n > SL_SQS_BATCH_MAX) {
		sl_sqs_error(req, SL_SQS_E_TOO_MANY_ENTRIES,
			     "Maximum number of entries per request are %d. You have sent %u.",
			     SL_SQS_BATCH_MAX, n);
		goto fail;
	}
	size_t cap = kind == OP_SEND ? arena_need(req, n) : 0;
	struct sqs_batch *b = sl_req_scratch(req, sizeof(*b) + cap);
	if (!b) {
		sl_sqs_error(req, SL_SQS_E_INTERNAL, "out of memory");
		goto fail;
	}
	memset(b, 0, sizeof(*b));
	b->req = req;
	b->home = w;
	b->kind = kind;
	b->n = n;
	uint8_t *arena = (uint8_t *)(b + 1), *end = arena + cap;
	uint32_t c = sl_doc_first((uint32_t)list);
	uint64_t total = 0;
	/* Request-wide checks first: ids, then the batch's size. */
	for (uint32_t i = 0; i < n; i++, c = sl_doc_next(f.t, c)) {
		struct sl_fields ef = f;
		if (f.t[c].type != SL_DOC_OBJ) {
			sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
				     "Entry %u is not a structure.", i + 1);
			goto fail;
		}
		ef.obj = c;
		if (sl_sqs_str(&ef, "Id", b->e[i].id, sizeof(b->e[i].id), 0, SL_SQS_BATCH_ID_MAX * 4,
			       true) < 0)
			goto fail;
		if (!sl_sqs_batch_id_ok(b->e[i].id)) {
			sl_sqs_error(req, SL_SQS_E_INVALID_BATCH_ID,
				     "A batch entry id can only contain alphanumeric characters, "
				     "hyphens and underscores. It can be at most %d letters long.",
				     SL_SQS_BATCH_ID_MAX);
			goto fail;
		}
		for (uint32_t k = 0; k < i; k++) {
			if (strcmp(b->e[k].id, b->e[i].id) == 0) {
				sl_sqs_error(req, SL_SQS_E_BATCH_IDS_NOT_DISTINCT, "Id %s repeated.",
					     b->e[i].id);
				goto fail;
			}
		}
		int bi = kind == OP_SEND ? member(&ef, (int)c, "MessageBody") : -1;
		total += bi >= 0 ? f.t[bi].len : 0;
	}
	if (total > SL_SQS_MSG_SIZE_MAX) {
		sl_sqs_error(req, SL_SQS_E_BATCH_TOO_LONG,
			     "Batch requests cannot be longer than %d bytes. You have sent %llu bytes.",
			     SL_SQS_MSG_SIZE_MAX, (unsigned long long)total);
		goto fail;
	}
	/* Each entry on its own: a bad one fails alone. */
	c = sl_doc_first((uint32_t)list);
	b->pending = 1; /* held until every entry is dispatched */
	uint32_t part = kind == OP_SEND ? part_local(w, q) : 0; /* the whole batch's */
	for (uint32_t i = 0; i < n; i++, c = sl_doc_next(f.t, c)) {
		struct sl_fields ef = f;
		struct sqs_op *op = &b->ops[i];
		struct sl_sqs_errcap cap_err;
		ef.obj = c;
		op->req = req;
		op->kind = kind;
		op->uid = q->hdr.uid;
		op->nparts = (uint8_t)qparts(q);
		op->part = part; /* a change: its handle's */
		op->vis_s = q->visibility_s;
		op->retention_s = q->retention_s;
		op->parent = b;
		sl_sqs_capture(&cap_err);
		int rc = kind == OP_SEND ? send_prepare(req, q, &ef, op, &arena, end) :
					   change_prepare(req, q, &ef, op);
		sl_sqs_capture(NULL);
		if (rc < 0) {
			b->e[i].failed = true;
			b->e[i].err = cap_err.set ? cap_err.err : SL_SQS_E_INTERNAL;
			const char *why = cap_err.set ? cap_err.msg : "the entry is invalid";
			size_t wl = strnlen(why, sizeof(b->e[i].msg) - 1);
			memcpy(b->e[i].msg, why, wl);
			b->e[i].msg[wl] = '\0';
			continue;
		}
		b->pending++;
		op->msg.fn = kind == OP_SEND ? send_call : change_call;
		op->msg.done = batch_op_done;
		op->msg.arg = op;
		sl_msg_send(w, part_owner(op->uid, op->part), &op->msg);
	}
	if (--b->pending == 0)
		batch_reply(w, b);
	return;
fail:
	sl_req_finish(w, req);
}

void sl_sqs_send_message_batch(struct sl_worker *w, struct sl_req *req)
{
	batch(w, req, OP_SEND);
}

void sl_sqs_delete_message_batch(struct sl_worker *w, struct sl_req *req)
{
	batch(w, req, OP_DEL);
}

void sl_sqs_change_message_visibility_batch(struct sl_worker *w, struct sl_req *req)
{
	batch(w, req, OP_VIS);
}

static const struct {
	const char *name;
	uint32_t bit;
} sys_names[] = {
	{ "All", SYS_ALL },
	{ "SenderId", SYS_SENDER },
	{ "SentTimestamp", SYS_SENT },
	{ "ApproximateReceiveCount", SYS_RECEIVES },
	{ "ApproximateFirstReceiveTimestamp", SYS_FIRST_RECV },
	{ "AWSTraceHeader", SYS_TRACE },
	{ "MessageGroupId", SYS_GROUP },
	{ "MessageDeduplicationId", SYS_DEDUP },
	{ "SequenceNumber", SYS_SEQ },
	{ "DeadLetterQueueSourceArn", SYS_DLQ_SOURCE },
};

struct name_list {
	struct sqs_op *op;
	struct sl_req *req;
	bool attr_names; /* the message attribute names list */
};

static int want_sys(void *arg, const char *s, size_t len)
{
	struct name_list *nl = arg;

	(void)len;
	for (size_t i = 0; i < sizeof(sys_names) / sizeof(sys_names[0]); i++) {
		if (strcmp(sys_names[i].name, s) == 0) {
			nl->op->sys_want |= sys_names[i].bit;
			return 0;
		}
	}
	/* The rest of the model's names (DeadLetterQueueSourceArn...) name
	 * nothing this server keeps; AWS ignores names that do not apply. */
	return 0;
}

static int want_name(void *arg, const char *s, size_t len)
{
	struct name_list *nl = arg;
	struct sqs_op *op = nl->op;

	if (strcmp(s, "All") == 0 || strcmp(s, ".*") == 0) {
		op->all_names = true;
		return 0;
	}
	if (len == 0 || len > SL_SQS_ATTR_NAME_MAX || op->nnames == SL_SQS_RECV_NAMES_MAX) {
		sl_sqs_error(nl->req, SL_SQS_E_INVALID_PARAMETER_VALUE,
			     "MessageAttributeNames holds at most %d names of 1 to %d characters.",
			     SL_SQS_RECV_NAMES_MAX, SL_SQS_ATTR_NAME_MAX);
		return SL_FIELD_ERR;
	}
	memcpy(op->names[op->nnames++], s, len + 1);
	return 0;
}

/* A queue's RedrivePolicy: the dead-letter queue's uid and maxReceiveCount
 * (both 0 without a policy, or when the target queue is gone: messages
 * then stay where they are). The policy was checked when it was set. */
static void redrive_of(const struct sl_queue *q, uint64_t *dlq_uid, uint32_t *max_receives)
{
	struct sl_doc_tok t[16];
	char arn[SL_QUEUE_ARN_MAX + 1], prefix[SL_QUEUE_ARN_MAX], cnt[16];

	*dlq_uid = 0;
	*max_receives = 0;
	if (!q->redrive || sl_json_parse((const uint8_t *)q->redrive, strlen(q->redrive), t, 16) <= 0 ||
	    t[0].type != SL_DOC_OBJ)
		return;
	int ai = sl_doc_get(t, 0, "deadLetterTargetArn"), mi = sl_doc_get(t, 0, "maxReceiveCount");
	if (ai < 0 || mi < 0 || sl_doc_str(&t[ai], arn, sizeof(arn)) <= 0)
		return;
	int64_t max = t[mi].type == SL_DOC_INT ? t[mi].i :
		      t[mi].type == SL_DOC_STR && sl_doc_str(&t[mi], cnt, sizeof(cnt)) > 0 ?
						 strtoll(cnt, NULL, 10) : 0;
	int pl = snprintf(prefix, sizeof(prefix), "arn:aws:sqs:%s:%s:", q->region, sl_cfg->account_id);
	const struct sl_queue *dlq = strncmp(arn, prefix, (size_t)pl) == 0 ?
		sl_queue_find(sl_catalog_get(), q->region, arn + pl) : NULL;
	if (!dlq || dlq == q || max < 1 || max > SL_SQS_MAX_RECEIVE_MAX)
		return;
	/* A RedriveAllowPolicy changed since to refuse this queue: its
	 * messages stay where they are, as with no dead-letter queue. */
	char src[SL_QUEUE_ARN_MAX];
	sl_queue_arn(q, src);
	if (!sl_queue_redrive_allows(dlq, src))
		return;
	*dlq_uid = dlq->hdr.uid;
	*max_receives = (uint32_t)max;
}

void sl_sqs_receive_message(struct sl_worker *w, struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_queue *q = op_queue(w, req, &f);
	int64_t max = 1, vis, wait;

	if (!q) {
		sl_req_finish(w, req);
		return;
	}
	vis = q->visibility_s;
	wait = q->wait_s;
	struct sqs_op *op = op_new(req, q, OP_RECV,
				   SL_SQS_RECV_NAMES_MAX * (SL_SQS_ATTR_NAME_MAX + 1));
	if (!op)
		goto fail;
	op->names = (void *)(op + 1);
	if (sl_sqs_int(&f, "MaxNumberOfMessages", 1, SL_SQS_RECV_MAX, false, &max) < 0 ||
	    sl_sqs_int(&f, "VisibilityTimeout", 0, SL_SQS_VISIBILITY_MAX_S, false, &vis) < 0 ||
	    sl_sqs_int(&f, "WaitTimeSeconds", 0, SL_SQS_WAIT_MAX_S, false, &wait) < 0)
		goto fail;
	struct name_list nl = { op, req, false };
	if (sl_sqs_list(&f, "AttributeNames", "AttributeName", SL_SQS_MAP_KEY_MAX + 1, want_sys,
			&nl) < 0 ||
	    sl_sqs_list(&f, "MessageSystemAttributeNames", "MessageSystemAttributeName",
			SL_SQS_MAP_KEY_MAX + 1, want_sys, &nl) < 0 ||
	    sl_sqs_list(&f, "MessageAttributeNames", "MessageAttributeName",
			SL_SQS_ATTR_NAME_MAX + 1, want_name, &nl) < 0)
		goto fail;
	char attempt[SL_SQS_FIFO_ID_MAX + 1];
	int ai = sl_sqs_str(&f, "ReceiveRequestAttemptId", attempt, sizeof(attempt), 0,
			    SL_SQS_FIFO_ID_MAX, false);
	if (ai == SL_FIELD_ERR)
		goto fail;
	if (ai == 1 && q->fifo) {
		/* Standard queues ignore it, as AWS does. */
		if (!sl_sqs_fifo_id_ok(attempt, strlen(attempt))) {
			sl_sqs_error(req, SL_SQS_E_INVALID_PARAMETER_VALUE,
				     "Value %s for parameter ReceiveRequestAttemptId is invalid. "
				     "Reason: It must contain only alphanumeric characters and "
				     "punctuation.", attempt);
			goto fail;
		}
		op->has_attempt = true;
		group_key(attempt, strlen(attempt), op->attempt);
	}
	op->max = (uint32_t)max;
	op->vis_s = (uint32_t)vis;
	op->wait_s = (uint32_t)wait;
	op->part = part_local(w, q);
	op->scan_left = (uint8_t)(op->nparts - 1);
	redrive_of(q, &op->dlq_uid, &op->max_receives);
	op_dispatch(w, op, recv_call);
	return;
fail:
	sl_req_finish(w, req);
}

/* A receipt handle (and for a visibility change, the new timeout) of the
 * request or of a batch entry (f->obj) into op. 0, or -1 with the error
 * set (or captured). */
static int change_prepare(struct sl_req *req, const struct sl_queue *q, struct sl_fields *f,
			  struct sqs_op *op)
{
	char handle[SL_SQS_URL_MAX + 1];
	int64_t vis = 0;

	if (sl_sqs_str(f, "ReceiptHandle", handle, sizeof(handle), 0, SL_SQS_URL_MAX, true) < 0)
		return -1;
	if (op->kind == OP_VIS &&
	    sl_sqs_int(f, "VisibilityTimeout", 0, SL_SQS_VISIBILITY_MAX_S, true, &vis) < 0)
		return -1;
	if (sl_sqs_receipt_parse(handle, strlen(handle), &op->rh) < 0 ||
	    op->rh.queue_uid != q->hdr.uid || op->rh.partition >= qparts(q)) {
		sl_sqs_error(req, SL_SQS_E_RECEIPT_INVALID,
			     "The input receipt handle \"%s\" is not a valid receipt handle.", handle);
		return -1;
	}
	op->part = op->rh.partition;
	op->new_vis_s = vis;
	return 0;
}

/* DeleteMessage and ChangeMessageVisibility: the handle names the message. */
static void change_message(struct sl_worker *w, struct sl_req *req, uint8_t kind)
{
	struct sl_fields f;
	const struct sl_queue *q = op_queue(w, req, &f);

	if (!q)
		goto fail;
	struct sqs_op *op = op_new(req, q, kind, 0);
	if (!op || change_prepare(req, q, &f, op) < 0)
		goto fail;
	op_dispatch(w, op, change_call);
	return;
fail:
	sl_req_finish(w, req);
}

void sl_sqs_delete_message(struct sl_worker *w, struct sl_req *req)
{
	change_message(w, req, OP_DEL);
}

void sl_sqs_change_message_visibility(struct sl_worker *w, struct sl_req *req)
{
	change_message(w, req, OP_VIS);
}

/* ---- Hooks and the control thread's calls ----------------------------------------- */

struct preload {
	struct sl_worker *w;
	const struct sl_catalog *c;
};

static void preload_one(uint64_t uid, uint32_t part, void *arg)
{
	struct preload *pl = arg;
	int err = 0;

	if (!sl_queue_find_uid(pl->c, uid) || part_owner(uid, part) != sl_worker_index(pl->w))
		return;
	struct sl_wlog *wl = sl_worker_log_existing(pl->w, uid, part, &err);
	if (!wl) {
		if (err != -ENOENT)
			sl_error("sqs: queue %016llx partition %u: %s (opened on first use instead)",
				 (unsigned long long)uid, part, strerror(-err));
		return;
	}
	const struct sl_queue *q = sl_queue_find_uid(pl->c, uid);
	struct sqs_wpart *wp = wpart_attach(wl, uid, part, q);
	int rc = wp ? wpart_replay(wp, q) : -ENOMEM;
	if (rc < 0) {
		sl_error("sqs: queue %016llx partition %u: replay: %s", (unsigned long long)uid, part,
			 strerror(-rc));
		wpart_release(NULL, wl);
	}
}

void sl_sqs_preload(struct sl_worker *w)
{
	struct preload pl = { w, sl_catalog_get() };
	int rc = sl_worker_foreach_log_dir(preload_one, &pl);

	if (rc < 0)
		sl_error("sqs: cannot list the partition logs: %s (they are opened on first use)",
			 strerror(-rc));
}

static void stop_one(struct sl_worker *w, struct sl_wlog *wl, void *arg)
{
	struct sqs_wpart *wp = wl->release == wpart_release ? *wpart_slot(wl) : NULL;

	(void)arg;
	/* Long polls end at shutdown: empty answers, sent before the drain. */
	while (wp && wp->polls) {
		struct sqs_op *op = wp->polls;
		poll_unlink(wp, op);
		sl_worker_timer_cancel(w, &op->wait_timer);
		poll_answer(w, op);
	}
}

/* Once a second: segments whose every message was deleted or expired are
 * deleted (from the front of the log: a message still queued keeps its
 * segment and every later one). */
static void tick_one(struct sl_worker *w, struct sl_wlog *wl, void *arg)
{
	struct sqs_wpart *wp = wl->release == wpart_release ? *wpart_slot(wl) : NULL;

	(void)arg;
	if (!wp)
		return; /* not an SQS partition */
	/* Sends whose deduplication window ended: the records of those
	 * already deleted die now. */
	if (wp->fifo)
		sqs_dedup_expire(&wp->dd, sl_now_ms(), SL_SQS_DEDUP_EXPIRE_CHUNK, dedup_gone, wp);
	if (wp->st) {
		sqs_idx_promote(&wp->idx, sl_now_ms());
		atomic_store_explicit(&wp->st->depth, wp->idx.n_state[SQS_READY], memory_order_relaxed);
		atomic_store_explicit(&wp->st->inflight, wp->idx.n_state[SQS_INFLIGHT],
				      memory_order_relaxed);
		atomic_store_explicit(&wp->st->delayed, wp->idx.n_state[SQS_DELAYED],
				      memory_order_relaxed);
	}
	compact_tick(w, wp);
	int rc = sl_worker_drop_dead(w, wl);
	if (rc < 0)
		sl_warn("sqs: queue %016llx partition %u: dropping dead segments: %s",
			(unsigned long long)wl->stream_uid, wl->ordinal, strerror(-rc));
}

void sl_sqs_tick(struct sl_worker *w)
{
	sl_worker_foreach_log(w, tick_one, NULL);
}

void sl_sqs_stop(struct sl_worker *w)
{
	sl_worker_foreach_log(w, stop_one, NULL);
}

/* Control thread: the partitions of a queue, from the master catalog. */
static uint32_t control_parts(uint64_t uid)
{
	return qparts(sl_queue_find_uid(sl_catalog_master(), uid));
}

/* A control-thread call to one partition's owner, and what it answers. */
struct part_call {
	struct sl_msg msg;
	uint64_t uid;
	uint32_t part;
	int rc;
	uint64_t counts[3];
};

/* Control thread: fn on the owner of each of partitions 0..np-1 of queue
 * uid, one call each in pc[], and wait for every answer. */
static void call_parts(uint64_t uid, uint32_t np, void (*fn)(struct sl_worker *, struct sl_msg *),
		       struct part_call pc[SL_SQS_PARTS_MAX])
{
	struct sl_msg *msgs[SL_SQS_PARTS_MAX];
	uint16_t to[SL_SQS_PARTS_MAX];

	assert(np >= 1 && np <= SL_SQS_PARTS_MAX);
	for (uint32_t i = 0; i < np; i++) {
		pc[i] = (struct part_call){ .uid = uid, .part = i };
		pc[i].msg.fn = fn;
		pc[i].msg.arg = &pc[i];
		msgs[i] = &pc[i].msg;
		to[i] = part_owner(uid, i);
	}
	sl_control_call_wait(msgs, to, np);
}

/* On the owner: one PURGE record, then the sweep. */
static void purge_fn(struct sl_worker *w, struct sl_msg *msg)
{
	struct part_call *pc = msg->arg;
	struct sqs_wpart *wp = wpart_if_open(w, pc->uid, pc->part);
	uint64_t below, rn;

	pc->rc = 0;
	if (!wp) {
		sl_msg_reply(w, msg); /* never opened since start-up: nothing to purge */
		return;
	}
	struct sl_wlog *wl = wp->wl;
	below = sl_shardlog_next_n(wl->log);
	if (sl_shardlog_append_typed(wl->log, F_PURGE, NULL, 0, &below, sizeof(below), sl_now_ms(),
				     &rn) < 0) {
		pc->rc = -EIO;
		sl_msg_reply(w, msg);
		return;
	}
	/* The purge record stays live until its sweep has killed every send it
	 * purged; one it supersedes is dead at once. */
	if (wp->purge_live)
		sl_shardlog_kill(wl->log, wp->purge_rn);
	wp->purge_rn = rn;
	wp->purge_live = true;
	wp->purge_below = below;
	sl_worker_commit(w, wl, NULL);
	if (!wp->sweeping) {
		wp->sweeping = true;
		wp->sweep_slot = 0;
		wp->sweep_cap = wp->idx.cap;
		wp->sweep = (struct sl_msg){ .type = SL_MSG_CALL, .fn = sweep_fn, .arg = wp };
		sl_worker_defer(w, &wp->sweep);
	} else {
		wp->sweep_slot = 0; /* a second purge during a sweep: again from the start */
	}
	sl_msg_reply(w, msg);
}

int sl_sqs_purge(uint64_t uid)
{
	struct part_call pc[SL_SQS_PARTS_MAX];
	uint32_t np = control_parts(uid);
	int rc = 0;

	call_parts(uid, np, purge_fn, pc);
	for (uint32_t i = 0; i < np; i++)
		rc = rc ? rc : pc[i].rc;
	return rc;
}

static void count_fn(struct sl_worker *w, struct sl_msg *msg)
{
	struct part_call *cc = msg->arg;
	struct sqs_wpart *wp = wpart_if_open(w, cc->uid, cc->part);

	if (wp) {
		sqs_idx_promote(&wp->idx, sl_now_ms());
		cc->counts[0] = wp->idx.n_state[SQS_READY];
		cc->counts[1] = wp->idx.n_state[SQS_INFLIGHT];
		cc->counts[2] = wp->idx.n_state[SQS_DELAYED];
	}
	sl_msg_reply(w, msg);
}

void sl_sqs_counts(uint64_t uid, uint64_t out[3])
{
	struct part_call cc[SL_SQS_PARTS_MAX];
	uint32_t np = control_parts(uid);

	call_parts(uid, np, count_fn, cc);
	out[0] = out[1] = out[2] = 0;
	for (uint32_t i = 0; i < np; i++)
		for (int k = 0; k < 3; k++)
			out[k] += cc[i].counts[k];
}

static void drop_fn(struct sl_worker *w, struct sl_msg *msg)
{
	struct part_call *d = msg->arg;
	struct sqs_wpart *wp = wpart_if_open(w, d->uid, d->part);
	/* A purge's sweep or a compaction step still holds the partition:
	 * first let it end. */
	int rc = wp && (wp->sweeping || wp->compacting) ? -EBUSY :
						       sl_worker_drop_log(w, d->uid, d->part);

	if (rc == -EBUSY) {
		/* I/O still holds it: again next iteration. */
		msg->type = SL_MSG_CALL;
		sl_worker_defer(w, msg);
		return;
	}
	if (rc < 0)
		sl_warn("sqs: dropping queue %016llx partition %u: %s", (unsigned long long)d->uid,
			d->part, strerror(-rc));
	sl_msg_reply(w, msg);
}

void sl_sqs_drop_partitions(uint64_t uid, uint32_t nparts)
{
	struct part_call d[SL_SQS_PARTS_MAX];
	char dir[PATH_MAX];

	call_parts(uid, nparts, drop_fn, d);
	/* The owners handed the partitions' directories back for deletion; run
	 * that before the queue's own directory goes. */
	sl_control_poll();
	sl_log_dir(uid, dir, sizeof(dir));
	sl_shardlog_remove(dir);
}

/* ---- /metrics ----------------------------------------------------------------- */

static const struct {
	const char *name, *type, *help;
	size_t off;
} qseries[] = {
	{ "sluice_sqs_messages_visible", "gauge", "Messages ready to receive (as of the last second).",
	  offsetof(struct sqs_qstats, depth) },
	{ "sluice_sqs_messages_in_flight", "gauge", "Messages received and not yet deleted or visible again.",
	  offsetof(struct sqs_qstats, inflight) },
	{ "sluice_sqs_messages_delayed", "gauge", "Messages sent with a delay that has not passed.",
	  offsetof(struct sqs_qstats, delayed) },
	{ "sluice_sqs_sends_total", "counter", "Messages accepted by SendMessage(Batch).",
	  offsetof(struct sqs_qstats, sends) },
	{ "sluice_sqs_receives_total", "counter", "Messages returned by ReceiveMessage.",
	  offsetof(struct sqs_qstats, receives) },
	{ "sluice_sqs_deletes_total", "counter", "Messages deleted by DeleteMessage(Batch).",
	  offsetof(struct sqs_qstats, deletes) },
	{ "sluice_sqs_empty_receives_total", "counter", "ReceiveMessage calls answered with no message.",
	  offsetof(struct sqs_qstats, empty) },
	{ "sluice_sqs_compacted_total", "counter",
	  "Messages copied forward by compaction, so that old segments could go.",
	  offsetof(struct sqs_qstats, compacted) },
};

/* One queue's counters, summed over its partitions. */
struct qsum {
	uint64_t uid;
	uint64_t v[8];
};

static int qsum_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct qsum *)a)->uid, y = ((const struct qsum *)b)->uid;

	return x < y ? -1 : x > y;
}

long sl_sqs_metrics(char *buf, size_t cap)
{
	enum { NSERIES = sizeof(qseries) / sizeof(qseries[0]) };
	_Static_assert(NSERIES == sizeof(((struct qsum *)0)->v) / sizeof(uint64_t), "a sum per series");
	const struct sl_catalog *c = sl_catalog_get();
	size_t n = 0, ns = 0;
	struct qsum *sums = NULL;

	/* Every worker's slots, sorted by queue, partitions of one queue added
	 * up: bounded by the workers times SL_SQS_METRIC_QUEUES. The slots in
	 * use are counted first; one taken meanwhile waits for the next scrape. */
	size_t used = 0;
	for (uint16_t wi = 0; wi < sl_worker_count(); wi++) {
		struct sqs_qstats *t = atomic_load(&qstats[wi]);
		for (uint32_t i = 0; t && i < SL_SQS_METRIC_QUEUES; i++)
			used += atomic_load_explicit(&t[i].uid, memory_order_relaxed) != 0;
	}
	if (used && !(sums = malloc(used * sizeof(*sums))))
		return -ENOMEM;
	for (uint16_t wi = 0; wi < sl_worker_count() && ns < used; wi++) {
		struct sqs_qstats *t = atomic_load(&qstats[wi]);
		for (uint32_t i = 0; t && i < SL_SQS_METRIC_QUEUES && ns < used; i++) {
			uint64_t uid = atomic_load_explicit(&t[i].uid, memory_order_relaxed);
			if (!uid || !sl_queue_find_uid(c, uid))
				continue;
			sums[ns].uid = uid;
			for (size_t k = 0; k < NSERIES; k++)
				sums[ns].v[k] = atomic_load_explicit(
					(const _Atomic uint64_t *)(const void *)((const char *)&t[i] +
										 qseries[k].off),
					memory_order_relaxed);
			ns++;
		}
	}
	if (ns)
		qsort(sums, ns, sizeof(*sums), qsum_cmp);
	size_t nq = 0;
	for (size_t i = 0; i < ns; i++) {
		if (nq && sums[nq - 1].uid == sums[i].uid) {
			for (size_t k = 0; k < NSERIES; k++)
				sums[nq - 1].v[k] += sums[i].v[k];
		} else {
			sums[nq++] = sums[i];
		}
	}
	for (size_t k = 0; k < NSERIES; k++) {
		int r = snprintf(buf + n, cap - n, "# HELP %s %s\n# TYPE %s %s\n", qseries[k].name,
				 qseries[k].help, qseries[k].name, qseries[k].type);
		if (r < 0 || (size_t)r >= cap - n)
			goto nospace;
		n += (size_t)r;
		for (size_t i = 0; i < nq; i++) {
			const struct sl_queue *q = sl_queue_find_uid(c, sums[i].uid);
			r = snprintf(buf + n, cap - n, "%s{region=\"%s\",queue=\"%s\"} %llu\n",
				     qseries[k].name, q->region, q->name,
				     (unsigned long long)sums[i].v[k]);
			if (r < 0 || (size_t)r >= cap - n)
				goto nospace;
			n += (size_t)r;
		}
	}
	free(sums);
	return (long)n;
nospace:
	free(sums);
	return -ENOSPC;
}
