/* test_form.c - sl_form_parse, sl_form_decode, sl_form_to_doc and the doc
 * accessors over the trees they build. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/doc.h"
#include "dataplane/codec/form.h"

#define NPAIR 1100
#define NTOK 4096

static struct sl_form_pair pairs[NPAIR];
static struct sl_doc_tok toks[NTOK];
static char scratch[SL_FORM_SCRATCH_BYTES(NPAIR, 65536)];

/* Parse and build s[0..n) with the big arrays; returns either step's error. */
static int doc_n(const char *s, size_t n)
{
	int np = sl_form_parse(s, n, pairs, NPAIR);

	if (np < 0)
		return np;
	return sl_form_to_doc(pairs, (uint32_t)np, toks, NTOK, scratch, sizeof(scratch));
}

static int doc(const char *s)
{
	return doc_n(s, strlen(s));
}

/* Copy string token t, asserting success, into a static buffer. */
static const char *str_of(int t)
{
	static char buf[512];

	cr_assert_geq(t, 0);
	cr_assert_geq(sl_doc_str(&toks[t], buf, sizeof(buf)), 0, "token %d", t);
	return buf;
}

/* The string value of member key of object obj. */
static const char *get_str(int obj, const char *key)
{
	int v = sl_doc_get(toks, (uint32_t)obj, key);

	cr_assert_geq(v, 0, "no member %s", key);
	cr_assert_eq(toks[v].type, SL_DOC_STR);
	return str_of(v);
}

/* Index of element i of array token arr. */
static int elem(int arr, uint32_t i)
{
	uint32_t c = sl_doc_first((uint32_t)arr);

	cr_assert_eq(toks[arr].type, SL_DOC_ARR);
	cr_assert_lt(i, toks[arr].count);
	for (uint32_t k = 0; k < i; k++)
		c = sl_doc_next(toks, c);
	return (int)c;
}

/* The tree of every key under toks[0] is well nested and ends line up. */
static void check_tree(int n)
{
	for (int i = 0; i < n; i++) {
		const struct sl_doc_tok *t = &toks[i];
		uint32_t c = (uint32_t)i + 1;
		uint32_t kids = t->type == SL_DOC_OBJ ? 2 * t->count : t->count;

		cr_assert_gt(t->end, (uint32_t)i);
		cr_assert_leq(t->end, (uint32_t)n);
		for (uint32_t k = 0; k < kids; k++) {
			cr_assert_lt(c, t->end);
			if (t->type == SL_DOC_OBJ && k % 2 == 0)
				cr_assert_eq(toks[c].type, SL_DOC_STR);
			c = toks[c].end;
		}
		if (t->type == SL_DOC_OBJ || t->type == SL_DOC_ARR)
			cr_assert_eq(c, t->end);
		else
			cr_assert_eq(t->end, (uint32_t)i + 1);
	}
	cr_assert_eq(toks[0].end, (uint32_t)n);
}

Test(form_parse, splits_pairs)
{
	const char *s = "Action=CreateQueue&&QueueName=q%2F1&flag&a==b=c&";
	int n = sl_form_parse(s, strlen(s), pairs, NPAIR);

	cr_assert_eq(n, 4);
	cr_assert_eq(pairs[0].key_len, 6);
	cr_assert_eq(memcmp(pairs[0].key, "Action", 6), 0);
	cr_assert_eq(pairs[0].val_len, 11);
	cr_assert_eq(memcmp(pairs[0].val, "CreateQueue", 11), 0);
	cr_assert_eq(pairs[1].val_len, 5, "still encoded");
	cr_assert_eq(memcmp(pairs[1].val, "q%2F1", 5), 0);
	cr_assert_eq(pairs[2].key_len, 4);
	cr_assert_eq(pairs[2].val_len, 0);
	cr_assert_eq(pairs[2].val, pairs[2].key + 4);
	cr_assert_eq(pairs[3].key_len, 1);
	cr_assert_eq(pairs[3].val_len, 4);
	cr_assert_eq(memcmp(pairs[3].val, "=b=c", 4), 0);
	cr_assert_eq(sl_form_parse("", 0, pairs, NPAIR), 0);
	cr_assert_eq(sl_form_parse(NULL, 0, NULL, 0), 0);
	cr_assert_eq(sl_form_parse("&&&", 3, pairs, NPAIR), 0);
}

Test(form_parse, invalid)
{
	static const char *bad[] = {
		"=x", "a=1&=2", "a%", "a%4", "a%4G=1", "a=%", "a=%zz", "a=%1", "a=1&b=%2",
		"%=1", "a%=1", "a=%%41",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(sl_form_parse(bad[i], strlen(bad[i]), pairs, NPAIR), SL_FORM_INVALID,
			     "%s", bad[i]);
	/* An escape may not straddle the '&' that ends its segment. */
	cr_assert_eq(sl_form_parse("a=%4&1", 6, pairs, NPAIR), SL_FORM_INVALID);
	cr_assert_eq(sl_form_parse("a=%41&1", 7, pairs, NPAIR), 2);
}

Test(form_parse, max_pairs)
{
	const char *s = "a=1&b=2&c=3";

	cr_assert_eq(sl_form_parse(s, strlen(s), pairs, 3), 3);
	cr_assert_eq(sl_form_parse(s, strlen(s), pairs, 2), SL_FORM_TOO_BIG);
	cr_assert_eq(sl_form_parse(s, strlen(s), pairs, 0), SL_FORM_TOO_BIG);
	cr_assert_eq(sl_form_parse("&&", 2, pairs, 0), 0);
}

Test(form_decode, encodings)
{
	char out[64];

	cr_assert_eq(sl_form_decode("a%2Fb", 5, out, sizeof(out)), 3);
	cr_assert_str_eq(out, "a/b");
	cr_assert_eq(sl_form_decode("hello+world", 11, out, sizeof(out)), 11);
	cr_assert_str_eq(out, "hello world");
	cr_assert_eq(sl_form_decode("%7E%7e~", 7, out, sizeof(out)), 3);
	cr_assert_str_eq(out, "~~~");
	cr_assert_eq(sl_form_decode("caf%C3%A9", 9, out, sizeof(out)), 5);
	cr_assert_str_eq(out, "caf\xc3\xa9");
	cr_assert_eq(sl_form_decode("%c3%a9", 6, out, sizeof(out)), 2);
	cr_assert_str_eq(out, "\xc3\xa9");
	cr_assert_eq(sl_form_decode("%2B+%20", 7, out, sizeof(out)), 3);
	cr_assert_str_eq(out, "+  ");
	cr_assert_eq(sl_form_decode("%00x", 4, out, sizeof(out)), 2);
	cr_assert_eq(out[0], '\0');
	cr_assert_eq(out[1], 'x');
	cr_assert_eq(sl_form_decode("", 0, out, 1), 0);
	cr_assert_str_eq(out, "");
}

Test(form_decode, errors_and_capacity)
{
	char out[8];

	cr_assert_eq(sl_form_decode("%", 1, out, sizeof(out)), -1);
	cr_assert_eq(sl_form_decode("ab%4", 4, out, sizeof(out)), -1);
	cr_assert_eq(sl_form_decode("%g0", 3, out, sizeof(out)), -1);
	cr_assert_eq(sl_form_decode("%0g", 3, out, sizeof(out)), -1);
	cr_assert_eq(sl_form_decode("abcd", 4, out, 5), 4);
	cr_assert_eq(sl_form_decode("abcd", 4, out, 4), -2);
	cr_assert_eq(sl_form_decode("%41%42", 6, out, 3), 2);
	cr_assert_str_eq(out, "AB");
	cr_assert_eq(sl_form_decode("%41%42", 6, out, 2), -2);
	cr_assert_eq(sl_form_decode("", 0, out, 0), -2);
}

/* The example of the API: a list of objects, in the exact token layout. */
Test(form_doc, token_layout)
{
	const char *s = "Attribute.1.Name=X&Attribute.1.Value=Y&Attribute.2.Name=Z";

	cr_assert_eq(doc(s), 11);
	check_tree(11);
	cr_assert_eq(toks[0].type, SL_DOC_OBJ);
	cr_assert_eq(toks[0].count, 1);
	cr_assert_str_eq(str_of(1), "Attribute");
	cr_assert_eq(toks[2].type, SL_DOC_ARR);
	cr_assert_eq(toks[2].count, 2);
	cr_assert_eq(toks[2].end, 11);
	cr_assert_eq(toks[2].len, 0);
	cr_assert_eq(toks[3].type, SL_DOC_OBJ);
	cr_assert_eq(toks[3].count, 2);
	cr_assert_eq(toks[3].end, 8);
	cr_assert_str_eq(str_of(4), "Name");
	cr_assert_str_eq(str_of(5), "X");
	cr_assert_str_eq(str_of(6), "Value");
	cr_assert_str_eq(str_of(7), "Y");
	cr_assert_eq(toks[8].type, SL_DOC_OBJ);
	cr_assert_eq(toks[8].count, 1);
	cr_assert_str_eq(str_of(9), "Name");
	cr_assert_str_eq(str_of(10), "Z");
	/* Views into the input, none of them needing a decode. */
	cr_assert_eq(toks[5].ptr, (const uint8_t *)s + 17);
	cr_assert_eq(toks[5].flags, 0);
	cr_assert_eq(toks[1].ptr, (const uint8_t *)s);
	cr_assert_eq(toks[1].len, 9);
}

Test(form_doc, sqs_create_queue)
{
	const char *s = "Action=CreateQueue&Version=2012-11-05&QueueName=q1"
			"&Attribute.1.Name=DelaySeconds&Attribute.1.Value=5"
			"&Attribute.2.Name=VisibilityTimeout&Attribute.2.Value=30"
			"&Tag.1.Key=env&Tag.1.Value=prod";
	int n = doc(s), a, e;

	cr_assert_gt(n, 0);
	check_tree(n);
	cr_assert_eq(toks[0].count, 5);
	cr_assert_str_eq(get_str(0, "Action"), "CreateQueue");
	cr_assert_str_eq(get_str(0, "Version"), "2012-11-05");
	cr_assert_str_eq(get_str(0, "QueueName"), "q1");
	a = sl_doc_get(toks, 0, "Attribute");
	cr_assert_eq(toks[a].type, SL_DOC_ARR);
	cr_assert_eq(toks[a].count, 2);
	e = elem(a, 0);
	cr_assert_str_eq(get_str(e, "Name"), "DelaySeconds");
	cr_assert_str_eq(get_str(e, "Value"), "5");
	e = elem(a, 1);
	cr_assert_str_eq(get_str(e, "Name"), "VisibilityTimeout");
	cr_assert_str_eq(get_str(e, "Value"), "30");
	a = sl_doc_get(toks, 0, "Tag");
	cr_assert_eq(toks[a].count, 1);
	cr_assert_str_eq(get_str(elem(a, 0), "Key"), "env");
	cr_assert_eq(sl_doc_get(toks, 0, "Attribute.1.Name"), -1);
	cr_assert_eq(sl_doc_get(toks, 0, "action"), -1);
}

Test(form_doc, sqs_send_message_encodings)
{
	const char *s = "Action=SendMessage"
			"&QueueUrl=http%3A%2F%2Flocalhost%3A4566%2F000000000000%2Fq1"
			"&MessageBody=hello+world%21%20%7E%C3%A9%0A%26%3D"
			"&MessageAttribute.1.Name=attr&MessageAttribute.1.Value.DataType=String"
			"&MessageAttribute.1.Value.StringValue=v%2B1"
			"&MessageAttribute.2.Name=bin&MessageAttribute.2.Value.DataType=Binary"
			"&MessageAttribute.2.Value.BinaryValue=aGk%2B%2Fw%3D%3D";
	int n = doc(s), a, e, v, b;
	uint8_t bytes[16];

	cr_assert_gt(n, 0);
	check_tree(n);
	cr_assert_str_eq(get_str(0, "QueueUrl"), "http://localhost:4566/000000000000/q1");
	cr_assert_str_eq(get_str(0, "MessageBody"), "hello world! ~\xc3\xa9\n&=");
	cr_assert_eq(toks[sl_doc_get(toks, 0, "MessageBody")].flags, SL_DOC_F_PCT);
	cr_assert_eq(toks[sl_doc_get(toks, 0, "Action")].flags, 0);
	a = sl_doc_get(toks, 0, "MessageAttribute");
	cr_assert_eq(toks[a].count, 2);
	e = elem(a, 0);
	cr_assert_str_eq(get_str(e, "Name"), "attr");
	v = sl_doc_get(toks, (uint32_t)e, "Value");
	cr_assert_eq(toks[v].type, SL_DOC_OBJ);
	cr_assert_str_eq(get_str(v, "DataType"), "String");
	cr_assert_str_eq(get_str(v, "StringValue"), "v+1");
	e = elem(a, 1);
	v = sl_doc_get(toks, (uint32_t)e, "Value");
	b = sl_doc_get(toks, (uint32_t)v, "BinaryValue");
	cr_assert_leq(4, sl_doc_blob_max(&toks[b]));
	cr_assert_eq(sl_doc_blob(&toks[b], bytes, sizeof(bytes)), 4);
	cr_assert_eq(memcmp(bytes, "hi>\xff", 4), 0);
	cr_assert_eq(sl_doc_blob(&toks[b], bytes, 3), -2);
}

Test(form_doc, sns_publish_and_tags)
{
	const char *s = "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3At"
			"&Message=%7B%22default%22%3A%22x%22%7D&Subject=Hi+there"
			"&MessageAttributes.entry.1.Name=k"
			"&MessageAttributes.entry.1.Value.DataType=String"
			"&MessageAttributes.entry.1.Value.StringValue=v"
			"&Tags.member.1.Key=team&Tags.member.1.Value=core&Tags.member.2.Key=env";
	int n = doc(s), m, l, e;

	cr_assert_gt(n, 0);
	check_tree(n);
	cr_assert_str_eq(get_str(0, "TopicArn"), "arn:aws:sns:us-east-1:000000000000:t");
	cr_assert_str_eq(get_str(0, "Message"), "{\"default\":\"x\"}");
	cr_assert_str_eq(get_str(0, "Subject"), "Hi there");
	m = sl_doc_get(toks, 0, "MessageAttributes");
	cr_assert_eq(toks[m].type, SL_DOC_OBJ);
	l = sl_doc_get(toks, (uint32_t)m, "entry");
	cr_assert_eq(toks[l].count, 1);
	e = elem(l, 0);
	cr_assert_str_eq(get_str(e, "Name"), "k");
	cr_assert_str_eq(get_str(sl_doc_get(toks, (uint32_t)e, "Value"), "StringValue"), "v");
	m = sl_doc_get(toks, 0, "Tags");
	cr_assert_eq(toks[m].type, SL_DOC_OBJ);
	cr_assert_eq(toks[m].count, 1);
	l = sl_doc_get(toks, (uint32_t)m, "member");
	cr_assert_eq(toks[l].count, 2);
	cr_assert_str_eq(get_str(elem(l, 0), "Key"), "team");
	cr_assert_str_eq(get_str(elem(l, 0), "Value"), "core");
	cr_assert_str_eq(get_str(elem(l, 1), "Key"), "env");
}

/* The minimal example: {"Tags":{"member":[{"Key":"k"}]}}. */
Test(form_doc, member_list_layout)
{
	cr_assert_eq(doc("Tags.member.1.Key=k"), 8);
	check_tree(8);
	cr_assert_str_eq(str_of(1), "Tags");
	cr_assert_eq(toks[2].type, SL_DOC_OBJ);
	cr_assert_str_eq(str_of(3), "member");
	cr_assert_eq(toks[4].type, SL_DOC_ARR);
	cr_assert_eq(toks[5].type, SL_DOC_OBJ);
	cr_assert_str_eq(str_of(6), "Key");
	cr_assert_str_eq(str_of(7), "k");
}

Test(form_doc, lists_in_index_order_with_gaps)
{
	int n = doc("L.10=c&L.2=b&X=x&L.1000=d&L.1=a&M.3=z"), l;

	cr_assert_gt(n, 0);
	check_tree(n);
	l = sl_doc_get(toks, 0, "L");
	cr_assert_eq(toks[l].count, 4);
	cr_assert_str_eq(str_of(elem(l, 0)), "a");
	cr_assert_str_eq(str_of(elem(l, 1)), "b");
	cr_assert_str_eq(str_of(elem(l, 2)), "c");
	cr_assert_str_eq(str_of(elem(l, 3)), "d");
	l = sl_doc_get(toks, 0, "M");
	cr_assert_eq(toks[l].count, 1);
	cr_assert_str_eq(str_of(elem(l, 0)), "z");
	cr_assert_str_eq(get_str(0, "X"), "x");
}

/* A thousand entries in shuffled order come out sorted (the heapsort). */
Test(form_doc, large_shuffled_list)
{
	static char body[32768];
	static uint32_t order[SL_FORM_INDEX_MAX];
	size_t len = 0;
	int n, l;

	for (uint32_t i = 0; i < SL_FORM_INDEX_MAX; i++)
		order[i] = i + 1;
	srand(7);
	for (uint32_t i = SL_FORM_INDEX_MAX - 1; i > 0; i--) {
		uint32_t j = (uint32_t)rand() % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (uint32_t i = 0; i < SL_FORM_INDEX_MAX; i++)
		len += (size_t)snprintf(body + len, sizeof(body) - len, "%sE.%u.Id=%u",
					i ? "&" : "", order[i], order[i] * 3);
	n = doc_n(body, len);
	cr_assert_eq(n, 3 + 3 * SL_FORM_INDEX_MAX);
	check_tree(n);
	l = sl_doc_get(toks, 0, "E");
	cr_assert_eq(toks[l].count, SL_FORM_INDEX_MAX);
	for (uint32_t i = 0; i < SL_FORM_INDEX_MAX; i += 97) {
		char want[16];

		snprintf(want, sizeof(want), "%u", (i + 1) * 3);
		cr_assert_str_eq(get_str(elem(l, i), "Id"), want);
	}
}

Test(form_doc, members_in_byte_order)
{
	cr_assert_eq(doc("b=2&a=1&B=3&ab=4"), 9);
	cr_assert_str_eq(str_of(1), "B");
	cr_assert_str_eq(str_of(3), "a");
	cr_assert_str_eq(str_of(5), "ab");
	cr_assert_str_eq(str_of(7), "b");
}

/* Decoded keys live in scratch; plain ones view the input. */
Test(form_doc, encoded_keys)
{
	const char *s = "Attribute.1.%4Eame=X&My+Key=sp&a%2Eb=dot&plain=p";
	int n = doc(s), a, k;

	cr_assert_gt(n, 0);
	check_tree(n);
	a = sl_doc_get(toks, 0, "Attribute");
	cr_assert_str_eq(get_str(elem(a, 0), "Name"), "X");
	k = sl_doc_get(toks, (uint32_t)elem(a, 0), "Name") - 1;
	cr_assert_geq(toks[k].ptr, (const uint8_t *)scratch);
	cr_assert_lt(toks[k].ptr, (const uint8_t *)scratch + sizeof(scratch));
	cr_assert_str_eq(get_str(0, "My Key"), "sp");
	/* Keys are split after decoding, so %2E is a separator too. */
	cr_assert_str_eq(get_str(sl_doc_get(toks, 0, "a"), "b"), "dot");
	k = sl_doc_get(toks, 0, "plain") - 1;
	cr_assert_eq(toks[k].ptr, (const uint8_t *)s + strlen(s) - 7);
}

/* Only 1..N without leading zeros are indexes; "0" and "01" are names. */
Test(form_doc, what_counts_as_an_index)
{
	int n = doc("a.0=x&a.01=y&b.1000=z&c.1x=w"), o;

	cr_assert_gt(n, 0);
	o = sl_doc_get(toks, 0, "a");
	cr_assert_eq(toks[o].type, SL_DOC_OBJ);
	cr_assert_str_eq(get_str(o, "0"), "x");
	cr_assert_str_eq(get_str(o, "01"), "y");
	cr_assert_eq(toks[sl_doc_get(toks, 0, "b")].type, SL_DOC_ARR);
	cr_assert_str_eq(get_str(sl_doc_get(toks, 0, "c"), "1x"), "w");
	/* The first segment names a root member even when it is a number. */
	cr_assert_eq(doc("1=a&2=b"), 5);
	cr_assert_str_eq(get_str(0, "1"), "a");
}

Test(form_doc, empty_values_and_body)
{
	cr_assert_eq(doc(""), 1);
	cr_assert_eq(toks[0].type, SL_DOC_OBJ);
	cr_assert_eq(toks[0].count, 0);
	cr_assert_eq(toks[0].end, 1);
	cr_assert_eq(sl_doc_get(toks, 0, "a"), -1);
	cr_assert_eq(doc("flag&NextToken="), 5);
	cr_assert_str_eq(get_str(0, "flag"), "");
	cr_assert_str_eq(get_str(0, "NextToken"), "");
}

Test(form_doc, invalid_trees)
{
	static const char *bad[] = {
		"a=1&a.b=2", "a.b=2&a=1", "a.1=x&a.b=y", "a.b=y&a.1=x", "a..b=1", ".a=1",
		"a.=1", "a=1&a=2", "a.1=1&a.1=2", "a.1001=x", "a.99999999999999999999=x",
		"a=1&%61=2", "a.1.b=1&a.1=2", "a.01=x&a.1=y", "A.1.Name=x&A.1.Name=y",
		"x.y.z=1&x.y=2&q=3", "%2E=1", "a%2E=1", "a=%zz",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(doc(bad[i]), SL_FORM_INVALID, "%s", bad[i]);
	cr_assert_gt(doc("a.1000=x"), 0);
}

/* Pairs made by hand go through the same checks as parsed ones. */
Test(form_doc, hand_made_pairs)
{
	struct sl_form_pair p[2] = {
		{ .key = "a", .key_len = 1, .val = "%4", .val_len = 2 },
		{ .key = "", .key_len = 0, .val = "", .val_len = 0 },
	};

	cr_assert_eq(sl_form_to_doc(p, 1, toks, NTOK, scratch, sizeof(scratch)), SL_FORM_INVALID);
	p[0].val_len = 0;
	cr_assert_eq(sl_form_to_doc(p, 1, toks, NTOK, scratch, sizeof(scratch)), 3);
	cr_assert_eq(sl_form_to_doc(p, 2, toks, NTOK, scratch, sizeof(scratch)), SL_FORM_INVALID);
	p[1].key = "%g";
	p[1].key_len = 2;
	cr_assert_eq(sl_form_to_doc(p, 2, toks, NTOK, scratch, sizeof(scratch)), SL_FORM_INVALID);
}

Test(form_doc, depth_limit)
{
	static char key[256];
	size_t n = 0;

	for (int i = 0; i < SL_DOC_DEPTH_MAX; i++) {
		key[n++] = i ? '.' : 'k';
		if (i)
			key[n++] = 'k';
	}
	memcpy(key + n, "=v", 3);
	cr_assert_eq(doc(key), 1 + 2 * SL_DOC_DEPTH_MAX);
	check_tree(1 + 2 * SL_DOC_DEPTH_MAX);
	cr_assert_str_eq(str_of(2 * SL_DOC_DEPTH_MAX), "v");
	memcpy(key + n, ".k=v", 5);
	cr_assert_eq(doc(key), SL_FORM_TOO_BIG);
}

Test(form_doc, too_few_tokens)
{
	const char *s = "Attribute.1.Name=X&Attribute.1.Value=Y&Attribute.2.Name=Z&Q=1";
	int np = sl_form_parse(s, strlen(s), pairs, NPAIR);

	cr_assert_eq(np, 4);
	cr_assert_eq(sl_form_to_doc(pairs, 4, toks, 13, scratch, sizeof(scratch)), 13);
	for (uint32_t m = 0; m < 13; m++)
		cr_assert_eq(sl_form_to_doc(pairs, 4, toks, m, scratch, sizeof(scratch)),
			     SL_FORM_TOO_BIG, "max_toks %u", m);
	cr_assert_eq(sl_form_to_doc(pairs, 0, toks, 0, NULL, 0), SL_FORM_TOO_BIG);
	cr_assert_eq(sl_form_to_doc(pairs, 0, toks, 1, NULL, 0), 1);
}

/* Scratch holds a record per pair plus the decoded keys: every size below
 * what a body needs is TOO_BIG, and the bound in form.h is enough. */
Test(form_doc, too_little_scratch)
{
	const char *s = "Attribute.1.%4Eame=X&Attribute.1.Value=Y&Q%2B=1";
	int np = sl_form_parse(s, strlen(s), pairs, NPAIR), want;
	size_t need = 0;
	static char small[256] __attribute__((aligned(16)));

	cr_assert_eq(np, 3);
	want = sl_form_to_doc(pairs, 3, toks, NTOK, small, SL_FORM_SCRATCH_BYTES(3, strlen(s)));
	cr_assert_eq(want, 10);
	for (size_t cap = 0; cap < sizeof(small); cap++) {
		int r = sl_form_to_doc(pairs, 3, toks, NTOK, small + 1, cap);

		if (r == want && need == 0)
			need = cap;
		cr_assert(need == 0 ? r == SL_FORM_TOO_BIG : r == want, "cap %zu: %d", cap, r);
	}
	cr_assert_gt(need, 0);
	cr_assert_leq(need, SL_FORM_SCRATCH_BYTES(3, strlen(s)));
	/* Padding to align small + 1 (7 bytes on LP64), three records, and the
	 * decoded "Attribute.1.Name" and "Q+"; the plain key needs no copy. */
	if (sizeof(void *) == 8)
		cr_assert_eq(need, 7 + 3 * SL_FORM_SCRATCH_PER_PAIR + 16 + 2, "need %zu", need);
}

Test(form_doc, str_capacity)
{
	char out[8];
	int v;

	cr_assert_gt(doc("a=%41%42c&b=xyz"), 0);
	v = sl_doc_get(toks, 0, "a");
	cr_assert_eq(sl_doc_str(&toks[v], out, 4), 3);
	cr_assert_str_eq(out, "ABc");
	cr_assert_eq(sl_doc_str(&toks[v], out, 3), -2);
	v = sl_doc_get(toks, 0, "b");
	cr_assert_eq(sl_doc_str(&toks[v], out, 3), -2);
	cr_assert_eq(sl_doc_str(&toks[0], out, sizeof(out)), -1);
}

Test(form_doc, blob_rules)
{
	uint8_t b[16];
	int v;

	cr_assert_gt(doc("raw=aGk%2B%2Fw%3D%3D&plus=aGk+/w==&plain=Zm9v&bad=Zm9&short=Zm%3D"), 0);
	v = sl_doc_get(toks, 0, "raw");
	cr_assert_eq(sl_doc_blob(&toks[v], b, sizeof(b)), 4);
	/* A '+' in a form value is a space, never a base64 digit. */
	v = sl_doc_get(toks, 0, "plus");
	cr_assert_eq(sl_doc_blob(&toks[v], b, sizeof(b)), -1);
	v = sl_doc_get(toks, 0, "plain");
	cr_assert_eq(sl_doc_blob(&toks[v], b, sizeof(b)), 3);
	cr_assert_eq(memcmp(b, "foo", 3), 0);
	v = sl_doc_get(toks, 0, "bad");
	cr_assert_eq(sl_doc_blob(&toks[v], b, sizeof(b)), -1);
	v = sl_doc_get(toks, 0, "short");
	cr_assert_eq(sl_doc_blob(&toks[v], b, sizeof(b)), -1);
}

/* picohttpparser style: every prefix of a real body parses or fails
 * cleanly, from a private copy so that a read past it trips ASan, and
 * every string of a tree that builds reads back. */
Test(form_doc, every_truncated_prefix)
{
	const char *body = "Action=SendMessageBatch&QueueUrl=http%3A%2F%2Fh%3A1%2F0%2Fq"
			   "&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry."
			   "1.MessageBody=caf%C3%A9+%7E&SendMessageBatchRequestEntry.2.Id=b"
			   "&SendMessageBatchRequestEntry.2.DelaySeconds=5&Version=2012-11-05";
	size_t len = strlen(body);
	int ok = 0;

	cr_assert_gt(doc(body), 0);
	for (size_t i = 0; i <= len; i++) {
		char *copy = malloc(i + 1);
		char out[256];
		int n;

		memcpy(copy, body, i);
		n = doc_n(copy, i);
		cr_assert(n > 0 || n == SL_FORM_INVALID, "prefix %zu: %d", i, n);
		if (n > 0) {
			check_tree(n);
			ok++;
		}
		for (int t = 0; t < n; t++)
			if (toks[t].type == SL_DOC_STR)
				cr_assert_geq(sl_doc_str(&toks[t], out, sizeof(out)), 0);
		free(copy);
	}
	cr_assert_gt(ok, (int)len / 2);
}
