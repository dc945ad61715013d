"""Passthrough helpers and ALGs, one module per protocol (see nat.helpers for the protocol).

``default_helpers`` is what an engine loads when it is not given a list: every helper
listed in ``HELPER_CLASSES``. Adding a protocol means adding a module here and a line to
that tuple; the engine core does not change.
"""

from __future__ import annotations

from nat.passthrough.base import PassthroughHelper
from nat.passthrough.ipsec import IpsecHelper
from nat.passthrough.l2tp import L2tpHelper
from nat.passthrough.monitor import VpnMonitor
from nat.passthrough.pptp import PptpHelper
from nat.passthrough.rtsp import RtspAlg
from nat.passthrough.sip import SipAlg
from nat.passthrough.sstp import SstpHelper

HELPER_CLASSES: tuple[type[PassthroughHelper], ...] = (
    PptpHelper,
    L2tpHelper,
    IpsecHelper,
    SstpHelper,
    SipAlg,
    RtspAlg,
)


def default_helpers(monitor: VpnMonitor | None = None) -> list[PassthroughHelper]:
    """One instance of every helper, all reporting to one VPN monitor."""
    monitor = monitor or VpnMonitor()
    return [cls(monitor) for cls in HELPER_CLASSES]


def protocol_table() -> str:
    """The per-protocol table of the README (a test keeps the two identical)."""
    rows = [
        "| protocol | carries | security (article) | default | when enabled | when disabled |",
        "|---|---|---|---|---|---|",
    ]
    for cls in HELPER_CLASSES:
        default = ("**on**" if cls.default_enabled else "**off**") + f": {cls.default_reason}"
        rows.append(
            f"| {cls.title} | {cls.carries} | {cls.security} | {default} | {cls.when_enabled} "
            f"| {cls.when_disabled} |"
        )
    return "\n".join(rows) + "\n"
