/* server.c - connections, HTTP/1.1 framing, HTTP/2 through nghttp2. */
#include "dataplane/net/server.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>
#include <nghttp2/nghttp2.h>

#include "dataplane/net/http1.h"
#include "dataplane/runtime/config.h"
#include "dataplane/limits.h"
#include "dataplane/runtime/log.h"
#include "dataplane/runtime/metrics.h"

#define SL_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define SL_H2_PREFACE_LEN 24

enum sl_wire { SL_WIRE_UNKNOWN = 0, SL_WIRE_H1, SL_WIRE_H2 };

struct sl_obuf {
	uint8_t *buf;
	size_t len;
	size_t cap;
};

struct sl_conn {
	struct sl_worker *w;
	int fd;
	uint8_t wire; /* enum sl_wire: chosen by the first bytes */
	bool recv_armed;
	bool send_armed;
	bool closing;
	bool in_process; /* inside h1_process: finishing must not recurse */
	bool retry_queued; /* `retry` is on the worker's deferred queue */
	bool draining;     /* read nothing new; close once every reply is out */
	struct sl_msg retry;
	uint32_t reqs; /* requests handed to handlers and not yet finished */
	uint8_t *rbuf;
	size_t rstart; /* HTTP/1: first byte of the oldest unanswered request */
	size_t rparse; /* HTTP/1: where the next request head starts */
	size_t rlen;
	size_t rcap;
	size_t recv_off; /* where the armed recv writes; rlen may shrink meanwhile */
	struct sl_obuf out[2]; /* out[cur] collects; out[!cur] is being sent */
	uint32_t cur;
	size_t sent; /* bytes of out[!cur] already sent */
	/* HTTP/1.1 */
	struct sl_req *h1_head; /* dispatched requests, in arrival order */
	struct sl_req *h1_tail;
	uint32_t h1_pending;
	bool h1_stop; /* a request asked to close, or failed: parse no further */
	int h1_fail_status; /* a parse failure waiting for earlier replies */
	const char *h1_fail_text;
	bool h1_continue_sent; /* 100 Continue sent for the request being read */
	bool ch_active;        /* decoding the chunked body of the head at rparse */
	struct sl_http_chunked ch;
	size_t ch_decoded;     /* body bytes decoded so far, from the body's start */
	/* HTTP/2 */
	nghttp2_session *h2;
	struct sl_req *replied; /* replies nghttp2 may still be reading */
	struct sl_h2s *streams; /* stream states nghttp2 has not closed */
	struct sl_conn *prev;
	struct sl_conn *next;
};

/* Per-worker HTTP state. */
struct sl_http_worker {
	struct sl_conn *conns;
	uint32_t nconns;
	uint64_t req_seq;
	struct sl_req *pool; /* idle requests, buffers kept */
	uint32_t npool;
};

/* HTTP/2 stream state while its request arrives. */
struct sl_h2s {
	struct sl_req *req; /* set once dispatched */
	uint8_t *body;
	size_t len;
	size_t cap;
	uint8_t method;
	bool too_big;
	bool head_too_big;  /* more than SL_HTTP_HEADERS_MAX headers or SL_HTTP_HEAD_MAX bytes */
	/* The request headers: names and values back to back in hbuf, and
	 * where each one is (offsets: hbuf may move while it grows). */
	uint8_t *hbuf;
	size_t hlen;
	size_t hcap;
	uint32_t nh;
	struct { uint32_t name, name_len, value, value_len; } hoff[SL_HTTP_HEADERS_MAX];
	uint32_t path_off;
	uint32_t path_len;
	size_t out_off; /* reply bytes handed to nghttp2 */
	bool replied;
	struct sl_h2s *prev; /* the connection's open streams */
	struct sl_h2s *next;
};

static void conn_pump(struct sl_conn *c);
static void h1_process(struct sl_conn *c);
static void req_release(struct sl_req *r);
static void h2s_free(struct sl_conn *c, struct sl_h2s *st);
static void h1_fail_now(struct sl_conn *c, int status, const char *text);

static struct sl_http_worker *hw_of(struct sl_worker *w)
{
	void **slot = sl_worker_http(w);

	if (!*slot)
		*slot = calloc(1, sizeof(struct sl_http_worker));
	return *slot;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- Output ------------------------------------------------------------ */

static int obuf_append(struct sl_obuf *o, const void *p, size_t n)
{
	if (o->len + n > o->cap) {
		size_t cap = o->cap ? o->cap : SL_OBUF_INIT;
		while (cap < o->len + n)
			cap *= 2;
		uint8_t *q = realloc(o->buf, cap);
		if (!q)
			return -ENOMEM;
		o->buf = q;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

static void conn_retry(struct sl_worker *w, struct sl_msg *msg)
{
	struct sl_conn *c = msg->arg;

	assert(c->w == w);
	c->retry_queued = false;
	conn_pump(c);
}

/* No submission entry was free: pump the connection again from the next
 * loop iteration (at most one retry queued per connection). */
static void conn_retry_later(struct sl_conn *c)
{
	if (c->retry_queued)
		return;
	c->retry_queued = true;
	c->retry.type = SL_MSG_CALL;
	c->retry.fn = conn_retry;
	c->retry.arg = c;
	sl_worker_defer(c->w, &c->retry);
}

static void arm_send(struct sl_conn *c)
{
	struct sl_obuf *o = &c->out[!c->cur];

	if (c->send_armed || c->fd < 0)
		return;
	if (o->len == 0) {
		if (c->out[c->cur].len == 0)
			return;
		c->cur = !c->cur; /* swap: the collected bytes go out now */
		c->sent = 0;
		o = &c->out[!c->cur];
	}
	struct io_uring_sqe *sqe = sl_worker_sqe(c->w);
	if (!sqe) {
		conn_retry_later(c);
		return;
	}
	io_uring_prep_send(sqe, c->fd, o->buf + c->sent, o->len - c->sent, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, sl_op_tag(c, SL_OP_SEND));
	c->send_armed = true;
}

static void arm_recv(struct sl_conn *c)
{
	if (c->recv_armed || c->closing || c->draining || c->fd < 0)
		return;
	if (c->rlen == c->rcap) {
		/* Grow only while no request points into the buffer. */
		if (c->h1_pending || c->rcap >= SL_HTTP_HEAD_MAX + SL_HTTP_BODY_MAX + 4096)
			return;
		size_t cap = c->rcap ? c->rcap * 2 : SL_CONN_RBUF_INIT;
		uint8_t *p = realloc(c->rbuf, cap);
		if (!p)
			return;
		c->rbuf = p;
		c->rcap = cap;
	}
	struct io_uring_sqe *sqe = sl_worker_sqe(c->w);
	if (!sqe) {
		conn_retry_later(c);
		return;
	}
	io_uring_prep_recv(sqe, c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
	c->recv_off = c->rlen;
	io_uring_sqe_set_data64(sqe, sl_op_tag(c, SL_OP_RECV));
	c->recv_armed = true;
}

static void replied_unlink(struct sl_conn *c, struct sl_req *r)
{
	if (r->replied_prev)
		r->replied_prev->replied_next = r->replied_next;
	else
		c->replied = r->replied_next;
	if (r->replied_next)
		r->replied_next->replied_prev = r->replied_prev;
	r->replied_next = r->replied_prev = NULL;
}

static void conn_free_if_done(struct sl_conn *c)
{
	struct sl_http_worker *hw = hw_of(c->w);

	if (!c->closing || c->recv_armed || c->send_armed || c->reqs || c->retry_queued)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->h2)
		nghttp2_session_del(c->h2); /* calls no stream-close callbacks */
	while (c->replied) {
		struct sl_req *r = c->replied;
		replied_unlink(c, r);
		req_release(r);
	}
	while (c->streams)
		h2s_free(c, c->streams);
	free(c->rbuf);
	free(c->out[0].buf);
	free(c->out[1].buf);
	if (c->prev)
		c->prev->next = c->next;
	else
		hw->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	hw->nconns--;
	sl_metric_add(&sl_metrics_of(sl_worker_index(c->w))->conns_closed, 1);
	free(c);
}

static void conn_close(struct sl_conn *c)
{
	if (!c->closing && c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR); /* completes a pending recv with 0 */
	c->closing = true;
	conn_free_if_done(c);
}

/* ---- Requests ------------------------------------------------------------- */

/* Write v as `digits` lower-case hex digits. */
static void hex_fixed(char *out, uint64_t v, int digits)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = digits - 1; i >= 0; i--, v >>= 4)
		out[i] = hex[v & 15];
}

/* A request ID shaped like AWS's (a UUID): time, worker and sequence. */
static void request_id(char out[40], uint64_t t, uint16_t worker, uint64_t seq)
{
	hex_fixed(out, t, 8);
	out[8] = '-';
	hex_fixed(out + 9, worker, 4);
	out[13] = '-';
	out[14] = '4';
	hex_fixed(out + 15, seq >> 48, 3);
	out[18] = '-';
	out[19] = '8';
	hex_fixed(out + 20, seq >> 36, 3);
	out[23] = '-';
	hex_fixed(out + 24, seq, 12);
	out[36] = '\0';
}

/* Requests come from a per-worker pool that keeps their reply and scratch
 * buffers, so a steady load allocates nothing per request. */
static struct sl_req *req_new(struct sl_conn *c)
{
	struct sl_http_worker *hw = hw_of(c->w);
	struct sl_req *r = hw->pool;

	if (r) {
		hw->pool = r->pool_next;
		hw->npool--;
		struct sl_enc out = r->out;
		uint8_t *scratch = r->scratch;
		size_t scratch_cap = r->scratch_cap;
		memset(r, 0, sizeof(*r));
		r->out = out;
		sl_enc_reset(&r->out);
		r->scratch = scratch;
		r->scratch_cap = scratch_cap;
	} else if (!(r = calloc(1, sizeof(*r)))) {
		return NULL;
	}
	r->conn = c;
	r->h2_stream = -1;
	r->status = 200;
	r->start_ns = mono_ns();
	memcpy(r->region, sl_cfg->region, sizeof(r->region));
	request_id(r->request_id, (uint64_t)r->start_ns, sl_worker_index(c->w), hw->req_seq++);
	c->reqs++;
	return r;
}

static void req_release(struct sl_req *r)
{
	struct sl_http_worker *hw = hw_of(r->conn->w);

	free(r->owned_body);
	free(r->owned_head);
	if (hw->npool < SL_REQ_POOL_MAX && r->out.cap <= SL_REQ_KEEP_BYTES &&
	    r->scratch_cap <= SL_REQ_KEEP_BYTES) {
		r->pool_next = hw->pool;
		hw->pool = r;
		hw->npool++;
		return;
	}
	sl_enc_free(&r->out);
	free(r->scratch);
	free(r);
}

const struct sl_http_header *sl_req_header(const struct sl_req *req, const char *name)
{
	return sl_http_find(req->hdrs, req->nhdrs, name);
}

bool sl_view_eq(struct sl_view v, const char *s)
{
	size_t n = strlen(s);

	return v.n == n && (n == 0 || memcmp(v.p, s, n) == 0);
}

void *sl_req_scratch(struct sl_req *req, size_t size)
{
	if (size > req->scratch_cap) {
		size_t cap = 4096;
		while (cap < size)
			cap *= 2;
		free(req->scratch);
		req->scratch = malloc(cap);
		req->scratch_cap = req->scratch ? cap : 0;
	}
	return req->scratch;
}

void sl_req_error(struct sl_req *req, int status, const char *type, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (req->out.buf || req->out.cap)
		sl_enc_reset(&req->out);
	else
		sl_enc_init(&req->out, req->fmt, 256);
	req->out.fmt = req->fmt;
	req->status = status;
	req->error_type = type;
	if (req->out.fmt == SL_ENC_XML) {
		/* Query: <ErrorResponse><Error>Type, Code, Message</Error>RequestId. */
		struct sl_enc *e = &req->out;
		sl_enc_xml_begin(e, "ErrorResponse", req->svc ? req->svc->xmlns : NULL);
		sl_enc_key(e, "Error");
		sl_enc_obj_begin(e);
		sl_enc_key(e, "Type");
		sl_enc_cstr(e, status >= 500 ? "Receiver" : "Sender");
		sl_enc_key(e, "Code");
		sl_enc_cstr(e, type);
		sl_enc_key(e, "Message");
		sl_enc_cstr(e, msg);
		sl_enc_obj_end(e);
		sl_enc_key(e, "RequestId");
		sl_enc_cstr(e, req->request_id);
		sl_enc_xml_end(e);
		return;
	}
	/* JSON 1.0/1.1, CBOR 1.1, rpc-v2-cbor and REST-JSON all carry the
	 * error's shape name in __type. */
	sl_enc_obj_begin(&req->out);
	sl_enc_key(&req->out, "__type");
	sl_enc_cstr(&req->out, type);
	sl_enc_key(&req->out, "message");
	sl_enc_cstr(&req->out, msg);
	sl_enc_obj_end(&req->out);
}

void sl_reply_begin(struct sl_req *req)
{
	struct sl_enc *e = &req->out;

	if (e->fmt != SL_ENC_XML) {
		sl_enc_obj_begin(e);
		return;
	}
	/* <OpResponse xmlns><OpResult>: the names live in the request until
	 * the reply is written. */
	const char *op = req->sop ? req->sop->name : "Unknown";
	snprintf(req->xml_names[0], sizeof(req->xml_names[0]), "%sResponse", op);
	snprintf(req->xml_names[1], sizeof(req->xml_names[1]), "%sResult", op);
	sl_enc_xml_begin(e, req->xml_names[0], req->svc ? req->svc->xmlns : NULL);
	sl_enc_key(e, req->xml_names[1]);
	sl_enc_obj_begin(e);
}

void sl_reply_end(struct sl_req *req)
{
	struct sl_enc *e = &req->out;

	if (e->fmt != SL_ENC_XML) {
		sl_enc_obj_end(e);
		return;
	}
	sl_enc_obj_end(e);
	sl_enc_key(e, "ResponseMetadata");
	sl_enc_obj_begin(e);
	sl_enc_key(e, "RequestId");
	sl_enc_cstr(e, req->request_id);
	sl_enc_obj_end(e);
	sl_enc_xml_end(e);
}

static const char *status_text(int s)
{
	switch (s) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

static const char *reply_ctype(const struct sl_req *r)
{
	if (r->content_type)
		return r->content_type;
	switch (r->proto) {
	case SL_PROTO_JSON10: return "application/x-amz-json-1.0";
	case SL_PROTO_QUERY: return "text/xml";
	case SL_PROTO_RPCV2: return "application/cbor";
	case SL_PROTO_REST_JSON: return "application/json";
	default: break;
	}
	return r->fmt == SL_ENC_CBOR ? "application/x-amz-cbor-1.1" : "application/x-amz-json-1.1";
}

/* What browsers may read of a reply, and how long a preflight holds: the
 * values AWS's front end sends. */
#define SL_CORS_EXPOSE "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2," \
	"x-amzn-ErrorMessage,Date"
#define SL_CORS_MAX_AGE "172800"

struct reply_hdr {
	const char *name;    /* as sent on HTTP/1.1 */
	const char *h2_name; /* lower case, as HTTP/2 requires */
	const char *value;
	size_t value_len;
};

static unsigned add_hdr(struct reply_hdr *h, unsigned n, const char *name, const char *h2_name,
			const char *value, size_t len)
{
	assert(n < SL_REPLY_HDRS_MAX);
	h[n] = (struct reply_hdr){ name, h2_name, value, len };
	return n + 1;
}
#define ADD(n1, n2, v) (n = add_hdr(h, n, n1, n2, v, strlen(v)))

/* The reply's headers (values point into r or clen). Returns the count. */
static unsigned reply_headers(const struct sl_req *r, struct reply_hdr *h, const char *clen)
{
	unsigned n = 0;

	bool preflight = r->cors && r->method == SL_OPTIONS;

	/* A CORS preflight answers with headers alone, as AWS does. */
	if (!preflight)
		ADD("Content-Type", "content-type", reply_ctype(r));
	ADD("Content-Length", "content-length", clen);
	ADD("x-amzn-RequestId", "x-amzn-requestid", r->request_id);
	if (r->proto == SL_PROTO_QUERY)
		ADD("x-amz-request-id", "x-amz-request-id", r->request_id);
	if (r->error_type)
		ADD("x-amzn-ErrorType", "x-amzn-errortype", r->error_type);
	if (r->error_type && r->query_error)
		ADD("x-amzn-query-error", "x-amzn-query-error", r->query_error);
	if (r->proto == SL_PROTO_RPCV2)
		ADD("smithy-protocol", "smithy-protocol", "rpc-v2-cbor");
	if (r->cors)
		ADD("Access-Control-Allow-Origin", "access-control-allow-origin", "*");
	if (r->cors && !preflight)
		ADD("Access-Control-Expose-Headers", "access-control-expose-headers", SL_CORS_EXPOSE);
	if (preflight) {
		/* The preflight is granted what it asks for. */
		const struct sl_http_header *hs = sl_req_header(r, "access-control-request-headers");
		const struct sl_http_header *m = sl_req_header(r, "access-control-request-method");
		if (hs)
			n = add_hdr(h, n, "Access-Control-Allow-Headers",
				    "access-control-allow-headers", hs->value, hs->value_len);
		if (m)
			n = add_hdr(h, n, "Access-Control-Allow-Methods",
				    "access-control-allow-methods", m->value, m->value_len);
		ADD("Access-Control-Max-Age", "access-control-max-age", SL_CORS_MAX_AGE);
	}
	return n;
}
#undef ADD

static void log_request(const struct sl_req *r)
{
	if (!sl_cfg->request_log)
		return;
	sl_info("%s %.*s %s.%.*s %d %zu %lldus", r->h2_stream >= 0 ? "h2" : "h1",
		(int)r->path.n, r->path.p, r->svc ? r->svc->name : "-", (int)r->op_name.n,
		r->op_name.p ? r->op_name.p : "", r->status, r->out.len,
		(long long)(mono_ns() - r->start_ns) / 1000);
}

static void h1_reply(struct sl_conn *c, struct sl_req *r)
{
	struct reply_hdr h[SL_REPLY_HDRS_MAX];
	char line[64], clen[24];
	struct sl_obuf *o = &c->out[c->cur];
	int rc;

	snprintf(clen, sizeof(clen), "%zu", r->out.len);
	unsigned n = reply_headers(r, h, clen);
	int ln = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", r->status, status_text(r->status));
	rc = obuf_append(o, line, (size_t)ln);
	for (unsigned i = 0; i < n && rc == 0; i++) {
		rc = obuf_append(o, h[i].name, strlen(h[i].name));
		rc = rc ?: obuf_append(o, ": ", 2);
		rc = rc ?: obuf_append(o, h[i].value, h[i].value_len);
		rc = rc ?: obuf_append(o, "\r\n", 2);
	}
	if (rc == 0 && r->h1_close)
		rc = obuf_append(o, "Connection: close\r\n", 19);
	rc = rc ?: obuf_append(o, "\r\n", 2);
	if (rc < 0 || obuf_append(o, r->out.buf, r->out.len) < 0)
		r->h1_close = true;
}

/* Send the replies that are ready, oldest first: pipelined requests run
 * concurrently but are answered in order. Without `reply` (the connection
 * is closing) finished requests are only released. */
static void h1_drain(struct sl_conn *c, bool reply)
{
	while (c->h1_head && c->h1_head->h1_done) {
		struct sl_req *r = c->h1_head;
		bool close = r->h1_close;
		c->h1_head = r->h1_next;
		if (!c->h1_head)
			c->h1_tail = NULL;
		c->h1_pending--;
		c->rstart += r->h1_bytes;
		if (reply)
			h1_reply(c, r);
		close = close || r->h1_close;
		req_release(r);
		if (reply && close) {
			/* Stop reading; close once the reply is out. */
			c->closing = true;
			shutdown(c->fd, SHUT_RD);
			reply = false;
		}
	}
	if (reply && !c->h1_head && c->h1_fail_status)
		h1_fail_now(c, c->h1_fail_status, c->h1_fail_text);
}

static ssize_t h2_read_body(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
			    uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct sl_req *r = src->ptr;
	struct sl_h2s *st = nghttp2_session_get_stream_user_data(s, sid);
	size_t off = st ? st->out_off : r->out.len;
	size_t n = r->out.len - off;

	(void)user;
	if (n > len)
		n = len;
	if (n)
		memcpy(buf, r->out.buf + off, n);
	if (st)
		st->out_off += n;
	if (off + n == r->out.len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static void h2_reply(struct sl_conn *c, struct sl_req *r)
{
	struct reply_hdr h[SL_REPLY_HDRS_MAX];
	nghttp2_nv nva[SL_REPLY_HDRS_MAX + 1];
	char status[8], clen[24];

	snprintf(status, sizeof(status), "%d", r->status);
	snprintf(clen, sizeof(clen), "%zu", r->out.len);
	unsigned n = reply_headers(r, h, clen);
	nva[0] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)status, 7, strlen(status),
			       NGHTTP2_NV_FLAG_NONE };
	for (unsigned i = 0; i < n; i++)
		nva[i + 1] = (nghttp2_nv){ (uint8_t *)h[i].h2_name, (uint8_t *)h[i].value,
					   strlen(h[i].h2_name), h[i].value_len, NGHTTP2_NV_FLAG_NONE };
	nghttp2_data_provider prd = { .source.ptr = r, .read_callback = h2_read_body };
	if (nghttp2_submit_response(c->h2, r->h2_stream, nva, n + 1, &prd) != 0)
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, r->h2_stream, NGHTTP2_INTERNAL_ERROR);
}

void sl_req_finish(struct sl_worker *w, struct sl_req *r)
{
	struct sl_conn *c = r->conn;

	assert(c->w == w);
	assert(c->reqs > 0);
	if (r->out.err)
		sl_req_error(r, 500, "InternalFailure", "out of memory");
	log_request(r);
	struct sl_metrics *m = sl_metrics_of(sl_worker_index(w));
	struct sl_op_stats *os = &m->ops[r->op];
	sl_metric_add(&os->requests[r->status >= 500 ? SL_ST_5XX : r->status >= 400 ? SL_ST_4XX :
								      SL_ST_2XX], 1);
	sl_hist_observe(&os->latency, (uint64_t)(mono_ns() - r->start_ns) / 1000);
	c->reqs--;
	if (r->h2_stream < 0) {
		r->h1_done = true;
		h1_drain(c, !c->closing);
		if (c->closing) {
			arm_send(c);
			conn_free_if_done(c);
			return;
		}
		if (!c->in_process)
			h1_process(c);
		return;
	}
	if (c->closing) {
		req_release(r);
		conn_free_if_done(c);
		return;
	} else {
		struct sl_h2s *st = nghttp2_session_get_stream_user_data(c->h2, r->h2_stream);
		if (st) {
			st->replied = true;
			r->replied_next = c->replied;
			r->replied_prev = NULL;
			if (c->replied)
				c->replied->replied_prev = r;
			c->replied = r;
			h2_reply(c, r);
			/* The body is read by nghttp2 during the pump; the request
			 * is released when the stream closes. */
			conn_pump(c);
			return;
		}
		req_release(r);
	}
	conn_pump(c);
}

/* ---- HTTP/1.1 ---------------------------------------------------------- */

static uint8_t method_of(const char *m, size_t n)
{
	if (n == 4 && memcmp(m, "POST", 4) == 0)
		return SL_POST;
	if (n == 3 && memcmp(m, "GET", 3) == 0)
		return SL_GET;
	if (n == 3 && memcmp(m, "PUT", 3) == 0)
		return SL_PUT;
	if (n == 6 && memcmp(m, "DELETE", 6) == 0)
		return SL_DELETE;
	if (n == 4 && memcmp(m, "HEAD", 4) == 0)
		return SL_HEAD;
	if (n == 7 && memcmp(m, "OPTIONS", 7) == 0)
		return SL_OPTIONS;
	if (n == 5 && memcmp(m, "PATCH", 5) == 0)
		return SL_PATCH;
	return SL_OTHER;
}

/* Set the body format from a Content-Type value. */
static void set_fmt(struct sl_req *r, const char *ct, size_t n)
{
	r->fmt = SL_ENC_JSON;
	if (n >= 10 && memmem(ct, n, "cbor", 4)) {
		r->fmt = SL_ENC_CBOR;
		r->fmt_known = true;
	} else if (n && memmem(ct, n, "json", 4)) {
		r->fmt_known = true;
	} else if (n >= 33 && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
		r->fmt_known = true; /* the router decides whether it is a query request */
	}
}

/* Content-Length: decimal digits only, at most SL_HTTP_CLEN_DIGITS_MAX of
 * them. Returns 0 and *out, or -1 (400: not a number, or too long to be
 * one we could hold, never read as a smaller value). */
static int parse_clen(const struct sl_http_header *h, uint64_t *out)
{
	uint64_t v = 0;

	if (h->value_len == 0 || h->value_len > SL_HTTP_CLEN_DIGITS_MAX)
		return -1;
	for (size_t i = 0; i < h->value_len; i++) {
		char ch = h->value[i];
		if (ch < '0' || ch > '9')
			return -1;
		v = v * 10 + (uint64_t)(ch - '0');
	}
	*out = v; /* 19 digits cannot overflow 64 bits */
	return 0;
}

static void h1_fail_now(struct sl_conn *c, int status, const char *text)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s",
			 status, status_text(status), strlen(text), text);

	obuf_append(&c->out[c->cur], buf, (size_t)n);
	arm_send(c);
	c->closing = true;
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RD);
}

/* Answer a request that cannot be parsed, then close. Requests before it in
 * the pipeline are answered first: the failure waits for them. */
static void h1_fail(struct sl_conn *c, int status, const char *text)
{
	if (c->h1_pending == 0) {
		h1_fail_now(c, status, text);
		return;
	}
	c->h1_stop = true;
	c->h1_fail_status = status;
	c->h1_fail_text = text;
}

/* Decode the chunked body of the head at rparse incrementally: only the
 * bytes that arrived since the last call are decoded, in place, right after
 * the part already decoded (decoding never grows data, so it moves left).
 * Returns 1 when complete (sets *dlen), 0 when more bytes are needed, -1
 * invalid, -413 too big. */
static int h1_chunked(struct sl_conn *c, uint8_t *start, size_t *dlen)
{
	uint8_t *raw = start + c->ch_decoded;
	size_t n = (size_t)(c->rbuf + c->rlen - raw);
	size_t got = n;

	assert(raw <= c->rbuf + c->rlen);
	c->ch_active = true;
	long rc = sl_http_decode_chunked(&c->ch, (char *)raw, &got);
	if (rc == -1)
		return -1;
	assert(got <= n);
	c->ch_decoded += got;
	/* The decoded bytes are raw[0..got); whatever follows the body (the
	 * next pipelined request, rc bytes) is right behind them. */
	c->rlen = (size_t)(raw - c->rbuf) + got + (rc >= 0 ? (size_t)rc : 0);
	if (c->ch_decoded > SL_HTTP_BODY_MAX)
		return -413;
	if (rc == -2)
		return 0;
	*dlen = c->ch_decoded;
	return 1;
}

/* Forget the chunked-decoding state: its request was dispatched or failed. */
static void h1_chunked_reset(struct sl_conn *c)
{
	memset(&c->ch, 0, sizeof(c->ch));
	c->ch_decoded = 0;
	c->ch_active = false;
}

/* The body of the head just parsed: returns 1 when complete (sets *body,
 * *body_len, *total), 0 when more bytes are needed, -1 invalid, -413 too big. */
static int h1_body(struct sl_conn *c, size_t head_len, const struct sl_http_header *hs,
		   size_t nh, const uint8_t **body, size_t *body_len, size_t *total)
{
	const struct sl_http_header *te = sl_http_find(hs, nh, "transfer-encoding");
	const struct sl_http_header *cl = sl_http_find(hs, nh, "content-length");
	uint8_t *start = c->rbuf + c->rparse + head_len;
	size_t avail = c->rlen - c->rparse - head_len;
	uint64_t len = 0;

	if (te) {
		if (te->value_len != 7 || strncasecmp(te->value, "chunked", 7) != 0 || cl)
			return -1; /* RFC 9112 6.1: chunked only, and never with a length */
		size_t dlen;
		int rc = h1_chunked(c, start, &dlen);
		if (rc != 1)
			return rc;
		*body = start;
		*body_len = dlen;
		*total = head_len + dlen;
		return 1;
	}
	if (cl && parse_clen(cl, &len) < 0)
		return -1;
	if (len > SL_HTTP_BODY_MAX)
		return -413;
	if (avail < len)
		return 0;
	*body = start;
	*body_len = (size_t)len;
	*total = head_len + (size_t)len;
	return 1;
}

/* Split a request target into path and query views. */
static void split_target(struct sl_req *r, const char *t, size_t n)
{
	const char *q = memchr(t, '?', n);

	r->path = (struct sl_view){ t, q ? (size_t)(q - t) : n };
	r->query = q ? (struct sl_view){ q + 1, n - (size_t)(q - t) - 1 } : (struct sl_view){ t + n, 0 };
}

/* Fill what the router reads from the headers (views into hdrs). */
static void req_from_headers(struct sl_req *r)
{
	const struct sl_http_header *h = sl_req_header(r, "content-type");

	set_fmt(r, h ? h->value : "", h ? h->value_len : 0);
	h = sl_req_header(r, "authorization");
	if (h)
		sl_sigv4_scope(h->value, h->value_len, r->region, sizeof(r->region), r->service,
			       sizeof(r->service));
	r->cors = sl_req_header(r, "origin") != NULL;
}

static void h1_fill(struct sl_req *r, const struct sl_http_req *hr,
		    const struct sl_http_header *hs, size_t nh)
{
	assert(nh <= SL_HTTP_HEADERS_MAX);
	r->method = method_of(hr->method, hr->method_len);
	split_target(r, hr->path, hr->path_len);
	/* The views stay valid: the read buffer is neither moved nor grown
	 * while a request points into it. */
	memcpy(r->hdr_store, hs, nh * sizeof(*hs));
	r->hdrs = r->hdr_store;
	r->nhdrs = (uint32_t)nh;
	req_from_headers(r);
}

/* Queue one complete request behind those in flight and hand it to the
 * API. Returns 0, or -1 when no request could be allocated (failed). */
static int h1_dispatch(struct sl_conn *c, const struct sl_http_req *hr,
		       const struct sl_http_header *hs, size_t nh, const uint8_t *body,
		       size_t blen, size_t total)
{
	struct sl_req *r = req_new(c);

	if (!r) {
		h1_fail(c, 503, "out of memory\n");
		return -1;
	}
	h1_fill(r, hr, hs, nh);
	const struct sl_http_header *conn = sl_http_find(hs, nh, "connection");
	r->h1_close = hr->minor_version == 0 ||
		      (conn && conn->value_len == 5 && strncasecmp(conn->value, "close", 5) == 0);
	if (hr->minor_version == 0 && conn && conn->value_len == 10 &&
	    strncasecmp(conn->value, "keep-alive", 10) == 0)
		r->h1_close = false;
	r->body = body;
	r->body_len = blen;
	r->h1_bytes = total;
	if (c->h1_tail)
		c->h1_tail->h1_next = r;
	else
		c->h1_head = r;
	c->h1_tail = r;
	c->h1_pending++;
	c->rparse += total;
	c->h1_stop = r->h1_close;
	sl_router_handle(c->w, r);
	return 0;
}

/* Parse and dispatch buffered requests in order, up to SL_H1_PIPELINE_MAX
 * at once; their replies go out in the same order (h1_drain). */
static void h1_process(struct sl_conn *c)
{
	c->in_process = true;
	/* Bounded by the buffer: every round consumes at least one byte. No
	 * other cap, or requests already buffered would wait for new bytes. */
	for (size_t i = 0; i <= c->rlen && c->h1_pending < SL_H1_PIPELINE_MAX && !c->h1_stop &&
			     !c->closing && !c->draining; i++) {
		struct sl_http_header hs[SL_HTTP_HEADERS_MAX];
		struct sl_http_req hr;
		size_t nh = SL_HTTP_HEADERS_MAX;
		size_t avail = c->rlen - c->rparse;

		if (avail == 0)
			break;
		int hl = sl_http_parse_request((const char *)c->rbuf + c->rparse, avail, &hr, hs, &nh);
		if (hl == SL_HTTP_INCOMPLETE) {
			if (avail > SL_HTTP_HEAD_MAX)
				h1_fail(c, 431, "request head too large\n");
			break;
		}
		if (hl == SL_HTTP_TOO_MANY) {
			h1_fail(c, 431, "too many request headers\n");
			break;
		}
		if (hl < 0) {
			h1_fail(c, 400, "malformed HTTP request\n");
			break;
		}
		const uint8_t *body;
		size_t blen, total;
		int b = h1_body(c, (size_t)hl, hs, nh, &body, &blen, &total);
		if (b == 0) {
			const struct sl_http_header *ex = sl_http_find(hs, nh, "expect");
			if (ex && ex->value_len == 12 && strncasecmp(ex->value, "100-continue", 12) == 0 &&
			    !c->h1_continue_sent) {
				static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
				obuf_append(&c->out[c->cur], cont, sizeof(cont) - 1);
				c->h1_continue_sent = true;
			}
			break;
		}
		c->h1_continue_sent = false;
		h1_chunked_reset(c);
		if (b < 0) {
			h1_fail(c, b == -413 ? 413 : 400, b == -413 ? "body too large\n" : "bad body\n");
			break;
		}
		if (h1_dispatch(c, &hr, hs, nh, body, blen, total) < 0)
			break;
	}
	/* With nothing in flight, move the unread tail to the front so the
	 * buffer never fills with answered requests. */
	if (!c->h1_pending && c->rstart > 0) {
		memmove(c->rbuf, c->rbuf + c->rstart, c->rlen - c->rstart);
		c->rlen -= c->rstart;
		c->rparse -= c->rstart;
		c->rstart = 0;
	}
	c->in_process = false;
	conn_pump(c);
}

/* ---- HTTP/2 ------------------------------------------------------------ */

static void h2s_free(struct sl_conn *c, struct sl_h2s *st)
{
	if (st->prev)
		st->prev->next = st->next;
	else
		c->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	free(st->body);
	free(st->hbuf);
	free(st);
}

static int h2_on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct sl_conn *c = user;
	struct sl_h2s *st = calloc(1, sizeof(*st));
	if (!st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	st->next = c->streams;
	if (c->streams)
		c->streams->prev = st;
	c->streams = st;
	nghttp2_session_set_stream_user_data(s, f->hd.stream_id, st);
	return 0;
}

/* Keep bytes p[0..n) in the stream's header block; returns the offset,
 * or -1 past SL_HTTP_HEAD_MAX or out of memory. */
static long h2_keep(struct sl_h2s *st, const uint8_t *p, size_t n)
{
	if (st->hlen + n > SL_HTTP_HEAD_MAX)
		return -1;
	if (st->hlen + n > st->hcap) {
		size_t cap = st->hcap ? st->hcap : 1024;
		while (cap < st->hlen + n)
			cap *= 2;
		uint8_t *q = realloc(st->hbuf, cap);
		if (!q)
			return -1;
		st->hbuf = q;
		st->hcap = cap;
	}
	memcpy(st->hbuf + st->hlen, p, n);
	st->hlen += n;
	return (long)(st->hlen - n);
}

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
			size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
	struct sl_h2s *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	(void)flags;
	(void)user;
	if (!st || f->hd.type != NGHTTP2_HEADERS || st->head_too_big)
		return 0;
	/* nghttp2 hands header names lower-cased and validated. */
	if (nlen == 7 && memcmp(name, ":method", 7) == 0) {
		st->method = method_of((const char *)value, vlen);
		return 0;
	}
	bool is_path = nlen == 5 && memcmp(name, ":path", 5) == 0;
	if (name[0] == ':' && !is_path)
		return 0; /* :scheme and :authority: nothing reads them */
	long no = h2_keep(st, name, nlen);
	long vo = no >= 0 ? h2_keep(st, value, vlen) : -1;
	if (vo < 0 || (!is_path && st->nh == SL_HTTP_HEADERS_MAX)) {
		st->head_too_big = true; /* answered with 431 once the stream ends */
		return 0;
	}
	if (is_path) {
		st->path_off = (uint32_t)vo;
		st->path_len = (uint32_t)vlen;
		return 0;
	}
	st->hoff[st->nh].name = (uint32_t)no;
	st->hoff[st->nh].name_len = (uint32_t)nlen;
	st->hoff[st->nh].value = (uint32_t)vo;
	st->hoff[st->nh].value_len = (uint32_t)vlen;
	st->nh++;
	return 0;
}

static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
		      size_t len, void *user)
{
	struct sl_h2s *st = nghttp2_session_get_stream_user_data(s, sid);

	(void)flags;
	(void)user;
	if (!st || st->too_big)
		return 0;
	if (st->len + len > SL_HTTP_BODY_MAX) {
		st->too_big = true;
		return 0;
	}
	if (st->len + len > st->cap) {
		size_t cap = st->cap ? st->cap : 16384;
		while (cap < st->len + len)
			cap *= 2;
		uint8_t *p = realloc(st->body, cap);
		if (!p) {
			st->too_big = true;
			return 0;
		}
		st->body = p;
		st->cap = cap;
	}
	memcpy(st->body + st->len, data, len);
	st->len += len;
	return 0;
}

/* Hand the stream's header block to the request as views. */
static void h2_fill(struct sl_req *r, struct sl_h2s *st)
{
	const char *base = (const char *)st->hbuf;

	assert(st->nh <= SL_HTTP_HEADERS_MAX);
	r->method = st->method;
	for (uint32_t i = 0; i < st->nh; i++) {
		r->hdr_store[i] = (struct sl_http_header){ base + st->hoff[i].name, st->hoff[i].name_len,
							   base + st->hoff[i].value,
							   st->hoff[i].value_len };
	}
	r->hdrs = r->hdr_store;
	r->nhdrs = st->nh;
	split_target(r, base ? base + st->path_off : "", st->path_len);
	r->owned_head = st->hbuf;
	st->hbuf = NULL;
	req_from_headers(r);
}

static void h2_dispatch(struct sl_conn *c, int32_t sid, struct sl_h2s *st)
{
	struct sl_req *r = req_new(c);

	if (!r) {
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, sid, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	r->h2_stream = sid;
	h2_fill(r, st);
	r->body = st->body;
	r->body_len = st->len;
	r->owned_body = st->body;
	st->body = NULL;
	st->req = r;
	if (st->head_too_big) {
		sl_req_error(r, 431, "SerializationException",
			     "request headers over %d or %d bytes", SL_HTTP_HEADERS_MAX,
			     SL_HTTP_HEAD_MAX);
		sl_req_finish(c->w, r);
		return;
	}
	if (st->too_big) {
		sl_req_error(r, 413, "SerializationException", "request body over %d bytes",
			     SL_HTTP_BODY_MAX);
		sl_req_finish(c->w, r);
		return;
	}
	sl_router_handle(c->w, r);
}

static int h2_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	struct sl_conn *c = user;

	if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
	    !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	struct sl_h2s *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (st && !st->req)
		h2_dispatch(c, f->hd.stream_id, st);
	return 0;
}

/* Stream ownership: before dispatch the stream state owns the body; the
 * request owns it from dispatch on. A request still with its handler when
 * its stream closes is released by sl_req_finish() (it finds no stream); a
 * replied request is released here, once nghttp2 has sent its body. */
static int h2_on_close(nghttp2_session *s, int32_t sid, uint32_t code, void *user)
{
	struct sl_conn *c = user;
	struct sl_h2s *st = nghttp2_session_get_stream_user_data(s, sid);

	(void)code;
	if (!st)
		return 0;
	nghttp2_session_set_stream_user_data(s, sid, NULL);
	if (st->req && st->replied) {
		replied_unlink(c, st->req);
		req_release(st->req);
	}
	h2s_free(c, st);
	return 0;
}

static int h2_start(struct sl_conn *c)
{
	nghttp2_session_callbacks *cb;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, SL_H2_STREAMS_MAX },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, SL_H2_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, SL_HTTP_HEAD_MAX },
	};

	if (nghttp2_session_callbacks_new(&cb) != 0)
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, h2_on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, h2_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_on_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_on_close);
	int rc = nghttp2_session_server_new(&c->h2, cb, c);
	nghttp2_session_callbacks_del(cb);
	if (rc != 0)
		return -ENOMEM;
	nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
	nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, SL_H2_CONN_WINDOW);
	c->wire = SL_WIRE_H2;
	return 0;
}

/* Move nghttp2's pending frames into the output buffer, then make sure a
 * send and a receive are armed as the connection's state asks. */
static void conn_pump(struct sl_conn *c)
{
	if (c->h2 && !c->closing) {
		for (unsigned i = 0; i < SL_H2_SEND_ROUNDS; i++) {
			const uint8_t *data;
			ssize_t n = nghttp2_session_mem_send(c->h2, &data);
			if (n < 0) {
				conn_close(c);
				return;
			}
			if (n == 0)
				break;
			if (obuf_append(&c->out[c->cur], data, (size_t)n) < 0) {
				conn_close(c);
				return;
			}
		}
		if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) &&
		    c->out[0].len == 0 && c->out[1].len == 0) {
			conn_close(c);
			return;
		}
	}
	/* Draining: once every request has its reply queued, stop reading for
	 * good and close when the output is out. */
	if (c->draining && !c->closing && c->reqs == 0 &&
	    (!c->h2 || !nghttp2_session_want_write(c->h2))) {
		c->closing = true;
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RD);
	}
	arm_send(c);
	arm_recv(c);
	conn_free_if_done(c);
}

/* Stop taking requests on c: those in flight are answered, then it closes. */
static void conn_drain(struct sl_conn *c)
{
	if (c->draining || c->closing)
		return;
	c->draining = true;
	if (c->h2)
		nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
				      nghttp2_session_get_last_proc_stream_id(c->h2), NGHTTP2_NO_ERROR,
				      NULL, 0);
	conn_pump(c);
}

static void on_recv(struct sl_conn *c, int res)
{
	c->recv_armed = false;
	if (res == 0 && !c->closing &&
	    (c->reqs > 0 || c->send_armed || c->out[0].len || c->out[1].len)) {
		/* The client finished sending (a half close): its requests in
		 * flight still get their replies. */
		conn_drain(c);
		return;
	}
	if (res <= 0 || c->closing) {
		conn_close(c);
		return;
	}
	if (c->draining) {
		conn_pump(c); /* what arrives now is never read */
		return;
	}
	/* Consumed bytes may have been compacted away since the recv was armed:
	 * move what arrived down to the end of the live data. */
	if (c->recv_off != c->rlen)
		memmove(c->rbuf + c->rlen, c->rbuf + c->recv_off, (size_t)res);
	c->rlen += (size_t)res;
	if (c->wire == SL_WIRE_UNKNOWN) {
		size_t n = c->rlen < SL_H2_PREFACE_LEN ? c->rlen : SL_H2_PREFACE_LEN;
		if (memcmp(c->rbuf, SL_H2_PREFACE, n) != 0)
			c->wire = SL_WIRE_H1;
		else if (n < SL_H2_PREFACE_LEN) {
			arm_recv(c);
			return;
		} else if (h2_start(c) < 0) {
			conn_close(c);
			return;
		}
	}
	if (c->wire == SL_WIRE_H1) {
		h1_process(c);
		return;
	}
	ssize_t used = nghttp2_session_mem_recv(c->h2, c->rbuf, c->rlen);
	c->rlen = 0;
	if (used < 0) {
		conn_close(c);
		return;
	}
	conn_pump(c);
}

static void on_send(struct sl_conn *c, int res)
{
	struct sl_obuf *o = &c->out[!c->cur];

	c->send_armed = false;
	if (res < 0) {
		o->len = 0;
		c->out[c->cur].len = 0;
		conn_close(c);
		return;
	}
	c->sent += (size_t)res;
	if (c->sent >= o->len) {
		o->len = 0;
		c->sent = 0;
	}
	if (c->closing) {
		arm_send(c);
		conn_free_if_done(c);
		return;
	}
	conn_pump(c);
}

static void http_accepted(struct sl_worker *w, int fd)
{
	struct sl_http_worker *hw = hw_of(w);
	int one = 1;

	if (!hw || hw->nconns >= SL_CONNS_PER_WORKER_MAX) {
		close(fd);
		return;
	}
	struct sl_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sl_metric_add(&sl_metrics_of(sl_worker_index(w))->conns_opened, 1);
	c->w = w;
	c->fd = fd;
	c->next = hw->conns;
	if (hw->conns)
		hw->conns->prev = c;
	hw->conns = c;
	hw->nconns++;
	arm_recv(c);
}

static void http_io(struct sl_worker *w, void *obj, enum sl_op_kind kind, int res, uint32_t flags)
{
	struct sl_conn *c = obj;

	(void)flags;
	assert(c->w == w);
	if (kind == SL_OP_RECV)
		on_recv(c, res);
	else if (kind == SL_OP_SEND)
		on_send(c, res);
}

void sl_http_stop(struct sl_worker *w)
{
	struct sl_http_worker *hw = hw_of(w);

	for (struct sl_conn *c = hw->conns, *next; c; c = next) {
		next = c->next;
		conn_drain(c);
	}
}

bool sl_http_busy(struct sl_worker *w)
{
	return hw_of(w)->nconns > 0;
}

void sl_http_install(void)
{
	sl_hooks.accepted = http_accepted;
	sl_hooks.io = http_io;
	sl_hooks.busy = sl_http_busy;
}
