"""After the router's firmware update my UDP application still works: the forward it needs is
kept across the update (the settings go with it), and the answer still comes back. Needs the
booted firmware: vm mode only."""

from __future__ import annotations

import pytest
from test_example_udp_forward import PORT, ask, echo_server


@pytest.mark.natbox(mode="vm")
def test_udp_app_works_before_and_after_a_firmware_update(router, lan_client, internet,
                                                          new_firmware):  # fmt: skip
    router.add_forward("udp", PORT, lan_client.address)
    router.routerctl("save")  # the running settings become the ones an update keeps
    echo_server(lan_client)
    before = router.firmware()
    assert ask(internet, router)["answer"] == "echo:hello"
    out = router.update_firmware(new_firmware)
    after = router.firmware()
    assert after["active_slot"] != before["active_slot"], out
    assert after["version"] != before["version"], after
    assert any(f["ext_port"] == PORT for f in router.forwards())  # the settings were kept
    assert ask(internet, router)["answer"] == "echo:hello"
