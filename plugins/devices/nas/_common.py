"""Helpers shared by the NAS decoders: bounds checks with the layout engine's wording."""

from __future__ import annotations

import zlib

from hromada import DecodeError


def need(payload, pos, size, what):
    """Raise DecodeError unless ``size`` bytes of ``what`` start at byte ``pos``."""
    n = len(payload)
    if pos + size > n:
        raise DecodeError(f"payload too short for {what} at byte {pos}: {n} bytes given, "
                          f"{pos + size} needed", offset=pos, field=what)


def stable_hash(text):
    """A hash of a device id that is the same in every process (``hash`` is salted)."""
    return zlib.crc32(text.encode())
