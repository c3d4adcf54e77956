/* fuzz_sns_outbox.c - the SNS http deliverer's outbox frames, endpoint
 * URLs and status lines (control/sns/http_codec.c), as recovery and
 * endpoints hand them over.
 * Invariants: the scan reports a prefix of the input made of the frames
 * it passed, and each passed frame of the current version re-encodes to
 * the same bytes (an older PUT reads with the fields it lacks zeroed); a parsed
 * URL's parts lie within it; a status is -1, 0 or 100..999; nothing reads
 * past its input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control/sns/http.h"
#include "dataplane/codec/bin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct walk {
	const uint8_t *base;
	size_t size, off;
};

static void same(struct walk *w, struct sl_bw *b)
{
	if (b->err)
		abort();
	if (b->len > w->size - w->off || memcmp(b->p, w->base + w->off, b->len) != 0)
		abort(); /* a passed frame is what encoding it gives */
	w->off += b->len;
	sl_bw_free(b);
}

static bool on_put(void *arg, uint64_t id, const struct sl_sns_http_req *r)
{
	struct sl_bw b = { 0 };

	struct walk *w = arg;
	uint32_t len;

	if (!r->url || !r->message_id || !r->topic_arn || !r->sub_arn)
		abort();
	if (w->size - w->off < 9)
		abort();
	if (w->base[w->off + 8] == 1) {
		/* An older PUT (op 1) has no throttle or publish time; it is
		 * passed as their zeros, and re-encodes as the current PUT. */
		if (r->retry.max_per_second != 0 || r->made_ms != 0)
			abort();
		memcpy(&len, w->base + w->off + 4, 4);
		w->off += 8 + (size_t)len;
		return true;
	}
	sl_sns_outbox_put(&b, id, r);
	same(arg, &b);
	return true;
}

static bool on_done(void *arg, uint64_t id)
{
	struct sl_bw b = { 0 };

	sl_sns_outbox_done(&b, id);
	same(arg, &b);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct walk w = { data, size, 0 };

	if (sl_sns_outbox_scan(data, size, on_put, on_done, &w) != w.off)
		abort();
	/* The same bytes as an endpoint URL and as a response. */
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	char host[256], port[6];
	const char *path;
	bool tls;
	if (sl_sns_http_url_parse(s, host, sizeof(host), port, &path, &tls)) {
		if (tls != (strncasecmp(s, "https://", 8) == 0))
			abort();
		bool inside = path >= s && path <= s + size;
		if (!host[0] || !port[0] || strspn(port, "0123456789") != strlen(port) ||
		    (inside ? path[0] != '/' : strcmp(path, "/") != 0))
			abort();
	}
	int st = sl_sns_http_status(s, size, size);
	if (st != -1 && st != 0 && (st < 100 || st > 999))
		abort();
	free(s);
	return 0;
}
