"""hromada: an open integration kernel for city IoT."""

import pluggy

__version__ = "0.1.0"

#: Marker for plugin hook implementations: ``@hromada.hookimpl``.
hookimpl = pluggy.HookimplMarker("hromada")

from .descriptors import (  # noqa: E402
    REQUIRED,
    CliCommand,
    DeviceModel,
    Example,
    Option,
    ServiceType,
    SinkType,
    SourceType,
)
from .errors import ConfigError, DecodeError, EncodeError, HromadaError  # noqa: E402
from .model import Command, Device, Event, Frame, Reading  # noqa: E402

__all__ = [
    "REQUIRED", "CliCommand", "Command", "ConfigError", "DecodeError", "Device",
    "DeviceModel", "EncodeError", "Event", "Example", "Frame", "HromadaError", "Option",
    "Reading", "ServiceType", "SinkType", "SourceType", "__version__", "hookimpl",
]
