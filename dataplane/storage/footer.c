/* footer.c - index footers of sealed segments (footer.h). */
#include "dataplane/storage/footer.h"

#include <string.h>

#include "dataplane/storage/crc32c.h"

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void sl_footer_encode(const struct sl_footer *f, const struct sl_footer_entry *e, uint8_t *out)
{
	size_t len = sl_footer_size(f->nidx);

	put32(out, SL_FOOTER_MAGIC);
	put64(out + 8, f->first_n);
	put64(out + 16, f->end_n);
	put64(out + 24, f->alloc_off);
	put64(out + 32, (uint64_t)f->last_arrival_ms);
	put64(out + 40, f->nidx);
	for (uint64_t i = 0; i < f->nidx; i++) {
		uint8_t *p = out + SL_FOOTER_HDR_BYTES + i * SL_FOOTER_ENTRY_BYTES;
		put64(p, e[i].n);
		put64(p + 8, e[i].off);
		put64(p + 16, (uint64_t)e[i].arrival_ms);
	}
	put32(out + 4, sl_crc32c(out + 8, len - 8, 0));
}

struct sl_footer_entry sl_footer_entry_at(const uint8_t *buf, uint64_t i)
{
	const uint8_t *p = buf + SL_FOOTER_HDR_BYTES + i * SL_FOOTER_ENTRY_BYTES;

	return (struct sl_footer_entry){ get64(p), get64(p + 8), (int64_t)get64(p + 16) };
}

int sl_footer_parse(const uint8_t *buf, size_t len, uint64_t first_n, uint64_t file_bytes,
		    struct sl_footer *f)
{
	if (len < SL_FOOTER_HDR_BYTES || get32(buf) != SL_FOOTER_MAGIC)
		return -1;
	f->first_n = get64(buf + 8);
	f->end_n = get64(buf + 16);
	f->alloc_off = get64(buf + 24);
	f->last_arrival_ms = (int64_t)get64(buf + 32);
	f->nidx = get64(buf + 40);
	if (f->nidx > (len - SL_FOOTER_HDR_BYTES) / SL_FOOTER_ENTRY_BYTES ||
	    len != sl_footer_size(f->nidx) || get32(buf + 4) != sl_crc32c(buf + 8, len - 8, 0))
		return -1;
	/* The footer of this segment, describing bytes the file has; a
	 * segment with records has an index entry for its first. */
	if (f->first_n != first_n || f->end_n < f->first_n || f->alloc_off > file_bytes ||
	    (f->end_n > f->first_n) != (f->nidx > 0))
		return -1;
	uint64_t prev_n = 0, prev_off = 0;
	for (uint64_t i = 0; i < f->nidx; i++) {
		struct sl_footer_entry e = sl_footer_entry_at(buf, i);
		if (e.n < f->first_n || e.n >= f->end_n || e.off >= f->alloc_off ||
		    (i == 0 && (e.n != f->first_n || e.off != 0)) ||
		    (i > 0 && (e.n <= prev_n || e.off <= prev_off)))
			return -1;
		prev_n = e.n;
		prev_off = e.off;
	}
	return 0;
}
