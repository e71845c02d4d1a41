"""Declarative payload layouts: describe a device's payload as data, decode it fast.

The public face of the layout engine.  ``compile(spec)`` returns a :class:`Layout` whose
``decode(payload, fport=None)`` gives ``[(quantity, value, unit), ...]``; the compiled
engine (``hromada._layout``) runs it unless ``HROMADA_NO_EXTENSIONS`` is set, in which
case its pure twin (``hromada._layout_py``) does, with identical results and errors.
The spec language is documented in :mod:`hromada._layout_py`.

Example (a Milesight-style channel record stream)::

    from hromada import layout

    EM300 = layout.compile({
        "endian": "little",
        "records": {"key": 2, "types": {
            (0x01, 0x75): {"size": 1, "fields": [
                {"type": "u8", "quantity": "battery", "unit": "%"}]},
            (0x03, 0x67): {"size": 2, "fields": [
                {"type": "s16", "scale": 0.1, "quantity": "temperature", "unit": "Cel"}]},
        }},
    })
    EM300.decode(bytes.fromhex("01755c03673401"))
    # [('battery', 92, '%'), ('temperature', 30.8, 'Cel')]
"""

from . import compiled as _compiled

_impl = _compiled.load("layout")

#: The implementation in use: the compiled module or the pure twin.
implementation = _impl
Layout = _impl.Layout
TYPES = _impl.TYPES


def compile(spec, impl=None):  # noqa: A001 - layout.compile(spec) reads as intended
    """Check ``spec`` once and return a :class:`Layout` running it (compiled if built).

    ``impl`` picks an implementation module explicitly (tests run both twins).
    """
    return (impl or _impl).compile(spec)


def decoder(lay, post=None):
    """A DeviceModel ``decode(payload, fport, options)`` running ``lay``.

    ``post(readings, options)`` may add or rewrite readings in plain Python: derived
    values that depend on the device's options (a bin's fill level from its depth).
    """
    run = lay.decode
    if post is None:
        def decode(payload, fport=None, options=None):
            return run(payload, fport)
    else:
        def decode(payload, fport=None, options=None):
            return post(run(payload, fport), options or {})
    decode.layout = lay
    return decode


def encoder(lay, fport):
    """A DeviceModel ``encode(values, options) -> (fport, bytes)`` running ``lay``."""
    def encode(values, options=None):
        return fport, lay.encode(values, fport)
    encode.layout = lay
    return encode


__all__ = ["TYPES", "Layout", "compile", "decoder", "encoder", "implementation"]
