/* msg.c - SQS message checks, digests, the stored record, receipt handles. */
#include "dataplane/services/sqs/msg.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* MD5() is deprecated in OpenSSL 3; the EVP interface allocates per call
 * (see kinesis/data.c), and these digests run once per message. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>

#include "dataplane/codec/enc.h"
#include "dataplane/storage/crc32c.h"

bool sl_sqs_chars_ok(const uint8_t *s, size_t n, int32_t *bad)
{
	size_t i = 0;

	/* Bounded: every round consumes one to four bytes. */
	while (i < n) {
		uint32_t c = s[i], need;
		if (c < 0x80)
			need = 0;
		else if ((c & 0xe0) == 0xc0)
			need = 1, c &= 0x1f;
		else if ((c & 0xf0) == 0xe0)
			need = 2, c &= 0x0f;
		else if ((c & 0xf8) == 0xf0)
			need = 3, c &= 0x07;
		else
			goto bad_utf8;
		if (n - i <= need)
			goto bad_utf8;
		for (uint32_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				goto bad_utf8;
			c = c << 6 | (s[i + k] & 0x3f);
		}
		/* Overlong forms and surrogates are not UTF-8. */
		static const uint32_t min[4] = { 0, 0x80, 0x800, 0x10000 };
		if (c < min[need] || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
			goto bad_utf8;
		bool ok = c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
			  (c >= 0xe000 && c <= 0xfffd) || c >= 0x10000;
		if (!ok) {
			*bad = (int32_t)c;
			return false;
		}
		i += need + 1;
	}
	return true;
bad_utf8:
	*bad = -1;
	return false;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

bool sl_sqs_attr_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > SL_SQS_ATTR_NAME_MAX || s[0] == '.' || s[n - 1] == '.')
		return false;
	if ((n >= 4 && strncasecmp(s, "AWS.", 4) == 0) ||
	    (n >= 7 && strncasecmp(s, "Amazon.", 7) == 0))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!name_char(s[i]) || (s[i] == '.' && s[i + 1] == '.'))
			return false;
	}
	return true;
}

bool sl_sqs_attr_type_ok(const char *s, size_t n, bool *binary, bool *number)
{
	static const char *const base[] = { "String", "Number", "Binary" };

	if (n == 0 || n > SL_SQS_ATTR_TYPE_MAX)
		return false;
	for (int b = 0; b < 3; b++) {
		size_t bl = strlen(base[b]);
		if (n < bl || memcmp(s, base[b], bl) != 0)
			continue;
		/* "String" alone, or "String.<label>" with a non-empty label. */
		if (n != bl && (s[bl] != '.' || n == bl + 1))
			return false;
		*binary = b == 2;
		*number = b == 1;
		return true;
	}
	return false;
}

bool sl_sqs_number_ok(const char *s, size_t n)
{
	size_t i = 0, ni = 0, nf = 0;
	const char *ip, *fp = NULL;
	long exp = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	ip = s + i;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, ni++;
	if (i < n && s[i] == '.') {
		fp = s + ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, nf++;
	}
	if (ni + nf == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		bool neg = ++i < n && s[i] == '-';
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		if (i == n)
			return false;
		for (; i < n; i++) {
			if (s[i] < '0' || s[i] > '9' || exp > 100000)
				return false;
			exp = exp * 10 + (s[i] - '0');
		}
		exp = neg ? -exp : exp;
	}
	if (i != n)
		return false;
	/* The digits as one run (integer part, then fraction): the first and
	 * last non-zero ones bound the significant digits. */
	long first = -1, last = -1;
	for (size_t k = 0; k < ni + nf; k++) {
		char c = k < ni ? ip[k] : fp[k - ni];
		if (c != '0') {
			if (first < 0)
				first = (long)k;
			last = (long)k;
		}
	}
	if (first < 0)
		return true; /* zero */
	if (last - first + 1 > 38)
		return false;
	/* The value is d.ddd x 10^mag; AWS takes 10^-128 up to 10^126. */
	long mag = (long)ni - 1 - first + exp;
	return mag >= -128 && mag <= 126;
}

void sl_sqs_md5_hex(const void *p, size_t n, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[MD5_DIGEST_LENGTH];

	MD5(p, n, d);
	for (int i = 0; i < MD5_DIGEST_LENGTH; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[32] = '\0';
}

static void md5_len(MD5_CTX *c, uint32_t n)
{
	uint8_t b[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };

	MD5_Update(c, b, 4);
}

static int name_cmp(const struct sl_sqs_attr *a, const struct sl_sqs_attr *b)
{
	uint32_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int c = memcmp(a->name, b->name, n);

	return c ? c : (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

int sl_sqs_attrs_md5(const struct sl_sqs_attr *a, unsigned n, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned order[SL_SQS_ATTRS_MAX];
	uint8_t d[MD5_DIGEST_LENGTH];
	MD5_CTX c;

	assert(n <= SL_SQS_ATTRS_MAX);
	/* Insertion sort of at most ten indexes. */
	for (unsigned i = 0; i < n; i++) {
		unsigned k = i;
		while (k > 0 && name_cmp(&a[order[k - 1]], &a[i]) > 0) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = i;
	}
	for (unsigned i = 1; i < n; i++) {
		if (name_cmp(&a[order[i - 1]], &a[order[i]]) == 0)
			return -EINVAL;
	}
	MD5_Init(&c);
	for (unsigned i = 0; i < n; i++) {
		const struct sl_sqs_attr *x = &a[order[i]];
		uint8_t transport = x->binary ? 2 : 1;
		md5_len(&c, x->name_len);
		MD5_Update(&c, x->name, x->name_len);
		md5_len(&c, x->type_len);
		MD5_Update(&c, x->type, x->type_len);
		MD5_Update(&c, &transport, 1);
		md5_len(&c, x->value_len);
		MD5_Update(&c, x->value, x->value_len);
	}
	MD5_Final(d, &c);
	for (int i = 0; i < MD5_DIGEST_LENGTH; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[32] = '\0';
	return 0;
}

size_t sl_sqs_attrs_size(const struct sl_sqs_attr *a, unsigned n)
{
	size_t s = 0;

	for (unsigned i = 0; i < n; i++)
		s += (size_t)a[i].name_len + a[i].type_len + a[i].value_len;
	return s;
}

/* ---- Stored sends ------------------------------------------------------------ */

#define STORED_VERSION 1
#define STORED_HDR 20 /* version, flags, nattrs, sent_ms, delay_s, and the body's length */
#define STORED_GROUP 1u
#define STORED_DEDUP 2u
#define STORED_SOURCE 4u

bool sl_sqs_fifo_id_ok(const char *s, size_t n)
{
	if (n == 0 || n > SL_SQS_FIFO_ID_MAX)
		return false;
	/* Letters, digits and punctuation are exactly ASCII's printable
	 * characters but the space. */
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	}
	return true;
}

static uint8_t *put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 8;
}

static uint8_t *put_bytes(uint8_t *p, const void *b, size_t n)
{
	if (n)
		memcpy(p, b, n);
	return p + n;
}

size_t sl_sqs_stored_size(const struct sl_sqs_stored *m)
{
	size_t s = STORED_HDR + m->body_len + 4 + m->trace_len;

	for (unsigned i = 0; i < m->nattrs; i++)
		s += 2 + m->attrs[i].name_len + 2 + m->attrs[i].type_len + 1 + 4 +
		     m->attrs[i].value_len;
	if (m->group)
		s += 2 + m->group_len;
	if (m->dedup)
		s += 2 + m->dedup_len;
	if (m->source_uid)
		s += 8;
	return s;
}

void sl_sqs_stored_encode(const struct sl_sqs_stored *m, uint8_t *out)
{
	uint8_t *p = out;

	assert(m->nattrs <= SL_SQS_ATTRS_MAX);
	assert(!m->group || sl_sqs_fifo_id_ok(m->group, m->group_len));
	assert(!m->dedup || sl_sqs_fifo_id_ok(m->dedup, m->dedup_len));
	*p++ = STORED_VERSION;
	*p++ = (uint8_t)((m->group ? STORED_GROUP : 0) | (m->dedup ? STORED_DEDUP : 0) |
			 (m->source_uid ? STORED_SOURCE : 0));
	p = put16(p, m->nattrs);
	p = put64(p, (uint64_t)m->sent_ms);
	p = put32(p, m->delay_s);
	p = put32(p, m->body_len);
	p = put_bytes(p, m->body, m->body_len);
	p = put32(p, m->trace_len);
	p = put_bytes(p, m->trace, m->trace_len);
	for (unsigned i = 0; i < m->nattrs; i++) {
		const struct sl_sqs_attr *a = &m->attrs[i];
		p = put16(p, a->name_len);
		p = put_bytes(p, a->name, a->name_len);
		p = put16(p, a->type_len);
		p = put_bytes(p, a->type, a->type_len);
		*p++ = a->binary;
		p = put32(p, a->value_len);
		p = put_bytes(p, a->value, a->value_len);
	}
	if (m->group) {
		p = put16(p, m->group_len);
		p = put_bytes(p, m->group, m->group_len);
	}
	if (m->dedup) {
		p = put16(p, m->dedup_len);
		p = put_bytes(p, m->dedup, m->dedup_len);
	}
	if (m->source_uid)
		p = put64(p, m->source_uid);
	assert((size_t)(p - out) == sl_sqs_stored_size(m));
}

struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static const uint8_t *take(struct rd *r, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	return p;
}

static uint64_t get_le(struct rd *r, unsigned bytes)
{
	const uint8_t *b = take(r, bytes);
	uint64_t v = 0;

	for (unsigned i = 0; b && i < bytes; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

int sl_sqs_stored_decode(const uint8_t *p, size_t n, struct sl_sqs_stored *m)
{
	struct rd r = { p, p + n, false };

	memset(m, 0, sizeof(*m));
	uint8_t version = (uint8_t)get_le(&r, 1), flags = (uint8_t)get_le(&r, 1);
	m->nattrs = (unsigned)get_le(&r, 2);
	m->sent_ms = (int64_t)get_le(&r, 8);
	m->delay_s = (uint32_t)get_le(&r, 4);
	m->body_len = (uint32_t)get_le(&r, 4);
	if (r.bad || version != STORED_VERSION || (flags & ~(STORED_GROUP | STORED_DEDUP | STORED_SOURCE)) ||
	    m->nattrs > SL_SQS_ATTRS_MAX ||
	    m->delay_s > SL_SQS_DELAY_MAX_S || m->body_len > SL_SQS_MSG_SIZE_MAX)
		return -EINVAL;
	m->body = take(&r, m->body_len);
	m->trace_len = (uint32_t)get_le(&r, 4);
	m->trace = m->trace_len <= SL_SQS_MSG_SIZE_MAX ? take(&r, m->trace_len) : NULL;
	if (r.bad || (m->trace_len && !m->trace))
		return -EINVAL;
	for (unsigned i = 0; i < m->nattrs; i++) {
		struct sl_sqs_attr *a = &m->attrs[i];
		bool number;
		a->name_len = (uint32_t)get_le(&r, 2);
		a->name = (const char *)take(&r, a->name_len);
		a->type_len = (uint32_t)get_le(&r, 2);
		a->type = (const char *)take(&r, a->type_len);
		uint8_t bin = (uint8_t)get_le(&r, 1);
		a->value_len = (uint32_t)get_le(&r, 4);
		a->value = a->value_len <= SL_SQS_MSG_SIZE_MAX ? take(&r, a->value_len) : NULL;
		bool type_bin = false;
		if (r.bad || !a->value || bin > 1 || !sl_sqs_attr_name_ok(a->name, a->name_len) ||
		    !sl_sqs_attr_type_ok(a->type, a->type_len, &type_bin, &number) ||
		    type_bin != (bin == 1))
			return -EINVAL;
		a->binary = bin == 1;
	}
	if (flags & STORED_GROUP) {
		m->group_len = (uint32_t)get_le(&r, 2);
		m->group = (const char *)take(&r, m->group_len);
		if (r.bad || !sl_sqs_fifo_id_ok(m->group, m->group_len))
			return -EINVAL;
	}
	if (flags & STORED_DEDUP) {
		m->dedup_len = (uint32_t)get_le(&r, 2);
		m->dedup = (const char *)take(&r, m->dedup_len);
		if (r.bad || !sl_sqs_fifo_id_ok(m->dedup, m->dedup_len))
			return -EINVAL;
	}
	if (flags & STORED_SOURCE) {
		m->source_uid = get_le(&r, 8);
		if (r.bad || m->source_uid == 0)
			return -EINVAL;
	}
	return r.p == r.end ? 0 : -EINVAL;
}

long sl_sqs_stored_moved(const uint8_t *p, size_t n, uint64_t source_uid, uint8_t **out)
{
	struct sl_sqs_stored m;

	if (sl_sqs_stored_decode(p, n, &m) < 0)
		return -EINVAL;
	m.delay_s = 0;
	m.source_uid = source_uid;
	size_t len = sl_sqs_stored_size(&m);
	*out = malloc(len);
	if (!*out)
		return -ENOMEM;
	sl_sqs_stored_encode(&m, *out);
	return (long)len;
}

/* ---- Receipt handles ------------------------------------------------------------ */

#define RECEIPT_BYTES 30 /* version, reserved, uid, n, partition, rseq, crc */
_Static_assert(RECEIPT_BYTES % 3 == 0 && RECEIPT_BYTES / 3 * 4 == SL_SQS_RECEIPT_LEN,
	       "a handle is whole base64 groups");

void sl_sqs_receipt_fmt(const struct sl_sqs_receipt *r, char out[SL_SQS_RECEIPT_LEN + 1])
{
	uint8_t b[RECEIPT_BYTES], *p = b;

	*p++ = 1;
	*p++ = 0;
	p = put64(p, r->queue_uid);
	p = put64(p, r->n);
	p = put32(p, r->partition);
	p = put32(p, r->rseq);
	put32(p, sl_crc32c(b, RECEIPT_BYTES - 4, 0));
	size_t len = sl_base64_enc(out, b, sizeof(b));
	assert(len == SL_SQS_RECEIPT_LEN);
	out[len] = '\0';
}

int sl_sqs_receipt_parse(const char *s, size_t n, struct sl_sqs_receipt *r)
{
	uint8_t b[RECEIPT_BYTES];

	if (n != SL_SQS_RECEIPT_LEN || sl_base64_dec(b, s, n) != RECEIPT_BYTES || b[0] != 1 ||
	    b[1] != 0)
		return -EINVAL;
	struct rd rd = { b + 2, b + RECEIPT_BYTES, false };
	r->queue_uid = get_le(&rd, 8);
	r->n = get_le(&rd, 8);
	r->partition = (uint32_t)get_le(&rd, 4);
	r->rseq = (uint32_t)get_le(&rd, 4);
	uint32_t crc = (uint32_t)get_le(&rd, 4);
	return crc == sl_crc32c(b, RECEIPT_BYTES - 4, 0) ? 0 : -EINVAL;
}

/* ---- Ids ---------------------------------------------------------------------- */

/* A fast, per-thread generator for message ids (not secrets): splitmix64
 * seeded from the clock and the thread's address. */
static uint64_t rand64(void)
{
	static __thread uint64_t s;

	if (!s) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		s = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)(uintptr_t)&s;
	}
	uint64_t z = (s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void sl_sqs_msg_id_new(uint8_t id[16])
{
	uint64_t a = rand64(), b = rand64();

	memcpy(id, &a, 8);
	memcpy(id + 8, &b, 8);
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x40); /* a version 4 UUID */
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
}

void sl_sqs_uuid_fmt(const uint8_t id[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[id[i] >> 4];
		*p++ = hex[id[i] & 15];
	}
	*p = '\0';
}

bool sl_sqs_batch_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SL_SQS_BATCH_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}
