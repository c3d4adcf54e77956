/* test_json.c - sl_json_parse and the doc accessors on JSON input. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/codec/doc.h"

#define NTOK 256

static struct sl_doc_tok toks[NTOK];

static int parse_n(const char *s, size_t n)
{
	return sl_json_parse((const uint8_t *)s, n, toks, NTOK);
}

static int parse(const char *s)
{
	return parse_n(s, strlen(s));
}

/* Copy string token t, asserting success, into a static buffer. */
static const char *str_of(uint32_t t)
{
	static char buf[256];

	cr_assert_geq(sl_doc_str(&toks[t], buf, sizeof(buf)), 0);
	return buf;
}

Test(json, scalars_at_root)
{
	cr_assert_eq(parse("true"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_BOOL);
	cr_assert_eq(toks[0].i, 1);
	cr_assert_eq(parse("false"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_BOOL);
	cr_assert_eq(toks[0].i, 0);
	cr_assert_eq(parse(" null "), 1);
	cr_assert_eq(toks[0].type, SL_DOC_NULL);
	cr_assert_eq(parse("\"hi\""), 1);
	cr_assert_eq(toks[0].type, SL_DOC_STR);
	cr_assert_eq(toks[0].len, 2);
	cr_assert_eq(memcmp(toks[0].ptr, "hi", 2), 0);
	cr_assert_eq(toks[0].flags, 0);
	cr_assert_eq(toks[0].end, 1);
	cr_assert_eq(parse("\"\""), 1);
	cr_assert_eq(toks[0].len, 0);
	cr_assert_str_eq(str_of(0), "");
}

Test(json, integers)
{
	cr_assert_eq(parse("0"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_INT);
	cr_assert_eq(toks[0].i, 0);
	cr_assert_eq(parse("-0"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_INT);
	cr_assert_eq(toks[0].i, 0);
	cr_assert_eq(parse("12345"), 1);
	cr_assert_eq(toks[0].i, 12345);
	cr_assert_eq(toks[0].len, 5);
	cr_assert_eq(parse("-42"), 1);
	cr_assert_eq(toks[0].i, -42);
	cr_assert_eq(parse("9223372036854775807"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_INT);
	cr_assert_eq(toks[0].i, INT64_MAX);
	cr_assert_eq(parse("-9223372036854775808"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_INT);
	cr_assert_eq(toks[0].i, INT64_MIN);
}

Test(json, integers_out_of_range_are_float)
{
	cr_assert_eq(parse("9223372036854775808"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_FLOAT);
	cr_assert_float_eq(toks[0].d, 9223372036854775808.0, 1e3);
	cr_assert_eq(parse("-9223372036854775809"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_FLOAT);
	cr_assert_float_eq(toks[0].d, -9223372036854775809.0, 1e3);
	cr_assert_eq(parse("18446744073709551616"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_FLOAT);
	cr_assert_float_eq(toks[0].d, 18446744073709551616.0, 1e4);
	cr_assert_eq(parse("123456789012345678901234567890"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_FLOAT);
	cr_assert_float_eq(toks[0].d, 1.2345678901234568e29, 1e15);
}

Test(json, floats)
{
	cr_assert_eq(parse("1.5"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_FLOAT);
	cr_assert_float_eq(toks[0].d, 1.5, 1e-12);
	cr_assert_eq(parse("-0.25"), 1);
	cr_assert_float_eq(toks[0].d, -0.25, 1e-12);
	cr_assert_eq(parse("1e3"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_FLOAT);
	cr_assert_float_eq(toks[0].d, 1000.0, 1e-9);
	cr_assert_eq(parse("2E-2"), 1);
	cr_assert_float_eq(toks[0].d, 0.02, 1e-12);
	cr_assert_eq(parse("1.0e+2"), 1);
	cr_assert_float_eq(toks[0].d, 100.0, 1e-9);
	cr_assert_eq(parse("1.0"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_FLOAT);
	cr_assert_eq(parse("1700000000.123"), 1);
	cr_assert_float_eq(toks[0].d, 1700000000.123, 1e-6);
	cr_assert_eq(toks[0].len, 14);
	cr_assert_eq(parse("1e999"), 1);
	cr_assert(isinf(toks[0].d));
}

Test(json, number_longer_than_copy_buffer_is_too_big)
{
	static char num[2100];

	memset(num, '1', sizeof(num) - 1);
	num[1] = '.';
	num[sizeof(num) - 1] = '\0';
	cr_assert_eq(parse(num), SL_DOC_TOO_BIG);
	num[1100] = '\0';
	cr_assert_eq(parse(num), SL_DOC_TOO_BIG);
	num[500] = '\0';
	cr_assert_eq(parse(num), 1);
	cr_assert_float_eq(toks[0].d, 1.1111111, 1e-6);
}

Test(json, object_layout_and_end)
{
	const char *doc = "{\"a\": 1, \"b\": [true, {\"c\": null}, \"x\"], \"d\": {}}";

	cr_assert_eq(parse(doc), 12);
	cr_assert_eq(toks[0].type, SL_DOC_OBJ);
	cr_assert_eq(toks[0].count, 3);
	cr_assert_eq(toks[0].end, 12);
	cr_assert_eq(toks[0].ptr, (const uint8_t *)doc);
	cr_assert_eq(toks[0].len, strlen(doc));
	cr_assert_eq(toks[1].type, SL_DOC_STR); /* "a" */
	cr_assert_eq(toks[2].type, SL_DOC_INT);
	cr_assert_eq(toks[3].type, SL_DOC_STR); /* "b" */
	cr_assert_eq(toks[4].type, SL_DOC_ARR);
	cr_assert_eq(toks[4].count, 3);
	cr_assert_eq(toks[4].end, 10);
	cr_assert_eq(toks[5].type, SL_DOC_BOOL);
	cr_assert_eq(toks[6].type, SL_DOC_OBJ);
	cr_assert_eq(toks[6].count, 1);
	cr_assert_eq(toks[6].end, 9);
	cr_assert_eq(toks[6].len, strlen("{\"c\": null}"));
	cr_assert_eq(toks[8].type, SL_DOC_NULL);
	cr_assert_eq(toks[9].type, SL_DOC_STR);
	cr_assert_str_eq(str_of(9), "x");
	cr_assert_eq(toks[11].type, SL_DOC_OBJ);
	cr_assert_eq(toks[11].count, 0);
	cr_assert_eq(toks[11].end, 12);
	cr_assert_eq(toks[11].len, 2);
}

Test(json, end_skips_subtrees)
{
	const char *doc = "[[1,[2,[3]]],{\"k\":[4,5]},6,[]]";
	int64_t want_first[] = { 1, -1, 6, -1 };
	uint32_t c;
	uint32_t i;

	cr_assert_gt(parse(doc), 0);
	cr_assert_eq(toks[0].count, 4);
	c = sl_doc_first(0);
	for (i = 0; i < toks[0].count; i++) {
		if (want_first[i] >= 0) {
			const struct sl_doc_tok *v = toks[c].type == SL_DOC_ARR ? &toks[c + 1] : &toks[c];

			cr_assert_eq(v->i, want_first[i]);
		}
		cr_assert_gt(toks[c].end, c);
		c = sl_doc_next(toks, c);
	}
	cr_assert_eq(c, toks[0].end);
	cr_assert_eq(toks[c - 1].type, SL_DOC_ARR);
	cr_assert_eq(toks[c - 1].count, 0);
}

Test(json, get_present_absent_and_nested)
{
	const char *doc = "{\"StreamName\":\"s1\",\"Records\":[{\"Data\":\"AA==\"}],\"Limit\":10,\"ab\":1}";
	int v, r;

	cr_assert_gt(parse(doc), 0);
	v = sl_doc_get(toks, 0, "StreamName");
	cr_assert_geq(v, 0);
	cr_assert_str_eq(str_of((uint32_t)v), "s1");
	v = sl_doc_get(toks, 0, "Limit");
	cr_assert_eq(toks[v].i, 10);
	cr_assert_eq(sl_doc_get(toks, 0, "limit"), -1);
	cr_assert_eq(sl_doc_get(toks, 0, "Stream"), -1);
	cr_assert_eq(sl_doc_get(toks, 0, "StreamNameX"), -1);
	cr_assert_eq(sl_doc_get(toks, 0, "a"), -1);
	cr_assert_eq(sl_doc_get(toks, 0, ""), -1);
	cr_assert_eq(toks[sl_doc_get(toks, 0, "ab")].i, 1);
	r = sl_doc_get(toks, 0, "Records");
	cr_assert_eq(toks[r].type, SL_DOC_ARR);
	/* Keys of nested objects are not keys of the outer one. */
	cr_assert_eq(sl_doc_get(toks, 0, "Data"), -1);
	v = sl_doc_get(toks, (uint32_t)r + 1, "Data");
	cr_assert_str_eq(str_of((uint32_t)v), "AA==");
	/* Not an object. */
	cr_assert_eq(sl_doc_get(toks, (uint32_t)r, "Data"), -1);
	cr_assert_eq(sl_doc_get(toks, 1, "StreamName"), -1);
}

Test(json, get_on_empty_and_escaped_keys)
{
	cr_assert_eq(parse("{}"), 1);
	cr_assert_eq(sl_doc_get(toks, 0, "a"), -1);
	cr_assert_eq(parse("{\"\\u0061\":1,\"a\":2}"), 5);
	cr_assert_eq(toks[1].flags & SL_DOC_F_ESCAPED, SL_DOC_F_ESCAPED);
	cr_assert_eq(toks[sl_doc_get(toks, 0, "a")].i, 2);
	cr_assert_eq(parse("{\"a\":1,\"a\":2}"), 5);
	cr_assert_eq(sl_doc_get(toks, 0, "a"), 2, "first duplicate wins");
}

Test(json, simple_escapes)
{
	cr_assert_eq(parse("\"a\\nb\\\"c\\\\d\\/e\\bf\\fg\\rh\\ti\""), 1);
	cr_assert_eq(toks[0].flags, SL_DOC_F_ESCAPED);
	cr_assert_str_eq(str_of(0), "a\nb\"c\\d/e\bf\fg\rh\ti");
}

Test(json, unicode_escapes_to_utf8)
{
	char out[32];

	cr_assert_eq(parse("\"\\u0041\\u00e9\\u20AC\""), 1);
	cr_assert_str_eq(str_of(0), "A\xc3\xa9\xe2\x82\xac");
	cr_assert_eq(parse("\"x\\ud83d\\ude00y\""), 1);
	cr_assert_str_eq(str_of(0), "x\xf0\x9f\x98\x80y");
	cr_assert_eq(parse("\"\\uDBFF\\uDFFF\""), 1);
	cr_assert_str_eq(str_of(0), "\xf4\x8f\xbf\xbf");
	cr_assert_eq(parse("\"a\\u0000b\""), 1);
	cr_assert_eq(sl_doc_str(&toks[0], out, sizeof(out)), 3);
	cr_assert_eq(memcmp(out, "a\0b", 4), 0);
	cr_assert_eq(parse("\"\\u07ff\\uffff\""), 1);
	cr_assert_str_eq(str_of(0), "\xdf\xbf\xef\xbf\xbf");
}

Test(json, bad_escapes)
{
	const char *bad[] = {
		"\"\\ud83d\"",          /* lone high surrogate */
		"\"\\ud83dx\"",
		"\"\\ud83d\\n\"",
		"\"\\ud83d\\u0041\"",   /* high + non-low */
		"\"\\ud83d\\ud83d\"",
		"\"\\ude00\"",          /* lone low surrogate */
		"\"\\ude00\\ud83d\"",   /* reversed pair */
		"\"\\x\"", "\"\\a\"", "\"\\U0041\"", "\"\\'\"", "\"\\0\"",
		"\"\\u12\"", "\"\\u12G4\"", "\"\\u\"", "\"\\u 123\"",
		"\"\\\"", "\"abc\\",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i]), SL_DOC_INVALID, "%s", bad[i]);
}

Test(json, utf8_validation)
{
	const char *good[] = { "\"\xc2\x80\"", "\"\xdf\xbf\"", "\"\xe0\xa0\x80\"", "\"\xed\x9f\xbf\"",
			       "\"\xef\xbf\xbf\"", "\"\xf0\x90\x80\x80\"", "\"\xf4\x8f\xbf\xbf\"",
			       "\"h\xc3\xa9llo w\xc3\xb6rld, this is longer than 8\"" };
	const char *bad[] = { "\"\x80\"", "\"\xbf\"", "\"\xc0\x80\"", "\"\xc1\xbf\"", "\"\xc2\"",
			      "\"\xc2\x41\"", "\"\xe0\x80\x80\"", "\"\xe0\x9f\xbf\"", "\"\xed\xa0\x80\"",
			      "\"\xe2\x82\"", "\"\xf0\x80\x80\x80\"", "\"\xf0\x8f\xbf\xbf\"",
			      "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"", "\"\xff\"", "\"\xfe\"",
			      "\"\xf0\x90\x80\"", "\"\xe1\x80\xc0\"" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(parse(good[i]), 1, "good %zu", i);
		cr_assert_eq(strlen(str_of(0)), strlen(good[i]) - 2);
		cr_assert_eq(memcmp(str_of(0), good[i] + 1, strlen(good[i]) - 2), 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i]), SL_DOC_INVALID, "bad %zu", i);
}

/* The string scan works eight bytes at a time: a special byte must be seen
 * at every offset of every word. */
Test(json, special_bytes_at_every_offset)
{
	char doc[64];

	for (size_t n = 1; n < 40; n++) {
		for (size_t at = 0; at < n; at++) {
			int r;

			memset(doc, 'A', sizeof(doc));
			doc[0] = '"';
			doc[n + 1] = '"';
			doc[at + 1] = '\x1f';
			cr_assert_eq(parse_n(doc, n + 2), SL_DOC_INVALID, "ctl n=%zu at=%zu", n, at);
			doc[at + 1] = '"';
			cr_assert_eq(parse_n(doc, n + 2), SL_DOC_INVALID, "quote n=%zu at=%zu", n, at);
			doc[at + 1] = '\x7f';
			cr_assert_eq(parse_n(doc, n + 2), 1);
			cr_assert_eq(toks[0].len, n);
			doc[at + 1] = '\xe9';
			cr_assert_eq(parse_n(doc, n + 2), SL_DOC_INVALID, "latin1 n=%zu at=%zu", n, at);
			doc[at + 1] = '\\';
			r = parse_n(doc, n + 2);
			cr_assert_eq(r, SL_DOC_INVALID, "backslash n=%zu at=%zu", n, at);
		}
	}
}

Test(json, invalid_documents)
{
	const char *bad[] = {
		"", " ", "\t\r\n", "{", "}", "[", "]", "[1,]", "[,1]", "[1,,2]", "[1 2]",
		"{\"a\":1,}", "{,}", "{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{\"a\"::1}", "{1:2}",
		"{a:1}", "{'a':1}", "{\"a\":1 \"b\":2}", "[1}", "{\"a\":1]", "[[]", "[]]",
		"01", "-01", "00", "1.", ".5", "-", "+1", "1e", "1e+", "1.e3", "0x10", "1.5.2",
		"- 1", "--1", "Infinity", "NaN", "-Infinity", "1_000",
		"tru", "true1", "True", "nul", "nulls", "fals", "undefined", "none",
		"\"abc", "\"abc\\\"", "'abc'", "\"a\nb\"", "\"a\tb\"", "\"\x01\"", "\"\x1f\"",
		"1 2", "{} {}", "[] x", "true false", "\"a\"\"b\"", "{}}", "1,",
		"\v1", "1\f", "\xc2\xa0\x31", "\xef\xbb\xbf{}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i]), SL_DOC_INVALID, "doc %zu: %s", i, bad[i]);
	cr_assert_eq(parse_n("{}\0", 3), SL_DOC_INVALID);
	cr_assert_eq(parse_n("[1\0]", 4), SL_DOC_INVALID);
}

Test(json, whitespace_everywhere)
{
	cr_assert_eq(parse(" \t\r\n{ \"a\" \n: \t[ 1 ,\r\n2 ] , \"b\" : { } } \n"), 7);
	cr_assert_eq(toks[0].count, 2);
	cr_assert_eq(toks[2].count, 2);
}

static int nested(char open, char close, int depth, int max)
{
	static char doc[512];
	int n = 0;

	for (int i = 0; i < depth; i++) {
		if (open == '{') {
			memcpy(doc + n, "{\"k\":", 5);
			n += 5;
		} else {
			doc[n++] = open;
		}
	}
	doc[n++] = '0';
	for (int i = 0; i < depth; i++)
		doc[n++] = close;
	return sl_json_parse((const uint8_t *)doc, (size_t)n, toks, (uint32_t)max);
}

Test(json, depth_limit)
{
	cr_assert_eq(nested('[', ']', SL_DOC_DEPTH_MAX, NTOK), SL_DOC_DEPTH_MAX + 1);
	cr_assert_eq(toks[0].end, SL_DOC_DEPTH_MAX + 1);
	cr_assert_eq(toks[SL_DOC_DEPTH_MAX - 1].end, SL_DOC_DEPTH_MAX + 1);
	cr_assert_eq(nested('[', ']', SL_DOC_DEPTH_MAX + 1, NTOK), SL_DOC_TOO_BIG);
	cr_assert_eq(nested('{', '}', SL_DOC_DEPTH_MAX, NTOK), 2 * SL_DOC_DEPTH_MAX + 1);
	cr_assert_eq(nested('{', '}', SL_DOC_DEPTH_MAX + 1, NTOK), SL_DOC_TOO_BIG);
}

Test(json, token_overflow)
{
	const char *doc = "[1,2,3,[4,5]]";

	cr_assert_eq(sl_json_parse((const uint8_t *)doc, strlen(doc), toks, 7), 7);
	cr_assert_eq(sl_json_parse((const uint8_t *)doc, strlen(doc), toks, 6), SL_DOC_TOO_BIG);
	cr_assert_eq(sl_json_parse((const uint8_t *)doc, strlen(doc), toks, 1), SL_DOC_TOO_BIG);
	cr_assert_eq(sl_json_parse((const uint8_t *)doc, strlen(doc), toks, 0), SL_DOC_TOO_BIG);
	cr_assert_eq(sl_json_parse((const uint8_t *)"{\"a\":1}", 7, toks, 2), SL_DOC_TOO_BIG);
	cr_assert_eq(sl_json_parse((const uint8_t *)"{\"a\":1}", 7, toks, 3), 3);
}

/* picohttpparser style: no strict prefix of a document whose root is an
 * object may parse, whatever the cut, and none may crash. */
Test(json, every_truncated_prefix_is_invalid)
{
	const char *doc = "{\"StreamName\" : \"my-stream\",\"Records\":[{\"Data\":\"aGVsbG8=\","
			  "\"PartitionKey\":\"p\\u00e9\\ud83d\\ude00\\n\"},{\"n\":-12.5e+3,"
			  "\"t\":true,\"f\":false,\"z\":null,\"e\":{},\"a\":[]}],\"Big\":123456789"
			  ",\"U\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"} ";
	size_t n = strlen(doc);
	int full = parse_n(doc, n);

	cr_assert_gt(full, 0);
	for (size_t i = 0; i < n - 1; i++) {
		char *copy = malloc(i + 1);

		/* A private copy, so a read past the prefix shows up under ASan. */
		memcpy(copy, doc, i);
		cr_assert_eq(sl_json_parse((const uint8_t *)copy, i, toks, NTOK), SL_DOC_INVALID,
			     "prefix %zu", i);
		free(copy);
	}
}

Test(json, str_capacity)
{
	char out[8];

	cr_assert_eq(parse("\"abcd\""), 1);
	cr_assert_eq(sl_doc_str(&toks[0], out, 5), 4);
	cr_assert_str_eq(out, "abcd");
	cr_assert_eq(sl_doc_str(&toks[0], out, 4), -2);
	cr_assert_eq(sl_doc_str(&toks[0], out, 0), -2);
	cr_assert_eq(parse("\"a\\u00e9\""), 1);
	cr_assert_eq(sl_doc_str(&toks[0], out, 4), 3);
	cr_assert_eq(sl_doc_str(&toks[0], out, 3), -2);
	cr_assert_eq(sl_doc_str(&toks[0], out, 1), -2);
	cr_assert_eq(parse("12"), 1);
	cr_assert_eq(sl_doc_str(&toks[0], out, sizeof(out)), -1);
	cr_assert_eq(parse("[]"), 1);
	cr_assert_eq(sl_doc_str(&toks[0], out, sizeof(out)), -1);
}

Test(json, blob_base64)
{
	uint8_t out[32];

	cr_assert_eq(parse("\"Zm9vYmFy\""), 1);
	cr_assert_eq(sl_doc_blob_max(&toks[0]), 6);
	cr_assert_eq(sl_doc_blob(&toks[0], out, sizeof(out)), 6);
	cr_assert_eq(memcmp(out, "foobar", 6), 0);
	cr_assert_eq(sl_doc_blob(&toks[0], out, 6), 6);
	cr_assert_eq(sl_doc_blob(&toks[0], out, 5), -2);
	cr_assert_eq(parse("\"Zm9vYg==\""), 1);
	cr_assert_eq(sl_doc_blob_max(&toks[0]), 6);
	cr_assert_eq(sl_doc_blob(&toks[0], out, 4), 4);
	cr_assert_eq(memcmp(out, "foob", 4), 0);
	cr_assert_eq(sl_doc_blob(&toks[0], out, 3), -2);
	cr_assert_eq(parse("\"\""), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], out, 0), 0);
	cr_assert_eq(parse("1"), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], out, sizeof(out)), -1);
	cr_assert_eq(sl_doc_blob_max(&toks[0]), 0);
}

Test(json, blob_base64_invalid)
{
	const char *bad[] = { "\"Zm9\"", "\"Zm9vY\"", "\"Zm9v YmFy\"", "\"Zm9v\\nYmFy\"", "\"Zg==Zm9v\"",
			      "\"Zg=a\"", "\"Z===\"", "\"====\"", "\"Zh==\"", "\"Zm9=\"", "\"Zm-v\"",
			      "\"Zm_v\"", "\"Zm9v\\u0000\"", "\"\\u00e9AAA\"" };
	uint8_t out[32];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(bad[i]), 1, "%s", bad[i]);
		cr_assert_eq(sl_doc_blob(&toks[0], out, sizeof(out)), -1, "%s", bad[i]);
	}
}

/* Some JSON writers escape '/' (and others may escape any character), so
 * base64 inside an escaped string must still decode. */
Test(json, blob_base64_escaped)
{
	uint8_t out[32];

	cr_assert_eq(parse("\"\\/\\/\\/\\/\""), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], out, sizeof(out)), 3);
	cr_assert_eq(memcmp(out, "\xff\xff\xff", 3), 0);
	cr_assert_eq(parse("\"Zm9v\\u0059mE\\u003d\""), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], out, sizeof(out)), 5);
	cr_assert_eq(memcmp(out, "fooba", 5), 0);
	cr_assert_eq(sl_doc_blob(&toks[0], out, 4), -2);
	cr_assert_eq(parse("\"Zg\\u003d\\u003dZm9v\""), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], out, sizeof(out)), -1);
	cr_assert_eq(parse("\"Zg\\u003d=Zm9v\""), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], out, sizeof(out)), -1);
	cr_assert_eq(parse("\"Zg\\u003d=\""), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], out, sizeof(out)), 1);
	cr_assert_eq(parse("\"Zm9\\/Zm\""), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], out, sizeof(out)), -1);
}

/* A Kinesis-sized record: the SWAR scan and the bulk decoder on a long run. */
Test(json, long_base64_string)
{
	enum { N = 3 * 40000 };
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static char doc[N / 3 * 4 + 16];
	static uint8_t out[N];
	size_t n = 0;

	n += (size_t)sprintf(doc, "{\"Data\":\"");
	for (size_t i = 0; i < N / 3 * 4; i++)
		doc[n++] = b64[i % 64];
	n += (size_t)sprintf(doc + n, "\"}");
	cr_assert_eq(parse_n(doc, n), 3);
	cr_assert_eq(sl_doc_blob_max(&toks[2]), N);
	cr_assert_eq(sl_doc_blob(&toks[2], out, sizeof(out)), N);
	/* "ABCD" decodes to 00 10 83. */
	cr_assert_eq(out[0], 0x00);
	cr_assert_eq(out[1], 0x10);
	cr_assert_eq(out[2], 0x83);
}
