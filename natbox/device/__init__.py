"""Tools that run on the device itself (routerctl, the boot-time config bridge)."""
