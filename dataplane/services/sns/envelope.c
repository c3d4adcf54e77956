/* envelope.c - the SNS envelope (envelope.h). */
#include "dataplane/services/sns/envelope.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dataplane/codec/enc.h"

void sl_sns_timestamp(int64_t ms, char out[SL_SNS_TIME_BUF])
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, SL_SNS_TIME_BUF, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(ms % 1000));
}

void sl_sns_seq_fmt(uint64_t seq, char out[24])
{
	snprintf(out, 24, "%020llu", (unsigned long long)seq);
}

/* A name or type as a key: the encoder wants it NUL-terminated. */
static void key_n(struct sl_enc *e, const char *s, size_t n, char *buf)
{
	memcpy(buf, s, n);
	buf[n] = '\0';
	sl_enc_key(e, buf);
}

/* The members of n into the open object: as the envelope has them, or
 * (lambda) as a Lambda event's "Sns" has them: Subject null when none,
 * SigningCertUrl and UnsubscribeUrl, and MessageAttributes always. */
static void members(struct sl_enc *out, const struct sl_sns_note *n, bool lambda)
{
	char ts[SL_SNS_TIME_BUF], seq[24];
	char name[SL_SQS_ATTR_NAME_MAX + 1], type[SL_SQS_ATTR_TYPE_MAX + 1];

	sl_enc_key(out, "Type");
	sl_enc_cstr(out, n->type);
	sl_enc_key(out, "MessageId");
	sl_enc_cstr(out, n->message_id);
	if (n->has_seq) {
		sl_sns_seq_fmt(n->seq, seq);
		sl_enc_key(out, "SequenceNumber");
		sl_enc_cstr(out, seq);
	}
	if (n->token) {
		sl_enc_key(out, "Token");
		sl_enc_cstr(out, n->token);
	}
	sl_enc_key(out, "TopicArn");
	sl_enc_cstr(out, n->topic_arn);
	if (n->subject || lambda) {
		sl_enc_key(out, "Subject");
		if (n->subject)
			sl_enc_cstr(out, n->subject);
		else
			sl_enc_null(out);
	}
	sl_enc_key(out, "Message");
	sl_enc_str(out, n->message, n->message_len);
	if (n->subscribe_url) {
		sl_enc_key(out, "SubscribeURL");
		sl_enc_cstr(out, n->subscribe_url);
	}
	sl_sns_timestamp(n->timestamp_ms, ts);
	sl_enc_key(out, "Timestamp");
	sl_enc_cstr(out, ts);
	if (n->signature_version) {
		sl_enc_key(out, "SignatureVersion");
		sl_enc_cstr(out, n->signature_version == 2 ? "2" : "1");
		sl_enc_key(out, "Signature");
		sl_enc_cstr(out, n->signature ? n->signature : "");
		sl_enc_key(out, lambda ? "SigningCertUrl" : "SigningCertURL");
		sl_enc_cstr(out, n->signing_cert_url ? n->signing_cert_url : "");
	}
	if (n->unsubscribe_url) {
		sl_enc_key(out, lambda ? "UnsubscribeUrl" : "UnsubscribeURL");
		sl_enc_cstr(out, n->unsubscribe_url);
	}
	if (n->nattrs || lambda) {
		sl_enc_key(out, "MessageAttributes");
		sl_enc_obj_begin(out);
		for (unsigned i = 0; i < n->nattrs; i++) {
			const struct sl_sqs_attr *a = &n->attrs[i];
			key_n(out, a->name, a->name_len, name);
			sl_enc_obj_begin(out);
			sl_enc_key(out, "Type");
			memcpy(type, a->type, a->type_len);
			type[a->type_len] = '\0';
			sl_enc_cstr(out, type);
			sl_enc_key(out, "Value");
			if (a->binary)
				sl_enc_blob(out, a->value, a->value_len);
			else
				sl_enc_str(out, (const char *)a->value, a->value_len);
			sl_enc_obj_end(out);
		}
		sl_enc_obj_end(out);
	}
}

int sl_sns_envelope(struct sl_enc *out, const struct sl_sns_note *n)
{
	sl_enc_reset(out);
	sl_enc_obj_begin(out);
	members(out, n, false);
	sl_enc_obj_end(out);
	return out->err;
}

int sl_sns_lambda_event(struct sl_enc *out, const struct sl_sns_note *n, const char *sub_arn)
{
	sl_enc_reset(out);
	sl_enc_obj_begin(out);
	sl_enc_key(out, "Records");
	sl_enc_arr_begin(out);
	sl_enc_obj_begin(out);
	sl_enc_key(out, "EventSource");
	sl_enc_cstr(out, "aws:sns");
	sl_enc_key(out, "EventVersion");
	sl_enc_cstr(out, "1.0");
	sl_enc_key(out, "EventSubscriptionArn");
	sl_enc_cstr(out, sub_arn);
	sl_enc_key(out, "Sns");
	sl_enc_obj_begin(out);
	members(out, n, true);
	sl_enc_obj_end(out);
	sl_enc_obj_end(out);
	sl_enc_arr_end(out);
	sl_enc_obj_end(out);
	return out->err;
}
