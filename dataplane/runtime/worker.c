/* worker.c - per-core event loops, cross-core rings, group commit. */
#include "dataplane/runtime/worker.h"

#include <arpa/inet.h>
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "dataplane/codec/doc.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/log.h"
#include "dataplane/runtime/logbuf.h"
#include "dataplane/runtime/metrics.h"
#include "dataplane/runtime/timer.h"
#include "dataplane/storage/journal.h"
#include "dataplane/storage/shardlog.h"


struct sl_msgq {
	struct sl_msg *head;
	struct sl_msg *tail;
};

struct sl_worker {
	uint16_t idx;
	unsigned lcore;
	struct io_uring ring;
	struct rte_ring *inbox;
	int efd;
	uint64_t efd_val;
	_Atomic int sleeping;
	int listen_fd;
	struct sl_timer_wheel wheel; /* everything that waits on this worker */
	struct sl_timer tick;        /* the periodic housekeeping timer */
	int64_t last_tick_ms;
	struct sl_msgq outbox; /* messages a full ring refused, in order */
	struct sl_msgq deferred;
	struct sl_wlog **logs; /* open addressing on (stream_uid, ordinal) */
	uint32_t logs_cap;
	uint32_t logs_used;
	struct sl_wlog *dirty;
	struct sl_waiter *ready_head; /* waiters already satisfied, fired next loop */
	struct sl_waiter *ready_tail;
	void *http;
	struct sl_doc_tok *toks;
	_Atomic bool stop;
	struct sl_logbuf log;  /* this worker's log lines, written by its ring */
	/* Sync durability: the commit journal, the logs whose flush waits for
	 * it (held), and the checkpoint of its other file. */
	struct sl_journal *journal;
	struct sl_wlog *held;
	int64_t journal_retry_at_ms;
	uint32_t ckpt_due;   /* checkpoint fdatasyncs in flight */
	bool ckpt_running;
	bool ckpt_failed;
	uint8_t arm_due;   /* ARM_*: loop operations waiting for a submission entry */
	uint32_t removals; /* file deletions handed to the control thread, not back yet */
	bool preload_failed; /* a log that exists could not be opened at start-up */
	uint32_t journal_idle_ticks;
} __attribute__((aligned(64)));

struct sl_worker_hooks sl_hooks;
const struct sl_config *sl_cfg;

static struct sl_worker *workers[SL_WORKERS_MAX];
/* QSBR: the epoch each worker entered its current iteration at (0: idle). */
static _Atomic uint64_t qsbr_global = 1;
static _Atomic uint64_t qsbr_local[SL_WORKERS_MAX];
static uint16_t nworkers;
static _Atomic int64_t clock_offset_ms;

/* The control thread's side of the message system. */
static struct rte_ring *control_inbox;
static int control_efd = -1;
static _Atomic int control_sleeping;
static struct sl_msgq control_outbox;

#define WLOG_TOMB ((struct sl_wlog *)1)

static void msgq_push(struct sl_msgq *q, struct sl_msg *m)
{
	m->next = NULL;
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
}

static struct sl_msg *msgq_pop(struct sl_msgq *q)
{
	struct sl_msg *m = q->head;

	if (m) {
		q->head = m->next;
		if (!q->head)
			q->tail = NULL;
	}
	return m;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t sl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
	       atomic_load_explicit(&clock_offset_ms, memory_order_relaxed);
}

void sl_clock_advance(int64_t ms)
{
	atomic_fetch_add_explicit(&clock_offset_ms, ms, memory_order_relaxed);
}

uint16_t sl_worker_index(const struct sl_worker *w) { return w->idx; }
uint16_t sl_worker_count(void) { return nworkers; }
struct sl_worker *sl_worker_get(uint16_t idx) { return idx < nworkers ? workers[idx] : NULL; }
struct io_uring *sl_worker_ring(struct sl_worker *w) { return &w->ring; }
uint64_t sl_worker_journal_syncs(const struct sl_worker *w)
{
	return w->journal ? sl_journal_syncs(w->journal) : 0;
}
void **sl_worker_http(struct sl_worker *w) { return &w->http; }
struct sl_doc_tok *sl_worker_toks(struct sl_worker *w) { return w->toks; }
bool sl_worker_stopping(const struct sl_worker *w) { return atomic_load(&w->stop); }
int sl_control_eventfd(void) { return control_efd; }

static void wake_fd(int fd)
{
	uint64_t one = 1;
	ssize_t rc = write(fd, &one, sizeof(one));
	(void)rc; /* EAGAIN means a wake-up is already pending */
}

void sl_control_wake(void)
{
	if (atomic_load(&control_sleeping))
		wake_fd(control_efd);
}

/* Try to hand msg to its recipient's ring. Returns false when the ring is
 * full. The enqueue is a release: the recipient's dequeue (acquire) sees
 * every write the sender made to the message and what it points to. */
static bool msg_post(struct sl_msg *msg)
{
	/* Once enqueued the message belongs to the recipient, which may run it,
	 * reply and free it at once: read nothing from it afterwards. */
	uint16_t to = msg->to;
	struct rte_ring *r = to == SL_TO_CONTROL ? control_inbox : workers[to]->inbox;

	if (rte_ring_mp_enqueue(r, msg) != 0)
		return false;
	/* Dekker with the recipient's sleep: our ring store must be visible
	 * before we read its `sleeping` flag, and it stores the flag before
	 * it looks at the ring. Without a full fence x86 may satisfy the flag
	 * load before the enqueue leaves the store buffer: both sides miss
	 * each other and the message waits for the next timeout. */
	atomic_thread_fence(memory_order_seq_cst);
	if (to == SL_TO_CONTROL)
		sl_control_wake();
	else if (atomic_load(&workers[to]->sleeping))
		wake_fd(workers[to]->efd);
	return true;
}

static void msg_route(struct sl_worker *self, struct sl_msg *msg)
{
	struct sl_msgq *outbox = self ? &self->outbox : &control_outbox;

	if (self && msg->to == self->idx) {
		sl_worker_defer(self, msg);
		return;
	}
	/* Keep order behind anything already waiting in the outbox. */
	if (outbox->head || !msg_post(msg)) {
		msgq_push(outbox, msg);
		sl_metric_add(&sl_metrics_of(self ? self->idx : SL_WORKERS_MAX)->ring_full, 1);
	}
}

static void msg_send(struct sl_worker *self, uint16_t to, struct sl_msg *msg, bool anytime)
{
	assert(msg->fn);
	msg->type = SL_MSG_CALL;
	msg->anytime = anytime;
	msg->from = self ? self->idx : SL_TO_CONTROL;
	msg->to = to;
	msg_route(self, msg);
}

void sl_msg_send(struct sl_worker *self, uint16_t to, struct sl_msg *msg)
{
	msg_send(self, to, msg, false);
}

void sl_msg_send_anytime(struct sl_worker *self, struct sl_msg *msg)
{
	msg_send(self, SL_TO_CONTROL, msg, true);
}

void sl_msg_forward(struct sl_worker *self, uint16_t to, struct sl_msg *msg)
{
	assert(msg->type == SL_MSG_CALL && msg->fn);
	msg->to = to;
	msg_route(self, msg);
}

void sl_msg_prepare(struct sl_worker *self, struct sl_msg *msg)
{
	msg->type = SL_MSG_CALL;
	msg->anytime = false;
	msg->from = self->idx;
	msg->to = self->idx;
}

bool sl_msg_call_helper(struct sl_msg *msg, uint16_t to)
{
	msg->type = SL_MSG_CALL;
	msg->anytime = false;
	msg->from = to;
	msg->to = to;
	return msg_post(msg);
}

bool sl_msg_reply_helper(struct sl_msg *msg)
{
	assert(msg->type == SL_MSG_CALL);
	msg->type = SL_MSG_REPLY;
	msg->to = msg->from;
	if (msg_post(msg))
		return true;
	msg->type = SL_MSG_CALL;
	return false;
}

void sl_msg_reply(struct sl_worker *self, struct sl_msg *msg)
{
	assert(msg->type == SL_MSG_CALL);
	msg->type = SL_MSG_REPLY;
	msg->to = msg->from;
	msg_route(self, msg);
}

static void outbox_flush(struct sl_msgq *q)
{
	while (q->head) {
		struct sl_msg *m = q->head;
		struct sl_msg *next = m->next; /* m is not ours once posted */
		if (!msg_post(m))
			return;
		q->head = next;
		if (!next)
			q->tail = NULL;
	}
}

static void msg_run(struct sl_worker *self, struct sl_msg *msg)
{
	if (msg->type == SL_MSG_CALL)
		msg->fn(self, msg);
	else if (msg->type == SL_MSG_REPLY)
		msg->done(self, msg);
}

/* Drain a ring in bounded bursts. Returns the number of messages run. */
static unsigned inbox_drain(struct sl_worker *self, struct rte_ring *r)
{
	void *burst[SL_MSG_BURST];
	unsigned total = 0;

	for (unsigned b = 0; b < SL_MSG_BURSTS_PER_LOOP; b++) {
		unsigned got = rte_ring_sc_dequeue_burst(r, burst, SL_MSG_BURST, NULL);
		for (unsigned i = 0; i < got; i++)
			msg_run(self, burst[i]);
		total += got;
		if (got < SL_MSG_BURST)
			break;
	}
	return total;
}

static struct sl_msgq control_held;

static void seg_creates_sync(void);

/* Replies held until the control thread's next commit. Each belongs to a
 * request in flight, so their number is bounded by the connections'. */
struct held_reply {
	struct sl_msg *msg;
	void (*failed)(struct sl_msg *msg, int rc);
};
static struct {
	struct held_reply *v;
	size_t n, cap;
} control_replies;
static int (*control_commit_fn)(void);
static bool control_committing;

static void (*guard_begin)(void);
static void (*guard_end)(bool failed);

void sl_control_set_guard(void (*begin)(void), void (*end)(bool failed))
{
	guard_begin = begin;
	guard_end = end;
}

void sl_control_guard_begin(void)
{
	if (guard_begin)
		guard_begin();
}

void sl_control_guard_end(bool failed)
{
	if (guard_end)
		guard_end(failed);
}

void sl_control_set_commit(int (*fn)(void))
{
	control_commit_fn = fn;
}

int sl_control_commit(void)
{
	if (control_committing)
		return 0;
	control_committing = true;
	/* Logs made ahead for objects of this pass: named durably before the
	 * objects are (best effort: a failure leaves them to their first write). */
	(void)sl_worker_logs_premade_sync();
	int rc = control_commit_fn ? control_commit_fn() : 0;
	/* The replies run no calls, so none join the list while it is sent. */
	for (size_t i = 0; i < control_replies.n; i++) {
		struct held_reply *h = &control_replies.v[i];
		if (rc < 0 && h->failed)
			h->failed(h->msg, rc);
		sl_msg_reply(NULL, h->msg);
	}
	control_replies.n = 0;
	control_committing = false;
	return rc;
}

void sl_control_reply_committed(struct sl_msg *msg, void (*failed)(struct sl_msg *msg, int rc))
{
	if (control_replies.n == control_replies.cap) {
		size_t cap = control_replies.cap ? control_replies.cap * 2 : 64;
		struct held_reply *v = realloc(control_replies.v, cap * sizeof(*v));
		if (!v) {
			/* No room to hold it: commit now, then reply. */
			int rc = control_commit_fn && !control_committing ? control_commit_fn() : 0;
			if (rc < 0 && failed)
				failed(msg, rc);
			sl_msg_reply(NULL, msg);
			return;
		}
		control_replies.v = v;
		control_replies.cap = cap;
	}
	control_replies.v[control_replies.n++] = (struct held_reply){ msg, failed };
}

unsigned sl_control_poll(void)
{
	struct sl_msgq q = control_held;
	unsigned n = 0;

	control_held.head = control_held.tail = NULL;
	for (struct sl_msg *m; (m = msgq_pop(&q)) != NULL; n++)
		msg_run(NULL, m);
	n += inbox_drain(NULL, control_inbox);
	seg_creates_sync();
	/* One commit for every call of this pass: group commit. */
	sl_control_commit();
	outbox_flush(&control_outbox);
	return n;
}

bool sl_control_prepare_sleep(void)
{
	atomic_store(&control_sleeping, 1);
	atomic_thread_fence(memory_order_seq_cst); /* pairs with msg_post() */
	if (control_held.head || control_outbox.head || control_replies.n ||
	    !rte_ring_empty(control_inbox)) {
		atomic_store(&control_sleeping, 0);
		return false;
	}
	return true;
}

void sl_control_woke(void)
{
	uint64_t v;
	ssize_t rc = read(control_efd, &v, sizeof(v));

	(void)rc;
	atomic_store(&control_sleeping, 0);
}

/* Replies still due to the sl_control_call_wait() in progress. */
static unsigned control_wait_left;

static void mark_replied(struct sl_worker *self, struct sl_msg *msg)
{
	(void)self;
	msg->type = SL_MSG_NONE;
	assert(control_wait_left > 0);
	control_wait_left--;
}

void sl_control_call_wait(struct sl_msg **msgs, const uint16_t *to, unsigned n)
{
	assert(control_wait_left == 0); /* not reentrant */
	control_wait_left = n;
	for (unsigned i = 0; i < n; i++) {
		msgs[i]->done = mark_replied;
		sl_msg_send(NULL, to[i], msgs[i]);
	}
	while (control_wait_left > 0) {
		void *m;
		outbox_flush(&control_outbox);
		atomic_store(&control_sleeping, 1);
		atomic_thread_fence(memory_order_seq_cst); /* pairs with msg_post() */
		if (rte_ring_sc_dequeue(control_inbox, &m) != 0) {
			/* Nothing yet. Sleep briefly only when nothing of ours is
			 * waiting for ring space either. */
			struct pollfd pfd = { .fd = control_efd, .events = POLLIN };
			poll(&pfd, 1, control_outbox.head ? 1 : sl_cfg->idle_ms ? (int)sl_cfg->idle_ms : 100);
			uint64_t v;
			ssize_t rc = read(control_efd, &v, sizeof(v));
			(void)rc;
			atomic_store(&control_sleeping, 0);
			continue;
		}
		atomic_store(&control_sleeping, 0);
		struct sl_msg *msg = m;
		if (msg->type == SL_MSG_CALL && !msg->anytime)
			msgq_push(&control_held, msg);
		else
			msg_run(NULL, msg);
		seg_creates_sync();
	}
}

void sl_worker_defer(struct sl_worker *w, struct sl_msg *node)
{
	msgq_push(&w->deferred, node);
}

/* Run what was deferred before this call; work deferred while running waits
 * for the next iteration, so one iteration is bounded. */
static void run_deferred(struct sl_worker *w)
{
	struct sl_msgq q = w->deferred;
	struct sl_waiter *ready = w->ready_head;

	w->deferred.head = w->deferred.tail = NULL;
	w->ready_head = w->ready_tail = NULL;
	for (struct sl_msg *m; (m = msgq_pop(&q)) != NULL;)
		msg_run(w, m);
	while (ready) {
		struct sl_waiter *wt = ready;
		ready = wt->next;
		wt->next = NULL;
		wt->cb(w, wt);
	}
}

/* ---- Shard logs ---------------------------------------------------------- */

static uint32_t wlog_hash(uint64_t uid, uint32_t ordinal)
{
	uint64_t h = uid * 0x9e3779b97f4a7c15ull ^ (ordinal + 0x632be59bd9b4e019ull);
	h ^= h >> 29;
	return (uint32_t)(h * 0xbf58476d1ce4e5b9ull >> 32);
}

static struct sl_wlog **wlog_slot(struct sl_worker *w, uint64_t uid, uint32_t ordinal, bool insert)
{
	uint32_t mask = w->logs_cap - 1;
	struct sl_wlog **tomb = NULL;

	for (uint32_t i = wlog_hash(uid, ordinal) & mask, probes = 0; probes < w->logs_cap;
	     i = (i + 1) & mask, probes++) {
		struct sl_wlog *e = w->logs[i];
		if (!e)
			return insert && tomb ? tomb : (insert ? &w->logs[i] : NULL);
		if (e == WLOG_TOMB) {
			if (!tomb)
				tomb = &w->logs[i];
			continue;
		}
		if (e->stream_uid == uid && e->ordinal == ordinal)
			return &w->logs[i];
	}
	return insert ? tomb : NULL;
}

static int logs_grow(struct sl_worker *w)
{
	uint32_t old_cap = w->logs_cap;
	struct sl_wlog **old = w->logs;
	uint32_t cap = old_cap ? old_cap * 2 : 64;

	w->logs = calloc(cap, sizeof(*w->logs));
	if (!w->logs) {
		w->logs = old;
		return -ENOMEM;
	}
	w->logs_cap = cap;
	w->logs_used = 0;
	for (uint32_t i = 0; i < old_cap; i++) {
		if (old[i] && old[i] != WLOG_TOMB) {
			*wlog_slot(w, old[i]->stream_uid, old[i]->ordinal, true) = old[i];
			w->logs_used++;
		}
	}
	free(old);
	return 0;
}

void sl_log_dir(uint64_t uid, char *out, size_t cap)
{
	snprintf(out, cap, "%s/" SL_LOGS_DIR "/%016llx", sl_cfg->data_dir, (unsigned long long)uid);
}

static void wlog_dir(uint64_t uid, uint32_t ordinal, char *out, size_t cap)
{
	snprintf(out, cap, "%s/" SL_LOGS_DIR "/%016llx/%08u", sl_cfg->data_dir,
		 (unsigned long long)uid, ordinal);
}

/* Set when a listing of logs/ failed: nothing may be assumed new. */
static bool log_dirs_unknown;

int sl_worker_foreach_log_dir(void (*fn)(uint64_t uid, uint32_t ordinal, void *arg), void *arg)
{
	char root[PATH_MAX], sub[PATH_MAX + 300];
	struct dirent *de;

	snprintf(root, sizeof(root), "%s/" SL_LOGS_DIR, sl_cfg->data_dir);
	DIR *d = opendir(root);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		log_dirs_unknown = true;
		return -errno;
	}
	int rc = 0;
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long long uid = strtoull(de->d_name, &end, 16);
		if (de->d_name[0] == '.' || *end || strlen(de->d_name) != 16)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", root, de->d_name);
		DIR *sd = opendir(sub);
		if (!sd) {
			rc = -errno;
			log_dirs_unknown = true;
			continue;
		}
		struct dirent *oe;
		while ((oe = readdir(sd)) != NULL) {
			unsigned long ordinal = strtoul(oe->d_name, &end, 10);
			if (oe->d_name[0] == '.' || *end || strlen(oe->d_name) != 8 ||
			    ordinal > UINT32_MAX)
				continue;
			fn(uid, (uint32_t)ordinal, arg);
		}
		closedir(sd);
	}
	closedir(d);
	return rc;
}

struct sl_wlog *sl_worker_log_existing(struct sl_worker *w, uint64_t stream_uid, uint32_t ordinal,
				       int *err)
{
	char dir[PATH_MAX];
	struct stat st;

	wlog_dir(stream_uid, ordinal, dir, sizeof(dir));
	if (stat(dir, &st) < 0) {
		*err = -errno;
		if (*err != -ENOENT)
			w->preload_failed = true; /* it may exist: never make it anew */
		return NULL;
	}
	struct sl_wlog *wl = sl_worker_log(w, stream_uid, ordinal, err);
	if (!wl)
		w->preload_failed = true; /* its first touch must open it, not make it */
	return wl;
}

struct sl_wlog *sl_worker_log_if_open(struct sl_worker *w, uint64_t stream_uid, uint32_t ordinal)
{
	struct sl_wlog **slot = w->logs_cap ? wlog_slot(w, stream_uid, ordinal, false) : NULL;

	return slot ? *slot : NULL;
}

static struct sl_shardlog *adopt_recovered(uint64_t uid, uint32_t ordinal);

/* The worker running on this thread (NULL on the control thread). */
static __thread struct sl_worker *tl_self;

static int seg_create_later(void *arg, struct sl_shardlog *log, uint64_t first_n, const char *path);
static void seg_grow_later(void *arg, int fd, uint64_t first_n, uint64_t from, uint64_t to);
static void seg_seal_later(void *arg, const char *path, uint8_t *buf, size_t len);

/* On the worker: rolls and growth of wl go to the control thread. */
static void worker_seg_ops(struct sl_worker *w, struct sl_wlog *wl, void *arg)
{
	struct sl_seg_ops ops = { seg_create_later, seg_grow_later, seg_seal_later, wl };

	(void)w;
	(void)arg;
	sl_shardlog_set_seg_ops(wl->log, &ops);
}

struct sl_wlog *sl_worker_log(struct sl_worker *w, uint64_t stream_uid, uint32_t ordinal, int *err)
{
	struct sl_wlog **slot = w->logs_cap ? wlog_slot(w, stream_uid, ordinal, false) : NULL;
	char dir[PATH_MAX];

	if (slot)
		return *slot;
	if ((w->logs_used + 1) * 2 > w->logs_cap && (*err = logs_grow(w)) < 0)
		return NULL;
	struct sl_wlog *wl = calloc(1, sizeof(*wl));
	if (!wl) {
		*err = -ENOMEM;
		return NULL;
	}
	wlog_dir(stream_uid, ordinal, dir, sizeof(dir));
	/* Set before the log exists: its first create job carries them. */
	wl->stream_uid = stream_uid;
	wl->ordinal = ordinal;
	wl->log = adopt_recovered(stream_uid, ordinal);
	bool made_new = false;
	if (!wl->log && tl_self == w && !w->preload_failed && !log_dirs_unknown) {
		/* On the worker: start-up opened every log this worker owns
		 * that exists, so this one is new. It is made by the control
		 * thread (directories, first segment) while appends stage. */
		struct sl_seg_ops ops = { seg_create_later, seg_grow_later, seg_seal_later, wl };
		wl->owner = w;
		*err = sl_shardlog_open_new(dir, sl_cfg->segment_bytes, &ops, &wl->log);
		made_new = true;
	} else if (!wl->log) {
		*err = sl_shardlog_open(dir, sl_cfg->segment_bytes, &wl->log);
	}
	if (*err < 0) {
		sl_error("shard log %s: %s", dir, strerror(-*err));
		free(wl);
		return NULL;
	}
	wl->stream_uid = stream_uid;
	wl->ordinal = ordinal;
	wl->owner = w;
	if (tl_self == w && !made_new)
		worker_seg_ops(w, wl, NULL);
	*wlog_slot(w, stream_uid, ordinal, true) = wl;
	w->logs_used++;
	return wl;
}

static void fire_waiters(struct sl_worker *w, struct sl_wlog *wl, bool all)
{
	uint64_t durable = sl_shardlog_durable_n(wl->log);

	/* Waiters are queued in append order, so targets never decrease. */
	while (wl->wait_head && (all || wl->wait_head->target_n <= durable)) {
		struct sl_waiter *wt = wl->wait_head;
		wl->wait_head = wt->next;
		if (!wl->wait_head)
			wl->wait_tail = NULL;
		wt->next = NULL;
		wt->reached = wt->target_n <= durable;
		wt->cb(w, wt);
	}
}

/* Files to delete travel to the control thread, which may block on the
 * filesystem; the worker frees the request when it comes back. */
struct removal {
	struct sl_msg msg;
	bool tree; /* a log's whole directory */
	char path[];
};

static void removal_call(struct sl_worker *self, struct sl_msg *msg)
{
	struct removal *r = msg->arg;

	assert(self == NULL);
	int rc = r->tree ? sl_shardlog_remove(r->path) : (unlink(r->path) < 0 ? -errno : 0);
	if (rc < 0 && rc != -ENOENT)
		sl_warn("could not remove %s: %s", r->path, strerror(-rc));
	sl_msg_reply(NULL, msg);
}

static void removal_done(struct sl_worker *w, struct sl_msg *msg)
{
	assert(w->removals > 0);
	w->removals--;
	free(msg->arg);
}

/* Hand path to the control thread for deletion. 0 or -ENOMEM. */
static int remove_later(struct sl_worker *w, const char *path, bool tree)
{
	size_t n = strlen(path) + 1;
	struct removal *r = malloc(sizeof(*r) + n);

	if (!r)
		return -ENOMEM;
	memcpy(r->path, path, n);
	r->tree = tree;
	r->msg.fn = removal_call;
	r->msg.done = removal_done;
	r->msg.arg = r;
	w->removals++;
	sl_msg_send_anytime(w, &r->msg);
	return 0;
}

static int unlink_later(void *arg, const char *path)
{
	return remove_later(arg, path, false);
}

/* Directories fsynced in one pass, each once (control thread). */
struct dirsync {
	char (*done)[PATH_MAX];
	size_t n, cap;
};

/* fsync the `levels` directories above path (its own, then each parent),
 * skipping those this pass synced already. 0 or -errno. */
static int dirsync_path(struct dirsync *ds, const char *path, unsigned levels)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	for (unsigned lvl = 0; lvl < levels; lvl++) {
		char *cut = strrchr(dir, '/');
		if (!cut || cut == dir)
			return 0;
		*cut = '\0';
		bool seen = false;
		for (size_t i = 0; i < ds->n && !seen; i++)
			seen = strcmp(ds->done[i], dir) == 0;
		if (seen)
			continue;
		int rc = sl_shardlog_fsync_dir(dir);
		if (rc < 0)
			return rc;
		if (ds->n == ds->cap) {
			size_t ncap = ds->cap ? ds->cap * 2 : 16;
			void *nd = realloc(ds->done, ncap * sizeof(*ds->done));
			if (!nd)
				continue; /* only the dedup is lost: synced again */
			ds->done = nd;
			ds->cap = ncap;
		}
		memcpy(ds->done[ds->n++], dir, strlen(dir) + 1);
	}
	return 0;
}

/* ---- Logs made ahead (control thread) ----------------------------------- */

/* Logs whose directories and empty first segment the control thread made,
 * names synced, when their object was created (sl_worker_log_premake), so
 * that the owner's first write finds them: a new log otherwise costs its
 * first write a create, an allocation and three directory syncs. Each is
 * taken by the owner's first create of that log, or dropped with its
 * object. */
static struct premade {
	uint64_t uid;
	uint32_t ordinal;
	bool synced;
} *premade;
static size_t npremade, cap_premade;
static size_t nunsynced; /* entries made since the last sync */

void sl_worker_log_premake(uint64_t uid, uint32_t ordinal)
{
	char dir[PATH_MAX], path[PATH_MAX];

	assert(tl_self == NULL);
	if (npremade >= SL_LOGS_PREMADE_MAX || log_dirs_unknown)
		return;
	if (npremade == cap_premade) {
		size_t ncap = cap_premade ? cap_premade * 2 : 64;
		struct premade *np = realloc(premade, ncap * sizeof(*np));
		if (!np)
			return;
		premade = np;
		cap_premade = ncap;
	}
	wlog_dir(uid, ordinal, dir, sizeof(dir));
	sl_shardlog_seg_path(dir, 0, path, sizeof(path));
	if (sl_shardlog_mkdir_unsynced(dir) < 0)
		return;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return; /* made already, or not makeable: its first write decides */
	close(fd);
	premade[npremade++] = (struct premade){ uid, ordinal, false };
	nunsynced++;
}

static void premade_path(const struct premade *p, char path[PATH_MAX])
{
	char dir[PATH_MAX];

	wlog_dir(p->uid, p->ordinal, dir, sizeof(dir));
	sl_shardlog_seg_path(dir, 0, path, PATH_MAX);
}

/* Remove entry i and, unless its owner took it, its file and directories. */
static void premade_drop(size_t i, bool files)
{
	if (files) {
		char path[PATH_MAX];
		premade_path(&premade[i], path);
		unlink(path);
		for (int lvl = 0; lvl < 2; lvl++) {
			char *cut = strrchr(path, '/');
			if (!cut)
				break;
			*cut = '\0';
			rmdir(path); /* the uid's may hold its other logs: then it stays */
		}
	}
	if (!premade[i].synced)
		nunsynced--;
	premade[i] = premade[--npremade];
}

int sl_worker_logs_premade_sync(void)
{
	struct dirsync ds = { 0 };
	int rc = 0;

	/* Called at every control commit: nothing to walk when nothing new. */
	if (nunsynced == 0)
		return 0;
	for (size_t i = 0; i < npremade && rc == 0; i++) {
		if (premade[i].synced)
			continue;
		char path[PATH_MAX];
		premade_path(&premade[i], path);
		rc = dirsync_path(&ds, path, 3);
	}
	free(ds.done);
	for (size_t i = npremade; i-- > 0;) {
		if (premade[i].synced)
			continue;
		if (rc < 0) {
			premade_drop(i, true);
		} else {
			premade[i].synced = true;
			nunsynced--;
		}
	}
	assert(nunsynced == 0);
	return rc;
}

void sl_worker_logs_premade_forget(uint64_t uid)
{
	/* Its files go with the object's other logs (sl_worker_drop_log). */
	for (size_t i = npremade; i-- > 0;)
		if (premade[i].uid == uid)
			premade_drop(i, false);
}

/* The owner's first create of (uid, ordinal): the file made ahead, open,
 * or -1 when there is none. */
static int premade_take(uint64_t uid, uint32_t ordinal, const char *path)
{
	for (size_t i = 0; i < npremade; i++) {
		if (premade[i].uid != uid || premade[i].ordinal != ordinal || !premade[i].synced)
			continue;
		premade_drop(i, false);
		return open(path, O_RDWR | O_CLOEXEC);
	}
	return -1;
}

/* Segment files are made and grown by the control thread too: a roll (open,
 * allocate, sync the directory) and each growth step would otherwise block
 * the worker on the filesystem. The log keeps staging meanwhile; the log is
 * never closed while a job holds its fd (wl->seg_jobs). */
struct seg_job {
	struct sl_msg msg;
	struct sl_wlog *wl;
	enum { JOB_CREATE, JOB_GROW, JOB_SEAL } kind;
	int fd;      /* grow: the segment; create: the answer (fd or -errno) */
	uint8_t *buf; /* seal: the footer, freed when done */
	size_t len;
	uint64_t first_n;
	uint64_t from, to;
	uint64_t uid;     /* create: the log's (copied on the worker) */
	uint32_t ordinal;
	struct seg_job *sync_next; /* create: waiting for its directories' fsync */
	char path[];
};

/* Creates made, their directories not yet synced (control thread). */
static struct seg_job *creates_unsynced;

static void seg_job_call(struct sl_worker *self, struct sl_msg *msg)
{
	struct seg_job *j = msg->arg;

	assert(self == NULL);
	if (j->kind == JOB_GROW) {
		if (fallocate(j->fd, 0, (off_t)j->from, (off_t)(j->to - j->from)) < 0 &&
		    errno != EOPNOTSUPP)
			sl_warn("segment growth: %s", strerror(errno));
		sl_msg_reply(NULL, msg);
		return;
	}
	if (j->kind == JOB_SEAL) {
		/* No fsync: a footer lost or torn is ignored at start-up. */
		int sfd = open(j->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (sfd < 0 || write(sfd, j->buf, j->len) != (ssize_t)j->len)
			sl_warn("segment footer %s: %s", j->path, strerror(errno));
		if (sfd >= 0)
			close(sfd);
		sl_msg_reply(NULL, msg);
		return;
	}
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", j->path);
	char *cut = strrchr(parent, '/');
	if (cut)
		*cut = '\0';
	/* Made ahead with its object: named and synced already. */
	int pre = j->first_n == 0 ? premade_take(j->uid, j->ordinal, j->path) : -1;
	if (pre >= 0) {
		j->fd = pre;
		j->to = 0; /* nothing allocated: growth follows the writes */
		sl_msg_reply(NULL, msg);
		return;
	}
	/* A new log's first segment comes with its directories. */
	int rc = j->first_n == 0 ? sl_shardlog_mkdir_unsynced(parent) : 0;
	int fd = rc < 0 ? -1 : open(j->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (rc == 0 && fd < 0)
		rc = -errno;
	if (rc == 0 && fallocate(fd, 0, 0, (off_t)j->to) < 0 && errno != EOPNOTSUPP)
		rc = -errno;
	if (rc < 0) {
		if (fd >= 0) {
			close(fd);
			unlink(j->path);
		}
		sl_error("segment %s: %s", j->path, strerror(-rc));
		j->fd = rc;
		sl_msg_reply(NULL, msg);
		return;
	}
	/* The new names must survive a crash before any record in them is
	 * acknowledged: answered by seg_creates_sync, with the others of this
	 * pass. */
	j->fd = fd;
	j->sync_next = creates_unsynced;
	creates_unsynced = j;
}

/* fsync every directory the creates of this pass touched, once each (a
 * segment's own; for a new log's first one, logs/<uid>/ and logs/ too), and
 * answer them all: on ext4 the first fsync commits every new name of the
 * pass and the rest find nothing left to commit, so a hundred new logs cost
 * about one filesystem commit rather than three each. Bounded by the pass's
 * messages. A failed sync fails every create of the pass (each is asked for
 * again by its log). */
static void seg_creates_sync(void)
{
	struct seg_job *list = creates_unsynced;
	struct dirsync ds = { 0 };
	int rc = 0;

	creates_unsynced = NULL;
	for (struct seg_job *j = list; j && rc == 0; j = j->sync_next)
		rc = dirsync_path(&ds, j->path, j->first_n == 0 ? 3 : 1);
	free(ds.done);
	for (struct seg_job *j = list, *next; j; j = next) {
		next = j->sync_next;
		if (rc < 0) {
			close(j->fd);
			unlink(j->path);
			sl_error("segment %s: %s", j->path, strerror(-rc));
			j->fd = rc;
		}
		sl_msg_reply(NULL, &j->msg);
	}
}

static void mark_dirty(struct sl_worker *w, struct sl_wlog *wl);

static void seg_job_done(struct sl_worker *w, struct sl_msg *msg)
{
	struct seg_job *j = msg->arg;
	struct sl_wlog *wl = j->wl;

	assert(wl->seg_jobs > 0);
	wl->seg_jobs--;
	if (j->kind == JOB_CREATE) {
		sl_shardlog_adopt_segment(wl->log, j->first_n, j->fd, j->to);
		if (j->fd < 0)
			wl->retry_at_ms = sl_now_ms() + SL_FLUSH_RETRY_MS;
		mark_dirty(w, wl); /* what waited for the file can be written now */
	} else if (j->kind == JOB_GROW) {
		sl_shardlog_grow_done(wl->log, j->first_n);
	}
	free(j->buf);
	free(j);
}

static struct seg_job *seg_job_new(struct sl_wlog *wl, const char *path)
{
	size_t n = path ? strlen(path) + 1 : 1;
	struct seg_job *j = calloc(1, sizeof(*j) + n);

	if (!j)
		return NULL;
	if (path)
		memcpy(j->path, path, n);
	j->wl = wl;
	j->msg.fn = seg_job_call;
	j->msg.done = seg_job_done;
	j->msg.arg = j;
	return j;
}

static int seg_create_later(void *arg, struct sl_shardlog *log, uint64_t first_n, const char *path)
{
	struct sl_wlog *wl = arg;
	struct seg_job *j = seg_job_new(wl, path);

	(void)log;
	if (!j)
		return -ENOMEM;
	j->kind = JOB_CREATE;
	j->uid = wl->stream_uid;
	j->ordinal = wl->ordinal;
	j->first_n = first_n;
	j->to = SL_PREALLOC_STEP;
	wl->seg_jobs++;
	sl_msg_send_anytime(wl->owner, &j->msg);
	return 0;
}

static void seg_grow_later(void *arg, int fd, uint64_t first_n, uint64_t from, uint64_t to)
{
	struct sl_wlog *wl = arg;
	struct seg_job *j = seg_job_new(wl, NULL);

	if (!j)
		return; /* best effort: the writes extend the file anyway */
	j->kind = JOB_GROW;
	j->fd = fd;
	j->first_n = first_n;
	j->from = from;
	j->to = to;
	wl->seg_jobs++;
	sl_msg_send_anytime(wl->owner, &j->msg);
}

static void seg_seal_later(void *arg, const char *path, uint8_t *buf, size_t len)
{
	struct sl_wlog *wl = arg;
	struct seg_job *j = seg_job_new(wl, path);

	if (!j) {
		free(buf); /* best effort: a scan at the next start-up */
		return;
	}
	j->kind = JOB_SEAL;
	j->buf = buf;
	j->len = len;
	wl->seg_jobs++;
	sl_msg_send_anytime(wl->owner, &j->msg);
}

int sl_worker_trim_log(struct sl_worker *w, struct sl_wlog *wl, int64_t cutoff_ms)
{
	if (wl->seg_jobs)
		return 0; /* a job may hold a segment's fd: next tick */
	return sl_shardlog_trim_with(wl->log, cutoff_ms, unlink_later, w);
}

int sl_worker_drop_dead(struct sl_worker *w, struct sl_wlog *wl)
{
	if (wl->seg_jobs || sl_shardlog_busy(wl->log))
		return 0; /* a job or a flush may hold a segment: next tick */
	return sl_shardlog_drop_dead(wl->log, unlink_later, w);
}

int sl_worker_drop_log(struct sl_worker *w, uint64_t stream_uid, uint32_t ordinal)
{
	struct sl_wlog **slot = w->logs_cap ? wlog_slot(w, stream_uid, ordinal, false) : NULL;
	char dir[PATH_MAX];

	wlog_dir(stream_uid, ordinal, dir, sizeof(dir));
	if (slot) {
		struct sl_wlog *wl = *slot;
		if (sl_shardlog_busy(wl->log) || wl->fsyncs_due || wl->held_on ||
		    sl_shardlog_readers(wl->log) || wl->seg_jobs)
			return -EBUSY; /* completions still point at it: retry later */
		fire_waiters(w, wl, true);
		if (wl->release)
			wl->release(w, wl);
		*slot = WLOG_TOMB;
		sl_shardlog_close(wl->log);
		free(wl);
	}
	return remove_later(w, dir, true);
}

void sl_worker_foreach_log(struct sl_worker *w, void (*fn)(struct sl_worker *, struct sl_wlog *, void *),
			   void *arg)
{
	for (uint32_t i = 0; i < w->logs_cap; i++) {
		if (w->logs[i] && w->logs[i] != WLOG_TOMB)
			fn(w, w->logs[i], arg);
	}
}

static void mark_dirty(struct sl_worker *w, struct sl_wlog *wl)
{
	if (!wl->dirty) {
		wl->dirty = true;
		wl->dirty_next = w->dirty;
		w->dirty = wl;
	}
}

static void waiter_append(struct sl_waiter **head, struct sl_waiter **tail, struct sl_waiter *wt)
{
	wt->next = NULL;
	if (*tail)
		(*tail)->next = wt;
	else
		*head = wt;
	*tail = wt;
}

void sl_worker_commit(struct sl_worker *w, struct sl_wlog *wl, struct sl_waiter *wt)
{
	if (sl_shardlog_busy(wl->log))
		mark_dirty(w, wl);
	if (!wt)
		return;
	/* Already durable: fire from the loop, never from inside the caller. */
	wt->reached = false;
	if (sl_shardlog_durable_n(wl->log) >= wt->target_n) {
		wt->reached = true;
		waiter_append(&w->ready_head, &w->ready_tail, wt);
	}
	else
		waiter_append(&wl->wait_head, &wl->wait_tail, wt);
}

/* Start one flush per dirty log: the group commit of this iteration. */
/* Sync mode with the journal: a log on the held list has a flush in
 * flight or written flushes waiting for their journal batch. */
static void held_push(struct sl_worker *w, struct sl_wlog *wl)
{
	if (wl->held_on)
		return;
	wl->held_on = true;
	wl->held_next = w->held;
	w->held = wl;
}

/* The flush in flight is written and journaled: detach it, so that the
 * log's next flush can start while this one waits for its batch. */
static void try_detach(struct sl_worker *w, struct sl_wlog *wl)
{
	if (!wl->flight_held || !wl->jseq || !sl_shardlog_written(wl->log))
		return;
	assert(wl->mcount < SL_HELD_FLUSHES_MAX);
	struct sl_flush_mark m;
	sl_shardlog_detach(wl->log, &m);
	struct sl_held_mark *hm = &wl->marks[(wl->mhead + wl->mcount) % SL_HELD_FLUSHES_MAX];
	*hm = (struct sl_held_mark){ wl->jseq, m.end_n, m.last_arrival_ms, wl->flush_start_ns };
	wl->mcount++;
	wl->flight_held = false;
	wl->jseq = 0;
	if (sl_shardlog_busy(wl->log))
		mark_dirty(w, wl);
}

/* Give every held flush without an entry one: its frames, as the shard's
 * own write carries them. */
static void journal_entries(struct sl_worker *w)
{
	for (struct sl_wlog *wl = w->held; wl; wl = wl->held_next) {
		if (!wl->flight_held || wl->jseq)
			continue;
		uint32_t len;
		const uint8_t *frames = sl_shardlog_flight(wl->log, &len);
		int64_t seq = sl_journal_add(w->journal, SL_JOURNAL_KIND_SEGLOG, wl->stream_uid,
					     wl->ordinal, frames, len);
		if (seq == -E2BIG)
			sl_error("flush of %u bytes cannot fit a journal file", len);
		if (seq < 0)
			return; /* no room until the journal moves on: keep the order */
		wl->jseq = (uint64_t)seq;
		try_detach(w, wl);
	}
}

static void log_durable(struct sl_worker *w, struct sl_wlog *wl, int64_t start_ns)
{
	struct sl_metrics *m = sl_metrics_of(w->idx);

	sl_metric_add(&m->flushes, 1);
	sl_hist_observe(&m->flush_latency, (uint64_t)(mono_ns() - start_ns) / 1000);
	fire_waiters(w, wl, false);
}

/* Publish, log by log and in order, every written flush whose journal
 * batch is durable; a log with nothing left leaves the held list. */
static void held_publish(struct sl_worker *w)
{
	uint64_t durable = sl_journal_durable_seq(w->journal);
	struct sl_wlog **pp = &w->held;

	while (*pp) {
		struct sl_wlog *wl = *pp;
		bool published = false;
		/* Bounded by SL_HELD_FLUSHES_MAX marks. */
		while (wl->mcount && wl->marks[wl->mhead].jseq <= durable) {
			struct sl_held_mark *hm = &wl->marks[wl->mhead];
			struct sl_flush_mark m = { hm->end_n, hm->last_arrival_ms };
			int64_t start = hm->start_ns;
			sl_shardlog_publish_mark(wl->log, &m);
			wl->mhead = (uint8_t)((wl->mhead + 1) % SL_HELD_FLUSHES_MAX);
			wl->mcount--;
			log_durable(w, wl, start);
			published = true;
		}
		if (published && sl_shardlog_busy(wl->log))
			mark_dirty(w, wl);
		if (!wl->mcount && !wl->flight_held) {
			*pp = wl->held_next;
			wl->held_on = false;
			continue;
		}
		pp = &wl->held_next;
	}
}

/* Start one flush per dirty log: the group commit of this iteration. In
 * sync mode the logs only write, and one journal batch with one fdatasync
 * makes all of them durable. */
static void flush_dirty(struct sl_worker *w)
{
	struct sl_wlog *keep = NULL;
	int mode = sl_cfg->durability != SL_DUR_SYNC ? SL_FLUSH_WRITE :
		   w->journal ? SL_FLUSH_HELD : SL_FLUSH_SYNC;

	for (struct sl_wlog *wl = w->dirty, *next; wl; wl = next) {
		next = wl->dirty_next;
		if (mode == SL_FLUSH_HELD && !wl->flight_held && wl->mcount == SL_HELD_FLUSHES_MAX) {
			wl->dirty = false; /* publishing a mark marks it dirty again */
			continue;
		}
		int rc = sl_shardlog_prep_flush(wl->log, &w->ring, mode, sl_op_tag(wl, SL_OP_LOG));
		if (rc == -EBUSY) {
			io_uring_submit(&w->ring);
			rc = sl_shardlog_prep_flush(wl->log, &w->ring, mode, sl_op_tag(wl, SL_OP_LOG));
		}
		if (rc == -EBUSY) {
			wl->dirty_next = keep;
			keep = wl;
			continue;
		}
		/* Submitted, or in flight already: the completion re-marks it. */
		if (rc > 0 && !wl->flight_held) {
			wl->flush_start_ns = mono_ns();
			if (mode == SL_FLUSH_HELD) {
				wl->flight_held = true;
				wl->jseq = 0;
				held_push(w, wl);
			}
		}
		wl->dirty = false;
	}
	w->dirty = keep;
	if (!w->journal)
		return;
	journal_entries(w);
	if (w->journal_retry_at_ms && sl_now_ms() < w->journal_retry_at_ms)
		return;
	int rc = sl_journal_prep(w->journal, &w->ring, SL_OP_JOURNAL);
	if (rc == -EBUSY && io_uring_submit(&w->ring) >= 0)
		sl_journal_prep(w->journal, &w->ring, SL_OP_JOURNAL);
}

static void journal_completed(struct sl_worker *w, void *batch, int res)
{
	int rc = sl_journal_complete(w->journal, batch, res);

	if (rc == 0)
		return;
	if (rc < 0) {
		sl_metric_add(&sl_metrics_of(w->idx)->flush_errors, 1);
		sl_error("journal write failed (%s); retrying in %d ms", strerror(-rc),
			 SL_FLUSH_RETRY_MS);
		w->journal_retry_at_ms = sl_now_ms() + SL_FLUSH_RETRY_MS;
		return;
	}
	w->journal_retry_at_ms = 0;
	held_publish(w);
}

static void log_completed(struct sl_worker *w, struct sl_wlog *wl, int res)
{
	int rc = sl_shardlog_complete(wl->log, res);

	if (rc == 0)
		return;
	if (rc < 0) {
		sl_metric_add(&sl_metrics_of(w->idx)->flush_errors, 1);
		/* The same bytes are written again from the next tick on, not at
		 * once: a failing disk must not spin the worker or flood the log.
		 * Their requests wait meanwhile (nothing acknowledged is lost). */
		sl_error("shard log flush failed (%s); retrying in %d ms", strerror(-rc),
			 SL_FLUSH_RETRY_MS);
		wl->retry_at_ms = sl_now_ms() + SL_FLUSH_RETRY_MS;
		return;
	}
	if (wl->flight_held) {
		try_detach(w, wl);
		held_publish(w); /* durable now if its journal batch already is */
		return;
	}
	log_durable(w, wl, wl->flush_start_ns);
	if (sl_shardlog_busy(wl->log))
		mark_dirty(w, wl);
}

/* The journal moved to its other file: once every entry of the file it
 * left is durable and published, fdatasync every log in its own files; when
 * those syncs are done the file may be reused. */
static void batch_sync_one(struct sl_worker *w, struct sl_wlog *wl, void *arg);

static void checkpoint(struct sl_worker *w)
{
	uint64_t upto = sl_journal_ckpt_seq(w->journal);

	if (!upto || w->ckpt_running || sl_journal_durable_seq(w->journal) < upto)
		return;
	for (struct sl_wlog *wl = w->held; wl; wl = wl->held_next) {
		if ((wl->flight_held && wl->jseq && wl->jseq <= upto) ||
		    (wl->mcount && wl->marks[wl->mhead].jseq <= upto))
			return; /* its records are not published yet */
	}
	w->ckpt_running = true;
	w->ckpt_failed = false;
	w->ckpt_due = 0;
	sl_worker_foreach_log(w, batch_sync_one, NULL);
	if (w->ckpt_due == 0) {
		w->ckpt_running = false;
		sl_journal_ckpt_done(w->journal);
	}
}

static void retry_failed_one(struct sl_worker *w, struct sl_wlog *wl, void *arg)
{
	int64_t now = *(const int64_t *)arg;

	if (wl->retry_at_ms && now >= wl->retry_at_ms) {
		wl->retry_at_ms = 0;
		/* A segment whose create failed is asked for again. */
		if (sl_shardlog_create_error(wl->log))
			(void)sl_shardlog_retry_create(wl->log); /* a job, counted by the ops */
		mark_dirty(w, wl);
	}
	/* A log that stayed quiet for a few ticks gives back what a burst made
	 * it grow (not at every lull: that would reallocate under load). */
	if (wl->dirty || wl->held_on || sl_shardlog_busy(wl->log))
		wl->idle_ticks = 0;
	else if (++wl->idle_ticks >= SL_STAGE_TRIM_TICKS)
		sl_shardlog_trim_memory(wl->log);
}

/* Batch mode: fdatasync every log written since its last sync. */
static void batch_sync_one(struct sl_worker *w, struct sl_wlog *wl, void *arg)
{
	(void)arg;
	if (wl->fsyncs_due)
		return;
	int rc = sl_shardlog_prep_sync(wl->log, &w->ring, sl_op_tag(wl, SL_OP_FSYNC));
	if (rc == -EBUSY && io_uring_submit(&w->ring) >= 0)
		rc = sl_shardlog_prep_sync(wl->log, &w->ring, sl_op_tag(wl, SL_OP_FSYNC));
	if (rc > 0) {
		wl->fsyncs_due = (uint32_t)rc;
		if (w->ckpt_running)
			w->ckpt_due += (uint32_t)rc;
	} else if (rc < 0 && w->ckpt_running) {
		w->ckpt_failed = true; /* the checkpoint runs again */
	}
}

struct io_uring_sqe *sl_worker_sqe(struct sl_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	/* A full submission queue is handed to the kernel, which empties it
	 * unless it refuses new work (-EBUSY while completions overflow):
	 * then the caller retries from a later loop iteration. */
	if (!sqe && io_uring_submit(&w->ring) >= 0)
		sqe = io_uring_get_sqe(&w->ring);
	return sqe;
}

/* One batch-mode fdatasync came back. A failure is counted and the same
 * records are synced again from the next tick (synced_n did not move). */
static void batch_synced(struct sl_worker *w, struct sl_wlog *wl, int res)
{
	assert(wl->fsyncs_due > 0);
	wl->fsyncs_due--;
	int rc = sl_shardlog_sync_complete(wl->log, res);
	if (rc < 0) {
		sl_metric_add(&sl_metrics_of(w->idx)->flush_errors, 1);
		sl_error("fdatasync of a shard log failed (%s); syncing again", strerror(-rc));
	}
	if (!w->ckpt_running)
		return;
	if (res < 0)
		w->ckpt_failed = true;
	assert(w->ckpt_due > 0);
	if (--w->ckpt_due > 0)
		return;
	w->ckpt_running = false;
	if (!w->ckpt_failed)
		sl_journal_ckpt_done(w->journal); /* else checkpoint() starts over */
}

int sl_worker_read(struct sl_worker *w, struct sl_aio *aio, int fd, void *buf, size_t len,
		   uint64_t off)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(w);

	assert(((uintptr_t)aio & 7) == 0);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, fd, buf, (unsigned)len, off);
	io_uring_sqe_set_data64(sqe, sl_op_tag(aio, SL_OP_AIO));
	return 0;
}

/* ---- The loop ------------------------------------------------------------ */

int sl_worker_read_nowait(struct sl_worker *w, struct sl_aio *aio, int fd, void *buf, size_t len,
			  uint64_t off)
{
	struct iovec iov = { buf, len };
	ssize_t got = preadv2(fd, &iov, 1, (off_t)off, RWF_NOWAIT);

	/* A filesystem without RWF_NOWAIT (EOPNOTSUPP) reads through io_uring
	 * like a cold page: never a blocking read here. */
	if (got < 0 && errno != EAGAIN && errno != EOPNOTSUPP)
		return -errno;
	if (got == (ssize_t)len)
		return 1;
	sl_debug("read of %zu bytes at %llu not cached, reading through io_uring", len,
		 (unsigned long long)off);
	int rc = sl_worker_read(w, aio, fd, buf, len, off);
	return rc < 0 ? rc : 0;
}

int sl_worker_open_rdonly(struct sl_worker *w, struct sl_aio *aio, const char *path)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(w);

	assert(((uintptr_t)aio & 7) == 0);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_openat(sqe, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	io_uring_sqe_set_data64(sqe, sl_op_tag(aio, SL_OP_AIO));
	return 0;
}

/* The loop's own operations: each is re-armed from the loop when no
 * submission entry was free (w->arm_due). */
enum { ARM_EVENTFD = 1, ARM_ACCEPT = 2 };

static void arm_eventfd(struct sl_worker *w)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(w);

	if (!sqe) {
		w->arm_due |= ARM_EVENTFD;
		return;
	}
	io_uring_prep_read(sqe, w->efd, &w->efd_val, sizeof(w->efd_val), 0);
	io_uring_sqe_set_data64(sqe, sl_op_tag(w, SL_OP_EVENTFD));
}

static void arm_accept(struct sl_worker *w)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(w);

	if (!sqe) {
		w->arm_due |= ARM_ACCEPT;
		return;
	}
	io_uring_prep_multishot_accept(sqe, w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, sl_op_tag(w, SL_OP_ACCEPT));
}

/* Housekeeping period: a second, or the batch-mode sync interval. */
static unsigned tick_period_ms(void)
{
	unsigned ms = sl_cfg->idle_ms ? sl_cfg->idle_ms : 1000;

	if (sl_cfg->durability == SL_DUR_BATCH && sl_cfg->batch_ms < ms)
		ms = sl_cfg->batch_ms;
	return ms;
}

static void on_tick(struct sl_timer *t, void *arg)
{
	struct sl_worker *w = arg;
	int64_t now = sl_now_ms();

	assert(t == &w->tick);
	if (sl_cfg->durability == SL_DUR_BATCH)
		sl_worker_foreach_log(w, batch_sync_one, NULL);
	sl_worker_foreach_log(w, retry_failed_one, &now);
	/* The journal's batch buffers, grown by a burst, go back once it has
	 * stayed idle for a few ticks (as the shard logs' stages do). */
	if (w->journal && (sl_journal_busy(w->journal) || w->held))
		w->journal_idle_ticks = 0;
	else if (w->journal && ++w->journal_idle_ticks >= SL_STAGE_TRIM_TICKS)
		sl_journal_trim_memory(w->journal);
	if (now - w->last_tick_ms >= 1000) {
		w->last_tick_ms = now;
		if (sl_hooks.tick)
			sl_hooks.tick(w);
	}
	if (!atomic_load(&w->stop))
		sl_timer_add(&w->wheel, &w->tick, w->wheel.now_ms + tick_period_ms(), on_tick, w);
}

uint64_t sl_mono_ms(void)
{
	return (uint64_t)(mono_ns() / 1000000);
}

void sl_worker_timer(struct sl_worker *w, struct sl_timer *t, uint64_t delay_ms, sl_timer_fn fn,
		     void *arg)
{
	uint64_t now = sl_mono_ms();

	/* The wheel's clock only moves forward; a reading taken on another
	 * core a moment ago may trail it. */
	if (now < w->wheel.now_ms)
		now = w->wheel.now_ms;
	sl_timer_add(&w->wheel, t, now + delay_ms, fn, arg);
}

void sl_worker_timer_cancel(struct sl_worker *w, struct sl_timer *t)
{
	sl_timer_cancel(&w->wheel, t);
}

static void on_cqe(struct sl_worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	enum sl_op_kind kind = (enum sl_op_kind)(ud & 7);
	void *obj = (void *)(uintptr_t)(ud & ~7ull);

	switch (kind) {
	case SL_OP_EVENTFD:
		if (!atomic_load(&w->stop))
			arm_eventfd(w);
		break;
	case SL_OP_ACCEPT:
		if (cqe->res >= 0 && sl_hooks.accepted)
			sl_hooks.accepted(w, cqe->res);
		else if (cqe->res >= 0)
			close(cqe->res);
		if (!(cqe->flags & IORING_CQE_F_MORE) && !atomic_load(&w->stop) && w->listen_fd >= 0)
			arm_accept(w);
		break;
	case SL_OP_LOG:
		log_completed(w, obj, cqe->res);
		break;
	case SL_OP_JOURNAL:
		journal_completed(w, obj, cqe->res);
		break;
	case SL_OP_FSYNC:
		batch_synced(w, obj, cqe->res);
		break;
	case SL_OP_AIO: {
		struct sl_aio *aio = obj;
		aio->done(w, aio, cqe->res);
		break;
	}
	default:
		if (sl_hooks.io)
			sl_hooks.io(w, obj, kind, cqe->res, cqe->flags);
		break;
	}
}

static unsigned reap(struct sl_worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned head, count = 0;

	io_uring_for_each_cqe(&w->ring, head, cqe) {
		/* liburing's own timeout, on kernels without IORING_FEAT_EXT_ARG. */
		if (cqe->user_data != LIBURING_UDATA_TIMEOUT)
			on_cqe(w, cqe);
		count++;
	}
	io_uring_cq_advance(&w->ring, count);
	return count;
}

static int open_listener(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(sl_cfg->listen_port) };
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (inet_pton(AF_INET, sl_cfg->listen_host, &sa.sin_addr) != 1) {
		close(fd);
		return -EINVAL;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, SL_LISTEN_BACKLOG) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static bool has_work(struct sl_worker *w)
{
	return w->deferred.head || w->ready_head || w->dirty || w->arm_due ||
	       sl_timer_next_ms(&w->wheel, sl_mono_ms()) == 0 || !rte_ring_empty(w->inbox);
}

static bool logs_idle(struct sl_worker *w)
{
	for (uint32_t i = 0; i < w->logs_cap; i++) {
		struct sl_wlog *wl = w->logs[i];
		if (wl && wl != WLOG_TOMB &&
		    (sl_shardlog_busy(wl->log) || wl->fsyncs_due || wl->held_on ||
		     sl_shardlog_readers(wl->log) || wl->seg_jobs))
			return false;
	}
	return true;
}

uint64_t sl_qsbr_retire(void)
{
	return atomic_fetch_add(&qsbr_global, 1) + 1;
}

bool sl_qsbr_safe(uint64_t epoch)
{
	for (uint16_t i = 0; i < nworkers; i++) {
		uint64_t e = atomic_load(&qsbr_local[i]);
		if (e != 0 && e < epoch)
			return false;
	}
	return true;
}

/* Arm what found the submission queue full last time. */
static void rearm_due(struct sl_worker *w)
{
	uint8_t due = w->arm_due;

	w->arm_due = 0;
	if ((due & ARM_EVENTFD) && !atomic_load(&w->stop))
		arm_eventfd(w);
	if ((due & ARM_ACCEPT) && !atomic_load(&w->stop) && w->listen_fd >= 0)
		arm_accept(w);
}

/* Submit and sleep in io_uring_enter until a completion arrives or the
 * next timer is due; with no timer pending, until a completion. */
static void sleep_until_event(struct sl_worker *w)
{
	struct io_uring_cqe *cqe;
	int64_t ms = sl_timer_next_ms(&w->wheel, sl_mono_ms());

	if (ms < 0) {
		io_uring_submit_and_wait(&w->ring, 1);
		return;
	}
	struct __kernel_timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL); /* -ETIME: a timer is due */
}

static void loop_once(struct sl_worker *w, bool may_sleep)
{
	/* seq_cst pairs with the writer's swap-then-retire (see sl_qsbr_*). */
	atomic_store(&qsbr_local[w->idx], atomic_load(&qsbr_global));
	reap(w);
	if (w->arm_due)
		rearm_due(w);
	sl_timer_advance(&w->wheel, sl_mono_ms(), SL_TIMER_BUDGET);
	inbox_drain(w, w->inbox);
	run_deferred(w);
	outbox_flush(&w->outbox);
	flush_dirty(w);
	if (w->journal)
		checkpoint(w);
	sl_log_pump(w, &w->log);
	if (!may_sleep) {
		io_uring_submit(&w->ring);
		return;
	}
	/* Dekker with msg_post(): publish "sleeping", then look at the ring
	 * once more; a sender that enqueued before seeing the flag is caught
	 * here, one that enqueued after will write the eventfd. */
	atomic_store(&qsbr_local[w->idx], 0);
	atomic_store(&w->sleeping, 1);
	atomic_thread_fence(memory_order_seq_cst); /* pairs with msg_post() */
	if (has_work(w) || w->outbox.head) {
		atomic_store(&w->sleeping, 0);
		io_uring_submit(&w->ring);
		return;
	}
	sleep_until_event(w);
	atomic_store(&w->sleeping, 0);
}

/* Workers still draining at shutdown: a worker keeps serving its ring
 * until every one is done, since requests in flight may still need a call
 * to another worker. */
static _Atomic unsigned workers_draining;

static bool drain_busy(struct sl_worker *w)
{
	return !logs_idle(w) || has_work(w) || w->outbox.head || w->removals ||
	       (w->journal && sl_journal_busy(w->journal)) || (sl_hooks.busy && sl_hooks.busy(w));
}

static void worker_drain_and_stop(struct sl_worker *w)
{
	int64_t deadline = sl_now_ms() + SL_STOP_DRAIN_S * 1000;
	bool counted = true;

	if (w->listen_fd >= 0) {
		close(w->listen_fd);
		w->listen_fd = -1;
	}
	/* Stop taking requests; finish those accepted: their records are
	 * flushed and synced and their replies sent, then connections close. */
	if (sl_hooks.stop)
		sl_hooks.stop(w);
	while (sl_now_ms() < deadline) {
		bool busy = drain_busy(w);
		if (busy != counted) {
			atomic_fetch_add(&workers_draining, busy ? 1u : (unsigned)-1);
			counted = busy;
		}
		if (!busy && atomic_load(&workers_draining) == 0)
			break;
		loop_once(w, false);
	}
	if (sl_cfg->durability == SL_DUR_BATCH) {
		sl_worker_foreach_log(w, batch_sync_one, NULL);
		while (!logs_idle(w) && sl_now_ms() < deadline)
			loop_once(w, false);
	}
	for (uint32_t i = 0; i < w->logs_cap; i++) {
		struct sl_wlog *wl = w->logs[i];
		if (wl && wl != WLOG_TOMB) {
			fire_waiters(w, wl, true);
			if (wl->release) {
				wl->release(w, wl);
				wl->release = NULL;
			}
			if (wl->seg_jobs) {
				/* Past the drain deadline with a job out: its answer
				 * would land on freed memory, so keep it. */
				sl_warn("shard log %u: %u segment job(s) unanswered at exit",
					wl->ordinal, wl->seg_jobs);
				continue;
			}
			sl_shardlog_close(wl->log);
			free(wl);
		}
	}
	free(w->logs);
	w->logs = NULL;
	w->logs_cap = 0;
}

static int worker_main(void *arg)
{
	struct sl_worker *w = arg;
	char name[16];
	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN };

	snprintf(name, sizeof(name), "w%u", w->idx);
	sl_log_thread_name(name);
	sl_log_attach(&w->log);
	/* From here on this thread is w: logs opened for it before (start-up
	 * recovery) hand their rolls to the control thread too. */
	tl_self = w;
	sl_worker_foreach_log(w, worker_seg_ops, NULL);
	if (io_uring_queue_init_params(SL_URING_ENTRIES, &w->ring, &p) < 0) {
		memset(&p, 0, sizeof(p));
		int rc = io_uring_queue_init_params(SL_URING_ENTRIES, &w->ring, &p);
		if (rc < 0) {
			sl_error("io_uring_queue_init: %s", strerror(-rc));
			return rc;
		}
	}
	/* io_uring's own worker threads (io-wq, for work it cannot do inline)
	 * stay on this worker's CPU instead of spreading over the others. */
	rte_cpuset_t cpus = rte_lcore_cpuset(w->lcore);
	int aff = io_uring_register_iowq_aff(&w->ring, sizeof(cpus), &cpus);
	if (aff < 0)
		sl_warn("worker %u: io-wq affinity: %s", w->idx, strerror(-aff));
	w->last_tick_ms = sl_now_ms();
	sl_timer_wheel_init(&w->wheel, sl_mono_ms());
	sl_timer_add(&w->wheel, &w->tick, w->wheel.now_ms + tick_period_ms(), on_tick, w);
	arm_eventfd(w);
	arm_accept(w);
	if (sl_hooks.start)
		sl_hooks.start(w);
	while (!atomic_load(&w->stop))
		loop_once(w, true);
	worker_drain_and_stop(w);
	atomic_store(&qsbr_local[w->idx], 0); /* holds no catalog snapshot any more */
	/* A log write may still be in flight: let it land, then write the rest
	 * directly (the loop is over). */
	for (int i = 0; i < 100 && w->log.inflight; i++)
		loop_once(w, false);
	sl_log_attach(NULL);
	sl_log_drain(&w->log);
	io_uring_queue_exit(&w->ring);
	sl_journal_close(w->journal);
	w->journal = NULL;
	return 0;
}

static struct sl_worker *worker_new(uint16_t idx, unsigned lcore)
{
	struct sl_worker *w = aligned_alloc(64, sizeof(*w));
	char name[RTE_RING_NAMESIZE];

	if (!w)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->idx = idx;
	w->lcore = lcore;
	snprintf(name, sizeof(name), "sl_w%u", idx);
	w->inbox = rte_ring_create(name, SL_RING_SLOTS, (int)rte_socket_id(), RING_F_SC_DEQ);
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->toks = malloc(sizeof(struct sl_doc_tok) * SL_DOC_TOKS_MAX);
	w->listen_fd = open_listener();
	if (!w->inbox || w->efd < 0 || !w->toks || w->listen_fd < 0) {
		sl_error("worker %u: set-up failed (%s)", idx,
			 w->listen_fd < 0 ? strerror(-w->listen_fd) : "ring, eventfd or memory");
		return NULL;
	}
	return w;
}

/* ---- Recovery from the journals (control thread, before the workers) ----- */

/* Shard logs opened during a replay: open addressing on (uid, ordinal). */
struct replay {
	struct io_uring ring;
	struct sl_replay_log {
		uint64_t uid;
		uint32_t ordinal;
		struct sl_shardlog *log; /* NULL: skipped (its directory is gone) */
		bool used;
	} *slots;
	uint32_t cap;
	uint32_t used;
	uint64_t frames;
	int err;
};

/* Write what a log has staged and wait for its fdatasync. 0 or -errno. */
static int replay_flush(struct replay *r, struct sl_shardlog *log)
{
	int queued = sl_shardlog_prep_flush(log, &r->ring, SL_FLUSH_SYNC, 1);
	int rc = 0;

	if (queued <= 0)
		return queued;
	if (io_uring_submit_and_wait(&r->ring, (unsigned)queued) < 0)
		return -EIO;
	for (int i = 0; i < queued; i++) {
		struct io_uring_cqe *cqe;
		if (io_uring_wait_cqe(&r->ring, &cqe) < 0)
			return -EIO;
		int c = sl_shardlog_complete(log, cqe->res);
		io_uring_cqe_seen(&r->ring, cqe);
		if (c < 0)
			rc = c;
	}
	return rc;
}

static struct sl_replay_log *replay_slot(struct replay *r, uint64_t uid, uint32_t ordinal)
{
	if ((r->used + 1) * 2 > r->cap) {
		uint32_t cap = r->cap ? r->cap * 2 : 256;
		struct sl_replay_log *old = r->slots, *n = calloc(cap, sizeof(*n));
		if (!n)
			return NULL;
		r->slots = n;
		r->cap = cap;
		for (uint32_t i = 0; old && i < cap / 2; i++) {
			if (!old[i].used)
				continue;
			uint32_t k = wlog_hash(old[i].uid, old[i].ordinal) & (cap - 1);
			while (n[k].used)
				k = (k + 1) & (cap - 1);
			n[k] = old[i];
		}
		free(old);
	}
	uint32_t k = wlog_hash(uid, ordinal) & (r->cap - 1);
	/* Bounded: the table is at most half full. */
	while (r->slots[k].used && (r->slots[k].uid != uid || r->slots[k].ordinal != ordinal))
		k = (k + 1) & (r->cap - 1);
	return &r->slots[k];
}

static int replay_entry(void *arg, const struct sl_journal_hdr *h, const uint8_t *payload)
{
	struct replay *r = arg;
	char dir[PATH_MAX];
	struct stat st;

	if (h->kind != SL_JOURNAL_KIND_SEGLOG || h->key_b > UINT32_MAX)
		return 0;
	struct sl_replay_log *e = replay_slot(r, h->key_a, (uint32_t)h->key_b);
	if (!e)
		return -ENOMEM;
	if (!e->used) {
		e->used = true;
		e->uid = h->key_a;
		e->ordinal = (uint32_t)h->key_b;
		r->used++;
		wlog_dir(e->uid, e->ordinal, dir, sizeof(dir));
		/* A log whose directory is gone was deleted (its stream, or a
		 * closed shard past retention): nothing of it comes back. */
		if (stat(dir, &st) == 0) {
			int rc = sl_shardlog_open(dir, sl_cfg->segment_bytes, &e->log);
			if (rc < 0)
				return rc;
		}
	}
	if (!e->log)
		return 0;
	int n = sl_shardlog_replay(e->log, payload, h->payload_len);
	if (n == -ENOBUFS) {
		/* The stage is full: write it out, then go on with this entry. */
		int rc = replay_flush(r, e->log);
		n = rc < 0 ? rc : sl_shardlog_replay(e->log, payload, h->payload_len);
	}
	if (n < 0) {
		sl_error("journal entry %llu for log %016llx/%u: %s", (unsigned long long)h->seq,
			 (unsigned long long)e->uid, e->ordinal, strerror(-n));
		return n == -EILSEQ || n == -EBADMSG ? 0 : n;
	}
	r->frames += (uint64_t)n;
	return 0;
}

static uint64_t journal_first_seq = 1;
/* Logs the journal replay opened, until their owners adopt them. */
static struct sl_replay_log *recovered;
static uint32_t recovered_cap;

/* The log of (uid, ordinal) that recovery opened, handed over once. */
static struct sl_shardlog *adopt_recovered(uint64_t uid, uint32_t ordinal)
{
	for (uint32_t k = recovered_cap ? wlog_hash(uid, ordinal) & (recovered_cap - 1) : 0, i = 0;
	     i < recovered_cap; i++, k = (k + 1) & (recovered_cap - 1)) {
		struct sl_replay_log *e = &recovered[k];
		if (!e->used)
			return NULL;
		if (e->uid == uid && e->ordinal == ordinal) {
			struct sl_shardlog *log = e->log;
			e->log = NULL; /* the slot stays used: probing goes on past it */
			return log;
		}
	}
	return NULL;
}

/* Close what no worker adopted (their streams are gone). */
static void recovered_release(void)
{
	for (uint32_t i = 0; i < recovered_cap; i++)
		sl_shardlog_close(recovered[i].log);
	free(recovered);
	recovered = NULL;
	recovered_cap = 0;
}

int sl_workers_recover(const struct sl_config *cfg)
{
	char dir[PATH_MAX];
	struct replay r;

	sl_cfg = cfg;
	memset(&r, 0, sizeof(r));
	snprintf(dir, sizeof(dir), "%s/journal", cfg->data_dir);
	int rc = io_uring_queue_init(64, &r.ring, 0);
	if (rc < 0)
		return rc;
	int64_t next = sl_journal_scan(dir, replay_entry, &r);
	rc = next < 0 ? (int)next : 0;
	for (uint32_t i = 0; i < r.cap; i++) {
		if (!r.slots[i].log)
			continue;
		int frc = replay_flush(&r, r.slots[i].log);
		if (frc < 0 && rc == 0)
			rc = frc;
	}
	/* The logs stay open for the workers to adopt (sl_worker_log), so that
	 * start-up scans each of them once. */
	recovered = r.slots;
	recovered_cap = r.cap;
	io_uring_queue_exit(&r.ring);
	if (rc == 0)
		rc = sl_journal_reset(dir);
	if (rc < 0)
		return rc;
	journal_first_seq = (uint64_t)next;
	if (r.frames)
		sl_info("journal: recovered %llu record(s) into %u log(s)",
			(unsigned long long)r.frames, r.used);
	return 0;
}

int sl_workers_start(const struct sl_config *cfg)
{
	unsigned lcore;
	char jdir[PATH_MAX];

	sl_cfg = cfg;
	snprintf(jdir, sizeof(jdir), "%s/journal", cfg->data_dir);
	control_inbox = rte_ring_create("sl_ctl", SL_RING_SLOTS, (int)rte_socket_id(), RING_F_SC_DEQ);
	control_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!control_inbox || control_efd < 0)
		return -ENOMEM;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (nworkers == SL_WORKERS_MAX || nworkers == cfg->workers)
			break;
		struct sl_worker *w = worker_new(nworkers, lcore);
		if (!w)
			return -EINVAL;
		if (cfg->durability == SL_DUR_SYNC) {
			uint64_t jbytes = cfg->journal_bytes ? cfg->journal_bytes : SL_JOURNAL_FILE_BYTES;
			int rc = sl_journal_open(jdir, nworkers, jbytes, journal_first_seq, 0,
						 &w->journal);
			if (rc < 0) {
				sl_error("worker %u: journal: %s", nworkers, strerror(-rc));
				return rc;
			}
		}
		workers[nworkers++] = w;
	}
	if (nworkers == 0)
		return -ECHILD;
	/* Before any worker runs (and before the port serves anything), its
	 * logs are opened and recovered here, on the control thread. */
	int64_t t0 = mono_ns();
	for (uint16_t i = 0; i < nworkers && sl_hooks.preload; i++)
		sl_hooks.preload(workers[i]);
	recovered_release();
	uint32_t opened = 0;
	for (uint16_t i = 0; i < nworkers; i++)
		opened += workers[i]->logs_used;
	if (opened)
		sl_info("recovered %u shard log(s) in %lld ms", opened,
			(long long)(mono_ns() - t0) / 1000000);
	for (uint16_t i = 0; i < nworkers; i++) {
		int rc = rte_eal_remote_launch(worker_main, workers[i], workers[i]->lcore);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void sl_workers_stop(void)
{
	/* Every worker counts as draining until it has looked at itself. */
	atomic_store(&workers_draining, nworkers);
	for (uint16_t i = 0; i < nworkers; i++) {
		atomic_store(&workers[i]->stop, true);
		wake_fd(workers[i]->efd);
	}
	/* Requests in flight may still need the control thread: serve its
	 * ring until every worker has finished. */
	for (uint16_t i = 0; i < nworkers; i++) {
		while (rte_eal_get_lcore_state(workers[i]->lcore) == RUNNING) {
			if (sl_control_poll() == 0)
				usleep(1000);
		}
		rte_eal_wait_lcore(workers[i]->lcore);
	}
}
