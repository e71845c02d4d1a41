"""Second review: a command's fPort must be a LoRaWAN application port (1..223) before any
LoRaWAN source sends it; 0 carries MAC commands only, 224 is the MAC layer test port and
225..255 are reserved (LoRaWAN 1.0.4 / 1.1, section 4.3.2)."""

import asyncio
import json

import pytest
from gw_kit import ABP_EUI, GW_EUIS, LPP_A, RunningCity, abp_device, eventually, rows, write_city

from hromada import lorawan


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


@pytest.mark.parametrize("fport, problem", [
    (1, None),
    (10, None),
    (223, None),
    (None, "command for device d1 has no fPort (application ports are 1..223)"),
    (0, "command for device d1: fPort 0 is not an application port (1..223)"),
    (224, "command for device d1: fPort 224 is not an application port (1..223)"),
    (225, "command for device d1: fPort 225 is not an application port (1..223)"),
    (255, "command for device d1: fPort 255 is not an application port (1..223)"),
    (256, "command for device d1: fPort 256 is not an application port (1..223)"),
    (-1, "command for device d1: fPort -1 is not an application port (1..223)"),
    (True, "command for device d1: fPort True is not an application port (1..223)"),
    ("2", "command for device d1: fPort '2' is not an application port (1..223)"),
])
def test_application_fports(fport, problem):
    assert lorawan.app_fport_problem("d1", fport) == problem
    if type(fport) is int:
        assert (fport in lorawan.APP_FPORTS) == (problem is None)


PLUGIN = '''
import hromada
from hromada import Command, ServiceType

class Commander:
    """On a device's first reading: commands on fPorts 224, 0 and 223, in that order."""
    def __init__(self, name, options, city):
        self.sent = set()
    def process(self, readings, ctx):
        for r in readings:
            if r.device not in self.sent:
                self.sent.add(r.device)
                for fport in (224, 0, 223):
                    ctx.command(Command(r.device, fport=fport, payload=bytes([fport])))

@hromada.hookimpl
def hromada_services():
    return [ServiceType("test-commander", Commander)]
'''


async def _commands(tmp_path, monkeypatch):
    path = write_city(tmp_path, monkeypatch, plugin=PLUGIN, extra="rx1_delay = 2",
                      more='\n[services.cmd]\nplugin = "test-commander"\n')
    city = await RunningCity(path).start()
    src = city.source
    try:
        gw = await city.gateway(GW_EUIS[0])
        abp = abp_device()
        await gw.uplink(abp.uplink(LPP_A))
        _token, _txpk, phy = await gw.downlink()
        await eventually(lambda: src.stats["downlink"] == 2, "the refused commands")
        await gw.no_downlink(0.2)
        pending = src.pending(ABP_EUI)
        stats = dict(src.stats)
        frame = abp.downlink(phy)
    finally:
        summary = await city.stop()
    return summary, stats, pending, frame


def test_semtech_udp_refuses_commands_outside_the_application_ports(tmp_path, monkeypatch):
    summary, stats, pending, frame = run(_commands(tmp_path, monkeypatch))
    # only the fPort 223 command went out, in RX1 of the uplink; nothing is queued
    assert (frame.mic_ok, frame.fport, frame.frm_payload) == (True, 223, b"\xdf")
    assert pending == 0
    assert stats["downlink"] == 2 and stats["downlinks"] == 1
    assert summary["errors_by_kind"] == {"downlink": 2}
    events = rows(tmp_path / "city.db", "select severity, device, source, data from events "
                                        "where kind = 'lorawan.downlink' order by rowid")
    assert [(s, d, src, json.loads(data)["message"]) for s, d, src, data in events] == [
        ("warning", ABP_EUI, "gw",
         f"command for device {ABP_EUI}: fPort 224 is not an application port (1..223)"),
        ("warning", ABP_EUI, "gw",
         f"command for device {ABP_EUI}: fPort 0 is not an application port (1..223)"),
    ]
