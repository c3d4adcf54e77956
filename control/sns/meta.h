/* meta.h - SNS topic and subscription operations, on the control thread. */
#ifndef SL_SNS_META_H
#define SL_SNS_META_H

struct sl_req;

int sl_sns_ctl_install(void);
void sl_sns_ctl_stop(void);

void sl_sns_create_topic(struct sl_req *req);
void sl_sns_delete_topic(struct sl_req *req);
void sl_sns_list_topics(struct sl_req *req);
void sl_sns_get_topic_attributes(struct sl_req *req);
void sl_sns_set_topic_attributes(struct sl_req *req);
void sl_sns_subscribe(struct sl_req *req);
void sl_sns_confirm_subscription(struct sl_req *req);
void sl_sns_unsubscribe(struct sl_req *req);
void sl_sns_list_subscriptions(struct sl_req *req);
void sl_sns_list_subscriptions_by_topic(struct sl_req *req);
void sl_sns_get_subscription_attributes(struct sl_req *req);
void sl_sns_set_subscription_attributes(struct sl_req *req);
void sl_sns_tag_resource(struct sl_req *req);
void sl_sns_add_permission(struct sl_req *req);
void sl_sns_remove_permission(struct sl_req *req);
void sl_sns_untag_resource(struct sl_req *req);
void sl_sns_list_tags_for_resource(struct sl_req *req);

#endif
