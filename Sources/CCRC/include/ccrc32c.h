// Hardware CRC-32C (Castagnoli) for SkiffLog. See crc32c.c.
#ifndef SKIFF_CCRC32C_H
#define SKIFF_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has a CRC-32C instruction that skiff_crc32c_hw_update uses, 0 otherwise.
int skiff_crc32c_hw_available(void);

/// Folds `count` bytes at `bytes` into `crc` (the raw register: the caller inverts before and after).
/// MUST only be called when skiff_crc32c_hw_available() returned 1.
uint32_t skiff_crc32c_hw_update(uint32_t crc, const void *bytes, size_t count);

#endif
