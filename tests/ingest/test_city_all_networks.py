"""One city with the nbiot-udp, coap and wmbus sources stores readings from all three."""

import asyncio

from ingest_kit import RunningCity, UdpClient, coap_post, rows

from hromada import senml

# Published wM-Bus telegrams: OMS vol. 2 annex N.2.1 (gas, mode 5) and a jMBus heat meter.
OMS_MODE5 = ("2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6D"
             "EFC99D6D69EBF3")
OMS_KEY = "0102030405060708090A0B0C0D0E0F11"
LUG_HEAT = ("2C44A7320613996707047A821000202F2F0C06000000000C14000000000C22224101000B5A410200"
            "0B5E4000F0")

CITY = f"""
[city]
name = "Mukachevo"
timezone = "Europe/Kyiv"

[kernel]
max_latency = 0.01

[sources.nbiot]
plugin = "nbiot-udp"
bind = "127.0.0.1:0"
identity = {{ offset = 0, length = 4, format = "hex" }}
sequence = {{ offset = 4, length = 1 }}
ack = "06"

[sources.coap]
plugin = "coap"
bind = "127.0.0.1:0"

[sources.meters]
plugin = "wmbus"
file = "telegrams.hex"

[sinks.db]
plugin = "sqlite"
path = "city.db"

[[devices]]
id = "0a0b0c0d"
model = "senml/json"
name = "bin 17, Myru street"

[[devices]]
id = "lamp-204"
model = "senml/cbor"

[[devices]]
id = "els-12345678"
model = "wmbus/gas"
key = "{OMS_KEY}"

[[devices]]
id = "lug-67991306"
model = "wmbus/heat"
"""


async def _run(tmp_path):
    (tmp_path / "telegrams.hex").write_text(f"{OMS_MODE5}\n{LUG_HEAT}\n")
    (tmp_path / "city.toml").write_text(CITY)
    city = await RunningCity(tmp_path / "city.toml").start()
    bin_sensor = await UdpClient.open(city.source("nbiot").address)
    try:
        bin_sensor.send(bytes.fromhex("0a0b0c0d01") + senml.dumps(
            [{"bn": "/3435/0/", "n": "2", "v": 81.5}, {"n": "22", "vb": False}]))
        assert await bin_sensor.reply() == b"\x06"
        code, _ = await coap_post(city.source("coap").address[1], "/d/lamp-204", senml.dumps(
            [{"bn": "/3416/0/", "n": "3", "v": 60}, {"n": "47", "v": 1.25}], "cbor"), 112)
        assert code == "2.04 Changed"
    finally:
        bin_sensor.close()
        summary = await city.stop()
    return summary


def test_nbiot_coap_and_wmbus_in_one_city(tmp_path):
    summary = asyncio.run(_run(tmp_path))
    assert summary["errors"] == 0, summary["errors_by_kind"]
    assert summary["sources"] == {"nbiot": 1, "coap": 1, "meters": 2}
    assert rows(tmp_path / "city.db", "select device, quantity, value, unit from readings "
                                      "order by device, quantity") == [
        ("0a0b0c0d", "fill_level", 81.5, "%"), ("0a0b0c0d", "fire", 0, "bool"),
        ("els-12345678", "error_flags", 0, ""), ("els-12345678", "volume", 28504.27, "m3"),
        ("lamp-204", "dimming_level", 60, "%"), ("lamp-204", "energy", 1250.0, "Wh"),
        ("lug-67991306", "energy", 0, "kWh"), ("lug-67991306", "flow_temperature", 24.1, "Cel"),
        ("lug-67991306", "on_time", 14122, "h"),
        ("lug-67991306", "return_temperature", -4.0, "Cel"),
        ("lug-67991306", "volume", 0.0, "m3")]
