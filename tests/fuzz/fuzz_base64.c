/* fuzz_base64.c - base64 both ways, then the input written by the encoder in
 * JSON and in CBOR and read back by the matching parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/doc.h"
#include "dataplane/codec/enc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The decoder accepts only canonical text, so whatever it accepts must
 * re-encode to the same text; and any bytes must survive encode + decode. */
static void base64_roundtrip(const uint8_t *data, size_t size, uint8_t *bin, char *txt)
{
	long n = sl_base64_dec(bin, (const char *)data, size);
	size_t m;

	if (n >= 0 && (sl_base64_enc(txt, bin, (size_t)n) != size || memcmp(txt, data, size) != 0))
		abort();
	m = sl_base64_enc(txt, data, size);
	if (sl_base64_dec(bin, txt, m) != (long)size || memcmp(bin, data, size) != 0)
		abort();
}

/* {"s": ASCII copy of the input, "b": the input, "i": int, "t": time}. */
static void enc_roundtrip(const uint8_t *data, size_t size, enum sl_enc_fmt fmt, char *s, uint8_t *bin)
{
	int (*parse)(const uint8_t *, size_t, struct sl_doc_tok *, uint32_t) =
		fmt == SL_ENC_JSON ? sl_json_parse : sl_cbor_parse;
	struct sl_doc_tok t[16];
	struct sl_enc e;
	int64_t v = 0, ms;
	uint8_t *buf;
	size_t len;
	double diff;

	memcpy(&v, data, size < 8 ? size : 8);
	ms = v & 0x3ffffffffffffll;
	for (size_t i = 0; i < size; i++)
		s[i] = (char)(data[i] & 0x7f);
	sl_enc_init(&e, fmt, size);
	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "s");
	sl_enc_str(&e, s, size);
	sl_enc_key(&e, "b");
	sl_enc_blob(&e, data, size);
	sl_enc_key(&e, "i");
	sl_enc_int(&e, v);
	sl_enc_key(&e, "t");
	sl_enc_time_ms(&e, ms);
	sl_enc_obj_end(&e);
	buf = sl_enc_take(&e, &len);
	if (buf == NULL || parse(buf, len, t, 16) != 9 || sl_doc_get(t, 0, "t") != 8)
		abort();
	if (sl_doc_str(&t[2], s, size + 1) != (int)size || sl_doc_blob(&t[4], bin, size) != (long)size ||
	    memcmp(bin, data, size) != 0 || t[6].type != SL_DOC_INT || t[6].i != v)
		abort();
	for (size_t i = 0; i < size; i++)
		if (s[i] != (char)(data[i] & 0x7f))
			abort();
	/* JSON: seconds with 3 decimals; CBOR 1.1: tag 1 around milliseconds. */
	if (fmt == SL_ENC_CBOR) {
		if (t[8].type != SL_DOC_INT || t[8].i != ms || t[8].flags != SL_DOC_F_TIME)
			abort();
	} else {
		diff = t[8].d * 1000 - (double)ms;
		if (t[8].type != SL_DOC_FLOAT || diff > 1 || diff < -1)
			abort();
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *bin = malloc(size + 1);
	char *txt = malloc(sl_base64_enc_len(size) + 1);

	if (bin == NULL || txt == NULL)
		abort();
	base64_roundtrip(data, size, bin, txt);
	enc_roundtrip(data, size, SL_ENC_JSON, txt, bin);
	enc_roundtrip(data, size, SL_ENC_CBOR, txt, bin);
	free(bin);
	free(txt);
	return 0;
}
