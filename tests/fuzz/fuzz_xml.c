/* fuzz_xml.c - the reply writer driven by a program read from the input.
 * Each byte picks a call (open an object, list or flat list, close one, or a
 * string, int, bool, time, null or blob whose operands follow); keys are
 * supplied where an object needs them, and nesting is kept legal. The same
 * program runs in XML, CBOR and JSON. Invariants: the XML is well formed
 * (one root, tags balance, text and attribute values hold no raw markup and
 * only valid references), a string XML 1.0 cannot carry latches -EILSEQ and
 * nothing else fails, and the CBOR and JSON of the program parse back. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/codec/doc.h"
#include "dataplane/codec/enc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
#define NEST_MAX (SL_ENC_DEPTH_MAX - 3) /* below the root and the top-level object */

static const char *const names[] = { "Name", "Value", "member", "Entry", "QueueUrl", "A" };
static struct sl_doc_tok toks[4096];

struct prog {
	const uint8_t *p;
	size_t n;
	bool ctl;   /* a string held a byte XML cannot carry */
	bool ascii; /* every string byte was below 0x80 */
};

static uint8_t next(struct prog *g)
{
	uint8_t b = g->n > 0 ? *g->p : 0;

	g->p += g->n > 0;
	g->n -= g->n > 0;
	return b;
}

static int64_t next64(struct prog *g)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | next(g);
	return (int64_t)v;
}

/* A string of up to 63 bytes from the input. */
static const char *next_str(struct prog *g, size_t *len)
{
	const char *s;

	*len = next(g) % 64;
	*len = *len < g->n ? *len : g->n;
	s = (const char *)g->p;
	g->p += *len;
	g->n -= *len;
	return s;
}

/* Note what text the writer is about to escape holds. */
static void scan(struct prog *g, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)s[i];

		g->ctl |= c < 0x20 && c != '\t' && c != '\n' && c != '\r';
		g->ascii &= c < 0x80;
	}
}

static void run(struct sl_enc *e, struct prog *g)
{
	uint8_t kind[SL_ENC_DEPTH_MAX] = { 0 }; /* at each nesting: 0 object, 1 list */
	char ns[64];
	const char *s;
	size_t len, d = 0;

	s = next_str(g, &len);
	memcpy(ns, s, len);
	ns[len] = '\0';
	scan(g, ns, strlen(ns));
	sl_enc_xml_begin(e, "Root", len > 0 ? ns : NULL);
	sl_enc_obj_begin(e);
	/* Each pass consumes at least the op byte. */
	while (g->n > 0) {
		uint8_t op = next(g) % 10;

		if (op < 3 && d == NEST_MAX)
			op = 3;
		if (op == 3) {
			if (d > 0)
				(kind[d--] == 0 ? sl_enc_obj_end : sl_enc_arr_end)(e);
			continue;
		}
		if (kind[d] == 0)
			sl_enc_key(e, names[next(g) % (sizeof(names) / sizeof(names[0]))]);
		switch (op) {
		case 0:
			sl_enc_obj_begin(e);
			kind[++d] = 0;
			break;
		case 1:
		case 2:
			(op == 1 ? sl_enc_arr_begin : sl_enc_arr_begin_flat)(e);
			kind[++d] = 1;
			break;
		case 4:
			s = next_str(g, &len);
			scan(g, s, len);
			sl_enc_str(e, s, len);
			break;
		case 5:
			sl_enc_int(e, next64(g));
			break;
		case 6:
			sl_enc_bool(e, next(g) & 1);
			break;
		case 7:
			sl_enc_time_ms(e, next64(g));
			break;
		case 8:
			sl_enc_null(e);
			break;
		default:
			s = next_str(g, &len);
			sl_enc_blob(e, s, len);
		}
	}
	for (; d > 0; d--)
		(kind[d] == 0 ? sl_enc_obj_end : sl_enc_arr_end)(e);
	sl_enc_obj_end(e);
	sl_enc_xml_end(e);
}

/* Length of the reference at s (a '&') if it is one the writer may use:
 * the five entities, or character references to tab, LF and CR. 0 if not. */
static size_t ref_len(const uint8_t *s, const uint8_t *end)
{
	static const char *const refs[] = {
		"&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#x9;", "&#xA;", "&#xD;",
	};

	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		size_t k = strlen(refs[i]);

		if ((size_t)(end - s) >= k && memcmp(s, refs[i], k) == 0)
			return k;
	}
	return 0;
}

/* Character data [s, end): no markup, references only as above, and only
 * characters XML 1.0 allows (tab and LF raw in text only, never a raw CR). */
static bool text_ok(const uint8_t *s, const uint8_t *end, bool attr)
{
	while (s < end) {
		size_t k = *s == '&' ? ref_len(s, end) : 1;

		if (k == 0 || *s == '<' || *s == '>' || *s == '"' || *s == '\'' || *s == '\r')
			return false;
		if (*s < 0x20 && (attr || (*s != '\t' && *s != '\n')))
			return false;
		s += k;
	}
	return true;
}

/* One root element after the declaration; every tag closes in order. */
static void check_xml(const uint8_t *s, size_t n)
{
	const uint8_t *end = s + n, *open[SL_ENC_DEPTH_MAX];
	size_t olen[SL_ENC_DEPTH_MAX], d = 0;
	bool rooted = false;

	if (n < strlen(DECL) || memcmp(s, DECL, strlen(DECL)) != 0)
		abort();
	/* Each pass consumes one tag and the text before it. */
	for (s += strlen(DECL); s < end;) {
		const uint8_t *lt = memchr(s, '<', (size_t)(end - s)), *gt, *name;
		size_t k = 0;

		/* Nothing but tags may follow the root, and nothing at all after it. */
		if (lt == NULL || !text_ok(s, lt, false) || (d == 0 && lt != s))
			abort();
		gt = memchr(lt, '>', (size_t)(end - lt));
		if (gt == NULL)
			abort();
		name = lt + 1 + (lt[1] == '/');
		while (name + k < gt && ((name[k] | 0x20) >= 'a' && (name[k] | 0x20) <= 'z'))
			k++;
		if (k == 0)
			abort();
		if (lt[1] == '/') {
			if (d == 0 || name + k != gt || k != olen[d - 1] ||
			    memcmp(name, open[d - 1], k) != 0)
				abort();
			d--;
		} else {
			const uint8_t *a = name + k;

			if ((d == 0 && rooted) || d == SL_ENC_DEPTH_MAX)
				abort();
			if (a != gt && (d != 0 || gt - a < 9 || memcmp(a, " xmlns=\"", 8) != 0 ||
					gt[-1] != '"' || !text_ok(a + 8, gt - 1, true)))
				abort();
			open[d] = name;
			olen[d++] = k;
			rooted = true;
		}
		s = gt + 1;
	}
	if (d != 0 || !rooted)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int fmt = SL_ENC_JSON; fmt <= SL_ENC_XML; fmt++) {
		struct prog g = { .p = data, .n = size, .ascii = true };
		struct sl_enc e;
		int n;

		if (sl_enc_init(&e, (enum sl_enc_fmt)fmt, 0) != 0)
			abort();
		run(&e, &g);
		if (e.depth != 0 || e.err != (fmt == SL_ENC_XML && g.ctl ? -EILSEQ : 0))
			abort();
		if (fmt == SL_ENC_XML && e.err == 0)
			check_xml(e.buf, e.len);
		n = fmt == SL_ENC_JSON ? sl_json_parse(e.buf, e.len, toks, 4096) :
		    fmt == SL_ENC_CBOR ? sl_cbor_parse(e.buf, e.len, toks, 4096) : 1;
		if (n == SL_DOC_INVALID && (fmt == SL_ENC_CBOR || g.ascii))
			abort();
		sl_enc_free(&e);
	}
	return 0;
}
