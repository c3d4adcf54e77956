/* udp.c - Kinesis records over UDP (docs/ingest-protocol.md), the kernel
 * socket driver. Worker: each worker has its own socket on the ingest port
 * (SO_REUSEPORT, so a flow stays on one worker), keeps SL_INGEST_RX_SLOTS
 * receives armed through io_uring, stores a PUT's records through the same
 * path as PutRecords (sl_kin_put_raw: the shards' owners, their logs, group
 * commit), and sends the acknowledgement from the worker that received the
 * datagram, once the records are durable. Each worker keeps the
 * idempotence windows of the producers it hears from (net/ingest_window.c).
 *
 * With --ingest-keys, only datagrams signed with their producer's key are
 * answered, and the answers are signed too. Not yet: the DPDK driver. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

#include "dataplane/codec/ingest.h"
#include "dataplane/limits.h"
#include "dataplane/net/ingest_window.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/log.h"
#include "dataplane/runtime/worker.h"
#include "dataplane/services/kinesis/kinesis.h"

/* One armed receive and its buffer. */
struct rx {
	struct sl_aio aio; /* first: the tag points here */
	struct udp_w *u;
	bool armed;
	struct msghdr mh;
	struct iovec iov;
	struct sockaddr_in from;
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cmsg;
	uint8_t buf[SL_INGEST_DATAGRAM_MAX + 1];
};

/* One acknowledgement on its way out. */
struct tx {
	struct sl_aio aio;
	struct udp_w *u;
	struct msghdr mh;
	struct iovec iov;
	struct sockaddr_in to;
	size_t len;
	uint8_t buf[];
};

/* A PUT being stored: its bytes (the records point into them), what the
 * codec said of each record, and the records handed to Kinesis. */
struct dgram {
	struct udp_w *u;
	struct sockaddr_in from;
	uint64_t producer, seq, stream_id;
	uint32_t n, nstored;
	uint8_t *verdict;          /* per record: SL_INGEST_OK or its refusal */
	struct sl_kin_raw *recs;   /* the stored ones, in order */
	size_t len;
	uint8_t bytes[];
};

struct udp_w {
	struct sl_worker *w;
	int fd;
	struct sl_iwin *win;
	uint32_t inflight;         /* dgrams being stored */
	size_t inflight_bytes;     /* and their bytes */
	struct rx *rx[SL_INGEST_RX_SLOTS];
	/* Counters for /metrics (this worker writes, /metrics reads). */
	_Atomic uint64_t received, malformed, fragments, unknown_stream, overloaded, duplicates,
		stale, acked, records, unauthenticated;
};

/* Producers' keys (--ingest-keys), sorted by id; read-only once the
 * workers run. None: tags are not checked. */
struct pkey {
	uint64_t id;
	uint8_t len;
	uint8_t key[SL_INGEST_KEY_MAX];
};
static struct pkey *keys;
static size_t nkeys;

static const struct pkey *key_of(uint64_t id)
{
	size_t lo = 0, hi = nkeys;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (keys[mid].id == id)
			return &keys[mid];
		if (keys[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Each worker's, set once by that worker; read by /metrics anywhere. */
static _Atomic(struct udp_w *) udp[SL_WORKERS_MAX];

static void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- Sending ----------------------------------------------------------------- */

static void tx_done(struct sl_worker *w, struct sl_aio *aio, int res)
{
	(void)w;
	(void)res; /* UDP: a lost acknowledgement is a retransmission later */
	free(aio);
}

/* Send len bytes of buf to `to` (copied). Best effort: a datagram that
 * cannot be queued is dropped, as the network may drop it. */
static void send_to(struct udp_w *u, const struct sockaddr_in *to, const uint8_t *buf, size_t len)
{
	struct tx *t = malloc(sizeof(*t) + len);
	struct io_uring_sqe *sqe = t ? sl_worker_sqe(u->w) : NULL;

	if (!sqe) {
		free(t);
		return;
	}
	memcpy(t->buf, buf, len);
	t->aio.done = tx_done;
	t->u = u;
	t->to = *to;
	t->len = len;
	t->iov = (struct iovec){ t->buf, len };
	t->mh = (struct msghdr){ .msg_name = &t->to, .msg_namelen = sizeof(t->to),
				 .msg_iov = &t->iov, .msg_iovlen = 1 };
	io_uring_prep_sendmsg(sqe, u->fd, &t->mh, 0);
	io_uring_sqe_set_data64(sqe, sl_op_tag(&t->aio, SL_OP_AIO));
	count(&u->acked, 1);
}

/* An answer with a datagram-level status and no runs (a LOOKUP_ACK's cnt:
 * the stream's open shards). */
static void answer(struct udp_w *u, const struct sockaddr_in *to, const struct sl_ingest_hdr *q,
		   uint8_t type, uint8_t status, uint64_t stream_id, uint16_t cnt)
{
	uint8_t buf[SL_INGEST_HDR_BYTES + SL_INGEST_TAG_BYTES];
	struct sl_ingest_writer wr;
	const struct pkey *k = key_of(q->producer_id);
	struct sl_ingest_hdr h = { .type = type, .producer_id = q->producer_id, .seq = q->seq,
				   .stream_id = stream_id, .status = status, .count = cnt,
				   .flags = k ? SL_INGEST_F_AUTH : 0 };

	sl_ingest_begin(&wr, buf, sizeof(buf), &h, NULL);
	size_t len = sl_ingest_end(&wr, k ? k->key : NULL, k ? k->len : 0);
	if (len)
		send_to(u, to, buf, len);
}

/* ---- Storing a PUT ----------------------------------------------------------- */

static void put_done(struct sl_worker *w, void *arg, const struct sl_kin_raw_result *res,
		     uint32_t nres)
{
	struct dgram *d = arg;
	struct udp_w *u = d->u;
	uint8_t buf[SL_INGEST_HDR_BYTES + SL_INGEST_RECORDS_MAX * SL_INGEST_RUN_BYTES +
		    SL_INGEST_TAG_BYTES];
	struct sl_ingest_writer wr;
	const struct pkey *k = key_of(d->producer);
	struct sl_ingest_hdr h = { .type = SL_INGEST_PUT_ACK, .producer_id = d->producer,
				   .seq = d->seq, .stream_id = d->stream_id,
				   .flags = k ? SL_INGEST_F_AUTH : 0 };
	uint32_t j = 0, ok = 0;

	(void)w;
	sl_ingest_begin(&wr, buf, sizeof(buf), &h, NULL);
	for (uint32_t i = 0; i < d->n; i++) {
		if (d->verdict[i] != SL_INGEST_OK) {
			sl_ingest_add_run(&wr, d->verdict[i], 0, 0);
			continue;
		}
		const struct sl_kin_raw_result *r = j < nres ? &res[j] : NULL;
		j++;
		if (r && r->err == SL_KIN_RAW_OK) {
			sl_ingest_add_run(&wr, SL_INGEST_OK, r->ordinal, r->n);
			ok++;
		} else {
			sl_ingest_add_run(&wr, r && r->err == SL_KIN_RAW_THROTTLED ? SL_INGEST_THROTTLED :
					  SL_INGEST_INTERNAL, 0, 0);
		}
	}
	size_t len = sl_ingest_end(&wr, k ? k->key : NULL, k ? k->len : 0);
	count(&u->records, ok);
	/* Anything stored makes the datagram done: a retransmission gets
	 * this answer. Nothing stored: it may try again. */
	if (ok && len)
		sl_iwin_done(u->win, d->producer, d->seq, buf, len);
	else
		sl_iwin_forget(u->win, d->producer, d->seq);
	if (len)
		send_to(u, &d->from, buf, len);
	u->inflight--;
	u->inflight_bytes -= d->len;
	free(d);
}

static void put(struct udp_w *u, const struct sl_ingest_view *v, const uint8_t *p, size_t n,
		const struct sockaddr_in *from)
{
	const struct sl_catalog *c = sl_catalog_get();
	const struct sl_stream_meta *s;

	if (v->name) {
		char name[SL_INGEST_NAME_MAX + 1];
		memcpy(name, v->name, v->h.name_len);
		name[v->h.name_len] = '\0';
		s = sl_stream_find(c, sl_cfg->region, name);
	} else {
		s = sl_stream_find_uid(c, v->h.stream_id);
	}
	if (!s || s->status == SL_STREAM_DELETING) {
		count(&u->unknown_stream, 1);
		answer(u, from, &v->h, SL_INGEST_PUT_ACK, SL_INGEST_UNKNOWN_STREAM, 0, 0);
		return;
	}
	if (!sl_kin_stream_writable(s)) { /* CREATING: soon */
		count(&u->overloaded, 1);
		answer(u, from, &v->h, SL_INGEST_PUT_ACK, SL_INGEST_OVERLOADED, s->hdr.uid, 0);
		return;
	}
	const uint8_t *ack;
	size_t ack_len;
	switch (sl_iwin_check(u->win, v->h.producer_id, v->h.seq, &ack, &ack_len)) {
	case SL_IWIN_STALE:
		count(&u->stale, 1);
		answer(u, from, &v->h, SL_INGEST_PUT_ACK, SL_INGEST_STALE, s->hdr.uid, 0);
		return;
	case SL_IWIN_IN_FLIGHT:
		count(&u->duplicates, 1);
		return; /* its acknowledgement follows */
	case SL_IWIN_DONE: {
		uint8_t again[SL_INGEST_HDR_BYTES + SL_INGEST_RECORDS_MAX * SL_INGEST_RUN_BYTES +
			      SL_INGEST_TAG_BYTES];
		const struct pkey *k = key_of(v->h.producer_id);
		if (ack_len > sizeof(again) || ack_len < SL_INGEST_HDR_BYTES)
			return;
		memcpy(again, ack, ack_len);
		again[6] |= SL_INGEST_F_DUPLICATE;
		if (k && (again[6] & SL_INGEST_F_AUTH))
			sl_ingest_sign(again, ack_len, k->key, k->len);
		count(&u->duplicates, 1);
		send_to(u, from, again, ack_len);
		return;
	}
	default:
		break;
	}
	uint32_t cnt = v->h.count;
	if (u->inflight >= SL_INGEST_INFLIGHT_MAX ||
	    u->inflight_bytes + n > SL_INGEST_INFLIGHT_BYTES) {
		sl_iwin_forget(u->win, v->h.producer_id, v->h.seq);
		count(&u->overloaded, 1);
		answer(u, from, &v->h, SL_INGEST_PUT_ACK, SL_INGEST_OVERLOADED, s->hdr.uid, 0);
		return;
	}
	struct dgram *d = malloc(sizeof(*d) + n + cnt * (sizeof(struct sl_kin_raw) + 1) + 16);
	if (!d) {
		sl_iwin_forget(u->win, v->h.producer_id, v->h.seq);
		count(&u->overloaded, 1);
		answer(u, from, &v->h, SL_INGEST_PUT_ACK, SL_INGEST_OVERLOADED, s->hdr.uid, 0);
		return;
	}
	*d = (struct dgram){ .u = u, .from = *from, .producer = v->h.producer_id, .seq = v->h.seq,
			     .stream_id = s->hdr.uid, .n = cnt, .len = n };
	memcpy(d->bytes, p, n);
	uintptr_t at = ((uintptr_t)(d->bytes + n) + 15) & ~(uintptr_t)15;
	d->recs = (struct sl_kin_raw *)at;
	d->verdict = (uint8_t *)(d->recs + cnt);
	/* The records, walked in the datagram as received and pointed into
	 * the copy (the receive buffer is armed again at once). */
	struct sl_ingest_iter it;
	struct sl_ingest_rec r;
	sl_ingest_iter_init(&it, v);
	for (uint32_t i = 0; i < cnt && sl_ingest_next(&it, &r) == 1; i++) {
		d->verdict[i] = r.status;
		if (r.status != SL_INGEST_OK)
			continue;
		struct sl_kin_raw *k = &d->recs[d->nstored++];
		*k = (struct sl_kin_raw){ .key = d->bytes + (r.key - p), .key_len = r.key_len,
					  .data = d->bytes + (r.data - p), .data_len = r.data_len,
					  .has_hash = r.has_hash };
		for (int b = 15; b >= 0; b--)
			k->hash = k->hash << 8 | r.hash[b];
	}
	u->inflight++;
	u->inflight_bytes += n;
	if (d->nstored == 0) {
		put_done(u->w, d, NULL, 0);
		return;
	}
	if (sl_kin_put_raw(u->w, s, d->recs, d->nstored, put_done, d) < 0) {
		u->inflight--;
		u->inflight_bytes -= n;
		free(d);
		sl_iwin_forget(u->win, v->h.producer_id, v->h.seq);
		count(&u->overloaded, 1);
		answer(u, from, &v->h, SL_INGEST_PUT_ACK, SL_INGEST_OVERLOADED, s->hdr.uid, 0);
	}
}

/* ---- Receiving ---------------------------------------------------------------- */

static void rx_done(struct sl_worker *w, struct sl_aio *aio, int res);

static void rx_arm(struct rx *r)
{
	struct io_uring_sqe *sqe = sl_worker_sqe(r->u->w);

	if (!sqe)
		return; /* re-armed by the next tick (sl_kin_udp_tick) */
	r->iov = (struct iovec){ r->buf, sizeof(r->buf) };
	r->mh = (struct msghdr){ .msg_name = &r->from, .msg_namelen = sizeof(r->from),
				 .msg_iov = &r->iov, .msg_iovlen = 1, .msg_control = r->cmsg.b,
				 .msg_controllen = sizeof(r->cmsg.b) };
	r->aio.done = rx_done;
	io_uring_prep_recvmsg(sqe, r->u->fd, &r->mh, 0);
	io_uring_sqe_set_data64(sqe, sl_op_tag(&r->aio, SL_OP_AIO));
	r->armed = true;
}

/* A datagram the kernel reassembled from IP fragments (IP_RECVFRAGSIZE). */
static bool fragmented(const struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c))
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVFRAGSIZE)
			return true;
	return false;
}

static void handle(struct udp_w *u, const uint8_t *p, size_t n, const struct sockaddr_in *from)
{
	struct sl_ingest_view v;
	int st = sl_ingest_parse(p, n, &v);

	count(&u->received, 1);
	if (st < 0) {
		count(&u->malformed, 1);
		return; /* not ours: no answer */
	}
	/* Never answer an answer. */
	if (v.h.type == SL_INGEST_PUT_ACK || v.h.type == SL_INGEST_LOOKUP_ACK)
		return;
	/* With keys, nothing unsigned or wrongly signed is answered (nor is a
	 * datagram of a version we cannot read the tag of). */
	if (nkeys) {
		const struct pkey *k = key_of(v.h.producer_id);
		if (st != SL_INGEST_OK || !k || !sl_ingest_verify(&v, k->key, k->len)) {
			count(&u->unauthenticated, 1);
			return;
		}
	}
	uint8_t reply = v.h.type == SL_INGEST_LOOKUP ? SL_INGEST_LOOKUP_ACK : SL_INGEST_PUT_ACK;
	if (st != SL_INGEST_OK) {
		count(&u->malformed, 1);
		answer(u, from, &v.h, reply, (uint8_t)st, 0, 0);
		return;
	}
	if (v.h.type == SL_INGEST_LOOKUP) {
		char name[SL_INGEST_NAME_MAX + 1];
		memcpy(name, v.name, v.h.name_len);
		name[v.h.name_len] = '\0';
		const struct sl_stream_meta *s = sl_stream_find(sl_catalog_get(), sl_cfg->region, name);
		if (!s || s->status == SL_STREAM_DELETING) {
			count(&u->unknown_stream, 1);
			answer(u, from, &v.h, reply, SL_INGEST_UNKNOWN_STREAM, 0, 0);
		} else {
			answer(u, from, &v.h, reply, SL_INGEST_OK, s->hdr.uid, (uint16_t)s->nopen);
		}
		return;
	}
	put(u, &v, p, n, from);
}

static void rx_done(struct sl_worker *w, struct sl_aio *aio, int res)
{
	struct rx *r = (struct rx *)aio;

	(void)w;
	r->armed = false;
	if (res == -ECANCELED || r->u->fd < 0)
		return; /* shutting down */
	if (res >= 0) {
		if (r->mh.msg_flags & MSG_TRUNC)
			count(&r->u->malformed, 1); /* larger than any datagram may be */
		else if (fragmented(&r->mh))
			count(&r->u->fragments, 1); /* refused: docs/ingest-protocol.md */
		else
			handle(r->u, r->buf, (size_t)res, &r->from);
	}
	rx_arm(r);
}

/* ---- Hooks ---------------------------------------------------------------------- */

static int key_cmp(const void *a, const void *b)
{
	const struct pkey *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* --ingest-keys: `PRODUCER_ID SECRET_HEX` per line, # comments. */
static int keys_load(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned lineno = 0;

	if (!f) {
		fprintf(stderr, "sluice: --ingest-keys %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char hex[2 * SL_INGEST_KEY_MAX + 2], extra[2];
		unsigned long long id;
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		int got = sscanf(line, "%llu %129s %1s", &id, hex, extra);
		if (got <= 0)
			continue;
		size_t hl = got >= 2 ? strlen(hex) : 0;
		if (got != 2 || hl < 2 || hl % 2 || hl > 2 * SL_INGEST_KEY_MAX ||
		    strspn(hex, "0123456789abcdefABCDEF") != hl || nkeys >= SL_INGEST_KEYS_MAX) {
			fprintf(stderr, "sluice: --ingest-keys %s:%u: want `PRODUCER_ID SECRET_HEX` "
				"(1 to %d bytes of secret, at most %d producers)\n", path, lineno,
				SL_INGEST_KEY_MAX, SL_INGEST_KEYS_MAX);
			fclose(f);
			return -1;
		}
		struct pkey *nk = realloc(keys, (nkeys + 1) * sizeof(*keys));
		if (!nk) {
			fclose(f);
			return -1;
		}
		keys = nk;
		struct pkey *k = &keys[nkeys++];
		k->id = id;
		k->len = (uint8_t)(hl / 2);
		for (size_t i = 0; i < k->len; i++) {
			unsigned b;
			sscanf(hex + 2 * i, "%2x", &b);
			k->key[i] = (uint8_t)b;
		}
	}
	fclose(f);
	qsort(keys, nkeys, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < nkeys; i++) {
		if (keys[i].id == keys[i - 1].id) {
			fprintf(stderr, "sluice: --ingest-keys %s: producer %llu has two keys\n", path,
				(unsigned long long)keys[i].id);
			return -1;
		}
	}
	if (nkeys == 0) {
		fprintf(stderr, "sluice: --ingest-keys %s names no producer\n", path);
		return -1;
	}
	return 0;
}

int sl_kin_udp_setup(struct sl_config *cfg, bool given)
{
	if (cfg->ingest_keys[0] && keys_load(cfg->ingest_keys) < 0)
		return -EINVAL;

	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(cfg->ingest_port) };
	int fd;

	if (!cfg->ingest_port)
		return 0;
	if (inet_pton(AF_INET, cfg->listen_host, &sa.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -EINVAL;
	/* Without SO_REUSEPORT: a port another process shares out fails
	 * here, so that its datagrams are never split between two servers. */
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	close(fd);
	if (rc == -EADDRINUSE && !given) {
		fprintf(stderr, "sluice: UDP port %u is in use: UDP ingest is off (--ingest-port "
			"picks another)\n", cfg->ingest_port);
		cfg->ingest_port = 0;
		return 0;
	}
	return rc;
}

void sl_kin_udp_start(struct sl_worker *w)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(sl_cfg->ingest_port) };
	int one = 1;

	if (!sl_cfg->ingest_port)
		return;
	struct udp_w *u = calloc(1, sizeof(*u));
	if (!u || !(u->win = sl_iwin_new(SL_INGEST_PRODUCERS_MAX, SL_INGEST_WINDOW_BYTES))) {
		sl_error("udp ingest: out of memory");
		free(u);
		return;
	}
	u->w = w;
	u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0 || inet_pton(AF_INET, sl_cfg->listen_host, &sa.sin_addr) != 1 ||
	    setsockopt(u->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    setsockopt(u->fd, IPPROTO_IP, IP_RECVFRAGSIZE, &one, sizeof(one)) < 0 ||
	    bind(u->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		sl_error("udp ingest on port %u: %s", sl_cfg->ingest_port, strerror(errno));
		if (u->fd >= 0)
			close(u->fd);
		sl_iwin_free(u->win);
		free(u);
		return;
	}
	int rcvbuf = SL_INGEST_SOCKET_BUFFER;
	setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	atomic_store(&udp[sl_worker_index(w)], u);
	for (unsigned i = 0; i < SL_INGEST_RX_SLOTS; i++) {
		struct rx *r = aligned_alloc(64, (sizeof(struct rx) + 63) & ~(size_t)63);
		if (!r)
			break;
		memset(r, 0, offsetof(struct rx, buf));
		r->u = u;
		u->rx[i] = r;
		rx_arm(r);
	}
}

void sl_kin_udp_stop(struct sl_worker *w)
{
	struct udp_w *u = atomic_load(&udp[sl_worker_index(w)]);

	/* Receives still armed end with the ring; stores in flight still
	 * answer (their sends fail on the closed socket, as a lost datagram
	 * would). */
	if (u && u->fd >= 0) {
		close(u->fd);
		u->fd = -1;
	}
}

void sl_kin_udp_tick(struct sl_worker *w)
{
	struct udp_w *u = atomic_load(&udp[sl_worker_index(w)]);

	for (unsigned i = 0; u && u->fd >= 0 && i < SL_INGEST_RX_SLOTS; i++)
		if (u->rx[i] && !u->rx[i]->armed)
			rx_arm(u->rx[i]);
}

long sl_kin_udp_metrics(char *buf, size_t cap)
{
	static const char *names[] = { "received", "malformed", "fragments", "unknown_stream",
				       "overloaded", "duplicates", "stale", "acknowledged",
				       "records", "unauthenticated" };
	enum { N = sizeof(names) / sizeof(names[0]) };
	uint64_t sum[N] = { 0 };
	size_t off = 0;

	for (unsigned i = 0; i < SL_WORKERS_MAX; i++) {
		struct udp_w *u = atomic_load_explicit(&udp[i], memory_order_acquire);
		if (!u)
			continue;
		_Atomic uint64_t *c[N] = { &u->received, &u->malformed, &u->fragments,
					   &u->unknown_stream, &u->overloaded, &u->duplicates,
					   &u->stale, &u->acked, &u->records, &u->unauthenticated };
		for (int k = 0; k < N; k++)
			sum[k] += atomic_load_explicit(c[k], memory_order_relaxed);
	}
	for (int k = 0; k < N; k++) {
		int n = snprintf(buf + off, cap - off, "sluice_udp_%s_total %llu\n", names[k],
				 (unsigned long long)sum[k]);
		if (n < 0 || (size_t)n >= cap - off)
			return -1;
		off += (size_t)n;
	}
	return (long)off;
}
