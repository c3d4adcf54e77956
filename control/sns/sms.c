/* sms.c - the account's SMS settings and opt-outs (sms.h). Control
 * thread; catalog blobs: "sns:sms-attributes" per region (key\0value\0
 * pairs), and one "sns:sms-opted-out:<number>" per opted-out number, so
 * that workers look a number up without a lock. */
#include "control/sns/sms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/catalog.h"
#include "control/sns/topics.h"
#include "dataplane/codec/doc.h"
#include "dataplane/codec/enc.h"
#include "dataplane/net/fields.h"
#include "dataplane/net/server.h"
#include "dataplane/services/sns/sns.h"

#define ATTRS_BLOB "sns:sms-attributes"
#define OPTED_OUT "sns:sms-opted-out:"

static struct sl_doc_tok *toks;

static const char *const names[] = { "MonthlySpendLimit", "DeliveryStatusIAMRole",
				     "DeliveryStatusSuccessSamplingRate", "DefaultSenderID",
				     "DefaultSMSType", "UsageReportS3Bucket" };
#define NNAMES (sizeof(names) / sizeof(names[0]))

static int parse(struct sl_req *req, struct sl_fields *f)
{
	if (!toks && !(toks = malloc(sizeof(*toks) * SL_DOC_TOKS_MAX))) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		return SL_FIELD_ERR;
	}
	return sl_sns_parse(req, toks, SL_DOC_TOKS_MAX, f);
}

void sl_sns_sms_fini(void)
{
	free(toks);
	toks = NULL;
}

/* The settings as values by name index (NULL: not set), views into b. */
static void attrs_of(const struct sl_blob *b, const char *v[NNAMES])
{
	for (size_t i = 0; i < NNAMES; i++)
		v[i] = NULL;
	for (uint32_t off = 0; b && off < b->len;) {
		const char *k = (const char *)b->data + off;
		size_t kl = strnlen(k, b->len - off);
		if (off + kl + 1 >= b->len)
			break;
		const char *val = k + kl + 1;
		size_t vl = strnlen(val, b->len - off - kl - 1);
		for (size_t i = 0; i < NNAMES; i++)
			if (strcmp(k, names[i]) == 0)
				v[i] = val;
		off += (uint32_t)(kl + vl + 2);
	}
}

const char *sl_sns_sms_setting(const struct sl_catalog *c, const char *region, const char *name)
{
	const char *v[NNAMES];

	attrs_of(sl_blob_find(c, region, ATTRS_BLOB), v);
	for (size_t i = 0; i < NNAMES; i++)
		if (strcmp(names[i], name) == 0)
			return v[i];
	return NULL;
}

bool sl_sns_sms_opted_out(const struct sl_catalog *c, const char *region, const char *phone)
{
	char name[SL_BLOB_NAME_MAX + 1];

	if ((size_t)snprintf(name, sizeof(name), OPTED_OUT "%s", phone) >= sizeof(name))
		return false;
	return sl_blob_find(c, region, name) != NULL;
}

static bool digits(const char *s, long lo, long hi)
{
	char *end;
	long x = strtol(s, &end, 10);

	return *s && !*end && x >= lo && x <= hi;
}

/* A setting's value as AWS takes it. */
static bool value_ok(size_t i, const char *v)
{
	switch (i) {
	case 0: /* MonthlySpendLimit: whole USD */
		return digits(v, 0, 1000000000);
	case 2: /* DeliveryStatusSuccessSamplingRate */
		return digits(v, 0, 100);
	case 3: { /* DefaultSenderID: 1 to 11 letters and digits, a letter among them */
		size_t n = strlen(v);
		bool letter = false;
		for (size_t k = 0; k < n; k++) {
			bool a = (v[k] >= 'a' && v[k] <= 'z') || (v[k] >= 'A' && v[k] <= 'Z');
			if (!a && !(v[k] >= '0' && v[k] <= '9'))
				return false;
			letter |= a;
		}
		return n >= 1 && n <= 11 && letter;
	}
	case 4:
		return strcmp(v, "Promotional") == 0 || strcmp(v, "Transactional") == 0;
	default:
		return strlen(v) <= 1024;
	}
}

struct set_in {
	struct sl_req *req;
	char *v[NNAMES]; /* new values (malloc'd), "" to clear */
};

static int set_one(void *arg, const char *key, const char *val, size_t len)
{
	struct set_in *s = arg;

	for (size_t i = 0; i < NNAMES; i++) {
		if (strcmp(key, names[i]) != 0)
			continue;
		if (len && !value_ok(i, val)) {
			sl_sns_error(s->req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: %s",
				     key);
			return SL_FIELD_ERR;
		}
		free(s->v[i]);
		s->v[i] = strndup(val, len);
		if (!s->v[i]) {
			sl_sns_error(s->req, SL_SNS_E_INTERNAL, "out of memory");
			return SL_FIELD_ERR;
		}
		return 0;
	}
	sl_sns_error(s->req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: %s is not an SMS "
		     "attribute", key);
	return SL_FIELD_ERR;
}

void sl_sns_set_sms_attributes(struct sl_req *req)
{
	struct sl_fields f;
	struct set_in s = { .req = req };
	const struct sl_catalog *c = sl_catalog_master();

	if (parse(req, &f) < 0)
		return;
	int n = sl_sns_map(&f, (int)f.obj, "attributes", 1024, set_one, &s);
	if (n == 0)
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: attributes");
	if (n > 0) {
		const struct sl_blob *old = sl_blob_find(c, req->region, ATTRS_BLOB);
		const char *cur[NNAMES];
		char data[SL_BLOB_DATA_MAX];
		size_t len = 0;
		attrs_of(old, cur);
		for (size_t i = 0; i < NNAMES; i++) {
			const char *v = s.v[i] ? s.v[i] : cur[i];
			if (!v || !v[0])
				continue;
			size_t kl = strlen(names[i]), vl = strlen(v);
			memcpy(data + len, names[i], kl + 1);
			memcpy(data + len + kl + 1, v, vl + 1);
			len += kl + vl + 2; /* 6 names, values of at most 1024: fits */
		}
		struct sl_blob *b = sl_blob_new(req->region, ATTRS_BLOB, data, (uint32_t)len);
		if (old)
			sl_catalog_remove(&old->hdr);
		if (!b || sl_catalog_insert(&b->hdr) < 0) {
			sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		} else {
			sl_catalog_commit();
			sl_reply_begin(req);
			sl_reply_end(req);
		}
	}
	for (size_t i = 0; i < NNAMES; i++)
		free(s.v[i]);
}

void sl_sns_get_sms_attributes(struct sl_req *req)
{
	struct sl_fields f;
	const char *v[NNAMES];
	bool want[NNAMES];
	char name[64];

	if (parse(req, &f) < 0)
		return;
	int m = sl_sns_list(&f, (int)f.obj, "attributes");
	if (m == SL_FIELD_ERR)
		return;
	for (size_t i = 0; i < NNAMES; i++)
		want[i] = m == 0;
	if (m > 0) {
		uint32_t c = sl_doc_first((uint32_t)m);
		for (uint32_t k = 0; k < f.t[m].count; k++, c = sl_doc_next(f.t, c)) {
			if (f.t[c].type != SL_DOC_STR || sl_doc_str(&f.t[c], name, sizeof(name)) < 0)
				name[0] = '\0';
			for (size_t i = 0; i < NNAMES; i++)
				want[i] |= strcmp(name, names[i]) == 0;
		}
	}
	attrs_of(sl_blob_find(sl_catalog_master(), req->region, ATTRS_BLOB), v);
	sl_reply_begin(req);
	sl_sns_map_begin(req, "attributes");
	for (size_t i = 0; i < NNAMES; i++)
		if (want[i] && v[i])
			sl_sns_map_put(req, names[i], v[i]);
	sl_sns_map_end(req);
	sl_reply_end(req);
}

/* phoneNumber, checked. 0, or SL_FIELD_ERR with the error set. */
static int phone_of(struct sl_req *req, struct sl_fields *f, char phone[32])
{
	int rc = sl_sns_str(f, (int)f->obj, "phoneNumber", phone, 32, 31, true);

	if (rc <= 0)
		return SL_FIELD_ERR;
	if (!sl_sns_phone_ok(phone)) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: PhoneNumber");
		return SL_FIELD_ERR;
	}
	return 0;
}

void sl_sns_check_if_phone_number_is_opted_out(struct sl_req *req)
{
	struct sl_fields f;
	char phone[32];

	if (parse(req, &f) < 0 || phone_of(req, &f, phone) < 0)
		return;
	sl_reply_begin(req);
	sl_enc_key(&req->out, "isOptedOut");
	sl_enc_bool(&req->out, sl_sns_sms_opted_out(sl_catalog_master(), req->region, phone));
	sl_reply_end(req);
}

struct list_out {
	struct sl_req *req;
	uint32_t n;
	bool more;
	char last[SL_BLOB_NAME_MAX + 1];
};

static bool list_one(void *obj, void *arg)
{
	const struct sl_blob *b = obj;
	struct list_out *l = arg;
	size_t pl = strlen(OPTED_OUT);

	if (strcmp(b->region, l->req->region) != 0 || strncmp(b->name, OPTED_OUT, pl) != 0)
		return false; /* past this region's numbers */
	if (l->n == SL_SNS_LIST_PAGE) {
		l->more = true;
		return false;
	}
	sl_enc_cstr(&l->req->out, b->name + pl);
	snprintf(l->last, sizeof(l->last), "%s", b->name + pl);
	l->n++;
	return true;
}

void sl_sns_list_phone_numbers_opted_out(struct sl_req *req)
{
	struct sl_fields f;
	char token[32];
	struct sl_blob *from = NULL;
	struct list_out l = { .req = req };

	if (parse(req, &f) < 0 ||
	    sl_sns_str(&f, (int)f.obj, "nextToken", token, sizeof(token), 31, false) < 0)
		return;
	if (token[0] && !sl_sns_phone_ok(token)) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: nextToken");
		return;
	}
	char name[SL_BLOB_NAME_MAX + 1];
	snprintf(name, sizeof(name), OPTED_OUT "%s", token);
	from = sl_blob_new(req->region, name, NULL, 0);
	if (!from) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		return;
	}
	sl_reply_begin(req);
	sl_enc_key(&req->out, "phoneNumbers");
	sl_enc_arr_begin(&req->out);
	sl_catalog_walk(sl_catalog_master(), SL_COBJ_BLOB, &from->hdr, token[0] != '\0', list_one,
			&l);
	sl_enc_arr_end(&req->out);
	if (l.more) {
		sl_enc_key(&req->out, "nextToken");
		sl_enc_cstr(&req->out, l.last);
	}
	sl_reply_end(req);
	free(from);
}

void sl_sns_opt_in_phone_number(struct sl_req *req)
{
	struct sl_fields f;
	char phone[32], name[SL_BLOB_NAME_MAX + 1];

	if (parse(req, &f) < 0 || phone_of(req, &f, phone) < 0)
		return;
	snprintf(name, sizeof(name), OPTED_OUT "%s", phone);
	const struct sl_blob *b = sl_blob_find(sl_catalog_master(), req->region, name);
	if (b) {
		sl_catalog_remove(&b->hdr);
		sl_catalog_commit();
	}
	sl_reply_begin(req);
	sl_reply_end(req);
}

void sl_sns_opt_out_phone_number(struct sl_req *req)
{
	const char *q = req->query.p;
	size_t n = req->query.n;
	char phone[32], name[SL_BLOB_NAME_MAX + 1];

	req->content_type = "application/json";
	/* phoneNumber=<E.164>, the + as %2B or as itself. */
	if (n > 12 && memcmp(q, "phoneNumber=", 12) == 0) {
		size_t o = 0;
		for (size_t i = 12; i < n && q[i] != '&' && o < sizeof(phone) - 1; i++) {
			if (q[i] == '%' && i + 2 < n && q[i + 1] == '2' && (q[i + 2] | 0x20) == 'b') {
				phone[o++] = '+';
				i += 2;
			} else {
				phone[o++] = q[i];
			}
		}
		phone[o] = '\0';
	} else {
		phone[0] = '\0';
	}
	if (!sl_sns_phone_ok(phone)) {
		sl_req_error(req, 400, "InvalidParameter", "phoneNumber must be an E.164 number");
		return;
	}
	snprintf(name, sizeof(name), OPTED_OUT "%s", phone);
	if (!sl_blob_find(sl_catalog_master(), req->region, name)) {
		struct sl_blob *b = sl_blob_new(req->region, name, NULL, 0);
		if (!b || sl_catalog_insert(&b->hdr) < 0) {
			sl_req_error(req, 500, "InternalFailure", "out of memory");
			return;
		}
		sl_catalog_commit();
	}
	sl_enc_obj_begin(&req->out);
	sl_enc_key(&req->out, "phoneNumber");
	sl_enc_cstr(&req->out, phone);
	sl_enc_key(&req->out, "optedOut");
	sl_enc_bool(&req->out, true);
	sl_enc_obj_end(&req->out);
}
