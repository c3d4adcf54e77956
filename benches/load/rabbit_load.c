/* rabbit_load.c - RabbitMQ load generator, shaped like `sluice-load sqs`.
 *
 * N producer connections publish persistent messages (delivery_mode 2) to
 * one durable queue with publisher confirms: a batch is B messages
 * published, then every confirm awaited. M consumer connections take
 * deliveries with manual acks and a prefetch (basic.qos) of R, acking the R
 * messages with one multiple-ack once they all arrived (what is pending is
 * acked too when nothing came for 100 ms). A body starts with its send
 * time in ns (20 decimal digits of CLOCK_MONOTONIC, as sluice-load sqs
 * writes it), so the consumers measure send-to-receive latency.
 *
 * One blocking connection per thread (librabbitmq is not thread-safe per
 * connection, and a thread each keeps the client simple). Each thread keeps
 * its counts and histograms under its own mutex, which only the reporting
 * thread takes besides it, once a second.
 *
 * The fanout mode is the peer of `sluice-load sns`: the producers publish
 * to a durable fanout exchange with K durable queues bound (classic or
 * quorum), so a confirm means the message is on disk in every queue, as a
 * Publish to a topic with K SQS subscriptions is answered once every
 * delivery is durable. The consumers drain the K queues, each taking its
 * queues (one, or several in turn when there are fewer consumers than
 * queues) on one channel.
 *
 * The human report and the --json-summary file match sluice-load sqs (in
 * fanout mode sluice-load sns), key for key, so one script reads both.
 * "deleted" counts acked messages: basic.ack has no reply, so an ack
 * counts when it is written.
 */

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "load_common.h"

/* Flag limits; each keeps a buffer or a count computable. */
#define RL_THREADS_MAX 512          /* producers, consumers and fillers together */
#define RL_BATCH_MAX 10000          /* messages per confirm batch: the tag bitmap */
#define RL_PREFETCH_MAX 65535       /* basic.qos prefetch_count is 16 bits */
#define RL_RECORD_MAX (1u << 20)
#define RL_DURATION_MAX_S 86400.0
#define RL_DEPTH_MAX 100000000ull
#define RL_NAME_MAX 255             /* AMQP short string */
#define RL_QUEUE_BASE_MAX 200       /* leaves room for the run suffix */
#define RL_QUEUES_MAX 1000          /* fanout: queues bound to the exchange */

#define RL_FRAME_MAX 131072
#define RL_CHANNEL 1
#define RL_FILL_BATCH 100           /* messages per confirm batch in the pre-fill */
#define RL_FILL_THREADS 8
#define RL_CONSUME_POLL_MS 100      /* a consumer's wait before it acks what it has */
#define RL_CONFIRM_WAIT_S 30        /* a batch's confirms, before the connection counts as lost */
#define RL_RPC_TIMEOUT_S 10
#define RL_RECONNECT_NS (100 * NS_PER_MS)
#define RL_CONNECT_TRIES 50
#define RL_FILL_TIMEOUT_NS (3600 * NS_PER_S)
#define RL_ERR_LOG_MAX 5
#define RL_WAIT_FRAMES_MAX 1000000  /* frames read while waiting for one batch's confirms */

_Static_assert(RL_FILL_BATCH <= RL_BATCH_MAX, "the pre-fill batch fits the tag bitmap");
_Static_assert(RL_QUEUE_BASE_MAX + 24 + 5 <= RL_NAME_MAX,
	       "a queue name has room for its run suffix and its number");

enum rl_role { RL_PRODUCER, RL_CONSUMER, RL_FILLER };
enum rl_phase { PH_RUN, PH_FILL, PH_DRAIN };
enum rl_qtype { QT_QUORUM, QT_CLASSIC };
/* RL_QUEUE: one queue (the default exchange routes to it by name);
 * RL_FANOUT: a fanout exchange and its queues. */
enum rl_mode { RL_QUEUE, RL_FANOUT };

struct rl_opts {
	char host[256];
	int port;
	char endpoint[280];
	char user[128];
	char password[128];
	char vhost[128];
	char queue[RL_QUEUE_BASE_MAX + 1];
	uint8_t qtype;        /* enum rl_qtype */
	uint8_t mode;         /* enum rl_mode */
	uint32_t queues;      /* fanout: queues bound to the exchange */
	uint32_t producers;
	uint32_t consumers;
	uint32_t batch;       /* messages per confirm batch */
	uint32_t recv_batch;  /* prefetch, and messages per multiple-ack */
	uint32_t record_size;
	double duration_s;
	double rate;
	uint64_t depth;
	bool keep_queue;
	const char *json_path;
};

/* The counters, named as in the sqs summary. */
struct rl_stats {
	uint64_t sent;          /* confirmed messages */
	uint64_t send_failed;   /* nacked, or lost with a connection */
	uint64_t send_requests; /* confirmed batches */
	uint64_t send_errors;   /* failed batches and connections */
	uint64_t received;
	uint64_t deleted;       /* acked */
	uint64_t acks;          /* basic.ack frames written */
	uint64_t recv_errors;
	uint64_t bad_bodies;    /* no send time at the start */
};

struct rl_run;

/* One thread and its connection. Cache-line aligned: each is written by
 * its own thread. */
struct rl_thread {
	pthread_t tid;
	struct rl_run *run;
	uint8_t role;         /* enum rl_role */
	uint32_t idx;         /* among the threads of its role */
	pthread_mutex_t mu;   /* guards st and the histograms */
	struct rl_stats st;
	struct load_hist send_sec, send_all, e2e_sec, e2e_all;
	uint64_t last_done_ns;
	uint64_t rng;
	uint8_t *body;        /* record_size bytes */
	uint8_t *acked;       /* per tag of the batch in flight: 0 open, 1 ack, 2 nack */
	uint64_t next_send_ns;
} __attribute__((aligned(64)));

/* A queue name, as AMQP's short strings are. */
struct rl_qname {
	char s[RL_NAME_MAX + 1];
};

struct rl_run {
	struct rl_opts opt;
	char queue[RL_NAME_MAX + 1];  /* the queue, or (fanout) the exchange */
	struct rl_qname *fq;          /* fanout: the queues, <exchange>-<k> */
	uint32_t fq_made;             /* fanout: queues declared so far (deleted at the end) */
	bool ex_made;                 /* fanout: the exchange was declared */
	long long backlog_end;        /* fanout: messages ready after the run; -1 unknown */
	uint8_t *pool;
	atomic_int stop;           /* producers stop; consumers ack and leave */
	atomic_int_fast64_t fill_left;
	uint8_t phase;             /* enum rl_phase */
	uint64_t interval_ns;      /* --rate: gap between one producer's batches */
	uint64_t start_ns;
	uint64_t end_ns;
	uint64_t stop_ns;
	struct rl_thread *th;
	uint32_t nth;
	atomic_uint err_logged;
	/* What the report shows, summed over the threads. */
	struct rl_stats tot, prev;
	struct load_hist e2e_sec, e2e_all, send_all;
	uint64_t last_done_ns;
	uint64_t last_report_ns;
	uint64_t fill_sent, fill_failed;
	double fill_s;
	long long depth_seen;
	uint64_t unsent;           /* --rate: messages the schedule wanted sent by the end */
};

const char load_prog[] = "rabbit-load";

static atomic_int g_signals;

static const char usage_text[] =
	"usage: rabbit-load [queue] [--endpoint HOST:PORT] [--user U] [--password P] [--vhost V]\n"
	"                   [--queue NAME] [--queue-type quorum|classic] [--producers N]\n"
	"                   [--consumers M] [--batch B] [--recv-batch R] [--record-size BYTES]\n"
	"                   [--duration S] [--rate R] [--depth N] [--keep-queue]\n"
	"                   [--json-summary FILE]\n"
	"       rabbit-load fanout [--queues K] [the flags above but --depth]\n"
	"\n"
	"N producer connections publish persistent messages to a durable queue with publisher\n"
	"confirms: B messages published, then their confirms awaited. M consumer connections\n"
	"take them with manual acks and a prefetch of R, one multiple-ack per R messages. Each\n"
	"run declares queue NAME-<time>-<pid> and deletes it at the end. The report matches\n"
	"sluice-load sqs: end-to-end messages/s (received and acked) and send-to-receive latency.\n"
	"\n"
	"fanout: the producers publish to a durable fanout exchange NAME-<time>-<pid> with K\n"
	"durable queues NAME-<time>-<pid>-<k> bound, so each message is confirmed once it is in\n"
	"every queue; M consumers (default one per queue, at least 4) drain the queues, each\n"
	"consuming its queues (queue i % K, or with fewer consumers than queues the queues i,\n"
	"i + M, ...) on one channel with a prefetch of R per queue. The report matches\n"
	"sluice-load sns: publishes/s, deliveries/s (received and acked, K per message) and the\n"
	"latency of each delivery from its publish.\n"
	"\n"
	"  --endpoint HOST:PORT  broker (default 127.0.0.1:5672)\n"
	"  --user, --password    credentials (default guest, guest)\n"
	"  --vhost V             virtual host (default /)\n"
	"  --queue NAME          base queue name, 1..200 of [A-Za-z0-9_.-] (default sluice-bench)\n"
	"  --queue-type T        quorum (x-queue-type=quorum, durable) or classic (durable);\n"
	"                        default quorum\n"
	"  --producers N         producer connections (default 4)\n"
	"  --consumers M         consumer connections (default 4)\n"
	"  --batch B             messages per confirm batch, 1..10000 (default 10)\n"
	"  --recv-batch R        prefetch and messages per ack, 1..65535 (default 10)\n"
	"  --record-size BYTES   body bytes, 20..1048576 (default 100)\n"
	"  --duration S          seconds of load (default 10)\n"
	"  --rate R              open loop: producers offer R messages/s in total; latency counts\n"
	"                        from the scheduled send time. Default: closed loop\n"
	"  --depth N             pre-fill N messages over 8 connections, then run the consumers\n"
	"                        alone for --duration (or until the queue is empty)\n"
	"  --queues K            fanout: queues bound to the exchange, 1..1000 (default 10)\n"
	"  --keep-queue          leave the queue in place at the end (fanout: exchange and queues)\n"
	"  --json-summary FILE   also write the summary as JSON\n"
	"\n"
	"Exit status: 0 ok, 1 setup failed, 2 bad flags, 3 no message went through.\n";

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&g_signals, 1, memory_order_relaxed);
}

static bool stopping(const struct rl_run *run)
{
	return atomic_load_explicit(&run->stop, memory_order_acquire) != 0;
}

/* ---- connections ---- */

/* The first few failures are printed in full; the rest are counted. */
__attribute__((format(printf, 2, 3)))
static void log_failure(struct rl_run *run, const char *fmt, ...)
{
	unsigned int n = atomic_fetch_add_explicit(&run->err_logged, 1, memory_order_relaxed);
	va_list ap;

	if (n >= RL_ERR_LOG_MAX || stopping(run))
		return;
	fprintf(stderr, "rabbit-load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", n + 1 == RL_ERR_LOG_MAX ? " (further errors are counted)" : "");
}

/* Text for an RPC reply that was not normal. */
static const char *reply_text(amqp_rpc_reply_t r, char *buf, size_t cap)
{
	const amqp_connection_close_t *cc;
	const amqp_channel_close_t *ch;

	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
		return amqp_error_string2(r.library_error);
	if (r.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION)
		return "no reply";
	if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
		cc = r.reply.decoded;
		snprintf(buf, cap, "connection closed: %u %.*s", cc->reply_code,
			 (int)cc->reply_text.len, (const char *)cc->reply_text.bytes);
	} else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
		ch = r.reply.decoded;
		snprintf(buf, cap, "channel closed: %u %.*s", ch->reply_code,
			 (int)ch->reply_text.len, (const char *)ch->reply_text.bytes);
	} else {
		snprintf(buf, cap, "server method 0x%08x", r.reply.id);
	}
	return buf;
}

/* Connect, log in and open channel 1. Returns the connection or NULL
 * (with the reason logged). */
static amqp_connection_state_t rl_connect(struct rl_run *run)
{
	const struct rl_opts *o = &run->opt;
	struct timeval tv = { .tv_sec = RL_RPC_TIMEOUT_S };
	amqp_connection_state_t c = amqp_new_connection();
	amqp_socket_t *sock = c ? amqp_tcp_socket_new(c) : NULL;
	amqp_rpc_reply_t r;
	char buf[256];
	int st;

	if (!sock) {
		log_failure(run, "out of memory for a connection");
		goto fail;
	}
	st = amqp_socket_open_noblock(sock, o->host, o->port, &tv);
	if (st != AMQP_STATUS_OK) {
		log_failure(run, "connect %s: %s", o->endpoint, amqp_error_string2(st));
		goto fail;
	}
	amqp_set_rpc_timeout(c, &tv);
	r = amqp_login(c, o->vhost, 0, RL_FRAME_MAX, 0, AMQP_SASL_METHOD_PLAIN, o->user,
		       o->password);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		log_failure(run, "login: %s", reply_text(r, buf, sizeof(buf)));
		goto fail;
	}
	amqp_channel_open(c, RL_CHANNEL);
	r = amqp_get_rpc_reply(c);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		log_failure(run, "channel.open: %s", reply_text(r, buf, sizeof(buf)));
		goto fail;
	}
	return c;
fail:
	if (c)
		amqp_destroy_connection(c);
	return NULL;
}

/* A clean close when the connection still works; a broken one is just
 * dropped. */
static void rl_close(amqp_connection_state_t c, bool clean)
{
	if (!c)
		return;
	if (clean) {
		amqp_channel_close(c, RL_CHANNEL, AMQP_REPLY_SUCCESS);
		amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	}
	amqp_destroy_connection(c);
}

/* Connect, retrying while the run goes on. NULL once it stops or after
 * RL_CONNECT_TRIES failures. */
static amqp_connection_state_t rl_connect_retry(struct rl_thread *t)
{
	amqp_connection_state_t c;

	for (int i = 0; i < RL_CONNECT_TRIES && !stopping(t->run); i++) {
		c = rl_connect(t->run);
		if (c)
			return c;
		pthread_mutex_lock(&t->mu);
		if (t->role == RL_CONSUMER)
			t->st.recv_errors++;
		else
			t->st.send_errors++;
		pthread_mutex_unlock(&t->mu);
		sleep_until(now_ns() + RL_RECONNECT_NS);
	}
	return NULL;
}

/* ---- producers ---- */

/* Messages the next batch carries: B, or what is left of the pre-fill
 * (0 once it is all handed out). */
static uint32_t batch_take(struct rl_thread *t)
{
	struct rl_run *run = t->run;
	int_fast64_t left, n;

	if (t->role == RL_PRODUCER)
		return run->opt.batch;
	left = atomic_load_explicit(&run->fill_left, memory_order_relaxed);
	for (int i = 0; i < 1000 && left > 0; i++) {
		n = left < RL_FILL_BATCH ? left : RL_FILL_BATCH;
		if (atomic_compare_exchange_weak_explicit(&run->fill_left, &left, left - n,
							  memory_order_relaxed, memory_order_relaxed))
			return (uint32_t)n;
	}
	return 0;
}

/* Mark tags first..upto (inclusive, within the batch from base) with v. */
static uint32_t mark_tags(struct rl_thread *t, uint64_t base, uint32_t n, uint64_t first,
			  uint64_t upto, uint8_t v)
{
	uint32_t marked = 0;

	for (uint64_t tag = first < base ? base : first; tag <= upto && tag < base + n; tag++) {
		if (t->acked[tag - base] == 0) {
			t->acked[tag - base] = v;
			marked++;
		}
	}
	return marked;
}

/* Read frames until every tag of the batch [base, base + n) is confirmed
 * (acked or nacked). Returns the nacked count, or -1 when the connection
 * failed or the confirms did not come in time. */
static long confirms_wait(struct rl_thread *t, amqp_connection_state_t c, uint64_t base, uint32_t n)
{
	const amqp_basic_ack_t *ack;
	const amqp_basic_nack_t *nack;
	struct timeval tv = { .tv_sec = 1 };
	uint64_t deadline = now_ns() + RL_CONFIRM_WAIT_S * NS_PER_S;
	uint32_t done = 0, nacked = 0, m;
	amqp_frame_t f;
	int st;

	memset(t->acked, 0, n);
	for (uint32_t i = 0; i < RL_WAIT_FRAMES_MAX && done < n; i++) {
		st = amqp_simple_wait_frame_noblock(c, &f, &tv);
		if (st == AMQP_STATUS_TIMEOUT && now_ns() < deadline)
			continue;
		if (st != AMQP_STATUS_OK) {
			log_failure(t->run, "waiting for confirms: %s", amqp_error_string2(st));
			return -1;
		}
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
			ack = f.payload.method.decoded;
			m = mark_tags(t, base, n, ack->multiple ? base : ack->delivery_tag,
				      ack->delivery_tag, 1);
		} else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
			nack = f.payload.method.decoded;
			m = mark_tags(t, base, n, nack->multiple ? base : nack->delivery_tag,
				      nack->delivery_tag, 2);
			nacked += m;
		} else {
			log_failure(t->run, "unexpected method 0x%08x while waiting for confirms",
				    f.payload.method.id);
			return -1;
		}
		done += m;
	}
	return done == n ? (long)nacked : -1;
}

/* Publish one batch of n messages stamped `stamp`, tags from base on. */
static int batch_publish(struct rl_thread *t, amqp_connection_state_t c, uint32_t n,
			 uint64_t stamp)
{
	amqp_basic_properties_t props = { ._flags = AMQP_BASIC_DELIVERY_MODE_FLAG,
					  .delivery_mode = AMQP_DELIVERY_PERSISTENT };
	bool fanout = t->run->opt.mode == RL_FANOUT;
	/* One queue: the default exchange routes by the queue's name. Fanout:
	 * the run's exchange, which ignores the routing key. */
	amqp_bytes_t ex = fanout ? amqp_cstring_bytes(t->run->queue) : amqp_empty_bytes;
	amqp_bytes_t rk = fanout ? amqp_empty_bytes : amqp_cstring_bytes(t->run->queue);
	amqp_bytes_t body = { .len = t->run->opt.record_size, .bytes = t->body };
	int st;

	for (uint32_t i = 0; i < n; i++) {
		body_put(t->body, t->run->opt.record_size, stamp, t->run->pool, &t->rng);
		st = amqp_basic_publish(c, RL_CHANNEL, ex, rk, 0, 0, &props, body);
		if (st != AMQP_STATUS_OK) {
			log_failure(t->run, "publish: %s", amqp_error_string2(st));
			return -1;
		}
	}
	return 0;
}

/* Count a finished (or lost, nacked < 0) batch. A lost pre-fill batch goes
 * back to be sent again, since the depth is what the pre-fill is for. */
static void batch_done(struct rl_thread *t, uint32_t n, long nacked, uint64_t stamp)
{
	uint64_t now = now_ns();

	pthread_mutex_lock(&t->mu);
	if (nacked < 0) {
		t->st.send_errors++;
		t->st.send_failed += n;
	} else {
		t->st.send_requests++;
		t->st.sent += n - (uint64_t)nacked;
		t->st.send_failed += (uint64_t)nacked;
		hist_record(&t->send_sec, (now - stamp) / NS_PER_US);
		hist_record(&t->send_all, (now - stamp) / NS_PER_US);
		t->last_done_ns = now;
	}
	pthread_mutex_unlock(&t->mu);
	if (t->role == RL_FILLER && nacked != 0)
		atomic_fetch_add_explicit(&t->run->fill_left, nacked < 0 ? (int_fast64_t)n : nacked,
					  memory_order_relaxed);
}

/* The send time of the next batch: now in a closed loop; with --rate its
 * scheduled time, slept until. 0 when the schedule is past the end. */
static uint64_t batch_time(struct rl_thread *t)
{
	struct rl_run *run = t->run;
	uint64_t s;

	if (t->role != RL_PRODUCER || run->opt.rate <= 0)
		return now_ns();
	s = t->next_send_ns;
	if (s >= run->end_ns)
		return 0;
	t->next_send_ns += run->interval_ns;
	if (s > now_ns())
		sleep_until(s);
	return s;
}

static void *producer_main(void *arg)
{
	struct rl_thread *t = arg;
	amqp_connection_state_t c = NULL;
	uint64_t tag = 0, stamp;
	uint32_t n;
	long nacked;

	while (!stopping(t->run)) {
		if (!c) {
			c = rl_connect_retry(t);
			if (!c)
				break;
			amqp_confirm_select(c, RL_CHANNEL);
			if (amqp_get_rpc_reply(c).reply_type != AMQP_RESPONSE_NORMAL) {
				log_failure(t->run, "confirm.select failed");
				rl_close(c, false);
				c = NULL;
				continue;
			}
			tag = 0;
		}
		n = batch_take(t);
		stamp = n ? batch_time(t) : 0;
		if (n == 0 || stamp == 0 || stopping(t->run)) {
			if (n && t->role == RL_FILLER)
				atomic_fetch_add_explicit(&t->run->fill_left, n, memory_order_relaxed);
			break;
		}
		nacked = batch_publish(t, c, n, stamp) ? -1 : confirms_wait(t, c, tag + 1, n);
		tag += n;
		batch_done(t, n, nacked, stamp);
		if (nacked < 0) {
			rl_close(c, false);
			c = NULL;
		}
		if (c)
			amqp_maybe_release_buffers(c);
	}
	rl_close(c, c != NULL);
	return NULL;
}

/* ---- consumers ---- */

static int consumer_ack(struct rl_thread *t, amqp_connection_state_t c, uint64_t tag,
			uint32_t *pending)
{
	int st;

	if (*pending == 0)
		return 0;
	st = amqp_basic_ack(c, RL_CHANNEL, tag, 1);
	pthread_mutex_lock(&t->mu);
	if (st == AMQP_STATUS_OK) {
		t->st.deleted += *pending;
		t->st.acks++;
		t->last_done_ns = now_ns();
	} else {
		t->st.recv_errors++;
	}
	pthread_mutex_unlock(&t->mu);
	*pending = 0;
	if (st != AMQP_STATUS_OK)
		log_failure(t->run, "basic.ack: %s", amqp_error_string2(st));
	return st == AMQP_STATUS_OK ? 0 : -1;
}

static void consumer_took(struct rl_thread *t, const amqp_envelope_t *e)
{
	int64_t stamp = stamp_parse(e->message.body.bytes, e->message.body.len);
	uint64_t now = now_ns(), us;

	pthread_mutex_lock(&t->mu);
	t->st.received++;
	if (stamp < 0) {
		t->st.bad_bodies++;
	} else {
		us = stamp_age_us((uint64_t)stamp, now);
		hist_record(&t->e2e_sec, us);
		hist_record(&t->e2e_all, us);
	}
	pthread_mutex_unlock(&t->mu);
}

/* basic.consume of one queue. */
static amqp_rpc_reply_t consume_one(amqp_connection_state_t c, const char *queue)
{
	amqp_basic_consume(c, RL_CHANNEL, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0,
			   amqp_empty_table);
	return amqp_get_rpc_reply(c);
}

/* basic.qos and basic.consume on a fresh connection: the queue, or
 * (fanout) each of this consumer's queues on the one channel. The
 * prefetch is per consumer (global false: RabbitMQ's per-consumer limit,
 * which quorum queues support too), so a consumer holds at most R unacked
 * deliveries from each of its queues, as an SQS receive takes at most R.
 * Returns 0 or -1. */
static int consumer_start(struct rl_thread *t, amqp_connection_state_t c)
{
	const struct rl_opts *o = &t->run->opt;
	char buf[256];
	amqp_rpc_reply_t r;
	uint32_t q;

	amqp_basic_qos(c, RL_CHANNEL, 0, (uint16_t)o->recv_batch, 0);
	r = amqp_get_rpc_reply(c);
	if (r.reply_type == AMQP_RESPONSE_NORMAL && o->mode == RL_QUEUE)
		r = consume_one(c, t->run->queue);
	if (r.reply_type == AMQP_RESPONSE_NORMAL && o->mode == RL_FANOUT) {
		q = fanout_queue_first(t->idx, o->consumers, o->queues);
		for (uint32_t i = 0; i < o->queues && r.reply_type == AMQP_RESPONSE_NORMAL; i++) {
			r = consume_one(c, t->run->fq[q].s);
			if (fanout_queue_next(q, t->idx, o->consumers, o->queues) <= q)
				break;
			q = fanout_queue_next(q, t->idx, o->consumers, o->queues);
		}
	}
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 0;
	log_failure(t->run, "basic.qos/consume: %s", reply_text(r, buf, sizeof(buf)));
	return -1;
}

/* One delivery, or a poll that timed out. Returns 0, or -1 when the
 * connection is no longer usable. */
static int consumer_step(struct rl_thread *t, amqp_connection_state_t c, uint64_t *tag,
			 uint32_t *pending)
{
	struct timeval tv = { .tv_usec = RL_CONSUME_POLL_MS * 1000 };
	amqp_envelope_t e;
	amqp_rpc_reply_t r;
	char buf[256];

	r = amqp_consume_message(c, &e, &tv, 0);
	if (r.reply_type == AMQP_RESPONSE_NORMAL) {
		consumer_took(t, &e);
		*tag = e.delivery_tag;
		amqp_destroy_envelope(&e);
		if (++*pending >= t->run->opt.recv_batch)
			return consumer_ack(t, c, *tag, pending);
		return 0;
	}
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
		return consumer_ack(t, c, *tag, pending);
	pthread_mutex_lock(&t->mu);
	t->st.recv_errors++;
	pthread_mutex_unlock(&t->mu);
	log_failure(t->run, "consume: %s", reply_text(r, buf, sizeof(buf)));
	return -1;
}

static void *consumer_main(void *arg)
{
	struct rl_thread *t = arg;
	amqp_connection_state_t c = NULL;
	uint64_t tag = 0;
	uint32_t pending = 0;

	while (!stopping(t->run)) {
		if (!c) {
			c = rl_connect_retry(t);
			if (!c)
				break;
			if (consumer_start(t, c)) {
				rl_close(c, false);
				c = NULL;
				continue;
			}
			tag = 0;
			pending = 0;
		}
		if (consumer_step(t, c, &tag, &pending)) {
			/* Unacked deliveries go back to the queue with the connection. */
			rl_close(c, false);
			c = NULL;
			pending = 0;
			sleep_until(now_ns() + RL_RECONNECT_NS);
		}
		if (c)
			amqp_maybe_release_buffers(c);
	}
	if (c && consumer_ack(t, c, tag, &pending) == 0)
		rl_close(c, true);
	else
		rl_close(c, false);
	return NULL;
}

/* ---- the queue ---- */

/* Declare (or, passive, look up) queue `name` on connection c: durable,
 * quorum or classic by --queue-type. Returns its message count (ready
 * messages), or -1 with the reason on stderr (the channel is then closed). */
static long long declare_on(struct rl_run *run, amqp_connection_state_t c, const char *name,
			    bool passive)
{
	amqp_table_entry_t qt = { .key = amqp_cstring_bytes("x-queue-type"),
				  .value = { .kind = AMQP_FIELD_KIND_UTF8,
					     .value.bytes = amqp_cstring_bytes("quorum") } };
	amqp_table_t args = { .num_entries = run->opt.qtype == QT_QUORUM ? 1 : 0, .entries = &qt };
	amqp_queue_declare_ok_t *ok;
	amqp_rpc_reply_t r;
	char buf[256];

	ok = amqp_queue_declare(c, RL_CHANNEL, amqp_cstring_bytes(name), passive, 1, 0, 0,
				passive ? amqp_empty_table : args);
	r = amqp_get_rpc_reply(c);
	if (ok && r.reply_type == AMQP_RESPONSE_NORMAL)
		return ok->message_count;
	fprintf(stderr, "rabbit-load: queue.declare %s: %s\n", name, reply_text(r, buf, sizeof(buf)));
	return -1;
}

/* Declare (or, passive, look up) the run's queue on a short-lived
 * connection. Returns its message count, or -1. */
static long long queue_declare(struct rl_run *run, bool passive)
{
	amqp_connection_state_t c = rl_connect(run);
	long long count;

	if (!c)
		return -1;
	count = declare_on(run, c, run->queue, passive);
	rl_close(c, count >= 0);
	return count;
}

/* Delete queue (or exchange, `exchange`) `name` on connection c. Returns
 * 0, or -1 with the reason on stderr (the channel is then closed). */
static int delete_on(amqp_connection_state_t c, const char *name, bool exchange)
{
	amqp_rpc_reply_t r;
	char buf[256];

	if (exchange)
		amqp_exchange_delete(c, RL_CHANNEL, amqp_cstring_bytes(name), 0);
	else
		amqp_queue_delete(c, RL_CHANNEL, amqp_cstring_bytes(name), 0, 0);
	r = amqp_get_rpc_reply(c);
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 0;
	fprintf(stderr, "rabbit-load: %s.delete %s: %s\n", exchange ? "exchange" : "queue", name,
		reply_text(r, buf, sizeof(buf)));
	return -1;
}

static void queue_delete(struct rl_run *run)
{
	amqp_connection_state_t c = rl_connect(run);

	if (!c) {
		fprintf(stderr, "rabbit-load: could not delete queue %s\n", run->queue);
		return;
	}
	rl_close(c, delete_on(c, run->queue, false) == 0);
}

/* ---- fanout: the exchange and its queues ---- */

/* Declare the durable fanout exchange, then each queue and its binding,
 * on one connection. Every queue declared is counted in fq_made at once,
 * so fanout_delete removes it whatever fails after. Returns 0 or -1. */
static int fanout_declare(struct rl_run *run)
{
	amqp_connection_state_t c = rl_connect(run);
	amqp_rpc_reply_t r;
	char buf[256];
	int rc = 0;

	if (!c)
		return -1;
	amqp_exchange_declare(c, RL_CHANNEL, amqp_cstring_bytes(run->queue),
			      amqp_cstring_bytes("fanout"), 0, 1, 0, 0, amqp_empty_table);
	r = amqp_get_rpc_reply(c);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		fprintf(stderr, "rabbit-load: exchange.declare %s: %s\n", run->queue,
			reply_text(r, buf, sizeof(buf)));
		rc = -1;
	}
	run->ex_made = rc == 0;
	for (uint32_t k = 0; rc == 0 && k < run->opt.queues && !atomic_load(&g_signals); k++) {
		if (declare_on(run, c, run->fq[k].s, false) < 0) {
			rc = -1;
			break;
		}
		run->fq_made = k + 1;
		amqp_queue_bind(c, RL_CHANNEL, amqp_cstring_bytes(run->fq[k].s),
				amqp_cstring_bytes(run->queue), amqp_empty_bytes, amqp_empty_table);
		r = amqp_get_rpc_reply(c);
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			fprintf(stderr, "rabbit-load: queue.bind %s: %s\n", run->fq[k].s,
				reply_text(r, buf, sizeof(buf)));
			rc = -1;
		}
	}
	if (rc == 0 && run->fq_made < run->opt.queues)
		rc = -1;
	rl_close(c, rc == 0);
	return rc;
}

/* Messages still ready in the queues after the run, from a passive
 * declare of each; -1 when one would not say. */
static long long fanout_backlog(struct rl_run *run)
{
	amqp_connection_state_t c = rl_connect(run);
	long long sum = 0, n = 0;

	if (!c)
		return -1;
	for (uint32_t k = 0; k < run->fq_made && n >= 0; k++) {
		n = declare_on(run, c, run->fq[k].s, true);
		sum += n;
	}
	rl_close(c, n >= 0);
	return n >= 0 ? sum : -1;
}

/* Every queue declared, then the exchange. A failure closes the channel,
 * so what follows goes on a new connection. */
static void fanout_delete(struct rl_run *run)
{
	amqp_connection_state_t c = NULL;
	uint32_t failed = 0;
	bool ex;

	if (!run->ex_made)
		return;
	assert(run->fq_made <= run->opt.queues);
	for (uint32_t k = 0; k <= run->fq_made; k++) {
		ex = k == run->fq_made;
		if (!c)
			c = rl_connect(run);
		if (!c || delete_on(c, ex ? run->queue : run->fq[k].s, ex)) {
			failed++;
			rl_close(c, false);
			c = NULL;
		}
	}
	rl_close(c, c != NULL);
	if (failed)
		fprintf(stderr, "rabbit-load: %u of exchange %s and its %u queues not deleted\n",
			failed, run->queue, run->fq_made);
}

/* ---- the run and its report ---- */

static void stats_add(struct rl_stats *a, const struct rl_stats *b)
{
	a->sent += b->sent;
	a->send_failed += b->send_failed;
	a->send_requests += b->send_requests;
	a->send_errors += b->send_errors;
	a->received += b->received;
	a->deleted += b->deleted;
	a->acks += b->acks;
	a->recv_errors += b->recv_errors;
	a->bad_bodies += b->bad_bodies;
}

static uint64_t stats_errors(const struct rl_stats *s)
{
	return s->send_errors + s->send_failed + s->recv_errors;
}

/* Sum the threads' counts and move their per-second histograms into the
 * run's, which report_second empties. */
static void collect(struct rl_run *run, bool final)
{
	struct rl_thread *t;

	memset(&run->tot, 0, sizeof(run->tot));
	for (uint32_t i = 0; i < run->nth; i++) {
		t = &run->th[i];
		pthread_mutex_lock(&t->mu);
		stats_add(&run->tot, &t->st);
		hist_merge(&run->e2e_sec, &t->e2e_sec);
		memset(&t->e2e_sec, 0, sizeof(t->e2e_sec));
		memset(&t->send_sec, 0, sizeof(t->send_sec));
		if (final) {
			hist_merge(&run->e2e_all, &t->e2e_all);
			hist_merge(&run->send_all, &t->send_all);
		}
		if (t->last_done_ns > run->last_done_ns)
			run->last_done_ns = t->last_done_ns;
		pthread_mutex_unlock(&t->mu);
	}
}

/* The line sluice-load sqs (fanout: sns) prints each second, to the
 * character. */
static void report_second(struct rl_run *run, uint64_t now)
{
	const struct rl_stats *s = &run->tot, *p = &run->prev;
	double dt = (double)(now - run->last_report_ns) / 1e9;
	double at = (double)(now - run->start_ns) / 1e9;
	double sends = (double)(s->sent - p->sent) / dt;

	if (run->phase == PH_FILL)
		report_fill_line(at, sends, s->sent, run->opt.depth,
				 stats_errors(s) - stats_errors(p));
	else if (run->opt.mode == RL_FANOUT)
		report_fanout_line(at, sends, (double)(s->deleted - p->deleted) / dt, &run->e2e_sec,
				   stats_errors(s) - stats_errors(p));
	else
		report_e2e_line(at, sends, (double)(s->deleted - p->deleted) / dt, &run->e2e_sec,
				stats_errors(s) - stats_errors(p));
	fflush(stdout);
	run->prev = run->tot;
	memset(&run->e2e_sec, 0, sizeof(run->e2e_sec));
	run->last_report_ns = now;
}

/* Whether the phase is over besides its clock: the pre-fill when every
 * message is confirmed, the depth test when the queue is empty. */
static bool phase_done(struct rl_run *run)
{
	if (run->phase == PH_FILL)
		return run->tot.sent >= run->opt.depth ||
		       run->tot.send_errors + run->tot.send_failed > 1000;
	if (run->phase == PH_DRAIN)
		return run->tot.deleted >= run->fill_sent;
	return false;
}

/* The reporting thread wakes at the next report, the end, or within
 * 10 ms, whichever comes first, to see whether the phase is done. */
static uint64_t min_next(uint64_t now, uint64_t a, uint64_t b)
{
	uint64_t t = now + 10 * NS_PER_MS;

	if (a < t)
		t = a;
	return b < t ? b : t;
}

/* With --rate, the batches each producer's schedule wanted out before
 * the end (or the stop) that never went: a sign the offered load was not
 * met. Read after the threads were joined. */
static void count_unsent(struct rl_run *run)
{
	uint64_t end = run->stop_ns < run->end_ns ? run->stop_ns : run->end_ns;
	const struct rl_thread *t;

	if (run->opt.rate <= 0)
		return;
	for (uint32_t i = 0; i < run->nth; i++) {
		t = &run->th[i];
		if (t->role == RL_PRODUCER && t->next_send_ns < end)
			run->unsent += ((end - t->next_send_ns - 1) / run->interval_ns + 1) *
				       run->opt.batch;
	}
}

static int threads_start(struct rl_run *run, uint8_t role, uint32_t n, uint32_t *at)
{
	struct rl_thread *t;

	for (uint32_t i = 0; i < n; i++) {
		t = &run->th[(*at)++];
		t->role = role;
		t->idx = i;
		if (run->opt.rate > 0 && role == RL_PRODUCER)
			t->next_send_ns = run->start_ns + run->interval_ns / run->opt.producers * i;
		if (pthread_create(&t->tid, NULL, role == RL_CONSUMER ? consumer_main : producer_main,
				   t) != 0) {
			fprintf(stderr, "rabbit-load: pthread_create failed\n");
			return -1;
		}
	}
	return 0;
}

/* Run `producers` threads of role prole and `consumers` consumers for
 * duration_ns (or until the phase is done), reporting each second, then
 * stop and join them and collect the totals. */
static int phase_run(struct rl_run *run, uint8_t prole, uint32_t producers, uint32_t consumers,
		     uint64_t duration_ns)
{
	uint64_t now = now_ns(), next_report = now + NS_PER_S;
	uint32_t at = 0;
	int rc;

	assert(producers + consumers <= RL_THREADS_MAX);
	run->nth = producers + consumers;
	run->start_ns = run->last_report_ns = now;
	run->end_ns = now + duration_ns;
	atomic_store_explicit(&run->stop, 0, memory_order_release);
	rc = threads_start(run, prole, producers, &at);
	if (rc == 0)
		rc = threads_start(run, RL_CONSUMER, consumers, &at);
	run->nth = at;
	for (uint64_t i = 0; rc == 0 && i < duration_ns / (5 * NS_PER_MS) + 100; i++) {
		now = now_ns();
		collect(run, false);
		if (now >= run->end_ns || phase_done(run) ||
		    atomic_load_explicit(&g_signals, memory_order_relaxed))
			break;
		if (now >= next_report) {
			report_second(run, now);
			next_report += NS_PER_S;
		}
		sleep_until(min_next(now, next_report, run->end_ns));
	}
	run->stop_ns = now_ns();
	atomic_store_explicit(&run->stop, 1, memory_order_release);
	for (uint32_t i = 0; i < run->nth; i++)
		pthread_join(run->th[i].tid, NULL);
	collect(run, true);
	count_unsent(run);
	return rc;
}

/* ---- the summary (sluice-load sqs's, key for key) ---- */

static double elapsed_s(const struct rl_run *run)
{
	return elapsed_between(run->start_ns, run->stop_ns, run->last_done_ns);
}

static const char *qtype_name(const struct rl_opts *o)
{
	return o->qtype == QT_QUORUM ? "quorum" : "classic";
}

static bool drained(const struct rl_run *run)
{
	return run->phase == PH_DRAIN && run->fill_sent && run->tot.deleted >= run->fill_sent;
}

static void summary_print(const struct rl_run *run)
{
	const struct rl_opts *o = &run->opt;
	const struct rl_stats *s = &run->tot;
	double el = elapsed_s(run);
	char per[64];

	printf("\nrabbit-load amqp %s queue=%s queue-type=%s producers=%u consumers=%u batch=%u "
	       "recv-batch=%u record-size=%u ", o->endpoint, run->queue, qtype_name(o),
	       o->producers, o->consumers, o->batch, o->recv_batch, o->record_size);
	if (o->depth)
		printf("depth=%" PRIu64 "\n", o->depth);
	else if (o->rate > 0)
		printf("rate=%.0f/s\n", o->rate);
	else
		printf("closed-loop\n");
	if (o->depth)
		print_fill_summary(run->fill_sent, run->fill_failed, run->fill_s, run->depth_seen);
	if (drained(run))
		printf("  drained     the queue was empty after %.3f s, before --duration\n", el);
	printf("  sent        %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64 " errors, %" PRIu64
	       " requests in %.2f s\n", s->sent, s->send_failed, s->send_errors, s->send_requests, el);
	printf("  received    %" PRIu64 ", deleted %" PRIu64 ", 0 delete failures, 0 empty receives, %"
	       PRIu64 " errors, %" PRIu64 " without a send time\n", s->received, s->deleted,
	       s->recv_errors, s->bad_bodies);
	printf("  throughput  sends %.1f msg/s, end to end %.1f msg/s (received and acked)\n",
	       (double)s->sent / el, (double)s->deleted / el);
	print_hist_line("e2e ms", &run->e2e_all,
			o->depth ? "age at receive: sent during the pre-fill" : "send to receive");
	snprintf(per, sizeof(per), "per confirm batch of %u message%s", o->batch,
		 o->batch == 1 ? "" : "s");
	if (s->send_requests)
		print_hist_line("send ms", &run->send_all, per);
	if (o->rate > 0)
		printf("  unsent      %" PRIu64 " messages the schedule wanted sent\n", run->unsent);
	fflush(stdout);
}

static int summary_json(const struct rl_run *run, const char *path)
{
	const struct rl_opts *o = &run->opt;
	const struct rl_stats *s = &run->tot;
	double el = elapsed_s(run);
	FILE *f = summary_open(path);

	if (!f)
		return -1;
	fprintf(f, "{\n  \"tool\": \"rabbit-load\",\n  \"mode\": \"amqp\",\n  \"endpoint\": \"%s\",\n"
		"  \"queue\": \"%s\",\n  \"queue_type\": \"%s\",\n  \"producers\": %u,\n"
		"  \"consumers\": %u,\n  \"batch\": %u,\n  \"recv_batch\": %u,\n  \"wait_s\": 0,\n"
		"  \"record_size\": %u,\n  \"pipeline\": 1,\n  \"rate\": %.1f,\n"
		"  \"depth\": %" PRIu64 ",\n  \"refill\": false,\n  \"drained\": %s,\n"
		"  \"duration_s\": %.3f,\n  \"elapsed_s\": %.3f,\n",
		o->endpoint, run->queue, qtype_name(o), o->producers, o->consumers, o->batch,
		o->recv_batch, o->record_size, o->rate, o->depth, drained(run) ? "true" : "false",
		o->duration_s, el);
	fprintf(f, "  \"sent\": %" PRIu64 ",\n  \"send_failed\": %" PRIu64 ",\n"
		"  \"send_requests\": %" PRIu64 ",\n  \"send_errors\": %" PRIu64 ",\n"
		"  \"unsent\": %" PRIu64 ",\n  \"received\": %" PRIu64 ",\n  \"deleted\": %" PRIu64 ",\n"
		"  \"delete_failed\": 0,\n  \"consumer_requests\": %" PRIu64 ",\n"
		"  \"empty_receives\": 0,\n  \"recv_errors\": %" PRIu64 ",\n"
		"  \"bad_bodies\": %" PRIu64 ",\n  \"errors\": %" PRIu64 ",\n",
		s->sent, s->send_failed, s->send_requests, s->send_errors, run->unsent, s->received,
		s->deleted, s->acks, s->recv_errors, s->bad_bodies, stats_errors(s));
	fprintf(f, "  \"sends_per_s\": %.1f,\n  \"messages_per_s\": %.1f,\n",
		(double)s->sent / el, (double)s->deleted / el);
	json_hist(f, "latency_ms", &run->e2e_all, ",");
	json_hist(f, "send_latency_ms", &run->send_all, ",");
	json_fill(f, run->fill_sent, run->fill_failed, run->fill_s, run->depth_seen);
	fputs("}\n", f);
	return summary_close(f, path);
}

/* ---- the fanout summary (sluice-load sns's, key for key) ---- */

/* AMQP has no empty receives and no delete replies: those counts are 0,
 * and consumer_requests counts the ack frames written. */
static void fanout_totals(const struct rl_run *run, struct load_fanout *f)
{
	const struct rl_stats *s = &run->tot;

	memset(f, 0, sizeof(*f));
	f->queues = run->opt.queues;
	f->batch = run->opt.batch;
	f->published = s->sent;
	f->publish_failed = s->send_failed;
	f->publish_requests = s->send_requests;
	f->publish_errors = s->send_errors;
	f->unsent = run->unsent;
	f->received = s->received;
	f->deleted = s->deleted;
	f->consumer_requests = s->acks;
	f->recv_errors = s->recv_errors;
	f->bad_bodies = s->bad_bodies;
	f->backlog_end = run->backlog_end;
	f->elapsed_s = elapsed_s(run);
	f->rate = run->opt.rate;
	assert(fanout_errors(f) == stats_errors(s));
}

static void summary_print_fanout(const struct rl_run *run)
{
	const struct rl_opts *o = &run->opt;
	struct load_fanout f;

	fanout_totals(run, &f);
	printf("\nrabbit-load fanout %s exchange=%s queues=%u queue-type=%s producers=%u "
	       "consumers=%u batch=%u recv-batch=%u record-size=%u ", o->endpoint, run->queue,
	       o->queues, qtype_name(o), o->producers, o->consumers, o->batch, o->recv_batch,
	       o->record_size);
	if (o->rate > 0)
		printf("rate=%.0f/s\n", o->rate);
	else
		printf("closed-loop\n");
	print_fanout_summary(&f, &run->e2e_all, &run->send_all);
}

static int summary_json_fanout(const struct rl_run *run, const char *path)
{
	const struct rl_opts *o = &run->opt;
	struct load_fanout f;
	FILE *out = summary_open(path);

	if (!out)
		return -1;
	fanout_totals(run, &f);
	fprintf(out, "{\n  \"tool\": \"rabbit-load\",\n  \"mode\": \"fanout\",\n"
		"  \"endpoint\": \"%s\",\n  \"exchange\": \"%s\",\n  \"queue_type\": \"%s\",\n"
		"  \"queues\": %u,\n  \"producers\": %u,\n  \"consumers\": %u,\n"
		"  \"batch\": %u,\n  \"recv_batch\": %u,\n  \"wait_s\": 0,\n"
		"  \"record_size\": %u,\n  \"pipeline\": 1,\n  \"rate\": %.1f,\n"
		"  \"duration_s\": %.3f,\n  \"elapsed_s\": %.3f,\n",
		o->endpoint, run->queue, qtype_name(o), o->queues, o->producers, o->consumers,
		o->batch, o->recv_batch, o->record_size, o->rate, o->duration_s, f.elapsed_s);
	json_fanout(out, &f, &run->e2e_all, &run->send_all);
	return summary_close(out, path);
}

/* ---- flags ---- */

enum {
	OPT_ENDPOINT = 256, OPT_USER, OPT_PASSWORD, OPT_VHOST, OPT_QUEUE, OPT_QUEUE_TYPE,
	OPT_PRODUCERS, OPT_CONSUMERS, OPT_BATCH, OPT_RECV_BATCH, OPT_RECORD_SIZE, OPT_DURATION,
	OPT_RATE, OPT_DEPTH, OPT_KEEP_QUEUE, OPT_JSON, OPT_QUEUES,
};

static const struct option long_opts[] = {
	{ "endpoint", required_argument, NULL, OPT_ENDPOINT },
	{ "user", required_argument, NULL, OPT_USER },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "vhost", required_argument, NULL, OPT_VHOST },
	{ "queue", required_argument, NULL, OPT_QUEUE },
	{ "queue-type", required_argument, NULL, OPT_QUEUE_TYPE },
	{ "producers", required_argument, NULL, OPT_PRODUCERS },
	{ "connections", required_argument, NULL, OPT_PRODUCERS },
	{ "consumers", required_argument, NULL, OPT_CONSUMERS },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "recv-batch", required_argument, NULL, OPT_RECV_BATCH },
	{ "record-size", required_argument, NULL, OPT_RECORD_SIZE },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "depth", required_argument, NULL, OPT_DEPTH },
	{ "keep-queue", no_argument, NULL, OPT_KEEP_QUEUE },
	{ "json-summary", required_argument, NULL, OPT_JSON },
	{ "queues", required_argument, NULL, OPT_QUEUES },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* HOST:PORT, characters limited so the endpoint goes into the JSON
 * summary without escaping. */
static int parse_endpoint(struct rl_opts *o, const char *s)
{
	const char *colon = strrchr(s, ':');
	uint64_t port = 0;
	size_t hl;

	if (!colon || colon == s || strlen(s) >= sizeof(o->endpoint) ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]") !=
		    strlen(s))
		return bad_flag("--endpoint wants HOST:PORT, got '%s'", s);
	if (parse_u64("endpoint port", colon + 1, 1, 65535, &port))
		return -1;
	hl = (size_t)(colon - s);
	if (s[0] == '[' && hl >= 3 && s[hl - 1] == ']') {
		memcpy(o->host, s + 1, hl - 2);
		o->host[hl - 2] = '\0';
	} else {
		memcpy(o->host, s, hl);
		o->host[hl] = '\0';
	}
	o->port = (int)port;
	memcpy(o->endpoint, s, strlen(s) + 1);
	return 0;
}

static int parse_str(const char *flag, const char *s, char *out, size_t cap)
{
	if (strlen(s) >= cap)
		return bad_flag("--%s is longer than %zu bytes", flag, cap - 1);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int parse_queue(struct rl_opts *o, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RL_QUEUE_BASE_MAX ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
		return bad_flag("--queue wants 1..%d of [A-Za-z0-9_.-], got '%s'", RL_QUEUE_BASE_MAX,
				s);
	memcpy(o->queue, s, n + 1);
	return 0;
}

static int opt_apply(struct rl_opts *o, int c, const char *a)
{
	switch (c) {
	case OPT_ENDPOINT:
		return parse_endpoint(o, a);
	case OPT_USER:
		return parse_str("user", a, o->user, sizeof(o->user));
	case OPT_PASSWORD:
		return parse_str("password", a, o->password, sizeof(o->password));
	case OPT_VHOST:
		return parse_str("vhost", a, o->vhost, sizeof(o->vhost));
	case OPT_QUEUE:
		return parse_queue(o, a);
	case OPT_QUEUE_TYPE:
		if (strcmp(a, "quorum") && strcmp(a, "classic"))
			return bad_flag("--queue-type wants quorum or classic, got '%s'", a);
		o->qtype = strcmp(a, "quorum") ? QT_CLASSIC : QT_QUORUM;
		return 0;
	case OPT_PRODUCERS:
		return parse_u32("producers", a, 0, RL_THREADS_MAX / 2, &o->producers);
	case OPT_CONSUMERS:
		return parse_u32("consumers", a, 0, RL_THREADS_MAX / 2, &o->consumers);
	case OPT_BATCH:
		return parse_u32("batch", a, 1, RL_BATCH_MAX, &o->batch);
	case OPT_RECV_BATCH:
		return parse_u32("recv-batch", a, 1, RL_PREFETCH_MAX, &o->recv_batch);
	case OPT_RECORD_SIZE:
		return parse_u32("record-size", a, LOAD_STAMP_LEN, RL_RECORD_MAX, &o->record_size);
	case OPT_DURATION:
		return parse_f64("duration", a, 0.001, RL_DURATION_MAX_S, &o->duration_s);
	case OPT_RATE:
		return parse_f64("rate", a, 1, 1e9, &o->rate);
	case OPT_DEPTH:
		return parse_u64("depth", a, 0, RL_DEPTH_MAX, &o->depth);
	case OPT_KEEP_QUEUE:
		o->keep_queue = true;
		return 0;
	case OPT_JSON:
		o->json_path = a;
		return 0;
	case OPT_QUEUES:
		return parse_u32("queues", a, 1, RL_QUEUES_MAX, &o->queues);
	default:
		assert(0);
		return -1;
	}
}

static void opts_defaults(struct rl_opts *o)
{
	memset(o, 0, sizeof(*o));
	parse_endpoint(o, "127.0.0.1:5672");
	strcpy(o->user, "guest");
	strcpy(o->password, "guest");
	strcpy(o->vhost, "/");
	strcpy(o->queue, "sluice-bench");
	o->qtype = QT_QUORUM;
	o->producers = 4;
	o->consumers = 4;
	o->batch = 10;
	o->recv_batch = 10;
	o->record_size = 100;
	o->duration_s = 10;
	o->queues = 10;
}

/* The fanout mode's checks. Without --consumers there is one consumer
 * per queue, and at least 4 (as the queue mode has for its one queue), up
 * to the thread limit. */
static int opts_check_fanout(struct rl_opts *o, bool given_consumers)
{
	uint32_t m = o->queues > 4 ? o->queues : 4;

	if (o->depth)
		return bad_flag("--depth is not for fanout");
	if (!given_consumers)
		o->consumers = m < RL_THREADS_MAX / 2 ? m : RL_THREADS_MAX / 2;
	return 0;
}

/* The mode word, when there is one: "queue" (the default) or "fanout".
 * Returns the index of the first flag, or -1. */
static int opts_mode(struct rl_opts *o, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return 1;
	if (!strcmp(argv[1], "queue"))
		return 2;
	if (!strcmp(argv[1], "fanout")) {
		o->mode = RL_FANOUT;
		return 2;
	}
	return bad_flag("unknown mode '%s': want queue or fanout", argv[1]);
}

/* Returns 0 to run, 1 after --help, -1 on a bad flag. */
static int opts_parse(struct rl_opts *o, int argc, char **argv)
{
	bool given_producers = false, given_consumers = false, given_queues = false;
	int c;

	opts_defaults(o);
	opterr = 0;
	optind = opts_mode(o, argc, argv);
	if (optind < 0)
		return -1;
	for (int i = 0; i < argc && (c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1; i++) {
		if (c == 'h') {
			fputs(usage_text, stdout);
			return 1;
		}
		if (c == ':')
			return bad_flag("flag '%s' needs a value", argv[optind - 1]);
		if (c == '?')
			return bad_flag("unknown flag '%s'", argv[optind - 1]);
		given_producers |= c == OPT_PRODUCERS;
		given_consumers |= c == OPT_CONSUMERS;
		given_queues |= c == OPT_QUEUES;
		if (opt_apply(o, c, optarg))
			return -1;
	}
	if (optind < argc)
		return bad_flag("unexpected argument '%s'", argv[optind]);
	if (o->mode == RL_QUEUE && given_queues)
		return bad_flag("--queues is for fanout");
	if (o->mode == RL_FANOUT && opts_check_fanout(o, given_consumers))
		return -1;
	if (o->depth && (given_producers || o->rate > 0))
		return bad_flag("--depth runs consumers alone: no --producers or --rate");
	if (o->depth)
		o->producers = 0;
	if (o->producers + o->consumers == 0)
		return bad_flag("nothing to run: no producers and no consumers");
	if (o->depth && o->consumers == 0)
		return bad_flag("--depth needs --consumers");
	if (o->rate > 0 && (double)o->producers * o->batch * 1e9 / o->rate < 1000)
		return bad_flag("--rate is too high for these --producers and --batch");
	return 0;
}

/* ---- main ---- */

/* fanout: the queues are named after the exchange, <exchange>-<k>. */
static int fanout_names(struct rl_run *run)
{
	int n;

	run->fq = calloc(run->opt.queues, sizeof(*run->fq));
	if (!run->fq)
		return -1;
	for (uint32_t k = 0; k < run->opt.queues; k++) {
		n = snprintf(run->fq[k].s, sizeof(run->fq[k].s), "%s-%u", run->queue, k);
		assert(n > 0 && (size_t)n < sizeof(run->fq[k].s));
	}
	return 0;
}

static int run_setup(struct rl_run *run)
{
	uint64_t rng = rng_seed();
	const struct rl_opts *o = &run->opt;
	uint32_t n = o->producers + o->consumers;
	struct rl_thread *t;

	if (n < RL_FILL_THREADS + o->consumers)
		n = RL_FILL_THREADS + o->consumers;
	run->pool = pool_new(&rng);
	run->th = aligned_alloc(64, n * sizeof(*run->th));
	if (!run->pool || !run->th)
		return -1;
	memset(run->th, 0, n * sizeof(*run->th));
	for (uint32_t i = 0; i < n; i++) {
		t = &run->th[i];
		t->run = run;
		t->rng = rng_next(&rng) | 1;
		t->body = malloc(o->record_size);
		t->acked = malloc(o->batch > RL_FILL_BATCH ? o->batch : RL_FILL_BATCH);
		if (!t->body || !t->acked || pthread_mutex_init(&t->mu, NULL))
			return -1;
	}
	if (o->rate > 0)
		run->interval_ns = (uint64_t)((double)o->producers * o->batch * 1e9 / o->rate);
	run->depth_seen = -1;
	run->backlog_end = -1;
	run_queue_name(run->queue, sizeof(run->queue), o->queue);
	return o->mode == RL_FANOUT ? fanout_names(run) : 0;
}

/* Forget the pre-fill's counts before the consumers run. */
static void run_reset(struct rl_run *run)
{
	struct rl_thread *t;

	for (uint32_t i = 0; i < run->nth; i++) {
		t = &run->th[i];
		memset(&t->st, 0, sizeof(t->st));
		memset(&t->send_all, 0, sizeof(t->send_all));
		memset(&t->e2e_all, 0, sizeof(t->e2e_all));
		t->last_done_ns = 0;
	}
	memset(&run->tot, 0, sizeof(run->tot));
	memset(&run->prev, 0, sizeof(run->prev));
	memset(&run->send_all, 0, sizeof(run->send_all));
	memset(&run->e2e_all, 0, sizeof(run->e2e_all));
	run->last_done_ns = 0;
}

static int run_fill(struct rl_run *run)
{
	printf("rabbit-load: pre-filling %" PRIu64 " messages over %d connections\n",
	       run->opt.depth, RL_FILL_THREADS);
	run->phase = PH_FILL;
	atomic_store_explicit(&run->fill_left, (int_fast64_t)run->opt.depth, memory_order_relaxed);
	if (phase_run(run, RL_FILLER, RL_FILL_THREADS, 0, RL_FILL_TIMEOUT_NS))
		return -1;
	run->fill_sent = run->tot.sent;
	run->fill_failed = run->tot.send_failed;
	run->fill_s = elapsed_s(run);
	run->depth_seen = queue_declare(run, true);
	printf("rabbit-load: pre-filled %" PRIu64 " messages in %.2f s (%.0f msg/s); the queue "
	       "reports %lld\n", run->fill_sent, run->fill_s, (double)run->fill_sent / run->fill_s,
	       run->depth_seen);
	run_reset(run);
	run->phase = PH_DRAIN;
	if (run->fill_sent < run->opt.depth) {
		fprintf(stderr, "rabbit-load: the pre-fill fell short of %" PRIu64 " messages\n",
			run->opt.depth);
		return -1;
	}
	return 0;
}

/* The fanout mode: the exchange and its queues, the run, the backlog
 * left, the summary, and everything deleted. Returns the exit status. */
static int fanout_main(struct rl_run *run)
{
	uint64_t t0 = now_ns();
	int rc = 0;

	if (fanout_declare(run))
		rc = 1;
	else
		printf("rabbit-load: exchange %s (fanout) with %u %s queues bound, set up in %.2f s\n",
		       run->queue, run->opt.queues, qtype_name(&run->opt),
		       (double)(now_ns() - t0) / 1e9);
	if (rc == 0 && !atomic_load(&g_signals)) {
		if (phase_run(run, RL_PRODUCER, run->opt.producers, run->opt.consumers,
			      (uint64_t)(run->opt.duration_s * 1e9)))
			rc = 1;
		run->backlog_end = fanout_backlog(run);
		summary_print_fanout(run);
		if (run->opt.json_path && summary_json_fanout(run, run->opt.json_path))
			rc = 1;
		if (rc == 0 && run->tot.deleted == 0 && (run->opt.consumers || run->tot.sent == 0)) {
			fprintf(stderr, "rabbit-load: no message went through\n");
			rc = 3;
		}
	}
	if (!run->opt.keep_queue)
		fanout_delete(run);
	else
		printf("rabbit-load: kept exchange %s and its %u queues\n", run->queue, run->fq_made);
	return rc;
}

int main(int argc, char **argv)
{
	static struct rl_run run;
	int r = opts_parse(&run.opt, argc, argv), rc = 0;

	if (r)
		return r > 0 ? 0 : 2;
	if (run_setup(&run)) {
		fprintf(stderr, "rabbit-load: setup failed: %s\n", strerror(errno));
		return 1;
	}
	signals_init(on_signal);
	if (run.opt.mode == RL_FANOUT)
		return fanout_main(&run);
	if (queue_declare(&run, false) < 0)
		return 1;
	printf("rabbit-load: queue %s (%s)\n", run.queue, qtype_name(&run.opt));
	if (run.opt.depth && run_fill(&run))
		rc = 1;
	if (rc == 0 && !atomic_load(&g_signals)) {
		if (phase_run(&run, RL_PRODUCER, run.opt.producers, run.opt.consumers,
			      (uint64_t)(run.opt.duration_s * 1e9)))
			rc = 1;
		summary_print(&run);
		if (run.opt.json_path && summary_json(&run, run.opt.json_path))
			rc = 1;
		if (rc == 0 && run.tot.deleted == 0 && (run.opt.consumers || run.tot.sent == 0)) {
			fprintf(stderr, "rabbit-load: no message went through\n");
			rc = 3;
		}
	}
	if (!run.opt.keep_queue)
		queue_delete(&run);
	else
		printf("rabbit-load: kept queue %s\n", run.queue);
	return rc;
}
