"""Vendor decoders written in C, loaded through hromada's C ABI with cffi (ABI mode).

The ABI is documented in ``ext/plugin_abi/hromada_plugin.h``: a shared library exports
``hromada_abi_version()`` and ``hromada_decode(payload, len, fport, out, max_out, err,
err_len)``, which fills an array of ``hromada_reading {char quantity[32]; double value;
char unit[16];}``.  ABI mode (``ffi.dlopen``) needs no compiler on the user's machine:
the vendor ships the compiled library inside its plugin package and names its path.

:class:`NativeCodec` wraps one library; :func:`native_device_model` builds a
:class:`~hromada.DeviceModel` around it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ..errors import DecodeError, PluginError

#: The ABI major version this hromada speaks.
ABI_MAJOR = 1

# Must match ext/plugin_abi/hromada_plugin.h (tests compile the header's users against
# this loader, so a drift shows up there).
CDEF = """
typedef struct hromada_reading {
    char quantity[32];
    double value;
    char unit[16];
} hromada_reading;
const char *hromada_abi_version(void);
int hromada_decode(const uint8_t *payload, size_t len, int fport,
                   hromada_reading *out, size_t max_out, char *err, size_t err_len);
"""

ERR_DECODE = -1
ERR_SPACE = -2

_ffi = None
_ffi_lock = threading.Lock()


def _get_ffi():
    global _ffi
    with _ffi_lock:
        if _ffi is None:
            import cffi

            ffi = cffi.FFI()
            ffi.cdef(CDEF)
            _ffi = ffi
    return _ffi


class NativeCodec:
    """A C decoder in a shared library that follows hromada's C ABI.

    ``NativeCodec(path)`` loads the library and checks its ABI version (PluginError when
    it cannot be loaded, lacks a symbol or speaks another major version).
    ``decode(payload, fport, options=None)`` returns ``[(quantity, value, unit)]`` or
    raises DecodeError with the library's own message.  ``max_readings`` is the room
    given on the first try; a library that answers "no room" gets more, up to
    ``max_readings_limit``.
    """

    def __init__(self, path, *, max_readings: int = 32, max_readings_limit: int = 4096):
        self.path = Path(os.fspath(path))
        ffi = _get_ffi()
        try:
            self._lib = ffi.dlopen(str(self.path))
        except OSError as exc:
            raise PluginError(f"native codec {self.path}: cannot load it: {exc}") from None
        try:
            version_fn = self._lib.hromada_abi_version
            self._decode = self._lib.hromada_decode
        except AttributeError as exc:
            raise PluginError(f"native codec {self.path}: it does not export the hromada ABI "
                              f"({exc})") from None
        raw = version_fn()
        version = ffi.string(raw).decode("ascii", "replace") if raw != ffi.NULL else ""
        self.abi_version = version
        major = version.split(".", 1)[0]
        if major != str(ABI_MAJOR):
            raise PluginError(f"native codec {self.path}: ABI version {version!r}, but this "
                              f"hromada speaks version {ABI_MAJOR}.x")
        self.max_readings = max(16, int(max_readings))
        self.max_readings_limit = max(self.max_readings, int(max_readings_limit))
        self._local = threading.local()

    def __repr__(self):
        return f"<NativeCodec {self.path.name} ABI {self.abi_version}>"

    def _buffers(self, n):
        # Per thread, so that concurrent decodes never share output memory.
        local = self._local
        if getattr(local, "n", 0) < n:
            ffi = _get_ffi()
            local.out = ffi.new("hromada_reading[]", n)
            local.err = ffi.new("char[]", 256)
            local.n = n
        return local.out, local.err, local.n

    def decode(self, payload: bytes, fport: int | None, options=None) -> list:
        """Decode one payload: ``[(quantity, value, unit), ...]``.

        ``options`` are accepted for the DeviceModel signature; ABI 1 does not pass them
        to the library.
        """
        ffi = _get_ffi()
        payload = bytes(payload)
        port = -1 if fport is None else int(fport)
        n = self.max_readings
        while True:
            out, err, room = self._buffers(n)
            err[0] = b"\0"
            rc = self._decode(payload, len(payload), port, out, room, err, 256)
            if rc >= 0:
                break
            if rc == ERR_SPACE and room < self.max_readings_limit:
                n = min(room * 4, self.max_readings_limit)
                continue
            if rc == ERR_SPACE:
                raise DecodeError(f"native codec {self.path.name}: payload holds more than "
                                  f"{room} readings")
            message = ffi.string(err, 255).decode("utf-8", "replace") or "no message"
            if rc == ERR_DECODE:
                raise DecodeError(f"native codec {self.path.name}: {message}")
            raise DecodeError(f"native codec {self.path.name}: hromada_decode returned "
                              f"{rc}: {message}")
        if rc > room:
            raise DecodeError(f"native codec {self.path.name}: hromada_decode claimed {rc} "
                              f"readings with room for {room}")
        readings = []
        for i in range(rc):
            r = out[i]
            readings.append((ffi.string(r.quantity, 32).decode("utf-8", "replace"),
                             r.value,
                             ffi.string(r.unit, 16).decode("utf-8", "replace")))
        return readings

    __call__ = decode


def native_device_model(id, family, library, *, quantities=None, examples=(), options=(),
                        description="", vendor_url="", network="lorawan", encode=None,
                        encode_downlink=None, simulate=None):
    """A :class:`~hromada.DeviceModel` whose ``decode`` is a :class:`NativeCodec`.

    ``library`` is the path of the shared library (or a loaded NativeCodec).
    """
    from ..descriptors import DeviceModel, Example

    codec = library if isinstance(library, NativeCodec) else NativeCodec(library)
    examples = tuple(e if isinstance(e, Example) else Example(**e) for e in examples)
    return DeviceModel(id=id, family=family, decode=codec, quantities=dict(quantities or {}),
                       encode=encode, encode_downlink=encode_downlink, simulate=simulate,
                       options=tuple(options), examples=examples, description=description,
                       vendor_url=vendor_url, network=network)
