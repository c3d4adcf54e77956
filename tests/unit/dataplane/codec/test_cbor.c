/* test_cbor.c - sl_cbor_parse and the doc accessors on CBOR input.
 * Many vectors come from RFC 8949 Appendix A. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dataplane/codec/doc.h"

#define NTOK 256

static struct sl_doc_tok toks[NTOK];

static int parse_n(const uint8_t *b, size_t n)
{
	return sl_cbor_parse(b, n, toks, NTOK);
}

/* Parse a byte string literal; sizeof - 1 drops the literal's NUL. */
#define PARSE(lit) parse_n((const uint8_t *)(lit), sizeof(lit) - 1)

struct int_case {
	const char *bytes;
	size_t n;
	int64_t want;
};

#define IC(lit, v) { lit, sizeof(lit) - 1, v }

Test(cbor, integers)
{
	static const struct int_case cases[] = {
		IC("\x00", 0), IC("\x01", 1), IC("\x0a", 10), IC("\x17", 23), IC("\x18\x18", 24),
		IC("\x18\x19", 25), IC("\x18\x64", 100), IC("\x19\x03\xe8", 1000),
		IC("\x1a\x00\x0f\x42\x40", 1000000),
		IC("\x1b\x00\x00\x00\xe8\xd4\xa5\x10\x00", 1000000000000),
		IC("\x1b\x7f\xff\xff\xff\xff\xff\xff\xff", INT64_MAX),
		IC("\x20", -1), IC("\x29", -10), IC("\x38\x63", -100), IC("\x39\x03\xe7", -1000),
		IC("\x3b\x7f\xff\xff\xff\xff\xff\xff\xff", INT64_MIN),
		/* Non-preferred (longer than needed) encodings are still well-formed. */
		IC("\x18\x00", 0), IC("\x1b\x00\x00\x00\x00\x00\x00\x00\x05", 5),
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(parse_n((const uint8_t *)cases[i].bytes, cases[i].n), 1, "case %zu", i);
		cr_assert_eq(toks[0].type, SL_DOC_INT, "case %zu", i);
		cr_assert_eq(toks[0].i, cases[i].want, "case %zu", i);
		cr_assert_eq(toks[0].len, cases[i].n);
		cr_assert_eq(toks[0].end, 1);
	}
}

Test(cbor, integers_out_of_int64_are_float)
{
	cr_assert_eq(PARSE("\x1b\xff\xff\xff\xff\xff\xff\xff\xff"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_FLOAT);
	cr_assert_float_eq(toks[0].d, 18446744073709551615.0, 1e4);
	cr_assert_eq(PARSE("\x1b\x80\x00\x00\x00\x00\x00\x00\x00"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_FLOAT);
	cr_assert_float_eq(toks[0].d, 9223372036854775808.0, 1e3);
	cr_assert_eq(PARSE("\x3b\xff\xff\xff\xff\xff\xff\xff\xff"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_FLOAT);
	cr_assert_float_eq(toks[0].d, -18446744073709551616.0, 1e4);
	cr_assert_eq(PARSE("\x3b\x80\x00\x00\x00\x00\x00\x00\x00"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_FLOAT);
}

Test(cbor, floats)
{
	cr_assert_eq(PARSE("\xf9\x00\x00"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_FLOAT);
	cr_assert_eq(toks[0].d, 0.0);
	cr_assert_eq(PARSE("\xf9\x80\x00"), 1);
	cr_assert(signbit(toks[0].d));
	cr_assert_eq(PARSE("\xf9\x3c\x00"), 1);
	cr_assert_eq(toks[0].d, 1.0, "integral floats stay FLOAT");
	cr_assert_eq(toks[0].type, SL_DOC_FLOAT);
	cr_assert_eq(PARSE("\xf9\x3e\x00"), 1);
	cr_assert_eq(toks[0].d, 1.5);
	cr_assert_eq(PARSE("\xf9\x7b\xff"), 1);
	cr_assert_eq(toks[0].d, 65504.0);
	cr_assert_eq(PARSE("\xf9\x00\x01"), 1);
	cr_assert_eq(toks[0].d, 5.960464477539063e-8);
	cr_assert_eq(PARSE("\xf9\x04\x00"), 1);
	cr_assert_eq(toks[0].d, 0.00006103515625);
	cr_assert_eq(PARSE("\xf9\xc4\x00"), 1);
	cr_assert_eq(toks[0].d, -4.0);
	cr_assert_eq(PARSE("\xf9\x7c\x00"), 1);
	cr_assert(isinf(toks[0].d) && toks[0].d > 0);
	cr_assert_eq(PARSE("\xf9\xfc\x00"), 1);
	cr_assert(isinf(toks[0].d) && toks[0].d < 0);
	cr_assert_eq(PARSE("\xf9\x7e\x00"), 1);
	cr_assert(isnan(toks[0].d));
	cr_assert_eq(PARSE("\xfa\x47\xc3\x50\x00"), 1);
	cr_assert_eq(toks[0].d, 100000.0);
	cr_assert_eq(PARSE("\xfa\x7f\x7f\xff\xff"), 1);
	cr_assert_eq(toks[0].d, 3.4028234663852886e+38);
	cr_assert_eq(PARSE("\xfb\x3f\xf1\x99\x99\x99\x99\x99\x9a"), 1);
	cr_assert_eq(toks[0].d, 1.1);
	cr_assert_eq(toks[0].len, 9);
	cr_assert_eq(PARSE("\xfb\x7e\x37\xe4\x3c\x88\x00\x75\x9c"), 1);
	cr_assert_eq(toks[0].d, 1.0e+300);
	cr_assert_eq(PARSE("\xfb\xc0\x10\x66\x66\x66\x66\x66\x66"), 1);
	cr_assert_eq(toks[0].d, -4.1);
}

Test(cbor, simple_values)
{
	cr_assert_eq(PARSE("\xf4"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_BOOL);
	cr_assert_eq(toks[0].i, 0);
	cr_assert_eq(PARSE("\xf5"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_BOOL);
	cr_assert_eq(toks[0].i, 1);
	cr_assert_eq(PARSE("\xf6"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_NULL);
	cr_assert_eq(PARSE("\xf7"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_NULL, "undefined reads as null");
	/* Unassigned simple values have no token type; ai 24 below 32 is ill-formed. */
	cr_assert_eq(PARSE("\xf0"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\xe0"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\xf8\xff"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\xf8\x10"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\xf8\x14"), SL_DOC_INVALID);
}

Test(cbor, strings)
{
	char out[16];

	cr_assert_eq(PARSE("\x60"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_STR);
	cr_assert_eq(toks[0].len, 0);
	cr_assert_eq(PARSE("\x64\x49\x45\x54\x46"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_STR);
	cr_assert_eq(toks[0].len, 4);
	cr_assert_eq(memcmp(toks[0].ptr, "IETF", 4), 0);
	cr_assert_eq(toks[0].flags, 0);
	cr_assert_eq(sl_doc_str(&toks[0], out, sizeof(out)), 4);
	cr_assert_str_eq(out, "IETF");
	cr_assert_eq(sl_doc_str(&toks[0], out, 4), -2);
	cr_assert_eq(PARSE("\x62\xc3\xbc"), 1);
	cr_assert_eq(sl_doc_str(&toks[0], out, sizeof(out)), 2);
	cr_assert_str_eq(out, "\xc3\xbc");
	cr_assert_eq(PARSE("\x78\x03" "abc"), 1);
	cr_assert_eq(toks[0].len, 3);
	cr_assert_eq(PARSE("\x44\x01\x02\x03\x04"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_BLOB);
	cr_assert_eq(toks[0].len, 4);
	cr_assert_eq(sl_doc_str(&toks[0], out, sizeof(out)), -1, "a byte string is not text");
}

Test(cbor, blob_access)
{
	uint8_t out[8];

	cr_assert_eq(PARSE("\x44\x01\x02\x03\x04"), 1);
	cr_assert_eq(sl_doc_blob_max(&toks[0]), 4);
	cr_assert_eq(sl_doc_blob(&toks[0], out, 4), 4);
	cr_assert_eq(memcmp(out, "\x01\x02\x03\x04", 4), 0);
	cr_assert_eq(sl_doc_blob(&toks[0], out, 3), -2);
	cr_assert_eq(PARSE("\x40"), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], out, 0), 0);
	/* A text string holding base64 decodes like a JSON string. */
	cr_assert_eq(PARSE("\x64Zm8="), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], out, sizeof(out)), 2);
	cr_assert_eq(memcmp(out, "fo", 2), 0);
	cr_assert_eq(PARSE("\x01"), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], out, sizeof(out)), -1);
	cr_assert_eq(sl_doc_blob_max(&toks[0]), 0);
}

Test(cbor, indefinite_strings)
{
	char out[16];
	uint8_t b[16];

	/* (_ h'0102', h'030405') */
	cr_assert_eq(PARSE("\x5f\x42\x01\x02\x43\x03\x04\x05\xff"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_BLOB);
	cr_assert_eq(toks[0].flags, SL_DOC_F_CHUNKED);
	cr_assert_eq(toks[0].len, 7);
	cr_assert_geq(sl_doc_blob_max(&toks[0]), 5);
	cr_assert_eq(sl_doc_blob(&toks[0], b, sizeof(b)), 5);
	cr_assert_eq(memcmp(b, "\x01\x02\x03\x04\x05", 5), 0);
	cr_assert_eq(sl_doc_blob(&toks[0], b, 4), -2);
	cr_assert_eq(sl_doc_blob(&toks[0], b, 5), 5);
	/* (_ "strea", "ming") */
	cr_assert_eq(PARSE("\x7f\x65strea\x64ming\xff"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_STR);
	cr_assert_eq(toks[0].flags, SL_DOC_F_CHUNKED);
	cr_assert_eq(sl_doc_str(&toks[0], out, sizeof(out)), 9);
	cr_assert_str_eq(out, "streaming");
	cr_assert_eq(sl_doc_str(&toks[0], out, 9), -2);
	cr_assert_eq(sl_doc_str(&toks[0], out, 10), 9);
	/* Empty, and empty chunks. */
	cr_assert_eq(PARSE("\x7f\xff"), 1);
	cr_assert_eq(sl_doc_str(&toks[0], out, 1), 0);
	cr_assert_eq(PARSE("\x7f\x60\x60\xff"), 1);
	cr_assert_eq(sl_doc_str(&toks[0], out, sizeof(out)), 0);
	/* Chunked base64 text decodes across chunk boundaries. */
	cr_assert_eq(PARSE("\x7f\x63Zm9\x65vYmE=\xff"), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], b, sizeof(b)), 5);
	cr_assert_eq(memcmp(b, "fooba", 5), 0);
	cr_assert_eq(PARSE("\x7f\x64Zg==\x64Zm9v\xff"), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], b, sizeof(b)), -1, "data after padding");
	/* The same, with the padded quad split across chunks. */
	cr_assert_eq(PARSE("\x7f\x62Zg\x66==Zm9v\xff"), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], b, sizeof(b)), -1, "data after split padding");
	cr_assert_eq(PARSE("\x7f\x62Zg\x62==\xff"), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], b, sizeof(b)), 1);
	cr_assert_eq(b[0], 'f');
	cr_assert_eq(PARSE("\x7f\x61Z\x61m\x61" "9\x61v\x62Zm\xff"), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], b, sizeof(b)), -1, "partial quad at the end");
	cr_assert_eq(PARSE("\x7f\x61Z\x61m\x61" "9\x61v\xff"), 1);
	cr_assert_eq(sl_doc_blob(&toks[0], b, 2), -2);
	cr_assert_eq(sl_doc_blob(&toks[0], b, 3), 3);
}

Test(cbor, indefinite_strings_invalid)
{
	cr_assert_eq(PARSE("\x5f\x62\x01\x02\xff"), SL_DOC_INVALID, "text chunk in bytes");
	cr_assert_eq(PARSE("\x7f\x42\x01\x02\xff"), SL_DOC_INVALID, "byte chunk in text");
	cr_assert_eq(PARSE("\x7f\x7f\xff\xff"), SL_DOC_INVALID, "nested indefinite chunk");
	cr_assert_eq(PARSE("\x5f\x01\xff"), SL_DOC_INVALID, "int chunk");
	cr_assert_eq(PARSE("\x5f\x42\x01\x02"), SL_DOC_INVALID, "no break");
	cr_assert_eq(PARSE("\x5f\x43\x01\x02\xff"), SL_DOC_INVALID, "chunk past the end");
	cr_assert_eq(PARSE("\x5f"), SL_DOC_INVALID);
}

Test(cbor, arrays_and_maps)
{
	/* [1, [2, 3], [4, 5]] */
	cr_assert_eq(PARSE("\x83\x01\x82\x02\x03\x82\x04\x05"), 8);
	cr_assert_eq(toks[0].type, SL_DOC_ARR);
	cr_assert_eq(toks[0].count, 3);
	cr_assert_eq(toks[0].end, 8);
	cr_assert_eq(toks[0].len, 8);
	cr_assert_eq(toks[2].count, 2);
	cr_assert_eq(toks[2].end, 5);
	cr_assert_eq(toks[5].end, 8);
	cr_assert_eq(toks[7].i, 5);
	/* {} and [] */
	cr_assert_eq(PARSE("\xa0"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_OBJ);
	cr_assert_eq(toks[0].count, 0);
	cr_assert_eq(PARSE("\x80"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_ARR);
	/* {"a": 1, "b": [2, 3]} */
	cr_assert_eq(PARSE("\xa2\x61\x61\x01\x61\x62\x82\x02\x03"), 7);
	cr_assert_eq(toks[0].count, 2);
	cr_assert_eq(toks[0].end, 7);
	cr_assert_eq(toks[sl_doc_get(toks, 0, "a")].i, 1);
	cr_assert_eq(toks[sl_doc_get(toks, 0, "b")].type, SL_DOC_ARR);
	cr_assert_eq(sl_doc_get(toks, 0, "c"), -1);
	/* 25 elements: a one-byte length. */
	cr_assert_eq(PARSE("\x98\x19\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
			   "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x18\x18\x19"), 26);
	cr_assert_eq(toks[0].count, 25);
	cr_assert_eq(toks[25].i, 25);
}

Test(cbor, indefinite_containers)
{
	/* [_ 1, [2, 3], [_ 4, 5]] */
	cr_assert_eq(PARSE("\x9f\x01\x82\x02\x03\x9f\x04\x05\xff\xff"), 8);
	cr_assert_eq(toks[0].count, 3);
	cr_assert_eq(toks[0].end, 8);
	cr_assert_eq(toks[0].len, 10);
	cr_assert_eq(toks[5].count, 2);
	cr_assert_eq(toks[5].end, 8);
	/* {_ "a": 1, "b": [_ 2, 3]} */
	cr_assert_eq(PARSE("\xbf\x61\x61\x01\x61\x62\x9f\x02\x03\xff\xff"), 7);
	cr_assert_eq(toks[0].type, SL_DOC_OBJ);
	cr_assert_eq(toks[0].count, 2);
	cr_assert_eq(toks[sl_doc_get(toks, 0, "b")].count, 2);
	/* ["a", {_ "b": "c"}] */
	cr_assert_eq(PARSE("\x82\x61\x61\xbf\x61\x62\x61\x63\xff"), 5);
	cr_assert_eq(toks[2].count, 1);
	cr_assert_eq(PARSE("\x9f\xff"), 1);
	cr_assert_eq(toks[0].count, 0);
	cr_assert_eq(PARSE("\xbf\xff"), 1);
	cr_assert_eq(toks[0].count, 0);
}

Test(cbor, end_skips_subtrees)
{
	/* {"x": [1, [2, {"y": 3}]], "z": 7} */
	const char doc[] = "\xa2\x61x\x82\x01\x82\x02\xa1\x61y\x03\x61z\x07";
	uint32_t c = sl_doc_first(0);

	cr_assert_eq(PARSE(doc), 11);
	cr_assert_eq(toks[c].type, SL_DOC_STR);
	c = sl_doc_next(toks, c);
	cr_assert_eq(toks[c].type, SL_DOC_ARR);
	c = sl_doc_next(toks, c);
	cr_assert_eq(toks[c].type, SL_DOC_STR);
	cr_assert_eq(*toks[c].ptr, 'z');
	c = sl_doc_next(toks, c);
	cr_assert_eq(toks[c].i, 7);
	cr_assert_eq(sl_doc_next(toks, c), toks[0].end);
}

Test(cbor, map_keys_must_be_text)
{
	cr_assert_eq(PARSE("\xa1\x01\x02"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\xa1\x41\x61\x02"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\xbf\x01\x02\xff"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\xa1\x80\x02"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\xa1\xf6\x02"), SL_DOC_INVALID);
	/* Text keys may themselves be chunked, then they never match a lookup. */
	cr_assert_eq(PARSE("\xa1\x7f\x61\x61\xff\x02"), 3);
	cr_assert_eq(sl_doc_get(toks, 0, "a"), -1);
	/* Values can be anything. */
	cr_assert_eq(PARSE("\xa1\x61\x61\xa1\x61\x62\x40"), 5);
}

Test(cbor, tags)
{
	/* 1(1363896240) */
	cr_assert_eq(PARSE("\xc1\x1a\x51\x4b\x67\xb0"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_INT);
	cr_assert_eq(toks[0].i, 1363896240);
	cr_assert_eq(toks[0].flags, SL_DOC_F_TIME);
	/* 1(1363896240.5) */
	cr_assert_eq(PARSE("\xc1\xfb\x41\xd4\x52\xd9\xec\x20\x00\x00"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_FLOAT);
	cr_assert_eq(toks[0].d, 1363896240.5);
	cr_assert_eq(toks[0].flags, SL_DOC_F_TIME);
	/* 1(-5) */
	cr_assert_eq(PARSE("\xc1\x24"), 1);
	cr_assert_eq(toks[0].i, -5);
	cr_assert_eq(toks[0].flags, SL_DOC_F_TIME);
	/* 0("2013-03-21T20:04:00Z"): other tags pass through. */
	cr_assert_eq(PARSE("\xc0\x74" "2013-03-21T20:04:00Z"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_STR);
	cr_assert_eq(toks[0].flags, 0);
	cr_assert_eq(toks[0].len, 20);
	/* 23(h'01020304'), 32("http://x"), 55799 self-describe, tag inside an array. */
	cr_assert_eq(PARSE("\xd7\x44\x01\x02\x03\x04"), 1);
	cr_assert_eq(toks[0].type, SL_DOC_BLOB);
	cr_assert_eq(PARSE("\xd9\xd9\xf7\x82\xc1\x01\xc2\x41\x01"), 3);
	cr_assert_eq(toks[1].flags, SL_DOC_F_TIME);
	cr_assert_eq(toks[2].flags, 0);
	/* Nested tags: tag 1 still applies to the number underneath. */
	cr_assert_eq(PARSE("\xc1\xd8\x64\x05"), 1);
	cr_assert_eq(toks[0].flags, SL_DOC_F_TIME);
	/* Tagged map keys are still text. */
	cr_assert_eq(PARSE("\xa1\xd8\x20\x61\x61\x01"), 3);
	cr_assert_eq(toks[sl_doc_get(toks, 0, "a")].i, 1);
}

Test(cbor, tags_invalid)
{
	cr_assert_eq(PARSE("\xc1\x61\x61"), SL_DOC_INVALID, "time on a string");
	cr_assert_eq(PARSE("\xc1\xf6"), SL_DOC_INVALID, "time on null");
	cr_assert_eq(PARSE("\xc1\x80"), SL_DOC_INVALID, "time on an array");
	cr_assert_eq(PARSE("\xc1\xf5"), SL_DOC_INVALID, "time on a bool");
	cr_assert_eq(PARSE("\xc1"), SL_DOC_INVALID, "tag without item");
	cr_assert_eq(PARSE("\xc0\xc0"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\xdf\x01"), SL_DOC_INVALID, "indefinite tag");
	cr_assert_eq(PARSE("\x9f\xc0\xff"), SL_DOC_INVALID, "tag on break");
	cr_assert_eq(PARSE("\xa1\xc1\x61\x61\x01"), SL_DOC_INVALID, "time on a key");
	cr_assert_eq(PARSE("\xd8"), SL_DOC_INVALID);
}

Test(cbor, reserved_and_misplaced_bytes)
{
	for (uint8_t major = 0; major < 8; major++) {
		for (uint8_t ai = 28; ai <= 30; ai++) {
			uint8_t b[2] = { (uint8_t)(major << 5 | ai), 0 };

			cr_assert_eq(parse_n(b, 1), SL_DOC_INVALID, "ib %02x", b[0]);
			cr_assert_eq(parse_n(b, 2), SL_DOC_INVALID, "ib %02x", b[0]);
		}
		for (uint8_t ai = 28; ai <= 30; ai++) {
			/* Enough bytes after the head that only the reserved value can fail. */
			uint8_t b[80] = { (uint8_t)(major << 5 | ai) };

			cr_assert_eq(parse_n(b, sizeof(b)), SL_DOC_INVALID, "ib %02x", b[0]);
		}
	}
	cr_assert_eq(PARSE("\x1f"), SL_DOC_INVALID, "indefinite uint");
	cr_assert_eq(PARSE("\x3f"), SL_DOC_INVALID, "indefinite nint");
	cr_assert_eq(PARSE("\xff"), SL_DOC_INVALID, "break at top");
	cr_assert_eq(PARSE("\x81\xff"), SL_DOC_INVALID, "break in definite array");
	cr_assert_eq(PARSE("\x82\x01\xff"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\xa1\xff"), SL_DOC_INVALID, "break in definite map");
	cr_assert_eq(PARSE("\xbf\x61\x61\xff"), SL_DOC_INVALID, "break after a key");
	cr_assert_eq(PARSE("\x9f\x01\xff\xff"), SL_DOC_INVALID, "extra break");
	cr_assert_eq(PARSE("\x01\x02"), SL_DOC_INVALID, "trailing data");
	cr_assert_eq(PARSE("\x80\x00"), SL_DOC_INVALID, "trailing data");
	cr_assert_eq(parse_n((const uint8_t *)"", 0), SL_DOC_INVALID, "empty");
}

Test(cbor, lengths_must_fit)
{
	cr_assert_eq(PARSE("\x5b\xff\xff\xff\xff\xff\xff\xff\xff\x00"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\x7b\x80\x00\x00\x00\x00\x00\x00\x01\x00"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\x7a\xff\xff\xff\xff\x00"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\x9b\xff\xff\xff\xff\xff\xff\xff\xff\x00"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\xbb\x80\x00\x00\x00\x00\x00\x00\x00\x61\x61\x00"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\xbb\x40\x00\x00\x00\x00\x00\x00\x00\x61\x61\x00"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\x5f\x5b\xff\xff\xff\xff\xff\xff\xff\xff\xff"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\x43\x01\x02"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\x82\x01"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\xa2\x61\x61\x01\x61\x62"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\x19\x01"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\x1b\x00\x00\x00\x00\x00\x00\x00"), SL_DOC_INVALID);
	cr_assert_eq(PARSE("\xfb\x00\x00\x00"), SL_DOC_INVALID);
}

static int nested(uint8_t open, int depth, int max)
{
	static uint8_t doc[256];
	int n = 0;

	for (int i = 0; i < depth; i++) {
		doc[n++] = open;
		if (open == 0xa1 || open == 0xbf)
			doc[n++] = 0x60; /* key "" */
	}
	doc[n++] = 0x00;
	if (open == 0x9f || open == 0xbf)
		for (int i = 0; i < depth; i++)
			doc[n++] = 0xff;
	return sl_cbor_parse(doc, (size_t)n, toks, (uint32_t)max);
}

Test(cbor, depth_limit)
{
	cr_assert_eq(nested(0x81, SL_DOC_DEPTH_MAX, NTOK), SL_DOC_DEPTH_MAX + 1);
	cr_assert_eq(toks[0].end, SL_DOC_DEPTH_MAX + 1);
	cr_assert_eq(nested(0x81, SL_DOC_DEPTH_MAX + 1, NTOK), SL_DOC_TOO_BIG);
	cr_assert_eq(nested(0x9f, SL_DOC_DEPTH_MAX, NTOK), SL_DOC_DEPTH_MAX + 1);
	cr_assert_eq(nested(0x9f, SL_DOC_DEPTH_MAX + 1, NTOK), SL_DOC_TOO_BIG);
	cr_assert_eq(nested(0xa1, SL_DOC_DEPTH_MAX, NTOK), 2 * SL_DOC_DEPTH_MAX + 1);
	cr_assert_eq(nested(0xa1, SL_DOC_DEPTH_MAX + 1, NTOK), SL_DOC_TOO_BIG);
	cr_assert_eq(nested(0xbf, SL_DOC_DEPTH_MAX, NTOK), 2 * SL_DOC_DEPTH_MAX + 1);
	cr_assert_eq(nested(0xbf, SL_DOC_DEPTH_MAX + 1, NTOK), SL_DOC_TOO_BIG);
}

Test(cbor, token_overflow)
{
	const uint8_t doc[] = { 0x83, 0x01, 0x02, 0x82, 0x03, 0x04 };

	cr_assert_eq(sl_cbor_parse(doc, sizeof(doc), toks, 6), 6);
	cr_assert_eq(sl_cbor_parse(doc, sizeof(doc), toks, 5), SL_DOC_TOO_BIG);
	cr_assert_eq(sl_cbor_parse(doc, sizeof(doc), toks, 0), SL_DOC_TOO_BIG);
}

/* No strict prefix of a document may parse, and none may read past its end. */
Test(cbor, every_truncated_prefix_is_invalid)
{
	const char doc[] =
		"\xbf\x6aStreamName\x69my-stream\x67Records\x82"
		"\xa2\x64" "Data\x45hello\x6cPartitionKey\x7f\x61p\x62q\x72\xff"
		"\xbf\x61n\x3a\x00\x01\x86\x9f\x61" "f\xfb\x3f\xf1\x99\x99\x99\x99\x99\x9a"
		"\x61h\xf9\x3c\x00\x61s\xfa\x47\xc3\x50\x00\x61t\xc1\x1a\x51\x4b\x67\xb0"
		"\x61" "b\xf5\x61z\xf6\x61u\xf7\x61" "e\xa0\x61" "a\x9f\xff\x61" "c\x5f\x41\x01\xff"
		"\x61" "d\xd8\x20\x19\x01\x00\xff"
		"\x63" "Big\x1b\x00\x00\x01\x00\x00\x00\x00\x00\xff";
	size_t n = sizeof(doc) - 1;

	cr_assert_gt(parse_n((const uint8_t *)doc, n), 0);
	cr_assert_eq(sl_doc_get(toks, 0, "Big") > 0, 1);
	for (size_t i = 0; i < n; i++) {
		uint8_t *copy = malloc(i + 1);

		memcpy(copy, doc, i);
		cr_assert_eq(sl_cbor_parse(copy, i, toks, NTOK), SL_DOC_INVALID, "prefix %zu", i);
		free(copy);
	}
}
