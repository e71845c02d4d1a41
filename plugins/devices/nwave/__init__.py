"""Nwave device models (hromada plugin ``nwave``)."""

import hromada

from .codec import build_models


@hromada.hookimpl
def hromada_device_models():
    return build_models()
