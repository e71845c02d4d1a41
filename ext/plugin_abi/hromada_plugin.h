/*
 * hromada_plugin.h -- the C ABI of a hromada native decoder, version 1.
 *
 * A vendor with a decoder in C ships it as a shared library (.so / .dylib / .dll) that
 * exports the two functions below; a hromada plugin names the library and hromada
 * loads it with cffi in ABI mode (no compiler needed on the user's machine):
 *
 *     from hromada.codecs import NativeCodec
 *     codec = NativeCodec("/path/to/libacme_w1.so")
 *     codec.decode(payload, fport)   # -> [(quantity, value, unit), ...]
 *
 * Build (Linux):  cc -shared -fPIC -O2 -I<hromada>/ext/plugin_abi -o libacme.so acme.c
 *
 * Rules for the library
 * ---------------------
 * - hromada_decode() must be reentrant: no global or static mutable state.  hromada
 *   may call it from several threads at once.
 * - It must never read payload[len] or beyond, whatever len is (0 included), and
 *   never write more than max_out readings nor more than err_len bytes of err.
 * - quantity and unit are NUL-terminated UTF-8; quantity names follow hromada's
 *   conventions (lowercase words joined by '_': "volume", "temperature", "leak");
 *   units are the names of hromada.units.UNITS (SenML: "Cel", "m3", "%RH", "V" ...),
 *   "" for a dimensionless value or a flag (0.0 / 1.0).
 * - It must not print, exit, abort or longjmp; every failure is a return code.
 *
 * Compatibility: the major number of HROMADA_ABI_VERSION changes only when this file
 * changes incompatibly; hromada refuses a library whose major number differs.
 */
#ifndef HROMADA_PLUGIN_H
#define HROMADA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "MAJOR.MINOR".  Return exactly this macro from hromada_abi_version(). */
#define HROMADA_ABI_VERSION "1.0"

/* Sizes of the text fields of a reading, terminating NUL included. */
#define HROMADA_QUANTITY_LEN 32
#define HROMADA_UNIT_LEN 16

/* Return codes of hromada_decode() (a count of readings when >= 0). */
#define HROMADA_ERR_DECODE (-1)   /* the payload is invalid: message in err */
#define HROMADA_ERR_SPACE (-2)    /* more than max_out readings: call again with more room */

#if defined(_WIN32)
#define HROMADA_EXPORT __declspec(dllexport)
#else
#define HROMADA_EXPORT __attribute__((visibility("default")))
#endif

/* One decoded value. */
typedef struct hromada_reading {
    char quantity[HROMADA_QUANTITY_LEN];  /* e.g. "volume" */
    double value;                         /* in `unit`; flags are 0.0 or 1.0 */
    char unit[HROMADA_UNIT_LEN];          /* e.g. "m3" */
} hromada_reading;

/* The ABI version the library was built against: return HROMADA_ABI_VERSION. */
HROMADA_EXPORT const char *hromada_abi_version(void);

/*
 * Decode one uplink payload.
 *
 *   payload, len   the application payload (FRMPayload, already decrypted); payload
 *                  may be NULL when len is 0
 *   fport          the LoRaWAN FPort (0..255), or -1 when the network has none
 *   out, max_out   room for max_out readings (hromada gives at least 16)
 *   err, err_len   room for an error message (hromada gives at least 256 bytes)
 *
 * Returns the number of readings written to out (0 is valid), or
 *   HROMADA_ERR_DECODE  with a NUL-terminated message in err saying what was wrong and
 *                       where, e.g. "payload too short: 3 bytes, need 7 (volume at
 *                       byte 1)";
 *   HROMADA_ERR_SPACE   when the payload holds more than max_out readings.
 */
HROMADA_EXPORT int hromada_decode(const uint8_t *payload, size_t len, int fport,
                                  hromada_reading *out, size_t max_out,
                                  char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* HROMADA_PLUGIN_H */
