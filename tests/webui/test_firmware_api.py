"""The firmware update routes of /api/v1 on a fake device (files for slots and environment):
upload and check, install in the background then reboot, refusals by check, the size limit,
one update at a time, rollback, the update-server routes, and 501 without an update service."""

from __future__ import annotations

import fcntl
import hashlib
import io
import os

import pytest
from firmware_fakes import NEWER, RUNNING, fake_router, firmware_app, jobs, stranger_firmware
from openapi_check import DOCUMENT, check_response
from webui_clients import ApiClient

from router.firmware.verify import MAX_FIRMWARE_BYTES
from router.update import journal
from router.update import server as update_server

pytestmark = pytest.mark.unit

RAW = {"Content-Type": "application/octet-stream"}
POST_ROUTES = (
    "/firmware/upload",
    "/firmware/install",
    "/firmware/rollback",
    "/firmware/server/check",
    "/firmware/server/install",
)


@pytest.fixture
def router(tmp_path):
    return fake_router(tmp_path / "device")


@pytest.fixture
def app(config_path, clock, router):
    return firmware_app(config_path, clock, router.service)


@pytest.fixture
def api(app):
    client = ApiClient(app.test_client())
    assert client.login().status_code == 200
    return client


def call(api, method, path, **kwargs):
    response = api.call(method, path, **kwargs)
    check_response(method, path, response)  # every answer as the document says
    return response


def upload(api, data: bytes, query: str = ""):
    return call(api, "POST", "/firmware/upload" + query, data=data, headers=RAW)


def status(api) -> dict:
    response = call(api, "GET", "/firmware")
    assert response.status_code == 200
    return response.json


def install(api, app, **options):
    response = call(api, "POST", "/firmware/install", json=options)
    jobs(app).join(timeout=30)
    assert not jobs(app).running()
    return response


# -- upload and check -------------------------------------------------------------------------


def test_upload_of_a_newer_firmware_is_valid_and_verified(api, router):
    data = router.firmware()
    response = upload(api, data)
    assert response.status_code == 200
    assert response.json["sha256"] == hashlib.sha256(data).hexdigest()
    verdict = response.json["verdict"]
    assert verdict["valid"] and verdict["version"] == NEWER
    assert {c["status"] for c in verdict["checks"].values()} == {"pass"}
    assert verdict["checks"]["version"]["detail"] == f"{RUNNING} -> {NEWER}"
    now = status(api)
    assert now["state"] == journal.VERIFIED and now["uploaded"]
    assert now["update"]["sha256"] == response.json["sha256"]
    assert "from API" in now["history"][0]["detail"]  # the upload's source, for the log
    assert router.slot_bytes("B") == bytes(len(router.slot_bytes("B")))  # nothing written


def test_the_page_upload_is_labelled_as_the_web_ui(api, router):
    headers = {**RAW, "Referer": "http://localhost/firmware"}
    response = call(api, "POST", "/firmware/upload", data=router.firmware(), headers=headers)
    assert response.status_code == 200
    assert "from web UI" in status(api)["history"][0]["detail"]


def test_a_firmware_over_the_apps_body_limit_is_accepted(api, app, router):
    """The route has its own limit: a firmware is far over the 1 MiB of MAX_CONTENT_LENGTH."""
    big = router.firmware(rootfs=os.urandom(2 * 1024 * 1024))
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    response = upload(api, big)
    assert response.status_code == 200 and response.json["verdict"]["valid"]


@pytest.mark.parametrize(
    ("failed", "build", "running"),
    [
        ("signature", lambda router: stranger_firmware(), RUNNING),
        ("board", lambda router: router.firmware(compatible="other,board"), RUNNING),
        ("version", lambda router: router.firmware(), "0.2.0"),
    ],
)
def test_an_invalid_firmware_is_refused_by_name_and_never_written(
    tmp_path, config_path, clock, failed, build, running
):
    router = fake_router(tmp_path / "device", version=running)
    app = firmware_app(config_path, clock, router.service)
    api = ApiClient(app.test_client())
    api.login()
    response = upload(api, build(router))
    assert response.status_code == 200  # the checks are the answer
    verdict = response.json["verdict"]
    assert verdict["valid"] is False
    assert [n for n, c in verdict["checks"].items() if c["status"] == "fail"] == [failed]
    assert verdict["forceable"] is (failed == "version")
    assert status(api)["state"] == journal.FAILED
    env_before, slot_before = router.env(), router.slot_bytes("B")

    refused = install(api, app)
    assert refused.status_code == 422
    assert refused.json["error"]["field"] == failed
    assert failed in refused.json["error"]["message"]
    assert refused.json["verdict"]["checks"][failed]["status"] == "fail"
    assert router.slot_bytes("B") == slot_before and router.env() == env_before
    assert router.reboots == []


def test_install_writes_the_other_slot_switches_and_reboots(api, app, router):
    data = router.firmware()
    upload(api, data)
    response = install(api, app, keep_settings=True, force=False)
    assert response.status_code == 202
    assert response.json["state"] == "writing" and response.json["slot"] == "B"
    assert response.json["previous_version"] == RUNNING
    assert router.slot_bytes("B", len(data)) == data
    env = router.env()
    assert env["BOOT_ORDER"].split()[0] == "B"
    assert env["SLOT_B_STATE"] == "trial" and env["SLOT_B_VERSION"] == NEWER
    assert env["SLOT_A_STATE"] == "good"  # the way back
    assert router.reboots == ["reboot"]
    now = status(api)
    assert now["state"] == journal.INSTALLED
    assert now["update"]["slot"] == "B" and now["update"]["previous_version"] == RUNNING
    assert now["progress"] == {"phase": "writing", "done": len(data), "total": len(data)}
    # The upload's check stands for the route's; the service checks once more before writing.
    states = [entry["state"] for entry in now["history"]]
    assert states == ["received", "verified", "writing", "installed"]


def test_a_forced_downgrade_is_installed(tmp_path, config_path, clock):
    router = fake_router(tmp_path / "device", version="0.2.0")
    app = firmware_app(config_path, clock, router.service)
    api = ApiClient(app.test_client())
    api.login()
    data = router.firmware()
    verdict = upload(api, data, "?force=true").json["verdict"]
    assert verdict["valid"] and "forced downgrade" in verdict["checks"]["version"]["detail"]
    assert install(api, app, force=True).status_code == 202
    assert router.slot_bytes("B", len(data)) == data
    assert router.reboots == ["reboot"]
    assert any("forced install" in line for line in router.logs)  # a forced downgrade is logged


def test_a_downgrade_refused_at_upload_installs_with_force(tmp_path, config_path, clock):
    """Other options than the upload was checked with: checked again, with those."""
    router = fake_router(tmp_path / "device", version="0.2.0")
    app = firmware_app(config_path, clock, router.service)
    api = ApiClient(app.test_client())
    api.login()
    assert upload(api, router.firmware()).json["verdict"]["forceable"]
    assert install(api, app).status_code == 422
    response = install(api, app, force=True)
    assert response.status_code == 202 and response.json["verdict"]["valid"]
    assert router.reboots == ["reboot"]


def test_install_without_an_upload_names_the_file(api, app, router):
    response = install(api, app)
    assert response.status_code == 422 and response.json["error"]["field"] == "file"
    assert router.reboots == []


def test_a_failure_in_the_background_shows_in_the_journal(api, app, router):
    upload(api, router.firmware())
    router.device.slots["B"].unlink()  # the slot's device is gone: the write fails
    assert install(api, app).status_code == 202  # the checks passed: the answer went out
    now = status(api)
    assert now["state"] == journal.FAILED and "slotB" in now["reason"]
    assert router.reboots == []


def test_bad_options_are_422_by_name(api, router):
    response = upload(api, router.firmware(), "?force=maybe")
    assert response.status_code == 422 and response.json["error"]["field"] == "force"
    response = call(api, "POST", "/firmware/install", json={"keep_settings": "yes"})
    assert response.status_code == 422 and response.json["error"]["field"] == "keep_settings"
    response = call(api, "POST", "/firmware/install", json={"reboot": False})
    assert response.status_code == 422 and response.json["error"]["field"] == "reboot"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = call(api, "POST", "/firmware/upload", data=router.firmware(), headers=form)
    assert response.status_code == 422 and response.json["error"]["field"] == "body"


# -- the size limit ---------------------------------------------------------------------------


def nothing_kept(router) -> bool:
    work = router.device.work
    return not work.exists() or not [p for p in work.iterdir() if p.suffix in (".fw", ".part")]


def test_an_oversize_upload_is_413_before_anything_is_stored(api, router):
    response = upload(api, bytes(MAX_FIRMWARE_BYTES + 1))
    assert response.status_code == 413
    assert response.json["error"]["field"] == "file"
    assert str(MAX_FIRMWARE_BYTES) in response.json["error"]["message"]
    assert nothing_kept(router)


def test_an_oversize_upload_without_a_length_is_413_and_removed(api, router):
    """Chunked: no Content-Length to refuse first; the service stops at the limit."""
    body = io.BytesIO(bytes(MAX_FIRMWARE_BYTES + 1))
    headers = {**RAW, "Transfer-Encoding": "chunked"}
    environ = {"wsgi.input_terminated": True}
    response = call(api, "POST", "/firmware/upload", input_stream=body, headers=headers,
                    environ_base=environ)  # fmt: skip
    assert response.status_code == 413 and response.json["error"]["field"] == "file"
    assert nothing_kept(router)
    assert status(api)["state"] == journal.FAILED


# -- one update at a time ---------------------------------------------------------------------


@pytest.fixture
def locked(router):
    """Another front end (routerctl) holds the update lock."""
    router.device.lock.parent.mkdir(parents=True, exist_ok=True)
    with open(router.device.lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield
        fcntl.flock(f, fcntl.LOCK_UN)


def test_busy_is_409(api, router, locked):
    assert upload(api, router.firmware()).status_code == 409
    assert call(api, "POST", "/firmware/install", json={}).status_code == 409
    assert call(api, "POST", "/firmware/rollback").status_code == 409
    assert status(api)["busy"] is True
    assert router.reboots == []


def test_a_running_job_makes_the_next_install_409(api, app, router):
    import threading

    upload(api, router.firmware())
    release = threading.Event()
    assert jobs(app).start("held", release.wait)
    try:
        assert call(api, "POST", "/firmware/install", json={}).status_code == 409
    finally:
        release.set()
        jobs(app).join()


# -- rollback ---------------------------------------------------------------------------------


def test_rollback_is_refused_when_the_other_slot_is_not_good(api, app, router):
    response = call(api, "POST", "/firmware/rollback")
    assert response.status_code == 422
    assert "slot B is empty" in response.json["error"]["message"]
    jobs(app).join()
    assert router.reboots == [] and router.env()["BOOT_ORDER"] == "A B"


def test_rollback_is_refused_when_the_good_slot_does_not_verify(api, app, router):
    router.put_in_slot("B", b"not a firmware")
    response = call(api, "POST", "/firmware/rollback")
    assert response.status_code == 422 and "does not verify" in response.json["error"]["message"]
    assert router.reboots == []


def test_rollback_to_a_good_slot_switches_and_reboots(api, app, router):
    router.put_in_slot("B", router.firmware())
    response = call(api, "POST", "/firmware/rollback")
    assert response.status_code == 202
    assert response.json == {"state": "rolled back", "slot": "B", "version": NEWER,
                             "rebooting": True}  # fmt: skip
    jobs(app).join(timeout=10)
    assert router.reboots == ["reboot"]
    assert router.env()["BOOT_ORDER"].split()[0] == "B"
    now = status(api)
    assert now["state"] == journal.ROLLED_BACK and now["reason"] == "manual rollback"


# -- the update server ------------------------------------------------------------------------


def test_the_server_routes_need_a_url(api):
    for path in ("/firmware/server/check", "/firmware/server/install"):
        response = call(api, "POST", path, json={})
        assert response.status_code == 422 and response.json["error"]["field"] == "url"


@pytest.fixture
def offering(monkeypatch, router):
    """An update server with one firmware, through router.update.server's interface."""
    data = router.firmware()
    offer = {"available": True, "version": NEWER, "url": "http://updates.test/natbox.fw",
             "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
             "running_version": RUNNING}  # fmt: skip
    asked = []

    def check(url, running_version):
        asked.append(url)
        return dict(offer)

    def download(entry, service):
        assert entry["url"] == offer["url"]
        return service.receive(io.BytesIO(data), source="update server")

    monkeypatch.setattr(update_server, "check", check)
    monkeypatch.setattr(update_server, "download", download)
    return offer, data, asked


def test_server_check_answers_the_offer(api, offering):
    offer, _, asked = offering
    response = call(api, "POST", "/firmware/server/check", json={"url": "http://updates.test/"})
    assert response.status_code == 200 and response.json == offer
    assert asked == ["http://updates.test/"]


def test_server_install_downloads_checks_and_installs(api, app, router, offering):
    _, data, _ = offering
    response = call(api, "POST", "/firmware/server/install", json={"url": "http://updates.test/"})
    jobs(app).join(timeout=30)
    assert response.status_code == 202 and response.json["version"] == NEWER
    assert router.slot_bytes("B", len(data)) == data
    assert router.reboots == ["reboot"]
    assert "from update server" in status(api)["history"][0]["detail"]


def test_server_install_of_nothing_newer_is_refused(api, router, offering):
    offer, _, _ = offering
    offer["available"] = False
    response = call(api, "POST", "/firmware/server/install", json={"url": "http://updates.test/"})
    assert response.status_code == 422 and response.json["error"]["field"] == "url"
    assert router.slot_bytes("B") == bytes(len(router.slot_bytes("B")))


def test_an_unreachable_server_is_502(api, monkeypatch):
    def check(url, running_version):
        raise update_server.ServerError("connection refused")

    monkeypatch.setattr(update_server, "check", check)
    response = call(api, "POST", "/firmware/server/check", json={"url": "http://updates.test/"})
    assert response.status_code == 502 and "connection refused" in response.json["error"]["message"]


# -- the guard and the host without a device -------------------------------------------------


def test_firmware_routes_need_a_login_and_the_csrf_header(app, router):
    anonymous = app.test_client()
    assert anonymous.get("/api/v1/firmware").status_code == 401
    for path in POST_ROUTES:
        response = anonymous.post("/api/v1" + path, data=router.firmware(), headers=RAW)
        assert response.status_code == 401 and response.json["error"]["message"], path
    api = ApiClient(app.test_client())
    api.login()
    for path in POST_ROUTES:
        response = api.client.post("/api/v1" + path, data=router.firmware(), headers=RAW)
        assert response.status_code == 403, path
        assert response.json["error"]["message"] == "missing or wrong X-CSRF-Token header"
    assert nothing_kept(router) and router.reboots == []
    assert not router.device.work.joinpath("journal.json").exists()


def test_without_an_update_service_the_update_routes_are_501(app_without_service_api):
    api = app_without_service_api
    for path in POST_ROUTES:
        kwargs = {"data": b"x", "headers": RAW} if path.endswith("upload") else {"json": {}}
        response = call(api, "POST", path, **kwargs)
        assert response.status_code == 501, path
        assert response.json["error"]["message"] == "firmware updates need the device"
    now = status(api)  # reading still works: the running version, nothing to journal
    assert now["state"] == "idle" and now["booted_slot"] == "A"
    assert now["slots"]["A"]["booted"] and now["slots"]["B"]["version"] is None
    assert now["environment_error"] == "firmware updates need the device"


@pytest.fixture
def app_without_service_api(config_path, clock):
    api = ApiClient(firmware_app(config_path, clock, None).test_client())
    api.login()
    return api


def test_the_document_lists_the_firmware_operations():
    paths = DOCUMENT["paths"]
    assert set(paths["/firmware"]) == {"get"}
    for path in POST_ROUTES:
        operation = paths[path]["post"]
        assert {"409", "501", "401", "403"} <= set(operation["responses"]), path
    upload_op = paths["/firmware/upload"]["post"]
    assert "application/octet-stream" in upload_op["requestBody"]["content"]
    assert {p["name"] for p in upload_op["parameters"]} == {"keep_settings", "force"}
    assert "413" in upload_op["responses"]
    refusal = paths["/firmware/install"]["post"]["responses"]["422"]
    assert refusal["content"]["application/json"]["schema"]["$ref"].endswith("FirmwareRefusal")


def test_serve_builds_the_devices_service_or_serves_without(tmp_path, monkeypatch, capsys):
    import argparse

    from fwfactory import BOARD

    from router.update import device
    from webui import serve

    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    assert parser.parse_args(["--firmware-updates"]).firmware_updates
    assert not parser.parse_args([]).firmware_updates
    monkeypatch.setattr(device, "ETC", tmp_path)  # no firmware identity: not the device
    assert serve.update_service() is None
    assert "firmware updates are off" in capsys.readouterr().err
    for name, value in (("board", BOARD), ("compat_version", "1.0"), ("version", "0.3.0")):
        (tmp_path / name).write_text(value + "\n")
    service = serve.update_service()
    assert service.device.version == "0.3.0" and service.device.compatible == BOARD
    assert service.device.keyring == tmp_path / "keyring"
