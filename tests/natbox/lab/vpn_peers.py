"""Scapy-built VPN and ALG peers for the netns tier, run inside lab namespaces:

    ip netns exec NS python vpn_peers.py ROLE [options]

Each role does one exchange and prints one JSON line: what it sent, what came back, and
the fields a test checks (call IDs, SPIs, rewritten SDP). Servers also write their JSON to
--out, since they run in the background.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import struct
import sys
import time

from scapy.layers.isakmp import ISAKMP
from scapy.layers.l2 import GRE_PPTP
from scapy.layers.ppp import PPP
from scapy.layers.pptp import PPTPOutgoingCallReply, PPTPOutgoingCallRequest

ESP, GRE = 50, 47


def udp_socket(address: str, port: int, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.settimeout(timeout)
    return sock


def raw_socket(proto: int, timeout: float, source: str = "0.0.0.0") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
    sock.bind((source, 0))  # the server's own address, not the route's interface address
    sock.settimeout(timeout)
    return sock


def receive_raw(sock: socket.socket, match, timeout: float):
    """The first raw packet (IP header included) that ``match`` accepts, or None."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data, peer = sock.recvfrom(65535)
        except TimeoutError:
            return None
        ihl = (data[0] & 0x0F) * 4
        if match(data[ihl:]):
            return data[ihl:], peer[0]
    return None


# -- L2TP: the server answers from another port ---------------------------------------------


def l2tp_server(args) -> dict:
    sock = udp_socket(args.bind, 1701, args.timeout)
    try:
        data, peer = sock.recvfrom(2048)
    except TimeoutError:
        return {"got": None}
    answer = udp_socket(args.bind, 1702, args.timeout)  # RFC 2661 8.1: another port
    answer.sendto(b"SCCRP:" + data, peer)
    return {"got": data.decode(), "from": f"{peer[0]}:{peer[1]}"}


def l2tp_client(args) -> dict:
    sock = udp_socket("0.0.0.0", 1701, args.timeout)
    sock.sendto(b"SCCRQ", (args.server, 1701))
    try:
        data, peer = sock.recvfrom(2048)
    except TimeoutError:
        return {"reply": None}
    return {"reply": data.decode(), "from": f"{peer[0]}:{peer[1]}"}


# -- IKE on UDP 500 ----------------------------------------------------------------------------


def ike_server(args) -> dict:
    sock = udp_socket(args.bind, 500, args.timeout)
    try:
        data, peer = sock.recvfrom(4096)
    except TimeoutError:
        return {"got": None}
    request = ISAKMP(data)
    reply = ISAKMP(
        init_cookie=request.init_cookie,
        resp_cookie=b"\x42" * 8,
        next_payload=0,
        version=0x20,
        exch_type=34,
        flags=0x20,
    )
    sock.sendto(bytes(reply), peer)
    return {"got": request.init_cookie.hex(), "from": f"{peer[0]}:{peer[1]}"}


def ike_client(args) -> dict:
    sock = udp_socket("0.0.0.0", 500, args.timeout)
    spi = bytes.fromhex(args.spi)
    sock.sendto(
        bytes(ISAKMP(init_cookie=spi, next_payload=0, version=0x20, exch_type=34, flags=0x08)),
        (args.server, 500),
    )
    try:
        data, peer = sock.recvfrom(4096)
    except TimeoutError:
        return {"reply": None}
    reply = ISAKMP(data)
    return {
        "reply": reply.init_cookie.hex(),
        "responder": reply.resp_cookie.hex(),
        "from": f"{peer[0]}:{peer[1]}",
    }


# -- raw ESP ----------------------------------------------------------------------------------


def esp_server(args) -> dict:
    sock = raw_socket(ESP, args.timeout, args.bind)
    got = receive_raw(sock, lambda esp: len(esp) >= 8, args.timeout)
    if got is None:
        return {"got": None}
    esp, source = got
    (spi,) = struct.unpack_from("!I", esp)
    sock.sendto(struct.pack("!II", 0x2000, 1) + b"\x55" * 32, (source, 0))
    return {"got": f"{spi:08x}", "from": source}


def esp_client(args) -> dict:
    sock = raw_socket(ESP, args.timeout)
    sock.sendto(struct.pack("!II", 0x1000, 1) + b"\x44" * 32, (args.server, 0))
    got = receive_raw(sock, lambda esp: esp[:4] == b"\0\0\x20\0", args.timeout)
    return {"reply": None} if got is None else {"reply": got[0][:4].hex(), "from": got[1]}


def icmp_checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data[: len(data) // 2 * 2]))
    total += data[-1] << 8 if len(data) % 2 else 0
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def esp_pmtu_hop(args) -> dict:
    """A router on the path with a smaller MTU: it answers the first ESP packet with ICMP
    "fragmentation needed" (next-hop MTU 1400) quoting it, from its own address (--hop)."""
    sock = raw_socket(ESP, args.timeout, args.bind)
    try:
        data, source = sock.recvfrom(65535)
    except TimeoutError:
        return {"got": None}
    body = struct.pack("!BBHHH", 3, 4, 0, 0, 1400) + data[: 576 - 28]
    body = body[:2] + struct.pack("!H", icmp_checksum(body)) + body[4:]
    icmp = raw_socket(socket.IPPROTO_ICMP, args.timeout, args.hop)
    icmp.sendto(body, (source[0], 0))
    return {"got": data[(data[0] & 0x0F) * 4 :][:4].hex(), "from": source[0]}


def esp_pmtu_client(args) -> dict:
    """Send ESP, then wait for the ICMP error about it, as the kernel's PMTU code would."""
    icmp = raw_socket(socket.IPPROTO_ICMP, args.timeout)
    sock = raw_socket(ESP, args.timeout)
    sock.sendto(struct.pack("!II", 0x1000, 1) + b"\x44" * 32, (args.server, 0))
    got = receive_raw(icmp, lambda m: m[:2] == b"\x03\x04" and len(m) >= 8 + 20 + 4, args.timeout)
    if got is None:
        return {"error": None}
    message, hop = got
    inner = message[8:]
    inner_ihl = (inner[0] & 0x0F) * 4
    return {
        "error": "frag-needed",
        "mtu": struct.unpack_from("!H", message, 6)[0],
        "from": hop,
        "inner_src": socket.inet_ntoa(inner[12:16]),
        "inner_proto": inner[9],
        "inner_spi": inner[inner_ihl : inner_ihl + 4].hex(),
    }


# -- PPTP: TCP 1723 control and enhanced GRE --------------------------------------------------


def pptp_server(args) -> dict:
    listener = socket.create_server((args.bind, 1723))
    listener.settimeout(args.timeout)
    try:
        conn, peer = listener.accept()
    except TimeoutError:
        return {"got": None}
    conn.settimeout(args.timeout)
    request = PPTPOutgoingCallRequest(conn.recv(4096))
    nat_call_id = request.call_id
    gre = raw_socket(GRE, args.timeout, args.bind)  # listening before the client may send
    conn.sendall(
        bytes(PPTPOutgoingCallReply(call_id=0x5001, peer_call_id=nat_call_id, result_code=1))
    )
    got = receive_raw(gre, lambda g: len(g) >= 8, args.timeout)
    result = {"got_call_id": nat_call_id, "from": peer[0], "gre": None}
    if got is not None:
        packet, source = got
        result["gre"] = GRE_PPTP(packet).call_id
        gre.sendto(
            bytes(GRE_PPTP(key_present=1, call_id=nat_call_id) / PPP(proto=0xC021) / b"lcp-reply"),
            (source, 0),
        )
        time.sleep(0.5)
    conn.close()
    return result


def pptp_client(args) -> dict:
    try:
        conn = socket.create_connection((args.server, 1723), timeout=args.timeout)
    except OSError as error:
        return {"connected": False, "error": type(error).__name__}
    conn.settimeout(args.timeout)
    conn.sendall(bytes(PPTPOutgoingCallRequest(call_id=args.call_id)))
    reply = PPTPOutgoingCallReply(conn.recv(4096))
    gre = raw_socket(GRE, args.timeout)
    gre.sendto(
        bytes(GRE_PPTP(key_present=1, call_id=reply.call_id) / PPP(proto=0xC021) / b"lcp"),
        (args.server, 0),
    )
    got = receive_raw(gre, lambda g: len(g) >= 8 and b"lcp-reply" in g, args.timeout)
    conn.close()
    return {
        "connected": True,
        "peer_call_id": reply.peer_call_id,
        "gre_call_id": None if got is None else GRE_PPTP(got[0]).call_id,
    }


# -- SIP and RTSP: rewritten media ports, media coming back -----------------------------------


def media_server(args) -> dict:
    """Accept one SIP INVITE (UDP) or RTSP SETUP (TCP), then send RTP to the port it names."""
    if args.proto == "sip":
        sock = udp_socket(args.bind, 5060, args.timeout)
        try:
            data, peer = sock.recvfrom(8192)
        except TimeoutError:
            return {"got": None}
        text = data.decode(errors="replace")
        address = re.search(r"^c=IN IP4 (\S+)", text, re.M)
        port = re.search(r"^m=audio (\d+)", text, re.M)
    else:
        listener = socket.create_server((args.bind, 554))
        listener.settimeout(args.timeout)
        try:
            conn, peer = listener.accept()
        except TimeoutError:
            return {"got": None}
        text = conn.recv(8192).decode(errors="replace")
        conn.sendall(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nSession: 7\r\n\r\n")
        address = re.match(r"(\S+)", peer[0])
        port = re.search(r"client_port=(\d+)", text)
    target = (address.group(1), int(port.group(1))) if address and port else None
    if target is not None:
        rtp = udp_socket(args.bind, 30000, args.timeout)
        for _ in range(3):
            try:
                rtp.sendto(b"\x80\x00rtp-media", target)
            except OSError:  # a private address the internet cannot route: media is lost
                break
            time.sleep(0.05)
    return {
        "got": text.splitlines()[0],
        "media_to": None if target is None else f"{target[0]}:{target[1]}",
    }


def media_client(args) -> dict:
    rtp = udp_socket("0.0.0.0", args.media_port, args.timeout)
    me = args.client
    if args.proto == "sip":
        sdp = (
            f"v=0\r\no=- 1 1 IN IP4 {me}\r\ns=-\r\nc=IN IP4 {me}\r\nt=0 0\r\n"
            f"m=audio {args.media_port} RTP/AVP 0\r\n"
        )
        invite = (
            f"INVITE sip:bob@{args.server} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {me}:5060;branch=z9hG4bK1\r\n"
            f"From: <sip:alice@{me}:5060>;tag=1\r\nTo: <sip:bob@{args.server}>\r\n"
            f"Call-ID: lab-call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{me}:5060>\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"
        )
        udp_socket("0.0.0.0", 5060, args.timeout).sendto(invite.encode(), (args.server, 5060))
    else:
        try:
            conn = socket.create_connection((args.server, 554), timeout=args.timeout)
        except OSError as error:
            return {"media": None, "error": type(error).__name__}
        conn.sendall(
            f"SETUP rtsp://{args.server}/cam RTSP/1.0\r\nCSeq: 1\r\n"
            f"Transport: RTP/AVP;unicast;client_port={args.media_port}-"
            f"{args.media_port + 1}\r\n\r\n".encode()
        )
        conn.settimeout(args.timeout)
        conn.recv(4096)
    try:
        data, peer = rtp.recvfrom(2048)
    except TimeoutError:
        return {"media": None}
    return {"media": data[2:].decode(), "from": f"{peer[0]}:{peer[1]}"}


ROLES = {
    "l2tp-server": l2tp_server,
    "l2tp-client": l2tp_client,
    "ike-server": ike_server,
    "ike-client": ike_client,
    "esp-server": esp_server,
    "esp-client": esp_client,
    "pptp-server": pptp_server,
    "pptp-client": pptp_client,
    "esp-pmtu-hop": esp_pmtu_hop,
    "esp-pmtu-client": esp_pmtu_client,
    "media-server": media_server,
    "media-client": media_client,
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=sorted(ROLES))
    parser.add_argument("--bind", default="0.0.0.0")
    parser.add_argument("--server")
    parser.add_argument("--client")
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--spi", default="a1" * 8)
    parser.add_argument("--call-id", type=int, default=0x4A11)
    parser.add_argument("--proto", choices=("sip", "rtsp"), default="sip")
    parser.add_argument("--media-port", type=int, default=40000)
    parser.add_argument("--hop", default="0.0.0.0", help="esp-pmtu-hop: send the error from")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    result = ROLES[args.role](args)
    line = json.dumps(result)
    if args.out:
        with open(args.out, "w") as out:
            out.write(line)
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
