"""Running a city: sources -> ring -> decode -> services -> sinks, in batches, on asyncio.

The kernel wires every component once, then moves data in batches: sources push packed
frames (msgpack, the layout of ``Frame.to_list``) into the ring; one decode task pops
batches, decodes them through each device's model, hands the readings to the services
and writes readings and events to the sinks in a worker thread while the next batch is
decoded.  Failures of plugin code are isolated: counted, reported as events, and the
kernel goes on.  On stop (the sources ending, SIGINT or SIGTERM) every frame already
accepted into the ring is decoded and written before the sinks close.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import signal
import sys
import time
from collections import Counter

import msgpack

from . import __version__
from .errors import DecodeError
from .model import Command, Event, Reading
from .plugins import format_error
from .ring import AsyncRing, Ring
from .state import FILENAME as STATE_FILE
from .state import StateDB, StateError

log = logging.getLogger("hromada")
SNAPSHOT = "snapshot"  # the state key of a service's snapshot()


class SourceContext:
    """What a source gets: how to push frames, and how to know it should stop."""

    def __init__(self, kernel, name):
        self.kernel = kernel
        self.name = name
        self.city = kernel.city
        self.devices = kernel.city.devices
        self.stopping = kernel.stopping
        self.frames = 0
        self._packer = msgpack.Packer(use_bin_type=True, autoreset=True)

    @property
    def state(self):
        """This source's keys in the city's state database (:mod:`hromada.state`)."""
        return self.kernel.state.scope(f"source:{self.name}")

    def pack(self, payload, *, network, device=None, fport=None, fcnt=None, time=None,
             rx=None):
        """One frame as a ring record (no Frame object is built on the hot path)."""
        return self._packer.pack([network, device, fport, fcnt,
                                  time if time is not None else _now(), payload,
                                  rx or {}, self.name])

    def submit(self, payload, **kw):
        """Push one frame now; False (and counted) when the ring refuses it, or when the
        city is stopping and the ring takes no more (a UDP source still receiving)."""
        if self.kernel.aring.closed:
            self.kernel.count_error("after_stop")
            return False
        ok = self.kernel.aring.push(self.pack(payload, **kw))
        if ok:
            self.frames += 1
            self.kernel.frames += 1
        else:
            self.kernel.count_error("ring_full")
        return ok

    async def put(self, records):
        """Push packed records, waiting for space: nothing accepted here is lost."""
        aring = self.kernel.aring
        i, n = 0, len(records)
        while i < n:
            taken = aring.push_many(records[i:] if i else records)
            i += taken
            self.frames += taken
            self.kernel.frames += taken
            if i < n:
                await aring.wait_space()

    def emit(self, event: Event):
        self.kernel.emit(event)

    def count_error(self, kind, message=None, device=None):
        self.kernel.count_error(kind, message, device=device, source=self.name)


class ServiceContext:
    """What a service gets while processing: emit events, send commands."""

    def __init__(self, kernel, name):
        self.kernel = kernel
        self.name = name
        self.city = kernel.city

    @property
    def state(self):
        """This service's keys in the city's state database (:mod:`hromada.state`)."""
        return self.kernel.state.scope(f"service:{self.name}")

    def emit(self, event: Event):
        if event.source is None:
            event = Event(event.kind, event.severity, event.device, event.time, event.data,
                          self.name)
        self.kernel.emit(event)

    def command(self, command: Command):
        self.kernel.commands.append(command)


def _now():
    return time.time()


def takes_recv_time(decode):
    """Whether a model's ``decode`` declares a keyword parameter ``recv_time``.

    The kernel then calls it as ``decode(payload, fport, options, recv_time=t)`` with the
    frame's receive time (POSIX seconds); JavaScript codecs give it to the script as
    ``input.recvTime``.  Decided once per model when the kernel starts, so decoders that
    do not declare it (every native one) are called exactly as before.
    """
    try:
        param = inspect.signature(decode).parameters.get("recv_time")
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    return param is not None and param.kind in (param.KEYWORD_ONLY,
                                                param.POSITIONAL_OR_KEYWORD)


class Kernel:
    """Runs one validated :class:`hromada.city.City`."""

    def __init__(self, city, *, progress=None):
        self.city = city
        self.host = city.host
        self.frames = 0
        self.readings = 0
        self.events_total = 0
        self.errors = Counter()
        self.events: list[Event] = []
        self.commands: list[Command] = []
        self.commands_sent = 0
        self.progress = progress
        self.stopping = asyncio.Event()
        self._signalled = False
        k = city.kernel
        self.ring = Ring(k["ring_bytes"], k["overflow"])
        self.aring = AsyncRing(self.ring, wake_records=max(1, k["batch"] // 2),
                               max_latency=k["max_latency"])
        self.batch = k["batch"]
        self._unknown_reported = set()
        self._last_source = {}
        models = self.host.device_models
        with_time = {m: takes_recv_time(models[m].decode)
                     for m in {dev.model for dev in city.devices.values()}}
        self._decoders = {
            dev.id: (models[dev.model].decode, dev.options, dev.model, with_time[dev.model])
            for dev in city.devices.values()
        }
        self.sources = {}
        self.services = {}
        self.sinks = {}
        self.sink_rows = Counter()

    # -- errors and events ---------------------------------------------------------

    def emit(self, event: Event):
        self.events.append(event)

    def count_error(self, kind, message=None, *, device=None, source=None, data=None):
        self.errors[kind] += 1
        if message is not None:
            payload = {"message": message, **(data or {})}
            self.emit(Event(f"{kind}.error" if "." not in kind else kind, "warning", device,
                            _now(), payload, source))

    def _plugin_failed(self, where, exc, device=None):
        msg = f"{where}: {format_error(exc)}"
        log.warning("%s", msg)
        self.count_error("plugin", msg, device=device, source=where)

    # -- the decode stage ----------------------------------------------------------

    def decode_batch(self, records):
        """Packed frames -> readings (errors counted and reported as events)."""
        readings = []
        unpackb = msgpack.unpackb
        decoders = self._decoders
        last_source = self._last_source
        for rec in records:
            try:
                network, dev_id, fport, fcnt, t, payload, rx, source = unpackb(rec)
            except Exception as exc:  # noqa: BLE001 - a source pushed garbage
                self.count_error("frame", f"unreadable ring record: {exc}")
                continue
            entry = decoders.get(dev_id)
            if entry is None:
                if dev_id not in self._unknown_reported:
                    self._unknown_reported.add(dev_id)
                    self.emit(Event("device.unknown", "warning", dev_id, t,
                                    {"message": f"frame from device {dev_id!r}, which is not "
                                                "in the city's device list",
                                     "network": network}, source))
                self.errors["unknown_device"] += 1
                continue
            decode, options, model, with_time = entry
            last_source[dev_id] = source
            try:
                # Materialised and shaped inside the guard: a codec may return a lazy
                # iterable that raises, or items of the wrong shape.
                items = (decode(payload, fport, options, recv_time=t) if with_time
                         else decode(payload, fport, options))
                values = [Reading(dev_id, t, item[0], item[1], item[2]) if len(item) == 3
                          else Reading(dev_id, item[3], item[0], item[1], item[2])
                          for item in items]
            except DecodeError as exc:
                where = f" at byte {exc.offset}" if exc.offset is not None else ""
                self.count_error("decode", f"{model}: {exc}{where}", device=dev_id,
                                 source=source,
                                 data={"model": model, "payload": bytes(payload).hex(),
                                       "fport": fport})
                continue
            except Exception as exc:  # noqa: BLE001 - a codec that raises is isolated
                self._plugin_failed(f"device model {model}", exc, device=dev_id)
                continue
            readings.extend(values)
        return readings

    # -- running -------------------------------------------------------------------

    async def run(self):
        """Run until the sources end or :meth:`stop` is called; return the summary."""
        t0 = time.perf_counter()
        self._install_signals()
        await self._start()
        progress_task = asyncio.create_task(self._progress()) if self.progress else None
        source_tasks = [asyncio.create_task(self._run_source(name, src, ctx), name=name)
                        for name, (src, ctx) in self.sources.items()]
        decode_task = asyncio.create_task(self._decode_loop())
        sources_done = asyncio.gather(*source_tasks)
        stop_wait = asyncio.create_task(self.stopping.wait())
        await asyncio.wait([sources_done, stop_wait], return_when=asyncio.FIRST_COMPLETED)
        self.stopping.set()
        # Sources see `stopping` and return; give them a moment, then cancel.
        done, pending = await asyncio.wait(source_tasks, timeout=5) if source_tasks else ((), ())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        stop_wait.cancel()
        self.aring.close()
        await decode_task
        await self._stop()
        if progress_task:
            progress_task.cancel()
            await asyncio.gather(progress_task, return_exceptions=True)
        self._remove_signals()
        summary = self.summary(time.perf_counter() - t0)
        self._call_hook("hromada_shutdown", city=self.city, summary=summary)
        return summary

    def stop(self):
        """Ask the kernel to stop: sources end, accepted frames are still processed."""
        self.stopping.set()

    def _on_signal(self, sig):
        if not self._signalled:
            self._signalled = True
            self.stop()
            return
        # A second signal while stopping: something hangs (a stuck sink, say) and the
        # operator wants out now; accepted frames still in the ring are lost.
        sys.stderr.write(f"\nhromada: second {signal.Signals(sig).name}: stopping now, "
                         f"{len(self.ring)} frames left in the ring\n")
        sys.stderr.flush()
        os._exit(128 + sig)

    def _install_signals(self):
        loop = asyncio.get_running_loop()
        self._signals = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
                self._signals.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    def _remove_signals(self):
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)

    async def _start(self):
        city = self.city
        for name, comp in city.sinks.items():
            sink = None
            try:
                sink = comp.descriptor.factory(name, comp.options, city)
                await asyncio.to_thread(sink.open)
                if hasattr(sink, "add_devices"):
                    await asyncio.to_thread(sink.add_devices, list(city.devices.values()))
            except Exception as exc:  # noqa: BLE001
                self._plugin_failed(f"sink {name}", exc)
                if sink is not None:
                    # Opened, or half-opened: release its connection or file lock.
                    try:
                        await asyncio.to_thread(sink.close)
                    except Exception:  # noqa: BLE001 - its failure is reported above
                        pass
                continue
            self.sinks[name] = sink
            self.sink_rows[name] = 0  # in the summary even when it writes nothing
        # Before services and sources, which keep their state in it: a city whose state
        # cannot be kept (replay counters, service state) must not run.  StateError
        # names the file.
        try:
            self.state = StateDB(city.state_dir / STATE_FILE)
        except StateError:
            for sink in self.sinks.values():
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(sink.close)
            raise
        for name, comp in city.services.items():
            try:
                svc = comp.descriptor.factory(name, comp.options, city)
                ctx = ServiceContext(self, name)
                if hasattr(svc, "restore"):
                    self._import_legacy_state(name, ctx.state)
                    state = self._read_state(name, ctx.state)
                    if state is not None:
                        svc.restore(state)
                if hasattr(svc, "start"):
                    svc.start(ctx)
            except Exception as exc:  # noqa: BLE001
                self._plugin_failed(f"service {name}", exc)
                continue
            self.services[name] = (svc, ctx)
        for name, comp in city.sources.items():
            try:
                src = comp.descriptor.factory(name, comp.options, city)
            except Exception as exc:  # noqa: BLE001
                self._plugin_failed(f"source {name}", exc)
                continue
            self.sources[name] = (src, SourceContext(self, name))
        self._call_hook("hromada_startup", city=city)

    def _import_legacy_state(self, name, scope):
        """Earlier versions kept a service's snapshot in ``state_dir/NAME.msgpack``: move
        it into the state database once (the file is renamed ``.imported``)."""
        path = self.city.state_dir / f"{name}.msgpack"
        if path.exists() and scope.get(SNAPSHOT) is None:
            scope.put(SNAPSHOT, path.read_bytes())
            path.rename(path.with_name(path.name + ".imported"))
            log.info("service %s: imported %s into the city's state database", name, path)

    def _read_state(self, name, scope):
        """A service's saved state, or None: never saved, or damaged (reported)."""
        data = scope.get(SNAPSHOT)
        if data is None:
            return None
        try:
            return msgpack.unpackb(data, raw=False, strict_map_key=False)
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            # Damaged: the service starts fresh (its snapshot at the end writes a good
            # one), and the bad one is kept aside for the operator.
            scope.rename(SNAPSHOT, SNAPSHOT + ".corrupt")
            self.count_error("state", f"service {name}: cannot read its saved state "
                                      f"({scope.owner} in {scope.db.path}): "
                                      f"{type(exc).__name__}: {exc}; kept as "
                                      f"{SNAPSHOT}.corrupt, starting without it",
                             source=f"service {name}")
            return None

    def _call_hook(self, hook_name, **kwargs):
        """A lifecycle hook: each plugin's failure is counted and reported, not fatal."""
        before = len(self.host.errors)
        self.host.call_each(hook_name, **kwargs)
        for plugin, message in self.host.errors[before:]:
            self.count_error("plugin", f"plugin {plugin}: {message}", source=plugin)
            if "summary" in kwargs:  # after the run: the summary still tells
                kwargs["summary"]["errors"] += 1
                kwargs["summary"]["errors_by_kind"]["plugin"] = self.errors["plugin"]

    async def _run_source(self, name, src, ctx):
        try:
            await src.run(ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failing source must not stop the city
            self._plugin_failed(f"source {name}", exc)

    async def _decode_loop(self):
        aring = self.aring
        pending_write = None
        while True:
            await aring.wait_data()
            records = aring.pop_many(self.batch)
            if not records:
                if aring.closed and len(self.ring) == 0:
                    break
                continue
            readings = self.decode_batch(records)
            self.readings += len(readings)
            self._run_services(readings)
            events, self.events = self.events, []
            self.events_total += len(events)
            if pending_write is not None:
                await pending_write
            pending_write = asyncio.ensure_future(self._write(readings, events))
            if self.commands:
                await self._send_commands()
        if pending_write is not None:
            await pending_write

    def _run_services(self, readings):
        for name, (svc, ctx) in self.services.items():
            try:
                svc.process(readings, ctx)
            except Exception as exc:  # noqa: BLE001 - a failing service is isolated
                self._plugin_failed(f"service {name}", exc)

    async def _write(self, readings, events, skip=()):
        """Write to every sink not in ``skip``; return the names of those that failed."""
        failed = set()
        if not readings and not events:
            return failed
        for name, sink in self.sinks.items():
            if name in skip:
                continue
            try:
                await asyncio.to_thread(sink.write, readings, events)
            except Exception as exc:  # noqa: BLE001 - a failing sink is isolated
                self._plugin_failed(f"sink {name}", exc)
                failed.add(name)
                continue
            self.sink_rows[name] += len(readings)
        return failed

    async def _send_commands(self):
        commands, self.commands = self.commands, []
        for cmd in commands:
            try:
                await self._send(cmd)
            except Exception as exc:  # noqa: BLE001
                device = getattr(cmd, "device", None)  # a service may pass a non-Command
                self._plugin_failed(f"command for {device}", exc, device=device)

    async def _send(self, cmd):
        dev = self.city.devices.get(cmd.device)
        if dev is None:
            self.count_error("command", f"command for unknown device {cmd.device!r}",
                             device=cmd.device)
            return
        if cmd.payload is None:
            model = self.host.device_models[dev.model]
            if model.encode_downlink is None:
                self.count_error("command", f"device model {dev.model} takes no commands",
                                 device=cmd.device)
                return
            fport, payload = model.encode_downlink(cmd.action or {}, dev.options)
            cmd = Command(cmd.device, fport, payload, cmd.action, cmd.confirmed, cmd.time,
                          cmd.source)
        source = self._last_source.get(cmd.device)
        if source is None:
            # Not heard yet in this run: any source that carries downlinks.
            target = next(((s, c) for s, c in self.sources.values() if hasattr(s, "send")),
                          None)
        else:
            # Only the network that heard the device can reach it; another source's
            # network does not know it.
            target = self.sources.get(source)
            if target is not None and not hasattr(target[0], "send"):
                target = None
        if target is None:
            # No source can carry it (e.g. a simulated city): record it in the journal so
            # services can be tested end to end.
            self.emit(Event("command.unsent", "info", cmd.device, cmd.time,
                            {"fport": cmd.fport, "payload": cmd.payload.hex()}, cmd.source))
            return
        await target[0].send(cmd)
        self.commands_sent += 1

    async def _stop(self):
        for name, (svc, ctx) in self.services.items():
            if hasattr(svc, "stop"):
                try:
                    svc.stop(ctx)
                except Exception as exc:  # noqa: BLE001
                    # Reported; its state is still saved below, or the next run would
                    # start it from scratch.
                    self._plugin_failed(f"service {name}", exc)
            try:
                if hasattr(svc, "snapshot"):
                    ctx.state.put(SNAPSHOT, msgpack.packb(svc.snapshot(), use_bin_type=True))
            except Exception as exc:  # noqa: BLE001
                self._plugin_failed(f"service {name}", exc)
        if self.commands:
            await self._send_commands()
        # A sink failing in this last write reports it as a new event: write those too,
        # to the sinks that still work (each pass either adds a failed sink or ends).
        failed = set()
        while self.events:
            events, self.events = self.events, []
            self.events_total += len(events)
            failed |= await self._write([], events, skip=failed)
        for name, sink in self.sinks.items():
            try:
                await asyncio.to_thread(sink.close)
            except Exception as exc:  # noqa: BLE001
                self._plugin_failed(f"sink {name}", exc)
        self.state.close()
        # Errors counted after the last write are still reported in the summary.

    async def _progress(self):
        last_frames, last_t = 0, time.perf_counter()
        try:
            while True:
                await asyncio.sleep(0.5)
                now = time.perf_counter()
                rate = (self.frames - last_frames) / (now - last_t)
                last_frames, last_t = self.frames, now
                self.progress(self, rate)
        except asyncio.CancelledError:
            pass

    def summary(self, seconds):
        services = {}
        for name, (svc, _ctx) in self.services.items():
            if hasattr(svc, "summary"):
                try:
                    services[name] = svc.summary()
                except Exception as exc:  # noqa: BLE001
                    self._plugin_failed(f"service {name}", exc)
        return {
            "city": self.city.name,
            "hromada": __version__,
            "frames": self.frames,
            "readings": self.readings,
            "events": self.events_total,
            "errors": sum(self.errors.values()),
            "errors_by_kind": dict(self.errors),
            "commands": self.commands_sent,
            "seconds": round(seconds, 3),
            "frames_per_second": round(self.frames / seconds, 1) if seconds else None,
            "devices": len(self.city.devices),
            "sources": {n: ctx.frames for n, (_s, ctx) in self.sources.items()},
            "sinks": dict(self.sink_rows),
            "services": services,
            "ring": self.ring.stats(),
        }


def terminal_progress(kernel, rate):
    """One status line, rewritten in place, on a terminal."""
    line = (f"\r{kernel.city.name}: {kernel.frames:,} frames ({rate:,.0f}/s)  "
            f"{kernel.readings:,} readings  {kernel.events_total:,} events  "
            f"{sum(kernel.errors.values()):,} errors ")
    sys.stderr.write(line)
    sys.stderr.flush()


def run_city(city, *, progress=None):
    """Run a loaded city to the end; return the summary dict."""
    kernel = Kernel(city, progress=progress)
    return asyncio.run(kernel.run())
