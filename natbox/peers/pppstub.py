"""A stand-in for pppd where the host kernel has no PPP: it speaks PPP's HDLC-like framing
(RFC 1662) and LCP (RFC 1661) on a byte stream, enough for a VPN's control and data channels to
carry real PPP frames both ways. It opens LCP (Configure-Request/-Ack), then sends an
Echo-Request every half second and answers the peer's, and keeps what it saw in a JSON file.

pptpd and xl2tpd start it in pppd's place, on the call's pty (stdin/stdout); on the client side
``--spawn pptp SERVER --nolaunchpppd`` starts the VPN client on a socket pair and speaks on the
other end, as pppd's ``pty`` option would."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import shlex
import socket
import struct
import subprocess
import sys
import time
import tty
from collections import Counter
from collections.abc import Callable
from pathlib import Path

FLAG, ESCAPE = 0x7E, 0x7D
LCP = 0xC021
CONFIGURE_REQUEST, CONFIGURE_ACK, ECHO_REQUEST, ECHO_REPLY = 1, 2, 9, 10
CODE_NAMES = {1: "configure-request", 2: "configure-ack", 3: "configure-nak",
              4: "configure-reject", 5: "terminate-request", 6: "terminate-ack",
              9: "echo-request", 10: "echo-reply"}  # fmt: skip
INTERVAL = 0.5


def fcs16(data: bytes) -> int:
    """RFC 1662's frame check sequence (CRC-16/X.25, reflected)."""
    fcs = 0xFFFF
    for byte in data:
        fcs ^= byte
        for _ in range(8):
            fcs = (fcs >> 1) ^ 0x8408 if fcs & 1 else fcs >> 1
    return fcs ^ 0xFFFF


def frame(protocol: int, payload: bytes) -> bytes:
    """An HDLC-like frame: address, control, protocol, payload, FCS; every control character
    escaped (the default async map)."""
    body = struct.pack("!BBH", 0xFF, 0x03, protocol) + payload
    body += struct.pack("<H", fcs16(body))
    out = bytearray([FLAG])
    for byte in body:
        if byte < 0x20 or byte in (FLAG, ESCAPE):
            out += bytes([ESCAPE, byte ^ 0x20])
        else:
            out.append(byte)
    out.append(FLAG)
    return bytes(out)


class Deframer:
    """Bytes in, whole frames (protocol, payload) out; frames with a bad FCS are counted."""

    def __init__(self):
        self.buffer = bytearray()
        self.bad = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buffer += data
        frames = []
        while (end := self.buffer.find(FLAG, 1)) != -1:
            raw, self.buffer = bytes(self.buffer[:end]), self.buffer[end:]
            body = _unescape(raw.lstrip(bytes([FLAG])))
            if len(body) < 6:
                continue
            if struct.unpack("<H", body[-2:])[0] != fcs16(body[:-2]):
                self.bad += 1
                continue
            body = body[:-2]
            if body[:2] == b"\xff\x03":  # address and control (may be compressed away)
                body = body[2:]
            frames.append((struct.unpack("!H", body[:2])[0], body[2:]))
        return frames


def _unescape(raw: bytes) -> bytes:
    out, escaped = bytearray(), False
    for byte in raw:
        if escaped:
            out.append(byte ^ 0x20)
            escaped = False
        elif byte == ESCAPE:
            escaped = True
        else:
            out.append(byte)
    return bytes(out)


def lcp(code: int, ident: int, data: bytes, encode: Callable[[int, bytes], bytes] = frame) -> bytes:
    return encode(LCP, struct.pack("!BBH", code, ident, 4 + len(data)) + data)


class Lcp:
    """Our side of LCP: what to send now, and the answer to what arrived. ``encode`` makes a
    frame of (protocol, payload): HDLC-like on a byte stream, else the carrier's own (SSTP
    carries PPP frames whole)."""

    def __init__(self, magic: int, encode: Callable[[int, bytes], bytes] = frame):
        self.encode = encode
        self.magic = struct.pack("!I", magic)
        self.ident = 0
        self.acked = False  # our Configure-Request was acknowledged
        self.peer_acked = False  # we acknowledged the peer's
        self.received: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()

    @property
    def opened(self) -> bool:
        return self.acked and self.peer_acked

    def tick(self) -> list[bytes]:
        self.ident = (self.ident + 1) & 0xFF
        if not self.acked:
            return [self._send(CONFIGURE_REQUEST, b"\x05\x06" + self.magic)]
        if self.opened:
            return [self._send(ECHO_REQUEST, self.magic + b"natbox")]
        return []

    def receive(self, protocol: int, payload: bytes) -> list[bytes]:
        if protocol != LCP or len(payload) < 4:
            self.received["other"] += 1
            return []
        code, ident, length = struct.unpack("!BBH", payload[:4])
        data = payload[4:length]
        self.received[CODE_NAMES.get(code, str(code))] += 1
        if code == CONFIGURE_REQUEST:
            self.peer_acked = True
            return [self._send(CONFIGURE_ACK, data, ident)]
        if code == CONFIGURE_ACK:
            self.acked = True
        elif code == ECHO_REQUEST:
            return [self._send(ECHO_REPLY, self.magic + data[4:], ident)]
        return []

    def _send(self, code: int, data: bytes, ident: int | None = None) -> bytes:
        self.sent[CODE_NAMES[code]] += 1
        return lcp(code, self.ident if ident is None else ident, data, self.encode)

    def report(self, bad: int) -> dict:
        return {"opened": self.opened, "received": dict(self.received),
                "sent": dict(self.sent), "bad_fcs": bad, "pid": os.getpid()}  # fmt: skip


def speak(read_fd: int, write_fd: int, status: str, child: subprocess.Popen | None,
          passive: bool = False) -> None:  # fmt: skip
    """``passive``: send nothing until the peer's first frame arrives (pppd's ``passive``),
    for a VPN client that must not get PPP before its tunnel is up."""
    link = Lcp(int.from_bytes(os.urandom(4), "big") | 1)
    deframer = Deframer()
    next_tick = 0.0
    heard = False
    while child is None or child.poll() is None:
        now = time.monotonic()
        if now >= next_tick:
            for out in link.tick() if heard or not passive else ():
                os.write(write_fd, out)
            next_tick = now + INTERVAL
            write_status(status, link.report(deframer.bad))
        ready, _, _ = select.select([read_fd], [], [], max(0.0, next_tick - now))
        if ready:
            data = os.read(read_fd, 4096)
            if not data:
                break  # the VPN program closed the link
            for protocol, payload in deframer.feed(data):
                heard = True
                for out in link.receive(protocol, payload):
                    os.write(write_fd, out)
    write_status(status, link.report(deframer.bad))


def write_status(path: str, report: dict) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w") as f:
        json.dump(report, f)
    os.replace(temporary, path)


def launcher(script: Path, name: str) -> Path:
    """A script that starts the stand-in, for a VPN server that runs its pppd by path (pptpd's
    "ppp" option; xl2tpd's fixed /usr/sbin/pppd): each call's status goes to
    ``<name>-<pid>-lcp.json`` beside it."""
    status = script.parent / f"{name}-$$-lcp.json"
    python_path = shlex.quote(":".join(sys.path))
    script.write_text(f"#!/bin/sh\nexec env PYTHONPATH={python_path} {sys.executable} -m "
                      f"natbox.peers.pppstub --status {status} \"$@\"\n")  # fmt: skip
    script.chmod(0o755)
    return script


def statuses(paths) -> list[dict]:
    """What the stand-ins writing ``paths`` saw (a file caught between two writes is skipped)."""
    seen = []
    for path in paths:
        with contextlib.suppress(OSError, ValueError):
            seen.append(json.loads(path.read_text()))
    return seen


def wait_until_open(read: Callable[[], list[dict]], running: Callable[[], bool],
                    timeout: float) -> dict:  # fmt: skip
    """The first status whose LCP opened and got an echo back, or the last one seen when
    ``timeout`` passed or the VPN program exited."""
    deadline = time.monotonic() + timeout
    seen: dict = {}
    while time.monotonic() < deadline:
        for seen in read():
            if seen.get("opened") and seen.get("received", {}).get("echo-reply"):
                return seen
        if not running():
            break
        time.sleep(0.2)
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--status", required=True, help="JSON file: what LCP saw so far")
    parser.add_argument("--passive", action="store_true",
                        help="send nothing before the peer's first frame")  # fmt: skip
    parser.add_argument(
        "--spawn",
        nargs=argparse.REMAINDER,
        help="a VPN client to start on a socket pair (its stdin and stdout)",
    )
    args, _pppd_options = parser.parse_known_args(argv)  # pptpd passes pppd's own options
    if args.spawn:
        ours, theirs = socket.socketpair()
        child = subprocess.Popen(args.spawn, stdin=theirs, stdout=theirs)
        theirs.close()
        try:
            speak(ours.fileno(), ours.fileno(), args.status, child, args.passive)
        finally:
            if child.poll() is None:
                child.terminate()
                child.wait(5)
        return 0
    read_fd, write_fd = sys.stdin.fileno(), sys.stdout.fileno()
    devices = [a for a in _pppd_options if a.startswith("/dev/")]
    if devices and not os.isatty(read_fd):  # given the call's tty by name, as pppd can be
        read_fd = write_fd = os.open(devices[0], os.O_RDWR | os.O_NOCTTY)
    if os.isatty(read_fd):  # a call's pty: raw, as pppd sets it (no echo, no lines)
        tty.setraw(read_fd)
    speak(read_fd, write_fd, args.status, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
