"""The device's own TLS certificate for the HTTPS listener: self-signed, made once (on the
first boot that needs it, as OpenWrt's uhttpd has px5g make one) and kept on the data
partition, so its fingerprint stays the same across reboots and a browser's exception holds.

An ECDSA P-256 key (made in milliseconds, also under TCG), the certificate valid for ten
years with the router's names and LAN address as subject alternative names. A file that
does not load (cut short by a power cut, edited by hand) is replaced, never fatal: the
router must come up with a working UI.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from router.store import write_atomic

CERT_FILE, KEY_FILE = "cert.pem", "key.pem"
VALID_DAYS = 3650


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path
    fingerprint: str  # SHA-256 of the DER, "AB:CD:..." as browsers show it
    made: bool  # made now (not found)


def fingerprint(cert: x509.Certificate) -> str:
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()


def _load(cert_path: Path, key_path: Path) -> x509.Certificate | None:
    """The kept certificate, if it loads and belongs to the kept key."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
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
    that loads."""
    cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
    cert = _load(cert_path, key_path)
    made = cert is None
    if made:
        key, cert = make(names, addresses, now or datetime.datetime.now(datetime.UTC))
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_atomic(key_path, key_pem.decode(), mode=0o600)
        write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM).decode(), 0o644)
    return Certificate(cert_path, key_path, fingerprint(cert), made)
