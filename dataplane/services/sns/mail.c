/* mail.c - SNS's mail and the SMTP helpers (mail.h). */
#include "dataplane/services/sns/mail.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dataplane/codec/bin.h"

static void put(struct sl_bw *w, const char *s)
{
	sl_bw_bytes(w, s, strlen(s));
}

static bool ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x7f || (unsigned char)*s < 0x20)
			return false;
	return true;
}

/* A header value as it may be written: as is when printable ASCII, else
 * an RFC 2047 encoded word (base64 of its UTF-8). */
static void header_text(struct sl_bw *w, const char *s)
{
	if (ascii(s)) {
		put(w, s);
		return;
	}
	size_t n = strlen(s);
	/* Control bytes (a CR or LF that would end the header) are dropped. */
	char clean[1024];
	size_t c = 0;
	for (size_t i = 0; i < n && c < sizeof(clean); i++)
		if ((unsigned char)s[i] >= 0x20 && s[i] != 0x7f)
			clean[c++] = s[i];
	unsigned char b64[sizeof(clean) / 3 * 4 + 8];
	int bl = EVP_EncodeBlock(b64, (const unsigned char *)clean, (int)c);
	put(w, "=?UTF-8?B?");
	sl_bw_bytes(w, b64, (size_t)bl);
	put(w, "?=");
}

/* Text with its lines ended by CRLF (LF or CRLF in, either way). */
static void crlf_text(struct sl_bw *w, const char *p, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		size_t end = i > start && p[i - 1] == '\r' ? i - 1 : i;
		sl_bw_bytes(w, p + start, end - start);
		put(w, "\r\n");
		start = i + 1;
	}
	sl_bw_bytes(w, p + start, n - start);
}

/* The body's text with CRLF lines, and AWS's unsubscribe footer when
 * unsub is set. */
static void text_of(struct sl_bw *w, const char *body, size_t n, const char *unsub)
{
	crlf_text(w, body, n);
	if (!unsub) {
		put(w, "\r\n");
		return;
	}
	put(w, "\r\n\r\n--\r\nIf you wish to stop receiving notifications from this topic, "
	       "please click or visit the link below to unsubscribe:\r\n");
	put(w, unsub);
	put(w, "\r\n\r\nPlease do not reply directly to this email.\r\n");
}

static size_t longest_line(const char *p, size_t n)
{
	size_t best = 0, start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '\n') {
			if (i - start > best)
				best = i - start;
			start = i + 1;
		}
	}
	return best;
}

/* The body (CRLF lines, and the footer when unsub is set) in base64, 76
 * characters a line. */
static void base64_lines(struct sl_bw *w, const char *body, size_t n, const char *unsub)
{
	struct sl_bw text = { 0 };

	text_of(&text, body, n, unsub);
	if (text.err) {
		w->err = text.err;
		sl_bw_free(&text);
		return;
	}
	unsigned char out[80];
	for (size_t i = 0; i < text.len; i += 57) {
		size_t k = text.len - i < 57 ? text.len - i : 57;
		int ol = EVP_EncodeBlock(out, text.p + i, (int)k);
		sl_bw_bytes(w, out, (size_t)ol);
		put(w, "\r\n");
	}
	sl_bw_free(&text);
}

void sl_sns_mail_build(struct sl_bw *w, const struct sl_sns_mail *m)
{
	char date[64], line[512];
	time_t secs = (time_t)(m->timestamp_ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	put(w, "From: ");
	header_text(w, m->display_name && m->display_name[0] ? m->display_name :
		    "AWS Notifications");
	put(w, " <" SL_SNS_MAIL_FROM ">\r\nTo: ");
	put(w, m->to);
	put(w, "\r\nSubject: ");
	header_text(w, m->subject && m->subject[0] ? m->subject : "AWS Notification Message");
	/* SMTP carries lines of at most 998 bytes: a body with longer ones
	 * (email-json's envelope is one line) goes in base64. */
	bool b64 = longest_line(m->body, m->body_len) > SL_SNS_MAIL_LINE_MAX;
	snprintf(line, sizeof(line), "\r\nDate: %s\r\nMessage-ID: <%s@sns.amazonaws.com>\r\n"
		 "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
		 "Content-Transfer-Encoding: %s\r\nx-amz-sns-message-id: %s\r\n", date,
		 m->message_id, b64 ? "base64" : "8bit", m->message_id);
	put(w, line);
	put(w, "x-amz-sns-topic-arn: ");
	put(w, m->topic_arn);
	put(w, "\r\n");
	if (m->sub_arn) {
		put(w, "x-amz-sns-subscription-arn: ");
		put(w, m->sub_arn);
		put(w, "\r\n");
	}
	put(w, "\r\n");
	if (b64) {
		base64_lines(w, m->body, m->body_len, m->unsubscribe_url);
		return;
	}
	text_of(w, m->body, m->body_len, m->unsubscribe_url);
}

void sl_sns_smtp_data(struct sl_bw *w, const uint8_t *p, size_t n)
{
	bool line_start = true;

	for (size_t i = 0; i < n; i++) {
		if (line_start && p[i] == '.')
			sl_bw_u8(w, '.');
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			sl_bw_u8(w, '\r');
		sl_bw_u8(w, p[i]);
		line_start = p[i] == '\n';
	}
	put(w, line_start ? ".\r\n" : "\r\n.\r\n");
}

int sl_sns_smtp_reply(const char *p, size_t n, size_t *used)
{
	size_t off = 0;

	for (;;) {
		const char *nl = memchr(p + off, '\n', n - off);
		size_t len = nl ? (size_t)(nl - (p + off)) + 1 : n - off;
		const char *l = p + off;
		/* Every line starts with the same three digits. */
		if (len >= 1 && !(l[0] >= '1' && l[0] <= '5'))
			return -1;
		for (size_t i = 1; i < 3 && i < len; i++)
			if (l[i] < '0' || l[i] > '9')
				return -1;
		if (len >= 4 && l[3] != ' ' && l[3] != '-' && l[3] != '\r' && l[3] != '\n')
			return -1;
		if (off > 0 && len >= 3 && memcmp(l, p, 3) != 0)
			return -1;
		if (!nl)
			return 0;
		off += len;
		if (len < 5 || l[3] != '-') {
			if (len < 4)
				return -1;
			*used = off;
			return (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		}
	}
}
