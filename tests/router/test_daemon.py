"""The daemon without interfaces: control commands answered from the engine, and reload
giving each service its part of the plan (or changing nothing when one refuses)."""

from nat import Engine, NatConfig
from nat.config import ConfigError
from nat.passthrough import VpnMonitor, default_helpers
from router.daemon import Router
from router.model import RouterConfig
from router.plan import DeviceFacts, plan
from router.services import ServiceError


def router_without_ports(monitor: VpnMonitor) -> Router:
    router = Router.__new__(Router)  # no sockets, no shield: only the engine is needed
    router.engine = Engine(NatConfig(), helpers=default_helpers(monitor))
    return router


def test_vpn_sessions_is_the_shared_monitor_snapshot():
    monitor = VpnMonitor()
    router = router_without_ports(monitor)
    lan_host, server = bytes([192, 168, 1, 10]), bytes([198, 51, 100, 1])
    monitor.start(router.engine.helpers.ctx, "pptp", lan_host, server, call_id=7)
    answer = router.handle_request({"cmd": "vpn_sessions"})
    assert answer["ok"] is True
    assert set(answer["sessions"]) == {"active", "recent", "anomalies"}
    assert [s["protocol"] for s in answer["sessions"]["active"]] == ["pptp"]


def test_unknown_commands_are_refused():
    router = router_without_ports(VpnMonitor())
    assert router.handle_request({"cmd": "nonsense"})["ok"] is False


class FakeServices:
    def __init__(self, refuse: str | None = None):
        self.refuse, self.applied = refuse, []

    def check(self, plan):
        if self.refuse:
            raise ServiceError(self.refuse)

    def apply(self, plan):
        self.applied.append(plan)
        return ["dnsmasq"]


def router_reloading(files: list, services: FakeServices) -> Router:
    """A Router whose reload reads ``files`` in turn; its interfaces are left alone."""
    router = Router.__new__(Router)
    router.facts = DeviceFacts("lan0", "wan0")

    def load_config():
        item = files.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    router.load_config = load_config
    router.started_config = RouterConfig()
    router.plan = plan(router.started_config, router.facts)
    router.restart_pending = []
    router.services = services
    router.reconfigured = []
    router._reconfigure = lambda now, reason: router.reconfigured.append(reason) or False
    return router


def test_reload_gives_every_service_its_part_and_names_what_waits_for_a_restart():
    services = FakeServices()
    renamed = RouterConfig().replace(hostname="edge")
    moved = renamed.replace(nat=renamed.nat.replace(lan_address="192.168.1.254"))
    router = router_reloading([renamed, moved], services)
    answer = router.reload(1.0)
    assert answer["ok"] and answer["restart_required"] == [] and answer["applied"] == ["dnsmasq"]
    assert services.applied[-1].hostname is None  # a lab's facts: no hostname of its own
    assert ("edge.lan", "192.168.1.1") in services.applied[-1].lan_services.hosts
    answer = router.reload(2.0)
    assert answer["restart_required"] == ["nat.lan_address"]
    # dnsmasq keeps serving the LAN the interface has until the restart.
    assert services.applied[-1].lan_services.address == "192.168.1.1"
    assert router.reconfigured == ["reload", "reload"]


def test_a_refused_reload_changes_nothing():
    bad = FakeServices(refuse="dnsmasq refused its configuration: bad option")
    router = router_reloading([RouterConfig().replace(hostname="edge")], bad)
    before = router.plan
    answer = router.reload(1.0)
    assert answer["ok"] is False and "dnsmasq refused" in answer["error"]
    assert router.plan is before and bad.applied == [] and router.reconfigured == []
    router = router_reloading([ConfigError("nat.profile", "unknown NAT profile")], FakeServices())
    answer = router.reload(1.0)
    assert answer["ok"] is False and "unknown NAT profile" in answer["error"]
    assert "the running configuration stays" in answer["error"]
