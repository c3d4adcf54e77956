/* tokens.h - the opaque strings Kinesis hands to clients and takes back:
 * shard iterators and the NextToken of ListStreams / ListShards. Pure
 * functions (no server state), so the parsers are fuzzed on their own. */
#ifndef SL_KINESIS_TOKENS_H
#define SL_KINESIS_TOKENS_H

#include <stddef.h>
#include <stdint.h>

/* A shard iterator: the shard, the next record number, and when it was
 * issued (iterators expire). Text: base64 of 40 bytes, 56 characters. */
struct sl_kin_iter {
	uint64_t uid;
	uint32_t ordinal;
	uint64_t n;
	int64_t issued_ms;
};
#define SL_KIN_ITER_TEXT 56

/* Write the iterator's text (not NUL-terminated); returns its length. */
size_t sl_kin_iter_pack(const struct sl_kin_iter *it, char out[SL_KIN_ITER_TEXT]);
/* Parse an iterator. 0, or -1 when it is not one this server issued
 * (wrong length, bad base64, version or checksum). */
int sl_kin_iter_unpack(const char *s, size_t len, struct sl_kin_iter *it);

/* NextToken: base64 of "v1|<uid>|<position>|<issued ms>". pos holds no '|'.
 * pack returns the text length, or 0 when it does not fit out_cap. */
#define SL_KIN_TOKEN_POS_MAX 256
size_t sl_kin_token_pack(uint64_t uid, const char *pos, int64_t issued_ms, char *out,
			 size_t out_cap);
/* 0 and the parts (pos NUL-terminated, pos_cap includes the NUL), or -1. */
int sl_kin_token_unpack(const char *s, size_t len, uint64_t *uid, char *pos, size_t pos_cap,
			int64_t *issued_ms);

#endif
