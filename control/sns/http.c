/* http.c - the SNS http deliverer (http.h): its outbox log, its thread,
 * and a small HTTP/1.1 client.
 *
 * The outbox is one append-only file, data/sns-http.log, of frames
 * [u32 crc32c][u32 length][payload]: PUT (a delivery, whole) and DONE (its
 * id). The deliverer writes the PUTs of everything it took from its ring,
 * fdatasyncs once for them all (group commit), then answers their makers;
 * DONE frames ride along with the next write, unsynced: a crash that loses
 * one makes that delivery again (at least once). Start-up replays the file
 * (a torn tail is cut off) and delivers what is not DONE. When the file
 * outgrows SL_SNS_HTTP_LOG_COMPACT it is rewritten with the live
 * deliveries only.
 *
 * Deliveries wait in a heap by due time; at most SL_SNS_HTTP_INFLIGHT are
 * attempted at once, each on its own connection (Connection: close), with
 * SL_SNS_HTTP_ATTEMPT_MS to connect, send and get the status line. 2xx is
 * delivered; a connection failure, a timeout, 5xx and 429 are retried by the
 * delivery's policy; another status, or retries run out, is a failure
 * (counted, and sent to the subscription's dead-letter queue when it has
 * one).
 *
 * https endpoints get TLS 1.2 or later (OpenSSL, non-blocking like the
 * rest): the peer's certificate must chain to --sns-ca-file (or the
 * system's CAs) and name the endpoint's host, or the attempt fails before
 * a byte of the request is sent, and is retried like a refused connection.
 *
 * Names resolve with getaddrinfo on this thread: it may block it, never a
 * worker.
 */
#include "control/sns/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <rte_ring.h>

#include "control/fileio.h"
#include "control/sns/outbox.h"
#include "dataplane/codec/bin.h"
#include "dataplane/limits.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/log.h"
#include "dataplane/runtime/worker.h"
#include "dataplane/services/sns/mail.h"
#include "dataplane/services/sns/stats.h"

/* ---- Deliveries -------------------------------------------------------------------- */

enum { ST_IDLE = 0, ST_CONNECTING, ST_HANDSHAKE, ST_WRITING, ST_READING, ST_SMTP_READ,
       ST_SMTP_WRITE };

/* The steps of an SMTP transaction: the reply awaited at each. */
enum { SMTP_GREETING = 0, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA, SMTP_SENT };

struct job {
	uint64_t id;
	uint8_t kind;
	bool raw;
	uint8_t state;
	struct sl_sns_retry retry;
	int attempts;
	int64_t due_ms, deadline_ms;
	int64_t made_ms;         /* published then (latency) */
	char *url, *message_id, *topic_arn, *sub_arn, *content_type, *dlq_arn;
	bool to_dlq;             /* out of retries: due to go to its dead-letter queue */
	uint8_t *body;
	size_t body_len;
	size_t bytes;            /* what it holds, for live_bytes */
	struct sl_msg *msg;      /* the maker's call, until durable */
	int *result;
	int fd;
	SSL *ssl;                /* https: the connection's TLS */
	char *req;               /* the request being sent */
	size_t req_len, req_off;
	char resp[512];
	size_t resp_len;
	uint8_t smtp_step;
	bool orphan;             /* not stored or not scheduled: freed once answered */
	struct job *next;        /* in flight */
	struct job *next_answer; /* answers due */
};

static struct {
	pthread_t thread;
	bool running;
	_Atomic bool stop;
	struct rte_ring *ring;
	int efd, epfd, logfd;
	char path[PATH_MAX];
	SSL_CTX *tls;            /* https endpoints: peers checked against the CA bundle */
	_Atomic int sleeping;
	_Atomic uint64_t live;   /* deliveries held, for the put caps */
	_Atomic uint64_t live_bytes; /* and their bytes (bodies and strings) */
	uint64_t next_id;
	off_t log_size;
	/* The deliverer's own (its thread only). */
	struct job **heap;
	size_t nheap, capheap;
	struct job *inflight;
	unsigned ninflight;
	struct job *answers;     /* durable, their answers not yet taken by a full ring */
	struct sl_bw done;       /* DONE frames waiting for the next write */
	/* Dead-letter stores on the way (on workers), and their answers. */
	struct rte_ring *dlq_back;
	unsigned ndlq;
	uint16_t dlq_next_worker;
	/* throttlePolicy: attempts in the current second, per subscription
	 * (by the hash of its ARN; two that share a slot share a budget). */
	struct { int64_t window_ms; uint32_t n; } throttle[SL_SNS_THROTTLE_SLOTS];
	uint64_t jitter;         /* xorshift state of the retries' jitter */
	/* Counters for /metrics. */
	_Atomic uint64_t delivered[SL_SNS_PGROUPS], failed[SL_SNS_PGROUPS], retries,
		dead_lettered[SL_SNS_PGROUPS]; /* by protocol group (stats.h) */
} d = { .efd = -1, .epfd = -1, .logfd = -1 };

/* The /metrics protocol group of j. */
static int group_of(const struct job *j)
{
	switch (j->kind) {
	case SL_SNS_LAMBDA_EVENT:
		return SL_SNS_PG_LAMBDA;
	case SL_SNS_MAIL:
		return SL_SNS_PG_EMAIL;
	case SL_SNS_SMS_RECORD:
		return SL_SNS_PG_SMS;
	case SL_SNS_PUSH_RECORD:
		return SL_SNS_PG_APPLICATION;
	default:
		return SL_SNS_PG_HTTP;
	}
}

enum { C_DELIVERED, C_FAILED, C_DEAD, C_RETRY };

/* Count what became of j: in the server's counters, and in its topic's
 * (a delivery of a topic's message; not a confirmation or a direct SMS
 * or push). */
static void tally(const struct job *j, int what)
{
	int g = group_of(j);
	_Atomic uint64_t *all[] = { &d.delivered[g], &d.failed[g], &d.dead_lettered[g], &d.retries };
	atomic_fetch_add(all[what], 1);
	if (j->kind == SL_SNS_SUBSCRIPTION_CONFIRMATION ||
	    j->kind == SL_SNS_UNSUBSCRIBE_CONFIRMATION || !j->topic_arn[0])
		return;
	struct sl_sns_tstats *t = sl_sns_tstats_arn(SL_SNS_STATS_DELIVERER, j->topic_arn);
	if (!t)
		return;
	_Atomic uint64_t *mine[] = { &t->deliveries[g], &t->failures[g], &t->dead[g], &t->retries };
	sl_sns_stat_add(mine[what], 1);
	if (what == C_DELIVERED)
		sl_sns_latency(SL_SNS_STATS_DELIVERER, g, sl_now_ms() - j->made_ms);
}

/* The delivery as its maker gave it (views into j). */
static struct sl_sns_http_req req_of(const struct job *j)
{
	return (struct sl_sns_http_req){
		.kind = j->kind, .raw = j->raw, .url = j->url, .message_id = j->message_id,
		.topic_arn = j->topic_arn, .sub_arn = j->sub_arn, .content_type = j->content_type,
		.body = j->body, .body_len = j->body_len, .retry = j->retry, .dlq_arn = j->dlq_arn,
		.made_ms = j->made_ms,
	};
}

static void put_frame(struct sl_bw *w, const struct job *j)
{
	struct sl_sns_http_req r = req_of(j);

	sl_sns_outbox_put(w, j->id, &r);
}

/* A delivery the deliverer no longer holds (done, or never stored). */
static void live_drop(const struct job *j)
{
	atomic_fetch_sub(&d.live, 1);
	atomic_fetch_sub(&d.live_bytes, j->bytes);
}

static void job_free(struct job *j)
{
	free(j->req);
	free(j);
}

/* One allocation for a delivery and its strings. */
static struct job *job_make(const struct sl_sns_http_req *r)
{
	const char *s[6] = { r->url, r->message_id, r->topic_arn, r->sub_arn, r->content_type,
			     r->dlq_arn };
	size_t need = sizeof(struct job) + r->body_len + 1;

	for (int i = 0; i < 6; i++)
		need += (s[i] ? strlen(s[i]) : 0) + 1;
	struct job *j = calloc(1, need);
	if (!j)
		return NULL;
	j->bytes = need;
	char *p = (char *)(j + 1);
	char **slot[6] = { &j->url, &j->message_id, &j->topic_arn, &j->sub_arn, &j->content_type,
			   &j->dlq_arn };
	for (int i = 0; i < 6; i++) {
		size_t n = s[i] ? strlen(s[i]) : 0;
		memcpy(p, s[i] ? s[i] : "", n);
		p[n] = '\0';
		*slot[i] = p;
		p += n + 1;
	}
	if (!r->content_type)
		j->content_type = NULL;
	if (!r->dlq_arn)
		j->dlq_arn = NULL;
	j->body = (uint8_t *)p;
	memcpy(j->body, r->body, r->body_len);
	j->body_len = r->body_len;
	j->kind = r->kind;
	j->raw = r->raw;
	j->retry = r->retry;
	j->made_ms = r->made_ms ? r->made_ms : sl_now_ms();
	j->fd = -1;
	return j;
}

/* ---- The heap of deliveries by due time ------------------------------------------ */

static bool heap_less(size_t a, size_t b)
{
	return d.heap[a]->due_ms < d.heap[b]->due_ms ||
	       (d.heap[a]->due_ms == d.heap[b]->due_ms && d.heap[a]->id < d.heap[b]->id);
}

static void heap_swap(size_t a, size_t b)
{
	struct job *t = d.heap[a];
	d.heap[a] = d.heap[b];
	d.heap[b] = t;
}

static int heap_push(struct job *j)
{
	if (d.nheap == d.capheap) {
		size_t cap = d.capheap ? d.capheap * 2 : 1024;
		struct job **h = realloc(d.heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		d.heap = h;
		d.capheap = cap;
	}
	size_t i = d.nheap++;
	d.heap[i] = j;
	while (i && heap_less(i, (i - 1) / 2)) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return 0;
}

static struct job *heap_pop(void)
{
	struct job *top = d.heap[0];

	d.heap[0] = d.heap[--d.nheap];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < d.nheap && heap_less(l, m))
			m = l;
		if (r < d.nheap && heap_less(r, m))
			m = r;
		if (m == i)
			break;
		heap_swap(i, m);
		i = m;
	}
	return top;
}

/* ---- The outbox log --------------------------------------------------------------- */

struct replay_state {
	struct job **puts;
	uint64_t *dones;
	size_t nputs, ndones, cap_p, cap_d;
	bool oom;
};

static bool replay_put(void *arg, uint64_t id, const struct sl_sns_http_req *r)
{
	struct replay_state *st = arg;
	struct job *j = job_make(r);

	if (j && st->nputs == st->cap_p) {
		size_t cap = st->cap_p ? st->cap_p * 2 : 256;
		struct job **np = realloc(st->puts, cap * sizeof(*np));
		if (np) {
			st->puts = np;
			st->cap_p = cap;
		}
	}
	if (!j || st->nputs == st->cap_p) {
		free(j);
		st->oom = true;
		return false;
	}
	j->id = id;
	st->puts[st->nputs++] = j;
	if (id >= d.next_id)
		d.next_id = id + 1;
	return true;
}

static bool replay_done(void *arg, uint64_t id)
{
	struct replay_state *st = arg;

	if (st->ndones == st->cap_d) {
		size_t cap = st->cap_d ? st->cap_d * 2 : 256;
		uint64_t *nd = realloc(st->dones, cap * sizeof(*nd));
		if (!nd) {
			st->oom = true;
			return false;
		}
		st->dones = nd;
		st->cap_d = cap;
	}
	st->dones[st->ndones++] = id;
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Read the log: every PUT without its DONE is due now. The file is cut
 * after its last whole frame (a torn write's tail). */
static int replay(void)
{
	struct stat st;
	struct replay_state rs = { 0 };

	if (fstat(d.logfd, &st) < 0)
		return -errno;
	size_t size = (size_t)st.st_size;
	uint8_t *buf = size ? malloc(size) : NULL;
	if (size && !buf)
		return -ENOMEM;
	if (size && pread(d.logfd, buf, size, 0) != (ssize_t)size) {
		free(buf);
		return -EIO;
	}
	size_t off = sl_sns_outbox_scan(buf, size, replay_put, replay_done, &rs);
	free(buf);
	int rc = rs.oom ? -ENOMEM : 0;
	if (rc == 0 && rs.ndones)
		qsort(rs.dones, rs.ndones, sizeof(*rs.dones), cmp_u64);
	size_t live = 0;
	int64_t now = sl_now_ms();
	for (size_t i = 0; i < rs.nputs; i++) {
		struct job *j = rs.puts[i];
		if (rc == 0 &&
		    !(rs.ndones && bsearch(&j->id, rs.dones, rs.ndones, sizeof(*rs.dones), cmp_u64))) {
			j->due_ms = now;
			if (heap_push(j) == 0) {
				live++;
				continue;
			}
			rc = -ENOMEM;
		}
		job_free(j);
	}
	free(rs.puts);
	free(rs.dones);
	if (rc < 0)
		return rc;
	atomic_store(&d.live, live);
	size_t bytes = 0;
	for (size_t i = 0; i < d.nheap; i++)
		bytes += d.heap[i]->bytes;
	atomic_store(&d.live_bytes, bytes);
	if (ftruncate(d.logfd, (off_t)off) < 0 || lseek(d.logfd, (off_t)off, SEEK_SET) < 0)
		return -errno;
	d.log_size = (off_t)off;
	if (live)
		sl_info("sns: %zu http deliveries to make from the outbox", live);
	return 0;
}

/* Rewrite the log with the live deliveries only (those in the heap and in
 * flight: every delivery this thread holds is durable by now). */
static void compact(void)
{
	char tmp[PATH_MAX + 8];
	struct sl_bw w = { 0 };

	snprintf(tmp, sizeof(tmp), "%s.tmp", d.path);
	for (size_t i = 0; i < d.nheap; i++)
		put_frame(&w, d.heap[i]);
	for (struct job *j = d.inflight; j; j = j->next)
		put_frame(&w, j);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w.err || fd < 0 || sl_write_all(fd, w.p, w.len) < 0 || fdatasync(fd) < 0 ||
	    rename(tmp, d.path) < 0) {
		sl_warn("sns: cannot compact %s: %s", d.path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		sl_bw_free(&w);
		return;
	}
	close(d.logfd);
	d.logfd = fd;
	d.log_size = (off_t)w.len;
	lseek(fd, d.log_size, SEEK_SET);
	/* The rename itself must survive: sync the directory. */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", d.path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	sl_bw_free(&w);
}

/* ---- The HTTP client -------------------------------------------------------------- */

static char *request_text(const struct job *j, const char *host_hdr, const char *path,
			  size_t *len)
{
	const char *type = j->kind == SL_SNS_SUBSCRIPTION_CONFIRMATION ? "SubscriptionConfirmation" :
			   j->kind == SL_SNS_UNSUBSCRIBE_CONFIRMATION ? "UnsubscribeConfirmation" :
			   "Notification";
	size_t cap = 1024 + strlen(host_hdr) + strlen(path) + strlen(j->topic_arn) +
		     strlen(j->sub_arn) + strlen(j->message_id) +
		     (j->content_type ? strlen(j->content_type) : 0) + j->body_len;
	char *r = malloc(cap);
	if (!r)
		return NULL;
	int n;
	if (j->kind == SL_SNS_LAMBDA_EVENT) {
		/* An asynchronous invocation, as Lambda's Invoke takes it. */
		n = snprintf(r, cap,
			     "POST %s HTTP/1.1\r\nHost: %s\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
			     "X-Amz-Invocation-Type: Event\r\n",
			     path, host_hdr, j->body_len);
	} else {
		n = snprintf(r, cap,
			     "POST %s HTTP/1.1\r\nHost: %s\r\n"
			     "Content-Type: %s\r\nContent-Length: %zu\r\n"
			     "x-amz-sns-message-type: %s\r\nx-amz-sns-message-id: %s\r\n"
			     "x-amz-sns-topic-arn: %s\r\n",
			     path, host_hdr, j->content_type ? j->content_type :
			     "text/plain; charset=UTF-8", j->body_len, type, j->message_id,
			     j->topic_arn);
		if (j->kind == SL_SNS_NOTIFICATION && j->sub_arn[0])
			n += snprintf(r + n, cap - (size_t)n, "x-amz-sns-subscription-arn: %s\r\n",
				      j->sub_arn);
		if (j->raw)
			n += snprintf(r + n, cap - (size_t)n, "x-amz-sns-rawdelivery: true\r\n");
	}
	n += snprintf(r + n, cap - (size_t)n,
		      "User-Agent: Amazon Simple Notification Service Agent\r\n"
		      "Connection: close\r\n\r\n");
	memcpy(r + n, j->body, j->body_len);
	*len = (size_t)n + j->body_len;
	return r;
}

static void finish(struct job *j, int status);
static bool send_rest(struct job *j);

static void inflight_remove(struct job *j)
{
	for (struct job **pp = &d.inflight; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	j->next = NULL;
	d.ninflight--;
	if (j->fd >= 0) {
		epoll_ctl(d.epfd, EPOLL_CTL_DEL, j->fd, NULL);
		close(j->fd);
		j->fd = -1;
	}
	SSL_free(j->ssl);
	j->ssl = NULL;
	free(j->req);
	j->req = NULL;
	j->state = ST_IDLE;
}

/* ---- TLS (https endpoints) ---------------------------------------------------------- */

static int tls_setup(void)
{
	d.tls = SSL_CTX_new(TLS_client_method());
	if (!d.tls)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(d.tls, TLS1_2_VERSION);
	SSL_CTX_set_verify(d.tls, SSL_VERIFY_PEER, NULL);
	int ok = sl_cfg->sns_ca_file[0] ?
		SSL_CTX_load_verify_locations(d.tls, sl_cfg->sns_ca_file, NULL) :
		SSL_CTX_set_default_verify_paths(d.tls);
	if (ok != 1) {
		sl_error("sns: cannot load the CA certificates %s for https deliveries",
			 sl_cfg->sns_ca_file[0] ? sl_cfg->sns_ca_file : "(the system's)");
		SSL_CTX_free(d.tls);
		d.tls = NULL;
		return -EINVAL;
	}
	return 0;
}

/* A client TLS session on j's socket that checks the peer is host: its
 * certificate chains to a trusted CA and names host (a DNS name, or an IP
 * address in its subjectAltName). */
static int tls_begin(struct job *j, const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;
	bool is_ip = inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;

	j->ssl = d.tls ? SSL_new(d.tls) : NULL;
	if (!j->ssl || SSL_set_fd(j->ssl, j->fd) != 1)
		return -1;
	if (is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(j->ssl), host) != 1)
			return -1;
	} else if (SSL_set_tlsext_host_name(j->ssl, host) != 1 || SSL_set1_host(j->ssl, host) != 1) {
		return -1;
	}
	SSL_set_connect_state(j->ssl);
	return 0;
}

/* Send or receive on j's connection, with TLS or without: bytes moved,
 * 0 for the peer's end of stream, -EAGAIN with *want set to the epoll
 * event to wait for, or -EIO. */
static ssize_t conn_io(struct job *j, bool out, void *p, size_t n, uint32_t *want)
{
	if (!j->ssl) {
		ssize_t r = out ? send(j->fd, p, n, MSG_NOSIGNAL) : recv(j->fd, p, n, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			*want = out ? EPOLLOUT : EPOLLIN;
			return -EAGAIN;
		}
		return r < 0 ? -EIO : r;
	}
	size_t done = 0;
	int ok = out ? SSL_write_ex(j->ssl, p, n, &done) : SSL_read_ex(j->ssl, p, n, &done);
	if (ok == 1)
		return (ssize_t)done;
	int e = SSL_get_error(j->ssl, 0);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
		return -EAGAIN;
	}
	return e == SSL_ERROR_ZERO_RETURN ? 0 : -EIO;
}

static bool wait_for(struct job *j, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = j };

	return epoll_ctl(d.epfd, EPOLL_CTL_MOD, j->fd, &e) == 0;
}

/* ---- SMTP (email deliveries, with --smtp) ------------------------------------------- */

/* Connect to the relay; the greeting is read first. */
static void smtp_begin(struct job *j)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;

	j->smtp_step = SMTP_GREETING;
	j->resp_len = 0;
	if (getaddrinfo(sl_cfg->smtp_host, sl_cfg->smtp_port, &hints, &res) != 0 || !res) {
		finish(j, -1);
		return;
	}
	j->fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc = j->fd < 0 ? -1 : connect(j->fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (j->fd < 0 || (rc < 0 && errno != EINPROGRESS)) {
		finish(j, -1);
		return;
	}
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = j };
	j->state = ST_CONNECTING;
	if (epoll_ctl(d.epfd, EPOLL_CTL_ADD, j->fd, &ev) < 0)
		finish(j, -1);
}

/* What to send after the reply `code` at j's step: the next command, or
 * the mail itself. false: the transaction ends with a status for
 * finish() in *status (2xx sent, 5xx refused for good, -1 retried). */
static bool smtp_next(struct job *j, int code, int *status)
{
	static const int want[] = { [SMTP_GREETING] = 220, [SMTP_EHLO] = 250, [SMTP_MAIL] = 250,
				    [SMTP_RCPT] = 250, [SMTP_DATA] = 354, [SMTP_SENT] = 250 };
	bool ok = code == want[j->smtp_step] || (j->smtp_step == SMTP_RCPT && code == 251);

	if (!ok) {
		/* 4xx is the relay's "later"; 5xx its "never". */
		*status = code >= 500 ? 400 : -1;
		sl_debug("sns: SMTP relay answered %d to delivery %s (step %d)", code,
			 j->message_id, j->smtp_step);
		return false;
	}
	free(j->req);
	j->req = NULL;
	struct sl_bw w = { 0 };
	switch (j->smtp_step) {
	case SMTP_GREETING:
		sl_bw_bytes(&w, "EHLO sluice\r\n", 13);
		break;
	case SMTP_EHLO:
		sl_bw_bytes(&w, "MAIL FROM:<" SL_SNS_MAIL_FROM ">\r\n",
			    strlen("MAIL FROM:<" SL_SNS_MAIL_FROM ">\r\n"));
		break;
	case SMTP_MAIL:
		sl_bw_bytes(&w, "RCPT TO:<", 9);
		sl_bw_bytes(&w, j->url, strlen(j->url));
		sl_bw_bytes(&w, ">\r\n", 3);
		break;
	case SMTP_RCPT:
		sl_bw_bytes(&w, "DATA\r\n", 6);
		break;
	case SMTP_DATA:
		sl_sns_smtp_data(&w, j->body, j->body_len);
		break;
	default: {
		/* Sent: say goodbye without waiting for the answer. */
		ssize_t rc = send(j->fd, "QUIT\r\n", 6, MSG_NOSIGNAL);
		(void)rc;
		*status = 250;
		return false;
	}
	}
	if (w.err) {
		sl_bw_free(&w);
		*status = -1;
		return false;
	}
	j->req = (char *)w.p;
	j->req_len = w.len;
	j->req_off = 0;
	j->smtp_step++;
	return true;
}

static void smtp_event(struct job *j)
{
	uint32_t want = 0;
	int status;

	if (j->state == ST_SMTP_WRITE) {
		if (!send_rest(j))
			return;
		j->state = ST_SMTP_READ;
		if (!wait_for(j, EPOLLIN))
			finish(j, -1);
		return;
	}
	for (;;) {
		ssize_t n = conn_io(j, false, j->resp + j->resp_len, sizeof(j->resp) - j->resp_len,
				    &want);
		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			finish(j, -1);
			return;
		}
		j->resp_len += (size_t)n;
		for (;;) {
			size_t used = 0;
			int code = sl_sns_smtp_reply(j->resp, j->resp_len, &used);
			if (code < 0) {
				finish(j, -1);
				return;
			}
			if (code == 0) {
				/* A long multi-line reply: drop its finished lines. */
				char *nl = memchr(j->resp, '\n', j->resp_len);
				if (nl && j->resp_len >= 4 && j->resp[3] == '-') {
					size_t cut = (size_t)(nl - j->resp) + 1;
					memmove(j->resp, j->resp + cut, j->resp_len - cut);
					j->resp_len -= cut;
					continue;
				}
				if (j->resp_len == sizeof(j->resp)) {
					finish(j, -1);
					return;
				}
				break;
			}
			memmove(j->resp, j->resp + used, j->resp_len - used);
			j->resp_len -= used;
			if (!smtp_next(j, code, &status)) {
				finish(j, status);
				return;
			}
			j->state = ST_SMTP_WRITE;
			if (!wait_for(j, EPOLLOUT))
				finish(j, -1);
			return;
		}
	}
}

/* Send what is left of j->req. true once all of it is sent; false while
 * the socket is full (j waits for it) or when it failed (j is finished). */
static bool send_rest(struct job *j)
{
	uint32_t want = 0;

	while (j->req_off < j->req_len) {
		ssize_t w = conn_io(j, true, j->req + j->req_off, j->req_len - j->req_off, &want);
		if (w == -EAGAIN) {
			if (!wait_for(j, want))
				finish(j, -1);
			return false;
		}
		if (w <= 0) {
			finish(j, -1);
			return false;
		}
		j->req_off += (size_t)w;
	}
	return true;
}

/* Begin an attempt: resolve, connect (non-blocking), queue the request. */
static void attempt(struct job *j, int64_t now)
{
	char host[256], port[8], hosthdr[300];
	const char *path;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL, *ai = NULL;
	bool tls;

	j->attempts++;
	j->next = d.inflight;
	d.inflight = j;
	d.ninflight++;
	j->deadline_ms = now + SL_SNS_HTTP_ATTEMPT_MS;
	/* What sluice does not carry goes to the outbox. */
	if (j->kind == SL_SNS_SMS_RECORD || j->kind == SL_SNS_PUSH_RECORD ||
	    (j->kind == SL_SNS_MAIL && !sl_cfg->smtp_host[0])) {
		int rc = j->kind == SL_SNS_MAIL ?
			sl_sns_outbox_mail(j->url, j->message_id, j->topic_arn, j->body, j->body_len) :
			sl_sns_outbox_add(j->kind == SL_SNS_SMS_RECORD ? SL_OUTBOX_SMS :
					  SL_OUTBOX_APPLICATION, (const char *)j->body, j->body_len);
		if (rc < 0)
			sl_warn("sns: cannot write delivery %s to the outbox: %s", j->message_id,
				strerror(-rc));
		finish(j, rc == 0 ? 200 : -1);
		return;
	}
	if (j->kind == SL_SNS_MAIL) {
		smtp_begin(j);
		return;
	}
	if (!sl_sns_http_url_parse(j->url, host, sizeof(host), port, &path, &tls) ||
	    getaddrinfo(host, port, &hints, &res) != 0 || !res) {
		finish(j, -1);
		return;
	}
	/* IPv4 first where a name has both (localhost). */
	for (struct addrinfo *a = res; a && !ai; a = a->ai_next)
		if (a->ai_family == AF_INET)
			ai = a;
	if (!ai)
		ai = res;
	snprintf(hosthdr, sizeof(hosthdr), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
	j->req = request_text(j, hosthdr, path, &j->req_len);
	j->req_off = 0;
	j->resp_len = 0;
	j->fd = j->req ? socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
	int rc = j->fd < 0 ? -1 : connect(j->fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(res);
	if (j->fd < 0 || (rc < 0 && errno != EINPROGRESS) || (tls && tls_begin(j, host) < 0)) {
		finish(j, -1);
		return;
	}
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = j };
	j->state = ST_CONNECTING;
	if (epoll_ctl(d.epfd, EPOLL_CTL_ADD, j->fd, &ev) < 0)
		finish(j, -1);
}

static void on_event(struct job *j, uint32_t ev)
{
	uint32_t want = 0;

	if (j->state == ST_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		if ((ev & (EPOLLERR | EPOLLHUP)) ||
		    getsockopt(j->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			finish(j, -1);
			return;
		}
		if (j->kind == SL_SNS_MAIL) {
			j->state = ST_SMTP_READ;
			if (!wait_for(j, EPOLLIN))
				finish(j, -1);
			return;
		}
		j->state = j->ssl ? ST_HANDSHAKE : ST_WRITING;
	}
	if (j->state == ST_SMTP_READ || j->state == ST_SMTP_WRITE) {
		smtp_event(j);
		return;
	}
	if (j->state == ST_HANDSHAKE) {
		int ok = SSL_do_handshake(j->ssl);
		if (ok != 1) {
			int e = SSL_get_error(j->ssl, ok);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				/* Untrusted, expired, or not the host's certificate. */
				long v = SSL_get_verify_result(j->ssl);
				sl_debug("sns: TLS with %s failed: %s", j->url, v != X509_V_OK ?
					 X509_verify_cert_error_string(v) : "handshake");
				ERR_clear_error();
				finish(j, -1);
			} else if (!wait_for(j, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT)) {
				finish(j, -1);
			}
			return;
		}
		j->state = ST_WRITING;
	}
	if (j->state == ST_WRITING) {
		if (!send_rest(j))
			return;
		j->state = ST_READING;
		if (!wait_for(j, EPOLLIN)) {
			finish(j, -1);
			return;
		}
		if (!j->ssl)
			return;
		/* TLS may hold the answer already: read on. */
	}
	if (j->state == ST_READING) {
		for (;;) {
			ssize_t n = conn_io(j, false, j->resp + j->resp_len,
					    sizeof(j->resp) - j->resp_len, &want);
			if (n == -EAGAIN) {
				if (!wait_for(j, want))
					finish(j, -1);
				return;
			}
			if (n <= 0) {
				int s = sl_sns_http_status(j->resp, j->resp_len, sizeof(j->resp));
				finish(j, s > 0 ? s : -1);
				return;
			}
			j->resp_len += (size_t)n;
			int s = sl_sns_http_status(j->resp, j->resp_len, sizeof(j->resp));
			if (s != 0) {
				finish(j, s);
				return;
			}
		}
	}
}

static void log_done(struct job *j)
{
	sl_sns_outbox_done(&d.done, j->id);
	live_drop(j);
	job_free(j);
}

/* An attempt ended with HTTP status (or -1: no answer). */
/* A dead-letter store: the deliverer's call to a worker, and back. */
struct dlq_call {
	struct sl_msg msg;
	struct sl_sns_dlq d;
	struct job *j;
};

/* On the worker that stored it: back to the deliverer (its ring holds
 * every call in flight: the enqueue cannot fail). */
static void dlq_back(struct sl_sns_dlq *dq)
{
	struct dlq_call *c = (struct dlq_call *)((char *)dq - offsetof(struct dlq_call, d));

	rte_ring_mp_enqueue(d.dlq_back, c);
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&d.sleeping)) {
		uint64_t one = 1;
		ssize_t rc = write(d.efd, &one, sizeof(one));
		(void)rc;
	}
}

/* Send j to its dead-letter queue; false: not now (no slot, or the
 * worker's ring is full), try again later. */
static bool dlq_start(struct job *j)
{
	if (d.ndlq >= SL_SNS_DLQ_INFLIGHT || !sl_worker_count())
		return false;
	struct dlq_call *c = calloc(1, sizeof(*c));
	if (!c)
		return false;
	c->j = j;
	c->d = (struct sl_sns_dlq){ .arn = j->dlq_arn, .body = j->body, .body_len = j->body_len,
				    .back = dlq_back };
	c->msg.fn = sl_sns_dlq_store;
	c->msg.arg = &c->d;
	uint16_t to = (uint16_t)(d.dlq_next_worker++ % sl_worker_count());
	if (!sl_msg_call_helper(&c->msg, to)) {
		free(c);
		return false;
	}
	d.ndlq++;
	return true;
}

static void dlq_answers(void)
{
	void *batch[64];
	unsigned n = rte_ring_sc_dequeue_burst(d.dlq_back, batch, 64, NULL);

	for (unsigned i = 0; i < n; i++) {
		struct dlq_call *c = batch[i];
		struct job *j = c->j;
		d.ndlq--;
		if (c->d.result == 0) {
			tally(j, C_DEAD);
		} else {
			tally(j, C_FAILED);
			sl_warn("sns: http delivery %s could not go to its dead-letter queue %s: %s",
				j->message_id, j->dlq_arn, strerror(-c->d.result));
		}
		free(c);
		log_done(j);
	}
}

/* Out of retries, or refused: to the dead-letter queue when there is one. */
static void give_up(struct job *j, int status)
{
	if (j->dlq_arn) {
		j->to_dlq = true;
		if (dlq_start(j))
			return;
		j->due_ms = sl_now_ms() + 100;
		if (heap_push(j) == 0)
			return;
	}
	tally(j, C_FAILED);
	sl_warn("sns: delivery %s to %s failed after %d attempts (last: %d)", j->message_id,
		j->url, j->attempts, status);
	log_done(j);
}

static void finish(struct job *j, int status)
{
	inflight_remove(j);
	if (status >= 200 && status <= 299) {
		tally(j, C_DELIVERED);
		log_done(j);
		return;
	}
	bool retryable = status < 0 || status >= 500 || status == 429;
	int delay = retryable ? sl_sns_retry_delay(&j->retry, j->attempts) : -1;
	if (delay < 0) {
		give_up(j, status);
		return;
	}
	tally(j, C_RETRY);
	d.jitter ^= d.jitter << 13;
	d.jitter ^= d.jitter >> 7;
	d.jitter ^= d.jitter << 17;
	j->due_ms = sl_now_ms() + sl_sns_retry_wait_ms(delay, (uint32_t)(d.jitter >> 32));
	if (heap_push(j) < 0) {
		tally(j, C_FAILED);
		log_done(j);
	}
}

/* ---- The thread ------------------------------------------------------------------- */

/* Take what the makers put: log it, sync, answer them, schedule it. */
static void take_puts(void)
{
	void *batch[256];
	unsigned n = rte_ring_sc_dequeue_burst(d.ring, batch, 256, NULL);
	struct sl_bw w = { 0 };

	if (!n && !d.done.len)
		return;
	/* The DONE frames first: they ride along with this write. */
	if (d.done.len) {
		sl_bw_bytes(&w, d.done.p, d.done.len);
		d.done.len = 0;
	}
	int64_t now = sl_now_ms();
	for (unsigned i = 0; i < n; i++) {
		struct job *j = batch[i];
		j->id = d.next_id++;
		put_frame(&w, j);
	}
	int rc = w.err ? w.err : sl_write_all(d.logfd, w.p, w.len);
	if (rc == 0 && n && fdatasync(d.logfd) < 0)
		rc = -errno;
	if (rc == 0)
		d.log_size += (off_t)w.len;
	else
		sl_warn("sns: cannot write %s: %s", d.path, strerror(-rc));
	sl_bw_free(&w);
	for (unsigned i = 0; i < n; i++) {
		struct job *j = batch[i];
		if (j->msg) {
			*j->result = rc;
			j->next_answer = d.answers;
			d.answers = j;
		}
		if (rc < 0) {
			/* Not stored: the maker fails its publish, and nothing
			 * is delivered. */
			live_drop(j);
			j->orphan = true;
		} else {
			j->due_ms = now;
			if (heap_push(j) < 0) {
				tally(j, C_FAILED);
				sl_sns_outbox_done(&d.done, j->id);
				live_drop(j);
				j->orphan = true;
			}
		}
		if (j->orphan && !j->msg)
			job_free(j);
	}
}

/* Hand the makers their answers; what a full ring refuses waits. */
static void answer(void)
{
	struct job *keep = NULL;

	for (struct job *j = d.answers, *next; j; j = next) {
		next = j->next_answer;
		if (!sl_msg_reply_helper(j->msg)) {
			j->next_answer = keep;
			keep = j;
			continue;
		}
		/* The maker has its answer: touch its call no more. */
		j->msg = NULL;
		j->result = NULL;
		if (j->orphan)
			job_free(j);
	}
	d.answers = keep;
}

/* Whether j's subscription has used its attempts for this second (its
 * throttlePolicy); then *until is when the next second starts. */
static bool throttled(struct job *j, int64_t now, int64_t *until)
{
	if (j->retry.max_per_second <= 0)
		return false;
	const char *key = j->sub_arn[0] ? j->sub_arn : j->url;
	uint64_t h = 1469598103934665603ull;
	for (const char *c = key; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	typeof(d.throttle[0]) *t = &d.throttle[h % SL_SNS_THROTTLE_SLOTS];
	if (now - t->window_ms >= 1000) {
		t->window_ms = now;
		t->n = 0;
	}
	if (t->n < (uint32_t)j->retry.max_per_second) {
		t->n++;
		return false;
	}
	*until = t->window_ms + 1000;
	return true;
}

static void *deliverer(void *arg)
{
	struct epoll_event evs[64];

	(void)arg;
	while (!atomic_load(&d.stop)) {
		take_puts();
		answer();
		dlq_answers();
		int64_t now = sl_now_ms();
		while (d.nheap && d.heap[0]->due_ms <= now && d.ninflight < SL_SNS_HTTP_INFLIGHT &&
		       !d.heap[0]->msg) {
			struct job *j = heap_pop();
			int64_t until;
			if (!j->to_dlq && throttled(j, now, &until)) {
				j->due_ms = until;
				if (heap_push(j) < 0)
					give_up(j, -1);
			} else if (!j->to_dlq) {
				attempt(j, now);
			} else if (!dlq_start(j)) {
				j->due_ms = now + 100;
				if (heap_push(j) < 0)
					give_up(j, -1);
				break;
			}
		}
		for (struct job *j = d.inflight, *next; j; j = next) {
			next = j->next;
			if (now >= j->deadline_ms)
				finish(j, -1);
		}
		/* Not while a delivery is held by neither heap nor flight. */
		if (d.log_size > SL_SNS_HTTP_LOG_COMPACT && !d.answers && !d.done.len && !d.ndlq)
			compact();
		int64_t wait = 1000;
		if (d.nheap && d.ninflight < SL_SNS_HTTP_INFLIGHT && d.heap[0]->due_ms - now < wait)
			wait = d.heap[0]->due_ms - now;
		for (struct job *j = d.inflight; j; j = j->next) {
			if (j->deadline_ms - now < wait)
				wait = j->deadline_ms - now;
		}
		if (d.answers || d.done.len)
			wait = d.answers ? 1 : (wait < 100 ? wait : 100);
		if (wait < 0)
			wait = 0;
		atomic_store(&d.sleeping, 1);
		atomic_thread_fence(memory_order_seq_cst);
		if (!rte_ring_empty(d.ring) || !rte_ring_empty(d.dlq_back))
			wait = 0;
		int n = epoll_wait(d.epfd, evs, 64, (int)wait);
		atomic_store(&d.sleeping, 0);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				uint64_t v;
				ssize_t rc = read(d.efd, &v, sizeof(v));
				(void)rc;
				continue;
			}
			on_event(evs[i].data.ptr, evs[i].events);
		}
	}
	return NULL;
}

int sl_sns_http_put(const struct sl_sns_http_req *r, struct sl_msg *msg, int *result)
{
	if (!d.running || atomic_load(&d.live) >= SL_SNS_HTTP_PENDING_MAX ||
	    atomic_load(&d.live_bytes) + r->body_len > SL_SNS_HTTP_PENDING_BYTES)
		return -EAGAIN;
	struct job *j = job_make(r);
	if (!j)
		return -ENOMEM;
	j->msg = msg;
	j->result = result;
	atomic_fetch_add(&d.live, 1);
	atomic_fetch_add(&d.live_bytes, j->bytes);
	if (rte_ring_mp_enqueue(d.ring, j) != 0) {
		live_drop(j);
		free(j);
		return -EAGAIN;
	}
	atomic_thread_fence(memory_order_seq_cst); /* pairs with the sleep in deliverer() */
	if (atomic_load(&d.sleeping)) {
		uint64_t one = 1;
		ssize_t rc = write(d.efd, &one, sizeof(one));
		(void)rc;
	}
	return 0;
}

int sl_sns_http_start(const char *data_dir)
{
	int rc = tls_setup();
	if (rc < 0)
		return rc;
	snprintf(d.path, sizeof(d.path), "%s/sns-http.log", data_dir);
	d.next_id = 1;
	if (getrandom(&d.jitter, sizeof(d.jitter), 0) != (ssize_t)sizeof(d.jitter) || !d.jitter)
		d.jitter = (uint64_t)sl_now_ms() | 1;
	d.logfd = open(d.path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (d.logfd < 0)
		return -errno;
	rc = replay();
	if (rc < 0)
		return rc;
	d.ring = rte_ring_create("sl_sns_http", SL_SNS_HTTP_RING, SOCKET_ID_ANY, RING_F_SC_DEQ);
	d.dlq_back = rte_ring_create("sl_sns_dlq", SL_SNS_DLQ_INFLIGHT * 2, SOCKET_ID_ANY,
				     RING_F_SC_DEQ);
	d.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!d.ring || !d.dlq_back || d.efd < 0 || d.epfd < 0)
		return -ENOMEM;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(d.epfd, EPOLL_CTL_ADD, d.efd, &ev) < 0)
		return -errno;
	if (pthread_create(&d.thread, NULL, deliverer, NULL) != 0)
		return -EAGAIN;
	pthread_setname_np(d.thread, "sl-sns-http");
	d.running = true;
	return 0;
}

void sl_sns_http_stop(void)
{
	if (!d.running)
		return;
	atomic_store(&d.stop, true);
	uint64_t one = 1;
	ssize_t rc = write(d.efd, &one, sizeof(one));
	(void)rc;
	pthread_join(d.thread, NULL);
	d.running = false;
	/* The DONE frames still due, so that a clean stop repeats nothing. */
	if (d.done.len && sl_write_all(d.logfd, d.done.p, d.done.len) == 0)
		fdatasync(d.logfd);
	sl_bw_free(&d.done);
	SSL_CTX_free(d.tls);
	d.tls = NULL;
}

void sl_sns_http_counts(struct sl_sns_http_counts *c)
{
	for (int k = 0; k < SL_SNS_PGROUPS; k++) {
		c->delivered[k] = atomic_load(&d.delivered[k]);
		c->failed[k] = atomic_load(&d.failed[k]);
		c->dead_lettered[k] = atomic_load(&d.dead_lettered[k]);
	}
	c->retries = atomic_load(&d.retries);
	c->pending = atomic_load(&d.live);
}
