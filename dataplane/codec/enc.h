/* enc.h - one response writer with three wire formats (JSON, CBOR, XML).
 *
 * Handlers describe a reply once (object, key, value...) and the writer emits
 * JSON text, CBOR bytes or the XML of the AWS query protocol. The buffer
 * grows by doubling (control-plane allocation through jemalloc); a failed
 * growth latches `err` and every later call does nothing, so callers check
 * once at the end.
 *
 * XML mapping. sl_enc_xml_begin() opens the root element; a key names the
 * element of the value after it: a scalar is <Key>text</Key>, an object
 * <Key>members</Key>, an array <Key><member>..</member>...</Key>, a flat
 * array (sl_enc_arr_begin_flat) <Key>..</Key><Key>..</Key> with no wrapper.
 * An object without a key, such as the top-level object of a handler that
 * also serves JSON, writes no tags of its own: the element around it is
 * its container. Element names (keys, the root) are not copied: the caller
 * keeps them alive until the element is closed (string literals in
 * practice), and they must be valid XML names, as they are not escaped.
 */
#ifndef SL_CODEC_ENC_H
#define SL_CODEC_ENC_H

#include <stddef.h>
#include <stdint.h>

enum sl_enc_fmt { SL_ENC_JSON = 0, SL_ENC_CBOR = 1, SL_ENC_XML = 2 };

#define SL_ENC_DEPTH_MAX 32

struct sl_enc {
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint8_t fmt;
	uint8_t depth;
	uint8_t need_comma[SL_ENC_DEPTH_MAX]; /* JSON: a value was written at this depth */
	uint8_t after_key;                    /* JSON: next value follows a key, no comma */
	uint8_t xml_kind[SL_ENC_DEPTH_MAX];   /* XML: object, list or flat list at this depth */
	const char *xml_name[SL_ENC_DEPTH_MAX]; /* XML: its element name, NULL for no tags */
	const char *xml_key;                  /* XML: element name of the next value */
	int err; /* 0, -ENOMEM, -EOVERFLOW (nested too deep), -EILSEQ (XML cannot carry a byte) */
};

/* Start with an owned buffer of cap_hint bytes (at least 64). Returns 0 or -ENOMEM. */
int sl_enc_init(struct sl_enc *e, enum sl_enc_fmt fmt, size_t cap_hint);
void sl_enc_free(struct sl_enc *e);
/* Forget the contents, keep the buffer. */
void sl_enc_reset(struct sl_enc *e);
/* Hand the buffer to the caller (it must free() it); e is reset to empty. */
uint8_t *sl_enc_take(struct sl_enc *e, size_t *len);

/* XML: write the declaration and open the root element <root xmlns="...">
 * (no attribute for a NULL xmlns); _end closes it. JSON and CBOR: nothing,
 * so one handler serves all formats. */
void sl_enc_xml_begin(struct sl_enc *e, const char *root, const char *xmlns);
void sl_enc_xml_end(struct sl_enc *e);

/* CBOR maps/arrays are written with indefinite length (0xbf/0x9f ... 0xff). */
void sl_enc_obj_begin(struct sl_enc *e);
void sl_enc_obj_end(struct sl_enc *e);
void sl_enc_arr_begin(struct sl_enc *e);
/* XML: a flattened list, each element named by the key (SQS's <Attribute>
 * entries); JSON and CBOR: the same as sl_enc_arr_begin(). */
void sl_enc_arr_begin_flat(struct sl_enc *e);
void sl_enc_arr_end(struct sl_enc *e);
void sl_enc_key(struct sl_enc *e, const char *key); /* NUL-terminated, no escaping needed */
/* JSON escapes as RFC 8259 requires. XML escapes & < > " ' as entities and
 * CR as &#xD; (a literal one would be read back as LF); tab and LF are
 * written as they are. The other C0 controls cannot appear in XML 1.0 at
 * all, not even as references, so a string holding one latches -EILSEQ
 * rather than be silently altered (SQS and SNS refuse such text on input).
 * Bytes from 0x80 up are copied as they are: the caller supplies UTF-8. */
void sl_enc_str(struct sl_enc *e, const char *s, size_t len);
void sl_enc_cstr(struct sl_enc *e, const char *s);
/* JSON: base64 string; CBOR: byte string; XML: base64 text. */
void sl_enc_blob(struct sl_enc *e, const void *p, size_t len);
void sl_enc_int(struct sl_enc *e, int64_t v);
void sl_enc_bool(struct sl_enc *e, int v); /* XML: true / false */
void sl_enc_null(struct sl_enc *e);        /* XML: nothing at all, not even the element */
/* Epoch time in milliseconds: JSON number of seconds with 3 decimals
 * (1700000000.123); CBOR tag 1 around an integer of milliseconds, as AWS's
 * CBOR 1.1 protocol (x-amz-cbor-1.1) writes it; XML ISO 8601 UTC with
 * milliseconds (2026-12-02T05:37:30.123Z), as the query protocol does.
 * Years outside 0000-9999 get more digits and a '-' when negative, as
 * xsd:dateTime allows. */
void sl_enc_time_ms(struct sl_enc *e, int64_t ms);
/* Raw bytes, for pre-encoded fragments in the same format (XML: inside the
 * element the pending key names). */
void sl_enc_raw(struct sl_enc *e, const void *p, size_t len);

/* base64 (RFC 4648, standard alphabet, padded). enc writes 4*ceil(n/3)
 * bytes and returns that count. dec returns the byte count or -1 on bad
 * input (wrong length, bad character, bad padding). */
size_t sl_base64_enc(char *out, const uint8_t *in, size_t n);
long sl_base64_dec(uint8_t *out, const char *in, size_t n);
static inline size_t sl_base64_enc_len(size_t n) { return 4 * ((n + 2) / 3); }

#endif
