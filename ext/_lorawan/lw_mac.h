/* LoRaWAN block ciphers built on lw_aes: FRMPayload/FOpts keystreams (A blocks) and the
 * data-frame MIC (B0/B1 blocks), LoRaWAN 1.0.x and 1.1 sections 4.3.3, 4.3.1.6 and 4.4.
 *
 * Every A and B block has the same shape:
 *   [tag, p1, p2, p3, p4, Dir, DevAddr (4, LE), FCnt (4, LE), 0x00, last]
 * tag 0x01 for A blocks, 0x49 for B blocks; p1..p4 are zero except ConfFCnt/TxDr/TxCh in
 * the 1.1 MIC blocks and the FCnt selector of the FOpts erratum.
 */
#ifndef HROMADA_LW_MAC_H
#define HROMADA_LW_MAC_H

#include <stddef.h>
#include <stdint.h>

#include "lw_aes.h"

static inline void lw_block(uint8_t b[16], uint8_t tag, uint8_t p1, uint8_t p2, uint8_t p3,
                            uint8_t p4, uint8_t dir, uint32_t dev_addr, uint32_t fcnt,
                            uint8_t last) {
    b[0] = tag;
    b[1] = p1;
    b[2] = p2;
    b[3] = p3;
    b[4] = p4;
    b[5] = dir;
    b[6] = (uint8_t)dev_addr;
    b[7] = (uint8_t)(dev_addr >> 8);
    b[8] = (uint8_t)(dev_addr >> 16);
    b[9] = (uint8_t)(dev_addr >> 24);
    b[10] = (uint8_t)fcnt;
    b[11] = (uint8_t)(fcnt >> 8);
    b[12] = (uint8_t)(fcnt >> 16);
    b[13] = (uint8_t)(fcnt >> 24);
    b[14] = 0;
    b[15] = last;
}

/* XOR n bytes of in with the keystream AES(K, A_i), A_i[15] = first + i, into out.
 * FRMPayload: selector 0, first 1.  FOpts (1.1 erratum): selector 0/1/2, first 1.
 * FOpts (1.1 as first published): selector 0, first 0.  in and out may be the same. */
static inline void lw_keystream_xor(const lw_aes_ctx *ctx, uint8_t selector, uint8_t dir,
                                    uint32_t dev_addr, uint32_t fcnt, uint8_t first,
                                    const uint8_t *in, uint8_t *out, size_t n) {
    uint8_t a[16], s[16];
    size_t done = 0;
    unsigned i = 0;
    while (done < n) {
        lw_block(a, 0x01, 0, 0, 0, selector, dir, dev_addr, fcnt, (uint8_t)(first + i));
        lw_aes_encrypt(ctx, a, s);
        size_t chunk = n - done < 16 ? n - done : 16;
        for (size_t j = 0; j < chunk; j++) out[done + j] = in[done + j] ^ s[j];
        done += chunk;
        i++;
    }
}

/* First four bytes of CMAC(K, B || msg), B = [0x49, conf (2, LE), tx_dr, tx_ch, dir,
 * DevAddr, FCnt, 0x00, len(msg)]. */
static inline void lw_data_mic(const lw_cmac_ctx *ctx, uint16_t conf_fcnt, uint8_t tx_dr,
                               uint8_t tx_ch, uint8_t dir, uint32_t dev_addr, uint32_t fcnt,
                               const uint8_t *msg, size_t len, uint8_t mic[4]) {
    uint8_t b[16], full[16];
    lw_block(b, 0x49, (uint8_t)conf_fcnt, (uint8_t)(conf_fcnt >> 8), tx_dr, tx_ch, dir,
             dev_addr, fcnt, (uint8_t)len);
    lw_cmac(ctx, b, msg, len, full);
    mic[0] = full[0];
    mic[1] = full[1];
    mic[2] = full[2];
    mic[3] = full[3];
}

#endif
