/* AES-128 (FIPS-197) and AES-CMAC (RFC 4493) for the LoRaWAN MAC layer.
 *
 * Written for hromada from the two specifications so that building needs no OpenSSL
 * headers.  AES-NI is used when the CPU has it (chosen at run time, so no global
 * compiler flags are needed); otherwise a portable table-based implementation.
 */
#ifndef HROMADA_LW_AES_H
#define HROMADA_LW_AES_H

#include <stddef.h>
#include <stdint.h>

/* Expanded key: 11 encryption round keys and 11 round keys of the equivalent inverse
 * cipher.  Both are byte arrays so the struct needs no particular alignment. */
typedef struct {
    uint8_t enc[176];
    uint8_t dec[176];
} lw_aes_ctx;

/* An AES context plus the CMAC subkeys K1 and K2 of RFC 4493 section 2.3. */
typedef struct {
    lw_aes_ctx aes;
    uint8_t k1[16];
    uint8_t k2[16];
} lw_cmac_ctx;

enum { LW_BACKEND_PORTABLE = 0, LW_BACKEND_AESNI = 1 };

/* Detect the CPU and build the portable tables; idempotent. */
void lw_aes_setup(void);
/* Which implementation runs now (LW_BACKEND_*). */
int lw_aes_backend(void);
/* 1 when the CPU has AES-NI (whether or not it is in use). */
int lw_aes_have_aesni(void);
/* Select a backend; returns 0 on success, -1 if the CPU lacks it.  Key contexts made
 * under one backend stay valid under the other (same round-key layout). */
int lw_aes_set_backend(int backend);

void lw_aes_init(lw_aes_ctx *ctx, const uint8_t key[16]);
void lw_aes_encrypt(const lw_aes_ctx *ctx, const uint8_t in[16], uint8_t out[16]);
void lw_aes_decrypt(const lw_aes_ctx *ctx, const uint8_t in[16], uint8_t out[16]);

void lw_cmac_init(lw_cmac_ctx *ctx, const uint8_t key[16]);
/* CMAC over prefix || msg, where prefix is either NULL or one 16-byte block (the B0/B1
 * block of LoRaWAN), so callers need not copy the frame behind it. */
void lw_cmac(const lw_cmac_ctx *ctx, const uint8_t *prefix, const uint8_t *msg, size_t len,
             uint8_t out[16]);

#endif
