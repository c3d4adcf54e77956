/* meta.h - SQS queue metadata operations, on the control thread. */
#ifndef SL_SQS_META_H
#define SL_SQS_META_H

struct sl_req;

int sl_sqs_ctl_install(void);

void sl_sqs_create_queue(struct sl_req *req);
void sl_sqs_delete_queue(struct sl_req *req);
void sl_sqs_get_queue_url(struct sl_req *req);
void sl_sqs_list_queues(struct sl_req *req);
void sl_sqs_get_queue_attributes(struct sl_req *req);
void sl_sqs_set_queue_attributes(struct sl_req *req);
void sl_sqs_tag_queue(struct sl_req *req);
void sl_sqs_purge_queue(struct sl_req *req);
void sl_sqs_untag_queue(struct sl_req *req);
void sl_sqs_list_dead_letter_source_queues(struct sl_req *req);
void sl_sqs_add_permission(struct sl_req *req);
void sl_sqs_remove_permission(struct sl_req *req);
void sl_sqs_start_message_move_task(struct sl_req *req);
void sl_sqs_list_message_move_tasks(struct sl_req *req);
void sl_sqs_cancel_message_move_task(struct sl_req *req);
void sl_sqs_list_queue_tags(struct sl_req *req);

#endif
