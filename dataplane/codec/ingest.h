/* ingest.h - the UDP ingest protocol's datagrams (docs/ingest-protocol.md):
 * parse a request, walk its records, and write requests and their
 * acknowledgements. Pure and allocation-free, so any thread may run it; the
 * server's workers parse and answer with it, sluice-load writes and reads
 * with it. Every integer is little-endian. */
#ifndef SL_CODEC_INGEST_H
#define SL_CODEC_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_INGEST_MAGIC 0x49554C53u /* "SLUI" */
#define SL_INGEST_VERSION 1
#define SL_INGEST_HDR_BYTES 36
#define SL_INGEST_TAG_BYTES 32  /* HMAC-SHA256 */
#define SL_INGEST_REC_HDR_BYTES 8
#define SL_INGEST_RUN_BYTES 16
#define SL_INGEST_NAME_MAX 128  /* Kinesis stream names */
#define SL_INGEST_RECORDS_MAX 500
#define SL_INGEST_KEY_BYTES_MAX 1024 /* 256 characters of UTF-8 */
#define SL_INGEST_KEY_CHARS_MAX 256
#define SL_INGEST_RECORD_MAX (1024 * 1024) /* key and data, as Kinesis counts */
#define SL_INGEST_DATAGRAM_MAX 65507     /* UDP over IPv4 */

enum sl_ingest_type {
	SL_INGEST_PUT = 1,
	SL_INGEST_PUT_ACK = 2,
	SL_INGEST_LOOKUP = 3,
	SL_INGEST_LOOKUP_ACK = 4,
};

enum {
	SL_INGEST_F_AUTH = 0x0001,
	SL_INGEST_F_DUPLICATE = 0x0002,
	SL_INGEST_F_KNOWN = 0x0003,
};

enum sl_ingest_status {
	SL_INGEST_OK = 0,
	SL_INGEST_UNKNOWN_STREAM = 1,
	SL_INGEST_RECORD_TOO_LARGE = 2,
	SL_INGEST_MALFORMED = 3,
	SL_INGEST_THROTTLED = 4,
	SL_INGEST_OVERLOADED = 5,
	SL_INGEST_STALE = 6,
	SL_INGEST_INTERNAL = 7,
	SL_INGEST_INVALID = 8,
	SL_INGEST_UNSUPPORTED_VERSION = 9,
};

/* The header's fields. */
struct sl_ingest_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint64_t producer_id;
	uint64_t seq;
	uint64_t stream_id;
	uint16_t count;
	uint8_t status;
	uint8_t name_len;
};

/* A datagram as parsed: views into its bytes. */
struct sl_ingest_view {
	struct sl_ingest_hdr h;
	const uint8_t *name;   /* h.name_len bytes; NULL without a name */
	const uint8_t *body;   /* after the header and name: records or runs */
	size_t body_len;       /* up to the tag */
	const uint8_t *tag;    /* with AUTH: SL_INGEST_TAG_BYTES; else NULL */
	size_t signed_len;     /* the bytes the tag covers: [0, signed_len) */
};

/* Parse datagram p[0..n). -1: not this protocol at all (shorter than a
 * header, or another magic): drop it unanswered. Otherwise v->h holds the
 * header (enough to answer) and the result is the datagram's status:
 * SL_INGEST_OK, SL_INGEST_UNSUPPORTED_VERSION (another version: nothing
 * past the header is read), or SL_INGEST_MALFORMED (an unknown type or
 * flag, a name or stream id out of the rules, a status in a request, a
 * PUT's records that do not end exactly where the datagram does, a run
 * count that does not match the body). A PUT that parses OK has count
 * records, each of which sl_ingest_next reads; an ACK's runs likewise
 * sl_ingest_next_run. */
int sl_ingest_parse(const uint8_t *p, size_t n, struct sl_ingest_view *v);

/* One record of a PUT. */
struct sl_ingest_rec {
	const uint8_t *key;
	uint16_t key_len;
	const uint8_t *data;
	uint32_t data_len;
	bool has_hash;
	uint8_t hash[16];      /* the explicit hash key, a little-endian u128 */
	uint8_t status;        /* SL_INGEST_OK, _RECORD_TOO_LARGE or _INVALID */
};

struct sl_ingest_iter {
	const uint8_t *p, *end;
};

void sl_ingest_iter_init(struct sl_ingest_iter *it, const struct sl_ingest_view *v);
/* The next record into *r: 1, or 0 at the end. Only for a view that parsed
 * OK (which checked every record's framing). */
int sl_ingest_next(struct sl_ingest_iter *it, struct sl_ingest_rec *r);

/* One run of a PUT_ACK. */
struct sl_ingest_run {
	uint8_t status;
	uint16_t run;
	uint32_t shard;
	uint64_t first_n;
};
int sl_ingest_next_run(struct sl_ingest_iter *it, struct sl_ingest_run *run);

/* Writing a datagram into a buffer of cap bytes: begin, then records (PUT)
 * or runs (PUT_ACK), then end. w->err is set when something does not fit
 * or breaks a rule; end then returns 0. */
struct sl_ingest_writer {
	uint8_t *buf;
	size_t cap, len;
	uint32_t count;
	uint8_t type;
	bool err;
};

void sl_ingest_begin(struct sl_ingest_writer *w, uint8_t *buf, size_t cap,
		     const struct sl_ingest_hdr *h, const char *name);
void sl_ingest_add_record(struct sl_ingest_writer *w, const void *key, size_t key_len,
			  const void *data, size_t data_len, const uint8_t *hash);
/* Adds to the last run when it continues it (same status and shard, the
 * next number), so that a datagram's records in one shard take one run. */
void sl_ingest_add_run(struct sl_ingest_writer *w, uint8_t status, uint32_t shard,
		       uint64_t n);
/* Sets count (PUT, PUT_ACK: what was added; other types keep the
 * header's) and, with the header's AUTH, appends the tag keyed with
 * key[0..key_len). The datagram's length, or 0 on error. */
size_t sl_ingest_end(struct sl_ingest_writer *w, const uint8_t *key, size_t key_len);

/* Write again the tag of datagram buf[0..len), its last
 * SL_INGEST_TAG_BYTES, after a change to the bytes it covers. */
void sl_ingest_sign(uint8_t *buf, size_t len, const uint8_t *key, size_t key_len);
/* Whether v's tag is the HMAC-SHA256 of its signed bytes under key
 * (constant-time compare); false without a tag. */
bool sl_ingest_verify(const struct sl_ingest_view *v, const uint8_t *key, size_t key_len);

#endif
