/* fuzz_ingest.c - the UDP ingest datagram parser (dataplane/codec/ingest.c)
 * on any bytes, as a hostile network hands them over.
 * Invariants: parsing never reads past the datagram; a PUT that parses OK
 * yields exactly its count records, each inside the datagram, and (when its
 * records use only the defined bits) writing the same header, name and
 * records again gives the same bytes; a PUT_ACK that parses OK yields
 * exactly its count runs; verifying a tag never faults. */
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_ingest_view v;
	int st = sl_ingest_parse(data, size, &v);

	if (st < 0 || st != SL_INGEST_OK)
		return 0;
	struct sl_ingest_iter it;
	sl_ingest_iter_init(&it, &v);
	if (v.h.type == SL_INGEST_PUT) {
		static uint8_t out[SL_INGEST_DATAGRAM_MAX + SL_INGEST_TAG_BYTES + 256];
		char name[SL_INGEST_NAME_MAX + 1];
		struct sl_ingest_writer w;
		struct sl_ingest_rec r;
		bool canonical = true;
		unsigned n = 0;

		memcpy(name, v.name ? (const char *)v.name : "", v.h.name_len);
		name[v.h.name_len] = '\0';
		struct sl_ingest_hdr h = v.h;
		h.flags &= (uint16_t)~SL_INGEST_F_AUTH; /* no tag to write again */
		sl_ingest_begin(&w, out, sizeof(out), &h, v.h.name_len ? name : NULL);
		const uint8_t *rp = v.body;
		while (sl_ingest_next(&it, &r) == 1) {
			if (r.key < data || r.key + r.key_len > data + size || r.data < r.key ||
			    r.data + r.data_len > data + size)
				abort();
			canonical &= (rp[0] & ~1) == 0 && rp[1] == 0;
			rp = r.data + r.data_len;
			sl_ingest_add_record(&w, r.key, r.key_len, r.data, r.data_len,
					     r.has_hash ? r.hash : NULL);
			n++;
		}
		if (n != v.h.count)
			abort();
		size_t len = sl_ingest_end(&w, NULL, 0);
		size_t body_end = (size_t)(v.body - data) + v.body_len;
		if (canonical && !(v.h.flags & SL_INGEST_F_AUTH) &&
		    (len != body_end || memcmp(out, data, len) != 0))
			abort();
	} else if (v.h.type == SL_INGEST_PUT_ACK) {
		struct sl_ingest_run run;
		unsigned n = 0;
		while (sl_ingest_next_run(&it, &run) == 1)
			n++;
		if (n != v.h.count)
			abort();
	}
	(void)sl_ingest_verify(&v, (const uint8_t *)"k", 1);
	return 0;
}
