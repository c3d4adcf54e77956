/* test_xml.c - the query-protocol XML format of the reply writer, and that
 * the calls added for it leave JSON and CBOR as they were. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/enc.h"

#define DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
#define SQS_NS "http://queue.amazonaws.com/doc/2012-11-05/"
#define SNS_NS "http://sns.amazonaws.com/doc/2010-03-31/"

static struct sl_enc e;

static void xml_init(void)
{
	cr_assert_eq(sl_enc_init(&e, SL_ENC_XML, 0), 0);
}

static void fini(void)
{
	sl_enc_free(&e);
}

/* The encoder's bytes equal the n bytes at want. */
static void expect(const void *want, size_t n)
{
	cr_assert_eq(e.err, 0, "err %d", e.err);
	cr_assert_eq(e.len, n, "len %zu want %zu:\n%.*s\n%.*s", e.len, n, (int)e.len,
		     (const char *)e.buf, (int)n, (const char *)want);
	cr_assert_eq(memcmp(e.buf, want, n), 0, "got\n%.*s\nwant\n%.*s", (int)e.len,
		     (const char *)e.buf, (int)n, (const char *)want);
	cr_assert_eq(e.depth, 0);
}

#define EXPECT_STR(s) expect((s), strlen(s))
#define EXPECT_BYTES(lit) expect((lit), sizeof(lit) - 1)

/* What a protocol layer would do around a format-agnostic handler: in XML
 * the root element, the Result element and ResponseMetadata; in JSON and
 * CBOR only the handler's own object. */
static void query_reply(const char *root, const char *ns, const char *result, void (*body)(void))
{
	sl_enc_xml_begin(&e, root, ns);
	if (e.fmt == SL_ENC_XML)
		sl_enc_key(&e, result);
	body();
	if (e.fmt == SL_ENC_XML) {
		sl_enc_key(&e, "ResponseMetadata");
		sl_enc_obj_begin(&e);
		sl_enc_key(&e, "RequestId");
		sl_enc_cstr(&e, "7a62c49f-347e-4fc4-9331-6e8e7a96aa73");
		sl_enc_obj_end(&e);
	}
	sl_enc_xml_end(&e);
}

static void create_queue_body(void)
{
	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "QueueUrl");
	sl_enc_cstr(&e, "http://sqs.us-east-1.localhost:4566/000000000000/q1");
	sl_enc_obj_end(&e);
}

Test(xml, sqs_create_queue, .init = xml_init, .fini = fini)
{
	query_reply("CreateQueueResponse", SQS_NS, "CreateQueueResult", create_queue_body);
	EXPECT_STR(DECL "<CreateQueueResponse xmlns=\"" SQS_NS "\"><CreateQueueResult>"
		   "<QueueUrl>http://sqs.us-east-1.localhost:4566/000000000000/q1</QueueUrl>"
		   "</CreateQueueResult><ResponseMetadata><RequestId>"
		   "7a62c49f-347e-4fc4-9331-6e8e7a96aa73</RequestId></ResponseMetadata>"
		   "</CreateQueueResponse>");
}

/* One flattened <Attribute> or <MessageAttribute> entry. */
static void name_value(const char *name, const char *value)
{
	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "Name");
	sl_enc_cstr(&e, name);
	sl_enc_key(&e, "Value");
	sl_enc_cstr(&e, value);
	sl_enc_obj_end(&e);
}

static void receive_message_body(void)
{
	static const uint8_t bin[] = { 'h', 'i', '>', 0xff };

	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "Message");
	sl_enc_arr_begin_flat(&e);
	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "MessageId");
	sl_enc_cstr(&e, "5fea7756-0ea4-451a-a703-a558b933e274");
	sl_enc_key(&e, "ReceiptHandle");
	sl_enc_cstr(&e, "MbZj6wDWli+JvwwJaBV+3dcjk2YW2vA3+STFFljTM8tJJg6HRG6PYSasuWXPJB+Cw");
	sl_enc_key(&e, "MD5OfBody");
	sl_enc_cstr(&e, "fafb00f5732ab283681e124bf8747ed1");
	sl_enc_key(&e, "Body");
	sl_enc_cstr(&e, "<b> & \"q\" 's'\r\n\tcaf\xc3\xa9");
	sl_enc_key(&e, "Attribute");
	sl_enc_arr_begin_flat(&e);
	name_value("SenderId", "195004372649");
	name_value("SentTimestamp", "1238099229000");
	sl_enc_arr_end(&e);
	sl_enc_key(&e, "MessageAttribute");
	sl_enc_arr_begin_flat(&e);
	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "Name");
	sl_enc_cstr(&e, "bin");
	sl_enc_key(&e, "Value");
	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "BinaryValue");
	sl_enc_blob(&e, bin, sizeof(bin));
	sl_enc_key(&e, "DataType");
	sl_enc_cstr(&e, "Binary");
	sl_enc_obj_end(&e);
	sl_enc_obj_end(&e);
	sl_enc_arr_end(&e);
	sl_enc_obj_end(&e);
	sl_enc_arr_end(&e);
	sl_enc_obj_end(&e);
}

Test(xml, sqs_receive_message, .init = xml_init, .fini = fini)
{
	query_reply("ReceiveMessageResponse", SQS_NS, "ReceiveMessageResult", receive_message_body);
	EXPECT_STR(DECL "<ReceiveMessageResponse xmlns=\"" SQS_NS "\"><ReceiveMessageResult>"
		   "<Message><MessageId>5fea7756-0ea4-451a-a703-a558b933e274</MessageId>"
		   "<ReceiptHandle>MbZj6wDWli+JvwwJaBV+3dcjk2YW2vA3+STFFljTM8tJJg6HRG6PYSasuWXPJB+Cw"
		   "</ReceiptHandle><MD5OfBody>fafb00f5732ab283681e124bf8747ed1</MD5OfBody>"
		   "<Body>&lt;b&gt; &amp; &quot;q&quot; &apos;s&apos;&#xD;\n\tcaf\xc3\xa9</Body>"
		   "<Attribute><Name>SenderId</Name><Value>195004372649</Value></Attribute>"
		   "<Attribute><Name>SentTimestamp</Name><Value>1238099229000</Value></Attribute>"
		   "<MessageAttribute><Name>bin</Name><Value><BinaryValue>aGk+/w==</BinaryValue>"
		   "<DataType>Binary</DataType></Value></MessageAttribute></Message>"
		   "</ReceiveMessageResult><ResponseMetadata><RequestId>"
		   "7a62c49f-347e-4fc4-9331-6e8e7a96aa73</RequestId></ResponseMetadata>"
		   "</ReceiveMessageResponse>");
}

static void receive_nothing_body(void)
{
	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "Message");
	sl_enc_arr_begin_flat(&e);
	sl_enc_arr_end(&e);
	sl_enc_obj_end(&e);
}

/* An empty flattened list leaves no trace; an empty wrapped one is an empty element. */
Test(xml, sqs_receive_nothing, .init = xml_init, .fini = fini)
{
	query_reply("ReceiveMessageResponse", SQS_NS, "ReceiveMessageResult", receive_nothing_body);
	EXPECT_STR(DECL "<ReceiveMessageResponse xmlns=\"" SQS_NS "\"><ReceiveMessageResult>"
		   "</ReceiveMessageResult><ResponseMetadata><RequestId>"
		   "7a62c49f-347e-4fc4-9331-6e8e7a96aa73</RequestId></ResponseMetadata>"
		   "</ReceiveMessageResponse>");
}

static const char *topics[] = {
	"arn:aws:sns:us-east-1:123456789012:My-Topic",
	"arn:aws:sns:us-east-1:123456789012:t2",
};
static size_t ntopics;

static void list_topics_body(void)
{
	sl_enc_obj_begin(&e);
	sl_enc_key(&e, "Topics");
	sl_enc_arr_begin(&e);
	for (size_t i = 0; i < ntopics; i++) {
		sl_enc_obj_begin(&e);
		sl_enc_key(&e, "TopicArn");
		sl_enc_cstr(&e, topics[i]);
		sl_enc_obj_end(&e);
	}
	sl_enc_arr_end(&e);
	sl_enc_key(&e, "NextToken");
	if (ntopics > 0)
		sl_enc_cstr(&e, "tok");
	else
		sl_enc_null(&e);
	sl_enc_obj_end(&e);
}

#define SNS_TAIL "<ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8e7a96aa73" \
		 "</RequestId></ResponseMetadata></ListTopicsResponse>"

Test(xml, sns_list_topics, .init = xml_init, .fini = fini)
{
	ntopics = 2;
	query_reply("ListTopicsResponse", SNS_NS, "ListTopicsResult", list_topics_body);
	EXPECT_STR(DECL "<ListTopicsResponse xmlns=\"" SNS_NS "\"><ListTopicsResult><Topics>"
		   "<member><TopicArn>arn:aws:sns:us-east-1:123456789012:My-Topic</TopicArn></member>"
		   "<member><TopicArn>arn:aws:sns:us-east-1:123456789012:t2</TopicArn></member>"
		   "</Topics><NextToken>tok</NextToken></ListTopicsResult>" SNS_TAIL);
}

/* No topics: an empty <Topics> element, and a null NextToken left out. */
Test(xml, sns_list_topics_empty, .init = xml_init, .fini = fini)
{
	ntopics = 0;
	query_reply("ListTopicsResponse", SNS_NS, "ListTopicsResult", list_topics_body);
	EXPECT_STR(DECL "<ListTopicsResponse xmlns=\"" SNS_NS "\"><ListTopicsResult>"
		   "<Topics></Topics></ListTopicsResult>" SNS_TAIL);
}

/* The same handlers in JSON: xml_begin/end write nothing, a flat list is a list. */
Test(xml, same_calls_in_json)
{
	cr_assert_eq(sl_enc_init(&e, SL_ENC_JSON, 0), 0);
	ntopics = 2;
	query_reply("ListTopicsResponse", SNS_NS, "ListTopicsResult", list_topics_body);
	EXPECT_STR("{\"Topics\":[{\"TopicArn\":\"arn:aws:sns:us-east-1:123456789012:My-Topic\"},"
		   "{\"TopicArn\":\"arn:aws:sns:us-east-1:123456789012:t2\"}],\"NextToken\":\"tok\"}");
	sl_enc_reset(&e);
	query_reply("ReceiveMessageResponse", SQS_NS, "ReceiveMessageResult", receive_message_body);
	EXPECT_STR("{\"Message\":[{\"MessageId\":\"5fea7756-0ea4-451a-a703-a558b933e274\","
		   "\"ReceiptHandle\":\"MbZj6wDWli+JvwwJaBV+3dcjk2YW2vA3+STFFljTM8tJJg6HRG6PYSasuWXPJB+Cw\","
		   "\"MD5OfBody\":\"fafb00f5732ab283681e124bf8747ed1\","
		   "\"Body\":\"<b> & \\\"q\\\" 's'\\r\\n\\tcaf\xc3\xa9\","
		   "\"Attribute\":[{\"Name\":\"SenderId\",\"Value\":\"195004372649\"},"
		   "{\"Name\":\"SentTimestamp\",\"Value\":\"1238099229000\"}],"
		   "\"MessageAttribute\":[{\"Name\":\"bin\",\"Value\":{\"BinaryValue\":\"aGk+/w==\","
		   "\"DataType\":\"Binary\"}}]}]}");
	sl_enc_reset(&e);
	ntopics = 0;
	query_reply("ListTopicsResponse", SNS_NS, "ListTopicsResult", list_topics_body);
	EXPECT_STR("{\"Topics\":[],\"NextToken\":null}");
	sl_enc_free(&e);
}

Test(xml, same_calls_in_cbor)
{
	cr_assert_eq(sl_enc_init(&e, SL_ENC_CBOR, 0), 0);
	receive_nothing_body();
	EXPECT_BYTES("\xbf\x67Message\x9f\xff\xff");
	sl_enc_reset(&e);
	query_reply("ReceiveMessageResponse", SQS_NS, "ReceiveMessageResult", receive_nothing_body);
	EXPECT_BYTES("\xbf\x67Message\x9f\xff\xff");
	sl_enc_free(&e);
}

/* test_enc.c's reply, which touches every writer: JSON and CBOR as there,
 * and what XML makes of it (null left out, unnamed entries as <member>). */
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

Test(xml, test_enc_reply_in_every_format)
{
	cr_assert_eq(sl_enc_init(&e, SL_ENC_JSON, 0), 0);
	build_reply();
	EXPECT_STR("{\"Name\":\"s1\",\"Count\":-25,\"List\":[1,true,false,null,{},[]],"
		   "\"Data\":\"aGkA/w==\",\"At\":1700000000.123}");
	sl_enc_free(&e);
	cr_assert_eq(sl_enc_init(&e, SL_ENC_CBOR, 0), 0);
	build_reply();
	EXPECT_BYTES("\xbf\x64Name\x62s1\x65" "Count\x38\x18\x64List\x9f\x01\xf5\xf4\xf6\xbf\xff"
		     "\x9f\xff\xff\x64" "Data\x44hi\x00\xff\x62" "At\xc1\x1b\x00\x00\x01\x8b\xcf\xe5\x68\x7b\xff");
	sl_enc_free(&e);
	cr_assert_eq(sl_enc_init(&e, SL_ENC_XML, 0), 0);
	sl_enc_xml_begin(&e, "R", NULL);
	build_reply();
	sl_enc_xml_end(&e);
	EXPECT_STR(DECL "<R><Name>s1</Name><Count>-25</Count><List><member>1</member>"
		   "<member>true</member><member>false</member><member></member>"
		   "<member></member></List><Data>aGkA/w==</Data>"
		   "<At>2023-11-14T22:13:20.123Z</At></R>");
	sl_enc_free(&e);
}

Test(xml, scalar_lists_nesting_and_flat_scalars, .init = xml_init, .fini = fini)
{
	sl_enc_xml_begin(&e, "PutMetricDataResponse", NULL);
	sl_enc_key(&e, "Values");
	sl_enc_arr_begin(&e);
	sl_enc_int(&e, 1);
	sl_enc_int(&e, INT64_MIN);
	sl_enc_arr_begin(&e);
	sl_enc_int(&e, 2);
	sl_enc_arr_end(&e);
	sl_enc_arr_end(&e);
	sl_enc_key(&e, "Id");
	sl_enc_arr_begin_flat(&e);
	sl_enc_cstr(&e, "a");
	sl_enc_cstr(&e, "");
	sl_enc_arr_end(&e);
	sl_enc_key(&e, "Empty");
	sl_enc_obj_begin(&e);
	sl_enc_obj_end(&e);
	sl_enc_key(&e, "Blob");
	sl_enc_blob(&e, "", 0);
	sl_enc_key(&e, "Raw");
	sl_enc_raw(&e, "<a>b</a>", 8);
	sl_enc_xml_end(&e);
	EXPECT_STR(DECL "<PutMetricDataResponse><Values><member>1</member>"
		   "<member>-9223372036854775808</member><member><member>2</member></member>"
		   "</Values><Id>a</Id><Id></Id><Empty></Empty><Blob></Blob><Raw><a>b</a></Raw>"
		   "</PutMetricDataResponse>");
}

Test(xml, times_are_iso8601_utc, .init = xml_init, .fini = fini)
{
	static const struct {
		int64_t ms;
		const char *iso;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ 1796189850123, "2026-12-02T05:37:30.123Z" },
		{ -1, "1969-12-31T23:59:59.999Z" },
		{ 951782400000, "2000-02-29T00:00:00.000Z" },
		{ 1709208000000, "2024-02-29T12:00:00.000Z" },
		{ 1238099229000, "2009-03-26T20:27:09.000Z" },
		{ 253402300800000, "10000-01-01T00:00:00.000Z" },
		{ -62167219200000, "0000-01-01T00:00:00.000Z" },
		{ -62167219200001, "-0001-12-31T23:59:59.999Z" },
		{ INT64_MAX, "292278994-08-17T07:12:55.807Z" },
		{ INT64_MIN, "-292275055-05-16T16:47:04.192Z" },
	};
	char want[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sl_enc_reset(&e);
		sl_enc_xml_begin(&e, "T", NULL);
		sl_enc_key(&e, "At");
		sl_enc_time_ms(&e, cases[i].ms);
		sl_enc_xml_end(&e);
		snprintf(want, sizeof(want), DECL "<T><At>%s</At></T>", cases[i].iso);
		EXPECT_STR(want);
	}
}

Test(xml, text_escapes, .init = xml_init, .fini = fini)
{
	const char s[] = "a&b<c>d\"e'f\rg\nh\ti\x7fj\xc3\xa9\xf0\x9f\x98\x80&amp;";

	sl_enc_xml_begin(&e, "R", "urn:x?a=1&b=\"2\"\t\n\r<>");
	sl_enc_key(&e, "S");
	sl_enc_str(&e, s, sizeof(s) - 1);
	sl_enc_key(&e, "B");
	sl_enc_bool(&e, 1);
	sl_enc_key(&e, "F");
	sl_enc_bool(&e, 0);
	sl_enc_xml_end(&e);
	EXPECT_STR(DECL "<R xmlns=\"urn:x?a=1&amp;b=&quot;2&quot;&#x9;&#xA;&#xD;&lt;&gt;\">"
		   "<S>a&amp;b&lt;c&gt;d&quot;e&apos;f&#xD;g\nh\ti\x7fj\xc3\xa9\xf0\x9f\x98\x80"
		   "&amp;amp;</S><B>true</B><F>false</F></R>");
}

/* C0 controls other than tab, LF and CR have no XML 1.0 form at all. */
Test(xml, control_characters_are_refused, .init = xml_init, .fini = fini)
{
	static const char bad[] = { 0x00, 0x01, 0x08, 0x0b, 0x0c, 0x0e, 0x1b, 0x1f };
	size_t len;

	for (size_t i = 0; i < sizeof(bad); i++) {
		char s[3] = { 'a', bad[i], 'b' };

		sl_enc_reset(&e);
		sl_enc_xml_begin(&e, "R", NULL);
		sl_enc_key(&e, "S");
		sl_enc_str(&e, s, sizeof(s));
		cr_assert_eq(e.err, -EILSEQ, "byte %#x", bad[i]);
		sl_enc_key(&e, "T");
		sl_enc_cstr(&e, "later");
		sl_enc_xml_end(&e);
		cr_assert_eq(e.depth, 0);
		cr_assert_eq(e.len, strlen(DECL "<R><S>a"), "later calls write nothing");
	}
	cr_assert_null(sl_enc_take(&e, &len));
	cr_assert_eq(len, 0);
	/* Reset clears the error and any pending key. */
	sl_enc_xml_begin(&e, "R", NULL);
	sl_enc_key(&e, "K");
	sl_enc_reset(&e);
	cr_assert_eq(e.err, 0);
	cr_assert_null(e.xml_key);
	sl_enc_xml_begin(&e, "R", NULL);
	sl_enc_xml_end(&e);
	EXPECT_STR(DECL "<R></R>");
}

/* Pending-key bookkeeping: null consumes the key, a list names its entries. */
Test(xml, null_and_unnamed_values, .init = xml_init, .fini = fini)
{
	sl_enc_xml_begin(&e, "R", NULL);
	sl_enc_key(&e, "Gone");
	sl_enc_null(&e);
	sl_enc_key(&e, "L");
	sl_enc_arr_begin(&e);
	sl_enc_null(&e);
	sl_enc_time_ms(&e, 0);
	sl_enc_arr_end(&e);
	sl_enc_key(&e, "F");
	sl_enc_arr_begin_flat(&e);
	sl_enc_arr_begin(&e);
	sl_enc_cstr(&e, "x");
	sl_enc_arr_end(&e);
	sl_enc_arr_end(&e);
	sl_enc_xml_end(&e);
	EXPECT_STR(DECL "<R><L><member>1970-01-01T00:00:00.000Z</member></L>"
		   "<F><member>x</member></F></R>");
}
