/* platform.h - SNS mobile push: platform applications (APNS, GCM, ADM...)
 * and their endpoints (a device token each), kept in the catalog as one
 * type keyed (region, platform, application, endpoint id): an application
 * is the record with no id, its endpoints sort right after it.
 *
 * There are no push services here: a publish to an enabled endpoint (by
 * TargetArn, or through a topic it subscribed) goes to the outbox
 * (control/sns/outbox.h, protocol "application"); a disabled one gets
 * nothing, and a publish straight to it fails with EndpointDisabled.
 */
#ifndef SL_CONTROL_SNS_PLATFORM_H
#define SL_CONTROL_SNS_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "control/catalog.h"
#include "control/sns/topics.h"

struct sl_req;

#define SL_SNS_PLATFORM_LEN 24 /* APNS_VOIP_SANDBOX, with room */

struct sl_platform {
	struct sl_cobj hdr;
	char region[SL_REGION_MAX + 1];
	char platform[SL_SNS_PLATFORM_LEN + 1];
	char app[SL_SNS_PLATFORM_NAME_MAX + 1];
	char id[SL_SNS_SUB_ID_LEN + 1]; /* "" for the application */
	int64_t created_ms;
	/* Application: PlatformCredential, PlatformPrincipal, Event*...;
	 * endpoint: Token, Enabled, CustomUserData. */
	struct sl_sns_kvs attrs;
};

extern const struct sl_cobj_type sl_platform_type;

/* ---- Codec (topic_codec.c) ---- */
extern const char *const sl_sns_platforms[]; /* NULL-terminated */
bool sl_platform_kind_ok(const char *s);
/* An application name: 1 to 256 of [A-Za-z0-9_.-]. */
bool sl_platform_name_ok(const char *s);
int sl_platform_cmp(const struct sl_cobj *key, const struct sl_cobj *o);
struct sl_cobj *sl_platform_clone(const struct sl_cobj *o);
void sl_platform_free(struct sl_cobj *o);
void sl_platform_encode(const struct sl_cobj *o, struct sl_bw *w);
struct sl_cobj *sl_platform_decode(const uint8_t *p, size_t n);

#define SL_PLATFORM_ARN_MAX (SL_REGION_MAX + SL_SNS_PLATFORM_NAME_MAX + 128)

/* Any thread: the endpoint of an ARN
 * arn:aws:sns:<region>:<account>:endpoint/<platform>/<app>/<id>, or NULL. */
const struct sl_platform *sl_platform_endpoint_find(const struct sl_catalog *c, const char *arn);
/* Its ARN, and whether it is enabled. */
void sl_platform_arn(const struct sl_platform *p, char out[SL_PLATFORM_ARN_MAX]);
bool sl_platform_enabled(const struct sl_platform *p);

/* The operations (control thread). */
void sl_sns_create_platform_application(struct sl_req *req);
void sl_sns_get_platform_application_attributes(struct sl_req *req);
void sl_sns_set_platform_application_attributes(struct sl_req *req);
void sl_sns_list_platform_applications(struct sl_req *req);
void sl_sns_delete_platform_application(struct sl_req *req);
void sl_sns_create_platform_endpoint(struct sl_req *req);
void sl_sns_get_endpoint_attributes(struct sl_req *req);
void sl_sns_set_endpoint_attributes(struct sl_req *req);
void sl_sns_list_endpoints_by_platform_application(struct sl_req *req);
void sl_sns_delete_endpoint(struct sl_req *req);
void sl_sns_platform_fini(void);

#endif
