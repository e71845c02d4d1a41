/* AES-128 (FIPS-197) and AES-CMAC (RFC 4493); see lw_aes.h.
 *
 * The round keys are kept as bytes in FIPS-197 order, which is also the order AES-NI
 * expects, so one key expansion serves both backends and the backend can be switched at
 * run time (the tests run the FIPS-197 and RFC 4493 vectors on both).
 */
#include "lw_aes.h"

#include <string.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define LW_HAVE_X86 1
#include <emmintrin.h>
#include <wmmintrin.h>
/* Only the functions that use the instructions are compiled for them, so the module
 * still loads (and falls back) on a CPU without AES-NI. */
#define LW_TARGET __attribute__((target("aes,sse4.1")))
#else
#define LW_HAVE_X86 0
#endif

/* ---------------------------------------------------------------------------------- */
/* Tables, computed once from the definitions of FIPS-197 section 5.1.1 (S-box as the
 * multiplicative inverse in GF(2^8) followed by the affine transform) rather than typed in. */

static uint8_t SBOX[256];
static uint8_t INV_SBOX[256];
static uint32_t TE[256]; /* SubBytes + MixColumns contribution of row 0 */
static uint32_t TD[256]; /* InvSubBytes + InvMixColumns contribution of row 0 */
static int tables_ready = 0;
static int have_aesni = 0;
static int backend = LW_BACKEND_PORTABLE;

static uint8_t xtime(uint8_t x) { return (uint8_t)((x << 1) ^ ((x & 0x80) ? 0x1b : 0x00)); }

static uint8_t gmul(uint8_t a, uint8_t b) {
    uint8_t r = 0;
    while (b) {
        if (b & 1) r ^= a;
        a = xtime(a);
        b >>= 1;
    }
    return r;
}

static uint8_t rotl8(uint8_t x, int n) { return (uint8_t)((x << n) | (x >> (8 - n))); }
static uint32_t ror32(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void build_tables(void) {
    uint8_t exp_t[256], log_t[256];
    uint8_t p = 1;
    /* 0x03 generates the multiplicative group of GF(2^8). */
    for (int i = 0; i < 255; i++) {
        exp_t[i] = p;
        log_t[p] = (uint8_t)i;
        p = gmul(p, 3);
    }
    for (int x = 0; x < 256; x++) {
        uint8_t inv = x ? exp_t[(255 - log_t[x]) % 255] : 0;
        uint8_t s = (uint8_t)(inv ^ rotl8(inv, 1) ^ rotl8(inv, 2) ^ rotl8(inv, 3) ^
                              rotl8(inv, 4) ^ 0x63);
        SBOX[x] = s;
        INV_SBOX[s] = (uint8_t)x;
    }
    for (int x = 0; x < 256; x++) {
        uint8_t s = SBOX[x];
        TE[x] = ((uint32_t)gmul(s, 2) << 24) | ((uint32_t)s << 16) | ((uint32_t)s << 8) |
                (uint32_t)gmul(s, 3);
        uint8_t si = INV_SBOX[x];
        TD[x] = ((uint32_t)gmul(si, 14) << 24) | ((uint32_t)gmul(si, 9) << 16) |
                ((uint32_t)gmul(si, 13) << 8) | (uint32_t)gmul(si, 11);
    }
    tables_ready = 1;
}

void lw_aes_setup(void) {
    if (tables_ready) return;
    build_tables();
#if LW_HAVE_X86
    __builtin_cpu_init();
    have_aesni = __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1");
#endif
    backend = have_aesni ? LW_BACKEND_AESNI : LW_BACKEND_PORTABLE;
}

int lw_aes_backend(void) { return backend; }
int lw_aes_have_aesni(void) { return have_aesni; }

int lw_aes_set_backend(int which) {
    lw_aes_setup();
    if (which == LW_BACKEND_AESNI && !have_aesni) return -1;
    if (which != LW_BACKEND_AESNI && which != LW_BACKEND_PORTABLE) return -1;
    backend = which;
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* Key expansion (FIPS-197 section 5.2) and the equivalent inverse cipher's round keys
 * (section 5.3.5): InvMixColumns applied to round keys 1..9, order reversed. */

static uint32_t load_be(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void store_be(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t inv_mix_word(uint32_t w) {
    /* TD[SBOX[x]] is InvMixColumns of x alone, since INV_SBOX undoes SBOX. */
    return TD[SBOX[w >> 24]] ^ ror32(TD[SBOX[(w >> 16) & 0xff]], 8) ^
           ror32(TD[SBOX[(w >> 8) & 0xff]], 16) ^ ror32(TD[SBOX[w & 0xff]], 24);
}

void lw_aes_init(lw_aes_ctx *ctx, const uint8_t key[16]) {
    static const uint8_t rcon[10] = {0x01, 0x02, 0x04, 0x08, 0x10,
                                     0x20, 0x40, 0x80, 0x1b, 0x36};
    uint32_t w[44];
    lw_aes_setup();
    for (int i = 0; i < 4; i++) w[i] = load_be(key + 4 * i);
    for (int i = 4; i < 44; i++) {
        uint32_t t = w[i - 1];
        if (i % 4 == 0) {
            t = (t << 8) | (t >> 24); /* RotWord */
            t = ((uint32_t)SBOX[t >> 24] << 24) | ((uint32_t)SBOX[(t >> 16) & 0xff] << 16) |
                ((uint32_t)SBOX[(t >> 8) & 0xff] << 8) | (uint32_t)SBOX[t & 0xff];
            t ^= (uint32_t)rcon[i / 4 - 1] << 24;
        }
        w[i] = w[i - 4] ^ t;
    }
    for (int i = 0; i < 44; i++) store_be(ctx->enc + 4 * i, w[i]);
    for (int r = 0; r <= 10; r++) {
        for (int c = 0; c < 4; c++) {
            uint32_t v = w[4 * (10 - r) + c];
            if (r != 0 && r != 10) v = inv_mix_word(v);
            store_be(ctx->dec + 16 * r + 4 * c, v);
        }
    }
    memset(w, 0, sizeof w);
}

/* ---------------------------------------------------------------------------------- */
/* Portable cipher: one 32-bit table lookup per byte and round. */

static void portable_encrypt(const uint8_t *rk, const uint8_t *in, uint8_t *out) {
    uint32_t s0 = load_be(in) ^ load_be(rk), s1 = load_be(in + 4) ^ load_be(rk + 4);
    uint32_t s2 = load_be(in + 8) ^ load_be(rk + 8), s3 = load_be(in + 12) ^ load_be(rk + 12);
    uint32_t t0, t1, t2, t3;
    for (int r = 1; r < 10; r++) {
        const uint8_t *k = rk + 16 * r;
        t0 = TE[s0 >> 24] ^ ror32(TE[(s1 >> 16) & 0xff], 8) ^ ror32(TE[(s2 >> 8) & 0xff], 16) ^
             ror32(TE[s3 & 0xff], 24) ^ load_be(k);
        t1 = TE[s1 >> 24] ^ ror32(TE[(s2 >> 16) & 0xff], 8) ^ ror32(TE[(s3 >> 8) & 0xff], 16) ^
             ror32(TE[s0 & 0xff], 24) ^ load_be(k + 4);
        t2 = TE[s2 >> 24] ^ ror32(TE[(s3 >> 16) & 0xff], 8) ^ ror32(TE[(s0 >> 8) & 0xff], 16) ^
             ror32(TE[s1 & 0xff], 24) ^ load_be(k + 8);
        t3 = TE[s3 >> 24] ^ ror32(TE[(s0 >> 16) & 0xff], 8) ^ ror32(TE[(s1 >> 8) & 0xff], 16) ^
             ror32(TE[s2 & 0xff], 24) ^ load_be(k + 12);
        s0 = t0; s1 = t1; s2 = t2; s3 = t3;
    }
    const uint8_t *k = rk + 160;
#define LW_LAST(a, b, c, d)                                                                \
    (((uint32_t)SBOX[(a) >> 24] << 24) | ((uint32_t)SBOX[((b) >> 16) & 0xff] << 16) |     \
     ((uint32_t)SBOX[((c) >> 8) & 0xff] << 8) | (uint32_t)SBOX[(d) & 0xff])
    store_be(out, LW_LAST(s0, s1, s2, s3) ^ load_be(k));
    store_be(out + 4, LW_LAST(s1, s2, s3, s0) ^ load_be(k + 4));
    store_be(out + 8, LW_LAST(s2, s3, s0, s1) ^ load_be(k + 8));
    store_be(out + 12, LW_LAST(s3, s0, s1, s2) ^ load_be(k + 12));
#undef LW_LAST
}

static void portable_decrypt(const uint8_t *rk, const uint8_t *in, uint8_t *out) {
    uint32_t s0 = load_be(in) ^ load_be(rk), s1 = load_be(in + 4) ^ load_be(rk + 4);
    uint32_t s2 = load_be(in + 8) ^ load_be(rk + 8), s3 = load_be(in + 12) ^ load_be(rk + 12);
    uint32_t t0, t1, t2, t3;
    /* InvShiftRows moves row r of column j to column j + r: the inputs of output column
     * j come from columns j, j-1, j-2, j-3. */
    for (int r = 1; r < 10; r++) {
        const uint8_t *k = rk + 16 * r;
        t0 = TD[s0 >> 24] ^ ror32(TD[(s3 >> 16) & 0xff], 8) ^ ror32(TD[(s2 >> 8) & 0xff], 16) ^
             ror32(TD[s1 & 0xff], 24) ^ load_be(k);
        t1 = TD[s1 >> 24] ^ ror32(TD[(s0 >> 16) & 0xff], 8) ^ ror32(TD[(s3 >> 8) & 0xff], 16) ^
             ror32(TD[s2 & 0xff], 24) ^ load_be(k + 4);
        t2 = TD[s2 >> 24] ^ ror32(TD[(s1 >> 16) & 0xff], 8) ^ ror32(TD[(s0 >> 8) & 0xff], 16) ^
             ror32(TD[s3 & 0xff], 24) ^ load_be(k + 8);
        t3 = TD[s3 >> 24] ^ ror32(TD[(s2 >> 16) & 0xff], 8) ^ ror32(TD[(s1 >> 8) & 0xff], 16) ^
             ror32(TD[s0 & 0xff], 24) ^ load_be(k + 12);
        s0 = t0; s1 = t1; s2 = t2; s3 = t3;
    }
    const uint8_t *k = rk + 160;
#define LW_ILAST(a, b, c, d)                                                                 \
    (((uint32_t)INV_SBOX[(a) >> 24] << 24) | ((uint32_t)INV_SBOX[((b) >> 16) & 0xff] << 16) | \
     ((uint32_t)INV_SBOX[((c) >> 8) & 0xff] << 8) | (uint32_t)INV_SBOX[(d) & 0xff])
    store_be(out, LW_ILAST(s0, s3, s2, s1) ^ load_be(k));
    store_be(out + 4, LW_ILAST(s1, s0, s3, s2) ^ load_be(k + 4));
    store_be(out + 8, LW_ILAST(s2, s1, s0, s3) ^ load_be(k + 8));
    store_be(out + 12, LW_ILAST(s3, s2, s1, s0) ^ load_be(k + 12));
#undef LW_ILAST
}

/* ---------------------------------------------------------------------------------- */
/* AES-NI. */

#if LW_HAVE_X86
#define LW_LOAD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define LW_STORE(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))

LW_TARGET static void aesni_encrypt(const uint8_t *rk, const uint8_t *in, uint8_t *out) {
    __m128i s = _mm_xor_si128(LW_LOAD(in), LW_LOAD(rk));
    for (int r = 1; r < 10; r++) s = _mm_aesenc_si128(s, LW_LOAD(rk + 16 * r));
    LW_STORE(out, _mm_aesenclast_si128(s, LW_LOAD(rk + 160)));
}

LW_TARGET static void aesni_decrypt(const uint8_t *rk, const uint8_t *in, uint8_t *out) {
    __m128i s = _mm_xor_si128(LW_LOAD(in), LW_LOAD(rk));
    for (int r = 1; r < 10; r++) s = _mm_aesdec_si128(s, LW_LOAD(rk + 16 * r));
    LW_STORE(out, _mm_aesdeclast_si128(s, LW_LOAD(rk + 160)));
}

/* CMAC with the round keys held in registers for the whole message: LoRaWAN MICs are
 * two to four blocks, so loading the schedule once per message matters. */
LW_TARGET static void aesni_cmac(const lw_cmac_ctx *c, const uint8_t *prefix,
                                 const uint8_t *msg, size_t len, uint8_t out[16]) {
    const uint8_t *rk = c->aes.enc;
    __m128i k0 = LW_LOAD(rk), k1 = LW_LOAD(rk + 16), k2 = LW_LOAD(rk + 32);
    __m128i k3 = LW_LOAD(rk + 48), k4 = LW_LOAD(rk + 64), k5 = LW_LOAD(rk + 80);
    __m128i k6 = LW_LOAD(rk + 96), k7 = LW_LOAD(rk + 112), k8 = LW_LOAD(rk + 128);
    __m128i k9 = LW_LOAD(rk + 144), k10 = LW_LOAD(rk + 160);
#define LW_ENC(x)                                                                          \
    do {                                                                                   \
        x = _mm_xor_si128(x, k0);                                                          \
        x = _mm_aesenc_si128(x, k1); x = _mm_aesenc_si128(x, k2);                          \
        x = _mm_aesenc_si128(x, k3); x = _mm_aesenc_si128(x, k4);                          \
        x = _mm_aesenc_si128(x, k5); x = _mm_aesenc_si128(x, k6);                          \
        x = _mm_aesenc_si128(x, k7); x = _mm_aesenc_si128(x, k8);                          \
        x = _mm_aesenc_si128(x, k9); x = _mm_aesenclast_si128(x, k10);                     \
    } while (0)
    __m128i x = _mm_setzero_si128();
    uint8_t last[16];
    if (prefix) {
        x = LW_LOAD(prefix);
        if (len == 0) {
            x = _mm_xor_si128(x, LW_LOAD(c->k1));
            LW_ENC(x);
            LW_STORE(out, x);
            return;
        }
        LW_ENC(x);
    }
    if (len == 0) {
        memset(last, 0, 16);
        last[0] = 0x80;
        x = _mm_xor_si128(x, _mm_xor_si128(LW_LOAD(last), LW_LOAD(c->k2)));
        LW_ENC(x);
        LW_STORE(out, x);
        return;
    }
    size_t full = (len - 1) / 16;
    for (size_t i = 0; i < full; i++) {
        x = _mm_xor_si128(x, LW_LOAD(msg + 16 * i));
        LW_ENC(x);
    }
    size_t rem = len - 16 * full;
    memset(last, 0, 16);
    memcpy(last, msg + 16 * full, rem);
    __m128i sub;
    if (rem == 16) {
        sub = LW_LOAD(c->k1);
    } else {
        last[rem] = 0x80;
        sub = LW_LOAD(c->k2);
    }
    x = _mm_xor_si128(x, _mm_xor_si128(LW_LOAD(last), sub));
    LW_ENC(x);
    LW_STORE(out, x);
#undef LW_ENC
}
#endif

/* ---------------------------------------------------------------------------------- */

void lw_aes_encrypt(const lw_aes_ctx *ctx, const uint8_t in[16], uint8_t out[16]) {
#if LW_HAVE_X86
    if (backend == LW_BACKEND_AESNI) {
        aesni_encrypt(ctx->enc, in, out);
        return;
    }
#endif
    portable_encrypt(ctx->enc, in, out);
}

void lw_aes_decrypt(const lw_aes_ctx *ctx, const uint8_t in[16], uint8_t out[16]) {
#if LW_HAVE_X86
    if (backend == LW_BACKEND_AESNI) {
        aesni_decrypt(ctx->dec, in, out);
        return;
    }
#endif
    portable_decrypt(ctx->dec, in, out);
}

/* RFC 4493 section 2.3: K1 = L << 1 (xor Rb if the top bit was set), K2 = K1 << 1 (same). */
static void double_block(const uint8_t in[16], uint8_t out[16]) {
    uint8_t carry = in[0] & 0x80;
    for (int i = 0; i < 15; i++) out[i] = (uint8_t)((in[i] << 1) | (in[i + 1] >> 7));
    out[15] = (uint8_t)(in[15] << 1);
    if (carry) out[15] ^= 0x87;
}

void lw_cmac_init(lw_cmac_ctx *ctx, const uint8_t key[16]) {
    uint8_t zero[16] = {0}, l[16];
    lw_aes_init(&ctx->aes, key);
    lw_aes_encrypt(&ctx->aes, zero, l);
    double_block(l, ctx->k1);
    double_block(ctx->k1, ctx->k2);
    memset(l, 0, sizeof l);
}

static void xor16(uint8_t *x, const uint8_t *y) {
    for (int i = 0; i < 16; i++) x[i] ^= y[i];
}

void lw_cmac(const lw_cmac_ctx *ctx, const uint8_t *prefix, const uint8_t *msg, size_t len,
             uint8_t out[16]) {
#if LW_HAVE_X86
    if (backend == LW_BACKEND_AESNI) {
        aesni_cmac(ctx, prefix, msg, len, out);
        return;
    }
#endif
    uint8_t x[16] = {0}, last[16];
    if (prefix) {
        memcpy(x, prefix, 16);
        if (len == 0) {
            xor16(x, ctx->k1);
            portable_encrypt(ctx->aes.enc, x, out);
            return;
        }
        portable_encrypt(ctx->aes.enc, x, x);
    }
    if (len == 0) {
        memset(last, 0, 16);
        last[0] = 0x80;
        xor16(last, ctx->k2);
        xor16(x, last);
        portable_encrypt(ctx->aes.enc, x, out);
        return;
    }
    size_t full = (len - 1) / 16;
    for (size_t i = 0; i < full; i++) {
        xor16(x, msg + 16 * i);
        portable_encrypt(ctx->aes.enc, x, x);
    }
    size_t rem = len - 16 * full;
    memset(last, 0, 16);
    memcpy(last, msg + 16 * full, rem);
    if (rem == 16) {
        xor16(last, ctx->k1);
    } else {
        last[rem] = 0x80;
        xor16(last, ctx->k2);
    }
    xor16(x, last);
    portable_encrypt(ctx->aes.enc, x, out);
}
