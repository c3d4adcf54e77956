/* tokens.c - shard iterators and NextTokens. */
#include "dataplane/services/kinesis/tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/enc.h"
#include "dataplane/storage/crc32c.h"

struct iter_blob {
	uint8_t version;
	uint8_t pad[3];
	uint32_t crc;
	uint64_t uid;
	uint32_t ordinal;
	uint32_t pad2;
	uint64_t n;
	int64_t issued_ms;
};
_Static_assert(sizeof(struct iter_blob) == 40, "iterator layout");
_Static_assert(SL_KIN_ITER_TEXT == 4 * ((sizeof(struct iter_blob) + 2) / 3), "iterator text");

#define SL_ITER_VERSION 1
#define SL_ITER_SALT 0x736c7569u /* detects garbled iterators, not forgery */
/* Longest NextToken text: base64 of "v1|" + 20 digits + "|" + pos + "|" + 20. */
#define SL_TOKEN_RAW_MAX (3 + 20 + 1 + SL_KIN_TOKEN_POS_MAX + 1 + 21)

static uint32_t iter_crc(const struct iter_blob *b)
{
	return sl_crc32c((const uint8_t *)b + 8, sizeof(*b) - 8, SL_ITER_SALT);
}

size_t sl_kin_iter_pack(const struct sl_kin_iter *it, char out[SL_KIN_ITER_TEXT])
{
	struct iter_blob b = { .version = SL_ITER_VERSION, .uid = it->uid, .ordinal = it->ordinal,
			       .n = it->n, .issued_ms = it->issued_ms };

	b.crc = iter_crc(&b);
	return sl_base64_enc(out, (const uint8_t *)&b, sizeof(b));
}

int sl_kin_iter_unpack(const char *s, size_t len, struct sl_kin_iter *it)
{
	uint8_t raw[sizeof(struct iter_blob) + 2];
	struct iter_blob b;

	if (len != SL_KIN_ITER_TEXT || sl_base64_dec(raw, s, len) != (long)sizeof(b))
		return -1;
	memcpy(&b, raw, sizeof(b));
	/* Padding must be zero: one iterator, one text. */
	if (b.version != SL_ITER_VERSION || b.pad[0] || b.pad[1] || b.pad[2] || b.pad2 ||
	    b.crc != iter_crc(&b))
		return -1;
	*it = (struct sl_kin_iter){ b.uid, b.ordinal, b.n, b.issued_ms };
	return 0;
}

size_t sl_kin_token_pack(uint64_t uid, const char *pos, int64_t issued_ms, char *out,
			 size_t out_cap)
{
	char raw[SL_TOKEN_RAW_MAX + 1];
	int n = snprintf(raw, sizeof(raw), "v1|%llu|%s|%lld", (unsigned long long)uid, pos,
			 (long long)issued_ms);

	if (n < 0 || (size_t)n >= sizeof(raw) || strchr(pos, '|') ||
	    sl_base64_enc_len((size_t)n) > out_cap)
		return 0;
	return sl_base64_enc(out, (const uint8_t *)raw, (size_t)n);
}

/* A decimal number of at most 20 digits (an optional '-' when sign). */
static int parse_dec(const char *s, size_t len, int sign, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = sign && len && s[0] == '-';

	if (len == i || len - i > 19)
		return -1;
	for (size_t k = i; k < len; k++) {
		if (s[k] < '0' || s[k] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[k] - '0');
	}
	*out = i ? 0 - v : v;
	return 0;
}

int sl_kin_token_unpack(const char *s, size_t len, uint64_t *uid, char *pos, size_t pos_cap,
			int64_t *issued_ms)
{
	uint8_t raw[SL_TOKEN_RAW_MAX + 3];
	uint64_t ms;

	if (len == 0 || len > sl_base64_enc_len(SL_TOKEN_RAW_MAX))
		return -1;
	long n = sl_base64_dec(raw, s, len);
	if (n < 4 || memcmp(raw, "v1|", 3) != 0)
		return -1;
	const char *p = (const char *)raw + 3, *end = (const char *)raw + n;
	const char *bar = memchr(p, '|', (size_t)(end - p));
	const char *bar2 = bar ? memchr(bar + 1, '|', (size_t)(end - bar - 1)) : NULL;
	if (!bar || !bar2 || (size_t)(bar2 - bar - 1) >= pos_cap ||
	    memchr(bar + 1, '\0', (size_t)(bar2 - bar - 1)) ||
	    parse_dec(p, (size_t)(bar - p), 0, uid) < 0 ||
	    parse_dec(bar2 + 1, (size_t)(end - bar2 - 1), 1, &ms) < 0)
		return -1;
	memcpy(pos, bar + 1, (size_t)(bar2 - bar - 1));
	pos[bar2 - bar - 1] = '\0';
	*issued_ms = (int64_t)ms;
	return 0;
}
