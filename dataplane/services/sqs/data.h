/* data.h - SQS messages on the workers (data.c). */
#ifndef SL_SQS_DATA_H
#define SL_SQS_DATA_H

#include <stdint.h>

struct sl_req;
struct sl_worker;

/* The message operations, on the worker that received the request. */
void sl_sqs_send_message(struct sl_worker *w, struct sl_req *req);
void sl_sqs_receive_message(struct sl_worker *w, struct sl_req *req);
void sl_sqs_delete_message(struct sl_worker *w, struct sl_req *req);
void sl_sqs_change_message_visibility(struct sl_worker *w, struct sl_req *req);
void sl_sqs_send_message_batch(struct sl_worker *w, struct sl_req *req);
void sl_sqs_delete_message_batch(struct sl_worker *w, struct sl_req *req);
void sl_sqs_change_message_visibility_batch(struct sl_worker *w, struct sl_req *req);

/* Hooks: start-up replay of the partitions worker w owns (control thread),
 * and shutdown (long polls answer empty). */
void sl_sqs_preload(struct sl_worker *w);
void sl_sqs_stop(struct sl_worker *w);
/* Once a second on every worker: delete segments with no live message. */
void sl_sqs_tick(struct sl_worker *w);

/* Control thread: a queue's messages that are visible, in flight and
 * delayed, from the workers that own its partitions. */
void sl_sqs_counts(uint64_t uid, uint64_t out[3]);
/* Control thread, once a queue's removal is durable: delete its
 * partitions (their owners close them first). */
void sl_sqs_drop_partitions(uint64_t uid);
/* Control thread: delete every message of a queue sent before now. 0 or
 * -errno. */
int sl_sqs_purge(uint64_t uid);

#endif
