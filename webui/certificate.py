"""The device's own TLS certificate for the HTTPS listener: self-signed, made once (on the
first boot that needs it, as OpenWrt's uhttpd has px5g make one) and kept on the data
partition, so its fingerprint stays the same across reboots and a browser's exception holds.

An ECDSA P-256 key (made in milliseconds, also under TCG) and a certificate for the router's
names and LAN address (subject alternative names), for server authentication, valid for 825
days: Apple's clients refuse a TLS server certificate without serverAuth or valid for longer.
It is made again (a new fingerprint) in its last 30 days. A file that does not load (cut
short by a power cut, edited by hand) is replaced, never fatal: the router must come up with
a working UI.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from router.store import write_atomic

CERT_FILE, KEY_FILE = "cert.pem", "key.pem"
VALID_DAYS = 825
RENEW_DAYS = 30  # made again when fewer days than this are left


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path
    fingerprint: str  # SHA-256 of the DER, "AB:CD:..." as browsers show it
    made: bool  # made now (not found)


def fingerprint(cert: x509.Certificate) -> str:
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()


def not_after(cert: x509.Certificate) -> datetime.datetime:
    """cryptography >= 42 has the aware ``not_valid_after_utc``; the device's 38 the naive."""
    aware = getattr(cert, "not_valid_after_utc", None)
    return aware if aware is not None else cert.not_valid_after.replace(tzinfo=datetime.UTC)


def _load(cert_path: Path, key_path: Path, now: datetime.datetime) -> x509.Certificate | None:
    """The kept certificate, if it loads, belongs to the kept key and has time left."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm):
        return None
    if not_after(cert) - now < datetime.timedelta(days=RENEW_DAYS):
        return None
    own = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    theirs = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return cert if own == theirs else None


def make(names: tuple[str, ...], addresses: tuple[str, ...], now: datetime.datetime):
    """A new key and a self-signed certificate for ``names`` and ``addresses``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alternatives = [x509.DNSName(n) for n in names]
    alternatives += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))  # a device clock a little behind
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def ensure(
    directory: Path,
    names: tuple[str, ...],
    addresses: tuple[str, ...],
    now: datetime.datetime | None = None,
) -> Certificate:
    """The certificate kept in ``directory``; made (key first, mode 0600) if there is none
    that loads with time left."""
    cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
    now = now or datetime.datetime.now(datetime.UTC)
    cert = _load(cert_path, key_path, now)
    made = cert is None
    if made:
        key, cert = make(names, addresses, now)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_atomic(key_path, key_pem.decode(), mode=0o600)
        write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM).decode(), 0o644)
    return Certificate(cert_path, key_path, fingerprint(cert), made)
