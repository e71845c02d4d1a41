"""Exceptions shared by the compiled modules and their pure twins.

They stay pure Python so that both implementations raise the very same types.
"""


class HromadaError(Exception):
    """Base class of every error hromada raises on purpose."""


class DecodeError(HromadaError, ValueError):
    """A payload or frame could not be decoded.

    ``offset`` is the byte offset where decoding failed (None when it does not apply),
    ``field`` the name of the field being read.  The message always says what was wrong.
    """

    def __init__(self, message, *, offset=None, field=None):
        super().__init__(message)
        self.offset = offset
        self.field = field


class EncodeError(HromadaError, ValueError):
    """Values could not be encoded into a payload (unknown quantity, out of range)."""


class ConfigError(HromadaError):
    """A city definition is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class RingFullError(HromadaError, BufferError):
    """A record can never fit in the ring (larger than its capacity)."""


class PluginError(HromadaError):
    """A plugin failed to load or misbehaved."""
