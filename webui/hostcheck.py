"""DNS rebinding defence: answer only requests addressed to the router itself.

A page on another site can point its own name at 192.168.1.1 (DNS rebinding) and then talk to
the UI as "same origin": the browser sends ``Host: evil.example``. So the Host header must name
the router: its names on the LAN (``RouterConfig.own_names()``), its LAN address, the address
the server listens on (``app.config["LISTEN_HOSTS"]``, set by ``webui.serve``) and the
loopback names a host-side port forward arrives with (``127.0.0.1:PORT``). Any port is fine:
the attack is in the name, and forwards pick their own ports.

A foreign Host gets 421 Misdirected Request (RFC 9110 15.5.20: "this server does not serve
that authority"), not 403: nothing is wrong with the client's rights, it reached the wrong
server. A foreign ``Origin`` on a request whose Host is ours is a cross-site request: 403.
The allowed set is read from the configuration on every request, so a new hostname or LAN
address counts as soon as it is applied.
"""

from __future__ import annotations

from flask import Flask, current_app, request

from webui.security import api_error, is_api_path, state

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
DEFAULT_PORTS = {"http": "80", "https": "443"}


def split_authority(authority: str) -> tuple[str, str]:
    """``Router.LAN.:80`` -> (``router.lan``, ``80``); ``[::1]`` -> (``::1``, ``""``)."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        name, _, rest = authority[1:].partition("]")
        return name, rest.removeprefix(":")
    name, _, port = authority.rpartition(":")
    if not name or not port.isdigit() or ":" in name:  # no port, or a bare IPv6 address
        name, port = authority, ""
    return name.removesuffix("."), port


def host_name(authority: str) -> str:
    return split_authority(authority)[0]


def _same_endpoint(origin: str, host: str, scheme: str) -> bool:
    """Origin ``http://192.168.1.1`` and Host ``192.168.1.1:80`` are the same place."""
    origin_scheme, sep, authority = origin.partition("://")
    origin_scheme = origin_scheme.lower()
    if not sep or origin_scheme not in DEFAULT_PORTS or not authority or "/" in authority:
        return False  # "null" (sandboxed or redirected) and anything odd
    name, port = split_authority(authority)
    host_name_, host_port = split_authority(host)
    return (name, port or DEFAULT_PORTS[origin_scheme]) == (
        host_name_,
        host_port or DEFAULT_PORTS.get(scheme, ""),
    )


def fixed_hosts() -> set[str]:
    """The names that need no configuration: loopback, and the addresses we listen on."""
    return {*LOOPBACK_HOSTS, *current_app.config.get("LISTEN_HOSTS", ())}


def configured_hosts() -> set[str]:
    """The router's own names and LAN address, as the configuration has them now."""
    config = state().backend.get_config()
    return {*(name.lower() for name in config.own_names()), config.nat.lan_address}


def _refuse(status: int, message: str, field: str):
    if is_api_path():
        return api_error(status, message, field)
    return message + "\n", status, {"Content-Type": "text/plain; charset=utf-8"}


def _check():
    host = request.environ.get("HTTP_HOST")
    if host is None:  # HTTP/1.0 without Host: not a browser, so not a rebinding page
        return None
    name = host_name(host)
    # Most requests name an address we listen on: the configuration (a file the live
    # backend reads afresh) is consulted only for the others.
    if name not in fixed_hosts() and name not in configured_hosts():
        return _refuse(421, "this router does not answer to that host name", "Host")
    origin = request.headers.get("Origin")
    # Browsers send Origin with every cross-site request and every same-origin POST; a
    # same-origin request names exactly the Host it was sent to.
    if origin is not None and not _same_endpoint(origin, host, request.scheme):
        return _refuse(403, "cross-site request refused (Origin is not this router)", "Origin")
    return None


def install(app: Flask) -> None:
    app.before_request(_check)
