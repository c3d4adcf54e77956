/* outbox.h - where SNS deliveries go that sluice does not carry itself:
 * SMS, mobile push (application endpoints), and email when no --smtp relay
 * is set. The http deliverer (http.c) takes them from its durable log like
 * any delivery and "delivers" them here: a JSON record appended (and
 * fdatasynced) to data/sns-outbox/<protocol>.jsonl, mail also as an .eml
 * file beside it, and the latest SL_SNS_OUTBOX_KEEP records of each kept
 * in memory for GET /_sluice/sns/outbox?protocol=sms|application|email,
 * which tests use to see what would have been sent.
 *
 * The deliverer thread adds; the control thread reads; one mutex between
 * them (neither is a worker).
 */
#ifndef SL_CONTROL_SNS_OUTBOX_H
#define SL_CONTROL_SNS_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

struct sl_req;

enum sl_sns_outbox_kind { SL_OUTBOX_SMS = 0, SL_OUTBOX_APPLICATION, SL_OUTBOX_EMAIL,
			  SL_OUTBOX_KINDS };

/* Control thread, at start-up: make data_dir/sns-outbox, read back the
 * tail of each file. 0 or -errno. */
int sl_sns_outbox_open(const char *data_dir);
void sl_sns_outbox_close(void);

/* Deliverer thread: append the record (a JSON object) of a delivery.
 * 0 once it is durable, or -errno. */
int sl_sns_outbox_add(enum sl_sns_outbox_kind kind, const char *json, size_t len);

/* Deliverer thread: a mail to `to` (the RFC 5322 text of message_id) into
 * its .eml file and its record. 0 once durable, or -errno. */
int sl_sns_outbox_mail(const char *to, const char *message_id, const char *topic_arn,
		       const uint8_t *mail, size_t len);

/* The worker's GET, run on the control thread: {"messages":[records...]},
 * oldest first; 400 for a protocol that is not one of the three. */
void sl_sns_outbox_get(struct sl_req *req);

#endif
