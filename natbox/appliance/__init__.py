"""The virtual appliance on the host: QEMU command line, QMP, virtual disk, boot stage,
console driver and the `natbox boot` command."""
