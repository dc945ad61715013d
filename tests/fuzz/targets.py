"""One fuzz target per parser that takes outside bytes: ``TARGETS[name](data)``.

A target feeds ``data`` to the real code the way outside input reaches it. Returning, or
raising one of the parser's documented refusals, is a pass; anything else raises: an
unexpected exception, or :class:`Crash` (the engine contained one as ``internal_error``).

Protocol targets read ``data`` as framed messages (see :func:`messages`), so one input can
be a conversation: an Outgoing-Call-Request and its reply, an INVITE and its 200 OK.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fuzz import packets as P
from fuzz.engines import SSTP_SERVER, Crash, Primed, Session, check
from nat import ipv4
from nat.direction import LAN, WAN
from nat.passthrough import ipsec, l2tp, rtsp, sip_message, sstp
from router.firmware import format as fw
from router.firmware import verify
from router.firmware.keyring import Keyring
from router.model import RouterConfig
from router.store import dump_json, parse_json
from router.update import bootenv, slots

__all__ = ["TARGETS", "Crash", "frame", "messages"]

MAX_MESSAGES = 8
SERVER2 = ipv4.addr("198.51.100.20")


# -- input framing ---------------------------------------------------------------------------


def frame(from_wan: bool, payload: bytes, variant: int = 0) -> bytes:
    """One message as :func:`messages` reads it (for seeds and regression tests)."""
    return bytes([from_wan | variant << 1]) + len(payload).to_bytes(2, "big") + payload


def messages(data: bytes) -> Iterator[tuple[bool, int, bytes]]:
    """(from WAN, variant, payload) per message: a flags byte, a 16-bit length, the bytes."""
    for _ in range(MAX_MESSAGES):
        if not data:
            return
        flags, length = data[0], int.from_bytes(data[1:3], "big")
        yield bool(flags & 1), flags >> 1, data[3 : 3 + length]
        data = data[3 + length :]


# -- IPv4 and its transports ------------------------------------------------------------------

# Open flows the packet targets aim at: TCP to port 80, UDP to 53, as the seeds use them.
_PACKETS = Session(Primed(tcp_ports=(80,), udp_ports=(53,)))


def _receive(side: str, packet: bytes) -> None:
    def body(session: Session, packet: bytes) -> None:
        engine = session.talk("tcp", 80).engine
        check(engine, engine.receive(side, packet, engine.now))

    _PACKETS.run(body, packet)


def ipv4_target(data: bytes) -> None:
    """Raw bytes as an IPv4 packet: the first byte picks the side it arrives on."""
    if data:
        _receive(WAN if data[0] & 1 else LAN, data[1:])


def _addresses(from_wan: bool) -> tuple[str, bytes, bytes]:
    return (WAN, P.SERVER, P.PUBLIC) if from_wan else (LAN, P.CLIENT, P.SERVER)


def _transport_target(proto: int) -> Callable[[bytes], None]:
    def target(data: bytes) -> None:
        """The bytes as the segment above a sound IPv4 header, checksum made right."""
        if data:
            side, src, dst = _addresses(bool(data[0] & 1))
            _receive(side, P.ip_packet(src, dst, proto, data[1:]))

    return target


# ICMP errors the engine translates: (type, code), picked by the first byte.
_ERRORS = ((3, 3), (3, 4), (11, 0), (12, 0), (3, 1), (4, 0), (5, 1), (3, 13))


def icmp_embedded_target(data: bytes) -> None:
    """The bytes as the packet an ICMP error quotes (RFC 792): the embedded headers."""
    if data:
        from_wan = bool(data[0] & 1)
        icmp_type, code = _ERRORS[data[0] >> 1 & 7]
        side, src, dst = (WAN, SERVER2, P.PUBLIC) if from_wan else (LAN, P.CLIENT, P.SERVER)
        rest = 1280 if (icmp_type, code) == (3, 4) else 0
        _receive(side, P.icmp(src, dst, icmp_type, code, rest, data[1:]))


# -- passthrough helpers and ALGs --------------------------------------------------------------


_PPTP = Session(Primed(tcp_ports=(1723,)))


def _pptp(session: Session, data: bytes) -> None:
    talk = session.talk("tcp", 1723)
    for from_wan, _, payload in messages(data):
        talk.send(from_wan, payload)


def pptp_target(data: bytes) -> None:
    """PPTP control messages (RFC 2637) both ways on an open TCP 1723 connection."""
    _PPTP.run(_pptp, data)


_IKE_INIT = bytes(8) + bytes(8) + bytes([33, 0x20, 34, 0x08]) + bytes(4) + (28).to_bytes(4, "big")
_IKE = Session(Primed(udp_ports=(500, 4500), udp_first={500: b"\x11" * 8 + _IKE_INIT[8:]}))


def _ike(session: Session, data: bytes) -> None:
    for from_wan, variant, payload in messages(data):
        ipsec.ikev2_error_notify(payload)
        session.talk("udp", 4500 if variant & 1 else 500).send(from_wan, payload)


def ike_target(data: bytes) -> None:
    """IKE headers on UDP 500 (variant 0) or behind NAT-T's non-ESP marker on 4500."""
    _IKE.run(_ike, data)


_SIP = Session(Primed(tcp_ports=(5060,), udp_ports=(5060,)))


def sip_target(data: bytes) -> None:
    """SIP messages with SDP: the parser itself, then the ALG over UDP (0) or TCP (1)."""
    _SIP.run(_sip, data)


def _sip(session: Session, data: bytes) -> None:
    for from_wan, variant, payload in messages(data):
        sip_message.split_stream(payload)
        message = sip_message.parse(payload)
        if message is not None:
            lines, _ = sip_message.sdp_lines(message.body)
            sip_message.media_lines(lines)
            message.to_bytes()
        session.talk("tcp" if variant & 1 else "udp", 5060).send(from_wan, payload)


_RTSP = Session(Primed(tcp_ports=(554,)))


def rtsp_target(data: bytes) -> None:
    """RTSP requests and replies (RFC 2326) on an open TCP 554 connection."""
    _RTSP.run(_rtsp, data)


def _rtsp(session: Session, data: bytes) -> None:
    talk = session.talk("tcp", 554)
    for from_wan, _, payload in messages(data):
        rtsp.split_stream(payload)
        message = rtsp.parse(payload)
        if message is not None:
            message.to_bytes()
        talk.send(from_wan, payload)


# SSTP is judged on a connection's first bytes: a fresh connection each time.
_SSTP = Session(Primed(tcp_ports=(443,)))
_SSTP.fresh = True


def sstp_target(data: bytes) -> None:
    """A client's first bytes on TCP 443: SSTP_DUPLEX_POST or a TLS ClientHello's SNI."""
    _SSTP.run(_sstp, data)


def _sstp(session: Session, data: bytes) -> None:
    talk = session.talk("tcp", 443)
    for from_wan, _, payload in messages(data):
        sstp.recognise(payload, (SSTP_SERVER,))
        talk.send(from_wan, payload)


_L2TP = Session(Primed(udp_ports=(1701,)))


def l2tp_target(data: bytes) -> None:
    """L2TPv2 headers (RFC 2661) on UDP 1701."""
    _L2TP.run(_l2tp, data)


def _l2tp(session: Session, data: bytes) -> None:
    talk = session.talk("udp", 1701)
    for from_wan, _, payload in messages(data):
        l2tp.parse_header(payload)
        talk.send(from_wan, payload)


# -- files from outside -------------------------------------------------------------------------


def config_target(data: bytes) -> None:
    """A configuration import (the stored file, a restore): strict JSON, then the model."""
    try:
        parsed = parse_json(data.decode("utf-8"))
    except UnicodeDecodeError:  # not text: refused before the model
        return
    except ValueError:  # ConfigError: not (standard) JSON, too deep
        return
    # What was accepted is also written back strictly (no NaN): it must be writable.
    dump_json(parsed)
    try:
        config = RouterConfig.from_dict(parsed)
    except ValueError:  # ConfigError: the documented refusal
        return
    # What was accepted is saved and read back at boot: it must come back the same.
    if RouterConfig.from_dict(config.to_dict()) != config:
        raise Crash("an accepted configuration does not survive to_dict/from_dict")


# A fixed key, so seeds signed with it pass the signature check and reach the later ones.
FIRMWARE_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
_KEYRING = Keyring({"fuzz": FIRMWARE_KEY.public_key()})
BOARD = "natbox,qemu-x86_64"


def firmware_target(data: bytes) -> None:
    """A firmware upload through every check the device runs on it (format, signature...)."""
    verify.validate(data, _KEYRING, BOARD, "1.0")


def manifest_target(data: bytes) -> None:
    """A firmware manifest on its own; FormatError is the documented refusal."""
    try:
        fw.Manifest.from_bytes(data)
    except fw.FormatError:
        return


def bootenv_target(data: bytes) -> None:
    """A boot environment copy as the bootloader stage and the device read it. The first
    byte's low bit makes the CRC hold (random bytes never pass a CRC32, so nothing would
    reach the variables); then the slot policy on whatever they say (attempts, states and an
    order that are not numbers or names), and a save of what was read, read back the same."""
    if not data:
        return
    body = data[1:]
    if data[0] & 1:
        raw = zlib.crc32(body).to_bytes(4, "little") + bytes([data[0] >> 1]) + body
    else:
        raw = data
    copy = bootenv.decode(raw)
    if not copy.good:
        return
    env = copy.variables
    fails = data[-1] & 1  # whether the slots the policy tries verify
    chosen = slots.select(env, lambda slot: "does not verify" if fails else None, lambda e: None)
    if chosen.slot is not None and fails:
        raise Crash("the bootloader chose a slot that does not verify")
    try:
        again = bootenv.decode(bootenv.encode(env, copy.flag, max(len(raw), bootenv.HEADER + 2)))
    except bootenv.EnvError:  # a name it cannot store (empty): refused, not written
        return
    if again.variables != env:
        raise Crash("a boot environment read and saved does not read back the same")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "ipv4": ipv4_target,
    "tcp": _transport_target(ipv4.TCP),
    "udp": _transport_target(ipv4.UDP),
    "icmp": _transport_target(ipv4.ICMP),
    "icmp_embedded": icmp_embedded_target,
    "pptp": pptp_target,
    "ike": ike_target,
    "sip": sip_target,
    "rtsp": rtsp_target,
    "sstp": sstp_target,
    "l2tp": l2tp_target,
    "config": config_target,
    "firmware": firmware_target,
    "manifest": manifest_target,
    "bootenv": bootenv_target,
}


def _selftest(data: bytes) -> None:
    if data.startswith(b"NATBOX"):
        raise Crash("the planted crash of the fuzz harness's self-test")


# Not a parser: proves that a crash stops a run and leaves its input (its seed is one).
SELFTEST = {"selftest": _selftest}
