/* sluice_load.c - load generator for sluice and its peers (Kinesis, SQS,
 * SNS, Redis).
 *
 * One process, one epoll loop, N non-blocking TCP connections. The kinesis
 * mode drives PutRecords over the AWS JSON 1.1 protocol on HTTP/1.1, with
 * optional GetRecords consumers; the redis mode drives pipelined XADD, one
 * command per record and one batch per round trip, so both peers see the same
 * records per round trip. The sqs mode drives SendMessage(Batch) producers
 * and ReceiveMessage + DeleteMessageBatch consumers over AWS JSON 1.0; every
 * body starts with its send time, so the consumers measure how long a
 * message took from send to receive (see "SQS" below). The sns mode
 * publishes (Publish or PublishBatch, the query protocol) to a topic with K
 * SQS queues subscribed for raw delivery, and the consumers of the sqs mode
 * drain all K queues, so each message is measured K times: once per
 * delivery, from its publish to its receive (see "SNS" below).
 *
 * Without --rate the load is closed-loop: every connection keeps --pipeline
 * requests in flight. With --rate it is open-loop: sends follow a fixed
 * schedule and latency counts from the scheduled time, so a server that
 * stalls cannot hide the stall by slowing the generator down (coordinated
 * omission).
 */

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/codec/doc.h"

#include "load_common.h"

/* Flag limits: generous, but they keep every buffer size computable. */
#define MAX_CONNECTIONS 4096
#define MAX_CONSUMERS 1024
#define MAX_PIPELINE 1024
#define MAX_BATCH 10000
#define MAX_RECORD_SIZE (1u << 20)
#define MAX_SHARDS 100000
#define MAX_DURATION_S 86400.0
#define MAX_INFLIGHT_BYTES (256ull << 20) /* pipeline * batch * record-size */

#define WBUF_MAX (1ull << 30)
#define RBUF_MAX (256ull << 20) /* largest reply we agree to buffer */
#define RBUF_MIN_FREE 65536
#define READS_PER_EVENT 16
#define EVENTS_MAX 256
#define HTTP_HEAD_MAX 1024
#define HTTP_HDR_LIMIT 65536
#define HTTP_LINES_MAX 256
#define PK_LEN 16
#define POOL_RAW_BYTES (3u << 20) /* a multiple of 3 and of 8; LOAD_POOL_LEN once encoded */
#define ITER_MAX 4096
#define SHARD_ID_MAX 256
#define TOKS_INIT 4096u
#define TOKS_MAX (1u << 24)
#define ERR_LOG_MAX 5
#define RESP_DEPTH_MAX 4

#define DRAIN_NS (5 * NS_PER_S)
#define RECONNECT_NS (100 * NS_PER_MS)
#define CONS_EMPTY_NS (10 * NS_PER_MS)
#define CONS_RETRY_NS (200 * NS_PER_MS)
#define CONS_LIMIT 10000
#define CTL_TIMEOUT_S 10
#define CTL_POLL_NS (100 * NS_PER_MS)
#define CTL_POLLS_MAX 600

/* SQS. The limits are AWS's: 10 entries per batch request, 10 messages per
 * receive, a 20 s long poll, a queue name of 80 characters. A body starts
 * with its send time (LOAD_STAMP_LEN digits, see load_common.h). */
#define SQS_BATCH_MAX 10
#define SQS_WAIT_MAX_S 20
#define SQS_BODY_MAX (256u << 10)  /* AWS's default MaximumMessageSize */
#define SQS_NAME_MAX 80
#define SQS_SUFFIX_LEN 22           /* "-" + 10 digits of seconds + "-" + 10 of pid */
#define SQS_URL_MAX 2048            /* QueueUrl as raw JSON text */
#define SQS_RH_MAX 2048             /* one ReceiptHandle as raw JSON text */
#define SQS_DEPTH_MAX 100000000ull
#define SQS_FILL_CONNS 16           /* connections that pre-fill a --depth run */
#define SQS_FILL_PIPELINE 4         /* requests in flight on each of them */
#define SQS_FILL_TIMEOUT_NS (3600 * NS_PER_S)
#define SQS_FILL_ERRORS_MAX 1000    /* failed requests and messages before it gives up */
#define SQS_CTL_BODY_MAX (SQS_URL_MAX + 512)
_Static_assert(SQS_BATCH_MAX <= 10, "batch entry ids are one digit");
_Static_assert(SQS_FILL_PIPELINE <= MAX_PIPELINE, "the fill pipeline is a pipeline");
_Static_assert(SQS_NAME_MAX > SQS_SUFFIX_LEN, "a queue name has room for its run suffix");
_Static_assert(POOL_RAW_BYTES / 3 * 4 == LOAD_POOL_LEN, "SQS bodies come from the encoded pool");

/* SNS. A message is at most 256 KiB, a PublishBatch 10 entries and 256 KiB
 * in all (AWS's limits). SNS_QUEUES_MAX is sluice's subscriptions per topic
 * (SL_SNS_SUBS_PER_TOPIC_MAX); set-up makes each queue and subscription in
 * turn, one round trip after another, so many more would be slow anyway. */
#define SNS_QUEUES_MAX 1000
#define SNS_NAME_MAX 50             /* base name: the run suffix and "-<k>" follow */
#define SNS_ARN_MAX 512             /* a topic or queue ARN */
#define SNS_ARN_FORM_MAX (3 * SNS_ARN_MAX) /* percent-encoded, for a form */
#define SNS_FORM_BODY_MAX (4 * SNS_ARN_MAX + 512)
_Static_assert(SNS_NAME_MAX + SQS_SUFFIX_LEN + 5 <= SQS_NAME_MAX,
	       "a queue name has room for the run suffix and its number");
_Static_assert(SNS_QUEUES_MAX <= 9999, "a queue number is at most 4 digits");
_Static_assert(SQS_BATCH_MAX <= 99, "a batch member number is at most 2 digits");

/* The server does not check signatures, but AWS-style peers (kinesalite)
 * insist that the Authorization header is well formed and that a date
 * header exists. */
#define AMZ_DATE "20260101T000000Z"
#define AMZ_AUTH_FOR(svc)                                                           \
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/" svc "/aws4_request, " \
	"SignedHeaders=host;x-amz-date, Signature=0"

#define LIT_LEN(s) (sizeof(s) - 1)
#define PUT_LIT(q, s) put_mem((q), (s), LIT_LEN(s))

#define KIN_BODY_HEAD "{\"StreamName\":\""
#define KIN_BODY_RECS "\",\"Records\":["
#define KIN_REC_HEAD "{\"Data\":\""
#define KIN_REC_PK "\",\"PartitionKey\":\""
#define KIN_REC_TAIL "\"}"
#define KIN_BODY_TAIL "]}"

#define SQS_URL_HEAD "{\"QueueUrl\":\""
#define SQS_ENTRIES "\",\"Entries\":["
#define SQS_ENTRY_ID "{\"Id\":\""
#define SQS_ENTRY_BODY "\",\"MessageBody\":\""
#define SQS_ENTRY_RH "\",\"ReceiptHandle\":\""
#define SQS_ENTRY_TAIL "\"}"
#define SQS_ENTRIES_TAIL "]}"
#define SQS_ONE_BODY "\",\"MessageBody\":\""
#define SQS_ONE_TAIL "\"}"

/* SNS requests are forms: Action=Publish, or PublishBatch with members
 * numbered from 1; the TopicArn is percent-encoded once at set-up. */
#define SNS_VERSION "&Version=2010-03-31"
#define SNS_PUB_HEAD "Action=Publish" SNS_VERSION "&TopicArn="
#define SNS_PUB_MSG "&Message="
#define SNS_BATCH_HEAD "Action=PublishBatch" SNS_VERSION "&TopicArn="
#define SNS_MEMBER "&PublishBatchRequestEntries.member."
#define SNS_MEMBER_ID ".Id="
#define SNS_MEMBER_MSG ".Message="

enum load_mode { MODE_KINESIS, MODE_REDIS, MODE_SQS, MODE_SNS };
/* ROLE_SEND and ROLE_RECV are the SQS producer and consumer, ROLE_PUB the
 * SNS producer (its consumers are ROLE_RECV). */
enum conn_role { ROLE_PUT, ROLE_XADD, ROLE_GET, ROLE_SEND, ROLE_RECV, ROLE_PUB };
enum conn_state { ST_WAIT, ST_CONNECTING, ST_READY };
/* Kinesis consumers walk LIST, ITER, GET; SQS consumers alternate RECV, DEL. */
enum cons_step { CONS_LIST, CONS_ITER, CONS_GET, CONS_DONE, CONS_RECV, CONS_DEL };
/* A --depth run fills the queue first, then measures consumers alone. */
enum load_phase { PHASE_RUN, PHASE_FILL, PHASE_DRAIN };

struct sl_opts {
	enum load_mode mode;
	char endpoint[256]; /* as given: also the Host header */
	char host[256];
	char port[16];
	char stream[129];
	char queue[SQS_NAME_MAX + 1]; /* sqs: the base name; each run adds a suffix */
	uint32_t shards;
	uint32_t connections;         /* producers */
	uint32_t batch;
	uint32_t record_size;
	uint32_t consumers;
	uint32_t pipeline;
	bool create;
	double duration_s;
	double rate;
	const char *json_path;
	uint32_t recv_batch;  /* sqs: MaxNumberOfMessages */
	uint32_t wait_s;      /* sqs: WaitTimeSeconds */
	uint32_t fill_conns;  /* sqs --depth: connections that pre-fill */
	uint64_t depth;       /* sqs: pre-fill this many, then consumers only */
	bool keep_queue;      /* sqs: do not delete the queue at the end (sns: topic and queues) */
	bool refill;          /* sqs --depth: keep the depth while measuring */
	char topic[SNS_NAME_MAX + 1]; /* sns: the base name of the topic and its queues */
	uint32_t queues;      /* sns: queues subscribed to the topic */
};

struct sl_buf {
	uint8_t *p;
	size_t off; /* first byte not yet consumed (read) or sent (write) */
	size_t len; /* end of the data */
	size_t cap;
};

/* Incremental HTTP/1.1 response parser state. Offsets are relative to the
 * first byte of the response, so the buffer may move or grow underneath. */
struct sl_http_rx {
	size_t hdr_scan; /* bytes already searched for the blank line */
	size_t hdr_len;  /* status line + headers + blank line; 0 until seen */
	size_t body_len; /* Content-Length, or bytes de-chunked so far */
	size_t scan;     /* chunked: offset of the next chunk-size line */
	int status;
	bool chunked;
	bool until_eof;
	bool close;
};

struct sl_stats {
	uint64_t records;  /* acknowledged records */
	uint64_t failed;   /* records rejected or lost */
	uint64_t requests; /* completed requests (batches) */
	uint64_t errors;   /* failed requests and connection errors */
	uint64_t cons_records;
	uint64_t cons_bytes;
	uint64_t cons_requests;
	uint64_t cons_errors;
	uint64_t cons_deleted;    /* sqs: messages received and then deleted */
	uint64_t cons_del_failed; /* sqs: deletes refused, per entry */
	uint64_t cons_empty;      /* sqs: receives that got no message */
	uint64_t cons_bad_body;   /* sqs: bodies without a send time */
};

struct sl_conn {
	int fd;
	uint8_t role;  /* enum conn_role */
	uint8_t state; /* enum conn_state */
	uint8_t step;  /* enum cons_step, consumers only */
	bool want_out; /* EPOLLOUT is armed */
	bool served;   /* at least one reply since connecting */
	uint32_t idx;  /* index among the connections of its role */
	uint32_t inflight;
	uint32_t ring_cap;   /* producers: requests in flight at most (ring slots) */
	uint32_t ring_head;  /* ring slot of the oldest in-flight request */
	uint32_t resp_got;   /* redis: replies seen for the oldest batch */
	uint32_t resp_failed;
	uint64_t wake_ns;      /* ST_WAIT: reconnect time; consumer: next request */
	uint64_t next_send_ns; /* --rate: scheduled time of the next batch */
	uint64_t *ring;        /* producers: scheduled send time per in-flight request */
	uint8_t *ring_n;       /* sqs producers: messages per in-flight request */
	uint32_t nrh;          /* sqs consumers: receipt handles held */
	uint16_t *rh_len;      /* sqs consumers: their lengths, recv_batch of them */
	char *rh;              /* sqs consumers: recv_batch slots of SQS_RH_MAX */
	uint32_t qi;           /* sns consumers: the queue they are at (sns_queues index) */
	struct sl_buf wbuf;
	struct sl_buf rbuf;
	struct sl_http_rx rx;
	char shard_id[SHARD_ID_MAX];
	char iter[ITER_MAX];
};

/* One of the topic's queues: its URL as raw JSON text (pasted into the
 * consumers' requests as is) and its name. */
struct sns_queue {
	char url[SQS_URL_MAX];
	size_t url_len;
	char name[SQS_NAME_MAX + 1];
};

struct sl_load {
	struct sl_opts opt;
	int ep;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct sl_conn *conns;
	uint32_t nconns;
	struct sl_stats st;
	struct sl_stats st_prev; /* at the last progress line */
	struct load_hist *hist_all;
	struct load_hist *hist_sec;
	uint8_t *pool_raw;
	uint8_t *pool_b64;
	uint64_t rng;
	struct sl_doc_tok *toks;
	uint32_t toks_cap;
	size_t put_body_len;
	char xadd_head[256];
	size_t xadd_head_len;
	size_t xadd_cmd_len;
	uint64_t interval_ns; /* --rate: gap between one connection's batches */
	uint64_t put_inflight;
	uint64_t start_ns;
	uint64_t end_ns; /* planned end of the load */
	uint64_t stop_ns;
	uint64_t last_done_ns;
	uint64_t last_report_ns;
	uint64_t unsent;
	bool stopping;
	uint32_t err_logged;
	/* Request framing, per mode. */
	const char *content_type;
	const char *target_prefix;
	const char *auth;
	/* SQS. The connections of the running phase are conns[act_lo..act_hi). */
	uint8_t phase;                /* enum load_phase */
	uint32_t act_lo;
	uint32_t act_hi;
	uint64_t del_inflight;        /* DeleteMessageBatch requests in flight */
	uint64_t fill_left;           /* PHASE_FILL: messages not yet put in a request */
	struct load_hist *e2e_all;      /* send to receive, per message */
	struct load_hist *e2e_sec;
	char queue_name[SQS_NAME_MAX + 1];
	char queue_url[SQS_URL_MAX];  /* raw JSON text, pasted into requests as is */
	size_t queue_url_len;
	size_t sqs_entry_len;         /* one SendMessageBatch entry */
	uint64_t fill_sent;           /* the pre-fill: messages acknowledged */
	uint64_t fill_failed;
	double fill_s;
	long long depth_seen;         /* ApproximateNumberOfMessages after it; -1 unknown */
	struct sl_buf ctl_rb;         /* the last SQS control reply */
	/* SNS. The topic's ARN goes into every publish percent-encoded; the
	 * queues are made (and subscribed) one after another at set-up. */
	char topic_name[SQS_NAME_MAX + 1];
	char topic_arn[SNS_ARN_MAX];
	char topic_arn_form[SNS_ARN_FORM_MAX];
	size_t topic_arn_form_len;
	struct sns_queue *sns_queues; /* opt.queues of them */
	uint32_t sns_made;            /* queues created so far (deleted at the end) */
	size_t pub_body_len;          /* one Publish or PublishBatch form */
	long long backlog_end;        /* messages ready in the queues after the run; -1 unknown */
};

const char load_prog[] = "sluice-load";

static volatile sig_atomic_t g_stop;

static const char usage_text[] =
	"usage:\n"
	"  sluice-load kinesis [--endpoint HOST:PORT] [--stream NAME] [--shards N] [--create]\n"
	"                      [--connections C] [--batch B] [--record-size BYTES] [--duration S]\n"
	"                      [--rate RECORDS_PER_S] [--consumers N] [--pipeline D] [--json-summary FILE]\n"
	"  sluice-load redis   [--endpoint HOST:PORT] [--stream NAME] [--connections C] [--batch B]\n"
	"                      [--record-size BYTES] [--duration S] [--rate R] [--pipeline D]\n"
	"                      [--json-summary FILE]\n"
	"  sluice-load sqs     [--endpoint HOST:PORT] [--queue NAME] [--producers N] [--consumers M]\n"
	"                      [--batch B] [--recv-batch R] [--wait S] [--record-size BYTES]\n"
	"                      [--duration S] [--rate R] [--pipeline D] [--depth N]\n"
	"                      [--refill] [--fill-connections F] [--keep-queue]\n"
	"                      [--json-summary FILE]\n"
	"  sluice-load sns     [--endpoint HOST:PORT] [--topic NAME] [--queues K] [--producers N]\n"
	"                      [--consumers M] [--batch B] [--recv-batch R] [--wait S]\n"
	"                      [--record-size BYTES] [--duration S] [--rate R] [--pipeline D]\n"
	"                      [--keep-queue] [--json-summary FILE]\n"
	"  sluice-load udp     ... and udp-sink ...: UDP ingest producers, and a bare recvmmsg\n"
	"                      receiver (see sluice-load udp --help)\n"
	"\n"
	"kinesis: each connection sends PutRecords of B records (default endpoint 127.0.0.1:4566).\n"
	"redis:   each connection sends B pipelined XADDs per round trip (default 127.0.0.1:6379).\n"
	"sqs:     N producers send SendMessage (B = 1) or SendMessageBatch of B (2..10) messages;\n"
	"         M consumers loop ReceiveMessage (R messages, S s long poll) then\n"
	"         DeleteMessageBatch of what they got (default endpoint 127.0.0.1:4566). Each run\n"
	"         creates queue NAME-<time>-<pid> and deletes it at the end. Defaults: 4 producers,\n"
	"         4 consumers, B 10, R 10, S 20. A body starts with its send time, so the report\n"
	"         gives end-to-end messages/s (received and deleted) and send-to-receive latency.\n"
	"sns:     each run creates topic NAME-<time>-<pid> and K queues NAME-<time>-<pid>-<k>, each\n"
	"         subscribed with RawMessageDelivery, over the wire, and deletes them at the end.\n"
	"         N producers send Publish (B = 1) or PublishBatch of B (2..10) to the topic; M\n"
	"         consumers (default one per queue, at least 4) drain the queues as in sqs mode,\n"
	"         a consumer taking its queues in turn when there are fewer consumers than queues.\n"
	"         The report gives publishes/s, deliveries/s (received and deleted, K per\n"
	"         publish) and the latency of each delivery from its publish. Defaults: K 10,\n"
	"         4 producers, B 10, R 10, S 20.\n"
	"\n"
	"  --endpoint HOST:PORT  server address ([v6]:PORT works too)\n"
	"  --stream NAME         stream name, [A-Za-z0-9_.-]{1,128} (default sluice-bench)\n"
	"  --shards N            shards for --create (default 4)\n"
	"  --create              CreateStream first (an existing stream is fine), wait until ACTIVE;\n"
	"                        with --duration 0 only create\n"
	"  --connections C       producer connections (default 4)\n"
	"  --batch B             records per request (default 100)\n"
	"  --record-size BYTES   random payload bytes per record (default 100)\n"
	"  --duration S          seconds of load (default 10)\n"
	"  --rate R              open loop: offer R records/s in total; latency counts from the\n"
	"                        scheduled send time. Default: closed loop\n"
	"  --consumers N         kinesis: N more connections reading shards round-robin with\n"
	"                        GetShardIterator(LATEST) + GetRecords (default 0)\n"
	"  --pipeline D          requests (batches) in flight per connection (default 1)\n"
	"  --producers N         the same as --connections\n"
	"  --queue NAME          sqs: base queue name, [A-Za-z0-9_-]{1,58} (default sluice-bench)\n"
	"  --recv-batch R        sqs: MaxNumberOfMessages per receive, 1..10 (default 10)\n"
	"  --wait S              sqs: WaitTimeSeconds per receive, 0..20 (default 20)\n"
	"  --depth N             sqs: the depth test. Pre-fill the queue with N messages over\n"
	"                        --fill-connections connections, then run the consumers alone\n"
	"                        for --duration and report their receive+delete rate\n"
	"                        (or until the queue is empty, whichever comes first)\n"
	"  --refill              sqs --depth: while the consumers run, the pre-fill connections\n"
	"                        send one message for each one deleted, so the queue stays at N\n"
	"  --fill-connections F  sqs --depth: connections that pre-fill, 4 requests in flight\n"
	"                        on each (default 16)\n"
	"  --keep-queue          sqs: leave the queue in place at the end (sns: topic and queues)\n"
	"  --topic NAME          sns: base name, [A-Za-z0-9_-]{1,50} (default sluice-bench)\n"
	"  --queues K            sns: queues subscribed to the topic, 1..1000 (default 10)\n"
	"  --json-summary FILE   also write the summary as JSON\n"
	"  --help                this text\n"
	"\n"
	"Latency is per request (one batch), in ms. MB/s counts payload bytes (10^6 bytes).\n"
	"sqs latency is per message, from its send (its scheduled send with --rate) to its\n"
	"receive; the send latency per request is reported too. sns latency is per delivery,\n"
	"from the publish (scheduled with --rate, which counts messages published) to the\n"
	"receive from one queue; the publish round trip is reported too.\n"
	"Exit status: 0 ok, 1 setup failed, 2 bad flags, 3 no record was acknowledged.\n";

/* The first signal ends the run (the summary still prints); a second one
 * also skips waiting for the replies still in flight. */
static void on_signal(int sig)
{
	(void)sig;
	g_stop = g_stop + 1;
}

/* Sleep ns, resumed after a signal unless the run is stopping (so not
 * sleep_until, which any signal ends). */
static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / NS_PER_S), .tv_nsec = (long)(ns % NS_PER_S) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_stop)
		;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ---- buffers ---- */

/* Make room for `need` more bytes after len, compacting consumed bytes away
 * first; growth doubles so a steady load stops allocating quickly. */
static int buf_reserve(struct sl_buf *b, size_t need, size_t limit)
{
	size_t cap;
	uint8_t *p;

	if (b->cap - b->len >= need)
		return 0;
	if (b->off > 0) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->cap - b->len >= need)
			return 0;
	}
	cap = b->cap ? b->cap : 4096;
	for (int i = 0; i < 64 && cap - b->len < need; i++)
		cap *= 2;
	if (cap > limit)
		cap = limit;
	if (cap < b->len || cap - b->len < need)
		return -1;
	p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void buf_consume(struct sl_buf *b, size_t n)
{
	assert(n <= b->len - b->off);
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

static uint8_t *put_mem(uint8_t *q, const void *s, size_t n)
{
	memcpy(q, s, n);
	return q + n;
}

/* ---- base64 and payloads ---- */

static size_t b64_len(size_t n)
{
	return 4 * ((n + 2) / 3);
}

static size_t b64_encode(uint8_t *out, const uint8_t *in, size_t n)
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = (uint8_t)b64_alphabet[v >> 18];
		out[o++] = (uint8_t)b64_alphabet[(v >> 12) & 63];
		out[o++] = (uint8_t)b64_alphabet[(v >> 6) & 63];
		out[o++] = (uint8_t)b64_alphabet[v & 63];
	}
	if (i < n) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = (uint8_t)b64_alphabet[v >> 18];
		out[o++] = (uint8_t)b64_alphabet[(v >> 12) & 63];
		out[o++] = (i + 1 < n) ? (uint8_t)b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	return o;
}

/* Bytes a base64 string token decodes to, without decoding it. */
static uint64_t b64_decoded_len(const struct sl_doc_tok *t)
{
	uint64_t n;

	if (t->type != SL_DOC_STR || t->len < 4)
		return 0;
	n = t->len / 4 * 3;
	if (t->ptr[t->len - 1] == '=')
		n--;
	if (t->ptr[t->len - 2] == '=')
		n--;
	return n;
}

/* Payloads are slices of one random pool, base64-encoded once at start:
 * a slice that starts on a 3-byte boundary is a plain copy of the encoded
 * pool, and only its last partial group is encoded per record. This keeps
 * the generator cheap next to the server on a small machine. */
static int pool_init(struct sl_load *ld)
{
	uint64_t *w;

	ld->pool_raw = malloc(POOL_RAW_BYTES);
	ld->pool_b64 = malloc(b64_len(POOL_RAW_BYTES));
	if (!ld->pool_raw || !ld->pool_b64)
		return -1;
	w = (uint64_t *)(void *)ld->pool_raw;
	for (size_t i = 0; i < POOL_RAW_BYTES / 8; i++)
		w[i] = rng_next(&ld->rng);
	b64_encode(ld->pool_b64, ld->pool_raw, POOL_RAW_BYTES);
	return 0;
}

static uint8_t *put_b64_record(struct sl_load *ld, uint8_t *q)
{
	size_t rs = ld->opt.record_size;
	size_t k = rng_next(&ld->rng) % ((POOL_RAW_BYTES - rs) / 3 + 1);
	size_t full = rs / 3;

	q = put_mem(q, ld->pool_b64 + 4 * k, 4 * full);
	if (rs % 3)
		q += b64_encode(q, ld->pool_raw + 3 * k + 3 * full, rs % 3);
	return q;
}

static uint8_t *put_pkey(uint8_t *q, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < PK_LEN; i++) {
		q[i] = (uint8_t)hex[v & 15];
		v >>= 4;
	}
	return q + PK_LEN;
}

/* ---- requests ---- */

/* The request head of the mode's protocol: Kinesis on JSON 1.1, SQS on
 * JSON 1.0 (load_setup picks the strings). */
static size_t http_head(const struct sl_load *ld, char *out, const char *op, size_t body_len)
{
	int n = snprintf(out, HTTP_HEAD_MAX,
			 "POST / HTTP/1.1\r\n"
			 "Host: %s\r\n"
			 "Content-Type: %s\r\n"
			 "X-Amz-Target: %s%s\r\n"
			 "X-Amz-Date: " AMZ_DATE "\r\n"
			 "Authorization: %s\r\n"
			 "Content-Length: %zu\r\n"
			 "\r\n",
			 ld->opt.endpoint, ld->content_type, ld->target_prefix, op, ld->auth,
			 body_len);

	assert(n > 0 && n < HTTP_HEAD_MAX);
	return (size_t)n;
}

static int http_request(const struct sl_load *ld, struct sl_buf *b, const char *op,
			const char *body, size_t body_len)
{
	size_t h;

	if (buf_reserve(b, HTTP_HEAD_MAX + body_len, WBUF_MAX))
		return -1;
	h = http_head(ld, (char *)b->p + b->len, op, body_len);
	memcpy(b->p + b->len + h, body, body_len);
	b->len += h + body_len;
	return 0;
}

/* The body length is known before writing it (fixed-size keys and
 * payloads), so the body goes straight into the write buffer. */
static void put_body_len_init(struct sl_load *ld)
{
	const struct sl_opts *o = &ld->opt;
	size_t rec = LIT_LEN(KIN_REC_HEAD) + b64_len(o->record_size) + LIT_LEN(KIN_REC_PK) +
		     PK_LEN + LIT_LEN(KIN_REC_TAIL);

	ld->put_body_len = LIT_LEN(KIN_BODY_HEAD) + strlen(o->stream) + LIT_LEN(KIN_BODY_RECS) +
			   o->batch * rec + (o->batch - 1) + LIT_LEN(KIN_BODY_TAIL);
}

static int put_build(struct sl_load *ld, struct sl_buf *b)
{
	const struct sl_opts *o = &ld->opt;
	uint8_t *p, *q;
	size_t h;

	if (buf_reserve(b, HTTP_HEAD_MAX + ld->put_body_len, WBUF_MAX))
		return -1;
	p = b->p + b->len;
	h = http_head(ld, (char *)p, "PutRecords", ld->put_body_len);
	q = PUT_LIT(p + h, KIN_BODY_HEAD);
	q = put_mem(q, o->stream, strlen(o->stream));
	q = PUT_LIT(q, KIN_BODY_RECS);
	for (uint32_t i = 0; i < o->batch; i++) {
		if (i)
			*q++ = ',';
		q = PUT_LIT(q, KIN_REC_HEAD);
		q = put_b64_record(ld, q);
		q = PUT_LIT(q, KIN_REC_PK);
		q = put_pkey(q, rng_next(&ld->rng));
		q = PUT_LIT(q, KIN_REC_TAIL);
	}
	q = PUT_LIT(q, KIN_BODY_TAIL);
	assert((size_t)(q - p) == h + ld->put_body_len);
	b->len += (size_t)(q - p);
	return 0;
}

static void xadd_init(struct sl_load *ld)
{
	const struct sl_opts *o = &ld->opt;
	int n = snprintf(ld->xadd_head, sizeof(ld->xadd_head),
			 "*5\r\n$4\r\nXADD\r\n$%zu\r\n%s\r\n$1\r\n*\r\n$1\r\nd\r\n$%u\r\n",
			 strlen(o->stream), o->stream, o->record_size);

	assert(n > 0 && (size_t)n < sizeof(ld->xadd_head));
	ld->xadd_head_len = (size_t)n;
	ld->xadd_cmd_len = ld->xadd_head_len + o->record_size + 2;
}

static int xadd_build(struct sl_load *ld, struct sl_buf *b)
{
	size_t rs = ld->opt.record_size, off;
	uint8_t *p, *q;

	if (buf_reserve(b, ld->xadd_cmd_len * ld->opt.batch, WBUF_MAX))
		return -1;
	p = q = b->p + b->len;
	for (uint32_t i = 0; i < ld->opt.batch; i++) {
		off = rng_next(&ld->rng) % (POOL_RAW_BYTES - rs + 1);
		q = put_mem(q, ld->xadd_head, ld->xadd_head_len);
		q = put_mem(q, ld->pool_raw + off, rs);
		q = PUT_LIT(q, "\r\n");
	}
	assert((size_t)(q - p) == ld->xadd_cmd_len * ld->opt.batch);
	b->len += (size_t)(q - p);
	return 0;
}

/* ---- HTTP response parsing ---- */

static bool mem_has_icase(const uint8_t *s, size_t n, const char *word)
{
	size_t w = strlen(word);

	for (size_t i = 0; i + w <= n; i++)
		if (strncasecmp((const char *)s + i, word, w) == 0)
			return true;
	return false;
}

/* Parse a decimal (optionally negative) integer that fills s[0..n). */
static int parse_dec(const uint8_t *s, size_t n, long long *out)
{
	bool neg = n > 0 && s[0] == '-';
	long long v = 0;
	size_t i = neg ? 1 : 0;

	if (i == n || n > 18)
		return -1;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

static int http_header(struct sl_http_rx *rx, const uint8_t *name, size_t nlen,
		       const uint8_t *val, size_t vlen)
{
	long long cl;

	if (nlen == 14 && strncasecmp((const char *)name, "content-length", 14) == 0) {
		if (parse_dec(val, vlen, &cl) || cl < 0 || (unsigned long long)cl > RBUF_MAX)
			return -1;
		rx->body_len = (size_t)cl;
		rx->until_eof = false;
	} else if (nlen == 17 && strncasecmp((const char *)name, "transfer-encoding", 17) == 0) {
		rx->chunked = mem_has_icase(val, vlen, "chunked");
	} else if (nlen == 10 && strncasecmp((const char *)name, "connection", 10) == 0) {
		if (mem_has_icase(val, vlen, "close"))
			rx->close = true;
		else if (mem_has_icase(val, vlen, "keep-alive"))
			rx->close = false;
	}
	return 0;
}

/* Walk the header lines between the status line and the blank line. */
static int http_header_lines(struct sl_http_rx *rx, const uint8_t *p)
{
	const uint8_t *line = (const uint8_t *)memchr(p, '\n', rx->hdr_len) + 1;
	const uint8_t *end = p + rx->hdr_len - 2;

	for (int i = 0; i < HTTP_LINES_MAX && line < end; i++) {
		const uint8_t *eol = memchr(line, '\n', (size_t)(end - line) + 1);
		const uint8_t *colon, *v, *ve;

		if (!eol || eol == line || eol[-1] != '\r')
			return -1;
		colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon || colon == line)
			return -1;
		v = colon + 1;
		ve = eol - 1;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (http_header(rx, line, (size_t)(colon - line), v, (size_t)(ve - v)))
			return -1;
		line = eol + 1;
	}
	return line >= end ? 0 : -1;
}

/* Returns 1 once the header block is parsed, 0 for more input, -1 if bad. */
static int http_parse_head(struct sl_http_rx *rx, const uint8_t *p, size_t n)
{
	size_t from = rx->hdr_scan > 3 ? rx->hdr_scan - 3 : 0;
	const uint8_t *e = memmem(p + from, n - from, "\r\n\r\n", 4);
	long long status;

	if (!e) {
		rx->hdr_scan = n;
		return n > HTTP_HDR_LIMIT ? -1 : 0;
	}
	rx->hdr_len = (size_t)(e - p) + 4;
	if (rx->hdr_len < 16 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
		return -1;
	if (parse_dec(p + 9, 3, &status) || status < 100 || (p[12] != ' ' && p[12] != '\r'))
		return -1;
	rx->status = (int)status;
	rx->close = p[7] == '0'; /* HTTP/1.0 closes unless told otherwise */
	rx->until_eof = true;
	if (http_header_lines(rx, p))
		return -1;
	if (rx->chunked || rx->status < 200 || rx->status == 204 || rx->status == 304) {
		/* Chunked wins over a Content-Length; the body grows as it is de-chunked. */
		rx->until_eof = false;
		rx->body_len = 0;
	}
	return 1;
}

/* After the last chunk: an empty line, or trailer lines and an empty line. */
static long http_trailer(const uint8_t *p, size_t n, size_t t)
{
	const uint8_t *e;

	if (n - t < 2)
		return 0;
	if (p[t] == '\r' && p[t + 1] == '\n')
		return (long)(t + 2);
	e = memmem(p + t, n - t, "\r\n\r\n", 4);
	if (e)
		return (long)(e - p) + 4;
	return n - t > HTTP_HDR_LIMIT ? -1 : 0;
}

/* De-chunk in place: each complete chunk's data moves down to the end of the
 * body so far, which always lies before the chunk, and the caller then sees
 * one contiguous body right after the headers. */
static long http_dechunk(struct sl_http_rx *rx, uint8_t *p, size_t n)
{
	if (rx->scan == 0)
		rx->scan = rx->hdr_len;
	for (size_t i = 0; i < n && rx->scan < n; i++) {
		size_t s = rx->scan, size = 0, k, data;
		const uint8_t *nl = memmem(p + s, n - s, "\r\n", 2);

		if (!nl)
			return n - s > 1024 ? -1 : 0;
		for (k = s; p + k < nl && k - s < 16; k++) {
			int d = p[k] >= '0' && p[k] <= '9' ? p[k] - '0' :
				(p[k] | 0x20) >= 'a' && (p[k] | 0x20) <= 'f' ? (p[k] | 0x20) - 'a' + 10 : -1;
			if (d < 0)
				break;
			size = size * 16 + (size_t)d;
		}
		if (k == s || size > RBUF_MAX || (p + k < nl && p[k] != ';' && p[k] != ' '))
			return -1;
		data = (size_t)(nl - p) + 2;
		if (size == 0)
			return http_trailer(p, n, data);
		if (n < data + size + 2)
			return 0;
		if (p[data + size] != '\r' || p[data + size + 1] != '\n')
			return -1;
		memmove(p + rx->hdr_len + rx->body_len, p + data, size);
		rx->body_len += size;
		rx->scan = data + size + 2;
	}
	return 0;
}

/* Feed the bytes of one response (p[0..n)). Returns its total length once
 * complete (the body is at p + hdr_len, body_len bytes), 0 when more input is
 * needed, -1 when it is malformed. Interim 1xx responses come back alone. */
static long http_rx_feed(struct sl_http_rx *rx, uint8_t *p, size_t n, bool eof)
{
	int r;

	if (rx->hdr_len == 0) {
		r = http_parse_head(rx, p, n);
		if (r <= 0)
			return r;
	}
	if (rx->status < 200)
		return (long)rx->hdr_len;
	if (rx->chunked)
		return http_dechunk(rx, p, n);
	if (rx->until_eof) {
		if (!eof)
			return n - rx->hdr_len > RBUF_MAX ? -1 : 0;
		rx->body_len = n - rx->hdr_len;
		return (long)n;
	}
	if (n - rx->hdr_len < rx->body_len)
		return 0;
	return (long)(rx->hdr_len + rx->body_len);
}

/* ---- RESP parsing ---- */

/* Length of the one RESP reply at p[0..n), 0 if incomplete, -1 if malformed.
 * Sets *is_err for an error reply anywhere inside it. */
static long resp_skip(const uint8_t *p, size_t n, int depth, bool *is_err)
{
	const uint8_t *nl = memchr(p, '\n', n);
	long long v;
	size_t line, off;
	long r;

	if (!nl)
		return n > HTTP_HDR_LIMIT ? -1 : 0;
	line = (size_t)(nl - p) + 1;
	if (line < 3 || nl[-1] != '\r')
		return -1;
	switch (p[0]) {
	case '-':
		*is_err = true;
		return (long)line;
	case '+':
	case ':':
		return (long)line;
	case '$':
		if (parse_dec(p + 1, line - 3, &v) || v < -1 || (unsigned long long)(v + 1) > RBUF_MAX)
			return -1;
		if (v < 0)
			return (long)line;
		if (n < line + (size_t)v + 2)
			return 0;
		return (p[line + v] == '\r' && p[line + v + 1] == '\n') ? (long)(line + (size_t)v + 2) : -1;
	case '*':
		if (parse_dec(p + 1, line - 3, &v) || v < -1 || v > 1024 || depth >= RESP_DEPTH_MAX)
			return -1;
		off = line;
		for (long long i = 0; i < v; i++) {
			r = resp_skip(p + off, n - off, depth + 1, is_err);
			if (r <= 0)
				return r;
			off += (size_t)r;
		}
		return (long)off;
	default:
		return -1;
	}
}

/* ---- JSON helpers ---- */

/* Parse into the shared token array, growing it when a reply is bigger
 * than any before (GetRecords replies can hold 10,000 records). */
static int json_parse(struct sl_load *ld, const uint8_t *p, size_t n)
{
	struct sl_doc_tok *t;
	int r = SL_DOC_TOO_BIG;

	for (int i = 0; i < 16; i++) {
		r = sl_json_parse(p, n, ld->toks, ld->toks_cap);
		if (r != SL_DOC_TOO_BIG || ld->toks_cap >= TOKS_MAX)
			break;
		t = realloc(ld->toks, 2 * (size_t)ld->toks_cap * sizeof(*t));
		if (!t)
			break;
		ld->toks = t;
		ld->toks_cap *= 2;
	}
	if (r > 0 && ld->toks[0].type != SL_DOC_OBJ)
		return SL_DOC_INVALID;
	return r;
}

/* Index of string member `key` of object `obj`, or -1. */
static int json_str_member(const struct sl_load *ld, uint32_t obj, const char *key)
{
	int v = sl_doc_get(ld->toks, obj, key);

	return (v >= 0 && ld->toks[v].type == SL_DOC_STR) ? v : -1;
}

/* Copy a string member's raw JSON text (still escaped) into out, so it can
 * be pasted back into a request as is. */
static bool json_copy_raw(const struct sl_load *ld, uint32_t obj, const char *key, char *out,
			  size_t cap)
{
	int v = json_str_member(ld, obj, key);

	if (v < 0 || ld->toks[v].len >= cap)
		return false;
	memcpy(out, ld->toks[v].ptr, ld->toks[v].len);
	out[ld->toks[v].len] = '\0';
	return true;
}

/* Does the error reply's __type mention `what`? Needs a parsed reply. */
static bool json_error_is(const struct sl_load *ld, const char *what)
{
	int v = json_str_member(ld, 0, "__type");

	return v >= 0 && mem_has_icase(ld->toks[v].ptr, ld->toks[v].len, what);
}

/* Print the first few failures in full: a run full of errors is usually a
 * setup problem that one message explains. */
static void log_failure(struct sl_load *ld, const char *what, int status, const uint8_t *body,
			size_t len)
{
	char text[241];
	size_t n = len < sizeof(text) - 1 ? len : sizeof(text) - 1;

	if (ld->err_logged >= ERR_LOG_MAX)
		return;
	if (++ld->err_logged == ERR_LOG_MAX)
		fprintf(stderr, "sluice-load: (further errors are counted, not printed)\n");
	for (size_t i = 0; i < n; i++)
		text[i] = (body[i] >= 0x20 && body[i] < 0x7f) ? (char)body[i] : '.';
	text[n] = '\0';
	if (status)
		fprintf(stderr, "sluice-load: %s: HTTP %d %s\n", what, status, text);
	else
		fprintf(stderr, "sluice-load: %s%s%s\n", what, n ? ": " : "", text);
}

/* ---- connections ---- */

static int conn_flush(struct sl_load *ld, struct sl_conn *c, uint64_t now);
static void cons_send(struct sl_load *ld, struct sl_conn *c, uint64_t now);

static void conn_arm(struct sl_load *ld, struct sl_conn *c, bool want_out)
{
	struct epoll_event ev = { .events = EPOLLIN | (want_out ? EPOLLOUT : 0u), .data.ptr = c };

	if (c->want_out == want_out)
		return;
	if (epoll_ctl(ld->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
		perror("sluice-load: epoll_ctl");
		abort();
	}
	c->want_out = want_out;
}

static bool is_producer(const struct sl_conn *c)
{
	return c->role == ROLE_PUT || c->role == ROLE_XADD || c->role == ROLE_SEND ||
	       c->role == ROLE_PUB;
}

/* Records (messages) in a producer's in-flight requests. */
static uint64_t inflight_records(const struct sl_load *ld, const struct sl_conn *c)
{
	uint64_t n = 0;

	if (!c->ring_n)
		return (uint64_t)c->inflight * ld->opt.batch;
	for (uint32_t i = 0; i < c->inflight; i++)
		n += c->ring_n[(c->ring_head + i) % c->ring_cap];
	return n;
}

static void conn_close(struct sl_load *ld, struct sl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (is_producer(c)) {
		assert(ld->put_inflight >= c->inflight);
		ld->put_inflight -= c->inflight;
	} else if (c->role == ROLE_RECV) {
		/* A lost delete leaves its messages to come back after their
		 * visibility timeout; the consumer starts over with a receive. */
		if (c->step == CONS_DEL && c->inflight) {
			assert(ld->del_inflight > 0);
			ld->del_inflight--;
		}
		c->step = CONS_RECV;
		c->nrh = 0;
	}
	c->fd = -1;
	c->state = ST_WAIT;
	c->want_out = false;
	c->served = false;
	c->inflight = 0;
	c->ring_head = 0;
	c->resp_got = 0;
	c->resp_failed = 0;
	c->wbuf.off = c->wbuf.len = 0;
	c->rbuf.off = c->rbuf.len = 0;
	memset(&c->rx, 0, sizeof(c->rx));
}

/* A broken connection loses its in-flight requests; it reconnects after a
 * pause so a dead server costs a few wakeups a second, not a busy loop. */
static void conn_fail(struct sl_load *ld, struct sl_conn *c, uint64_t now, const char *why)
{
	uint32_t lost = c->inflight;
	uint64_t lost_records;

	if (!is_producer(c)) {
		ld->st.cons_errors++;
	} else {
		lost_records = inflight_records(ld, c);
		ld->st.errors += lost ? lost : 1;
		ld->st.failed += lost_records;
		/* The pre-fill sends them again: the depth is what it measures. */
		if (ld->phase != PHASE_RUN)
			ld->fill_left += lost_records;
	}
	if (!ld->stopping)
		log_failure(ld, why, 0, (const uint8_t *)"", 0);
	conn_close(ld, c);
	c->wake_ns = now + RECONNECT_NS;
}

/* The server closed (or announced it would). Requests still in flight are
 * lost and count as errors. A connection that had served replies reconnects
 * at once (servers may cap requests per connection); one that never did is
 * treated like a refused connect and waits. */
static void conn_end(struct sl_load *ld, struct sl_conn *c, uint64_t now)
{
	bool served = c->served;

	if (c->inflight || !served || c->rbuf.len > c->rbuf.off)
		conn_fail(ld, c, now, "server closed the connection");
	else
		conn_close(ld, c);
	if (served)
		c->wake_ns = now;
}

/* Note an in-flight request: its scheduled send time t and, for SQS, the
 * n messages it carries. */
static void ring_push(struct sl_load *ld, struct sl_conn *c, uint64_t t, uint32_t n)
{
	uint32_t slot = (c->ring_head + c->inflight) % c->ring_cap;

	assert(c->inflight < c->ring_cap);
	assert(!c->ring_n || n <= SQS_BATCH_MAX);
	c->ring[slot] = t;
	if (c->ring_n)
		c->ring_n[slot] = (uint8_t)n;
	c->inflight++;
	ld->put_inflight++;
}

/* The oldest in-flight request's send time; *n gets its message count. */
static uint64_t ring_pop(struct sl_load *ld, struct sl_conn *c, uint32_t *n)
{
	uint64_t t = c->ring[c->ring_head];

	assert(c->inflight > 0);
	assert(ld->put_inflight > 0);
	*n = c->ring_n ? c->ring_n[c->ring_head] : ld->opt.batch;
	c->ring_head = (c->ring_head + 1) % c->ring_cap;
	c->inflight--;
	ld->put_inflight--;
	return t;
}

static int sqs_send_build(struct sl_load *ld, struct sl_buf *b, uint32_t n, uint64_t t);
static int sns_pub_build(struct sl_load *ld, struct sl_buf *b, uint64_t t);

/* Messages the next SQS request carries: a batch, or what is left to
 * send of the pre-fill (or the refill); 0 when nothing is. */
static uint32_t sqs_next_count(struct sl_load *ld)
{
	uint32_t n = ld->phase == PHASE_RUN ? ld->opt.batch : SQS_BATCH_MAX;

	if (ld->phase == PHASE_RUN)
		return n;
	if (ld->fill_left < n)
		n = (uint32_t)ld->fill_left;
	ld->fill_left -= n;
	return n;
}

/* Append one producer request stamped t; n gets the records it carries
 * (0: nothing was left to send). Returns 0 or -1 when out of memory. */
static int producer_build(struct sl_load *ld, struct sl_conn *c, uint64_t t, uint32_t *n)
{
	*n = ld->opt.batch;
	if (c->role == ROLE_PUT)
		return put_build(ld, &c->wbuf);
	if (c->role == ROLE_XADD)
		return xadd_build(ld, &c->wbuf);
	if (c->role == ROLE_PUB)
		return sns_pub_build(ld, &c->wbuf, t);
	*n = sqs_next_count(ld);
	return *n ? sqs_send_build(ld, &c->wbuf, *n, t) : 0;
}

/* Top a producer up to --pipeline requests in flight. In --rate mode only
 * batches whose scheduled time has come go out, stamped with that time. */
static void conn_fill(struct sl_load *ld, struct sl_conn *c, uint64_t now)
{
	uint32_t sent = 0, n;
	uint64_t t;
	int r;

	assert(c->state == ST_READY);
	assert(is_producer(c));
	while (c->inflight < c->ring_cap && !ld->stopping) {
		t = now;
		if (ld->opt.rate > 0 && ld->phase == PHASE_RUN) {
			if (c->next_send_ns > now || c->next_send_ns >= ld->end_ns)
				break;
			t = c->next_send_ns;
			c->next_send_ns += ld->interval_ns;
		}
		r = producer_build(ld, c, t, &n);
		if (r) {
			fprintf(stderr, "sluice-load: out of memory for requests\n");
			exit(1);
		}
		if (n == 0)
			break;
		ring_push(ld, c, t, n);
		sent++;
	}
	if (sent)
		conn_flush(ld, c, now);
}

static void conn_ready(struct sl_load *ld, struct sl_conn *c, uint64_t now)
{
	c->state = ST_READY;
	conn_arm(ld, c, false);
	if (is_producer(c))
		conn_fill(ld, c, now);
	else if (c->step != CONS_DONE && !ld->stopping)
		cons_send(ld, c, now);
}

static void conn_open(struct sl_load *ld, struct sl_conn *c, uint64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	int one = 1;

	assert(c->fd < 0 && c->state == ST_WAIT);
	c->fd = socket(ld->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		c->wake_ns = now + RECONNECT_NS;
		log_failure(ld, "socket failed", 0, (const uint8_t *)"", 0);
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (epoll_ctl(ld->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		perror("sluice-load: epoll_ctl");
		abort();
	}
	c->want_out = true;
	c->state = ST_CONNECTING;
	if (connect(c->fd, (struct sockaddr *)&ld->addr, ld->addr_len) == 0)
		conn_ready(ld, c, now);
	else if (errno != EINPROGRESS)
		conn_fail(ld, c, now, strerror(errno));
}

static int conn_flush(struct sl_load *ld, struct sl_conn *c, uint64_t now)
{
	struct sl_buf *b = &c->wbuf;
	ssize_t r;

	for (int i = 0; i < 64 && b->off < b->len; i++) {
		r = send(c->fd, b->p + b->off, b->len - b->off, MSG_NOSIGNAL);
		if (r > 0) {
			buf_consume(b, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		conn_fail(ld, c, now, r < 0 ? strerror(errno) : "send wrote nothing");
		return -1;
	}
	conn_arm(ld, c, b->off < b->len);
	return 0;
}

/* ---- replies ---- */

/* Records of a 200 PutRecords reply that failed, or -1 if it is unusable.
 * A record is acknowledged only when its own entry carries no ErrorCode. */
static long put_failed_records(struct sl_load *ld, const uint8_t *body, size_t len)
{
	const struct sl_doc_tok *t;
	int f, r;
	uint32_t e;
	long failed = 0;

	/* Parse first: a bigger reply may move the token array. */
	if (json_parse(ld, body, len) <= 0)
		return -1;
	t = ld->toks;
	f = sl_doc_get(t, 0, "FailedRecordCount");
	r = sl_doc_get(t, 0, "Records");
	if (r < 0 || t[r].type != SL_DOC_ARR || t[r].count != ld->opt.batch)
		return -1;
	if (f >= 0 && t[f].type == SL_DOC_INT && t[f].i == 0)
		return 0;
	e = sl_doc_first((uint32_t)r);
	for (uint32_t i = 0; i < t[r].count; i++) {
		if (t[e].type != SL_DOC_OBJ || sl_doc_get(t, e, "ErrorCode") >= 0)
			failed++;
		e = sl_doc_next(t, e);
	}
	return failed;
}

static void on_put_reply(struct sl_load *ld, struct sl_conn *c, uint64_t now, int status,
			 const uint8_t *body, size_t len)
{
	uint32_t nrec;
	uint64_t t0 = ring_pop(ld, c, &nrec);
	long failed = status == 200 ? put_failed_records(ld, body, len) : -1;

	ld->last_done_ns = now;
	if (failed < 0) {
		ld->st.errors++;
		ld->st.failed += nrec;
		log_failure(ld, "PutRecords failed", status, body, len);
		return;
	}
	ld->st.requests++;
	ld->st.records += nrec - (uint64_t)failed;
	ld->st.failed += (uint64_t)failed;
	hist_record(ld->hist_all, (now - t0) / NS_PER_US);
	hist_record(ld->hist_sec, (now - t0) / NS_PER_US);
}

static bool cons_on_list(struct sl_load *ld, struct sl_conn *c)
{
	const struct sl_doc_tok *t = ld->toks;
	int s = sl_doc_get(t, 0, "Shards");
	uint32_t e, pick;

	if (s < 0 || t[s].type != SL_DOC_ARR || t[s].count == 0)
		return false;
	pick = c->idx % t[s].count;
	e = sl_doc_first((uint32_t)s);
	for (uint32_t i = 0; i < pick; i++)
		e = sl_doc_next(t, e);
	if (t[e].type != SL_DOC_OBJ || !json_copy_raw(ld, e, "ShardId", c->shard_id, SHARD_ID_MAX))
		return false;
	c->step = CONS_ITER;
	return true;
}

static bool cons_on_records(struct sl_load *ld, struct sl_conn *c, uint64_t now)
{
	const struct sl_doc_tok *t = ld->toks;
	int r = sl_doc_get(t, 0, "Records");
	int d;
	uint32_t e;

	if (r < 0 || t[r].type != SL_DOC_ARR)
		return false;
	e = sl_doc_first((uint32_t)r);
	for (uint32_t i = 0; i < t[r].count; i++) {
		d = t[e].type == SL_DOC_OBJ ? sl_doc_get(t, e, "Data") : -1;
		if (d >= 0)
			ld->st.cons_bytes += b64_decoded_len(&t[d]);
		e = sl_doc_next(t, e);
	}
	ld->st.cons_records += t[r].count;
	/* A closed shard has no next iterator: this consumer is done. */
	if (!json_copy_raw(ld, 0, "NextShardIterator", c->iter, ITER_MAX))
		c->step = CONS_DONE;
	/* An empty read means the consumer caught up: poll gently rather than
	 * take CPU from the producers on a small machine. */
	c->wake_ns = t[r].count ? now : now + CONS_EMPTY_NS;
	return true;
}

static void on_cons_reply(struct sl_load *ld, struct sl_conn *c, uint64_t now, int status,
			  const uint8_t *body, size_t len)
{
	bool parsed = json_parse(ld, body, len) > 0, ok = false;
	uint8_t step = c->step;

	c->inflight = 0;
	c->wake_ns = now;
	ld->st.cons_requests++;
	if (status == 200 && parsed) {
		if (step == CONS_LIST) {
			ok = cons_on_list(ld, c);
		} else if (step == CONS_ITER) {
			ok = json_copy_raw(ld, 0, "ShardIterator", c->iter, ITER_MAX) && c->iter[0];
			if (ok)
				c->step = CONS_GET;
		} else {
			ok = cons_on_records(ld, c, now);
		}
	}
	if (ok)
		return;
	ld->st.cons_errors++;
	log_failure(ld, "consumer request failed", status, body, len);
	if (parsed && json_error_is(ld, "ExpiredIterator"))
		c->step = CONS_ITER;
	else if (parsed && json_error_is(ld, "ResourceNotFound"))
		c->step = CONS_LIST;
	c->iter[0] = '\0';
	c->wake_ns = now + CONS_RETRY_NS;
}

static void sqs_cons_send(struct sl_load *ld, struct sl_conn *c, uint64_t now);

static void cons_send(struct sl_load *ld, struct sl_conn *c, uint64_t now)
{
	char body[ITER_MAX + 512];
	const char *op;
	int n;

	assert(c->state == ST_READY && c->inflight == 0);
	if (c->role == ROLE_RECV) {
		sqs_cons_send(ld, c, now);
		return;
	}
	if (c->step == CONS_LIST) {
		op = "ListShards";
		n = snprintf(body, sizeof(body), "{\"StreamName\":\"%s\"}", ld->opt.stream);
	} else if (c->step == CONS_ITER) {
		c->iter[0] = '\0';
		op = "GetShardIterator";
		n = snprintf(body, sizeof(body),
			     "{\"StreamName\":\"%s\",\"ShardId\":\"%s\",\"ShardIteratorType\":\"LATEST\"}",
			     ld->opt.stream, c->shard_id);
	} else if (c->step == CONS_GET) {
		op = "GetRecords";
		n = snprintf(body, sizeof(body), "{\"ShardIterator\":\"%s\",\"Limit\":%d}", c->iter,
			     CONS_LIMIT);
	} else {
		return;
	}
	assert(n > 0 && (size_t)n < sizeof(body));
	if (http_request(ld, &c->wbuf, op, body, (size_t)n)) {
		fprintf(stderr, "sluice-load: out of memory for requests\n");
		exit(1);
	}
	c->inflight = 1;
	conn_flush(ld, c, now);
}

/* ---- SQS ---- */

/* A body: the stamp, then random base64 text from the encoded pool up to
 * --record-size bytes. Base64 needs no JSON escape, so the body goes into
 * a request as is. */
static uint8_t *put_sqs_body(struct sl_load *ld, uint8_t *q, uint64_t t)
{
	return body_put(q, ld->opt.record_size, t, ld->pool_b64, &ld->rng);
}

/* The send time at the start of a received body (raw JSON text: digits
 * are never escaped), or -1 when it has none. */
static int64_t parse_stamp(const struct sl_doc_tok *t)
{
	return t->type == SL_DOC_STR ? stamp_parse(t->ptr, t->len) : -1;
}

/* Whether a request goes out as SendMessage: one message per request
 * outside the depth test, which always batches. */
static bool sqs_single(const struct sl_load *ld)
{
	return ld->phase == PHASE_RUN && ld->opt.batch == 1;
}

static void sqs_lengths_init(struct sl_load *ld)
{
	ld->sqs_entry_len = LIT_LEN(SQS_ENTRY_ID) + 1 + LIT_LEN(SQS_ENTRY_BODY) +
			    ld->opt.record_size + LIT_LEN(SQS_ENTRY_TAIL);
}

static size_t sqs_send_body_len(const struct sl_load *ld, uint32_t n)
{
	size_t head = LIT_LEN(SQS_URL_HEAD) + ld->queue_url_len;

	if (sqs_single(ld))
		return head + LIT_LEN(SQS_ONE_BODY) + ld->opt.record_size + LIT_LEN(SQS_ONE_TAIL);
	return head + LIT_LEN(SQS_ENTRIES) + n * ld->sqs_entry_len + (n - 1) +
	       LIT_LEN(SQS_ENTRIES_TAIL);
}

/* SendMessage, or SendMessageBatch of n entries with ids "0".."9", every
 * body stamped t. Written straight into the buffer: the length is known. */
static int sqs_send_build(struct sl_load *ld, struct sl_buf *b, uint32_t n, uint64_t t)
{
	size_t body_len = sqs_send_body_len(ld, n), h;
	bool single = sqs_single(ld);
	uint8_t *p, *q;

	assert(n >= 1 && n <= SQS_BATCH_MAX);
	if (buf_reserve(b, HTTP_HEAD_MAX + body_len, WBUF_MAX))
		return -1;
	p = b->p + b->len;
	h = http_head(ld, (char *)p, single ? "SendMessage" : "SendMessageBatch", body_len);
	q = PUT_LIT(p + h, SQS_URL_HEAD);
	q = put_mem(q, ld->queue_url, ld->queue_url_len);
	if (single) {
		q = PUT_LIT(q, SQS_ONE_BODY);
		q = put_sqs_body(ld, q, t);
		q = PUT_LIT(q, SQS_ONE_TAIL);
	} else {
		q = PUT_LIT(q, SQS_ENTRIES);
		for (uint32_t i = 0; i < n; i++) {
			if (i)
				*q++ = ',';
			q = PUT_LIT(q, SQS_ENTRY_ID);
			*q++ = (uint8_t)('0' + i);
			q = PUT_LIT(q, SQS_ENTRY_BODY);
			q = put_sqs_body(ld, q, t);
			q = PUT_LIT(q, SQS_ENTRY_TAIL);
		}
		q = PUT_LIT(q, SQS_ENTRIES_TAIL);
	}
	assert((size_t)(q - p) == h + body_len);
	b->len += (size_t)(q - p);
	return 0;
}

/* Entries of a 200 batch reply's "Successful" list, or -1 when the reply
 * is unusable (no list, or more entries than the request had). */
static long sqs_batch_ok(struct sl_load *ld, const uint8_t *body, size_t len, uint32_t n)
{
	const struct sl_doc_tok *t;
	int s;

	if (json_parse(ld, body, len) <= 0)
		return -1;
	t = ld->toks;
	s = sl_doc_get(t, 0, "Successful");
	if (s < 0 || t[s].type != SL_DOC_ARR || t[s].count > n)
		return -1;
	return t[s].count;
}

/* Messages a send stored: SendMessage answers a MessageId. */
static long sqs_sent_ok(struct sl_load *ld, const uint8_t *body, size_t len, uint32_t n)
{
	if (!sqs_single(ld))
		return sqs_batch_ok(ld, body, len, n);
	if (json_parse(ld, body, len) <= 0)
		return -1;
	return json_str_member(ld, 0, "MessageId") >= 0 ? 1 : -1;
}

static void on_send_reply(struct sl_load *ld, struct sl_conn *c, uint64_t now, int status,
			  const uint8_t *body, size_t len)
{
	uint32_t n;
	uint64_t t0 = ring_pop(ld, c, &n);
	long ok = status == 200 ? sqs_sent_ok(ld, body, len, n) : -1;

	ld->last_done_ns = now;
	if (ok < 0) {
		ld->st.errors++;
		ld->st.failed += n;
		if (ld->phase != PHASE_RUN)
			ld->fill_left += n;
		log_failure(ld, sqs_single(ld) ? "SendMessage failed" : "SendMessageBatch failed",
			    status, body, len);
		return;
	}
	ld->st.requests++;
	ld->st.records += (uint64_t)ok;
	ld->st.failed += n - (uint64_t)ok;
	if (ld->phase != PHASE_RUN)
		ld->fill_left += n - (uint64_t)ok;
	if ((uint64_t)ok < n)
		log_failure(ld, "SendMessageBatch entries failed", status, body, len);
	hist_record(ld->hist_all, (now - t0) / NS_PER_US);
	hist_record(ld->hist_sec, (now - t0) / NS_PER_US);
}

static void conn_fill(struct sl_load *ld, struct sl_conn *c, uint64_t now);

/* The queue URL a consumer's requests name (raw JSON text): the sqs
 * mode's one queue, or the sns queue the consumer is at. */
static const char *cons_url(const struct sl_load *ld, const struct sl_conn *c, size_t *len)
{
	const struct sns_queue *q;

	if (ld->opt.mode != MODE_SNS) {
		*len = ld->queue_url_len;
		return ld->queue_url;
	}
	assert(c->qi < ld->opt.queues);
	q = &ld->sns_queues[c->qi];
	*len = q->url_len;
	return q->url;
}

/* An sns consumer with several queues moves on to its next one after a
 * delete and after a receive that found nothing, so each of its queues
 * gets its turn. Never between a receive and its delete: the receipt
 * handles belong to the queue. */
static void cons_next_queue(const struct sl_load *ld, struct sl_conn *c)
{
	assert(c->step == CONS_RECV);
	if (ld->opt.mode == MODE_SNS)
		c->qi = fanout_queue_next(c->qi, c->idx, ld->opt.consumers, ld->opt.queues);
}

/* --refill: send one message for each one deleted, so the depth stays
 * where the pre-fill left it; the idle pre-fill connections pick them up. */
static void sqs_refill(struct sl_load *ld, uint64_t n, uint64_t now)
{
	struct sl_conn *c;

	ld->fill_left += n;
	for (uint32_t i = ld->opt.consumers; i < ld->act_hi && ld->fill_left; i++) {
		c = &ld->conns[i];
		if (c->state == ST_READY && c->inflight < c->ring_cap)
			conn_fill(ld, c, now);
	}
}

/* Take one received message: its latency from the stamp, its receipt
 * handle into the next free slot. */
static void sqs_take(struct sl_load *ld, struct sl_conn *c, uint32_t m, uint64_t now)
{
	const struct sl_doc_tok *t = ld->toks;
	int b = json_str_member(ld, m, "Body");
	int h = json_str_member(ld, m, "ReceiptHandle");
	int64_t stamp = b >= 0 ? parse_stamp(&t[b]) : -1;
	uint64_t us;

	if (b >= 0)
		ld->st.cons_bytes += t[b].len;
	if (stamp < 0) {
		ld->st.cons_bad_body++;
	} else {
		us = stamp_age_us((uint64_t)stamp, now);
		hist_record(ld->e2e_all, us);
		hist_record(ld->e2e_sec, us);
	}
	if (h < 0 || t[h].len == 0 || t[h].len >= SQS_RH_MAX || c->nrh >= ld->opt.recv_batch) {
		ld->st.cons_errors++;
		log_failure(ld, "received message without a usable ReceiptHandle", 0,
			    (const uint8_t *)"", 0);
		return;
	}
	memcpy(c->rh + (size_t)c->nrh * SQS_RH_MAX, t[h].ptr, t[h].len);
	c->rh_len[c->nrh++] = (uint16_t)t[h].len;
}

/* A ReceiveMessage reply: "Messages" may be absent or empty (a long poll
 * that timed out). Returns false when the reply is unusable. */
static bool sqs_on_messages(struct sl_load *ld, struct sl_conn *c, uint64_t now)
{
	const struct sl_doc_tok *t = ld->toks;
	int arr = sl_doc_get(t, 0, "Messages");
	uint32_t m;

	if (arr >= 0 && t[arr].type == SL_DOC_NULL)
		arr = -1;
	if (arr >= 0 && (t[arr].type != SL_DOC_ARR || t[arr].count > ld->opt.recv_batch))
		return false;
	c->nrh = 0;
	if (arr < 0 || t[arr].count == 0) {
		ld->st.cons_empty++;
		cons_next_queue(ld, c);
		/* Without a long poll an empty queue would be a busy loop. */
		c->wake_ns = ld->opt.wait_s ? now : now + CONS_EMPTY_NS;
		return true;
	}
	m = sl_doc_first((uint32_t)arr);
	for (uint32_t i = 0; i < t[arr].count; i++) {
		if (t[m].type == SL_DOC_OBJ)
			sqs_take(ld, c, m, now);
		else
			ld->st.cons_errors++;
		m = sl_doc_next(t, m);
	}
	ld->st.cons_records += t[arr].count;
	if (c->nrh)
		c->step = CONS_DEL;
	return true;
}

static void sqs_on_deleted(struct sl_load *ld, struct sl_conn *c, uint64_t now, int status,
			   const uint8_t *body, size_t len)
{
	long ok = status == 200 ? sqs_batch_ok(ld, body, len, c->nrh) : -1;

	assert(ld->del_inflight > 0);
	ld->del_inflight--;
	ld->last_done_ns = now;
	if (ok < 0) {
		ld->st.cons_errors++;
		ok = 0;
		log_failure(ld, "DeleteMessageBatch failed", status, body, len);
	} else if ((uint32_t)ok < c->nrh) {
		log_failure(ld, "DeleteMessageBatch entries failed", status, body, len);
	}
	ld->st.cons_deleted += (uint64_t)ok;
	ld->st.cons_del_failed += c->nrh - (uint64_t)ok;
	c->nrh = 0;
	c->step = CONS_RECV;
	cons_next_queue(ld, c);
	if (ld->phase == PHASE_DRAIN && ld->opt.refill && ok > 0)
		sqs_refill(ld, (uint64_t)ok, now);
}

static void on_sqs_cons_reply(struct sl_load *ld, struct sl_conn *c, uint64_t now, int status,
			      const uint8_t *body, size_t len)
{
	c->inflight = 0;
	c->wake_ns = now;
	ld->st.cons_requests++;
	if (c->step == CONS_DEL) {
		sqs_on_deleted(ld, c, now, status, body, len);
		return;
	}
	if (status == 200 && json_parse(ld, body, len) > 0 && sqs_on_messages(ld, c, now))
		return;
	ld->st.cons_errors++;
	log_failure(ld, "ReceiveMessage failed", status, body, len);
	c->wake_ns = now + CONS_RETRY_NS;
}

/* DeleteMessageBatch of the receipt handles held, straight into the
 * write buffer. Returns 0 or -1 when out of memory. */
static int sqs_delete_build(struct sl_load *ld, struct sl_conn *c)
{
	struct sl_buf *b = &c->wbuf;
	size_t url_len;
	const char *url = cons_url(ld, c, &url_len);
	size_t body_len = LIT_LEN(SQS_URL_HEAD) + url_len + LIT_LEN(SQS_ENTRIES) +
			  (c->nrh - 1) + LIT_LEN(SQS_ENTRIES_TAIL), h;
	uint8_t *p, *q;

	assert(c->nrh >= 1 && c->nrh <= SQS_BATCH_MAX);
	for (uint32_t i = 0; i < c->nrh; i++)
		body_len += LIT_LEN(SQS_ENTRY_ID) + 1 + LIT_LEN(SQS_ENTRY_RH) + c->rh_len[i] +
			    LIT_LEN(SQS_ENTRY_TAIL);
	if (buf_reserve(b, HTTP_HEAD_MAX + body_len, WBUF_MAX))
		return -1;
	p = b->p + b->len;
	h = http_head(ld, (char *)p, "DeleteMessageBatch", body_len);
	q = PUT_LIT(p + h, SQS_URL_HEAD);
	q = put_mem(q, url, url_len);
	q = PUT_LIT(q, SQS_ENTRIES);
	for (uint32_t i = 0; i < c->nrh; i++) {
		if (i)
			*q++ = ',';
		q = PUT_LIT(q, SQS_ENTRY_ID);
		*q++ = (uint8_t)('0' + i);
		q = PUT_LIT(q, SQS_ENTRY_RH);
		q = put_mem(q, c->rh + (size_t)i * SQS_RH_MAX, c->rh_len[i]);
		q = PUT_LIT(q, SQS_ENTRY_TAIL);
	}
	q = PUT_LIT(q, SQS_ENTRIES_TAIL);
	assert((size_t)(q - p) == h + body_len);
	b->len += (size_t)(q - p);
	return 0;
}

/* The consumer's next request: a receive, or the delete of what the last
 * receive got. */
static void sqs_cons_send(struct sl_load *ld, struct sl_conn *c, uint64_t now)
{
	char body[SQS_CTL_BODY_MAX];
	size_t url_len;
	int n, r;

	assert(c->state == ST_READY);
	assert(c->inflight == 0);
	if (c->step == CONS_DEL) {
		r = sqs_delete_build(ld, c);
		ld->del_inflight += r == 0;
	} else {
		n = snprintf(body, sizeof(body),
			     SQS_URL_HEAD "%s\",\"MaxNumberOfMessages\":%u,\"WaitTimeSeconds\":%u}",
			     cons_url(ld, c, &url_len), ld->opt.recv_batch, ld->opt.wait_s);
		assert(n > 0 && (size_t)n < sizeof(body));
		r = http_request(ld, &c->wbuf, "ReceiveMessage", body, (size_t)n);
	}
	if (r) {
		fprintf(stderr, "sluice-load: out of memory for requests\n");
		exit(1);
	}
	c->inflight = 1;
	conn_flush(ld, c, now);
}

/* ---- SNS ---- */

/* A request head for the query protocol (a form; no X-Amz-Target). */
static size_t form_head(const struct sl_load *ld, char *out, size_t body_len)
{
	int n = snprintf(out, HTTP_HEAD_MAX,
			 "POST / HTTP/1.1\r\n"
			 "Host: %s\r\n"
			 "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
			 "X-Amz-Date: " AMZ_DATE "\r\n"
			 "Authorization: " AMZ_AUTH_FOR("sns") "\r\n"
			 "Content-Length: %zu\r\n"
			 "\r\n",
			 ld->opt.endpoint, body_len);

	assert(n > 0 && n < HTTP_HEAD_MAX);
	return (size_t)n;
}

static int form_request(const struct sl_load *ld, struct sl_buf *b, const char *body,
			size_t body_len)
{
	size_t h;

	if (buf_reserve(b, HTTP_HEAD_MAX + body_len, WBUF_MAX))
		return -1;
	h = form_head(ld, (char *)b->p + b->len, body_len);
	memcpy(b->p + b->len + h, body, body_len);
	b->len += h + body_len;
	return 0;
}

/* Percent-encode s[0..n) as a form value: all but A-Z a-z 0-9 - _ . ~.
 * Returns the length written (and a NUL after it), or 0 when it does not
 * fit cap. */
static size_t form_escape(char *out, size_t cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t ch = (uint8_t)s[i];

		if (o + 4 > cap)
			return 0;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return o;
}

/* A form value may carry '-' and '_' as they are, but '+' would read as
 * a space and '/' wants escaping: sns bodies use base64's URL-safe
 * alphabet, which JSON and XML also take as it is. */
static void sns_pool_url_safe(struct sl_load *ld)
{
	for (size_t i = 0; i < LOAD_POOL_LEN; i++) {
		if (ld->pool_b64[i] == '+')
			ld->pool_b64[i] = '-';
		else if (ld->pool_b64[i] == '/')
			ld->pool_b64[i] = '_';
	}
}

/* Digits of a batch member number, 1..99. */
static size_t member_digits(uint32_t no)
{
	assert(no >= 1 && no <= 99);
	return no >= 10 ? 2 : 1;
}

static uint8_t *put_member_no(uint8_t *q, uint32_t no)
{
	if (member_digits(no) == 2)
		*q++ = (uint8_t)('0' + no / 10);
	*q++ = (uint8_t)('0' + no % 10);
	return q;
}

/* Every publish has opt.batch messages of record_size bytes: Publish for
 * one, PublishBatch with ids "0".."9" for more. Its length is known once
 * the topic's ARN is. */
static void sns_pub_body_len_init(struct sl_load *ld)
{
	const struct sl_opts *o = &ld->opt;
	size_t len;

	if (o->batch == 1) {
		ld->pub_body_len = LIT_LEN(SNS_PUB_HEAD) + ld->topic_arn_form_len +
				   LIT_LEN(SNS_PUB_MSG) + o->record_size;
		return;
	}
	len = LIT_LEN(SNS_BATCH_HEAD) + ld->topic_arn_form_len;
	for (uint32_t i = 1; i <= o->batch; i++)
		len += 2 * (LIT_LEN(SNS_MEMBER) + member_digits(i)) + LIT_LEN(SNS_MEMBER_ID) + 1 +
		       LIT_LEN(SNS_MEMBER_MSG) + o->record_size;
	ld->pub_body_len = len;
}

/* Publish or PublishBatch, every message stamped t, straight into the
 * write buffer. Returns 0 or -1 when out of memory. */
static int sns_pub_build(struct sl_load *ld, struct sl_buf *b, uint64_t t)
{
	uint32_t n = ld->opt.batch;
	uint8_t *p, *q;
	size_t h;

	assert(n >= 1 && n <= SQS_BATCH_MAX);
	assert(ld->topic_arn_form_len > 0);
	if (buf_reserve(b, HTTP_HEAD_MAX + ld->pub_body_len, WBUF_MAX))
		return -1;
	p = b->p + b->len;
	h = form_head(ld, (char *)p, ld->pub_body_len);
	q = n == 1 ? PUT_LIT(p + h, SNS_PUB_HEAD) : PUT_LIT(p + h, SNS_BATCH_HEAD);
	q = put_mem(q, ld->topic_arn_form, ld->topic_arn_form_len);
	if (n == 1) {
		q = PUT_LIT(q, SNS_PUB_MSG);
		q = put_sqs_body(ld, q, t);
	}
	for (uint32_t i = 0; n > 1 && i < n; i++) {
		q = put_member_no(PUT_LIT(q, SNS_MEMBER), i + 1);
		q = PUT_LIT(q, SNS_MEMBER_ID);
		*q++ = (uint8_t)('0' + i);
		q = put_member_no(PUT_LIT(q, SNS_MEMBER), i + 1);
		q = PUT_LIT(q, SNS_MEMBER_MSG);
		q = put_sqs_body(ld, q, t);
	}
	assert((size_t)(q - p) == h + ld->pub_body_len);
	b->len += (size_t)(q - p);
	return 0;
}

/* The text of the first <tag>..</tag> of an XML reply, *len its length;
 * NULL when there is none. The values read here are ARNs and ids, which
 * need no entity: a value with '&' or '<' in it is refused, not decoded. */
static const uint8_t *xml_text(const uint8_t *p, size_t n, const char *tag, size_t *len)
{
	char open[64], close[64];
	int no = snprintf(open, sizeof(open), "<%s>", tag);
	int nc = snprintf(close, sizeof(close), "</%s>", tag);
	const uint8_t *v, *e;

	assert(no > 0 && (size_t)no < sizeof(open));
	assert(nc > 0 && (size_t)nc < sizeof(close));
	v = memmem(p, n, open, (size_t)no);
	if (!v)
		return NULL;
	v += no;
	e = memmem(v, n - (size_t)(v - p), close, (size_t)nc);
	if (!e || memchr(v, '&', (size_t)(e - v)) || memchr(v, '<', (size_t)(e - v)))
		return NULL;
	*len = (size_t)(e - v);
	return v;
}

/* Messages a 200 publish reply says were published: Publish answers a
 * MessageId; PublishBatch one per entry in Successful (which may be
 * empty, or written <Successful/>). -1 when the reply is unusable. */
static long sns_pub_ok(const uint8_t *body, size_t len, uint32_t n)
{
	const uint8_t *s, *e, *at;
	size_t vlen;
	long ok = 0;

	if (n == 1)
		return xml_text(body, len, "MessageId", &vlen) ? 1 : -1;
	s = memmem(body, len, "<Successful>", LIT_LEN("<Successful>"));
	if (!s)
		return memmem(body, len, "<Successful/>", LIT_LEN("<Successful/>")) ? 0 : -1;
	e = memmem(s, len - (size_t)(s - body), "</Successful>", LIT_LEN("</Successful>"));
	if (!e)
		return -1;
	for (at = s; ok <= SQS_BATCH_MAX; ok++) {
		at = memmem(at, (size_t)(e - at), "<MessageId>", LIT_LEN("<MessageId>"));
		if (!at)
			break;
		at += LIT_LEN("<MessageId>");
	}
	return ok <= (long)n ? ok : -1;
}

static void on_pub_reply(struct sl_load *ld, struct sl_conn *c, uint64_t now, int status,
			 const uint8_t *body, size_t len)
{
	uint32_t n;
	uint64_t t0 = ring_pop(ld, c, &n);
	long ok = status == 200 ? sns_pub_ok(body, len, n) : -1;

	assert(n == ld->opt.batch);
	ld->last_done_ns = now;
	if (ok < 0) {
		ld->st.errors++;
		ld->st.failed += n;
		log_failure(ld, n == 1 ? "Publish failed" : "PublishBatch failed", status, body, len);
		return;
	}
	ld->st.requests++;
	ld->st.records += (uint64_t)ok;
	ld->st.failed += n - (uint64_t)ok;
	if ((uint64_t)ok < n)
		log_failure(ld, "PublishBatch entries failed", status, body, len);
	hist_record(ld->hist_all, (now - t0) / NS_PER_US);
	hist_record(ld->hist_sec, (now - t0) / NS_PER_US);
}

/* Handle every complete HTTP reply in the read buffer. Returns -1 when the
 * connection was closed on the way. */
static int conn_process_http(struct sl_load *ld, struct sl_conn *c, uint64_t now, bool eof)
{
	struct sl_buf *b = &c->rbuf;
	const uint8_t *body;
	bool close_after;
	long r;

	for (uint32_t i = 0; i <= MAX_PIPELINE && b->off < b->len; i++) {
		r = http_rx_feed(&c->rx, b->p + b->off, b->len - b->off, eof);
		if (r == 0)
			return 0;
		if (r < 0 || c->inflight == 0) {
			conn_fail(ld, c, now, r < 0 ? "malformed HTTP reply" : "unexpected HTTP reply");
			return -1;
		}
		body = b->p + b->off + c->rx.hdr_len;
		close_after = c->rx.close;
		if (c->rx.status >= 200) {
			c->served = true;
			if (c->role == ROLE_PUT)
				on_put_reply(ld, c, now, c->rx.status, body, c->rx.body_len);
			else if (c->role == ROLE_SEND)
				on_send_reply(ld, c, now, c->rx.status, body, c->rx.body_len);
			else if (c->role == ROLE_PUB)
				on_pub_reply(ld, c, now, c->rx.status, body, c->rx.body_len);
			else if (c->role == ROLE_RECV)
				on_sqs_cons_reply(ld, c, now, c->rx.status, body, c->rx.body_len);
			else
				on_cons_reply(ld, c, now, c->rx.status, body, c->rx.body_len);
		}
		buf_consume(b, (size_t)r);
		memset(&c->rx, 0, sizeof(c->rx));
		if (close_after) {
			conn_end(ld, c, now);
			return -1;
		}
	}
	return 0;
}

static void xadd_batch_done(struct sl_load *ld, struct sl_conn *c, uint64_t now)
{
	uint32_t nrec;
	uint64_t t0 = ring_pop(ld, c, &nrec);

	assert(nrec == ld->opt.batch);
	ld->st.requests++;
	ld->st.records += ld->opt.batch - c->resp_failed;
	ld->st.failed += c->resp_failed;
	ld->last_done_ns = now;
	hist_record(ld->hist_all, (now - t0) / NS_PER_US);
	hist_record(ld->hist_sec, (now - t0) / NS_PER_US);
	c->resp_got = 0;
	c->resp_failed = 0;
}

static int conn_process_redis(struct sl_load *ld, struct sl_conn *c, uint64_t now)
{
	struct sl_buf *b = &c->rbuf;
	uint64_t limit = (uint64_t)ld->opt.batch * ld->opt.pipeline + 1;
	bool is_err;
	long r;

	for (uint64_t i = 0; i < limit && b->off < b->len; i++) {
		is_err = false;
		r = resp_skip(b->p + b->off, b->len - b->off, 0, &is_err);
		if (r == 0)
			return 0;
		if (r < 0 || c->inflight == 0) {
			conn_fail(ld, c, now, r < 0 ? "malformed RESP reply" : "unexpected RESP reply");
			return -1;
		}
		c->served = true;
		if (is_err) {
			c->resp_failed++;
			log_failure(ld, "XADD failed", 0, b->p + b->off, (size_t)r);
		}
		buf_consume(b, (size_t)r);
		if (++c->resp_got == ld->opt.batch)
			xadd_batch_done(ld, c, now);
	}
	return 0;
}

static void conn_read(struct sl_load *ld, struct sl_conn *c, uint64_t now)
{
	bool eof = false;
	size_t room;
	ssize_t r;
	int rc;

	for (int i = 0; i < READS_PER_EVENT; i++) {
		if (buf_reserve(&c->rbuf, RBUF_MIN_FREE, RBUF_MAX)) {
			conn_fail(ld, c, now, "reply too large");
			return;
		}
		room = c->rbuf.cap - c->rbuf.len;
		r = read(c->fd, c->rbuf.p + c->rbuf.len, room);
		if (r > 0) {
			c->rbuf.len += (size_t)r;
			if ((size_t)r < room)
				break;
			continue;
		}
		if (r == 0) {
			eof = true;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		conn_fail(ld, c, now, strerror(errno));
		return;
	}
	rc = c->role == ROLE_XADD ? conn_process_redis(ld, c, now) : conn_process_http(ld, c, now, eof);
	if (rc < 0)
		return;
	if (eof) {
		conn_end(ld, c, now);
		return;
	}
	/* While stopping, a consumer still deletes what it received, so what
	 * it counted as received is gone from the queue too. */
	if (is_producer(c))
		conn_fill(ld, c, now);
	else if (!c->inflight && c->step != CONS_DONE && c->wake_ns <= now &&
		 (!ld->stopping || c->step == CONS_DEL))
		cons_send(ld, c, now);
}

static void conn_event(struct sl_load *ld, struct sl_conn *c, uint32_t events, uint64_t now)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->state == ST_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err)
			conn_fail(ld, c, now, strerror(err));
		else
			conn_ready(ld, c, now);
		return;
	}
	if (c->state != ST_READY)
		return;
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		conn_read(ld, c, now);
		if (c->state != ST_READY)
			return;
	}
	if (events & EPOLLOUT)
		conn_flush(ld, c, now);
}

/* ---- the run ---- */

/* Fire per-connection timers (reconnects, consumer polls, --rate sends) and
 * return the earliest future deadline. A linear scan: connection counts are
 * small next to the work each wakeup does. */
static uint64_t timers_fire(struct sl_load *ld, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	struct sl_conn *c;

	for (uint32_t i = ld->act_lo; i < ld->act_hi; i++) {
		c = &ld->conns[i];
		if (c->state == ST_WAIT) {
			if (ld->stopping)
				continue;
			if (c->wake_ns <= now)
				conn_open(ld, c, now);
			else
				next = min_u64(next, c->wake_ns);
			continue;
		}
		if (c->state != ST_READY || ld->stopping)
			continue;
		if (!is_producer(c)) {
			if (c->inflight || c->step == CONS_DONE)
				continue;
			if (c->wake_ns <= now)
				cons_send(ld, c, now);
			else
				next = min_u64(next, c->wake_ns);
		} else if (ld->opt.rate > 0 && ld->phase == PHASE_RUN) {
			conn_fill(ld, c, now);
			if (c->state == ST_READY && c->inflight < c->ring_cap)
				next = min_u64(next, c->next_send_ns);
		}
	}
	return next;
}

static void report_second(struct sl_load *ld, uint64_t now)
{
	const struct sl_stats *s = &ld->st, *p = &ld->st_prev;
	double dt = (double)(now - ld->last_report_ns) / 1e9;
	double rps = (double)(s->records - p->records) / dt;
	char p50[32], p99[32], cons[64] = "";

	print_ms(p50, sizeof(p50), ld->hist_sec, 0.50);
	print_ms(p99, sizeof(p99), ld->hist_sec, 0.99);
	if (ld->opt.consumers)
		snprintf(cons, sizeof(cons), "  cons %9.0f rec/s",
			 (double)(s->cons_records - p->cons_records) / dt);
	printf("%6.1fs %10.0f rec/s %9.2f MB/s  p50 %s ms  p99 %s ms  err %" PRIu64 "  fail %" PRIu64
	       "%s\n",
	       (double)(now - ld->start_ns) / 1e9, rps, rps * ld->opt.record_size / 1e6, p50, p99,
	       s->errors - p->errors, s->failed - p->failed, cons);
	fflush(stdout);
	ld->st_prev = ld->st;
	memset(ld->hist_sec, 0, sizeof(*ld->hist_sec));
	ld->last_report_ns = now;
}

static uint64_t sqs_errors(const struct sl_stats *s)
{
	return s->errors + s->failed + s->cons_errors + s->cons_del_failed;
}

/* One line a second; rabbit-load prints the same, so one script reads
 * both (sns: the fan-out line, publishes and deliveries). In the pre-fill
 * only the sends count. */
static void report_second_sqs(struct sl_load *ld, uint64_t now)
{
	const struct sl_stats *s = &ld->st, *p = &ld->st_prev;
	double dt = (double)(now - ld->last_report_ns) / 1e9;
	double at = (double)(now - ld->start_ns) / 1e9;
	double sends = (double)(s->records - p->records) / dt;
	double e2e = (double)(s->cons_deleted - p->cons_deleted) / dt;

	if (ld->phase == PHASE_FILL)
		report_fill_line(at, sends, s->records, ld->opt.depth,
				 sqs_errors(s) - sqs_errors(p));
	else if (ld->opt.mode == MODE_SNS)
		report_fanout_line(at, sends, e2e, ld->e2e_sec, sqs_errors(s) - sqs_errors(p));
	else
		report_e2e_line(at, sends, e2e, ld->e2e_sec, sqs_errors(s) - sqs_errors(p));
	fflush(stdout);
	ld->st_prev = ld->st;
	memset(ld->hist_sec, 0, sizeof(*ld->hist_sec));
	memset(ld->e2e_sec, 0, sizeof(*ld->e2e_sec));
	ld->last_report_ns = now;
}

static void report_tick(struct sl_load *ld, uint64_t now)
{
	if (ld->opt.mode == MODE_SQS || ld->opt.mode == MODE_SNS)
		report_second_sqs(ld, now);
	else
		report_second(ld, now);
}

/* Stop sending. In --rate mode, count the batches the schedule wanted sent
 * before the end that never went out: a sign the offered load was not met.
 * The caller fired the timers at `now` just before, so only batches held
 * back by a full pipeline (or a broken connection) are left. */
static void load_stop(struct sl_load *ld, uint64_t now)
{
	uint64_t end = min_u64(now, ld->end_ns);
	const struct sl_conn *c;

	ld->stopping = true;
	ld->stop_ns = now;
	if (ld->opt.rate <= 0 || ld->phase != PHASE_RUN)
		return;
	for (uint32_t i = ld->act_lo; i < ld->act_hi; i++) {
		c = &ld->conns[i];
		if (is_producer(c) && c->next_send_ns < end)
			ld->unsent += ((end - c->next_send_ns - 1) / ld->interval_ns + 1) * ld->opt.batch;
	}
}

static int wait_events(int ep, struct epoll_event *ev, int max, uint64_t timeout_ns)
{
	static bool no_pwait2;
	struct timespec ts = { .tv_sec = (time_t)(timeout_ns / NS_PER_S),
			       .tv_nsec = (long)(timeout_ns % NS_PER_S) };
	int n;

	if (!no_pwait2) {
		n = epoll_pwait2(ep, ev, max, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		no_pwait2 = true;
	}
	return epoll_wait(ep, ev, max, (int)((timeout_ns + NS_PER_MS - 1) / NS_PER_MS));
}

static void load_start(struct sl_load *ld, uint64_t now)
{
	struct sl_conn *c;
	uint32_t producers = ld->opt.connections;

	ld->start_ns = ld->last_report_ns = now;
	for (uint32_t i = ld->act_lo; i < ld->act_hi; i++) {
		c = &ld->conns[i];
		/* Stagger the schedules so --rate sends spread over time. */
		if (is_producer(c) && producers)
			c->next_send_ns = now + ld->interval_ns / producers * c->idx;
		conn_open(ld, c, now);
	}
}

/* The SQS pre-fill ends once every message is acknowledged; failures put
 * theirs back, and too many of them end it early. */
static bool fill_done(const struct sl_load *ld)
{
	/* Without --refill the depth test ends once the queue is empty. */
	if (ld->phase == PHASE_DRAIN)
		return !ld->opt.refill && ld->st.cons_deleted >= ld->fill_sent;
	if (ld->phase != PHASE_FILL)
		return false;
	if (ld->st.errors + ld->st.failed > SQS_FILL_ERRORS_MAX)
		return true;
	return ld->fill_left == 0 && ld->put_inflight == 0;
}

static void report_tick(struct sl_load *ld, uint64_t now);

/* Run the connections conns[act_lo..act_hi) for duration_ns, then wait
 * up to DRAIN_NS for what is still in flight (sends and deletes; a long
 * poll is left behind). */
static void load_run(struct sl_load *ld, uint64_t duration_ns)
{
	struct epoll_event ev[EVENTS_MAX];
	uint64_t now = now_ns(), end, next, next_report;
	int n;

	end = ld->end_ns = now + duration_ns;
	next_report = now + NS_PER_S;
	load_start(ld, now);
	for (;;) {
		now = now_ns();
		next = timers_fire(ld, now);
		if (!ld->stopping && (now >= end || g_stop || fill_done(ld)))
			load_stop(ld, now);
		if (ld->stopping && ((ld->put_inflight == 0 && ld->del_inflight == 0) ||
				     now >= ld->stop_ns + DRAIN_NS || g_stop > 1))
			break;
		if (now >= next_report && !ld->stopping) {
			report_tick(ld, now);
			next_report += NS_PER_S * ((now - next_report) / NS_PER_S + 1);
		}
		next = min_u64(min_u64(next, next_report), ld->stopping ? ld->stop_ns + DRAIN_NS : end);
		n = wait_events(ld->ep, ev, EVENTS_MAX, next > now ? next - now : 0);
		if (n < 0 && errno != EINTR) {
			perror("sluice-load: epoll_wait");
			exit(1);
		}
		now = now_ns();
		for (int i = 0; i < n; i++)
			conn_event(ld, ev[i].data.ptr, ev[i].events, now);
	}
}

/* ---- the summary ---- */

static double elapsed_s(const struct sl_load *ld)
{
	return elapsed_between(ld->start_ns, ld->stop_ns, ld->last_done_ns);
}

static void summary_print(const struct sl_load *ld)
{
	const struct sl_opts *o = &ld->opt;
	const struct sl_stats *s = &ld->st;
	double el = elapsed_s(ld), rps = (double)s->records / el;
	char per[64];

	printf("\nsluice-load %s %s stream=%s connections=%u batch=%u record-size=%u pipeline=%u ",
	       o->mode == MODE_KINESIS ? "kinesis" : "redis", o->endpoint, o->stream, o->connections,
	       o->batch, o->record_size, o->pipeline);
	if (o->rate > 0)
		printf("rate=%.0f/s\n", o->rate);
	else
		printf("closed-loop\n");
	printf("  records     %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64 " errors, %" PRIu64
	       " requests in %.2f s\n", s->records, s->failed, s->errors, s->requests, el);
	printf("  throughput  %.1f records/s, %.2f MB/s\n", rps, rps * o->record_size / 1e6);
	snprintf(per, sizeof(per), "per request of %u records", o->batch);
	print_hist_line("latency ms", ld->hist_all, per);
	if (o->rate > 0)
		printf("  unsent      %" PRIu64 " records the schedule wanted sent\n", ld->unsent);
	if (o->consumers)
		printf("  consumers   %.1f records/s, %.2f MB/s, %" PRIu64 " errors\n",
		       (double)s->cons_records / el, (double)s->cons_bytes / el / 1e6, s->cons_errors);
	fflush(stdout);
}

static int summary_json(const struct sl_load *ld, const char *path)
{
	const struct sl_opts *o = &ld->opt;
	const struct sl_stats *s = &ld->st;
	double el = elapsed_s(ld), rps = (double)s->records / el;
	FILE *f = summary_open(path);

	if (!f)
		return -1;
	fprintf(f, "{\n  \"tool\": \"sluice-load\",\n  \"mode\": \"%s\",\n  \"endpoint\": \"%s\",\n"
		"  \"stream\": \"%s\",\n  \"connections\": %u,\n  \"batch\": %u,\n"
		"  \"record_size\": %u,\n  \"pipeline\": %u,\n  \"consumers\": %u,\n"
		"  \"rate\": %.1f,\n  \"duration_s\": %.3f,\n  \"elapsed_s\": %.3f,\n",
		o->mode == MODE_KINESIS ? "kinesis" : "redis", o->endpoint, o->stream,
		o->connections, o->batch, o->record_size, o->pipeline, o->consumers, o->rate,
		o->duration_s, el);
	fprintf(f, "  \"records\": %" PRIu64 ",\n  \"failed_records\": %" PRIu64 ",\n"
		"  \"requests\": %" PRIu64 ",\n  \"errors\": %" PRIu64 ",\n"
		"  \"unsent_records\": %" PRIu64 ",\n  \"records_per_s\": %.1f,\n  \"mb_per_s\": %.3f,\n",
		s->records, s->failed, s->requests, s->errors, ld->unsent, rps,
		rps * o->record_size / 1e6);
	json_hist(f, "latency_ms", ld->hist_all, ",");
	fprintf(f, "  \"consumer\": {\"records\": %" PRIu64 ", \"bytes\": %" PRIu64
		", \"records_per_s\": %.1f, \"mb_per_s\": %.3f, \"errors\": %" PRIu64 "}\n}\n",
		s->cons_records, s->cons_bytes, (double)s->cons_records / el,
		(double)s->cons_bytes / el / 1e6, s->cons_errors);
	return summary_close(f, path);
}

/* ---- the SQS summary (rabbit-load writes the same shape) ---- */

/* The depth test without --refill emptied the queue before its end. */
static bool sqs_drained(const struct sl_load *ld)
{
	return ld->phase == PHASE_DRAIN && !ld->opt.refill && ld->fill_sent &&
	       ld->st.cons_deleted >= ld->fill_sent;
}

static void summary_print_sqs(const struct sl_load *ld)
{
	const struct sl_opts *o = &ld->opt;
	const struct sl_stats *s = &ld->st;
	double el = elapsed_s(ld);
	char per[64];

	printf("\nsluice-load sqs %s queue=%s producers=%u consumers=%u batch=%u recv-batch=%u "
	       "wait=%u record-size=%u pipeline=%u ", o->endpoint, ld->queue_name,
	       o->connections, o->consumers, o->batch,
	       o->recv_batch, o->wait_s, o->record_size, o->pipeline);
	if (o->depth)
		printf("depth=%" PRIu64 "%s\n", o->depth, o->refill ? " refill" : "");
	else if (o->rate > 0)
		printf("rate=%.0f/s\n", o->rate);
	else
		printf("closed-loop\n");
	if (o->depth)
		print_fill_summary(ld->fill_sent, ld->fill_failed, ld->fill_s, ld->depth_seen);
	if (o->depth && sqs_drained(ld))
		printf("  drained     the queue was empty after %.3f s, before --duration\n", el);
	printf("  sent        %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64 " errors, %" PRIu64
	       " requests in %.2f s\n", s->records, s->failed, s->errors, s->requests, el);
	printf("  received    %" PRIu64 ", deleted %" PRIu64 ", %" PRIu64 " delete failures, %"
	       PRIu64 " empty receives, %" PRIu64 " errors, %" PRIu64 " without a send time\n",
	       s->cons_records, s->cons_deleted, s->cons_del_failed, s->cons_empty, s->cons_errors,
	       s->cons_bad_body);
	printf("  throughput  sends %.1f msg/s, end to end %.1f msg/s (received and deleted)\n",
	       (double)s->records / el, (double)s->cons_deleted / el);
	print_hist_line("e2e ms", ld->e2e_all,
			!o->depth ? "send to receive" :
			o->refill ? "send to receive, the depth kept" :
			"age at receive: sent during the pre-fill");
	snprintf(per, sizeof(per), "per request of %u message%s", o->batch,
		 o->batch == 1 ? "" : "s");
	if (s->requests)
		print_hist_line("send ms", ld->hist_all, per);
	if (o->rate > 0 && !o->depth)
		printf("  unsent      %" PRIu64 " messages the schedule wanted sent\n", ld->unsent);
	fflush(stdout);
}

/* One key a line and the latency keys on one line each, so a script can
 * pick numbers out with sed; "latency_ms" (send to receive) comes first. */
static int summary_json_sqs(const struct sl_load *ld, const char *path)
{
	const struct sl_opts *o = &ld->opt;
	const struct sl_stats *s = &ld->st;
	double el = elapsed_s(ld);
	FILE *f = summary_open(path);

	if (!f)
		return -1;
	fprintf(f, "{\n  \"tool\": \"sluice-load\",\n  \"mode\": \"sqs\",\n  \"endpoint\": \"%s\",\n"
		"  \"queue\": \"%s\",\n  \"producers\": %u,\n  \"consumers\": %u,\n"
		"  \"batch\": %u,\n  \"recv_batch\": %u,\n  \"wait_s\": %u,\n  \"record_size\": %u,\n"
		"  \"pipeline\": %u,\n  \"rate\": %.1f,\n  \"depth\": %" PRIu64 ",\n"
		"  \"refill\": %s,\n  \"drained\": %s,\n"
		"  \"duration_s\": %.3f,\n  \"elapsed_s\": %.3f,\n",
		o->endpoint, ld->queue_name, o->connections, o->consumers, o->batch,
		o->recv_batch, o->wait_s, o->record_size, o->pipeline, o->rate, o->depth,
		o->refill ? "true" : "false", sqs_drained(ld) ? "true" : "false", o->duration_s, el);
	fprintf(f, "  \"sent\": %" PRIu64 ",\n  \"send_failed\": %" PRIu64 ",\n"
		"  \"send_requests\": %" PRIu64 ",\n  \"send_errors\": %" PRIu64 ",\n"
		"  \"unsent\": %" PRIu64 ",\n  \"received\": %" PRIu64 ",\n  \"deleted\": %" PRIu64
		",\n  \"delete_failed\": %" PRIu64 ",\n  \"consumer_requests\": %" PRIu64 ",\n"
		"  \"empty_receives\": %" PRIu64 ",\n  \"recv_errors\": %" PRIu64 ",\n"
		"  \"bad_bodies\": %" PRIu64 ",\n  \"errors\": %" PRIu64 ",\n",
		s->records, s->failed, s->requests, s->errors, ld->unsent, s->cons_records,
		s->cons_deleted, s->cons_del_failed, s->cons_requests, s->cons_empty, s->cons_errors,
		s->cons_bad_body, sqs_errors(s));
	fprintf(f, "  \"sends_per_s\": %.1f,\n  \"messages_per_s\": %.1f,\n",
		(double)s->records / el, (double)s->cons_deleted / el);
	json_hist(f, "latency_ms", ld->e2e_all, ",");
	json_hist(f, "send_latency_ms", ld->hist_all, ",");
	json_fill(f, ld->fill_sent, ld->fill_failed, ld->fill_s, ld->depth_seen);
	fputs("}\n", f);
	return summary_close(f, path);
}

/* ---- the SNS summary (rabbit-load fanout writes the same shape) ---- */

static void sns_totals(const struct sl_load *ld, struct load_fanout *f)
{
	const struct sl_stats *s = &ld->st;

	memset(f, 0, sizeof(*f));
	f->queues = ld->opt.queues;
	f->batch = ld->opt.batch;
	f->published = s->records;
	f->publish_failed = s->failed;
	f->publish_requests = s->requests;
	f->publish_errors = s->errors;
	f->unsent = ld->unsent;
	f->received = s->cons_records;
	f->deleted = s->cons_deleted;
	f->delete_failed = s->cons_del_failed;
	f->consumer_requests = s->cons_requests;
	f->empty_receives = s->cons_empty;
	f->recv_errors = s->cons_errors;
	f->bad_bodies = s->cons_bad_body;
	f->backlog_end = ld->backlog_end;
	f->elapsed_s = elapsed_s(ld);
	f->rate = ld->opt.rate;
	assert(fanout_errors(f) == sqs_errors(s));
}

static void summary_print_sns(const struct sl_load *ld)
{
	const struct sl_opts *o = &ld->opt;
	struct load_fanout f;

	sns_totals(ld, &f);
	printf("\nsluice-load sns %s topic=%s queues=%u producers=%u consumers=%u batch=%u "
	       "recv-batch=%u wait=%u record-size=%u pipeline=%u ", o->endpoint, ld->topic_name,
	       o->queues, o->connections, o->consumers, o->batch, o->recv_batch, o->wait_s,
	       o->record_size, o->pipeline);
	if (o->rate > 0)
		printf("rate=%.0f/s\n", o->rate);
	else
		printf("closed-loop\n");
	print_fanout_summary(&f, ld->e2e_all, ld->hist_all);
}

static int summary_json_sns(const struct sl_load *ld, const char *path)
{
	const struct sl_opts *o = &ld->opt;
	struct load_fanout f;
	FILE *f_out = summary_open(path);

	if (!f_out)
		return -1;
	sns_totals(ld, &f);
	fprintf(f_out, "{\n  \"tool\": \"sluice-load\",\n  \"mode\": \"sns\",\n"
		"  \"endpoint\": \"%s\",\n  \"topic\": \"%s\",\n  \"queues\": %u,\n"
		"  \"producers\": %u,\n  \"consumers\": %u,\n  \"batch\": %u,\n"
		"  \"recv_batch\": %u,\n  \"wait_s\": %u,\n  \"record_size\": %u,\n"
		"  \"pipeline\": %u,\n  \"rate\": %.1f,\n  \"duration_s\": %.3f,\n"
		"  \"elapsed_s\": %.3f,\n",
		o->endpoint, ld->topic_name, o->queues, o->connections, o->consumers, o->batch,
		o->recv_batch, o->wait_s, o->record_size, o->pipeline, o->rate, o->duration_s,
		f.elapsed_s);
	json_fanout(f_out, &f, ld->e2e_all, ld->hist_all);
	return summary_close(f_out, path);
}

/* ---- blocking control calls (--create, the SQS queue, the SNS topic) ---- */

static int ctl_connect(const struct sl_load *ld)
{
	struct timeval tv = { .tv_sec = CTL_TIMEOUT_S };
	int fd = socket(ld->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)&ld->addr, ld->addr_len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read one final (non-1xx) response into rb. Returns its status or -1. */
static int ctl_read_reply(int fd, struct sl_buf *rb, struct sl_http_rx *rx)
{
	bool eof = false;
	ssize_t n;
	long r;

	for (int i = 0; i < 100000; i++) {
		if (buf_reserve(rb, RBUF_MIN_FREE, RBUF_MAX))
			return -1;
		n = eof ? 0 : read(fd, rb->p + rb->len, rb->cap - rb->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		eof = n == 0;
		rb->len += (size_t)n;
		r = http_rx_feed(rx, rb->p + rb->off, rb->len - rb->off, eof);
		if (r < 0 || (r == 0 && eof))
			return -1;
		if (r > 0 && rx->status >= 200)
			return rx->status;
		if (r > 0) {
			buf_consume(rb, (size_t)r);
			memset(rx, 0, sizeof(*rx));
		}
	}
	return -1;
}

/* Send the request in wb on a fresh blocking connection and read its
 * reply into rb (the body at rb->p + rb->off + rx->hdr_len). Frees wb.
 * Returns the HTTP status or -1. */
static int ctl_exchange(struct sl_load *ld, struct sl_buf *wb, struct sl_buf *rb,
			struct sl_http_rx *rx)
{
	int fd = -1, status = -1;
	ssize_t w;

	memset(rx, 0, sizeof(*rx));
	rb->off = rb->len = 0;
	if (!wb->p)
		goto out;
	fd = ctl_connect(ld);
	if (fd < 0)
		goto out;
	for (int i = 0; i < 100000 && wb->off < wb->len; i++) {
		w = send(fd, wb->p + wb->off, wb->len - wb->off, MSG_NOSIGNAL);
		if (w < 0 && errno != EINTR)
			goto out;
		if (w > 0)
			wb->off += (size_t)w;
	}
	if (wb->off == wb->len)
		status = ctl_read_reply(fd, rb, rx);
out:
	if (fd >= 0)
		close(fd);
	free(wb->p);
	memset(wb, 0, sizeof(*wb));
	return status;
}

/* One JSON request (the mode's protocol) on a fresh blocking connection.
 * The reply body is at rb->p + rb->off + rx->hdr_len. Returns the HTTP
 * status or -1. */
static int ctl_call(struct sl_load *ld, const char *op, const char *body, struct sl_buf *rb,
		    struct sl_http_rx *rx)
{
	struct sl_buf wb = { 0 };

	if (http_request(ld, &wb, op, body, strlen(body))) {
		free(wb.p);
		wb.p = NULL;
	}
	return ctl_exchange(ld, &wb, rb, rx);
}

/* One query-protocol request (a form body), as ctl_call. */
static int ctl_call_form(struct sl_load *ld, const char *body, struct sl_buf *rb,
			 struct sl_http_rx *rx)
{
	struct sl_buf wb = { 0 };

	if (form_request(ld, &wb, body, strlen(body))) {
		free(wb.p);
		wb.p = NULL;
	}
	return ctl_exchange(ld, &wb, rb, rx);
}

static bool stream_active(struct sl_load *ld, struct sl_buf *rb, struct sl_http_rx *rx)
{
	const struct sl_doc_tok *t;
	int s, v;

	if (json_parse(ld, rb->p + rb->off + rx->hdr_len, rx->body_len) <= 0)
		return false;
	t = ld->toks;
	s = sl_doc_get(t, 0, "StreamDescriptionSummary");
	if (s < 0 || t[s].type != SL_DOC_OBJ)
		return false;
	v = json_str_member(ld, (uint32_t)s, "StreamStatus");
	return v >= 0 && t[v].len == 6 && memcmp(t[v].ptr, "ACTIVE", 6) == 0;
}

static int stream_create(struct sl_load *ld)
{
	struct sl_buf rb = { 0 };
	struct sl_http_rx rx;
	char body[256];
	int st, rc = -1;

	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\",\"ShardCount\":%u}", ld->opt.stream,
		 ld->opt.shards);
	st = ctl_call(ld, "CreateStream", body, &rb, &rx);
	if (st != 200 && !(st == 400 && json_parse(ld, rb.p + rb.off + rx.hdr_len, rx.body_len) > 0 &&
			   json_error_is(ld, "ResourceInUse"))) {
		if (st < 0)
			fprintf(stderr, "sluice-load: CreateStream: no reply from %s\n", ld->opt.endpoint);
		else
			log_failure(ld, "CreateStream failed", st, rb.p + rb.off + rx.hdr_len, rx.body_len);
		goto out;
	}
	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\"}", ld->opt.stream);
	for (int i = 0; i < CTL_POLLS_MAX && !g_stop; i++) {
		st = ctl_call(ld, "DescribeStreamSummary", body, &rb, &rx);
		if (st == 200 && stream_active(ld, &rb, &rx)) {
			rc = 0;
			goto out;
		}
		sleep_ns(CTL_POLL_NS);
	}
	fprintf(stderr, "sluice-load: stream %s did not become ACTIVE (last status %d)\n",
		ld->opt.stream, st);
out:
	free(rb.p);
	return rc;
}

/* One SQS control call with body `{"QueueUrl":"<url>"<rest>}`. Returns
 * the HTTP status or -1; the reply is parsed into ld->toks when it is 200
 * (then *parsed says whether that worked). The tokens point into
 * ld->ctl_rb, which stays until the next call. */
static int sqs_ctl_at(struct sl_load *ld, const char *url, const char *op, const char *rest,
		      bool *parsed)
{
	struct sl_buf *rb = &ld->ctl_rb;
	struct sl_http_rx rx;
	char body[SQS_CTL_BODY_MAX];
	int n = snprintf(body, sizeof(body), SQS_URL_HEAD "%s\"%s}", url, rest);
	int st;

	assert(n > 0 && (size_t)n < sizeof(body));
	st = ctl_call(ld, op, body, rb, &rx);
	*parsed = false;
	if (st == 200)
		*parsed = json_parse(ld, rb->p + rb->off + rx.hdr_len, rx.body_len) > 0;
	else if (st > 0)
		log_failure(ld, op, st, rb->p + rb->off + rx.hdr_len, rx.body_len);
	else
		fprintf(stderr, "sluice-load: %s: no reply from %s\n", op, ld->opt.endpoint);
	return st;
}

/* sqs_ctl_at the sqs mode's queue. */
static int sqs_ctl(struct sl_load *ld, const char *op, const char *rest, bool *parsed)
{
	return sqs_ctl_at(ld, ld->queue_url, op, rest, parsed);
}

/* ApproximateNumberOfMessages of the queue at url (a string in AWS's
 * replies, a number in some emulators'), or -1 when it cannot be had. */
static long long sqs_depth_at(struct sl_load *ld, const char *url)
{
	const struct sl_doc_tok *t;
	long long v;
	bool parsed;
	int a, d;

	if (sqs_ctl_at(ld, url, "GetQueueAttributes",
		       ",\"AttributeNames\":[\"ApproximateNumberOfMessages\"]", &parsed) != 200 ||
	    !parsed)
		return -1;
	t = ld->toks;
	a = sl_doc_get(t, 0, "Attributes");
	d = a >= 0 ? sl_doc_get(t, (uint32_t)a, "ApproximateNumberOfMessages") : -1;
	if (d >= 0 && t[d].type == SL_DOC_INT)
		return t[d].i;
	if (d < 0 || t[d].type != SL_DOC_STR || parse_dec(t[d].ptr, t[d].len, &v) || v < 0)
		return -1;
	return v;
}

static long long sqs_queue_depth(struct sl_load *ld)
{
	return sqs_depth_at(ld, ld->queue_url);
}

/* CreateQueue name over JSON 1.0: its URL into url (cap bytes). 0, or -1
 * (said on stderr). */
static int queue_create(struct sl_load *ld, const char *name, char *url, size_t cap)
{
	struct sl_buf rb = { 0 };
	struct sl_http_rx rx;
	char body[SQS_NAME_MAX + 32];

	snprintf(body, sizeof(body), "{\"QueueName\":\"%s\"}", name);
	int st = ctl_call(ld, "CreateQueue", body, &rb, &rx);
	if (st != 200 || json_parse(ld, rb.p + rb.off + rx.hdr_len, rx.body_len) <= 0 ||
	    !json_copy_raw(ld, 0, "QueueUrl", url, cap)) {
		if (st < 0)
			fprintf(stderr, "sluice-load: CreateQueue: no reply from %s\n", ld->opt.endpoint);
		else
			log_failure(ld, "CreateQueue failed", st, rb.p + rb.off + rx.hdr_len, rx.body_len);
		free(rb.p);
		return -1;
	}
	free(rb.p);
	return 0;
}

/* CreateQueue NAME-<seconds>-<pid>: a name no earlier run used, so the
 * queue starts empty without PurgeQueue (once a minute) and without
 * waiting out the minute a deleted name stays blocked. Should the name
 * exist after all, the queue is purged. Returns 0 or -1. */
static int sqs_queue_create(struct sl_load *ld)
{
	long long depth;
	bool parsed;
	int n;

	n = run_queue_name(ld->queue_name, sizeof(ld->queue_name), ld->opt.queue);
	assert(n > 0 && (size_t)n < sizeof(ld->queue_name));
	if (queue_create(ld, ld->queue_name, ld->queue_url, SQS_URL_MAX) < 0)
		return -1;
	ld->queue_url_len = strlen(ld->queue_url);
	sqs_lengths_init(ld);
	depth = sqs_queue_depth(ld);
	if (depth > 0) {
		fprintf(stderr, "sluice-load: queue %s already holds %lld messages: purging it\n",
			ld->queue_name, depth);
		if (sqs_ctl(ld, "PurgeQueue", "", &parsed) != 200)
			return -1;
	}
	printf("sluice-load: queue %s\n", ld->queue_name);
	return 0;
}

static void sqs_queue_delete(struct sl_load *ld)
{
	bool parsed;

	if (ld->queue_url_len && sqs_ctl(ld, "DeleteQueue", "", &parsed) != 200)
		fprintf(stderr, "sluice-load: could not delete queue %s\n", ld->queue_name);
}

/* ---- the SNS topic and its queues, over the wire ---- */

/* One query-protocol call; a reply other than 200 is logged. The reply
 * stays in ld->ctl_rb until the next call; *body and *len point at it.
 * Returns the HTTP status or -1. */
static int sns_ctl(struct sl_load *ld, const char *what, const char *form, const uint8_t **body,
		   size_t *len)
{
	struct sl_buf *rb = &ld->ctl_rb;
	struct sl_http_rx rx;
	int st = ctl_call_form(ld, form, rb, &rx);

	*body = st > 0 ? rb->p + rb->off + rx.hdr_len : (const uint8_t *)"";
	*len = st > 0 ? rx.body_len : 0;
	if (st < 0)
		fprintf(stderr, "sluice-load: %s: no reply from %s\n", what, ld->opt.endpoint);
	else if (st != 200)
		log_failure(ld, what, st, *body, *len);
	return st;
}

/* CreateTopic NAME-<seconds>-<pid> (a name no earlier run used); its
 * ARN, percent-encoded, goes into every publish. Returns 0 or -1. */
static int sns_topic_create(struct sl_load *ld)
{
	char form[SNS_FORM_BODY_MAX];
	const uint8_t *body, *arn;
	size_t len, arn_len;
	int n;

	n = run_queue_name(ld->topic_name, sizeof(ld->topic_name), ld->opt.topic);
	assert(n > 0 && (size_t)n < sizeof(ld->topic_name));
	n = snprintf(form, sizeof(form), "Action=CreateTopic" SNS_VERSION "&Name=%s", ld->topic_name);
	assert(n > 0 && (size_t)n < sizeof(form));
	if (sns_ctl(ld, "CreateTopic", form, &body, &len) != 200)
		return -1;
	arn = xml_text(body, len, "TopicArn", &arn_len);
	if (!arn || arn_len == 0 || arn_len >= SNS_ARN_MAX) {
		log_failure(ld, "CreateTopic answered no usable TopicArn", 0, body, len);
		return -1;
	}
	memcpy(ld->topic_arn, arn, arn_len);
	ld->topic_arn[arn_len] = '\0';
	ld->topic_arn_form_len = form_escape(ld->topic_arn_form, sizeof(ld->topic_arn_form),
					     ld->topic_arn, arn_len);
	assert(ld->topic_arn_form_len > 0);
	sns_pub_body_len_init(ld);
	return 0;
}

/* The QueueArn of queue q, into arn (cap bytes). Returns 0 or -1. */
static int sns_queue_arn(struct sl_load *ld, const struct sns_queue *q, char *arn, size_t cap)
{
	const struct sl_doc_tok *t;
	bool parsed;
	int a, v;

	if (sqs_ctl_at(ld, q->url, "GetQueueAttributes", ",\"AttributeNames\":[\"QueueArn\"]",
		       &parsed) != 200 || !parsed)
		return -1;
	t = ld->toks;
	a = sl_doc_get(t, 0, "Attributes");
	v = a >= 0 && t[a].type == SL_DOC_OBJ ? json_str_member(ld, (uint32_t)a, "QueueArn") : -1;
	/* Raw JSON text: an ARN has nothing to unescape, so a backslash means
	 * something unexpected. */
	if (v < 0 || t[v].len == 0 || t[v].len >= cap || memchr(t[v].ptr, '\\', t[v].len)) {
		fprintf(stderr, "sluice-load: GetQueueAttributes of %s answered no QueueArn\n",
			q->name);
		return -1;
	}
	memcpy(arn, t[v].ptr, t[v].len);
	arn[t[v].len] = '\0';
	return 0;
}

/* Subscribe the queue with ARN arn to the topic, raw delivery on (the
 * body arrives as published, so its stamp is the first bytes). */
static int sns_subscribe(struct sl_load *ld, const char *arn)
{
	char form[SNS_FORM_BODY_MAX], arn_form[SNS_ARN_FORM_MAX];
	const uint8_t *body;
	size_t len, vlen;
	int n;

	if (form_escape(arn_form, sizeof(arn_form), arn, strlen(arn)) == 0)
		return -1;
	n = snprintf(form, sizeof(form), "Action=Subscribe" SNS_VERSION "&TopicArn=%s&Protocol=sqs"
		     "&Endpoint=%s&Attributes.entry.1.key=RawMessageDelivery"
		     "&Attributes.entry.1.value=true", ld->topic_arn_form, arn_form);
	assert(n > 0 && (size_t)n < sizeof(form));
	if (sns_ctl(ld, "Subscribe", form, &body, &len) != 200)
		return -1;
	if (!xml_text(body, len, "SubscriptionArn", &vlen)) {
		log_failure(ld, "Subscribe answered no SubscriptionArn", 0, body, len);
		return -1;
	}
	return 0;
}

/* Queue k: CreateQueue <topic name>-<k>, its ARN, its subscription.
 * Counted in sns_made as soon as it exists, so teardown deletes it
 * whatever fails after. Returns 0 or -1. */
static int sns_queue_make(struct sl_load *ld, uint32_t k)
{
	struct sns_queue *q = &ld->sns_queues[k];
	char arn[SNS_ARN_MAX];
	int n;

	assert(k == ld->sns_made && k < ld->opt.queues);
	n = snprintf(q->name, sizeof(q->name), "%s-%u", ld->topic_name, k);
	assert(n > 0 && (size_t)n < sizeof(q->name));
	if (queue_create(ld, q->name, q->url, SQS_URL_MAX) < 0)
		return -1;
	q->url_len = strlen(q->url);
	ld->sns_made = k + 1;
	if (sns_queue_arn(ld, q, arn, sizeof(arn)))
		return -1;
	return sns_subscribe(ld, arn);
}

/* The topic, then its queues one by one. Returns 0 or -1. */
static int sns_setup(struct sl_load *ld)
{
	uint64_t t0 = now_ns();

	if (sns_topic_create(ld))
		return -1;
	for (uint32_t k = 0; k < ld->opt.queues; k++)
		if (g_stop || sns_queue_make(ld, k))
			return -1;
	printf("sluice-load: topic %s with %u queues subscribed (raw delivery), set up in %.2f s\n",
	       ld->topic_name, ld->opt.queues, (double)(now_ns() - t0) / 1e9);
	fflush(stdout);
	return 0;
}

/* Messages still ready in the queues after the run (what the consumers
 * did not get to), or -1 when a queue would not say. */
static long long sns_backlog(struct sl_load *ld)
{
	long long sum = 0, d;

	for (uint32_t k = 0; k < ld->sns_made; k++) {
		d = sqs_depth_at(ld, ld->sns_queues[k].url);
		if (d < 0)
			return -1;
		sum += d;
	}
	return sum;
}

/* DeleteTopic (its subscriptions go with it), then every queue made. */
static void sns_teardown(struct sl_load *ld)
{
	char form[SNS_FORM_BODY_MAX];
	const uint8_t *body;
	size_t len;
	bool parsed;
	int n;

	if (ld->topic_arn_form_len) {
		n = snprintf(form, sizeof(form), "Action=DeleteTopic" SNS_VERSION "&TopicArn=%s",
			     ld->topic_arn_form);
		assert(n > 0 && (size_t)n < sizeof(form));
		if (sns_ctl(ld, "DeleteTopic", form, &body, &len) != 200)
			fprintf(stderr, "sluice-load: could not delete topic %s\n", ld->topic_name);
	}
	for (uint32_t k = 0; k < ld->sns_made; k++)
		if (sqs_ctl_at(ld, ld->sns_queues[k].url, "DeleteQueue", "", &parsed) != 200)
			fprintf(stderr, "sluice-load: could not delete queue %s\n",
				ld->sns_queues[k].name);
}

/* ---- flags ---- */

enum {
	OPT_ENDPOINT = 256, OPT_STREAM, OPT_SHARDS, OPT_CREATE, OPT_CONNECTIONS, OPT_BATCH,
	OPT_RECORD_SIZE, OPT_DURATION, OPT_RATE, OPT_CONSUMERS, OPT_PIPELINE, OPT_JSON,
	OPT_QUEUE, OPT_RECV_BATCH, OPT_WAIT, OPT_DEPTH, OPT_FILL_CONNS, OPT_KEEP_QUEUE,
	OPT_REFILL, OPT_TOPIC, OPT_QUEUES, OPT_END,
};

static const struct option long_opts[] = {
	{ "endpoint", required_argument, NULL, OPT_ENDPOINT },
	{ "stream", required_argument, NULL, OPT_STREAM },
	{ "shards", required_argument, NULL, OPT_SHARDS },
	{ "create", no_argument, NULL, OPT_CREATE },
	{ "connections", required_argument, NULL, OPT_CONNECTIONS },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "record-size", required_argument, NULL, OPT_RECORD_SIZE },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "consumers", required_argument, NULL, OPT_CONSUMERS },
	{ "pipeline", required_argument, NULL, OPT_PIPELINE },
	{ "json-summary", required_argument, NULL, OPT_JSON },
	{ "producers", required_argument, NULL, OPT_CONNECTIONS },
	{ "queue", required_argument, NULL, OPT_QUEUE },
	{ "recv-batch", required_argument, NULL, OPT_RECV_BATCH },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "depth", required_argument, NULL, OPT_DEPTH },
	{ "fill-connections", required_argument, NULL, OPT_FILL_CONNS },
	{ "keep-queue", no_argument, NULL, OPT_KEEP_QUEUE },
	{ "refill", no_argument, NULL, OPT_REFILL },
	{ "topic", required_argument, NULL, OPT_TOPIC },
	{ "queues", required_argument, NULL, OPT_QUEUES },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* HOST:PORT or [V6]:PORT; the characters are limited so that the endpoint
 * can go into a Host header and a JSON summary without escaping. */
static int parse_endpoint(struct sl_opts *o, const char *s)
{
	const char *colon = strrchr(s, ':');
	size_t hl;

	if (strlen(s) >= sizeof(o->endpoint) || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
				"KLMNOPQRSTUVWXYZ0123456789.-_:[]%") != strlen(s) || !colon || colon == s ||
	    strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(o->port))
		return bad_flag("--endpoint wants HOST:PORT, got '%s'", s);
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']')
			return bad_flag("--endpoint wants [V6ADDR]:PORT, got '%s'", s);
		memcpy(o->host, s + 1, hl - 2);
		o->host[hl - 2] = '\0';
	} else {
		memcpy(o->host, s, hl);
		o->host[hl] = '\0';
	}
	memcpy(o->port, colon + 1, strlen(colon + 1) + 1);
	memcpy(o->endpoint, s, strlen(s) + 1);
	return 0;
}

static int parse_stream(struct sl_opts *o, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789_.-") != n)
		return bad_flag("--stream wants 1..128 of [A-Za-z0-9_.-], got '%s'", s);
	memcpy(o->stream, s, n + 1);
	return 0;
}

/* A queue name leaves room for the run suffix. */
static int parse_queue(struct sl_opts *o, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SQS_NAME_MAX - SQS_SUFFIX_LEN ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
		return bad_flag("--queue wants 1..%d of [A-Za-z0-9_-], got '%s'",
				SQS_NAME_MAX - SQS_SUFFIX_LEN, s);
	memcpy(o->queue, s, n + 1);
	return 0;
}

/* A topic name leaves room for the run suffix and a queue number. */
static int parse_topic(struct sl_opts *o, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SNS_NAME_MAX ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
		return bad_flag("--topic wants 1..%d of [A-Za-z0-9_-], got '%s'", SNS_NAME_MAX, s);
	memcpy(o->topic, s, n + 1);
	return 0;
}

/* The flags of the sqs and sns modes. */
static int opt_apply_sqs(struct sl_opts *o, int c, const char *a)
{
	switch (c) {
	case OPT_TOPIC:
		return parse_topic(o, a);
	case OPT_QUEUES:
		return parse_u32("queues", a, 1, SNS_QUEUES_MAX, &o->queues);
	case OPT_QUEUE:
		return parse_queue(o, a);
	case OPT_RECV_BATCH:
		return parse_u32("recv-batch", a, 1, SQS_BATCH_MAX, &o->recv_batch);
	case OPT_WAIT:
		return parse_u32("wait", a, 0, SQS_WAIT_MAX_S, &o->wait_s);
	case OPT_DEPTH:
		return parse_u64("depth", a, 0, SQS_DEPTH_MAX, &o->depth);
	case OPT_FILL_CONNS:
		return parse_u32("fill-connections", a, 1, MAX_CONNECTIONS, &o->fill_conns);
	case OPT_KEEP_QUEUE:
		o->keep_queue = true;
		return 0;
	case OPT_REFILL:
		o->refill = true;
		return 0;
	default:
		assert(0);
		return -1;
	}
}

static int opt_apply(struct sl_opts *o, int c, const char *a, bool *seen_endpoint)
{
	if (c >= OPT_QUEUE)
		return opt_apply_sqs(o, c, a);
	switch (c) {
	case OPT_ENDPOINT:
		*seen_endpoint = true;
		return parse_endpoint(o, a);
	case OPT_STREAM:
		return parse_stream(o, a);
	case OPT_SHARDS:
		return parse_u32("shards", a, 1, MAX_SHARDS, &o->shards);
	case OPT_CREATE:
		o->create = true;
		return 0;
	case OPT_CONNECTIONS:
		return parse_u32("connections", a, 1, MAX_CONNECTIONS, &o->connections);
	case OPT_BATCH:
		return parse_u32("batch", a, 1, MAX_BATCH, &o->batch);
	case OPT_RECORD_SIZE:
		return parse_u32("record-size", a, 1, MAX_RECORD_SIZE, &o->record_size);
	case OPT_DURATION:
		return parse_f64("duration", a, 0, MAX_DURATION_S, &o->duration_s);
	case OPT_RATE:
		return parse_f64("rate", a, 1, 1e9, &o->rate);
	case OPT_CONSUMERS:
		return parse_u32("consumers", a, 0, MAX_CONSUMERS, &o->consumers);
	case OPT_PIPELINE:
		return parse_u32("pipeline", a, 1, MAX_PIPELINE, &o->pipeline);
	case OPT_JSON:
		o->json_path = a;
		return 0;
	default:
		assert(0);
		return -1;
	}
}

static void opts_defaults(struct sl_opts *o, enum load_mode mode)
{
	memset(o, 0, sizeof(*o));
	o->mode = mode;
	strcpy(o->stream, "sluice-bench");
	strcpy(o->queue, "sluice-bench");
	strcpy(o->topic, "sluice-bench");
	o->shards = 4;
	o->connections = 4;
	o->batch = mode == MODE_SQS || mode == MODE_SNS ? SQS_BATCH_MAX : 100;
	o->consumers = mode == MODE_SQS ? 4 : 0;
	o->queues = 10;
	o->record_size = 100;
	o->pipeline = 1;
	o->duration_s = 10;
	o->recv_batch = SQS_BATCH_MAX;
	o->wait_s = SQS_WAIT_MAX_S;
	o->fill_conns = SQS_FILL_CONNS;
}

/* The sqs mode's own checks. SQS caps a batch at 10 entries and 256 KiB
 * of bodies in all (AWS's limit before 2025; emulators still keep it). */
static int opts_check_sqs(struct sl_opts *o, const bool *given)
{
	static const char *const not_sqs[] = { "stream", "shards", "create" };
	const int not_sqs_opt[] = { OPT_STREAM, OPT_SHARDS, OPT_CREATE };

	for (size_t i = 0; i < 3; i++)
		if (given[not_sqs_opt[i] - OPT_ENDPOINT])
			return bad_flag("--%s is not for sqs", not_sqs[i]);
	if (given[OPT_TOPIC - OPT_ENDPOINT] || given[OPT_QUEUES - OPT_ENDPOINT])
		return bad_flag("--topic and --queues are for sns");
	if (o->batch > SQS_BATCH_MAX)
		return bad_flag("--batch wants 1..%d for sqs", SQS_BATCH_MAX);
	if (o->record_size < LOAD_STAMP_LEN || o->record_size > SQS_BODY_MAX)
		return bad_flag("--record-size wants %d..%u for sqs (a body starts with its "
				"%d-digit send time)", LOAD_STAMP_LEN, SQS_BODY_MAX, LOAD_STAMP_LEN);
	if ((uint64_t)o->batch * o->record_size > SQS_BODY_MAX)
		return bad_flag("--batch x --record-size is over 256 KiB, SQS's batch limit");
	if (o->depth && o->consumers == 0)
		return bad_flag("--depth needs --consumers");
	if (o->refill && !o->depth)
		return bad_flag("--refill needs --depth");
	if (o->depth && (given[OPT_RATE - OPT_ENDPOINT] || given[OPT_CONNECTIONS - OPT_ENDPOINT]))
		return bad_flag("--depth runs consumers alone: no --rate or --producers");
	if (o->duration_s == 0)
		return bad_flag("--duration wants more than 0 for sqs");
	if (o->depth)
		o->connections = 0;
	return 0;
}

/* The sns mode's own checks. A PublishBatch has 10 entries and 256 KiB
 * at most, as SQS's batches. Without --consumers there is one consumer
 * per queue, and at least 4 (as the sqs mode has for its one queue). */
static int opts_check_sns(struct sl_opts *o, const bool *given)
{
	static const char *const not_sns[] = { "stream", "shards", "create", "queue", "depth",
					       "refill", "fill-connections" };
	const int not_sns_opt[] = { OPT_STREAM, OPT_SHARDS, OPT_CREATE, OPT_QUEUE, OPT_DEPTH,
				    OPT_REFILL, OPT_FILL_CONNS };

	_Static_assert(sizeof(not_sns) / sizeof(not_sns[0]) ==
		       sizeof(not_sns_opt) / sizeof(not_sns_opt[0]), "one name per flag");
	for (size_t i = 0; i < sizeof(not_sns_opt) / sizeof(not_sns_opt[0]); i++)
		if (given[not_sns_opt[i] - OPT_ENDPOINT])
			return bad_flag("--%s is not for sns", not_sns[i]);
	if (o->batch > SQS_BATCH_MAX)
		return bad_flag("--batch wants 1..%d for sns", SQS_BATCH_MAX);
	if (o->record_size < LOAD_STAMP_LEN || o->record_size > SQS_BODY_MAX)
		return bad_flag("--record-size wants %d..%u for sns (a message starts with its "
				"%d-digit send time)", LOAD_STAMP_LEN, SQS_BODY_MAX, LOAD_STAMP_LEN);
	if ((uint64_t)o->batch * o->record_size > SQS_BODY_MAX)
		return bad_flag("--batch x --record-size is over 256 KiB, PublishBatch's limit");
	if (o->duration_s == 0)
		return bad_flag("--duration wants more than 0 for sns");
	if (!given[OPT_CONSUMERS - OPT_ENDPOINT])
		o->consumers = o->queues > 4 ? o->queues : 4;
	assert(o->consumers <= MAX_CONSUMERS);
	return 0;
}

/* Flag combinations that make no sense, caught before any connection. */
static int opts_check(struct sl_opts *o, const bool *given)
{
	static const char *const kinesis_only[] = { "shards", "create", "consumers" };
	const int kinesis_opt[] = { OPT_SHARDS, OPT_CREATE, OPT_CONSUMERS };

	if (o->mode == MODE_SQS) {
		if (opts_check_sqs(o, given))
			return -1;
	} else if (o->mode == MODE_SNS) {
		if (opts_check_sns(o, given))
			return -1;
	} else {
		for (int i = OPT_QUEUE; i < OPT_END; i++)
			if (given[i - OPT_ENDPOINT])
				return bad_flag("--queue, --recv-batch, --wait, --depth, --refill, "
						"--fill-connections and --keep-queue are for sqs; "
						"--topic and --queues for sns");
	}
	if (o->mode == MODE_REDIS) {
		for (size_t i = 0; i < 3; i++)
			if (given[kinesis_opt[i] - OPT_ENDPOINT])
				return bad_flag("--%s is only for kinesis", kinesis_only[i]);
	}
	if (o->duration_s == 0 && !o->create && o->mode != MODE_SQS && o->mode != MODE_SNS)
		return bad_flag("--duration 0 needs --create (it only creates the stream)");
	if ((uint64_t)o->pipeline * o->batch * b64_len(o->record_size) > MAX_INFLIGHT_BYTES)
		return bad_flag("--pipeline x --batch x --record-size is too large (over 256 MiB "
				"in flight per connection)");
	if (o->rate > 0 && (double)o->connections * o->batch * 1e9 / o->rate < 1000)
		return bad_flag("--rate is too high for these --connections and --batch");
	return 0;
}

/* Returns 0 to run, 1 after --help, -1 on a bad flag. */
static int opts_parse(struct sl_opts *o, int argc, char **argv)
{
	bool given[OPT_END - OPT_ENDPOINT] = { false }, seen_endpoint = false;
	int c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? -1 : 1;
	}
	if (!strcmp(argv[1], "kinesis"))
		opts_defaults(o, MODE_KINESIS);
	else if (!strcmp(argv[1], "redis"))
		opts_defaults(o, MODE_REDIS);
	else if (!strcmp(argv[1], "sqs"))
		opts_defaults(o, MODE_SQS);
	else if (!strcmp(argv[1], "sns"))
		opts_defaults(o, MODE_SNS);
	else
		return bad_flag("unknown mode '%s': want kinesis, redis, sqs or sns", argv[1]);
	opterr = 0;
	optind = 2;
	for (int i = 0; i < argc && (c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1; i++) {
		if (c == 'h') {
			fputs(usage_text, stdout);
			return 1;
		}
		if (c == ':')
			return bad_flag("flag '%s' needs a value", argv[optind - 1]);
		if (c == '?')
			return bad_flag("unknown flag '%s'", argv[optind - 1]);
		given[c - OPT_ENDPOINT] = true;
		if (opt_apply(o, c, optarg, &seen_endpoint))
			return -1;
	}
	if (optind < argc)
		return bad_flag("unexpected argument '%s'", argv[optind]);
	if (!seen_endpoint)
		parse_endpoint(o, o->mode == MODE_REDIS ? "127.0.0.1:6379" : "127.0.0.1:4566");
	return opts_check(o, given);
}

/* ---- setup ---- */

static int resolve(struct sl_load *ld)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	int r = getaddrinfo(ld->opt.host, ld->opt.port, &hints, &ai);

	if (r != 0) {
		fprintf(stderr, "sluice-load: cannot resolve %s: %s\n", ld->opt.endpoint,
			gai_strerror(r));
		return -1;
	}
	assert(ai->ai_addrlen <= sizeof(ld->addr));
	memcpy(&ld->addr, ai->ai_addr, ai->ai_addrlen);
	ld->addr_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* A producer's ring of in-flight requests, with a message count per
 * request for SQS. */
static int producer_init(struct sl_load *ld, struct sl_conn *c, uint8_t role, uint32_t idx,
			 uint32_t ring_cap)
{
	c->role = role;
	c->idx = idx;
	c->ring_cap = ring_cap;
	c->ring = calloc(ring_cap, sizeof(*c->ring));
	if (role == ROLE_SEND)
		c->ring_n = calloc(ring_cap, sizeof(*c->ring_n));
	(void)ld;
	return c->ring && (role != ROLE_SEND || c->ring_n) ? 0 : -1;
}

/* An SQS consumer's receipt handle slots, one per message a receive may
 * bring: a fixed size, allocated once. */
static int sqs_consumer_init(const struct sl_load *ld, struct sl_conn *c)
{
	c->step = CONS_RECV;
	c->rh = malloc((size_t)ld->opt.recv_batch * SQS_RH_MAX);
	c->rh_len = calloc(ld->opt.recv_batch, sizeof(*c->rh_len));
	return c->rh && c->rh_len ? 0 : -1;
}

/* Producers come first, then consumers, then (sqs --depth) the pre-fill
 * connections; a phase runs one range of them. */
static int conns_init(struct sl_load *ld)
{
	const struct sl_opts *o = &ld->opt;
	uint32_t fill = o->depth ? o->fill_conns : 0, p = o->connections;
	uint8_t prod_role = o->mode == MODE_KINESIS ? ROLE_PUT :
			    o->mode == MODE_REDIS ? ROLE_XADD :
			    o->mode == MODE_SNS ? ROLE_PUB : ROLE_SEND;
	bool sqs_cons = o->mode == MODE_SQS || o->mode == MODE_SNS;
	struct sl_conn *c;
	int rc;

	ld->nconns = p + o->consumers + fill;
	ld->act_lo = 0;
	ld->act_hi = p + o->consumers;
	ld->conns = calloc(ld->nconns, sizeof(*ld->conns));
	if (!ld->conns)
		return -1;
	for (uint32_t i = 0; i < ld->nconns; i++) {
		c = &ld->conns[i];
		c->fd = -1;
		c->state = ST_WAIT;
		if (i < p) {
			rc = producer_init(ld, c, prod_role, i, o->pipeline);
		} else if (i < p + o->consumers) {
			c->role = sqs_cons ? ROLE_RECV : ROLE_GET;
			c->idx = i - p;
			c->step = CONS_LIST;
			rc = sqs_cons ? sqs_consumer_init(ld, c) : 0;
			if (o->mode == MODE_SNS)
				c->qi = fanout_queue_first(c->idx, o->consumers, o->queues);
		} else {
			rc = producer_init(ld, c, ROLE_SEND, i - p - o->consumers, SQS_FILL_PIPELINE);
		}
		if (rc)
			return -1;
	}
	return 0;
}

static int load_setup(struct sl_load *ld)
{
	const struct sl_opts *o = &ld->opt;

	assert(hist_index(HIST_MAX_US) < HIST_BUCKETS);
	ld->rng = rng_seed();
	ld->toks_cap = TOKS_INIT;
	ld->toks = calloc(ld->toks_cap, sizeof(*ld->toks));
	ld->hist_all = calloc(1, sizeof(*ld->hist_all));
	ld->hist_sec = calloc(1, sizeof(*ld->hist_sec));
	ld->e2e_all = calloc(1, sizeof(*ld->e2e_all));
	ld->e2e_sec = calloc(1, sizeof(*ld->e2e_sec));
	ld->ep = epoll_create1(EPOLL_CLOEXEC);
	ld->depth_seen = -1;
	ld->backlog_end = -1;
	if (o->mode == MODE_SNS)
		ld->sns_queues = calloc(o->queues, sizeof(*ld->sns_queues));
	/* sns: the consumers speak SQS's JSON 1.0; publishes have their own
	 * form head (form_head). */
	if (o->mode == MODE_SQS || o->mode == MODE_SNS) {
		ld->content_type = "application/x-amz-json-1.0";
		ld->target_prefix = "AmazonSQS.";
		ld->auth = AMZ_AUTH_FOR("sqs");
	} else {
		ld->content_type = "application/x-amz-json-1.1";
		ld->target_prefix = "Kinesis_20131202.";
		ld->auth = AMZ_AUTH_FOR("kinesis");
	}
	if (!ld->toks || !ld->hist_all || !ld->hist_sec || !ld->e2e_all || !ld->e2e_sec ||
	    ld->ep < 0 || (o->mode == MODE_SNS && !ld->sns_queues) || pool_init(ld) ||
	    conns_init(ld)) {
		fprintf(stderr, "sluice-load: setup failed: %s\n", strerror(errno));
		return -1;
	}
	if (o->mode == MODE_SNS)
		sns_pool_url_safe(ld);
	if (o->rate > 0 && o->connections)
		ld->interval_ns = (uint64_t)((double)o->connections * o->batch * 1e9 / o->rate);
	put_body_len_init(ld);
	xadd_init(ld);
	return resolve(ld);
}

/* Close the phase's connections and forget its counts, so the next
 * phase starts from nothing. */
static void phase_reset(struct sl_load *ld)
{
	for (uint32_t i = ld->act_lo; i < ld->act_hi; i++) {
		conn_close(ld, &ld->conns[i]);
		ld->conns[i].wake_ns = 0;
	}
	assert(ld->put_inflight == 0);
	assert(ld->del_inflight == 0);
	memset(&ld->st, 0, sizeof(ld->st));
	memset(&ld->st_prev, 0, sizeof(ld->st_prev));
	memset(ld->hist_all, 0, sizeof(*ld->hist_all));
	memset(ld->hist_sec, 0, sizeof(*ld->hist_sec));
	memset(ld->e2e_all, 0, sizeof(*ld->e2e_all));
	memset(ld->e2e_sec, 0, sizeof(*ld->e2e_sec));
	ld->stopping = false;
	ld->unsent = 0;
	ld->last_done_ns = 0;
}

/* The depth test's first phase: --depth messages over the pre-fill
 * connections, batches of 10, SQS_FILL_PIPELINE requests in flight on
 * each. Returns 0, or -1 when it fell short. */
static int sqs_fill(struct sl_load *ld)
{
	const struct sl_opts *o = &ld->opt;

	ld->phase = PHASE_FILL;
	ld->fill_left = o->depth;
	ld->act_lo = o->consumers;
	ld->act_hi = o->consumers + o->fill_conns;
	printf("sluice-load: pre-filling %" PRIu64 " messages over %u connections\n", o->depth,
	       o->fill_conns);
	load_run(ld, SQS_FILL_TIMEOUT_NS);
	ld->fill_sent = ld->st.records;
	ld->fill_failed = ld->st.failed;
	ld->fill_s = elapsed_s(ld);
	phase_reset(ld);
	ld->depth_seen = sqs_queue_depth(ld);
	printf("sluice-load: pre-filled %" PRIu64 " messages in %.2f s (%.0f msg/s); the queue "
	       "reports %lld\n", ld->fill_sent, ld->fill_s, (double)ld->fill_sent / ld->fill_s,
	       ld->depth_seen);
	if (ld->fill_sent < o->depth) {
		fprintf(stderr, "sluice-load: the pre-fill fell short of %" PRIu64 " messages\n",
			o->depth);
		return -1;
	}
	ld->phase = PHASE_DRAIN;
	ld->act_lo = 0;
	ld->act_hi = o->consumers + (o->refill ? o->fill_conns : 0);
	ld->fill_left = 0;
	return 0;
}

/* The sqs mode: a fresh queue, the run (after the pre-fill with --depth),
 * the summary, and the queue deleted. Returns the exit status. */
static int sqs_main(struct sl_load *ld)
{
	int rc = 0;

	if (sqs_queue_create(ld))
		return 1;
	if (ld->opt.depth && sqs_fill(ld))
		rc = 1;
	if (rc == 0 && !g_stop) {
		load_run(ld, (uint64_t)(ld->opt.duration_s * 1e9));
		summary_print_sqs(ld);
		if (ld->opt.json_path && summary_json_sqs(ld, ld->opt.json_path))
			rc = 1;
		if (rc == 0 && ld->st.cons_deleted == 0 && (ld->opt.consumers || ld->st.records == 0)) {
			fprintf(stderr, "sluice-load: no message went through\n");
			rc = 3;
		}
	}
	if (!ld->opt.keep_queue)
		sqs_queue_delete(ld);
	else
		printf("sluice-load: kept queue %s\n", ld->queue_name);
	return rc;
}

/* The sns mode: a fresh topic and its queues, the run, the backlog left,
 * the summary, and the topic and queues deleted. Returns the exit status. */
static int sns_main(struct sl_load *ld)
{
	int rc = 0;

	if (sns_setup(ld))
		rc = 1;
	if (rc == 0 && !g_stop) {
		load_run(ld, (uint64_t)(ld->opt.duration_s * 1e9));
		ld->backlog_end = sns_backlog(ld);
		summary_print_sns(ld);
		if (ld->opt.json_path && summary_json_sns(ld, ld->opt.json_path))
			rc = 1;
		if (rc == 0 && ld->st.cons_deleted == 0 && (ld->opt.consumers || ld->st.records == 0)) {
			fprintf(stderr, "sluice-load: no message went through\n");
			rc = 3;
		}
	}
	if (!ld->opt.keep_queue)
		sns_teardown(ld);
	else
		printf("sluice-load: kept topic %s and its %u queues\n", ld->topic_name, ld->sns_made);
	return rc;
}

int udp_main(int argc, char **argv);
int udp_sink_main(int argc, char **argv);

int main(int argc, char **argv)
{
	static struct sl_load ld;

	/* The UDP ingest modes have their own flags (udp_load.c). */
	if (argc >= 2 && !strcmp(argv[1], "udp"))
		return udp_main(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "udp-sink"))
		return udp_sink_main(argc, argv);
	int r = opts_parse(&ld.opt, argc, argv);

	if (r)
		return r > 0 ? 0 : 2;
	if (load_setup(&ld))
		return 1;
	signals_init(on_signal);
	if (ld.opt.create && stream_create(&ld))
		return 1;
	if (ld.opt.duration_s == 0) {
		printf("sluice-load: stream %s is ACTIVE at %s\n", ld.opt.stream, ld.opt.endpoint);
		return 0;
	}
	if (ld.opt.mode == MODE_SQS)
		return sqs_main(&ld);
	if (ld.opt.mode == MODE_SNS)
		return sns_main(&ld);
	load_run(&ld, (uint64_t)(ld.opt.duration_s * 1e9));
	summary_print(&ld);
	if (ld.opt.json_path && summary_json(&ld, ld.opt.json_path))
		return 1;
	if (ld.st.records == 0) {
		fprintf(stderr, "sluice-load: no record was acknowledged\n");
		return 3;
	}
	return 0;
}
