"""The device's update-server client against a real HTTP server on 127.0.0.1 serving a tmp
directory: which version is "available", what a bad manifest or a bad download gives."""

from __future__ import annotations

import functools
import http.server
import json
import re
import socket
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fwfactory import BOARD, make

from natbox.firmware.keys import public_pem
from router.firmware import format as fw
from router.update import journal as J
from router.update import server, slots
from router.update.bootenv import BootEnv
from router.update.device import UpdateDevice
from router.update.server import ServerError
from router.update.service import Busy, UpdateError, UpdateService


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def served(tmp_path):
    """(directory, base URL): the directory served over HTTP on a free port of 127.0.0.1."""
    directory = tmp_path / "served"
    directory.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory))
    )
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield directory, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def manifest(data: bytes, version: str, file: str = "fw.bin", **changes) -> dict:
    latest = {"version": version, "file": file, "sha256": fw.sha256(data), "size": len(data),
              "compatible": BOARD} | changes  # fmt: skip
    return {"format": 1, "latest": latest}


def publish(directory: Path, data: bytes, version: str, **changes) -> None:
    (directory / "fw.bin").write_bytes(data)
    (directory / "latest.json").write_text(json.dumps(manifest(data, version, **changes)))


@pytest.fixture
def service(tmp_path, key) -> UpdateService:
    env = tmp_path / "env"
    with open(env, "wb") as f:
        f.truncate(0x20000)
    BootEnv(env).save(slots.initial("0.1.0"))
    slot_paths = {s: tmp_path / f"slot{s}" for s in slots.SLOTS}
    for path in slot_paths.values():
        path.write_bytes(b"\0" * (1024 * 1024))
    ring = tmp_path / "keyring"
    ring.mkdir()
    (ring / "test.pub").write_bytes(public_pem(key.public_key()))
    device = UpdateDevice(
        env=BootEnv(env), slots=slot_paths, slot_size=1024 * 1024, work=tmp_path / "update",
        config=tmp_path / "config.json", keyring=ring, compatible=BOARD, compat_version="1.0",
        version="0.1.0", booted="A", lock=tmp_path / "update.lock",
    )  # fmt: skip
    return UpdateService(device, reboot=lambda: None, log=lambda line: None)


@pytest.mark.parametrize(
    ("offered", "available"),
    [("0.2.0", True), ("0.1.1", True), ("0.1.0", False), ("0.0.9", False), ("nightly", False)],
)
def test_available_only_when_newer(served, offered, available):
    directory, url = served
    publish(directory, b"x" * 100, offered)
    entry = server.check(url, "0.1.0")
    assert entry == {
        "available": available, "version": offered, "url": f"{url}fw.bin",
        "sha256": fw.sha256(b"x" * 100), "size": 100, "compatible": BOARD,
        "running_version": "0.1.0",
    }  # fmt: skip


def test_the_url_may_name_the_manifest_or_its_directory(served):
    directory, url = served
    (directory / "stable").mkdir()
    (directory / "stable" / "latest.json").write_text(json.dumps(manifest(b"y", "0.3.0")))
    (directory / "other.json").write_text(json.dumps(manifest(b"y", "0.4.0", file="/abs/f.fw")))
    assert server.check(f"{url}stable/", "0.1.0")["url"] == f"{url}stable/fw.bin"
    assert server.check(f"{url}other.json", "0.1.0")["url"] == f"{url}abs/f.fw"
    assert server.manifest_url("http://h:8000") == "http://h:8000/latest.json"
    assert server.manifest_url("http://h:8000/x/y.json") == "http://h:8000/x/y.json"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>not found</html>", "not JSON"),
        (b"\xff\xfe\x00junk", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "larger than 64 KiB"),
        (b"[" * 30_000 + b"]" * 30_000, "not JSON"),  # too deep for the parser
        (json.dumps({"format": 1, "x": " " * 70_000}).encode(), "larger than 64 KiB"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"format": 2, "latest": {}}', "format 2 is not 1"),
        (b'{"format": true, "latest": {}}', "format True is not 1"),
        (b'{"format": 1}', "missing field latest"),
        (b'{"format": 1, "latest": []}', "missing field latest"),
    ],
)
def test_bad_manifests_are_server_errors(served, body, message):
    directory, url = served
    (directory / "latest.json").write_bytes(body)
    with pytest.raises(ServerError, match=re.escape(message)):
        server.check(url, "0.1.0")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": None}, "latest.version is not a non-empty string"),
        ({"version": ""}, "latest.version is not a non-empty string"),
        ({"version": "1\n2"}, "latest.version is not a version"),
        ({"size": "100"}, "latest.size is not a number"),
        ({"size": True}, "latest.size is not a number"),
        ({"size": 1.5}, "latest.size is not a number"),
        ({"size": 0}, "latest.size 0 is not in"),
        ({"size": 10**12}, "is not in 1..25000000"),
        ({"sha256": "abc"}, "latest.sha256 is not 64 hex digits"),
        ({"file": ["a"]}, "latest.file is not a non-empty string"),
        ({"file": "file:///etc/passwd"}, "latest.file is not an http"),
        ({"compatible": 7}, "latest.compatible is not a non-empty string"),
    ],
)
def test_fields_of_the_wrong_type_are_named(served, changes, message):
    directory, url = served
    body = manifest(b"z" * 100, "0.2.0")
    body["latest"] |= changes
    (directory / "latest.json").write_text(json.dumps(body))
    with pytest.raises(ServerError, match=re.escape(message)):
        server.check(url, "0.1.0")


def test_a_missing_field_is_named(served):
    directory, url = served
    body = manifest(b"z", "0.2.0")
    del body["latest"]["sha256"]
    (directory / "latest.json").write_text(json.dumps(body))
    with pytest.raises(ServerError, match=r"missing field latest\.sha256"):
        server.check(url, "0.1.0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_not_found_and_not_http(served):
    _, url = served
    with pytest.raises(ServerError, match=r"manifest http://127.0.0.1:\d+/latest.json: unreach"):
        server.check(f"http://127.0.0.1:{free_port()}/", "0.1.0")
    with pytest.raises(ServerError, match="HTTP 404"):
        server.check(f"{url}nothing/", "0.1.0")
    for bad in ("ftp://example.org/", "file:///etc/", "not a url", "http://[::1/"):
        with pytest.raises(ServerError, match="URL"):
            server.check(bad, "0.1.0")


def test_a_server_that_never_answers_times_out(monkeypatch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection (backlog), never answers
    monkeypatch.setattr(server, "TIMEOUT", 0.3)
    try:
        with pytest.raises(ServerError, match="timed out"):
            server.check(f"http://127.0.0.1:{listener.getsockname()[1]}/", "0.1.0")
    finally:
        listener.close()


def test_download_streams_into_the_service_which_then_installs_it(served, service, key):
    directory, url = served
    data = make(key, version="0.2.0")
    publish(directory, data, "0.2.0")
    entry = server.check(url, "0.1.0")
    assert server.download(entry, service) == fw.sha256(data)
    assert service.upload_path.read_bytes() == data
    assert service.journal.read()["history"][-1]["detail"].endswith(f"from {url}fw.bin")
    assert service.install().valid  # the service's own checks run as for any upload
    assert service.device.slots["B"].read_bytes()[: len(data)] == data


@pytest.mark.parametrize(
    ("served_bytes", "message"),
    [
        (b"A" * 50 + b"B" * 50, "hash mismatch"),  # same size, other bytes
        (b"A" * 99, "size mismatch"),
        (b"A" * 101, "size mismatch"),
    ],
)
def test_a_download_unlike_the_manifest_is_refused_and_not_kept(served, service, served_bytes,
                                                                message):  # fmt: skip
    directory, url = served
    (directory / "latest.json").write_text(json.dumps(manifest(b"A" * 100, "0.2.0")))
    (directory / "fw.bin").write_bytes(served_bytes)
    entry = server.check(url, "0.1.0")
    with pytest.raises(ServerError, match=re.escape(message)):
        server.download(entry, service)
    assert not service.upload_path.exists()
    assert not list(service.device.work.glob("*.part"))


def test_a_stream_that_lies_about_its_length_is_caught_by_the_hash_and_size(service):
    """Without a Content-Length the stream's own count and hash decide (chunked answers)."""

    class Response:
        def __init__(self, data):
            self.data = data

        def read(self, n):
            chunk, self.data = self.data[:n], self.data[n:]
            return chunk

    checked = server._Checked(Response(b"A" * 100), 100, fw.sha256(b"B" * 100))
    with pytest.raises(UpdateError, match="hash mismatch"):
        service.receive(checked)
    record = service.journal.read()
    assert record["state"] == J.FAILED and "hash mismatch" in record["reason"]
    assert not service.upload_path.exists()


def test_a_busy_service_is_busy_not_a_server_error(served, service):
    directory, url = served
    publish(directory, b"x" * 100, "0.2.0")
    entry = server.check(url, "0.1.0")
    with service.locked(), pytest.raises(Busy):
        server.download(entry, service)


def test_a_download_from_a_vanished_server_is_a_server_error(service):
    entry = {"url": f"http://127.0.0.1:{free_port()}/fw.bin", "size": 1, "sha256": "0" * 64}
    with pytest.raises(ServerError, match=r"firmware .*: unreachable"):
        server.download(entry, service)
    with pytest.raises(ServerError, match="not an entry"):
        server.download({"url": "http://x/"}, service)
