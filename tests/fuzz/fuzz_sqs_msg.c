/* fuzz_sqs_msg.c - SQS's stored send records and receipt handles, as
 * recovery and requests hand them over, and the character, number and
 * attribute checks on arbitrary bytes.
 * Invariants: a record that decodes re-encodes to the same bytes, and its
 * attributes pass the checks the decoder applies; a handle that parses
 * formats back to the same text; no check reads past its input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/services/sqs/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_sqs_stored m;
	int32_t bad;
	bool bin, num;

	if (sl_sqs_stored_decode(data, size, &m) == 0) {
		if (sl_sqs_stored_size(&m) != size)
			abort();
		uint8_t *out = malloc(size ? size : 1);
		sl_sqs_stored_encode(&m, out);
		if (memcmp(out, data, size) != 0)
			abort();
		free(out);
		char md5[33];
		for (unsigned i = 0; i < m.nattrs; i++) {
			if (!sl_sqs_attr_name_ok(m.attrs[i].name, m.attrs[i].name_len) ||
			    !sl_sqs_attr_type_ok(m.attrs[i].type, m.attrs[i].type_len, &bin, &num) ||
			    bin != m.attrs[i].binary)
				abort();
		}
		sl_sqs_attrs_md5(m.attrs, m.nattrs, md5);
		if ((m.group && !sl_sqs_fifo_id_ok(m.group, m.group_len)) ||
		    (m.dedup && !sl_sqs_fifo_id_ok(m.dedup, m.dedup_len)))
			abort();
	}
	struct sl_sqs_receipt r;
	if (sl_sqs_receipt_parse((const char *)data, size, &r) == 0) {
		char s[SL_SQS_RECEIPT_LEN + 1];
		sl_sqs_receipt_fmt(&r, s);
		if (size != SL_SQS_RECEIPT_LEN || memcmp(s, data, size) != 0)
			abort();
	}
	sl_sqs_chars_ok(data, size, &bad);
	sl_sqs_number_ok((const char *)data, size);
	sl_sqs_attr_name_ok((const char *)data, size);
	sl_sqs_attr_type_ok((const char *)data, size, &bin, &num);
	sl_sqs_fifo_id_ok((const char *)data, size);
	return 0;
}
