/* fuzz_cbor.c - sl_cbor_parse and every accessor on every token it returns.
 * Invariants: tokens form a well-nested tree, every view lies inside the
 * input, sl_doc_str() of a parsed string never fails, and sl_doc_blob()
 * never overflows a buffer sized by sl_doc_blob_max(). */
#include <stdint.h>
#include <stdlib.h>

#include "dataplane/codec/doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sl_doc_tok toks[1024];

static void check(const uint8_t *data, size_t size, uint32_t i, uint32_t n)
{
	const struct sl_doc_tok *t = &toks[i];
	uint32_t c = i + 1, kids = t->type == SL_DOC_OBJ ? 2 * t->count : t->count;
	char *s = malloc((size_t)t->len + 1);
	uint8_t *b = malloc(sl_doc_blob_max(t) + 1);

	if (t->end <= i || t->end > n || s == NULL || b == NULL)
		abort();
	if (t->ptr < data || t->ptr + t->len > data + size)
		abort();
	if (t->type == SL_DOC_BLOB && sl_doc_blob(t, b, sl_doc_blob_max(t)) < 0)
		abort();
	if (t->type == SL_DOC_STR && (sl_doc_str(t, s, (size_t)t->len + 1) < 0 ||
				      sl_doc_blob(t, b, sl_doc_blob_max(t)) == -2))
		abort();
	for (uint32_t k = 0; k < kids; k++) {
		if (c >= t->end || (t->type == SL_DOC_OBJ && k % 2 == 0 && toks[c].type != SL_DOC_STR))
			abort();
		c = toks[c].end;
	}
	if (t->type <= SL_DOC_BLOB ? t->end != i + 1 : c != t->end)
		abort();
	if (t->type == SL_DOC_OBJ && t->count > 0 && sl_doc_get(toks, i, "a") >= (int)t->end)
		abort();
	free(s);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int n = sl_cbor_parse(data, size, toks, sizeof(toks) / sizeof(toks[0]));

	if (n == 0 || n < SL_DOC_TOO_BIG || n == -2 || n > 1024)
		abort();
	for (int i = 0; i < n; i++)
		check(data, size, (uint32_t)i, (uint32_t)n);
	return 0;
}
