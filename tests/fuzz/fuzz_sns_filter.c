/* fuzz_sns_filter.c - SNS filter policies (dataplane/services/sns/
 * filter.c): the compiler on arbitrary policy text, and what compiles
 * matched against arbitrary messages.
 * Input: a scope byte, the policy, a NUL, then the message: up to four
 * attribute lines "name|Type|value" for scope MessageAttributes, or the
 * body for scope MessageBody.
 * Invariants: a refused policy says why; a compiled one matches the same
 * message the same way twice, and the same way when compiled again; no
 * read past the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/services/sns/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sl_doc_tok toks[4096];

/* Attribute lines of msg into a (views into msg). */
static unsigned attrs_of(const char *msg, size_t n, struct sl_sqs_attr *a)
{
	unsigned k = 0;
	const char *p = msg, *end = msg + n;

	while (p < end && k < 4) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		const char *b1 = memchr(p, '|', (size_t)(line_end - p));
		const char *b2 = b1 ? memchr(b1 + 1, '|', (size_t)(line_end - b1 - 1)) : NULL;
		if (b2) {
			a[k] = (struct sl_sqs_attr){
				.name = p, .name_len = (uint32_t)(b1 - p),
				.type = b1 + 1, .type_len = (uint32_t)(b2 - b1 - 1),
				.value = (const uint8_t *)b2 + 1, .value_len = (uint32_t)(line_end - b2 - 1),
			};
			a[k].binary = a[k].type_len >= 6 && memcmp(a[k].type, "Binary", 6) == 0;
			k++;
		}
		p = line_end + 1;
	}
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];

	if (size < 1)
		return 0;
	enum sl_filter_scope scope = data[0] & 1 ? SL_FILTER_BODY : SL_FILTER_ATTRIBUTES;
	const char *policy = (const char *)data + 1;
	const char *nul = memchr(policy, 0, size - 1);
	size_t plen = nul ? (size_t)(nul - policy) : size - 1;
	const char *msg = nul ? nul + 1 : policy + plen;
	size_t mlen = (size_t)((const char *)data + size - msg);

	struct sl_filter *f = sl_filter_compile(policy, plen, scope, err, sizeof(err));
	if (!f) {
		if (!err[0])
			abort(); /* a refusal says why */
		return 0;
	}
	if (sl_filter_scope(f) != scope)
		abort();
	/* The message is copied so that a read past it is caught. */
	char *m = malloc(mlen ? mlen : 1);
	memcpy(m, msg, mlen);
	struct sl_sqs_attr a[4];
	struct sl_filter_msg fm = { .attrs = a };
	if (scope == SL_FILTER_BODY) {
		fm.body = toks;
		fm.body_n = sl_json_parse((const uint8_t *)m, mlen, toks, 4096);
	} else {
		fm.nattrs = attrs_of(m, mlen, a);
	}
	bool r = sl_filter_match(f, &fm);
	if (sl_filter_match(f, &fm) != r)
		abort();
	struct sl_filter *g = sl_filter_compile(policy, plen, scope, err, sizeof(err));
	if (!g || sl_filter_match(g, &fm) != r)
		abort();
	sl_filter_free(g);
	sl_filter_free(f);
	free(m);
	return 0;
}
