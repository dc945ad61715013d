"""The router always takes its own backup back: the backup is compact UTF-8 JSON, and a change
whose backup would pass the restore limit is refused."""

from __future__ import annotations

import io
import json

import pytest

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


def test_a_backup_with_long_non_ascii_names_restores_through_the_api_and_the_page(
    app, api, browser, backend
):
    forwards = forwards_with_long_names(100, 2000)  # 800 kB of UTF-8, 2.4 MB as \\u escapes
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
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    assert put_nat(api, forwards_with_long_names(10, 1000)).status_code == 200  # 40 kB
    before = backend.get_config()
    servers = ["a" * 60 + f"{i}.example" for i in range(400)]  # 28 kB more
    response = api.call("PUT", "/passthrough", json={"sstp_servers": servers})
    assert response.status_code == 422
    assert response.json["error"]["field"] == "body"
    assert "backup" in response.json["error"]["message"]
    assert backend.get_config() == before
