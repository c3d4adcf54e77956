/* server.h - HTTP/1.1 and HTTP/2 (cleartext, prior knowledge) on one port.
 *
 * Each worker serves the connections it accepted. A connection's first bytes
 * decide its protocol: the HTTP/2 preface selects nghttp2, anything else is
 * HTTP/1.1 with keep-alive and pipelining (requests are answered in order,
 * one at a time). Every complete request becomes a struct sl_req handed to
 * sl_api_handle(); the handler answers, now or later, with sl_req_finish()
 * on the same worker.
 */
#ifndef SL_HTTP_SERVER_H
#define SL_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/codec/enc.h"
#include "dataplane/limits.h"
#include "dataplane/net/http1.h"
#include "dataplane/net/service.h"
#include "dataplane/runtime/worker.h"

struct sl_conn;
struct sl_doc_tok;
struct sl_service;
struct sl_op;

/* A view of part of the request: valid until the request is released. */
struct sl_view {
	const char *p;
	size_t n;
};

struct sl_req {
	struct sl_conn *conn;
	int32_t h2_stream; /* HTTP/2 stream id, or -1 for HTTP/1.1 */
	uint8_t method;    /* enum sl_req_method */
	uint8_t proto;     /* enum sl_proto: set by the router, decides the reply's form */
	uint8_t fmt;       /* enum sl_enc_fmt of the body and of the reply */
	bool fmt_known;    /* a Content-Type this server understands was sent */
	uint16_t op;       /* metrics series (sl_metric_op), 0: other */
	const struct sl_service *svc; /* set by the router */
	const struct sl_op *sop;
	/* Views into the request as received, never truncated. */
	struct sl_view path;   /* request target up to '?' */
	struct sl_view query;  /* after '?', empty when none */
	struct sl_view op_name; /* the operation as the client named it */
	struct sl_view labels[SL_REST_LABELS_MAX]; /* REST-JSON {Label}s, in template order */
	uint8_t nlabels;
	uint32_t nhdrs;
	const struct sl_http_header *hdrs;
	char region[32];  /* from the SigV4 scope, else the configured region */
	char service[32]; /* signing name from the SigV4 scope, else empty */
	const uint8_t *body;
	size_t body_len;
	/* The body parsed into these tokens (sl_fields_parse), or NULL. */
	const struct sl_doc_tok *doc;
	int doc_n;
	int64_t start_ns;
	/* The reply. */
	int status;
	const char *content_type; /* NULL: from proto and fmt */
	const char *error_type;   /* sent as x-amzn-ErrorType when set */
	/* awsQueryCompatible services (SQS over JSON): "Code;Sender", sent as
	 * x-amzn-query-error with an error. */
	const char *query_error;
	bool cors;                /* the request carried Origin: add CORS headers */
	struct sl_enc out;
	/* Handler-owned (its state lives in sl_req_scratch()). */
	struct sl_msg msg; /* for the handler's cross-thread call */
	char request_id[40];
	char xml_names[2][80]; /* query replies: <OpResponse>, <OpResult> */
	/* Server-owned. */
	uint8_t *owned_body;
	uint8_t *owned_head;    /* HTTP/2: the header bytes hdrs points into */
	struct sl_http_header hdr_store[SL_HTTP_HEADERS_MAX];
	struct sl_req *replied_prev;
	struct sl_req *replied_next;
	struct sl_req *h1_next; /* HTTP/1.1 pipeline order */
	size_t h1_bytes;        /* head + body bytes in the read buffer */
	bool h1_done;
	bool h1_close;          /* close the connection after this reply */
	uint8_t *scratch; /* sl_req_scratch(), kept across pooled reuse */
	size_t scratch_cap;
	struct sl_req *pool_next;
};

/* The request header `name` (case-insensitive), or NULL. */
const struct sl_http_header *sl_req_header(const struct sl_req *req, const char *name);
/* True when view v holds exactly the NUL-terminated s. */
bool sl_view_eq(struct sl_view v, const char *s);

/* Memory for the handler that lives until the request is released: at
 * least `size` bytes, not zeroed, reused from earlier requests. Calling it
 * again replaces the earlier block. NULL when out of memory. */
void *sl_req_scratch(struct sl_req *req, size_t size);

/* Install the accept and io hooks into sl_hooks. */
void sl_http_install(void);
/* Shutdown, on the worker, after the services' stop hooks: every
 * connection stops taking requests, answers those in flight, then closes
 * (HTTP/2 sends GOAWAY). sl_http_busy() is true until all have closed. */
void sl_http_stop(struct sl_worker *w);
bool sl_http_busy(struct sl_worker *w);

/* Send req's reply and release it. Must run on the connection's worker. */
void sl_req_finish(struct sl_worker *w, struct sl_req *req);

/* Replace the reply with an AWS error in the form of the request's
 * protocol: {"__type", "message"} in JSON or CBOR (rpc-v2-cbor too), or the
 * query protocol's <ErrorResponse>, with HTTP status `status`. */
void sl_req_error(struct sl_req *req, int status, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Start and end a successful reply: for the query protocol the
 * <OpResponse><OpResult> ... </OpResult><ResponseMetadata/></OpResponse>
 * wrapper, for JSON and CBOR the top-level object. Handlers write members
 * in between, the same calls for every protocol. */
void sl_reply_begin(struct sl_req *req);
void sl_reply_end(struct sl_req *req);

/* Provided by the router (router.c): route one complete request. */
void sl_router_handle(struct sl_worker *w, struct sl_req *req);

#endif
