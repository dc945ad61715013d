"""Boot a firmware's kernel and initramfs under QEMU (TCG) on the serial console.

The QEMU command line is built by natbox.appliance.qemu (the only place); this module boots
the bare image with it for the image test.
`Console` is a minimal expect-style driver over QEMU's stdio (no pty needed).
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import time
from pathlib import Path

# Scale every timeout (slow CI machines): NATBOX_TIMEOUT_SCALE=2.
SCALE = float(os.environ.get("NATBOX_TIMEOUT_SCALE", "1"))


def qemu_command(
    kernel: Path, initrd: Path, cmdline: str = "console=ttyS0 quiet", memory_mb: int = 256
) -> list[str]:
    """The bare image on one user-mode NIC, no disk: the appliance's own command line."""
    from natbox.appliance import qemu

    return qemu.command(
        kernel, initrd, [qemu.Nic("wan", "user")], cmdline=f"{cmdline} panic=-1",
        memory_mb=memory_mb,
    )  # fmt: skip


class Console:
    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buffer = ""
        self.log = ""

    def expect(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout * SCALE
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.buffer)
            if m:
                self.buffer = self.buffer[m.end() :]
                return m
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise TimeoutError(
                    f"no {pattern!r} within {timeout * SCALE:.0f} s; "
                    f"console said:\n{self.log[-2000:]}"
                )
            for _ in self.sel.select(min(left, 0.5)):
                chunk = os.read(self.proc.stdout.fileno(), 65536).decode(errors="replace")
                self.buffer += chunk
                self.log += chunk

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def run(self, command: str, timeout: float = 30) -> tuple[str, int]:
        """Run a shell command; markers split so the echoed command line cannot match."""
        self.send(f'{command}; echo @@END""@@ $?\n')
        m = self.expect(r"(?s)(.*?)@@END@@ (\d+)", timeout)
        lines = m.group(1).replace("\r", "").split("\n")
        # Drop the echoed command line (and any prompt before it).
        while lines and "@@END" not in lines[0]:
            lines.pop(0)
        return "\n".join(lines[1:]).strip(), int(m.group(2))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
