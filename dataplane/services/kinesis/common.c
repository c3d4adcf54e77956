/* common.c - names, sequence numbers and stream lookup shared by the
 * Kinesis handlers. */
#include "dataplane/services/kinesis/kinesis.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/enc.h"
#include "dataplane/net/server.h"
#include "dataplane/runtime/config.h"

/* Write v as exactly `width` decimal digits, zero-padded (v must fit).
 * PutRecords formats two of these per record: snprintf showed up at 5% of
 * the server's CPU in a profile. */
static void dec_fixed(char *out, uint64_t v, int width)
{
	assert(width > 0);
	assert(width <= 20); /* UINT64_MAX has 20 digits */
	for (int i = width - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
	assert(v == 0); /* it fit: no leading digit was cut off */
}

void sl_kin_seq_fmt(uint32_t ordinal, uint64_t n, char out[SL_SEQ_LEN + 1])
{
	out[0] = '4';
	out[1] = '9';
	dec_fixed(out + 2, ordinal, 10);
	dec_fixed(out + 12, n, 20);
	out[SL_SEQ_LEN] = '\0';
}

int sl_kin_seq_parse(const char *s, size_t len, uint32_t *ordinal, uint64_t *n)
{
	uint64_t o = 0, v = 0;

	if (len != SL_SEQ_LEN || s[0] != '4' || s[1] != '9')
		return -1;
	for (size_t i = 2; i < SL_SEQ_LEN; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (i < 12)
			o = o * 10 + (uint64_t)(s[i] - '0');
		else if (v > (UINT64_MAX - 9) / 10)
			return -1;
		else
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (o > UINT32_MAX)
		return -1;
	*ordinal = (uint32_t)o;
	*n = v;
	return 0;
}

void sl_kin_shard_id(uint32_t ordinal, char out[32])
{
	memcpy(out, "shardId-", 8);
	dec_fixed(out + 8, ordinal, 12);
	out[20] = '\0';
}

int64_t sl_kin_shard_parse(const char *s)
{
	const char *p = strncmp(s, "shardId-", 8) == 0 ? s + 8 : s;
	int64_t v = 0;

	if (!*p || strlen(p) > 12)
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	assert(v >= 0); /* 12 digits cannot overflow int64_t */
	return v > UINT32_MAX ? -1 : v;
}

bool sl_kin_shard_expired(const struct sl_stream_meta *s, const struct sl_shard_meta *sh,
			  int64_t now_ms)
{
	return sh->closed && sh->closed_ms < now_ms - (int64_t)s->retention_hours * 3600 * 1000;
}

const char *sl_kin_status_name(uint8_t status)
{
	static const char *const names[] = { "CREATING", "DELETING", "ACTIVE", "UPDATING" };

	return status < 4 ? names[status] : "ACTIVE";
}

static bool name_ok(const char *s)
{
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* arn:aws:kinesis:REGION:ACCOUNT:stream/NAME */
static int parse_arn(const char *arn, char *region, char *account, char *name)
{
	const char *p = arn;
	const char *part[6];
	size_t plen[6];

	for (int i = 0; i < 6; i++) {
		const char *end = i < 5 ? strchr(p, ':') : p + strlen(p);
		if (!end)
			return -1;
		part[i] = p;
		plen[i] = (size_t)(end - p);
		p = end + 1;
	}
	if (plen[0] != 3 || memcmp(part[0], "arn", 3) != 0 || plen[2] != 7 ||
	    memcmp(part[2], "kinesis", 7) != 0 || plen[3] == 0 || plen[3] >= 32 || plen[4] >= 16 ||
	    plen[5] < 8 || memcmp(part[5], "stream/", 7) != 0 || plen[5] - 7 > SL_KIN_NAME_MAX)
		return -1;
	memcpy(region, part[3], plen[3]);
	region[plen[3]] = '\0';
	memcpy(account, part[4], plen[4]);
	account[plen[4]] = '\0';
	memcpy(name, part[5] + 7, plen[5] - 7);
	name[plen[5] - 7] = '\0';
	return name[0] ? 0 : -1;
}

int sl_kin_stream_ref(struct sl_fields *f, char *name, char *region)
{
	char arn[SL_KIN_ARN_MAX + 1], account[16];
	bool has_name, has_arn;

	if (sl_field_str(f, "StreamName", name, SL_KIN_NAME_MAX + 1, 1, SL_KIN_NAME_MAX, false,
			 &has_name) == SL_FIELD_ERR)
		return SL_FIELD_ERR;
	if (sl_field_str(f, "StreamARN", arn, sizeof(arn), 1, SL_KIN_ARN_MAX, false, &has_arn) ==
	    SL_FIELD_ERR)
		return SL_FIELD_ERR;
	if (has_name && !name_ok(name)) {
		sl_err_validation(f->req, "1 validation error detected: Value '%s' at 'streamName' "
					  "failed to satisfy constraint: Member must satisfy regular "
					  "expression pattern: [a-zA-Z0-9_.-]+", name);
		return SL_FIELD_ERR;
	}
	snprintf(region, 32, "%s", f->req->region);
	if (has_arn) {
		char aname[SL_KIN_NAME_MAX + 1];
		if (parse_arn(arn, region, account, aname) < 0 || !name_ok(aname)) {
			sl_err_validation(f->req, "1 validation error detected: Value '%s' at "
						  "'streamARN' failed to satisfy constraint: Member must "
						  "satisfy regular expression pattern: "
						  "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+", arn);
			return SL_FIELD_ERR;
		}
		if (has_name && strcmp(name, aname) != 0) {
			sl_req_error(f->req, 400, "InvalidArgumentException",
				     "StreamARN and StreamName do not name the same stream");
			return SL_FIELD_ERR;
		}
		if (strcmp(account, sl_cfg->account_id) != 0) {
			sl_req_error(f->req, 400, "ResourceNotFoundException",
				     "Stream %s under account %s not found.", aname, account);
			return SL_FIELD_ERR;
		}
		assert(strlen(aname) <= SL_KIN_NAME_MAX); /* parse_arn bounded it */
		strcpy(name, aname);
		return 0;
	}
	if (!has_name) {
		sl_req_error(f->req, 400, "InvalidArgumentException",
			     "Either StreamName or StreamARN should be provided.");
		return SL_FIELD_ERR;
	}
	assert(name[0] != '\0'); /* StreamName has a minimum length of 1 */
	assert(strlen(name) <= SL_KIN_NAME_MAX);
	return 0;
}

const struct sl_stream_meta *sl_kin_stream(struct sl_fields *f, const struct sl_catalog *c)
{
	char name[SL_KIN_NAME_MAX + 1], region[32];

	if (sl_kin_stream_ref(f, name, region) < 0)
		return NULL;
	const struct sl_stream_meta *s = sl_stream_find(c, region, name);
	if (!s)
		sl_req_error(f->req, 400, "ResourceNotFoundException",
			     "Stream %s under account %s not found.", name, sl_cfg->account_id);
	return s;
}

void sl_kin_encode_hash_range(struct sl_enc *e, const struct sl_shard_meta *sh)
{
	char num[40];

	sl_enc_key(e, "HashKeyRange");
	sl_enc_obj_begin(e);
	sl_enc_key(e, "StartingHashKey");
	sl_u128_fmt(sh->hash_start, num);
	sl_enc_cstr(e, num);
	sl_enc_key(e, "EndingHashKey");
	sl_u128_fmt(sh->hash_end, num);
	sl_enc_cstr(e, num);
	sl_enc_obj_end(e);
}

void sl_kin_encode_shard(struct sl_enc *e, const struct sl_shard_meta *sh)
{
	char id[32], seq[SL_SEQ_LEN + 1];

	sl_enc_obj_begin(e);
	sl_kin_shard_id(sh->ordinal, id);
	sl_enc_key(e, "ShardId");
	sl_enc_cstr(e, id);
	if (sh->parent >= 0) {
		sl_kin_shard_id((uint32_t)sh->parent, id);
		sl_enc_key(e, "ParentShardId");
		sl_enc_cstr(e, id);
	}
	if (sh->adjacent_parent >= 0) {
		sl_kin_shard_id((uint32_t)sh->adjacent_parent, id);
		sl_enc_key(e, "AdjacentParentShardId");
		sl_enc_cstr(e, id);
	}
	sl_kin_encode_hash_range(e, sh);
	sl_enc_key(e, "SequenceNumberRange");
	sl_enc_obj_begin(e);
	sl_enc_key(e, "StartingSequenceNumber");
	sl_kin_seq_fmt(sh->ordinal, 0, seq);
	sl_enc_cstr(e, seq);
	if (sh->closed) {
		sl_enc_key(e, "EndingSequenceNumber");
		sl_kin_seq_fmt(sh->ordinal, sh->end_n, seq);
		sl_enc_cstr(e, seq);
	}
	sl_enc_obj_end(e);
	sl_enc_obj_end(e);
}
