/* config.h - the server's settings, from flags and an optional config file.
 * Filled once at start-up (control/config.c) and read-only afterwards. */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <limits.h>
#include <linux/limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/limits.h"

enum sl_durability {
	SL_DUR_SYNC = 0,   /* acknowledge after fdatasync */
	SL_DUR_BATCH = 1,  /* acknowledge after write; fdatasync every batch_ms */
	SL_DUR_MEMORY = 2, /* acknowledge after write; never fsync (survives a
			    * process crash via the page cache, not a power loss) */
};

enum sl_log_level { SL_LOG_DEBUG = 0, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR };

struct sl_config {
	char listen_host[64];
	uint16_t listen_port;
	uint16_t ingest_port;    /* UDP ingest (docs/ingest-protocol.md); 0: off */
	bool ingest_port_given;  /* set by a flag or the config file */
	char ingest_keys[PATH_MAX / 4]; /* producers' HMAC keys (--ingest-keys); "": none */
	char data_dir[PATH_MAX / 2];
	unsigned workers;
	enum sl_durability durability;
	unsigned batch_ms;
	char region[32];
	char account_id[16];
	bool shard_limits;
	unsigned sqs_partitions; /* of each new standard queue */
	bool request_log;
	bool debug_clock;
	enum sl_log_level log_level;
	uint64_t segment_bytes;
	uint64_t journal_bytes; /* each of a worker's two journal files (sync mode) */
	unsigned create_delay_ms; /* time a stream stays CREATING/UPDATING/DELETING */
	/* Tests only (no flag): the housekeeping period and the control
	 * thread's longest sleep while it waits for workers, in ms; 0 is the
	 * default (1 s and 100 ms). A test that sets it to an hour turns any
	 * lost wake-up into a hang. */
	unsigned idle_ms;
	char eal_args[1024];
	/* The base of URLs written into SNS messages (SubscribeURL,
	 * UnsubscribeURL, SigningCertURL), no trailing slash; "" for
	 * http://<Host header>. */
	char public_url[256];
	/* CA certificates (PEM) that SNS https endpoints are checked against;
	 * "" for the system's. */
	char sns_ca_file[PATH_MAX / 4];
	/* The SMTP relay of SNS email deliveries; "" for .eml files in the
	 * outbox. */
	char smtp_host[256];
	char smtp_port[6];
	/* Lambda functions SNS delivers to: `lambda.NAME = http(s)://...`. */
	struct sl_lambda_map {
		char name[SL_LAMBDA_NAME_MAX + 1];
		char url[SL_LAMBDA_URL_MAX + 1];
	} lambdas[SL_LAMBDA_MAPS_MAX];
	unsigned nlambdas;
};

/* The settings in force (set by main before anything starts). */
extern const struct sl_config *sl_cfg;

/* Fill cfg with defaults, then the config file (--config FILE), then flags.
 * Returns 0; 1 when --help or --version was printed (exit 0); -1 after
 * printing a one-line error to stderr (exit non-zero). */
int sl_config_load(struct sl_config *cfg, int argc, char **argv);

/* The URL the Lambda function `name` (name_len bytes) is mapped to, or
 * NULL. */
const char *sl_config_lambda_url(const struct sl_config *cfg, const char *name, size_t name_len);

#endif
