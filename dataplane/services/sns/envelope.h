/* envelope.h - the JSON document SNS wraps a message in for its
 * subscribers (an SQS queue's body, an HTTP POST's body): Type, MessageId,
 * TopicArn, Subject, Message, Timestamp, the signature (SignatureVersion,
 * Signature, SigningCertURL), UnsubscribeURL and the message
 * attributes as {"Type", "Value"} (Binary values in base64), as AWS writes
 * them.
 *
 * Standalone (no server state), for unit tests.
 */
#ifndef SL_SNS_ENVELOPE_H
#define SL_SNS_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/services/sqs/msg.h"

struct sl_enc;

struct sl_sns_note {
	const char *type;            /* "Notification", "SubscriptionConfirmation"... */
	const char *message_id;      /* a UUID in text */
	const char *token;           /* SubscriptionConfirmation: its token; else NULL */
	const char *topic_arn;
	const char *subject;         /* NULL: none */
	const char *message;
	size_t message_len;
	const char *subscribe_url;   /* SubscriptionConfirmation: where to confirm */
	int64_t timestamp_ms;
	bool has_seq;                /* FIFO topics */
	uint64_t seq;
	/* Signed: SignatureVersion (1 or 2; 0 writes no signature keys), the
	 * signature in base64 (sign.h), and where its certificate is. */
	int signature_version;
	const char *signature;
	const char *signing_cert_url;
	const char *unsubscribe_url; /* NULL: none */
	const struct sl_sqs_attr *attrs;
	unsigned nattrs;
};

/* Write n as JSON into out (reset first). 0, or out's error (-ENOMEM,
 * -EILSEQ). */
int sl_sns_envelope(struct sl_enc *out, const struct sl_sns_note *n);
/* AWS's Lambda event for n delivered by the subscription sub_arn:
 * {"Records":[{"EventSource":"aws:sns","EventVersion":"1.0",
 * "EventSubscriptionArn":..., "Sns":{the envelope's members, with
 * SigningCertUrl and UnsubscribeUrl, Subject null when none, and
 * MessageAttributes always}}]}. 0, or out's error. */
int sl_sns_lambda_event(struct sl_enc *out, const struct sl_sns_note *n, const char *sub_arn);
/* A time as SNS writes it: 2026-12-03T12:56:56.651Z. */
#define SL_SNS_TIME_BUF 64 /* room for any year */
void sl_sns_timestamp(int64_t ms, char out[SL_SNS_TIME_BUF]);
/* A FIFO sequence number as SNS writes it: 20 digits. */
void sl_sns_seq_fmt(uint64_t seq, char out[24]);

#endif
