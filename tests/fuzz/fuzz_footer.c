/* fuzz_footer.c - sl_footer_parse, as start-up reads a sealed segment's
 * index footer it did not write (or that a crash tore).
 * Input: 8 bytes of first_n, 8 bytes of the segment's file size, then the
 * footer. Invariants: a footer that parses has entries in order inside its
 * segment and re-encodes to exactly its own bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/storage/footer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t first_n, file_bytes;
	struct sl_footer f;

	if (size < 16)
		return 0;
	memcpy(&first_n, data, 8);
	memcpy(&file_bytes, data + 8, 8);
	data += 16;
	size -= 16;
	if (sl_footer_parse(data, size, first_n, file_bytes, &f) != 0)
		return 0;
	if (f.first_n != first_n || f.end_n < f.first_n || f.alloc_off > file_bytes ||
	    sl_footer_size(f.nidx) != size)
		abort();
	struct sl_footer_entry *e = malloc((f.nidx ? f.nidx : 1) * sizeof(*e));
	uint8_t *out = malloc(size);
	if (!e || !out)
		abort();
	for (uint64_t i = 0; i < f.nidx; i++) {
		e[i] = sl_footer_entry_at(data, i);
		if (e[i].n < f.first_n || e[i].n >= f.end_n || (i && e[i].n <= e[i - 1].n))
			abort();
	}
	sl_footer_encode(&f, e, out);
	if (memcmp(out, data, size) != 0)
		abort();
	free(e);
	free(out);
	return 0;
}
