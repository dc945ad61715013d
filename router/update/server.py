"""The device's client of an update server: a directory of firmware files over HTTP with a
manifest of the latest one, ``latest.json``::

    {"format": 1, "latest": {"version": "0.2.0", "file": "natbox-0.2.0.fw",
                             "sha256": "<64 hex>", "size": 23456789,
                             "compatible": "natbox,qemu-x86_64"}}

``file`` is a URL relative to the manifest (or an absolute one). ``check`` reads the manifest,
``download`` streams the file into the update service, which then checks and installs it like
any upload (signature, board, version...). The manifest's hash only guards the transfer; the
signature is what makes a firmware trusted.

Standard library only (urllib); every request has a timeout; what the server sends is
size-limited and every failure is a ServerError naming what failed.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urljoin, urlsplit

from router.firmware.verify import MAX_FIRMWARE_BYTES, version_key
from router.update.service import Busy, UpdateError

MANIFEST = "latest.json"
FORMAT = 1
MAX_MANIFEST_BYTES = 64 * 1024
TIMEOUT = 15.0  # seconds: connecting, and each read of the answer
FIELDS = (("version", str), ("file", str), ("sha256", str), ("size", int), ("compatible", str))


class ServerError(RuntimeError):
    """The update server could not be used; the message names what failed."""


class DownloadError(OSError):
    """What the download stream found wrong. An OSError, so that the update service treats it
    as a broken upload: the partial file is removed and the journal records why."""


def manifest_url(url: str) -> str:
    """The manifest's URL: ``url`` itself, or latest.json in the directory ``url`` names."""
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise ServerError(f"{url!r} is not a URL: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ServerError(f"{url!r} is not an http:// or https:// URL")
    if parts.path in ("", "/") or parts.path.endswith("/"):
        return urljoin(url if parts.path else url + "/", MANIFEST)
    return url


def _open(url: str, what: str):
    request = urllib.request.Request(url, headers={"User-Agent": "natbox-update"})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as error:
        error.close()
        raise ServerError(f"{what} {url}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise ServerError(f"{what} {url}: unreachable ({error.reason})") from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise ServerError(f"{what} {url}: unreachable ({error or type(error).__name__})") from None


def _read_limited(response, limit: int, where: str) -> bytes:
    body = b""
    try:
        while len(body) <= limit and (chunk := response.read(limit + 1 - len(body))):
            body += chunk
    except (OSError, http.client.HTTPException) as error:
        raise ServerError(f"manifest {where}: the answer broke off ({error})") from None
    if len(body) > limit:
        raise ServerError(f"manifest {where}: larger than {limit // 1024} KiB")
    return body


def parse_manifest(body: bytes, where: str) -> dict[str, Any]:
    """The manifest's "latest" entry, every field checked for presence and type."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as error:  # deep nesting: recursion
        raise ServerError(f"manifest {where}: not JSON ({error!s:.100})") from None
    if not isinstance(doc, dict):
        raise ServerError(f"manifest {where}: not a JSON object")
    form = doc.get("format")
    if isinstance(form, bool) or form != FORMAT:
        raise ServerError(f"manifest {where}: format {form!r:.40} is not {FORMAT}")
    latest = doc.get("latest")
    if not isinstance(latest, dict):
        raise ServerError(f"manifest {where}: missing field latest (an object)")
    for name, kind in FIELDS:
        if name not in latest:
            raise ServerError(f"manifest {where}: missing field latest.{name}")
        value = latest[name]
        if isinstance(value, bool) or not isinstance(value, kind) or value in ("", None):
            raise ServerError(f"manifest {where}: field latest.{name} is not a "
                              f"{'number' if kind is int else 'non-empty string'}")  # fmt: skip
    if not re.fullmatch(r"[0-9a-f]{64}", latest["sha256"]):
        raise ServerError(f"manifest {where}: field latest.sha256 is not 64 hex digits")
    if not 0 < latest["size"] <= MAX_FIRMWARE_BYTES:
        raise ServerError(f"manifest {where}: field latest.size {latest['size']} is not in "
                          f"1..{MAX_FIRMWARE_BYTES}")  # fmt: skip
    if len(latest["version"]) > 64 or not latest["version"].isprintable():
        raise ServerError(f"manifest {where}: field latest.version is not a version")
    return {name: latest[name] for name, _ in FIELDS}


def check(url: str, running_version: str) -> dict[str, Any]:
    """Ask the server at ``url`` for its latest firmware; "available" when it is newer than
    ``running_version`` (versions that cannot be ordered are never "newer")."""
    where = manifest_url(url)
    with _open(where, "manifest") as response:
        body = _read_limited(response, MAX_MANIFEST_BYTES, where)
    latest = parse_manifest(body, where)
    file_url = urljoin(where, latest["file"])
    if urlsplit(file_url).scheme not in ("http", "https"):
        raise ServerError(f"manifest {where}: field latest.file is not an http(s) location")
    new, running = version_key(latest["version"]), version_key(running_version)
    return {
        "available": new is not None and running is not None and new > running,
        "version": latest["version"],
        "url": file_url,
        "sha256": latest["sha256"],
        "size": latest["size"],
        "compatible": latest["compatible"],
        "running_version": running_version,
    }


class _Checked:
    """The download as the service reads it, chunk by chunk: counted and hashed on the way,
    compared with the manifest at its end (before the service accepts the upload)."""

    def __init__(self, response, size: int, sha256: str):
        self.response, self.size, self.sha256 = response, size, sha256
        self.count, self.digest = 0, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        try:
            chunk = self.response.read(n)
        except (OSError, http.client.HTTPException) as error:
            raise DownloadError(
                f"the download broke off after {self.count} bytes ({error})"
            ) from error
        self.count += len(chunk)
        if self.count > self.size:
            raise DownloadError(f"size mismatch: more than the manifest's {self.size} bytes")
        if chunk:
            self.digest.update(chunk)
            return chunk
        if self.count != self.size:
            raise DownloadError(f"size mismatch: {self.count} bytes received, the manifest "
                                f"says {self.size}")  # fmt: skip
        got = self.digest.hexdigest()
        if got != self.sha256:
            raise DownloadError(f"hash mismatch: sha256 {got[:16]}... received, the manifest "
                                f"says {self.sha256[:16]}...")  # fmt: skip
        return b""


def download(entry: dict[str, Any], service) -> str:
    """Stream the firmware ``check`` found into ``service.receive``; returns its sha256.
    ServerError when it cannot be fetched or differs from the manifest (then nothing is kept
    as uploaded); Busy (from the service) when another update holds the lock."""
    try:
        url, size, sha256 = str(entry["url"]), int(entry["size"]), str(entry["sha256"])
    except (KeyError, TypeError, ValueError) as error:
        raise ServerError(f"not an entry of the update server's manifest: {error}") from None
    with _open(url, "firmware") as response:
        length = response.headers.get("Content-Length", "").strip()
        if length.isdigit() and int(length) != size:
            raise ServerError(f"firmware {url}: size mismatch: the server sends {length} bytes, "
                              f"the manifest says {size}")  # fmt: skip
        try:
            got = service.receive(_Checked(response, size, sha256), source=url)
        except Busy:
            raise
        except UpdateError as error:
            raise ServerError(f"firmware {url}: {error}") from None
    if got != sha256:  # the service hashed what it stored: one more look, for free
        raise ServerError(f"firmware {url}: hash mismatch: stored {got[:16]}..., the manifest "
                          f"says {sha256[:16]}...")  # fmt: skip
    return got
