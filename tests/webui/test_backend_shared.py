"""What both backends share: the firmware description and the event-log row format."""

from __future__ import annotations

import pytest

from nat.actions import Log
from webui.backend import running_firmware, vpn_event

pytestmark = pytest.mark.unit


def test_on_the_device_the_version_is_the_images_own(tmp_path) -> None:
    version = tmp_path / "version"
    version.write_text("0.1.0\n")
    info = running_firmware(version)
    assert info["version"] == "0.1.0" and info["slots"][0] == {
        "name": "A", "version": "0.1.0", "active": True,
    }  # fmt: skip


def test_off_the_device_the_version_is_the_packages(tmp_path) -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        expected = version("natbox")
    except PackageNotFoundError:  # a source tree without the package installed (webui-device)
        expected = "dev"
    assert running_firmware(tmp_path / "absent")["version"] == expected


def test_event_row_pulls_out_the_known_fields_and_keeps_the_rest_as_detail() -> None:
    log = Log("vpn_anomaly", {"kind": "unsolicited", "protocol": "pptp", "remote": "198.51.100.9",
                              "call_id": 7, "at": 1.0})  # fmt: skip
    row = vpn_event("2026-11-25T12:00:00Z", 12.3456, log)
    assert row["anomaly"] and row["kind"] == "unsolicited" and row["protocol"] == "pptp"
    assert row["server"] == "198.51.100.9" and row["lan_host"] == ""
    assert row["detail"] == "call_id=7" and row["uptime_s"] == 12.346
