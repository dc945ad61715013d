"""The guest kernel's own NAT: the anchor `make bench` measures natbox's datapath against, on
the same firmware, QEMU and lab. Never the default and never a setting: run on the device's
console (``python3 -m router.kernelnat``), it stops the datapath daemon, loads conntrack and
nftables NAT (installed in the image, never loaded at boot) and lets the kernel forward LAN to
WAN with masquerade, as a Linux router does. A reboot undoes it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from router import paths

MODULES = Path("/etc/natbox/kernel-nat-modules")
DAEMON_PID = Path("/run/natbox/router.pid")
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
PROC = Path("/proc")
RULESET = """table ip natbox_kernel_nat {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "{wan}" masquerade
    }}
}}
"""


def stop_daemon(timeout: float = 10.0) -> None:
    """TERM to the datapath daemon; it removes its shield and closes its ports as it goes."""
    if not DAEMON_PID.exists():
        return
    pid = int(DAEMON_PID.read_text().split()[0])
    subprocess.run(["kill", str(pid)], check=False)
    deadline = time.monotonic() + timeout
    while (PROC / str(pid)).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if (PROC / str(pid)).exists():
        raise RuntimeError(f"the datapath daemon (PID {pid}) did not stop")


def load_modules() -> None:
    for module in MODULES.read_text().split():
        loaded = subprocess.run(["insmod", f"/{module}"], capture_output=True, text=True)
        if loaded.returncode and "File exists" not in loaded.stderr:
            raise RuntimeError(f"insmod {module}: {loaded.stderr.strip()}")


def main() -> int:
    wan = paths.APPLIANCE.wan_interface
    stop_daemon()
    load_modules()
    IP_FORWARD.write_text("1\n")
    subprocess.run(["nft", "-f", "-"], input=RULESET.format(wan=wan), text=True, check=True)
    print(f"kernel NAT: forwarding with masquerade out of {wan}; the datapath daemon is stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
