/* fuzz_kinesis_tokens.c - shard iterators and NextTokens as clients send
 * them back: whatever parses must re-encode to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/services/kinesis/tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);
	struct sl_kin_iter it;
	char text[1024], pos[SL_KIN_TOKEN_POS_MAX + 1];
	uint64_t uid;
	int64_t ms;

	if (!s)
		abort();
	memcpy(s, data, size);
	if (sl_kin_iter_unpack(s, size, &it) == 0) {
		if (sl_kin_iter_pack(&it, text) != size || memcmp(text, s, size) != 0)
			abort();
	}
	if (sl_kin_token_unpack(s, size, &uid, pos, sizeof(pos), &ms) == 0) {
		if (strlen(pos) > SL_KIN_TOKEN_POS_MAX || strchr(pos, '|'))
			abort();
		/* Leading zeros make other texts for the same values: compare
		 * values, not text. */
		size_t n = sl_kin_token_pack(uid, pos, ms, text, sizeof(text));
		uint64_t uid2;
		int64_t ms2;
		char pos2[sizeof(pos)];
		if (n == 0 || sl_kin_token_unpack(text, n, &uid2, pos2, sizeof(pos2), &ms2) != 0 ||
		    uid2 != uid || ms2 != ms || strcmp(pos2, pos) != 0)
			abort();
	}
	free(s);
	return 0;
}
