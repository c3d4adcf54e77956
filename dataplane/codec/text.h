/* text.h - the few text primitives every codec needs: hex digits and
 * UTF-8 encoding and checking. Header-only so that the standalone (fuzzed) codec
 * libraries need nothing more. */
#ifndef SL_CODEC_TEXT_H
#define SL_CODEC_TEXT_H

#include <stddef.h>
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

/* The code points of s[0..n) if it is well-formed UTF-8 (no overlong form,
 * surrogate or code point past U+10FFFF), else -1. */
static inline long sl_utf8_count(const uint8_t *s, size_t n)
{
	long chars = 0;

	for (size_t i = 0; i < n; chars++) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
		if (len == 0 || c > 0xf4 || n - i < len)
			return -1;
		uint32_t cp = c & (0x7f >> len);
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return -1;
		i += len;
	}
	return chars;
}

#endif
