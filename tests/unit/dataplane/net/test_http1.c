/* test_http1.c - unit tests for the HTTP/1.1 head parser, the chunked decoder
 * and the SigV4 scope reader, using requests as the AWS CLI and SDKs send
 * them.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/net/http1.h"

#define CAP 16

/* A Kinesis PutRecord head as boto3 sends it. */
static const char boto_put_record[] =
	"POST / HTTP/1.1\r\n"
	"Host: kinesis.us-east-1.amazonaws.com\r\n"
	"Accept-Encoding: identity\r\n"
	"X-Amz-Target: Kinesis_20131202.PutRecord\r\n"
	"Content-Type: application/x-amz-json-1.1\r\n"
	"User-Agent: Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1.0 "
	"md/arch#x86_64 lang/python#3.11.2 md/pyimpl#CPython cfg/retry-mode#legacy "
	"Botocore/1.34.0\r\n"
	"X-Amz-Date: 20260101T000000Z\r\n"
	"Authorization: AWS4-HMAC-SHA256 "
	"Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/kinesis/aws4_request, "
	"SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
	"Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7\r\n"
	"Content-Length: 72\r\n"
	"\r\n";

static const char boto_body[] =
	"{\"StreamName\": \"s1\", \"Data\": \"aGVsbG8=\", \"PartitionKey\": \"pk-000000001\"}";

static const char curl_health[] = "GET /health HTTP/1.1\r\n"
				  "Host: localhost:4566\r\n"
				  "User-Agent: curl/8.5.0\r\n"
				  "Accept: */*\r\n"
				  "\r\n";

/* Copies a view into a NUL-terminated string so that string assertions can
 * print it. Views under test are short; longer ones fail the length check. */
static const char *view(const char *p, size_t n)
{
	static char out[4][512];
	static int next;
	char *s = out[next++ & 3];

	cr_assert_lt(n, sizeof(out[0]), "view of %zu bytes is too long for the test", n);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static int parse(const char *s, size_t len, struct sl_http_req *req, struct sl_http_header *h,
		 size_t *n)
{
	memset(req, 0, sizeof(*req));
	*n = CAP;
	return sl_http_parse_request(s, len, req, h, n);
}

static void expect_header(const struct sl_http_header *h, size_t n, const char *name,
			  const char *value)
{
	const struct sl_http_header *f = sl_http_find(h, n, name);

	cr_assert_not_null(f, "header %s is missing", name);
	cr_expect_str_eq(view(f->value, f->value_len), value, "value of %s", name);
}

Test(parse, boto3_kinesis_put_record)
{
	char wire[sizeof(boto_put_record) + sizeof(boto_body)];
	struct sl_http_req req;
	struct sl_http_header h[CAP];
	size_t n;
	int r;

	snprintf(wire, sizeof(wire), "%s%s", boto_put_record, boto_body);
	r = parse(wire, strlen(wire), &req, h, &n);
	cr_assert_eq(r, (int)strlen(boto_put_record), "head length: got %d", r);
	cr_expect_str_eq(view(req.method, req.method_len), "POST");
	cr_expect_str_eq(view(req.path, req.path_len), "/");
	cr_expect_eq(req.minor_version, 1);
	cr_assert_eq(n, 8);
	cr_expect_eq(req.num_headers, 8);
	cr_expect_str_eq(view(h[0].name, h[0].name_len), "Host");
	cr_expect_str_eq(view(h[0].value, h[0].value_len), "kinesis.us-east-1.amazonaws.com");
	cr_expect_str_eq(view(h[7].name, h[7].name_len), "Content-Length");
	expect_header(h, n, "x-amz-target", "Kinesis_20131202.PutRecord");
	expect_header(h, n, "content-type", "application/x-amz-json-1.1");
	expect_header(h, n, "CONTENT-LENGTH", "72");
	expect_header(h, n, "X-Amz-Date", "20260101T000000Z");
	cr_expect_eq(strlen(boto_body), 72, "Content-Length matches the body");
	cr_expect_str_eq(wire + r, boto_body, "the body starts right after the head");
}

Test(parse, boto3_authorization_gives_sigv4_scope)
{
	struct sl_http_req req;
	struct sl_http_header h[CAP];
	const struct sl_http_header *auth;
	char region[32], service[32];
	size_t n;

	cr_assert_gt(parse(boto_put_record, strlen(boto_put_record), &req, h, &n), 0);
	auth = sl_http_find(h, n, "authorization");
	cr_assert_not_null(auth);
	cr_assert_eq(sl_sigv4_scope(auth->value, auth->value_len, region, sizeof(region), service,
				    sizeof(service)),
		     0);
	cr_expect_str_eq(region, "us-east-1");
	cr_expect_str_eq(service, "kinesis");
}

Test(parse, curl_get_health)
{
	struct sl_http_req req;
	struct sl_http_header h[CAP];
	size_t n;

	cr_assert_eq(parse(curl_health, strlen(curl_health), &req, h, &n), (int)strlen(curl_health));
	cr_expect_str_eq(view(req.method, req.method_len), "GET");
	cr_expect_str_eq(view(req.path, req.path_len), "/health");
	cr_expect_eq(req.minor_version, 1);
	cr_assert_eq(n, 3);
	expect_header(h, n, "accept", "*/*");
	expect_header(h, n, "host", "localhost:4566");
}

Test(parse, http10_without_headers)
{
	static const char s[] = "GET / HTTP/1.0\r\n\r\n";
	struct sl_http_req req;
	struct sl_http_header h[CAP];
	size_t n;

	cr_assert_eq(parse(s, strlen(s), &req, h, &n), (int)strlen(s));
	cr_expect_eq(req.minor_version, 0);
	cr_expect_eq(n, 0);
	cr_expect_eq(req.num_headers, 0);
}

Test(parse, target_keeps_query_and_long_paths)
{
	static const char s[] = "GET /bucket/key%20name/a-very-long-object-name.txt"
				"?list-type=2&prefix=logs%2F&max-keys=1000 HTTP/1.1\r\n"
				"Host: s3\r\n\r\n";
	struct sl_http_req req;
	struct sl_http_header h[CAP];
	size_t n;

	cr_assert_eq(parse(s, strlen(s), &req, h, &n), (int)strlen(s));
	cr_expect_str_eq(view(req.path, req.path_len),
			 "/bucket/key%20name/a-very-long-object-name.txt"
			 "?list-type=2&prefix=logs%2F&max-keys=1000");
}

Test(parse, bare_lf_line_ends)
{
	static const char s[] = "PUT /x HTTP/1.1\nHost: a\nContent-Length: 0\n\n";
	struct sl_http_req req;
	struct sl_http_header h[CAP];
	size_t n;

	cr_assert_eq(parse(s, strlen(s), &req, h, &n), (int)strlen(s));
	cr_expect_str_eq(view(req.method, req.method_len), "PUT");
	cr_assert_eq(n, 2);
	expect_header(h, n, "content-length", "0");
}

Test(parse, leading_blank_lines_are_skipped)
{
	/* RFC 9112 section 2.2: a client may send CRLF after a body. */
	static const char s[] = "\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\n\r\n";
	struct sl_http_req req;
	struct sl_http_header h[CAP];
	size_t n;

	cr_assert_eq(parse(s, strlen(s), &req, h, &n), (int)strlen(s));
	cr_expect_str_eq(view(req.path, req.path_len), "/health");
}

Test(parse, pipelined_requests_one_at_a_time)
{
	char wire[512];
	struct sl_http_req req;
	struct sl_http_header h[CAP];
	size_t n, len;
	int r;

	len = (size_t)snprintf(wire, sizeof(wire), "%s%s", curl_health,
			       "GET /second?x=1 HTTP/1.1\r\nHost: b\r\n\r\n");
	r = parse(wire, len, &req, h, &n);
	cr_assert_eq(r, (int)strlen(curl_health), "first head only: got %d", r);
	cr_expect_str_eq(view(req.path, req.path_len), "/health");
	cr_expect_eq(n, 3);

	r = parse(wire + r, len - (size_t)r, &req, h, &n);
	cr_assert_eq(r, (int)(len - strlen(curl_health)));
	cr_expect_str_eq(view(req.path, req.path_len), "/second?x=1");
	cr_assert_eq(n, 1);
	expect_header(h, n, "host", "b");
}

Test(parse, every_prefix_is_incomplete)
{
	static const char *const heads[] = {
		boto_put_record,
		curl_health,
		"GET / HTTP/1.0\r\n\r\n",
		"PUT /x HTTP/1.1\nHost: a\nEmpty:\n\n",
		"\r\nGET / HTTP/1.1\r\nA:   padded\t \r\n\r\n",
	};
	struct sl_http_req req;
	struct sl_http_header h[CAP];
	size_t i, len, cut, n;

	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		len = strlen(heads[i]);
		for (cut = 0; cut < len; cut++) {
			int r = parse(heads[i], cut, &req, h, &n);

			cr_assert_eq(r, SL_HTTP_INCOMPLETE, "head %zu cut at %zu: got %d", i, cut,
				     r);
			cr_assert_eq(n, CAP, "capacity is kept on -2");
		}
		cr_assert_eq(parse(heads[i], len, &req, h, &n), (int)len, "head %zu whole", i);
	}
}

Test(parse, invalid_heads)
{
	static const struct {
		const char *what;
		const char *s;
		size_t len; /* 0: strlen(s) */
	} bad[] = {
		{ "bad version", "GET / HTTP/2.0\r\n\r\n", 0 },
		{ "minor 2", "GET / HTTP/1.2\r\n\r\n", 0 },
		{ "lowercase http", "GET / http/1.1\r\n\r\n", 0 },
		{ "no version", "GET /\r\n\r\n", 0 },
		{ "trailing space", "GET / HTTP/1.1 \r\n\r\n", 0 },
		{ "missing method", " / HTTP/1.1\r\n\r\n", 0 },
		{ "missing target", "GET  HTTP/1.1\r\n\r\n", 0 },
		{ "two spaces", "GET  / HTTP/1.1\r\n\r\n", 0 },
		{ "separator in method", "GE(T / HTTP/1.1\r\n\r\n", 0 },
		{ "tab in target", "GET /a\tb HTTP/1.1\r\n\r\n", 0 },
		{ "DEL in long target", "GET /aaaaaaaaaaaaaaaa\x7f HTTP/1.1\r\n\r\n", 0 },
		{ "obs-text in long target", "GET /aaaaaaaaaaaaaaaa\xc3\xa9 HTTP/1.1\r\n\r\n", 0 },
		{ "CR without LF", "GET / HTTP/1.1\rHost: a\r\n\r\n", 0 },
		{ "space in header name", "GET / HTTP/1.1\r\nX Amz: 1\r\n\r\n", 0 },
		{ "space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 0 },
		{ "empty header name", "GET / HTTP/1.1\r\n: a\r\n\r\n", 0 },
		{ "no colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", 0 },
		{ "NUL in value", "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 27 },
		{ "NUL in name", "GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n", 27 },
		{ "NUL in method", "G\0T / HTTP/1.1\r\n\r\n", 18 },
		{ "control char in long value",
		  "GET / HTTP/1.1\r\nUser-Agent: aaaaaaaaaaaaaaaaaaaa\x01zzzz\r\n\r\n", 0 },
		{ "DEL in value", "GET / HTTP/1.1\r\nA: aaaaaaaaaaaaaaaa\x7f\r\n\r\n", 0 },
		{ "CR inside value", "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 0 },
		{ "obs-fold", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 0 },
		{ "obs-fold with tab", "GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n", 0 },
		{ "space before first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 0 },
		{ "bad blank line", "GET / HTTP/1.1\r\nHost: a\r\n\rX", 0 },
		{ "bare CR before request line", "\rGET / HTTP/1.1\r\n\r\n", 0 },
	};
	struct sl_http_req req;
	struct sl_http_header h[CAP];
	size_t i, n, len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = bad[i].len ? bad[i].len : strlen(bad[i].s);
		cr_expect_eq(parse(bad[i].s, len, &req, h, &n), SL_HTTP_INVALID, "%s", bad[i].what);
		cr_expect_eq(n, CAP, "%s: capacity is kept on -1", bad[i].what);
	}
}

Test(parse, empty_buffer_is_incomplete)
{
	struct sl_http_req req;
	struct sl_http_header h[CAP];
	size_t n = CAP;

	cr_expect_eq(sl_http_parse_request(NULL, 0, &req, h, &n), SL_HTTP_INCOMPLETE);
	cr_expect_eq(parse("\r\n\r\n", 4, &req, h, &n), SL_HTTP_INCOMPLETE,
		     "blank lines alone are not a request yet");
}

Test(parse, header_capacity)
{
	static const char s[] = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
	struct sl_http_req req;
	struct sl_http_header h[3];
	size_t n;

	n = 2;
	cr_expect_eq(sl_http_parse_request(s, strlen(s), &req, h, &n), SL_HTTP_TOO_MANY,
		     "three headers do not fit in two");
	n = 3;
	cr_expect_eq(sl_http_parse_request(s, strlen(s), &req, h, &n), (int)strlen(s),
		     "three headers fit in three");
	cr_expect_eq(n, 3);
	n = 0;
	cr_expect_eq(sl_http_parse_request("GET / HTTP/1.1\r\n\r\n", 18, &req, NULL, &n), 18,
		     "no headers fit in none");
}

Test(parse, value_trimming)
{
	static const char s[] = "GET / HTTP/1.1\r\n"
				"A:   lead\r\n"
				"B: trail \t \r\n"
				"C:\t both  sides\t\r\n"
				"D:\r\n"
				"E: \t \r\n"
				"F:nospace\r\n"
				"G: obs-text \xc3\xa9\xff and\ttab\r\n"
				"\r\n";
	struct sl_http_req req;
	struct sl_http_header h[CAP];
	size_t n;

	cr_assert_eq(parse(s, strlen(s), &req, h, &n), (int)strlen(s));
	cr_assert_eq(n, 7);
	expect_header(h, n, "a", "lead");
	expect_header(h, n, "b", "trail");
	expect_header(h, n, "c", "both  sides");
	expect_header(h, n, "d", "");
	expect_header(h, n, "e", "");
	expect_header(h, n, "f", "nospace");
	expect_header(h, n, "g", "obs-text \xc3\xa9\xff and\ttab");
}

Test(find, case_insensitive_exact_name)
{
	static const char s[] = "POST / HTTP/1.1\r\n"
				"X-Amz-Target-Extra: wrong\r\n"
				"X-AMZ-TARGET: first\r\n"
				"x-amz-target: second\r\n"
				"\r\n";
	struct sl_http_req req;
	struct sl_http_header h[CAP];
	const struct sl_http_header *f;
	size_t n;

	cr_assert_gt(parse(s, strlen(s), &req, h, &n), 0);
	f = sl_http_find(h, n, "x-Amz-target");
	cr_assert_eq(f, &h[1], "the first exact match, not the longer name");
	cr_expect_null(sl_http_find(h, n, "x-amz-targe"), "a prefix is not a match");
	cr_expect_null(sl_http_find(h, n, "content-length"));
	cr_expect_null(sl_http_find(h, 0, "x-amz-target"), "count is honoured");
	cr_expect_null(sl_http_find(h, n, "x-amz-target\x20"));
	/* '[' and '{' differ by 0x20 like letters do, but are not letters. */
	cr_expect_null(sl_http_find(h, n, "X-Amz-Target-Extr{"));
}

/* Decodes s in one call. Returns the result; out gets the decoded bytes and
 * the leftover after them. */
static long decode_all(const char *s, size_t len, char *out, size_t *out_len)
{
	struct sl_http_chunked st;

	memset(&st, 0, sizeof(st));
	memcpy(out, s, len);
	*out_len = len;
	return sl_http_decode_chunked(&st, out, out_len);
}

static const char wiki[] = "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";

Test(chunked, multi_chunk_body)
{
	char buf[128];
	size_t n;

	cr_assert_eq(decode_all(wiki, strlen(wiki), buf, &n), 0);
	cr_assert_eq(n, 23);
	cr_expect_str_eq(view(buf, n), "Wiki" "pedia" " in\r\n\r\nchunks.");
}

Test(chunked, leaves_next_request_after_body)
{
	static const char s[] = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
	char buf[128];
	size_t n;
	long r;

	r = decode_all(s, strlen(s), buf, &n);
	cr_assert_eq(r, 18);
	cr_assert_eq(n, 3);
	cr_expect_str_eq(view(buf, n), "abc");
	cr_expect_str_eq(view(buf + n, (size_t)r), "GET / HTTP/1.1\r\n\r\n");
}

Test(chunked, extensions_and_aws_chunk_signatures)
{
	static const char s[] =
		"5;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
		"hello\r\n"
		"6 ; name=\"quoted value\"\r\n"
		" world\r\n"
		"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n"
		"\r\n";
	char buf[512];
	size_t n;

	cr_assert_eq(decode_all(s, strlen(s), buf, &n), 0);
	cr_expect_str_eq(view(buf, n), "hello world");
}

Test(chunked, trailers_are_skipped)
{
	static const char s[] = "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n"
				"0\r\n"
				"x-amz-checksum-crc32: sOO8/Q==\r\n"
				"X-Other:v\r\n"
				"\r\n"
				"NEXT";
	char buf[256];
	size_t n;

	cr_assert_eq(decode_all(s, strlen(s), buf, &n), 4);
	cr_expect_str_eq(view(buf, n), "abcdefghijklmnopqrstuvwxyz");
	cr_expect_eq(memcmp(buf + n, "NEXT", 4), 0);
}

Test(chunked, hex_case_and_bare_lf)
{
	static const char s[] = "A\n0123456789\nb\nabcdefghijk\r\n00\n\n";
	char buf[128];
	size_t n;

	cr_assert_eq(decode_all(s, strlen(s), buf, &n), 0);
	cr_expect_str_eq(view(buf, n), "0123456789abcdefghijk");
}

Test(chunked, every_prefix_is_incomplete)
{
	char buf[128];
	size_t cut, n;

	for (cut = 0; cut < strlen(wiki); cut++)
		cr_assert_eq(decode_all(wiki, cut, buf, &n), SL_HTTP_INCOMPLETE, "cut at %zu", cut);
}

/* Feeds s in pieces ending at the offsets in cuts (the last is the length).
 * Returns the final result; out gets every decoded byte followed by the
 * leftover of the final call. */
static long decode_pieces(const char *s, const size_t *cuts, size_t ncuts, char *out,
			  size_t *out_len)
{
	struct sl_http_chunked st;
	size_t i, from = 0, total = 0, len = 0;
	long r = SL_HTTP_INCOMPLETE;

	memset(&st, 0, sizeof(st));
	for (i = 0; i < ncuts && r == SL_HTTP_INCOMPLETE; i++) {
		len = cuts[i] - from;
		memcpy(out + total, s + from, len);
		r = sl_http_decode_chunked(&st, out + total, &len);
		total += len;
		from = cuts[i];
	}
	/* Bytes never handed over count as leftover, as if in one buffer. */
	if (r >= 0) {
		memmove(out + total + r, s + from, strlen(s) - from);
		r += (long)(strlen(s) - from);
	}
	*out_len = total;
	return r;
}

Test(chunked, split_at_every_position)
{
	static const char s[] = "4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\nrest";
	char want[128], got[128];
	size_t len = strlen(s), want_n, got_n, a, b;
	long want_r, r;

	want_r = decode_all(s, len, want, &want_n);
	cr_assert_eq(want_r, 4);
	cr_assert_str_eq(view(want, want_n), "Wikipedia");
	for (a = 0; a <= len; a++) {
		for (b = a; b <= len; b++) {
			size_t cuts[3] = { a, b, len };

			r = decode_pieces(s, cuts, 3, got, &got_n);
			cr_assert_eq(r, want_r, "cuts %zu %zu: got %ld", a, b, r);
			cr_assert_eq(got_n, want_n, "cuts %zu %zu", a, b);
			cr_assert_eq(memcmp(got, want, want_n + (size_t)want_r), 0, "cuts %zu %zu",
				     a, b);
		}
	}
}

Test(chunked, byte_at_a_time)
{
	size_t cuts[sizeof(wiki)], i, n;
	char got[128];

	for (i = 0; i < strlen(wiki); i++)
		cuts[i] = i + 1;
	cr_assert_eq(decode_pieces(wiki, cuts, strlen(wiki), got, &n), 0);
	cr_expect_str_eq(view(got, n), "Wiki" "pedia" " in\r\n\r\nchunks.");
}

Test(chunked, invalid_framing)
{
	static const char *const bad[] = {
		"g\r\n",
		"\r\n",
		";ext\r\n",
		"-1\r\n",
		"0x5\r\n",
		"+5\r\n",
		"5 5\r\nhello\r\n",
		"5\rx",
		"5\r\nhelloX\r\n",
		"5\r\nhello\r\r\n",
		"3\r\nabc\r\n\r\n\r\n",
		"5;a\x01\r\nhello\r\n",
		"0\r\n: empty-name\r\n\r\n",
		"0\r\n folded\r\n\r\n",
		"0\r\nX\x01: y\r\n\r\n",
		"0\r\nX: y\x7f\r\n\r\n",
		"0\r\n\rX",
	};
	char buf[64];
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(decode_all(bad[i], strlen(bad[i]), buf, &n), SL_HTTP_INVALID,
			     "case %zu", i);
}

Test(chunked, size_limit)
{
	char buf[64];
	size_t n;

	cr_expect_eq(decode_all("10000000000\r\nabc", 16, buf, &n), SL_HTTP_INCOMPLETE,
		     "2^40 is allowed");
	cr_expect_eq(n, 3);
	cr_expect_eq(decode_all("10000000001\r\n", 13, buf, &n), SL_HTTP_INVALID,
		     "2^40 + 1 is too big");
	cr_expect_eq(decode_all("ffffffffffffffffffff\r\n", 22, buf, &n), SL_HTTP_INVALID,
		     "more than 64 bits");
	cr_expect_eq(decode_all("00000000000000005\r\n", 19, buf, &n), SL_HTTP_INVALID,
		     "more than 16 digits");
}

Test(chunked, error_is_sticky)
{
	struct sl_http_chunked st;
	char buf[16];
	size_t n;

	memset(&st, 0, sizeof(st));
	memcpy(buf, "zz", 2);
	n = 2;
	cr_assert_eq(sl_http_decode_chunked(&st, buf, &n), SL_HTTP_INVALID);
	memcpy(buf, "0\r\n\r\n", 5);
	n = 5;
	cr_expect_eq(sl_http_decode_chunked(&st, buf, &n), SL_HTTP_INVALID);
}

Test(chunked, empty_input_is_incomplete)
{
	struct sl_http_chunked st;
	char buf[1];
	size_t n = 0;

	memset(&st, 0, sizeof(st));
	cr_expect_eq(sl_http_decode_chunked(&st, buf, &n), SL_HTTP_INCOMPLETE);
	cr_expect_eq(n, 0);
}

static int scope(const char *v, char *region, size_t rcap, char *service, size_t scap)
{
	return sl_sigv4_scope(v, strlen(v), region, rcap, service, scap);
}

Test(sigv4, valid_values)
{
	static const struct {
		const char *v, *region, *service;
	} good[] = {
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kinesis/aws4_request, "
		  "SignedHeaders=host;x-amz-date, Signature=abcdef",
		  "us-east-1", "kinesis" },
		{ "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-2/dynamodb/aws4_request,"
		  "SignedHeaders=host,Signature=00",
		  "eu-west-2", "dynamodb" },
		{ "AWS4-HMAC-SHA256 Credential=AKID/20260101/ap-south-1/s3/aws4_request "
		  "SignedHeaders=host Signature=00",
		  "ap-south-1", "s3" },
		{ "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/sqs/aws4_request",
		  "us-west-2", "sqs" },
		{ "AWS4-HMAC-SHA256  SignedHeaders=host, "
		  "Credential=AKID/20260101/us-east-2/firehose/aws4_request, Signature=00",
		  "us-east-2", "firehose" },
	};
	char region[32], service[32];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(scope(good[i].v, region, sizeof(region), service, sizeof(service)), 0,
			     "case %zu", i);
		cr_expect_str_eq(region, good[i].region, "case %zu", i);
		cr_expect_str_eq(service, good[i].service, "case %zu", i);
	}
}

Test(sigv4, invalid_values)
{
	static const char *const bad[] = {
		"",
		"Basic dXNlcjpwYXNz",
		"AWS4-HMAC-SHA1 Credential=AKID/20260101/us-east-1/kinesis/aws4_request",
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA256 ",
		"AWS4-HMAC-SHA256Credential=AKID/20260101/us-east-1/kinesis/aws4_request",
		"AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
		"AWS4-HMAC-SHA256 credential=AKID/20260101/us-east-1/kinesis/aws4_request",
		"AWS4-HMAC-SHA256 Credential=",
		"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/aws4_request",
		"AWS4-HMAC-SHA256 Credential=AKID/20260101//kinesis/aws4_request",
		"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1//aws4_request",
		"AWS4-HMAC-SHA256 Credential=/20260101/us-east-1/kinesis/aws4_request",
		"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws5_request",
		"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request/x",
		"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/",
		"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kin\x01sis/aws4_request",
		"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-e\xc3\xa9st-1/kinesis/aws4_request",
	};
	char region[32] = "untouched", service[32] = "untouched";
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(scope(bad[i], region, sizeof(region), service, sizeof(service)), -1,
			     "case %zu: %s", i, bad[i]);
		cr_expect_str_eq(region, "untouched", "case %zu writes nothing", i);
	}
}

Test(sigv4, capacity_includes_nul)
{
	static const char v[] = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request";
	char region[16] = "untouched", service[16] = "untouched";

	cr_expect_eq(scope(v, region, 9, service, sizeof(service)), -1, "us-east-1 needs 10");
	cr_expect_eq(scope(v, region, sizeof(region), service, 7), -1, "kinesis needs 8");
	cr_expect_str_eq(region, "untouched");
	cr_expect_str_eq(service, "untouched");
	cr_assert_eq(scope(v, region, 10, service, 8), 0);
	cr_expect_str_eq(region, "us-east-1");
	cr_expect_str_eq(service, "kinesis");
}

Test(sigv4, length_is_honoured)
{
	/* The header value is a view: bytes after n belong to something else. */
	static const char v[] =
		"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_requestXYZ";
	char region[16], service[16];

	cr_expect_eq(sl_sigv4_scope(v, strlen(v) - 3, region, sizeof(region), service,
				    sizeof(service)),
		     0);
	cr_expect_str_eq(service, "kinesis");
	cr_expect_eq(sl_sigv4_scope(v, strlen(v) - 4, region, sizeof(region), service,
				    sizeof(service)),
		     -1, "a cut terminator is not aws4_request");
}
