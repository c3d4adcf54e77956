/* text.h - the few text primitives every codec needs: hex digits and
 * UTF-8 encoding. Header-only so that the standalone (fuzzed) codec
 * libraries need nothing more. */
#ifndef SL_CODEC_TEXT_H
#define SL_CODEC_TEXT_H

#include <stdint.h>

/* The value of hex digit c, or -1. */
static inline int sl_hex_val(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* Four hex digits at s (the caller checked they are there): 0..0xffff, or
 * -1 when one is not a hex digit. */
static inline int sl_hex4(const uint8_t *s)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int h = sl_hex_val(s[i]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/* Write code point cp (at most U+10FFFF, not a surrogate) as UTF-8 into u.
 * Returns the length, 1 to 4. */
static inline int sl_utf8_put(uint32_t cp, uint8_t u[4])
{
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	u[0] = (uint8_t)(0xf0 | cp >> 18);
	u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	u[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

#endif
