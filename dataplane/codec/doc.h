/* doc.h - one read-only document model for the JSON, CBOR and form (AWS
 * query protocol, see form.h) request codecs.
 *
 * A parser turns a request body into a flat array of tokens in document order,
 * the way jsmn and picohttpparser do: no allocation, views into the input, and
 * the caller supplies the token array. An object's children come right after
 * it as key, value, key, value...; `end` lets a reader skip a whole subtree in
 * O(1). Handlers read fields with sl_doc_get() and the typed accessors below,
 * so they never care which wire codec the request used.
 */
#ifndef SL_CODEC_DOC_H
#define SL_CODEC_DOC_H

#include <stddef.h>
#include <stdint.h>

enum sl_doc_type {
	SL_DOC_NULL = 0,
	SL_DOC_BOOL,
	SL_DOC_INT,   /* integer: value in .i */
	SL_DOC_FLOAT, /* non-integral number (or JSON number with '.'/'e'): value in .d */
	SL_DOC_STR,   /* text string: ptr/len view (JSON: without quotes, maybe escaped;
		       * form: maybe percent-encoded) */
	SL_DOC_BLOB,  /* CBOR byte string: ptr/len view of the raw bytes */
	SL_DOC_ARR,   /* .count elements follow */
	SL_DOC_OBJ,   /* .count key/value pairs follow (2 * count tokens at top level) */
};

/* Token flags. */
#define SL_DOC_F_ESCAPED 0x01u /* JSON string holds backslash escapes: use sl_doc_str() */
#define SL_DOC_F_CHUNKED 0x02u /* CBOR indefinite-length string: use sl_doc_str()/sl_doc_blob() */
#define SL_DOC_F_TIME 0x04u    /* CBOR tag 1 (epoch time) preceded this number */
#define SL_DOC_F_PCT 0x08u     /* form value holds %XX escapes or '+' (space): use sl_doc_str() */

/* Parser results besides a positive token count. */
#define SL_DOC_INVALID (-1)  /* not well-formed */
#define SL_DOC_TOO_BIG (-3)  /* more tokens than the caller's array, or nested too deep */

/* Deepest nesting a parser accepts; deeper input is SL_DOC_TOO_BIG. */
#define SL_DOC_DEPTH_MAX 64

struct sl_doc_tok {
	const uint8_t *ptr; /* STR/BLOB: first byte of content; others: first byte of the item */
	uint32_t len;       /* STR/BLOB: content bytes in the input (before unescaping) */
	uint32_t count;     /* ARR: elements; OBJ: pairs */
	uint32_t end;       /* index of the first token after this subtree */
	uint8_t type;       /* enum sl_doc_type */
	uint8_t flags;      /* SL_DOC_F_* */
	union {
		int64_t i;  /* SL_DOC_INT, SL_DOC_BOOL (0/1) */
		double d;   /* SL_DOC_FLOAT */
	};
};

/* Parse a JSON text (RFC 8259, UTF-8) into toks[0..max_toks).
 * Returns the number of tokens (>0; toks[0] is the root), SL_DOC_INVALID for
 * malformed input (including trailing garbage after the root value), or
 * SL_DOC_TOO_BIG. Integers that do not fit int64_t are SL_DOC_FLOAT. */
int sl_json_parse(const uint8_t *buf, size_t len, struct sl_doc_tok *toks, uint32_t max_toks);

/* Parse one CBOR data item (RFC 8949) the same way. Definite and indefinite
 * lengths, major types 0-7, tags (tag 1 sets SL_DOC_F_TIME on the number that
 * follows; other tags are skipped), half/single/double floats. Map keys must
 * be text strings. Returns as sl_json_parse(). */
int sl_cbor_parse(const uint8_t *buf, size_t len, struct sl_doc_tok *toks, uint32_t max_toks);

/* Index of the value for `key` in object token `obj`, or -1 when absent or
 * when toks[obj] is not an object. Keys compare as exact bytes (escaped JSON
 * keys never match; form keys are decoded text, so they do). */
int sl_doc_get(const struct sl_doc_tok *toks, uint32_t obj, const char *key);

/* Index of the first child of ARR/OBJ token t (t + 1), and of the next
 * sibling of a child c (toks[c].end). Loops over children run `count` times. */
static inline uint32_t sl_doc_first(uint32_t t) { return t + 1; }
static inline uint32_t sl_doc_next(const struct sl_doc_tok *toks, uint32_t c) { return toks[c].end; }

/* Copy string token t into out (unescaping JSON, joining CBOR chunks,
 * percent-decoding form values), NUL-terminated. Returns the length
 * (excluding NUL), -1 when t is not a string or the escape sequence is bad,
 * -2 when it does not fit in cap. */
int sl_doc_str(const struct sl_doc_tok *t, char *out, size_t cap);

/* Decode blob token t into out: base64 (standard alphabet, padding required
 * per RFC 4648) for a JSON string or a form value (after percent-decoding,
 * so '+' must come as %2B), the raw bytes for a CBOR byte string.
 * Returns the byte count, -1 when t is neither or the base64 is invalid,
 * -2 when it does not fit in cap. */
long sl_doc_blob(const struct sl_doc_tok *t, uint8_t *out, size_t cap);

/* Decoded size upper bound of blob token t, for sizing `out`. */
size_t sl_doc_blob_max(const struct sl_doc_tok *t);

#endif
