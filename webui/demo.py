"""Sample traffic for demos and screenshots: a few flows and VPN events, through the real
engine of an InProcessBackend (nothing here is faked except the DHCP leases)."""

from __future__ import annotations

from webui.inprocess import InProcessBackend

CLIENTS = ("192.168.1.10", "192.168.1.23")


def feed_sample_traffic(backend: InProcessBackend) -> None:
    backend.dhcp_leases[:] = [
        {"hostname": "laptop", "address": CLIENTS[0], "mac": "02:00:00:00:00:10",
         "expires_in": 86000},
        {"hostname": "voip-phone", "address": CLIENTS[1], "mac": "02:00:00:00:00:23",
         "expires_in": 80000},
    ]  # fmt: skip
    backend.probe("lan", "tcp", CLIENTS[0], 50412, "198.51.100.10", 443)
    backend.probe("lan", "udp", CLIENTS[0], 53001, "198.51.100.53", 53)
    backend.probe("lan", "udp", CLIENTS[1], 5060, "198.51.100.70", 5060)
    # Five PPTP attempts while PPTP is off: refused, then flagged as a burst of failures.
    for port in range(40001, 40006):
        backend.probe("lan", "tcp", CLIENTS[1], port, "198.51.100.99", 1723)
    # Unsolicited IKE from outside.
    wan = backend.get_config().nat.wan_addresses[0]
    backend.probe("wan", "udp", "192.0.2.66", 500, wan, 500)
