/* fuzz_shape.c - sl_shape_check() of every Kinesis operation on any body.
 * The input is parsed as JSON (or, when that fails, as CBOR) and checked
 * against each operation's input shape, with a roomy and a tiny message
 * buffer. Invariants: the result is one of the three codes; the message is
 * NUL-terminated inside the buffer, empty exactly when the body is valid,
 * never ends inside a UTF-8 sequence (JSON text is valid UTF-8, and so
 * must be what is echoed from it), and a ValidationException counts 1 to
 * 10 violations. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/doc.h"
#include "dataplane/codec/shape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The generated table (dataplane/services/kinesis/shapes.c). */
extern const struct sl_shape_model sl_shape_model_kinesis;

#define NTOK 4096
#define TINY 48
#define GUARD 0x5a

static struct sl_doc_tok toks[NTOK];
static char msg[SL_SHAPE_MSG_SIZE + 1];

/* Strict UTF-8 check of s[0..n) (RFC 3629): the echo of a JSON body must be. */
static int utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t k = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
			 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;

		if (k == 0 || n - i < k)
			return 0;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		i += k;
	}
	return 1;
}

static void check_one(const struct sl_shape_op *op, unsigned flags, size_t cap, int json)
{
	int r;
	size_t n;

	memset(msg, GUARD, sizeof(msg));
	r = sl_shape_check(&sl_shape_model_kinesis, op, toks, 0, flags, msg, cap);
	if (r != SL_SHAPE_OK && r != SL_SHAPE_SERIALIZATION && r != SL_SHAPE_VALIDATION)
		abort();
	if (msg[cap] != GUARD && cap < sizeof(msg))
		abort();
	n = strnlen(msg, cap);
	if (n >= cap)
		abort();
	if ((r == SL_SHAPE_OK) != (n == 0) && r != SL_SHAPE_SERIALIZATION)
		abort();
	if (json && !utf8_ok((const uint8_t *)msg, n))
		abort();
	if (r == SL_SHAPE_VALIDATION && cap > 40) {
		long k = strtol(msg, NULL, 10);

		if (k < 1 || k > SL_SHAPE_ERRORS_MAX)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const struct sl_shape_model *m = &sl_shape_model_kinesis;
	int json = 1, n;
	unsigned flags = 0;

	if (!ready) {
		if (sl_shape_model_init(m) != 0)
			abort();
		ready = 1;
	}
	n = sl_json_parse(data, size, toks, NTOK);
	if (n <= 0) {
		json = 0;
		flags = SL_SHAPE_CBOR;
		n = sl_cbor_parse(data, size, toks, NTOK);
	}
	if (n <= 0)
		return 0;
	for (uint32_t i = 0; i < m->nops; i++) {
		check_one(&m->ops[i], flags, SL_SHAPE_MSG_SIZE, json);
		check_one(&m->ops[i], flags, TINY, json);
	}
	return 0;
}
