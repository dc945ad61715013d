"""The lab's update server, seen from a LAN client through the router: the device's client
(router.update.server) finds the newest firmware and downloads exactly its bytes."""

from __future__ import annotations

import json
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fwfactory import make

from natbox.firmware.cli import write_manifest
from natbox.lab import netns
from natbox.lab.lab import FIRMWARE_SERVER, Lab
from router.firmware import format as fw

pytestmark = pytest.mark.netns

CHECK = """
import hashlib, json, sys, urllib.request
from router.update import server
entry = server.check(sys.argv[1], "0.1.0")
with urllib.request.urlopen(entry["url"], timeout=10) as response:
    entry["downloaded"] = hashlib.sha256(response.read()).hexdigest()
print(json.dumps(entry))
"""


def test_a_lan_client_finds_and_downloads_the_newest_firmware(lab, tmp_path):
    key = Ed25519PrivateKey.generate()
    for version in ("0.2.0", "0.3.0"):
        (tmp_path / f"natbox-{version}.fw").write_bytes(make(key, version=version))
    write_manifest(tmp_path, print)
    url = lab.serve_firmware(str(tmp_path), 8000)
    try:
        assert url == "http://198.51.100.10:8000/"
        result = lab.run(lab.names.client(1), sys.executable, "-c", CHECK, url)
        entry = json.loads(result.stdout.strip().splitlines()[-1])
        assert entry["available"] and entry["version"] == "0.3.0"
        assert entry["downloaded"] == fw.sha256((tmp_path / "natbox-0.3.0.fw").read_bytes())
        # Recorded in the lab's state, and in the internet namespace: `down` stops it by PID.
        pid = Lab.load(lab.names.lab_id).pids[FIRMWARE_SERVER]
        assert pid in netns.pids(lab.names.internet)
        # Serving again replaces the server (one per lab), on another port.
        assert lab.serve_firmware(str(tmp_path), 8001) == "http://198.51.100.10:8001/"
        assert Lab.load(lab.names.lab_id).pids[FIRMWARE_SERVER] != pid
        assert pid not in netns.pids(lab.names.internet)
    finally:
        lab.stop(FIRMWARE_SERVER)
