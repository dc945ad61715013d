"""The nftables shield in front of the kernel: what it drops, what it lets through."""

from router.driver import shield


def test_the_shield_covers_nat_ports_and_vpn_protocols_but_not_dhcp_replies():
    text = shield.ruleset(
        "lan0", "wan0", [(1, 1023), (1024, 60999)], "192.168.1.1", "192.168.1.255"
    )
    # At IP prerouting, after the datapath's IPv4 sockets took their copy (not at ingress,
    # which comes before them and forwards offloaded flows).
    assert "hook prerouting" in text and "hook ingress" not in text
    assert '"wan0" : jump wan_in' in text and '"lan0" : jump lan_in' in text
    assert "tcp dport { 1-1023, 1024-60999 } drop" in text
    assert "ip protocol { 47, 50, 51 } drop" in text
    assert text.index("udp dport 68 accept") < text.index("udp dport {")
    assert "ip daddr != { 192.168.1.1, 192.168.1.255" in text
