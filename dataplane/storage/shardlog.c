/* shardlog.c - segment files, group-commit flushes, recovery and reads.
 * See shardlog.h for the model. */
#include "dataplane/storage/shardlog.h"

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

#include "dataplane/storage/crc32c.h"
#include "dataplane/storage/footer.h"
#include "dataplane/limits.h"

/* A flush writes at most one run per segment it touches; the staging cap
 * bounds how many segments one flush can span. */
#define SL_RUNS_MAX (SL_STAGE_MAX / SL_SEGMENT_BYTES_MIN + 2)
/* A read buffer holds one chunk plus the largest frame, so a frame that
 * straddles a chunk boundary can always be completed in place. */
#define SL_FRAME_MAX (SL_FRAME_HDR_BYTES + SL_LOG_KEY_MAX + SL_LOG_DATA_MAX + 8)
#define SL_RBUF_BYTES (SL_READ_CHUNK + SL_FRAME_MAX)

struct sl_seg {
	uint64_t first_n;
	uint64_t end_n;     /* one past the last record placed in this segment */
	uint64_t alloc_off; /* where the next frame goes */
	int64_t last_arrival_ms;
	int fd;
	uint64_t prealloc_end; /* the file is allocated up to here */
	uint64_t live;         /* records not killed (staged ones included) */
	bool sealed;           /* its index footer is written (or was loaded) */
	bool growing;          /* ops.grow holds fd: it must stay open */
	uint32_t cursors;      /* read cursors positioned in this segment */
};

struct sl_idx {
	uint64_t n;
	uint64_t seg_first_n;
	uint64_t off;
	int64_t arrival_ms;
};

struct sl_run {
	int fd;             /* -1 while its segment is being created */
	uint32_t buf_off;
	uint32_t len;
	uint64_t file_off;
	uint64_t seg_first_n;
};

struct sl_stage {
	uint8_t *buf;
	uint32_t len;
	uint32_t cap;
	uint32_t nruns;
	uint64_t end_n;
	int64_t last_arrival_ms;
	struct sl_run runs[SL_RUNS_MAX];
};

struct sl_shardlog {
	char dir[PATH_MAX - 64];
	uint64_t segment_bytes;
	struct sl_seg *segs;
	uint32_t nsegs;
	uint32_t segs_cap;
	struct sl_idx *idx;
	uint64_t idx_head; /* entries before head belong to deleted segments */
	uint64_t idx_len;
	uint64_t idx_cap;
	uint64_t next_n;
	uint64_t durable_n;
	int64_t last_arrival_ms;
	int64_t durable_last_arrival_ms;
	struct sl_stage stage[2];
	uint32_t cur; /* stage taking appends; the other one is in flight */
	bool inflight;
	bool retry;
	uint32_t cqes_due;
	uint32_t flush_fsyncs;  /* fdatasyncs linked into the flush in flight */
	bool held;     /* the flush in flight waits for sl_shardlog_publish() */
	bool written;  /* ... and its writes have completed */
	uint64_t fsyncs_done;   /* fdatasyncs completed successfully, ever */
	int flush_err;
	uint64_t bytes_done;
	uint64_t synced_n; /* batch mode: records below this have been fdatasynced */
	uint64_t sync_target_n; /* batch mode: synced_n once the syncs in flight succeed */
	uint32_t syncs_due;     /* batch mode: fdatasync completions still to come */
	int sync_err;           /* batch mode: the first error among them */
	uint32_t readers;  /* open read cursors: their segments must not go */
	/* Segment files made elsewhere (a worker's helper): with ops set, a
	 * roll asks ops.create and the newest segment has fd -1 until
	 * sl_shardlog_adopt_segment(); growth steps go to ops.grow. */
	struct sl_seg_ops ops;
	bool has_ops;
	uint64_t sealed_below_n; /* every segment ending at or below is sealed */
	uint32_t fds_parked; /* sealed segments whose fd is closed (fd -1) */
	bool creating;   /* a create was asked and not answered */
	int create_err;  /* the last answer's error: ask again (retry_create) */
};

static void publish(struct sl_shardlog *log);
static int seg_ask(struct sl_shardlog *log, uint64_t first_n);

static __thread uint8_t *tl_rbuf;

static uint8_t *read_buf(void)
{
	if (!tl_rbuf)
		tl_rbuf = malloc(SL_RBUF_BYTES);
	return tl_rbuf;
}

uint32_t sl_frame_crc(const struct sl_frame_hdr *h, const uint8_t *payload)
{
	uint32_t crc = sl_crc32c((const uint8_t *)h + 12, SL_FRAME_HDR_BYTES - 12, 0);

	return sl_crc32c(payload, (size_t)h->key_len + h->data_len, crc);
}

static uint32_t frame_len_of(uint32_t key_len, uint32_t data_len)
{
	return (SL_FRAME_HDR_BYTES + key_len + data_len + 7u) & ~7u;
}

void sl_shardlog_seg_path(const char *dir, uint64_t first_n, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%020llu.seg", dir, (unsigned long long)first_n);
}

static void seg_path(const struct sl_shardlog *log, uint64_t first_n, char *out, size_t cap)
{
	sl_shardlog_seg_path(log->dir, first_n, out, cap);
}


/* mkdir -p; with sync, the parent of every directory made is fsynced
 * before going on. */
static int mkdir_p(const char *path, bool sync)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		char c = tmp[i];
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) == 0) {
			/* A directory made here: its name must survive a crash
			 * before anything in it is acknowledged. */
			char *slash = strrchr(tmp, '/');
			if (sync && slash && slash != tmp) {
				*slash = '\0';
				int rc = sl_shardlog_fsync_dir(tmp);
				*slash = '/';
				if (rc < 0)
					return rc;
			}
		} else if (errno != EEXIST) {
			return -errno;
		}
		tmp[i] = c;
	}
	return 0;
}

int sl_shardlog_mkdir(const char *dir)
{
	return mkdir_p(dir, true);
}

int sl_shardlog_mkdir_unsynced(const char *dir)
{
	return mkdir_p(dir, false);
}

int sl_shardlog_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* A sealed segment is never written again; only reads need its file. Its
 * fd is closed (parked) unless a cursor reads it, a growth step still holds
 * it, or it is among the SL_LOG_SEALED_FDS_KEEP newest sealed segments (the
 * ones recent reads land in), so that a log holds a bounded number of fds
 * whatever it retains. A cursor that reaches a parked segment opens it
 * again (sl_shardlog_cursor_opened). */
static void seg_park(struct sl_shardlog *log, struct sl_seg *s)
{
	uint32_t i = (uint32_t)(s - log->segs);

	assert(i < log->nsegs);
	if (s->fd < 0 || !s->sealed || s->cursors || s->growing ||
	    i + 1 + SL_LOG_SEALED_FDS_KEEP >= log->nsegs)
		return;
	close(s->fd);
	s->fd = -1;
	log->fds_parked++;
}

/* After the newest segment changed: the one that left the kept window. */
static void seg_park_window(struct sl_shardlog *log)
{
	if (log->nsegs >= 2 + SL_LOG_SEALED_FDS_KEEP)
		seg_park(log, &log->segs[log->nsegs - 2 - SL_LOG_SEALED_FDS_KEEP]);
}

static int segs_push(struct sl_shardlog *log, const struct sl_seg *s)
{
	if (log->nsegs == log->segs_cap) {
		uint32_t cap = log->segs_cap ? log->segs_cap * 2 : 8;
		if (cap > SL_SEGS_MAX)
			return -EMFILE;
		struct sl_seg *p = realloc(log->segs, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		log->segs = p;
		log->segs_cap = cap;
	}
	log->segs[log->nsegs++] = *s;
	seg_park_window(log);
	return 0;
}

static int idx_push(struct sl_shardlog *log, uint64_t n, uint64_t seg_first_n, uint64_t off,
		    int64_t arrival_ms)
{
	if (log->idx_len == log->idx_cap) {
		if (log->idx_head > log->idx_cap / 2) {
			/* Reclaim the space of deleted segments before growing. */
			memmove(log->idx, log->idx + log->idx_head,
				(log->idx_len - log->idx_head) * sizeof(*log->idx));
			log->idx_len -= log->idx_head;
			log->idx_head = 0;
		} else {
			uint64_t cap = log->idx_cap ? log->idx_cap * 2 : 256;
			struct sl_idx *p = realloc(log->idx, cap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			log->idx = p;
			log->idx_cap = cap;
		}
	}
	log->idx[log->idx_len++] = (struct sl_idx){ n, seg_first_n, off, arrival_ms };
	return 0;
}

/* Keep the segment allocated past need_end, by whole steps:
 * appends land in allocated space (LAB.md: preallocation is what makes
 * appends fast), while a quiet shard costs one step of disk, not a whole
 * segment. 0 or -errno (-ENOSPC: the append fails, nothing is acked). */
static int seg_grow(const struct sl_shardlog *log, struct sl_seg *s, uint64_t need_end)
{
	if (need_end <= s->prealloc_end)
		return 0;
	/* At least half a step of room past need_end, in whole steps. */
	uint64_t end = (need_end + SL_PREALLOC_STEP / 2 + SL_PREALLOC_STEP - 1) / SL_PREALLOC_STEP *
		       SL_PREALLOC_STEP;
	if (end > log->segment_bytes)
		end = log->segment_bytes;
	if (fallocate(s->fd, 0, (off_t)s->prealloc_end, (off_t)(end - s->prealloc_end)) < 0 &&
	    errno != EOPNOTSUPP)
		return -errno;
	s->prealloc_end = end;
	return 0;
}

/* Growth through ops: ask for the next step ahead of the writes and go on
 * (a write past the allocation is still a write; the step only keeps the
 * file contiguous). A segment still being created got its first step from
 * its creator. */
static int seg_grow_async(struct sl_shardlog *log, struct sl_seg *s, uint64_t need_end)
{
	if (s->fd < 0 || need_end + SL_PREALLOC_STEP / 2 <= s->prealloc_end ||
	    s->prealloc_end >= log->segment_bytes)
		return 0;
	uint64_t end = s->prealloc_end + SL_PREALLOC_STEP;
	while (end < need_end + SL_PREALLOC_STEP / 2)
		end += SL_PREALLOC_STEP;
	if (end > log->segment_bytes)
		end = log->segment_bytes;
	log->ops.grow(log->ops.arg, s->fd, s->first_n, s->prealloc_end, end);
	s->growing = true;
	s->prealloc_end = end;
	return 0;
}

/* Create a new segment whose first record will be first_n. */
static int seg_create(struct sl_shardlog *log, uint64_t first_n)
{
	char path[PATH_MAX];
	struct sl_seg s = { .first_n = first_n, .end_n = first_n, .last_arrival_ms = -1, .fd = -1 };

	seg_path(log, first_n, path, sizeof(path));
	/* O_EXCL: a file of that name is a segment recovery did not account
	 * for; never write new records over it. */
	s.fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (s.fd < 0)
		return -errno;
	int rc = seg_grow(log, &s, 1);
	/* The new name must survive a crash before any record in it is acked. */
	if (rc == 0)
		rc = sl_shardlog_fsync_dir(log->dir);
	if (rc == 0)
		rc = segs_push(log, &s);
	int fd = s.fd;
	if (rc < 0) {
		close(fd);
		unlink(path);
	}
	return rc;
}

/* Validate the frame at p (avail bytes readable). Returns the frame length,
 * 0 when more bytes are needed to judge, or -1 when it is not a valid frame
 * for record number want_n. */
static long frame_check(const uint8_t *p, size_t avail, uint64_t want_n, bool verify_crc)
{
	struct sl_frame_hdr h;

	if (avail < SL_FRAME_HDR_BYTES)
		return 0;
	memcpy(&h, p, sizeof(h));
	if (h.magic != SL_FRAME_MAGIC || h.n != want_n)
		return -1;
	if (h.key_len > SL_LOG_KEY_MAX || h.data_len > SL_LOG_DATA_MAX ||
	    h.frame_len != frame_len_of(h.key_len, h.data_len))
		return -1;
	if (avail < h.frame_len)
		return 0;
	if (verify_crc && sl_frame_crc(&h, p + SL_FRAME_HDR_BYTES) != h.crc)
		return -1;
	return h.frame_len;
}

/* Scan one segment from its start, rebuilding its end and index entries.
 * Returns 0 when the scan ended on clean zeroes or the file end, 1 when it
 * stopped on a torn or corrupt frame, -errno on a read error. */
static int seg_recover(struct sl_shardlog *log, struct sl_seg *s)
{
	uint8_t *buf = read_buf();
	uint64_t off = 0;
	uint64_t n = s->first_n;

	if (!buf)
		return -ENOMEM;
	for (uint64_t iter = 0; iter < log->segment_bytes / SL_FRAME_HDR_BYTES + 2; iter++) {
		ssize_t got = pread(s->fd, buf, SL_RBUF_BYTES, (off_t)off);
		if (got < 0)
			return -errno;
		size_t pos = 0;
		for (;;) {
			long fl = frame_check(buf + pos, (size_t)got - pos, n, true);
			if (fl == 0)
				break;
			if (fl < 0) {
				uint32_t magic;
				memcpy(&magic, buf + pos, sizeof(magic));
				s->alloc_off = off + pos;
				s->end_n = n;
				return (size_t)got - pos >= 4 && magic == 0 ? 0 : 1;
			}
			struct sl_frame_hdr h;
			memcpy(&h, buf + pos, sizeof(h));
			if (n == s->first_n || n % SL_INDEX_STRIDE == 0) {
				int rc = idx_push(log, n, s->first_n, off + pos, h.arrival_ms);
				if (rc < 0)
					return rc;
			}
			s->last_arrival_ms = h.arrival_ms;
			pos += (size_t)fl;
			n++;
		}
		if (got < (ssize_t)SL_FRAME_HDR_BYTES || pos == 0) {
			/* End of file, or a frame longer than the buffer (cannot be valid). */
			s->alloc_off = off + pos;
			s->end_n = n;
			return got == 0 || (size_t)got < SL_FRAME_HDR_BYTES ? 0 : 1;
		}
		off += pos;
	}
	return -EIO;
}

static void footer_path(const struct sl_shardlog *log, uint64_t first_n, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%020llu.idx", log->dir, (unsigned long long)first_n);
}

/* Load the footer of segment s (not the newest): 0 with s and the index
 * filled, or -1 (scan it instead). */
static int footer_load(struct sl_shardlog *log, struct sl_seg *s)
{
	char path[PATH_MAX];
	struct stat st, fst;

	footer_path(log, s->first_n, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = -1;
	uint8_t *buf = NULL;
	if (fstat(fd, &st) == 0 && fstat(s->fd, &fst) == 0 && st.st_size >= SL_FOOTER_HDR_BYTES &&
	    (uint64_t)st.st_size <= sl_footer_size(log->segment_bytes / SL_FRAME_HDR_BYTES + 1) &&
	    (buf = malloc((size_t)st.st_size)) != NULL &&
	    pread(fd, buf, (size_t)st.st_size, 0) == st.st_size) {
		struct sl_footer f;
		rc = sl_footer_parse(buf, (size_t)st.st_size, s->first_n, (uint64_t)fst.st_size, &f);
		uint64_t head = log->idx_len;
		for (uint64_t i = 0; rc == 0 && i < f.nidx; i++) {
			struct sl_footer_entry e = sl_footer_entry_at(buf, i);
			rc = idx_push(log, e.n, s->first_n, e.off, e.arrival_ms);
		}
		if (rc == 0) {
			s->end_n = f.end_n;
			s->alloc_off = f.alloc_off;
			s->last_arrival_ms = f.end_n > f.first_n ? f.last_arrival_ms : -1;
			s->sealed = true;
		} else {
			log->idx_len = head;
			rc = -1;
		}
	}
	free(buf);
	close(fd);
	return rc;
}

/* Write the footer of segment s, inline or through ops. */
static void seal_segment(struct sl_shardlog *log, struct sl_seg *s)
{
	char path[PATH_MAX];
	uint64_t lo = log->idx_head, hi = log->idx_len;

	s->sealed = true;
	if (log->has_ops && !log->ops.seal)
		return;
	/* The segment's entries are contiguous in the index (record order). */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (log->idx[mid].n < s->first_n)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint64_t end = lo;
	while (end < log->idx_len && log->idx[end].seg_first_n == s->first_n)
		end++;
	struct sl_footer f = { s->first_n, s->end_n, s->alloc_off, s->last_arrival_ms, end - lo };
	struct sl_footer_entry *e = malloc((f.nidx ? f.nidx : 1) * sizeof(*e));
	size_t len = sl_footer_size(f.nidx);
	uint8_t *buf = malloc(len);
	if (!e || !buf) {
		free(e);
		free(buf);
		return; /* no footer: a scan at the next start-up */
	}
	for (uint64_t i = 0; i < f.nidx; i++)
		e[i] = (struct sl_footer_entry){ log->idx[lo + i].n, log->idx[lo + i].off,
						 log->idx[lo + i].arrival_ms };
	sl_footer_encode(&f, e, buf);
	free(e);
	footer_path(log, s->first_n, path, sizeof(path));
	if (log->has_ops) {
		log->ops.seal(log->ops.arg, path, buf, len);
		return;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		/* No fsync: a footer lost or torn fails its checksum and the
		 * segment is scanned instead. */
		ssize_t w = write(fd, buf, len);
		(void)w;
		close(fd);
	}
	free(buf);
}

/* Seal every segment but the newest whose records are all in its file on
 * stable storage (synced_n): only then can a footer not outlive its data. */
static void seal_due(struct sl_shardlog *log)
{
	if (log->synced_n <= log->sealed_below_n || log->nsegs < 2)
		return;
	/* Called at every synced flush: start at the first segment not yet
	 * sealed (binary search), not at the oldest of hundreds. */
	uint32_t lo = 0, hi = log->nsegs - 1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (log->segs[mid].end_n <= log->sealed_below_n)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint32_t i = lo; i + 1 < log->nsegs; i++) {
		struct sl_seg *s = &log->segs[i];
		if (s->end_n > log->synced_n || (s->fd < 0 && !s->sealed))
			break;
		if (!s->sealed)
			seal_segment(log, s);
		log->sealed_below_n = s->end_n;
		seg_park(log, s);
	}
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Collect segment file names sorted (fixed-width numbers sort as text). */
static void free_names(char **names, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* The segment names in dir, sorted. Returns 0, or -errno: -ENOMEM when the
 * listing cannot be held, -EMFILE past SL_SEGS_MAX segments. Never a
 * shorter listing: recovery from a partial one would cut the log short. */
static int list_segments(const char *dir, char ***names_out, uint32_t *count_out)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	uint32_t count = 0;
	uint32_t cap = 0;
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -errno;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len != 24 || strcmp(de->d_name + 20, ".seg") != 0)
			continue;
		if (count == SL_SEGS_MAX) {
			rc = -EMFILE;
			break;
		}
		if (count == cap) {
			uint32_t ncap = cap ? cap * 2 : 16;
			char **p = realloc(names, ncap * sizeof(*p));
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			names = p;
			cap = ncap;
		}
		names[count] = strdup(de->d_name);
		if (!names[count])
			rc = -ENOMEM;
		else
			count++;
	}
	closedir(d);
	if (rc < 0) {
		free_names(names, count);
		return rc;
	}
	if (count)
		qsort(names, count, sizeof(*names), name_cmp);
	*names_out = names;
	*count_out = count;
	return 0;
}

/* Open every segment in order and rebuild the log's state. A segment that
 * does not continue its predecessor's numbering (or follows a corrupt one)
 * ends recovery; it and later ones are renamed aside, never silently used. */
static int recover(struct sl_shardlog *log)
{
	char **names = NULL;
	uint32_t count = 0;
	int rc = list_segments(log->dir, &names, &count);
	bool stop = false;

	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < count && rc == 0; i++) {
		char path[PATH_MAX];
		uint64_t first_n = strtoull(names[i], NULL, 10);
		snprintf(path, sizeof(path), "%s/%s", log->dir, names[i]);
		if (stop || (log->nsegs && first_n != log->segs[log->nsegs - 1].end_n)) {
			char aside[PATH_MAX + 16];
			snprintf(aside, sizeof(aside), "%s.corrupt", path);
			fprintf(stderr, "sluice: warn: shard log %s: segment out of sequence, set aside\n",
				path);
			/* If it cannot be set aside, recovery fails: opening the
			 * log anyway would find it again next time, or append
			 * records numbered like it. */
			if (rename(path, aside) < 0) {
				rc = -errno;
				break;
			}
			stop = true;
			continue;
		}
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			break;
		}
		struct stat st;
		struct sl_seg s = { .first_n = first_n, .end_n = first_n, .last_arrival_ms = -1, .fd = fd };
		if (fstat(fd, &st) == 0)
			s.prealloc_end = (uint64_t)st.st_size;
		/* A sealed segment (not the newest) is read from its footer. */
		int torn = i + 1 < count && !stop && footer_load(log, &s) == 0 ? 0 :
										  seg_recover(log, &s);
		if (torn < 0) {
			close(fd);
			rc = torn;
			break;
		}
		s.live = s.end_n - s.first_n; /* the engine's replay kills the dead */
		rc = segs_push(log, &s);
		if (rc < 0)
			close(fd);
		if (torn == 1 && i + 1 < count)
			stop = true;
	}
	free_names(names, count);
	return rc;
}

/* Make sure the bytes after the last good frame are zero, so a torn frame
 * left by a crash can never be mistaken for data later. */
static int zero_tail(struct sl_shardlog *log)
{
	struct sl_seg *s = &log->segs[log->nsegs - 1];
	struct stat st;

	if (fstat(s->fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size > s->alloc_off &&
	    fallocate(s->fd, FALLOC_FL_ZERO_RANGE, (off_t)s->alloc_off,
		      st.st_size - (off_t)s->alloc_off) < 0)
		return -errno;
	s->prealloc_end = (uint64_t)st.st_size;
	return fdatasync(s->fd) < 0 ? -errno : 0;
}

static int stage_init(struct sl_stage *st)
{
	memset(st, 0, sizeof(*st));
	st->buf = malloc(SL_STAGE_INIT);
	st->cap = st->buf ? SL_STAGE_INIT : 0;
	return st->buf ? 0 : -ENOMEM;
}

/* An empty log object for dir: no file touched. */
static int log_alloc(const char *dir, uint64_t segment_bytes, struct sl_shardlog **out)
{
	struct sl_shardlog *log = calloc(1, sizeof(*log));
	int rc;

	assert(segment_bytes >= SL_SEGMENT_BYTES_MIN);
	if (!log)
		return -ENOMEM;
	if (strlen(dir) >= sizeof(log->dir)) {
		free(log);
		return -ENAMETOOLONG;
	}
	strcpy(log->dir, dir);
	log->segment_bytes = segment_bytes;
	log->last_arrival_ms = -1;
	log->durable_last_arrival_ms = -1;
	rc = stage_init(&log->stage[0]);
	if (rc == 0)
		rc = stage_init(&log->stage[1]);
	if (rc < 0) {
		sl_shardlog_close(log);
		return rc;
	}
	*out = log;
	return 0;
}

int sl_shardlog_open_new(const char *dir, uint64_t segment_bytes, const struct sl_seg_ops *ops,
			 struct sl_shardlog **out)
{
	struct sl_shardlog *log;
	int rc = log_alloc(dir, segment_bytes, &log);

	assert(ops && ops->create);
	if (rc < 0)
		return rc;
	sl_shardlog_set_seg_ops(log, ops);
	rc = seg_ask(log, 0);
	if (rc < 0) {
		sl_shardlog_close(log);
		return rc;
	}
	*out = log;
	return 0;
}

int sl_shardlog_open(const char *dir, uint64_t segment_bytes, struct sl_shardlog **out)
{
	struct sl_shardlog *log;
	int rc = log_alloc(dir, segment_bytes, &log);

	if (rc < 0)
		return rc;
	rc = mkdir_p(dir, true);
	if (rc == 0)
		rc = recover(log);
	if (rc == 0 && log->nsegs == 0)
		rc = seg_create(log, 0);
	else if (rc == 0)
		rc = zero_tail(log);
	if (rc < 0) {
		sl_shardlog_close(log);
		return rc;
	}
	struct sl_seg *last = &log->segs[log->nsegs - 1];
	log->next_n = last->end_n;
	log->durable_n = last->end_n;
	for (uint32_t i = log->nsegs; i-- > 0;) {
		if (log->segs[i].last_arrival_ms >= 0) {
			log->last_arrival_ms = log->segs[i].last_arrival_ms;
			break;
		}
	}
	log->durable_last_arrival_ms = log->last_arrival_ms;
	log->synced_n = log->durable_n;
	/* Recovered records are on disk: segments scanned now get footers,
	 * and sealed ones give their fds back (footers loaded set sealed
	 * before seal_due passed them). */
	seal_due(log);
	for (uint32_t i = 0; i + 1 < log->nsegs; i++)
		seg_park(log, &log->segs[i]);
	*out = log;
	return 0;
}

void sl_shardlog_close(struct sl_shardlog *log)
{
	if (!log)
		return;
	for (uint32_t i = 0; i < log->nsegs; i++) {
		if (log->segs[i].fd >= 0)
			close(log->segs[i].fd);
	}
	free(log->segs);
	free(log->idx);
	free(log->stage[0].buf);
	free(log->stage[1].buf);
	free(log);
}

int sl_shardlog_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(dir) < 0 ? -errno : 0;
}

uint64_t sl_shardlog_next_n(const struct sl_shardlog *log) { return log->next_n; }
uint64_t sl_shardlog_durable_n(const struct sl_shardlog *log) { return log->durable_n; }
uint64_t sl_shardlog_first_n(const struct sl_shardlog *log) { return log->segs[0].first_n; }
int64_t sl_shardlog_last_arrival_ms(const struct sl_shardlog *log)
{
	return log->durable_last_arrival_ms;
}

bool sl_shardlog_busy(const struct sl_shardlog *log)
{
	return log->inflight || log->stage[log->cur].len > 0 || log->creating;
}

static int stage_reserve(struct sl_stage *st, uint32_t need)
{
	if (st->len + need <= st->cap)
		return 0;
	if (st->len + need > SL_STAGE_MAX)
		return -ENOBUFS;
	uint32_t cap = st->cap * 2;
	while (cap < st->len + need)
		cap *= 2;
	if (cap > SL_STAGE_MAX)
		cap = SL_STAGE_MAX;
	uint8_t *p = realloc(st->buf, cap);
	if (!p)
		return -ENOMEM;
	st->buf = p;
	st->cap = cap;
	return 0;
}

/* Add `len` staged bytes at buffer offset buf_off for segment s to the runs. */
static int stage_add_run(struct sl_stage *st, const struct sl_seg *s, uint32_t buf_off,
			 uint32_t len, uint64_t file_off)
{
	if (st->nruns) {
		struct sl_run *r = &st->runs[st->nruns - 1];
		if (r->fd == s->fd && r->file_off + r->len == file_off && r->buf_off + r->len == buf_off) {
			r->len += len;
			return 0;
		}
	}
	if (st->nruns == SL_RUNS_MAX)
		return -ENOBUFS;
	st->runs[st->nruns++] = (struct sl_run){ s->fd, buf_off, len, file_off, s->first_n };
	return 0;
}

/* A segment starting at first_n whose file ops.create makes: it has no fd
 * until sl_shardlog_adopt_segment(). */
static int seg_ask(struct sl_shardlog *log, uint64_t first_n)
{
	char path[PATH_MAX];
	struct sl_seg s = { .first_n = first_n, .end_n = first_n, .last_arrival_ms = -1, .fd = -1 };
	int rc = segs_push(log, &s);

	if (rc < 0)
		return rc;
	seg_path(log, first_n, path, sizeof(path));
	rc = log->ops.create(log->ops.arg, log, first_n, path);
	if (rc < 0) {
		log->nsegs--;
		return rc;
	}
	log->creating = true;
	log->create_err = 0;
	return 0;
}

/* The newest segment is full: start the next one at next_n, here (blocking)
 * or through ops (the segment has no file until it is adopted). */
static int seg_roll(struct sl_shardlog *log)
{
	if (!log->has_ops)
		return seg_create(log, log->next_n);
	if (log->segs[log->nsegs - 1].fd < 0)
		return -ENOBUFS; /* the last roll is not answered yet: back-pressure */
	return seg_ask(log, log->next_n);
}

void sl_shardlog_set_seg_ops(struct sl_shardlog *log, const struct sl_seg_ops *ops)
{
	assert(!log->creating);
	log->has_ops = ops != NULL;
	if (ops)
		log->ops = *ops;
}

void sl_shardlog_adopt_segment(struct sl_shardlog *log, uint64_t first_n, int fd, uint64_t prealloc)
{
	struct sl_seg *s = &log->segs[log->nsegs - 1];

	assert(log->creating && s->first_n == first_n && s->fd < 0);
	log->creating = false;
	if (fd < 0) {
		log->create_err = fd;
		return;
	}
	s->fd = fd;
	s->prealloc_end = prealloc;
}

int sl_shardlog_retry_create(struct sl_shardlog *log)
{
	char path[PATH_MAX];
	struct sl_seg *s = &log->segs[log->nsegs - 1];

	if (!log->has_ops || log->creating || s->fd >= 0)
		return 0;
	seg_path(log, s->first_n, path, sizeof(path));
	int rc = log->ops.create(log->ops.arg, log, s->first_n, path);
	if (rc == 0)
		log->creating = true;
	return rc < 0 ? rc : 1;
}

int sl_shardlog_create_error(const struct sl_shardlog *log)
{
	return log->create_err;
}

/* Give every run of st whose segment got its file that file. False while
 * one still waits for its segment (nothing of st can be written yet). */
static bool runs_resolved(struct sl_shardlog *log, struct sl_stage *st)
{
	for (uint32_t i = 0; i < st->nruns; i++) {
		struct sl_run *r = &st->runs[i];
		if (r->fd >= 0)
			continue;
		const struct sl_seg *s = &log->segs[log->nsegs - 1];
		assert(s->first_n == r->seg_first_n);
		if (s->fd < 0)
			return false;
		r->fd = s->fd;
	}
	return true;
}

int sl_shardlog_append_typed(struct sl_shardlog *log, uint16_t type, const void *key,
			     uint32_t key_len, const void *data, uint32_t data_len,
			     int64_t arrival_ms, uint64_t *n_out)
{
	struct sl_stage *st = &log->stage[log->cur];
	uint32_t fl = frame_len_of(key_len, data_len);
	int rc;

	if (key_len > SL_LOG_KEY_MAX || data_len > SL_LOG_DATA_MAX)
		return -EFBIG;
	rc = stage_reserve(st, fl);
	if (rc < 0)
		return rc;
	if (st->nruns == SL_RUNS_MAX)
		return -ENOBUFS;
	struct sl_seg *s = &log->segs[log->nsegs - 1];
	if (s->alloc_off + fl > log->segment_bytes) {
		rc = seg_roll(log);
		if (rc < 0)
			return rc;
		s = &log->segs[log->nsegs - 1];
	}
	rc = log->has_ops ? seg_grow_async(log, s, s->alloc_off + fl) :
			    seg_grow(log, s, s->alloc_off + fl);
	if (rc < 0)
		return rc;
	if (arrival_ms < log->last_arrival_ms)
		arrival_ms = log->last_arrival_ms;

	struct sl_frame_hdr h = {
		.magic = SL_FRAME_MAGIC, .frame_len = fl, .key_len = (uint16_t)key_len,
		.type = type, .n = log->next_n, .arrival_ms = arrival_ms, .data_len = data_len,
	};
	uint8_t *p = st->buf + st->len;
	/* A frame may have no key, or no data (NULL with length 0). */
	if (key_len)
		memcpy(p + SL_FRAME_HDR_BYTES, key, key_len);
	if (data_len)
		memcpy(p + SL_FRAME_HDR_BYTES + key_len, data, data_len);
	memset(p + SL_FRAME_HDR_BYTES + key_len + data_len, 0,
	       fl - SL_FRAME_HDR_BYTES - key_len - data_len);
	h.crc = sl_frame_crc(&h, p + SL_FRAME_HDR_BYTES);
	memcpy(p, &h, sizeof(h));

	rc = stage_add_run(st, s, st->len, fl, s->alloc_off);
	if (rc < 0)
		return rc;
	if (log->next_n == s->first_n || log->next_n % SL_INDEX_STRIDE == 0) {
		rc = idx_push(log, log->next_n, s->first_n, s->alloc_off, arrival_ms);
		if (rc < 0) {
			st->runs[st->nruns - 1].len -= fl;
			return rc;
		}
	}
	st->len += fl;
	s->alloc_off += fl;
	s->end_n = log->next_n + 1;
	s->live++;
	s->last_arrival_ms = arrival_ms;
	log->last_arrival_ms = arrival_ms;
	st->end_n = log->next_n + 1;
	st->last_arrival_ms = arrival_ms;
	*n_out = log->next_n++;
	return 0;
}

int sl_shardlog_prep_flush(struct sl_shardlog *log, struct io_uring *ring, int mode, uint64_t tag)
{
	bool sync = mode == SL_FLUSH_SYNC;

	if (log->inflight && !log->retry)
		return 0;
	if (!log->inflight) {
		if (log->stage[log->cur].len == 0)
			return 0;
		if (!runs_resolved(log, &log->stage[log->cur]))
			return 0; /* its new segment is not made yet: keep staging */
		assert(log->stage[!log->cur].len == 0);
		log->cur = !log->cur;
	}
	struct sl_stage *st = &log->stage[!log->cur];
	uint32_t need = st->nruns * (sync ? 2 : 1);
	uint32_t fsyncs = 0;
	if (io_uring_sq_space_left(ring) < need) {
		if (!log->inflight)
			log->cur = !log->cur; /* nothing was queued: keep staging */
		return -EBUSY;
	}
	for (uint32_t i = 0; i < st->nruns; i++) {
		const struct sl_run *r = &st->runs[i];
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		io_uring_prep_write(sqe, r->fd, st->buf + r->buf_off, r->len, r->file_off);
		io_uring_sqe_set_data64(sqe, tag);
		if (!sync)
			continue;
		/* A short write breaks the link, so the fsync reports -ECANCELED. */
		sqe->flags |= IOSQE_IO_LINK;
		sqe = io_uring_get_sqe(ring);
		io_uring_prep_fsync(sqe, r->fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data64(sqe, tag);
		fsyncs++;
	}
	log->flush_fsyncs = fsyncs;
	log->held = mode == SL_FLUSH_HELD;
	log->written = false;
	log->inflight = true;
	log->retry = false;
	log->cqes_due = need;
	log->flush_err = 0;
	log->bytes_done = 0;
	return (int)need;
}

int sl_shardlog_complete(struct sl_shardlog *log, int res)
{
	struct sl_stage *st = &log->stage[!log->cur];

	assert(log->inflight);
	assert(log->cqes_due > 0);
	if (res < 0 && log->flush_err == 0)
		log->flush_err = res;
	else if (res > 0)
		log->bytes_done += (uint64_t)res;
	if (--log->cqes_due > 0)
		return 0;
	if (log->flush_err == 0 && log->bytes_done != st->len)
		log->flush_err = -EIO; /* a short write with nothing linked behind it */
	if (log->flush_err < 0) {
		log->retry = true;
		return log->flush_err;
	}
	if (log->held) {
		/* Written; durable once the journal says so (sl_shardlog_publish). */
		log->written = true;
		return 1;
	}
	publish(log);
	return 1;
}

/* The flush in flight is durable: its records become visible, and the
 * stage it came from takes appends again. */
static void publish(struct sl_shardlog *log)
{
	struct sl_stage *st = &log->stage[!log->cur];

	log->durable_n = st->end_n;
	log->durable_last_arrival_ms = st->last_arrival_ms;
	log->fsyncs_done += log->flush_fsyncs;
	if (log->flush_fsyncs) {
		/* Every file this flush wrote was fdatasynced behind its write. */
		log->synced_n = log->durable_n;
		seal_due(log);
	}
	st->len = 0;
	st->nruns = 0;
	log->inflight = false;
	log->held = false;
	log->written = false;
}

void sl_shardlog_detach(struct sl_shardlog *log, struct sl_flush_mark *m)
{
	struct sl_stage *st = &log->stage[!log->cur];

	assert(log->inflight);
	assert(log->held && log->written);
	m->end_n = st->end_n;
	m->last_arrival_ms = st->last_arrival_ms;
	/* The journal holds these bytes now: the stage takes appends again,
	 * and the next flush may start before this one is published. */
	st->len = 0;
	st->nruns = 0;
	log->inflight = false;
	log->held = false;
	log->written = false;
}

void sl_shardlog_publish_mark(struct sl_shardlog *log, const struct sl_flush_mark *m)
{
	assert(m->end_n >= log->durable_n);
	assert(m->end_n <= log->next_n);
	log->durable_n = m->end_n;
	log->durable_last_arrival_ms = m->last_arrival_ms;
}

void sl_shardlog_publish(struct sl_shardlog *log)
{
	struct sl_flush_mark m;

	sl_shardlog_detach(log, &m);
	sl_shardlog_publish_mark(log, &m);
}

bool sl_shardlog_written(const struct sl_shardlog *log)
{
	return log->inflight && log->written;
}

const uint8_t *sl_shardlog_flight(const struct sl_shardlog *log, uint32_t *len)
{
	const struct sl_stage *st = &log->stage[!log->cur];

	assert(log->inflight);
	*len = st->len;
	return st->buf;
}

int sl_shardlog_replay(struct sl_shardlog *log, const uint8_t *frames, size_t len)
{
	size_t off = 0;
	int added = 0;

	/* Each round consumes one whole frame (frame_len >= the header). */
	while (off + SL_FRAME_HDR_BYTES <= len) {
		struct sl_frame_hdr h;
		memcpy(&h, frames + off, sizeof(h));
		if (h.magic != SL_FRAME_MAGIC || h.frame_len < SL_FRAME_HDR_BYTES ||
		    h.frame_len > len - off ||
		    frame_len_of(h.key_len, h.data_len) != h.frame_len ||
		    sl_frame_crc(&h, frames + off + SL_FRAME_HDR_BYTES) != h.crc)
			return -EBADMSG;
		if (h.n > log->next_n)
			return -EILSEQ; /* a gap: this log lost records the journal never had */
		if (h.n == log->next_n) {
			const uint8_t *pk = frames + off + SL_FRAME_HDR_BYTES;
			uint64_t n;
			int rc = sl_shardlog_append_typed(log, h.type, pk, h.key_len, pk + h.key_len,
							  h.data_len, h.arrival_ms, &n);
			if (rc < 0)
				return rc;
			assert(n == h.n);
			added++;
		}
		off += h.frame_len;
	}
	return off == len ? added : -EBADMSG;
}

int sl_shardlog_prep_sync(struct sl_shardlog *log, struct io_uring *ring, uint64_t tag)
{
	uint32_t need = 0;

	if (log->synced_n >= log->durable_n)
		return 0;
	if (log->syncs_due > 0)
		return -EBUSY; /* the previous round is still in flight */
	for (uint32_t i = 0; i < log->nsegs; i++)
		need += log->segs[i].end_n > log->synced_n && log->segs[i].first_n < log->durable_n;
	if (io_uring_sq_space_left(ring) < need)
		return -EBUSY;
	for (uint32_t i = 0; i < log->nsegs; i++) {
		const struct sl_seg *s = &log->segs[i];
		if (s->end_n <= log->synced_n || s->first_n >= log->durable_n)
			continue;
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		io_uring_prep_fsync(sqe, s->fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data64(sqe, tag);
	}
	/* Records count as synced only when every one of these succeeded
	 * (sl_shardlog_sync_complete); a failure leaves them to the next call. */
	log->sync_target_n = log->durable_n;
	log->syncs_due = need;
	log->sync_err = 0;
	return (int)need;
}

int sl_shardlog_sync_complete(struct sl_shardlog *log, int res)
{
	assert(log->syncs_due > 0);
	assert(log->sync_target_n >= log->synced_n);
	if (res < 0 && log->sync_err == 0)
		log->sync_err = res;
	if (--log->syncs_due > 0)
		return 0;
	if (log->sync_err < 0)
		return log->sync_err;
	log->synced_n = log->sync_target_n;
	seal_due(log);
	return 1;
}

uint64_t sl_shardlog_synced_n(const struct sl_shardlog *log)
{
	return log->synced_n;
}

size_t sl_shardlog_trim_memory(struct sl_shardlog *log)
{
	size_t freed = 0;

	/* Only an idle log: a stage in use, or in flight, keeps its buffer. */
	if (sl_shardlog_busy(log))
		return 0;
	for (int i = 0; i < 2; i++) {
		struct sl_stage *st = &log->stage[i];
		if (st->cap <= SL_STAGE_INIT || st->len)
			continue;
		uint8_t *p = realloc(st->buf, SL_STAGE_INIT);
		if (!p)
			continue; /* keep the big one: nothing is lost */
		freed += st->cap - SL_STAGE_INIT;
		st->buf = p;
		st->cap = SL_STAGE_INIT;
	}
	return freed;
}

uint64_t sl_shardlog_fsyncs(const struct sl_shardlog *log)
{
	return log->fsyncs_done;
}

static const struct sl_seg *seg_find(const struct sl_shardlog *log, uint64_t n)
{
	uint32_t lo = 0, hi = log->nsegs;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (log->segs[mid].first_n <= n)
			lo = mid;
		else
			hi = mid;
	}
	return &log->segs[lo];
}

/* Index entry at or before n (the log always has one per segment start). */
static const struct sl_idx *idx_find(const struct sl_shardlog *log, uint64_t n)
{
	uint64_t lo = log->idx_head, hi = log->idx_len;

	assert(hi > lo);
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (log->idx[mid].n <= n)
			lo = mid;
		else
			hi = mid;
	}
	return &log->idx[lo];
}

/* Find the segment that holds record n, or NULL when it was trimmed. */
static struct sl_seg *seg_by_first(struct sl_shardlog *log, uint64_t first_n)
{
	struct sl_seg *s = (struct sl_seg *)seg_find(log, first_n);

	return s->first_n == first_n ? s : NULL;
}

/* A cursor holding a place in segment first_n (pin) or leaving it. */
static void seg_pin(struct sl_shardlog *log, uint64_t first_n)
{
	struct sl_seg *s = seg_by_first(log, first_n);

	assert(s);
	s->cursors++;
}

static void seg_unpin(struct sl_shardlog *log, uint64_t first_n)
{
	struct sl_seg *s = seg_by_first(log, first_n);

	assert(s && s->cursors > 0);
	s->cursors--;
	seg_park(log, s);
}

int sl_shardlog_cursor_start(struct sl_shardlog *log, struct sl_read_cursor *c, uint64_t from_n,
			     int64_t min_arrival_ms, uint32_t max_records, uint64_t max_bytes)
{
	memset(c, 0, sizeof(*c));
	c->n = from_n < log->segs[0].first_n ? log->segs[0].first_n : from_n;
	c->end_n = log->durable_n;
	c->min_arrival_ms = min_arrival_ms;
	c->max_records = max_records;
	c->max_bytes = max_bytes;
	c->want = SL_READ_CHUNK;
	if (c->n >= c->end_n || max_records == 0) {
		c->done = true;
		return 1;
	}
	const struct sl_idx *ix = idx_find(log, c->n);
	c->seg_first_n = ix->seg_first_n;
	c->off = ix->off;
	if (max_records <= SL_INDEX_STRIDE) {
		/* A few records (an SQS receive reads one): the first read covers
		 * the index stride that holds from_n, up to the next entry or the
		 * segment's end, rather than a whole chunk. */
		const struct sl_seg *s = seg_find(log, ix->seg_first_n);
		uint64_t i = (uint64_t)(ix - log->idx), end = s->alloc_off;
		if (i + 1 < log->idx_len && log->idx[i + 1].seg_first_n == ix->seg_first_n)
			end = log->idx[i + 1].off;
		if (end > ix->off && end - ix->off < c->want)
			c->want = (size_t)(end - ix->off);
	}
	log->readers++;
	seg_pin(log, c->seg_first_n);
	c->holds = true;
	return 0;
}

void sl_shardlog_cursor_end(struct sl_shardlog *log, struct sl_read_cursor *c)
{
	if (c->holds) {
		assert(log->readers > 0);
		log->readers--;
		c->holds = false;
		seg_unpin(log, c->seg_first_n);
	}
	c->done = true;
}

int sl_shardlog_cursor_want(struct sl_shardlog *log, struct sl_read_cursor *c, int *fd,
			    uint64_t *off, size_t *len)
{
	for (uint32_t hops = 0; !c->done && hops < log->nsegs + 1; hops++) {
		struct sl_seg *s = seg_by_first(log, c->seg_first_n);
		if (!s)
			return -EIO; /* readers > 0 keeps segments: cannot happen */
		if (c->n < s->end_n && c->n < c->end_n) {
			*fd = s->fd;
			*off = c->off;
			*len = c->want;
			/* A parked segment: its file must be opened first. */
			return s->fd < 0 && s->sealed ? 2 : 0;
		}
		/* This segment is exhausted: go on with the next one. */
		uint32_t i = (uint32_t)(s - log->segs);
		if (i + 1 >= log->nsegs || c->n >= c->end_n)
			break;
		uint64_t next = log->segs[i + 1].first_n;
		seg_pin(log, next);
		seg_unpin(log, c->seg_first_n);
		c->seg_first_n = next;
		c->off = 0;
	}
	sl_shardlog_cursor_end(log, c);
	return 1;
}

int sl_shardlog_cursor_feed(struct sl_shardlog *log, struct sl_read_cursor *c, const uint8_t *buf,
			    size_t got, sl_rec_fn fn, void *arg)
{
	const struct sl_seg *s = seg_by_first(log, c->seg_first_n);
	uint64_t end_n = s && s->end_n < c->end_n ? s->end_n : c->end_n;

	assert(c->holds && s && s->cursors > 0);
	size_t pos = 0, asked = c->want;

	c->want = SL_READ_CHUNK;
	while (c->n < end_n && got - pos >= SL_FRAME_HDR_BYTES) {
		struct sl_frame_hdr h;
		memcpy(&h, buf + pos, sizeof(h));
		if (h.magic != SL_FRAME_MAGIC || h.frame_len > SL_FRAME_MAX)
			return -EIO;
		if (got - pos < h.frame_len) {
			/* Read again from this frame, all of it. */
			c->want = h.frame_len > SL_READ_CHUNK ? h.frame_len : SL_READ_CHUNK;
			break;
		}
		/* A frame before the one wanted is only stepped over: its
		 * header is checked, its checksum only when it is read. */
		if (frame_check(buf + pos, got - pos, h.n, h.n >= c->n) <= 0)
			return -EIO;
		const uint8_t *payload = buf + pos + SL_FRAME_HDR_BYTES;
		pos += h.frame_len;
		if (h.n < c->n)
			continue;
		if (h.n != c->n)
			return -EIO;
		if (h.arrival_ms >= c->min_arrival_ms) {
			/* Never past max_bytes, except that one record always goes. */
			if (c->count > 0 && c->bytes + h.data_len > c->max_bytes) {
				sl_shardlog_cursor_end(log, c);
				return 1;
			}
			struct sl_rec_view v = { h.n, h.arrival_ms, payload, payload + h.key_len, h.key_len,
						 h.data_len, h.type };
			if (!fn(arg, &v)) {
				sl_shardlog_cursor_end(log, c);
				return 1;
			}
			c->count++;
			c->bytes += h.data_len;
		}
		c->n++;
		if (c->count >= c->max_records || c->bytes >= c->max_bytes) {
			sl_shardlog_cursor_end(log, c);
			return 1;
		}
	}
	if (pos == 0 && c->n < end_n && got < asked)
		return -EIO; /* no progress: the file ends inside a frame */
	c->off += pos;
	if (c->n >= c->end_n) {
		sl_shardlog_cursor_end(log, c);
		return 1;
	}
	return 0;
}

int64_t sl_shardlog_read(struct sl_shardlog *log, uint64_t from_n, int64_t min_arrival_ms,
			 uint32_t max_records, uint64_t max_bytes, sl_rec_fn fn, void *arg)
{
	struct sl_read_cursor c;
	uint8_t *buf = read_buf();
	int rc = sl_shardlog_cursor_start(log, &c, from_n, min_arrival_ms, max_records, max_bytes);

	if (!buf) {
		sl_shardlog_cursor_end(log, &c);
		return -ENOMEM;
	}
	/* Bounded: every round either passes a record or moves the offset. */
	while (rc == 0) {
		int fd;
		uint64_t off;
		size_t len;
		rc = sl_shardlog_cursor_want(log, &c, &fd, &off, &len);
		if (rc == 2) {
			char path[PATH_MAX];
			sl_shardlog_cursor_path(log, &c, path, sizeof(path));
			int ofd = open(path, O_RDONLY | O_CLOEXEC);
			rc = sl_shardlog_cursor_opened(log, &c, ofd < 0 ? -errno : ofd);
			continue;
		}
		if (rc != 0)
			break;
		assert(len <= SL_RBUF_BYTES);
		ssize_t got = pread(fd, buf, len, (off_t)off);
		if (got < 0) {
			rc = -errno;
			break;
		}
		rc = sl_shardlog_cursor_feed(log, &c, buf, (size_t)got, fn, arg);
	}
	sl_shardlog_cursor_end(log, &c);
	return rc < 0 ? rc : (int64_t)c.n;
}

void sl_shardlog_cursor_path(const struct sl_shardlog *log, const struct sl_read_cursor *c,
			     char *out, size_t cap)
{
	seg_path(log, c->seg_first_n, out, cap);
}

int sl_shardlog_cursor_opened(struct sl_shardlog *log, struct sl_read_cursor *c, int fd)
{
	struct sl_seg *s = c->holds ? seg_by_first(log, c->seg_first_n) : NULL;

	if (fd < 0)
		return fd;
	if (!s || s->fd >= 0) {
		close(fd); /* another cursor opened it first */
		return s ? 0 : -EIO;
	}
	s->fd = fd;
	assert(log->fds_parked > 0);
	log->fds_parked--;
	return 0;
}

void sl_shardlog_grow_done(struct sl_shardlog *log, uint64_t first_n)
{
	struct sl_seg *s = seg_by_first(log, first_n);

	/* A segment that was never sealed keeps its fd; a grow job never
	 * outlives its log (the worker's seg_jobs). */
	if (s) {
		s->growing = false;
		seg_park(log, s);
	}
}

uint32_t sl_shardlog_fds_parked(const struct sl_shardlog *log)
{
	return log->fds_parked;
}

uint32_t sl_shardlog_readers(const struct sl_shardlog *log)
{
	return log->readers;
}

static bool stop_at_first(void *arg, const struct sl_rec_view *rec)
{
	(void)arg;
	(void)rec;
	return false;
}

uint64_t sl_shardlog_time_hint(const struct sl_shardlog *log, int64_t ts_ms)
{
	uint64_t lo = log->idx_head, hi = log->idx_len;

	if (log->durable_n == log->segs[0].first_n || lo == hi)
		return log->durable_n;
	/* Last index entry that arrived before ts: the answer is at or after it. */
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (log->idx[mid].arrival_ms < ts_ms)
			lo = mid;
		else
			hi = mid;
	}
	return log->idx[lo].n;
}

uint64_t sl_shardlog_find_time(struct sl_shardlog *log, int64_t ts_ms)
{
	uint64_t lo = log->idx_head, hi = log->idx_len;

	if (log->durable_n == log->segs[0].first_n || lo == hi)
		return log->durable_n;
	/* Last index entry that arrived before ts: the answer is at or after it. */
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (log->idx[mid].arrival_ms < ts_ms)
			lo = mid;
		else
			hi = mid;
	}
	int64_t at = sl_shardlog_read(log, log->idx[lo].n, ts_ms, 1, UINT64_MAX, stop_at_first, NULL);
	return at < 0 ? log->durable_n : (uint64_t)at;
}

static void drop_first_segment(struct sl_shardlog *log);

static int unlink_now(void *arg, const char *path)
{
	(void)arg;
	return unlink(path) < 0 ? -errno : 0;
}

/* A segment's file, then its footer (which may never have been written). */
static int del_segment_files(struct sl_shardlog *log, const struct sl_seg *s, sl_unlink_fn del,
			     void *arg)
{
	char path[PATH_MAX];

	seg_path(log, s->first_n, path, sizeof(path));
	int rc = del(arg, path);
	if (rc < 0 || !s->sealed)
		return rc;
	footer_path(log, s->first_n, path, sizeof(path));
	rc = del(arg, path);
	return rc == -ENOENT ? 0 : rc;
}

int sl_shardlog_trim(struct sl_shardlog *log, int64_t cutoff_ms)
{
	return sl_shardlog_trim_with(log, cutoff_ms, unlink_now, NULL);
}

int sl_shardlog_trim_with(struct sl_shardlog *log, int64_t cutoff_ms, sl_unlink_fn del, void *arg)
{
	int deleted = 0;

	if (log->readers > 0)
		return 0; /* a read in flight holds segment offsets; trim next tick */
	while (log->nsegs > 1 && log->segs[0].last_arrival_ms < cutoff_ms &&
	       log->segs[0].end_n <= log->durable_n) {
		int rc = del_segment_files(log, &log->segs[0], del, arg);
		if (rc < 0)
			return rc;
		drop_first_segment(log);
		deleted++;
	}
	return deleted;
}

/* ---- Live counts and replay ------------------------------------------------ */

int sl_shardlog_kill(struct sl_shardlog *log, uint64_t n)
{
	struct sl_seg *s = (struct sl_seg *)seg_find(log, n);

	if (log->nsegs == 0 || n < s->first_n || n >= s->end_n)
		return -ENOENT;
	assert(s->live > 0);
	s->live--;
	return 0;
}

uint64_t sl_shardlog_live(const struct sl_shardlog *log)
{
	uint64_t live = 0;

	for (uint32_t i = 0; i < log->nsegs; i++)
		live += log->segs[i].live;
	return live;
}

int sl_shardlog_segment(const struct sl_shardlog *log, uint32_t i, uint64_t *first_n,
			uint64_t *end_n, uint64_t *live)
{
	if (i >= log->nsegs)
		return -ENOENT;
	*first_n = log->segs[i].first_n;
	*end_n = log->segs[i].end_n;
	*live = log->segs[i].live;
	return 0;
}

static void drop_first_segment(struct sl_shardlog *log)
{
	assert(log->segs[0].cursors == 0);
	if (log->segs[0].fd >= 0)
		close(log->segs[0].fd);
	else
		log->fds_parked--;
	memmove(log->segs, log->segs + 1, (log->nsegs - 1) * sizeof(*log->segs));
	log->nsegs--;
	while (log->idx_head < log->idx_len && log->idx[log->idx_head].n < log->segs[0].first_n)
		log->idx_head++;
}

int sl_shardlog_drop_dead(struct sl_shardlog *log, int (*del)(void *arg, const char *path),
			  void *arg)
{
	int deleted = 0;

	if (log->readers > 0)
		return 0;
	while (log->nsegs > 1 && log->segs[0].live == 0 && log->segs[0].end_n <= log->durable_n) {
		int rc = del_segment_files(log, &log->segs[0], del ? del : unlink_now, arg);
		if (rc < 0)
			return rc;
		drop_first_segment(log);
		deleted++;
	}
	return deleted;
}

int64_t sl_shardlog_scan(struct sl_shardlog *log, sl_rec_fn fn, void *arg)
{
	uint64_t n = sl_shardlog_first_n(log);
	int64_t passed = 0;

	/* Bounded: each round passes at least one record or ends. */
	while (n < log->durable_n) {
		int64_t next = sl_shardlog_read(log, n, INT64_MIN, UINT32_MAX, UINT64_MAX, fn, arg);
		if (next < 0)
			return next;
		if ((uint64_t)next == n)
			break; /* fn stopped */
		passed += next - (int64_t)n;
		n = (uint64_t)next;
	}
	return passed;
}
