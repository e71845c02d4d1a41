"""Codecs written outside Python: JavaScript codec files (The Things Stack / ChirpStack
contract) and vendor C decoders behind hromada's C ABI.

``JSCodec`` / ``js_device_model`` need a JavaScript engine (``pip install
'hromada[js]'``); ``NativeCodec`` needs cffi.  Both are imported on first use, so
importing this package costs nothing.
"""

from __future__ import annotations

__all__ = ["JSCodec", "JSDecoder", "NativeCodec", "js_device_model", "native_device_model"]

_WHERE = {
    "JSCodec": ".js", "JSDecoder": ".js", "js_device_model": ".js",
    "NativeCodec": ".native", "native_device_model": ".native",
}


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
