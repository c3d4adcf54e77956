/* catalog_types.c - the object types the catalog stores, by type id.
 *
 * A service that keeps metadata adds its type here (and its id to the enum
 * in catalog.h); nothing else in the catalog changes.
 */
#include "control/catalog.h"
#include "control/kinesis/streams.h"
#include "control/sns/platform.h"
#include "control/sns/topics.h"
#include "control/sqs/queues.h"

const struct sl_cobj_type *const sl_cobj_types[SL_COBJ_TYPES] = {
	[SL_COBJ_BLOB] = &sl_blob_type,
	[SL_COBJ_STREAM] = &sl_stream_type,
	[SL_COBJ_QUEUE] = &sl_queue_type,
	[SL_COBJ_TOPIC] = &sl_topic_type,
	[SL_COBJ_SUB] = &sl_sub_type,
	[SL_COBJ_PLATFORM] = &sl_platform_type,
};
