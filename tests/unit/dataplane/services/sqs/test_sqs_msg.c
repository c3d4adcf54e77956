/* Tests for dataplane/services/sqs/msg.c: the characters, names, types and
 * numbers AWS accepts, the MD5 digests clients verify (expected values from
 * an independent implementation of AWS's documented encoding), the stored
 * send record in every prefix, and receipt handles. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/services/sqs/msg.h"

/* A literal as bytes and length (U) or as text and length (T). */
#define U(x) (const uint8_t *)(x), strlen(x)
#define T(x) (x), strlen(x)

Test(sqs_msg, body_characters_are_aws_xml_characters_in_utf8)
{
	int32_t bad = 0;

	cr_assert(sl_sqs_chars_ok(U("plain text\t\r\n"), &bad), "tab, CR and LF are allowed");
	cr_assert(sl_sqs_chars_ok(U("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), &bad), "2, 3 and 4 bytes");
	cr_assert(sl_sqs_chars_ok(U("\xee\x80\x80\xef\xbf\xbd"), &bad), "U+E000 and U+FFFD");
	cr_assert_not(sl_sqs_chars_ok((const uint8_t *)"a\0b", 3, &bad));
	cr_assert_eq(bad, 0, "NUL is named");
	cr_assert_not(sl_sqs_chars_ok(U("\x1f"), &bad));
	cr_assert_eq(bad, 0x1f);
	cr_assert_not(sl_sqs_chars_ok(U("\xef\xbf\xbe"), &bad), "U+FFFE");
	cr_assert_eq(bad, 0xfffe);
	const char *broken[] = { "\xc3", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff",
				 "\xe2\x82", "\x80" };
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		bad = 0;
		cr_assert_not(sl_sqs_chars_ok(U(broken[i]), &bad), "case %zu", i);
		cr_assert_eq(bad, -1, "case %zu is bad UTF-8", i);
	}
}

Test(sqs_msg, attribute_names_and_types)
{
	bool bin, num;

	cr_assert(sl_sqs_attr_name_ok(T("trace-id_1.v2")));
	const char *bad[] = { "", ".a", "a.", "a..b", "AWS.x", "aws.x", "Amazon.y", "amazon.Y",
			      "sp ace", "\xc3\xa9" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(sl_sqs_attr_name_ok(bad[i], strlen(bad[i])), "%s", bad[i]);
	char long_name[SL_SQS_ATTR_NAME_MAX + 2];
	memset(long_name, 'n', sizeof(long_name));
	cr_assert(sl_sqs_attr_name_ok(long_name, SL_SQS_ATTR_NAME_MAX));
	cr_assert_not(sl_sqs_attr_name_ok(long_name, SL_SQS_ATTR_NAME_MAX + 1));
	cr_assert(sl_sqs_attr_name_ok(T("AWSx")), "only the AWS. prefix is reserved");

	cr_assert(sl_sqs_attr_type_ok(T("String"), &bin, &num) && !bin && !num);
	cr_assert(sl_sqs_attr_type_ok(T("Number.float"), &bin, &num) && !bin && num);
	cr_assert(sl_sqs_attr_type_ok(T("Binary.gif"), &bin, &num) && bin && !num);
	const char *types[] = { "", "string", "String.", "Strings", "Int", ".String" };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		cr_assert_not(sl_sqs_attr_type_ok(types[i], strlen(types[i]), &bin, &num), "%s",
			      types[i]);
}

Test(sqs_msg, numbers_within_38_digits_and_aws_range)
{
	const char *good[] = { "0", "-0", "42", "+7", "3.14", ".5", "5.", "-1e-128", "1e126",
			       "9.9999999999999999999999999999999999999e125",
			       "12345678901234567890123456789012345678", "0.000001",
			       "1234567890123456789012345678901234567800000" };
	const char *bad[] = { "", "-", ".", "1e", "1e+", "abc", "1.2.3", "1e127", "1e-129",
			      "123456789012345678901234567890123456789", "0x10", "1 ", " 1",
			      "1e99999999" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(sl_sqs_number_ok(good[i], strlen(good[i])), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(sl_sqs_number_ok(bad[i], strlen(bad[i])), "%s", bad[i]);
}

static struct sl_sqs_attr str_attr(const char *name, const char *type, const char *value)
{
	return (struct sl_sqs_attr){ name, type, (const uint8_t *)value, (uint32_t)strlen(name),
				     (uint32_t)strlen(type), (uint32_t)strlen(value), false };
}

Test(sqs_msg, digests_match_the_documented_encoding)
{
	char md5[33];

	sl_sqs_md5_hex("hello world", 11, md5);
	cr_assert_str_eq(md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
	struct sl_sqs_attr one = str_attr("attr1", "String", "value1");
	cr_assert_eq(sl_sqs_attrs_md5(&one, 1, md5), 0);
	cr_assert_str_eq(md5, "3bc3f392bdd1097ba0b434f65d468d2e");
	/* Order of arrival does not matter: names are sorted by bytes. */
	static const uint8_t bytes[] = { 0x00, 0x01, 0xff };
	struct sl_sqs_attr three[3] = {
		str_attr("b", "Number", "42"),
		str_attr("a", "String.custom", "h\xc3\xa9"),
		{ "c", "Binary", bytes, 1, 6, 3, true },
	};
	cr_assert_eq(sl_sqs_attrs_md5(three, 3, md5), 0);
	cr_assert_str_eq(md5, "e846791d530288782bead46d4e20676b");
	struct sl_sqs_attr swapped[3] = { three[2], three[0], three[1] };
	cr_assert_eq(sl_sqs_attrs_md5(swapped, 3, md5), 0);
	cr_assert_str_eq(md5, "e846791d530288782bead46d4e20676b");
	struct sl_sqs_attr dup[2] = { three[0], three[0] };
	cr_assert_eq(sl_sqs_attrs_md5(dup, 2, md5), -EINVAL);
	cr_assert_eq(sl_sqs_attrs_size(three, 3), 1 + 6 + 2 + 1 + 13 + 3 + 1 + 6 + 3);
}

Test(sqs_msg, a_stored_send_reads_back_and_no_prefix_or_variant_passes)
{
	static const uint8_t bin[] = { 9, 8, 7 };
	struct sl_sqs_stored m = { .sent_ms = 1700000000123, .delay_s = 900,
				   .body = (const uint8_t *)"the body", .body_len = 8,
				   .trace = (const uint8_t *)"Root=1-abc", .trace_len = 10,
				   .nattrs = 2 };
	m.attrs[0] = str_attr("k", "String", "v");
	m.attrs[1] = (struct sl_sqs_attr){ "img", "Binary.png", bin, 3, 10, 3, true };
	size_t n = sl_sqs_stored_size(&m);
	uint8_t *buf = malloc(n);
	sl_sqs_stored_encode(&m, buf);
	struct sl_sqs_stored r;
	cr_assert_eq(sl_sqs_stored_decode(buf, n, &r), 0);
	cr_assert_eq(r.sent_ms, m.sent_ms);
	cr_assert_eq(r.delay_s, 900);
	cr_assert_eq(r.body_len, 8);
	cr_assert_eq(memcmp(r.body, "the body", 8), 0);
	cr_assert_eq(r.trace_len, 10);
	cr_assert_eq(r.nattrs, 2);
	cr_assert_eq(r.attrs[1].binary, true);
	cr_assert_eq(memcmp(r.attrs[1].value, bin, 3), 0);
	cr_assert_eq(memcmp(r.attrs[0].name, "k", 1), 0);
	for (size_t k = 0; k < n; k++)
		cr_assert_neq(sl_sqs_stored_decode(buf, k, &r), 0, "a %zu-byte prefix decoded", k);
	/* A binary flag that disagrees with its type is not ours. */
	buf[n - 3 - 4 - 1] ^= 1;
	cr_assert_neq(sl_sqs_stored_decode(buf, n, &r), 0);
	free(buf);
}

Test(sqs_msg, a_fifo_send_keeps_its_group_and_deduplication_ids)
{
	struct sl_sqs_stored m = { .sent_ms = 5, .body = (const uint8_t *)"b", .body_len = 1,
				   .group = "orders-7", .group_len = 8,
				   .dedup = "id!#$%&'()*+,-./:;<=>?@[]^_`{|}~", .dedup_len = 32 };
	size_t n = sl_sqs_stored_size(&m);
	uint8_t *buf = malloc(n);
	struct sl_sqs_stored r;

	sl_sqs_stored_encode(&m, buf);
	cr_assert_eq(sl_sqs_stored_decode(buf, n, &r), 0);
	cr_assert_eq(r.group_len, 8);
	cr_assert_eq(memcmp(r.group, "orders-7", 8), 0);
	cr_assert_eq(r.dedup_len, 32);
	cr_assert_eq(memcmp(r.dedup, m.dedup, 32), 0);
	/* Without the group: the dedup id alone; a record of neither is the
	 * format of earlier versions and still reads. */
	m.group = NULL;
	m.group_len = 0;
	cr_assert_eq(sl_sqs_stored_size(&m), n - 2 - 8);
	sl_sqs_stored_encode(&m, buf);
	cr_assert_eq(sl_sqs_stored_decode(buf, n - 10, &r), 0);
	cr_assert_null(r.group);
	cr_assert_eq(r.dedup_len, 32);
	/* An id with a space is not one this encoder writes. */
	buf[n - 10 - 1] = ' ';
	cr_assert_neq(sl_sqs_stored_decode(buf, n - 10, &r), 0);
	/* An unknown flag is refused. */
	sl_sqs_stored_encode(&m, buf);
	buf[1] |= 4;
	cr_assert_neq(sl_sqs_stored_decode(buf, n - 10, &r), 0);
	free(buf);
	cr_assert(sl_sqs_fifo_id_ok("a", 1));
	cr_assert_not(sl_sqs_fifo_id_ok("", 0));
	cr_assert_not(sl_sqs_fifo_id_ok("caf\xc3\xa9", 5));
	char long_id[130];
	memset(long_id, 'x', sizeof(long_id));
	cr_assert(sl_sqs_fifo_id_ok(long_id, 128));
	cr_assert_not(sl_sqs_fifo_id_ok(long_id, 129));
}

Test(sqs_msg, receipt_handles_round_trip_and_refuse_anything_else)
{
	struct sl_sqs_receipt a = { 0x0102030405060708ull, 987654321ull, 3, 7 }, b;
	char s[SL_SQS_RECEIPT_LEN + 1];

	sl_sqs_receipt_fmt(&a, s);
	cr_assert_eq(strlen(s), SL_SQS_RECEIPT_LEN);
	cr_assert_eq(sl_sqs_receipt_parse(s, strlen(s), &b), 0);
	cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
	a.rseq = 8;
	char t[SL_SQS_RECEIPT_LEN + 1];
	sl_sqs_receipt_fmt(&a, t);
	cr_assert_str_neq(s, t, "each receive has its own handle");
	for (size_t i = 0; i < SL_SQS_RECEIPT_LEN; i++) {
		char c = s[i];
		s[i] = c == 'A' ? 'B' : 'A';
		cr_assert_neq(sl_sqs_receipt_parse(s, SL_SQS_RECEIPT_LEN, &b), 0, "byte %zu", i);
		s[i] = c;
	}
	cr_assert_neq(sl_sqs_receipt_parse(s, SL_SQS_RECEIPT_LEN - 1, &b), 0);
	cr_assert_neq(sl_sqs_receipt_parse("garbage", 7, &b), 0);
}
