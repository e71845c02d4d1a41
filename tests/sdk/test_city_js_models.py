"""Device models declared in city.toml from a vendor's JavaScript codec ([models."v/d"])."""

import importlib.util
import json
import re
import sqlite3
import textwrap
from pathlib import Path

import pytest

from hromada import cli
from hromada.city import check_city, load_city
from hromada.errors import DecodeError
from hromada.plugins import PluginHost
from hromada.runtime import run_city, takes_recv_time

ROOT = Path(__file__).resolve().parents[2]
needs_js = pytest.mark.skipif(importlib.util.find_spec("quickjs") is None,
                              reason="the JavaScript engine (pip install 'hromada[js]')")

# A vendor codec as they are published: The Things Stack contract, ES5.  Uplink fPort 1:
# int16 BE temperature (0.01 Cel), uint8 humidity (%RH), uint16 BE battery (mV), uint8
# flags (bit 0 door open, bits 1.. probe level in cm).  Reading input.recvTime throws when
# it is missing, so a frame decoded without its time is a decode error.
CODEC = """\
function decodeUplink(input) {
  var b = input.bytes;
  if (input.fPort !== 1) return { errors: ["unknown fPort " + input.fPort] };
  if (b.length !== 6) return { errors: ["expected 6 bytes, got " + b.length] };
  var t = (b[0] << 8) | b[1];
  if (t & 0x8000) t -= 0x10000;
  return {
    data: {
      temperature: t / 100,
      humidity: b[2],
      battery: { mv: (b[3] << 8) | b[4] },
      door: (b[5] & 1) === 1,
      probes: [{ level: b[5] >> 1 }],
      received: input.recvTime.toISOString(),
      received_s: input.recvTime.getTime() / 1000,
      serial: null
    },
    warnings: [],
    errors: []
  };
}

function encodeDownlink(input) {
  var s = input.data.interval_s;
  if (typeof s !== "number" || s < 60 || s > 65535) {
    return { errors: ["interval_s must be 60..65535, got " + s] };
  }
  return { bytes: [1, s >> 8, s & 255], fPort: 10, warnings: [], errors: [] };
}
"""

# A source that sends fixed frames and logs the downlinks it is asked to send, and a
# service that asks a warm device to report every 600 s.  No simulator involved.
PLUGIN = '''
import json, pathlib
import hromada
from hromada import Command, Option, ServiceType, SourceType

LOG = pathlib.Path(__file__).with_name("sent.log")

class Fixed:
    def __init__(self, name, options, city):
        self.frames = options["frames"]
    async def run(self, ctx):
        await ctx.put([ctx.pack(bytes.fromhex(p), network="test", device=d, fport=f, time=t)
                       for d, p, f, t in self.frames])
    async def send(self, command):
        with LOG.open("a") as f:
            f.write(json.dumps([command.device, command.fport, command.payload.hex()]) + "\\n")

class Slower:
    def __init__(self, name, options, city):
        pass
    def process(self, readings, ctx):
        for r in readings:
            if r.quantity == "temperature" and r.value > 25:
                ctx.command(Command(r.device, action={"interval_s": 600}))

@hromada.hookimpl
def hromada_sources():
    return [SourceType("fixed", Fixed, (Option("frames", "list"),), downlinks=True)]

@hromada.hookimpl
def hromada_services():
    return [ServiceType("slower", Slower)]
'''

MODEL = """\
[models."acme/th-sensor"]
codec = "codecs/acme-th.js"
family = "climate"
description = "Acme TH sensor (vendor codec)"
timeout = "500ms"

[models."acme/th-sensor".mapping]
temperature = "temperature Cel"
humidity = "relative_humidity %RH"
"battery.mv" = { quantity = "battery", unit = "V", scale = 0.001 }
door = "door_open bool"
"probes.0.level" = ["level", "cm"]
received = "received"
received_s = "recv_time s"
serial = "serial"
"""

CITY = """\
[city]
name = "Codecville"
devices = "devices.csv"

[plugins]
modules = ["fixedsource.py"]

{model}
[sources.fixed]
plugin = "fixed"
frames = [
  ["a1", "08fc2d0bb803", 1, 1780000000.25],
  ["b2", "fe0c5a0a2808", 1, 1780000060.5],
  ["a1", "0102", 1, 1780000120.0],
  ["a1", "0a2841100000", 1, 1780000180.0],
]

[services.slower]
plugin = "slower"

[sinks.db]
plugin = "sqlite"
path = "out.db"

[[devices]]
id = "A1"
model = "acme/th-sensor"
"""


def make_city(tmp_path, model=MODEL, codec=CODEC):
    (tmp_path / "codecs").mkdir(exist_ok=True)
    if codec is not None:
        (tmp_path / "codecs" / "acme-th.js").write_text(codec)
    (tmp_path / "fixedsource.py").write_text(PLUGIN)
    (tmp_path / "devices.csv").write_text("id,model,name\nb2,acme/th-sensor,Yard\n")
    path = tmp_path / "city.toml"
    path.write_text(CITY.format(model=model))
    return path


def rows(db, sql):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


@needs_js
def test_frames_run_through_the_city_declared_model_to_readings(tmp_path):
    summary = run_city(load_city(make_city(tmp_path)))
    assert (summary["frames"], summary["readings"], summary["errors_by_kind"]) == (
        4, 21, {"decode": 1})
    got = rows(tmp_path / "out.db", "select device, time, quantity, value, unit from readings "
                                    "order by time, quantity")
    assert got == [
        ("a1", 1780000000.25, "battery", 3.0, "V"),
        ("a1", 1780000000.25, "door_open", 1, "bool"),
        ("a1", 1780000000.25, "level", 1, "cm"),
        ("a1", 1780000000.25, "received", "2026-05-28T20:26:40.250Z", ""),
        ("a1", 1780000000.25, "recv_time", 1780000000.25, "s"),
        ("a1", 1780000000.25, "relative_humidity", 45, "%RH"),
        ("a1", 1780000000.25, "temperature", 23.0, "Cel"),
        ("b2", 1780000060.5, "battery", 2.6, "V"),
        ("b2", 1780000060.5, "door_open", 0, "bool"),
        ("b2", 1780000060.5, "level", 4, "cm"),
        ("b2", 1780000060.5, "received", "2026-05-28T20:27:40.500Z", ""),
        ("b2", 1780000060.5, "recv_time", 1780000060.5, "s"),
        ("b2", 1780000060.5, "relative_humidity", 90, "%RH"),
        ("b2", 1780000060.5, "temperature", -5.0, "Cel"),
        ("a1", 1780000180.0, "battery", 4.096, "V"),
        ("a1", 1780000180.0, "door_open", 0, "bool"),
        ("a1", 1780000180.0, "level", 0, "cm"),
        ("a1", 1780000180.0, "received", "2026-05-28T20:29:40.000Z", ""),
        ("a1", 1780000180.0, "recv_time", 1780000180.0, "s"),
        ("a1", 1780000180.0, "relative_humidity", 65, "%RH"),
        ("a1", 1780000180.0, "temperature", 26.0, "Cel"),
    ]
    [(data,)] = rows(tmp_path / "out.db", "select data from events where kind = 'decode.error'")
    assert json.loads(data) == {
        "message": "acme/th-sensor: JS codec acme-th.js: decodeUplink reported: expected 6 "
                   "bytes, got 2",
        "model": "acme/th-sensor", "payload": "0102", "fport": 1}
    # 26 Cel is warm: the service's command reached the script's encodeDownlink and went
    # out through the source that heard the device.
    assert summary["commands"] == 1
    assert (tmp_path / "sent.log").read_text() == '["a1", 10, "010258"]\n'


@needs_js
def test_the_city_model_has_the_mapping_quantities_and_a_downlink_encoder(tmp_path):
    city = load_city(make_city(tmp_path))
    model = city.models["acme/th-sensor"]
    assert city.host.device_models["acme/th-sensor"] is model
    assert (model.family, model.description) == ("climate", "Acme TH sensor (vendor codec)")
    assert model.quantities == {
        "temperature": "Cel", "relative_humidity": "%RH", "battery": "V", "door_open": "bool",
        "level": "cm", "received": "", "recv_time": "s", "serial": ""}
    assert model.decode.codec.timeout == 0.5
    assert model.encode_downlink({"interval_s": 60}, {}) == (10, b"\x01\x00\x3c")
    assert {d.id: d.model for d in city.devices.values()} == {"a1": "acme/th-sensor",
                                                            "b2": "acme/th-sensor"}
    # Without recv_time (hromada decode, hromada.testing) the script's recvTime is
    # undefined: this codec throws on it.
    with pytest.raises(DecodeError) as info:
        model.decode(bytes.fromhex("08fc2d0bb803"), 1, {})
    assert str(info.value) == ("JS codec acme-th.js: decodeUplink(fPort 1, 6 bytes) threw "
                               "TypeError: cannot read property 'toISOString' of undefined "
                               "(at decodeUplink (acme-th.js:14))")
    readings, raw = model.decode.decode_raw(bytes.fromhex("08fc2d0bb803"), 1, {},
                                            recv_time=1700000000)
    assert raw["data"]["received"] == "2023-11-14T22:13:20.000Z"
    assert ("recv_time", 1700000000, "s") in readings


@needs_js
def test_city_models_are_the_citys_alone(tmp_path, capsys):
    path = make_city(tmp_path)
    host = PluginHost(files=[tmp_path / "fixedsource.py"])
    installed = set(host.device_models)
    city = load_city(path, host=host)
    # the city runs on its own copy of the host: the given one is left as it was
    assert city.host is not host
    assert set(host.device_models) == installed
    assert set(city.host.device_models) == installed | {"acme/th-sensor"}
    assert city.host.errors is host.errors
    assert cli.main(["devices", "--json"]) == 0
    listed = {m["id"] for m in json.loads(capsys.readouterr().out)}
    assert listed == set(PluginHost().device_models)
    assert "acme/th-sensor" not in listed
    assert cli.main(["devices", "acme/"]) == 2
    assert capsys.readouterr().err.startswith("no device model matches 'acme/'; installed: ")
    assert cli.main(["check", str(path)]) == 0
    assert capsys.readouterr().out == (f"{path}: Codecville is valid: 2 devices, 1 sources, "
                                       "1 services, 1 sinks\n")


@needs_js
def test_per_device_variables_and_the_models_own(tmp_path):
    codec = ("function decodeUplink(i) { var d = Number(i.variables.depth);\n"
             "  return {data: {fill: 100 * (d - i.bytes[0]) / d}}; }\n")
    model = ('[models."acme/bin"]\ncodec = "codecs/acme-th.js"\nfamily = "waste_bin"\n'
             'variables = { depth = "100" }\nmapping = { fill = "fill_level %" }\n')
    path = make_city(tmp_path, model=model, codec=codec)
    text = path.read_text().replace('model = "acme/th-sensor"\n',
                                    'model = "acme/bin"\nvariables = { depth = "50" }\n')
    path.write_text(text)
    (tmp_path / "devices.csv").write_text("id,model\nb2,acme/bin\n")
    city = load_city(path)
    decode = city.host.device_models["acme/bin"].decode
    assert decode(b"\x19", 1, city.devices["a1"].options) == [("fill_level", 50, "%")]
    assert decode(b"\x19", 1, city.devices["b2"].options) == [("fill_level", 75, "%")]


# -- problems -------------------------------------------------------------------------------


def problems_of(path):
    city, problems = check_city(path)
    assert city is None
    return [(p.where, p.message) for p in problems]


@needs_js
def test_a_missing_codec_file(tmp_path):
    path = make_city(tmp_path, codec=None)
    assert problems_of(path) == [
        ('models."acme/th-sensor".codec',
         f"cannot read codec file {tmp_path / 'codecs' / 'acme-th.js'}: No such file or "
         "directory")]


@needs_js
def test_a_script_that_does_not_load(tmp_path):
    path = make_city(tmp_path, codec="function decodeUplink(input) {\n  return {data: {}\n}\n")
    assert problems_of(path) == [
        ('models."acme/th-sensor".codec',
         "JS codec acme-th.js: loading the script failed: SyntaxError: unexpected token in "
         "expression: '' (at acme-th.js:4)")]
    (tmp_path / "codecs" / "acme-th.js").write_text("function encodeDownlink(i) {}\n")
    assert problems_of(path) == [
        ('models."acme/th-sensor".codec',
         "JS codec acme-th.js: the script defines no decodeUplink(input) (nor a legacy "
         "Decode/Decoder) function")]


@needs_js
@pytest.mark.parametrize("entries, where, message", [
    ('temperature = "temperature celsius"', "temperature",
     "unknown unit 'celsius'; use one of the names in hromada.units.UNITS"),
    ('temperature = "temperature in Cel"', "temperature",
     "'temperature in Cel': write \"quantity\" or \"quantity unit\" (a unit of "
     "hromada.units.UNITS), or a table of quantity, unit, scale"),
    ('"battery.mv" = { quantity = "battery", unit = "V", scale = 0 }', '"battery.mv"',
     "scale must be a finite non-zero number, not 0"),
    ('"battery.mv" = { quantity = "battery", units = "V" }', '"battery.mv"',
     "unknown keys ['units']; allowed: quantity, unit, scale"),
    ('battery.mv = "battery V"', "battery",
     "unknown keys ['mv']; allowed: quantity, unit, scale (a nested field is one quoted "
     'key: "battery.mv" = ...)'),
    ('"battery..mv" = "battery V"', '"battery..mv"',
     "'battery..mv' is not a field of data: names joined by '.' (e.g. 'sensor.pm25' or "
     "'values.0')"),
    ("temperature = 5", "temperature",
     'must be "quantity unit" or a table of quantity, unit, scale, not int 5'),
    ('temperature = ["temperature", "Cel", 0.1, 2]', "temperature",
     "['temperature', 'Cel', 0.1, 2]: a list is [quantity, unit, scale], unit and scale "
     "optional"),
])
def test_a_bad_mapping_entry(tmp_path, entries, where, message):
    model = ('[models."acme/th-sensor"]\ncodec = "codecs/acme-th.js"\nfamily = "climate"\n\n'
             '[models."acme/th-sensor".mapping]\nhumidity = "relative_humidity %RH"\n'
             + entries + "\n")
    assert problems_of(make_city(tmp_path, model=model)) == [
        (f'models."acme/th-sensor".mapping.{where}', message)]


@needs_js
def test_model_table_problems(tmp_path):
    model = ('[models."acme/th-sensor"]\ncodec = "codecs/acme-th.js"\nfamily = "weather"\n'
             'decoder = "x"\ntimeout = 0\nmapping = {}\n')
    assert problems_of(make_city(tmp_path, model=model)) == [
        ('models."acme/th-sensor".family',
         "'weather' is not allowed; choose one of 'water_meter', 'gas_meter', 'heat_meter', "
         "'electricity_meter', 'pulse_counter', 'waste_bin', 'air_quality', 'noise', "
         "'climate', 'street_light', 'parking', 'traffic_counter', 'people_counter', "
         "'generic'"),
        ('models."acme/th-sensor".decoder',
         "unknown option 'decoder'; allowed options: codec, description, family, mapping, "
         "memory_limit, network, timeout, variables, vendor_url"),
        ('models."acme/th-sensor".timeout', "0 is below the minimum 0.001"),
        ('models."acme/th-sensor".mapping',
         "empty: map at least one field of the codec's data to a quantity, e.g. "
         'temperature = "temperature Cel"'),
    ]
    model = '[models."acme/th-sensor"]\ncodec = "codecs/acme-th.js"\n'
    assert problems_of(make_city(tmp_path, model=model)) == [
        ('models."acme/th-sensor".family', "missing required option (the kind of device)"),
        ('models."acme/th-sensor".mapping',
         'missing required option (fields of the codec\'s data -> "quantity unit" or '
         "{quantity, unit, scale})"),
    ]


@needs_js
def test_an_id_that_is_not_vendor_device(tmp_path):
    model = MODEL.replace('[models."acme/th-sensor"]', '[models."Acme TH"]').replace(
        '[models."acme/th-sensor".mapping]', '[models."Acme TH".mapping]')
    path = make_city(tmp_path, model=model)
    installed = ", ".join(sorted(PluginHost().device_models))
    assert problems_of(path) == [
        ('models."Acme TH"',
         "'Acme TH' is not a device model id: write it 'vendor/device' in lowercase "
         "(letters, digits, '.', '_', '-'), quoted in the table name: "
         '[models."acme/th-sensor"]'),
        ("devices[0].model", f"unknown device model 'acme/th-sensor'; installed: {installed}"),
        ("line 2.model", f"unknown device model 'acme/th-sensor'; installed: {installed}"),
    ]
    # unquoted, TOML reads [models.acme.th] as a table "acme" holding "th"
    model = MODEL.replace('"acme/th-sensor"', "acme.th")
    assert problems_of(make_city(tmp_path, model=model))[0] == (
        "models.acme",
        "'acme' is not a device model id: write it 'vendor/device' in lowercase (letters, "
        "digits, '.', '_', '-'), quoted in the table name: [models.\"acme/th-sensor\"]")


@needs_js
def test_an_id_clashing_with_an_installed_model(tmp_path):
    model = MODEL.replace('"acme/th-sensor"', '"cayenne/lpp"')
    path = make_city(tmp_path, model=model)
    assert problems_of(path)[0] == (
        'models."cayenne/lpp"',
        "device model 'cayenne/lpp' is already installed by plugin 'cayenne'; give the "
        "city's model an id of its own")


def test_no_javascript_engine_names_the_extra(tmp_path, monkeypatch, capsys):
    import hromada.codecs.js as js

    monkeypatch.delenv("HROMADA_JS_ENGINE", raising=False)
    monkeypatch.setattr(js, "_ENGINES", {"quickjs": ("hromada_no_such_engine", None)})
    path = make_city(tmp_path)
    assert cli.main(["check", str(path)]) == 2
    # its devices are not reported again: the model's problem is the one to fix
    assert capsys.readouterr().err == (
        f'{path}: models."acme/th-sensor".codec: no JavaScript engine is installed: pip '
        "install 'hromada[js]' (quickjs)\n"
        f"{path}: 1 problem; the city is not valid\n")


@needs_js
def test_hromada_check_exits_2_on_a_bad_model(tmp_path, capsys):
    path = make_city(tmp_path, model=MODEL.replace('"temperature Cel"', '"temperature C"'))
    assert cli.main(["check", str(path)]) == 2
    assert capsys.readouterr().err == (
        f'{path}: models."acme/th-sensor".mapping.temperature: unknown unit \'C\'; use one '
        "of the names in hromada.units.UNITS\n"
        f"{path}: 1 problem; the city is not valid\n")


# -- the frame's time reaches decoders that ask for it ---------------------------------------


def test_takes_recv_time_reads_the_signature():
    def plain(payload, fport, options):
        return []

    def keyword(payload, fport, options, *, recv_time=None):
        return []

    def positional(payload, fport, options, recv_time=None):
        return []

    def kwargs_only(payload, fport, options, **kw):
        return []

    class Callable:
        def __call__(self, payload, fport, options=None, *, recv_time=None):
            return []

    assert [takes_recv_time(f) for f in (plain, keyword, positional, kwargs_only, Callable(),
                                         len)] == [False, True, True, False, True, False]


def test_the_kernel_passes_the_frame_time_only_to_decoders_that_declare_it(tmp_path):
    plugin = PLUGIN + textwrap.dedent('''
        from hromada import DeviceModel

        def timed(payload, fport, options, *, recv_time=None):
            return [("seen", recv_time, "s")]

        def plain(payload, fport, options, **kw):
            return [("kw", len(kw), "count")]

        @hromada.hookimpl
        def hromada_device_models():
            return [DeviceModel(id="test/timed", family="generic", decode=timed),
                    DeviceModel(id="test/plain", family="generic", decode=plain)]
        ''')
    (tmp_path / "fixedsource.py").write_text(plugin)
    (tmp_path / "city.toml").write_text(textwrap.dedent("""\
        [city]
        name = "Clockville"

        [plugins]
        modules = ["fixedsource.py"]

        [sources.fixed]
        plugin = "fixed"
        frames = [["t1", "00", 1, 1780000000.75], ["p1", "00", 1, 1780000001.5]]

        [sinks.db]
        plugin = "sqlite"
        path = "out.db"

        [[devices]]
        id = "t1"
        model = "test/timed"

        [[devices]]
        id = "p1"
        model = "test/plain"
        """))
    summary = run_city(load_city(tmp_path / "city.toml"))
    assert summary["errors"] == 0
    assert rows(tmp_path / "out.db", "select device, time, quantity, value, unit from readings "
                                     "order by time") == [
        ("t1", 1780000000.75, "seen", 1780000000.75, "s"),
        ("p1", 1780000001.5, "kw", 0, "count")]


# -- the README and docs/plugins.md examples work when pasted -------------------------------

DOC_CODEC = """\
function decodeUplink(input) {
  var b = input.bytes;
  return { data: { temperature: b[0] - 40, humidity: b[1], battery: { mv: b[2] * 20 },
                   door_open: b[3] === 1, channels: [{ level: b[4] / 100 }],
                   depth: input.variables ? Number(input.variables.depth) : null } };
}
"""


def doc_block(path, after):
    text = (ROOT / path).read_text()
    start = text.index(after)
    return re.compile(r"```toml\n(.*?)```", re.S).search(text, start).group(1)


@needs_js
@pytest.mark.parametrize("path, after, readings", [
    ("README.md", "## A vendor's JavaScript codec, no Python",
     [("temperature", 21, "Cel"), ("battery", 3.0, "V")]),
    ("docs/plugins.md", "A city can declare such a model",
     [("temperature", 21, "Cel"), ("relative_humidity", 45, "%RH"), ("door_open", True, ""),
      ("battery", 3.0, "V"), ("level", 1.5, "m")]),
])
def test_the_documented_model_table_works(tmp_path, path, after, readings):
    (tmp_path / "codecs").mkdir()
    (tmp_path / "codecs" / "acme-th.js").write_text(DOC_CODEC)
    (tmp_path / "city.toml").write_text(
        '[city]\nname = "Docville"\n\n[sources.sim]\nplugin = "simulator"\n\n'
        + doc_block(path, after)
        + '\n[[devices]]\nid = "a1"\nmodel = "acme/th-sensor"\n')
    city = load_city(tmp_path / "city.toml")
    model = city.models["acme/th-sensor"]
    assert model.decode(bytes([61, 45, 150, 1, 150]), 1, {}) == readings
