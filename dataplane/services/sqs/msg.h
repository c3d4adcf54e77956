/* msg.h - what an SQS message is, byte for byte: the checks AWS applies to
 * bodies and message attributes, the MD5 digests clients verify, the record
 * a partition's log stores for a send, and receipt handles.
 *
 * Standalone (no server state), so that it can be unit-tested against
 * digests AWS documents and fuzzed.
 */
#ifndef SL_SQS_MSG_H
#define SL_SQS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/limits.h"

/* Message attributes a message may carry, and their names' and types'
 * lengths (AWS: 10, 256, 256). */
#define SL_SQS_ATTRS_MAX 10
#define SL_SQS_ATTR_NAME_MAX 256
#define SL_SQS_ATTR_TYPE_MAX 256

/* One message attribute. Views into the caller's memory; value holds the
 * decoded bytes (StringValue's UTF-8, or BinaryValue after base64). */
struct sl_sqs_attr {
	const char *name;
	const char *type; /* String, Number or Binary, maybe with .custom */
	const uint8_t *value;
	uint32_t name_len;
	uint32_t type_len;
	uint32_t value_len;
	bool binary;      /* BinaryValue (type Binary...) */
};

/* Body and String values: UTF-8 of the characters AWS allows (#x9, #xA,
 * #xD, #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF). Returns true, or false
 * with the offending code point (or -1 for bad UTF-8). */
bool sl_sqs_chars_ok(const uint8_t *s, size_t n, int32_t *bad);

/* A message attribute name: 1..256 of [A-Za-z0-9_.-], no leading,
 * trailing or doubled '.', not starting with "AWS." or "Amazon."
 * (any case). */
bool sl_sqs_attr_name_ok(const char *s, size_t n);
/* A data type: String, Number or Binary, each optionally followed by
 * ".label" (up to 256 bytes in all). Sets *binary for Binary types. */
bool sl_sqs_attr_type_ok(const char *s, size_t n, bool *binary, bool *number);
/* A Number value: an optional sign, digits with at most one '.', an
 * optional exponent; at most 38 significant digits, within -1e128..1e126. */
bool sl_sqs_number_ok(const char *s, size_t n);

/* MD5 over attributes as AWS defines it (names in byte order; each name,
 * type and value length-prefixed big-endian, with a transport byte of 1 for
 * String and Number, 2 for Binary), as 32 lowercase hex digits. n may be
 * 0 (the digest of nothing is not sent). Returns 0, or -EINVAL for
 * duplicate names. */
int sl_sqs_attrs_md5(const struct sl_sqs_attr *a, unsigned n, char out[33]);
void sl_sqs_md5_hex(const void *p, size_t n, char out[33]);

/* The bytes attributes take from a message's size (names, types, values). */
size_t sl_sqs_attrs_size(const struct sl_sqs_attr *a, unsigned n);

/* ---- The stored form of a send ------------------------------------------------ */

/* A message as a partition log stores it (the record's data; its key is
 * the 16-byte message id). Encoding: u8 version, u8 flags, u16 nattrs,
 * u64 sent_ms, u32 delay_s, then the body (u32 length + bytes), the trace
 * header (AWSTraceHeader, u32 + bytes, empty when none), each attribute
 * as u16 name length + name, u16 type length + type, u8 binary, u32 value
 * length + value, and last the MessageGroupId (flag 1) and the
 * MessageDeduplicationId (flag 2), each as u16 length + bytes, and the uid
 * of the queue a dead-letter move took it from (flag 4, u64);
 * little-endian. */
struct sl_sqs_stored {
	int64_t sent_ms;
	uint32_t delay_s;
	const uint8_t *body;
	uint32_t body_len;
	const uint8_t *trace;
	uint32_t trace_len;
	const char *group;   /* NULL: none */
	uint32_t group_len;
	const char *dedup;   /* NULL: none */
	uint32_t dedup_len;
	uint64_t source_uid; /* in a dead-letter queue: where it came from; 0: none */
	unsigned nattrs;
	struct sl_sqs_attr attrs[SL_SQS_ATTRS_MAX];
};

/* A MessageGroupId, MessageDeduplicationId or ReceiveRequestAttemptId:
 * 1..128 characters, each a letter, a digit or ASCII punctuation. */
#define SL_SQS_FIFO_ID_MAX 128
bool sl_sqs_fifo_id_ok(const char *s, size_t n);
size_t sl_sqs_stored_size(const struct sl_sqs_stored *m);
/* Write m into out (sl_sqs_stored_size(m) bytes). */
void sl_sqs_stored_encode(const struct sl_sqs_stored *m, uint8_t *out);
/* A moved message's record: p[0..n) with no delay (a moved message is not
 * delayed again) and source_uid as its source (0: none), malloc'd into
 * *out. Its length, or -EINVAL (not a record), -ENOMEM. */
long sl_sqs_stored_moved(const uint8_t *p, size_t n, uint64_t source_uid, uint8_t **out);
/* Parse p[0..n) into m, with views into p. 0, or -EINVAL when it is not a
 * record this encoder writes (lengths, counts, names or types out of the
 * checks above). */
int sl_sqs_stored_decode(const uint8_t *p, size_t n, struct sl_sqs_stored *m);

/* ---- Receipt handles --------------------------------------------------------- */

/* What a receipt handle names: one receive of one message. rseq counts the
 * receives of the message, so that a handle of an earlier receive is known
 * stale. */
struct sl_sqs_receipt {
	uint64_t queue_uid;
	uint64_t n;        /* the message's record number in its partition */
	uint32_t partition;
	uint32_t rseq;
};
/* Base64 of the fields and a checksum: SL_SQS_RECEIPT_LEN characters. */
#define SL_SQS_RECEIPT_LEN 40
void sl_sqs_receipt_fmt(const struct sl_sqs_receipt *r, char out[SL_SQS_RECEIPT_LEN + 1]);
/* 0, or -EINVAL when s is not a handle this server made. */
int sl_sqs_receipt_parse(const char *s, size_t n, struct sl_sqs_receipt *r);

/* ---- Ids ---------------------------------------------------------------------- */

/* A new message id (a version 4 UUID from a fast per-thread generator; not
 * a secret), and a UUID in text: 36 characters and a NUL. */
void sl_sqs_msg_id_new(uint8_t id[16]);
void sl_sqs_uuid_fmt(const uint8_t id[16], char out[37]);
/* A batch entry's Id (SQS and SNS alike): 1..80 of [A-Za-z0-9_-]. */
bool sl_sqs_batch_id_ok(const char *s);

#endif
