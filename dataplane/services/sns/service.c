/* service.c - Amazon SNS's row in the service table: query protocol
 * (Version=2010-03-31). Topic and subscription operations run on the
 * control thread (control/sns/meta.c), Publish and PublishBatch on the
 * workers (data.c). */
#include "control/sns/meta.h"
#include "control/sns/platform.h"
#include "control/sns/sms.h"
#include "dataplane/net/service.h"
#include "dataplane/services/sns/data.h"
#include "dataplane/services/sns/sns.h"

/* Sorted by name (checked at start-up). */
static const struct sl_op sns_ops[] = {
	{ .name = "AddPermission", .control = sl_sns_add_permission },
	{ .name = "CheckIfPhoneNumberIsOptedOut",
	  .control = sl_sns_check_if_phone_number_is_opted_out },
	{ .name = "ConfirmSubscription", .control = sl_sns_confirm_subscription },
	{ .name = "CreatePlatformApplication",
	  .control = sl_sns_create_platform_application },
	{ .name = "CreatePlatformEndpoint",
	  .control = sl_sns_create_platform_endpoint },
	{ .name = "CreateTopic", .control = sl_sns_create_topic },
	{ .name = "DeleteEndpoint",
	  .control = sl_sns_delete_endpoint },
	{ .name = "DeletePlatformApplication",
	  .control = sl_sns_delete_platform_application },
	{ .name = "DeleteTopic", .control = sl_sns_delete_topic },
	{ .name = "GetEndpointAttributes",
	  .control = sl_sns_get_endpoint_attributes },
	{ .name = "GetPlatformApplicationAttributes",
	  .control = sl_sns_get_platform_application_attributes },
	{ .name = "GetSMSAttributes", .control = sl_sns_get_sms_attributes },
	{ .name = "GetSubscriptionAttributes", .control = sl_sns_get_subscription_attributes },
	{ .name = "GetTopicAttributes", .control = sl_sns_get_topic_attributes },
	{ .name = "ListEndpointsByPlatformApplication",
	  .control = sl_sns_list_endpoints_by_platform_application },
	{ .name = "ListPhoneNumbersOptedOut", .control = sl_sns_list_phone_numbers_opted_out },
	{ .name = "ListPlatformApplications",
	  .control = sl_sns_list_platform_applications },
	{ .name = "ListSubscriptions", .control = sl_sns_list_subscriptions },
	{ .name = "ListSubscriptionsByTopic", .control = sl_sns_list_subscriptions_by_topic },
	{ .name = "ListTagsForResource", .control = sl_sns_list_tags_for_resource },
	{ .name = "ListTopics", .control = sl_sns_list_topics },
	{ .name = "OptInPhoneNumber", .control = sl_sns_opt_in_phone_number },
	{ .name = "Publish", .handle = sl_sns_publish },
	{ .name = "PublishBatch", .handle = sl_sns_publish_batch },
	{ .name = "RemovePermission", .control = sl_sns_remove_permission },
	{ .name = "SetEndpointAttributes",
	  .control = sl_sns_set_endpoint_attributes },
	{ .name = "SetPlatformApplicationAttributes",
	  .control = sl_sns_set_platform_application_attributes },
	{ .name = "SetSMSAttributes", .control = sl_sns_set_sms_attributes },
	{ .name = "SetSubscriptionAttributes", .control = sl_sns_set_subscription_attributes },
	{ .name = "SetTopicAttributes", .control = sl_sns_set_topic_attributes },
	{ .name = "Subscribe", .control = sl_sns_subscribe },
	{ .name = "TagResource", .control = sl_sns_tag_resource },
	{ .name = "Unsubscribe", .control = sl_sns_unsubscribe },
	{ .name = "UntagResource", .control = sl_sns_untag_resource },
};

struct sl_service sl_sns_service = {
	.name = "sns",
	.signing_name = "sns",
	.query_version = SL_SNS_VERSION,
	.xmlns = SL_SNS_XMLNS,
	.ops = sns_ops,
	.nops = sizeof(sns_ops) / sizeof(sns_ops[0]),
	.install = sl_sns_ctl_install,
	.control_stop = sl_sns_ctl_stop,
	.stop = sl_sns_worker_stop,
	.serve_get = sl_sns_serve_get,
	.metrics = sl_sns_metrics,
};
