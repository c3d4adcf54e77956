/* catalog.c - the catalog: batches, the log, snapshots, recovery (catalog.h). */
#include "control/catalog.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/catrec.h"
#include "control/fileio.h"
#include "dataplane/runtime/log.h"
#include "dataplane/runtime/worker.h"

/* Pointer tags on the fresh and retired lists (ctree.h uses bit 0). */
#define TAG_NODE 0u
#define TAG_OBJ 1u
#define TAG_MEM 2u
#define TAG_MASK 3u

struct u64vec {
	uint64_t *v;
	size_t n, cap;
};

struct durable_cb {
	void (*fn)(void *arg);
	void *arg;
};

struct cbvec {
	struct durable_cb *v;
	size_t n, cap;
};

/* What one published batch replaced, freed once no reader can see it. */
struct rbatch {
	uint64_t epoch;
	struct sl_ptrvec items;
	struct rbatch *next;
};

static struct sl_catalog master;
static _Atomic(const struct sl_catalog *) current;
static struct sl_cbatch batch;
static struct u64vec dirty;         /* uids changed by the open batch */
static struct sl_ptrvec editing;    /* objects to fold into the counters */
static struct cbvec durable_wait;   /* callbacks of the open batch */
static struct cbvec durable_ready;  /* callbacks of flushed batches */
static struct rbatch *retired_head, *retired_tail;

static char dir_path[PATH_MAX];
static int log_fd = -1;
static uint64_t log_seq;
static uint64_t log_bytes;
static struct sl_catalog_stats stats;

static struct {
	pthread_t thread;
	bool running;
	_Atomic int done; /* 0 running, 1 finished */
	int rc;
	const struct sl_catalog *version;
	uint64_t first_seq;
	uint64_t bytes;
} snap;

/* ---- Helpers ----------------------------------------------------------- */

static int u64vec_push(struct u64vec *v, uint64_t x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		uint64_t *p = realloc(v->v, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		v->v = p;
		v->cap = cap;
	}
	v->v[v->n++] = x;
	return 0;
}

static int cbvec_push(struct cbvec *v, struct durable_cb cb)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct durable_cb *p = realloc(v->v, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		v->v = p;
		v->cap = cap;
	}
	v->v[v->n++] = cb;
	return 0;
}

static const struct sl_cobj_type *type_of(uint16_t t)
{
	assert(t > 0 && t < SL_COBJ_TYPES && sl_cobj_types[t]);
	return sl_cobj_types[t];
}

static void free_tagged(uintptr_t p)
{
	void *q = (void *)(p & ~(uintptr_t)TAG_MASK);

	switch (p & TAG_MASK) {
	case TAG_OBJ: {
		struct sl_cobj *o = q;
		type_of(o->type)->free(o);
		break;
	}
	default:
		free(q);
		break;
	}
}

static void track(struct sl_ptrvec *pv, const void *p, unsigned tag)
{
	assert(((uintptr_t)p & TAG_MASK) == 0);
	if (sl_ptrvec_push(pv, (uintptr_t)p | tag) < 0)
		batch.err = -ENOMEM;
}

static void mark_dirty(uint64_t uid)
{
	if (u64vec_push(&dirty, uid) < 0)
		batch.err = -ENOMEM;
}

static int cmp_uid(const void *key, const void *obj)
{
	uint64_t a = ((const struct sl_cobj *)key)->uid, b = ((const struct sl_cobj *)obj)->uid;

	return a < b ? -1 : a > b;
}

static int cmp_key(const void *key, const void *obj)
{
	const struct sl_cobj *k = key;

	return type_of(k->type)->cmp(k, obj);
}

/* ---- Readers ----------------------------------------------------------- */

const struct sl_catalog *sl_catalog_get(void)
{
	return atomic_load_explicit(&current, memory_order_acquire);
}

const struct sl_catalog *sl_catalog_master(void)
{
	return &master;
}

const struct sl_cobj *sl_catalog_lookup(const struct sl_catalog *c, const struct sl_cobj *probe)
{
	assert(probe->type > 0 && probe->type < SL_COBJ_TYPES);
	const struct sl_ctree_node *n = sl_ctree_find(c->by_key[probe->type], probe, cmp_key);

	return n ? n->obj : NULL;
}

const struct sl_cobj *sl_catalog_lookup_uid(const struct sl_catalog *c, uint64_t uid)
{
	struct sl_cobj probe = { .uid = uid };
	const struct sl_ctree_node *n = sl_ctree_find(c->by_uid, &probe, cmp_uid);

	return n ? n->obj : NULL;
}

void sl_catalog_walk(const struct sl_catalog *c, uint16_t type, const struct sl_cobj *from,
		     bool exclusive, bool (*visit)(void *obj, void *arg), void *arg)
{
	assert(type > 0 && type < SL_COBJ_TYPES);
	assert(!from || from->type == type);
	sl_ctree_walk(c->by_key[type], from, exclusive, cmp_key, visit, arg);
}

/* ---- The open batch ------------------------------------------------------ */

/* Put o into both trees (replacing any object with its key or uid). */
static void tree_put(struct sl_cobj *o)
{
	void *old_k, *old_u;

	master.by_key[o->type] = sl_ctree_put(master.by_key[o->type], o, cmp_key, &batch, &old_k);
	if (batch.err)
		return;
	master.by_uid = sl_ctree_put(master.by_uid, o, cmp_uid, &batch, &old_u);
	assert(batch.err || old_k == old_u);
	if (!old_k)
		master.count[o->type]++;
	else if (old_k != o)
		track(&batch.retired, old_k, TAG_OBJ);
}

static void tree_del(const struct sl_cobj *o)
{
	void *old_k, *old_u;

	master.by_key[o->type] = sl_ctree_del(master.by_key[o->type], o, cmp_key, &batch, &old_k);
	if (batch.err)
		return;
	master.by_uid = sl_ctree_del(master.by_uid, o, cmp_uid, &batch, &old_u);
	assert(batch.err || old_k == old_u);
	if (old_k) {
		master.count[o->type]--;
		track(&batch.retired, old_k, TAG_OBJ);
	}
}

static void account(const struct sl_cobj *o, int sign)
{
	const struct sl_cobj_type *t = type_of(o->type);

	if (t->account)
		t->account(o, sign);
}

static void open_edit(struct sl_cobj *o)
{
	if (o->editing)
		return;
	o->editing = true;
	track(&editing, o, TAG_OBJ);
}

int sl_catalog_insert(struct sl_cobj *o)
{
	assert(o->type > 0 && o->type < SL_COBJ_TYPES);
	if (sl_catalog_lookup(&master, o)) {
		type_of(o->type)->free(o);
		return -EEXIST;
	}
	o->uid = master.next_uid++;
	o->gen = batch.gen;
	o->editing = false;
	track(&batch.fresh, o, TAG_OBJ);
	if (batch.err)
		return batch.err; /* o is on no list: the caller's free is gone */
	tree_put(o);
	mark_dirty(o->uid);
	open_edit(o);
	return batch.err;
}

struct sl_cobj *sl_catalog_edit(const struct sl_cobj *o)
{
	struct sl_cobj *w = (struct sl_cobj *)o;

	assert(sl_catalog_lookup_uid(&master, o->uid) == o);
	if (o->gen == batch.gen) {
		if (!w->editing)
			account(w, -1);
		open_edit(w);
		return w;
	}
	w = type_of(o->type)->clone(o);
	if (!w) {
		batch.err = -ENOMEM;
		return NULL;
	}
	w->gen = batch.gen;
	w->editing = false;
	track(&batch.fresh, w, TAG_OBJ);
	if (batch.err) {
		type_of(w->type)->free(w);
		return NULL;
	}
	account(o, -1);
	tree_put(w);
	mark_dirty(w->uid);
	open_edit(w);
	return batch.err ? NULL : w;
}

void sl_catalog_remove(const struct sl_cobj *o)
{
	assert(sl_catalog_lookup_uid(&master, o->uid) == o);
	if (o->gen == batch.gen && ((struct sl_cobj *)o)->editing)
		((struct sl_cobj *)o)->editing = false; /* never counted in */
	else
		account(o, -1);
	uint64_t uid = o->uid;
	tree_del(o);
	mark_dirty(uid);
}

int sl_catalog_rekey_uid(struct sl_cobj *o, uint64_t uid)
{
	void *old;

	assert(o->gen == batch.gen && sl_catalog_lookup_uid(&master, o->uid) == o);
	if (o->uid == uid)
		return 0;
	if (uid == 0 || sl_catalog_lookup_uid(&master, uid))
		return -EEXIST;
	master.by_uid = sl_ctree_del(master.by_uid, o, cmp_uid, &batch, &old);
	if (batch.err)
		return batch.err;
	/* The node went to the retired list; the object stays live. */
	assert(old == o);
	uint64_t was = o->uid;
	o->uid = uid;
	master.by_uid = sl_ctree_put(master.by_uid, o, cmp_uid, &batch, &old);
	mark_dirty(was); /* logged as a delete: harmless, nothing has it */
	mark_dirty(uid);
	sl_catalog_raise_next_uid(uid + 1);
	return batch.err;
}

int sl_catalog_raise_next_uid(uint64_t n)
{
	if (master.next_uid < n)
		master.next_uid = n;
	return 0;
}

void sl_catalog_commit(void)
{
	for (size_t i = 0; i < editing.n; i++) {
		struct sl_cobj *o = (struct sl_cobj *)(editing.v[i] & ~(uintptr_t)TAG_MASK);
		if (!o->editing)
			continue; /* removed before it was counted */
		o->editing = false;
		account(o, 1);
	}
	editing.n = 0;
}

int sl_catalog_on_durable(void (*fn)(void *arg), void *arg)
{
	return cbvec_push(&durable_wait, (struct durable_cb){ fn, arg });
}

void sl_catalog_run_durable(void)
{
	/* A callback may change the catalog and flush again: run a detached
	 * list, so that new callbacks wait for the next call. */
	struct cbvec run = durable_ready;

	durable_ready = (struct cbvec){ 0 };
	for (size_t i = 0; i < run.n; i++)
		run.v[i].fn(run.v[i].arg);
	free(run.v);
}

static bool recount_one(void *obj, void *arg)
{
	(void)arg;
	account(obj, 1);
	return true;
}

static void recount(void)
{
	for (uint16_t t = 1; t < SL_COBJ_TYPES; t++) {
		if (sl_cobj_types[t] && sl_cobj_types[t]->reset)
			sl_cobj_types[t]->reset();
	}
	for (uint16_t t = 1; t < SL_COBJ_TYPES; t++) {
		if (sl_cobj_types[t])
			sl_ctree_walk(master.by_key[t], NULL, false, cmp_key, recount_one, NULL);
	}
}

/* The savepoint of the handler running now (control thread only). */
static struct {
	bool active;
	struct sl_catalog master;
	size_t fresh_n, retired_n, dirty_n, durable_n;
} sp;

void sl_catalog_savepoint(void)
{
	assert(!sp.active);
	/* Fold what came before, so every object before the savepoint is
	 * counted in its type's counters. */
	sl_catalog_commit();
	if (batch.err)
		return; /* the batch fails as a whole at the flush */
	sp.master = master;
	sp.fresh_n = batch.fresh.n;
	sp.retired_n = batch.retired.n;
	sp.dirty_n = dirty.n;
	sp.durable_n = durable_wait.n;
	sp.active = true;
	/* A new generation: nodes and objects made so far are no longer
	 * changed in place, so the saved trees stay as they are. */
	batch.gen++;
	master.gen = batch.gen;
}

void sl_catalog_release(void)
{
	sp.active = false;
}

void sl_catalog_rollback(void)
{
	if (!sp.active)
		return; /* the batch had failed already: the flush undoes it all */
	/* Counters first: what the handler counted in (objects it made and
	 * committed, still in the master) goes out; what it took out (objects
	 * from before the savepoint that it replaced or removed) comes back. */
	for (size_t i = sp.fresh_n; i < batch.fresh.n; i++) {
		uintptr_t t = batch.fresh.v[i];
		if ((t & TAG_MASK) != TAG_OBJ)
			continue;
		struct sl_cobj *o = (struct sl_cobj *)(t & ~(uintptr_t)TAG_MASK);
		if (!o->editing && sl_catalog_lookup_uid(&master, o->uid) == o)
			account(o, -1);
	}
	for (size_t i = sp.retired_n; i < batch.retired.n; i++) {
		uintptr_t t = batch.retired.v[i];
		if ((t & TAG_MASK) != TAG_OBJ)
			continue;
		struct sl_cobj *o = (struct sl_cobj *)(t & ~(uintptr_t)TAG_MASK);
		if (o->gen != batch.gen)
			account(o, 1); /* from before the savepoint */
	}
	for (size_t i = sp.fresh_n; i < batch.fresh.n; i++)
		free_tagged(batch.fresh.v[i]);
	uint64_t next_uid = master.next_uid;
	master = sp.master;
	master.gen = batch.gen;
	/* Uids handed out meanwhile were never durable, but are not reused. */
	master.next_uid = next_uid;
	batch.fresh.n = sp.fresh_n;
	batch.retired.n = sp.retired_n;
	batch.err = 0;
	dirty.n = sp.dirty_n;
	editing.n = 0;
	/* Callbacks the handler registered would act on changes it no longer
	 * makes (a drop of logs of a stream that stays): they go. */
	durable_wait.n = sp.durable_n;
	sp.active = false;
}

/* Undo the open batch: back to the published version. */
static void undo(void)
{
	sp.active = false;
	const struct sl_catalog *pub = sl_catalog_get();

	for (size_t i = 0; i < batch.fresh.n; i++)
		free_tagged(batch.fresh.v[i]);
	batch.fresh.n = 0;
	batch.retired.n = 0;
	batch.err = 0;
	dirty.n = 0;
	editing.n = 0;
	durable_wait.n = 0;
	uint64_t gen = batch.gen;
	if (pub)
		master = *pub;
	else
		memset(&master, 0, sizeof(master));
	master.gen = gen;
	if (!master.next_uid)
		master.next_uid = 1;
	recount();
}

/* ---- Publishing and reclaiming ---------------------------------------------- */

static void rbatch_free(struct rbatch *rb)
{
	for (size_t i = 0; i < rb->items.n; i++)
		free_tagged(rb->items.v[i]);
	free(rb->items.v);
	free(rb);
}

/* Publish the master as the next version; retire what the batch replaced. */
static int publish(void)
{
	struct sl_catalog *v = malloc(sizeof(*v));
	struct rbatch *rb = calloc(1, sizeof(*rb));

	if (!v || !rb) {
		free(v);
		free(rb);
		return -ENOMEM;
	}
	*v = master;
	const struct sl_catalog *old = atomic_exchange_explicit(&current, v, memory_order_acq_rel);
	if (old)
		track(&batch.retired, old, TAG_MEM);
	rb->items = batch.retired;
	rb->epoch = sl_qsbr_retire();
	batch.retired = (struct sl_ptrvec){ 0 };
	if (retired_tail)
		retired_tail->next = rb;
	else
		retired_head = rb;
	retired_tail = rb;
	batch.fresh.n = 0;
	batch.gen++;
	master.gen = batch.gen;
	dirty.n = 0;
	for (size_t i = 0; i < durable_wait.n; i++)
		cbvec_push(&durable_ready, durable_wait.v[i]);
	durable_wait.n = 0;
	return 0;
}

static void snapshot_finish(void);

void sl_catalog_reclaim(void)
{
	if (snap.running && atomic_load(&snap.done))
		snapshot_finish();
	/* A snapshot reads an old version's nodes: keep everything until it
	 * ends. */
	while (!snap.running && retired_head && sl_qsbr_safe(retired_head->epoch)) {
		struct rbatch *rb = retired_head;
		retired_head = rb->next;
		if (!retired_head)
			retired_tail = NULL;
		rbatch_free(rb);
	}
}

/* ---- Files ------------------------------------------------------------- */

static int fsync_dir(void)
{
	int fd = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static void log_name(char *out, size_t cap, uint64_t seq)
{
	snprintf(out, cap, "%s/catalog.log.%016llx", dir_path, (unsigned long long)seq);
}

/* Start log `seq` (a new file; its name made durable). */
static int log_open(uint64_t seq)
{
	char path[PATH_MAX + 32];

	log_name(path, sizeof(path), seq);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int rc = fsync_dir();
	if (rc < 0) {
		close(fd);
		unlink(path);
		return rc;
	}
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	log_seq = seq;
	log_bytes = 0;
	return 0;
}

/* ---- Snapshots --------------------------------------------------------------- */

struct snap_writer {
	int fd;
	struct sl_bw w;
	int rc;
};

static void snap_drain(struct snap_writer *sw, size_t keep_below)
{
	if (sw->rc == 0 && sw->w.err)
		sw->rc = sw->w.err;
	if (sw->rc == 0 && sw->w.len >= keep_below) {
		sw->rc = sl_write_all(sw->fd, sw->w.p, sw->w.len);
		snap.bytes += sw->w.len;
		sw->w.len = 0;
	}
}

static bool snap_one(void *obj, void *arg)
{
	struct snap_writer *sw = arg;
	const struct sl_cobj *o = obj;
	size_t off = sl_crec_begin(&sw->w, SL_CREC_PUT, o->type, o->uid);

	type_of(o->type)->encode(o, &sw->w);
	sl_crec_end(&sw->w, off);
	snap_drain(sw, SL_CATALOG_SNAP_CHUNK);
	return sw->rc == 0;
}

static void *snap_main(void *arg)
{
	const struct sl_catalog *v = snap.version;
	char tmp[PATH_MAX + 32], path[PATH_MAX + 32];
	struct snap_writer sw = { .fd = -1 };

	(void)arg;
	sl_log_thread_name("catalog-snap");
	snprintf(tmp, sizeof(tmp), "%s/catalog.snap.tmp", dir_path);
	snprintf(path, sizeof(path), "%s/catalog.snap", dir_path);
	snap.bytes = 0;
	sw.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	sw.rc = sw.fd < 0 ? -errno : 0;
	size_t off = sl_crec_begin(&sw.w, SL_CREC_SNAP, 0, 0);
	sl_bw_u64(&sw.w, snap.first_seq);
	sl_bw_u64(&sw.w, v->gen);
	sl_bw_u64(&sw.w, v->next_uid);
	sl_crec_end(&sw.w, off);
	sl_ctree_walk(v->by_uid, NULL, false, cmp_uid, snap_one, &sw);
	off = sl_crec_begin(&sw.w, SL_CREC_COMMIT, 0, 0);
	sl_bw_u64(&sw.w, v->gen);
	sl_bw_u64(&sw.w, v->next_uid);
	sl_crec_end(&sw.w, off);
	snap_drain(&sw, 0);
	if (sw.rc == 0 && fsync(sw.fd) < 0)
		sw.rc = -errno;
	if (sw.fd >= 0 && close(sw.fd) < 0 && sw.rc == 0)
		sw.rc = -errno;
	if (sw.rc == 0 && rename(tmp, path) < 0)
		sw.rc = -errno;
	if (sw.rc == 0)
		sw.rc = fsync_dir();
	sl_bw_free(&sw.w);
	snap.rc = sw.rc;
	atomic_store(&snap.done, 1);
	return NULL;
}

static void remove_logs_below(uint64_t seq);

static void snapshot_finish(void)
{
	pthread_join(snap.thread, NULL);
	snap.running = false;
	if (snap.rc < 0) {
		/* The logs still hold everything: try again after more growth. */
		sl_error("catalog: snapshot failed: %s", strerror(-snap.rc));
		stats.snapshot_bytes = log_bytes + SL_CATALOG_SNAP_MIN_BYTES;
		return;
	}
	stats.snapshots++;
	stats.snapshot_bytes = snap.bytes;
	remove_logs_below(snap.first_seq);
}

int sl_catalog_snapshot_start(void)
{
	if (snap.running)
		return -EBUSY;
	/* The snapshot is the published version: everything in the logs up
	 * to now. Later batches go to a new log, which recovery replays after
	 * the snapshot. */
	int rc = log_open(log_seq + 1);
	if (rc < 0)
		return rc;
	snap.version = sl_catalog_get();
	snap.first_seq = log_seq;
	atomic_store(&snap.done, 0);
	rc = -pthread_create(&snap.thread, NULL, snap_main, NULL);
	if (rc < 0)
		return rc;
	snap.running = true;
	return 0;
}

void sl_catalog_snapshot_wait(void)
{
	if (!snap.running)
		return;
	while (!atomic_load(&snap.done))
		usleep(1000);
	snapshot_finish();
}

/* ---- Flushing ---------------------------------------------------------------- */

int sl_catalog_flush(void)
{
	const struct sl_catalog *pub = sl_catalog_get();
	struct sl_bw w = { 0 };
	int rc;

	sl_catalog_commit();
	if (batch.err) {
		rc = batch.err;
		undo();
		return rc;
	}
	if (dirty.n == 0 && pub && master.next_uid == pub->next_uid) {
		/* Nothing changed: callbacks of this batch may run now. */
		for (size_t i = 0; i < durable_wait.n; i++)
			cbvec_push(&durable_ready, durable_wait.v[i]);
		durable_wait.n = 0;
		return 0;
	}
	for (size_t i = 0; i < dirty.n; i++) {
		const struct sl_cobj *o = sl_catalog_lookup_uid(&master, dirty.v[i]);
		size_t off = sl_crec_begin(&w, o ? SL_CREC_PUT : SL_CREC_DEL, o ? o->type : 0,
					   dirty.v[i]);
		if (o)
			type_of(o->type)->encode(o, &w);
		sl_crec_end(&w, off);
	}
	size_t off = sl_crec_begin(&w, SL_CREC_COMMIT, 0, 0);
	sl_bw_u64(&w, batch.gen);
	sl_bw_u64(&w, master.next_uid);
	sl_crec_end(&w, off);
	rc = w.err;
	if (rc == 0)
		rc = sl_write_all(log_fd, w.p, w.len);
	if (rc == 0 && fdatasync(log_fd) < 0)
		rc = -errno;
	if (rc < 0) {
		sl_error("catalog: cannot persist a batch of %zu changes: %s", dirty.n,
			 strerror(-rc));
		/* What reached the log may be torn: later batches go to a new
		 * log, so that recovery never reads past the damage into them. */
		if (w.len && log_open(log_seq + 1) < 0)
			sl_error("catalog: cannot start a new log");
		sl_bw_free(&w);
		undo();
		return rc;
	}
	log_bytes += w.len;
	sl_bw_free(&w);
	stats.flushes++;
	rc = publish();
	if (rc < 0) {
		/* Durable but not published: readers see it after the next
		 * flush (this batch stays open). */
		return 0;
	}
	uint64_t threshold = stats.snapshot_bytes > SL_CATALOG_SNAP_MIN_BYTES ?
				     stats.snapshot_bytes :
				     SL_CATALOG_SNAP_MIN_BYTES;
	if (!snap.running && log_bytes > threshold) {
		rc = sl_catalog_snapshot_start();
		if (rc < 0)
			sl_warn("catalog: cannot start a snapshot: %s", strerror(-rc));
	}
	return 0;
}

void sl_catalog_stats(struct sl_catalog_stats *st)
{
	*st = stats;
	st->log_bytes = log_bytes;
	st->snapshot_running = snap.running;
}

/* ---- Recovery ------------------------------------------------------------------ */

/* Records of the batch being read, applied at its COMMIT. */
struct replay {
	struct sl_crec *recs;
	size_t n, cap;
	uint64_t first_seq; /* from a SNAP frame */
	bool snapshot;      /* reading the snapshot */
	bool saw_snap;
	bool committed;     /* the last frame read was a COMMIT */
	int rc;
};

static int apply(const struct sl_crec *r)
{
	const struct sl_cobj *old = sl_catalog_lookup_uid(&master, r->uid);

	if (r->op == SL_CREC_DEL) {
		if (old)
			tree_del(old);
		return batch.err;
	}
	if (r->type == 0 || r->type >= SL_COBJ_TYPES || !sl_cobj_types[r->type])
		return -EINVAL;
	struct sl_cobj *o = type_of(r->type)->decode(r->body, r->len);
	if (!o)
		return -EINVAL;
	o->uid = r->uid;
	o->gen = batch.gen;
	o->type = r->type;
	o->editing = false;
	track(&batch.fresh, o, TAG_OBJ);
	if (batch.err) {
		type_of(o->type)->free(o);
		return batch.err;
	}
	if (old)
		tree_del(old); /* the newer version replaces it */
	const struct sl_cobj *clash = sl_catalog_lookup(&master, o);
	if (clash && clash->uid != o->uid)
		return -EINVAL; /* two uids under one key */
	tree_put(o);
	if (master.next_uid <= o->uid)
		master.next_uid = o->uid + 1;
	return batch.err;
}

static int replay_frame(const struct sl_crec *r, void *arg)
{
	struct replay *rp = arg;

	rp->committed = false;
	switch (r->op) {
	case SL_CREC_SNAP: {
		struct sl_br rd = sl_br_make(r->body, r->len);
		rp->first_seq = sl_br_u64(&rd);
		(void)sl_br_u64(&rd);
		uint64_t next = sl_br_u64(&rd);
		if (rd.bad || !rp->snapshot || rp->saw_snap)
			return rp->rc = -EINVAL;
		rp->saw_snap = true;
		if (master.next_uid < next)
			master.next_uid = next;
		return 0;
	}
	case SL_CREC_PUT:
	case SL_CREC_DEL:
		if (rp->snapshot && !rp->saw_snap)
			return rp->rc = -EINVAL;
		if (rp->n == rp->cap) {
			size_t cap = rp->cap ? rp->cap * 2 : 256;
			struct sl_crec *p = realloc(rp->recs, cap * sizeof(*p));
			if (!p)
				return rp->rc = -ENOMEM;
			rp->recs = p;
			rp->cap = cap;
		}
		rp->recs[rp->n++] = *r;
		return 0;
	case SL_CREC_COMMIT: {
		struct sl_br rd = sl_br_make(r->body, r->len);
		(void)sl_br_u64(&rd);
		uint64_t next = sl_br_u64(&rd);
		if (rd.bad)
			return rp->rc = -EINVAL;
		for (size_t i = 0; i < rp->n; i++) {
			int rc = apply(&rp->recs[i]);
			if (rc < 0)
				return rp->rc = rc;
		}
		rp->n = 0;
		if (master.next_uid < next)
			master.next_uid = next;
		rp->committed = true;
		return 0;
	}
	default:
		return rp->rc = -EINVAL;
	}
}

/* Replay one file. A log may end in a torn batch (dropped); a snapshot must
 * be whole. */
static int replay_file(const char *path, struct replay *rp)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	rp->n = 0;
	rp->rc = 0;
	rp->committed = false;
	if (st.st_size == 0) {
		close(fd);
		return rp->snapshot ? -EINVAL : 0;
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -errno;
	size_t used = sl_crec_scan(map, (size_t)st.st_size, SL_CATALOG_RECORD_MAX, replay_frame, rp);
	munmap(map, (size_t)st.st_size);
	if (rp->rc < 0)
		return rp->rc;
	if (rp->snapshot && (!rp->committed || used != (size_t)st.st_size || !rp->saw_snap))
		return -EINVAL;
	if (used != (size_t)st.st_size || rp->n)
		sl_warn("catalog: %s ends in a torn batch (%zu of %lld bytes used); dropped", path,
			used, (long long)st.st_size);
	rp->n = 0;
	return 0;
}

static int seq_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The sequence numbers of the logs in the directory, sorted. */
static int list_logs(struct u64vec *out)
{
	DIR *d = opendir(dir_path);
	struct dirent *de;

	if (!d)
		return -errno;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		char *end;
		if (strncmp(de->d_name, "catalog.log.", 12) != 0 || strlen(de->d_name) != 28)
			continue;
		unsigned long long seq = strtoull(de->d_name + 12, &end, 16);
		if (*end || u64vec_push(out, seq) < 0) {
			closedir(d);
			return *end ? -EINVAL : -ENOMEM;
		}
	}
	int rc = errno ? -errno : 0;
	closedir(d);
	if (rc == 0 && out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), seq_cmp);
	return rc;
}

static void remove_logs_below(uint64_t seq)
{
	struct u64vec logs = { 0 };
	char path[PATH_MAX + 32];

	if (list_logs(&logs) == 0) {
		for (size_t i = 0; i < logs.n && logs.v[i] < seq; i++) {
			log_name(path, sizeof(path), logs.v[i]);
			if (unlink(path) < 0)
				sl_warn("catalog: cannot remove %s: %s", path, strerror(errno));
		}
	}
	free(logs.v);
}

static int recover(bool *empty)
{
	struct replay rp = { 0 };
	struct u64vec logs = { 0 };
	char path[PATH_MAX + 32];
	int rc;

	*empty = true;
	snprintf(path, sizeof(path), "%s/catalog.snap", dir_path);
	struct stat st;
	if (stat(path, &st) == 0) {
		stats.snapshot_bytes = (uint64_t)st.st_size;
		rp.snapshot = true;
		rc = replay_file(path, &rp);
		if (rc < 0) {
			sl_error("catalog: snapshot %s is damaged (%s)", path, strerror(-rc));
			free(rp.recs);
			return rc;
		}
		*empty = false;
	}
	rp.snapshot = false;
	rc = list_logs(&logs);
	uint64_t last = rp.first_seq ? rp.first_seq - 1 : 0;
	for (size_t i = 0; rc == 0 && i < logs.n; i++) {
		log_name(path, sizeof(path), logs.v[i]);
		if (logs.v[i] < rp.first_seq) {
			/* Folded into the snapshot; a crash kept it. */
			unlink(path);
			continue;
		}
		last = logs.v[i];
		if (stat(path, &st) == 0 && st.st_size == 0 && i + 1 < logs.n) {
			unlink(path); /* a start-up's log that got nothing */
			continue;
		}
		rc = replay_file(path, &rp);
		if (rc < 0)
			sl_error("catalog: log %s is damaged (%s)", path, strerror(-rc));
		*empty = false;
	}
	free(logs.v);
	free(rp.recs);
	if (rc == 0)
		rc = log_open(last + 1);
	return rc;
}

int sl_catalog_init(const char *data_dir)
{
	bool empty;

	snprintf(dir_path, sizeof(dir_path), "%s", data_dir);
	memset(&master, 0, sizeof(master));
	memset(&stats, 0, sizeof(stats));
	master.next_uid = 1;
	batch.gen = 1;
	master.gen = 1;
	int rc = recover(&empty);
	if (rc < 0) {
		sl_catalog_fini();
		return rc;
	}
	/* Nothing was published yet: what replay replaced can go now. */
	for (size_t i = 0; i < batch.retired.n; i++)
		free_tagged(batch.retired.v[i]);
	batch.retired.n = 0;
	dirty.n = 0;
	editing.n = 0;
	recount();
	rc = batch.err ? batch.err : publish();
	for (uint16_t t = 1; rc == 0 && empty && t < SL_COBJ_TYPES; t++) {
		bool found = false;
		const struct sl_cobj_type *ty = sl_cobj_types[t];
		if (!ty || !ty->migrate)
			continue;
		rc = ty->migrate(data_dir, &found);
		if (rc == 0 && found)
			rc = sl_catalog_flush();
	}
	sl_catalog_run_durable(); /* a migration's clean-up */
	if (rc < 0) {
		sl_catalog_fini();
		return rc;
	}
	return 0;
}

static void free_tree(struct sl_ctree_node *n, bool objs)
{
	if (!n)
		return;
	free_tree(n->l, objs);
	free_tree(n->r, objs);
	if (objs)
		free_tagged((uintptr_t)n->obj | TAG_OBJ);
	free(n);
}

void sl_catalog_fini(void)
{
	sl_catalog_snapshot_wait();
	undo();
	const struct sl_catalog *cur = atomic_exchange(&current, NULL);
	if (cur) {
		for (uint16_t t = 1; t < SL_COBJ_TYPES; t++)
			free_tree(cur->by_key[t], false);
		free_tree(cur->by_uid, true);
		free((void *)cur);
	}
	while (retired_head) {
		struct rbatch *rb = retired_head;
		retired_head = rb->next;
		rbatch_free(rb);
	}
	retired_tail = NULL;
	/* Callbacks not run by now (the workers are gone) are dropped; what
	 * they would have removed, start-up removes. */
	free(batch.fresh.v);
	free(batch.retired.v);
	free(dirty.v);
	free(editing.v);
	free(durable_wait.v);
	free(durable_ready.v);
	batch = (struct sl_cbatch){ 0 };
	dirty = (struct u64vec){ 0 };
	editing = (struct sl_ptrvec){ 0 };
	durable_wait = durable_ready = (struct cbvec){ 0 };
	memset(&master, 0, sizeof(master));
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	log_seq = 0;
	log_bytes = 0;
}

/* ---- The generic resource ----------------------------------------------------- */

static int blob_cmp(const struct sl_cobj *key, const struct sl_cobj *o)
{
	const struct sl_blob *a = (const void *)key, *b = (const void *)o;
	int c = strcmp(a->region, b->region);

	return c ? c : strcmp(a->name, b->name);
}

struct sl_blob *sl_blob_new(const char *region, const char *name, const void *data, uint32_t len)
{
	if (strlen(region) > SL_REGION_MAX || strlen(name) > SL_BLOB_NAME_MAX ||
	    len > SL_BLOB_DATA_MAX)
		return NULL;
	struct sl_blob *b = calloc(1, sizeof(*b) + len);
	if (!b)
		return NULL;
	b->hdr.type = SL_COBJ_BLOB;
	strcpy(b->region, region);
	strcpy(b->name, name);
	b->len = len;
	if (len)
		memcpy(b->data, data, len);
	return b;
}

static struct sl_cobj *blob_clone(const struct sl_cobj *o)
{
	const struct sl_blob *b = (const void *)o;
	struct sl_blob *c = malloc(sizeof(*b) + b->len);

	if (c)
		memcpy(c, b, sizeof(*b) + b->len);
	return c ? &c->hdr : NULL;
}

static void blob_free(struct sl_cobj *o)
{
	free(o);
}

static void blob_encode(const struct sl_cobj *o, struct sl_bw *w)
{
	const struct sl_blob *b = (const void *)o;

	sl_bw_str(w, b->region);
	sl_bw_str(w, b->name);
	sl_bw_u32(w, b->len);
	sl_bw_bytes(w, b->data, b->len);
}

static struct sl_cobj *blob_decode(const uint8_t *p, size_t n)
{
	struct sl_br r = sl_br_make(p, n);
	char region[SL_REGION_MAX + 1], name[SL_BLOB_NAME_MAX + 1];

	sl_br_str(&r, region, sizeof(region));
	sl_br_str(&r, name, sizeof(name));
	uint32_t len = sl_br_u32(&r);
	const uint8_t *data = len <= SL_BLOB_DATA_MAX ? sl_br_take(&r, len) : NULL;
	if (r.bad || !data || sl_br_left(&r) != 0)
		return NULL;
	struct sl_blob *b = sl_blob_new(region, name, data, len);
	return b ? &b->hdr : NULL;
}

const struct sl_blob *sl_blob_find(const struct sl_catalog *c, const char *region,
				   const char *name)
{
	struct sl_blob probe;

	if (strlen(region) > SL_REGION_MAX || strlen(name) > SL_BLOB_NAME_MAX)
		return NULL;
	probe.hdr.type = SL_COBJ_BLOB;
	strcpy(probe.region, region);
	strcpy(probe.name, name);
	return (const struct sl_blob *)sl_catalog_lookup(c, &probe.hdr);
}

const struct sl_cobj_type sl_blob_type = {
	.name = "blob",
	.cmp = blob_cmp,
	.clone = blob_clone,
	.free = blob_free,
	.encode = blob_encode,
	.decode = blob_decode,
};
