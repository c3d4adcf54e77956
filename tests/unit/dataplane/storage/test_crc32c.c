/* Tests for dataplane/crc32c.c against the published check value and a
 * bit-at-a-time reference, at every alignment and length. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "dataplane/storage/crc32c.h"

static uint32_t reference(const uint8_t *p, size_t n, uint32_t crc)
{
	crc = ~crc;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

Test(crc32c, check_value)
{
	/* The CRC-32C check value from RFC 3720 / the CRC catalogue. */
	cr_assert_eq(sl_crc32c("123456789", 9, 0), 0xe3069283u);
	cr_assert_eq(sl_crc32c("", 0, 0), 0);
}

Test(crc32c, matches_reference_at_every_alignment_and_length)
{
	uint8_t buf[300];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	for (size_t off = 0; off < 16; off++) {
		for (size_t len = 0; len + off <= sizeof(buf) && len < 200; len++)
			cr_assert_eq(sl_crc32c(buf + off, len, 0), reference(buf + off, len, 0),
				     "off %zu len %zu", off, len);
	}
}

Test(crc32c, chains)
{
	const char *a = "partition-key", *b = "and the data that follows it";
	char ab[64];

	snprintf(ab, sizeof(ab), "%s%s", a, b);
	cr_assert_eq(sl_crc32c(b, strlen(b), sl_crc32c(a, strlen(a), 0)), sl_crc32c(ab, strlen(ab), 0));
}
