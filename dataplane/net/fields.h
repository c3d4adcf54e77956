/* fields.h - typed, validated reads of request members, with AWS errors.
 *
 * Every accessor either succeeds or leaves the request holding the error AWS
 * would send (SerializationException for a wrong type, ValidationException
 * for a constraint), so handlers read a field and return on failure.
 */
#ifndef SL_FIELDS_H
#define SL_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/codec/doc.h"

struct sl_req;

/* Results besides a length or 1. */
#define SL_FIELD_ABSENT 0
#define SL_FIELD_ERR (-1)

struct sl_fields {
	struct sl_req *req;
	const struct sl_doc_tok *t;
	uint32_t obj;
};

/* Parse req's body by its format into toks. Returns the token count, or
 * SL_FIELD_ERR with a SerializationException set. An empty body is `{}`.
 * A body already parsed into the same toks (by the router) is not parsed
 * again. `out` may be NULL. */
int sl_fields_parse(struct sl_req *req, struct sl_doc_tok *toks, uint32_t max,
		    struct sl_fields *out);

/* A string member copied (unescaped, NUL-terminated) into out[cap]; its
 * length in bytes must be in [min, max]. Returns the length (which may be 0
 * for an allowed empty string), SL_FIELD_ABSENT (0 too), or SL_FIELD_ERR;
 * *present tells an absent member from an empty one. */
int sl_field_str(struct sl_fields *f, const char *key, char *out, size_t cap, size_t min,
		 size_t max, bool required, bool *present);
/* An integer member in [min, max]. Returns 1 found, SL_FIELD_ABSENT, SL_FIELD_ERR. */
int sl_field_int(struct sl_fields *f, const char *key, int64_t min, int64_t max, bool required,
		 int64_t *out);
int sl_field_bool(struct sl_fields *f, const char *key, bool *out);
/* A timestamp: JSON epoch seconds (number), CBOR tag 1 or number. In ms. */
int sl_field_time(struct sl_fields *f, const char *key, bool required, int64_t *out_ms);
/* Index of an array / object member of the given type, SL_FIELD_ABSENT, SL_FIELD_ERR. */
int sl_field_arr(struct sl_fields *f, const char *key, bool required);
int sl_field_obj(struct sl_fields *f, const char *key, bool required);

/* The error helpers every handler uses. */
void sl_err_validation(struct sl_req *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl_err_serialization(struct sl_req *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
