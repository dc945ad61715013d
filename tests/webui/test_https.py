"""The optional HTTPS listener on loopback: the same app over TLS with the device's own
certificate, the Secure cookie there (and not over HTTP), switched by web.https from the
API, the System page and a changed configuration file, and a handshake nobody completes
never holding up the others."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import ssl
import time
from pathlib import Path

import pytest
from cryptography import x509
from webui_clients import PASSWORD, ApiClient, Browser, cookie_value

from router.edits import set_web
from router.store import ConfigStore
from webui import certificate, https

pytestmark = pytest.mark.unit


@pytest.fixture
def cert(tmp_path):
    return certificate.ensure(tmp_path / "tls", ("natbox", "natbox.lan"), ("127.0.0.1",))


@pytest.fixture
def listener(app, cert):
    made = https.HttpsListener(app, "127.0.0.1", 0, cert)
    app.extensions["natbox"].https = made
    yield made
    made.close()


def trusting(cert) -> ssl.SSLContext:
    """A client that trusts exactly the device's certificate and checks the name in it."""
    return ssl.create_default_context(cafile=str(cert.cert))


def fetch(listener, cert, method="GET", path="/login", body=None, headers=None):
    conn = http.client.HTTPSConnection(
        "127.0.0.1", listener.port, context=trusting(cert), timeout=10
    )
    try:
        conn.request(method, path, body=body, headers=headers or {})
        reply = conn.getresponse()
        return reply.status, reply.getheader("Set-Cookie") or "", reply.read()
    finally:
        conn.close()


def served_fingerprint(port: int) -> str:
    pem = ssl.get_server_certificate(("127.0.0.1", port), timeout=10)
    return certificate.fingerprint(x509.load_pem_x509_certificate(pem.encode()))


def we_listen_on(port: int) -> bool:
    """Whether this process holds a TCP socket listening on ``port`` (/proc/net/tcp's LISTEN
    entries, matched to our own descriptors): another program may take the freed port at
    once on a busy host, so "connection refused" would not prove it was ours that closed."""
    ours = set()
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            ours.add(os.readlink(fd))
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].split(":")[1], 16), fields[3], fields[9]
        if local_port == port and state == "0A" and f"socket:[{inode}]" in ours:
            return True
    return False


def test_the_ui_over_tls_with_the_devices_certificate_and_a_secure_cookie(listener, cert):
    listener.sync(True)
    status, cookie, body = fetch(listener, cert)
    assert status == 200 and b'name="password"' in body
    assert cookie.startswith("__Host-natbox_session=") and "; Secure" in cookie
    assert "HttpOnly" in cookie and "Path=/" in cookie and "Domain" not in cookie
    assert served_fingerprint(listener.port) == cert.fingerprint


def test_a_cookie_from_http_does_not_open_a_session_over_https(app, listener, cert):
    """Separate names: a session made over plain HTTP (its cookie may have been read on the
    wire) is not a session over HTTPS."""
    listener.sync(True)
    browser = Browser(app.test_client())
    assert browser.login().status_code == 302
    plain = cookie_value(browser.client, "natbox_session")
    assert browser.get("/system").status_code == 200  # logged in over HTTP
    status, _, _ = fetch(listener, cert, path="/system", headers={
        "Cookie": f"natbox_session={plain}"})  # fmt: skip
    assert status == 302  # to the login page


def test_a_port_in_use_is_reported_and_tried_again(app, cert):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    listener = https.HttpsListener(app, "127.0.0.1", port, cert)
    try:
        listener.sync(True)
        assert not listener.listening and listener.error
        taken.close()
        listener.sync(True)  # the follow loop's next round
        assert listener.listening and listener.error == "" and listener.port == port
    finally:
        taken.close()
        listener.close()


def test_a_handshake_that_trickles_is_cut_at_its_deadline(listener, cert, monkeypatch):
    monkeypatch.setattr(https, "HANDSHAKE_DEADLINE", 0.5)
    listener.sync(True)
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as slow:
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 5 and not closed:
            try:
                slow.sendall(b"\x16")  # a byte of a TLS record header, now and then
                slow.settimeout(0.2)
                closed = slow.recv(1) == b""
            except TimeoutError:
                pass
            except OSError:
                closed = True
        assert closed and time.monotonic() - started < 3
    assert fetch(listener, cert)[0] == 200


def test_over_http_the_cookie_is_not_secure(app):
    reply = app.test_client().get("/login")
    cookie = reply.headers["Set-Cookie"]
    assert "natbox_session=" in cookie and "Secure" not in cookie


def test_the_api_over_tls_logs_in_and_its_cookie_works(listener, cert):
    listener.sync(True)
    conn = http.client.HTTPSConnection(
        "127.0.0.1", listener.port, context=trusting(cert), timeout=10
    )
    try:
        login = json.dumps({"username": "admin", "password": PASSWORD})
        conn.request("POST", "/api/v1/session", login, {"Content-Type": "application/json"})
        reply = conn.getresponse()
        reply.read()
        assert reply.status == 200
        session = reply.getheader("Set-Cookie").split(";")[0]
        conn.request("GET", "/api/v1/system/web", headers={"Cookie": session})
        reply = conn.getresponse()
        access = json.loads(reply.read())
    finally:
        conn.close()
    assert reply.status == 200
    assert access["listening"] and access["https_port"] == listener.port
    assert access["certificate_sha256"] == cert.fingerprint


def test_switched_on_and_off_through_the_api(app, listener, cert):
    api = ApiClient(app.test_client())
    assert api.login().status_code == 200
    listener.sync(False)
    assert not api.call("GET", "/system/web").json["listening"]
    assert api.call("PUT", "/system/web", json={"https": True}).status_code == 200
    assert api.call("GET", "/system/web").json["listening"]
    assert fetch(listener, cert)[0] == 200
    port = listener.port
    assert we_listen_on(port)  # the check sees our listener...
    assert api.call("PUT", "/system/web", json={"https": False}).status_code == 200
    assert not api.call("GET", "/system/web").json["listening"] and not we_listen_on(port)
    assert app.extensions["natbox"].backend.get_config().web.https is False


def test_a_bad_value_is_refused_by_name_and_nothing_changes(app, listener):
    api = ApiClient(app.test_client())
    assert api.login().status_code == 200
    reply = api.call("PUT", "/system/web", json={"https": "yes"})
    assert reply.status_code == 422 and reply.json["error"]["field"] == "web.https"
    reply = api.call("PUT", "/system/web", json={"https": True, "port": 8443})
    assert reply.status_code == 422 and reply.json["error"]["field"] == "web.port"
    assert not api.call("GET", "/system/web").json["https"] and not listener.listening


def test_the_system_page_switches_it_and_shows_the_fingerprint(app, listener, cert):
    browser = Browser(app.test_client())
    assert browser.login().status_code == 302
    page = browser.get("/system").text
    assert cert.fingerprint in page and "HTTPS is off." in page
    assert browser.post("/system/web", data={"https": "on"}).status_code == 302
    assert listener.listening and "HTTPS is listening." in browser.get("/system").text
    assert browser.post("/system/web", data={}).status_code == 302
    assert not listener.listening


def test_without_a_listener_the_page_says_so(app):
    browser = Browser(app.test_client())
    assert browser.login().status_code == 302
    assert "This server offers no HTTPS" in browser.get("/system").text


def test_follows_the_configuration_however_it_was_changed(listener, config_path):
    """routerctl writes the running configuration file (which the device's live backend
    reads afresh); the listener follows within its period."""
    store = ConfigStore(config_path)
    listener.follow(lambda: store.load().web.https, 0.05)
    store.save(set_web(store.load(), {"https": True}))
    assert wait_until(lambda: listener.listening)
    store.save(set_web(store.load(), {"https": False}))
    assert wait_until(lambda: not listener.listening)


def wait_until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_silent_client_does_not_hold_up_the_others(listener, cert):
    """The handshake runs in the connection's thread: a client that connects and says
    nothing (as a port scan or a slow attacker does) leaves the accept loop free."""
    listener.sync(True)
    silent = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
    try:
        started = time.monotonic()
        assert fetch(listener, cert)[0] == 200
        assert time.monotonic() - started < https.TIMEOUT / 2
    finally:
        silent.close()


def test_past_the_connection_limit_more_are_closed_not_queued(app, cert, monkeypatch):
    monkeypatch.setattr(https, "MAX_CONNECTIONS", 2)
    small = https.HttpsListener(app, "127.0.0.1", 0, cert)
    small.sync(True)
    silent = [socket.create_connection(("127.0.0.1", small.port), timeout=5) for _ in range(2)]
    try:
        # Accepted in order: the two silent ones hold both slots when this one comes.
        extra = socket.create_connection(("127.0.0.1", small.port), timeout=5)
        assert extra.recv(1) == b""  # closed at once, before any TLS work
        extra.close()
        for s in silent:
            s.close()
        assert wait_until(lambda: _can_fetch(small, cert))  # the slots are free again
    finally:
        small.close()


def _can_fetch(listener, cert) -> bool:
    try:
        fetch(listener, cert)
    except (OSError, ssl.SSLError):
        return False
    return True


def test_not_tls_at_all_is_closed_quietly_and_the_listener_goes_on(listener, cert):
    listener.sync(True)
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as plain:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: natbox\r\n\r\n")
        plain.settimeout(5)
        with contextlib.suppress(OSError):
            plain.recv(100)
    assert fetch(listener, cert)[0] == 200
