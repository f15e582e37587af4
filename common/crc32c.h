/*
 * crc32c.h: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of the file log's frames. Uses the SSE4.2 crc32 instruction when
 * the CPU has it, a slicing-by-8 table otherwise; both give the same values.
 */
#ifndef GM_CRC32C_H
#define GM_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Extends crc (0 to start) with len bytes of buf and returns the new CRC, so
 * gm_crc32c(gm_crc32c(0, a, n), b, m) is the CRC of a then b. Thread-safe.
 */
uint32_t gm_crc32c(uint32_t crc, const void *buf, size_t len);

/* The portable table-driven version (exposed for tests). */
uint32_t gm_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* True when the hardware version can run on this CPU. */
bool gm_crc32c_hw_available(void);

/* The SSE4.2 version; call only when gm_crc32c_hw_available() (for tests). */
uint32_t gm_crc32c_hw(uint32_t crc, const void *buf, size_t len);

#endif
