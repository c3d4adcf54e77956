/* api.c - the first stop of every request: health, test hooks, and the
 * service named by X-Amz-Target. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/catalog.h"
#include "dataplane/net/fields.h"
#include "dataplane/net/server.h"
#include "dataplane/services/kinesis/kinesis.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/metrics.h"
#include "dataplane/runtime/worker.h"


static uint8_t metric_health, metric_metrics;

void sl_api_install(void)
{
	metric_health = sl_metric_op("health");
	metric_metrics = sl_metric_op("metrics");
}

static void health(struct sl_worker *w, struct sl_req *req)
{
	struct sl_enc *e = &req->out;

	req->content_type = "application/json";
	sl_enc_obj_begin(e);
	sl_enc_key(e, "status");
	sl_enc_cstr(e, "ok");
	sl_enc_key(e, "workers");
	sl_enc_int(e, sl_worker_count());
	sl_enc_key(e, "streams");
	sl_enc_int(e, sl_catalog_get()->nstreams);
	sl_enc_obj_end(e);
	sl_req_finish(w, req);
}

/* POST /_sluice/clock {"advance_ms": N}: only with --debug-clock. */
static void debug_clock(struct sl_worker *w, struct sl_req *req)
{
	struct sl_fields f;
	int64_t ms = 0;

	req->content_type = "application/json";
	if (sl_fields_parse(req, sl_worker_toks(w), SL_DOC_TOKS_MAX, &f) >= 0 &&
	    sl_field_int(&f, "advance_ms", 0, (int64_t)1 << 50, true, &ms) >= 0) {
		sl_clock_advance(ms);
		sl_enc_obj_begin(&req->out);
		sl_enc_key(&req->out, "now_ms");
		sl_enc_int(&req->out, sl_now_ms());
		sl_enc_obj_end(&req->out);
	}
	sl_req_finish(w, req);
}

/* GET /metrics: Prometheus text exposition of every worker's counters. */
static void metrics(struct sl_worker *w, struct sl_req *req)
{
	size_t cap = 64 * 1024;

	req->content_type = "text/plain; version=0.0.4";
	for (int tries = 0; tries < 6; tries++, cap *= 2) {
		char *buf = malloc(cap);
		long n = buf ? sl_metrics_render(buf, cap, sl_worker_count()) : -ENOMEM;
		if (n >= 0) {
			sl_enc_reset(&req->out);
			sl_enc_raw(&req->out, buf, (size_t)n);
		}
		free(buf);
		if (n != -ENOSPC)
			break;
	}
	sl_req_finish(w, req);
}

/* sluice's own endpoints, which answer JSON or text whatever was sent. */
static bool own_endpoint(const struct sl_req *req)
{
	return strcmp(req->path, "/health") == 0 || strcmp(req->path, "/metrics") == 0 ||
	       strcmp(req->path, "/_sluice/clock") == 0;
}

void sl_api_handle(struct sl_worker *w, struct sl_req *req)
{
	if (own_endpoint(req))
		req->fmt = SL_ENC_JSON;
	if (req->out.buf)
		req->out.fmt = req->fmt; /* a pooled request keeps its buffer */
	else if (sl_enc_init(&req->out, req->fmt, 1024) < 0) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		sl_req_finish(w, req);
		return;
	}
	if (strcmp(req->path, "/health") == 0 && (req->method == SL_GET || req->method == SL_HEAD)) {
		req->op = metric_health;
		health(w, req);
		return;
	}
	if (strcmp(req->path, "/metrics") == 0 && req->method == SL_GET) {
		req->op = metric_metrics;
		metrics(w, req);
		return;
	}
	if (sl_cfg->debug_clock && req->method == SL_POST && strcmp(req->path, "/_sluice/clock") == 0) {
		debug_clock(w, req);
		return;
	}
	size_t plen = strlen(SL_KINESIS_TARGET_PREFIX);
	if (req->method == SL_POST && strncmp(req->target, SL_KINESIS_TARGET_PREFIX, plen) == 0) {
		if (req->body_len && !req->fmt_known) {
			sl_err_serialization(req, "Unsupported Content-Type for Kinesis");
			sl_req_finish(w, req);
			return;
		}
		const char *op = req->target + plen;
		req->op = sl_metric_op_find(op, strlen(op));
		sl_kinesis_handle(w, req, op);
		return;
	}
	if (req->target[0]) {
		sl_req_error(req, 400, "UnknownOperationException", "Unknown operation %s",
			     req->target);
	} else {
		sl_req_error(req, 404, "UnknownOperationException",
			     "No service answers %s %s on this endpoint", req->method == SL_GET ?
			     "GET" : "POST", req->path);
	}
	sl_req_finish(w, req);
}
