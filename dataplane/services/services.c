/* services.c - the service table: the one shared file a new service adds
 * its row to. Order matters only where two services could claim the same
 * request (none do today). */
#include "dataplane/services/services.h"

#include "dataplane/services/kinesis/kinesis.h"
#include "dataplane/services/sns/sns.h"
#include "dataplane/services/sqs/sqs.h"

struct sl_service *const sl_services[] = {
	&sl_kinesis_service,
	&sl_sqs_service,
	&sl_sns_service,
};
const unsigned sl_nservices = sizeof(sl_services) / sizeof(sl_services[0]);
