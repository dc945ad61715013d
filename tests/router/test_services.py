"""dnsmasq follows the plan: restarted when its configuration changes, left alone otherwise."""

import dataclasses

from router import services
from router.model import RouterConfig
from router.plan import DeviceFacts, plan


def test_lan_server_restarts_dnsmasq_only_when_its_configuration_changes(tmp_path, monkeypatch):
    # A stand-in for dnsmasq that runs until it is stopped, as dnsmasq does in the foreground.
    monkeypatch.setattr(services, "dnsmasq_command", lambda conf: ["sleep", "60"])
    lan = plan(RouterConfig(), DeviceFacts("lan0", "wan0")).lan_services
    server = services.LanServer(str(tmp_path))
    try:
        assert server.apply(lan) is True
        first = server.process
        assert server.apply(lan) is False and server.process is first
        moved = dataclasses.replace(lan, upstreams=("192.0.2.99",))
        assert server.apply(moved) is True
        assert first.poll() is not None  # the old one ended before the new one started
        assert "server=192.0.2.99" in (tmp_path / "dnsmasq.conf").read_text()
    finally:
        server.stop()
    assert server.process is None
