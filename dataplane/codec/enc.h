/* enc.h - one response writer with two wire formats (JSON, CBOR).
 *
 * Handlers describe a reply once (object, key, value...) and the writer emits
 * JSON text or CBOR bytes. The buffer grows by doubling (control-plane
 * allocation through jemalloc); a failed growth latches `err` and every later
 * call does nothing, so callers check once at the end.
 */
#ifndef SL_CODEC_ENC_H
#define SL_CODEC_ENC_H

#include <stddef.h>
#include <stdint.h>

enum sl_enc_fmt { SL_ENC_JSON = 0, SL_ENC_CBOR = 1 };

#define SL_ENC_DEPTH_MAX 32

struct sl_enc {
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint8_t fmt;
	uint8_t depth;
	uint8_t need_comma[SL_ENC_DEPTH_MAX]; /* JSON: a value was written at this depth */
	uint8_t after_key;                    /* JSON: next value follows a key, no comma */
	int err;                              /* 0, or -ENOMEM */
};

/* Start with an owned buffer of cap_hint bytes (at least 64). Returns 0 or -ENOMEM. */
int sl_enc_init(struct sl_enc *e, enum sl_enc_fmt fmt, size_t cap_hint);
void sl_enc_free(struct sl_enc *e);
/* Forget the contents, keep the buffer. */
void sl_enc_reset(struct sl_enc *e);
/* Hand the buffer to the caller (it must free() it); e is reset to empty. */
uint8_t *sl_enc_take(struct sl_enc *e, size_t *len);

/* CBOR maps/arrays are written with indefinite length (0xbf/0x9f ... 0xff). */
void sl_enc_obj_begin(struct sl_enc *e);
void sl_enc_obj_end(struct sl_enc *e);
void sl_enc_arr_begin(struct sl_enc *e);
void sl_enc_arr_end(struct sl_enc *e);
void sl_enc_key(struct sl_enc *e, const char *key); /* NUL-terminated, no escaping needed */
void sl_enc_str(struct sl_enc *e, const char *s, size_t len); /* escapes for JSON */
void sl_enc_cstr(struct sl_enc *e, const char *s);
void sl_enc_blob(struct sl_enc *e, const void *p, size_t len); /* JSON: base64 string; CBOR: byte string */
void sl_enc_int(struct sl_enc *e, int64_t v);
void sl_enc_bool(struct sl_enc *e, int v);
void sl_enc_null(struct sl_enc *e);
/* Epoch time in milliseconds: JSON number of seconds with 3 decimals
 * (1700000000.123); CBOR tag 1 around an integer of milliseconds, as AWS's
 * CBOR 1.1 protocol (x-amz-cbor-1.1) writes it. */
void sl_enc_time_ms(struct sl_enc *e, int64_t ms);
/* Raw bytes, for pre-encoded fragments in the same format. */
void sl_enc_raw(struct sl_enc *e, const void *p, size_t len);

/* base64 (RFC 4648, standard alphabet, padded). enc writes 4*ceil(n/3)
 * bytes and returns that count. dec returns the byte count or -1 on bad
 * input (wrong length, bad character, bad padding). */
size_t sl_base64_enc(char *out, const uint8_t *in, size_t n);
long sl_base64_dec(uint8_t *out, const char *in, size_t n);
static inline size_t sl_base64_enc_len(size_t n) { return 4 * ((n + 2) / 3); }

#endif
