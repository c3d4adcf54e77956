/* journal.c - the per-worker commit journal. See journal.h for the model. */
#include "dataplane/storage/journal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liburing.h>

#include "dataplane/limits.h"
#include "dataplane/storage/crc32c.h"

#define SL_JOURNAL_FILES 2

struct sl_jbatch {
	uint8_t *buf;
	uint32_t len;
	uint32_t cap;
	uint64_t last_seq;
};

/* A batch on its way to the disk: one write and its linked fdatasync. */
struct sl_jflight {
	struct sl_jbatch b;
	uint8_t file;
	bool queued;   /* issued and not yet durable */
	bool done;     /* both completions came back fine */
	bool retry;    /* it failed: the same bytes go again */
	int err;
	uint32_t cqes_due;
	uint64_t off;
	uint64_t bytes_done;
} __attribute__((aligned(8)));

struct sl_journal {
	int fd[SL_JOURNAL_FILES];
	uint64_t file_bytes;
	uint8_t cur;      /* the file new entries go to */
	uint64_t off;     /* where the next batch goes in it */
	uint64_t next_seq;
	uint64_t durable_seq;
	struct sl_jbatch stage; /* entries for the next batch */
	/* Batches in flight, oldest first from `head`: a later one may finish
	 * first, but durable_seq only moves over a prefix of finished ones. */
	struct sl_jflight flight[SL_JOURNAL_INFLIGHT_MAX];
	uint32_t head;
	uint32_t nflight;
	bool other_free;   /* the other file is checkpointed: it may be written */
	uint64_t ckpt_seq; /* the other file holds entries up to this; 0: free */
	uint64_t syncs_done; /* batches written and fdatasynced, ever */
	bool direct;         /* O_DIRECT | O_DSYNC: batches are aligned, no fsync SQE */
};

static uint32_t entry_crc(const struct sl_journal_hdr *h, const uint8_t *payload)
{
	uint32_t crc = sl_crc32c((const uint8_t *)h + 12, SL_JOURNAL_HDR_BYTES - 12, 0);

	return sl_crc32c(payload, h->payload_len, crc);
}

static uint32_t entry_len(uint32_t payload_len)
{
	return (SL_JOURNAL_HDR_BYTES + payload_len + 7u) & ~7u;
}

static void file_path(const char *dir, unsigned idx, unsigned f, char *out, size_t cap)
{
	snprintf(out, cap, "%s/w%u.%u", dir, idx, f);
}

/* Write the whole file with zeros once: later writes overwrite initialised
 * blocks, so their fdatasync carries no extent conversion or allocation,
 * only the data (a plain device flush). */
static int allocate(int fd, uint64_t bytes)
{
	static const uint8_t zeros[1u << 20];
	uint64_t from = 0;

	/* Bounded: each round writes at least one byte or fails. */
	while (from < bytes) {
		size_t n = bytes - from < sizeof(zeros) ? (size_t)(bytes - from) : sizeof(zeros);
		ssize_t w = pwrite(fd, zeros, n, (off_t)from);
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		from += (uint64_t)w;
	}
	return fsync(fd) < 0 ? -errno : 0;
}

/* Create and fill the file if needed, then open it for writing: with
 * O_DIRECT | O_DSYNC where the filesystem allows it (*direct set), so
 * that a batch is one write that the block layer makes durable without a
 * separate fdatasync and without a thread of io_uring's own; otherwise
 * buffered, with a linked fdatasync per batch. Returns the fd or -errno. */
static int open_file(const char *path, uint64_t bytes, bool *direct)
{
	bool want_direct = *direct;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	struct stat st;

	if (fd < 0)
		return -errno;
	int rc = fstat(fd, &st) < 0 ? -errno : 0;
	if (rc == 0 && (uint64_t)st.st_size < bytes)
		rc = allocate(fd, bytes);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	int dfd = want_direct ? open(path, O_RDWR | O_CLOEXEC | O_DIRECT | O_DSYNC) : -1;
	*direct = dfd >= 0;
	if (dfd < 0)
		return fd;
	close(fd);
	return dfd;
}

/* mkdir -p: the data directory may not exist yet (tests). 0 or -errno. */
static int mkdir_p(const char *dir)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	/* One pass over the path; each '/' is tried once. */
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int sl_journal_open(const char *dir, unsigned idx, uint64_t file_bytes, uint64_t first_seq,
		    unsigned flags, struct sl_journal **out)
{
	char path[PATH_MAX];
	struct sl_journal *j = calloc(1, sizeof(*j));

	assert(first_seq > 0);
	if (!j)
		return -ENOMEM;
	j->fd[0] = j->fd[1] = -1;
	int rc = mkdir_p(dir);
	for (unsigned f = 0; f < SL_JOURNAL_FILES && rc == 0; f++) {
		bool direct = !(flags & SL_JOURNAL_F_BUFFERED);
		file_path(dir, idx, f, path, sizeof(path));
		j->fd[f] = open_file(path, file_bytes, &direct);
		rc = j->fd[f] < 0 ? j->fd[f] : 0;
		j->direct = f == 0 ? direct : j->direct && direct;
	}
	if (rc == 0)
		rc = sync_dir(dir);
	if (rc < 0) {
		sl_journal_close(j);
		return rc;
	}
	j->file_bytes = file_bytes;
	j->next_seq = first_seq;
	j->durable_seq = first_seq - 1;
	j->other_free = true; /* recovery replayed and reset everything */
	*out = j;
	return 0;
}

void sl_journal_close(struct sl_journal *j)
{
	if (!j)
		return;
	for (unsigned f = 0; f < SL_JOURNAL_FILES; f++) {
		if (j->fd[f] >= 0)
			close(j->fd[f]);
	}
	free(j->stage.buf);
	for (unsigned i = 0; i < SL_JOURNAL_INFLIGHT_MAX; i++)
		free(j->flight[i].b.buf);
	free(j);
}

static int batch_reserve(struct sl_jbatch *b, uint32_t need)
{
	if (b->len + need <= b->cap)
		return 0;
	if ((uint64_t)b->len + need > SL_JOURNAL_BATCH_MAX)
		return -ENOSPC;
	uint32_t cap = b->cap ? b->cap : SL_JOURNAL_BATCH_INIT;
	while (cap < b->len + need)
		cap *= 2;
	/* Aligned for O_DIRECT; realloc would not keep the alignment. */
	uint8_t *p = aligned_alloc(SL_JOURNAL_ALIGN, cap);
	if (!p)
		return -ENOSPC;
	if (b->len)
		memcpy(p, b->buf, b->len);
	free(b->buf);
	b->buf = p;
	b->cap = cap;
	return 0;
}

/* Direct I/O: pad the batch to a whole block with a padding entry (kind
 * 0, skipped on replay), so that it starts and ends on block boundaries. */
static int batch_pad(struct sl_journal *j, struct sl_jbatch *b)
{
	uint32_t rem = b->len % SL_JOURNAL_ALIGN;
	uint32_t pad = rem ? SL_JOURNAL_ALIGN - rem : 0;

	if (pad == 0)
		return 0;
	if (pad < SL_JOURNAL_HDR_BYTES)
		pad += SL_JOURNAL_ALIGN;
	if (batch_reserve(b, pad) < 0)
		return -ENOSPC;
	uint8_t *p = b->buf + b->len;
	struct sl_journal_hdr h = {
		.magic = SL_JOURNAL_MAGIC, .len = pad, .kind = SL_JOURNAL_KIND_PAD,
		.seq = j->next_seq, .payload_len = pad - SL_JOURNAL_HDR_BYTES,
	};
	memset(p + SL_JOURNAL_HDR_BYTES, 0, h.payload_len);
	h.crc = entry_crc(&h, p + SL_JOURNAL_HDR_BYTES);
	memcpy(p, &h, sizeof(h));
	b->len += pad;
	b->last_seq = j->next_seq++;
	return 0;
}

/* Make room for an entry of elen bytes in the current file, moving to the
 * other one when it is free. 0 or -ENOSPC (wait). */
static int make_room(struct sl_journal *j, uint32_t elen)
{
	/* Direct I/O pads every batch to a block: keep room for it. */
	uint64_t pad = j->direct ? 2 * SL_JOURNAL_ALIGN : 0;

	if (j->off + j->stage.len + elen + pad <= j->file_bytes)
		return 0;
	/* Entries already staged belong to this file; the switch waits until
	 * they are on their way, and until the other file is checkpointed. */
	if (j->stage.len > 0 || !j->other_free)
		return -ENOSPC;
	j->ckpt_seq = j->next_seq - 1;
	j->other_free = false;
	j->cur = (uint8_t)!j->cur;
	j->off = 0;
	return 0;
}

int64_t sl_journal_add(struct sl_journal *j, uint32_t kind, uint64_t key_a, uint64_t key_b,
		       const void *payload, uint32_t len)
{
	uint32_t elen = entry_len(len);

	if ((uint64_t)elen + 2 * SL_JOURNAL_ALIGN > j->file_bytes ||
	    elen + 2 * SL_JOURNAL_ALIGN > SL_JOURNAL_BATCH_MAX)
		return -E2BIG;
	/* Direct I/O pads the batch at prep time: keep room for that too, or a
	 * full batch could never be padded and issued. */
	uint32_t pad = j->direct ? 2 * SL_JOURNAL_ALIGN : 0;
	if ((uint64_t)j->stage.len + elen + pad > SL_JOURNAL_BATCH_MAX)
		return -ENOSPC;
	if (make_room(j, elen) < 0 || batch_reserve(&j->stage, elen) < 0)
		return -ENOSPC;
	uint8_t *p = j->stage.buf + j->stage.len;
	struct sl_journal_hdr h = {
		.magic = SL_JOURNAL_MAGIC, .len = elen, .kind = kind, .seq = j->next_seq,
		.key_a = key_a, .key_b = key_b, .payload_len = len,
	};
	memcpy(p + SL_JOURNAL_HDR_BYTES, payload, len);
	memset(p + SL_JOURNAL_HDR_BYTES + len, 0, elen - SL_JOURNAL_HDR_BYTES - len);
	h.crc = entry_crc(&h, p + SL_JOURNAL_HDR_BYTES);
	memcpy(p, &h, sizeof(h));
	j->stage.len += elen;
	j->stage.last_seq = j->next_seq;
	return (int64_t)j->next_seq++;
}

static void queue_batch(struct sl_journal *j, struct io_uring *ring, struct sl_jflight *f,
			uint8_t kind)
{
	int fd = j->fd[f->file];
	uint64_t tag = (uint64_t)(uintptr_t)f | kind;
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_write(sqe, fd, f->b.buf, f->b.len, f->off);
	io_uring_sqe_set_data64(sqe, tag);
	f->cqes_due = 1;
	if (!j->direct) {
		/* A short write breaks the link, so the fsync reports -ECANCELED. */
		sqe->flags |= IOSQE_IO_LINK;
		sqe = io_uring_get_sqe(ring);
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data64(sqe, tag);
		f->cqes_due = 2;
	}
	f->queued = true;
	f->done = false;
	f->retry = false;
	f->err = 0;
	f->bytes_done = 0;
}

int sl_journal_prep(struct sl_journal *j, struct io_uring *ring, uint8_t kind)
{
	int queued = 0;

	assert(kind < 8);
	/* Failed batches first, in order: nothing after them is durable. */
	for (uint32_t i = 0; i < j->nflight; i++) {
		struct sl_jflight *f = &j->flight[(j->head + i) % SL_JOURNAL_INFLIGHT_MAX];
		if (!f->retry)
			continue;
		if (io_uring_sq_space_left(ring) < 2)
			return queued ? queued : -EBUSY;
		queue_batch(j, ring, f, kind);
		queued += (int)f->cqes_due;
	}
	if (j->stage.len == 0 || j->nflight == SL_JOURNAL_INFLIGHT_MAX)
		return queued;
	if (io_uring_sq_space_left(ring) < 2)
		return queued ? queued : -EBUSY;
	if (j->direct && batch_pad(j, &j->stage) < 0)
		return queued; /* no memory for the padding: try again later */
	struct sl_jflight *f = &j->flight[(j->head + j->nflight) % SL_JOURNAL_INFLIGHT_MAX];
	struct sl_jbatch t = f->b;
	f->b = j->stage;
	j->stage = t;
	j->stage.len = 0;
	f->file = j->cur;
	f->off = j->off;
	j->off += f->b.len;
	assert(j->off <= j->file_bytes);
	j->nflight++;
	queue_batch(j, ring, f, kind);
	return queued + (int)f->cqes_due;
}

int sl_journal_complete(struct sl_journal *j, void *batch, int res)
{
	struct sl_jflight *f = batch;

	assert(f >= j->flight && f < j->flight + SL_JOURNAL_INFLIGHT_MAX);
	assert(f->queued && f->cqes_due > 0);
	if (res < 0 && f->err == 0)
		f->err = res;
	else if (res > 0)
		f->bytes_done += (uint64_t)res;
	if (--f->cqes_due > 0)
		return 0;
	f->queued = false;
	if (f->err == 0 && f->bytes_done != f->b.len)
		f->err = -EIO; /* a short write with nothing linked behind it */
	if (f->err < 0) {
		f->retry = true;
		return f->err;
	}
	f->done = true;
	j->syncs_done++;
	/* Move durable_seq over the finished prefix, oldest first. */
	uint64_t before = j->durable_seq;
	while (j->nflight && j->flight[j->head].done) {
		struct sl_jflight *h = &j->flight[j->head];
		assert(h->b.last_seq > j->durable_seq);
		j->durable_seq = h->b.last_seq;
		h->b.len = 0;
		h->done = false;
		j->head = (j->head + 1) % SL_JOURNAL_INFLIGHT_MAX;
		j->nflight--;
	}
	return j->durable_seq > before ? 1 : 0;
}

size_t sl_journal_trim_memory(struct sl_journal *j)
{
	size_t freed = 0;

	if (sl_journal_busy(j))
		return 0;
	/* Buffers past their first size are dropped; the next batch grows
	 * one again from SL_JOURNAL_BATCH_INIT. */
	struct sl_jbatch *bs[1 + SL_JOURNAL_INFLIGHT_MAX] = { &j->stage };
	for (unsigned i = 0; i < SL_JOURNAL_INFLIGHT_MAX; i++)
		bs[1 + i] = &j->flight[i].b;
	for (unsigned i = 0; i < 1 + SL_JOURNAL_INFLIGHT_MAX; i++) {
		if (bs[i]->cap <= SL_JOURNAL_BATCH_INIT)
			continue;
		assert(bs[i]->len == 0);
		freed += bs[i]->cap;
		free(bs[i]->buf);
		bs[i]->buf = NULL;
		bs[i]->cap = 0;
	}
	return freed;
}

uint64_t sl_journal_durable_seq(const struct sl_journal *j) { return j->durable_seq; }
uint64_t sl_journal_ckpt_seq(const struct sl_journal *j) { return j->ckpt_seq; }
uint64_t sl_journal_syncs(const struct sl_journal *j) { return j->syncs_done; }
bool sl_journal_busy(const struct sl_journal *j) { return j->nflight > 0 || j->stage.len > 0; }

void sl_journal_ckpt_done(struct sl_journal *j)
{
	assert(j->ckpt_seq > 0);
	assert(j->durable_seq >= j->ckpt_seq);
	j->ckpt_seq = 0;
	j->other_free = true;
}

/* ---- Recovery ------------------------------------------------------------ */

struct jfile {
	uint8_t *data;
	size_t size;
	uint64_t first_seq; /* 0: no intact entry at its start */
};

/* The intact, consecutive entries at the start of f: calls fn on each
 * when fn is set. Returns the last sequence number (0 for none) or -errno. */
static int64_t walk(const struct jfile *f, sl_journal_entry_fn fn, void *arg)
{
	uint64_t off = 0, last = 0;

	/* Each round consumes one entry of at least a header's size. */
	while (off + SL_JOURNAL_HDR_BYTES <= f->size) {
		struct sl_journal_hdr h;
		memcpy(&h, f->data + off, sizeof(h));
		if (h.magic != SL_JOURNAL_MAGIC || h.len < SL_JOURNAL_HDR_BYTES || h.len % 8 ||
		    h.len > f->size - off || entry_len(h.payload_len) != h.len ||
		    (last && h.seq != last + 1) || h.seq == 0)
			break;
		const uint8_t *payload = f->data + off + SL_JOURNAL_HDR_BYTES;
		if (entry_crc(&h, payload) != h.crc)
			break; /* a torn write at the tail: never acknowledged */
		if (fn) {
			int rc = fn(arg, &h, payload);
			if (rc < 0)
				return rc;
		}
		last = h.seq;
		off += h.len;
	}
	return (int64_t)last;
}

static int load(const char *path, struct jfile *f)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	memset(f, 0, sizeof(*f));
	if (fd < 0)
		return -errno;
	int rc = fstat(fd, &st) < 0 ? -errno : 0;
	f->size = rc == 0 ? (size_t)st.st_size : 0;
	f->data = rc == 0 ? malloc(f->size ? f->size : 1) : NULL;
	if (rc == 0 && !f->data)
		rc = -ENOMEM;
	for (size_t got = 0; rc == 0 && got < f->size;) {
		ssize_t n = pread(fd, f->data + got, f->size - got, (off_t)got);
		if (n <= 0)
			rc = n < 0 ? -errno : -EIO;
		else
			got += (size_t)n;
	}
	close(fd);
	if (rc == 0 && f->size >= SL_JOURNAL_HDR_BYTES && walk(f, NULL, NULL) > 0) {
		struct sl_journal_hdr h;
		memcpy(&h, f->data, sizeof(h));
		f->first_seq = h.seq;
	}
	return rc;
}

/* Replay one worker's two files, the older range first. */
static int64_t scan_worker(const char *dir, unsigned idx, sl_journal_entry_fn fn, void *arg)
{
	char path[PATH_MAX];
	struct jfile f[SL_JOURNAL_FILES];
	int64_t top = 0, rc = 0;

	for (unsigned k = 0; k < SL_JOURNAL_FILES; k++) {
		file_path(dir, idx, k, path, sizeof(path));
		int lrc = load(path, &f[k]);
		if (lrc < 0 && lrc != -ENOENT)
			rc = lrc;
	}
	unsigned first = f[1].first_seq && (!f[0].first_seq || f[1].first_seq < f[0].first_seq);
	for (unsigned k = 0; k < SL_JOURNAL_FILES && rc >= 0; k++) {
		const struct jfile *jf = &f[(first + k) % SL_JOURNAL_FILES];
		if (!jf->first_seq)
			continue;
		rc = walk(jf, fn, arg);
		if (rc > top)
			top = rc;
	}
	for (unsigned k = 0; k < SL_JOURNAL_FILES; k++)
		free(f[k].data);
	return rc < 0 ? rc : top;
}

int64_t sl_journal_scan(const char *dir, sl_journal_entry_fn fn, void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int64_t top = 0;

	if (!d)
		return errno == ENOENT ? 1 : -errno;
	/* One pass over the directory; each worker's pair is read once. */
	while ((de = readdir(d)) != NULL) {
		unsigned idx, f;
		char tail;
		if (sscanf(de->d_name, "w%u.%u%c", &idx, &f, &tail) != 2 || f != 0)
			continue;
		int64_t rc = scan_worker(dir, idx, fn, arg);
		if (rc < 0) {
			closedir(d);
			return rc;
		}
		if (rc > top)
			top = rc;
	}
	closedir(d);
	return top + 1;
}

int sl_journal_reset(const char *dir)
{
	static const uint8_t zeros[SL_JOURNAL_HDR_BYTES];
	char path[PATH_MAX];
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL && rc == 0) {
		unsigned idx, f;
		char tail;
		if (sscanf(de->d_name, "w%u.%u%c", &idx, &f, &tail) != 2)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			break;
		}
		/* A zeroed first header ends every scan of this file at once. */
		if (pwrite(fd, zeros, sizeof(zeros), 0) != (ssize_t)sizeof(zeros) || fdatasync(fd) < 0)
			rc = errno ? -errno : -EIO;
		close(fd);
	}
	closedir(d);
	return rc;
}
