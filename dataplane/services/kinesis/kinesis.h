/* kinesis.h - Kinesis Data Streams over JSON 1.1 and CBOR 1.1.
 *
 * Data operations (PutRecord, PutRecords, GetShardIterator, GetRecords) run
 * on the workers: the receiving worker parses and routes, the shard's owner
 * appends or reads. Every other operation changes or reads metadata and runs
 * on the control thread, which owns the catalog.
 */
#ifndef SL_KINESIS_H
#define SL_KINESIS_H

#include <stdbool.h>
#include <stdint.h>

#include "control/kinesis/streams.h"
#include "dataplane/net/fields.h"

struct sl_req;
struct sl_service;
struct sl_shape_model;
struct sl_worker;
struct sl_enc;

/* X-Amz-Target of every Kinesis operation: this prefix, then its name. */
#define SL_KINESIS_TARGET_PREFIX "Kinesis_20131202."

/* The service's row in the table (service.c), and its input shapes
 * (shapes.c, generated from botocore by scripts/gen-shapes). */
extern struct sl_service sl_kinesis_service;
extern const struct sl_shape_model sl_shape_model_kinesis;

/* The data operations, on the worker that received the request. */
void sl_kin_put_record(struct sl_worker *w, struct sl_req *req);
void sl_kin_put_records(struct sl_worker *w, struct sl_req *req);
void sl_kin_get_records(struct sl_worker *w, struct sl_req *req);
void sl_kin_get_shard_iterator(struct sl_worker *w, struct sl_req *req);
/* A put that does not come over HTTP (UDP ingest): records whose key and
 * data the caller checked as PutRecords checks them (1..256 characters, at
 * most 1 MiB together), into stream s, which the caller found writable
 * (sl_kin_stream_writable). done(w, arg, results, n) runs on this worker once
 * every record is durable or failed; the records' bytes stay the caller's
 * until then. 0, or -ENOMEM (nothing stored). arg must not be NULL. */
struct sl_kin_raw {
	const uint8_t *key;
	uint32_t key_len;
	const uint8_t *data;
	uint32_t data_len;
	bool has_hash;
	sl_u128 hash;
};
enum { SL_KIN_RAW_OK = 0, SL_KIN_RAW_THROTTLED, SL_KIN_RAW_INTERNAL };
struct sl_kin_raw_result {
	uint64_t n;       /* OK: the record's number, as its sequence number prints it */
	uint32_t ordinal; /* its shard */
	uint8_t err;      /* SL_KIN_RAW_* */
};
typedef void (*sl_kin_raw_done)(struct sl_worker *w, void *arg,
				const struct sl_kin_raw_result *res, uint32_t n);
int sl_kin_put_raw(struct sl_worker *w, const struct sl_stream_meta *s,
		   const struct sl_kin_raw *recs, uint32_t n, sl_kin_raw_done done, void *arg);
/* Whether s takes writes now (ACTIVE or UPDATING). */
bool sl_kin_stream_writable(const struct sl_stream_meta *s);
/* UDP ingest (udp.c). Control thread, before the workers start: load
 * --ingest-keys, and check that the port is free of other processes (given:
 * the flag or config named it; otherwise a busy port turns UDP ingest off
 * with a warning). 0 or -errno.
 * Every worker: open its socket and arm receives; once a second, re-arm
 * what could not be; /metrics' series. */
struct sl_config;
int sl_kin_udp_setup(struct sl_config *cfg, bool given);
void sl_kin_udp_start(struct sl_worker *w);
void sl_kin_udp_stop(struct sl_worker *w);
void sl_kin_udp_tick(struct sl_worker *w);
long sl_kin_udp_metrics(char *buf, size_t cap);
/* Every worker, once a second: retention of the shard logs it owns. */
void sl_kin_tick(struct sl_worker *w);
/* Control thread, at start-up: open and recover every shard log worker w
 * owns, before it serves anything. */
void sl_kin_preload(struct sl_worker *w);

/* ---- Shared by data.c and meta.c ------------------------------------------ */

/* Sequence numbers: "49" + 10-digit shard ordinal + 20-digit value v, so
 * they compare as text and as numbers, and name their shard. Record number n
 * prints as v = n + 1; v = 0 is the shard's StartingSequenceNumber, which
 * sorts before every record, and a closed shard's EndingSequenceNumber is
 * its last record's. */
#define SL_SEQ_LEN 32
void sl_kin_seq_fmt(uint32_t ordinal, uint64_t n, char out[SL_SEQ_LEN + 1]);
/* 0 and the parts, or -1 when s is not a sequence number of this format. */
int sl_kin_seq_parse(const char *s, size_t len, uint32_t *ordinal, uint64_t *n);
void sl_kin_shard_id(uint32_t ordinal, char out[32]);
/* Ordinal from "shardId-000000000001" (or a bare number); -1 if malformed. */
int64_t sl_kin_shard_parse(const char *s);

/* Resolve StreamName / StreamARN of the request against catalog c. Returns
 * the stream, or NULL with the AWS error set on req. */
const struct sl_stream_meta *sl_kin_stream(struct sl_fields *f, const struct sl_catalog *c);
/* Read StreamName/StreamARN into name/region (validated). 0 or SL_FIELD_ERR. */
int sl_kin_stream_ref(struct sl_fields *f, char *name, char *region);

/* True for a closed shard whose every record is past the stream's
 * retention: AWS stops listing it, and its log is deleted. */
bool sl_kin_shard_expired(const struct sl_stream_meta *s, const struct sl_shard_meta *sh,
			  int64_t now_ms);

/* The stream's status as AWS spells it. */
const char *sl_kin_status_name(uint8_t status);

/* "HashKeyRange": {StartingHashKey, EndingHashKey} of a shard. */
void sl_kin_encode_hash_range(struct sl_enc *e, const struct sl_shard_meta *sh);
/* The Shard structure (ShardId, parents, HashKeyRange, SequenceNumberRange). */
void sl_kin_encode_shard(struct sl_enc *e, const struct sl_shard_meta *sh);

#endif
