/* http1.h - HTTP/1.1 request head parser and SigV4 scope reader.
 *
 * picohttpparser's shape: allocates nothing, fills caller arrays with views
 * into the input, answers >0 (bytes of the head consumed), -2 (incomplete:
 * read more and call again with the whole buffer), -1 (invalid) or -3 (more
 * headers than the caller has room for).
 */
#ifndef SL_HTTP_HTTP1_H
#define SL_HTTP_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#define SL_HTTP_INCOMPLETE (-2)
#define SL_HTTP_INVALID (-1)
#define SL_HTTP_TOO_MANY (-3) /* well formed so far, but more headers than capacity */

struct sl_http_header {
	const char *name;
	size_t name_len;
	const char *value; /* leading and trailing spaces/tabs trimmed */
	size_t value_len;
};

struct sl_http_req {
	const char *method;
	size_t method_len;
	const char *path; /* request target as sent, query included */
	size_t path_len;
	int minor_version; /* 0 or 1 */
	size_t num_headers;
};

/* Parse a request line and headers ending in CRLF CRLF (bare LF accepted).
 * *num_headers is the capacity of `headers` on entry and the count on exit.
 * More headers than capacity is SL_HTTP_TOO_MANY. Header names are tokens (RFC 9110);
 * obsolete line folding is -1. */
int sl_http_parse_request(const char *buf, size_t len, struct sl_http_req *req,
			  struct sl_http_header *headers, size_t *num_headers);

/* Case-insensitive header lookup; returns the header or NULL. */
const struct sl_http_header *sl_http_find(const struct sl_http_header *h, size_t n,
					  const char *name);

/* Decode a chunked body in place, phr_decode_chunked()'s contract: each call
 * passes only newly arrived bytes at buf[0..*len); they are rewritten in place
 * without the chunk framing and *len becomes the decoded count. State carries
 * over between calls in `st` (zero it before the first call).
 * Returns -2 while the terminating chunk has not been seen, -1 on invalid
 * framing, or >=0 once the body is complete: the number of bytes after the
 * body (the next pipelined request) left undecoded at buf[*len..*len+ret).
 * Chunk extensions and trailers are skipped; a chunk size over 2^40 is -1. */
struct sl_http_chunked {
	uint64_t bytes_left_in_chunk;
	uint8_t state;
	uint8_t hex_count;
};
long sl_http_decode_chunked(struct sl_http_chunked *st, char *buf, size_t *len);

/* Read region and service from an Authorization header value of the form
 * "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, ...".
 * Writes NUL-terminated strings; returns 0, or -1 when the value is not SigV4
 * or a part does not fit (region_cap/service_cap include the NUL). */
int sl_sigv4_scope(const char *v, size_t n, char *region, size_t region_cap, char *service,
		   size_t service_cap);

#endif
