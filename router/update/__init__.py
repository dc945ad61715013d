"""Firmware updates on the device: the disk layout, the U-Boot-format boot environment, the
A/B slot policy (shared with the host's bootloader stage), the journal and the update service
that the web UI, the API and routerctl all use."""
