/* crc32c.c - CRC32C with SSE4.2, 8 bytes per step. */
#include "dataplane/storage/crc32c.h"

#include <nmmintrin.h>
#include <string.h>

uint32_t sl_crc32c(const void *p, size_t n, uint32_t crc)
{
	const uint8_t *b = p;
	uint64_t c = ~crc;

	for (; n >= 8; n -= 8, b += 8) {
		uint64_t v;
		memcpy(&v, b, sizeof(v)); /* unaligned-safe; compiles to one load */
		c = _mm_crc32_u64(c, v);
	}
	uint32_t c32 = (uint32_t)c;
	for (; n > 0; n--, b++)
		c32 = _mm_crc32_u8(c32, *b);
	return ~c32;
}
