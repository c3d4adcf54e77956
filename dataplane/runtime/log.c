/* log.c - log lines on stderr: buffered on workers, written by io_uring.
 *
 * A worker never writes to stderr itself: write(2) to a pipe or a terminal
 * can block. Its lines collect in a per-worker buffer, and its loop hands
 * the buffer to io_uring once per iteration (sl_log_pump). While one half
 * of the buffer is being written the other collects; when both are full a
 * line is dropped and counted, and the count is logged once there is room
 * again. Writes are at most PIPE_BUF bytes of whole lines, so lines from
 * different threads never interleave mid-line even on a pipe. Other threads
 * (control, start-up) write each line directly.
 */
#include "dataplane/runtime/log.h"
#include "dataplane/runtime/logbuf.h"

#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

static __thread char tl_name[16] = "main";
static __thread struct sl_logbuf *tl_buf;
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void sl_log_thread_name(const char *name)
{
	snprintf(tl_name, sizeof(tl_name), "%s", name);
}

void sl_log_attach(struct sl_logbuf *lb)
{
	tl_buf = lb;
}

/* Keep one line for the loop to write; false when there is no room. */
static bool buffer_line(struct sl_logbuf *lb, const char *line, size_t n)
{
	uint8_t c = lb->cur;

	if (lb->len[c] + n > SL_LOG_BUF_BYTES)
		return false;
	memcpy(lb->buf[c] + lb->len[c], line, n);
	lb->len[c] += n;
	return true;
}

void sl_log(enum sl_log_level level, const char *fmt, ...)
{
	char line[SL_LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (sl_cfg && level < sl_cfg->log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %-7s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], tl_name);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (tl_buf) {
		if (!buffer_line(tl_buf, line, (size_t)n))
			tl_buf->dropped++;
		return;
	}
	ssize_t rc = write(STDERR_FILENO, line, (size_t)n);
	(void)rc;
}

/* The next write of the half being written: whole lines, <= PIPE_BUF. */
static size_t chunk_len(const struct sl_logbuf *lb)
{
	const char *p = lb->buf[!lb->cur] + lb->off;
	size_t left = lb->len[!lb->cur] - lb->off;

	if (left <= PIPE_BUF)
		return left;
	for (size_t i = PIPE_BUF; i > 0; i--) {
		if (p[i - 1] == '\n')
			return i;
	}
	return PIPE_BUF; /* never: lines are shorter than PIPE_BUF */
}

static void write_done(struct sl_worker *w, struct sl_aio *aio, int res);

static void queue_chunk(struct sl_worker *w, struct sl_logbuf *lb)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(w);

	if (!sqe)
		return; /* retried by the next sl_log_pump */
	io_uring_prep_write(sqe, STDERR_FILENO, lb->buf[!lb->cur] + lb->off,
			    (unsigned)chunk_len(lb), (uint64_t)-1);
	io_uring_sqe_set_data64(sqe, sl_op_tag(&lb->aio, SL_OP_AIO));
	lb->inflight = true;
}

static void write_done(struct sl_worker *w, struct sl_aio *aio, int res)
{
	struct sl_logbuf *lb = (struct sl_logbuf *)((char *)aio - offsetof(struct sl_logbuf, aio));

	assert(lb->inflight);
	lb->inflight = false;
	/* A failed write (stderr closed) drops the rest of the half: logging
	 * must never hold the worker. */
	lb->off += res > 0 ? (size_t)res : lb->len[!lb->cur] - lb->off;
	if (lb->off < lb->len[!lb->cur])
		queue_chunk(w, lb);
	else
		lb->len[!lb->cur] = lb->off = 0;
}

void sl_log_pump(struct sl_worker *w, struct sl_logbuf *lb)
{
	lb->aio.done = write_done;
	if (lb->inflight)
		return;
	if (lb->len[!lb->cur] > lb->off) {
		queue_chunk(w, lb); /* a chunk that found no submission entry */
		return;
	}
	if (lb->dropped) {
		char line[96];
		int n = snprintf(line, sizeof(line), "log: %llu line(s) dropped (buffer full)\n",
				 (unsigned long long)lb->dropped);
		if (buffer_line(lb, line, (size_t)n))
			lb->dropped = 0;
	}
	if (lb->len[lb->cur] == 0)
		return;
	lb->cur = !lb->cur;
	lb->off = 0;
	queue_chunk(w, lb);
}

void sl_log_drain(struct sl_logbuf *lb)
{
	/* At exit, after the loop: what is left goes out directly. */
	for (int h = 0; h < 2; h++) {
		uint8_t half = (uint8_t)(h == 0 ? !lb->cur : lb->cur);
		size_t off = half == !lb->cur ? lb->off : 0;
		if (lb->len[half] > off) {
			ssize_t rc = write(STDERR_FILENO, lb->buf[half] + off, lb->len[half] - off);
			(void)rc;
		}
		lb->len[half] = 0;
	}
	lb->off = 0;
}
