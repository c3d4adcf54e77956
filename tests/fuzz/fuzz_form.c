/* fuzz_form.c - sl_form_parse, sl_form_to_doc and the accessors on the tree.
 * Invariants: pairs view the input; the tree is well nested under an object
 * root; every string views the input or the scratch and reads back with
 * sl_doc_str(); sl_doc_get() finds every key again at its own value (keys
 * hold decoded text and are unique); sl_doc_blob() never overflows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/doc.h"
#include "dataplane/codec/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPAIR 1024
#define NTOK 4096
#define INPUT_MAX 65536

static struct sl_form_pair pairs[NPAIR];
static struct sl_doc_tok toks[NTOK];
static char scratch[SL_FORM_SCRATCH_BYTES(NPAIR, INPUT_MAX)];
static char text[INPUT_MAX + 1];
static uint8_t bytes[INPUT_MAX];

static int inside(const uint8_t *p, size_t n, const void *base, size_t size)
{
	return p >= (const uint8_t *)base && p + n <= (const uint8_t *)base + size;
}

static void check(const uint8_t *data, size_t size, uint32_t i, uint32_t n)
{
	const struct sl_doc_tok *t = &toks[i];
	uint32_t c = i + 1, kids = t->type == SL_DOC_OBJ ? 2 * t->count : t->count;
	char *s = text;
	uint8_t *b = bytes;

	if (t->end <= i || t->end > n)
		abort();
	if (t->type == SL_DOC_STR && ((!inside(t->ptr, t->len, data, size) &&
				       !inside(t->ptr, t->len, scratch, sizeof(scratch))) ||
				      sl_doc_str(t, s, (size_t)t->len + 1) < 0 ||
				      sl_doc_blob(t, b, sl_doc_blob_max(t)) == -2))
		abort();
	for (uint32_t k = 0; k < kids; k++) {
		if (c >= t->end)
			abort();
		if (t->type == SL_DOC_OBJ && k % 2 == 0) {
			int len = sl_doc_str(&toks[c], s, size + 1);

			if (toks[c].type != SL_DOC_STR || toks[c].flags != 0 || len < 0)
				abort();
			if ((size_t)len == strlen(s) && sl_doc_get(toks, i, s) != (int)c + 1)
				abort();
		}
		c = toks[c].end;
	}
	if (t->type == SL_DOC_STR ? t->end != i + 1 : c != t->end)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int np, n;

	if (size > INPUT_MAX)
		return 0;
	np = sl_form_parse((const char *)data, size, pairs, NPAIR);
	if (np < SL_FORM_TOO_BIG || np == -2 || np > NPAIR)
		abort();
	for (int i = 0; i < np; i++)
		if (!inside((const uint8_t *)pairs[i].key, pairs[i].key_len, data, size) ||
		    !inside((const uint8_t *)pairs[i].val, pairs[i].val_len, data, size))
			abort();
	n = np < 0 ? np : sl_form_to_doc(pairs, (uint32_t)np, toks, NTOK, scratch, sizeof(scratch));
	if (n == 0 || n < SL_FORM_TOO_BIG || n == -2 || n > NTOK)
		abort();
	if (n > 0 && (toks[0].type != SL_DOC_OBJ || toks[0].end != (uint32_t)n))
		abort();
	for (int i = 0; i < n; i++)
		check(data, size, (uint32_t)i, (uint32_t)n);
	return 0;
}
