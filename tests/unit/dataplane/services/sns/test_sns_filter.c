/* Tests for dataplane/services/sns/filter.c: each operator of AWS's filter
 * policy language against messages that it must and must not let through,
 * in both scopes, and the policies AWS refuses (with its reasons). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "dataplane/codec/doc.h"
#include "dataplane/services/sns/filter.h"

/* A message: attributes as "name|Type|value" lines, or a JSON body. */
struct msgdef {
	const char *attrs[4];
	const char *body;
};

static bool run(const char *policy, enum sl_filter_scope scope, const struct msgdef *md)
{
	char err[256];
	struct sl_filter *f = sl_filter_compile(policy, strlen(policy), scope, err, sizeof(err));
	struct sl_sqs_attr a[4];
	char store[4][3][128];
	struct sl_doc_tok toks[256];
	struct sl_filter_msg m = { .attrs = a };

	cr_assert_not_null(f, "%s: %s", policy, err);
	for (unsigned i = 0; i < 4 && md->attrs[i]; i++) {
		cr_assert_eq(sscanf(md->attrs[i], "%127[^|]|%127[^|]|%127[^\n]", store[i][0], store[i][1],
				    store[i][2]), 3);
		a[i] = (struct sl_sqs_attr){ .name = store[i][0], .type = store[i][1],
					     .value = (const uint8_t *)store[i][2],
					     .name_len = (uint32_t)strlen(store[i][0]),
					     .type_len = (uint32_t)strlen(store[i][1]),
					     .value_len = (uint32_t)strlen(store[i][2]),
					     .binary = strncmp(store[i][1], "Binary", 6) == 0 };
		m.nattrs = i + 1;
	}
	if (md->body) {
		m.body = toks;
		m.body_n = sl_json_parse((const uint8_t *)md->body, strlen(md->body), toks, 256);
	}
	bool r = sl_filter_match(f, &m);
	sl_filter_free(f);
	return r;
}

struct acase {
	const char *policy;
	struct msgdef msg;
	bool match;
};

#define A(...) { { __VA_ARGS__ }, NULL }

static const struct acase attr_cases[] = {
	/* Exact strings, OR within a key, AND across keys. */
	{ "{\"color\":[\"red\",\"blue\"]}", A("color|String|blue"), true },
	{ "{\"color\":[\"red\",\"blue\"]}", A("color|String|green"), false },
	{ "{\"color\":[\"red\"]}", A("color|String|Red"), false },
	{ "{\"color\":[\"red\"],\"size\":[\"L\"]}", A("color|String|red", "size|String|L"), true },
	{ "{\"color\":[\"red\"],\"size\":[\"L\"]}", A("color|String|red", "size|String|M"), false },
	{ "{\"color\":[\"red\"],\"size\":[\"L\"]}", A("color|String|red"), false },
	{ "{\"color\":[\"red\"]}", A(NULL), false },
	/* A custom String type is a string; Binary is never matched. */
	{ "{\"color\":[\"red\"]}", A("color|String.custom|red"), true },
	{ "{\"color\":[{\"exists\":true}]}", A("color|Binary|red"), false },
	{ "{\"color\":[{\"exists\":false}]}", A("color|Binary|red"), true },
	/* String.Array: each element is a value. */
	{ "{\"sport\":[\"rugby\"]}", A("sport|String.Array|[\"tennis\",\"rugby\"]"), true },
	{ "{\"sport\":[\"golf\"]}", A("sport|String.Array|[\"tennis\",\"rugby\"]"), false },
	{ "{\"n\":[{\"numeric\":[\">\",10]}]}", A("n|String.Array|[5,\"x\",11]"), true },
	{ "{\"b\":[true]}", A("b|String.Array|[false,true]"), true },
	{ "{\"b\":[null]}", A("b|String.Array|[\"a\",null]"), true },
	/* Numbers: exact by value, at five decimals; strings do not match them. */
	{ "{\"price\":[100]}", A("price|Number|100.0"), true },
	{ "{\"price\":[100]}", A("price|Number|1e2"), true },
	{ "{\"price\":[100]}", A("price|String|100"), false },
	{ "{\"price\":[\"100\"]}", A("price|Number|100"), false },
	{ "{\"price\":[0.000001]}", A("price|Number|0"), true },
	{ "{\"price\":[{\"numeric\":[\"=\",3.5]}]}", A("price|Number|3.50"), true },
	{ "{\"price\":[{\"numeric\":[\">\",0,\"<=\",150]}]}", A("price|Number|150"), true },
	{ "{\"price\":[{\"numeric\":[\">\",0,\"<=\",150]}]}", A("price|Number|0"), false },
	{ "{\"price\":[{\"numeric\":[\">=\",0,\"<\",150]}]}", A("price|Number|0"), true },
	{ "{\"price\":[{\"numeric\":[\">=\",0,\"<\",150]}]}", A("price|Number|150"), false },
	{ "{\"price\":[{\"numeric\":[\"<\",-5]}]}", A("price|Number|-5.5"), true },
	{ "{\"price\":[{\"numeric\":[\"<\",-5]}]}", A("price|Number|abc"), false },
	/* prefix, suffix, equals-ignore-case. */
	{ "{\"c\":[{\"prefix\":\"bas\"}]}", A("c|String|basketball"), true },
	{ "{\"c\":[{\"prefix\":\"bas\"}]}", A("c|String|ba"), false },
	{ "{\"c\":[{\"suffix\":\"ball\"}]}", A("c|String|football"), true },
	{ "{\"c\":[{\"suffix\":\"ball\"}]}", A("c|String|balls"), false },
	{ "{\"c\":[{\"suffix\":\"ball\"}]}", A("c|String|ball"), true },
	{ "{\"c\":[{\"prefix\":\"ball\"}]}", A("c|String|ball"), true },
	{ "{\"c\":[{\"equals-ignore-case\":\"RED\"}]}", A("c|String|rEd"), true },
	{ "{\"c\":[{\"equals-ignore-case\":\"RED\"}]}", A("c|String|reds"), false },
	/* anything-but: there is a value and none is excluded. */
	{ "{\"c\":[{\"anything-but\":[\"rugby\",\"tennis\"]}]}", A("c|String|golf"), true },
	{ "{\"c\":[{\"anything-but\":[\"rugby\",\"tennis\"]}]}", A("c|String|tennis"), false },
	{ "{\"c\":[{\"anything-but\":[\"rugby\",\"tennis\"]}]}", A(NULL), false },
	{ "{\"c\":[{\"anything-but\":\"rugby\"}]}", A("c|String.Array|[\"golf\",\"rugby\"]"), false },
	{ "{\"c\":[{\"anything-but\":\"rugby\"}]}", A("c|String.Array|[\"golf\",\"polo\"]"), true },
	{ "{\"c\":[{\"anything-but\":[100,200]}]}", A("c|Number|150"), true },
	{ "{\"c\":[{\"anything-but\":[100,200]}]}", A("c|Number|200.000"), false },
	{ "{\"c\":[{\"anything-but\":{\"prefix\":\"us-\"}}]}", A("c|String|eu-west-1"), true },
	{ "{\"c\":[{\"anything-but\":{\"prefix\":\"us-\"}}]}", A("c|String|us-east-1"), false },
	{ "{\"c\":[{\"anything-but\":{\"suffix\":\".tmp\"}}]}", A("c|String|a.tmp"), false },
	{ "{\"c\":[{\"anything-but\":{\"equals-ignore-case\":\"x\"}}]}", A("c|String|X"), false },
	{ "{\"c\":[{\"anything-but\":[\"a\"]},{\"exists\":false}]}", A(NULL), true },
	/* exists. */
	{ "{\"c\":[{\"exists\":true}]}", A("c|String|x"), true },
	{ "{\"c\":[{\"exists\":true}]}", A("d|String|x"), false },
	{ "{\"c\":[{\"exists\":false}]}", A("d|String|x"), true },
	{ "{\"c\":[{\"exists\":false}]}", A("c|String|x"), false },
	/* cidr, IPv4 and IPv6. */
	{ "{\"ip\":[{\"cidr\":\"10.0.0.0/24\"}]}", A("ip|String|10.0.0.255"), true },
	{ "{\"ip\":[{\"cidr\":\"10.0.0.0/24\"}]}", A("ip|String|10.0.1.0"), false },
	{ "{\"ip\":[{\"cidr\":\"10.0.0.0/7\"}]}", A("ip|String|11.255.0.1"), true },
	{ "{\"ip\":[{\"cidr\":\"10.0.0.0/24\"}]}", A("ip|String|not-an-ip"), false },
	{ "{\"ip\":[{\"cidr\":\"2001:db8::/32\"}]}", A("ip|String|2001:db8:1::5"), true },
	{ "{\"ip\":[{\"cidr\":\"2001:db8::/32\"}]}", A("ip|String|2001:db9::5"), false },
	{ "{\"ip\":[{\"cidr\":\"2001:db8::/32\"}]}", A("ip|String|10.0.0.1"), false },
	/* $or. */
	{ "{\"a\":[\"1\"],\"$or\":[{\"b\":[\"2\"]},{\"c\":[\"3\"]}]}", A("a|String|1", "c|String|3"),
	  true },
	{ "{\"a\":[\"1\"],\"$or\":[{\"b\":[\"2\"]},{\"c\":[\"3\"]}]}", A("a|String|1", "c|String|4"),
	  false },
	{ "{\"$or\":[{\"b\":[\"2\"]},{\"$or\":[{\"c\":[\"3\"]},{\"d\":[\"4\"]}]}]}", A("d|String|4"),
	  true },
	/* Escapes in the policy are decoded; an empty policy lets all through. */
	{ "{\"q\\u0075ote\":[\"a\\\"b\"]}", A("quote|String|a\"b"), true },
	{ "{}", A(NULL), true },
};

Test(sns_filter, attribute_scope_operators)
{
	for (size_t i = 0; i < sizeof(attr_cases) / sizeof(attr_cases[0]); i++) {
		const struct acase *c = &attr_cases[i];
		cr_expect_eq(run(c->policy, SL_FILTER_ATTRIBUTES, &c->msg), c->match,
			     "case %zu: %s against %s: expected %s", i, c->policy,
			     c->msg.attrs[0] ? c->msg.attrs[0] : "(no attributes)",
			     c->match ? "a match" : "no match");
	}
}

#define B(b) { { NULL }, b }

static const struct acase body_cases[] = {
	{ "{\"store\":[\"corp\"]}", B("{\"store\":\"corp\",\"x\":1}"), true },
	{ "{\"store\":[\"corp\"]}", B("{\"store\":\"other\"}"), false },
	/* Nested keys, arrays of scalars and of objects on the way. */
	{ "{\"order\":{\"kind\":[\"book\"]}}", B("{\"order\":{\"kind\":\"book\"}}"), true },
	{ "{\"order\":{\"kind\":[\"book\"]}}", B("{\"order\":{\"kind\":\"pen\"}}"), false },
	{ "{\"order\":{\"kind\":[\"book\"]}}", B("{\"kind\":\"book\"}"), false },
	{ "{\"tags\":[\"b\"]}", B("{\"tags\":[\"a\",\"b\"]}"), true },
	{ "{\"items\":{\"sku\":[\"x2\"]}}", B("{\"items\":[{\"sku\":\"x1\"},{\"sku\":\"x2\"}]}"), true },
	{ "{\"items\":{\"sku\":[\"x3\"]}}", B("{\"items\":[{\"sku\":\"x1\"},{\"sku\":\"x2\"}]}"), false },
	/* JSON types: numbers by value, booleans, null; a string is not a number. */
	{ "{\"n\":[{\"numeric\":[\">=\",10]}]}", B("{\"n\":10.0}"), true },
	{ "{\"n\":[10]}", B("{\"n\":\"10\"}"), false },
	{ "{\"ok\":[true]}", B("{\"ok\":true}"), true },
	{ "{\"ok\":[true]}", B("{\"ok\":\"true\"}"), false },
	{ "{\"v\":[null]}", B("{\"v\":null}"), true },
	/* An object is not a value: exists needs a leaf. */
	{ "{\"o\":[{\"exists\":true}]}", B("{\"o\":{\"p\":1}}"), false },
	{ "{\"o\":[{\"exists\":false}]}", B("{\"p\":1}"), true },
	/* Nested $or, escaped keys in the body. */
	{ "{\"a\":{\"$or\":[{\"b\":[1]},{\"c\":[2]}]}}", B("{\"a\":{\"c\":2}}"), true },
	{ "{\"a\":{\"$or\":[{\"b\":[1]},{\"c\":[2]}]}}", B("{\"a\":{\"c\":3}}"), false },
	{ "{\"key\":[\"v\\n\"]}", B("{\"k\\u0065y\":\"v\\n\"}"), true },
	/* A body that is not a JSON object matches no MessageBody policy. */
	{ "{\"o\":[{\"exists\":false}]}", B("plain text"), false },
	{ "{\"o\":[{\"exists\":false}]}", B("[1,2]"), false },
};

Test(sns_filter, body_scope_operators)
{
	for (size_t i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		const struct acase *c = &body_cases[i];
		cr_expect_eq(run(c->policy, SL_FILTER_BODY, &c->msg), c->match,
			     "case %zu: %s against %s: expected %s", i, c->policy, c->msg.body,
			     c->match ? "a match" : "no match");
	}
}

struct bad {
	const char *policy;
	enum sl_filter_scope scope;
	const char *reason; /* a part of the reason */
};

static const struct bad bad_cases[] = {
	{ "not json", SL_FILTER_ATTRIBUTES, "parse JSON" },
	{ "[\"a\"]", SL_FILTER_ATTRIBUTES, "JSON object" },
	{ "{\"a\":[]}", SL_FILTER_ATTRIBUTES, "Empty arrays" },
	{ "{\"a\":\"x\"}", SL_FILTER_ATTRIBUTES, "object or an array" },
	{ "{\"a\":{\"b\":[\"x\"]}}", SL_FILTER_ATTRIBUTES, "does not support nested" },
	{ "{\"a\":[[\"x\"]]}", SL_FILTER_ATTRIBUTES, "Match value" },
	{ "{\"a\":[{\"regex\":\"x\"}]}", SL_FILTER_ATTRIBUTES, "Unrecognized match type regex" },
	{ "{\"a\":[{\"prefix\":1}]}", SL_FILTER_ATTRIBUTES, "must be a string" },
	{ "{\"a\":[{\"prefix\":\"x\",\"suffix\":\"y\"}]}", SL_FILTER_ATTRIBUTES, "Only one key" },
	{ "{\"a\":[{\"exists\":\"yes\"}]}", SL_FILTER_ATTRIBUTES, "true or false" },
	{ "{\"a\":[{\"numeric\":[\">\"]}]}", SL_FILTER_ATTRIBUTES, "Too many elements" },
	{ "{\"a\":[{\"numeric\":[\"!\",1]}]}", SL_FILTER_ATTRIBUTES, "Unrecognized numeric" },
	{ "{\"a\":[{\"numeric\":[\"<\",1,\">\",0]}]}", SL_FILTER_ATTRIBUTES, "Bad numeric" },
	{ "{\"a\":[{\"numeric\":[\">\",5,\"<\",1]}]}", SL_FILTER_ATTRIBUTES, "less than" },
	{ "{\"a\":[{\"numeric\":[\">\",\"x\"]}]}", SL_FILTER_ATTRIBUTES, "must be numeric" },
	{ "{\"a\":[1000000001]}", SL_FILTER_ATTRIBUTES, "between" },
	{ "{\"a\":[{\"anything-but\":[]}]}", SL_FILTER_ATTRIBUTES, "Empty arrays" },
	{ "{\"a\":[{\"anything-but\":[\"x\",1]}]}", SL_FILTER_ATTRIBUTES, "anything but list" },
	{ "{\"a\":[{\"anything-but\":{\"wild\":\"x\"}}]}", SL_FILTER_ATTRIBUTES, "Unsupported" },
	{ "{\"a\":[{\"cidr\":\"10.0.0.0\"}]}", SL_FILTER_ATTRIBUTES, "CIDR" },
	{ "{\"a\":[{\"cidr\":\"10.0.0.0/33\"}]}", SL_FILTER_ATTRIBUTES, "CIDR" },
	{ "{\"a\":[\"x\"],\"a\":[\"y\"]}", SL_FILTER_ATTRIBUTES, "Duplicate key" },
	{ "{\"$or\":[]}", SL_FILTER_ATTRIBUTES, "$or" },
	{ "{\"$or\":[\"x\"]}", SL_FILTER_ATTRIBUTES, "$or" },
	{ "{\"a\":{}}", SL_FILTER_BODY, "Empty objects" },
	{ "{\"a\":[1],\"b\":[1],\"c\":[1],\"d\":[1],\"e\":[1],\"f\":[1]}", SL_FILTER_ATTRIBUTES,
	  "more than 5 keys" },
	{ "{\"a\":{\"b\":[1],\"c\":[1]},\"d\":{\"b\":[1],\"c\":[1]},\"e\":[1],\"f\":[1]}",
	  SL_FILTER_BODY, "more than 5 keys" },
};

Test(sns_filter, policies_aws_refuses)
{
	char err[256];

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad *b = &bad_cases[i];
		struct sl_filter *f = sl_filter_compile(b->policy, strlen(b->policy), b->scope, err,
							sizeof(err));
		cr_expect_null(f, "case %zu: %s compiled", i, b->policy);
		sl_filter_free(f);
		cr_expect(strstr(err, b->reason) != NULL, "case %zu: %s: reason \"%s\", not \"%s\"", i,
			  b->policy, err, b->reason);
	}
}

/* 150 combinations pass, 151 do not: each key's values multiply, $or
 * branches add. */
Test(sns_filter, complexity_is_counted_as_aws_counts_it)
{
	char p[4096], err[256];
	struct sl_filter *f;

	/* 5 x 5 x 6 = 150. */
	snprintf(p, sizeof(p), "{\"a\":[1,2,3,4,5],\"b\":[1,2,3,4,5],\"c\":[1,2,3,4,5,6]}");
	f = sl_filter_compile(p, strlen(p), SL_FILTER_ATTRIBUTES, err, sizeof(err));
	cr_assert_not_null(f, "%s", err);
	sl_filter_free(f);
	/* 151 values in one key. */
	size_t n = (size_t)snprintf(p, sizeof(p), "{\"a\":[");
	for (int i = 0; i < 151; i++)
		n += (size_t)snprintf(p + n, sizeof(p) - n, "%s%d", i ? "," : "", i);
	snprintf(p + n, sizeof(p) - n, "]}");
	f = sl_filter_compile(p, strlen(p), SL_FILTER_ATTRIBUTES, err, sizeof(err));
	cr_assert_null(f);
	cr_assert(strstr(err, "too complex"), "%s", err);
	/* (a: 2) x ($or: 3 x 25 + 1 x 1) = 2 x 76 = 152. */
	n = (size_t)snprintf(p, sizeof(p), "{\"a\":[1,2],\"$or\":[{\"b\":[1,2,3],\"c\":[");
	for (int i = 0; i < 25; i++)
		n += (size_t)snprintf(p + n, sizeof(p) - n, "%s%d", i ? "," : "", i);
	snprintf(p + n, sizeof(p) - n, "]},{\"d\":[1]}]}");
	f = sl_filter_compile(p, strlen(p), SL_FILTER_ATTRIBUTES, err, sizeof(err));
	cr_assert_null(f);
	cr_assert(strstr(err, "too complex"), "%s", err);
	/* The same with 24 in c: 2 x (72 + 1) = 146. */
	n = (size_t)snprintf(p, sizeof(p), "{\"a\":[1,2],\"$or\":[{\"b\":[1,2,3],\"c\":[");
	for (int i = 0; i < 24; i++)
		n += (size_t)snprintf(p + n, sizeof(p) - n, "%s%d", i ? "," : "", i);
	snprintf(p + n, sizeof(p) - n, "]},{\"d\":[1]}]}");
	f = sl_filter_compile(p, strlen(p), SL_FILTER_ATTRIBUTES, err, sizeof(err));
	cr_assert_not_null(f, "%s", err);
	sl_filter_free(f);
}
