"""nat/mtu.py: the one "too big" decision the driver asks about (RFC 4787 REQ-13 is tested
in test_rfc4787.py)."""

from playbook import CLIENT, SERVER
from scapy.layers.inet import IP, UDP

from nat.ipv4 import addr
from nat.mtu import FragmentationNeeded, Fragmented, fit_to_mtu


def test_a_packet_that_fits_is_one_piece_unchanged():
    packet = bytes(IP(src=CLIENT, dst=SERVER) / UDP() / b"small")
    verdict = fit_to_mtu(packet, packet, 1500, addr("192.168.1.1"))
    assert verdict == Fragmented([bytearray(packet)])


def test_a_packet_with_df_set_that_fits_is_one_piece_unchanged():
    packet = bytes(IP(src=CLIENT, dst=SERVER, flags="DF") / UDP() / b"small")
    assert fit_to_mtu(packet, packet, 1500, addr("192.168.1.1")) == Fragmented([bytearray(packet)])


def test_df_set_without_an_address_to_answer_from_is_dropped_silently():
    packet = bytes(IP(src=CLIENT, dst=SERVER, flags="DF") / UDP() / (b"x" * 1400))
    assert fit_to_mtu(packet, packet, 1280, None) == FragmentationNeeded(None)
