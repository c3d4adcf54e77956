/* catrec.h - the catalog's record frames, shared by its log and its snapshot.
 *
 * A frame is a 20-byte header and a body:
 *
 *   u32 len    bytes after the first 8 (op .. end of body)
 *   u32 crc    CRC32C of those bytes
 *   u8  op     PUT, DEL, COMMIT or SNAP
 *   u8  0
 *   u16 type   the object type (PUT, DEL)
 *   u64 uid    the object (PUT, DEL)
 *   body       PUT: the object as its type encodes it;
 *              COMMIT: u64 gen, u64 next_uid;
 *              SNAP: u64 first log to replay, u64 gen, u64 next_uid
 *
 * All integers are little-endian. A log is a run of batches, each ending in
 * a COMMIT: recovery applies a batch only once it has read its COMMIT, so a
 * batch torn by a crash is dropped whole (it was never acknowledged). A
 * snapshot starts with one SNAP frame and ends with a COMMIT.
 */
#ifndef SL_CATREC_H
#define SL_CATREC_H

#include <stddef.h>
#include <stdint.h>

#include "dataplane/codec/bin.h"

enum sl_crec_op {
	SL_CREC_PUT = 1,
	SL_CREC_DEL = 2,
	SL_CREC_COMMIT = 3,
	SL_CREC_SNAP = 4,
};

#define SL_CREC_HDR 20

struct sl_crec {
	uint8_t op;
	uint16_t type;
	uint64_t uid;
	const uint8_t *body;
	size_t len;
};

/* Start a frame in w; returns its offset for sl_crec_end(). */
size_t sl_crec_begin(struct sl_bw *w, uint8_t op, uint16_t type, uint64_t uid);
/* Close the frame started at off: its length and checksum. */
void sl_crec_end(struct sl_bw *w, size_t off);

/* Call fn for each whole, intact frame of p[0..n) in order, until a frame
 * is torn, fails its checksum, is longer than max_len, or fn returns
 * nonzero. Returns the bytes of the frames passed to fn (and accepted). */
size_t sl_crec_scan(const uint8_t *p, size_t n, size_t max_len,
		    int (*fn)(const struct sl_crec *r, void *arg), void *arg);

#endif
