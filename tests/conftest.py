"""Shared fixtures.

``implementations(name)`` parametrises one test body over the compiled module and its
pure twin (the pure one only when ``HROMADA_NO_EXTENSIONS`` is set).  Unless that
variable is set, the compiled module must be importable: a build that silently fell
back to pure fails here instead of passing slowly.
"""

import os
import socket

import pytest

from hromada import compiled


def implementations(name):
    """pytest params: [compiled, pure] modules for ``hromada._NAME`` / ``hromada._NAME_py``."""
    comp, pure = compiled.both(name)
    params = [pytest.param(pure, id="pure")]
    if not compiled.NO_EXTENSIONS:
        params.insert(0, pytest.param(comp, id="compiled", marks=() if comp else
                                      pytest.mark.xfail(reason=f"hromada._{name} not compiled",
                                                        strict=True, run=False)))
    return params


def require_compiled(name):
    """Assert the compiled ``name`` loads, unless HROMADA_NO_EXTENSIONS is set."""
    if compiled.NO_EXTENSIONS:
        pytest.skip("HROMADA_NO_EXTENSIONS is set")
    comp, _ = compiled.both(name)
    assert comp is not None, f"hromada._{name} is not compiled"
    assert compiled.load(name) is comp


SERVICES = {
    "mosquitto": ("127.0.0.1", 1883),
    "postgres": ("127.0.0.1", 5432),
    "nats": ("127.0.0.1", 4222),
    "redis": ("127.0.0.1", 6379),
    "rabbitmq": ("127.0.0.1", 5672),
}


def service_available(name):
    host, port = SERVICES[name]
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_service(name):
    """Skip (or, under CI=true, fail) when a real service is not reachable."""
    if service_available(name):
        return
    host, port = SERVICES[name]
    msg = f"{name} is not reachable at {host}:{port}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg + " (CI=true: a missing service is a failure)")
    pytest.skip(msg)
