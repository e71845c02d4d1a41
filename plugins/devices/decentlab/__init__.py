"""Decentlab device models (hromada plugin ``decentlab``)."""

import hromada

from .codec import build_models


@hromada.hookimpl
def hromada_device_models():
    return build_models()
