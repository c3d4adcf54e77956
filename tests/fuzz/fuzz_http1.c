/* fuzz_http1.c - libFuzzer harness for sl_http_parse_request: any input must
 * give -1, -2 or a head length within the input, with every view inside it. */
#include <stdint.h>
#include <stdlib.h>

#include "dataplane/net/http1.h"

#define CAP 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless [p, p + n) lies within [lo, hi). */
static void check_view(const char *p, size_t n, const char *lo, const char *hi)
{
	if (p < lo || p > hi || n > (size_t)(hi - p))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *end;
	struct sl_http_header h[CAP];
	struct sl_http_req req;
	size_t n = CAP, i;
	int r = sl_http_parse_request(buf, size, &req, h, &n);

	/* A failed parse must leave the capacity for the caller's retry. */
	if (r == SL_HTTP_INVALID || r == SL_HTTP_INCOMPLETE || r == SL_HTTP_TOO_MANY) {
		if (n != CAP)
			abort();
		return 0;
	}
	if (r <= 0 || (size_t)r > size || n > CAP || req.num_headers != n || req.minor_version > 1)
		abort();
	end = buf + r;
	check_view(req.method, req.method_len, buf, end);
	check_view(req.path, req.path_len, buf, end);
	for (i = 0; i < n; i++) {
		check_view(h[i].name, h[i].name_len, buf, end);
		check_view(h[i].value, h[i].value_len, buf, end);
	}
	return 0;
}
