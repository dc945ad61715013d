"""The appliance harness: one boot per test session, a console per test with its transcript
(kept with the link pcaps in out/vm/ when the test fails), and a reboot when a test left the
device unusable."""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import pytest

from natbox.appliance.driver import Appliance

TREE = Path(__file__).resolve().parents[2]
KEPT = TREE / "out" / "vm"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def appliance_class():
    """For a test module that needs an appliance of its own (its own disk and boot)."""
    return lambda workdir, **kw: Appliance(workdir, tree=TREE, **kw)


@pytest.fixture(scope="session")
def appliance(tmp_path_factory):
    if os.geteuid() != 0 or shutil.which("qemu-system-x86_64") is None:
        pytest.skip("the appliance tests need root and qemu-system-x86_64")
    a = Appliance(tmp_path_factory.mktemp("appliance"), tree=TREE)
    yield a
    a.close()


@pytest.fixture
def device(appliance, request):
    appliance.transcript = io.BytesIO()
    started = time.monotonic()
    yield appliance
    reports = [getattr(request.node, f"rep_{w}", None) for w in ("setup", "call")]
    failed = any(r is not None and r.failed for r in reports)
    if failed:
        keep = KEPT / request.node.name
        keep.mkdir(parents=True, exist_ok=True)
        (keep / "console.log").write_bytes(appliance.transcript.getvalue())
        if appliance.pcaps.is_dir():
            for pcap in appliance.pcaps.glob("*.pcap"):
                shutil.copyfile(pcap, keep / pcap.name)
        print(f"kept {keep} ({time.monotonic() - started:.1f} s)")
    if not appliance.healthy():  # recover: the next test gets a working device
        appliance.reboot()
