/* data.h - SNS publishing on the workers (data.c). */
#ifndef SL_SNS_DATA_H
#define SL_SNS_DATA_H

#include <stdbool.h>
#include <stddef.h>

struct sl_req;
struct sl_worker;

/* Publish and PublishBatch, on the worker that received the request. */
void sl_sns_publish(struct sl_worker *w, struct sl_req *req);
void sl_sns_publish_batch(struct sl_worker *w, struct sl_req *req);

/* GET /SimpleNotificationService-<id>.pem: the signing certificate (the
 * service's serve_get). */
bool sl_sns_serve_get(struct sl_worker *w, struct sl_req *req);
/* A worker's end: free its signing objects. */
void sl_sns_worker_stop(struct sl_worker *w);

/* GET /metrics: publishes, deliveries and failed deliveries. Bytes
 * written, or -ENOSPC. */
long sl_sns_metrics(char *buf, size_t cap);

#endif
