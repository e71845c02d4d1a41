"""Every installed device model passes hromada.testing: examples, round trips, random bytes."""

import pytest

from hromada.plugins import PluginHost
from hromada.testing import check_model

HOST = PluginHost()
MODELS = sorted(HOST.device_models)


def test_models_load_without_errors():
    assert HOST.errors == []
    assert len(MODELS) >= 19


@pytest.mark.parametrize("model_id", MODELS)
def test_model_passes_hromada_testing(model_id):
    check_model(HOST.device_models[model_id], fuzz_examples=40)
