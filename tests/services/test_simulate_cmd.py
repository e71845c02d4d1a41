"""hromada simulate: a real city's devices and services on simulated uplinks, with its
databases, state and output files left alone."""

import json
import sqlite3

from test_city_runs import make_city

from hromada.cli import main


def _count(db, sql):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def test_simulate_runs_the_city_apart_from_its_real_outputs(tmp_path, capsys):
    city = tmp_path / "city"
    city.mkdir()
    rows = make_city(city, scale=0.005)      # its sinks: the demo's score sink and city.db
    out = tmp_path / "sim"
    assert main(["simulate", str(city / "city.toml"), "--start", "2026-10-15T00:00:00",
                 "--span", "25h", "--db", str(out / "sim.db"), "--out-dir", str(out / "files"),
                 "--summary-json", str(out / "summary.json"), "-q"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    # every device of the list, every 15 minutes for 25 hours, through the real decoders
    assert summary["frames"] == len(rows) * 100
    assert summary["errors"] == 0
    assert summary["sinks"] == {"sim": summary["readings"]}
    assert _count(out / "sim.db", "select count(*) from readings") == summary["readings"]
    assert _count(out / "sim.db", "select count(*) from devices") == len(rows)
    # the services ran: the billing export of the first day went to --out-dir and verifies
    export = out / "files" / "metering" / "export_dir" / "metering-billing-2026-10-15.csv"
    assert main(["verify", str(export)]) == 0
    # and nothing of the real city was written: no database, no state, no billing file
    # (__pycache__: Python compiled the city's demo_models.py plugin on import)
    assert sorted(p.name for p in city.iterdir() if p.name != "__pycache__") == [
        "baseline.csv", "city.toml", "demo_models.py", "devices.csv"]
    err = capsys.readouterr().err
    assert err.startswith(f"simulating Mukachevo: {len(rows)} devices for 90000 s from "
                          "2026-10-15T00:00:00; services: metering, waste, lighting, "
                          f"environment, traffic; sinks: sim (sqlite) to {out / 'sim.db'}\n")


def test_simulate_keep_sinks_writes_to_the_citys_own(tmp_path):
    make_city(tmp_path, scale=0.002)
    assert main(["simulate", str(tmp_path / "city.toml"), "--span", "1h", "--keep-sinks",
                 "--out-dir", str(tmp_path / "files"), "-q"]) == 0
    assert _count(tmp_path / "city.db", "select count(*) from readings") > 0
    assert not (tmp_path / "simulated.db").exists()


def test_simulate_names_a_bad_option(tmp_path, capsys):
    make_city(tmp_path, scale=0.002)
    assert main(["simulate", str(tmp_path / "city.toml"), "--span", "nope"]) == 2
    assert capsys.readouterr().err == (
        "hromada: --span: 'nope' is not a duration: use seconds or a string like '15min', "
        "'1h', '2d'\n")


GATEWAY_CITY = """
[city]
name = "Radioless"

[plugins]
modules = ["silent.py"]

[sources.gw]
plugin = "semtech-udp"
bind = "127.0.0.1:0"

[sources.gw.keys.70b3d57ed0000001]
appkey = "env:HROMADA_TEST_UNSET_SIM_APPKEY"
join_eui = "70b3d57ed0000000"

[sinks.db]
plugin = "postgres"
dsn = "env:HROMADA_TEST_UNSET_SIM_DSN"

[[devices]]
id = "70b3d57ed0000001"
model = "cayenne/lpp"

[[devices]]
id = "0000000000000002"
model = "test/silent"
"""

SILENT = '''
import hromada
from hromada import DeviceModel

@hromada.hookimpl
def hromada_device_models():
    return [DeviceModel(id="test/silent", family="generic",
                        decode=lambda p, f, o: [], quantities={})]
'''


def test_simulate_and_state_need_no_radio_keys_and_name_what_cannot_be_simulated(
        tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HROMADA_TEST_UNSET_SIM_APPKEY", raising=False)
    monkeypatch.delenv("HROMADA_TEST_UNSET_SIM_DSN", raising=False)
    (tmp_path / "city.toml").write_text(GATEWAY_CITY)
    (tmp_path / "silent.py").write_text(SILENT)
    # before the radios are up: the gateway's keys and the database are not there yet
    assert main(["check", str(tmp_path / "city.toml")]) == 2
    assert main(["simulate", str(tmp_path / "city.toml"), "--span", "1h", "-q",
                 "--db", str(tmp_path / "sim.db"),
                 "--summary-json", str(tmp_path / "s.json")]) == 0
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["frames"] == 4            # the LPP sensor, every 15 minutes
    [(data,)] = sqlite3.connect(tmp_path / "sim.db").execute(
        "select data from events where kind = 'simulator.skipped'").fetchall()
    assert json.loads(data) == {
        "message": "simulator sim: no uplinks for the devices of test/silent (1 device): "
                   "the model has neither an encoder with simulate nor examples",
        "models": {"test/silent": 1}}
    assert main(["state", str(tmp_path / "city.toml"), "--json"]) == 0
    capsys.readouterr()
