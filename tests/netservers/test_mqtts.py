"""mqtts:// for real: a Mosquitto of the test's own on a loopback port, with a CA, a
server certificate and client certificates (the way ChirpStack secures its broker).

The machine's Mosquitto has no TLS listener, so the test starts its own broker process
from the same package (and stops it by its pid).  Without the mosquitto binary the test
skips, or fails under CI=true like a missing service.
"""

import asyncio
import datetime as dt
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import time

import aiomqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from nethelpers import DEV_A, LPP_A, CityRun, chirpstack_up, readings, rows, run, uid, write_city


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, issuer, key, issuer_key, *, ca=False, san=None):
    now = dt.datetime.now(dt.UTC)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(minutes=5))
         .not_valid_after(now + dt.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _write(path, cert=None, key=None):
    data = b""
    if cert is not None:
        data += cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        data += key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    path.write_bytes(data)
    return path


def make_pki(d):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("hromada test CA", "hromada test CA", ca_key, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert("127.0.0.1", "hromada test CA", server_key, ca_key,
                   san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        x509.DNSName("localhost")])
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("hromada-city", "hromada test CA", client_key, ca_key)
    return {
        "ca": _write(d / "ca.pem", ca),
        "server": _write(d / "server.pem", server), "server_key": _write(d / "server.key",
                                                                         key=server_key),
        "client": _write(d / "client.pem", client), "client_key": _write(d / "client.key",
                                                                         key=client_key),
    }


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tls_broker(tmp_path):
    exe = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if exe is None:
        msg = "the mosquitto binary is not installed (needed for a TLS broker)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " (CI=true)")
        pytest.skip(msg)
    pki = make_pki(tmp_path)
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"""
user root
persistence false
log_dest stderr
listener {port} 127.0.0.1
cafile {pki['ca']}
certfile {pki['server']}
keyfile {pki['server_key']}
require_certificate true
allow_anonymous true
""")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("test broker did not start: "
                                       + proc.stderr.read().decode()) from None
                time.sleep(0.05)
        yield port, pki
    finally:
        proc.terminate()
        proc.wait(5)


def _client_tls(pki):
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    ctx.load_cert_chain(str(pki["client"]), str(pki["client_key"]))
    return ctx


def test_mqtts_with_client_certificates_for_source_and_sink(tmp_path, tls_broker):
    port, pki = tls_broker
    app = uid()
    tls = {"ca_file": str(pki["ca"]), "cert_file": str(pki["client"]),
           "key_file": str(pki["client_key"])}
    opts = "".join(f"{k} = {json.dumps(v)}\n" for k, v in tls.items())
    path = write_city(tmp_path, f"""
[sources.cs]
plugin = "chirpstack"
url = "mqtts://127.0.0.1:{port}"
application_id = "{app}"
{opts}
[sources.nocert]
plugin = "chirpstack"
url = "mqtts://127.0.0.1:{port}"
application_id = "{app}-x"
ca_file = "{pki['ca']}"
reconnect_min = 30
timeout = 1

[sinks.db]
plugin = "sqlite"
path = "out.db"

[sinks.bus]
plugin = "mqtt"
url = "mqtts://127.0.0.1:{port}"
reading_topic = "out/{app}/{{device}}/{{quantity}}"
{opts}""")

    async def main():
        async with aiomqtt.Client("127.0.0.1", port, tls_context=_client_tls(pki)) as c:
            await c.subscribe(f"out/{app}/#", qos=1)
            async with CityRun(path) as city:
                await city.source("cs")
                await city.until(lambda k: k.errors["connection"] >= 1,
                                 what="the source without a certificate to fail")
                await c.publish(f"application/{app}/device/{DEV_A}/event/up",
                                json.dumps(chirpstack_up(DEV_A, 1, LPP_A, app=app)), qos=1)
                got = []
                async with asyncio.timeout(5):
                    async for m in c.messages:
                        got.append((m.topic.value, json.loads(m.payload)["value"]))
                        if len(got) == 2:
                            break
                return sorted(got), await city.stop()

    got, summary = run(main())
    assert summary["readings"] == 2
    assert got == [(f"out/{app}/{DEV_A}/relative_humidity_2", 40.0),
                   (f"out/{app}/{DEV_A}/temperature_1", 21.5)]
    assert [r[2:] for r in readings(tmp_path / "out.db")] == [
        ("relative_humidity_2", 40.0, "%RH"), ("temperature_1", 21.5, "Cel")]
    assert summary["errors_by_kind"] == {"connection": 1}
    message = json.loads(rows(tmp_path / "out.db",
                              "select data from events where kind = 'connection.error'")[0][0]
                         )["message"]
    assert message.startswith(f"chirpstack source nocert: broker mqtts://127.0.0.1:{port} "
                              "unreachable (")
