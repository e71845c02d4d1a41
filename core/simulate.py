"""``hromada simulate CITY``: a real city's services and devices, fed by the simulator.

Before the radios are up (or to try a change to a running city) an integrator wants to
see the city work with its own device list, models and services.  This builds a copy of
the city whose sources are replaced by one ``simulator`` source for all its devices, and
whose sinks and state are kept apart from the real ones: readings and events go to a
SQLite file of their own (``--db``), and the state database lives in a directory of its
own (``--state-dir``, by default a temporary one), so a simulation never touches the
city's databases, LoRaWAN frame counters or service state.  Files that services write
(options declared ``output``, such as the metering billing export) go under
``--out-dir`` (default ``simulated-out``).  ``--keep-sinks`` writes to the city's
configured sinks instead (a test deployment's, say).  Commands that services send reach
no radio: they are recorded as ``command.unsent`` events.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from .city import Component
from .options import validate_options

SOURCE = "simulator"


class SimulateError(ValueError):
    """The simulation cannot be set up; the message says why."""


def simulated_city(city, *, db=None, state_dir, out_dir=None, keep_sinks=False, **sim):
    """A copy of ``city`` run by the simulator: ``sim`` are the simulator source's options
    (start, span, interval, speed, seed); ``db`` the SQLite file for the readings unless
    ``keep_sinks``; ``state_dir`` where the copy keeps its state; ``out_dir`` where the
    services' output files go (``Option(output=True)``: ``OUT_DIR/SERVICE/OPTION``)."""
    host = city.host
    desc = host.sources.get(SOURCE)
    if desc is None:
        raise SimulateError("the simulator source is not installed or is denied "
                            "(HROMADA_PLUGINS / [plugins] deny)")
    given = {k: v for k, v in sim.items() if v is not None}
    options, problems = validate_options(desc.options, given, "simulate")
    if problems:
        # "simulate.span" -> "--span": the options come from the command line
        raise SimulateError("; ".join(f"--{where.removeprefix('simulate.')}: {message}"
                                      for where, message in problems))
    sources = {"sim": Component("sources", "sim", SOURCE, desc, options)}
    if keep_sinks:
        sinks = city.sinks
    else:
        sqlite = host.sinks.get("sqlite")
        if sqlite is None:
            raise SimulateError("the sqlite sink is not installed or is denied; use "
                                "--keep-sinks to write to the city's own sinks")
        sink_opts, problems = validate_options(sqlite.options, {"path": str(Path(db))},
                                               "simulate.db")
        if problems:
            raise SimulateError("; ".join(f"{w}: {m}" for w, m in problems))
        sinks = {"sim": Component("sinks", "sim", "sqlite", sqlite, sink_opts)}
    services = {name: _redirect_outputs(comp, Path(out_dir) / name) if out_dir else comp
                for name, comp in city.services.items()}
    return attrs.evolve(city, sources=sources, sinks=sinks, services=services,
                        state_dir=Path(state_dir))


def _redirect_outputs(comp, where):
    """The component with each set ``output`` path option pointed under ``where``."""
    options = dict(comp.options)
    for opt in comp.descriptor.options:
        if opt.output and options.get(opt.name) is not None:
            options[opt.name] = str(where / opt.name)
    return attrs.evolve(comp, options=options)
