/* udp_load.c - `sluice-load udp`: producers of the UDP ingest protocol
 * (docs/ingest-protocol.md) against sluice, and `sluice-load udp-sink`, a
 * bare recvmmsg receiver that only counts: the kernel path's ceiling on
 * this machine.
 *
 * One thread drives every producer's socket (non-blocking, poll). A
 * producer keeps --window datagrams in flight (closed loop), or the
 * producers together offer --rate datagrams/s (open loop); --window 0 with
 * no rate sends as fast as the socket takes (blast, for ceilings). A
 * datagram unanswered after --timeout-ms goes again unchanged (same number
 * and bytes), so --loss (a fraction of answers ignored on purpose) drives
 * retransmissions and the server's duplicate answers. The stream must
 * exist (`sluice-load kinesis --create --duration 0` makes one). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benches/load/load_common.h"
#include "dataplane/codec/ingest.h"

int udp_main(int argc, char **argv);
int udp_sink_main(int argc, char **argv);

#define PRODUCERS_MAX 256
#define WINDOW_MAX 256

struct slot {
	uint64_t seq;
	uint64_t sent_ns;  /* first send */
	uint64_t last_ns;  /* last (re)send */
	uint16_t len;
	bool busy;
	uint8_t buf[1472];
};

struct producer {
	int fd;
	uint64_t id;
	uint64_t next_seq;
	struct slot *slots;
	uint32_t busy;
};

struct udp_opts {
	struct sockaddr_in to;
	const char *stream;
	uint32_t producers, window, records, record_size, keys;
	double duration_s, rate, loss;
	uint32_t timeout_ms;
	const char *json;
};

struct udp_stats {
	uint64_t sent, retransmitted, acked_dgrams, records_ok, records_refused, duplicates,
		stale, lost_on_purpose, errors, bytes_ok;
	struct load_hist lat;
};

static volatile sig_atomic_t stop_now;

static void on_sig(int s)
{
	(void)s;
	stop_now = 1;
}

static int parse_addr(const char *s, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	*out = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static const char udp_usage[] =
	"usage: sluice-load udp [--endpoint HOST:PORT] [--stream NAME] [--producers N]\n"
	"                       [--window W] [--rate DATAGRAMS_PER_S] [--records R]\n"
	"                       [--record-size BYTES] [--keys K] [--duration S] [--loss F]\n"
	"                       [--timeout-ms MS] [--json FILE]\n"
	"       sluice-load udp-sink [--endpoint HOST:PORT] [--duration S] [--json FILE]\n\n"
	"udp:      producers put datagrams of R records (R-BYTES data, K partition keys) into\n"
	"          stream NAME over the UDP ingest protocol (default endpoint 127.0.0.1:4569,\n"
	"          4 producers, window 8, 10 records of 64 bytes, 1000 keys, 10 s). --window 0\n"
	"          and no --rate: send as fast as the sockets take (no waiting for answers).\n"
	"          --loss F ignores that fraction of the answers, so their datagrams go again.\n"
	"udp-sink: receive with recvmmsg and count datagrams and records (the kernel's\n"
	"          ceiling for `udp` --window 0 against it).\n";

/* Fill slot s with producer p's next datagram. */
static void build(const struct udp_opts *o, struct producer *p, struct slot *s, uint64_t *rng)
{
	struct sl_ingest_writer w;
	struct sl_ingest_hdr h = { .type = SL_INGEST_PUT, .producer_id = p->id, .seq = p->next_seq++ };
	uint8_t data[1400];
	char key[32];

	sl_ingest_begin(&w, s->buf, sizeof(s->buf), &h, o->stream);
	for (uint32_t i = 0; i < o->records; i++) {
		int kl = snprintf(key, sizeof(key), "key-%llu",
				  (unsigned long long)(rng_next(rng) % o->keys));
		for (uint32_t b = 0; b < o->record_size; b += 8) {
			uint64_t x = rng_next(rng);
			memcpy(data + b, &x, o->record_size - b < 8 ? o->record_size - b : 8);
		}
		sl_ingest_add_record(&w, key, (size_t)kl, data, o->record_size, NULL);
	}
	s->len = (uint16_t)sl_ingest_end(&w, NULL, 0);
	s->seq = h.seq;
	s->busy = true;
}

static bool send_slot(const struct udp_opts *o, struct producer *p, struct slot *s,
		      struct udp_stats *st, uint64_t now)
{
	ssize_t n = sendto(p->fd, s->buf, s->len, 0, (const struct sockaddr *)&o->to, sizeof(o->to));

	if (n != (ssize_t)s->len) {
		if (n < 0 && errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED)
			st->errors++;
		return false;
	}
	s->last_ns = now;
	st->sent++;
	return true;
}

static void on_answer(const struct udp_opts *o, struct producer *p, const uint8_t *b, size_t n,
		      struct udp_stats *st, uint64_t now, uint64_t *rng)
{
	struct sl_ingest_view v;
	struct sl_ingest_iter it;
	struct sl_ingest_run run;

	if (sl_ingest_parse(b, n, &v) != SL_INGEST_OK || v.h.type != SL_INGEST_PUT_ACK ||
	    v.h.producer_id != p->id) {
		st->errors++;
		return;
	}
	struct slot *s = NULL;
	bool blast = o->window == 0 && o->rate == 0;
	for (uint32_t i = 0; i < (o->window ? o->window : 1) && !s; i++)
		if (p->slots[i].busy && p->slots[i].seq == v.h.seq)
			s = &p->slots[i];
	if (!s && !blast)
		return; /* a late repeat of one answered already */
	if (o->loss > 0 && (double)(rng_next(rng) >> 11) / (double)(1ull << 53) < o->loss) {
		st->lost_on_purpose++;
		return;
	}
	if (v.h.flags & SL_INGEST_F_DUPLICATE)
		st->duplicates++;
	if (v.h.status == SL_INGEST_STALE)
		st->stale++;
	sl_ingest_iter_init(&it, &v);
	while (sl_ingest_next_run(&it, &run) == 1) {
		if (run.status == SL_INGEST_OK) {
			st->records_ok += run.run;
			st->bytes_ok += (uint64_t)run.run * o->record_size;
		} else {
			st->records_refused += run.run;
		}
	}
	if (v.h.status != SL_INGEST_OK)
		st->records_refused += o->records;
	st->acked_dgrams++;
	if (!s)
		return; /* blast: nothing waits for it, no latency */
	hist_record(&st->lat, (now - s->sent_ns) / NS_PER_US);
	s->busy = false;
	p->busy--;
}

static int opts(struct udp_opts *o, int argc, char **argv, bool sink)
{
	static const struct option lo[] = {
		{ "endpoint", required_argument, 0, 'e' }, { "stream", required_argument, 0, 's' },
		{ "producers", required_argument, 0, 'p' }, { "window", required_argument, 0, 'w' },
		{ "rate", required_argument, 0, 'r' }, { "records", required_argument, 0, 'n' },
		{ "record-size", required_argument, 0, 'b' }, { "keys", required_argument, 0, 'k' },
		{ "duration", required_argument, 0, 'd' }, { "loss", required_argument, 0, 'l' },
		{ "timeout-ms", required_argument, 0, 't' }, { "json", required_argument, 0, 'j' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c;

	*o = (struct udp_opts){ .stream = "sluice-bench-udp", .producers = 4, .window = 8,
				.records = 10, .record_size = 64, .keys = 1000, .duration_s = 10,
				.timeout_ms = 200 };
	parse_addr("127.0.0.1:4569", &o->to);
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (parse_addr(optarg, &o->to) < 0)
				goto bad;
			break;
		case 's': o->stream = optarg; break;
		case 'p': o->producers = (uint32_t)atoi(optarg); break;
		case 'w': o->window = (uint32_t)atoi(optarg); break;
		case 'r': o->rate = atof(optarg); break;
		case 'n': o->records = (uint32_t)atoi(optarg); break;
		case 'b': o->record_size = (uint32_t)atoi(optarg); break;
		case 'k': o->keys = (uint32_t)atoi(optarg); break;
		case 'd': o->duration_s = atof(optarg); break;
		case 'l': o->loss = atof(optarg); break;
		case 't': o->timeout_ms = (uint32_t)atoi(optarg); break;
		case 'j': o->json = optarg; break;
		case 'h': fputs(udp_usage, stdout); return 1;
		default: goto bad;
		}
	}
	if (sink)
		return 0;
	if (o->producers < 1 || o->producers > PRODUCERS_MAX || o->window > WINDOW_MAX ||
	    o->records < 1 || o->records > SL_INGEST_RECORDS_MAX || o->keys < 1 ||
	    o->duration_s <= 0 || o->loss < 0 || o->loss >= 1 || o->timeout_ms < 1 ||
	    SL_INGEST_HDR_BYTES + strlen(o->stream) +
	    (size_t)o->records * (SL_INGEST_REC_HDR_BYTES + 16 + o->record_size) > 1472 ||
	    o->record_size > 1400) {
		fprintf(stderr, "sluice-load udp: a value is out of range, or a datagram would not "
				"fit 1,472 bytes (records x (record size + about 24))\n");
		return -1;
	}
	return 0;
bad:
	fputs(udp_usage, stderr);
	return -1;
}

int udp_main(int argc, char **argv)
{
	static struct producer ps[PRODUCERS_MAX];
	static struct pollfd pfd[PRODUCERS_MAX];
	struct udp_opts o;
	struct udp_stats st;
	uint64_t rng = rng_seed();
	int rc = opts(&o, argc, argv, false);

	if (rc)
		return rc > 0 ? 0 : 2;
	memset(&st, 0, sizeof(st));
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	uint32_t win = o.window ? o.window : 1;
	for (uint32_t i = 0; i < o.producers; i++) {
		ps[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		int big = 4 << 20;
		setsockopt(ps[i].fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		setsockopt(ps[i].fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		ps[i].id = rng_next(&rng) >> 1;
		ps[i].next_seq = 1;
		ps[i].slots = calloc(win, sizeof(struct slot));
		if (ps[i].fd < 0 || !ps[i].slots) {
			perror("sluice-load udp");
			return 1;
		}
		pfd[i] = (struct pollfd){ .fd = ps[i].fd, .events = POLLIN };
	}
	bool blast = o.window == 0 && o.rate == 0;
	uint64_t start = now_ns(), end = start + (uint64_t)(o.duration_s * 1e9), next_tick = start + NS_PER_S;
	uint64_t offered = 0, last_done = start;
	uint8_t rbuf[70000];
	uint64_t prev_ok = 0, prev_sent = 0;
	while (!stop_now) {
		uint64_t now = now_ns();
		if (now >= end)
			break;
		/* Send: blast, the rate's schedule, or to fill each window. */
		for (uint32_t i = 0; i < o.producers; i++) {
			struct producer *p = &ps[i];
			for (uint32_t k = 0; k < win; k++) {
				struct slot *s = &p->slots[k];
				if (s->busy && !blast) {
					if (now - s->last_ns >= (uint64_t)o.timeout_ms * NS_PER_MS &&
					    send_slot(&o, p, s, &st, now))
						st.retransmitted++;
					continue;
				}
				if (o.rate > 0 &&
				    (double)offered >= o.rate * (double)(now - start) / 1e9)
					continue;
				build(&o, p, s, &rng);
				s->sent_ns = now;
				if (!send_slot(&o, p, s, &st, now)) {
					s->busy = false;
					p->next_seq--;
					continue;
				}
				offered++;
				if (blast)
					s->busy = false;
				else
					p->busy++;
			}
		}
		/* Answers. */
		int n = poll(pfd, o.producers, blast ? 0 : 1);
		for (uint32_t i = 0; n > 0 && i < o.producers; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			for (;;) {
				ssize_t got = recv(ps[i].fd, rbuf, sizeof(rbuf), 0);
				if (got <= 0)
					break;
				on_answer(&o, &ps[i], rbuf, (size_t)got, &st, now_ns(), &rng);
				last_done = now_ns();
			}
		}
		if (now >= next_tick) {
			printf("%6.1fs sent %8llu dgram/s  acked %9.0f records/s  retransmitted %llu\n",
			       (double)(now - start) / 1e9, (unsigned long long)(st.sent - prev_sent),
			       (double)(st.records_ok - prev_ok), (unsigned long long)st.retransmitted);
			fflush(stdout);
			prev_ok = st.records_ok;
			prev_sent = st.sent;
			next_tick += NS_PER_S;
		}
	}
	/* Let the answers in flight land. */
	uint64_t drain_end = now_ns() + 300 * NS_PER_MS;
	while (!blast && now_ns() < drain_end) {
		int n = poll(pfd, o.producers, 10);
		for (uint32_t i = 0; n > 0 && i < o.producers; i++)
			while (pfd[i].revents & POLLIN) {
				ssize_t got = recv(ps[i].fd, rbuf, sizeof(rbuf), 0);
				if (got <= 0)
					break;
				on_answer(&o, &ps[i], rbuf, (size_t)got, &st, now_ns(), &rng);
			}
	}
	double el = elapsed_between(start, end, last_done > end ? end : last_done);
	uint64_t unanswered = 0;
	for (uint32_t i = 0; i < o.producers; i++)
		unanswered += blast ? 0 : ps[i].busy;
	printf("\nsluice-load udp %s:%u stream=%s producers=%u window=%u records=%u record-size=%u "
	       "rate=%g loss=%g\n", inet_ntoa(o.to.sin_addr), ntohs(o.to.sin_port), o.stream,
	       o.producers, o.window, o.records, o.record_size, o.rate, o.loss);
	printf("  sent        %llu datagrams (%llu retransmitted), %llu answered, %llu unanswered "
	       "at the end, %llu answers ignored (--loss)\n", (unsigned long long)st.sent,
	       (unsigned long long)st.retransmitted, (unsigned long long)st.acked_dgrams,
	       (unsigned long long)unanswered, (unsigned long long)st.lost_on_purpose);
	printf("  records     %llu acknowledged, %llu refused; %llu duplicate answers, %llu stale\n",
	       (unsigned long long)st.records_ok, (unsigned long long)st.records_refused,
	       (unsigned long long)st.duplicates, (unsigned long long)st.stale);
	printf("  throughput  %.0f records/s acknowledged, %.3f Gbit/s of record data\n",
	       (double)st.records_ok / el, (double)st.bytes_ok * 8 / el / 1e9);
	print_hist_line("ack ms", &st.lat, "per datagram, first send to its answer");
	if (o.json) {
		FILE *f = summary_open(o.json);
		if (!f)
			return 1;
		fprintf(f, "{\"mode\": \"udp\", \"records_per_s\": %.1f, \"records\": %llu, "
			   "\"sent\": %llu, \"retransmitted\": %llu, \"answered\": %llu, "
			   "\"duplicates\": %llu, \"refused\": %llu, \"elapsed_s\": %.3f,\n",
			(double)st.records_ok / el, (unsigned long long)st.records_ok,
			(unsigned long long)st.sent, (unsigned long long)st.retransmitted,
			(unsigned long long)st.acked_dgrams, (unsigned long long)st.duplicates,
			(unsigned long long)st.records_refused, el);
		json_hist(f, "ack_latency_ms", &st.lat, "}\n");
		if (summary_close(f, o.json))
			return 1;
	}
	return blast || st.records_ok ? 0 : 3;
}

int udp_sink_main(int argc, char **argv)
{
	struct udp_opts o;
	int rc = opts(&o, argc, argv, true);
	enum { BATCH = 64 };
	static uint8_t bufs[BATCH][2048];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];

	if (rc)
		return rc > 0 ? 0 : 2;
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, big = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	struct timeval tv = { 0, 100000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || bind(fd, (struct sockaddr *)&o.to, sizeof(o.to)) < 0) {
		perror("sluice-load udp-sink");
		return 1;
	}
	printf("sluice-load udp-sink: receiving on %s:%u\n", inet_ntoa(o.to.sin_addr),
	       ntohs(o.to.sin_port));
	fflush(stdout);
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	uint64_t dgrams = 0, records = 0, first = 0, last = 0, end = 0;
	while (!stop_now && (!end || now_ns() < end)) {
		int n = recvmmsg(fd, mm, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue;
		uint64_t now = now_ns();
		if (!first) {
			first = now;
			end = now + (uint64_t)(o.duration_s * 1e9);
		}
		last = now;
		for (int i = 0; i < n; i++) {
			/* Count what a server would store: the PUT's records. */
			if (mm[i].msg_len >= SL_INGEST_HDR_BYTES)
				records += (uint16_t)(bufs[i][32] | bufs[i][33] << 8);
			dgrams++;
		}
	}
	double el = first && last > first ? (double)(last - first) / 1e9 : 1;
	printf("  received    %llu datagrams, %llu records in %.3f s: %.0f records/s\n",
	       (unsigned long long)dgrams, (unsigned long long)records, el, (double)records / el);
	if (o.json) {
		FILE *f = summary_open(o.json);
		if (!f)
			return 1;
		fprintf(f, "{\"mode\": \"udp-sink\", \"records_per_s\": %.1f, \"records\": %llu, "
			   "\"datagrams\": %llu, \"elapsed_s\": %.3f}\n", (double)records / el,
			(unsigned long long)records, (unsigned long long)dgrams, el);
		if (summary_close(f, o.json))
			return 1;
	}
	return 0;
}
