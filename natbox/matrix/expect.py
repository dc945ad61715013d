"""What each cell of the matrix should show, derived from the rules natbox documents: a
helper's own ``when_enabled`` / ``when_disabled`` (nat.passthrough, the README's table) and a
profile's mapping and filtering behaviours (nat.profiles). One table of rows; no outcome is
written down per cell."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nat.config import NatConfig
from nat.config_types import Behaviour, PortAllocation
from nat.passthrough import HELPER_CLASSES
from nat.profiles import PROFILES
from natbox.hil.router import ALL_PASSTHROUGHS

WORKS, BLOCKED = "works", "blocked"
ALL = ALL_PASSTHROUGHS  # the switch of rows that need no helper: every passthrough on or off
HELPERS = {cls.name: cls for cls in HELPER_CLASSES}


@dataclass(frozen=True)
class Expectation:
    outcome: str
    why: str
    exception: str = ""  # set where a protocol works without its helper: the documented why


Rule = Callable[[str, bool, int], Expectation]  # (profile, switch on, clients) -> expectation


@dataclass(frozen=True)
class Row:
    name: str
    title: str
    switch: str  # the passthrough this row turns on and off (ALL: every one)
    rule: Rule

    def expect(self, profile: str, switch: bool, clients: int) -> Expectation:
        return self.rule(profile, switch, clients)


def client_initiated(what: str) -> Rule:
    """Traffic a LAN client starts, whose answers come from the endpoint it contacted: every
    filtering behaviour admits those (RFC 4787 REQ-8, RFC 5382 REQ-3), so no profile and no
    switch changes the outcome."""

    def rule(profile: str, switch: bool, clients: int) -> Expectation:
        filtering = PROFILES[profile]["filtering"]
        return Expectation(WORKS, f"{what}: answers come from the endpoint the client contacted, "
                           f"which {_filtering_name(filtering)} filtering admits; no "
                           "passthrough is involved")  # fmt: skip

    return rule


def needs_helper(name: str) -> Rule:
    """A protocol that crosses the NAT only through its helper: the helper's documented
    behaviour when on, and its documented blocking when off ("disabled really blocks")."""
    helper = HELPERS[name]

    def rule(profile: str, switch: bool, clients: int) -> Expectation:
        if switch:
            return Expectation(WORKS, f"{helper.title} on: {helper.when_enabled}")
        return Expectation(BLOCKED, f"{helper.title} off: {helper.when_disabled}")

    return rule


# RFC 5780's names for the behaviours, as a discovery client (coturn's natdiscovery) prints them.
RFC5780_NAMES = {
    Behaviour.ENDPOINT_INDEPENDENT: "Endpoint Independent",
    Behaviour.ADDRESS_DEPENDENT: "Address Dependent",
    Behaviour.ADDRESS_AND_PORT_DEPENDENT: "Address and Port Dependent",
}


def punched_media(name: str, client: str) -> Rule:
    """Media the server sends to ports a signalling message announced (RTSP's SETUP): the ALG
    rewrites them and opens the way when on. Off, a client that first sends a packet from each
    media port (ffmpeg does) punches its own holes; they are the announced ports only where the
    profile maps endpoint-independently and keeps the port, so there it works without the ALG:
    a documented exception."""
    helper = HELPERS[name]

    def rule(profile: str, switch: bool, clients: int) -> Expectation:
        if switch:
            return Expectation(WORKS, f"{helper.title} on: {helper.when_enabled}")
        settings = PROFILES[profile]
        keeps = (settings["mapping"] is Behaviour.ENDPOINT_INDEPENDENT
                 and settings["port_allocation"] is PortAllocation.PRESERVE)  # fmt: skip
        if keeps:
            return Expectation(
                WORKS, f"{helper.title} off: {helper.when_disabled}",
                f"{client} sends a packet from each media port to the server first, and this "
                "profile maps them endpoint-independently and keeps their numbers: the ports "
                "the SETUP announced are the mapped ones, so the media gets in without the ALG",
            )  # fmt: skip
        why = (f"{helper.title} off: {helper.when_disabled} This profile changes the ports: "
               "the media goes to ports the NAT never mapped.")  # fmt: skip
        return Expectation(BLOCKED, why)

    return rule


def hidden_in_tls(name: str) -> Rule:
    """A VPN inside TLS to a server the router was not told about: the helper cannot tell it
    from HTTPS, so switching it off does not block it (its documented limit)."""
    helper = HELPERS[name]

    def rule(profile: str, switch: bool, clients: int) -> Expectation:
        if switch:
            return Expectation(WORKS, f"{helper.title} on: {helper.when_enabled}")
        return Expectation(
            WORKS, f"{helper.title} off: {helper.when_disabled}",
            "the server's TLS name is not in the router's SSTP server list, and SSTP inside "
            "TLS cannot be told from HTTPS: it passes with SSTP off, as documented",
        )  # fmt: skip

    return rule


def _filtering_name(behaviour: Behaviour) -> str:
    return RFC5780_NAMES[behaviour].lower().replace(" and ", "-and-").replace(" ", "-")


@dataclass(frozen=True)
class Classification:
    """What an RFC 5780 client should find behind a profile."""

    mapping: str
    filtering: str
    hairpinning: bool
    why: str


def classification(profile: str) -> Classification:
    settings = PROFILES[profile]
    filtering = settings["filtering"]
    hairpinning = settings.get("hairpinning", NatConfig().hairpinning)
    if not hairpinning:
        why = "the profile does not hairpin"
    elif filtering is Behaviour.ENDPOINT_INDEPENDENT:
        why = "hairpinned, and endpoint-independent filtering lets the client's own request in"
    else:
        why = ("natbox hairpins, but a hairpinned packet meets the target mapping's filtering "
               "like any other inbound packet, and that mapping never sent to the client's own "
               f"external address: {_filtering_name(filtering)} filtering drops it")  # fmt: skip
    seen = hairpinning and filtering is Behaviour.ENDPOINT_INDEPENDENT
    return Classification(RFC5780_NAMES[settings["mapping"]], RFC5780_NAMES[filtering], seen,
                          why)  # fmt: skip


ROWS: dict[str, Row] = {row.name: row for row in (
    Row("tcp", "TCP (control)", ALL, client_initiated("a TCP connection out")),
    Row("udp", "UDP (control)", ALL, client_initiated("a UDP exchange out")),
    Row("icmp", "ICMP echo (control)", ALL, client_initiated("a ping out (its identifier is "
                                                             "the mapping's port)")),
    Row("ikev2", "IPsec IKEv2 + NAT-T (strongSwan)", "ipsec", needs_helper("ipsec")),
    Row("esp", "IPsec raw ESP (crafted)", "ipsec", needs_helper("ipsec")),
    Row("pptp", "PPTP (pptpd, pptp)", "pptp", needs_helper("pptp")),
    Row("l2tp", "L2TP (xl2tpd both ends)", "l2tp", needs_helper("l2tp")),
    Row("rtsp", "RTSP (gst-rtsp-server on 8554, ffmpeg)", "rtsp", punched_media("rtsp", "ffmpeg")),
    Row("sstp", "SSTP (sstpc to a listed server)", "sstp", needs_helper("sstp")),
    Row("sstp-unlisted", "SSTP (sstpc to a server not listed)", "sstp", hidden_in_tls("sstp")),
    Row("sip-out", "SIP call out (baresip to baresip via kamailio)", "sip", needs_helper("sip")),
    Row("sip-in", "SIP call in (baresip to baresip via kamailio)", "sip", needs_helper("sip")),
    Row("openvpn", "OpenVPN over UDP", ALL, client_initiated("OpenVPN's UDP from the client")),
    Row("wireguard", "WireGuard (wireguard-go)", ALL,
        client_initiated("WireGuard's UDP from the client")),
)}  # fmt: skip
