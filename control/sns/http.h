/* http.h - SNS deliveries to http endpoints: a durable outbox and the
 * deliverer thread that POSTs from it.
 *
 * A worker that fans a publish out to an http subscription puts the
 * delivery (the envelope it built, the endpoint, the retry policy) into the
 * outbox and answers the publish only once the deliverer has written it to
 * its log and fdatasynced it: an acknowledged publish reaches the endpoint
 * even across kill -9 (at least once: a delivery made just before a crash
 * may be made again). The deliverer thread (a helper thread, not a worker:
 * it may block) POSTs each delivery, retries it by the subscription's or
 * the topic's DeliveryPolicy, and logs it done when the endpoint answered
 * 2xx, or when its retries ran out (counted as a failure).
 *
 * The control thread puts the SubscriptionConfirmation of a new http
 * subscription the same way, without waiting.
 */
#ifndef SL_SNS_HTTP_H
#define SL_SNS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/services/sns/stats.h"

struct sl_msg;
struct sl_worker;

/* A DeliveryPolicy's healthyRetryPolicy (and throttle), as the deliverer
 * applies it. */
struct sl_sns_retry {
	int32_t num_retries;      /* retries after the first attempt */
	int32_t num_no_delay;     /* immediate retries first */
	int32_t num_min_delay;    /* then these, min_delay_s apart */
	int32_t num_max_delay;    /* and these last, max_delay_s apart */
	int32_t min_delay_s, max_delay_s;
	uint8_t backoff;          /* enum sl_sns_backoff, between the two */
	/* throttlePolicy's maxReceivesPerSecond: attempts per second to the
	 * subscription; 0: no limit. */
	int32_t max_per_second;
};

enum sl_sns_backoff { SL_SNS_LINEAR = 0, SL_SNS_ARITHMETIC, SL_SNS_GEOMETRIC, SL_SNS_EXPONENTIAL };

enum sl_sns_http_kind {
	SL_SNS_NOTIFICATION = 0,
	SL_SNS_SUBSCRIPTION_CONFIRMATION,
	SL_SNS_LAMBDA_EVENT,      /* a Lambda function's event, to its mapped URL */
	SL_SNS_MAIL,              /* url: the recipient; body: the RFC 5322 mail */
	SL_SNS_SMS_RECORD,        /* body: the outbox record (control/sns/outbox.h) */
	SL_SNS_PUSH_RECORD,       /* likewise, of a mobile push */
	SL_SNS_UNSUBSCRIBE_CONFIRMATION,
	SL_SNS_KINDS,
};

/* One delivery as its maker gives it (copied by sl_sns_http_put). */
struct sl_sns_http_req {
	uint8_t kind;             /* enum sl_sns_http_kind */
	bool raw;                 /* RawMessageDelivery: x-amz-sns-rawdelivery */
	const char *url;          /* the endpoint */
	const char *message_id;
	const char *topic_arn;
	const char *sub_arn;      /* notifications */
	const char *content_type; /* NULL: text/plain; charset=UTF-8 */
	const uint8_t *body;
	size_t body_len;
	struct sl_sns_retry retry;
	const char *dlq_arn;      /* RedrivePolicy's deadLetterTargetArn; NULL: none */
	int64_t made_ms;          /* when it was published (0: now), for latency */
};

/* The deadLetterTargetArn of a RedrivePolicy into out (an SQS queue ARN as
 * text, not checked further). false: no policy, not JSON, or no ARN. */
bool sl_sns_redrive_target(const char *policy, char *out, size_t cap);

/* A delivery out of retries, on its way into its dead-letter queue: the
 * deliverer calls a worker (sl_msg_call_helper, msg->arg the struct
 * sl_sns_dlq) to run sl_sns_dlq_store, which stores body in the queue
 * named by arn and then calls back(d) on that worker with result set (0
 * once durable, -ENOENT: no such queue, or -errno). */
struct sl_sns_dlq {
	const char *arn;
	const uint8_t *body;
	size_t body_len;
	int result;
	void (*back)(struct sl_sns_dlq *d);
};
void sl_sns_dlq_store(struct sl_worker *w, struct sl_msg *msg);

/* The retry policy of a subscription: its DeliveryPolicy's
 * healthyRetryPolicy unless the topic's "http" section disables
 * subscription overrides, else the topic's defaultHealthyRetryPolicy, else
 * AWS's default (3 retries, 20 s apart); likewise its throttlePolicy (or
 * the topic's defaultThrottlePolicy). *content_type (when not NULL) is
 * set to a malloc'd requestPolicy headerContentType, or NULL. */
void sl_sns_http_policy(const char *topic_dp, const char *sub_dp, struct sl_sns_retry *out,
			char **content_type);

/* A DeliveryPolicy as AWS bounds it (a topic's "http" section, or a
 * subscription's): numRetries 0..100, delays 1..3600 s with min <= max,
 * the phases within numRetries, a known backoffFunction, at most 3600 s
 * of retries in all, maxReceivesPerSecond >= 1. false with the reason in
 * why. */
bool sl_sns_delivery_policy_ok(const char *text, bool topic, char *why, size_t cap);

/* AWS's retries of deliveries to Lambda functions: 3 at once, 2 a second
 * apart, 10 backing off from 1 to 20 s, then 100,000 20 s apart. */
extern const struct sl_sns_retry sl_sns_lambda_retry;
/* AWS's retries of mail, SMS and push deliveries: 10 ten seconds apart,
 * 38 backing off to 600 s, 2 more 600 s apart (about 6 hours). */
extern const struct sl_sns_retry sl_sns_mail_retry;

/* The seconds to wait before retry number n (1-based) of r; -1 when r
 * has no retry n. */
int sl_sns_retry_delay(const struct sl_sns_retry *r, int n);
/* The wait in ms before a retry whose policy delay is delay_s: the delay,
 * less a jitter of up to a tenth of it drawn from r (uniform bits). */
int64_t sl_sns_retry_wait_ms(int delay_s, uint32_t r);

/* ---- The outbox log's frames and the client's parsers (http_codec.c) ---- */

struct sl_bw;
/* Append a PUT frame (the delivery r, as id) or a DONE frame to w. */
void sl_sns_outbox_put(struct sl_bw *w, uint64_t id, const struct sl_sns_http_req *r);
void sl_sns_outbox_done(struct sl_bw *w, uint64_t id);
/* Walk the frames of p[0..n): on_put gets each PUT (r's strings valid for
 * the call), on_done each DONE; either returns false to stop. Returns the
 * bytes of the whole, valid frames read before the first bad one (or the
 * stop). */
typedef bool (*sl_sns_outbox_put_fn)(void *arg, uint64_t id, const struct sl_sns_http_req *r);
typedef bool (*sl_sns_outbox_done_fn)(void *arg, uint64_t id);
size_t sl_sns_outbox_scan(const uint8_t *p, size_t n, sl_sns_outbox_put_fn on_put,
			  sl_sns_outbox_done_fn on_done, void *arg);
/* http(s)://host[:port][/path...]: the host (IPv6 without its brackets),
 * the port ("80" or "443" when none), the path ("/" when none) and whether
 * it is https. false: not such a URL. */
bool sl_sns_http_url_parse(const char *url, char *host, size_t hcap, char port[6],
			   const char **path, bool *tls);
/* The status of a response whose first len bytes (of at most cap) are in
 * r: 100..999, 0 while its status line is incomplete, -1 when it is not
 * HTTP/1.x. */
int sl_sns_http_status(const char *r, size_t len, size_t cap);

/* ---- The deliverer (http.c) ----------------------------------------------- */

/* Open (and replay) the outbox under data_dir and start the deliverer.
 * Control thread, at start-up. 0 or -errno. */
int sl_sns_http_start(const char *data_dir);
void sl_sns_http_stop(void);

/* Queue a delivery. From a worker: msg is a call it prepared
 * (sl_msg_prepare), handed back once the delivery is durable, with *result
 * set first (0, or -errno when it could not be stored). From the control
 * thread: msg NULL, no answer. Returns 0, or -EAGAIN when the outbox is
 * full (the caller refuses the publish: back-pressure), -ENOMEM. */
int sl_sns_http_put(const struct sl_sns_http_req *r, struct sl_msg *msg, int *result);

/* The deliverer's counts, for /metrics, by protocol group
 * (dataplane/services/sns/stats.h; its sqs entries stay 0): deliveries
 * made (2xx, written to the outbox, accepted by the relay), failed
 * (refused or out of retries, and not dead-lettered), and stored in a
 * dead-letter queue; and of all: retries, and deliveries held now. */
struct sl_sns_http_counts {
	uint64_t delivered[SL_SNS_PGROUPS], failed[SL_SNS_PGROUPS], dead_lettered[SL_SNS_PGROUPS];
	uint64_t retries, pending;
};
void sl_sns_http_counts(struct sl_sns_http_counts *c);

#endif
