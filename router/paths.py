"""Where the appliance keeps its configuration, and what the appliance is.

- /data/natbox/config.json: the saved configuration (survives reboots);
- /run/natbox/running.json: the running one (routerctl and the web UI change it, the daemon
  runs from it; `routerctl save` copies it to the saved one);
- /run/natbox/router/: the daemon's state: dnsmasq's configuration and leases.

Both files are one format, ``router.model.RouterConfig``; the daemon derives what each
service gets from the running one (router.plan), e.g. dnsmasq's configuration file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from router.model import RouterConfig
from router.plan import DeviceFacts
from router.store import ConfigStore

DATA = Path(os.environ.get("NATBOX_DATA", "/data/natbox"))
RUN = Path(os.environ.get("NATBOX_RUN", "/run/natbox"))
FACTORY = Path(os.environ.get("NATBOX_FACTORY", "/etc/natbox/factory.json"))
# QEMU's NIC order: eth0 is the LAN, eth1 the WAN. The appliance owns its hostname.
APPLIANCE = DeviceFacts(lan_interface="eth0", wan_interface="eth1", owns_hostname=True)


def saved_store() -> ConfigStore:
    return ConfigStore(DATA / "config.json")


def running_store() -> ConfigStore:
    return ConfigStore(RUN / "running.json")


def control_path() -> str:
    return str(RUN / "router.sock")


def state_dir() -> str:
    return str(RUN / "router")


def factory() -> RouterConfig:
    return RouterConfig.from_dict(json.loads(FACTORY.read_text()))
