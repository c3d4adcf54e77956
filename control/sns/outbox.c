/* outbox.c - the SNS outbox of SMS, push and mail (outbox.h). */
#include "control/sns/outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/fileio.h"
#include "dataplane/codec/enc.h"
#include "dataplane/limits.h"
#include "dataplane/net/server.h"
#include "dataplane/runtime/log.h"

static const char *const kind_names[SL_OUTBOX_KINDS] = { "sms", "application", "email" };

/* The latest records of one kind, oldest at head. */
struct ring {
	char *rec[SL_SNS_OUTBOX_KEEP];
	size_t len[SL_SNS_OUTBOX_KEEP];
	unsigned head, n;
	size_t bytes;
};

static struct {
	pthread_mutex_t lock;
	char dir[PATH_MAX / 2];
	int fd[SL_OUTBOX_KINDS];
	struct ring ring[SL_OUTBOX_KINDS];
	uint64_t mails; /* .eml files written, for unique names */
	bool open;
} o = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Keep a copy of rec as the newest of its kind (the lock held). */
static void keep(enum sl_sns_outbox_kind k, const char *rec, size_t len)
{
	struct ring *r = &o.ring[k];
	char *c = malloc(len + 1);

	if (!c)
		return; /* it is in the file; only the view misses it */
	memcpy(c, rec, len);
	c[len] = '\0';
	/* The oldest make room, by count and by bytes. */
	while (r->n && (r->n == SL_SNS_OUTBOX_KEEP || r->bytes + len > SL_SNS_OUTBOX_KEEP_BYTES)) {
		free(r->rec[r->head]);
		r->bytes -= r->len[r->head];
		r->head = (r->head + 1) % SL_SNS_OUTBOX_KEEP;
		r->n--;
	}
	unsigned i = (r->head + r->n++) % SL_SNS_OUTBOX_KEEP;
	r->rec[i] = c;
	r->len[i] = len;
	r->bytes += len;
}

/* The last SL_SNS_OUTBOX_REPLAY bytes of a kind's file, whole lines, into
 * its ring. */
static void replay(enum sl_sns_outbox_kind k)
{
	struct stat st;

	if (fstat(o.fd[k], &st) < 0 || st.st_size == 0)
		return;
	off_t from = st.st_size > SL_SNS_OUTBOX_REPLAY ? st.st_size - SL_SNS_OUTBOX_REPLAY : 0;
	size_t n = (size_t)(st.st_size - from);
	char *buf = malloc(n);
	if (!buf)
		return;
	ssize_t got = pread(o.fd[k], buf, n, from);
	if (got > 0) {
		size_t i = 0;
		/* A partial first line (the cut) is skipped. */
		if (from > 0) {
			char *nl = memchr(buf, '\n', (size_t)got);
			i = nl ? (size_t)(nl - buf) + 1 : (size_t)got;
		}
		while (i < (size_t)got) {
			char *nl = memchr(buf + i, '\n', (size_t)got - i);
			if (!nl)
				break; /* a torn last line: not a record */
			if (nl > buf + i)
				keep(k, buf + i, (size_t)(nl - (buf + i)));
			i = (size_t)(nl - buf) + 1;
		}
	}
	free(buf);
}

int sl_sns_outbox_open(const char *data_dir)
{
	char path[PATH_MAX];

	snprintf(o.dir, sizeof(o.dir), "%s/sns-outbox", data_dir);
	if (mkdir(o.dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/email", o.dir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	for (int k = 0; k < SL_OUTBOX_KINDS; k++) {
		snprintf(path, sizeof(path), "%s/%s.jsonl", o.dir, kind_names[k]);
		o.fd[k] = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (o.fd[k] < 0) {
			int e = errno;
			while (--k >= 0)
				close(o.fd[k]);
			return -e;
		}
		replay((enum sl_sns_outbox_kind)k);
	}
	o.open = true;
	return 0;
}

void sl_sns_outbox_close(void)
{
	if (!o.open)
		return;
	for (int k = 0; k < SL_OUTBOX_KINDS; k++) {
		close(o.fd[k]);
		struct ring *r = &o.ring[k];
		for (unsigned i = 0; i < r->n; i++)
			free(r->rec[(r->head + i) % SL_SNS_OUTBOX_KEEP]);
		r->head = r->n = 0;
		r->bytes = 0;
	}
	o.open = false;
}

int sl_sns_outbox_add(enum sl_sns_outbox_kind kind, const char *json, size_t len)
{
	if (!o.open)
		return -EBADF;
	/* One write per record, so that a crash leaves whole lines and at
	 * most a torn last one. */
	char *line = malloc(len + 1);
	if (!line)
		return -ENOMEM;
	memcpy(line, json, len);
	line[len] = '\n';
	int rc = sl_write_all(o.fd[kind], line, len + 1);
	if (rc == 0 && fdatasync(o.fd[kind]) < 0)
		rc = -errno;
	free(line);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&o.lock);
	keep(kind, json, len);
	pthread_mutex_unlock(&o.lock);
	return 0;
}

int sl_sns_outbox_mail(const char *to, const char *message_id, const char *topic_arn,
		       const uint8_t *mail, size_t len)
{
	char path[PATH_MAX];
	struct sl_enc e;

	if (!o.open)
		return -EBADF;
	snprintf(path, sizeof(path), "%s/email/%s.eml", o.dir, message_id);
	if (strchr(message_id, '/'))
		return -EINVAL;
	/* A mail sent again (a retry after a crash) overwrites its file. */
	int rc = sl_write_file_atomic(path, mail, len, 0644);
	if (rc < 0)
		return rc;
	if (sl_enc_init(&e, SL_ENC_JSON, len + 512) < 0)
		return -ENOMEM;
	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "protocol");
	sl_enc_cstr(&e, "email");
	sl_enc_key(&e, "to");
	sl_enc_cstr(&e, to);
	sl_enc_key(&e, "messageId");
	sl_enc_cstr(&e, message_id);
	sl_enc_key(&e, "topicArn");
	sl_enc_cstr(&e, topic_arn);
	sl_enc_key(&e, "file");
	sl_enc_cstr(&e, path);
	sl_enc_key(&e, "mail");
	sl_enc_str(&e, (const char *)mail, len);
	sl_enc_obj_end(&e);
	rc = e.err ? e.err : sl_sns_outbox_add(SL_OUTBOX_EMAIL, (const char *)e.buf, e.len);
	sl_enc_free(&e);
	return rc;
}

void sl_sns_outbox_get(struct sl_req *req)
{
	const char *q = req->query.p;
	size_t qn = req->query.n;
	int kind = -1;

	req->content_type = "application/json";
	for (int k = 0; k < SL_OUTBOX_KINDS && kind < 0; k++) {
		char want[32];
		int wl = snprintf(want, sizeof(want), "protocol=%s", kind_names[k]);
		/* protocol=<name> alone, or among other parameters. */
		for (size_t i = 0; i + (size_t)wl <= qn; i++) {
			if ((i == 0 || q[i - 1] == '&') && memcmp(q + i, want, (size_t)wl) == 0 &&
			    (i + (size_t)wl == qn || q[i + (size_t)wl] == '&')) {
				kind = k;
				break;
			}
		}
	}
	if (kind < 0) {
		sl_req_error(req, 400, "InvalidParameter",
			     "protocol must be one of sms, application, email");
		return;
	}
	pthread_mutex_lock(&o.lock);
	struct ring *r = &o.ring[kind];
	sl_enc_reset(&req->out);
	sl_enc_raw(&req->out, "{\"messages\":[", 13);
	for (unsigned i = 0; i < r->n; i++) {
		unsigned at = (r->head + i) % SL_SNS_OUTBOX_KEEP;
		if (i)
			sl_enc_raw(&req->out, ",", 1);
		sl_enc_raw(&req->out, r->rec[at], r->len[at]);
	}
	pthread_mutex_unlock(&o.lock);
	sl_enc_raw(&req->out, "]}", 2);
	if (req->out.err)
		sl_req_error(req, 500, "InternalFailure", "out of memory");
}
