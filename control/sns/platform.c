/* platform.c - SNS platform applications and endpoints (platform.h):
 * lookups for any thread, and the operations on the control thread. */
#include "control/sns/platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dataplane/codec/doc.h"
#include "dataplane/codec/enc.h"
#include "dataplane/net/fields.h"
#include "dataplane/net/server.h"
#include "dataplane/runtime/config.h"
#include "dataplane/runtime/worker.h"
#include "dataplane/services/sns/sns.h"
#include "dataplane/services/sqs/msg.h"

static struct sl_doc_tok *toks;

void sl_sns_platform_fini(void)
{
	free(toks);
	toks = NULL;
}

static int parse(struct sl_req *req, struct sl_fields *f)
{
	if (!toks && !(toks = malloc(sizeof(*toks) * SL_DOC_TOKS_MAX))) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		return SL_FIELD_ERR;
	}
	return sl_sns_parse(req, toks, SL_DOC_TOKS_MAX, f);
}

/* ---- ARNs and lookups --------------------------------------------------------------- */

/* arn:aws:sns:<region>:<account>:<what>/<platform>/<app>[/<id>] into p's
 * key (id: endpoints only). */
static bool arn_parse(const char *arn, const char *what, bool endpoint, struct sl_platform *p)
{
	const char *s = arn;
	size_t n;

	memset(p, 0, sizeof(*p));
	p->hdr.type = SL_COBJ_PLATFORM;
	if (strncmp(s, "arn:aws:sns:", 12) != 0)
		return false;
	s += 12;
	n = strcspn(s, ":");
	if (!n || n > SL_REGION_MAX || s[n] != ':')
		return false;
	memcpy(p->region, s, n);
	s += n + 1;
	n = strlen(sl_cfg->account_id);
	if (strncmp(s, sl_cfg->account_id, n) != 0 || s[n] != ':')
		return false;
	s += n + 1;
	n = strlen(what);
	if (strncmp(s, what, n) != 0 || s[n] != '/')
		return false;
	s += n + 1;
	n = strcspn(s, "/");
	if (!n || n > SL_SNS_PLATFORM_LEN || s[n] != '/')
		return false;
	memcpy(p->platform, s, n);
	s += n + 1;
	n = strcspn(s, "/");
	if (!n || n > SL_SNS_PLATFORM_NAME_MAX)
		return false;
	memcpy(p->app, s, n);
	s += n;
	if (endpoint) {
		if (*s != '/' || strlen(s + 1) != SL_SNS_SUB_ID_LEN)
			return false;
		memcpy(p->id, s + 1, SL_SNS_SUB_ID_LEN);
	} else if (*s) {
		return false;
	}
	return sl_platform_kind_ok(p->platform) && sl_platform_name_ok(p->app);
}

const struct sl_platform *sl_platform_endpoint_find(const struct sl_catalog *c, const char *arn)
{
	struct sl_platform probe;

	if (!arn_parse(arn, "endpoint", true, &probe))
		return NULL;
	return (const struct sl_platform *)sl_catalog_lookup(c, &probe.hdr);
}

void sl_platform_arn(const struct sl_platform *p, char out[SL_PLATFORM_ARN_MAX])
{
	if (p->id[0])
		snprintf(out, SL_PLATFORM_ARN_MAX, "arn:aws:sns:%s:%s:endpoint/%s/%s/%s", p->region,
			 sl_cfg->account_id, p->platform, p->app, p->id);
	else
		snprintf(out, SL_PLATFORM_ARN_MAX, "arn:aws:sns:%s:%s:app/%s/%s", p->region,
			 sl_cfg->account_id, p->platform, p->app);
}

bool sl_platform_enabled(const struct sl_platform *p)
{
	const char *v = sl_sns_kv_get(&p->attrs, "Enabled");

	return !v || strcmp(v, "true") == 0;
}

/* The application named by the request's PlatformApplicationArn, or NULL
 * with the error set. */
static const struct sl_platform *named_app(struct sl_req *req, struct sl_fields *f)
{
	char arn[SL_PLATFORM_ARN_MAX];
	struct sl_platform probe;

	if (parse(req, f) < 0 || sl_sns_str(f, (int)f->obj, "PlatformApplicationArn", arn,
					    sizeof(arn), sizeof(arn) - 1, true) <= 0)
		return NULL;
	if (!arn_parse(arn, "app", false, &probe)) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: "
			     "PlatformApplicationArn Reason: Wrong number of slashes in relative "
			     "portion of the ARN.");
		return NULL;
	}
	const struct sl_platform *p =
		(const struct sl_platform *)sl_catalog_lookup(sl_catalog_master(), &probe.hdr);
	if (!p)
		sl_sns_error(req, SL_SNS_E_NOT_FOUND, "PlatformApplication does not exist");
	return p;
}

static const struct sl_platform *named_endpoint(struct sl_req *req, struct sl_fields *f,
						bool must_exist)
{
	char arn[SL_PLATFORM_ARN_MAX];
	struct sl_platform probe;

	if (parse(req, f) < 0 ||
	    sl_sns_str(f, (int)f->obj, "EndpointArn", arn, sizeof(arn), sizeof(arn) - 1, true) <= 0)
		return NULL;
	if (!arn_parse(arn, "endpoint", true, &probe)) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: EndpointArn");
		return NULL;
	}
	const struct sl_platform *p =
		(const struct sl_platform *)sl_catalog_lookup(sl_catalog_master(), &probe.hdr);
	if (!p && must_exist)
		sl_sns_error(req, SL_SNS_E_NOT_FOUND, "Endpoint does not exist");
	return p;
}

/* ---- Attributes --------------------------------------------------------------------- */

static const char *const app_attrs[] = {
	"ApplePlatformBundleID", "ApplePlatformTeamID", "AuthenticationMethod",
	"EventDeliveryFailure", "EventEndpointCreated", "EventEndpointDeleted",
	"EventEndpointUpdated", "FailureFeedbackRoleArn", "PlatformCredential",
	"PlatformPrincipal", "SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate", NULL,
};
static const char *const endpoint_attrs[] = { "CustomUserData", "Enabled", "Token", NULL };

struct attrs_in {
	struct sl_req *req;
	const char *const *allowed;
	struct sl_sns_kvs kv;
};

static bool one_of(const char *const *names, const char *s)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return true;
	return false;
}

static int attr_in(void *arg, const char *key, const char *val, size_t len)
{
	struct attrs_in *a = arg;

	if (!one_of(a->allowed, key)) {
		sl_sns_error(a->req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Attributes "
			     "Reason: Invalid attribute name: %s", key);
		return SL_FIELD_ERR;
	}
	if (strcmp(key, "Enabled") == 0 && strcmp(val, "true") != 0 && strcmp(val, "false") != 0) {
		sl_sns_error(a->req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Attributes "
			     "Reason: Enabled must be true or false");
		return SL_FIELD_ERR;
	}
	if ((strcmp(key, "Token") == 0 && (len == 0 || len > SL_SNS_PUSH_TOKEN_MAX)) ||
	    (strcmp(key, "CustomUserData") == 0 && len > SL_SNS_CUSTOM_DATA_MAX)) {
		sl_sns_error(a->req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: %s", key);
		return SL_FIELD_ERR;
	}
	if (sl_sns_kv_set(&a->kv, key, val, SL_SNS_OBJ_ATTRS_MAX) < 0) {
		sl_sns_error(a->req, SL_SNS_E_INTERNAL, "out of memory");
		return SL_FIELD_ERR;
	}
	return 0;
}

static void kv_clear(struct sl_sns_kvs *kv)
{
	while (kv->n)
		sl_sns_kv_set(kv, kv->v[kv->n - 1].key, NULL, 0);
	free(kv->v);
	kv->v = NULL;
}

/* Apply the map `Attributes` to o's attributes (o editable). -1 with the
 * error set. */
static int attrs_apply(struct sl_req *req, struct sl_platform *o, struct sl_sns_kvs *in)
{
	for (uint32_t i = 0; i < in->n; i++) {
		if (sl_sns_kv_set(&o->attrs, in->v[i].key, in->v[i].value, SL_SNS_OBJ_ATTRS_MAX) < 0) {
			sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* Set*Attributes: the request's Attributes (names from allowed, values
 * of at most vmax bytes) into p. */
static void set_attrs(struct sl_req *req, struct sl_fields *f, const struct sl_platform *p,
		      const char *const *allowed, size_t vmax)
{
	struct attrs_in a = { .req = req, .allowed = allowed };
	int n = sl_sns_map(f, (int)f->obj, "Attributes", vmax, attr_in, &a);

	if (n == 0)
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Attributes");
	if (n > 0) {
		struct sl_platform *e = (struct sl_platform *)sl_catalog_edit(&p->hdr);
		if (!e)
			sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		else if (attrs_apply(req, e, &a.kv) == 0) {
			sl_catalog_commit();
			sl_reply_begin(req);
			sl_reply_end(req);
		}
	}
	kv_clear(&a.kv);
}

static void reply_attrs(struct sl_req *req, const struct sl_platform *p, bool app)
{
	sl_reply_begin(req);
	sl_sns_map_begin(req, "Attributes");
	if (app && !sl_sns_kv_get(&p->attrs, "Enabled"))
		sl_sns_map_put(req, "Enabled", "true");
	for (uint32_t i = 0; i < p->attrs.n; i++) {
		/* The credential is write-only, as AWS keeps it. */
		if (app && strcmp(p->attrs.v[i].key, "PlatformCredential") == 0)
			continue;
		sl_sns_map_put(req, p->attrs.v[i].key, p->attrs.v[i].value);
	}
	sl_sns_map_end(req);
	sl_reply_end(req);
}

/* ---- Applications --------------------------------------------------------------------- */

struct count {
	const char *region;
	uint64_t apps;
};

static bool count_app(void *obj, void *arg)
{
	const struct sl_platform *p = obj;
	struct count *c = arg;

	c->apps += !p->id[0];
	return true;
}

void sl_sns_create_platform_application(struct sl_req *req)
{
	struct sl_fields f;
	struct sl_platform *o = calloc(1, sizeof(*o));
	struct attrs_in a = { .req = req, .allowed = app_attrs };

	if (!o) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		return;
	}
	o->hdr.type = SL_COBJ_PLATFORM;
	if (parse(req, &f) < 0 ||
	    sl_sns_str(&f, (int)f.obj, "Name", o->app, sizeof(o->app), SL_SNS_PLATFORM_NAME_MAX,
		       true) <= 0 ||
	    sl_sns_str(&f, (int)f.obj, "Platform", o->platform, sizeof(o->platform),
		       SL_SNS_PLATFORM_LEN, true) <= 0)
		goto fail;
	if (!sl_platform_name_ok(o->app)) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Name");
		goto fail;
	}
	if (!sl_platform_kind_ok(o->platform)) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Platform");
		goto fail;
	}
	if (sl_sns_map(&f, (int)f.obj, "Attributes", SL_SNS_ATTR_VALUE_MAX, attr_in, &a) < 0)
		goto fail;
	/* What AWS requires to reach the push service. */
	bool apns = strncmp(o->platform, "APNS", 4) == 0 || strncmp(o->platform, "MACOS", 5) == 0;
	if (!sl_sns_kv_get(&a.kv, "PlatformCredential") ||
	    (apns && !sl_sns_kv_get(&a.kv, "PlatformPrincipal"))) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Attributes Reason: "
			     "%s attribute is required",
			     sl_sns_kv_get(&a.kv, "PlatformCredential") ? "PlatformPrincipal" :
			     "PlatformCredential");
		goto fail;
	}
	snprintf(o->region, sizeof(o->region), "%s", req->region);
	const struct sl_platform *old =
		(const struct sl_platform *)sl_catalog_lookup(sl_catalog_master(), &o->hdr);
	char arn[SL_PLATFORM_ARN_MAX];
	if (old) {
		/* The same name again: that application, with these
		 * attributes. */
		struct sl_platform *e = (struct sl_platform *)sl_catalog_edit(&old->hdr);
		if (!e || attrs_apply(req, e, &a.kv) < 0)
			goto fail;
		sl_catalog_commit();
		sl_platform_arn(e, arn);
		sl_platform_free(&o->hdr);
		o = NULL;
	} else {
		struct count c = { 0 };
		sl_catalog_walk(sl_catalog_master(), SL_COBJ_PLATFORM, NULL, false, count_app, &c);
		if (c.apps >= SL_SNS_PLATFORM_APPS_MAX) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: the server "
				     "keeps at most %d platform applications", SL_SNS_PLATFORM_APPS_MAX);
			goto fail;
		}
		o->created_ms = sl_now_ms();
		if (attrs_apply(req, o, &a.kv) < 0)
			goto fail;
		sl_platform_arn(o, arn);
		struct sl_platform *in = o;
		o = NULL; /* the catalog's from here */
		if (sl_catalog_insert(&in->hdr) < 0) {
			sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
			goto fail;
		}
		sl_catalog_commit();
	}
	sl_reply_begin(req);
	sl_enc_key(&req->out, "PlatformApplicationArn");
	sl_enc_cstr(&req->out, arn);
	sl_reply_end(req);
fail:
	if (o)
		sl_platform_free(&o->hdr);
	kv_clear(&a.kv);
}

void sl_sns_get_platform_application_attributes(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_platform *p = named_app(req, &f);

	if (p)
		reply_attrs(req, p, true);
}

void sl_sns_set_platform_application_attributes(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_platform *p = named_app(req, &f);

	if (p)
		set_attrs(req, &f, p, app_attrs, SL_SNS_ATTR_VALUE_MAX);
}

struct list {
	struct sl_req *req;
	const char *region;
	const struct sl_platform *app; /* endpoints of this application; NULL: applications */
	uint32_t n;
	bool more;
	char last[SL_PLATFORM_ARN_MAX];
	const char *key;               /* the list entry's ARN member */
};

static bool list_one(void *obj, void *arg)
{
	const struct sl_platform *p = obj;
	struct list *l = arg;
	char arn[SL_PLATFORM_ARN_MAX];

	if (strcmp(p->region, l->region) != 0)
		return false;
	if (l->app) {
		if (strcmp(p->platform, l->app->platform) != 0 || strcmp(p->app, l->app->app) != 0)
			return false;
	} else if (p->id[0]) {
		return true; /* an endpoint: not listed here */
	}
	if (!p->id[0] && l->app)
		return true;
	if (l->n == SL_SNS_LIST_PAGE) {
		l->more = true;
		return false;
	}
	sl_platform_arn(p, arn);
	struct sl_enc *e = &l->req->out;
	sl_enc_obj_begin(e);
	sl_enc_key(e, l->key);
	sl_enc_cstr(e, arn);
	sl_sns_map_begin(l->req, "Attributes");
	if (!l->app && !sl_sns_kv_get(&p->attrs, "Enabled"))
		sl_sns_map_put(l->req, "Enabled", "true");
	for (uint32_t i = 0; i < p->attrs.n; i++)
		if (l->app || strcmp(p->attrs.v[i].key, "PlatformCredential") != 0)
			sl_sns_map_put(l->req, p->attrs.v[i].key, p->attrs.v[i].value);
	sl_sns_map_end(l->req);
	sl_enc_obj_end(e);
	snprintf(l->last, sizeof(l->last), "%s", arn);
	l->n++;
	return true;
}

/* NextToken: the ARN of the last one listed. The walk resumes after it. */
static bool resume_from(struct sl_req *req, struct sl_fields *f, bool endpoint,
			struct sl_platform *from, bool *have)
{
	char token[SL_PLATFORM_ARN_MAX];

	*have = false;
	if (sl_sns_str(f, (int)f->obj, "NextToken", token, sizeof(token), sizeof(token) - 1,
		       false) < 0)
		return false;
	if (!token[0])
		return true;
	if (!arn_parse(token, endpoint ? "endpoint" : "app", endpoint, from) ||
	    strcmp(from->region, req->region) != 0) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: NextToken");
		return false;
	}
	*have = true;
	return true;
}

static void list_reply(struct sl_req *req, struct list *l, const char *name,
		       const struct sl_platform *from, bool exclusive)
{
	sl_reply_begin(req);
	sl_enc_key(&req->out, name);
	sl_enc_arr_begin(&req->out);
	sl_catalog_walk(sl_catalog_master(), SL_COBJ_PLATFORM, &from->hdr, exclusive, list_one, l);
	sl_enc_arr_end(&req->out);
	if (l->more) {
		sl_enc_key(&req->out, "NextToken");
		sl_enc_cstr(&req->out, l->last);
	}
	sl_reply_end(req);
}

void sl_sns_list_platform_applications(struct sl_req *req)
{
	struct sl_fields f;
	struct sl_platform from = { .hdr.type = SL_COBJ_PLATFORM };
	bool have;
	struct list l = { .req = req, .region = req->region, .key = "PlatformApplicationArn" };

	if (parse(req, &f) < 0 || !resume_from(req, &f, false, &from, &have))
		return;
	if (!have)
		snprintf(from.region, sizeof(from.region), "%s", req->region);
	list_reply(req, &l, "PlatformApplications", &from, have);
}

struct endpoints {
	const struct sl_platform *app;
	const struct sl_platform *v[64];
	uint32_t n;
	uint64_t total;
	const char *token;            /* find: the endpoint with this Token */
	const struct sl_platform *found;
};

/* The application's endpoints, in id order: up to 64 at a time (removal),
 * counted, or the one with a token. */
static bool endpoint_visit(void *obj, void *arg)
{
	const struct sl_platform *p = obj;
	struct endpoints *e = arg;

	if (strcmp(p->region, e->app->region) != 0 || strcmp(p->platform, e->app->platform) != 0 ||
	    strcmp(p->app, e->app->app) != 0)
		return false;
	if (!p->id[0])
		return true;
	e->total++;
	if (e->token) {
		const char *t = sl_sns_kv_get(&p->attrs, "Token");
		if (t && strcmp(t, e->token) == 0) {
			e->found = p;
			return false;
		}
		return true;
	}
	if (e->n == 64)
		return false;
	e->v[e->n++] = p;
	return true;
}

void sl_sns_delete_platform_application(struct sl_req *req)
{
	struct sl_fields f;
	char arn[SL_PLATFORM_ARN_MAX];
	struct sl_platform probe;

	if (parse(req, &f) < 0 || sl_sns_str(&f, (int)f.obj, "PlatformApplicationArn", arn,
					     sizeof(arn), sizeof(arn) - 1, true) <= 0)
		return;
	if (!arn_parse(arn, "app", false, &probe)) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: "
			     "PlatformApplicationArn");
		return;
	}
	const struct sl_platform *app =
		(const struct sl_platform *)sl_catalog_lookup(sl_catalog_master(), &probe.hdr);
	/* Its endpoints go with it; a missing one is deleted already. */
	while (app) {
		struct endpoints e = { .app = app };
		sl_catalog_walk(sl_catalog_master(), SL_COBJ_PLATFORM, &app->hdr, true,
				endpoint_visit, &e);
		for (uint32_t i = 0; i < e.n; i++)
			sl_catalog_remove(&e.v[i]->hdr);
		if (e.n < 64) {
			sl_catalog_remove(&app->hdr);
			break;
		}
	}
	sl_catalog_commit();
	sl_reply_begin(req);
	sl_reply_end(req);
}

/* ---- Endpoints ------------------------------------------------------------------------- */

static int uuid_make(char out[SL_SNS_SUB_ID_LEN + 1])
{
	uint8_t raw[16];

	sl_sqs_msg_id_new(raw);
	sl_sqs_uuid_fmt(raw, out);
	return 0;
}

void sl_sns_create_platform_endpoint(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_platform *app = named_app(req, &f);
	struct attrs_in a = { .req = req, .allowed = endpoint_attrs };
	char *token = malloc(SL_SNS_PUSH_TOKEN_MAX + 1);
	char *data = malloc(SL_SNS_CUSTOM_DATA_MAX + 1);
	char arn[SL_PLATFORM_ARN_MAX];

	if (!app || !token || !data) {
		if (app)
			sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		goto out;
	}
	int dl;
	if (sl_sns_str(&f, (int)f.obj, "Token", token, SL_SNS_PUSH_TOKEN_MAX + 1,
		       SL_SNS_PUSH_TOKEN_MAX, true) <= 0 ||
	    (dl = sl_sns_str(&f, (int)f.obj, "CustomUserData", data, SL_SNS_CUSTOM_DATA_MAX + 1,
			     SL_SNS_CUSTOM_DATA_MAX, false)) < 0 ||
	    sl_sns_map(&f, (int)f.obj, "Attributes", SL_SNS_PUSH_TOKEN_MAX, attr_in, &a) < 0)
		goto out;
	if (!token[0]) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Token");
		goto out;
	}
	if (sl_sns_kv_set(&a.kv, "Token", token, SL_SNS_OBJ_ATTRS_MAX) < 0 ||
	    (dl > 0 && sl_sns_kv_set(&a.kv, "CustomUserData", data, SL_SNS_OBJ_ATTRS_MAX) < 0) ||
	    (!sl_sns_kv_get(&a.kv, "Enabled") &&
	     sl_sns_kv_set(&a.kv, "Enabled", "true", SL_SNS_OBJ_ATTRS_MAX) < 0)) {
		sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
		goto out;
	}
	struct endpoints e = { .app = app, .token = token };
	sl_catalog_walk(sl_catalog_master(), SL_COBJ_PLATFORM, &app->hdr, true, endpoint_visit, &e);
	if (e.found) {
		/* The token's endpoint: the same, unless the attributes differ. */
		const struct sl_sns_kvs *have = &e.found->attrs;
		bool same = have->n == a.kv.n;
		for (uint32_t i = 0; same && i < a.kv.n; i++)
			same = strcmp(have->v[i].key, a.kv.v[i].key) == 0 &&
			       strcmp(have->v[i].value, a.kv.v[i].value) == 0;
		if (!same) {
			sl_platform_arn(e.found, arn);
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: Token Reason: "
				     "Endpoint %s already exists with the same Token, but different "
				     "attributes.", arn);
			goto out;
		}
		sl_platform_arn(e.found, arn);
	} else {
		if (e.total >= SL_SNS_ENDPOINTS_PER_APP_MAX) {
			sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: the server "
				     "keeps at most %d endpoints per application",
				     SL_SNS_ENDPOINTS_PER_APP_MAX);
			goto out;
		}
		struct sl_platform *o = calloc(1, sizeof(*o));
		if (!o) {
			sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
			goto out;
		}
		*o = (struct sl_platform){ .hdr.type = SL_COBJ_PLATFORM, .created_ms = sl_now_ms() };
		memcpy(o->region, app->region, sizeof(o->region));
		memcpy(o->platform, app->platform, sizeof(o->platform));
		memcpy(o->app, app->app, sizeof(o->app));
		uuid_make(o->id);
		o->attrs = a.kv;
		a.kv = (struct sl_sns_kvs){ 0 };
		sl_platform_arn(o, arn);
		if (sl_catalog_insert(&o->hdr) < 0) {
			sl_sns_error(req, SL_SNS_E_INTERNAL, "out of memory");
			goto out;
		}
		sl_catalog_commit();
	}
	sl_reply_begin(req);
	sl_enc_key(&req->out, "EndpointArn");
	sl_enc_cstr(&req->out, arn);
	sl_reply_end(req);
out:
	kv_clear(&a.kv);
	free(token);
	free(data);
}

void sl_sns_get_endpoint_attributes(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_platform *p = named_endpoint(req, &f, true);

	if (p)
		reply_attrs(req, p, false);
}

void sl_sns_set_endpoint_attributes(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_platform *p = named_endpoint(req, &f, true);

	if (p)
		set_attrs(req, &f, p, endpoint_attrs, SL_SNS_PUSH_TOKEN_MAX);
}

void sl_sns_list_endpoints_by_platform_application(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_platform *app = named_app(req, &f);
	struct sl_platform from;
	bool have;

	if (!app || !resume_from(req, &f, true, &from, &have))
		return;
	if (have && (strcmp(from.platform, app->platform) != 0 || strcmp(from.app, app->app) != 0)) {
		sl_sns_error(req, SL_SNS_E_INVALID_PARAMETER, "Invalid parameter: NextToken");
		return;
	}
	struct list l = { .req = req, .region = app->region, .app = app, .key = "EndpointArn" };
	list_reply(req, &l, "Endpoints", have ? &from : app, true);
}

void sl_sns_delete_endpoint(struct sl_req *req)
{
	struct sl_fields f;
	const struct sl_platform *p = named_endpoint(req, &f, false);

	if (req->status >= 400)
		return;
	if (p) {
		sl_catalog_remove(&p->hdr);
		sl_catalog_commit();
	}
	sl_reply_begin(req);
	sl_reply_end(req);
}
