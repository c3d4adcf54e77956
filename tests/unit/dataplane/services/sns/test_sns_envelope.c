/* Tests for dataplane/services/sns/envelope.c: the envelope an SQS queue
 * or an HTTP endpoint receives, member for member as AWS writes it, with
 * JSON escaping, Binary attributes in base64, and the optional members
 * only when they apply. */
#include <criterion/criterion.h>

#include <string.h>

#include "dataplane/codec/doc.h"
#include "dataplane/codec/enc.h"
#include "dataplane/services/sns/envelope.h"

static char *text(struct sl_enc *e)
{
	static char buf[4096];

	cr_assert_lt(e->len, sizeof(buf));
	memcpy(buf, e->buf, e->len);
	buf[e->len] = '\0';
	return buf;
}

Test(sns_envelope, a_notification_has_aws_members_in_order)
{
	struct sl_enc e;
	struct sl_sqs_attr attrs[2] = {
		{ .name = "color", .type = "String", .value = (const uint8_t *)"r\"ed", .name_len = 5,
		  .type_len = 6, .value_len = 4 },
		{ .name = "raw", .type = "Binary", .value = (const uint8_t *)"\x00\x01\xff",
		  .name_len = 3, .type_len = 6, .value_len = 3, .binary = true },
	};
	struct sl_sns_note n = {
		.type = "Notification", .message_id = "9ed86ee4-fd99-4cfa-afe2-5d1a3d9d252f",
		.topic_arn = "arn:aws:sns:us-east-1:000000000000:t", .subject = "Hi",
		.message = "line\nquote\"", .message_len = 11, .timestamp_ms = 1764766616651,
		.unsubscribe_url = "http://h/?Action=Unsubscribe", .attrs = attrs, .nattrs = 2,
	};

	cr_assert_eq(sl_enc_init(&e, SL_ENC_JSON, 64), 0);
	cr_assert_eq(sl_sns_envelope(&e, &n), 0);
	cr_assert_str_eq(text(&e),
		"{\"Type\":\"Notification\",\"MessageId\":\"9ed86ee4-fd99-4cfa-afe2-5d1a3d9d252f\","
		"\"TopicArn\":\"arn:aws:sns:us-east-1:000000000000:t\",\"Subject\":\"Hi\","
		"\"Message\":\"line\\nquote\\\"\",\"Timestamp\":\"2025-12-03T12:56:56.651Z\","
		"\"UnsubscribeURL\":\"http://h/?Action=Unsubscribe\",\"MessageAttributes\":"
		"{\"color\":{\"Type\":\"String\",\"Value\":\"r\\\"ed\"},"
		"\"raw\":{\"Type\":\"Binary\",\"Value\":\"AAH/\"}}}");
	/* It is JSON a client parses. */
	struct sl_doc_tok t[64];
	cr_assert_gt(sl_json_parse(e.buf, e.len, t, 64), 0);
	sl_enc_free(&e);
}

Test(sns_envelope, optional_members_appear_only_when_they_apply)
{
	struct sl_enc e;
	struct sl_sns_note n = {
		.type = "Notification", .message_id = "id", .topic_arn = "arn", .message = "m",
		.message_len = 1, .timestamp_ms = 0, .has_seq = true, .seq = 42,
	};

	cr_assert_eq(sl_enc_init(&e, SL_ENC_JSON, 64), 0);
	cr_assert_eq(sl_sns_envelope(&e, &n), 0);
	cr_assert_str_eq(text(&e),
		"{\"Type\":\"Notification\",\"MessageId\":\"id\","
		"\"SequenceNumber\":\"00000000000000000042\",\"TopicArn\":\"arn\",\"Message\":\"m\","
		"\"Timestamp\":\"1970-01-01T00:00:00.000Z\"}");
	sl_enc_free(&e);
}

Test(sns_envelope, signature_members_follow_the_timestamp)
{
	struct sl_enc e;
	struct sl_sns_note n = {
		.type = "Notification", .message_id = "id", .topic_arn = "arn", .message = "m",
		.message_len = 1, .timestamp_ms = 0, .signature_version = 2, .signature = "c2ln",
		.signing_cert_url = "http://h/SimpleNotificationService-x.pem",
		.unsubscribe_url = "http://h/u",
	};

	cr_assert_eq(sl_enc_init(&e, SL_ENC_JSON, 64), 0);
	cr_assert_eq(sl_sns_envelope(&e, &n), 0);
	cr_assert_str_eq(text(&e),
		"{\"Type\":\"Notification\",\"MessageId\":\"id\",\"TopicArn\":\"arn\",\"Message\":\"m\","
		"\"Timestamp\":\"1970-01-01T00:00:00.000Z\",\"SignatureVersion\":\"2\","
		"\"Signature\":\"c2ln\",\"SigningCertURL\":\"http://h/SimpleNotificationService-x.pem\","
		"\"UnsubscribeURL\":\"http://h/u\"}");
	sl_enc_free(&e);
}

Test(sns_envelope, lambda_event_is_records_sns_with_lambda_spellings)
{
	struct sl_enc e;
	struct sl_sns_note n = {
		.type = "Notification", .message_id = "id", .topic_arn = "arn", .message = "m",
		.message_len = 1, .timestamp_ms = 0, .signature_version = 1, .signature = "c2ln",
		.signing_cert_url = "http://h/c.pem", .unsubscribe_url = "http://h/u",
	};

	cr_assert_eq(sl_enc_init(&e, SL_ENC_JSON, 64), 0);
	cr_assert_eq(sl_sns_lambda_event(&e, &n, "arn:sub"), 0);
	cr_assert_str_eq(text(&e),
		"{\"Records\":[{\"EventSource\":\"aws:sns\",\"EventVersion\":\"1.0\","
		"\"EventSubscriptionArn\":\"arn:sub\",\"Sns\":{\"Type\":\"Notification\","
		"\"MessageId\":\"id\",\"TopicArn\":\"arn\",\"Subject\":null,\"Message\":\"m\","
		"\"Timestamp\":\"1970-01-01T00:00:00.000Z\",\"SignatureVersion\":\"1\","
		"\"Signature\":\"c2ln\",\"SigningCertUrl\":\"http://h/c.pem\","
		"\"UnsubscribeUrl\":\"http://h/u\",\"MessageAttributes\":{}}}]}");
	sl_enc_free(&e);
}
