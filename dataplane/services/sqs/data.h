/* data.h - SQS messages on the workers (data.c). */
#ifndef SL_SQS_DATA_H
#define SL_SQS_DATA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/runtime/timer.h"

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

/* A message for a queue from another service (SNS deliveries), stored as
 * a SendMessage of it would be: into a partition of the queue this worker
 * owns when there is one, with the queue's delay (standard queues), or in
 * its FIFO group with its deduplication id (FIFO queues: both required;
 * a standard queue drops them). done runs on w once the message is
 * durable (err 0) or could not be stored (err: enum sl_sqs_err + 1, msg
 * why). The message's bytes are copied: m may go when this returns.
 * 0, or -ENOMEM / -EMSGSIZE (larger than the queue takes) with nothing
 * started. */
struct sl_queue;
struct sl_sqs_stored;
typedef void (*sl_sqs_delivered_fn)(struct sl_worker *w, void *arg, int err, const char *msg);
int sl_sqs_deliver(struct sl_worker *w, const struct sl_queue *q, const struct sl_sqs_stored *m,
		   sl_sqs_delivered_fn done, void *arg);

/* Hooks: start-up replay of the partitions worker w owns (control thread),
 * and shutdown (long polls answer empty). */
void sl_sqs_preload(struct sl_worker *w);
void sl_sqs_stop(struct sl_worker *w);
/* Once a second on every worker: delete segments with no live message. */
void sl_sqs_tick(struct sl_worker *w);

/* GET /metrics, any worker: per-queue depth, in flight, delayed, sends,
 * receives, deletes and empty receives. Bytes written, or -ENOSPC. */
long sl_sqs_metrics(char *buf, size_t cap);

/* Control thread: a queue's messages that are visible, in flight and
 * delayed, from the workers that own its partitions. */
void sl_sqs_counts(uint64_t uid, uint64_t out[3]);
/* Control thread, once a queue's removal is durable: delete its nparts
 * partitions (their owners close them first). */
void sl_sqs_drop_partitions(uint64_t uid, uint32_t nparts);
/* Control thread: delete every message of a queue sent before now. 0 or
 * -errno. */
int sl_sqs_purge(uint64_t uid);

/* A message move task (StartMessageMoveTask): the owner of the source
 * queue's partition moves its ready messages, rate-limited, to one
 * destination or to each message's source queue. The control thread
 * allocates it and never frees it while it runs. */
enum sl_sqs_task_status {
	SL_SQS_TASK_RUNNING = 1,
	SL_SQS_TASK_COMPLETED,
	SL_SQS_TASK_CANCELLING,
	SL_SQS_TASK_CANCELLED,
	SL_SQS_TASK_FAILED,
};
enum sl_sqs_task_failure {
	SL_SQS_TASK_OK = 0,
	SL_SQS_TASK_NO_SOURCE,   /* a message has no source queue to go back to */
	SL_SQS_TASK_DEST_GONE,   /* its destination does not take messages */
	SL_SQS_TASK_QUEUE_GONE,  /* the source queue was deleted */
};
struct sl_sqs_task {
	/* Set by the control thread before the start. */
	uint64_t src_uid;
	uint64_t dest_uid;       /* 0: each message's source queue */
	uint32_t rate;           /* messages per second; 0: as fast as moves go */
	/* Written by the owner, read by the control thread. */
	_Atomic uint64_t moved;
	_Atomic uint32_t status;
	_Atomic uint32_t failure;
	/* Written by the control thread. */
	_Atomic bool cancel;
	/* The owner's: the partition it moves from now (one after another). */
	struct sl_timer timer;
	void *wp;
	uint32_t part;
	int64_t last_ms;
	double tokens;
	uint32_t inflight;
};
/* Control thread: start t on the owner. 0, -EBUSY (a task runs on that
 * queue), or -errno; *to_move: the messages in the queue now. */
int sl_sqs_task_start(struct sl_sqs_task *t, uint64_t *to_move);

#endif
