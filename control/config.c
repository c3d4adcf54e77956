/* config.c - defaults, config file, flags; one-line errors for bad values. */
#include "dataplane/runtime/config.h"

#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataplane/limits.h"

#define SL_VERSION "0.1.0"
#define SL_CONFIG_LINE_MAX 2048
#define SL_CONFIG_LINES_MAX 10000

static const char usage[] =
	"usage: sluice [options]\n"
	"\n"
	"Serves AWS Kinesis Data Streams (JSON 1.1 and CBOR), SQS (JSON 1.0 and query) and\n"
	"SNS (query),\n"
	"over HTTP/1.1 and HTTP/2, on one port.\n"
	"\n"
	"  --listen HOST:PORT        address to serve on (default 127.0.0.1:4566)\n"
	"  --data-dir DIR            where streams, queues and the catalog live (default ./data)\n"
	"  --ingest-port N           UDP port of the ingest protocol (docs/ingest-protocol.md)\n"
	"                            on the --listen host; 0 turns it off (default 4569, off\n"
	"                            with a warning when another process holds it)\n"
	"  --ingest-keys FILE        UDP ingest producers' keys, lines `PRODUCER_ID SECRET_HEX`:\n"
	"                            every datagram must then carry a valid HMAC-SHA256 tag\n"
	"  --workers N               worker threads, one per core (default: every core)\n"
	"  --durability MODE         sync: reply after fdatasync (default)\n"
	"                            batch: reply after write, fdatasync every --batch-ms\n"
	"                            memory: reply after write, never fdatasync (a process\n"
	"                            crash loses nothing, a power loss may)\n"
	"  --batch-ms N              batch mode sync interval (default 10)\n"
	"  --region NAME             region when a request names none (default us-east-1)\n"
	"  --account-id ID           12-digit account in ARNs (default 000000000000)\n"
	"  --shard-limits            enforce per-shard throughput like AWS (1 MiB/s or 1000\n"
	"                            records/s in, 2 MiB/s and 5 reads/s out)\n"
	"  --sqs-partitions N        partitions of each new standard SQS queue, each owned\n"
	"                            by one worker (default: one per worker, at most 32)\n"
	"  --create-delay-ms N       time streams spend CREATING/UPDATING/DELETING (default 0)\n"
	"  --segment-bytes N         shard segment file size (default 67108864, min 4194304)\n"
	"  --journal-mb N            sync mode: size of each of a worker's two journal files,\n"
	"                            in MiB (default 64, min 64, max 16384)\n"
	"  --request-log             log one line per request\n"
	"  --log-level LEVEL         debug, info, warn or error (default info)\n"
	"  --debug-clock             enable POST /_sluice/clock {\"advance_ms\": N} (tests)\n"
	"  --public-url URL          base of the URLs SNS writes into messages (SubscribeURL,\n"
	"                            UnsubscribeURL, SigningCertURL), for a server behind a\n"
	"                            proxy or TLS front (default: http://<request Host>)\n"
	"  --sns-ca-file FILE        CA certificates (PEM) that SNS https endpoints must\n"
	"                            chain to (default: the system's)\n"
	"  --smtp HOST:PORT          SMTP relay of SNS email deliveries (default: none; mail\n"
	"                            is written to DATA/sns-outbox/email/*.eml)\n"
	"  --lambda.NAME URL         SNS deliveries to the Lambda function NAME are POSTed\n"
	"                            (its SNS event) to URL; repeatable\n"
	"  --eal ARGS                extra DPDK EAL arguments, space separated\n"
	"  --config FILE             read settings from FILE first: one `name = value` per\n"
	"                            line with the flag names above (no dashes), # comments;\n"
	"                            flags given on the command line win\n"
	"  --help, --version\n";

static int bad(const char *name, const char *value, const char *why)
{
	fprintf(stderr, "sluice: invalid value '%s' for %s: %s\n", value, name, why);
	return -1;
}

static int parse_u64(const char *name, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;

	assert(v); /* apply() refused a missing value */
	assert(min <= max);
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (!*v || *end || errno || v[0] == '-')
		return bad(name, v, "not a whole number");
	if (x < min || x > max) {
		char why[96];
		snprintf(why, sizeof(why), "must be between %llu and %llu", (unsigned long long)min,
			 (unsigned long long)max);
		return bad(name, v, why);
	}
	*out = x;
	return 0;
}

static int parse_listen(struct sl_config *cfg, const char *v)
{
	const char *colon = strrchr(v, ':');
	uint64_t port;

	if (!colon || colon == v || (size_t)(colon - v) >= sizeof(cfg->listen_host))
		return bad("--listen", v, "expected HOST:PORT, e.g. 127.0.0.1:4566");
	if (parse_u64("--listen", colon + 1, 1, 65535, &port) < 0)
		return -1;
	assert(port >= 1); /* the cast to uint16_t below relies on it */
	assert(port <= 65535);
	memcpy(cfg->listen_host, v, (size_t)(colon - v));
	cfg->listen_host[colon - v] = '\0';
	if (strcmp(cfg->listen_host, "localhost") == 0)
		strcpy(cfg->listen_host, "127.0.0.1");
	cfg->listen_port = (uint16_t)port;
	return 0;
}

static int parse_bool(const char *name, const char *v, bool *out)
{
	if (!v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0)
		*out = false;
	else
		return bad(name, v, "expected true or false");
	return 0;
}

static int copy_str(const char *name, const char *v, char *dst, size_t cap)
{
	assert(v); /* apply() refused a missing value */
	if (!*v || strlen(v) >= cap)
		return bad(name, v, "empty or too long");
	strcpy(dst, v);
	return 0;
}

static int set_enum(const char *name, const char *v, const char *const *names, int n, int *out)
{
	assert(v); /* apply() refused a missing value */
	for (int i = 0; i < n; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return bad(name, v, "not one of the allowed values (see --help)");
}

/* Apply one setting. `flag` is the name with dashes, for messages. */
static int apply(struct sl_config *cfg, const char *key, const char *v, const char *flag)
{
	static const char *const durs[] = { "sync", "batch", "memory" };
	static const char *const levels[] = { "debug", "info", "warn", "error" };
	uint64_t u;
	int e;

	if (strcmp(key, "shard-limits") == 0)
		return parse_bool(flag, v, &cfg->shard_limits);
	if (strcmp(key, "request-log") == 0)
		return parse_bool(flag, v, &cfg->request_log);
	if (strcmp(key, "debug-clock") == 0)
		return parse_bool(flag, v, &cfg->debug_clock);
	if (!v) {
		fprintf(stderr, "sluice: %s needs a value (see --help)\n", flag);
		return -1;
	}
	if (strcmp(key, "listen") == 0)
		return parse_listen(cfg, v);
	if (strcmp(key, "data-dir") == 0)
		return copy_str(flag, v, cfg->data_dir, sizeof(cfg->data_dir));
	if (strcmp(key, "workers") == 0) {
		if (parse_u64(flag, v, 1, SL_WORKERS_MAX, &u) < 0)
			return -1;
		assert(u >= 1); /* per-worker arrays have SL_WORKERS_MAX slots */
		assert(u <= SL_WORKERS_MAX);
		cfg->workers = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "ingest-port") == 0) {
		if (parse_u64(flag, v, 0, 65535, &u) < 0)
			return -1;
		cfg->ingest_port = (uint16_t)u;
		cfg->ingest_port_given = true;
		return 0;
	}
	if (strcmp(key, "sqs-partitions") == 0) {
		if (parse_u64(flag, v, 1, SL_SQS_PARTS_MAX, &u) < 0)
			return -1;
		cfg->sqs_partitions = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "durability") == 0) {
		if (set_enum(flag, v, durs, 3, &e) < 0)
			return -1;
		assert(e < 3); /* an index into durs[] */
		cfg->durability = (enum sl_durability)e;
		return 0;
	}
	if (strcmp(key, "batch-ms") == 0) {
		if (parse_u64(flag, v, 1, 60000, &u) < 0)
			return -1;
		cfg->batch_ms = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "create-delay-ms") == 0) {
		if (parse_u64(flag, v, 0, 600000, &u) < 0)
			return -1;
		cfg->create_delay_ms = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "segment-bytes") == 0)
		return parse_u64(flag, v, SL_SEGMENT_BYTES_MIN, 1ull << 40, &cfg->segment_bytes);
	if (strcmp(key, "journal-mb") == 0) {
		uint64_t mb;
		int rc = parse_u64(flag, v, SL_JOURNAL_FILE_BYTES_MIN >> 20, SL_JOURNAL_FILE_BYTES_MAX >> 20,
				   &mb);
		if (rc == 0)
			cfg->journal_bytes = mb << 20;
		return rc;
	}
	if (strcmp(key, "region") == 0)
		return copy_str(flag, v, cfg->region, sizeof(cfg->region));
	if (strcmp(key, "account-id") == 0) {
		if (strlen(v) != 12 || strspn(v, "0123456789") != 12)
			return bad(flag, v, "must be 12 digits");
		return copy_str(flag, v, cfg->account_id, sizeof(cfg->account_id));
	}
	if (strcmp(key, "log-level") == 0) {
		if (set_enum(flag, v, levels, 4, &e) < 0)
			return -1;
		assert(e < 4); /* an index into levels[] */
		cfg->log_level = (enum sl_log_level)e;
		return 0;
	}
	if (strcmp(key, "public-url") == 0) {
		size_t n = strlen(v);
		while (n > 0 && v[n - 1] == '/')
			n--;
		if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) ||
		    n <= (size_t)(v[4] == 's' ? 8 : 7) || n >= sizeof(cfg->public_url) || strpbrk(v, " \t\"?#"))
			return bad(flag, v, "expected http(s)://HOST[:PORT][/PATH], at most 255 bytes");
		memcpy(cfg->public_url, v, n);
		cfg->public_url[n] = '\0';
		return 0;
	}
	if (strcmp(key, "smtp") == 0) {
		const char *colon = strrchr(v, ':');
		uint64_t port;
		size_t hl = colon ? (size_t)(colon - v) : 0;
		if (!colon || hl == 0 || hl >= sizeof(cfg->smtp_host))
			return bad(flag, v, "expected HOST:PORT, e.g. 127.0.0.1:25");
		if (parse_u64(flag, colon + 1, 1, 65535, &port) < 0)
			return -1;
		memcpy(cfg->smtp_host, v, hl);
		cfg->smtp_host[hl] = '\0';
		snprintf(cfg->smtp_port, sizeof(cfg->smtp_port), "%u", (unsigned)port);
		return 0;
	}
	if (strcmp(key, "ingest-keys") == 0)
		return copy_str(flag, v, cfg->ingest_keys, sizeof(cfg->ingest_keys));
	if (strcmp(key, "sns-ca-file") == 0) {
		if (access(v, R_OK) != 0)
			return bad(flag, v, strerror(errno));
		return copy_str(flag, v, cfg->sns_ca_file, sizeof(cfg->sns_ca_file));
	}
	if (strncmp(key, "lambda.", 7) == 0) {
		const char *name = key + 7;
		size_t nl = strlen(name);
		if (nl == 0 || nl > SL_LAMBDA_NAME_MAX ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != nl)
			return bad(flag, v, "the function name must be 1 to 64 letters, digits, - or _");
		if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) ||
		    strlen(v) > SL_LAMBDA_URL_MAX)
			return bad(flag, v, "expected an http:// or https:// URL of at most 512 bytes");
		struct sl_lambda_map *m = NULL;
		for (unsigned i = 0; i < cfg->nlambdas && !m; i++)
			if (strcmp(cfg->lambdas[i].name, name) == 0)
				m = &cfg->lambdas[i]; /* a later setting wins */
		if (!m) {
			if (cfg->nlambdas >= SL_LAMBDA_MAPS_MAX)
				return bad(flag, v, "more than 64 Lambda functions mapped");
			m = &cfg->lambdas[cfg->nlambdas++];
		}
		strcpy(m->name, name);
		strcpy(m->url, v);
		return 0;
	}
	if (strcmp(key, "eal") == 0)
		return copy_str(flag, v, cfg->eal_args, sizeof(cfg->eal_args));
	fprintf(stderr, "sluice: unknown option %s (see --help)\n", flag);
	return -1;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int load_file(struct sl_config *cfg, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[SL_CONFIG_LINE_MAX];
	int rc = 0;

	if (!f) {
		fprintf(stderr, "sluice: cannot read config file %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (unsigned n = 1; rc == 0 && n <= SL_CONFIG_LINES_MAX && fgets(line, sizeof(line), f); n++) {
		char *s = trim(line);
		if (*s == '#' || *s == '\0')
			continue;
		char *eq = strchr(s, '=');
		char where[64];
		snprintf(where, sizeof(where), "%s line %u", path, n);
		if (!eq) {
			fprintf(stderr, "sluice: %s: expected `name = value`\n", where);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *key = trim(s);
		char *val = trim(eq + 1);
		rc = apply(cfg, key, val, key);
	}
	fclose(f);
	return rc;
}

static void defaults(struct sl_config *cfg)
{
	cpu_set_t set;
	/* One worker per CPU this process may use (taskset, cgroups), not per
	 * CPU online. */
	long ncpu = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) :
								 sysconf(_SC_NPROCESSORS_ONLN);

	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->listen_host, "127.0.0.1");
	cfg->listen_port = 4566;
	cfg->ingest_port = 4569;
	strcpy(cfg->data_dir, "./data");
	cfg->workers = ncpu > 0 ? (unsigned)(ncpu < SL_WORKERS_MAX ? ncpu : SL_WORKERS_MAX) : 1;
	cfg->durability = SL_DUR_SYNC;
	cfg->batch_ms = 10;
	strcpy(cfg->region, "us-east-1");
	strcpy(cfg->account_id, "000000000000");
	cfg->log_level = SL_LOG_INFO;
	cfg->segment_bytes = SL_SEGMENT_BYTES_DEFAULT;
	cfg->journal_bytes = SL_JOURNAL_FILE_BYTES;
}

int sl_config_load(struct sl_config *cfg, int argc, char **argv)
{
	defaults(cfg);
	/* The config file first, so flags override it. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc && load_file(cfg, argv[i + 1]) < 0)
			return -1;
		if (strncmp(argv[i], "--config=", 9) == 0 && load_file(cfg, argv[i] + 9) < 0)
			return -1;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			return 1;
		}
		if (strcmp(a, "--version") == 0) {
			printf("sluice %s\n", SL_VERSION);
			return 1;
		}
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "sluice: unexpected argument '%s' (see --help)\n", a);
			return -1;
		}
		char key[96];
		const char *eq = strchr(a, '=');
		size_t kl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (kl >= sizeof(key)) {
			fprintf(stderr, "sluice: unknown option %s (see --help)\n", a);
			return -1;
		}
		memcpy(key, a + 2, kl);
		key[kl] = '\0';
		const char *v = eq ? eq + 1 : NULL;
		bool is_flag = strcmp(key, "shard-limits") == 0 || strcmp(key, "request-log") == 0 ||
			       strcmp(key, "debug-clock") == 0;
		if (!v && !is_flag && i + 1 < argc)
			v = argv[++i];
		if (strcmp(key, "config") == 0)
			continue;
		if (apply(cfg, key, v, a) < 0)
			return -1;
	}
	if (cfg->sqs_partitions == 0)
		cfg->sqs_partitions = cfg->workers < SL_SQS_PARTS_MAX ? cfg->workers : SL_SQS_PARTS_MAX;
	/* Every path that set them checked their range. */
	assert(cfg->workers >= 1);
	assert(cfg->workers <= SL_WORKERS_MAX);
	assert(cfg->segment_bytes >= SL_SEGMENT_BYTES_MIN);
	return 0;
}

const char *sl_config_lambda_url(const struct sl_config *cfg, const char *name, size_t name_len)
{
	for (unsigned i = 0; i < cfg->nlambdas; i++) {
		const struct sl_lambda_map *m = &cfg->lambdas[i];
		if (strlen(m->name) == name_len && memcmp(m->name, name, name_len) == 0)
			return m->url;
	}
	return NULL;
}
