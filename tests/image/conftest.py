"""One real firmware build per test session (downloads Debian packages on first use; the
.deb cache in ~/.cache/natbox/debs makes later sessions offline), and one boot of it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from natbox.imagebuild.build import Build, make_build

TREE = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def built() -> Build:
    """The tree's own build (build/image/<board>, out/, the checkout's key): the firmware
    `make run` boots. On a clean checkout it is built from nothing here or by the tiers before
    (the appliance's); test_reproducible makes a second one elsewhere, from nothing, and
    compares them byte for byte."""
    b = make_build(TREE)
    b.run()
    return b


@pytest.fixture(scope="module")
def guest(built: Build, tmp_path_factory) -> Iterator:
    """The built firmware under QEMU (TCG) on one user-mode NIC, logged in as root on ttyS0.

    The kernel and command line come from the firmware itself, as the boot stage takes them;
    the QEMU command line is the appliance's own (natbox.appliance.qemu).
    """
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("no qemu-system-x86")
    import pexpect

    from natbox.appliance import qemu
    from natbox.appliance.console import Console, ConsoleError
    from natbox.firmware import kernel_payload
    from router.firmware.format import unpack

    fw = unpack(built.firmware_path.read_bytes())
    kinds = {p["name"]: p["type"] for p in fw.manifest.payloads}
    base = tmp_path_factory.mktemp("guest")
    kernel, initrd = base / "vmlinux", base / "initramfs"
    kernel.write_bytes(kernel_payload.bootable(kinds["kernel"], fw.payloads["kernel"]))
    initrd.write_bytes(fw.payloads["rootfs"])
    nics = [qemu.Nic("wan", "user")]
    argv = qemu.command(kernel, initrd, nics, cmdline=fw.manifest.extra["kernel_cmdline"])
    child = pexpect.spawn(argv[0], argv[1:])
    transcript = (base / "console.log").open("wb")
    try:
        console = Console(child, transcript)
        try:
            console.wait_login_prompt(40)
            console.login()  # root, the development password
        except ConsoleError as e:
            transcript.flush()
            tail = (base / "console.log").read_bytes()[-2000:].decode(errors="replace")
            raise ConsoleError(f"{e}; the console said:\n{tail}") from None
        yield console
    finally:
        child.terminate(force=True)
        transcript.close()
