/* footer.h - the index footer of a sealed segment.
 *
 * Once every record of a segment that is no longer the newest is in its own
 * file on stable storage, the log writes <first_n>.idx beside it: what
 * recovery would otherwise learn by reading and checking every frame. At
 * start-up a segment with a valid footer is not scanned, so recovery costs
 * the newest segment, not the retained data. A footer that is missing, torn
 * or does not match its segment is ignored (the segment is scanned, and a
 * footer written again). Layout, little-endian:
 *
 *   u32 magic "SLX1", u32 CRC32C of everything after it,
 *   u64 first_n, u64 end_n, u64 alloc_off (end of the last frame),
 *   i64 last_arrival_ms, u64 nidx, then nidx entries {u64 n, u64 off,
 *   i64 arrival_ms}: the segment's sparse index, in record order.
 */
#ifndef SL_FOOTER_H
#define SL_FOOTER_H

#include <stddef.h>
#include <stdint.h>

#define SL_FOOTER_MAGIC 0x31584c53u /* "SLX1" little-endian */
#define SL_FOOTER_HDR_BYTES 48u
#define SL_FOOTER_ENTRY_BYTES 24u

struct sl_footer {
	uint64_t first_n;
	uint64_t end_n;
	uint64_t alloc_off;
	int64_t last_arrival_ms;
	uint64_t nidx;
};

struct sl_footer_entry {
	uint64_t n;
	uint64_t off;
	int64_t arrival_ms;
};

/* Bytes of a footer with nidx entries. */
static inline size_t sl_footer_size(uint64_t nidx)
{
	return SL_FOOTER_HDR_BYTES + (size_t)nidx * SL_FOOTER_ENTRY_BYTES;
}

/* Write a footer into out (sl_footer_size(f->nidx) bytes). */
void sl_footer_encode(const struct sl_footer *f, const struct sl_footer_entry *e, uint8_t *out);

/* Check buf as the footer of the segment starting at first_n whose file
 * holds file_bytes: magic, checksum, bounds, entries in order and inside
 * the segment. 0 with *f filled (entries then read with sl_footer_entry_at),
 * or -1. */
int sl_footer_parse(const uint8_t *buf, size_t len, uint64_t first_n, uint64_t file_bytes,
		    struct sl_footer *f);
struct sl_footer_entry sl_footer_entry_at(const uint8_t *buf, uint64_t i);

#endif
