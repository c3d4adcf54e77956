/* catrec.c - catalog record frames (see catrec.h). */
#include "control/catrec.h"

#include <assert.h>

#include "dataplane/storage/crc32c.h"

size_t sl_crec_begin(struct sl_bw *w, uint8_t op, uint16_t type, uint64_t uid)
{
	size_t off = w->len;

	sl_bw_u32(w, 0);
	sl_bw_u32(w, 0);
	sl_bw_u8(w, op);
	sl_bw_u8(w, 0);
	sl_bw_u8(w, (uint8_t)type);
	sl_bw_u8(w, (uint8_t)(type >> 8));
	sl_bw_u64(w, uid);
	return off;
}

void sl_crec_end(struct sl_bw *w, size_t off)
{
	if (w->err)
		return;
	assert(w->len >= off + SL_CREC_HDR);
	size_t len = w->len - off - 8;
	sl_bw_put_u32_at(w, off, (uint32_t)len);
	sl_bw_put_u32_at(w, off + 4, sl_crc32c(w->p + off + 8, len, 0));
}

size_t sl_crec_scan(const uint8_t *p, size_t n, size_t max_len,
		    int (*fn)(const struct sl_crec *r, void *arg), void *arg)
{
	size_t off = 0;

	while (n - off >= SL_CREC_HDR) {
		struct sl_br rd = sl_br_make(p + off, n - off);
		uint32_t len = sl_br_u32(&rd), crc = sl_br_u32(&rd);
		if (len < SL_CREC_HDR - 8 || len > max_len || len > n - off - 8)
			break;
		if (sl_crc32c(p + off + 8, len, 0) != crc)
			break;
		struct sl_crec r;
		r.op = sl_br_u8(&rd);
		if (sl_br_u8(&rd) != 0)
			break; /* the reserved byte: not a frame this version wrote */
		uint8_t lo = sl_br_u8(&rd), hi = sl_br_u8(&rd); /* in this order */
		r.type = (uint16_t)(lo | hi << 8);
		r.uid = sl_br_u64(&rd);
		r.body = rd.p;
		r.len = len - (SL_CREC_HDR - 8);
		assert(!rd.bad);
		if (fn(&r, arg) != 0)
			break;
		off += 8 + (size_t)len;
	}
	return off;
}
