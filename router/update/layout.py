"""The appliance's disk: an MBR with the boot environment, firmware slots A and B and the data
partition. One table for the host (which makes the disk and acts as the bootloader) and the
device (which writes the inactive slot and the environment); /etc/fw_env.config in the image is
generated from it, so fw_printenv reads the same place."""

from __future__ import annotations

from dataclasses import dataclass

SECTOR = 512
MIB = 1024 * 1024


@dataclass(frozen=True)
class Partition:
    number: int  # the guest's /dev/vdaN
    name: str
    start_mib: int
    size_mib: int
    type_id: int  # MBR type: 0xda "non-FS data", 0x83 Linux

    @property
    def offset(self) -> int:
        return self.start_mib * MIB

    @property
    def size(self) -> int:
        return self.size_mib * MIB

    @property
    def guest_device(self) -> str:
        return f"{GUEST_DISK}{self.number}"


GUEST_DISK = "/dev/vda"
LAYOUT = (
    Partition(1, "bootenv", 1, 1, 0xDA),
    Partition(2, "A", 2, 32, 0xDA),
    Partition(3, "B", 34, 32, 0xDA),
    # Room for the configuration and one uploaded firmware (about 23 MB) beside it.
    Partition(4, "data", 66, 64, 0x83),
)
DISK_BYTES = (LAYOUT[-1].start_mib + LAYOUT[-1].size_mib) * MIB
BY_NAME = {p.name: p for p in LAYOUT}
SLOTS = ("A", "B")
# The bootloader stage tells the kernel which slot it booted: natbox.slot=A on its command line.
SLOT_ARGUMENT = "natbox.slot"

# The redundant environment: two copies of ENV_SIZE bytes at these offsets of partition 1
# (U-Boot's CONFIG_ENV_SIZE / CONFIG_ENV_OFFSET / CONFIG_ENV_OFFSET_REDUND).
ENV_SIZE = 0x4000
ENV_COPY_OFFSETS = (0x0, 0x10000)


def fw_env_config(device: str = BY_NAME["bootenv"].guest_device) -> str:
    """/etc/fw_env.config for libubootenv: device, offset, size; one line per copy."""
    lines = ["# device  offset  size (generated from router/update/layout.py)"]
    lines += [f"{device} {offset:#x} {ENV_SIZE:#x}" for offset in ENV_COPY_OFFSETS]
    return "\n".join(lines) + "\n"
