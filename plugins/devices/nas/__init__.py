"""NAS (Nordic Automation Systems) device models (hromada plugin ``nas``)."""

import hromada

from .codec import build_models


@hromada.hookimpl
def hromada_device_models():
    return build_models()
