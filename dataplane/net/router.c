/* router.c - the first stop of every request: sluice's own endpoints, CORS,
 * and the service table (service.h).
 *
 * A request is matched to a service and an operation by the protocol it
 * speaks, in this order: rpc-v2-cbor (the smithy-protocol header and a
 * /service/S/operation/O path), JSON 1.0/1.1 and CBOR 1.1 (X-Amz-Target),
 * query (Action= and Version= in a form body or the query string), then
 * REST-JSON path templates. What matches nothing gets the answer AWS's own
 * front end gives, as recorded against it: a 403 AccessDeniedException in
 * XML for a request with no operation, UnknownOperationException for an
 * unknown target, SerializationException for a body that is not a document.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataplane/codec/shape.h"
#include "dataplane/net/fields.h"
#include "dataplane/net/server.h"
#include "dataplane/net/service.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/metrics.h"
#include "dataplane/runtime/worker.h"

#define SL_RPCV2_PATH_PREFIX "/service/"
#define SL_RPCV2_OP_INFIX "/operation/"
#define SL_FORM_CTYPE "application/x-www-form-urlencoded"
#define SL_ACCESS_DENIED_BODY                                                          \
	"<AccessDeniedException>\n"                                                    \
	"  <Message>Unable to determine service/operation name to be authorized</Message>\n" \
	"</AccessDeniedException>\n"

static struct sl_service *const *svcs;
static unsigned nsvcs;
static bool any_rest; /* some service has REST path templates */
static uint16_t metric_health, metric_metrics, metric_clock, metric_file;

const struct sl_op *sl_service_op(const struct sl_service *svc, const char *name, size_t len)
{
	uint32_t lo = 0, hi = svc->nops;

	/* Binary search: the table was checked to be sorted at start-up. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const char *m = svc->ops[mid].name;
		int c = strncmp(m, name, len);
		if (c == 0)
			c = m[len] ? 1 : 0;
		if (c == 0)
			return &svc->ops[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- Hooks the worker loop calls ---------------------------------------- */

static void router_start(struct sl_worker *w)
{
	for (unsigned i = 0; i < nsvcs; i++) {
		if (svcs[i]->start)
			svcs[i]->start(w);
	}
}

static void router_tick(struct sl_worker *w)
{
	for (unsigned i = 0; i < nsvcs; i++) {
		if (svcs[i]->tick)
			svcs[i]->tick(w);
	}
}

static void router_preload(struct sl_worker *w)
{
	for (unsigned i = 0; i < nsvcs; i++) {
		if (svcs[i]->preload)
			svcs[i]->preload(w);
	}
}

static void router_stop(struct sl_worker *w)
{
	for (unsigned i = 0; i < nsvcs; i++) {
		if (svcs[i]->stop)
			svcs[i]->stop(w);
	}
	sl_http_stop(w);
}

int sl_router_init(struct sl_service *const *services, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct sl_service *s = services[i];
		if (s->model && sl_shape_model_init(s->model) < 0) {
			fprintf(stderr, "sluice: %s: a pattern of its model does not compile\n", s->name);
			return -EINVAL;
		}
		for (uint32_t k = 1; k < s->nops; k++) {
			if (strcmp(s->ops[k - 1].name, s->ops[k].name) >= 0) {
				fprintf(stderr, "sluice: %s: operations %s and %s are not sorted\n",
					s->name, s->ops[k - 1].name, s->ops[k].name);
				return -EINVAL;
			}
		}
		for (uint32_t k = 0; k < s->nops; k++) {
			any_rest = any_rest || s->ops[k].path;
			uint16_t id = sl_metric_op(s->name, s->ops[k].name);
			if (id == 0)
				return -ENOMEM;
			if (k == 0)
				s->metric_base = id;
			assert(id == s->metric_base + k); /* one service's series are consecutive */
		}
	}
	svcs = services;
	nsvcs = n;
	metric_health = sl_metric_op("sluice", "health");
	metric_file = sl_metric_op("sluice", "file");
	metric_metrics = sl_metric_op("sluice", "metrics");
	metric_clock = sl_metric_op("sluice", "clock");
	sl_http_install();
	sl_hooks.start = router_start;
	sl_hooks.preload = router_preload;
	sl_hooks.tick = router_tick;
	sl_hooks.stop = router_stop;
	return 0;
}

int sl_router_install_services(void)
{
	for (unsigned i = 0; i < nsvcs; i++) {
		int rc = svcs[i]->install ? svcs[i]->install() : 0;
		if (rc < 0)
			return rc;
	}
	return 0;
}

void sl_router_stop_services(void)
{
	for (unsigned i = nsvcs; i-- > 0;) {
		if (svcs[i]->control_stop)
			svcs[i]->control_stop();
	}
}

void sl_router_control_tick(void)
{
	for (unsigned i = 0; i < nsvcs; i++) {
		if (svcs[i]->control_tick)
			svcs[i]->control_tick();
	}
}

/* ---- sluice's own endpoints -------------------------------------------- */

static void health(struct sl_worker *w, struct sl_req *req)
{
	struct sl_enc *e = &req->out;

	req->content_type = "application/json";
	sl_enc_obj_begin(e);
	sl_enc_key(e, "status");
	sl_enc_cstr(e, "ok");
	sl_enc_key(e, "workers");
	sl_enc_int(e, sl_worker_count());
	sl_enc_key(e, "services");
	sl_enc_arr_begin(e);
	for (unsigned i = 0; i < nsvcs; i++)
		sl_enc_cstr(e, svcs[i]->name);
	sl_enc_arr_end(e);
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
	for (int tries = 0; tries < 11; tries++, cap *= 2) {
		char *buf = malloc(cap);
		long n = buf ? sl_metrics_render(buf, cap, sl_worker_count()) : -ENOMEM;
		/* Then each service's own series (SQS: per queue). */
		for (unsigned i = 0; i < nsvcs && n >= 0; i++) {
			const struct sl_service *sv = svcs[i];
			long k = sv->metrics ? sv->metrics(buf + n, cap - (size_t)n) : 0;
			n = k < 0 ? k : n + k;
		}
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

/* Serve /health, /metrics and /_sluice/clock, in JSON or text whatever
 * the request sent. Returns true when it did. */
static bool own_endpoint(struct sl_worker *w, struct sl_req *req)
{
	bool get = req->method == SL_GET || req->method == SL_HEAD;
	void (*fn)(struct sl_worker *, struct sl_req *) = NULL;

	if (sl_view_eq(req->path, "/health") && get) {
		req->op = metric_health;
		fn = health;
	} else if (sl_view_eq(req->path, "/metrics") && get) {
		req->op = metric_metrics;
		fn = metrics;
	} else if (sl_cfg->debug_clock && req->method == SL_POST &&
		   sl_view_eq(req->path, "/_sluice/clock")) {
		req->op = metric_clock;
		fn = debug_clock;
	} else {
		if (!get)
			return false;
		req->fmt = req->out.fmt = SL_ENC_JSON;
		req->op = metric_file;
		for (unsigned i = 0; i < nsvcs; i++) {
			if (svcs[i]->serve_get && svcs[i]->serve_get(w, req))
				return true;
		}
		return false;
	}
	req->fmt = req->out.fmt = SL_ENC_JSON;
	fn(w, req);
	return true;
}

/* ---- Running an operation ----------------------------------------------- */

static void control_failed(struct sl_msg *msg, int rc)
{
	sl_req_error(msg->arg, 500, "InternalFailure", "cannot persist the change: %s",
		     strerror(-rc));
}

static void control_call(struct sl_worker *self, struct sl_msg *msg)
{
	struct sl_req *req = msg->arg;

	assert(self == NULL); /* the control thread */
	/* A request answered with an error changes nothing, even one that
	 * failed halfway through its changes. */
	sl_control_guard_begin();
	req->sop->control(req);
	sl_control_guard_end(req->status >= 400);
	/* Acknowledged only once what it changed is durable. */
	sl_control_reply_committed(msg, control_failed);
}

static void control_done(struct sl_worker *w, struct sl_msg *msg)
{
	sl_req_finish(w, msg->arg);
}

/* Run the bound operation where it runs: here, or on the control thread. */
static void run_op(struct sl_worker *w, struct sl_req *req)
{
	const struct sl_op *op = req->sop;

	assert(op);
	if (op->handle) {
		op->handle(w, req);
		return;
	}
	assert(op->control);
	req->msg.fn = control_call;
	req->msg.done = control_done;
	req->msg.arg = req;
	sl_msg_send(w, SL_TO_CONTROL, &req->msg);
}

void sl_req_run_on_control(struct sl_worker *w, struct sl_req *req, const struct sl_op *op)
{
	assert(op->control);
	req->sop = op;
	run_op(w, req);
}

/* ---- Recognising the protocol ------------------------------------------- */

static bool hdr_is(const struct sl_http_header *h, const char *v)
{
	size_t n = strlen(v);

	return h && h->value_len >= n && strncasecmp(h->value, v, n) == 0 &&
	       (h->value_len == n || h->value[n] == ';' || h->value[n] == ' ');
}

/* Bind req to svc's operation named by view op (NULL when unknown). */
static const struct sl_op *bind_op(struct sl_req *req, const struct sl_service *svc,
				   struct sl_view op, uint8_t proto)
{
	const struct sl_op *sop = sl_service_op(svc, op.p, op.n);

	req->svc = svc;
	req->proto = proto;
	req->op_name = op;
	if (sop) {
		req->sop = sop;
		req->op = (uint16_t)(svc->metric_base + (sop - svc->ops));
	}
	return sop;
}

static void answer_raw(struct sl_worker *w, struct sl_req *req, int status, const char *ctype,
		       const char *body)
{
	sl_enc_reset(&req->out);
	sl_enc_raw(&req->out, body, strlen(body));
	req->status = status;
	req->content_type = ctype;
	sl_req_finish(w, req);
}

/* An error of AWS's JSON front end: a bare {"__type": type}. */
static void answer_type(struct sl_worker *w, struct sl_req *req, int status, const char *type)
{
	sl_enc_reset(&req->out);
	sl_enc_obj_begin(&req->out);
	sl_enc_key(&req->out, "__type");
	sl_enc_cstr(&req->out, type);
	sl_enc_obj_end(&req->out);
	req->status = status;
	req->error_type = type;
	sl_req_finish(w, req);
}

/* rpc-v2-cbor: POST /service/S/operation/O with smithy-protocol. */
static bool route_rpcv2(struct sl_worker *w, struct sl_req *req)
{
	size_t pl = strlen(SL_RPCV2_PATH_PREFIX), il = strlen(SL_RPCV2_OP_INFIX);

	if (!hdr_is(sl_req_header(req, "smithy-protocol"), "rpc-v2-cbor") ||
	    req->path.n <= pl || memcmp(req->path.p, SL_RPCV2_PATH_PREFIX, pl) != 0)
		return false;
	const char *s = req->path.p + pl, *end = req->path.p + req->path.n;
	const char *infix = memmem(s, (size_t)(end - s), SL_RPCV2_OP_INFIX, il);
	if (!infix)
		return false;
	struct sl_view svc_name = { s, (size_t)(infix - s) };
	struct sl_view op = { infix + il, (size_t)(end - infix - il) };
	for (unsigned i = 0; i < nsvcs; i++) {
		if (!svcs[i]->rpcv2_name || !sl_view_eq(svc_name, svcs[i]->rpcv2_name))
			continue;
		req->fmt = SL_ENC_CBOR;
		req->out.fmt = SL_ENC_CBOR;
		if (!bind_op(req, svcs[i], op, SL_PROTO_RPCV2)) {
			sl_req_error(req, 404, "UnknownOperationException", "Unknown operation %.*s",
				     (int)op.n, op.p);
			sl_req_finish(w, req);
			return true;
		}
		run_op(w, req);
		return true;
	}
	return false;
}

/* The service whose target prefix starts `target`, or NULL. */
static const struct sl_service *by_target(const struct sl_http_header *t, struct sl_view *op)
{
	for (unsigned i = 0; t && i < nsvcs; i++) {
		const char *p = svcs[i]->target_prefix;
		size_t n = p ? strlen(p) : 0;
		if (n && t->value_len >= n && memcmp(t->value, p, n) == 0) {
			*op = (struct sl_view){ t->value + n, t->value_len - n };
			return svcs[i];
		}
	}
	return NULL;
}

/* A 400 {"__type": type} error with "Message" (AWS's spelling for
 * SerializationException) when msg is not NULL, left for the caller to
 * finish. */
static void answer_type_only(struct sl_req *req, const char *type, const char *msg)
{
	sl_enc_reset(&req->out);
	sl_enc_obj_begin(&req->out);
	sl_enc_key(&req->out, "__type");
	sl_enc_cstr(&req->out, type);
	if (msg) {
		sl_enc_key(&req->out, "Message");
		sl_enc_cstr(&req->out, msg);
	}
	sl_enc_obj_end(&req->out);
	req->status = 400;
	req->error_type = type;
}

/* Check the parsed body against the operation's input shape. Returns true
 * when it passes; otherwise the reply holds AWS's error. */
static bool shape_ok(struct sl_req *req, const struct sl_shape_model *m, const struct sl_op *sop)
{
	char msg[SL_SHAPE_MSG_SIZE];
	const struct sl_shape_op *op = sl_shape_op_find(m, sop->name, strlen(sop->name));

	if (!op)
		return true; /* an operation newer than the table: the handler checks */
	assert(req->doc && req->doc_n > 0);
	int rc = sl_shape_check(m, op, req->doc, 0, req->fmt == SL_ENC_CBOR ? SL_SHAPE_CBOR : 0, msg,
				sizeof(msg));
	if (rc == SL_SHAPE_OK)
		return true;
	if (rc == SL_SHAPE_SERIALIZATION) {
		/* An empty text means AWS sends no Message at all. */
		answer_type_only(req, "SerializationException", msg[0] ? msg : NULL);
		return false;
	}
	sl_req_error(req, 400, "ValidationException", "%s", msg);
	return false;
}

/* A POST that no other protocol claimed: JSON 1.0/1.1 and CBOR 1.1 by
 * X-Amz-Target, with the answers AWS's JSON front end gives to every way of
 * getting it wrong, in the order it checks them (body, content type,
 * document, operation). */
static bool route_target(struct sl_worker *w, struct sl_req *req)
{
	const struct sl_http_header *t = sl_req_header(req, "x-amz-target");
	const struct sl_http_header *ct = sl_req_header(req, "content-type");
	struct sl_view op = { NULL, 0 };

	if (req->method != SL_POST)
		return false; /* AccessDenied below */
	const struct sl_service *svc = by_target(t, &op);
	const char *dot = t ? memchr(t->value, '.', t->value_len) : NULL;
	bool named = dot && dot > t->value && dot + 1 < t->value + t->value_len;
	/* The content types the front end reads: the service's own JSON, CBOR
	 * 1.1, and plain JSON (which it answers with a 404 of its own). */
	const char *own = svc && svc->json_proto == SL_PROTO_JSON10 ? "application/x-amz-json-1.0" :
								     "application/x-amz-json-1.1";
	bool is_json = hdr_is(ct, own), is_cbor = hdr_is(ct, "application/x-amz-cbor-1.1");
	bool is_plain = hdr_is(ct, "application/json");
	uint8_t proto = is_cbor ? SL_PROTO_CBOR11 : svc ? svc->json_proto : SL_PROTO_JSON11;
	const struct sl_op *sop = svc && op.n ? bind_op(req, svc, op, proto) : NULL;
	if (!sop)
		req->proto = proto;
	req->fmt = req->out.fmt = is_json || is_plain ? SL_ENC_JSON : SL_ENC_CBOR;
	if (req->body_len == 0) {
		/* An empty body is answered in JSON only when JSON was sent. */
		req->fmt = req->out.fmt = is_json ? SL_ENC_JSON : SL_ENC_CBOR;
		answer_type(w, req, 400, sop ? "SerializationException" : "UnknownOperationException");
		return true;
	}
	if (!is_json && !is_cbor && !is_plain) {
		if (!named)
			answer_raw(w, req, 403, "application/xml", SL_ACCESS_DENIED_BODY);
		else
			answer_raw(w, req, 404, "application/xml", "<UnknownOperationException/>\n");
		return true;
	}
	int nt = sl_fields_parse(req, sl_worker_toks(w), SL_DOC_TOKS_MAX, NULL);
	if (nt < 0 && is_plain) {
		answer_raw(w, req, 400, "application/json",
			   "{\"Output\":{\"__type\":\"com.amazon.coral.service#"
			   "SerializationException\"},\"Version\":\"1.0\"}");
		return true;
	}
	if (nt < 0) {
		answer_type(w, req, 400, "SerializationException");
		return true;
	}
	if (is_plain) {
		answer_raw(w, req, 404, "application/json",
			   "{\"Output\":{\"__type\":\"com.amazon.coral.service#"
			   "UnknownOperationException\"},\"Version\":\"1.0\"}");
		return true;
	}
	if (!sop) {
		answer_type(w, req, 400, "UnknownOperationException");
		return true;
	}
	if (svc->model && !shape_ok(req, svc->model, sop)) {
		sl_req_finish(w, req);
		return true;
	}
	run_op(w, req);
	return true;
}

/* The value of key `key` in a form (body or query string), as raw bytes. */
static bool form_value(const char *p, size_t n, const char *key, struct sl_view *out)
{
	size_t kl = strlen(key);
	const char *end = p + n;

	/* One pass over the pairs; each round moves past one '&'. */
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		if ((size_t)(stop - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == '=') {
			*out = (struct sl_view){ p + kl + 1, (size_t)(stop - p - kl - 1) };
			return true;
		}
		p = amp ? amp + 1 : end;
	}
	return false;
}

/* Query: Action= and Version= in a form body, or in the query string. The
 * service is the one whose Version matches, else the SigV4 signing name. */
static bool route_query(struct sl_worker *w, struct sl_req *req)
{
	const struct sl_http_header *ct = sl_req_header(req, "content-type");
	const char *p = req->query.p;
	size_t n = req->query.n;
	struct sl_view action, version = { NULL, 0 };

	if (req->method == SL_POST && hdr_is(ct, SL_FORM_CTYPE)) {
		p = (const char *)req->body;
		n = req->body_len;
	}
	if (!n || !form_value(p, n, "Action", &action))
		return false;
	form_value(p, n, "Version", &version);
	const struct sl_service *svc = NULL;
	for (unsigned i = 0; i < nsvcs && !svc; i++) {
		if (svcs[i]->query_version && sl_view_eq(version, svcs[i]->query_version))
			svc = svcs[i];
	}
	for (unsigned i = 0; i < nsvcs && !svc; i++) {
		if (svcs[i]->query_version && req->service[0] &&
		    strcmp(req->service, svcs[i]->signing_name) == 0)
			svc = svcs[i];
	}
	if (!svc)
		return false;
	req->fmt = req->out.fmt = SL_ENC_XML;
	if (!bind_op(req, svc, action, SL_PROTO_QUERY)) {
		sl_req_error(req, 400, "InvalidAction",
			     "The action %.*s is not valid for this endpoint.", (int)action.n,
			     action.p);
		sl_req_finish(w, req);
		return true;
	}
	run_op(w, req);
	return true;
}

/* Match path against a REST template; fills req->labels. */
static bool template_match(struct sl_req *req, const char *tpl)
{
	const char *p = req->path.p, *end = p + req->path.n;
	uint8_t nl = 0;

	/* Each round consumes template bytes; labels consume path bytes. */
	while (*tpl) {
		if (*tpl != '{') {
			if (p == end || *p != *tpl)
				return false;
			p++;
			tpl++;
			continue;
		}
		const char *close = strchr(tpl, '}');
		assert(close); /* templates are compiled in */
		bool greedy = close[-1] == '+';
		const char *stop = greedy ? end : memchr(p, '/', (size_t)(end - p));
		if (!stop)
			stop = end;
		if (stop == p || nl == SL_REST_LABELS_MAX)
			return false;
		req->labels[nl++] = (struct sl_view){ p, (size_t)(stop - p) };
		p = stop;
		tpl = close + 1;
	}
	req->nlabels = nl;
	return p == end;
}

static bool route_rest(struct sl_worker *w, struct sl_req *req)
{
	/* Every JSON request passes here first: no loop without templates. */
	for (unsigned i = 0; any_rest && i < nsvcs; i++) {
		const struct sl_service *svc = svcs[i];
		for (uint32_t k = 0; k < svc->nops; k++) {
			const struct sl_op *op = &svc->ops[k];
			if (!op->path || op->method != req->method || !template_match(req, op->path))
				continue;
			req->fmt = req->out.fmt = SL_ENC_JSON;
			bind_op(req, svc, (struct sl_view){ op->name, strlen(op->name) },
				SL_PROTO_REST_JSON);
			run_op(w, req);
			return true;
		}
	}
	return false;
}

void sl_router_handle(struct sl_worker *w, struct sl_req *req)
{
	if (req->out.buf)
		req->out.fmt = req->fmt; /* a pooled request keeps its buffer */
	else if (sl_enc_init(&req->out, req->fmt, 1024) < 0) {
		sl_req_error(req, 500, "InternalFailure", "out of memory");
		sl_req_finish(w, req);
		return;
	}
	if (own_endpoint(w, req))
		return;
	if (req->method == SL_OPTIONS && req->cors) {
		/* CORS preflight: granted, with headers alone (server.c). */
		answer_raw(w, req, 200, NULL, "");
		return;
	}
	if (route_rpcv2(w, req) || route_query(w, req) || route_rest(w, req) ||
	    route_target(w, req))
		return;
	answer_raw(w, req, 403, "application/xml", SL_ACCESS_DENIED_BODY);
}
