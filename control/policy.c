/* policy.c - AddPermission's and RemovePermission's edits of a resource
 * policy (see policy.h): statements are kept as the bytes they were
 * given, so that an edit changes nothing but the statement it adds or
 * drops. */
#include "control/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/doc.h"

/* Output into a fixed buffer; full stays true once anything did not fit. */
struct out {
	char *p, *end;
	bool full;
};

static void put_raw(struct out *o, const char *s, size_t n)
{
	if ((size_t)(o->end - o->p) < n) {
		o->full = true;
		n = (size_t)(o->end - o->p);
	}
	memcpy(o->p, s, n);
	o->p += n;
}

static void put_cstr(struct out *o, const char *s)
{
	put_raw(o, s, strlen(s));
}

/* A JSON string of s: quotes and backslashes escaped, control characters
 * as \u00XX. */
static void put_json_str(struct out *o, const char *s)
{
	put_raw(o, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put_raw(o, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put_raw(o, esc, 6);
		} else {
			put_raw(o, (const char *)&c, 1);
		}
	}
	put_raw(o, "\"", 1);
}

/* The end of the JSON value starting at p: past its closing brace or
 * bracket, strings and their escapes skipped. */
static const char *json_end(const char *p, const char *end)
{
	int depth = 0;
	bool in_str = false;

	for (; p < end; p++) {
		if (in_str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_str = false;
			continue;
		}
		if (*p == '"')
			in_str = true;
		else if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
	}
	return end;
}

char *sl_policy_statement(const char *sid, const char *const *accounts, size_t naccounts,
			  const char *action_prefix, const char *const *actions, size_t nactions,
			  const char *resource)
{
	size_t cap = 256 + strlen(sid) * 6 + strlen(resource) * 6;

	for (size_t i = 0; i < naccounts; i++)
		cap += 32 + strlen(accounts[i]) * 6;
	for (size_t i = 0; i < nactions; i++)
		cap += 8 + (strlen(action_prefix) + strlen(actions[i])) * 6;
	char *buf = malloc(cap + 1);
	if (!buf)
		return NULL;
	struct out o = { buf, buf + cap, false };
	put_cstr(&o, "{\"Sid\":");
	put_json_str(&o, sid);
	put_cstr(&o, ",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":");
	for (int k = 0; k < 2; k++) {
		size_t n = k == 0 ? naccounts : nactions;
		if (n != 1)
			put_cstr(&o, "[");
		for (size_t i = 0; i < n; i++) {
			char v[512];
			if (k == 0)
				snprintf(v, sizeof(v), "arn:aws:iam::%s:root", accounts[i]);
			else
				snprintf(v, sizeof(v), "%s%s", action_prefix, actions[i]);
			if (i)
				put_cstr(&o, ",");
			put_json_str(&o, v);
		}
		if (n != 1)
			put_cstr(&o, "]");
		put_cstr(&o, k == 0 ? "},\"Action\":" : ",\"Resource\":");
	}
	put_json_str(&o, resource);
	put_cstr(&o, "}");
	*o.p = '\0';
	return buf;
}

char *sl_policy_rebuild(const char *old, const char *def_version, const char *def_id,
			const char *drop, const char *add, size_t max, bool *found)
{
	size_t olen = old ? strlen(old) : 0;
	uint32_t ntoks = (uint32_t)(olen / 2 + 2);
	struct sl_doc_tok *t = olen ? malloc(ntoks * sizeof(*t)) : NULL;
	char *buf = malloc(max + 1);
	struct out o = { buf, buf + max, false };
	size_t nst = 0;

	*found = false;
	if (!buf || (olen && !t)) {
		free(t);
		free(buf);
		return NULL;
	}
	int n = olen ? sl_json_parse((const uint8_t *)old, olen, t, ntoks) : -1;
	if (n > 0 && t[0].type != SL_DOC_OBJ)
		n = -1;
	char v[64], id[1024], sid[1024];
	int vi = n > 0 ? sl_doc_get(t, 0, "Version") : -1;
	int ii = n > 0 ? sl_doc_get(t, 0, "Id") : -1;
	if (vi < 0 || sl_doc_str(&t[vi], v, sizeof(v)) <= 0)
		snprintf(v, sizeof(v), "%s", def_version);
	if (ii < 0 || sl_doc_str(&t[ii], id, sizeof(id)) <= 0)
		snprintf(id, sizeof(id), "%s", def_id);
	put_cstr(&o, "{\"Version\":");
	put_json_str(&o, v);
	put_cstr(&o, ",\"Id\":");
	put_json_str(&o, id);
	put_cstr(&o, ",\"Statement\":[");
	int si = n > 0 ? sl_doc_get(t, 0, "Statement") : -1;
	if (si >= 0) {
		/* One statement, or a list of them. */
		bool list = t[si].type == SL_DOC_ARR;
		uint32_t cnt = list ? t[si].count : 1;
		uint32_t c = list ? sl_doc_first((uint32_t)si) : (uint32_t)si;
		for (uint32_t k = 0; k < cnt; k++, c = sl_doc_next(t, c)) {
			if (t[c].type != SL_DOC_OBJ)
				continue;
			int sidi = sl_doc_get(t, c, "Sid");
			if (drop && sidi >= 0 && sl_doc_str(&t[sidi], sid, sizeof(sid)) > 0 &&
			    strcmp(sid, drop) == 0) {
				*found = true;
				continue;
			}
			const char *s0 = (const char *)t[c].ptr;
			if (nst++)
				put_cstr(&o, ",");
			put_raw(&o, s0, (size_t)(json_end(s0, old + olen) - s0));
		}
	}
	if (add) {
		if (nst++)
			put_cstr(&o, ",");
		put_cstr(&o, add);
	}
	put_cstr(&o, "]}");
	free(t);
	if (o.full) {
		free(buf);
		return NULL;
	}
	*o.p = '\0';
	if (nst == 0)
		buf[0] = '\0';
	return buf;
}
