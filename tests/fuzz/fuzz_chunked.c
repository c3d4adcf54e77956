/* fuzz_chunked.c - libFuzzer harness for sl_http_decode_chunked: decoding in
 * one call and in two calls split at data[0] % size must agree on the decoded
 * bytes, the leftover and the result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/net/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_http_chunked st1 = { 0 }, st2 = { 0 };
	size_t split, n1 = size, a, b;
	char *one, *two;
	long r1, r2;

	if (size == 0)
		return 0;
	one = malloc(size);
	two = malloc(size);
	if (one == NULL || two == NULL)
		abort();
	memcpy(one, data, size);
	memcpy(two, data, size);
	split = data[0] % size;
	r1 = sl_http_decode_chunked(&st1, one, &n1);
	if (r1 < -2 || n1 > size || (r1 >= 0 && n1 + (size_t)r1 > size))
		abort();

	/* The second piece goes right after the first one's decoded bytes, as
	 * a caller appending to its body buffer would place it. */
	a = split;
	r2 = sl_http_decode_chunked(&st2, two, &a);
	if (r2 == SL_HTTP_INCOMPLETE) {
		memmove(two + a, data + split, size - split);
		b = size - split;
		r2 = sl_http_decode_chunked(&st2, two + a, &b);
		a += b;
	} else if (r2 >= 0) {
		memmove(two + a + r2, data + split, size - split);
		r2 += (long)(size - split);
	}
	if (r1 != r2 || n1 != a || memcmp(one, two, n1 + (r1 > 0 ? (size_t)r1 : 0)) != 0)
		abort();
	free(one);
	free(two);
	return 0;
}
