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
#include "dataplane/runtime/worker.h"

struct sl_conn;

enum sl_req_method { SL_GET = 0, SL_POST, SL_PUT, SL_DELETE, SL_HEAD, SL_OTHER };

struct sl_req {
	struct sl_conn *conn;
	int32_t h2_stream; /* HTTP/2 stream id, or -1 for HTTP/1.1 */
	uint8_t method;
	uint8_t op;  /* metrics series (sl_metric_op), 0: other */
	uint8_t fmt; /* enum sl_enc_fmt of the body and of the reply */
	bool fmt_known; /* a Content-Type this server understands was sent */
	char target[128]; /* X-Amz-Target */
	char path[512];
	char region[32];  /* from the SigV4 scope, else the configured region */
	char service[32];
	const uint8_t *body;
	size_t body_len;
	int64_t start_ns;
	/* The reply. */
	int status;
	const char *content_type; /* NULL: from fmt */
	const char *error_type;   /* sent as x-amzn-ErrorType when set */
	struct sl_enc out;
	/* Handler-owned (its state lives in sl_req_scratch()). */
	struct sl_msg msg; /* for the handler's cross-thread call */
	char request_id[40];
	/* Server-owned. */
	uint8_t *owned_body;
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

/* Memory for the handler that lives until the request is released: at
 * least `size` bytes, not zeroed, reused from earlier requests. Calling it
 * again replaces the earlier block. NULL when out of memory. */
void *sl_req_scratch(struct sl_req *req, size_t size);

/* Install the accept/io/stop hooks into sl_hooks. */
void sl_http_install(void);

/* Send req's reply and release it. Must run on the connection's worker. */
void sl_req_finish(struct sl_worker *w, struct sl_req *req);

/* Replace the reply with an AWS error: {"__type": type, "message": msg} (or
 * the CBOR equivalent), with HTTP status `status`. */
void sl_req_error(struct sl_req *req, int status, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Provided by control/api.c: route one complete request. */
void sl_api_handle(struct sl_worker *w, struct sl_req *req);
/* Provided by control/api.c: register its metric series (at start-up). */
void sl_api_install(void);

#endif
