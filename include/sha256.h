/* sha256.h — SHA-256 (FIPS 180-4) with no library behind it: the MTA pipe's
 * static client (src/pipe/) runs without libc, and the digest it sends must
 * be the one serve computes with the same code (handoff.c).  The rest of
 * dealmail hashes with Nettle (util.h). */
#ifndef DEALMAIL_SHA256_H
#define DEALMAIL_SHA256_H
#include <stddef.h>
#include <stdint.h>

struct dm_sha256 {
	uint32_t h[8];
	uint64_t bytes;           /* message length so far */
	unsigned char block[64];  /* the partial block: bytes % 64 of them */
};

void dm_sha256_init(struct dm_sha256 *c);
void dm_sha256_update(struct dm_sha256 *c, const void *p, size_t n);
void dm_sha256_final(struct dm_sha256 *c, unsigned char out[32]);

#endif
