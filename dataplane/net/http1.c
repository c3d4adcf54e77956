/* http1.c - HTTP/1.1 request head parser, chunked decoder and SigV4 scope
 * reader.
 *
 * The head parser re-parses the whole buffer on every call and allocates
 * nothing: the caller keeps reading until the answer is not -2. Running out of
 * input anywhere inside a head is always -2 and never -1, so a caller that
 * reads one byte at a time sees the same final answer as one that reads the
 * head in one piece.
 */
#include "dataplane/net/http1.h"

#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

/* Character classes, one bit each, looked up one byte at a time. */
#define C_TOKEN 0x01u  /* RFC 9110 tchar */
#define C_TARGET 0x02u /* visible ASCII, allowed in a request target */
#define C_VALUE 0x04u  /* field-vchar, obs-text, SP and HTAB */

#define C_TOK (C_TOKEN | C_TARGET | C_VALUE)
#define C_VIS (C_TARGET | C_VALUE)

/* The ranges below partition 0x00-0xff without overlap, so no entry is
 * initialised twice. */
static const uint8_t char_class[256] = {
	['\t'] = C_VALUE,
	[' '] = C_VALUE,
	['!'] = C_TOK,
	['"'] = C_VIS,
	['#' ... '\''] = C_TOK,
	['(' ... ')'] = C_VIS,
	['*' ... '+'] = C_TOK,
	[','] = C_VIS,
	['-' ... '.'] = C_TOK,
	['/'] = C_VIS,
	['0' ... '9'] = C_TOK,
	[':' ... '@'] = C_VIS,
	['A' ... 'Z'] = C_TOK,
	['[' ... ']'] = C_VIS,
	['^' ... 'z'] = C_TOK,
	['{'] = C_VIS,
	['|'] = C_TOK,
	['}'] = C_VIS,
	['~'] = C_TOK,
	[0x80 ... 0xff] = C_VALUE,
};

static inline bool has_class(char c, unsigned cls)
{
	return (char_class[(uint8_t)c] & cls) != 0;
}

static inline bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Word-at-a-time tests (the classic bit hacks). Each answers exactly whether
 * some byte of x matches, which is all the fast paths need. */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static inline uint64_t any_below(uint64_t x, unsigned n)
{
	assert(n <= 128);
	return (x - ONES * n) & ~x & HIGHS;
}

static inline uint64_t any_equal(uint64_t x, unsigned b)
{
	uint64_t y = x ^ (ONES * b);

	return (y - ONES) & ~y & HIGHS;
}

static inline uint64_t load8(const char *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
	return x;
}

/* Returns the first byte at or after p that may not appear in a request
 * target, or end. Targets are long (paths with queries), so whole words of
 * plain bytes are skipped before falling back to the table. */
static const char *scan_target(const char *p, const char *end)
{
	while (end - p >= 8) {
		uint64_t x = load8(p);

		if (any_below(x, 0x21) | any_equal(x, 0x7f) | (x & HIGHS))
			break;
		p += 8;
	}
	while (p < end && has_class(*p, C_TARGET))
		p++;
	return p;
}

/* Returns the first byte at or after p that may not appear in a field value,
 * or end. The word loop stops early at a tab or obs-text only to let the
 * table decide; Authorization and User-Agent values make this worth it. */
static const char *scan_value(const char *p, const char *end)
{
	while (end - p >= 8) {
		uint64_t x = load8(p);

		if (any_below(x, 0x20) | any_equal(x, 0x7f))
			break;
		p += 8;
	}
	while (p < end && has_class(*p, C_VALUE))
		p++;
	return p;
}

static const char *scan_token(const char *p, const char *end)
{
	while (p < end && has_class(*p, C_TOKEN))
		p++;
	return p;
}

/* p points at a byte that must start a line end (CRLF or bare LF). Returns the
 * byte after it, or NULL with *ret set. */
static const char *eat_eol(const char *p, const char *end, int *ret)
{
	assert(p < end);
	if (*p == '\r') {
		if (++p == end) {
			*ret = SL_HTTP_INCOMPLETE;
			return NULL;
		}
	}
	if (*p != '\n') {
		*ret = SL_HTTP_INVALID;
		return NULL;
	}
	return p + 1;
}

/* p ends a token that began at start and must be followed by exactly one SP.
 * Returns the byte after the SP, or NULL with *ret set. */
static const char *expect_sp(const char *p, const char *start, const char *end, int *ret)
{
	if (p == end) {
		*ret = SL_HTTP_INCOMPLETE;
		return NULL;
	}
	if (p == start || *p != ' ') {
		*ret = SL_HTTP_INVALID;
		return NULL;
	}
	return p + 1;
}

/* Parses "HTTP/1.x" and the line end after it. Returns the byte after the
 * line end, or NULL with *ret set. A short buffer is compared as far as it
 * goes so that a prefix of a good version is -2 and a bad one is -1 early. */
static const char *parse_version(const char *p, const char *end, int *minor, int *ret)
{
	static const char want[] = "HTTP/1.";
	size_t i;

	for (i = 0; i < sizeof(want) - 1; i++) {
		if (p + i == end) {
			*ret = SL_HTTP_INCOMPLETE;
			return NULL;
		}
		if (p[i] != want[i]) {
			*ret = SL_HTTP_INVALID;
			return NULL;
		}
	}
	p += i;
	if (p == end) {
		*ret = SL_HTTP_INCOMPLETE;
		return NULL;
	}
	if (*p != '0' && *p != '1') {
		*ret = SL_HTTP_INVALID;
		return NULL;
	}
	*minor = *p - '0';
	if (++p == end) {
		*ret = SL_HTTP_INCOMPLETE;
		return NULL;
	}
	return eat_eol(p, end, ret);
}

/* Parses "METHOD SP target SP HTTP/1.x EOL". Returns the byte after the line
 * end, or NULL with *ret set. */
static const char *parse_request_line(const char *p, const char *end, struct sl_http_req *req,
				      int *ret)
{
	const char *start = p;

	p = expect_sp(scan_token(p, end), start, end, ret);
	if (p == NULL)
		return NULL;
	req->method = start;
	req->method_len = (size_t)(p - 1 - start);

	start = p;
	p = expect_sp(scan_target(p, end), start, end, ret);
	if (p == NULL)
		return NULL;
	req->path = start;
	req->path_len = (size_t)(p - 1 - start);

	return parse_version(p, end, &req->minor_version, ret);
}

/* Parses one "name: value EOL" line starting at p (not a line end). Returns
 * the byte after the line end, or NULL with *ret set. */
static const char *parse_header_line(const char *p, const char *end, struct sl_http_header *h,
				     int *ret)
{
	const char *name = p, *value, *value_end;

	p = scan_token(p, end);
	if (p == end) {
		*ret = SL_HTTP_INCOMPLETE;
		return NULL;
	}
	/* An empty name is obs-fold or junk, and whitespace before the colon
	 * must be rejected (RFC 9112 section 5.1): both land here. */
	if (p == name || *p != ':') {
		*ret = SL_HTTP_INVALID;
		return NULL;
	}
	h->name = name;
	h->name_len = (size_t)(p - name);

	p++;
	while (p < end && is_ows(*p))
		p++;
	value = p;
	p = scan_value(p, end);
	if (p == end) {
		*ret = SL_HTTP_INCOMPLETE;
		return NULL;
	}
	value_end = p;
	while (value_end > value && is_ows(value_end[-1]))
		value_end--;
	h->value = value;
	h->value_len = (size_t)(value_end - value);

	/* Anything but a line end here is a control character in the value. */
	return eat_eol(p, end, ret);
}

/* Parses header lines up to and including the blank line. Returns the byte
 * after the blank line with *count set, or NULL with *ret set. */
static const char *parse_headers(const char *p, const char *end, struct sl_http_header *h,
				 size_t cap, size_t *count, int *ret)
{
	size_t n;

	/* Each pass consumes one line, and there are at most cap + 1 lines. */
	for (n = 0; n <= cap; n++) {
		if (p == end) {
			*ret = SL_HTTP_INCOMPLETE;
			return NULL;
		}
		if (*p == '\r' || *p == '\n') {
			*count = n;
			return eat_eol(p, end, ret);
		}
		if (n == cap) {
			*ret = SL_HTTP_TOO_MANY;
			return NULL;
		}
		p = parse_header_line(p, end, &h[n], ret);
		if (p == NULL)
			return NULL;
	}
	assert(!"unreachable: the last pass always returns");
	*ret = SL_HTTP_INVALID;
	return NULL;
}

/* Skips empty lines before a request line. Returns the first byte of the
 * request line, or NULL with *ret set. */
static const char *skip_blank_lines(const char *p, const char *end, int *ret)
{
	/* Each pass consumes a line end or returns. */
	while (p < end) {
		if (*p != '\r' && *p != '\n')
			return p;
		p = eat_eol(p, end, ret);
		if (p == NULL)
			return NULL;
	}
	*ret = SL_HTTP_INCOMPLETE;
	return NULL;
}

/* Returns the head length, -2 or -1. On -2 and -1 *num_headers is left as the
 * capacity, so a caller may simply call again once more bytes arrive; req and
 * headers then hold unspecified views. Blank lines before the request line are
 * skipped (RFC 9112 section 2.2) and counted in the head length. */
int sl_http_parse_request(const char *buf, size_t len, struct sl_http_req *req,
			  struct sl_http_header *headers, size_t *num_headers)
{
	const char *p = buf, *end;
	size_t count = 0;
	int ret = SL_HTTP_INVALID;
	bool clipped = len > INT_MAX;

	assert(req != NULL);
	assert(num_headers != NULL);
	assert(headers != NULL || *num_headers == 0);
	assert(buf != NULL || len == 0);

	/* Zero is never added to a null buffer: that is undefined in C. */
	if (len == 0)
		return SL_HTTP_INCOMPLETE;
	/* The answer is an int, so a head must fit in one. */
	end = buf + (clipped ? (size_t)INT_MAX : len);

	p = skip_blank_lines(p, end, &ret);
	if (p != NULL)
		p = parse_request_line(p, end, req, &ret);
	if (p != NULL)
		p = parse_headers(p, end, headers, *num_headers, &count, &ret);
	if (p == NULL)
		return clipped && ret == SL_HTTP_INCOMPLETE ? SL_HTTP_INVALID : ret;

	assert(p > buf);
	assert(p <= end);
	req->num_headers = count;
	*num_headers = count;
	return (int)(p - buf);
}

static inline char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* Returns the first header named `name` ignoring ASCII case, or NULL. */
const struct sl_http_header *sl_http_find(const struct sl_http_header *h, size_t n,
					  const char *name)
{
	size_t want, i, j;

	assert(name != NULL);
	assert(h != NULL || n == 0);
	want = strlen(name);
	for (i = 0; i < n; i++) {
		if (h[i].name_len != want)
			continue;
		for (j = 0; j < want; j++)
			if (ascii_lower(h[i].name[j]) != ascii_lower(name[j]))
				break;
		if (j == want)
			return &h[i];
	}
	return NULL;
}

/* Chunked decoder states. Zero must be the start, since the caller zeroes the
 * struct. Every framing decision is made on the current byte alone, with
 * anything still pending kept in the state, so the answer never depends on
 * where the input was split between calls. */
enum {
	CK_SIZE = 0,	   /* hex digits of chunk-size */
	CK_SIZE_BWS,	   /* whitespace after chunk-size */
	CK_EXT,		   /* inside chunk extensions, after ';' */
	CK_SIZE_CR,	   /* CR of the chunk-size line seen */
	CK_DATA,	   /* chunk data, bytes_left_in_chunk > 0 */
	CK_DATA_END,	   /* expecting the CRLF after chunk data */
	CK_DATA_CR,	   /* CR after chunk data seen */
	CK_TRAILER_START,  /* start of a trailer line or of the final CRLF */
	CK_TRAILER_NAME,   /* inside a trailer field name */
	CK_TRAILER_VALUE,  /* inside a trailer field value */
	CK_TRAILER_CR,	   /* CR ending a trailer line seen */
	CK_END_CR,	   /* CR of the final CRLF seen */
	CK_DONE,	   /* body complete */
	CK_ERROR,	   /* framing was invalid */
};

#define CK_MAX_SIZE (UINT64_C(1) << 40)
#define CK_MAX_DIGITS 16

static int hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The chunk-size line has ended: go to data, or to trailers after "0". */
static int end_size_line(struct sl_http_chunked *st)
{
	st->hex_count = 0;
	st->state = st->bytes_left_in_chunk ? CK_DATA : CK_TRAILER_START;
	return 0;
}

/* Handles a byte that follows the chunk-size digits. Returns 0 or -1. */
static int after_size(struct sl_http_chunked *st, uint8_t c)
{
	if (is_ows((char)c))
		st->state = CK_SIZE_BWS;
	else if (c == ';')
		st->state = CK_EXT;
	else if (c == '\r')
		st->state = CK_SIZE_CR;
	else if (c == '\n')
		return end_size_line(st);
	else
		return -1;
	return 0;
}

/* One byte of the chunk-size line. Returns 0 or -1. */
static int step_size_line(struct sl_http_chunked *st, uint8_t c)
{
	int v;

	switch (st->state) {
	case CK_SIZE:
		v = hex_value(c);
		if (v < 0)
			return st->hex_count ? after_size(st, c) : -1;
		if (st->hex_count == CK_MAX_DIGITS)
			return -1;
		st->hex_count++;
		st->bytes_left_in_chunk = st->bytes_left_in_chunk * 16 + (unsigned)v;
		return st->bytes_left_in_chunk > CK_MAX_SIZE ? -1 : 0;
	case CK_SIZE_BWS:
		return after_size(st, c);
	case CK_EXT:
		if (c == '\r')
			st->state = CK_SIZE_CR;
		else if (c == '\n')
			return end_size_line(st);
		else if (!has_class((char)c, C_VALUE))
			return -1;
		return 0;
	case CK_SIZE_CR:
		return c == '\n' ? end_size_line(st) : -1;
	}
	assert(!"not a size-line state");
	return -1;
}

/* One byte of a trailer section. Returns 0, 1 once the body is complete, or
 * -1. */
static int step_trailer(struct sl_http_chunked *st, uint8_t c)
{
	switch (st->state) {
	case CK_TRAILER_START:
		if (c == '\r')
			st->state = CK_END_CR;
		else if (c == '\n')
			return 1;
		else if (has_class((char)c, C_TOKEN))
			st->state = CK_TRAILER_NAME;
		else
			return -1;
		return 0;
	case CK_TRAILER_NAME:
		if (c == ':')
			st->state = CK_TRAILER_VALUE;
		else if (!has_class((char)c, C_TOKEN))
			return -1;
		return 0;
	case CK_TRAILER_VALUE:
		if (c == '\r')
			st->state = CK_TRAILER_CR;
		else if (c == '\n')
			st->state = CK_TRAILER_START;
		else if (!has_class((char)c, C_VALUE))
			return -1;
		return 0;
	case CK_TRAILER_CR:
		if (c != '\n')
			return -1;
		st->state = CK_TRAILER_START;
		return 0;
	case CK_END_CR:
		return c == '\n' ? 1 : -1;
	}
	assert(!"not a trailer state");
	return -1;
}

/* One framing byte. Returns 0, 1 once the body is complete, or -1. */
static int step_framing(struct sl_http_chunked *st, uint8_t c)
{
	switch (st->state) {
	case CK_SIZE:
	case CK_SIZE_BWS:
	case CK_EXT:
	case CK_SIZE_CR:
		return step_size_line(st, c);
	case CK_DATA_END:
		if (c == '\r')
			st->state = CK_DATA_CR;
		else if (c == '\n')
			st->state = CK_SIZE;
		else
			return -1;
		return 0;
	case CK_DATA_CR:
		if (c != '\n')
			return -1;
		st->state = CK_SIZE;
		return 0;
	default:
		return step_trailer(st, c);
	}
}

/* Returns -2 (more body to come), -1 (invalid framing, also for every later
 * call) or the count of bytes after the body, moved to buf[*len..*len+ret).
 * Called again after completion, it passes every byte through as "after the
 * body". */
long sl_http_decode_chunked(struct sl_http_chunked *st, char *buf, size_t *len)
{
	size_t src = 0, dst = 0, n, take;
	long ret = SL_HTTP_INCOMPLETE;
	int r;

	assert(st != NULL);
	assert(len != NULL);
	assert(buf != NULL || *len == 0);
	n = *len;
	if (st->state == CK_ERROR || n > LONG_MAX) {
		st->state = CK_ERROR;
		return SL_HTTP_INVALID;
	}
	if (st->state == CK_DONE) {
		*len = 0;
		return (long)n;
	}
	/* Every pass consumes at least one byte. */
	while (src < n) {
		if (st->state == CK_DATA) {
			assert(st->bytes_left_in_chunk > 0);
			take = n - src;
			if (take > st->bytes_left_in_chunk)
				take = (size_t)st->bytes_left_in_chunk;
			memmove(buf + dst, buf + src, take);
			src += take;
			dst += take;
			st->bytes_left_in_chunk -= take;
			if (st->bytes_left_in_chunk == 0)
				st->state = CK_DATA_END;
			continue;
		}
		r = step_framing(st, (uint8_t)buf[src++]);
		if (r < 0) {
			st->state = CK_ERROR;
			ret = SL_HTTP_INVALID;
			break;
		}
		if (r > 0) {
			st->state = CK_DONE;
			ret = (long)(n - src);
			memmove(buf + dst, buf + src, n - src);
			break;
		}
	}
	*len = dst;
	return ret;
}

#define SIGV4_SCHEME "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"
#define SIGV4_FIELDS 5

/* Returns the end of the parameter value starting at p: the first ',', SP or
 * HTAB, or end. Sets *ok to false if a byte that no SigV4 parameter contains
 * (a control character, DEL or obs-text) comes first. */
static const char *param_end(const char *p, const char *end, bool *ok)
{
	*ok = true;
	for (; p < end && *p != ',' && !is_ows(*p); p++) {
		if (!has_class(*p, C_TARGET)) {
			*ok = false;
			break;
		}
	}
	return p;
}

/* Finds the Credential parameter among the comma- or space-separated
 * parameters in [p, end). Returns its value's start with *vend set, or NULL. */
static const char *find_credential(const char *p, const char *end, const char **vend)
{
	static const char want[] = "Credential=";
	const size_t want_len = sizeof(want) - 1;
	const char *start;
	bool ok;

	/* Each pass consumes at least one byte or returns. */
	while (p < end) {
		if (*p == ',' || is_ows(*p)) {
			p++;
			continue;
		}
		start = p;
		p = param_end(p, end, &ok);
		if (!ok)
			return NULL;
		if ((size_t)(p - start) > want_len && memcmp(start, want, want_len) == 0) {
			*vend = p;
			return start + want_len;
		}
	}
	return NULL;
}

/* Copies [s, s + n) to dst as a NUL-terminated string; the caller has
 * checked that it fits. */
static void copy_field(char *dst, const char *s, size_t n)
{
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Returns 0 with region and service written, or -1 (nothing written) when the
 * value is not SigV4, the credential does not have exactly the five fields
 * AKID/DATE/REGION/SERVICE/aws4_request, or a field does not fit. */
int sl_sigv4_scope(const char *v, size_t n, char *region, size_t region_cap, char *service,
		   size_t service_cap)
{
	const size_t scheme_len = sizeof(SIGV4_SCHEME) - 1;
	const char *field[SIGV4_FIELDS], *p, *end, *cred_end = NULL;
	size_t i, flen[SIGV4_FIELDS];

	assert(v != NULL || n == 0);
	assert(region != NULL);
	assert(service != NULL);
	if (n <= scheme_len || memcmp(v, SIGV4_SCHEME, scheme_len) != 0 || !is_ows(v[scheme_len]))
		return -1;
	p = find_credential(v + scheme_len, v + n, &cred_end);
	if (p == NULL)
		return -1;
	end = cred_end;

	/* Split on '/'; every field must be non-empty and the last must run
	 * to the end of the credential. */
	for (i = 0; i < SIGV4_FIELDS; i++) {
		field[i] = p;
		p = memchr(p, '/', (size_t)(end - p));
		if (p == NULL)
			p = end;
		flen[i] = (size_t)(p - field[i]);
		if (flen[i] == 0 || (p == end) != (i + 1 == SIGV4_FIELDS))
			return -1;
		if (p < end)
			p++;
	}
	if (flen[4] != sizeof(SIGV4_TERMINATOR) - 1 ||
	    memcmp(field[4], SIGV4_TERMINATOR, flen[4]) != 0)
		return -1;
	if (flen[2] >= region_cap || flen[3] >= service_cap)
		return -1;
	copy_field(region, field[2], flen[2]);
	copy_field(service, field[3], flen[3]);
	return 0;
}
