"""Simulated LoRaWAN gateways and devices on real UDP sockets, for tests and benchmarks.

:class:`SimGateway` is a Semtech packet forwarder as a network server sees it: it sends
PUSH_DATA (``rxpk`` records with its own microsecond ``tmst`` counter) and PULL_DATA
from its EUI over a real UDP socket, collects PUSH_ACK/PULL_ACK and the PULL_RESP
downlinks, and answers them with TX_ACK.  :class:`SimDevice` builds the frames a device
would send (ABP or OTAA: join-request, then uplinks with the derived session keys) and
reads the downlinks meant for it.  :func:`blast` is a blocking sender for benchmarks: it
keeps a window of PUSH_DATA in flight, paced by the PUSH_ACKs, so no datagram is lost to
a full socket buffer.

The GWMP datagrams come from :mod:`hromada_plugins.sources.semtech_udp.gwmp`, the same
code the ``semtech-udp`` source parses them with.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import select
import socket
import time

from hromada import lorawan
from hromada_plugins.sources.semtech_udp import gwmp

TIMEOUT = 5.0


class SimDevice:
    """A LoRaWAN 1.0 device: ABP (``dev_addr``, ``nwkskey``, ``appskey``) or OTAA
    (``appkey``, ``join_eui``; call :meth:`join_request` and :meth:`accept`)."""

    def __init__(self, dev_eui, *, dev_addr=None, nwkskey=None, appskey=None, appkey=None,
                 join_eui="0000000000000000", fcnt_up=0, dev_nonce=0):
        self.dev_eui = dev_eui.lower()
        self.dev_addr = dev_addr
        self.nwkskey = lorawan.parse_key(nwkskey, "nwkskey")
        self.appskey = lorawan.parse_key(appskey, "appskey")
        self.appkey = lorawan.parse_key(appkey, "appkey")
        self.join_eui = join_eui
        self.fcnt_up = fcnt_up
        self.fcnt_down = 0
        self.dev_nonce = dev_nonce
        self.last_dev_nonce = None  # of the last join-request, which accept() answers
        self.rx_delay = None
        self.cflist = None

    def __repr__(self):
        return f"SimDevice({self.dev_eui!r}, dev_addr={self.dev_addr!r})"

    def uplink(self, payload, fport=1, *, confirmed=False, fcnt=None, ack=False, fopts=b"",
               adr=False, adr_ack_req=False):
        """The PHYPayload of the next uplink (the counter advances unless ``fcnt``);
        ``fopts``: MAC commands piggybacked in the header; ``adr``, ``adr_ack_req``: the
        FCtrl bits."""
        if self.nwkskey is None:
            raise ValueError(f"device {self.dev_eui} has no session: join first")
        if fcnt is None:
            fcnt = self.fcnt_up
            self.fcnt_up += 1
        return lorawan.encode_data(dev_addr=self.dev_addr, fcnt=fcnt, fport=fport,
                                   payload=payload, confirmed=confirmed, ack=ack,
                                   fopts=fopts, adr=adr, adr_ack_req=adr_ack_req,
                                   nwkskey=self.nwkskey, appskey=self.appskey)

    def join_request(self, dev_nonce=None):
        """A join-request (the DevNonce advances unless given)."""
        if dev_nonce is None:
            self.dev_nonce += 1
            dev_nonce = self.dev_nonce
        self.last_dev_nonce = dev_nonce
        return lorawan.encode_join_request(join_eui=self.join_eui, dev_eui=self.dev_eui,
                                           dev_nonce=dev_nonce, appkey=self.appkey)

    def accept(self, phy, dev_nonce=None):
        """Take a join-accept: decrypt, check its MIC, derive the session keys (with the
        DevNonce of the last join-request unless ``dev_nonce``).  Returns the decoded
        join-accept; raises ValueError when the MIC does not match."""
        frame = lorawan.decode(phy, appkey=self.appkey)
        if frame.mtype != "JoinAccept" or not frame.mic_ok:
            raise ValueError(f"not a join-accept for device {self.dev_eui} "
                             f"({frame.mtype}, mic_ok={frame.mic_ok})")
        keys = lorawan.derive_session_keys_10(
            self.appkey, join_nonce=frame.join_nonce, net_id=frame.net_id,
            dev_nonce=self.last_dev_nonce if dev_nonce is None else dev_nonce)
        self.dev_addr = frame.dev_addr
        self.nwkskey, self.appskey = keys.nwkskey, keys.appskey
        self.fcnt_up = self.fcnt_down = 0
        self.rx_delay = frame.rx_delay
        self.cflist = frame.cflist
        return frame

    def downlink(self, phy):
        """Decode a downlink with the session keys (MIC checked, payload decrypted)."""
        frame = lorawan.decode(phy, nwkskey=self.nwkskey, appskey=self.appskey,
                               fcnt=self.fcnt_down)
        if frame.mic_ok and frame.fcnt is not None:
            self.fcnt_down = frame.fcnt + 1
        return frame


class _GatewayProtocol(asyncio.DatagramProtocol):
    def __init__(self, gw):
        self.gw = gw

    def datagram_received(self, data, addr):
        self.gw._received(data)


class SimGateway:
    """One packet forwarder with EUI ``eui`` talking to ``server`` (host, port)."""

    def __init__(self, eui, server, *, version=2, tmst_start=None):
        self.eui = eui.lower()
        self.server = server
        self.version = version
        self._t0 = time.monotonic()
        self._tmst0 = random.randrange(1 << 32) if tmst_start is None else tmst_start
        self._token = random.randrange(1 << 16)
        self.transport = None
        self.port = None
        self.acks = {}                    # (kind, token) -> Future
        self.downlinks = asyncio.Queue()  # (token, txpk dict, phy bytes)
        self.other = []                   # anything else the server sent

    def __repr__(self):
        return f"SimGateway({self.eui!r})"

    @classmethod
    async def open(cls, eui, server, **kw):
        gw = cls(eui, server, **kw)
        loop = asyncio.get_running_loop()
        gw.transport, _ = await loop.create_datagram_endpoint(
            lambda: _GatewayProtocol(gw), local_addr=("127.0.0.1", 0))
        gw.port = gw.transport.get_extra_info("sockname")[1]
        return gw

    def close(self):
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def tmst(self):
        """The concentrator's free-running microsecond counter (wraps at 2**32)."""
        return (self._tmst0 + int((time.monotonic() - self._t0) * 1e6)) & 0xFFFFFFFF

    def _next_token(self):
        self._token = (self._token + 1) & 0xFFFF
        return self._token

    def _received(self, data):
        try:
            dg = gwmp.parse(data)
        except gwmp.GwmpError:
            self.other.append(data)
            return
        if dg.kind == gwmp.PULL_RESP:
            txpk = (dg.body or {}).get("txpk", {})
            self.downlinks.put_nowait((dg.token, txpk, gwmp.b64decode(txpk.get("data", ""))))
            return
        fut = self.acks.get((dg.kind, dg.token))
        if fut is not None and not fut.done():
            fut.set_result(dg)
        else:
            self.other.append(data)

    def _expect(self, kind, token):
        fut = asyncio.get_running_loop().create_future()
        self.acks[(kind, token)] = fut
        return fut

    async def _wait(self, fut, kind, token, timeout):
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise AssertionError(f"gateway {self.eui}: no {gwmp.NAMES[kind]} for token "
                                 f"{token} within {timeout} s") from None
        finally:
            self.acks.pop((kind, token), None)

    def rxpk(self, phy, *, freq=868.1, datr="SF7BW125", rssi=-80, lsnr=7.5, tmst=None,
             codr="4/5", chan=0, rfch=0, stat=1, with_time=True):
        """One ``rxpk`` record as this gateway would report ``phy``."""
        pk = {}
        if with_time:
            pk["time"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        pk.update({"tmst": self.tmst() if tmst is None else tmst, "chan": chan, "rfch": rfch,
                   "freq": freq, "stat": stat, "modu": "LORA", "datr": datr, "codr": codr,
                   "rssi": rssi, "lsnr": lsnr, "size": len(phy), "data": gwmp.b64encode(phy)})
        return pk

    def send_raw(self, data):
        self.transport.sendto(data, self.server)

    def push(self, rxpk=(), stat=None):
        """Send a PUSH_DATA now; returns its token."""
        token = self._next_token()
        self.send_raw(gwmp.push_data(self.eui, token, rxpk=rxpk, stat=stat,
                                     version=self.version))
        return token

    async def push_acked(self, rxpk=(), stat=None, timeout=TIMEOUT):
        """Send a PUSH_DATA and wait for its PUSH_ACK; returns the token."""
        token = self._next_token()
        fut = self._expect(gwmp.PUSH_ACK, token)
        self.send_raw(gwmp.push_data(self.eui, token, rxpk=rxpk, stat=stat,
                                     version=self.version))
        await self._wait(fut, gwmp.PUSH_ACK, token, timeout)
        return token

    async def uplink(self, phy, timeout=TIMEOUT, **radio):
        """This gateway hears ``phy``: PUSH_DATA with one rxpk, acknowledged.  Returns the
        rxpk sent (its ``tmst`` is what downlinks are scheduled from)."""
        pk = self.rxpk(phy, **radio)
        await self.push_acked([pk], timeout=timeout)
        return pk

    async def pull(self, timeout=TIMEOUT):
        """PULL_DATA (the keep-alive that opens the downlink path), acknowledged."""
        token = self._next_token()
        fut = self._expect(gwmp.PULL_ACK, token)
        self.send_raw(gwmp.pull_data(self.eui, token, version=self.version))
        await self._wait(fut, gwmp.PULL_ACK, token, timeout)

    async def downlink(self, timeout=TIMEOUT):
        """The next PULL_RESP: (token, txpk dict, PHYPayload bytes)."""
        try:
            return await asyncio.wait_for(self.downlinks.get(), timeout)
        except TimeoutError:
            raise AssertionError(f"gateway {self.eui}: no PULL_RESP within {timeout} s") from None

    async def no_downlink(self, wait=0.3):
        try:
            item = await asyncio.wait_for(self.downlinks.get(), wait)
        except TimeoutError:
            return
        raise AssertionError(f"gateway {self.eui}: unexpected PULL_RESP {item[1]}")

    def tx_ack(self, token, error="NONE"):
        """Answer a PULL_RESP (``error`` "NONE", "TOO_LATE", ... or None for no JSON)."""
        self.send_raw(gwmp.tx_ack(self.eui, token, error, version=self.version))


async def hear(gateways, phy, *, rssi=(-60, -90, -110), lsnr=(9.0, 4.0, -6.0), **radio):
    """Several gateways hear one uplink (each with its own signal); returns their rxpks."""
    out = []
    for i, gw in enumerate(gateways):
        out.append(await gw.uplink(phy, rssi=rssi[i % len(rssi)], lsnr=lsnr[i % len(lsnr)],
                                   **radio))
    return out


# -- benchmarks -------------------------------------------------------------------------


def push_datagrams(phys, gateway_euis=("aa555a0000000001",), *, first_token=0, **radio):
    """PUSH_DATA datagrams for ``phys``: one per gateway per frame, tokens counting up."""
    out = []
    token = first_token
    tmst = 1_000_000
    for phy in phys:
        for i, eui in enumerate(gateway_euis):
            tmst = (tmst + 5000) & 0xFFFFFFFF
            pk = {"tmst": tmst, "chan": 0, "rfch": 0, "freq": radio.get("freq", 868.1),
                  "stat": 1, "modu": "LORA", "datr": radio.get("datr", "SF7BW125"),
                  "codr": "4/5", "rssi": -60 - 10 * i, "lsnr": 9.0 - 3 * i, "size": len(phy),
                  "data": gwmp.b64encode(phy)}
            out.append(gwmp.push_data(eui, token & 0xFFFF, rxpk=[pk]))
            token += 1
    return out


def blast(server, datagrams, *, window=512, timeout=30.0):
    """Send PUSH_DATA ``datagrams`` to ``server`` keeping at most ``window`` without a
    PUSH_ACK (blocking socket).  Returns (sent, acknowledged, seconds)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.connect(server)
        sock.setblocking(False)
        outstanding = 0
        acked = 0
        n = len(datagrams)
        i = 0
        t0 = time.perf_counter()
        deadline = time.monotonic() + timeout
        last_ack = time.monotonic()
        while acked < n:
            while i < n and outstanding < window:
                try:
                    sock.send(datagrams[i])
                except BlockingIOError:
                    break
                i += 1
                outstanding += 1
            ready, _, _ = select.select([sock], [], [], 0.05)
            if ready:
                while True:
                    try:
                        data = sock.recv(64)
                    except (BlockingIOError, ConnectionRefusedError):
                        break
                    if len(data) >= 4 and data[3] == gwmp.PUSH_ACK:
                        acked += 1
                        outstanding -= 1
                        last_ack = time.monotonic()
            elif time.monotonic() > deadline:
                break
            elif time.monotonic() - last_ack > 1.0 and i < n:
                # Acks were lost (UDP): open the window again rather than stall.
                outstanding = 0
                last_ack = time.monotonic()
        return i, acked, time.perf_counter() - t0
    finally:
        sock.close()
