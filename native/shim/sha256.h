/* SHA-256 (FIPS 180-4) of one buffer: the shim hashes its group's name into a socket path as the runc shim does. */
#ifndef TSRUNC_SHIM_SHA256_H
#define TSRUNC_SHIM_SHA256_H

#include <stddef.h>
#include <stdint.h>

void sha256(const void *data, size_t len, uint8_t digest[32]);

#endif
