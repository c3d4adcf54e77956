/* Tests for dataplane/services/sns/mail.c: the mail SNS sends (AWS's From,
 * Subject default, headers, CRLF lines, footer, base64 past SMTP's line
 * limit, RFC 2047 for non-ASCII names), SMTP DATA dot-stuffing, and
 * reading a relay's single- and multi-line replies. */
#include <criterion/criterion.h>

#include <openssl/evp.h>
#include <string.h>

#include "dataplane/codec/bin.h"
#include "dataplane/services/sns/mail.h"

static char *str(struct sl_bw *w)
{
	static char buf[16384];

	cr_assert_lt(w->len, sizeof(buf));
	memcpy(buf, w->p, w->len);
	buf[w->len] = '\0';
	return buf;
}

Test(sns_mail, notification_mail)
{
	struct sl_bw w = { 0 };
	struct sl_sns_mail m = { .to = "a@example.com", .message_id = "m-1", .topic_arn = "arn:t",
				 .sub_arn = "arn:t:s", .body = "one\ntwo", .body_len = 7,
				 .unsubscribe_url = "http://h/?Action=Unsubscribe",
				 .timestamp_ms = 1764766616651 };

	sl_sns_mail_build(&w, &m);
	char *s = str(&w);
	cr_assert(strncmp(s, "From: AWS Notifications <no-reply@sns.amazonaws.com>\r\n"
			  "To: a@example.com\r\nSubject: AWS Notification Message\r\n"
			  "Date: Wed, 03 Dec 2025 12:56:56 +0000\r\n"
			  "Message-ID: <m-1@sns.amazonaws.com>\r\n", 171) == 0, "%s", s);
	cr_assert(strstr(s, "Content-Transfer-Encoding: 8bit\r\n"));
	cr_assert(strstr(s, "x-amz-sns-subscription-arn: arn:t:s\r\n"));
	const char *body = strstr(s, "\r\n\r\n") + 4;
	cr_assert(strncmp(body, "one\r\ntwo\r\n\r\n--\r\nIf you wish to stop", 35) == 0, "%s", body);
	cr_assert(strstr(body, "http://h/?Action=Unsubscribe\r\n"));
	sl_bw_free(&w);
}

Test(sns_mail, names_and_long_lines_are_encoded)
{
	struct sl_bw w = { 0 };
	char line[2000];
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	struct sl_sns_mail m = { .to = "a@example.com", .display_name = "Zürich", .subject = "S",
				 .message_id = "m", .topic_arn = "arn", .body = line,
				 .body_len = strlen(line) };

	sl_sns_mail_build(&w, &m);
	char *s = str(&w);
	cr_assert(strstr(s, "From: =?UTF-8?B?WsO8cmljaA==?= <no-reply@sns.amazonaws.com>\r\n"), "%s",
		  s);
	cr_assert(strstr(s, "Content-Transfer-Encoding: base64\r\n"));
	const char *body = strstr(s, "\r\n\r\n") + 4;
	/* Base64 lines of 76 characters that decode to the text. */
	cr_assert_eq(strchr(body, '\r') - body, 76);
	unsigned char out[2100];
	char joined[3000];
	size_t jl = 0;
	for (const char *p = body; *p; p++)
		if (*p != '\r' && *p != '\n')
			joined[jl++] = *p;
	joined[jl] = '\0';
	int n = EVP_DecodeBlock(out, (const unsigned char *)joined, (int)jl);
	cr_assert_geq(n, 1999 + 2);
	cr_assert(memcmp(out, line, 1999) == 0);
	cr_assert(memcmp(out + 1999, "\r\n", 2) == 0);
	sl_bw_free(&w);
}

Test(sns_mail, data_is_dot_stuffed_and_terminated)
{
	struct sl_bw w = { 0 };
	const char *in = ".start\nmid\r\n.\n..two";

	sl_sns_smtp_data(&w, (const uint8_t *)in, strlen(in));
	cr_assert_str_eq(str(&w), "..start\r\nmid\r\n..\r\n...two\r\n.\r\n");
	w.len = 0;
	sl_sns_smtp_data(&w, (const uint8_t *)"ends\n", 5);
	cr_assert_str_eq(str(&w), "ends\r\n.\r\n");
	sl_bw_free(&w);
}

Test(sns_mail, replies_single_and_multi_line)
{
	size_t used = 0;
	const char *multi = "250-smtp.example\r\n250-SIZE 1000\r\n250 OK\r\nnext";

	cr_assert_eq(sl_sns_smtp_reply("220 ready\r\n", 11, &used), 220);
	cr_assert_eq(used, 11);
	cr_assert_eq(sl_sns_smtp_reply(multi, strlen(multi), &used), 250);
	cr_assert_eq(used, strlen(multi) - 4);
	cr_assert_eq(sl_sns_smtp_reply("250-a\r\n250", 10, &used), 0, "incomplete");
	cr_assert_eq(sl_sns_smtp_reply("354", 3, &used), 0, "incomplete");
	cr_assert_eq(sl_sns_smtp_reply("354\r\n", 5, &used), 354);
	cr_assert_eq(sl_sns_smtp_reply("HTTP/1.1 200\r\n", 14, &used), -1);
	cr_assert_eq(sl_sns_smtp_reply("250-a\r\n251 b\r\n", 14, &used), -1, "codes differ");
	cr_assert_eq(sl_sns_smtp_reply("25x ok\r\n", 8, &used), -1);
}
