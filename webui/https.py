"""The optional HTTPS listener, beside waitress's HTTP one (waitress has no TLS): Werkzeug's
threaded WSGI server with the device's certificate (webui.certificate), serving the same
app. ``web.https`` in the configuration switches it; :meth:`HttpsListener.follow` applies
the switch within seconds however it was changed (page, API, routerctl, restore).

Hardened for the LAN it faces: the TLS handshake runs in the connection's own thread (a client
that connects and says nothing holds one thread for a while, never the accept loop), every
connection has deadlines for its handshake and its request (a byte every few seconds does not
keep it), and at
most ``MAX_CONNECTIONS`` are served at once; more are closed before any TLS work.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from webui.certificate import Certificate

MAX_CONNECTIONS = 16
TIMEOUT = 20.0  # seconds a connection may stay silent
HANDSHAKE_DEADLINE = 10.0  # seconds for the whole TLS handshake
# Seconds for the request after it (Werkzeug closes the connection after one): long enough for
# a 25 MB firmware upload under TCG, short enough that a trickle cannot hold a slot for hours.
REQUEST_DEADLINE = 600.0


def tls_context(certificate: Certificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate.cert, certificate.key)
    return context


class QuietHandler(WSGIRequestHandler):
    timeout = TIMEOUT

    def log_request(self, *args: Any) -> None:  # waitress logs no requests either
        pass


class TlsServer(ThreadedWSGIServer):
    """Accepts plain TCP and wraps each connection in its own thread (Werkzeug wraps the
    listening socket instead, which runs every handshake in the accept loop)."""

    daemon_threads = True

    def __init__(self, host: str, port: int, app, context: ssl.SSLContext):
        super().__init__(host, port, app, handler=QuietHandler)
        self.ssl_context = context  # Werkzeug reads it: wsgi.url_scheme is "https"
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request, client_address) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # full: shed it before any TLS work
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def finish_request(self, request, client_address) -> None:
        request.settimeout(TIMEOUT)
        # Its own handle on the connection (wrapping detaches ``request``), for the deadline
        # to shut it down with; closed only after the timer is cancelled.
        guard = request.dup()
        timer = _deadline(HANDSHAKE_DEADLINE, guard)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            tls = None  # not TLS, or gone: nothing to answer
        timer.cancel()
        timer = _deadline(REQUEST_DEADLINE, guard)
        try:
            if tls is not None:
                super().finish_request(tls, client_address)
        except (ssl.SSLError, OSError):
            pass  # the client went away mid-request, or its deadline passed
        finally:
            timer.cancel()
            if tls is not None:
                tls.close()
            guard.close()

    def handle_error(self, request, client_address) -> None:
        print(f"webui.https: error serving {client_address[0]}", file=sys.stderr)
        traceback.print_exc()


def _deadline(seconds: float, connection: socket.socket) -> threading.Timer:
    timer = threading.Timer(seconds, _shut, (connection,))
    timer.daemon = True
    timer.start()
    return timer


def _shut(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class HttpsListener:
    """Serves ``app`` over HTTPS on ``host``:``port`` while switched on."""

    def __init__(self, app, host: str, port: int, certificate: Certificate):
        self.app, self.host, self.port, self.certificate = app, host, port, certificate
        self.server: TlsServer | None = None
        self.error = ""  # why it is not listening although switched on
        self.closing = threading.Event()
        self.lock = threading.Lock()

    @property
    def listening(self) -> bool:
        return self.server is not None

    def sync(self, wanted: bool) -> None:
        with self.lock:
            if wanted and self.server is None and not self.closing.is_set():
                self.start()
            elif not wanted and self.server is not None:
                self.stop()

    def start(self) -> None:
        try:
            server = TlsServer(self.host, self.port, self.app, tls_context(self.certificate))
        except (OSError, ssl.SSLError, SystemExit) as error:
            # Werkzeug 3 answers a port in use with SystemExit (2.2 with the OSError).
            self._failed(error if isinstance(error, Exception) else f"port {self.port} in use")
            return
        try:
            threading.Thread(target=server.serve_forever, name="https", daemon=True).start()
        except RuntimeError as error:  # no thread to be had: never left half started
            server.server_close()
            self._failed(error)
            return
        self.server, self.error = server, ""
        self.port = server.server_address[1]  # port 0 (tests): the same one from now on
        print(f"listening on https://{self.host}:{self.port}", flush=True)

    def _failed(self, error) -> None:
        if str(error) != self.error:  # said once, not at every retry
            print(f"webui.https: not listening on port {self.port}: {error}", file=sys.stderr)
        self.error = str(error)

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def follow(self, wanted: Callable[[], bool], period: float = 2.0) -> None:
        """Keep the listener as ``wanted()`` says, checked every ``period`` seconds, until
        :meth:`close`."""

        def loop() -> None:
            while not self.closing.is_set():
                try:
                    self.sync(wanted())
                except Exception as error:  # an unreadable configuration: keep what runs
                    print(f"webui.https: {error}", file=sys.stderr)
                self.closing.wait(period)

        threading.Thread(target=loop, name="https-follow", daemon=True).start()

    def close(self) -> None:
        self.closing.set()
        with self.lock:
            self.stop()


def web_access(web) -> dict[str, Any]:
    """What the System page and GET /api/v1/system/web show (``web``: the app's WebState)."""
    listener = web.https
    return {
        "https": web.backend.get_config().web.https,
        "https_port": listener.port if listener else None,  # None: this server has no HTTPS
        "listening": bool(listener and listener.listening),
        "certificate_sha256": listener.certificate.fingerprint if listener else None,
        "error": listener.error if listener else "",
    }


def follow_https(web) -> None:
    """Right after a change made here (not in up to two seconds, as for routerctl's)."""
    if web.https is not None:
        web.https.sync(web.backend.get_config().web.https)
