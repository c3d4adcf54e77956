/* mail.h - the mail SNS sends to email and email-json subscriptions: an
 * RFC 5322 message (CRLF lines, a UTF-8 text/plain body, the Subject in
 * RFC 2047 base64 when it is not ASCII) with AWS's From, subject defaults,
 * x-amz-sns-* headers and unsubscribe footer; and the SMTP side of
 * sending one (dot-stuffing, reading a reply).
 *
 * Standalone (no server state), for unit tests and fuzzing.
 */
#ifndef SL_SNS_MAIL_H
#define SL_SNS_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_bw;

#define SL_SNS_MAIL_FROM "no-reply@sns.amazonaws.com"
/* Past this many bytes in a line, the body is sent in base64 (SMTP's
 * limit is 998). */
#define SL_SNS_MAIL_LINE_MAX 900

struct sl_sns_mail {
	const char *to;
	const char *display_name;  /* the topic's DisplayName; NULL: "AWS Notifications" */
	const char *subject;       /* NULL: "AWS Notification Message" */
	const char *message_id;    /* the SNS message's id (headers, Message-ID) */
	const char *topic_arn;
	const char *sub_arn;       /* NULL for a confirmation */
	const char *body;          /* the text (email) or the envelope (email-json) */
	size_t body_len;
	const char *unsubscribe_url; /* NULL: no footer (confirmations, email-json) */
	int64_t timestamp_ms;
};

/* The whole message into w (appended). */
void sl_sns_mail_build(struct sl_bw *w, const struct sl_sns_mail *m);

/* The DATA of an SMTP transaction for message p[0..n): lines starting with
 * "." doubled, bare LF made CRLF, and the closing CRLF.CRLF, appended to w. */
void sl_sns_smtp_data(struct sl_bw *w, const uint8_t *p, size_t n);

/* The reply at the start of p[0..n): its code (100..599) once its last
 * line ("ddd " or "ddd\r\n") is complete, with *used set to its bytes; 0
 * while incomplete; -1 when it is not an SMTP reply. */
int sl_sns_smtp_reply(const char *p, size_t n, size_t *used);

#endif
