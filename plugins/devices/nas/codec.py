"""NAS device models: the UL2030 luminaire controller and the CM3061 gas meter reader."""

from __future__ import annotations

from . import luminaire, meter


def build_models(impl=None):
    """The NAS models, their layouts compiled with ``impl`` (default: the best)."""
    return [*luminaire.build_models(impl), *meter.build_models(impl)]
