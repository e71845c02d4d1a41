"""The hooks a hromada plugin can implement.

Every hook is named ``hromada_*``.  Registration hooks are called once, when the
kernel starts (or a CLI command lists what is installed); each returns a list of
descriptors (see :mod:`hromada.descriptors`).  Data never flows through a hook call:
the kernel wires components once and then calls them with batches.

A plugin is a module (or object) with functions marked ``@hromada.hookimpl``,
registered through the ``hromada`` entry-point group::

    [project.entry-points.hromada]
    acme = "acme_hromada.plugin"
"""

import pluggy

hookspec = pluggy.HookspecMarker("hromada")


# -- registration ------------------------------------------------------------------


@hookspec
def hromada_device_models():
    """Device models this plugin provides.

    Returns a list of :class:`hromada.DeviceModel`; each model id (``vendor/device``)
    must be unique among installed plugins.  Called once per host.

    Added in 0.1.
    """


@hookspec
def hromada_sources():
    """Source types this plugin provides (gateways, network servers, simulators).

    Returns a list of :class:`hromada.SourceType`; a city refers to one with
    ``[sources.NAME] plugin = "<SourceType.name>"``.

    Added in 0.1.
    """


@hookspec
def hromada_services():
    """City service types this plugin provides.

    Returns a list of :class:`hromada.ServiceType`; a city refers to one with
    ``[services.NAME] plugin = "<ServiceType.name>"``.

    Added in 0.1.
    """


@hookspec
def hromada_sinks():
    """Sink types this plugin provides (databases, brokers, files).

    Returns a list of :class:`hromada.SinkType`; a city refers to one with
    ``[sinks.NAME] plugin = "<SinkType.name>"``.

    Added in 0.1.
    """


@hookspec
def hromada_commands():
    """Subcommands this plugin adds to the ``hromada`` command line.

    Returns a list of :class:`hromada.CliCommand`.

    Added in 0.1.
    """


# -- lifecycle -----------------------------------------------------------------------


@hookspec
def hromada_startup(city):
    """Called once when a city starts running, after it was validated.

    ``city`` is the loaded :class:`hromada.city.City`.  Return value is ignored.  An
    exception is reported as a ``plugin.error`` event and the city runs on.

    Added in 0.1.
    """


@hookspec
def hromada_shutdown(city, summary):
    """Called once when a city stops, after every accepted frame was processed.

    ``summary`` is the run summary (a dict, the same as ``--summary-json``).  Return
    value is ignored; exceptions are reported and do not stop the shutdown.

    Added in 0.1.
    """
