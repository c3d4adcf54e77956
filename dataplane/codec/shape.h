/* shape.h - validate a request body against its botocore input shape.
 *
 * AWS checks a request in two steps before any handler logic runs, and every
 * JSON service does it the same way, so one table-driven checker serves them
 * all. First the whole body is read against the operation's input shape: a
 * value of the wrong type anywhere is a SerializationException, reported
 * alone (the first one in document order), even when a required member is
 * missing too. Then every constraint is checked and all violations are
 * reported together, at most SL_SHAPE_ERRORS_MAX of them:
 *
 *   2 validation errors detected: Value null at 'shardCount' failed to
 *   satisfy constraint: Member must not be null; Value 'a b' at 'streamName'
 *   failed to satisfy constraint: Member must satisfy regular expression
 *   pattern: [a-zA-Z0-9_.-]+
 *
 * The tables are generated from botocore by scripts/gen-shapes, one per
 * service (dataplane/services/<service>/shapes.c); this module knows no
 * service. It works on the token array of doc.h, so JSON and CBOR bodies
 * give the same answers, allocates nothing, and costs one pass over the
 * tokens plus the bytes of the strings and blobs it must measure or match.
 *
 * Messages follow AWS's Coral texts:
 *   null/required   Value null at 'p' ... Member must not be null
 *   string length   Value 'abc' at 'p' ... Member must have length greater
 *                   than or equal to N / less than or equal to N
 *   pattern         ... Member must satisfy regular expression pattern: P
 *   enum            ... Member must satisfy enum value set: [A, B]
 *   number range    Value '0' at 'p' ... Member must have value greater than
 *                   or equal to N / less than or equal to N
 *   list/map length Value '[a, b]' / '{k=v}' at 'p' ... Member must have
 *                   length less than or equal to N
 *   list elements   Value '[a, b]' at 'p' ... Member must satisfy constraint:
 *                   [<every constraint of the element shape>]
 *   map keys/values ... Map keys must satisfy constraint: [...] /
 *                   Map value must satisfy constraint: [...]
 * Paths are lowerCamelCase member names joined by '.', a list element
 * `records.1.member` (1-based), a map value `tags.KEY.member`. Values are
 * echoed in single quotes: text as decoded, numbers as read (after clamping),
 * a blob as java.nio.HeapByteBuffer[pos=0 lim=N cap=N], a structure as
 * <java_pkg>.<Shape>@<hash>, lists and maps as Java prints collections. A
 * sensitive shape's value is left out ("Value at 'p' ..."). Violations are
 * listed in model order (members as the model lists them, then elements in
 * order); within one value: range, pattern, length, enum.
 *
 * Type errors (SerializationException), by what the body holds where:
 *   a string   STRING_VALUE can not be converted to an Integer / a Long /
 *              a Double / a Float / a Short / a Byte / an Boolean (sic) /
 *              milliseconds since epoch (a timestamp); but "true", "yes",
 *              "1"... are booleans, "NaN"/"Infinity" floats, and text is a
 *              timestamp where the model says iso8601 or rfc822
 *   a number   NUMBER_VALUE can not be converted to a String / a Blob /
 *              a Boolean; where an integer is expected a fraction is cut
 *              toward zero and the value clamped to the type's range, and
 *              beyond 64 bits the message is empty (AWS sends none)
 *   a boolean  TRUE_VALUE / FALSE_VALUE can not be converted to ...
 *   a list     Start of list found where not expected
 *   an object  Start of structure or map found where not expected.
 *   a scalar where a list, map or structure is expected: Expected list or
 *              null / Expected map or null / Expected null
 *   bad base64 '<v>' can not be converted to a Blob: Base64 encoded length
 *              is expected a multiple of 4 bytes but found: N / Invalid
 *              Base64 character: 'c' / Invalid last non-pad Base64
 *              character dectected (sic)
 * In CBOR a blob must be a byte string and text a text string (else
 * STRING_VALUE / BLOB_VALUE can not be converted to ...); numbers, tagged
 * (1, epoch time) or not, are accepted wherever numbers are.
 */
#ifndef SL_CODEC_SHAPE_H
#define SL_CODEC_SHAPE_H

#include <stddef.h>
#include <stdint.h>

#include "dataplane/codec/doc.h"

struct sl_re;

/* Violations listed in one ValidationException; AWS stops at ten and says
 * "10 validation errors detected". */
#define SL_SHAPE_ERRORS_MAX 10
/* Deepest member path: one step per nesting level of the document. */
#define SL_SHAPE_DEPTH_MAX (SL_DOC_DEPTH_MAX + 1)
/* Smallest useful message buffer: one violation with a long path and an
 * enum of a dozen values. Ten violations with short values take about
 * 1.2 KiB; 4 KiB (SL_SHAPE_MSG_SIZE) leaves room for values of a few hundred
 * bytes. Longer values are shortened with "..." so that every listed
 * violation still fits; only when the rest of the text does not fit is the
 * message cut, at a character boundary. */
#define SL_SHAPE_MSG_MIN 1024
#define SL_SHAPE_MSG_SIZE 4096

/* Results of sl_shape_check(). */
#define SL_SHAPE_OK 0
#define SL_SHAPE_SERIALIZATION 1 /* SerializationException; msg "" means no Message member */
#define SL_SHAPE_VALIDATION 2    /* ValidationException */

/* sl_shape_check() flags. */
#define SL_SHAPE_CBOR 0x1u /* the tokens came from sl_cbor_parse() */

/* A shape index meaning "no shape" (an operation without input). */
#define SL_SHAPE_NONE UINT32_MAX

enum sl_shape_type {
	SL_SHAPE_ANY = 0,   /* document or unknown type: accepted unchecked */
	SL_SHAPE_STRUCT,    /* a: first member, b: member count, c: sorted index */
	SL_SHAPE_LIST,      /* a: member shape */
	SL_SHAPE_MAP,       /* a: key shape, b: value shape */
	SL_SHAPE_STRING,    /* a: first enum value, b: enum count, c: sorted index */
	SL_SHAPE_BLOB,
	SL_SHAPE_BOOL,
	SL_SHAPE_BYTE,
	SL_SHAPE_SHORT,
	SL_SHAPE_INT,
	SL_SHAPE_LONG,
	SL_SHAPE_FLOAT,
	SL_SHAPE_DOUBLE,
	SL_SHAPE_TIME,
};

/* Shape flags. */
#define SL_SHAPE_F_MIN 0x01u       /* min holds a bound */
#define SL_SHAPE_F_MAX 0x02u       /* max holds a bound */
#define SL_SHAPE_F_SENSITIVE 0x04u /* never echo the value */
#define SL_SHAPE_F_TIME_TEXT 0x08u /* timestamp sent as text (iso8601, rfc822) in JSON */
#define SL_SHAPE_F_UNION 0x10u     /* a union: checked as a structure */

/* min/max: lengths for strings (code points), blobs (bytes), lists and maps
 * (entries); values for integers (i) and floats (d). */
union sl_shape_bound {
	int64_t i;
	double d;
};

struct sl_shape {
	uint8_t type;  /* enum sl_shape_type */
	uint8_t flags; /* SL_SHAPE_F_* */
	uint16_t re;   /* 1 + index into the model's patterns; 0: none */
	uint16_t nreq; /* STRUCT: required members (their req_bit are 0..nreq-1) */
	uint32_t a, b, c;
	union sl_shape_bound min, max;
	const char *name; /* botocore shape name */
};

/* One structure member. */
#define SL_SHAPE_OPTIONAL 0xffu
struct sl_shape_member {
	const char *name;  /* key on the wire */
	const char *path;  /* name in messages: lowerCamelCase */
	uint32_t shape;
	uint16_t name_len;
	uint8_t req_bit;   /* bit in the structure's required mask, or SL_SHAPE_OPTIONAL */
};

struct sl_shape_str {
	const char *s;
	uint32_t len;
};

struct sl_shape_op {
	const char *name;
	uint32_t name_len;
	uint32_t input; /* shape index or SL_SHAPE_NONE */
};

struct sl_shape_model {
	const char *service;  /* botocore service name, e.g. "kinesis" */
	const char *source;   /* botocore version and model the table came from */
	const char *java_pkg; /* how AWS prints a structure: <java_pkg>.<Shape>@hash */
	const struct sl_shape *shapes;
	uint32_t nshapes;
	const struct sl_shape_member *members;
	uint32_t nmembers;
	const uint32_t *sorted; /* per structure/enum: member/value indices by name
				 * (by length, then bytes: one compare rules out most) */
	const struct sl_shape_str *enums;
	uint32_t nenums;
	const char *const *patterns;
	struct sl_re *re;       /* npatterns slots, filled by sl_shape_model_init() */
	uint32_t npatterns;
	const struct sl_shape_op *ops; /* sorted by name (bytes) */
	uint32_t nops;
};

/* Compile the model's patterns; call once at start-up, before any check.
 * Returns 0, or -EINVAL when some pattern does not compile: those are then
 * not checked (scripts/gen-shapes already leaves out what it knows is
 * unsupported, so this means the two disagree). */
int sl_shape_model_init(const struct sl_shape_model *m);

/* The operation called name[0..len) (X-Amz-Target after its prefix), by
 * binary search; NULL when the model has none. */
const struct sl_shape_op *sl_shape_op_find(const struct sl_shape_model *m, const char *name,
					   size_t len);

/* Check the body toks[root...] (as parsed; flags says by which parser)
 * against op's input shape. Returns SL_SHAPE_OK; SL_SHAPE_SERIALIZATION
 * with msg set to AWS's SerializationException text (possibly empty); or
 * SL_SHAPE_VALIDATION with msg set to the whole "N validation error(s)
 * detected: ..." text. msg is NUL-terminated and cut cleanly (never inside
 * a UTF-8 sequence) to cap bytes; cap should be at least SL_SHAPE_MSG_MIN,
 * and SL_SHAPE_MSG_SIZE is what a server should use.
 * Unknown members are ignored, as AWS ignores them. */
int sl_shape_check(const struct sl_shape_model *m, const struct sl_shape_op *op,
		   const struct sl_doc_tok *toks, uint32_t root, unsigned flags, char *msg,
		   size_t cap);

#endif
