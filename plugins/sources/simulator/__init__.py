"""The ``simulator`` source: frames for the city's own devices, from each model's encoder.

Every byte goes through the real decode path: the simulator asks each device's model
for plausible values (``DeviceModel.simulate``), encodes them with the model's encoder
and pushes the payload like a network would.  A model without ``simulate``/``encode``
replays its documented examples.  Simulated time starts at ``start`` (in the city's
time zone), runs for ``span`` with one uplink per device every ``interval`` (devices
staggered), and goes at ``speed`` times real time, or as fast as possible (speed 0).
The run ends by itself when the span is over.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random

import hromada
from hromada import Event, Option, SourceType
from hromada.plugins import format_error

log = logging.getLogger("hromada")


def _start_time(text, tz):
    if text in ("today", "yesterday"):
        day = dt.datetime.now(tz).date()
        if text == "yesterday":
            day -= dt.timedelta(days=1)
        start = dt.datetime.combine(day, dt.time(), tz)
    else:
        start = dt.datetime.fromisoformat(text)
        if start.tzinfo is None:
            start = start.replace(tzinfo=tz)
    return start.timestamp()


class Simulator:
    def __init__(self, name, options, city):
        self.name = name
        self.city = city
        self.options = options
        try:
            self.t0 = _start_time(options["start"], city.tz)
        except ValueError as exc:
            raise ValueError(f"sources.{name}.start: {exc}") from None

    def _generators(self, rng):
        """device -> a function t -> (fport, payload)."""
        models = self.city.host.device_models
        gens = []
        self.skipped = {}   # model id -> devices that cannot be simulated
        for dev in sorted(self.city.devices.values(), key=lambda d: d.id):
            model = models[dev.model]
            if model.encode is not None and model.simulate is not None:
                def gen(t, dev=dev, model=model):
                    return model.encode(model.simulate(dev, t, rng), dev.options)
            elif model.examples:
                def gen(t, dev=dev, ex=model.examples, state=[0]):  # noqa: B006
                    e = ex[state[0] % len(ex)]
                    state[0] += 1
                    return e.fport, e.payload
            else:
                self.skipped[model.id] = self.skipped.get(model.id, 0) + 1
                continue
            gens.append((rng.uniform(0, self.options["interval"]), dev.id, model.id, gen))
        gens.sort()
        return gens

    async def run(self, ctx):
        opts = self.options
        rng = random.Random(opts["seed"])
        gens = self._generators(rng)
        if self.skipped:
            what = ", ".join(f"{m} ({n} device{'s' if n != 1 else ''})"
                             for m, n in sorted(self.skipped.items()))
            message = (f"simulator {self.name}: no uplinks for the devices of {what}: the "
                       "model has neither an encoder with simulate nor examples")
            log.warning("%s", message)
            ctx.emit(Event("simulator.skipped", "warning", None, self.t0,
                           {"message": message, "models": dict(sorted(self.skipped.items()))},
                           self.name))
        span, interval, speed = opts["span"], opts["interval"], opts["speed"]
        batch_size = opts["batch"]
        end = self.t0 + span
        loop = asyncio.get_running_loop()
        wall0 = loop.time()
        failed_models = set()
        fcnt = dict.fromkeys((g[1] for g in gens), 0)
        batch = []
        pack = ctx.pack
        period = 0
        while gens:
            base = self.t0 + period * interval
            if base >= end:
                break
            for offset, dev_id, model_id, gen in gens:
                t = base + offset
                if t >= end:
                    break
                if model_id in failed_models:
                    continue
                try:
                    fport, payload = gen(t)
                except Exception as exc:  # noqa: BLE001 - a model's encoder is plugin code
                    failed_models.add(model_id)
                    ctx.count_error("plugin", f"simulator: device model {model_id} could not "
                                              f"encode: {format_error(exc)}", device=dev_id)
                    continue
                fcnt[dev_id] += 1
                batch.append(pack(payload, network="sim", device=dev_id, fport=fport,
                                  fcnt=fcnt[dev_id], time=t))
                if len(batch) >= batch_size:
                    await ctx.put(batch)
                    batch = []
                    if ctx.stopping.is_set():
                        return
                    if speed > 0:
                        delay = wall0 + (t - self.t0) / speed - loop.time()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    else:
                        await asyncio.sleep(0)
            period += 1
        if batch:
            await ctx.put(batch)


@hromada.hookimpl
def hromada_sources():
    return [
        SourceType(
            name="simulator",
            factory=Simulator,
            help="Simulated uplinks for the city's devices, encoded by each device's model.",
            options=(
                Option("start", "str", default="2026-01-01T00:00:00",
                       help="simulated start: ISO date-time (city time zone unless given), "
                            "'today' or 'yesterday'"),
                Option("span", "duration", default="1d", help="simulated time to cover"),
                Option("interval", "duration", default="15min", min=1,
                       help="time between two uplinks of one device"),
                Option("speed", "float", default=0.0, min=0,
                       help="simulated seconds per real second; 0 = as fast as possible"),
                Option("seed", "int", default=1, help="random seed (runs are repeatable)"),
                Option("batch", "int", default=2048, min=1,
                       help="frames pushed to the ring at once"),
            ),
        )
    ]
