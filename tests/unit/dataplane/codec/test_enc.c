/* test_enc.c - the JSON/CBOR response writer and base64. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/doc.h"
#include "dataplane/codec/enc.h"

static struct sl_enc e;

static void json_init(void)
{
	cr_assert_eq(sl_enc_init(&e, SL_ENC_JSON, 0), 0);
}

static void cbor_init(void)
{
	cr_assert_eq(sl_enc_init(&e, SL_ENC_CBOR, 0), 0);
}

static void fini(void)
{
	sl_enc_free(&e);
}

/* The encoder's bytes equal the n bytes at want. */
static void expect(const void *want, size_t n)
{
	cr_assert_eq(e.err, 0);
	cr_assert_eq(e.len, n, "len %zu want %zu: %.*s", e.len, n, (int)e.len, (const char *)e.buf);
	cr_assert_eq(memcmp(e.buf, want, n), 0, "got %.*s", (int)e.len, (const char *)e.buf);
}

#define EXPECT_STR(s) expect((s), strlen(s))
#define EXPECT_BYTES(lit) expect((lit), sizeof(lit) - 1)

/* A small reply touching every writer. */
static void build_reply(void)
{
	static const uint8_t blob[] = { 'h', 'i', 0x00, 0xff };

	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "Name");
	sl_enc_cstr(&e, "s1");
	sl_enc_key(&e, "Count");
	sl_enc_int(&e, -25);
	sl_enc_key(&e, "List");
	sl_enc_arr_begin(&e);
	sl_enc_int(&e, 1);
	sl_enc_bool(&e, 1);
	sl_enc_bool(&e, 0);
	sl_enc_null(&e);
	sl_enc_obj_begin(&e);
	sl_enc_obj_end(&e);
	sl_enc_arr_begin(&e);
	sl_enc_arr_end(&e);
	sl_enc_arr_end(&e);
	sl_enc_key(&e, "Data");
	sl_enc_blob(&e, blob, sizeof(blob));
	sl_enc_key(&e, "At");
	sl_enc_time_ms(&e, 1700000000123);
	sl_enc_obj_end(&e);
}

Test(enc_json, full_reply, .init = json_init, .fini = fini)
{
	build_reply();
	EXPECT_STR("{\"Name\":\"s1\",\"Count\":-25,\"List\":[1,true,false,null,{},[]],"
		   "\"Data\":\"aGkA/w==\",\"At\":1700000000.123}");
	cr_assert_eq(e.depth, 0);
}

Test(enc_json, nested_commas, .init = json_init, .fini = fini)
{
	sl_enc_arr_begin(&e);
	sl_enc_arr_begin(&e);
	sl_enc_int(&e, 1);
	sl_enc_int(&e, 2);
	sl_enc_arr_end(&e);
	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "a");
	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "b");
	sl_enc_arr_begin(&e);
	sl_enc_arr_end(&e);
	sl_enc_key(&e, "c");
	sl_enc_int(&e, 3);
	sl_enc_obj_end(&e);
	sl_enc_key(&e, "d");
	sl_enc_cstr(&e, "");
	sl_enc_obj_end(&e);
	sl_enc_int(&e, 4);
	sl_enc_arr_end(&e);
	EXPECT_STR("[[1,2],{\"a\":{\"b\":[],\"c\":3},\"d\":\"\"},4]");
}

Test(enc_json, string_escapes, .init = json_init, .fini = fini)
{
	const char s[] = "q\"b\\s/n\nr\rt\tb\bf\f\x01\x1f\x7f\xc3\xa9\0end";

	sl_enc_str(&e, s, sizeof(s) - 1);
	EXPECT_STR("\"q\\\"b\\\\s/n\\nr\\rt\\tb\\bf\\f\\u0001\\u001f\x7f\xc3\xa9\\u0000end\"");
}

Test(enc_json, key_escapes, .init = json_init, .fini = fini)
{
	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "a\"b");
	sl_enc_int(&e, 0);
	sl_enc_obj_end(&e);
	EXPECT_STR("{\"a\\\"b\":0}");
}

Test(enc_json, integers, .init = json_init, .fini = fini)
{
	sl_enc_arr_begin(&e);
	sl_enc_int(&e, 0);
	sl_enc_int(&e, 7);
	sl_enc_int(&e, -1);
	sl_enc_int(&e, 1234567890123);
	sl_enc_int(&e, INT64_MAX);
	sl_enc_int(&e, INT64_MIN);
	sl_enc_arr_end(&e);
	EXPECT_STR("[0,7,-1,1234567890123,9223372036854775807,-9223372036854775808]");
}

Test(enc_json, time_has_three_decimals, .init = json_init, .fini = fini)
{
	sl_enc_arr_begin(&e);
	sl_enc_time_ms(&e, 1700000000123);
	sl_enc_time_ms(&e, 1700000000000);
	sl_enc_time_ms(&e, 1700000000005);
	sl_enc_time_ms(&e, 1700000000050);
	sl_enc_time_ms(&e, 0);
	sl_enc_time_ms(&e, 999);
	sl_enc_arr_end(&e);
	EXPECT_STR("[1700000000.123,1700000000.000,1700000000.005,1700000000.050,0.000,0.999]");
}

Test(enc_json, blob_base64, .init = json_init, .fini = fini)
{
	sl_enc_arr_begin(&e);
	sl_enc_blob(&e, "", 0);
	sl_enc_blob(&e, "f", 1);
	sl_enc_blob(&e, "fo", 2);
	sl_enc_blob(&e, "foo", 3);
	sl_enc_arr_end(&e);
	EXPECT_STR("[\"\",\"Zg==\",\"Zm8=\",\"Zm9v\"]");
}

Test(enc_json, raw_is_one_value, .init = json_init, .fini = fini)
{
	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "a");
	sl_enc_raw(&e, "[1,2]", 5);
	sl_enc_key(&e, "b");
	sl_enc_arr_begin(&e);
	sl_enc_raw(&e, "{}", 2);
	sl_enc_raw(&e, "3", 1);
	sl_enc_arr_end(&e);
	sl_enc_obj_end(&e);
	EXPECT_STR("{\"a\":[1,2],\"b\":[{},3]}");
}

Test(enc_cbor, full_reply, .init = cbor_init, .fini = fini)
{
	build_reply();
	EXPECT_BYTES("\xbf\x64Name\x62s1\x65" "Count\x38\x18\x64List\x9f\x01\xf5\xf4\xf6\xbf\xff"
		     "\x9f\xff\xff\x64" "Data\x44hi\x00\xff\x62" "At\xc1\x1b\x00\x00\x01\x8b\xcf\xe5\x68\x7b\xff");
	cr_assert_eq(e.depth, 0);
}

struct cbor_int_case {
	int64_t v;
	const char *bytes;
	size_t n;
};

#define CI(v, lit) { v, lit, sizeof(lit) - 1 }

Test(enc_cbor, shortest_integers, .init = cbor_init, .fini = fini)
{
	static const struct cbor_int_case cases[] = {
		CI(0, "\x00"), CI(23, "\x17"), CI(24, "\x18\x18"), CI(255, "\x18\xff"),
		CI(256, "\x19\x01\x00"), CI(65535, "\x19\xff\xff"), CI(65536, "\x1a\x00\x01\x00\x00"),
		CI(4294967295, "\x1a\xff\xff\xff\xff"),
		CI(4294967296, "\x1b\x00\x00\x00\x01\x00\x00\x00\x00"),
		CI(INT64_MAX, "\x1b\x7f\xff\xff\xff\xff\xff\xff\xff"),
		CI(-1, "\x20"), CI(-24, "\x37"), CI(-25, "\x38\x18"), CI(-256, "\x38\xff"),
		CI(-257, "\x39\x01\x00"), CI(-1000, "\x39\x03\xe7"),
		CI(INT64_MIN, "\x3b\x7f\xff\xff\xff\xff\xff\xff\xff"),
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sl_enc_reset(&e);
		sl_enc_int(&e, cases[i].v);
		expect(cases[i].bytes, cases[i].n);
	}
}

Test(enc_cbor, string_lengths, .init = cbor_init, .fini = fini)
{
	static char big[300];

	memset(big, 'x', sizeof(big));
	sl_enc_str(&e, big, 23);
	cr_assert_eq(e.buf[0], 0x77);
	cr_assert_eq(e.len, 24);
	sl_enc_reset(&e);
	sl_enc_str(&e, big, 24);
	cr_assert_eq(e.buf[0], 0x78);
	cr_assert_eq(e.buf[1], 24);
	sl_enc_reset(&e);
	sl_enc_blob(&e, big, 300);
	cr_assert_eq(e.buf[0], 0x59);
	cr_assert_eq(e.buf[1], 0x01);
	cr_assert_eq(e.buf[2], 0x2c);
	cr_assert_eq(e.len, 303);
}

/* AWS CBOR 1.1 writes timestamps as tag 1 around epoch milliseconds. */
Test(enc_cbor, time_is_tag1_milliseconds, .init = cbor_init, .fini = fini)
{
	sl_enc_time_ms(&e, 1500);
	EXPECT_BYTES("\xc1\x19\x05\xdc");
}

/* What the encoder writes, the parser reads back, in both formats. */
static void check_roundtrip(int (*parse)(const uint8_t *, size_t, struct sl_doc_tok *, uint32_t))
{
	struct sl_doc_tok t[64];
	char s[32];
	uint8_t b[8];
	int n, v;

	build_reply();
	n = parse(e.buf, e.len, t, 64);
	cr_assert_eq(n, 17);
	cr_assert_eq(t[0].count, 5);
	cr_assert_eq(sl_doc_str(&t[sl_doc_get(t, 0, "Name")], s, sizeof(s)), 2);
	cr_assert_str_eq(s, "s1");
	cr_assert_eq(t[sl_doc_get(t, 0, "Count")].i, -25);
	v = sl_doc_get(t, 0, "List");
	cr_assert_eq(t[v].count, 6);
	v = sl_doc_get(t, 0, "Data");
	cr_assert_eq(sl_doc_blob(&t[v], b, sl_doc_blob_max(&t[v])), 4);
	cr_assert_eq(memcmp(b, "hi\0\xff", 4), 0);
	v = sl_doc_get(t, 0, "At");
	if (t[v].flags & SL_DOC_F_TIME) {
		/* CBOR: tag 1 around epoch milliseconds. */
		cr_assert_eq(t[v].type, SL_DOC_INT);
		cr_assert_eq(t[v].i, 1700000000123);
	} else {
		cr_assert_eq(t[v].type, SL_DOC_FLOAT);
		cr_assert_float_eq(t[v].d, 1700000000.123, 1e-6);
	}
}

Test(enc_json, roundtrip, .init = json_init, .fini = fini)
{
	check_roundtrip(sl_json_parse);
}

Test(enc_cbor, roundtrip, .init = cbor_init, .fini = fini)
{
	check_roundtrip(sl_cbor_parse);
	cr_assert_eq(e.err, 0);
}

Test(enc, growth_and_take)
{
	static char big[100000];
	uint8_t *buf;
	size_t len;

	memset(big, 'a', sizeof(big));
	cr_assert_eq(sl_enc_init(&e, SL_ENC_JSON, 1), 0);
	cr_assert_eq(e.cap, 64);
	sl_enc_str(&e, big, sizeof(big));
	cr_assert_eq(e.err, 0);
	cr_assert_eq(e.len, sizeof(big) + 2);
	cr_assert_geq(e.cap, e.len);
	cr_assert_eq(e.cap & (e.cap - 1), 0, "doubling from 64 gives a power of two");
	cr_assert_eq(e.buf[0], '"');
	cr_assert_eq(e.buf[sizeof(big)], 'a');
	cr_assert_eq(e.buf[sizeof(big) + 1], '"');
	buf = sl_enc_take(&e, &len);
	cr_assert_not_null(buf);
	cr_assert_eq(len, sizeof(big) + 2);
	cr_assert_null(e.buf);
	cr_assert_eq(e.cap, 0);
	cr_assert_eq(e.len, 0);
	free(buf);
	/* A later write allocates afresh. */
	sl_enc_int(&e, 42);
	EXPECT_STR("42");
	sl_enc_free(&e);
	cr_assert_null(e.buf);
}

Test(enc, reset_keeps_buffer, .init = json_init, .fini = fini)
{
	uint8_t *buf = e.buf;

	sl_enc_arr_begin(&e);
	sl_enc_int(&e, 1);
	sl_enc_reset(&e);
	cr_assert_eq(e.buf, buf);
	cr_assert_eq(e.len, 0);
	cr_assert_eq(e.depth, 0);
	sl_enc_arr_begin(&e);
	sl_enc_int(&e, 2);
	sl_enc_arr_end(&e);
	EXPECT_STR("[2]");
}

Test(enc, failed_growth_latches, .init = json_init, .fini = fini)
{
	size_t len;

	sl_enc_arr_begin(&e);
	/* A length no allocator can satisfy: growth fails without touching p. */
	sl_enc_raw(&e, "", SIZE_MAX - 16);
	cr_assert_eq(e.err, -ENOMEM);
	cr_assert_eq(e.len, 1);
	sl_enc_int(&e, 5);
	sl_enc_cstr(&e, "x");
	sl_enc_arr_end(&e);
	cr_assert_eq(e.len, 1, "later calls are no-ops");
	cr_assert_eq(e.err, -ENOMEM);
	cr_assert_null(sl_enc_take(&e, &len));
	cr_assert_eq(len, 0);
}

Test(base64, rfc4648_vectors)
{
	static const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	char out[16];
	uint8_t dec[16];

	for (size_t i = 0; i < 7; i++) {
		size_t n = strlen(plain[i]);

		cr_assert_eq(sl_base64_enc_len(n), strlen(coded[i]));
		cr_assert_eq(sl_base64_enc(out, (const uint8_t *)plain[i], n), strlen(coded[i]));
		cr_assert_eq(memcmp(out, coded[i], strlen(coded[i])), 0);
		cr_assert_eq(sl_base64_dec(dec, coded[i], strlen(coded[i])), (long)n);
		cr_assert_eq(memcmp(dec, plain[i], n), 0);
	}
}

Test(base64, rejects_bad_input)
{
	static const char *bad[] = {
		"Z", "Zg", "Zg=", "Zm9vY", "Zg==Zg==", "Zg=a", "Z===", "====", "=Zm9", "Zm=v",
		"Zh==", "Zm9=", "Zm 9", "Zm9\n", "Zm-v", "Zm_v", "Zm9\x80", "Zm9\xff",
		"Zm9vYmFy=", "Zm9vYmF=Zm9v", "Zm9vZ\0==",
	};
	uint8_t out[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(sl_base64_dec(out, bad[i], strlen(bad[i]) + (i == 20 ? 3 : 0)), -1,
			     "%s", bad[i]);
}

Test(base64, all_bytes_roundtrip)
{
	uint8_t in[256], back[256];
	char txt[400];

	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)(i * 7 + 3);
	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t m = sl_base64_enc(txt, in, n);

		cr_assert_eq(m, sl_base64_enc_len(n));
		cr_assert_eq(sl_base64_dec(back, txt, m), (long)n);
		cr_assert_eq(memcmp(back, in, n), 0);
	}
	/* Every character of the alphabet decodes, and back. */
	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	sl_base64_enc(txt, in, 192);
	cr_assert_eq(memcmp(txt, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", 44), 0);
	cr_assert_eq(sl_base64_enc(txt, in + 252, 4), 8);
	cr_assert_eq(memcmp(txt, "/P3+/w==", 8), 0);
}

/* The decoding tables: each byte value in each position of a quad (and of
 * a non-final quad) is accepted exactly when it is in the alphabet. */
Test(base64, every_byte_in_every_position)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t out[8];

	for (int c = 0; c < 256; c++) {
		const char *at = c != 0 ? strchr(alpha, c) : NULL;

		for (int pos = 0; pos < 8; pos++) {
			char q[8];
			long r;

			memcpy(q, "AAAAAAAA", 8);
			q[pos] = (char)c;
			r = sl_base64_dec(out, q, 8);
			if (c == '=' && pos == 7) {
				cr_assert_eq(r, 5, "one padding character at the very end");
				continue;
			}
			if (at == NULL) {
				cr_assert_eq(r, -1, "byte %d pos %d", c, pos);
				continue;
			}
			cr_assert_eq(r, 6, "byte %d pos %d", c, pos);
			/* The sextet lands at bit 18 - 6 * (pos % 4) of its quad's 24 bits. */
			{
				uint32_t v = (uint32_t)out[pos / 4 * 3] << 16 | (uint32_t)out[pos / 4 * 3 + 1] << 8 |
					     out[pos / 4 * 3 + 2];

				cr_assert_eq(v, (uint32_t)(at - alpha) << (18 - 6 * (pos % 4)));
			}
		}
	}
}
