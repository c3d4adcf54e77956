/* bin.h - little-endian binary records: a growing writer and a bounded reader.
 *
 * The writer grows its buffer and remembers the first allocation failure in
 * err, so a caller checks once at the end. The reader never reads past its
 * end: a short read marks it bad and yields zeros, so a decoder checks once
 * at the end too.
 */
#ifndef SL_CODEC_BIN_H
#define SL_CODEC_BIN_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sl_bw {
	uint8_t *p;
	size_t len, cap;
	int err; /* 0 or -ENOMEM */
};

struct sl_br {
	const uint8_t *p, *end;
	bool bad;
};

static inline void sl_bw_free(struct sl_bw *w)
{
	free(w->p);
	*w = (struct sl_bw){ 0 };
}

/* Room for n more bytes, or NULL (err set). A buffer is made even for
 * n == 0, so that the pointer returned is never NULL + 0. */
static inline uint8_t *sl_bw_room(struct sl_bw *w, size_t n)
{
	if (w->err)
		return NULL;
	if (w->cap - w->len < n || !w->p) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap - w->len < n)
			cap *= 2;
		uint8_t *p = realloc(w->p, cap);
		if (!p) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->p = p;
		w->cap = cap;
	}
	return w->p + w->len;
}

static inline void sl_bw_bytes(struct sl_bw *w, const void *src, size_t n)
{
	uint8_t *d = sl_bw_room(w, n);

	if (d && n) {
		memcpy(d, src, n);
		w->len += n;
	}
}

static inline void sl_bw_u64(struct sl_bw *w, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	sl_bw_bytes(w, b, 8);
}

static inline void sl_bw_u32(struct sl_bw *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	sl_bw_bytes(w, b, 4);
}

static inline void sl_bw_u8(struct sl_bw *w, uint8_t v)
{
	sl_bw_bytes(w, &v, 1);
}

/* A string as u32 length + bytes (no terminator). */
static inline void sl_bw_str(struct sl_bw *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	sl_bw_u32(w, (uint32_t)n);
	sl_bw_bytes(w, s, n);
}

/* Overwrite 4 bytes at off (a length or checksum written after its body). */
static inline void sl_bw_put_u32_at(struct sl_bw *w, size_t off, uint32_t v)
{
	if (w->err || off + 4 > w->len)
		return;
	for (int i = 0; i < 4; i++)
		w->p[off + i] = (uint8_t)(v >> (8 * i));
}

static inline struct sl_br sl_br_make(const void *p, size_t n)
{
	return (struct sl_br){ .p = p, .end = (const uint8_t *)p + n };
}

static inline size_t sl_br_left(const struct sl_br *r)
{
	return (size_t)(r->end - r->p);
}

static inline const uint8_t *sl_br_take(struct sl_br *r, size_t n)
{
	if (r->bad || sl_br_left(r) < n) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	return p;
}

static inline uint64_t sl_br_u64(struct sl_br *r)
{
	const uint8_t *b = sl_br_take(r, 8);
	uint64_t v = 0;

	for (int i = 0; b && i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static inline uint32_t sl_br_u32(struct sl_br *r)
{
	const uint8_t *b = sl_br_take(r, 4);

	return b ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
			   (uint32_t)b[3] << 24 :
		   0;
}

static inline uint8_t sl_br_u8(struct sl_br *r)
{
	const uint8_t *b = sl_br_take(r, 1);

	return b ? b[0] : 0;
}

/* A string into out[cap] (terminated). Longer than cap - 1, or holding a
 * NUL byte: bad. */
static inline void sl_br_str(struct sl_br *r, char *out, size_t cap)
{
	uint32_t n = sl_br_u32(r);
	const uint8_t *b = r->bad || n >= cap ? NULL : sl_br_take(r, n);

	if (!b || memchr(b, 0, n)) {
		r->bad = true;
		if (cap)
			out[0] = '\0';
		return;
	}
	memcpy(out, b, n);
	out[n] = '\0';
}

/* A string of min..max bytes without NUL, as a new allocation (*out);
 * an empty one is NULL when empty_null (an unset attribute). false:
 * malformed or out of memory, with r->bad set. */
static inline bool sl_br_dup_str(struct sl_br *r, size_t min, size_t max, bool empty_null,
				 char **out)
{
	uint32_t n = sl_br_u32(r);
	const uint8_t *b = r->bad || n > max || n < min ? NULL : sl_br_take(r, n);

	*out = NULL;
	if (!b || memchr(b, 0, n)) {
		r->bad = true;
		return false;
	}
	if (n == 0 && empty_null)
		return true;
	*out = (char *)malloc(n + 1);
	if (!*out) {
		r->bad = true;
		return false;
	}
	memcpy(*out, b, n);
	(*out)[n] = '\0';
	return true;
}

#endif
