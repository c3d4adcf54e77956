/* http_codec.c - the http deliverer's pure parts (http.h), apart from its
 * thread so that they can be fuzzed and tested alone: retry policies, the
 * outbox log's frames, endpoint URLs and response status lines.
 *
 * A frame is [u32 crc32c of what follows it][u32 length][payload]; the
 * payload is PUT (u8 3, u64 id, u8 kind, u8 raw, the retry policy as six
 * u32 and a u8, the throttle as a u32 and the publish time as a u64 (u8 1:
 * an older PUT without them), the URL, message id, topic and subscription ARNs and
 * content type and dead-letter queue ARN as strings, the body as u32 +
 * bytes) or DONE (u8 2, u64
 * id), all little-endian (codec/bin.h).
 */
#include "control/sns/http.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataplane/codec/bin.h"
#include "dataplane/codec/doc.h"
#include "dataplane/limits.h"
#include "dataplane/storage/crc32c.h"

/* ---- Retry policies --------------------------------------------------------------- */

static const struct sl_sns_retry default_retry = {
	.num_retries = 3, .min_delay_s = 20, .max_delay_s = 20, .backoff = SL_SNS_LINEAR,
};

const struct sl_sns_retry sl_sns_lambda_retry = {
	.num_retries = 100015, .num_no_delay = 3, .num_min_delay = 2, .num_max_delay = 100000,
	.min_delay_s = 1, .max_delay_s = 20, .backoff = SL_SNS_EXPONENTIAL,
};

const struct sl_sns_retry sl_sns_mail_retry = {
	.num_retries = 50, .num_no_delay = 0, .num_min_delay = 10, .num_max_delay = 2,
	.min_delay_s = 10, .max_delay_s = 600, .backoff = SL_SNS_EXPONENTIAL,
};

static int32_t int_of(const struct sl_doc_tok *t, int i, int32_t dflt)
{
	if (i < 0)
		return dflt;
	if (t[i].type == SL_DOC_INT && t[i].i >= 0 && t[i].i <= 1000000)
		return (int32_t)t[i].i;
	return dflt;
}

/* A throttlePolicy object's maxReceivesPerSecond, else dflt. */
static int32_t throttle_of(const struct sl_doc_tok *t, int i, int32_t dflt)
{
	if (i < 0 || t[i].type != SL_DOC_OBJ)
		return dflt;
	int32_t v = int_of(t, sl_doc_get(t, (uint32_t)i, "maxReceivesPerSecond"), -1);
	return v >= 1 ? v : dflt;
}

/* healthyRetryPolicy (or defaultHealthyRetryPolicy) object i into r. */
static void retry_of(const struct sl_doc_tok *t, int i, struct sl_sns_retry *r)
{
	char fn[32];

	*r = default_retry;
	if (i < 0 || t[i].type != SL_DOC_OBJ)
		return;
	r->num_retries = int_of(t, sl_doc_get(t, (uint32_t)i, "numRetries"), r->num_retries);
	r->num_no_delay = int_of(t, sl_doc_get(t, (uint32_t)i, "numNoDelayRetries"), 0);
	r->num_min_delay = int_of(t, sl_doc_get(t, (uint32_t)i, "numMinDelayRetries"), 0);
	r->num_max_delay = int_of(t, sl_doc_get(t, (uint32_t)i, "numMaxDelayRetries"), 0);
	r->min_delay_s = int_of(t, sl_doc_get(t, (uint32_t)i, "minDelayTarget"), r->min_delay_s);
	r->max_delay_s = int_of(t, sl_doc_get(t, (uint32_t)i, "maxDelayTarget"), r->max_delay_s);
	if (r->max_delay_s < r->min_delay_s)
		r->max_delay_s = r->min_delay_s;
	int b = sl_doc_get(t, (uint32_t)i, "backoffFunction");
	if (b >= 0 && sl_doc_str(&t[b], fn, sizeof(fn)) > 0) {
		r->backoff = strcasecmp(fn, "arithmetic") == 0 ? SL_SNS_ARITHMETIC :
			     strcasecmp(fn, "geometric") == 0 ? SL_SNS_GEOMETRIC :
			     strcasecmp(fn, "exponential") == 0 ? SL_SNS_EXPONENTIAL : SL_SNS_LINEAR;
	}
}

#define POLICY_TOKS 128

void sl_sns_http_policy(const char *topic_dp, const char *sub_dp, struct sl_sns_retry *out,
			char **content_type)
{
	struct sl_doc_tok t[POLICY_TOKS];
	char ct[256];
	bool overrides = true;
	int n;

	*out = default_retry;
	if (content_type)
		*content_type = NULL;
	ct[0] = '\0';
	/* The topic's "http" section: the defaults, and whether a
	 * subscription may override them. */
	if (topic_dp && (n = sl_json_parse((const uint8_t *)topic_dp, strlen(topic_dp), t,
					   POLICY_TOKS)) > 0 && t[0].type == SL_DOC_OBJ) {
		int h = sl_doc_get(t, 0, "http");
		if (h >= 0 && t[h].type == SL_DOC_OBJ) {
			retry_of(t, sl_doc_get(t, (uint32_t)h, "defaultHealthyRetryPolicy"), out);
			out->max_per_second = throttle_of(t, sl_doc_get(t, (uint32_t)h,
								       "defaultThrottlePolicy"), 0);
			int d = sl_doc_get(t, (uint32_t)h, "disableSubscriptionOverrides");
			overrides = !(d >= 0 && t[d].type == SL_DOC_BOOL && t[d].i);
			int rp = sl_doc_get(t, (uint32_t)h, "defaultRequestPolicy");
			int c = rp >= 0 ? sl_doc_get(t, (uint32_t)rp, "headerContentType") : -1;
			if (c >= 0 && sl_doc_str(&t[c], ct, sizeof(ct)) < 0)
				ct[0] = '\0';
		}
	}
	if (overrides && sub_dp && (n = sl_json_parse((const uint8_t *)sub_dp, strlen(sub_dp), t,
						      POLICY_TOKS)) > 0 && t[0].type == SL_DOC_OBJ) {
		int r = sl_doc_get(t, 0, "healthyRetryPolicy");
		int32_t rate = out->max_per_second;
		if (r >= 0)
			retry_of(t, r, out);
		out->max_per_second = throttle_of(t, sl_doc_get(t, 0, "throttlePolicy"), rate);
		int rp = sl_doc_get(t, 0, "requestPolicy");
		int c = rp >= 0 ? sl_doc_get(t, (uint32_t)rp, "headerContentType") : -1;
		if (c >= 0 && sl_doc_str(&t[c], ct, sizeof(ct)) < 0)
			ct[0] = '\0';
	}
	if (content_type && ct[0])
		*content_type = strdup(ct);
}

int sl_sns_retry_delay(const struct sl_sns_retry *r, int n)
{
	if (n < 1 || n > r->num_retries)
		return -1;
	int backoff = r->num_retries - r->num_no_delay - r->num_min_delay - r->num_max_delay;
	if (n <= r->num_no_delay)
		return 0;
	n -= r->num_no_delay;
	if (n <= r->num_min_delay)
		return r->min_delay_s;
	n -= r->num_min_delay;
	if (backoff > 0 && n <= backoff) {
		/* From min to max over the backoff phase's retries. */
		double f = backoff == 1 ? 1.0 : (double)(n - 1) / (double)(backoff - 1);
		double lo = r->min_delay_s, hi = r->max_delay_s, d;
		switch (r->backoff) {
		case SL_SNS_ARITHMETIC:
			d = lo + (hi - lo) * f * f;
			break;
		case SL_SNS_GEOMETRIC:
		case SL_SNS_EXPONENTIAL:
			d = lo > 0 ? lo * pow(hi / lo, f) : hi * f;
			break;
		default:
			d = lo + (hi - lo) * f;
			break;
		}
		return (int)lround(d);
	}
	return r->max_delay_s;
}

/* AWS applies jitter to its retries: a delay of the policy is shortened by
 * up to a tenth, drawn from r, so that deliveries that failed together are
 * not retried together, and a schedule never takes longer than the policy
 * (nor past its 3,600 s cap). */
int64_t sl_sns_retry_wait_ms(int delay_s, uint32_t r)
{
	int64_t ms = (int64_t)delay_s * 1000;

	if (ms <= 0)
		return 0;
	return ms - (int64_t)(r % (uint64_t)(ms / 10 + 1));
}

/* Integer member `key` of object o within lo..hi; absent is fine. */
static bool int_in(const struct sl_doc_tok *t, int o, const char *key, int64_t lo, int64_t hi,
		   int64_t *out, char *why, size_t cap)
{
	int i = sl_doc_get(t, (uint32_t)o, key);

	if (i < 0)
		return true;
	if (t[i].type != SL_DOC_INT || t[i].i < lo || t[i].i > hi) {
		snprintf(why, cap, "%s must be an integer from %lld to %lld", key, (long long)lo,
			 (long long)hi);
		return false;
	}
	*out = t[i].i;
	return true;
}

/* A (default)HealthyRetryPolicy object, as AWS bounds it. */
static bool retry_ok(const struct sl_doc_tok *t, int o, char *why, size_t cap)
{
	int64_t n = 3, no = 0, mn = 0, mx = 0, lo = 20, hi = 20;
	char fn[32];

	if (t[o].type != SL_DOC_OBJ) {
		snprintf(why, cap, "the retry policy must be an object");
		return false;
	}
	if (!int_in(t, o, "numRetries", 0, 100, &n, why, cap) ||
	    !int_in(t, o, "numNoDelayRetries", 0, 100, &no, why, cap) ||
	    !int_in(t, o, "numMinDelayRetries", 0, 100, &mn, why, cap) ||
	    !int_in(t, o, "numMaxDelayRetries", 0, 100, &mx, why, cap) ||
	    !int_in(t, o, "minDelayTarget", 1, 3600, &lo, why, cap) ||
	    !int_in(t, o, "maxDelayTarget", 1, 3600, &hi, why, cap))
		return false;
	if (lo > hi) {
		snprintf(why, cap, "minDelayTarget must not exceed maxDelayTarget");
		return false;
	}
	if (no + mn + mx > n) {
		snprintf(why, cap, "numNoDelayRetries, numMinDelayRetries and numMaxDelayRetries "
			 "together must not exceed numRetries");
		return false;
	}
	int b = sl_doc_get(t, (uint32_t)o, "backoffFunction");
	if (b >= 0 && (sl_doc_str(&t[b], fn, sizeof(fn)) <= 0 ||
		       (strcasecmp(fn, "linear") && strcasecmp(fn, "arithmetic") &&
			strcasecmp(fn, "geometric") && strcasecmp(fn, "exponential")))) {
		snprintf(why, cap, "backoffFunction must be linear, arithmetic, geometric or "
			 "exponential");
		return false;
	}
	struct sl_sns_retry r;
	retry_of(t, o, &r);
	long total = 0;
	for (int k = 1; k <= r.num_retries; k++)
		total += sl_sns_retry_delay(&r, k);
	if (total > 3600) {
		snprintf(why, cap, "the total retry time of %ld s exceeds 3600 s", total);
		return false;
	}
	return true;
}

static bool throttle_ok(const struct sl_doc_tok *t, int o, char *why, size_t cap)
{
	int64_t v;

	if (t[o].type != SL_DOC_OBJ) {
		snprintf(why, cap, "the throttle policy must be an object");
		return false;
	}
	return int_in(t, o, "maxReceivesPerSecond", 1, 1000000, &v, why, cap);
}

bool sl_sns_delivery_policy_ok(const char *text, bool topic, char *why, size_t cap)
{
	struct sl_doc_tok t[POLICY_TOKS];
	int n = sl_json_parse((const uint8_t *)text, strlen(text), t, POLICY_TOKS);

	if (n <= 0 || t[0].type != SL_DOC_OBJ) {
		snprintf(why, cap, "the policy is not a JSON object");
		return false;
	}
	int o = 0;
	const char *retry = "healthyRetryPolicy", *throttle = "throttlePolicy";
	if (topic) {
		o = sl_doc_get(t, 0, "http");
		if (o < 0)
			return true; /* other protocols' sections are AWS's own */
		if (t[o].type != SL_DOC_OBJ) {
			snprintf(why, cap, "http must be an object");
			return false;
		}
		retry = "defaultHealthyRetryPolicy";
		throttle = "defaultThrottlePolicy";
	}
	int r = sl_doc_get(t, (uint32_t)o, retry), th = sl_doc_get(t, (uint32_t)o, throttle);
	return (r < 0 || retry_ok(t, r, why, cap)) && (th < 0 || throttle_ok(t, th, why, cap));
}

bool sl_sns_redrive_target(const char *policy, char *out, size_t cap)
{
	struct sl_doc_tok t[POLICY_TOKS];
	int n = policy ? sl_json_parse((const uint8_t *)policy, strlen(policy), t, POLICY_TOKS) : -1;

	if (n <= 0 || t[0].type != SL_DOC_OBJ)
		return false;
	int a = sl_doc_get(t, 0, "deadLetterTargetArn");
	return a >= 0 && t[a].type == SL_DOC_STR && sl_doc_str(&t[a], out, cap) > 0;
}

/* ---- Outbox frames ---------------------------------------------------------------- */

/* F_PUT2: a PUT with the throttle (u32) after the retry policy; F_PUT,
 * written before throttles existed, is read as one without. */
enum { F_PUT = 1, F_DONE = 2, F_PUT2 = 3 };

static void frame_begin(struct sl_bw *w, size_t *off)
{
	*off = w->len;
	sl_bw_u32(w, 0); /* crc */
	sl_bw_u32(w, 0); /* length */
}

static void frame_end(struct sl_bw *w, size_t off)
{
	if (w->err)
		return;
	uint32_t len = (uint32_t)(w->len - off - 8);
	sl_bw_put_u32_at(w, off + 4, len);
	sl_bw_put_u32_at(w, off, sl_crc32c(w->p + off + 4, len + 4, 0));
}

static void retry_put(struct sl_bw *w, const struct sl_sns_retry *r)
{
	const int32_t v[6] = { r->num_retries, r->num_no_delay, r->num_min_delay, r->num_max_delay,
			       r->min_delay_s, r->max_delay_s };
	for (int i = 0; i < 6; i++)
		sl_bw_u32(w, (uint32_t)v[i]);
	sl_bw_u8(w, r->backoff);
}

static void retry_get(struct sl_br *b, struct sl_sns_retry *r)
{
	int32_t v[6];
	for (int i = 0; i < 6; i++)
		v[i] = (int32_t)sl_br_u32(b);
	*r = (struct sl_sns_retry){ .num_retries = v[0], .num_no_delay = v[1], .num_min_delay = v[2],
				    .num_max_delay = v[3], .min_delay_s = v[4], .max_delay_s = v[5],
				    .backoff = sl_br_u8(b) };
}

void sl_sns_outbox_put(struct sl_bw *w, uint64_t id, const struct sl_sns_http_req *r)
{
	size_t off;

	frame_begin(w, &off);
	sl_bw_u8(w, F_PUT2);
	sl_bw_u64(w, id);
	sl_bw_u8(w, r->kind);
	sl_bw_u8(w, r->raw);
	retry_put(w, &r->retry);
	sl_bw_u32(w, (uint32_t)r->retry.max_per_second);
	sl_bw_u64(w, (uint64_t)r->made_ms);
	sl_bw_str(w, r->url);
	sl_bw_str(w, r->message_id);
	sl_bw_str(w, r->topic_arn);
	sl_bw_str(w, r->sub_arn);
	sl_bw_str(w, r->content_type);
	sl_bw_str(w, r->dlq_arn);
	sl_bw_u32(w, (uint32_t)r->body_len);
	sl_bw_bytes(w, r->body, r->body_len);
	frame_end(w, off);
}

void sl_sns_outbox_done(struct sl_bw *w, uint64_t id)
{
	size_t off;

	frame_begin(w, &off);
	sl_bw_u8(w, F_DONE);
	sl_bw_u64(w, id);
	frame_end(w, off);
}

/* A PUT payload (after its op byte) into q, its strings malloc'd into s. */
static bool put_decode(struct sl_br *r, bool v2, uint64_t *id, struct sl_sns_http_req *q,
		       char *s[6])
{
	*id = sl_br_u64(r);
	q->kind = sl_br_u8(r);
	q->raw = sl_br_u8(r) != 0;
	retry_get(r, &q->retry);
	q->retry.max_per_second = v2 ? (int32_t)sl_br_u32(r) : 0;
	q->made_ms = v2 ? (int64_t)sl_br_u64(r) : 0;
	bool ok = !r->bad && q->kind < SL_SNS_KINDS && q->retry.max_per_second >= 0;
	for (int i = 0; i < 6 && ok; i++)
		ok = sl_br_dup_str(r, i == 0 || i == 1, SL_SNS_ENDPOINT_MAX * 4, false, &s[i]);
	uint32_t bl = ok ? sl_br_u32(r) : 0;
	const uint8_t *b = ok && !r->bad ? sl_br_take(r, bl) : NULL;
	if (!b || sl_br_left(r) != 0)
		return false;
	q->url = s[0];
	q->message_id = s[1];
	q->topic_arn = s[2];
	q->sub_arn = s[3];
	q->content_type = s[4][0] ? s[4] : NULL;
	q->dlq_arn = s[5][0] ? s[5] : NULL;
	q->body = b;
	q->body_len = bl;
	return true;
}

size_t sl_sns_outbox_scan(const uint8_t *p, size_t n, sl_sns_outbox_put_fn on_put,
			  sl_sns_outbox_done_fn on_done, void *arg)
{
	size_t off = 0;

	while (off + 8 <= n) {
		uint32_t crc, len;
		memcpy(&crc, p + off, 4);
		memcpy(&len, p + off + 4, 4);
		if (len < 9 || len > n - off - 8 || sl_crc32c(p + off + 4, (size_t)len + 4, 0) != crc)
			break;
		struct sl_br r = sl_br_make(p + off + 8, len);
		uint8_t op = sl_br_u8(&r);
		bool go;
		if (op == F_PUT || op == F_PUT2) {
			struct sl_sns_http_req q = { 0 };
			char *s[6] = { 0 };
			uint64_t id;
			go = put_decode(&r, op == F_PUT2, &id, &q, s) && on_put(arg, id, &q);
			for (int i = 0; i < 6; i++)
				free(s[i]);
		} else if (op == F_DONE) {
			uint64_t id = sl_br_u64(&r);
			go = !r.bad && sl_br_left(&r) == 0 && on_done(arg, id);
		} else {
			go = false;
		}
		if (!go)
			break;
		off += 8 + (size_t)len;
	}
	return off;
}

/* ---- Endpoints and answers --------------------------------------------------------- */

bool sl_sns_http_url_parse(const char *url, char *host, size_t hcap, char port[6],
			   const char **path, bool *tls)
{
	*tls = strncasecmp(url, "https://", 8) == 0;
	if (!*tls && strncasecmp(url, "http://", 7) != 0)
		return false;
	const char *h = url + (*tls ? 8 : 7), *end = h + strcspn(h, "/?#");
	const char *hp_end = end, *colon = NULL;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (!rb)
			return false;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return false;
			colon = rb + 1;
		}
		hp_end = rb;
		h++;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		if (colon)
			hp_end = colon;
	}
	size_t hl = (size_t)(hp_end - h);
	if (hl == 0 || hl >= hcap)
		return false;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (colon) {
		size_t pl = (size_t)(end - colon - 1);
		if (pl == 0 || pl > 5 || strspn(colon + 1, "0123456789") < pl)
			return false;
		memcpy(port, colon + 1, pl);
		port[pl] = '\0';
	} else {
		memcpy(port, *tls ? "443" : "80", *tls ? 4 : 3);
	}
	*path = *end == '/' ? end : "/";
	return true;
}

int sl_sns_http_status(const char *r, size_t len, size_t cap)
{
	if (!memchr(r, '\n', len))
		return len >= cap ? -1 : 0;
	if (len < 12 || strncmp(r, "HTTP/1.", 7) != 0 || r[8] != ' ')
		return -1;
	int s = 0;
	for (int i = 9; i < 12; i++) {
		if (r[i] < '0' || r[i] > '9')
			return -1;
		s = s * 10 + (r[i] - '0');
	}
	return s >= 100 ? s : -1;
}
