"""The device's self-signed certificate: made once with the router's names and address, kept
(same fingerprint across restarts), and replaced, never fatal, when what is kept is broken."""

from __future__ import annotations

import datetime
import ipaddress

import pytest
from cryptography import x509

from webui import certificate

pytestmark = pytest.mark.unit

NAMES = ("natbox", "natbox.lan", "router.lan")
ADDRESSES = ("192.168.1.1",)


def loaded(made: certificate.Certificate) -> x509.Certificate:
    return x509.load_pem_x509_certificate(made.cert.read_bytes())


def test_made_once_with_the_routers_names_and_a_private_key(tmp_path):
    made = certificate.ensure(tmp_path / "tls", NAMES, ADDRESSES)
    assert made.made and made.key.stat().st_mode & 0o777 == 0o600
    cert = loaded(made)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == list(NAMES)
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(ADDRESSES[0])]
    assert cert.issuer == cert.subject  # self-signed
    assert made.fingerprint == certificate.fingerprint(cert)
    assert len(made.fingerprint.split(":")) == 32


def test_kept_across_restarts(tmp_path):
    first = certificate.ensure(tmp_path, NAMES, ADDRESSES)
    again = certificate.ensure(tmp_path, ("other",), ())
    assert not again.made and again.fingerprint == first.fingerprint


def test_for_server_authentication_as_apple_clients_demand(tmp_path):
    cert = loaded(certificate.ensure(tmp_path, NAMES, ADDRESSES))
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert certificate.VALID_DAYS <= 825


def test_made_again_in_its_last_month(tmp_path):
    start = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    first = certificate.ensure(tmp_path, NAMES, ADDRESSES, now=start)
    later = start + datetime.timedelta(days=certificate.VALID_DAYS - certificate.RENEW_DAYS - 1)
    assert not certificate.ensure(tmp_path, NAMES, ADDRESSES, now=later).made
    renewed = certificate.ensure(tmp_path, NAMES, ADDRESSES, now=later + datetime.timedelta(2))
    assert renewed.made and renewed.fingerprint != first.fingerprint


def test_valid_from_yesterday_for_its_whole_term(tmp_path):
    now = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    cert = loaded(certificate.ensure(tmp_path, NAMES, ADDRESSES, now=now))
    assert utc(cert, "not_valid_before") == now - datetime.timedelta(days=1)
    assert utc(cert, "not_valid_after") == now + datetime.timedelta(days=certificate.VALID_DAYS)


def utc(cert: x509.Certificate, name: str) -> datetime.datetime:
    """cryptography >= 42 has the aware ``*_utc``; the device's 38 only the naive one."""
    aware = getattr(cert, f"{name}_utc", None)
    return aware if aware is not None else getattr(cert, name).replace(tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    "damage",
    ["cut-short-cert", "empty-key", "key-of-another-cert", "no-key"],
)
def test_a_broken_pair_is_replaced(tmp_path, damage):
    first = certificate.ensure(tmp_path, NAMES, ADDRESSES)
    if damage == "cut-short-cert":
        first.cert.write_bytes(first.cert.read_bytes()[:100])
    elif damage == "empty-key":
        first.key.write_bytes(b"")
    elif damage == "key-of-another-cert":
        other = certificate.ensure(tmp_path / "other", NAMES, ADDRESSES)
        first.key.write_bytes(other.key.read_bytes())
    else:
        first.key.unlink()
    again = certificate.ensure(tmp_path, NAMES, ADDRESSES)
    assert again.made and again.fingerprint != first.fingerprint
    assert certificate.ensure(tmp_path, NAMES, ADDRESSES).fingerprint == again.fingerprint
