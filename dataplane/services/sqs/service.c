/* service.c - Amazon SQS's row in the service table: JSON 1.0 by
 * X-Amz-Target (AmazonSQS.<Op>) and query (Version=2012-11-05). The queue
 * metadata operations run on the control thread (control/sqs/meta.c), the
 * message operations and move tasks' moves on the workers (data.c). */
#include "control/sqs/meta.h"
#include "dataplane/net/service.h"
#include "dataplane/services/sqs/data.h"
#include "dataplane/services/sqs/sqs.h"

/* Sorted by name (checked at start-up). */
static const struct sl_op sqs_ops[] = {
	{ .name = "AddPermission", .control = sl_sqs_add_permission },
	{ .name = "CancelMessageMoveTask", .control = sl_sqs_cancel_message_move_task },
	{ .name = "ChangeMessageVisibility", .handle = sl_sqs_change_message_visibility },
	{ .name = "ChangeMessageVisibilityBatch",
	  .handle = sl_sqs_change_message_visibility_batch },
	{ .name = "CreateQueue", .control = sl_sqs_create_queue },
	{ .name = "DeleteMessage", .handle = sl_sqs_delete_message },
	{ .name = "DeleteMessageBatch", .handle = sl_sqs_delete_message_batch },
	{ .name = "DeleteQueue", .control = sl_sqs_delete_queue },
	{ .name = "GetQueueAttributes", .control = sl_sqs_get_queue_attributes },
	{ .name = "GetQueueUrl", .control = sl_sqs_get_queue_url },
	{ .name = "ListDeadLetterSourceQueues", .control = sl_sqs_list_dead_letter_source_queues },
	{ .name = "ListMessageMoveTasks", .control = sl_sqs_list_message_move_tasks },
	{ .name = "ListQueueTags", .control = sl_sqs_list_queue_tags },
	{ .name = "ListQueues", .control = sl_sqs_list_queues },
	{ .name = "PurgeQueue", .control = sl_sqs_purge_queue },
	{ .name = "ReceiveMessage", .handle = sl_sqs_receive_message },
	{ .name = "RemovePermission", .control = sl_sqs_remove_permission },
	{ .name = "SendMessage", .handle = sl_sqs_send_message },
	{ .name = "SendMessageBatch", .handle = sl_sqs_send_message_batch },
	{ .name = "SetQueueAttributes", .control = sl_sqs_set_queue_attributes },
	{ .name = "StartMessageMoveTask", .control = sl_sqs_start_message_move_task },
	{ .name = "TagQueue", .control = sl_sqs_tag_queue },
	{ .name = "UntagQueue", .control = sl_sqs_untag_queue },
};

struct sl_service sl_sqs_service = {
	.name = "sqs",
	.signing_name = "sqs",
	.target_prefix = SL_SQS_TARGET_PREFIX,
	.json_proto = SL_PROTO_JSON10,
	.query_version = SL_SQS_VERSION,
	.xmlns = SL_SQS_XMLNS,
	.ops = sqs_ops,
	.nops = sizeof(sqs_ops) / sizeof(sqs_ops[0]),
	.install = sl_sqs_ctl_install,
	.preload = sl_sqs_preload,
	.stop = sl_sqs_stop,
	.tick = sl_sqs_tick,
	.metrics = sl_sqs_metrics,
};
