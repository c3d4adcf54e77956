/* meta.h - Kinesis operations that run on the control thread: everything
 * but the data path (PutRecord(s), GetShardIterator, GetRecords) changes or
 * reads the catalog, which the control thread owns. The router forwards
 * them here (sl_op.control); each answers on req and returns. */
#ifndef SL_CONTROL_KINESIS_META_H
#define SL_CONTROL_KINESIS_META_H

struct sl_req;

/* Start-up: the data directory's kinesis/ folder, shard data of streams
 * deleted by a crash, the control thread's token array. 0 or -errno. */
int sl_kinesis_ctl_install(void);
/* Status transitions that are due (CREATING -> ACTIVE, DELETING -> gone). */
void sl_kinesis_control_tick(void);

void sl_kin_add_tags_to_stream(struct sl_req *req);
void sl_kin_create_stream(struct sl_req *req);
void sl_kin_decrease_stream_retention_period(struct sl_req *req);
void sl_kin_delete_stream(struct sl_req *req);
void sl_kin_describe_limits(struct sl_req *req);
void sl_kin_describe_stream(struct sl_req *req);
void sl_kin_describe_stream_summary(struct sl_req *req);
void sl_kin_disable_enhanced_monitoring(struct sl_req *req);
void sl_kin_enable_enhanced_monitoring(struct sl_req *req);
void sl_kin_increase_stream_retention_period(struct sl_req *req);
void sl_kin_list_shards(struct sl_req *req);
void sl_kin_list_streams(struct sl_req *req);
void sl_kin_list_tags_for_stream(struct sl_req *req);
void sl_kin_merge_shards(struct sl_req *req);
void sl_kin_remove_tags_from_stream(struct sl_req *req);
void sl_kin_split_shard(struct sl_req *req);
void sl_kin_start_stream_encryption(struct sl_req *req);
void sl_kin_stop_stream_encryption(struct sl_req *req);
void sl_kin_update_shard_count(struct sl_req *req);
void sl_kin_update_stream_mode(struct sl_req *req);

#endif
