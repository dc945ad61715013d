"""Writes the seed corpora, tests/data/fuzz/<target>/: ``cd tests && python -m fuzz.seeds``.

A few valid inputs per target, so the fuzzer starts inside each parser rather than at its
first length check. Kept small (kilobytes) because they are committed.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from scapy.layers.l2tp import L2TP
from scapy.layers.pptp import (
    PPTPCallDisconnectNotify,
    PPTPOutgoingCallReply,
    PPTPOutgoingCallRequest,
    PPTPSetLinkInfo,
    PPTPStartControlConnectionRequest,
)
from scapy.layers.tls.extensions import ServerName, TLS_Ext_ServerName
from scapy.layers.tls.handshake import TLSClientHello
from scapy.layers.tls.record import TLS

from fuzz import packets as P
from fuzz.engines import SSTP_SERVER
from fuzz.run import SEEDS
from fuzz.targets import FIRMWARE_KEY, frame
from nat.passthrough.sstp import DUPLEX_POST
from natbox.firmware.keys import sign
from router.firmware import format as fw
from router.model import RouterConfig

EXT = P.CLIENT_PORT  # the primed flows keep their port (port preservation)


def _l4(packet: bytes) -> bytes:
    return packet[20:]


def packet_seeds() -> dict[str, list[bytes]]:
    lan_tcp = P.tcp(P.CLIENT, P.SERVER, EXT, 80, P.PUSH_ACK, P.CLIENT_ISN, P.SERVER_ISN, b"GET /")
    wan_tcp = P.tcp(P.SERVER, P.PUBLIC, 80, EXT, P.ACK, P.SERVER_ISN, P.CLIENT_ISN + 5)
    lan_udp = P.udp(P.CLIENT, P.SERVER, EXT, 53, b"query")
    wan_udp = P.udp(P.SERVER, P.PUBLIC, 53, EXT, b"answer")
    echo = P.icmp(P.CLIENT, P.SERVER, 8, 0, 0x12340001, b"ping")
    sent_udp = P.udp(P.PUBLIC, P.SERVER, EXT, 53, b"query")
    sent_tcp = P.tcp(P.PUBLIC, P.SERVER, EXT, 80, P.PUSH_ACK, P.CLIENT_ISN, P.SERVER_ISN)
    unreachable = P.icmp(P.SERVER, P.PUBLIC, 3, 3, 0, sent_udp)
    from_server = P.udp(P.SERVER, P.CLIENT, 53, EXT, b"answer")
    return {
        "ipv4": [
            b"\0" + lan_tcp,
            b"\1" + wan_tcp,
            b"\0" + lan_udp,
            b"\1" + wan_udp,
            b"\0" + echo,
            b"\1" + unreachable,
        ],
        "tcp": [b"\0" + _l4(lan_tcp), b"\1" + _l4(wan_tcp)],
        "udp": [b"\0" + _l4(lan_udp), b"\1" + _l4(wan_udp)],
        "icmp": [b"\0" + _l4(echo), b"\1" + _l4(unreachable)],
        # The first byte: bit 0 from the WAN, bits 1-3 the error type (targets._ERRORS).
        "icmp_embedded": [
            b"\1" + sent_udp,
            b"\3" + sent_tcp,
            b"\5" + sent_udp,
            b"\0" + from_server,
        ],
    }


def pptp_seeds() -> list[bytes]:
    start = bytes(PPTPStartControlConnectionRequest())
    call = bytes(PPTPOutgoingCallRequest(call_id=0x4A11))
    reply = bytes(PPTPOutgoingCallReply(call_id=7, peer_call_id=0x4A11, result_code=1))
    link = bytes(PPTPSetLinkInfo(peer_call_id=0x4A11))
    hangup = bytes(PPTPCallDisconnectNotify(call_id=7))
    return [
        frame(False, start),
        frame(False, call) + frame(True, reply) + frame(True, link) + frame(True, hangup),
        frame(False, call + call),
    ]


def _ike(spi_i: bytes, spi_r: bytes, flags: int, payloads: bytes, first: int) -> bytes:
    header = spi_i + spi_r + bytes([first, 0x20, 34, flags]) + bytes(4)
    return header + (28 + len(payloads)).to_bytes(4, "big") + payloads


def ike_seeds() -> list[bytes]:
    spi_i, spi_r = b"\x11" * 8, b"\x22" * 8
    init = _ike(spi_i, bytes(8), 0x08, struct.pack("!BBH", 0, 0, 8) + bytes(4), 33)
    notify = struct.pack("!BBHBBH", 0, 0, 8, 0, 0, 14)  # NO_PROPOSAL_CHOSEN
    refused = _ike(spi_i, spi_r, 0x20, notify, 41)
    return [
        frame(False, init) + frame(True, refused),
        frame(False, init, 0) + frame(False, bytes(4) + init, 1) + frame(True, b"\xff", 1),
    ]


def sip_seeds() -> list[bytes]:
    sdp = (
        "v=0\r\no=alice 1 1 IN IP4 192.168.1.10\r\ns=-\r\nc=IN IP4 192.168.1.10\r\nt=0 0\r\n"
        "m=audio 40000 RTP/AVP 0\r\na=rtcp:40001\r\n"
    )
    common = (
        "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK1\r\n"
        "From: <sip:alice@192.168.1.10>;tag=1\r\nTo: <sip:bob@198.51.100.10>\r\n"
        "Call-ID: call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.168.1.10:5060>\r\n"
        "Content-Type: application/sdp\r\n"
    )
    invite = (
        f"INVITE sip:bob@198.51.100.10 SIP/2.0\r\n{common}Content-Length: {len(sdp)}\r\n\r\n{sdp}"
    )
    ok_sdp = sdp.replace("192.168.1.10", "198.51.100.10").replace("40000", "30000")
    ok = f"SIP/2.0 200 OK\r\n{common}Content-Length: {len(ok_sdp)}\r\n\r\n{ok_sdp}"
    register = (
        "REGISTER sip:198.51.100.10 SIP/2.0\r\n"
        + common.replace("1 INVITE", "2 REGISTER")
        + "Expires: 60\r\nContent-Length: 0\r\n\r\n"
    )
    return [
        frame(False, invite.encode()) + frame(True, ok.encode()),
        frame(False, invite.encode(), 1) + frame(True, ok.encode(), 1),
        frame(False, register.encode()),
    ]


def rtsp_seeds() -> list[bytes]:
    setup = (
        b"SETUP rtsp://198.51.100.10/movie RTSP/1.0\r\nCSeq: 2\r\n"
        b"Transport: RTP/AVP;unicast;client_port=40000-40001\r\n\r\n"
    )
    reply = (
        b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nSession: 12345678\r\n"
        b"Transport: RTP/AVP;unicast;client_port=40000-40001;server_port=6970-6971\r\n\r\n"
    )
    teardown = (
        b"TEARDOWN rtsp://198.51.100.10/movie RTSP/1.0\r\nCSeq: 3\r\nSession: 12345678\r\n\r\n"
    )
    interleaved = b"$\x00\x00\x04abcd"
    return [
        frame(False, setup) + frame(True, reply) + frame(False, teardown),
        frame(False, interleaved + setup),
    ]


def sstp_seeds() -> list[bytes]:
    sni = TLS_Ext_ServerName(servernames=[ServerName(servername=SSTP_SERVER.encode())])
    # A fixed time and random, so that rewriting the seeds leaves them as they are.
    hello = TLS(msg=[TLSClientHello(gmt_unix_time=0, random_bytes=bytes(28), ext=[sni])])
    post = (
        DUPLEX_POST
        + b" HTTP/1.1\r\nHost: vpn.example.com\r\nContent-Length: 18446744073709551615\r\n\r\n"
    )
    return [
        frame(False, bytes(hello)),
        frame(False, post) + frame(True, b"HTTP/1.1 200 OK\r\n\r\n"),
    ]


def l2tp_seeds() -> list[bytes]:
    sccrq = bytes(L2TP(hdr="control+length", tunnel_id=0, session_id=0)) + struct.pack(
        "!HHHH", 0x8008, 0, 0, 1
    )
    data = bytes(L2TP(tunnel_id=7, session_id=1)) + b"\xff\x03\xc0\x21"
    return [frame(False, sccrq) + frame(True, sccrq), frame(False, data)]


def config_seeds() -> list[bytes]:
    full = RouterConfig().to_dict()
    return [json.dumps(full).encode(), b"{}", json.dumps({"nat": full["nat"]}).encode()]


def firmware_seeds() -> tuple[list[bytes], list[bytes]]:
    parts = [fw.Payload("kernel", b"K" * 16, "linux-bzimage"), fw.Payload("rootfs", b"R" * 16)]
    manifest = fw.Manifest(
        "natbox_x86_64",
        "natbox,qemu-x86_64",
        "0.1.0",
        "1.0",
        fw.build_id(parts, "0.1.0"),
        1700000000,
        tuple(p.describe() for p in parts),
    )
    kid, sig = sign(FIRMWARE_KEY, manifest.to_bytes())
    return [fw.pack(manifest, parts, kid, sig)], [manifest.to_bytes()]


def bootenv_seeds() -> list[bytes]:
    """Environments the bootloader meets: a new disk's, mid-update (trial) and after a
    rollback; each as the target reads it (a flags byte asking for the CRC to be made, then
    the copy's data)."""
    from router.update import bootenv, slots

    new = slots.initial("0.1.0")
    trial = slots.switch_to(slots.begin_write(new, "B"), "B", "0.2.0")
    back = slots.mark_bad(trial, "B")
    return [b"\x03" + bootenv.encode(env, 1, 256)[bootenv.HEADER :] for env in (new, trial, back)]


def all_seeds() -> dict[str, list[bytes]]:
    firmware, manifests = firmware_seeds()
    return {
        **packet_seeds(),
        "pptp": pptp_seeds(),
        "ike": ike_seeds(),
        "sip": sip_seeds(),
        "rtsp": rtsp_seeds(),
        "sstp": sstp_seeds(),
        "l2tp": l2tp_seeds(),
        "config": config_seeds(),
        "firmware": firmware,
        "manifest": manifests,
        "bootenv": bootenv_seeds(),
        "selftest": [b"NATBOX: the planted crash"],
    }


def write(root: Path = SEEDS) -> None:
    for target, seeds in all_seeds().items():
        folder = root / target
        folder.mkdir(parents=True, exist_ok=True)
        for seed in seeds:
            # Named by content, as libFuzzer names its corpus files: rewriting is idempotent.
            (folder / f"seed-{hashlib.sha1(seed).hexdigest()[:12]}").write_bytes(seed)


if __name__ == "__main__":
    write()
