/* form.h - application/x-www-form-urlencoded, as AWS query-protocol clients
 * send it (POST bodies and URL query strings), into the doc.h token model.
 *
 * Two steps, both without allocation. sl_form_parse() splits the text into
 * key/value views that are still percent-encoded, picohttpparser style.
 * sl_form_to_doc() turns the dotted keys of query-protocol requests
 * (`Attribute.1.Name=X`, `Tags.member.1.Key=k`) into the same tree a JSON
 * body would give, so service handlers read a query request with
 * sl_doc_get() and sl_doc_str() like any other.
 */
#ifndef SL_CODEC_FORM_H
#define SL_CODEC_FORM_H

#include <stddef.h>
#include <stdint.h>

#include "dataplane/codec/doc.h"

/* Results besides a count; the same values as SL_DOC_INVALID/SL_DOC_TOO_BIG. */
#define SL_FORM_INVALID (-1) /* not well-formed, or keys that do not make a tree */
#define SL_FORM_TOO_BIG (-3) /* more pairs, tokens or scratch than the caller gave */

/* Largest list index a key may carry (`Entry.1000.Id`). The longest lists
 * AWS query APIs accept are in the low thousands at most: CloudWatch
 * PutMetricData takes 1000 MetricData.member.N entries, EC2 filters and ID
 * lists about as many; SQS and SNS batches stop at 10. A cap keeps hostile
 * indexes out of the sort keys (four digits at most) and makes a typo like
 * `Entry.10000000` an error instead of a silently skipped range. */
#define SL_FORM_INDEX_MAX 1000

/* Scratch bytes sl_form_to_doc() uses per pair, on top of the decoded text
 * of keys that hold escapes. SL_FORM_SCRATCH_BYTES(n, body_len) always
 * suffices for n pairs parsed out of body_len bytes. */
#define SL_FORM_SCRATCH_PER_PAIR 16
#define SL_FORM_SCRATCH_BYTES(n, body_len) \
	((size_t)(n) * SL_FORM_SCRATCH_PER_PAIR + (size_t)(body_len) + 16)

/* One `key=value` segment; both views are still percent-encoded. */
struct sl_form_pair {
	const char *key;
	const char *val; /* empty (val_len 0) for a segment without '=' */
	uint32_t key_len;
	uint32_t val_len;
};

/* Split buf[0..len) at '&' into pairs[0..max). Empty segments are skipped;
 * the first '=' of a segment ends its key (later ones belong to the value).
 * Returns the number of pairs (>= 0), SL_FORM_INVALID when a '%' is not
 * followed by two hex digits or a key is empty, SL_FORM_TOO_BIG when there
 * are more than max pairs or len is over 4 GiB. */
int sl_form_parse(const char *buf, size_t len, struct sl_form_pair *pairs, uint32_t max);

/* Percent-decode in[0..n) into out with '+' as a space, NUL-terminated.
 * Returns the decoded length (excluding the NUL), -1 for a '%' without two
 * hex digits after it, -2 when the text and the NUL do not fit in cap. */
long sl_form_decode(const char *in, size_t n, char *out, size_t cap);

/* Build the document tree of pairs[0..n) into toks[0..max_toks); toks[0] is
 * the root object. Each key is decoded and split at '.': a segment after
 * the first that is a decimal number without leading zeros (1..
 * SL_FORM_INDEX_MAX) is a list index, any other segment a member name
 * (the first segment always names a member of the root). List elements
 * come in index order, with missing indexes skipped; object members come
 * in byte order of their names. Leaves are SL_DOC_STR tokens viewing the
 * encoded value in the input, with SL_DOC_F_PCT when it holds '%' or '+';
 * key tokens hold decoded text (in scratch when decoding changed it), so
 * sl_doc_get() matches them. Containers view the encoded key of one pair
 * beneath them, with len 0 (the root views pairs[0], or is NULL for n 0).
 *
 * scratch holds the sort records and decoded keys; toks need at most one
 * plus two per key segment. The work is O(n log n) key comparisons
 * (heapsort) plus one pass over the sorted keys, without allocation.
 *
 * Returns the token count (>= 1), SL_FORM_INVALID for an empty key or
 * segment, a bad escape, a key that is both a leaf and a parent
 * (`a=1&a.b=2`), a segment used as both list and object (`a.1=x&a.b=y`),
 * a duplicate key or an index over SL_FORM_INDEX_MAX; SL_FORM_TOO_BIG when
 * toks or scratch run out or a key has more than SL_DOC_DEPTH_MAX segments. */
int sl_form_to_doc(const struct sl_form_pair *pairs, uint32_t n, struct sl_doc_tok *toks,
		   uint32_t max_toks, char *scratch, size_t scratch_cap);

#endif
