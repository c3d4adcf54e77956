/* test_shape.c - sl_shape_check() and its matcher: a hand-written model that
 * exercises every rule, then the generated Kinesis table against the texts
 * AWS sends (as kinesalite's suite recorded them from the live service),
 * for JSON and CBOR bodies alike. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/codec/doc.h"
#include "dataplane/codec/regex.h"
#include "dataplane/codec/shape.h"

/* The generated table (dataplane/services/kinesis/shapes.c). */
extern const struct sl_shape_model sl_shape_model_kinesis;

#define NTOK 8192
#define MSG_CAP 4096

static struct sl_doc_tok toks[NTOK];
static char msg[65536];

/* ---- A hand-written model -------------------------------------------------- */

enum {
	H_IN, H_NAME, H_COUNT, H_BIG, H_RATIO, H_FLAG, H_WHEN, H_WHENTXT, H_DATA, H_KIND,
	H_SECRET, H_ITEMS, H_ITEM, H_ID, H_TAGS, H_TAGKEY, H_TAGVAL, H_KEYS, H_KEY,
	H_NESTED, H_DEEP, H_DEEPIN, H_ANY, H_WORD, H_SHORT, H_GROUPS, NH
};

#define MIN_I(v) .min = { .i = (v) }
#define MAX_I(v) .max = { .i = (v) }
#define F_MM (SL_SHAPE_F_MIN | SL_SHAPE_F_MAX)

static const struct sl_shape_member h_members[] = {
	/* In: 0..17 */
	{ "Name", "name", H_NAME, 4, 0 },
	{ "Count", "count", H_COUNT, 5, SL_SHAPE_OPTIONAL },
	{ "Big", "big", H_BIG, 3, SL_SHAPE_OPTIONAL },
	{ "Ratio", "ratio", H_RATIO, 5, SL_SHAPE_OPTIONAL },
	{ "Flag", "flag", H_FLAG, 4, SL_SHAPE_OPTIONAL },
	{ "When", "when", H_WHEN, 4, SL_SHAPE_OPTIONAL },
	{ "WhenText", "whenText", H_WHENTXT, 8, SL_SHAPE_OPTIONAL },
	{ "Data", "data", H_DATA, 4, SL_SHAPE_OPTIONAL },
	{ "Kind", "kind", H_KIND, 4, SL_SHAPE_OPTIONAL },
	{ "Secret", "secret", H_SECRET, 6, SL_SHAPE_OPTIONAL },
	/* A wire name (jsonName) that differs from the member name. */
	{ "ItemList", "items", H_ITEMS, 8, SL_SHAPE_OPTIONAL },
	{ "Tags", "tags", H_TAGS, 4, SL_SHAPE_OPTIONAL },
	{ "Keys", "keys", H_KEYS, 4, SL_SHAPE_OPTIONAL },
	{ "Nested", "nested", H_NESTED, 6, SL_SHAPE_OPTIONAL },
	{ "Deep", "deep", H_DEEP, 4, SL_SHAPE_OPTIONAL },
	{ "Any", "any", H_ANY, 3, SL_SHAPE_OPTIONAL },
	{ "Word", "word", H_WORD, 4, SL_SHAPE_OPTIONAL },
	{ "Short", "short", H_SHORT, 5, SL_SHAPE_OPTIONAL },
	{ "Groups", "groups", H_GROUPS, 6, SL_SHAPE_OPTIONAL },
	/* Item: 19..20 */
	{ "Id", "id", H_ID, 2, 0 },
	{ "Val", "val", H_COUNT, 3, SL_SHAPE_OPTIONAL },
	/* Nested: 21 */
	{ "Inner", "inner", H_NAME, 5, 0 },
};

static const struct sl_shape_str h_enums[] = { { "B", 1 }, { "A", 1 } };
static const char *const h_patterns[] = { "[a-z]+", "^(?!x)\\p{L}+$" };
static struct sl_re h_re[2];
static uint32_t h_sorted[32];

static const struct sl_shape h_shapes[NH] = {
	[H_IN] = { .type = SL_SHAPE_STRUCT, .nreq = 1, .a = 0, .b = 19, .c = 0, .name = "In" },
	[H_NAME] = { .type = SL_SHAPE_STRING, .flags = F_MM, .re = 1, MIN_I(1), MAX_I(5),
		     .name = "Name" },
	[H_COUNT] = { .type = SL_SHAPE_INT, .flags = F_MM, MIN_I(1), MAX_I(10), .name = "Count" },
	[H_BIG] = { .type = SL_SHAPE_LONG, .flags = F_MM, MIN_I(-5), MAX_I(5), .name = "Big" },
	[H_RATIO] = { .type = SL_SHAPE_DOUBLE, .flags = F_MM, .min = { .d = 0.5 },
		      .max = { .d = 2.5 }, .name = "Ratio" },
	[H_FLAG] = { .type = SL_SHAPE_BOOL, .name = "Flag" },
	[H_WHEN] = { .type = SL_SHAPE_TIME, .name = "When" },
	[H_WHENTXT] = { .type = SL_SHAPE_TIME, .flags = SL_SHAPE_F_TIME_TEXT, .name = "WhenText" },
	[H_DATA] = { .type = SL_SHAPE_BLOB, .flags = SL_SHAPE_F_MAX, MAX_I(4), .name = "Data" },
	[H_KIND] = { .type = SL_SHAPE_STRING, .a = 0, .b = 2, .c = 22, .name = "Kind" },
	[H_SECRET] = { .type = SL_SHAPE_STRING, .flags = SL_SHAPE_F_MIN | SL_SHAPE_F_SENSITIVE,
		       MIN_I(3), .name = "Secret" },
	[H_ITEMS] = { .type = SL_SHAPE_LIST, .flags = F_MM, .a = H_ITEM, MIN_I(1), MAX_I(3),
		      .name = "Items" },
	[H_ITEM] = { .type = SL_SHAPE_STRUCT, .nreq = 1, .a = 19, .b = 2, .c = 19, .name = "Item" },
	[H_ID] = { .type = SL_SHAPE_STRING, .flags = SL_SHAPE_F_MIN, MIN_I(2), .name = "Id" },
	[H_TAGS] = { .type = SL_SHAPE_MAP, .flags = SL_SHAPE_F_MAX, .a = H_TAGKEY, .b = H_TAGVAL,
		     MAX_I(2), .name = "Tags" },
	[H_TAGKEY] = { .type = SL_SHAPE_STRING, .flags = F_MM, MIN_I(1), MAX_I(3), .name = "TagKey" },
	[H_TAGVAL] = { .type = SL_SHAPE_STRING, .flags = SL_SHAPE_F_MAX, MAX_I(2), .name = "TagVal" },
	[H_KEYS] = { .type = SL_SHAPE_LIST, .flags = SL_SHAPE_F_MAX, .a = H_KEY, MAX_I(3),
		     .name = "Keys" },
	[H_KEY] = { .type = SL_SHAPE_STRING, .flags = F_MM, MIN_I(1), MAX_I(2), .name = "Key" },
	[H_NESTED] = { .type = SL_SHAPE_STRUCT, .nreq = 1, .a = 21, .b = 1, .c = 21, .name = "Nested" },
	[H_DEEP] = { .type = SL_SHAPE_LIST, .a = H_DEEPIN, .name = "Deep" },
	[H_DEEPIN] = { .type = SL_SHAPE_LIST, .flags = SL_SHAPE_F_MAX, .a = H_KEY, MAX_I(1),
		       .name = "DeepIn" },
	[H_ANY] = { .type = SL_SHAPE_ANY, .name = "Any" },
	[H_WORD] = { .type = SL_SHAPE_STRING, .re = 2, .name = "Word" },
	[H_SHORT] = { .type = SL_SHAPE_STRING, .flags = SL_SHAPE_F_MAX, MAX_I(3), .name = "Short" },
	[H_GROUPS] = { .type = SL_SHAPE_MAP, .a = H_KEY, .b = H_ITEM, .name = "Groups" },
};

static const struct sl_shape_op h_ops[] = { { "Op", 2, H_IN }, { "Void", 4, SL_SHAPE_NONE } };

static const struct sl_shape_model hand = {
	.service = "hand",
	.source = "test_shape.c",
	.java_pkg = "com.example",
	.shapes = h_shapes,
	.nshapes = NH,
	.members = h_members,
	.nmembers = sizeof(h_members) / sizeof(h_members[0]),
	.sorted = h_sorted,
	.enums = h_enums,
	.nenums = 2,
	.patterns = h_patterns,
	.re = h_re,
	.npatterns = 2,
	.ops = h_ops,
	.nops = 2,
};

/* The order of sorted[]: by length, then bytes. */
static int name_order(const char *a, const char *b)
{
	if (strlen(a) != strlen(b))
		return strlen(a) < strlen(b) ? -1 : 1;
	return strcmp(a, b);
}

/* Fill the sorted index of each structure [a, a+b) at c, and of the enum. */
static void sort_members(uint32_t a, uint32_t b, uint32_t c)
{
	for (uint32_t i = 0; i < b; i++)
		h_sorted[c + i] = a + i;
	for (uint32_t i = 1; i < b; i++)
		for (uint32_t j = i; j > 0 && name_order(h_members[h_sorted[c + j - 1]].name,
							 h_members[h_sorted[c + j]].name) > 0; j--) {
			uint32_t t = h_sorted[c + j];

			h_sorted[c + j] = h_sorted[c + j - 1];
			h_sorted[c + j - 1] = t;
		}
}

static void setup(void)
{
	sort_members(0, 19, 0);
	sort_members(19, 2, 19);
	sort_members(21, 1, 21);
	h_sorted[22] = 1; /* "A" */
	h_sorted[23] = 0; /* "B" */
	cr_assert_eq(sl_shape_model_init(&hand), 0);
	cr_assert_eq(sl_shape_model_init(&sl_shape_model_kinesis), 0);
}

/* ---- Helpers ------------------------------------------------------------------ */

static int check_json_n(const struct sl_shape_model *m, const char *op, const char *body,
			size_t len, size_t cap)
{
	const struct sl_shape_op *o = sl_shape_op_find(m, op, strlen(op));
	int n = sl_json_parse((const uint8_t *)body, len, toks, NTOK);

	cr_assert_not_null(o, "no operation %s", op);
	cr_assert_gt(n, 0, "body does not parse: %.200s", body);
	memset(msg, 0x55, sizeof(msg));
	return sl_shape_check(m, o, toks, 0, 0, msg, cap);
}

static int check_json(const struct sl_shape_model *m, const char *op, const char *body)
{
	return check_json_n(m, op, body, strlen(body), MSG_CAP);
}

static void expect_ok(const struct sl_shape_model *m, const char *op, const char *body)
{
	int r = check_json(m, op, body);

	cr_assert_eq(r, SL_SHAPE_OK, "%s: %d %s", body, r, msg);
	cr_assert_str_eq(msg, "");
}

static void expect_ser(const struct sl_shape_model *m, const char *op, const char *body,
		       const char *want)
{
	int r = check_json(m, op, body);

	cr_assert_eq(r, SL_SHAPE_SERIALIZATION, "%s: %d %s", body, r, msg);
	cr_assert_str_eq(msg, want, "%s\ngot:  %s\nwant: %s", body, msg, want);
}

static void expect_val(const struct sl_shape_model *m, const char *op, const char *body,
		       const char *want)
{
	int r = check_json(m, op, body);

	cr_assert_eq(r, SL_SHAPE_VALIDATION, "%s: %d %s", body, r, msg);
	cr_assert_str_eq(msg, want, "%s\ngot:  %s\nwant: %s", body, msg, want);
}

#define HV(body, want) expect_val(&hand, "Op", body, want)
#define HS(body, want) expect_ser(&hand, "Op", body, want)
#define HOK(body) expect_ok(&hand, "Op", body)
#define V1 "1 validation error detected: "
#define FS "' failed to satisfy constraint: "

/* ---- The hand model ------------------------------------------------------------ */

TestSuite(shape, .init = setup);

Test(shape, required_absent_or_null)
{
	HV("{}", V1 "Value null at 'name" FS "Member must not be null");
	HV("{\"Name\":null}", V1 "Value null at 'name" FS "Member must not be null");
	HOK("{\"Name\":\"ab\"}");
	/* Optional members may be null. */
	HOK("{\"Name\":\"ab\",\"Count\":null,\"ItemList\":null,\"Tags\":null}");
	/* A key with an escape is not the member (as sl_doc_get() sees it). */
	HV("{\"N\\u0061me\":\"ab\"}", V1 "Value null at 'name" FS "Member must not be null");
}

Test(shape, every_scalar_constraint)
{
	HV("{\"Name\":\"ABCDEF\",\"Count\":0,\"Big\":6,\"Ratio\":3,\"Data\":\"YWJjZGU=\","
	   "\"Kind\":\"C\",\"Secret\":\"x\"}",
	   "8 validation errors detected: "
	   "Value 'ABCDEF' at 'name" FS "Member must satisfy regular expression pattern: [a-z]+; "
	   "Value 'ABCDEF' at 'name" FS "Member must have length less than or equal to 5; "
	   "Value '0' at 'count" FS "Member must have value greater than or equal to 1; "
	   "Value '6' at 'big" FS "Member must have value less than or equal to 5; "
	   "Value '3.0' at 'ratio" FS "Member must have value less than or equal to 2.5; "
	   "Value 'java.nio.HeapByteBuffer[pos=0 lim=5 cap=5]' at 'data" FS
	   "Member must have length less than or equal to 4; "
	   "Value 'C' at 'kind" FS "Member must satisfy enum value set: [B, A]; "
	   "Value at 'secret" FS "Member must have length greater than or equal to 3");
	HV("{\"Name\":\"\",\"Big\":-6,\"Ratio\":0.25}",
	   "4 validation errors detected: "
	   "Value '' at 'name" FS "Member must satisfy regular expression pattern: [a-z]+; "
	   "Value '' at 'name" FS "Member must have length greater than or equal to 1; "
	   "Value '-6' at 'big" FS "Member must have value greater than or equal to -5; "
	   "Value '0.25' at 'ratio" FS "Member must have value greater than or equal to 0.5");
	HOK("{\"Name\":\"abcde\",\"Count\":10,\"Big\":-5,\"Ratio\":2.5,\"Data\":\"YWJjZA==\","
	    "\"Kind\":\"A\",\"Secret\":\"xyz\",\"Flag\":true,\"When\":1.5e9,\"Any\":[{\"x\":1}]}");
}

/* Doubles are echoed as Java's Double.toString() writes them. */
Test(shape, doubles_as_java_prints_them)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "1e10", "1.0E10" }, { "0.0001", "1.0E-4" }, { "100", "100.0" },
		{ "123.456", "123.456" }, { "0.25", "0.25" }, { "0.001", "0.001" },
		{ "-3", "-3.0" }, { "9999999.5", "9999999.5" }, { "12345678.9", "1.23456789E7" },
	};
	char body[128], want[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool low = cases[i].in[0] == '-' || strtod(cases[i].in, NULL) < 0.5;

		snprintf(body, sizeof(body), "{\"Name\":\"a\",\"Ratio\":%s}", cases[i].in);
		snprintf(want, sizeof(want), V1 "Value '%s' at 'ratio" FS "Member must have value %s",
			 cases[i].out, low ? "greater than or equal to 0.5" : "less than or equal to 2.5");
		HV(body, want);
	}
}

Test(shape, listed_in_model_order_whatever_the_document_order)
{
	HV("{\"Kind\":\"C\",\"Count\":0,\"Name\":\"A\"}",
	   "3 validation errors detected: "
	   "Value 'A' at 'name" FS "Member must satisfy regular expression pattern: [a-z]+; "
	   "Value '0' at 'count" FS "Member must have value greater than or equal to 1; "
	   "Value 'C' at 'kind" FS "Member must satisfy enum value set: [B, A]");
}

Test(shape, lists)
{
	HV("{\"Name\":\"a\",\"ItemList\":[{\"Id\":\"x\"},{\"Val\":3},null],"
	   "\"Keys\":[\"a\",\"toolong\",\"b\",\"c\"]}",
	   "4 validation errors detected: "
	   "Value 'x' at 'items.1.member.id" FS "Member must have length greater than or equal to 2; "
	   "Value null at 'items.2.member.id" FS "Member must not be null; "
	   "Value '[a, toolong, b, c]' at 'keys" FS "Member must have length less than or equal to 3; "
	   "Value '[a, toolong, b, c]' at 'keys" FS "Member must satisfy constraint: "
	   "[Member must have length less than or equal to 2, "
	   "Member must have length greater than or equal to 1]");
	HV("{\"Name\":\"a\",\"ItemList\":[]}",
	   V1 "Value '[]' at 'items" FS "Member must have length greater than or equal to 1");
	HV("{\"Name\":\"a\",\"ItemList\":[{\"Id\":\"ab\"},{\"Id\":\"ab\"},{\"Id\":\"ab\"},{\"Id\":\"ab\"}]}",
	   V1 "Value '[com.example.Item@b54cda26, com.example.Item@8ff34739, "
	   "com.example.Item@6a99b44c, com.example.Item@4540215f]' at 'items" FS
	   "Member must have length less than or equal to 3");
	HV("{\"Name\":\"a\",\"Deep\":[[\"a\"],[\"a\",\"b\"]]}",
	   V1 "Value '[a, b]' at 'deep.2.member" FS "Member must have length less than or equal to 1");
}

Test(shape, maps)
{
	HV("{\"Name\":\"a\",\"Tags\":{\"\":\"v\",\"k\":\"long\",\"x\":\"y\"}}",
	   "3 validation errors detected: "
	   "Value '{=v, k=long, x=y}' at 'tags" FS "Member must have length less than or equal to 2; "
	   "Value '{=v, k=long, x=y}' at 'tags" FS "Map keys must satisfy constraint: "
	   "[Member must have length less than or equal to 3, "
	   "Member must have length greater than or equal to 1]; "
	   "Value '{=v, k=long, x=y}' at 'tags" FS "Map value must satisfy constraint: "
	   "[Member must have length less than or equal to 2]");
	HV("{\"Name\":\"a\",\"Groups\":{\"g1\":{\"Val\":1},\"g2\":{\"Id\":\"ok\",\"Val\":11}}}",
	   "2 validation errors detected: "
	   "Value null at 'groups.g1.member.id" FS "Member must not be null; "
	   "Value '11' at 'groups.g2.member.val" FS "Member must have value less than or equal to 10");
	HOK("{\"Name\":\"a\",\"Tags\":{\"k\":\"\"},\"Groups\":{}}");
}

Test(shape, nested_structures)
{
	HV("{\"Name\":\"a\",\"Nested\":{}}", V1 "Value null at 'nested.inner" FS "Member must not be null");
	HV("{\"Name\":\"a\",\"Nested\":{\"Inner\":\"B\"}}",
	   V1 "Value 'B' at 'nested.inner" FS "Member must satisfy regular expression pattern: [a-z]+");
}

Test(shape, type_errors)
{
	HS("{\"Name\":1}", "NUMBER_VALUE can not be converted to a String");
	HS("{\"Name\":1.5}", "NUMBER_VALUE can not be converted to a String");
	HS("{\"Name\":true}", "TRUE_VALUE can not be converted to a String");
	HS("{\"Name\":[]}", "Start of list found where not expected");
	HS("{\"Name\":{}}", "Start of structure or map found where not expected.");
	HS("{\"Count\":\"1\"}", "STRING_VALUE can not be converted to an Integer");
	HS("{\"Count\":false}", "FALSE_VALUE can not be converted to an Integer");
	HS("{\"Big\":\"x\"}", "STRING_VALUE can not be converted to a Long");
	HS("{\"Ratio\":\"x\"}", "STRING_VALUE can not be converted to a Double");
	HS("{\"Flag\":1}", "NUMBER_VALUE can not be converted to a Boolean");
	HS("{\"Flag\":\"maybe\"}", "STRING_VALUE can not be converted to an Boolean");
	HS("{\"When\":\"2020-01-01\"}", "STRING_VALUE can not be converted to milliseconds since epoch");
	HS("{\"When\":true}", "TRUE_VALUE can not be converted to milliseconds since epoch");
	HS("{\"Data\":1}", "NUMBER_VALUE can not be converted to a Blob");
	HS("{\"Data\":false}", "FALSE_VALUE can not be converted to a Blob");
	HS("{\"ItemList\":\"x\"}", "Expected list or null");
	HS("{\"ItemList\":{}}", "Start of structure or map found where not expected.");
	HS("{\"ItemList\":[1]}", "Expected null");
	HS("{\"ItemList\":[[]]}", "Start of list found where not expected");
	HS("{\"Tags\":1}", "Expected map or null");
	HS("{\"Tags\":[]}", "Start of list found where not expected");
	HS("{\"Tags\":{\"k\":1}}", "NUMBER_VALUE can not be converted to a String");
	HS("{\"Nested\":\"x\"}", "Expected null");
	HS("{\"Nested\":[]}", "Start of list found where not expected");
	HS("{\"Keys\":[\"a\",2]}", "NUMBER_VALUE can not be converted to a String");
	/* Beyond 64 bits AWS sends no message. */
	HS("{\"Count\":1e30}", "");
	HS("{\"Big\":-1e30}", "");
}

Test(shape, accepted_spellings)
{
	HOK("{\"Name\":\"a\",\"Flag\":\"yes\",\"Ratio\":\"NaN\",\"When\":1,"
	    "\"WhenText\":\"2020-01-01T00:00:00Z\",\"Big\":5.9,\"Count\":1.9}");
	HOK("{\"Name\":\"a\",\"Flag\":\"FALSE\",\"Ratio\":1}");
	HOK("{\"Name\":\"a\",\"Any\":\"anything\",\"Zzz\":[{\"a\":1}],\"Unknown\":true}");
}

Test(shape, the_first_type_error_wins_over_everything)
{
	/* Name is missing, yet the type error is what AWS reports. */
	HS("{\"Count\":\"x\"}", "STRING_VALUE can not be converted to an Integer");
	HS("{\"Name\":\"ABCDEFGH\",\"Kind\":\"C\",\"Nested\":{\"Inner\":[]}}",
	   "Start of list found where not expected");
	/* In document order. */
	HS("{\"Name\":1,\"Count\":\"x\"}", "NUMBER_VALUE can not be converted to a String");
	HS("{\"Count\":\"x\",\"Name\":1}", "STRING_VALUE can not be converted to an Integer");
}

Test(shape, integers_truncate_and_clamp)
{
	HV("{\"Name\":\"a\",\"Count\":100000000000}",
	   V1 "Value '2147483647' at 'count" FS "Member must have value less than or equal to 10");
	HV("{\"Name\":\"a\",\"Count\":-100000000000}",
	   V1 "Value '-2147483648' at 'count" FS "Member must have value greater than or equal to 1");
	HV("{\"Name\":\"a\",\"Count\":0.9}",
	   V1 "Value '0' at 'count" FS "Member must have value greater than or equal to 1");
	HV("{\"Name\":\"a\",\"Count\":-0.5}",
	   V1 "Value '0' at 'count" FS "Member must have value greater than or equal to 1");
	HV("{\"Name\":\"a\",\"Big\":100000000000}",
	   V1 "Value '100000000000' at 'big" FS "Member must have value less than or equal to 5");
}

Test(shape, blobs)
{
	HS("{\"Data\":\"23456\"}", "'23456' can not be converted to a Blob: Base64 encoded length "
	   "is expected a multiple of 4 bytes but found: 5");
	HS("{\"Data\":\"=+/=\"}", "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='");
	HS("{\"Data\":\"+/+=\"}", "'+/+=' can not be converted to a Blob: Invalid last non-pad "
	   "Base64 character dectected");
	HS("{\"Data\":\"ab!d\"}", "'ab!d' can not be converted to a Blob: Invalid Base64 character: '!'");
	HS("{\"Data\":\"ab\xc3\xa9\"}", "'ab\xc3\xa9' can not be converted to a Blob: Base64 encoded "
	   "length is expected a multiple of 4 bytes but found: 3");
	HS("{\"Data\":\"a===\"}", "'a===' can not be converted to a Blob: Invalid last non-pad "
	   "Base64 character dectected");
	/* Escaped text (some encoders write \/) is read as its value. */
	HOK("{\"Name\":\"a\",\"Data\":\"ab\\/d\"}");
	HS("{\"Data\":\"a\\/\\/\"}", "'a//' can not be converted to a Blob: Base64 encoded length is "
	   "expected a multiple of 4 bytes but found: 3");
	HOK("{\"Name\":\"a\",\"Data\":\"\"}");
	HOK("{\"Name\":\"a\",\"Data\":\"YWJjZA==\"}");
}

Test(shape, lengths_count_code_points)
{
	/* Three euro signs are nine bytes, three characters. */
	HOK("{\"Name\":\"a\",\"Short\":\"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\"}");
	HOK("{\"Name\":\"a\",\"Short\":\"\\u20ac\\u20ac\\u20ac\"}");
	HOK("{\"Name\":\"a\",\"Short\":\"\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\"}");
	HV("{\"Name\":\"a\",\"Short\":\"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\"}",
	   V1 "Value '\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac' at 'short" FS
	   "Member must have length less than or equal to 3");
	HV("{\"Name\":\"a\",\"Short\":\"a\\tb\\\"c\"}",
	   V1 "Value 'a\tb\"c' at 'short" FS "Member must have length less than or equal to 3");
}

Test(shape, patterns_with_lookahead_and_categories)
{
	HOK("{\"Name\":\"a\",\"Word\":\"\xc3\xa1" "bc\"}");
	HV("{\"Name\":\"a\",\"Word\":\"xab\"}",
	   V1 "Value 'xab' at 'word" FS "Member must satisfy regular expression pattern: ^(?!x)\\p{L}+$");
	HV("{\"Name\":\"a\",\"Word\":\"a1\"}",
	   V1 "Value 'a1' at 'word" FS "Member must satisfy regular expression pattern: ^(?!x)\\p{L}+$");
}

Test(shape, roots_and_operations)
{
	const struct sl_shape_op *op = sl_shape_op_find(&hand, "Void", 4);

	cr_assert_not_null(op);
	cr_assert_null(sl_shape_op_find(&hand, "Vo", 2));
	cr_assert_null(sl_shape_op_find(&hand, "Opp", 3));
	cr_assert_null(sl_shape_op_find(&hand, "", 0));
	cr_assert_eq(sl_json_parse((const uint8_t *)"[1]", 3, toks, NTOK), 2);
	cr_assert_eq(sl_shape_check(&hand, op, toks, 0, 0, msg, MSG_CAP), SL_SHAPE_OK);
	HS("[]", "Start of list found where not expected");
	HS("1", "");
	HS("null", "");
	HS("\"x\"", "");
}

Test(shape, ten_at_most_and_cut_cleanly)
{
	char body[8192], *p = body;
	int r;

	/* Thirteen violations: ten are listed, by model order. */
	p += sprintf(p, "{\"Name\":\"ABCDEF\",\"Count\":0,\"Big\":9,\"Ratio\":9,\"Data\":\"YWJjZGU=\","
		     "\"Kind\":\"C\",\"Secret\":\"x\",\"Short\":\"abcd\",\"Word\":\"1\","
		     "\"Keys\":[\"abc\",\"d\",\"e\",\"f\"],\"Nested\":{}}");
	r = check_json(&hand, "Op", body);
	cr_assert_eq(r, SL_SHAPE_VALIDATION);
	cr_assert(strncmp(msg, "10 validation errors detected: Value 'ABCDEF' at 'name'", 55) == 0, "%s", msg);
	cr_assert_not_null(strstr(msg, "at 'keys" FS "Member must have length less than or equal to 3"));
	cr_assert(strstr(msg, "at 'keys" FS "Member must satisfy constraint: [Member must have length "
		  "less than or equal to 2, Member must have length greater than or equal to 1]") ==
		  msg + strlen(msg) - strlen("at 'keys" FS "Member must satisfy constraint: [Member must "
		  "have length less than or equal to 2, Member must have length greater than or equal "
		  "to 1]"), "%s", msg);
	cr_assert_null(strstr(msg, "at 'word'"));
	cr_assert_null(strstr(msg, "at 'short'"));
	cr_assert_null(strstr(msg, "nested.inner"));

	/* Long values are shortened so that every violation still fits. */
	p = body;
	p += sprintf(p, "{\"Name\":\"");
	for (int i = 0; i < 1500; i++)
		p += sprintf(p, "\xe2\x82\xac");
	p += sprintf(p, "\",\"Kind\":\"C\"}");
	r = check_json_n(&hand, "Op", body, strlen(body), 1024);
	cr_assert_eq(r, SL_SHAPE_VALIDATION);
	cr_assert_lt(strlen(msg), 1024);
	cr_assert(strncmp(msg, "3 validation errors detected: Value '\xe2\x82\xac", 40) == 0);
	cr_assert_not_null(strstr(msg, "\xe2\x82\xac...' at 'name" FS "Member must satisfy regular"));
	cr_assert_not_null(strstr(msg, "...' at 'name" FS "Member must have length less than or equal to 5; "
				       "Value 'C' at 'kind" FS "Member must satisfy enum value set: [B, A]"),
			   "%s", msg);

	/* A tiny buffer still ends in a NUL, never inside a character. */
	for (size_t cap = 1; cap < 200; cap++) {
		r = check_json_n(&hand, "Op", body, strlen(body), cap);
		cr_assert_eq(r, SL_SHAPE_VALIDATION);
		cr_assert_lt(strlen(msg), cap);
		cr_assert_eq(msg[cap], 0x55, "wrote past cap %zu", cap);
		for (size_t i = strlen(msg); i > 0 && ((uint8_t)msg[i - 1] & 0xc0) == 0x80; i--)
			cr_assert(i >= 4 || i > 0);
		if (strlen(msg) > 0 && ((uint8_t)msg[strlen(msg) - 1] & 0x80))
			cr_assert(((uint8_t)msg[strlen(msg) - 1] & 0xc0) == 0x80);
	}
	r = check_json_n(&hand, "Op", "{\"Data\":\"23456\"}", 16, 10);
	cr_assert_eq(r, SL_SHAPE_SERIALIZATION);
	cr_assert_str_eq(msg, "'23456' c");
	/* A long bad blob keeps its reason. */
	p = body;
	p += sprintf(p, "{\"Data\":\"");
	for (int i = 0; i < 2001; i++)
		*p++ = 'A';
	p += sprintf(p, "\"}");
	r = check_json_n(&hand, "Op", body, strlen(body), 256);
	cr_assert_eq(r, SL_SHAPE_SERIALIZATION);
	cr_assert_lt(strlen(msg), 256);
	cr_assert(strstr(msg, "AAA...' can not be converted to a Blob: Base64 encoded length is "
			  "expected a multiple of 4 bytes but found: 2001") != NULL, "%s", msg);
}

/* ---- The Kinesis table --------------------------------------------------------- */

#define KV(op, body, want) expect_val(&sl_shape_model_kinesis, op, body, want)
#define KS(op, body, want) expect_ser(&sl_shape_model_kinesis, op, body, want)
#define KOK(op, body) expect_ok(&sl_shape_model_kinesis, op, body)
#define NAME_RE "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
#define LEN_GE1 "Member must have length greater than or equal to 1"

Test(shape, kinesis_table)
{
	const struct sl_shape_model *m = &sl_shape_model_kinesis;

	cr_assert_str_eq(m->service, "kinesis");
	cr_assert_gt(m->nops, 30);
	for (uint32_t i = 0; i < m->npatterns; i++)
		cr_assert_eq(m->re[i].state, SL_RE_READY, "%s", m->patterns[i]);
	for (uint32_t i = 0; i < m->nops; i++) {
		cr_assert_eq(sl_shape_op_find(m, m->ops[i].name, m->ops[i].name_len), &m->ops[i]);
		if (i > 0)
			cr_assert_lt(strcmp(m->ops[i - 1].name, m->ops[i].name), 0);
	}
	cr_assert_null(sl_shape_op_find(m, "PutRecordz", 10));
}

Test(shape, kinesis_create_stream)
{
	/* The model no longer requires ShardCount (on-demand streams). */
	KV("CreateStream", "{}", V1 "Value null at 'streamName" FS "Member must not be null");
	KS("CreateStream", "{\"StreamName\":\"a\",\"ShardCount\":\"a\"}",
	   "STRING_VALUE can not be converted to an Integer");
	KS("CreateStream", "{\"ShardCount\":\"a\"}", "STRING_VALUE can not be converted to an Integer");
	KS("CreateStream", "{\"StreamName\":true}", "TRUE_VALUE can not be converted to a String");
	KV("CreateStream", "{\"StreamName\":\"\",\"ShardCount\":0}",
	   "3 validation errors detected: "
	   "Value '' at 'streamName" FS NAME_RE "; "
	   "Value '' at 'streamName" FS LEN_GE1 "; "
	   "Value '0' at 'shardCount" FS "Member must have value greater than or equal to 1");
	/* ShardCount has no upper bound in the model: a count beyond 32 bits is
	 * clamped and accepted, and only the name is wrong. */
	KV("CreateStream", "{\"StreamName\":\"a b\",\"ShardCount\":100000000000}",
	   V1 "Value 'a b' at 'streamName" FS NAME_RE);
	KV("CreateStream", "{\"StreamName\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"ShardCount\":1}",
	   V1 "Value 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' at 'streamName" FS
	   "Member must have length less than or equal to 128");
	KV("CreateStream", "{\"StreamName\":\"s\",\"StreamModeDetails\":{}}",
	   V1 "Value null at 'streamModeDetails.streamMode" FS "Member must not be null");
	KV("CreateStream", "{\"StreamName\":\"s\",\"StreamModeDetails\":{\"StreamMode\":\"X\"}}",
	   V1 "Value 'X' at 'streamModeDetails.streamMode" FS
	   "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]");
	KS("CreateStream", "{\"StreamName\":\"s\",\"StreamModeDetails\":\"x\"}", "Expected null");
	KS("CreateStream", "{\"StreamName\":\"s\",\"Tags\":[]}", "Start of list found where not expected");
	KOK("CreateStream", "{\"StreamName\":\"s-1_a.b\",\"ShardCount\":2,\"Unknown\":[1]}");
}

/* {"StreamName":"","Records":[n x {"PartitionKey":"","Data":""}]} */
static size_t put_records_body(char *out, size_t cap, uint32_t n)
{
	size_t k = (size_t)snprintf(out, cap, "{\"StreamName\":\"\",\"Records\":[");

	for (uint32_t i = 0; i < n; i++)
		k += (size_t)snprintf(out + k, cap - k, "%s{\"PartitionKey\":\"\",\"Data\":\"\"}",
				      i ? "," : "");
	k += (size_t)snprintf(out + k, cap - k, "]}");
	return k;
}

Test(shape, kinesis_put_records_501)
{
	static char body[32768];
	size_t n = put_records_body(body, sizeof(body), 501);
	char want[256];
	const char *p;
	int r = check_json_n(&sl_shape_model_kinesis, "PutRecords", body, n, sizeof(msg));

	cr_assert_eq(r, SL_SHAPE_VALIDATION);
	/* As AWS: the list's length, then the first nine records' keys; the
	 * stream name's two violations do not make the cut. */
	p = "10 validation errors detected: Value '[com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@";
	cr_assert(strncmp(msg, p, strlen(p)) == 0, "%.300s", msg);
	p = strstr(msg, "]' at 'records" FS "Member must have length less than or equal to 500; ");
	cr_assert_not_null(p);
	p += strlen("]' at 'records" FS "Member must have length less than or equal to 500; ");
	for (int i = 1; i <= 9; i++) {
		snprintf(want, sizeof(want), "Value '' at 'records.%d.member.partitionKey" FS LEN_GE1 "%s",
			 i, i < 9 ? "; " : "");
		cr_assert(strncmp(p, want, strlen(want)) == 0, "%d: %.200s", i, p);
		p += strlen(want);
	}
	cr_assert_eq(*p, '\0');
	cr_assert_null(strstr(msg, "streamName"));

	/* In the recommended 4 KiB the list is shortened and all ten fit. */
	r = check_json_n(&sl_shape_model_kinesis, "PutRecords", body, n, SL_SHAPE_MSG_SIZE);
	cr_assert_eq(r, SL_SHAPE_VALIDATION);
	cr_assert_lt(strlen(msg), SL_SHAPE_MSG_SIZE);
	cr_assert_gt(strlen(msg), SL_SHAPE_MSG_SIZE - 8);
	cr_assert_not_null(strstr(msg, "...' at 'records" FS "Member must have length less than or equal to 500"));
	cr_assert_not_null(strstr(msg, "Value '' at 'records.9.member.partitionKey" FS LEN_GE1));
}

Test(shape, kinesis_put_records)
{
	KV("PutRecords", "{}", V1 "Value null at 'records" FS "Member must not be null");
	KV("PutRecords", "{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"YQ==\"}]}",
	   V1 "Value null at 'records.1.member.partitionKey" FS "Member must not be null");
	KV("PutRecords", "{\"StreamName\":\"\",\"Records\":[]}",
	   "3 validation errors detected: "
	   "Value '[]' at 'records" FS LEN_GE1 "; "
	   "Value '' at 'streamName" FS NAME_RE "; "
	   "Value '' at 'streamName" FS LEN_GE1);
	KV("PutRecords", "{\"StreamName\":\"\",\"Records\":[{\"PartitionKey\":\"\",\"Data\":\"\","
	   "\"ExplicitHashKey\":\"\"}]}",
	   "4 validation errors detected: "
	   "Value '' at 'records.1.member.explicitHashKey" FS
	   "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); "
	   "Value '' at 'records.1.member.partitionKey" FS LEN_GE1 "; "
	   "Value '' at 'streamName" FS NAME_RE "; "
	   "Value '' at 'streamName" FS LEN_GE1);
	KS("PutRecords", "{\"Records\":\"x\"}", "Expected list or null");
	KS("PutRecords", "{\"Records\":[1]}", "Expected null");
	KS("PutRecords", "{\"Records\":[{\"Data\":23}]}", "NUMBER_VALUE can not be converted to a Blob");
	KS("PutRecords", "{\"Records\":[{\"PartitionKey\":23}]}",
	   "NUMBER_VALUE can not be converted to a String");
	KS("PutRecords", "{\"Records\":[{\"ExplicitHashKey\":true}]}",
	   "TRUE_VALUE can not be converted to a String");
	KOK("PutRecords", "{\"StreamName\":\"s\",\"Records\":[{\"PartitionKey\":\"k\",\"Data\":\"YQ==\","
	    "\"ExplicitHashKey\":\"340282366920938463463374607431768211455\"}]}");
}

/* A record's data one byte over the model's limit (10 MiB now; 1 MiB when
 * kinesalite recorded it). */
Test(shape, kinesis_data_over_the_limit)
{
	const size_t bytes = 10485761, b64 = (bytes + 2) / 3 * 4;
	const char *head = "{\"StreamName\":\"s\",\"Records\":[{\"PartitionKey\":\"a\",\"Data\":\"";
	size_t hl = strlen(head), n = 0;
	char *body = malloc(hl + b64 + 16);
	int r;

	cr_assert_not_null(body);
	memcpy(body, head, hl);
	n = hl;
	for (size_t i = 0; i < b64 / 4; i++) {
		memcpy(body + n, "QUJD", 4);
		n += 4;
	}
	/* 10485761 = 3 * 3495253 + 2: the last quad carries two bytes. */
	memcpy(body + n - 4, "QUI=", 4);
	n += (size_t)sprintf(body + n, "\"}]}");
	r = check_json_n(&sl_shape_model_kinesis, "PutRecords", body, n, MSG_CAP);
	cr_assert_eq(r, SL_SHAPE_VALIDATION);
	cr_assert_str_eq(msg, V1 "Value 'java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]' at "
			 "'records.1.member.data" FS "Member must have length less than or equal to 10485760");
	/* One byte less is fine. */
	memcpy(body + hl + b64 - 4, "QQ==", 4);
	r = check_json_n(&sl_shape_model_kinesis, "PutRecords", body, n, MSG_CAP);
	cr_assert_eq(r, SL_SHAPE_OK, "%s", msg);
	free(body);
}

Test(shape, kinesis_get_shard_iterator)
{
	KV("GetShardIterator", "{\"StreamName\":\"s\",\"ShardId\":\"shardId-0\",\"ShardIteratorType\":\"BAD\"}",
	   V1 "Value 'BAD' at 'shardIteratorType" FS "Member must satisfy enum value set: "
	   "[AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]");
	KV("GetShardIterator", "{}",
	   "2 validation errors detected: "
	   "Value null at 'shardId" FS "Member must not be null; "
	   "Value null at 'shardIteratorType" FS "Member must not be null");
	KV("GetShardIterator", "{\"StreamName\":\"\",\"ShardIteratorType\":\"\",\"ShardId\":\"\","
	   "\"StartingSequenceNumber\":\"\"}",
	   "6 validation errors detected: "
	   "Value '' at 'streamName" FS NAME_RE "; "
	   "Value '' at 'streamName" FS LEN_GE1 "; "
	   "Value '' at 'shardId" FS NAME_RE "; "
	   "Value '' at 'shardId" FS LEN_GE1 "; "
	   "Value '' at 'shardIteratorType" FS "Member must satisfy enum value set: "
	   "[AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]; "
	   "Value '' at 'startingSequenceNumber" FS
	   "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})");
	KS("GetShardIterator", "{\"Timestamp\":\"23\"}",
	   "STRING_VALUE can not be converted to milliseconds since epoch");
	KS("GetShardIterator", "{\"Timestamp\":[]}", "Start of list found where not expected");
	KOK("GetShardIterator", "{\"StreamName\":\"s\",\"ShardId\":\"shardId-000000000000\","
	    "\"ShardIteratorType\":\"AT_TIMESTAMP\",\"Timestamp\":1700000000.123}");
}

Test(shape, kinesis_list_shards)
{
	KV("ListShards", "{\"MaxResults\":0}",
	   V1 "Value '0' at 'maxResults" FS "Member must have value greater than or equal to 1");
	KV("ListShards", "{\"MaxResults\":100000}",
	   V1 "Value '100000' at 'maxResults" FS "Member must have value less than or equal to 10000");
	KOK("ListShards", "{\"MaxResults\":1}");
	KOK("ListShards", "{\"MaxResults\":10000}");
	KV("ListShards", "{\"StreamName\":\"\",\"NextToken\":\"\",\"MaxResults\":0,\"ExclusiveStartShardId\":\"\"}",
	   "6 validation errors detected: "
	   "Value '' at 'streamName" FS NAME_RE "; "
	   "Value '' at 'streamName" FS LEN_GE1 "; "
	   "Value '' at 'nextToken" FS LEN_GE1 "; "
	   "Value '' at 'exclusiveStartShardId" FS NAME_RE "; "
	   "Value '' at 'exclusiveStartShardId" FS LEN_GE1 "; "
	   "Value '0' at 'maxResults" FS "Member must have value greater than or equal to 1");
	KS("ListShards", "{\"MaxResults\":\"1\"}", "STRING_VALUE can not be converted to an Integer");
	KV("ListShards", "{\"ShardFilter\":{\"Type\":\"NOPE\"}}",
	   V1 "Value 'NOPE' at 'shardFilter.type" FS "Member must satisfy enum value set: "
	   "[AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]");
}

Test(shape, kinesis_tags)
{
	KV("AddTagsToStream", "{\"StreamName\":\"s\",\"Tags\":{}}",
	   V1 "Value '{}' at 'tags" FS LEN_GE1);
	KV("RemoveTagsFromStream", "{\"StreamName\":\"s\",\"TagKeys\":[\"a\",\"\",\"b\"]}",
	   V1 "Value '[a, , b]' at 'tagKeys" FS "Member must satisfy constraint: "
	   "[Member must have length less than or equal to 128, " LEN_GE1 "]");
	KV("AddTagsToStream", "{\"StreamName\":\"s\",\"Tags\":{\"\":\"v\"}}",
	   V1 "Value '{=v}' at 'tags" FS "Map keys must satisfy constraint: "
	   "[Member must have length less than or equal to 128, " LEN_GE1 "]");
}

/* ---- CBOR ------------------------------------------------------------------------ */

/* A small CBOR writer for the bodies below. */
struct cw {
	uint8_t b[4096];
	size_t n;
};

static void cw_head(struct cw *w, uint8_t major, uint64_t v)
{
	if (v < 24) {
		w->b[w->n++] = (uint8_t)(major << 5 | v);
	} else if (v < 256) {
		w->b[w->n++] = (uint8_t)(major << 5 | 24);
		w->b[w->n++] = (uint8_t)v;
	} else {
		w->b[w->n++] = (uint8_t)(major << 5 | 26);
		for (int i = 3; i >= 0; i--)
			w->b[w->n++] = (uint8_t)(v >> (8 * i));
	}
}

static void cw_text(struct cw *w, const char *s)
{
	cw_head(w, 3, strlen(s));
	memcpy(w->b + w->n, s, strlen(s));
	w->n += strlen(s);
}

static void cw_bytes(struct cw *w, size_t n)
{
	cw_head(w, 2, n);
	memset(w->b + w->n, 0xab, n);
	w->n += n;
}

static int check_cbor(const char *op, const struct cw *w)
{
	const struct sl_shape_op *o = sl_shape_op_find(&sl_shape_model_kinesis, op, strlen(op));
	int n = sl_cbor_parse(w->b, w->n, toks, NTOK);

	cr_assert_gt(n, 0);
	return sl_shape_check(&sl_shape_model_kinesis, o, toks, 0, SL_SHAPE_CBOR, msg, MSG_CAP);
}

/* The CBOR body must get exactly the answer the JSON one gets. */
static void same_as_json(const char *op, const struct cw *w, const char *json)
{
	char want[MSG_CAP];
	int rj = check_json(&sl_shape_model_kinesis, op, json), rc;

	strcpy(want, msg);
	rc = check_cbor(op, w);
	cr_assert_eq(rc, rj, "%s: cbor %d json %d (%s)", json, rc, rj, msg);
	cr_assert_str_eq(msg, want, "%s", json);
}

Test(shape, cbor_like_json)
{
	struct cw w = { .n = 0 };

	cw_head(&w, 5, 2);
	cw_text(&w, "StreamName");
	cw_text(&w, "a b");
	cw_text(&w, "ShardCount");
	cw_text(&w, "a");
	same_as_json("CreateStream", &w, "{\"StreamName\":\"a b\",\"ShardCount\":\"a\"}");

	w.n = 0;
	cw_head(&w, 5, 2);
	cw_text(&w, "StreamName");
	cw_text(&w, "");
	cw_text(&w, "ShardCount");
	cw_head(&w, 0, 0);
	same_as_json("CreateStream", &w, "{\"StreamName\":\"\",\"ShardCount\":0}");

	/* PutRecord: 5 bytes of data (base64 "q6urq6s="), an empty key. */
	w.n = 0;
	cw_head(&w, 5, 3);
	cw_text(&w, "StreamName");
	cw_text(&w, "s");
	cw_text(&w, "Data");
	cw_bytes(&w, 5);
	cw_text(&w, "PartitionKey");
	cw_text(&w, "");
	same_as_json("PutRecord", &w, "{\"StreamName\":\"s\",\"Data\":\"q6urq6s=\",\"PartitionKey\":\"\"}");

	/* PutRecords with three records, the second without a key; a tag-1
	 * timestamp in GetShardIterator. */
	w.n = 0;
	cw_head(&w, 5, 1);
	cw_text(&w, "Records");
	cw_head(&w, 4, 3);
	for (int i = 0; i < 3; i++) {
		cw_head(&w, 5, i == 1 ? 1 : 2);
		cw_text(&w, "Data");
		cw_bytes(&w, 1);
		if (i != 1) {
			cw_text(&w, "PartitionKey");
			cw_text(&w, "k");
		}
	}
	same_as_json("PutRecords", &w, "{\"Records\":[{\"Data\":\"qw==\",\"PartitionKey\":\"k\"},"
		     "{\"Data\":\"qw==\"},{\"Data\":\"qw==\",\"PartitionKey\":\"k\"}]}");

	w.n = 0;
	cw_head(&w, 5, 4);
	cw_text(&w, "StreamName");
	cw_text(&w, "s");
	cw_text(&w, "ShardId");
	cw_text(&w, "shardId-0");
	cw_text(&w, "ShardIteratorType");
	cw_text(&w, "BAD");
	cw_text(&w, "Timestamp");
	cw_head(&w, 6, 1);
	cw_head(&w, 0, 1700000000);
	same_as_json("GetShardIterator", &w, "{\"StreamName\":\"s\",\"ShardId\":\"shardId-0\","
		     "\"ShardIteratorType\":\"BAD\",\"Timestamp\":1700000000}");

	/* An indefinite-length name in two chunks, "a" "b b". */
	w.n = 0;
	cw_head(&w, 5, 1);
	cw_text(&w, "StreamName");
	w.b[w.n++] = 0x7f;
	cw_text(&w, "a");
	cw_text(&w, "b b");
	w.b[w.n++] = 0xff;
	same_as_json("CreateStream", &w, "{\"StreamName\":\"ab b\"}");
}

Test(shape, cbor_types)
{
	struct cw w = { .n = 0 };

	/* Data must be a byte string in CBOR, a name a text string. */
	cw_head(&w, 5, 2);
	cw_text(&w, "Data");
	cw_text(&w, "YQ==");
	cw_text(&w, "PartitionKey");
	cw_text(&w, "k");
	cr_assert_eq(check_cbor("PutRecord", &w), SL_SHAPE_SERIALIZATION);
	cr_assert_str_eq(msg, "STRING_VALUE can not be converted to a Blob");
	w.n = 0;
	cw_head(&w, 5, 1);
	cw_text(&w, "StreamName");
	cw_bytes(&w, 2);
	cr_assert_eq(check_cbor("CreateStream", &w), SL_SHAPE_SERIALIZATION);
	cr_assert_str_eq(msg, "BLOB_VALUE can not be converted to a String");
	w.n = 0;
	cw_head(&w, 5, 1);
	cw_text(&w, "Records");
	cw_bytes(&w, 2);
	cr_assert_eq(check_cbor("PutRecords", &w), SL_SHAPE_SERIALIZATION);
	cr_assert_str_eq(msg, "Expected list or null");
}

/* ---- The matcher ----------------------------------------------------------------- */

static bool re_ok(const char *pat, const char *s)
{
	static struct sl_re re;

	cr_assert_eq(sl_re_compile(&re, pat, strlen(pat)), 0, "%s", pat);
	return sl_re_match(&re, (const uint8_t *)s, strlen(s));
}

Test(shape, regex_semantics)
{
	static struct sl_re re;

	cr_assert(re_ok("0|([1-9]\\d{0,38})", "0"));
	cr_assert(re_ok("0|([1-9]\\d{0,38})", "340282366920938463463374607431768211455"));
	cr_assert(!re_ok("0|([1-9]\\d{0,38})", "01"));
	cr_assert(!re_ok("0|([1-9]\\d{0,38})", ""));
	cr_assert(re_ok("arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
			"arn:aws:kinesis:us-east-1:123456789012:stream/s"));
	cr_assert(!re_ok("arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
			 "arn:aws:kinesis:us-east-1:123456789012:stream/a b"));
	cr_assert(re_ok("^[\\s\\S]*$", ""));
	cr_assert(re_ok("^[\\s\\S]*$", "a\nb"));
	cr_assert(!re_ok(".*", "a\nb"));
	cr_assert(re_ok("(?s).*", "a\nb"));
	cr_assert(!re_ok("^(?!\\s*$).+", "  "));
	cr_assert(re_ok("^(?!\\s*$).+", " a"));
	cr_assert(re_ok("^(?=^\\$)(?=^\\S+$).*$", "$abc"));
	cr_assert(!re_ok("^(?=^\\$)(?=^\\S+$).*$", "$a c"));
	cr_assert(!re_ok("^(?=^\\$)(?=^\\S+$).*$", "abc"));
	cr_assert(re_ok("^$|[a-zA-Z/_]+", ""));
	cr_assert(re_ok("[\\w-_]*", "a-_9"));
	cr_assert(re_ok("[a-zA-Z0-9/!-_.*'()]+", "A!/"));
	cr_assert(re_ok("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*",
			"a\t\xf0\x9f\x98\x80"));
	cr_assert(!re_ok("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", "\n"));
	cr_assert(re_ok("^[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$", "\xc3\xa9t\xc3\xa9 2"));
	cr_assert(!re_ok("^[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$", "a!"));
	cr_assert(re_ok("arn:aws:kinesisanalytics:[a-z]{2}-[a-z]+-\\d{1}+:\\d{12}+:application/x",
			"arn:aws:kinesisanalytics:us-east-1:123456789012:application/x"));
	cr_assert(re_ok(".+?\\.snowflakecomputing\\.com", "a.b.snowflakecomputing.com"));
	cr_assert(re_ok("[^\\x00-\\x1F\\x7F]+", "ok"));
	cr_assert(!re_ok("[^\\x00-\\x1F\\x7F]+", "o\x01k"));
	cr_assert(re_ok("a{0}b", "b"));
	cr_assert(re_ok("(a|)+", ""));
	cr_assert(!re_ok("a$b", "ab"));
	/* Outside the subset, refused rather than misread. */
	cr_assert_eq(sl_re_compile(&re, "(?<!-)a", 7), -EINVAL);
	cr_assert_eq(sl_re_compile(&re, "a(?=b)", 6), -EINVAL);
	cr_assert_eq(sl_re_compile(&re, "(?!a)b|c", 8), -EINVAL);
	cr_assert_eq(sl_re_compile(&re, "\\bword", 6), -EINVAL);
	cr_assert_eq(sl_re_compile(&re, "a**", 3), -EINVAL);
	cr_assert_eq(sl_re_compile(&re, "a*+", 3), -EINVAL);
	cr_assert_eq(sl_re_compile(&re, "[a-]]", 5), 0);
	cr_assert_eq(sl_re_compile(&re, "[]", 2), -EINVAL);
	cr_assert_eq(sl_re_compile(&re, "[z-a]", 5), -EINVAL);
	cr_assert_eq(sl_re_compile(&re, "(a", 2), -EINVAL);
	cr_assert_eq(sl_re_compile(&re, "a)", 2), -EINVAL);
	cr_assert_eq(sl_re_compile(&re, "a{2,1}", 6), -EINVAL);
	cr_assert_eq(sl_re_compile(&re, "a{1001}", 7), -E2BIG);
	cr_assert_eq(sl_re_compile(&re, "(\\d{0,999}){0,9}", 16), -E2BIG);
	cr_assert_eq(re.state, SL_RE_FAILED);
}

/* ---- A full PutRecords ----------------------------------------------------------- */

/* 500 records of 1 KiB, as the largest PutRecords: it passes, in JSON as a
 * client sends it. (What it costs is measured by benches/micro, not here.) */
Test(shape, put_records_500_passes)
{
	static struct sl_doc_tok big[4096];
	const struct sl_shape_op *op = sl_shape_op_find(&sl_shape_model_kinesis, "PutRecords", 10);
	size_t cap = 1 << 20, n = 0;
	char *body = malloc(cap);

	cr_assert_not_null(body);
	n += (size_t)sprintf(body, "{\"StreamName\":\"stream-1\",\"Records\":[");
	for (int i = 0; i < 500; i++) {
		n += (size_t)sprintf(body + n, "%s{\"Data\":\"", i ? "," : "");
		for (int j = 0; j < 1368 / 4; j++)
			n += (size_t)sprintf(body + n, "%c%c%c%c", 'A' + j % 26, 'a' + i % 26, '0' + j % 10,
					     j % 2 ? '+' : '/');
		n += (size_t)sprintf(body + n, "\",\"PartitionKey\":\"partition-key-%d\"}", i);
	}
	n += (size_t)sprintf(body + n, "]}");
	int nt = sl_json_parse((const uint8_t *)body, n, big, 4096);
	cr_assert_gt(nt, 0);
	int r = sl_shape_check(&sl_shape_model_kinesis, op, big, 0, 0, msg, MSG_CAP);
	cr_assert_eq(r, SL_SHAPE_OK, "%s", msg);
	free(body);
}
