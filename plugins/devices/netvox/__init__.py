"""Netvox device models (hromada plugin ``netvox``)."""

import hromada

from .codec import build_models


@hromada.hookimpl
def hromada_device_models():
    return build_models()
