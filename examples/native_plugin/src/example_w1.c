/*
 * example_w1.c -- the decoder of the "Example W1" water meter, written against
 * hromada's C ABI (ext/plugin_abi/hromada_plugin.h).  It is the reference for vendors
 * who ship a C decoder: bounds-checked reads, one message per failure, no state.
 *
 * Uplink on FPort 1 (little-endian):
 *   byte 0     frame type, 0x01 = periodic reading
 *   bytes 1-4  uint32 volume index in litres          -> "volume" m3
 *   byte 5     status: bit 0 leak, bit 1 backflow,     -> "leak", "backflow",
 *              bit 2 tamper, bits 3-7 reserved (0)        "tamper" (0/1)
 *   bytes 6-7  optional int16 water temperature, 0.01 Cel -> "water_temperature" Cel
 */
#include <stdarg.h>
#include <stdio.h>

#include "hromada_plugin.h"

#define FRAME_READING 0x01
#define DATA_PORT 1

static void set_reading(hromada_reading *r, const char *quantity, double value,
                        const char *unit)
{
    /* Fixed fields: copy at most the room minus the NUL, always terminate. */
    snprintf(r->quantity, sizeof r->quantity, "%s", quantity);
    r->value = value;
    snprintf(r->unit, sizeof r->unit, "%s", unit);
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err != NULL && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return HROMADA_ERR_DECODE;
}

HROMADA_EXPORT const char *hromada_abi_version(void)
{
    return HROMADA_ABI_VERSION;
}

HROMADA_EXPORT int hromada_decode(const uint8_t *p, size_t len, int fport,
                                  hromada_reading *out, size_t max_out,
                                  char *err, size_t err_len)
{
    if (fport != DATA_PORT)
        return fail(err, err_len, "FPort %d carries no readings (data is on FPort %d)",
                    fport, DATA_PORT);
    if (len < 1)
        return fail(err, err_len, "empty payload (frame type expected at byte 0)");
    if (p[0] != FRAME_READING)
        return fail(err, err_len, "unknown frame type 0x%02x at byte 0", p[0]);
    if (len < 6)
        return fail(err, err_len, "payload too short: %zu bytes, need 6", len);
    if (len != 6 && len != 8)
        return fail(err, err_len, "payload length %zu bytes, expected 6 or 8", len);
    if (p[5] & 0xf8)
        return fail(err, err_len, "reserved status bits 0x%02x set at byte 5", p[5] & 0xf8);

    size_t n = len == 8 ? 5 : 4;
    if (max_out < n)
        return HROMADA_ERR_SPACE;

    uint32_t litres = (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16
                      | (uint32_t)p[4] << 24;
    set_reading(&out[0], "volume", litres / 1000.0, "m3");
    set_reading(&out[1], "leak", (p[5] & 0x01) ? 1.0 : 0.0, "");
    set_reading(&out[2], "backflow", (p[5] & 0x02) ? 1.0 : 0.0, "");
    set_reading(&out[3], "tamper", (p[5] & 0x04) ? 1.0 : 0.0, "");
    if (len == 8) {
        int16_t centi = (int16_t)(uint16_t)((uint16_t)p[6] | (uint16_t)p[7] << 8);
        set_reading(&out[4], "water_temperature", centi / 100.0, "Cel");
    }
    return (int)n;
}
