/* crc32c.h - CRC32C (Castagnoli) with the SSE4.2 instruction.
 *
 * DPDK's rte_hash_crc() computes the same function but loads 8 bytes
 * through unaligned uint64_t pointers, which UBSan rightly reports; this
 * version loads through memcpy and is as fast. */
#ifndef SL_CRC32C_H
#define SL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC32C: pass 0 to start. Returns the finished CRC (already
 * inverted), and can be chained: crc(b, crc(a, 0)) == crc(a || b). */
uint32_t sl_crc32c(const void *p, size_t n, uint32_t crc);

#endif
