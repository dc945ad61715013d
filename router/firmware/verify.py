"""Validate a firmware file check by check: the one function the CLI (and later the UI) calls."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from router.firmware.format import FormatError, Unpacked, unpack

if TYPE_CHECKING:  # only a type here: checking needs no cryptography import until it runs
    from router.firmware.keyring import Keyring

REQUIRED_PAYLOADS = ("kernel", "rootfs")
MAX_FIRMWARE_BYTES = 25_000_000


@dataclass(frozen=True)
class Check:
    status: str  # "pass", "fail" or "skip"
    detail: str


@dataclass
class Report:
    checks: dict[str, Check] = field(default_factory=dict)
    unpacked: Unpacked | None = None
    forced: bool = False  # an older or equal version accepted because force was given
    settings_reset: bool = False  # a compat_version major step: installed without settings

    @property
    def valid(self) -> bool:
        return bool(self.checks) and all(c.status != "fail" for c in self.checks.values())

    def add(self, name: str, ok: bool | None, detail: str) -> None:
        self.checks[name] = Check({True: "pass", False: "fail", None: "skip"}[ok], detail)

    def lines(self) -> list[str]:
        return [f"{c.status.upper():4}  {name:14} {c.detail}" for name, c in self.checks.items()]

    def failed(self) -> list[str]:
        return [name for name, c in self.checks.items() if c.status == "fail"]

    def problems(self) -> str:
        """The failed checks in one line: ``name: detail; ...``."""
        return "; ".join(f"{name}: {self.checks[name].detail}" for name in self.failed())


def _major(v: str) -> str:
    return v.split(".")[0]


def version_key(version: str) -> tuple[int, ...] | None:
    """ "0.2.0" -> (0, 2, 0); None for what is not dotted numbers (then order is unknown)."""
    parts = version.split(".")
    if not all(p.isascii() and p.isdigit() for p in parts) or len(parts) > 8:
        return None
    return tuple(int(p) for p in parts)


def version_check(new: str, running: str, force: bool) -> tuple[bool, str]:
    a, b = version_key(new), version_key(running)
    if a is None or b is None:
        return force, f"version {new!r} cannot be ordered against {running!r}" + (
            " (forced)" if force else "; install with force to accept it"
        )
    if a > b:
        return True, f"{running} -> {new}"
    what = "reinstall of" if a == b else "downgrade to"
    if force:
        return True, f"forced {what} {new} (running {running}); logged"
    return False, f"{what} {new} (running {running}) refused without force"


def validate(
    data: bytes,
    keyring: Keyring,
    compatible: str | None = None,
    device_compat: str | None = None,
    max_bytes: int = MAX_FIRMWARE_BYTES,
    running_version: str | None = None,
    keep_settings: bool = True,
    force: bool = False,
) -> Report:
    """Check format, signature, board, compat_version, version order, size and each
    payload's sha256.

    The signature is checked before any payload is trusted; every check is reported.
    compatible / device_compat / running_version None means "not asked" (a skip). A major
    compat_version step fails only when the settings are to be kept (they cannot be); an
    older or equal version fails unless ``force``.
    """
    report = Report()
    try:
        fw = unpack(data)
    except FormatError as e:
        report.add("format", False, str(e))
        return report
    report.unpacked = fw
    m = fw.manifest
    missing = [p for p in REQUIRED_PAYLOADS if p not in fw.payloads]
    report.add(
        "format",
        not missing,
        f"format 1, {m.board} {m.version} (build {m.build_id})"
        + (f"; missing payloads {missing}" if missing else ""),
    )
    ok, detail = keyring.verify(fw.key_id, fw.signature, fw.manifest_bytes)
    report.add("signature", ok, detail)
    if compatible is None:
        report.add("board", None, f"firmware is for {m.compatible!r}; no board given")
    else:
        report.add(
            "board",
            m.compatible == compatible,
            f"firmware is for {m.compatible!r}, this device is {compatible!r}",
        )
    if device_compat is None:
        report.add("compat", None, f"compat_version {m.compat_version}; no device version given")
    elif _major(m.compat_version) == _major(device_compat):
        report.add("compat", True, f"compat_version {m.compat_version}, device {device_compat}")
    elif keep_settings:
        report.add("compat", False, f"compat_version {m.compat_version} is a major step from "
                   f"{device_compat}: the settings cannot be kept; install without keeping "
                   "settings (factory defaults)")  # fmt: skip
    else:
        report.add("compat", True, f"compat_version {m.compat_version} from {device_compat}: "
                   "settings reset to factory defaults")  # fmt: skip
        report.settings_reset = True
    if running_version is None:
        report.add("version", None, f"version {m.version}; no running version given")
    else:
        ok, detail = version_check(m.version, running_version, force)
        report.add("version", ok, detail)
        report.forced = force and ok and not version_check(m.version, running_version, False)[0]
    report.add("size", len(data) <= max_bytes, f"{len(data)} bytes (limit {max_bytes})")
    for p in m.payloads:
        got = hashlib.sha256(fw.payloads[p["name"]]).hexdigest()
        report.add(
            f"hash:{p['name']}",
            got == p["sha256"],
            f"{p['size']} bytes, sha256 {got[:16]}..."
            + ("" if got == p["sha256"] else f" != manifest {p['sha256'][:16]}..."),
        )
    return report
