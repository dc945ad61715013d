"""The VoIP rows, with real programs: kamailio as registrar and proxy, baresip user agents on
LAN clients and on the internet host (at the second server address: the far phone is not the
proxy, as with a VoIP provider), a call each way with RTP measured in both directions."""

from __future__ import annotations

from natbox.lab import names as N
from natbox.matrix.grid import scenario
from natbox.peers import sip

CALL_S = 7  # baresip reports its rates from the third second of a call on
PROXY, FAR = N.SERVERS  # kamailio on the first server address, the far phones on the second


def _agents(cell_dir, lan_clients, internet, clients):
    lan = [sip.Agent(host, f"lan{n}", cell_dir / f"lan{n}", PROXY, host.address)
           for n, host in enumerate(lan_clients[:clients], 1)]  # fmt: skip
    far = [sip.Agent(internet, f"far{n}", cell_dir / f"far{n}", PROXY, FAR, sip.PORT + 2 * n)
           for n in range(1, clients + 1)]  # fmt: skip
    return lan, far


def _calls(cell, callers, callees):
    """Callees registered first, then every caller dials its callee at once."""
    for callee in callees:
        callee.start(seconds=CALL_S + 20)
        assert callee.registered(), f"{callee.user} did not register: {callee.log()[-600:]}"
    for caller, callee in zip(callers, callees, strict=True):
        caller.start(dial=callee.uri, seconds=CALL_S)
    for caller in callers:
        caller.wait_for_end(CALL_S + 10)
    results = []
    for caller, callee in zip(callers, callees, strict=True):
        seen = {caller.user: caller.call(), callee.user: callee.call()}
        results.append((all(sip.heard(call) for call in seen.values()), seen))
    cell.conclude(results)


@scenario("sip-out")
def test_sip_call_out(cell, lan_clients, internet, clients, tmp_path):
    sip.registrar(internet, tmp_path / "kamailio", PROXY)
    lan, far = _agents(tmp_path, lan_clients, internet, clients)
    _calls(cell, lan, far)


@scenario("sip-in")
def test_sip_call_in(cell, lan_clients, internet, clients, tmp_path):
    sip.registrar(internet, tmp_path / "kamailio", PROXY)
    lan, far = _agents(tmp_path, lan_clients, internet, clients)
    _calls(cell, far, lan)
