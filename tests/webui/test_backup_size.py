"""The router always takes its own backup back: the backup is compact UTF-8 JSON, and a change
whose backup would pass the restore limit is refused."""

from __future__ import annotations

import io
import json

import pytest

from router.model import RouterConfig
from webui.backup import UPLOAD_ENVELOPE

pytestmark = pytest.mark.unit

JSON = {"Content-Type": "application/json"}


def forwards_with_long_names(count: int, chars: int, char: str = "\U0001f600") -> list[dict]:
    return [
        {"proto": "tcp", "ext_port": 1000 + i, "host": "192.168.1.20", "name": char * chars}
        for i in range(count)
    ]


def put_nat(api, forwards):
    body = json.dumps({"port_forwards": forwards}, ensure_ascii=False).encode()
    return api.call("PUT", "/nat", data=body, headers=JSON)


def largest_valid_config() -> RouterConfig:
    """Every list at the model's limit, every free text at its longest, in 4-byte characters
    where the rules allow them (names) and at full length elsewhere."""
    from nat.config_parse import MAX_NAME, MAX_PORT_FORWARDS, MAX_SSTP_SERVERS
    from router.model import MAX_HOST_RECORDS, MAX_STATIC_LEASES

    label = "a" * 63
    return RouterConfig.from_dict({
        "nat": {"lan_prefix": 16,
                "port_forwards": forwards_with_long_names(MAX_PORT_FORWARDS, MAX_NAME),
                "sstp_servers": [f"{label}.{label}.{label}.{i:03}{'b' * 57}"
                                 for i in range(MAX_SSTP_SERVERS)]},
        "dhcp": {"static_leases": [
            {"mac": f"02:00:00:00:{i // 256:02x}:{i % 256:02x}",
             "address": f"192.168.{2 + i // 250}.{i % 250 + 1}"}
            for i in range(MAX_STATIC_LEASES)]},
        "dns": {"hosts": [{"name": f"{label}.{label}.{label}.{i:03}{'c' * 57}",
                           "address": "192.168.3.3"} for i in range(MAX_HOST_RECORDS)]},
    })  # fmt: skip


def test_the_largest_configuration_the_model_accepts_backs_up_within_the_restore_limit(app):
    from webui.backup import backup_json

    size = len(backup_json(largest_valid_config()).encode())
    assert size <= app.config["MAX_CONTENT_LENGTH"] - UPLOAD_ENVELOPE, size


def test_a_backup_with_long_non_ascii_names_restores_through_the_api_and_the_page(
    app, api, browser, backend
):
    forwards = forwards_with_long_names(256, 64)  # the model's limits, 4-byte characters
    assert put_nat(api, forwards).status_code == 200
    saved = backend.get_config()
    backup = api.call("GET", "/system/backup")
    assert backup.status_code == 200
    limit = app.config["MAX_CONTENT_LENGTH"] - UPLOAD_ENVELOPE
    assert len(backup.data) <= limit
    assert put_nat(api, []).status_code == 200
    restore = api.call("POST", "/system/restore", data=backup.data, headers=JSON)
    assert restore.status_code == 200, restore.json
    assert backend.get_config() == saved

    page_backup = browser.get("/system/backup")
    assert len(page_backup.data) <= limit
    assert put_nat(api, []).status_code == 200
    upload = {"backup": (io.BytesIO(page_backup.data), "natbox-config.json")}
    response = browser.post("/system/restore", upload, content_type="multipart/form-data")
    assert response.status_code == 302
    assert "Restored configuration saved" in browser.get("/system").text
    assert backend.get_config() == saved


def test_a_change_whose_backup_would_not_fit_is_refused_and_nothing_changes(app, api, backend):
    app.config["MAX_CONTENT_LENGTH"] = 10 * 1024  # a restore takes 6 kB here
    assert put_nat(api, forwards_with_long_names(10, 64)).status_code == 200  # 4.6 kB in all
    before = backend.get_config()
    label = "a" * 60
    servers = [f"{label}.{label}.{label}{i}.example" for i in range(16)]  # 3 kB more
    response = api.call("PUT", "/passthrough", json={"sstp_servers": servers})
    assert response.status_code == 422
    assert response.json["error"]["field"] == "body"
    assert "backup" in response.json["error"]["message"]
    assert backend.get_config() == before
