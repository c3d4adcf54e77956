/* fuzz_sns_mail.c - the SMTP side of SNS email (dataplane/services/sns/
 * mail.c): a relay's reply at any bytes, the DATA of any message, and the
 * mail built around any text. Checks: a reply's code is 100..599 and its
 * length within the input; DATA ends in CRLF.CRLF, has no bare LF and no
 * line that starts with a single "." (it would end the message early);
 * a mail's header block ends at its first blank line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/bin.h"
#include "dataplane/services/sns/mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used = 0;
	int code = sl_sns_smtp_reply((const char *)data, size, &used);
	if (code != 0 && code != -1 && (code < 100 || code > 599 || used == 0 || used > size))
		abort();

	struct sl_bw w = { 0 };
	sl_sns_smtp_data(&w, data, size);
	if (w.err)
		abort();
	if (w.len < 5 || memcmp(w.p + w.len - 5, "\r\n.\r\n", 5) != 0)
		if (!(w.len == 3 && memcmp(w.p, ".\r\n", 3) == 0))
			abort();
	for (size_t i = 0; i < w.len; i++) {
		if (w.p[i] == '\n' && (i == 0 || w.p[i - 1] != '\r'))
			abort();
		bool line_start = i == 0 || w.p[i - 1] == '\n';
		/* Only the terminator is a line of one ".". */
		if (line_start && w.p[i] == '.' && i + 3 < w.len && w.p[i + 1] != '.')
			abort();
	}
	sl_bw_free(&w);

	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct sl_sns_mail m = { .to = "a@example.com", .subject = text, .message_id = "id",
				 .topic_arn = "arn", .body = text, .body_len = size,
				 .unsubscribe_url = size & 1 ? "http://h/u" : NULL };
	struct sl_bw mail = { 0 };
	sl_sns_mail_build(&mail, &m);
	if (mail.err)
		abort();
	/* The subject is one header line: no CR or LF of the input in it. */
	const uint8_t *blank = memmem(mail.p, mail.len, "\r\n\r\n", 4);
	const uint8_t *subj = memmem(mail.p, mail.len, "\r\nSubject: ", 11);
	if (!blank || !subj || subj > blank)
		abort();
	const uint8_t *eol = memmem(subj + 2, (size_t)(blank - subj), "\r\n", 2);
	for (const uint8_t *q = subj + 11; q < eol; q++)
		if (*q == '\r' || *q == '\n')
			abort();
	sl_bw_free(&mail);
	free(text);
	return 0;
}
