/* service.c - Kinesis Data Streams' row in the service table: JSON 1.1 and
 * CBOR 1.1 by X-Amz-Target, the data operations on the workers, the rest on
 * the control thread (control/kinesis/meta.c). */
#include "control/kinesis/meta.h"
#include "dataplane/net/service.h"
#include "dataplane/services/kinesis/kinesis.h"

/* Sorted by name (checked at start-up). Enhanced fan-out, resource
 * policies and account settings are not served: the router answers
 * UnknownOperationException for them. */
static const struct sl_op kinesis_ops[] = {
	{ .name = "AddTagsToStream", .control = sl_kin_add_tags_to_stream },
	{ .name = "CreateStream", .control = sl_kin_create_stream },
	{ .name = "DecreaseStreamRetentionPeriod", .control = sl_kin_decrease_stream_retention_period },
	{ .name = "DeleteStream", .control = sl_kin_delete_stream },
	{ .name = "DescribeLimits", .control = sl_kin_describe_limits },
	{ .name = "DescribeStream", .control = sl_kin_describe_stream },
	{ .name = "DescribeStreamSummary", .control = sl_kin_describe_stream_summary },
	{ .name = "DisableEnhancedMonitoring", .control = sl_kin_disable_enhanced_monitoring },
	{ .name = "EnableEnhancedMonitoring", .control = sl_kin_enable_enhanced_monitoring },
	{ .name = "GetRecords", .handle = sl_kin_get_records },
	{ .name = "GetShardIterator", .handle = sl_kin_get_shard_iterator },
	{ .name = "IncreaseStreamRetentionPeriod", .control = sl_kin_increase_stream_retention_period },
	{ .name = "ListShards", .control = sl_kin_list_shards },
	{ .name = "ListStreams", .control = sl_kin_list_streams },
	{ .name = "ListTagsForStream", .control = sl_kin_list_tags_for_stream },
	{ .name = "MergeShards", .control = sl_kin_merge_shards },
	{ .name = "PutRecord", .handle = sl_kin_put_record },
	{ .name = "PutRecords", .handle = sl_kin_put_records },
	{ .name = "RemoveTagsFromStream", .control = sl_kin_remove_tags_from_stream },
	{ .name = "SplitShard", .control = sl_kin_split_shard },
	{ .name = "StartStreamEncryption", .control = sl_kin_start_stream_encryption },
	{ .name = "StopStreamEncryption", .control = sl_kin_stop_stream_encryption },
	{ .name = "UpdateShardCount", .control = sl_kin_update_shard_count },
	{ .name = "UpdateStreamMode", .control = sl_kin_update_stream_mode },
};

struct sl_service sl_kinesis_service = {
	.name = "kinesis",
	.signing_name = "kinesis",
	.target_prefix = SL_KINESIS_TARGET_PREFIX,
	.json_proto = SL_PROTO_JSON11,
	.model = &sl_shape_model_kinesis,
	.ops = kinesis_ops,
	.nops = sizeof(kinesis_ops) / sizeof(kinesis_ops[0]),
	.install = sl_kinesis_ctl_install,
	.control_tick = sl_kinesis_control_tick,
	.start = sl_kin_udp_start,
	.stop = sl_kin_udp_stop,
	.tick = sl_kin_tick,
	.preload = sl_kin_preload,
	.metrics = sl_kin_udp_metrics,
};
