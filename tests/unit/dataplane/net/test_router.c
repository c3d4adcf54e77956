/* Tests for dataplane/net/router.c: a second service added by its row
 * alone. "echo" lives only in this test binary; it speaks JSON 1.0 and
 * query, has one operation on the workers, one on the control thread, and
 * one that fails. A live worker runtime serves it over real sockets, and
 * the tests check what a client sees: status, content type, body, error
 * form per protocol, CORS, and the metrics series. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_eal.h>

#include "dataplane/net/fields.h"
#include "dataplane/net/server.h"
#include "dataplane/net/service.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/metrics.h"
#include "dataplane/runtime/worker.h"

#define ECHO_XMLNS "http://echo.example.com/doc/2026-01-01/"

static struct sl_config cfg;
static pthread_t control_thread;
static _Atomic bool control_stop;
static int control_count; /* only the control thread touches it */

/* ---- The echo service ---------------------------------------------------- */

static void echo_echo(struct sl_worker *w, struct sl_req *req)
{
	struct sl_fields f;
	char text[256];
	bool present;

	if (sl_fields_parse(req, sl_worker_toks(w), SL_DOC_TOKS_MAX, &f) < 0 ||
	    sl_field_str(&f, "Text", text, sizeof(text), 1, 200, true, &present) < 0) {
		sl_req_finish(w, req);
		return;
	}
	sl_reply_begin(req);
	sl_enc_key(&req->out, "Text");
	sl_enc_cstr(&req->out, text);
	sl_reply_end(req);
	sl_req_finish(w, req);
}

static void echo_count(struct sl_req *req)
{
	/* Metadata operations run on the control thread, never on a worker. */
	if (!pthread_equal(pthread_self(), control_thread))
		control_count = -1000;
	control_count++;
	sl_reply_begin(req);
	sl_enc_key(&req->out, "Count");
	sl_enc_int(&req->out, control_count);
	sl_reply_end(req);
}

static void echo_fail(struct sl_worker *w, struct sl_req *req)
{
	req->query_error = "AWS.Echo.Fault;Sender";
	sl_req_error(req, 400, "EchoFault", "it failed <as asked>");
	sl_req_finish(w, req);
}

/* REST-JSON: GET /things/{Name}/parts/{Rest+} answers its labels. */
static void echo_get_thing(struct sl_worker *w, struct sl_req *req)
{
	cr_assert_eq(req->nlabels, 2);
	sl_reply_begin(req);
	sl_enc_key(&req->out, "Name");
	sl_enc_str(&req->out, req->labels[0].p, req->labels[0].n);
	sl_enc_key(&req->out, "Rest");
	sl_enc_str(&req->out, req->labels[1].p, req->labels[1].n);
	sl_reply_end(req);
	sl_req_finish(w, req);
}

static const struct sl_op echo_ops[] = {
	{ .name = "Count", .control = echo_count },
	{ .name = "Echo", .handle = echo_echo },
	{ .name = "Fail", .handle = echo_fail },
	{ .name = "GetThing", .handle = echo_get_thing, .method = SL_GET,
	  .path = "/things/{Name}/parts/{Rest+}" },
};

static struct sl_service echo_service = {
	.name = "echo",
	.signing_name = "echo",
	.target_prefix = "Echo_20260101.",
	.json_proto = SL_PROTO_JSON10,
	.query_version = "2026-01-01",
	.xmlns = ECHO_XMLNS,
	.rpcv2_name = "EchoService",
	.ops = echo_ops,
	.nops = sizeof(echo_ops) / sizeof(echo_ops[0]),
};

static struct sl_service *const table[] = { &echo_service };

/* ---- A live server --------------------------------------------------------- */

static void *control_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&control_stop)) {
		if (sl_control_poll() == 0)
			usleep(200);
	}
	return NULL;
}

static uint16_t free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void start(void)
{
	char *args[] = { "test", "--no-pci", "--no-huge", "-m", "128", "--no-telemetry",
			 "--no-shconf", "--lcores", "0@0,1@(0-1)", "--log-level=lib.eal:error" };

	cr_assert_geq(rte_eal_init(sizeof(args) / sizeof(args[0]), args), 0);
	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.listen_host, "127.0.0.1");
	cfg.listen_port = free_port();
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "/tmp/sl-test-router-%d", getpid());
	strcpy(cfg.region, "us-east-1");
	cfg.workers = 1;
	cfg.log_level = SL_LOG_WARN;
	sl_cfg = &cfg;
	cr_assert_eq(sl_router_init(table, 1), 0);
	cr_assert_eq(sl_metrics_init(), 0);
	cr_assert_eq(sl_router_install_services(), 0);
	cr_assert_eq(sl_workers_start(&cfg), 0);
	cr_assert_eq(pthread_create(&control_thread, NULL, control_main, NULL), 0);
}

static void stop(void)
{
	sl_workers_stop();
	atomic_store(&control_stop, true);
	pthread_join(control_thread, NULL);
}

TestSuite(router, .init = start, .fini = stop, .timeout = 60);

struct reply {
	int status;
	char head[4096];
	char body[128 * 1024];
};

/* Send one raw HTTP/1.1 request and read its reply (Content-Length framed). */
static void http(const char *request, struct reply *r)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(cfg.listen_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static char buf[sizeof(r->head) + sizeof(r->body)];
	size_t len = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		cr_assert_gt(n, 0, "the server closed before a whole reply");
		len += (size_t)n;
		buf[len] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		char *cl = strcasestr(buf, "\r\nContent-Length: ");
		if (end && cl && cl < end && len >= (size_t)(end + 4 - buf) + strtoul(cl + 18, NULL, 10))
			break;
	}
	close(fd);
	char *end = strstr(buf, "\r\n\r\n");
	size_t hl = (size_t)(end - buf);
	cr_assert_lt(hl, sizeof(r->head));
	memcpy(r->head, buf, hl);
	r->head[hl] = '\0';
	memcpy(r->body, end + 4, len - hl - 4 + 1); /* with the NUL */
	cr_assert_eq(sscanf(buf, "HTTP/1.1 %d", &r->status), 1);
}

static void json10(const char *op, const char *body, struct reply *r)
{
	char req[2048];

	snprintf(req, sizeof(req),
		 "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Echo_20260101.%s\r\n"
		 "Content-Type: application/x-amz-json-1.0\r\nContent-Length: %zu\r\n\r\n%s",
		 op, strlen(body), body);
	http(req, r);
}

static void query(const char *form, struct reply *r)
{
	char req[2048];

	snprintf(req, sizeof(req),
		 "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded; "
		 "charset=utf-8\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(form), form);
	http(req, r);
}

/* ---- The tests ------------------------------------------------------------- */

Test(router, json10_operation_on_a_worker)
{
	struct reply r;

	json10("Echo", "{\"Text\":\"hello\"}", &r);
	cr_assert_eq(r.status, 200, "%s\n%s", r.head, r.body);
	cr_expect(strcasestr(r.head, "Content-Type: application/x-amz-json-1.0") != NULL, "%s", r.head);
	cr_expect_str_eq(r.body, "{\"Text\":\"hello\"}");
}

Test(router, json10_operation_on_the_control_thread)
{
	struct reply r1, r2;

	json10("Count", "{}", &r1);
	json10("Count", "{}", &r2);
	cr_assert_eq(r1.status, 200, "%s", r1.body);
	int a = 0, b = 0;
	cr_assert_eq(sscanf(r1.body, "{\"Count\":%d}", &a), 1, "%s", r1.body);
	cr_assert_eq(sscanf(r2.body, "{\"Count\":%d}", &b), 1, "%s", r2.body);
	cr_expect_eq(b, a + 1, "each call ran once, in order");
}

Test(router, json10_errors)
{
	struct reply r;

	json10("Fail", "{}", &r);
	cr_assert_eq(r.status, 400);
	cr_expect(strstr(r.body, "\"__type\":\"EchoFault\"") != NULL, "%s", r.body);
	cr_expect(strcasestr(r.head, "x-amzn-query-error: AWS.Echo.Fault;Sender") != NULL, "%s", r.head);
	json10("Nope", "{}", &r);
	cr_expect_eq(r.status, 400);
	cr_expect_str_eq(r.body, "{\"__type\":\"UnknownOperationException\"}");
	json10("Echo", "{\"Text\":", &r);
	cr_expect_eq(r.status, 400);
	cr_expect_str_eq(r.body, "{\"__type\":\"SerializationException\"}");
	json10("Echo", "{}", &r);
	cr_expect_eq(r.status, 400);
	cr_expect(strstr(r.body, "ValidationException") != NULL, "%s", r.body);
}

Test(router, query_operation_answers_xml)
{
	struct reply r;

	query("Action=Echo&Version=2026-01-01&Text=h%C3%A9+%3Cthere%3E", &r);
	cr_assert_eq(r.status, 200, "%s\n%s", r.head, r.body);
	cr_expect(strcasestr(r.head, "Content-Type: text/xml") != NULL, "%s", r.head);
	cr_expect(strstr(r.body, "<EchoResponse xmlns=\"" ECHO_XMLNS "\"><EchoResult>"
				 "<Text>h\xc3\xa9 &lt;there&gt;</Text></EchoResult>"
				 "<ResponseMetadata><RequestId>") != NULL,
		  "%s", r.body);
	cr_expect(strstr(r.body, "</RequestId></ResponseMetadata></EchoResponse>") != NULL, "%s", r.body);
}

Test(router, query_by_get_and_on_the_control_thread)
{
	struct reply r;

	http("GET /?Action=Count&Version=2026-01-01 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect(strstr(r.body, "<CountResult><Count>") != NULL, "%s", r.body);
}

Test(router, query_errors)
{
	struct reply r;

	query("Action=Fail&Version=2026-01-01", &r);
	cr_assert_eq(r.status, 400);
	cr_expect(strstr(r.body, "<ErrorResponse xmlns=\"" ECHO_XMLNS "\"><Error><Type>Sender</Type>"
				 "<Code>EchoFault</Code><Message>it failed &lt;as asked&gt;</Message>"
				 "</Error><RequestId>") != NULL,
		  "%s", r.body);
	query("Action=Nope&Version=2026-01-01", &r);
	cr_expect_eq(r.status, 400);
	cr_expect(strstr(r.body, "<Code>InvalidAction</Code>") != NULL, "%s", r.body);
	query("Action=Echo&Version=2026-01-01", &r);
	cr_expect_eq(r.status, 400);
	cr_expect(strstr(r.body, "<Code>ValidationException</Code>") != NULL, "%s", r.body);
}

Test(router, rpc_v2_cbor_by_path_and_header)
{
	/* {"Text": "cb"} in CBOR: a map of one pair, two text strings. */
	static const char body[] = "\xa1\x64Text\x62" "cb";
	char req[512];
	struct reply r;
	int n = snprintf(req, sizeof(req),
			 "POST /service/EchoService/operation/Echo HTTP/1.1\r\nHost: x\r\n"
			 "smithy-protocol: rpc-v2-cbor\r\nContent-Type: application/cbor\r\n"
			 "Accept: application/cbor\r\nContent-Length: %zu\r\n\r\n",
			 sizeof(body) - 1);
	memcpy(req + n, body, sizeof(body));
	http(req, &r);
	cr_assert_eq(r.status, 200, "%s", r.head);
	cr_expect(strcasestr(r.head, "smithy-protocol: rpc-v2-cbor") != NULL, "%s", r.head);
	cr_expect(strcasestr(r.head, "Content-Type: application/cbor") != NULL, "%s", r.head);
	/* The reply is CBOR too: an indefinite map holding "Text" and "cb". */
	cr_expect_eq((uint8_t)r.body[0], 0xbf);
	cr_expect(memmem(r.body, 16, "Text", 4) != NULL);
	cr_expect(memmem(r.body, 16, "cb", 2) != NULL);
	http("POST /service/EchoService/operation/Nope HTTP/1.1\r\nHost: x\r\n"
	     "smithy-protocol: rpc-v2-cbor\r\nContent-Length: 0\r\n\r\n", &r);
	cr_expect_eq(r.status, 404);
}

Test(router, rest_json_by_method_and_template)
{
	struct reply r;

	http("GET /things/bolt/parts/a/b/c HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_assert_eq(r.status, 200, "%s", r.head);
	cr_expect(strcasestr(r.head, "Content-Type: application/json") != NULL, "%s", r.head);
	cr_expect_str_eq(r.body, "{\"Name\":\"bolt\",\"Rest\":\"a/b/c\"}");
	http("GET /things/bolt HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_expect_eq(r.status, 403, "no template matches: AWS's answer");
	http("POST /things/bolt/parts/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r);
	cr_expect_neq(r.status, 200, "the method is part of the template");
}

Test(router, no_operation_gets_access_denied)
{
	struct reply r;

	http("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_expect_eq(r.status, 403);
	cr_expect(strstr(r.body, "<AccessDeniedException>") != NULL, "%s", r.body);
	cr_expect(strstr(r.body, "Unable to determine service/operation name to be authorized"));
}

Test(router, cors_preflight_and_exposed_headers)
{
	struct reply r;

	http("OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: http://app.example\r\n"
	     "Access-Control-Request-Method: POST\r\n"
	     "Access-Control-Request-Headers: x-amz-target,content-type\r\n\r\n", &r);
	cr_assert_eq(r.status, 200);
	cr_expect(strcasestr(r.head, "Access-Control-Allow-Origin: *") != NULL, "%s", r.head);
	cr_expect(strcasestr(r.head, "Access-Control-Allow-Headers: x-amz-target,content-type"), "%s",
		  r.head);
	cr_expect(strcasestr(r.head, "Access-Control-Allow-Methods: ") != NULL, "%s", r.head);
	http("POST / HTTP/1.1\r\nHost: x\r\nOrigin: http://app.example\r\n"
	     "X-Amz-Target: Echo_20260101.Echo\r\nContent-Type: application/x-amz-json-1.0\r\n"
	     "Content-Length: 12\r\n\r\n{\"Text\":\"a\"}", &r);
	cr_expect_eq(r.status, 200);
	cr_expect(strcasestr(r.head, "Access-Control-Expose-Headers: x-amzn-RequestId") != NULL, "%s",
		  r.head);
}

Test(router, metrics_name_the_service)
{
	struct reply r;

	json10("Echo", "{\"Text\":\"m\"}", &r);
	http("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	cr_assert_eq(r.status, 200);
	cr_expect(strstr(r.body, "sluice_requests_total{service=\"echo\",op=\"Echo\",code=\"2xx\"}") !=
		  NULL, "%s", r.body);
}

Test(router, unsorted_tables_are_refused)
{
	static const struct sl_op bad_ops[] = {
		{ .name = "Zeta", .handle = echo_echo },
		{ .name = "Alpha", .handle = echo_echo },
	};
	static struct sl_service bad = { .name = "bad", .ops = bad_ops, .nops = 2 };
	static struct sl_service *const bad_table[] = { &bad };

	cr_expect_eq(sl_router_init(bad_table, 1), -EINVAL);
}
