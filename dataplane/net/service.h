/* service.h - what an AWS service is to the HTTP edge: one row in a table.
 *
 * A service describes how its requests are recognised on the wire (the
 * X-Amz-Target prefix of JSON 1.0/1.1, the Version= of the query protocol,
 * the service name of rpc-v2-cbor paths, REST path templates, the signing
 * name in the SigV4 scope), its operations sorted by name, and the hooks the
 * runtime calls (start-up on the control thread, a tick on every worker,
 * shutdown). The router (router.c) matches a request to one row and one
 * operation, sets the protocol of the reply, and calls the operation's
 * handler on the worker that received the request.
 *
 * Adding a service touches only its own folder and the table in
 * dataplane/services/services.c.
 */
#ifndef SL_NET_SERVICE_H
#define SL_NET_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_worker;
struct sl_req;
struct sl_shape_model;

/* The wire protocol a request was recognised by; it decides the form of
 * the reply and of errors. */
enum sl_proto {
	SL_PROTO_NONE = 0, /* not recognised (sluice's own endpoints, errors) */
	SL_PROTO_JSON10,   /* awsJson1_0: X-Amz-Target, application/x-amz-json-1.0 */
	SL_PROTO_JSON11,   /* awsJson1_1: X-Amz-Target, application/x-amz-json-1.1 */
	SL_PROTO_CBOR11,   /* the JSON protocol in CBOR: application/x-amz-cbor-1.1 */
	SL_PROTO_QUERY,    /* awsQuery: Action=&Version= form, XML replies */
	SL_PROTO_RPCV2,    /* smithy rpc-v2-cbor: /service/S/operation/O */
	SL_PROTO_REST_JSON,/* restJson1: method and path template */
};

/* Method values of sl_req.method and sl_op.method. */
enum sl_req_method { SL_GET = 0, SL_POST, SL_PUT, SL_DELETE, SL_HEAD, SL_OPTIONS, SL_PATCH,
		     SL_OTHER };

typedef void (*sl_op_fn)(struct sl_worker *w, struct sl_req *req);

typedef void (*sl_ctl_fn)(struct sl_req *req);

struct sl_op {
	const char *name; /* as in the model: "PutRecords" */
	/* Runs on the receiving worker and answers with sl_req_finish(); or,
	 * when NULL, the router forwards the request to the control thread,
	 * runs `control` there (it fills the reply and returns), and finishes
	 * the request back on its worker. Metadata operations do that. */
	sl_op_fn handle;
	sl_ctl_fn control;
	/* REST-JSON only: the method and path template, with {Label} for one
	 * segment and {Label+} for the rest of the path. */
	uint8_t method;
	const char *path;
};

struct sl_service {
	const char *name;         /* metrics label and log name: "kinesis" */
	const char *signing_name; /* service in the SigV4 credential scope */
	/* JSON 1.0/1.1 and CBOR 1.1: "Kinesis_20131202." (with the dot); NULL
	 * when the service does not speak them. */
	const char *target_prefix;
	uint8_t json_proto;       /* SL_PROTO_JSON10 or SL_PROTO_JSON11 */
	/* Query: the Version= value ("2012-11-05") and the XML namespace of
	 * replies; NULL when the service does not speak query. */
	const char *query_version;
	const char *xmlns;
	/* rpc-v2-cbor: the S of /service/S/operation/O; NULL when not spoken. */
	const char *rpcv2_name;
	/* JSON services: the botocore input shapes (scripts/gen-shapes). The
	 * router checks every body against its operation's shape before the
	 * handler runs, as AWS does: SerializationException for a wrong type
	 * anywhere, then every ValidationException at once. NULL: no check. */
	const struct sl_shape_model *model;
	/* Operations sorted by name (the router binary-searches them; checked
	 * at start-up), and the REST ones matched by template. */
	const struct sl_op *ops;
	uint32_t nops;
	/* Control thread, at start-up after the catalog is loaded and before
	 * the workers start: prepare directories, recover, register. 0 or -errno. */
	int (*install)(void);
	/* Control thread, about every 100 ms: state transitions that are due. */
	void (*control_tick)(void);
	/* Control thread, at shutdown after the workers stopped: stop what
	 * install started (helper threads). May be NULL. */
	void (*control_stop)(void);
	/* Every worker: once when it starts, about once a second, and at
	 * shutdown before its connections close. Any may be NULL. */
	void (*start)(struct sl_worker *w);
	void (*tick)(struct sl_worker *w);
	void (*stop)(struct sl_worker *w);
	/* Control thread, before worker w runs: open what w owns (recovery
	 * happens here, never on a worker serving requests). May be NULL. */
	void (*preload)(struct sl_worker *w);
	/* GET or HEAD of a path no operation claims (SNS: its signing
	 * certificate), on any worker: answer it (sl_req_finish) and return
	 * true, or return false. May be NULL. */
	bool (*serve_get)(struct sl_worker *w, struct sl_req *req);
	/* GET /metrics, on any worker: append this service's own series
	 * (Prometheus text) to buf[0..cap). Bytes written, or -ENOSPC. */
	long (*metrics)(char *buf, size_t cap);
	/* Filled by the router at start-up: the metrics series of ops[0]; op i
	 * has metric_base + i. */
	uint16_t metric_base;
};

/* Install a table of services: check each operation table is sorted,
 * register their metrics series, and plug the HTTP edge into the worker
 * loop. Control thread, before the workers start. 0 or -EINVAL (printed). */
int sl_router_init(struct sl_service *const *services, unsigned n);

/* Run every service's install / control_tick hook (control thread). The
 * first install failure stops and is returned. */
int sl_router_install_services(void);
/* Every service's control_stop, in reverse order (control thread). */
void sl_router_stop_services(void);
void sl_router_control_tick(void);

/* Run op->control for req on the control thread, and finish req back on
 * w (as the router runs metadata operations): for a request a worker
 * took (serve_get) that reads control-thread state. */
void sl_req_run_on_control(struct sl_worker *w, struct sl_req *req, const struct sl_op *op);

/* The operation `name` of svc, or NULL. */
const struct sl_op *sl_service_op(const struct sl_service *svc, const char *name, size_t len);

#endif
