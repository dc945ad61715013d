"""The RFC behaviour suites run twice: with every packet through the engine, and with flow
offloading on, a model of the kernel's flow table in front of it (playbook.KernelFlows)."""

from __future__ import annotations

import pytest
from playbook import Lab

BOTH_MODES = ("test_rfc4787", "test_rfc5382", "test_rfc5508", "test_rfc6888", "test_rfc7857")


def pytest_generate_tests(metafunc):
    if metafunc.module.__name__.rsplit(".", 1)[-1] in BOTH_MODES:
        metafunc.fixturenames.append("datapath_mode")
        metafunc.parametrize("datapath_mode", ["engine", "flow_offload"])


@pytest.fixture(autouse=True)
def _datapath_mode(request):
    callspec = getattr(request.node, "callspec", None)
    mode = callspec.params.get("datapath_mode") if callspec is not None else None
    Lab.flow_offload = mode == "flow_offload"
    yield
    Lab.flow_offload = False
